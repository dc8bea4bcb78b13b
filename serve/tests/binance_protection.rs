//! Protective orders held by the exchange: the broker's OCO order lists against the
//! mock exchange, whose resting legs are triggered by its own klines by the backtest's
//! rules.

use std::time::Duration;

use rltrade_env::Bar;
use rltrade_serve::binance::mock_server::{Endpoint, Fault, MockConfig, MockServer};
use rltrade_serve::binance::signing::Credentials;
use rltrade_serve::broker::exchange::{ExchangeBroker, ExchangeBrokerConfig};
use rltrade_serve::broker::{
    LegStatus, ListStatus, OrderOutcome, ProtectionList, ProtectionOutcome, ProtectionRequest, protection_client_ids,
};

/// 2020-01-01T00:00:00Z, ms.
const T0: i64 = 1_577_836_800_000;
const HOUR: i64 = 3_600_000;

fn broker(mock: &MockServer, tweak: impl FnOnce(&mut ExchangeBrokerConfig)) -> ExchangeBroker {
    let mut config = ExchangeBrokerConfig::testnet("BTCUSDT", "BTC", "USDT");
    config.base_url = mock.base_url().to_owned();
    tweak(&mut config);
    ExchangeBroker::new(config, Credentials::new("mock-key", "mock-secret")).unwrap()
}

/// The protection of entry `entry`: a long (or short) of `quantity` with its levels.
fn request(entry: &str, long: bool, quantity: f64, stop: f64, take_profit: f64) -> ProtectionRequest {
    let [list, stop_id, take_profit_id] = protection_client_ids(entry, 0);
    ProtectionRequest {
        list_client_order_id: list,
        stop_client_order_id: stop_id,
        take_profit_client_order_id: take_profit_id,
        symbol: "BTCUSDT".into(),
        long,
        quantity,
        stop,
        take_profit,
    }
}

fn bar(i: i64, open: f64, high: f64, low: f64, close: f64) -> Bar {
    Bar { time_ms: T0 + i * HOUR, open, high, low, close, volume: 1.0 }
}

async fn placed(broker: &ExchangeBroker, request: &ProtectionRequest) -> ProtectionList {
    match broker.place_protection(request).await.unwrap() {
        ProtectionOutcome::Placed(list) => list,
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_is_protected_on_the_book_and_a_gap_through_the_stop_fills_at_the_open() {
    let mock = MockServer::start(MockConfig::default()).await.unwrap();
    let broker = broker(&mock, |_| {});
    let request = request("rtab12cd34-0-1", true, 0.5, 19_000.123, 21_000.129);
    let list = placed(&broker, &request).await;
    assert_eq!((list.status, list.list_client_order_id.as_str()), (ListStatus::Executing, "rtab12cd34-0-1-p0"));
    assert_eq!((list.stop.client_order_id.as_str(), list.stop.status), ("rtab12cd34-0-1-p0s", LegStatus::New));
    assert_eq!(list.take_profit.client_order_id, "rtab12cd34-0-1-p0t");
    assert_eq!(list.executed(), None);
    // on the tick grid, never looser than asked: the stop up, the take-profit down
    let orders = mock.orders();
    assert_eq!((orders[0].order_type.as_str(), orders[0].stop_price), ("STOP_LOSS", 19_000.13));
    assert_eq!((orders[1].order_type.as_str(), orders[1].limit_price), ("LIMIT_MAKER", 21_000.12));
    assert_eq!(mock.balance("BTC"), (0.5, 0.5), "the list locks what it may sell");
    assert_eq!(broker.open_protections().await.unwrap(), vec!["rtab12cd34-0-1-p0".to_owned()]);

    // a bar that stays between the levels changes nothing
    mock.push_bars(&[bar(0, 20_000.0, 20_900.0, 19_100.0, 20_500.0)]);
    assert_eq!(broker.protection("rtab12cd34-0-1-p0").await.unwrap().unwrap().status, ListStatus::Executing);
    // a gap down through the stop: it fills at the open (18,500), as the backtest's
    mock.push_bars(&[bar(1, 18_500.0, 18_600.0, 18_000.0, 18_200.0)]);
    let list = broker.protection("rtab12cd34-0-1-p0").await.unwrap().unwrap();
    assert_eq!(list.status, ListStatus::AllDone);
    let Some((true, stop)) = list.executed() else { panic!("the stop executed: {list:?}") };
    let OrderOutcome::Filled { quantity, price, fee, time_ms } = stop.outcome else { panic!("{stop:?}") };
    assert_eq!((quantity, price), (0.5, 18_500.0));
    assert!((fee - 0.5 * 18_500.0 * 0.001).abs() < 1e-9, "{fee}");
    assert_eq!(time_ms, T0 + 2 * HOUR - 1, "timed at the bar's close");
    assert_eq!(list.take_profit.status, LegStatus::Expired, "the other leg expires");
    assert_eq!(mock.balance("BTC"), (0.5, 0.0));
    assert!((mock.balance("USDT").0 - (100_000.0 + 9_250.0 - 9.25)).abs() < 1e-6, "{:?}", mock.balance("USDT"));
    assert!(broker.open_protections().await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_take_profit_fills_at_its_limit_and_a_bar_touching_both_counts_the_stop() {
    let mock = MockServer::start(MockConfig::default()).await.unwrap();
    let broker = broker(&mock, |_| {});
    placed(&broker, &request("rt1-0-1", true, 0.1, 19_000.0, 21_000.0)).await;
    mock.push_bars(&[bar(0, 20_100.0, 21_500.0, 20_000.0, 21_200.0)]);
    let list = broker.protection("rt1-0-1-p0").await.unwrap().unwrap();
    let Some((false, take_profit)) = list.executed() else { panic!("the take-profit executed: {list:?}") };
    assert!(matches!(take_profit.outcome, OrderOutcome::Filled { price, .. } if price == 21_000.0), "{list:?}");
    assert_eq!(list.stop.status, LegStatus::Expired);

    // both levels inside one bar: the stop counts (the order of prices in a bar is unknown)
    placed(&broker, &request("rt1-0-2", true, 0.1, 19_000.0, 21_000.0)).await;
    mock.push_bars(&[bar(1, 20_000.0, 21_500.0, 18_900.0, 20_000.0)]);
    let list = broker.protection("rt1-0-2-p0").await.unwrap().unwrap();
    assert!(
        matches!(list.executed(), Some((true, leg)) if matches!(leg.outcome, OrderOutcome::Filled { price, .. } if price == 19_000.0)),
        "{list:?}"
    );

    // a short's list buys back: the stop above, the take-profit below
    placed(&broker, &request("rt1-1-3", false, 0.1, 21_000.0, 19_000.0)).await;
    assert_eq!(mock.balance("USDT").1, 0.1 * 21_000.0, "a buy list locks quote at the stop's price");
    mock.push_bars(&[bar(2, 20_100.0, 21_400.0, 20_000.0, 21_300.0)]);
    let list = broker.protection("rt1-1-3-p0").await.unwrap().unwrap();
    assert!(
        matches!(list.executed(), Some((true, leg)) if matches!(leg.outcome, OrderOutcome::Filled { price, .. } if price == 21_000.0)),
        "{list:?}"
    );
    assert_eq!(mock.balance("USDT").1, 0.0, "released");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crossed_level_is_rejected_and_an_impossible_list_is_refused_unsent() {
    let mock = MockServer::start(MockConfig::default()).await.unwrap();
    let broker = broker(&mock, |_| {});
    // the last price (20,000) is already under the stop
    let crossed = broker.place_protection(&request("rt1-0-1", true, 0.5, 20_500.0, 21_000.0)).await.unwrap();
    assert_eq!(
        crossed,
        ProtectionOutcome::Rejected {
            code: -2010,
            message: "The relationship of the prices for the orders is not correct.".into()
        }
    );
    assert_eq!(mock.balance("BTC"), (1.0, 0.0), "nothing locked");
    // under LOT_SIZE's minQty once rounded down, or a notional under 5 USDT at the stop
    for (quantity, filter) in [(0.000001, "LOT_SIZE"), (0.0002, "NOTIONAL")] {
        let refused = broker.place_protection(&request("rt1-0-2", true, quantity, 19_000.0, 21_000.0)).await.unwrap();
        let ProtectionOutcome::RefusedByFilter(refusal) = &refused else { panic!("{refused:?}") };
        assert!(refusal.to_string().contains(filter), "{refusal}");
    }
    // a take-profit over PRICE_FILTER's maxPrice
    let refused = broker.place_protection(&request("rt1-0-3", true, 0.5, 19_000.0, 2_000_000.0)).await.unwrap();
    let ProtectionOutcome::RefusedByFilter(refusal) = &refused else { panic!("{refused:?}") };
    assert!(refusal.to_string().contains("PRICE_FILTER") && refusal.to_string().contains("take_profit"), "{refusal}");
    assert_eq!(mock.requests(Endpoint::NewOrderList), 1, "only the crossed list reached the exchange");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_returns_the_final_state_including_a_fill_that_beat_it() {
    let mock = MockServer::start(MockConfig::default()).await.unwrap();
    let broker = broker(&mock, |_| {});
    placed(&broker, &request("rt1-0-1", true, 0.5, 19_000.0, 21_000.0)).await;
    let cancelled = broker.cancel_protection("rt1-0-1-p0").await.unwrap();
    assert_eq!(cancelled.status, ListStatus::AllDone);
    assert_eq!((cancelled.stop.status, cancelled.take_profit.status), (LegStatus::Canceled, LegStatus::Canceled));
    assert_eq!(cancelled.executed(), None);
    assert_eq!(mock.balance("BTC"), (1.0, 0.0), "released");

    // the take-profit executed before the cancel arrived: the cancel reads it back
    placed(&broker, &request("rt1-0-2", true, 0.5, 19_000.0, 21_000.0)).await;
    mock.push_bars(&[bar(0, 20_000.0, 21_100.0, 19_900.0, 21_050.0)]);
    let late = broker.cancel_protection("rt1-0-2-p0").await.unwrap();
    assert!(matches!(late.executed(), Some((false, _))), "{late:?}");
    let err = broker.cancel_protection("rt-never-p0").await.unwrap_err().to_string();
    assert!(err.contains("rt-never-p0") && err.contains("does not know it"), "{err}");

    // cancelled or expired at the exchange, outside the daemon: seen as such
    let list = placed(&broker, &request("rt1-0-3", true, 0.5, 19_000.0, 21_000.0)).await;
    assert!(mock.expire_order_list(list.order_list_id));
    let list = broker.protection("rt1-0-3-p0").await.unwrap().unwrap();
    assert_eq!((list.status, list.stop.status), (ListStatus::AllDone, LegStatus::Expired));
    assert_eq!(broker.protection("rt-never-p0").await.unwrap(), None, "-2013 is None");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_list_without_an_answer_is_queried_and_never_placed_twice() {
    let mock = MockServer::start(MockConfig::default()).await.unwrap();
    // placed, but the answer comes after the client's timeout: found by its id
    mock.inject(Endpoint::NewOrderList, Fault::Hang(Duration::from_secs(2)), 1);
    let broker = broker(&mock, |c| {
        c.timeout = Duration::from_millis(300);
        c.recv_window_ms = 500;
    });
    let list = placed(&broker, &request("rt1-0-1", true, 0.5, 19_000.0, 21_000.0)).await;
    assert_eq!(list.status, ListStatus::Executing);
    assert_eq!(mock.requests(Endpoint::NewOrderList), 1, "never resent");
    // lost: the exchange has no such list; resent once past recvWindow, with the same ids
    mock.inject(Endpoint::NewOrderList, Fault::Lose(Duration::from_secs(2)), 1);
    let list = placed(&broker, &request("rt1-0-2", true, 0.25, 19_000.0, 21_000.0)).await;
    assert_eq!(list.list_client_order_id, "rt1-0-2-p0");
    assert_eq!(mock.requests(Endpoint::NewOrderList), 3);
    assert_eq!(mock.order_lists().len(), 2, "one list per protection");
    // placing a list the exchange has already (a restart after a lost answer) asks for
    // it by its id first and reports it: nothing is sent, even once the list is done
    // (when Binance would accept the id again)
    let again = placed(&broker, &request("rt1-0-2", true, 0.25, 19_000.0, 21_000.0)).await;
    assert_eq!(again.order_list_id, list.order_list_id);
    broker.cancel_protection("rt1-0-2-p0").await.unwrap();
    let done = placed(&broker, &request("rt1-0-2", true, 0.25, 19_000.0, 21_000.0)).await;
    assert_eq!((done.order_list_id, done.status), (list.order_list_id, ListStatus::AllDone));
    assert_eq!(mock.requests(Endpoint::NewOrderList), 3, "no request after the first two lists");
    assert_eq!(mock.order_lists().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_exchange_info_is_an_error_naming_it_and_nothing_is_sent() {
    let mock =
        MockServer::start(MockConfig { min_notional: "50.00000000".into(), ..MockConfig::default() }).await.unwrap();
    let broker = broker(&mock, |_| {});
    for fault in [Fault::ServerError, Fault::MalformedJson] {
        mock.inject(Endpoint::ExchangeInfo, fault, 1);
        let err = broker.place_protection(&request("rt1-0-1", true, 0.5, 19_000.0, 21_000.0)).await.unwrap_err();
        assert!(err.to_string().contains("/api/v3/exchangeInfo"), "{fault:?}: {err}");
    }
    assert_eq!(mock.requests(Endpoint::NewOrderList), 0, "nothing was sent without the filters");
    // read again on the next call, and the configured filter holds: 0.002 BTC at the
    // stop's 19,000 is 38 USDT, under a minNotional of 50
    let refused = broker.place_protection(&request("rt1-0-1", true, 0.002, 19_000.0, 21_000.0)).await.unwrap();
    let ProtectionOutcome::RefusedByFilter(refusal) = &refused else { panic!("{refused:?}") };
    assert!(refusal.to_string().contains("minNotional 50"), "{refusal}");
    placed(&broker, &request("rt1-0-2", true, 0.01, 19_000.0, 21_000.0)).await;
}
