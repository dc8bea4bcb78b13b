//! SIGNED endpoints: orders, trades and balances.
#![allow(clippy::result_large_err, reason = "the error is the HTTP answer itself, built once per request")]

use std::collections::HashMap;

use axum::extract::{Query, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{
    Endpoint, Fault, MockOrder, Shared, State as MockState, api_error, begin, dropped_connection, fault_response, lock,
};
use crate::binance::signing::verify;

/// Binance's default `recvWindow`, ms.
const DEFAULT_RECV_WINDOW_MS: i64 = 5_000;
/// How far ahead of the server a request's timestamp may be, ms (Binance: 1 s).
const MAX_AHEAD_MS: i64 = 1_000;

pub(super) type Params = HashMap<String, String>;

/// Checks key, signature and timestamp of a SIGNED request; returns its parameters.
pub(super) fn signed(
    state: &MockState,
    headers: &HeaderMap,
    raw_query: Option<&str>,
    body: &str,
) -> Result<Params, Response> {
    let unauthorized = |code, msg| Err(api_error(StatusCode::UNAUTHORIZED, code, msg));
    match headers.get("X-MBX-APIKEY").and_then(|v| v.to_str().ok()) {
        None => return unauthorized(-2014, "API-key format invalid."),
        Some(key) if key != state.config.api_key => {
            return unauthorized(-2015, "Invalid API-key, IP, or permissions for action.");
        }
        Some(_) => {}
    }
    let query = raw_query.unwrap_or("");
    let (payload_query, signature) = match query.find("signature=") {
        Some(at) if at == 0 || query.as_bytes()[at - 1] == b'&' => {
            let signature = query[at + "signature=".len()..].split('&').next().unwrap_or("");
            (query[..at.saturating_sub(1)].to_owned(), signature.to_owned())
        }
        _ => (query.to_owned(), String::new()),
    };
    let invalid = || Err(api_error(StatusCode::BAD_REQUEST, -1022, "Signature for this request is not valid."));
    if !verify(&state.config.secret, &format!("{payload_query}{body}"), &signature) {
        return invalid();
    }
    let all = [payload_query.as_str(), body].iter().filter(|s| !s.is_empty()).copied().collect::<Vec<_>>().join("&");
    let uri: Uri = format!("/?{all}")
        .parse()
        .map_err(|_| api_error(StatusCode::BAD_REQUEST, -1100, "Illegal characters found in a parameter."))?;
    let Query(params) = Query::<Params>::try_from_uri(&uri)
        .map_err(|_| api_error(StatusCode::BAD_REQUEST, -1100, "Illegal characters found in a parameter."))?;
    let Some(timestamp) = params.get("timestamp").and_then(|t| t.parse::<i64>().ok()) else {
        return Err(mandatory("timestamp"));
    };
    let recv_window = params.get("recvWindow").and_then(|w| w.parse::<i64>().ok()).unwrap_or(DEFAULT_RECV_WINDOW_MS);
    let now = (state.config.clock)();
    if timestamp > now + MAX_AHEAD_MS || now - timestamp > recv_window {
        return Err(api_error(
            StatusCode::BAD_REQUEST,
            -1021,
            "Timestamp for this request is outside of the recvWindow.",
        ));
    }
    Ok(params)
}

pub(super) fn mandatory(name: &str) -> Response {
    api_error(
        StatusCode::BAD_REQUEST,
        -1102,
        &format!("Mandatory parameter '{name}' was not sent, was empty/null, or malformed."),
    )
}

pub(super) fn s(x: f64) -> String {
    format!("{x:.8}")
}

/// The order as `GET /api/v3/order` shows it.
pub(super) fn order_json(o: &MockOrder) -> Value {
    json!({
        "symbol": o.symbol, "orderId": o.order_id, "orderListId": o.order_list_id, "clientOrderId": o.client_order_id,
        "price": s(o.limit_price), "origQty": s(o.quantity), "executedQty": s(o.executed),
        "cummulativeQuoteQty": s(o.executed * o.price), "status": o.status, "timeInForce": "GTC",
        "type": o.order_type, "side": o.side, "stopPrice": s(o.stop_price), "icebergQty": "0.00000000",
        "time": o.time_ms, "updateTime": o.time_ms, "isWorking": true, "workingTime": o.time_ms,
        "origQuoteOrderQty": "0.00000000", "selfTradePreventionMode": "EXPIRE_MAKER"
    })
}

/// `POST /api/v3/order` (MARKET only): fills at the configured price, or stays `NEW`.
pub(super) async fn new_order(
    State(shared): State<Shared>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: String,
) -> Response {
    let fault = begin(&shared, Endpoint::NewOrder);
    if let Some(response) = fault_response(fault) {
        return response;
    }
    if let Some(Fault::Lose(wait)) = fault {
        tokio::time::sleep(wait).await;
        return (StatusCode::INTERNAL_SERVER_ERROR, "lost").into_response();
    }
    let response = {
        let mut state = lock(&shared);
        match signed(&state, &headers, query.as_deref(), &body) {
            Ok(params) => place(&mut state, &params),
            Err(response) => response,
        }
    };
    match fault {
        Some(Fault::Hang(wait)) => tokio::time::sleep(wait).await,
        Some(Fault::Drop) => return dropped_connection(),
        _ => {}
    }
    response
}

/// The `symbol` (the served one, else `-1121`) and `side` (`BUY` or `SELL`, else
/// `-1117` or `-1102`) of a new order or order list: the side.
pub(super) fn checked_side(state: &MockState, p: &Params) -> Result<String, Response> {
    if p.get("symbol") != Some(&state.config.symbol) {
        return Err(api_error(StatusCode::BAD_REQUEST, -1121, "Invalid symbol."));
    }
    match p.get("side").map(String::as_str) {
        Some(side @ ("BUY" | "SELL")) => Ok(side.to_owned()),
        Some(_) => Err(api_error(StatusCode::BAD_REQUEST, -1117, "Invalid side.")),
        None => Err(mandatory("side")),
    }
}

/// Validates and executes one order.
fn place(state: &mut MockState, p: &Params) -> Response {
    let bad = |code, msg: &str| api_error(StatusCode::BAD_REQUEST, code, msg);
    let side = match checked_side(state, p) {
        Ok(side) => side,
        Err(response) => return response,
    };
    match p.get("type").map(String::as_str) {
        Some("MARKET") => {}
        Some(_) => return bad(-1116, "Invalid orderType."),
        None => return mandatory("type"),
    }
    let Some(quantity) = p.get("quantity").and_then(|q| q.parse::<f64>().ok()).filter(|q| *q > 0.0) else {
        return mandatory("quantity");
    };
    if !on_filter_grid(quantity, &state.config.lot_size) {
        return bad(-1013, "Filter failure: LOT_SIZE");
    }
    let order_id = state.orders.len() as u64 + 1;
    let client_order_id = p.get("newClientOrderId").cloned().unwrap_or_else(|| format!("mock-{order_id}"));
    // as on Binance: a client order id is refused only while an order with it is open
    if state.orders.iter().any(|o| o.client_order_id == client_order_id && o.status == "NEW") {
        return bad(-2010, "Duplicate order sent.");
    }
    let (base, quote) = (state.config.base_asset.clone(), state.config.quote_asset.clone());
    let price = match state.config.bars.last() {
        Some(bar) if state.config.fill_at_last_close => bar.close,
        _ => state.config.fill_price,
    };
    let rate = state.config.commission_rate;
    let free = |asset: &str| state.balances.get(asset).map_or(0.0, |b| b.0);
    let fill = state.config.fill_market_orders;
    let (commission, commission_asset) = if side == "BUY" {
        if fill && free(&quote) < quantity * price {
            return bad(-2010, "Account has insufficient balance for requested action.");
        }
        (quantity * rate, base.clone())
    } else {
        if fill && free(&base) < quantity {
            return bad(-2010, "Account has insufficient balance for requested action.");
        }
        (quantity * price * rate, quote.clone())
    };
    let now = (state.config.clock)();
    let mut order = MockOrder {
        order_id,
        client_order_id,
        symbol: state.config.symbol.clone(),
        side: side.clone(),
        quantity,
        executed: 0.0,
        price: 0.0,
        commission: 0.0,
        commission_asset,
        status: "NEW".into(),
        time_ms: now,
        order_type: "MARKET".into(),
        stop_price: 0.0,
        limit_price: 0.0,
        order_list_id: -1,
    };
    if fill {
        order.executed = quantity;
        order.price = price;
        order.commission = commission;
        order.status = "FILLED".into();
        let (base_delta, quote_delta) = if side == "BUY" {
            (quantity - commission, -quantity * price)
        } else {
            (-quantity, quantity * price - commission)
        };
        state.balances.entry(base).or_default().0 += base_delta;
        state.balances.entry(quote).or_default().0 += quote_delta;
    }
    state.orders.push(order.clone());
    let mut answer = order_json(&order);
    answer["transactTime"] = json!(now);
    match p.get("newOrderRespType").map(String::as_str).unwrap_or("FULL") {
        "ACK" => json!({"symbol": order.symbol, "orderId": order.order_id, "orderListId": -1,
            "clientOrderId": order.client_order_id, "transactTime": now})
        .pipe(|v| axum::Json(v).into_response()),
        "RESULT" => axum::Json(answer).into_response(),
        _ => {
            let fills = if fill {
                json!([{"price": s(price), "qty": s(quantity), "commission": s(order.commission),
                    "commissionAsset": order.commission_asset, "tradeId": order.order_id}])
            } else {
                json!([])
            };
            answer["fills"] = fills;
            axum::Json(answer).into_response()
        }
    }
}

/// `Value::pipe` for a terse match arm.
trait Pipe: Sized {
    fn pipe<T>(self, f: impl FnOnce(Self) -> T) -> T {
        f(self)
    }
}
impl Pipe for Value {}

/// Finds the order named by `origClientOrderId` or `orderId`.
fn find<'a>(state: &'a mut MockState, p: &Params) -> Result<&'a mut MockOrder, Response> {
    if p.get("symbol") != Some(&state.config.symbol) {
        return Err(api_error(StatusCode::BAD_REQUEST, -1121, "Invalid symbol."));
    }
    let by_client = p.get("origClientOrderId");
    let by_id = p.get("orderId").and_then(|i| i.parse::<u64>().ok());
    if by_client.is_none() && by_id.is_none() {
        return Err(mandatory("orderId"));
    }
    state
        .orders
        .iter_mut()
        .find(|o| Some(&o.client_order_id) == by_client || Some(o.order_id) == by_id)
        .ok_or_else(|| api_error(StatusCode::BAD_REQUEST, -2013, "Order does not exist."))
}

/// Runs a signed handler body under the lock, with faults.
pub(super) async fn signed_handler(
    shared: Shared,
    endpoint: Endpoint,
    headers: HeaderMap,
    query: Option<String>,
    f: impl FnOnce(&mut MockState, &Params) -> Response,
) -> Response {
    let fault = begin(&shared, endpoint);
    if let Some(response) = fault_response(fault) {
        return response;
    }
    if let Some(Fault::Lose(wait)) = fault {
        tokio::time::sleep(wait).await;
        return (StatusCode::INTERNAL_SERVER_ERROR, "lost").into_response();
    }
    let response = {
        let mut state = lock(&shared);
        match signed(&state, &headers, query.as_deref(), "") {
            Ok(params) => f(&mut state, &params),
            Err(response) => response,
        }
    };
    match fault {
        Some(Fault::Hang(wait)) => tokio::time::sleep(wait).await,
        Some(Fault::Drop) => return dropped_connection(),
        _ => {}
    }
    response
}

/// `GET /api/v3/order?symbol&origClientOrderId` (or `orderId`).
pub(super) async fn query_order(State(shared): State<Shared>, headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
    signed_handler(shared, Endpoint::QueryOrder, headers, q, |state, p| match find(state, p) {
        Ok(order) => axum::Json(order_json(order)).into_response(),
        Err(response) => response,
    })
    .await
}

/// `DELETE /api/v3/order`: cancels a `NEW` order, else `-2011 Unknown order sent.`.
pub(super) async fn cancel_order(State(shared): State<Shared>, headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
    signed_handler(shared, Endpoint::CancelOrder, headers, q, |state, p| match find(state, p) {
        Ok(order) if order.status == "NEW" => {
            order.status = "CANCELED".into();
            let mut answer = order_json(order);
            answer["origClientOrderId"] = json!(order.client_order_id);
            axum::Json(answer).into_response()
        }
        Ok(_) => api_error(StatusCode::BAD_REQUEST, -2011, "Unknown order sent."),
        Err(response) => response,
    })
    .await
}

/// `GET /api/v3/openOrders[?symbol]`: orders still `NEW`.
pub(super) async fn open_orders(State(shared): State<Shared>, headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
    signed_handler(shared, Endpoint::OpenOrders, headers, q, |state, p| {
        let open: Vec<Value> = state
            .orders
            .iter()
            .filter(|o| o.status == "NEW" && p.get("symbol").is_none_or(|s| *s == o.symbol))
            .map(order_json)
            .collect();
        axum::Json(Value::Array(open)).into_response()
    })
    .await
}

/// `GET /api/v3/myTrades?symbol[&orderId]`: one trade per filled order.
pub(super) async fn my_trades(State(shared): State<Shared>, headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
    signed_handler(shared, Endpoint::MyTrades, headers, q, |state, p| {
        let order_id = p.get("orderId").and_then(|i| i.parse::<u64>().ok());
        let trades: Vec<Value> = state
            .orders
            .iter()
            .filter(|o| o.executed > 0.0 && order_id.is_none_or(|id| id == o.order_id))
            .map(|o| {
                json!({"symbol": o.symbol, "id": o.order_id, "orderId": o.order_id, "orderListId": o.order_list_id,
                    "price": s(o.price), "qty": s(o.executed), "quoteQty": s(o.executed * o.price),
                    "commission": s(o.commission), "commissionAsset": o.commission_asset, "time": o.time_ms,
                    "isBuyer": o.side == "BUY", "isMaker": o.order_type == "LIMIT_MAKER", "isBestMatch": true})
            })
            .collect();
        axum::Json(Value::Array(trades)).into_response()
    })
    .await
}

/// `GET /api/v3/account`: balances.
pub(super) async fn account(State(shared): State<Shared>, headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
    signed_handler(shared, Endpoint::Account, headers, q, |state, _| {
        let balances: Vec<Value> = state
            .balances
            .iter()
            .map(|(asset, (free, locked))| json!({"asset": asset, "free": s(*free), "locked": s(*locked)}))
            .collect();
        axum::Json(json!({"makerCommission": 10, "takerCommission": 10, "canTrade": true,
            "accountType": "SPOT", "balances": balances, "permissions": ["SPOT"]}))
        .into_response()
    })
    .await
}

/// Whether `value` obeys a filter of bounds and a grid — `LOT_SIZE`
/// (`[minQty, maxQty, stepSize]`) for a quantity, `PRICE_FILTER` (`[minPrice,
/// maxPrice, tickSize]`) for a price: at least the minimum, at most the maximum (0: no
/// maximum), and a whole number of steps (to 1e-9 of a step: the value came as a decimal
/// string).
pub(super) fn on_filter_grid(value: f64, [min, max, step]: &[String; 3]) -> bool {
    let number = |text: &String| text.parse::<f64>().unwrap_or(0.0);
    let (min, max, step) = (number(min), number(max), number(step));
    let steps = if step > 0.0 { value / step } else { 0.0 };
    value >= min && (max == 0.0 || value <= max) && (steps - steps.round()).abs() <= 1e-9 * steps.max(1.0)
}
