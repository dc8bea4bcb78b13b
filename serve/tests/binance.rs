//! The Binance side against the in-process mock exchange on 127.0.0.1: klines client,
//! exchange feed, exchange broker and data fetch. No internet.

use std::time::{Duration, Instant};

use rltrade_env::Bar;
use rltrade_exec::Side;
use rltrade_serve::binance::fetch::{FetchRequest, fetch};
use rltrade_serve::binance::mock_server::{Endpoint, Fault, MockConfig, MockServer};
use rltrade_serve::binance::{
    ApiError, Credentials, ExchangeClock, Interval, KlinesClient, KlinesRequest, ManualClock, TESTNET_URL, sign,
    system_clock,
};
use rltrade_serve::broker::exchange::{ExchangeBroker, ExchangeBrokerConfig, QUERY_ATTEMPTS};
use rltrade_serve::broker::{OrderOutcome, OrderRequest};
use rltrade_serve::feed::exchange::{ExchangeFeed, ExchangeFeedConfig};
use rltrade_serve::feed::{BadInputKind, FeedEvent};
use tokio::sync::{mpsc, watch};

/// 2020-01-01T00:00:00Z, ms.
const T0: i64 = 1_577_836_800_000;
const SECOND: i64 = 1_000;

fn bars(start_ms: i64, interval_ms: i64, n: usize) -> Vec<Bar> {
    (0..n)
        .map(|i| {
            let p = 100.0 + i as f64 * 0.25;
            Bar {
                time_ms: start_ms + i as i64 * interval_ms,
                open: p,
                high: p + 1.0,
                low: p - 1.0,
                close: p + 0.5,
                volume: 2.0,
            }
        })
        .collect()
}

fn one_second() -> Interval {
    Interval::parse("1s").unwrap()
}

async fn mock_1s(n: usize) -> MockServer {
    MockServer::start(MockConfig { interval: one_second(), bars: bars(T0, SECOND, n), ..MockConfig::default() })
        .await
        .unwrap()
}

fn client(mock: &MockServer, clock: &ManualClock) -> KlinesClient {
    KlinesClient::new(mock.base_url(), Duration::from_millis(500)).unwrap().with_clock(clock.clock())
}

// ---------------------------------------------------------------- klines client

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn klines_parse_the_real_shape_and_drop_the_open_bar() {
    let hour = 3_600_000;
    let closed = bars(T0, hour, 3);
    let open = bars(T0 + 3 * hour, hour, 1)[0];
    let mock = MockServer::start(MockConfig { bars: closed.clone(), open_bar: Some(open), ..MockConfig::default() })
        .await
        .unwrap();
    // The raw body has prices as strings and 12 fields per row.
    let raw: serde_json::Value = reqwest::get(format!("{}/api/v3/klines?symbol=BTCUSDT&interval=1h", mock.base_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(raw[0].as_array().unwrap().len(), 12);
    assert_eq!(raw[0][1], "100.00000000");
    assert_eq!(raw[0][6], T0 + hour - 1);

    let clock = ManualClock::new(T0 + 3 * hour + 10); // the 4th bar is forming
    let client = client(&mock, &clock);
    let request = KlinesRequest {
        symbol: "BTCUSDT".into(),
        interval: Interval::parse("1h").unwrap(),
        start_ms: Some(T0),
        end_ms: None,
        limit: 1000,
    };
    let page = client.klines(&request).await.unwrap();
    assert_eq!(page.rows, 4);
    assert_eq!(page.open_dropped, 1, "the forming bar is not delivered");
    assert_eq!(page.klines.iter().map(|k| k.bar()).collect::<Vec<_>>(), closed);
    assert_eq!(page.klines[2].close_time_ms, T0 + 3 * hour - 1);
    assert_eq!(page.klines[0].trades, 100);
    clock.set(T0 + 4 * hour);
    assert_eq!(client.klines(&request).await.unwrap().klines.len(), 4, "closed once its close time has passed");
    assert!(client.server_time().await.unwrap() > 1_600_000_000_000, "the mock serves its clock");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_and_exchange_errors_are_typed() {
    let mock = mock_1s(3).await;
    let clock = ManualClock::new(T0 + 10 * SECOND);
    let client = client(&mock, &clock);
    let request =
        KlinesRequest { symbol: "BTCUSDT".into(), interval: one_second(), start_ms: None, end_ms: None, limit: 10 };

    mock.inject(Endpoint::Klines, Fault::RateLimited { retry_after_s: 7 }, 1);
    mock.inject(Endpoint::Klines, Fault::Banned { retry_after_s: 120 }, 1);
    mock.inject(Endpoint::Klines, Fault::ServerError, 1);
    let err = client.klines(&request).await.unwrap_err();
    assert!(matches!(err, ApiError::RateLimited { status: 429, retry_after_ms: 7_000, .. }), "{err:?}");
    let err = client.klines(&request).await.unwrap_err();
    assert!(matches!(err, ApiError::RateLimited { status: 418, retry_after_ms: 120_000, .. }), "{err:?}");
    let err = client.klines(&request).await.unwrap_err();
    assert!(matches!(err, ApiError::Http { status: 500, .. }) && err.fate_unknown(), "{err:?}");

    let bad = KlinesRequest { symbol: "NOPE".into(), ..request.clone() };
    let err = client.klines(&bad).await.unwrap_err();
    assert_eq!(err.code(), Some(-1121));
    assert!(matches!(&err, ApiError::Api { status: 400, msg, .. } if msg == "Invalid symbol."), "{err:?}");
    let text = rltrade_serve::Error::from(err).to_string();
    assert!(text.contains("/api/v3/klines") && text.contains("-1121") && text.contains("Invalid symbol."), "{text}");

    mock.inject(Endpoint::Klines, Fault::MalformedJson, 1);
    assert!(matches!(client.klines(&request).await.unwrap_err(), ApiError::Malformed { .. }));
    assert_eq!(client.klines(&request).await.unwrap().klines.len(), 3, "good again after the faults");
    assert_eq!(mock.requests(Endpoint::Klines), 6);

    let dead = KlinesClient::new("http://127.0.0.1:9", Duration::from_millis(500)).unwrap();
    let err = dead.klines(&request).await.unwrap_err();
    assert!(matches!(err, ApiError::Transport { .. }) && err.fate_unknown(), "{err:?}");
}

// ---------------------------------------------------------------- feed

struct FeedRun {
    rx: mpsc::Receiver<FeedEvent>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

fn start_feed(client: KlinesClient, after_ms: Option<i64>, tweak: impl FnOnce(&mut ExchangeFeedConfig)) -> FeedRun {
    let mut config = ExchangeFeedConfig::new("BTCUSDT", one_second());
    config.poll = Duration::from_millis(20);
    config.first_backoff = Duration::from_millis(10);
    config.max_backoff = Duration::from_millis(80);
    tweak(&mut config);
    let (tx, rx) = mpsc::channel(4096);
    let (stop, shutdown) = watch::channel(false);
    let task = tokio::spawn(ExchangeFeed::new(client, config).run(after_ms, tx, shutdown));
    FeedRun { rx, stop, task }
}

impl FeedRun {
    /// Events until `until` holds for one (included), or panics after 10 s.
    async fn collect_until(&mut self, until: impl Fn(&FeedEvent) -> bool) -> Vec<FeedEvent> {
        let mut events = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.rx.recv()).await {
                Ok(Some(event)) => {
                    let done = until(&event);
                    events.push(event);
                    if done {
                        return events;
                    }
                }
                other => panic!("feed ended or timed out ({other:?}); events so far: {events:?}"),
            }
        }
    }

    /// Events arriving within `wait`.
    async fn drain_for(&mut self, wait: Duration) -> Vec<FeedEvent> {
        let mut events = Vec::new();
        let deadline = Instant::now() + wait;
        while let Ok(Some(event)) =
            tokio::time::timeout(deadline.saturating_duration_since(Instant::now()), self.rx.recv()).await
        {
            events.push(event);
        }
        events
    }

    async fn stop(self) {
        self.stop.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(5), self.task).await.expect("feed stops on shutdown").unwrap();
    }
}

fn bar_times(events: &[FeedEvent]) -> Vec<i64> {
    events.iter().filter_map(|e| if let FeedEvent::Bar(b) = e { Some(b.time_ms) } else { None }).collect()
}

fn bad_kinds(events: &[FeedEvent]) -> Vec<BadInputKind> {
    events.iter().filter_map(|e| if let FeedEvent::BadInput { kind, .. } = e { Some(*kind) } else { None }).collect()
}

fn is_bar_at(t: i64) -> impl Fn(&FeedEvent) -> bool {
    move |e| matches!(e, FeedEvent::Bar(b) if b.time_ms == t)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_skipped_and_reported_while_good_bars_arrive() {
    let t = |i: i64| T0 + i * SECOND;
    // (fault, the bad-input kind it must produce, the bars that must arrive)
    let cases: [(Fault, BadInputKind, Vec<i64>); 5] = [
        (Fault::MalformedJson, BadInputKind::MalformedJson, vec![t(1), t(2), t(3), t(4)]),
        (Fault::NanPrice, BadInputKind::InvalidPrice, vec![t(2), t(3), t(4)]),
        (Fault::NegativePrice, BadInputKind::InvalidPrice, vec![t(2), t(3), t(4)]),
        (Fault::DuplicateRow, BadInputKind::Duplicate, vec![t(1), t(2), t(3), t(4)]),
        (Fault::OutOfOrderRow, BadInputKind::OutOfOrder, vec![t(1), t(2), t(3), t(4)]),
    ];
    for (fault, kind, expected) in cases {
        let mock = mock_1s(5).await;
        mock.inject(Endpoint::Klines, fault, 1);
        let clock = ManualClock::new(t(5));
        // (Staleness is tested on its own: here the feed starts 4 intervals behind.)
        let mut feed = start_feed(client(&mock, &clock), Some(T0), |c| c.stale_after_intervals = 100);
        let mut events = feed.collect_until(is_bar_at(t(4))).await;
        // The out-of-order copy comes after the last bar; later polls add nothing.
        events.extend(feed.drain_for(Duration::from_millis(150)).await);
        assert_eq!(bar_times(&events), expected, "{fault:?}: {events:?}");
        assert_eq!(bad_kinds(&events), vec![kind], "{fault:?}: {events:?}");
        assert_eq!(events.len(), expected.len() + 1, "{fault:?}: nothing else: {events:?}");
        feed.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feed_backfills_a_gap_in_pages() {
    let mock = mock_1s(2_500).await;
    let clock = ManualClock::new(T0 + 2_500 * SECOND);
    let mut feed = start_feed(client(&mock, &clock), Some(T0 + 99 * SECOND), |_| {});
    let events = feed.collect_until(is_bar_at(T0 + 2_499 * SECOND)).await;
    let expected: Vec<i64> = (100..2_500).map(|i| T0 + i * SECOND).collect();
    assert_eq!(bar_times(&events), expected);
    assert!(events.iter().all(|e| matches!(e, FeedEvent::Bar(_))), "only bars");
    assert!(mock.requests(Endpoint::Klines) >= 3, "2,400 bars take 3 pages of 1,000");
    feed.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_then_fresh_and_the_open_bar_waits_for_its_close() {
    let mock = mock_1s(4).await;
    let t = |i: i64| T0 + i * SECOND;
    mock.set_open_bar(Some(bars(t(4), SECOND, 1)[0]));
    let clock = ManualClock::new(t(4) + 500); // bar 4 is forming
    let mut feed = start_feed(client(&mock, &clock), Some(T0), |_| {});
    let events = feed.collect_until(is_bar_at(t(3))).await;
    assert_eq!(bar_times(&events), vec![t(1), t(2), t(3)]);
    let quiet = feed.drain_for(Duration::from_millis(150)).await;
    assert!(quiet.is_empty(), "the open bar is not delivered, not stale yet: {quiet:?}");

    // Bar 4 never closes at the exchange (it stays the open bar): 2 intervals after
    // bar 3's close the feed is stale, once.
    mock.set_open_bar(None);
    // a poll in flight may still carry the open bar: let it finish under the old clock
    let quiet = feed.drain_for(Duration::from_millis(150)).await;
    assert!(quiet.is_empty(), "{quiet:?}");
    clock.set(t(4) + 2 * SECOND);
    let events = feed.collect_until(|e| matches!(e, FeedEvent::Stale { .. })).await;
    assert_eq!(events.last(), Some(&FeedEvent::Stale { last_bar_ms: Some(t(3)) }));
    let quiet = feed.drain_for(Duration::from_millis(150)).await;
    assert!(quiet.is_empty(), "stale is sent once: {quiet:?}");

    mock.push_bars(&bars(t(4), SECOND, 2));
    clock.set(t(6));
    let events = feed.collect_until(is_bar_at(t(5))).await;
    assert_eq!(events[0], FeedEvent::Fresh, "{events:?}");
    assert_eq!(bar_times(&events), vec![t(4), t(5)]);
    feed.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_waits_retry_after_and_errors_back_off() {
    let mock = mock_1s(3).await;
    mock.inject(Endpoint::Klines, Fault::RateLimited { retry_after_s: 1 }, 1);
    let clock = ManualClock::new(T0 + 3 * SECOND);
    let started = Instant::now();
    let mut feed = start_feed(client(&mock, &clock), Some(T0), |_| {});
    let events = feed.collect_until(is_bar_at(T0 + 2 * SECOND)).await;
    assert!(
        matches!(&events[0], FeedEvent::Retrying { wait_ms: 1_000, message } if message.contains("429")),
        "{events:?}"
    );
    assert!(started.elapsed() >= Duration::from_secs(1), "Retry-After honoured: {:?}", started.elapsed());
    assert_eq!(bar_times(&events), vec![T0 + SECOND, T0 + 2 * SECOND]);
    feed.stop().await;

    // 418 (banned) waits its Retry-After too.
    let mock = mock_1s(3).await;
    mock.inject(Endpoint::Klines, Fault::Banned { retry_after_s: 1 }, 1);
    let mut feed = start_feed(client(&mock, &clock), Some(T0), |_| {});
    let events = feed.collect_until(is_bar_at(T0 + 2 * SECOND)).await;
    assert!(
        matches!(&events[0], FeedEvent::Retrying { wait_ms: 1_000, message } if message.contains("418")),
        "{events:?}"
    );
    feed.stop().await;

    // 5XX and refused connections: exponential backoff, capped; never a crash.
    let mock = mock_1s(3).await;
    mock.inject(Endpoint::Klines, Fault::ServerError, 5);
    let mut feed = start_feed(client(&mock, &clock), Some(T0), |_| {});
    let events = feed.collect_until(is_bar_at(T0 + 2 * SECOND)).await;
    let waits: Vec<u64> = events
        .iter()
        .filter_map(|e| if let FeedEvent::Retrying { wait_ms, .. } = e { Some(*wait_ms) } else { None })
        .collect();
    // doubling to the cap of 80 ms, each wait with up to +100% jitter
    assert_eq!(waits.len(), 5, "{waits:?}");
    for (wait, base) in waits.iter().zip([10, 20, 40, 80, 80]) {
        assert!((base..2 * base).contains(wait), "{waits:?}");
    }
    feed.stop().await;

    let dead = KlinesClient::new("http://127.0.0.1:9", Duration::from_millis(200)).unwrap().with_clock(clock.clock());
    let mut feed = start_feed(dead, Some(T0), |_| {});
    let events = feed.collect_until(|e| matches!(e, FeedEvent::Retrying { wait_ms: 40.., .. })).await;
    assert!(events.iter().any(|e| matches!(e, FeedEvent::Stale { .. })), "no bars for long: stale {events:?}");
    feed.stop().await;
}

// ---------------------------------------------------------------- broker

const KEY: &str = "mock-key";
const SECRET: &str = "mock-secret";

fn broker(mock: &MockServer, tweak: impl FnOnce(&mut ExchangeBrokerConfig)) -> ExchangeBroker {
    let mut config = ExchangeBrokerConfig::testnet("BTCUSDT", "BTC", "USDT");
    config.base_url = mock.base_url().to_owned();
    tweak(&mut config);
    ExchangeBroker::new(config, Credentials::new(KEY, SECRET)).unwrap()
}

fn order(id: &str, side: Side, quantity: f64) -> OrderRequest {
    OrderRequest { client_order_id: id.into(), symbol: "BTCUSDT".into(), side, quantity, reference_price: 20_000.0 }
}

#[test]
fn signature_matches_binance_documented_example() {
    let secret = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j";
    let query = "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559";
    assert_eq!(sign(secret, query), "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_fill_with_fees_in_quote_and_refusals_are_rejected() {
    let mock = MockServer::start(MockConfig::default()).await.unwrap();
    let broker = broker(&mock, |_| {});
    let buy = broker.submit(&order("rt1-0-1", Side::Buy, 0.5)).await.unwrap();
    let OrderOutcome::Filled { quantity, price, fee, time_ms } = buy else { panic!("{buy:?}") };
    assert_eq!(price, 20_000.0);
    assert!((quantity - 0.4995).abs() < 1e-12, "0.5 bought, 0.0005 of it paid as commission: {quantity}");
    assert!((fee - 10.0).abs() < 1e-9, "0.1 % of 0.5 BTC charged in BTC, valued at the fill price: {fee}");
    assert!(time_ms > 1_600_000_000_000);
    let sell = broker.submit(&order("rt1-0-2", Side::Sell, 0.25)).await.unwrap();
    assert!(matches!(sell, OrderOutcome::Filled { fee, .. } if (fee - 5.0).abs() < 1e-9), "{sell:?}");

    let balances = broker.balances().await.unwrap();
    assert!((balances.base_free - (1.0 + 0.5 - 0.0005 - 0.25)).abs() < 1e-9, "{balances:?}");
    assert!((balances.quote_free - (100_000.0 - 10_000.0 + 5_000.0 - 5.0)).abs() < 1e-6, "{balances:?}");

    let too_big = broker.submit(&order("rt1-0-3", Side::Buy, 100.0)).await.unwrap();
    assert_eq!(
        too_big,
        OrderOutcome::Rejected {
            code: -2010,
            message: "Account has insufficient balance for requested action.".into()
        }
    );
    // The query of a filled order finds its fee in its trades.
    let found = broker.query("rt1-0-1").await.unwrap();
    assert!(
        matches!(found, Some(OrderOutcome::Filled { quantity, fee, .. })
            if (quantity - 0.4995).abs() < 1e-12 && (fee - 10.0).abs() < 1e-9),
        "{found:?}"
    );
    assert_eq!(broker.query("rt-never").await.unwrap(), None, "-2013 is None");

    let wrong_secret = ExchangeBroker::new(broker.config().clone(), Credentials::new(KEY, "not-the-secret")).unwrap();
    let refused = wrong_secret.submit(&order("rt1-0-4", Side::Buy, 0.1)).await.unwrap();
    assert_eq!(
        refused,
        OrderOutcome::Rejected { code: -1022, message: "Signature for this request is not valid.".into() }
    );
    assert_eq!(mock.orders().len(), 2, "only the two valid orders executed");
}

/// Quantities obey the symbol's `LOT_SIZE`, fetched once from `exchangeInfo`: rounded
/// down to the step (a sell of a balance with more decimals than the step never asks
/// for more than it), and an order the filter makes impossible is refused unsent,
/// naming the filter. The mock refuses an off-step quantity as the exchange does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quantities_obey_the_lot_size_filter_fetched_once() {
    let mock = MockServer::start(MockConfig {
        balances: vec![("BTC".into(), 0.123456789), ("USDT".into(), 0.0)],
        ..MockConfig::default()
    })
    .await
    .unwrap();
    let broker = broker(&mock, |_| {});
    assert_eq!(broker.filters().await.unwrap().lot_size.unwrap().min_qty, 0.00001);
    let sold = broker.submit(&order("rt1-0-1", Side::Sell, 0.123456789)).await.unwrap();
    assert!(matches!(sold, OrderOutcome::Filled { .. }), "{sold:?}");
    assert_eq!(mock.orders()[0].quantity, 0.12345, "rounded down to the step of 0.00001");
    assert!((mock.balance("BTC").0 - 0.000006789).abs() < 1e-12, "the rest stays: {:?}", mock.balance("BTC"));

    let dust = broker.submit(&order("rt1-0-2", Side::Sell, 0.000006789)).await.unwrap();
    let OrderOutcome::RefusedByFilter(refusal) = &dust else { panic!("{dust:?}") };
    assert!(refusal.to_string().contains("LOT_SIZE") && refusal.to_string().contains("minQty"), "{refusal}");
    assert_eq!(mock.requests(Endpoint::NewOrder), 1, "the impossible order was not sent");
    assert_eq!(mock.requests(Endpoint::ExchangeInfo), 1, "the filters are fetched once");

    // the exchange changed the step after the broker cached it: the exchange refuses
    // the off-step quantity (-1013), a new broker rounds to the new step
    mock.set_lot_size(["0.00100000", "9000.00000000", "0.00100000"]);
    let refused = broker.submit(&order("rt1-0-3", Side::Buy, 0.0005)).await.unwrap();
    assert_eq!(refused, OrderOutcome::Rejected { code: -1013, message: "Filter failure: LOT_SIZE".into() });
    let fresh = ExchangeBroker::new(broker.config().clone(), Credentials::new(KEY, SECRET)).unwrap();
    let refused = fresh.submit(&order("rt1-0-4", Side::Buy, 0.0005)).await.unwrap();
    assert!(matches!(&refused, OrderOutcome::RefusedByFilter(_)), "0.0005 rounds down to 0 at step 0.001: {refused:?}");
    // on the grid and 40 USDT: sent and filled (paid from the first sale's USDT)
    let sent = fresh.submit(&order("rt1-0-5", Side::Buy, 0.002)).await.unwrap();
    assert!(matches!(&sent, OrderOutcome::Filled { .. }), "{sent:?}");
    // 0.0002 BTC at 20,000 is 4 USDT, under NOTIONAL's 5: refused unsent
    mock.set_lot_size(["0.00001000", "9000.00000000", "0.00001000"]);
    let tiny = ExchangeBroker::new(broker.config().clone(), Credentials::new(KEY, SECRET)).unwrap();
    let refused = tiny.submit(&order("rt1-0-6", Side::Buy, 0.0002)).await.unwrap();
    let OrderOutcome::RefusedByFilter(refusal) = &refused else { panic!("{refused:?}") };
    assert!(refusal.to_string().starts_with("NOTIONAL") && refusal.to_string().contains("minNotional 5"), "{refusal}");
    assert_eq!(mock.requests(Endpoint::NewOrder), 3, "rt1-0-1, rt1-0-3 and rt1-0-5 reached the exchange");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeout_then_query_finds_the_executed_order_and_does_not_resend() {
    let mock = MockServer::start(MockConfig::default()).await.unwrap();
    mock.inject(Endpoint::NewOrder, Fault::Hang(Duration::from_secs(2)), 1);
    let broker = broker(&mock, |c| c.timeout = Duration::from_millis(300));
    let outcome = broker.submit(&order("rt1-0-7", Side::Buy, 0.1)).await.unwrap();
    assert!(
        matches!(outcome, OrderOutcome::Filled { quantity, price, .. }
            if (quantity - 0.0999).abs() < 1e-12 && price == 20_000.0),
        "{outcome:?}"
    );
    assert_eq!(mock.requests(Endpoint::NewOrder), 1, "never resent");
    assert_eq!(mock.orders().len(), 1);
    assert!(mock.requests(Endpoint::QueryOrder) >= 1, "asked before anything else");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeout_then_order_does_not_exist_resends_with_the_same_id() {
    let mock = MockServer::start(MockConfig::default()).await.unwrap();
    mock.inject(Endpoint::NewOrder, Fault::Lose(Duration::from_secs(2)), 1);
    let broker = broker(&mock, |c| {
        c.timeout = Duration::from_millis(300);
        c.recv_window_ms = 500;
    });
    let started = Instant::now();
    let outcome = broker.submit(&order("rt1-0-8", Side::Sell, 0.2)).await.unwrap();
    assert!(matches!(outcome, OrderOutcome::Filled { quantity, .. } if quantity == 0.2), "{outcome:?}");
    assert_eq!(mock.requests(Endpoint::NewOrder), 2, "resent once");
    let orders = mock.orders();
    assert_eq!(orders.len(), 1, "one execution");
    assert_eq!(orders[0].client_order_id, "rt1-0-8", "the same client order id");
    assert!(started.elapsed() >= Duration::from_millis(500), "resent only after the first request's recvWindow");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limited_order_is_resent_after_its_retry_after_and_executes_once() {
    let mock = MockServer::start(MockConfig::default()).await.unwrap();
    mock.inject(Endpoint::NewOrder, Fault::RateLimited { retry_after_s: 1 }, 1);
    let broker = broker(&mock, |_| {});
    let started = Instant::now();
    let outcome = broker.submit(&order("rt1-0-10", Side::Buy, 0.1)).await.unwrap();
    assert!(matches!(outcome, OrderOutcome::Filled { .. }), "{outcome:?}");
    assert!(started.elapsed() >= Duration::from_secs(1), "Retry-After honoured: {:?}", started.elapsed());
    assert_eq!(mock.requests(Endpoint::NewOrder), 2, "refused once, then sent again");
    assert_eq!(mock.orders().len(), 1, "one execution");

    // past max_resends, or banned for longer than the broker waits: an error, nothing placed
    mock.inject(Endpoint::NewOrder, Fault::Banned { retry_after_s: 120 }, 1);
    let err = broker.submit(&order("rt1-0-11", Side::Buy, 0.1)).await.unwrap_err().to_string();
    assert!(err.contains("418") && err.contains("120000 ms"), "{err}");
    assert_eq!(mock.orders().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_connection_after_execution_is_settled_by_queries_that_are_asked_again() {
    let mock = MockServer::start(MockConfig::default()).await.unwrap();
    mock.inject(Endpoint::NewOrder, Fault::Drop, 1);
    mock.inject(Endpoint::QueryOrder, Fault::ServerError, 2);
    let broker = broker(&mock, |c| c.timeout = Duration::from_millis(500));
    let outcome = broker.submit(&order("rt1-0-12", Side::Buy, 0.1)).await.unwrap();
    assert!(matches!(outcome, OrderOutcome::Filled { price, .. } if price == 20_000.0), "{outcome:?}");
    assert_eq!(mock.requests(Endpoint::NewOrder), 1, "executed once, never resent");
    assert_eq!(mock.requests(Endpoint::QueryOrder), 3, "two 500s, then the answer");
    assert_eq!(mock.orders().len(), 1);

    // a query that keeps failing: the fate stays unknown after QUERY_ATTEMPTS, not resent
    mock.inject(Endpoint::NewOrder, Fault::Drop, 1);
    mock.inject(Endpoint::QueryOrder, Fault::ServerError, 10);
    let err = broker.submit(&order("rt1-0-13", Side::Buy, 0.1)).await.unwrap_err().to_string();
    assert!(err.contains("fate unknown") && err.contains("not resent"), "{err}");
    assert_eq!(mock.requests(Endpoint::QueryOrder), 3 + QUERY_ATTEMPTS as usize);
    assert_eq!(mock.orders().len(), 2, "the second order executed once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_resumed_after_a_restart_is_looked_up_before_it_is_sent() {
    let mock = MockServer::start(MockConfig::default()).await.unwrap();
    let broker = broker(&mock, |c| c.recv_window_ms = 300);
    // executed before the daemon died: found, not sent again (the exchange would take
    // a filled order's client id again, as Binance does)
    assert!(matches!(broker.submit(&order("rt1-0-14", Side::Buy, 0.1)).await.unwrap(), OrderOutcome::Filled { .. }));
    let resumed = broker.submit_resumed(&order("rt1-0-14", Side::Buy, 0.1)).await.unwrap();
    assert!(matches!(resumed, OrderOutcome::Filled { .. }), "{resumed:?}");
    assert_eq!(mock.requests(Endpoint::NewOrder), 1, "not sent again");
    // never reached the exchange: looked up twice (before and after a recvWindow), then sent
    let started = Instant::now();
    let sent = broker.submit_resumed(&order("rt1-0-15", Side::Sell, 0.1)).await.unwrap();
    assert!(matches!(sent, OrderOutcome::Filled { .. }), "{sent:?}");
    assert!(started.elapsed() >= Duration::from_millis(300), "sent only after a recvWindow");
    assert_eq!(mock.requests(Endpoint::NewOrder), 2);
    let ids: Vec<String> = mock.orders().into_iter().map(|o| o.client_order_id).collect();
    assert_eq!(ids, ["rt1-0-14", "rt1-0-15"], "each executed once");
    // a plain resend of a filled order's id executes again: what the lookup prevents
    broker.submit(&order("rt1-0-14", Side::Buy, 0.1)).await.unwrap();
    assert_eq!(mock.orders().len(), 3, "the mock, like Binance, refuses a client id only while it is open");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_refused_1021_measures_the_exchange_clock_again_and_goes_once_more() {
    // the exchange's clock is years behind the machine's, and the broker has not measured it
    let exchange = ManualClock::new(T0);
    let mock = MockServer::start(MockConfig { clock: exchange.clock(), ..MockConfig::default() }).await.unwrap();
    let clock = ExchangeClock::new();
    let time_client = KlinesClient::new(mock.base_url(), Duration::from_secs(5)).unwrap();
    let synced = broker(&mock, |_| {}).with_exchange_clock(clock.clone(), time_client);
    let outcome = synced.submit(&order("rt1-0-16", Side::Buy, 0.1)).await.unwrap();
    assert!(matches!(outcome, OrderOutcome::Filled { .. }), "{outcome:?}");
    assert_eq!(mock.requests(Endpoint::NewOrder), 2, "refused -1021, then sent again");
    assert_eq!(mock.requests(Endpoint::Time), 1, "measured once");
    assert!((clock.offset_ms() - (T0 - system_clock()())).abs() < 1_000);
    // without the exchange's clock the refusal stands
    let plain = broker(&mock, |_| {}).with_clock(system_clock());
    let refused = plain.submit(&order("rt1-0-17", Side::Buy, 0.1)).await.unwrap();
    assert!(matches!(refused, OrderOutcome::Rejected { code: -1021, .. }), "{refused:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_5xx_with_a_code_is_an_unknown_fate_not_a_refusal() {
    let err = rltrade_serve::binance::error_from_answer(
        "POST /api/v3/order",
        503,
        None,
        br#"{"code":-1007,"msg":"Timeout waiting for response from backend server. Send status unknown; execution status unknown."}"#,
    );
    assert!(matches!(err, ApiError::Http { status: 503, .. }), "{err:?}");
    let err = rltrade_serve::binance::error_from_answer(
        "GET /x",
        400,
        None,
        br#"{"code":-2013,"msg":"Order does not exist."}"#,
    );
    assert!(matches!(err, ApiError::Api { code: -2013, .. }), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_exchange_clock_is_the_servers_time_less_the_round_trip() {
    let exchange = ManualClock::new(T0);
    let mock = MockServer::start(MockConfig { clock: exchange.clock(), ..MockConfig::default() }).await.unwrap();
    let client = KlinesClient::new(mock.base_url(), Duration::from_secs(5)).unwrap();
    let clock = ExchangeClock::new();
    let local = system_clock();
    let offset = clock.sync(&client).await.unwrap();
    assert_eq!(offset, clock.offset_ms());
    assert!((offset - (T0 - local())).abs() < 1_000, "{offset}");
    let now = clock.clock();
    assert!((now() - T0).abs() < 1_000, "now on the exchange's clock: {}", now());
    // the exchange's clock jumps: the next sync follows it
    exchange.advance(3_600_000);
    clock.sync(&client).await.unwrap();
    assert!((now() - (T0 + 3_600_000)).abs() < 1_000, "{}", now());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_orders_and_cancel() {
    let mock = MockServer::start(MockConfig { fill_market_orders: false, ..MockConfig::default() }).await.unwrap();
    let broker = broker(&mock, |_| {});
    assert_eq!(broker.submit(&order("rt1-0-9", Side::Buy, 0.3)).await.unwrap(), OrderOutcome::Open);
    let open = broker.open_orders().await.unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!((open[0].client_order_id.as_str(), open[0].side, open[0].quantity), ("rt1-0-9", Side::Buy, 0.3));
    assert_eq!(broker.cancel("rt1-0-9").await.unwrap(), OrderOutcome::Open);
    assert!(broker.open_orders().await.unwrap().is_empty());
    let err = broker.cancel("rt1-0-9").await.unwrap_err().to_string();
    assert!(err.contains("DELETE") && err.contains("-2011") && err.contains("Unknown order sent."), "{err}");
}

#[test]
fn testnet_unless_live_and_secrets_redacted() {
    let config = |url: &str, live: bool| ExchangeBrokerConfig {
        base_url: url.into(),
        live,
        ..ExchangeBrokerConfig::testnet("BTCUSDT", "BTC", "USDT")
    };
    let credentials = Credentials::new("key-AAAA", "secret-BBBB");
    let make = |url: &str, live: bool| ExchangeBroker::new(config(url, live), credentials.clone());
    let err = make("https://api.binance.com", false).unwrap_err().to_string();
    assert!(err.contains("live") && err.contains("testnet"), "{err}");
    assert!(make("https://evil.example.com", false).is_err());
    assert!(make(TESTNET_URL, false).is_ok());
    assert!(make("https://testnet.binance.vision/", false).is_ok());
    assert!(make("http://127.0.0.1:8080", false).is_ok(), "a mock exchange on loopback");
    let live = make("https://api.binance.com", true).unwrap();
    let shown = format!("{live:?} {credentials:?}");
    assert!(!shown.contains("key-AAAA") && !shown.contains("secret-BBBB"), "{shown}");
    assert!(shown.contains("***"));
}

// ---------------------------------------------------------------- fetch

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_honours_retry_after_and_refuses_another_interval() {
    let hour = 3_600_000;
    let mock = MockServer::start(MockConfig { bars: bars(T0, hour, 1_500), ..MockConfig::default() }).await.unwrap();
    mock.inject(Endpoint::Klines, Fault::RateLimited { retry_after_s: 1 }, 1);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("btcusdt_1h.csv");
    let client = KlinesClient::new(mock.base_url(), Duration::from_secs(5)).unwrap();
    let request = FetchRequest {
        symbol: "BTCUSDT".into(),
        interval: Interval::parse("1h").unwrap(),
        start_ms: T0,
        end_ms: None,
        out: out.clone(),
        min_gap: Duration::from_millis(10),
        max_retries: 3,
    };
    let started = Instant::now();
    let summary = fetch(&client, &request).await.unwrap();
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert_eq!((summary.new_bars, summary.requests, summary.retries), (1_500, 3, 1));
    assert_eq!(rltrade_env::data::load_csv(&out).unwrap().bars, bars(T0, hour, 1_500));

    let other = FetchRequest { interval: Interval::parse("4h").unwrap(), ..request.clone() };
    let err = fetch(&client, &other).await.unwrap_err().to_string();
    assert!(err.contains("btcusdt_1h.csv") && err.contains("1h") && err.contains("4h"), "{err}");
}
