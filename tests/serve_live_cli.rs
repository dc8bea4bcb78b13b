//! `rltrade serve` on the exchange feed: the built daemon polls the mock Binance
//! klines endpoint (in-process, 127.0.0.1), warms up on the closed bars before now,
//! trades each new closed bar on paper, skips a NaN bar and counts it, and on SIGTERM
//! exits 0 with the journal flushed; a restart backfills the bars it missed.

mod util;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rltrade_env::Bar;
use rltrade_serve::binance::Interval;
use rltrade_serve::binance::mock_server::{Endpoint, Fault, MockConfig, MockServer};
use util::Dir;
use util::daemon::Daemon;

const SECOND: i64 = 1_000;

fn now_s() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64 / SECOND * SECOND
}

/// Bar `k` seconds after `start`: a zig-zag (period about 5.7 bars) on which SMA(2)
/// crosses SMA(4) up at k = 1 and 6 whatever the wall clock.
fn bar(start: i64, k: i64) -> Bar {
    let p = 100.0 + 10.0 * (k as f64 * 1.1).sin();
    Bar { time_ms: start + k * SECOND, open: p, high: p + 1.0, low: p - 1.0, close: p, volume: 1.0 }
}

/// The daemon on the mock exchange (`config`), with the MA crossover 2/4.
fn spawn(dir: &std::path::Path, config: &str) -> Daemon {
    let args = ["serve", "--config", config, "--baseline", "ma:2:4", "--listen", "127.0.0.1:0", "--journal", "live.db"];
    let env = [("RLTRADE_API_TOKEN", "t0ken"), ("BINANCE_API_KEY", "mock-key"), ("BINANCE_API_SECRET", "mock-secret")];
    Daemon::start(dir, &args, &env)
}

/// `GET path`, expecting 200: the body.
fn response(daemon: &Daemon, path: &str) -> String {
    let (status, body) = daemon.http("GET", path, None, "");
    assert_eq!(status, 200, "GET {path}: {body}");
    body
}

/// SIGTERM: the daemon must exit 0.
fn sigterm(daemon: Daemon) {
    let (status, stderr) = daemon.sigterm();
    assert!(status.success(), "SIGTERM must exit 0, got {status}:\n{stderr}");
}

fn traded_bars(dir: &std::path::Path) -> i64 {
    let conn = rusqlite::Connection::open(dir.join("live.db")).unwrap();
    conn.query_row("SELECT COUNT(*) FROM bars WHERE phase = 'traded'", [], |r| r.get(0)).unwrap()
}

#[test]
fn the_daemon_trades_live_closed_bars_skips_bad_ones_and_backfills_after_a_restart() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let start = now_s();
    let history: Vec<Bar> = (1..=30).rev().map(|k| bar(start, -k)).collect();
    let config = MockConfig { interval: Interval::parse("1s").unwrap(), bars: history, ..MockConfig::default() };
    let mock = runtime.block_on(MockServer::start(config)).expect("mock");
    let dir = Dir::new();
    let toml = format!(
        "[serve]\n[serve.exchange]\nbase_url = \"{}\"\nsymbol = \"BTCUSDT\"\ninterval = \"1s\"\npoll_ms = 100\nwarmup_bars = 20\n",
        mock.base_url()
    );
    let config = dir.write("live.toml", &toml).display().to_string();
    let daemon = spawn(dir.path(), &config);

    // a new closed bar every second; one of them arrives with a NaN price first
    for k in 0..5 {
        std::thread::sleep(Duration::from_millis(1_000));
        if k == 2 {
            mock.inject(Endpoint::Klines, Fault::NanPrice, 1);
        }
        mock.push_bars(&[bar(start, k)]);
    }
    std::thread::sleep(Duration::from_millis(1_500));
    let health = response(&daemon, "/health");
    assert!(health.contains("\"trading_started\":true"), "{health}");
    let metrics = response(&daemon, "/metrics");
    assert!(metrics.contains("rltrade_feed_bad_input_total{kind=\"invalid_price\"} 1"), "{metrics}");
    let signals = response(&daemon, "/signals?limit=2");
    assert!(signals.contains("\"strategy\":\"ma:2:4\""), "{signals}");
    sigterm(daemon);
    let traded = traded_bars(dir.path());
    assert!(traded >= 4, "traded {traded} live bars");

    // bars that close while the daemon is down are backfilled on restart
    mock.push_bars(&[bar(start, 5), bar(start, 6)]);
    std::thread::sleep(Duration::from_millis(1_200));
    let daemon = spawn(dir.path(), &config);
    std::thread::sleep(Duration::from_millis(1_500));
    sigterm(daemon);
    assert!(traded_bars(dir.path()) >= traded + 2, "the restart backfilled the missed bars");
}

#[test]
fn the_binance_broker_sends_signed_orders_journals_their_fills_and_reconciles_on_restart() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let start = now_s();
    let history: Vec<Bar> = (1..=30).rev().map(|k| bar(start, -k)).collect();
    let config = MockConfig {
        interval: Interval::parse("1s").unwrap(),
        bars: history,
        fill_price: 100.0,
        balances: vec![("BTC".into(), 0.0), ("USDT".into(), 10_000.0)],
        ..MockConfig::default()
    };
    let mock = runtime.block_on(MockServer::start(config)).expect("mock");
    let dir = Dir::new();
    let url = mock.base_url();
    let toml = format!(
        "[risk]\nmax_exposure = 0.5\n[serve]\nbroker = \"binance\"\n[serve.exchange]\nbase_url = \"{url}\"\n\
         testnet_url = \"{url}\"\nsymbol = \"BTCUSDT\"\ninterval = \"1s\"\npoll_ms = 100\nwarmup_bars = 20\n"
    );
    let config = dir.write("binance.toml", &toml).display().to_string();
    let daemon = spawn(dir.path(), &config);
    for k in 0..8 {
        std::thread::sleep(Duration::from_millis(1_000));
        mock.push_bars(&[bar(start, k)]);
    }
    std::thread::sleep(Duration::from_millis(1_500));
    sigterm(daemon);

    let orders = mock.orders();
    assert!(!orders.is_empty(), "the MA crossover traded on 8 zig-zag bars");
    let conn = rusqlite::Connection::open(dir.path().join("live.db")).unwrap();
    let fills: i64 = conn.query_row("SELECT COUNT(*) FROM fills", [], |r| r.get(0)).unwrap();
    assert_eq!(fills as usize, orders.len(), "one journaled fill per exchange order: {orders:?}");
    let position: f64 = conn
        .query_row("SELECT TOTAL(CASE side WHEN 'buy' THEN quantity ELSE -quantity END) FROM fills", [], |r| r.get(0))
        .unwrap();
    let (btc, _) = mock.balance("BTC");
    assert!((position - btc).abs() < 1e-8, "journal position {position} vs exchange {btc}");
    let ids: Vec<String> = conn
        .prepare("SELECT client_order_id FROM orders WHERE status = 'filled' ORDER BY order_id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let sent: Vec<String> = orders.iter().map(|o| o.client_order_id.clone()).collect();
    assert_eq!(ids, sent, "the exchange saw each journaled order once, under its client order id");
    drop(conn);

    // a restart reconciles with the exchange's balances and agrees
    let daemon = spawn(dir.path(), &config);
    std::thread::sleep(Duration::from_millis(1_000));
    sigterm(daemon);
    let conn = rusqlite::Connection::open(dir.path().join("live.db")).unwrap();
    let mismatches: i64 =
        conn.query_row("SELECT COUNT(*) FROM events WHERE kind = 'reconciliation'", [], |r| r.get(0)).unwrap();
    assert_eq!(mismatches, 0, "journal and exchange agree after the restart");
    assert_eq!(mock.orders().len(), orders.len(), "the restart sent no duplicate");
}

/// A flat bar of `price` (high and low one away) `k` seconds after `start`.
fn flat_bar(start: i64, k: i64, price: f64) -> Bar {
    Bar { time_ms: start + k * SECOND, open: price, high: price + 1.0, low: price - 1.0, close: price, volume: 1.0 }
}

/// Waits (10 s at most) until `ready` holds.
fn wait_until(what: &str, mut ready: impl FnMut() -> bool) {
    let started = std::time::Instant::now();
    while !ready() {
        assert!(started.elapsed() < Duration::from_secs(10), "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A mock exchange whose bars fall into `start` (so that MA(2) crosses MA(4) up on the
/// first rising live bars), filling MARKET orders at 100 from 10,000 USDT, and the
/// daemon's config for it with a 20 % stop-loss and take-profit.
fn protected_setup(runtime: &tokio::runtime::Runtime, dir: &Dir, start: i64) -> (MockServer, String) {
    protected_setup_with(runtime, dir, start, "stop_loss = 0.2\ntake_profit = 0.2")
}

/// [`protected_setup`] with `protect` as the `[protect]` section's lines.
fn protected_setup_with(
    runtime: &tokio::runtime::Runtime,
    dir: &Dir,
    start: i64,
    protect: &str,
) -> (MockServer, String) {
    let history: Vec<Bar> = (1..=30).rev().map(|k| flat_bar(start, -k, 95.0 + 0.2 * k as f64)).collect();
    let config = MockConfig {
        interval: Interval::parse("1s").unwrap(),
        bars: history,
        fill_price: 100.0,
        balances: vec![("BTC".into(), 0.0), ("USDT".into(), 10_000.0)],
        ..MockConfig::default()
    };
    let mock = runtime.block_on(MockServer::start(config)).expect("mock");
    let url = mock.base_url();
    let toml = format!(
        "[risk]\nmax_exposure = 0.5\n[protect]\n{protect}\n[serve]\nbroker = \"binance\"\n\
         [serve.exchange]\nbase_url = \"{url}\"\ntestnet_url = \"{url}\"\nsymbol = \"BTCUSDT\"\ninterval = \"1s\"\n\
         poll_ms = 100\nwarmup_bars = 20\n"
    );
    let config = dir.write("protect.toml", &toml).display().to_string();
    (mock, config)
}

/// Pushes rising bars, one a second, until `entered` holds after one (8 at most); returns
/// the next bar's index.
fn enter_long(mock: &MockServer, daemon: &Daemon, start: i64, entered: impl Fn(&MockServer) -> bool) -> i64 {
    let mut k = 0;
    while !entered(mock) {
        assert!(k < 8, "no entry after {k} rising bars:\n{}", daemon.stderr.lock().unwrap());
        std::thread::sleep(Duration::from_millis(1_000));
        mock.push_bars(&[flat_bar(start, k, 98.0 + 2.0 * k as f64)]);
        let pushed_at = std::time::Instant::now();
        k += 1;
        wait_until("the bar to be traded", || entered(mock) || pushed_at.elapsed() > Duration::from_millis(800));
    }
    k
}

/// The journal's one protective exit: its order's purpose and client id, its fill's
/// quantity and price.
fn protective_fill(conn: &rusqlite::Connection) -> (String, String, f64, f64) {
    conn.query_row(
        "SELECT o.purpose, o.client_order_id, f.quantity, f.price FROM orders o JOIN fills f USING (strategy, order_id) \
         WHERE o.purpose NOT IN ('signal', 'liquidation')",
        [],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
    )
    .unwrap()
}

/// The journal's position (its fills) against the exchange's base balance, free and locked.
fn assert_journal_equals_exchange(dir: &Dir, mock: &MockServer) {
    let conn = rusqlite::Connection::open(dir.path().join("live.db")).unwrap();
    let position: f64 = conn
        .query_row("SELECT TOTAL(CASE side WHEN 'buy' THEN quantity ELSE -quantity END) FROM fills", [], |r| r.get(0))
        .unwrap();
    let (free, locked) = mock.balance("BTC");
    assert!((position - (free + locked)).abs() < 1e-9, "journal {position} vs exchange {free} + {locked}");
    let mismatches: i64 =
        conn.query_row("SELECT COUNT(*) FROM events WHERE kind = 'reconciliation'", [], |r| r.get(0)).unwrap();
    assert_eq!(mismatches, 0, "no reconciliation mismatch");
}

#[test]
fn a_position_is_protected_on_the_exchange_and_a_stop_filled_during_a_kill_9_is_journaled_after_the_restart() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let start = now_s();
    let dir = Dir::new();
    let (mock, config) = protected_setup(&runtime, &dir, start);
    let mut daemon = spawn(dir.path(), &config);
    // rising bars: the crossover enters long (a market buy filled at 100), and the
    // position's stop (80) and take-profit (120) go on the exchange's book as one list
    let k = enter_long(&mock, &daemon, start, |m| !m.order_lists().is_empty());
    let list = mock.order_lists()[0].clone();
    assert_eq!(list.list_order_status, "EXECUTING");
    let legs: Vec<_> = mock.orders().into_iter().filter(|o| o.order_list_id == list.order_list_id).collect();
    assert_eq!((legs[0].order_type.as_str(), legs[0].stop_price), ("STOP_LOSS", 80.0));
    assert_eq!((legs[1].order_type.as_str(), legs[1].limit_price), ("LIMIT_MAKER", 120.0));
    let (btc_free, btc_locked) = mock.balance("BTC");
    assert!(btc_locked > 0.0 && btc_free < 0.00001, "the whole position is on the list: {btc_free} / {btc_locked}");
    assert!(list.list_client_order_id.ends_with("-p0"), "{}", list.list_client_order_id);

    // kill -9 while the list is open; the price gaps through the stop meanwhile
    daemon.child.kill().unwrap();
    daemon.child.wait().unwrap();
    std::thread::sleep(Duration::from_millis(1_000));
    mock.push_bars(&[Bar { time_ms: start + k * SECOND, open: 79.0, high: 80.0, low: 78.0, close: 79.0, volume: 1.0 }]);
    assert_eq!(mock.orders().iter().filter(|o| o.status == "FILLED").count(), 2, "the entry and the stop executed");
    std::thread::sleep(Duration::from_millis(1_000));
    mock.push_bars(&[flat_bar(start, k + 1, 79.0)]);
    std::thread::sleep(Duration::from_millis(1_200));

    // the restart finds the stop's execution, journals it and agrees with the exchange
    let daemon = spawn(dir.path(), &config);
    std::thread::sleep(Duration::from_millis(1_500));
    sigterm(daemon);
    let conn = rusqlite::Connection::open(dir.path().join("live.db")).unwrap();
    let (purpose, client_id, _, price) = protective_fill(&conn);
    assert_eq!((purpose.as_str(), price), ("stop_loss", 79.0), "filled at the gap's open");
    assert_eq!(client_id, format!("{}s", list.list_client_order_id), "journaled under the stop leg's id");
    let status: String = conn
        .query_row(
            "SELECT status FROM protections WHERE list_client_order_id = ?1",
            [&list.list_client_order_id],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(status, "stop_filled");
    drop(conn);
    assert_journal_equals_exchange(&dir, &mock);
    assert_eq!(mock.order_lists().len(), 1, "one list, never placed twice");
}

#[test]
fn a_signal_exit_cancels_the_list_first_and_a_refused_list_closes_the_position_at_market() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let start = now_s();
    let dir = Dir::new();
    let (mock, config) = protected_setup(&runtime, &dir, start);
    let daemon = spawn(dir.path(), &config);
    let mut k = enter_long(&mock, &daemon, start, |m| !m.order_lists().is_empty());
    // someone cancels the list in the exchange's web page: the next bar's poll sees it
    // and protects the open position again under the next ids
    assert!(mock.cancel_order_list_outside(1));
    std::thread::sleep(Duration::from_millis(1_000));
    mock.push_bars(&[flat_bar(start, k, 98.0 + 2.0 * k as f64)]);
    k += 1;
    wait_until("the replacement list", || mock.order_lists().len() == 2);
    let lists = mock.order_lists();
    assert_eq!(lists[1].list_client_order_id, lists[0].list_client_order_id.replace("-p0", "-p1"));
    assert_eq!(lists[1].list_order_status, "EXECUTING");
    // falling bars: the crossover exits; the list comes off the book before the sell
    // (which the list's lock on the base would otherwise make impossible)
    let sold = |m: &MockServer| m.orders().iter().any(|o| o.side == "SELL" && o.order_type == "MARKET");
    for j in 0..6 {
        if sold(&mock) {
            break;
        }
        std::thread::sleep(Duration::from_millis(1_000));
        mock.push_bars(&[flat_bar(start, k + j, 100.0 - 3.0 * j as f64)]);
        let pushed_at = std::time::Instant::now();
        wait_until("the bar to be traded", || sold(&mock) || pushed_at.elapsed() > Duration::from_millis(800));
    }
    assert!(sold(&mock), "the exit sold:\n{}", daemon.stderr.lock().unwrap());
    let legs: Vec<String> = mock.orders().iter().filter(|o| o.order_list_id > 0).map(|o| o.status.clone()).collect();
    assert_eq!(legs, ["CANCELED"; 4]);
    sigterm(daemon);
    let conn = rusqlite::Connection::open(dir.path().join("live.db")).unwrap();
    // (the dust the rounded-down sell leaves is under the lot minimum: not protected)
    let statuses: Vec<(String, String)> = conn
        .prepare("SELECT status, status_reason FROM protections WHERE status <> 'refused' ORDER BY rowid")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        statuses,
        [
            ("cancelled".to_owned(), "ended at the exchange".to_owned()),
            ("cancelled".to_owned(), "cancelled before an order".to_owned())
        ]
    );
    let replaced: String = conn
        .query_row("SELECT message FROM events WHERE kind = 'protection' ORDER BY id LIMIT 1", [], |r| r.get(0))
        .unwrap();
    assert!(replaced.contains("replaced by") && replaced.contains("-p1"), "{replaced}");
    let dust: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM events WHERE kind = 'protection' AND message LIKE '%left unprotected'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(dust, 1, "the sell's dust, under LOT_SIZE's minQty, is journaled as left unprotected");
    drop(conn);
    assert_journal_equals_exchange(&dir, &mock);

    // a market that moved under the stop before the list arrived: the exchange refuses
    // it (-2010), and the position is closed at market at once
    let dir = Dir::new();
    let start = now_s();
    let (mock, config) = protected_setup(&runtime, &dir, start);
    mock.set_last_price(Some(70.0));
    let daemon = spawn(dir.path(), &config);
    let sells = |m: &MockServer| m.orders().iter().filter(|o| o.side == "SELL" && o.status == "FILLED").count();
    enter_long(&mock, &daemon, start, |m| sells(m) > 0);
    sigterm(daemon);
    let conn = rusqlite::Connection::open(dir.path().join("live.db")).unwrap();
    let (status, reason): (String, String) =
        conn.query_row("SELECT status, status_reason FROM protections", [], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
    assert_eq!(status, "rejected");
    assert!(reason.contains("-2010") && reason.contains("relationship of the prices"), "{reason}");
    let purpose: String = conn
        .query_row(
            "SELECT purpose FROM orders o JOIN fills f USING (strategy, order_id) WHERE f.side = 'sell'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(purpose, "liquidation");
    let event: String = conn
        .query_row("SELECT message FROM events WHERE kind = 'protection' ORDER BY id LIMIT 1", [], |r| r.get(0))
        .unwrap();
    assert!(event.contains("rejected") && event.contains("closing the position at market"), "{event}");
    drop(conn);
    assert_journal_equals_exchange(&dir, &mock);
    assert!(mock.order_lists().is_empty(), "nothing was placed");
}

#[test]
fn a_trailing_stop_is_moved_by_cancelling_and_replacing_the_list_at_the_close() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let start = now_s();
    let dir = Dir::new();
    let (mock, config) = protected_setup_with(&runtime, &dir, start, "trailing_stop = 0.1\ntake_profit = 0.5");
    let daemon = spawn(dir.path(), &config);
    let k = enter_long(&mock, &daemon, start, |m| !m.order_lists().is_empty());
    let stop_of = |list: i64| {
        mock.orders().iter().find(|o| o.order_list_id == list && o.order_type == "STOP_LOSS").map(|o| o.stop_price)
    };
    assert_eq!(stop_of(1), Some(90.0), "10 % under the entry's fill at 100");
    // a higher close: the stop rises to 90 % of it, by a new list in place of the old
    std::thread::sleep(Duration::from_millis(1_000));
    mock.push_bars(&[flat_bar(start, k, 110.0)]);
    wait_until("the replacement list", || mock.order_lists().len() == 2);
    assert_eq!(stop_of(2), Some(99.0), "90 % of the close at 110");
    let lists = mock.order_lists();
    assert_eq!((lists[0].list_order_status.as_str(), lists[1].list_order_status.as_str()), ("ALL_DONE", "EXECUTING"));
    assert!(lists[1].list_client_order_id.ends_with("-p1"), "{}", lists[1].list_client_order_id);
    let legs: Vec<String> = mock.orders().iter().filter(|o| o.order_list_id == 1).map(|o| o.status.clone()).collect();
    assert_eq!(legs, ["CANCELED", "CANCELED"]);
    // a gap under the new stop: it fills at the open, a trailing stop's exit
    std::thread::sleep(Duration::from_millis(1_000));
    mock.push_bars(&[Bar {
        time_ms: start + (k + 1) * SECOND,
        open: 95.0,
        high: 96.0,
        low: 94.0,
        close: 95.0,
        volume: 1.0,
    }]);
    let journal = dir.path().join("live.db");
    let exits = || -> i64 {
        let conn = rusqlite::Connection::open(&journal).unwrap();
        conn.query_row("SELECT COUNT(*) FROM orders WHERE purpose = 'trailing_stop'", [], |r| r.get(0)).unwrap()
    };
    std::thread::sleep(Duration::from_millis(1_000));
    mock.push_bars(&[flat_bar(start, k + 2, 95.0)]);
    wait_until("the trailing stop's exit in the journal", || exits() == 1);
    sigterm(daemon);
    let conn = rusqlite::Connection::open(&journal).unwrap();
    let statuses: Vec<(String, String)> = conn
        .prepare("SELECT status, COALESCE(status_reason, '') FROM protections WHERE status <> 'refused' ORDER BY rowid")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(statuses[0], ("cancelled".to_owned(), format!("replaced by {}", lists[1].list_client_order_id)));
    assert_eq!(statuses[1].0, "stop_filled");
    let price: f64 = conn
        .query_row(
            "SELECT f.price FROM orders o JOIN fills f USING (strategy, order_id) WHERE o.purpose = 'trailing_stop'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(price, 95.0, "a gap through the stop fills at the open");
    drop(conn);
    assert_journal_equals_exchange(&dir, &mock);
}

#[test]
fn a_take_profit_filled_in_part_is_taken_and_the_rest_protected_by_a_new_list() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let start = now_s();
    let dir = Dir::new();
    let (mock, config) = protected_setup(&runtime, &dir, start);
    let daemon = spawn(dir.path(), &config);
    let k = enter_long(&mock, &daemon, start, |m| !m.order_lists().is_empty());
    let quantity = mock.orders().iter().find(|o| o.order_list_id == 1).unwrap().quantity;
    // the book takes a fifth of the take-profit; Binance expires the stop leg
    assert!(mock.fill_take_profit_partly(1, 0.01));
    std::thread::sleep(Duration::from_millis(1_000));
    mock.push_bars(&[flat_bar(start, k, 98.0 + 2.0 * k as f64)]);
    wait_until("the rest's new list", || mock.order_lists().len() == 2);
    let lists = mock.order_lists();
    assert_eq!((lists[0].list_order_status.as_str(), lists[1].list_order_status.as_str()), ("ALL_DONE", "EXECUTING"));
    let rest = mock.orders().iter().find(|o| o.order_list_id == 2).unwrap().quantity;
    assert!((rest - (quantity - 0.01)).abs() < 0.00001, "{rest} of {quantity} left after 0.01");
    sigterm(daemon);
    let conn = rusqlite::Connection::open(dir.path().join("live.db")).unwrap();
    let (purpose, _, filled, price) = protective_fill(&conn);
    assert_eq!((purpose.as_str(), filled, price), ("take_profit", 0.01, 120.0));
    let statuses: Vec<String> = conn
        .prepare("SELECT status FROM protections ORDER BY rowid")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(statuses, ["take_profit_filled", "placed"]);
    drop(conn);
    assert_journal_equals_exchange(&dir, &mock);
}
