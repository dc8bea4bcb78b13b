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
