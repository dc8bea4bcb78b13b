//! [`ExchangeBroker`]: Binance spot over signed REST (testnet unless `live`).
//!
//! Orders are MARKET orders with the journal's client order id as `newClientOrderId`,
//! `newOrderRespType=FULL`, `recvWindow` and `timestamp`, signed with HMAC-SHA256
//! (<https://developers.binance.com/docs/binance-spot-api-docs/rest-api/trading-endpoints#new-order-trade>).
//!
//! **Never a duplicate order.** When an order request gets no answer (timeout,
//! connection error) or a 5XX, its fate is unknown: Binance says the order may have
//! executed. The broker then asks `GET /api/v3/order?origClientOrderId=` before
//! anything else. Only `-2013 Order does not exist.` allows a resend, with the **same**
//! client id, and only once the original request's `recvWindow` has passed (the
//! exchange refuses a request older than its `recvWindow`, so a late copy of the first
//! one can no longer execute). Binance itself refuses a repeated `newClientOrderId`
//! only while the first order is open, so this query is the real guard. A query that
//! fails in a way that says nothing about the order (no answer, a 5XX) is asked again
//! with backoff, [`QUERY_ATTEMPTS`] times in all, before the fate is declared unknown.
//!
//! **Rate limits.** A 429 or 418 means the request was refused before it reached the
//! matching engine: nothing was placed. The broker waits the `Retry-After` (up to
//! [`MAX_RATE_LIMIT_WAIT_MS`]) and sends the same request again, within `max_resends`.

pub mod answers;
mod protection;

use std::fmt;
use std::time::Duration;

use reqwest::Method;
use rltrade_exec::Side;

use self::answers::{FillJson, OrderJson, number, order_outcome, parse_balances};
use super::{OrderOutcome, OrderRequest};
use crate::backoff::exponential;
use crate::binance::clock::{Clock, ExchangeClock, system_clock};
use crate::binance::error::ApiError;
use crate::binance::filters::SymbolFilters;
use crate::binance::http;
use crate::binance::klines::KlinesClient;
use crate::binance::signing::Credentials;
use crate::binance::{LIVE_URL, TESTNET_URL};
use crate::{Error, Result};

/// Binance's code for "Order does not exist.".
pub const ORDER_DOES_NOT_EXIST: i64 = -2013;
/// The longest `Retry-After` the broker waits out before resending an order or a
/// query, ms; a longer one (an IP ban) fails the call.
pub const MAX_RATE_LIMIT_WAIT_MS: u64 = 60_000;
/// Attempts of an order query whose failure says nothing about the order (see
/// `ExchangeBroker::submit`).
pub const QUERY_ATTEMPTS: u32 = 5;
/// Binance's code for a request whose `timestamp` is outside its `recvWindow` (or more
/// than a second ahead of the server): refused, nothing done.
pub const TIMESTAMP_OUTSIDE_RECV_WINDOW: i64 = -1021;
/// Binance's code for a refused new order (`Duplicate order sent.`, `Account has
/// insufficient balance for requested action.`).
pub const NEW_ORDER_REJECTED: i64 = -2010;

/// Where and how the broker trades.
#[derive(Clone, Debug, PartialEq)]
pub struct ExchangeBrokerConfig {
    /// REST base URL: [`TESTNET_URL`] unless `live`; a loopback URL
    /// (`http://127.0.0.1:…`, a mock exchange) is accepted too.
    pub base_url: String,
    /// Real money: allows [`LIVE_URL`] (or any other URL).
    pub live: bool,
    /// The symbol traded (`BTCUSDT`); orders for others are refused.
    pub symbol: String,
    /// Its base asset (`BTC`).
    pub base_asset: String,
    /// Its quote asset (`USDT`), the currency of prices and fees.
    pub quote_asset: String,
    /// `recvWindow`, ms (Binance's default 5,000, at most 60,000).
    pub recv_window_ms: u64,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Resends of one order, at most: after the exchange says it does not exist, or
    /// after a rate limit's wait.
    pub max_resends: u32,
}

impl ExchangeBrokerConfig {
    /// Testnet, `recvWindow` 5 s, timeout 10 s, 2 resends.
    pub fn testnet(symbol: &str, base_asset: &str, quote_asset: &str) -> Self {
        Self {
            base_url: TESTNET_URL.to_owned(),
            live: false,
            symbol: symbol.to_owned(),
            base_asset: base_asset.to_owned(),
            quote_asset: quote_asset.to_owned(),
            recv_window_ms: 5_000,
            timeout: Duration::from_secs(10),
            max_resends: 2,
        }
    }
}

/// Free and locked balances of the traded symbol's assets.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Balances {
    /// Base asset available, base units.
    pub base_free: f64,
    /// Base asset in open orders.
    pub base_locked: f64,
    /// Quote asset available, quote currency.
    pub quote_free: f64,
    /// Quote asset in open orders.
    pub quote_locked: f64,
}

/// An order still open at the exchange.
#[derive(Clone, Debug, PartialEq)]
pub struct OpenOrder {
    /// `clientOrderId`.
    pub client_order_id: String,
    /// Exchange order id.
    pub order_id: u64,
    /// Buy or sell.
    pub side: Side,
    /// Ordered quantity, base units.
    pub quantity: f64,
    /// Executed so far, base units.
    pub executed: f64,
    /// Creation time, ms since the epoch UTC.
    pub time_ms: i64,
}

/// Binance spot broker (see the module docs).
pub struct ExchangeBroker {
    http: reqwest::Client,
    config: ExchangeBrokerConfig,
    credentials: Credentials,
    clock: Clock,
    /// The exchange's clock and the client that measures it, when the broker goes by it.
    exchange_clock: Option<(ExchangeClock, KlinesClient)>,
    /// The symbol's filters, fetched once ([`ExchangeBroker::filters`]).
    filters: tokio::sync::OnceCell<SymbolFilters>,
}

impl fmt::Debug for ExchangeBroker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExchangeBroker")
            .field("config", &self.config)
            .field("credentials", &self.credentials)
            .finish_non_exhaustive()
    }
}

/// Whether `url` is a loopback address (a mock exchange).
fn is_loopback(url: &str) -> bool {
    ["http://127.0.0.1:", "http://localhost:", "http://[::1]:"].iter().any(|p| url.starts_with(p))
}

/// Percent-encodes a query value (RFC 3986 unreserved characters pass).
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl ExchangeBroker {
    /// A broker for `config` with `credentials` on the system clock.
    ///
    /// # Errors
    /// [`Error::Config`] (`base_url`) when the URL is neither the testnet nor loopback
    /// and `live` is false; [`Error::Exchange`] if the HTTP client cannot be built.
    pub fn new(config: ExchangeBrokerConfig, credentials: Credentials) -> Result<Self> {
        let base_url = config.base_url.trim_end_matches('/').to_owned();
        if !config.live && base_url != TESTNET_URL && !is_loopback(&base_url) {
            return Err(Error::Config {
                field: "base_url".into(),
                message: format!(
                    "{base_url} is not the Binance testnet ({TESTNET_URL}); trading at {LIVE_URL} or elsewhere needs live = true"
                ),
            });
        }
        let http = reqwest::Client::builder().timeout(config.timeout).build().map_err(|e| Error::Exchange {
            endpoint: base_url.clone(),
            message: format!("cannot build the HTTP client: {e}"),
        })?;
        Ok(Self {
            http,
            config: ExchangeBrokerConfig { base_url, ..config },
            credentials,
            clock: system_clock(),
            exchange_clock: None,
            filters: tokio::sync::OnceCell::new(),
        })
    }

    /// The same broker timestamping requests with `clock`.
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The same broker going by the exchange's clock: requests are timestamped with
    /// `clock`, and one refused `-1021` measures its offset anew through `time_client`
    /// (`GET /api/v3/time` at the broker's own URL) and goes again once.
    pub fn with_exchange_clock(mut self, clock: ExchangeClock, time_client: KlinesClient) -> Self {
        self.clock = clock.clock();
        self.exchange_clock = Some((clock, time_client));
        self
    }

    /// The symbol's trading filters from `GET /api/v3/exchangeInfo?symbol=`, fetched on
    /// the first call (the daemon calls it at start) and cached for the broker's life.
    ///
    /// # Errors
    /// [`Error::Exchange`] naming the endpoint when the request fails or the answer does
    /// not list the symbol's filters; a failed fetch is retried on the next call.
    pub async fn filters(&self) -> Result<&SymbolFilters> {
        self.filters
            .get_or_try_init(|| async {
                let endpoint = self.endpoint("GET", "/api/v3/exchangeInfo");
                let url =
                    format!("{}/api/v3/exchangeInfo?symbol={}", self.config.base_url, encode(&self.config.symbol));
                let body = http::send(&endpoint, self.http.get(url)).await?;
                SymbolFilters::from_exchange_info(&body, &self.config.symbol)
                    .map_err(|message| Error::Exchange { endpoint, message })
            })
            .await
    }

    /// The configuration (base URL without a trailing `/`).
    pub fn config(&self) -> &ExchangeBrokerConfig {
        &self.config
    }

    /// Sends a SIGNED request; `params` go first, then `recvWindow`, `timestamp` and
    /// the `signature` of all of them. Returns the body of a 2XX answer and the
    /// timestamp sent.
    /// A request refused `-1021` (its timestamp outside the `recvWindow`: nothing was
    /// done) goes again once after the exchange clock's offset is measured anew, when
    /// the broker goes by the exchange's clock ([`Self::with_exchange_clock`]).
    async fn signed(&self, method: Method, path: &str, params: &[(&str, String)]) -> (i64, Result<Vec<u8>, ApiError>) {
        let (timestamp, answer) = self.signed_once(method.clone(), path, params).await;
        let Some((clock, time_client)) = &self.exchange_clock else { return (timestamp, answer) };
        if !matches!(&answer, Err(ApiError::Api { code: TIMESTAMP_OUTSIDE_RECV_WINDOW, .. })) {
            return (timestamp, answer);
        }
        match clock.sync(time_client).await {
            Ok(offset) => {
                tracing::warn!(
                    offset_ms = offset,
                    "{method} {path}: -1021, the exchange's clock measured again; resent"
                );
                self.signed_once(method, path, params).await
            }
            Err(e) => {
                tracing::warn!("{method} {path}: -1021, and measuring the exchange's clock failed: {e}");
                (timestamp, answer)
            }
        }
    }

    async fn signed_once(
        &self,
        method: Method,
        path: &str,
        params: &[(&str, String)],
    ) -> (i64, Result<Vec<u8>, ApiError>) {
        let timestamp = (self.clock)();
        let mut query: Vec<String> = params.iter().map(|(k, v)| format!("{k}={}", encode(v))).collect();
        query.push(format!("recvWindow={}", self.config.recv_window_ms));
        query.push(format!("timestamp={timestamp}"));
        let query = query.join("&");
        let signature = self.credentials.sign(&query);
        let endpoint = format!("{method} {}{path}", self.config.base_url);
        let url = format!("{}{path}?{query}&signature={signature}", self.config.base_url);
        let request = self.http.request(method, url).header("X-MBX-APIKEY", self.credentials.api_key.expose());
        (timestamp, http::send(&endpoint, request).await)
    }

    fn endpoint(&self, method: &str, path: &str) -> String {
        format!("{method} {}{path}", self.config.base_url)
    }

    /// Sends `order` as a MARKET order and returns what the exchange did (see the
    /// module docs for unknown fates). Refusals (`{"code","msg"}`, e.g. `-2010`
    /// insufficient balance) are `Ok(OrderOutcome::Rejected)`.
    ///
    /// # Errors
    /// [`Error::Config`] for another symbol than the broker's; [`Error::Exchange`] when
    /// the symbol's filters cannot be fetched (nothing placed; the daemon fetches them at
    /// start, so this arises only for a broker used without that), when
    /// rate limited for longer than [`MAX_RATE_LIMIT_WAIT_MS`] (nothing placed), or when
    /// the fate stays unknown (the query failed [`QUERY_ATTEMPTS`] times too: the order
    /// is **not** resent), or after `max_resends` resends.
    pub async fn submit(&self, order: &OrderRequest) -> Result<OrderOutcome> {
        if order.symbol != self.config.symbol {
            return Err(Error::Config {
                field: "symbol".into(),
                message: format!(
                    "order {} is for {}, this broker trades {}",
                    order.client_order_id, order.symbol, self.config.symbol
                ),
            });
        }
        let id = &order.client_order_id;
        // rounded down to the symbol's step; refused here, unsent, when the filters
        // make it impossible
        let quantity = match self.filters().await?.market_order(order.quantity, order.reference_price) {
            Ok(quantity) => quantity,
            Err(refusal) => return Ok(OrderOutcome::RefusedByFilter(refusal)),
        };
        let params = [
            ("symbol", order.symbol.clone()),
            ("side", if order.side == Side::Buy { "BUY" } else { "SELL" }.to_owned()),
            ("type", "MARKET".to_owned()),
            ("quantity", quantity),
            ("newClientOrderId", id.clone()),
            ("newOrderRespType", "FULL".to_owned()),
        ];
        let mut resends = 0;
        loop {
            let (sent_at, answer) = self.signed(Method::POST, "/api/v3/order", &params).await;
            let endpoint = self.endpoint("POST", "/api/v3/order");
            let err = match answer.and_then(|body| http::parse_json::<OrderJson>(&endpoint, &body)) {
                Ok(json) => return Ok(self.outcome(&endpoint, &json, json.fills.as_deref())?),
                Err(err) => err,
            };
            let duplicate =
                matches!(&err, ApiError::Api { code: NEW_ORDER_REJECTED, msg, .. } if msg.contains("Duplicate"));
            match &err {
                ApiError::Api { code, msg, .. } if !duplicate => {
                    return Ok(OrderOutcome::Rejected { code: *code, message: msg.clone() });
                }
                ApiError::RateLimited { retry_after_ms, .. } => {
                    // refused by the rate limiter before it reached the matching engine:
                    // nothing was placed, the same request may go again after the wait
                    if resends >= self.config.max_resends || *retry_after_ms > MAX_RATE_LIMIT_WAIT_MS {
                        return Err(err.into());
                    }
                    resends += 1;
                    let shown = crate::log_text::untrusted(&err.to_string());
                    tracing::warn!("order {id}: {shown}; resending after the wait ({resends})");
                    tokio::time::sleep(Duration::from_millis(*retry_after_ms)).await;
                    continue;
                }
                _ => {} // unknown fate (timeout, 5XX, malformed 2XX) or a duplicate: ask
            }
            let shown = crate::log_text::untrusted(&err.to_string());
            tracing::warn!("order {id}: {shown}; querying it by client order id before anything else");
            let found = match self.query_unknown(id, sent_at).await {
                Ok(found) => found,
                Err(query_err) => {
                    return Err(Error::Exchange {
                        endpoint: err.endpoint().to_owned(),
                        message: format!(
                            "order {id}: fate unknown ({}); query failed too ({query_err}); not resent",
                            err.detail()
                        ),
                    });
                }
            };
            match found {
                Some(outcome) => return Ok(outcome),
                None if resends < self.config.max_resends => {
                    resends += 1;
                    tracing::warn!(
                        "order {id}: the exchange has no such order; resending with the same id ({resends})"
                    );
                }
                None => {
                    return Err(Error::Exchange {
                        endpoint: err.endpoint().to_owned(),
                        message: format!("order {id}: not placed after {resends} resends ({})", err.detail()),
                    });
                }
            }
        }
    }

    /// Sends `order` again after a restart: it was journaled (and maybe sent) by a daemon
    /// that died before its answer was journaled, so it may have executed. The exchange
    /// refuses a repeated client order id only while the first order is open: a filled
    /// one would execute twice. So the order is looked up by its client id first, and
    /// again once a `recvWindow` has passed since now (a copy sent before the restart can
    /// no longer execute then); only an order the exchange still does not know is sent,
    /// through [`Self::submit`].
    ///
    /// # Errors
    /// As [`Self::submit`]; a lookup that keeps failing is [`Error::Exchange`] (nothing sent).
    pub async fn submit_resumed(&self, order: &OrderRequest) -> Result<OrderOutcome> {
        let id = &order.client_order_id;
        let now = (self.clock)();
        match self.query_unknown(id, now).await {
            Ok(Some(outcome)) => {
                tracing::info!("order {id}: sent before the restart; the exchange has it, not sent again");
                Ok(outcome)
            }
            Ok(None) => self.submit(order).await,
            Err(e) => Err(Error::Exchange {
                endpoint: e.endpoint().to_owned(),
                message: format!("order {id}: journaled before the restart, lookup failed ({}); not sent", e.detail()),
            }),
        }
    }

    /// Looks for the order `client_order_id` whose request (timestamped `sent_at`) got
    /// no clear answer: at once, and if it does not exist, again once that request is
    /// past its `recvWindow` (a late copy of it can no longer execute then).
    async fn query_unknown(&self, client_order_id: &str, sent_at: i64) -> Result<Option<OrderOutcome>, ApiError> {
        if let Some(found) = self.query_retrying(client_order_id).await? {
            return Ok(Some(found));
        }
        if !self.wait_past_recv_window(sent_at).await {
            return Ok(None);
        }
        self.query_retrying(client_order_id).await
    }

    /// [`Self::query_api`], asked again after a failure that says nothing about the
    /// order (no answer, a 5XX, a malformed body, a rate limit): up to
    /// [`QUERY_ATTEMPTS`] times in all, after the backoff of [`crate::backoff`]
    /// (from 100 ms) or the rate limit's `Retry-After`.
    async fn query_retrying(&self, client_order_id: &str) -> Result<Option<OrderOutcome>, ApiError> {
        let mut backoff = exponential(Duration::from_millis(100), Duration::from_secs(5));
        let mut attempt = 1;
        loop {
            let err = match self.query_api(client_order_id).await {
                Err(err @ (ApiError::Transport { .. } | ApiError::Http { .. } | ApiError::Malformed { .. })) => err,
                Err(err @ ApiError::RateLimited { .. }) => err,
                answer => return answer,
            };
            if attempt >= QUERY_ATTEMPTS {
                return Err(err);
            }
            let wait = match &err {
                ApiError::RateLimited { retry_after_ms, .. } if *retry_after_ms <= MAX_RATE_LIMIT_WAIT_MS => {
                    Duration::from_millis(*retry_after_ms)
                }
                ApiError::RateLimited { .. } => return Err(err),
                _ => backoff.next().unwrap_or(Duration::from_secs(5)),
            };
            tracing::warn!(
                "order {client_order_id}: query failed ({}); asking again in {} ms",
                crate::log_text::untrusted(&err.to_string()),
                wait.as_millis()
            );
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    /// Waits until a request timestamped `sent_at` is past its `recvWindow` (a late copy
    /// of it can no longer execute then); false when it already was.
    async fn wait_past_recv_window(&self, sent_at: i64) -> bool {
        // the exchange still accepts a request at timestamp + recvWindow itself, and the
        // ms clock truncates: wait until strictly past that instant
        let expires_at = sent_at.saturating_add(i64::try_from(self.config.recv_window_ms).unwrap_or(i64::MAX));
        let wait_ms = expires_at.saturating_add(1).saturating_sub((self.clock)());
        if wait_ms <= 0 {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(wait_ms.unsigned_abs())).await;
        true
    }

    /// The order with `client_order_id` (`GET /api/v3/order?origClientOrderId=`);
    /// `None` when the exchange says `-2013 Order does not exist.`. A filled order's
    /// fee comes from its trades (`GET /api/v3/myTrades?orderId=`).
    ///
    /// # Errors
    /// [`Error::Exchange`] for every other failure.
    pub async fn query(&self, client_order_id: &str) -> Result<Option<OrderOutcome>> {
        Ok(self.query_api(client_order_id).await?)
    }

    async fn query_api(&self, client_order_id: &str) -> Result<Option<OrderOutcome>, ApiError> {
        let params = [("symbol", self.config.symbol.clone()), ("origClientOrderId", client_order_id.to_owned())];
        let endpoint = self.endpoint("GET", "/api/v3/order");
        let body = match self.signed(Method::GET, "/api/v3/order", &params).await.1 {
            Ok(body) => body,
            Err(ApiError::Api { code: ORDER_DOES_NOT_EXIST, .. }) => return Ok(None),
            Err(err) => return Err(err),
        };
        let json: OrderJson = http::parse_json(&endpoint, &body)?;
        self.outcome_with_trades(&endpoint, &json).await.map(Some)
    }

    /// Cancels the open order `client_order_id` (`DELETE /api/v3/order`) and returns
    /// what it executed before ([`OrderOutcome::Open`] if nothing).
    ///
    /// # Errors
    /// [`Error::Exchange`], e.g. `-2011 Unknown order sent.` for an order not open.
    pub async fn cancel(&self, client_order_id: &str) -> Result<OrderOutcome> {
        let params = [("symbol", self.config.symbol.clone()), ("origClientOrderId", client_order_id.to_owned())];
        let endpoint = self.endpoint("DELETE", "/api/v3/order");
        let body = self.signed(Method::DELETE, "/api/v3/order", &params).await.1?;
        let json: OrderJson = http::parse_json(&endpoint, &body)?;
        Ok(self.outcome_with_trades(&endpoint, &json).await?)
    }

    /// Open orders of the broker's symbol (`GET /api/v3/openOrders?symbol=`).
    ///
    /// # Errors
    /// [`Error::Exchange`].
    pub async fn open_orders(&self) -> Result<Vec<OpenOrder>> {
        let endpoint = self.endpoint("GET", "/api/v3/openOrders");
        let body = self.signed(Method::GET, "/api/v3/openOrders", &[("symbol", self.config.symbol.clone())]).await.1?;
        let orders: Vec<OrderJson> = http::parse_json(&endpoint, &body)?;
        let mut open = Vec::with_capacity(orders.len());
        for o in orders {
            open.push(OpenOrder {
                side: if o.side == "BUY" { Side::Buy } else { Side::Sell },
                quantity: number(&endpoint, "origQty", &o.orig_qty)?,
                executed: number(&endpoint, "executedQty", &o.executed_qty)?,
                time_ms: o.time.unwrap_or_default(),
                client_order_id: o.client_order_id,
                order_id: o.order_id,
            });
        }
        Ok(open)
    }

    /// Free and locked balances of the base and quote assets (`GET /api/v3/account`);
    /// an asset the account does not list counts 0.
    ///
    /// # Errors
    /// [`Error::Exchange`].
    pub async fn balances(&self) -> Result<Balances> {
        let endpoint = self.endpoint("GET", "/api/v3/account");
        let body = self.signed(Method::GET, "/api/v3/account", &[]).await.1?;
        Ok(parse_balances(&endpoint, &body, &self.config.base_asset, &self.config.quote_asset)?)
    }

    fn outcome(&self, endpoint: &str, json: &OrderJson, fills: Option<&[FillJson]>) -> Result<OrderOutcome, ApiError> {
        order_outcome(endpoint, json, fills, &self.config.base_asset, &self.config.quote_asset)
    }

    /// [`order_outcome`] of an answer without fills, fetching the order's trades when
    /// it executed something.
    async fn outcome_with_trades(&self, endpoint: &str, json: &OrderJson) -> Result<OrderOutcome, ApiError> {
        if number(endpoint, "executedQty", &json.executed_qty)? <= 0.0 {
            return Ok(OrderOutcome::Open);
        }
        let trades_endpoint = self.endpoint("GET", "/api/v3/myTrades");
        let params = [("symbol", self.config.symbol.clone()), ("orderId", json.order_id.to_string())];
        let body = self.signed(Method::GET, "/api/v3/myTrades", &params).await.1?;
        let trades: Vec<FillJson> = http::parse_json(&trades_endpoint, &body)?;
        self.outcome(endpoint, json, Some(&trades))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values() {
        assert_eq!(encode("rt-ab_1.~"), "rt-ab_1.~");
        assert_eq!(encode("a b&c"), "a%20b%26c");
    }
}
