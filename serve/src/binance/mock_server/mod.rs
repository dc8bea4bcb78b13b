//! An in-process Binance spot exchange for tests and dry runs: an axum server on
//! `127.0.0.1:0` that speaks the real JSON shapes and error bodies of the spot REST
//! API (<https://developers.binance.com/docs/binance-spot-api-docs/rest-api>), serving
//! klines from an in-memory bar list and filling MARKET orders at a set price.
//!
//! Endpoints: `GET /api/v3/klines`, `GET /api/v3/time`, `GET /api/v3/exchangeInfo` (public); `POST /api/v3/order`,
//! `GET /api/v3/order`, `DELETE /api/v3/order`, `GET /api/v3/openOrders`,
//! `GET /api/v3/myTrades`, `GET /api/v3/account`, and the OCO order lists
//! `POST /api/v3/orderList/oco`, `DELETE /api/v3/orderList`, `GET /api/v3/orderList`,
//! `GET /api/v3/openOrderList` (SIGNED: `X-MBX-APIKEY` header and an
//! HMAC-SHA256 `signature` of the query string and body, else `-2014`/`-2015`/`-1022`).
//!
//! Resting orders (`STOP_LOSS`, `LIMIT_MAKER`, alone or as the legs of an OCO) are
//! triggered by the mock's own klines as they are pushed ([`MockServer::push_bars`]),
//! by the backtest's rules (`rltrade_exec::ProtectiveLevels::check`): a stop fills at
//! `min(open, stop)` for a sell, a take-profit at `max(open, limit)`, the stop first
//! when a bar touches both; an OCO leg that executes expires its sibling.
//!
//! Faults ([`Fault`]) are queued per [`Endpoint`] at run time and answer the next
//! requests to it; [`MockServer::requests`] counts requests per endpoint, so a test can
//! assert that an order was sent once.
//!
//! As on the real exchange, a `newClientOrderId` is refused (`-2010 Duplicate order
//! sent.`) only while an order with that id is open: a resend of a filled order
//! executes again, and [`MockServer::orders`] then lists the id twice, which is how a
//! test sees a broker's double execution.

mod account;
mod market;
mod order_list;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::http::header::RETRY_AFTER;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use rltrade_env::Bar;
use serde_json::json;

use super::clock::{Clock, system_clock};
use super::klines::Interval;

/// The endpoints the mock serves (the keys of faults and request counts).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Endpoint {
    /// `GET /api/v3/klines`.
    Klines,
    /// `GET /api/v3/time`.
    Time,
    /// `GET /api/v3/exchangeInfo`.
    ExchangeInfo,
    /// `POST /api/v3/order`.
    NewOrder,
    /// `GET /api/v3/order`.
    QueryOrder,
    /// `DELETE /api/v3/order`.
    CancelOrder,
    /// `GET /api/v3/openOrders`.
    OpenOrders,
    /// `GET /api/v3/myTrades`.
    MyTrades,
    /// `GET /api/v3/account`.
    Account,
    /// `POST /api/v3/orderList/oco`.
    NewOrderList,
    /// `DELETE /api/v3/orderList`.
    CancelOrderList,
    /// `GET /api/v3/orderList`.
    QueryOrderList,
    /// `GET /api/v3/openOrderList`.
    OpenOrderLists,
}

/// A fault the next request to an endpoint meets.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Fault {
    /// HTTP 429 with `Retry-After: retry_after_s` and `{"code":-1003,...}`.
    RateLimited {
        /// The `Retry-After` header, seconds.
        retry_after_s: u64,
    },
    /// HTTP 418 (IP banned) with `Retry-After: retry_after_s`.
    Banned {
        /// The `Retry-After` header, seconds.
        retry_after_s: u64,
    },
    /// HTTP 500 with a plain-text body.
    ServerError,
    /// HTTP 200 with a body cut in the middle of the JSON.
    MalformedJson,
    /// Klines: the first row's close is `"NaN"`.
    NanPrice,
    /// Klines: the first row's low is `"-1.00000000"`.
    NegativePrice,
    /// Klines: the first row is sent twice in a row.
    DuplicateRow,
    /// Klines: a copy of the first row is appended after the last.
    OutOfOrderRow,
    /// Handle the request (an order executes), then wait this long before answering:
    /// the client times out although the order was placed.
    Hang(Duration),
    /// Lose the request (nothing executes) and wait this long before answering 500.
    Lose(Duration),
    /// New orders: refused with `-2010 Market is closed.` (nothing executes), as the
    /// exchange refuses an order it will not take.
    Rejected,
    /// Handle the request (an order executes), then drop the connection in the middle
    /// of the answer: the client reads the status and part of the body, then a reset.
    Drop,
}

/// An order the mock holds. Quantities in base units, prices and quote amounts in the
/// quote currency, times in ms since the epoch.
#[derive(Clone, Debug, PartialEq)]
pub struct MockOrder {
    /// Exchange order id (1, 2, …).
    pub order_id: u64,
    /// `newClientOrderId`.
    pub client_order_id: String,
    /// Symbol.
    pub symbol: String,
    /// `BUY` or `SELL`.
    pub side: String,
    /// Ordered quantity.
    pub quantity: f64,
    /// Executed quantity.
    pub executed: f64,
    /// Fill price (0 while unfilled).
    pub price: f64,
    /// Commission charged.
    pub commission: f64,
    /// Asset of the commission (base for buys, quote for sells, as on Binance without BNB).
    pub commission_asset: String,
    /// `NEW`, `FILLED`, `CANCELED` or `EXPIRED` (an OCO leg whose sibling executed).
    pub status: String,
    /// Transaction time.
    pub time_ms: i64,
    /// `MARKET`, `STOP_LOSS` (a stop-market order) or `LIMIT_MAKER`.
    pub order_type: String,
    /// `stopPrice` of a `STOP_LOSS` order (0 otherwise).
    pub stop_price: f64,
    /// `price` of a `LIMIT_MAKER` order (0 otherwise).
    pub limit_price: f64,
    /// The order list it belongs to (`-1`: none).
    pub order_list_id: i64,
}

/// An OCO order list the mock holds: its two legs are orders in [`MockServer::orders`].
#[derive(Clone, Debug, PartialEq)]
pub struct MockOrderList {
    /// Exchange order list id (1, 2, …).
    pub order_list_id: i64,
    /// `listClientOrderId`.
    pub list_client_order_id: String,
    /// The legs' exchange order ids: the stop (`STOP_LOSS`), then the take-profit
    /// (`LIMIT_MAKER`).
    pub order_ids: [u64; 2],
    /// `EXEC_STARTED` while its legs are open, then `ALL_DONE`.
    pub list_status_type: String,
    /// `EXECUTING`, then `ALL_DONE`.
    pub list_order_status: String,
    /// Creation time, ms since the epoch.
    pub time_ms: i64,
}

/// What the mock serves. [`Default`]: `BTCUSDT` 1h, no bars, fills at 20,000 USDT
/// with 0.1 % commission, balances 1 BTC and 100,000 USDT, key `mock-key` and secret
/// `mock-secret`, system clock.
#[derive(Clone)]
pub struct MockConfig {
    /// The one symbol served; others get `-1121 Invalid symbol.`.
    pub symbol: String,
    /// Base asset of the symbol (`BTC`).
    pub base_asset: String,
    /// Quote asset of the symbol (`USDT`).
    pub quote_asset: String,
    /// Interval of `bars`; other intervals get `-1120 Invalid interval.`.
    pub interval: Interval,
    /// Closed bars, increasing open times.
    pub bars: Vec<Bar>,
    /// The bar still forming, served after `bars` when set.
    pub open_bar: Option<Bar>,
    /// MARKET fill price, quote per base.
    pub fill_price: f64,
    /// Commission as a fraction of the traded amount (0.001 = 10 bps).
    pub commission_rate: f64,
    /// Whether MARKET orders fill at once (else they stay `NEW`, for open-order and
    /// cancel tests).
    pub fill_market_orders: bool,
    /// The API key signed requests must carry.
    pub api_key: String,
    /// The secret that signs them.
    pub secret: String,
    /// Free balances by asset.
    pub balances: Vec<(String, f64)>,
    /// The exchange clock (`/api/v3/time`, `recvWindow` checks, order times).
    pub clock: Clock,
    /// The symbol's `LOT_SIZE` filter as `exchangeInfo` lists it: `minQty`, `maxQty`,
    /// `stepSize` (decimal strings). An order off it gets `-1013 Filter failure:
    /// LOT_SIZE`, as on the exchange.
    pub lot_size: [String; 3],
    /// The symbol's `PRICE_FILTER`: `minPrice`, `maxPrice`, `tickSize` (decimal
    /// strings). A stop or limit price off it gets `-1013 Filter failure: PRICE_FILTER`.
    pub price_filter: [String; 3],
    /// The symbol's `NOTIONAL` filter's `minNotional` (a decimal string), applied to
    /// market orders too.
    pub min_notional: String,
    /// MARKET orders fill at the close of the last bar in `bars` (the price just after
    /// it closed, as a soak that pushes bars one by one wants), else at `fill_price`.
    pub fill_at_last_close: bool,
}

impl Default for MockConfig {
    fn default() -> Self {
        Self {
            symbol: "BTCUSDT".into(),
            base_asset: "BTC".into(),
            quote_asset: "USDT".into(),
            interval: Interval::parse("1h").unwrap_or_else(|| unreachable!("1h is an interval")),
            bars: Vec::new(),
            open_bar: None,
            fill_price: 20_000.0,
            commission_rate: 0.001,
            fill_market_orders: true,
            api_key: "mock-key".into(),
            secret: "mock-secret".into(),
            balances: vec![("BTC".into(), 1.0), ("USDT".into(), 100_000.0)],
            clock: system_clock(),
            lot_size: ["0.00001000".into(), "9000.00000000".into(), "0.00001000".into()],
            price_filter: ["0.01000000".into(), "1000000.00000000".into(), "0.01000000".into()],
            min_notional: "5.00000000".into(),
            fill_at_last_close: false,
        }
    }
}

/// The mock's mutable state, behind one mutex (never held across an `.await`).
struct State {
    config: MockConfig,
    faults: HashMap<Endpoint, VecDeque<Fault>>,
    requests: BTreeMap<Endpoint, usize>,
    orders: Vec<MockOrder>,
    order_lists: Vec<MockOrderList>,
    /// The last traded price an OCO's levels are checked against (`None`: the fill price).
    last_price: Option<f64>,
    /// Asset → (free, locked).
    balances: BTreeMap<String, (f64, f64)>,
}

type Shared = Arc<Mutex<State>>;

/// Locks the state; a panicked handler cannot leave it half-updated in a way tests
/// care about, so poisoning is ignored.
fn lock(shared: &Shared) -> MutexGuard<'_, State> {
    shared.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Counts a request to `endpoint` and takes its next queued fault, if any.
fn begin(shared: &Shared, endpoint: Endpoint) -> Option<Fault> {
    let mut state = lock(shared);
    *state.requests.entry(endpoint).or_default() += 1;
    state.faults.get_mut(&endpoint).and_then(VecDeque::pop_front)
}

/// The answer of a transport-level fault, if `fault` is one.
fn fault_response(fault: Option<Fault>) -> Option<Response> {
    match fault? {
        Fault::RateLimited { retry_after_s } => Some(
            (
                StatusCode::TOO_MANY_REQUESTS,
                [(RETRY_AFTER, retry_after_s.to_string())],
                axum::Json(json!({"code": -1003, "msg": "Too many requests; current limit is 6000 request weight per 1 MINUTE."})),
            )
                .into_response(),
        ),
        Fault::Banned { retry_after_s } => Some(
            (
                StatusCode::IM_A_TEAPOT,
                [(RETRY_AFTER, retry_after_s.to_string())],
                axum::Json(json!({"code": -1003, "msg": "Way too many requests; IP banned."})),
            )
                .into_response(),
        ),
        Fault::ServerError => Some((StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()),
        Fault::Rejected => Some(api_error(StatusCode::BAD_REQUEST, -2010, "Market is closed.")),
        Fault::MalformedJson => Some(
            (StatusCode::OK, [(axum::http::header::CONTENT_TYPE, "application/json")], "[[1499040000000,\"0.0163")
                .into_response(),
        ),
        _ => None,
    }
}

/// An answer whose body breaks off after its first bytes ([`Fault::Drop`]): hyper
/// closes the connection when the body stream fails.
fn dropped_connection() -> Response {
    let chunks: [Result<axum::body::Bytes, std::io::Error>; 2] = [
        Ok(axum::body::Bytes::from_static(b"{\"symbol\":\"")),
        Err(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "connection dropped by the mock")),
    ];
    (
        StatusCode::OK,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        axum::body::Body::from_stream(futures_util::stream::iter(chunks)),
    )
        .into_response()
}

/// A Binance error answer `{"code", "msg"}`.
fn api_error(status: StatusCode, code: i64, msg: &str) -> Response {
    (status, axum::Json(json!({"code": code, "msg": msg}))).into_response()
}

/// A running mock exchange. Dropping it stops the server.
pub struct MockServer {
    base_url: String,
    shared: Shared,
    task: tokio::task::JoinHandle<()>,
}

impl MockServer {
    /// Binds `127.0.0.1:0` and serves `config` on the current tokio runtime.
    ///
    /// # Errors
    /// The bind error.
    pub async fn start(config: MockConfig) -> std::io::Result<Self> {
        let balances = config.balances.iter().map(|(asset, free)| (asset.clone(), (*free, 0.0))).collect();
        let shared: Shared = Arc::new(Mutex::new(State {
            config,
            faults: HashMap::new(),
            requests: BTreeMap::new(),
            orders: Vec::new(),
            order_lists: Vec::new(),
            last_price: None,
            balances,
        }));
        let router = Router::new()
            .route("/api/v3/klines", get(market::klines))
            .route("/api/v3/time", get(market::time))
            .route("/api/v3/exchangeInfo", get(market::exchange_info))
            .route("/api/v3/order", get(account::query_order).post(account::new_order).delete(account::cancel_order))
            .route("/api/v3/openOrders", get(account::open_orders))
            .route("/api/v3/myTrades", get(account::my_trades))
            .route("/api/v3/account", get(account::account))
            .route("/api/v3/orderList/oco", post(order_list::new_oco))
            .route("/api/v3/orderList", get(order_list::query).delete(order_list::cancel))
            .route("/api/v3/openOrderList", get(order_list::open_lists))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base_url = format!("http://{}", listener.local_addr()?);
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, router).await {
                tracing::warn!("mock exchange stopped: {e}");
            }
        });
        Ok(Self { base_url, shared, task })
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Queues `fault` for the next `times` requests to `endpoint` (after those queued).
    pub fn inject(&self, endpoint: Endpoint, fault: Fault, times: usize) {
        let mut state = lock(&self.shared);
        state.faults.entry(endpoint).or_default().extend(std::iter::repeat_n(fault, times));
    }

    /// Requests received by `endpoint` so far (faulted ones included).
    pub fn requests(&self, endpoint: Endpoint) -> usize {
        lock(&self.shared).requests.get(&endpoint).copied().unwrap_or(0)
    }

    /// Replaces the `LOT_SIZE` filter (`[minQty, maxQty, stepSize]`), as an exchange
    /// that changes a symbol's filters while a broker runs.
    pub fn set_lot_size(&self, lot_size: [&str; 3]) {
        lock(&self.shared).config.lot_size = lot_size.map(String::from);
    }

    /// Appends closed bars (increasing open times). Each bar first triggers the resting
    /// stop and take-profit orders it reaches, by the backtest's rules
    /// ([`order_list::trigger`]).
    pub fn push_bars(&self, bars: &[Bar]) {
        let mut state = lock(&self.shared);
        for bar in bars {
            order_list::trigger(&mut state, bar);
            state.config.bars.push(*bar);
        }
    }

    /// Every order list placed, in order.
    pub fn order_lists(&self) -> Vec<MockOrderList> {
        lock(&self.shared).order_lists.clone()
    }

    /// Cancels the open order list `order_list_id` as a person in the exchange's web
    /// page would (its legs `CANCELED`, their base released); false when it is not open.
    pub fn cancel_order_list_outside(&self, order_list_id: i64) -> bool {
        order_list::cancel_list(&mut lock(&self.shared), order_list_id, "CANCELED")
    }

    /// Executes `quantity` of the take-profit leg of the executing list `order_list_id`
    /// at its limit (a partial fill: the stop leg expires, the list stays executing);
    /// false when there is no such list.
    pub fn fill_take_profit_partly(&self, order_list_id: i64, quantity: f64) -> bool {
        order_list::fill_take_profit_partly(&mut lock(&self.shared), order_list_id, quantity)
    }

    /// Expires the open order list `order_list_id`, as the exchange does in maintenance
    /// (its legs `EXPIRED`); false when it is not open.
    pub fn expire_order_list(&self, order_list_id: i64) -> bool {
        order_list::cancel_list(&mut lock(&self.shared), order_list_id, "EXPIRED")
    }

    /// Sets or clears the bar still forming.
    pub fn set_open_bar(&self, bar: Option<Bar>) {
        lock(&self.shared).config.open_bar = bar;
    }

    /// Sets the last traded price that an OCO list's levels must straddle, apart from
    /// the MARKET fill price (a market that moved between an entry's fill and its
    /// protection); `None` goes back to the fill price.
    pub fn set_last_price(&self, price: Option<f64>) {
        lock(&self.shared).last_price = price;
    }

    /// Sets the MARKET fill price.
    pub fn set_fill_price(&self, price: f64) {
        lock(&self.shared).config.fill_price = price;
    }

    /// Every order received and executed (or left open), in order.
    pub fn orders(&self) -> Vec<MockOrder> {
        lock(&self.shared).orders.clone()
    }

    /// `(free, locked)` of `asset`.
    pub fn balance(&self, asset: &str) -> (f64, f64) {
        lock(&self.shared).balances.get(asset).copied().unwrap_or((0.0, 0.0))
    }

    /// Stops the server (in-flight requests are dropped).
    pub fn shutdown(self) {
        self.task.abort();
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}
