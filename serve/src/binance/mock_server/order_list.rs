//! OCO order lists (`/api/v3/orderList…`) and the triggering of resting orders by the
//! mock's klines.
//!
//! Shapes and rules of the spot API's "New Order list - OCO"
//! (<https://developers.binance.com/docs/binance-spot-api-docs/rest-api/trading-endpoints#new-order-list---oco-trade>):
//! a SELL list has a `LIMIT_MAKER` above the last price and a `STOP_LOSS` below it (a BUY
//! list the other way), else `-2010 The relationship of the prices for the orders is not
//! correct.`. The mock's last price is its MARKET fill price, unless a test sets another
//! (`MockServer::set_last_price`). Placing a list locks the
//! quantity it may sell (base) or buy (quote at the higher leg's price); an executed,
//! cancelled or expired leg releases it.
#![allow(clippy::result_large_err, reason = "the error is the HTTP answer itself, built once per request")]

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use rltrade_env::Bar;
use rltrade_exec::ProtectiveLevels;
use serde_json::{Value, json};

use super::account::{Params, checked_side, mandatory, on_filter_grid, order_json, signed_handler};
use super::{Endpoint, MockOrder, MockOrderList, Shared, State as MockState, api_error};

/// The legs of a list: `[stop, take-profit]`.
const STOP: usize = 0;
const TAKE_PROFIT: usize = 1;

/// `POST /api/v3/orderList/oco`: a stop-market leg (`STOP_LOSS`) and a take-profit leg
/// (`LIMIT_MAKER`), one above and one below the last price.
pub(super) async fn new_oco(State(shared): State<Shared>, headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
    signed_handler(shared, Endpoint::NewOrderList, headers, q, place).await
}

/// Validates and places one OCO list.
fn place(state: &mut MockState, p: &Params) -> Response {
    let bad = |code, msg: &str| api_error(StatusCode::BAD_REQUEST, code, msg);
    let side = match checked_side(state, p) {
        Ok(side) => side,
        Err(response) => return response,
    };
    let Some(quantity) = p.get("quantity").and_then(|q| q.parse::<f64>().ok()).filter(|q| *q > 0.0) else {
        return mandatory("quantity");
    };
    // a SELL protects a long: the take-profit above, the stop below; a BUY mirrors it
    let (stop_at, take_profit_at) = if side == "SELL" { ("below", "above") } else { ("above", "below") };
    for (leg, expected) in [(stop_at, "STOP_LOSS"), (take_profit_at, "LIMIT_MAKER")] {
        match p.get(&format!("{leg}Type")).map(String::as_str) {
            Some(kind) if kind == expected => {}
            Some(_) => return bad(-1116, "Invalid orderType."),
            None => return mandatory(&format!("{leg}Type")),
        }
    }
    let price = |name: String| p.get(&name).and_then(|v| v.parse::<f64>().ok()).filter(|v| *v > 0.0).ok_or(name);
    let (stop, limit) = match (price(format!("{stop_at}StopPrice")), price(format!("{take_profit_at}Price"))) {
        (Ok(stop), Ok(limit)) => (stop, limit),
        (Err(name), _) | (_, Err(name)) => return mandatory(&name),
    };
    if !on_filter_grid(quantity, &state.config.lot_size) {
        return bad(-1013, "Filter failure: LOT_SIZE");
    }
    if !(on_filter_grid(stop, &state.config.price_filter) && on_filter_grid(limit, &state.config.price_filter)) {
        return bad(-1013, "Filter failure: PRICE_FILTER");
    }
    let last = state.last_price.unwrap_or(state.config.fill_price);
    let ordered = if side == "SELL" { limit > last && last > stop } else { limit < last && last < stop };
    if !ordered {
        return bad(-2010, "The relationship of the prices for the orders is not correct.");
    }
    let list_id = state.order_lists.len() as i64 + 1;
    let list_client_id = p.get("listClientOrderId").cloned().unwrap_or_else(|| format!("mock-list-{list_id}"));
    let next_id = state.orders.len() as u64 + 1;
    let leg_ids = [
        p.get(&format!("{stop_at}ClientOrderId")).cloned().unwrap_or_else(|| format!("mock-{next_id}")),
        p.get(&format!("{take_profit_at}ClientOrderId")).cloned().unwrap_or_else(|| format!("mock-{}", next_id + 1)),
    ];
    let taken = |id: &String| state.orders.iter().any(|o| &o.client_order_id == id);
    if state.order_lists.iter().any(|l| l.list_client_order_id == list_client_id) || leg_ids.iter().any(taken) {
        return bad(-2010, "Duplicate order sent.");
    }
    let (base, quote) = (state.config.base_asset.clone(), state.config.quote_asset.clone());
    // what the list may spend, locked until a leg executes or the list ends
    let (asset, amount) = if side == "SELL" { (base.clone(), quantity) } else { (quote.clone(), quantity * stop) };
    let balance = state.balances.entry(asset).or_default();
    if balance.0 < amount * (1.0 - 1e-12) {
        return bad(-2010, "Account has insufficient balance for requested action.");
    }
    balance.0 -= amount;
    balance.1 += amount;
    let now = (state.config.clock)();
    let commission_asset = if side == "BUY" { base } else { quote };
    let leg = |i: usize| MockOrder {
        order_id: next_id + i as u64,
        client_order_id: leg_ids[i].clone(),
        symbol: state.config.symbol.clone(),
        side: side.clone(),
        quantity,
        executed: 0.0,
        price: 0.0,
        commission: 0.0,
        commission_asset: commission_asset.clone(),
        status: "NEW".into(),
        time_ms: now,
        order_type: if i == STOP { "STOP_LOSS" } else { "LIMIT_MAKER" }.into(),
        stop_price: if i == STOP { stop } else { 0.0 },
        limit_price: if i == TAKE_PROFIT { limit } else { 0.0 },
        order_list_id: list_id,
    };
    let legs = [leg(STOP), leg(TAKE_PROFIT)];
    let list = MockOrderList {
        order_list_id: list_id,
        list_client_order_id: list_client_id,
        order_ids: [legs[STOP].order_id, legs[TAKE_PROFIT].order_id],
        list_status_type: "EXEC_STARTED".into(),
        list_order_status: "EXECUTING".into(),
        time_ms: now,
    };
    state.orders.extend(legs);
    state.order_lists.push(list.clone());
    axum::Json(list_json(state, &list, true)).into_response()
}

/// A list as the order-list endpoints answer it, with its legs' reports when `reports`.
fn list_json(state: &MockState, list: &MockOrderList, reports: bool) -> Value {
    let legs: Vec<&MockOrder> =
        list.order_ids.iter().filter_map(|id| state.orders.iter().find(|o| o.order_id == *id)).collect();
    let mut answer = json!({
        "orderListId": list.order_list_id, "contingencyType": "OCO", "listStatusType": list.list_status_type,
        "listOrderStatus": list.list_order_status, "listClientOrderId": list.list_client_order_id,
        "transactionTime": list.time_ms, "symbol": state.config.symbol,
        "orders": legs.iter().map(|o| json!({"symbol": o.symbol, "orderId": o.order_id,
            "clientOrderId": o.client_order_id})).collect::<Vec<_>>(),
    });
    if reports {
        answer["orderReports"] = Value::Array(legs.iter().map(|o| order_json(o)).collect());
    }
    answer
}

/// The list named by `orderListId` or `listClientOrderId`/`origClientOrderId`.
fn find(state: &MockState, p: &Params) -> Result<usize, Response> {
    let by_id = p.get("orderListId").and_then(|i| i.parse::<i64>().ok());
    let by_client = p.get("listClientOrderId").or_else(|| p.get("origClientOrderId"));
    if by_id.is_none() && by_client.is_none() {
        return Err(mandatory("orderListId"));
    }
    state
        .order_lists
        .iter()
        .position(|l| Some(l.order_list_id) == by_id || Some(&l.list_client_order_id) == by_client)
        .ok_or_else(|| api_error(StatusCode::BAD_REQUEST, -2013, "Order list does not exist."))
}

/// `GET /api/v3/orderList?orderListId` (or `origClientOrderId`).
pub(super) async fn query(State(shared): State<Shared>, headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
    signed_handler(shared, Endpoint::QueryOrderList, headers, q, |state, p| match find(state, p) {
        Ok(at) => axum::Json(list_json(state, &state.order_lists[at], false)).into_response(),
        Err(response) => response,
    })
    .await
}

/// `DELETE /api/v3/orderList?symbol&orderListId` (or `listClientOrderId`): cancels both
/// legs; `-2011 Unknown order list sent.` when the list is over.
pub(super) async fn cancel(State(shared): State<Shared>, headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
    signed_handler(shared, Endpoint::CancelOrderList, headers, q, |state, p| {
        if p.get("symbol") != Some(&state.config.symbol) {
            return api_error(StatusCode::BAD_REQUEST, -1121, "Invalid symbol.");
        }
        let at = match find(state, p) {
            Ok(at) => at,
            Err(response) => return response,
        };
        let id = state.order_lists[at].order_list_id;
        if !cancel_list(state, id, "CANCELED") {
            return api_error(StatusCode::BAD_REQUEST, -2011, "Unknown order list sent.");
        }
        let list = state.order_lists[at].clone();
        let mut answer = list_json(state, &list, true);
        answer["listStatusType"] = json!("ALL_DONE");
        axum::Json(answer).into_response()
    })
    .await
}

/// `GET /api/v3/openOrderList`: the lists still executing.
pub(super) async fn open_lists(State(shared): State<Shared>, headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
    signed_handler(shared, Endpoint::OpenOrderLists, headers, q, |state, _| {
        let open: Vec<Value> = state
            .order_lists
            .iter()
            .filter(|l| l.list_order_status == "EXECUTING")
            .map(|l| list_json(state, l, false))
            .collect();
        axum::Json(Value::Array(open)).into_response()
    })
    .await
}

/// Ends the executing list `order_list_id`: its open legs get `status` (`CANCELED` or
/// `EXPIRED`) and release what they locked. False when no such list is executing.
pub(super) fn cancel_list(state: &mut MockState, order_list_id: i64, status: &str) -> bool {
    let Some(list) = state.order_lists.iter_mut().find(|l| l.order_list_id == order_list_id) else {
        return false;
    };
    if list.list_order_status != "EXECUTING" {
        return false;
    }
    list.list_status_type = "ALL_DONE".into();
    list.list_order_status = "ALL_DONE".into();
    let ids = list.order_ids;
    let mut released = None;
    for order in state.orders.iter_mut().filter(|o| ids.contains(&o.order_id)) {
        let executed = order.executed;
        match order.status.as_str() {
            "NEW" => order.status = status.into(),
            // a partly executed leg is cancelled with what it executed
            "PARTIALLY_FILLED" => order.status = "CANCELED".into(),
            _ => {}
        }
        let rest = order.quantity - executed;
        released = Some((order.side.clone(), released.map_or(rest, |(_, r): (String, f64)| r.min(rest))));
    }
    if let Some((side, quantity)) = released {
        release(state, &side, quantity, ids);
    }
    true
}

/// Executes `quantity` of the take-profit leg of the executing list `order_list_id` at
/// its limit price, as a book that takes only part of it: the leg becomes
/// `PARTIALLY_FILLED`, the stop leg expires (Binance's rule once a leg executes), and
/// the list stays `EXECUTING` until the rest fills or the list is cancelled. False when
/// there is no such list.
pub(super) fn fill_take_profit_partly(state: &mut MockState, order_list_id: i64, quantity: f64) -> bool {
    let Some(list) = state.order_lists.iter().find(|l| l.order_list_id == order_list_id) else { return false };
    if list.list_order_status != "EXECUTING" {
        return false;
    }
    let ids = list.order_ids;
    let now = (state.config.clock)();
    let rate = state.config.commission_rate;
    let Some(leg) = state.orders.iter_mut().find(|o| o.order_id == ids[TAKE_PROFIT]) else { return false };
    let quantity = quantity.min(leg.quantity - leg.executed);
    let price = leg.limit_price;
    leg.executed += quantity;
    leg.price = price;
    leg.commission += if leg.side == "SELL" { quantity * price * rate } else { quantity * rate };
    leg.status = "PARTIALLY_FILLED".into();
    leg.time_ms = now;
    let side = leg.side.clone();
    if let Some(stop) = state.orders.iter_mut().find(|o| o.order_id == ids[STOP]) {
        stop.status = "EXPIRED".into();
    }
    release(state, &side, quantity, ids);
    let (base, quote) = (state.config.base_asset.clone(), state.config.quote_asset.clone());
    if side == "SELL" {
        state.balances.entry(base).or_default().0 -= quantity;
        state.balances.entry(quote).or_default().0 += quantity * price * (1.0 - rate);
    } else {
        state.balances.entry(base).or_default().0 += quantity * (1.0 - rate);
        state.balances.entry(quote).or_default().0 -= quantity * price;
    }
    true
}

/// Returns what a list locked to free balances.
fn release(state: &mut MockState, side: &str, quantity: f64, ids: [u64; 2]) {
    let (asset, amount) = if side == "SELL" {
        (state.config.base_asset.clone(), quantity)
    } else {
        let stop = state.orders.iter().find(|o| o.order_id == ids[STOP]).map_or(0.0, |o| o.stop_price);
        (state.config.quote_asset.clone(), quantity * stop)
    };
    let balance = state.balances.entry(asset).or_default();
    balance.1 -= amount;
    balance.0 += amount;
}

/// Executes the resting legs that `bar` reaches, by the backtest's rules
/// ([`ProtectiveLevels::check`]): for each executing list, the stop when the bar's low
/// (a BUY list: high) reaches it, at `min(open, stop)` (`max` for a BUY); else the
/// take-profit when the high (low) reaches its limit, at `max(open, limit)` (`min`);
/// the other leg expires. Fills are timed at the bar's close.
pub(super) fn trigger(state: &mut MockState, bar: &Bar) {
    let close_ms = bar.time_ms + state.config.interval.ms() - 1;
    let executing: Vec<MockOrderList> =
        state.order_lists.iter().filter(|l| l.list_order_status == "EXECUTING").cloned().collect();
    for list in executing {
        let leg = |i: usize| state.orders.iter().position(|o| o.order_id == list.order_ids[i]);
        let (Some(stop_at), Some(take_profit_at)) = (leg(STOP), leg(TAKE_PROFIT)) else { continue };
        let (stop_leg, take_profit_leg) = (&state.orders[stop_at], &state.orders[take_profit_at]);
        if stop_leg.status != "NEW" || take_profit_leg.status != "NEW" {
            // a partly executed list waits for its cancel
            continue;
        }
        let sign = if stop_leg.side == "SELL" { 1.0 } else { -1.0 };
        let levels = ProtectiveLevels {
            sign,
            entry_price: 0.0,
            stop: Some(stop_leg.stop_price),
            stop_trails: false,
            take_profit: Some(take_profit_leg.limit_price),
        };
        let Some((reason, price)) = levels.check(bar.open, bar.high, bar.low) else { continue };
        let (filled, expired) = if reason == rltrade_exec::ExitReason::TakeProfit {
            (take_profit_at, stop_at)
        } else {
            (stop_at, take_profit_at)
        };
        let rate = state.config.commission_rate;
        let order = &mut state.orders[filled];
        let quantity = order.quantity;
        order.executed = quantity;
        order.price = price;
        order.status = "FILLED".into();
        order.time_ms = close_ms;
        let side = order.side.clone();
        let (base, quote) = (state.config.base_asset.clone(), state.config.quote_asset.clone());
        let (commission, base_delta, quote_delta) = if side == "SELL" {
            let commission = quantity * price * rate;
            (commission, 0.0, quantity * price - commission)
        } else {
            let commission = quantity * rate;
            (commission, quantity - commission, -quantity * price)
        };
        state.orders[filled].commission = commission;
        state.orders[expired].status = "EXPIRED".into();
        state.orders[expired].time_ms = close_ms;
        // the lock is released; then the executed leg moves the balances
        release(state, &side, quantity, list.order_ids);
        let base_entry = state.balances.entry(base).or_default();
        base_entry.0 += base_delta - if side == "SELL" { quantity } else { 0.0 };
        state.balances.entry(quote).or_default().0 += quote_delta;
        if let Some(l) = state.order_lists.iter_mut().find(|l| l.order_list_id == list.order_list_id) {
            l.list_status_type = "ALL_DONE".into();
            l.list_order_status = "ALL_DONE".into();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_on_the_tick_grid() {
        let filter = ["0.01".to_owned(), "1000000".to_owned(), "0.01".to_owned()];
        assert!(on_filter_grid(19_000.13, &filter));
        assert!(!on_filter_grid(19_000.125, &filter));
        assert!(!on_filter_grid(0.001, &filter));
        assert!(!on_filter_grid(2_000_000.0, &filter));
    }
}
