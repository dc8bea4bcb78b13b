//! Public market data: `GET /api/v3/klines`, `GET /api/v3/time` and
//! `GET /api/v3/exchangeInfo`.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use rltrade_env::Bar;
use serde_json::{Value, json};

use super::{Endpoint, Fault, Shared, api_error, begin, dropped_connection, fault_response, lock};
use crate::binance::klines::{Interval, MAX_LIMIT};

/// Binance's default `limit`.
const DEFAULT_LIMIT: usize = 500;

/// The fault queued for a public `endpoint`: `Err` with the answer it replaces the
/// normal one with, else `Ok` with the fault (if any) after waiting out a hang or a lost
/// answer, for the handler to apply to its data.
async fn public_fault(shared: &Shared, endpoint: Endpoint) -> Result<Option<Fault>, Response> {
    let fault = begin(shared, endpoint);
    if let Some(response) = fault_response(fault) {
        return Err(response);
    }
    if fault == Some(Fault::Drop) {
        return Err(dropped_connection());
    }
    if let Some(Fault::Hang(wait) | Fault::Lose(wait)) = fault {
        tokio::time::sleep(wait).await;
    }
    Ok(fault)
}

/// `GET /api/v3/klines?symbol&interval[&startTime][&endTime][&limit]`: rows with open
/// time in `[startTime, endTime]`, the first `limit` of them (the last `limit` without
/// `startTime`), the open bar last when set.
pub(super) async fn klines(State(shared): State<Shared>, Query(params): Query<HashMap<String, String>>) -> Response {
    let fault = match public_fault(&shared, Endpoint::Klines).await {
        Ok(fault) => fault,
        Err(response) => return response,
    };
    let state = lock(&shared);
    let config = &state.config;
    if params.get("symbol") != Some(&config.symbol) {
        return api_error(StatusCode::BAD_REQUEST, -1121, "Invalid symbol.");
    }
    if params.get("interval").and_then(|i| Interval::parse(i)) != Some(config.interval) {
        return api_error(StatusCode::BAD_REQUEST, -1120, "Invalid interval.");
    }
    let int = |name: &str| params.get(name).map(|v| v.parse::<i64>());
    let (start, end, limit) = match (int("startTime"), int("endTime"), int("limit")) {
        (Some(Err(_)), _, _) | (_, Some(Err(_)), _) | (_, _, Some(Err(_))) => {
            return api_error(StatusCode::BAD_REQUEST, -1100, "Illegal characters found in a parameter.");
        }
        (s, e, l) => (s.and_then(Result::ok), e.and_then(Result::ok), l.and_then(Result::ok)),
    };
    let limit = match limit {
        None => DEFAULT_LIMIT,
        Some(l) if (1..=i64::from(MAX_LIMIT)).contains(&l) => l as usize,
        Some(_) => return api_error(StatusCode::BAD_REQUEST, -1130, "Invalid data sent for a parameter."),
    };
    let in_range = |b: &Bar| start.is_none_or(|s| b.time_ms >= s) && end.is_none_or(|e| b.time_ms <= e);
    // the bars increase in time: the range by binary search, not a scan (a soak serves
    // hundreds of thousands of them)
    let bars = &config.bars;
    let lo = start.map_or(0, |s| bars.partition_point(|b| b.time_ms < s));
    let hi = end.map_or(bars.len(), |e| bars.partition_point(|b| b.time_ms <= e)).max(lo);
    let window =
        if start.is_some() { &bars[lo..hi.min(lo + limit)] } else { &bars[hi.saturating_sub(limit).max(lo)..hi] };
    let mut selected: Vec<Bar> = window.to_vec();
    selected.extend(config.open_bar.filter(in_range));
    if start.is_some() {
        selected.truncate(limit);
    } else {
        selected.drain(..selected.len().saturating_sub(limit));
    }
    let interval_ms = config.interval.ms();
    let mut rows: Vec<Value> = selected.iter().map(|b| row(b, interval_ms)).collect();
    drop(state);
    if let Some(first) = rows.first().cloned() {
        match fault {
            Some(Fault::NanPrice) => rows[0][4] = json!("NaN"),
            Some(Fault::NegativePrice) => rows[0][3] = json!("-1.00000000"),
            Some(Fault::DuplicateRow) => rows.insert(1, first),
            Some(Fault::OutOfOrderRow) => rows.push(first),
            _ => {}
        }
    }
    axum::Json(Value::Array(rows)).into_response()
}

/// A kline row in Binance's 12-field shape (prices and volumes as 8-decimal strings).
fn row(bar: &Bar, interval_ms: i64) -> Value {
    let s = |x: f64| format!("{x:.8}");
    json!([
        bar.time_ms,
        s(bar.open),
        s(bar.high),
        s(bar.low),
        s(bar.close),
        s(bar.volume),
        bar.time_ms + interval_ms - 1,
        s(bar.volume * bar.close),
        100,
        s(bar.volume / 2.0),
        s(bar.volume * bar.close / 2.0),
        "0"
    ])
}

/// `GET /api/v3/time` → `{"serverTime": ms}`.
pub(super) async fn time(State(shared): State<Shared>) -> Response {
    if let Some(response) = fault_response(begin(&shared, Endpoint::Time)) {
        return response;
    }
    let now = (lock(&shared).config.clock)();
    axum::Json(json!({"serverTime": now})).into_response()
}

/// `GET /api/v3/exchangeInfo?symbol=`: the served symbol with its `LOT_SIZE`,
/// `PRICE_FILTER` and `NOTIONAL` filters as configured, `-1121` for another symbol.
pub(super) async fn exchange_info(
    State(shared): State<Shared>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    if let Err(response) = public_fault(&shared, Endpoint::ExchangeInfo).await {
        return response;
    }
    let state = lock(&shared);
    let config = &state.config;
    if params.get("symbol").is_some_and(|s| s != &config.symbol) {
        return api_error(StatusCode::BAD_REQUEST, -1121, "Invalid symbol.");
    }
    let [min_qty, max_qty, step_size] = &config.lot_size;
    let [min_price, max_price, tick_size] = &config.price_filter;
    Json(json!({
        "timezone": "UTC",
        "serverTime": (config.clock)(),
        "symbols": [{
            "symbol": config.symbol,
            "status": "TRADING",
            "baseAsset": config.base_asset,
            "quoteAsset": config.quote_asset,
            "filters": [
                {"filterType": "PRICE_FILTER", "minPrice": min_price, "maxPrice": max_price, "tickSize": tick_size},
                {"filterType": "LOT_SIZE", "minQty": min_qty, "maxQty": max_qty, "stepSize": step_size},
                {"filterType": "NOTIONAL", "minNotional": config.min_notional, "applyMinToMarket": true,
                 "maxNotional": "9000000.00000000", "applyMaxToMarket": false, "avgPriceMins": 5}
            ]
        }]
    }))
    .into_response()
}
