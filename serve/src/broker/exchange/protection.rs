//! A position's protective orders held by the exchange: one OCO order list
//! (`POST /api/v3/orderList/oco`) with a stop-market leg (`STOP_LOSS`, so that a gap
//! fills at the market as in the backtest) and a take-profit leg (`LIMIT_MAKER`).
//!
//! Source: Binance spot API, "New Order list - OCO", "Cancel Order list" and "Query
//! Order list"
//! (<https://developers.binance.com/docs/binance-spot-api-docs/rest-api/trading-endpoints>).
//! A SELL list (a long's protection) has its `LIMIT_MAKER` above the last price
//! (`abovePrice`) and its `STOP_LOSS` below (`belowStopPrice`); a BUY list mirrors it.
//!
//! **Never a duplicate list.** Every placement first asks for the list by its client id
//! (Binance accepts a list id again once the first list is done, so the id alone does
//! not rule out a second list): a list found is reported, not sent again. As for orders
//! (see the parent module), a request without a clear answer is followed by the same
//! query; only `-2013 Order list does not exist.` allows a resend, with the same ids,
//! and only once the first request is past its `recvWindow`.

use reqwest::Method;
use serde::Deserialize;

use super::{ExchangeBroker, NEW_ORDER_REJECTED, OrderJson};
use crate::binance::error::ApiError;
use crate::binance::http;
use crate::broker::{LegStatus, ListStatus, ProtectionLeg, ProtectionList, ProtectionOutcome, ProtectionRequest};
use crate::{Error, Result};

/// Binance's code for "Order list does not exist." (the same as for an order).
const LIST_DOES_NOT_EXIST: i64 = -2013;
/// Binance's code for "Unknown order list sent." (cancelling a list that is over).
const UNKNOWN_LIST: i64 = -2011;
/// Binance's code for "Filter failure: …".
const FILTER_FAILURE: i64 = -1013;
/// Binance's code for "Timeout waiting for response from backend server. Send status
/// unknown; execution status unknown."
const EXECUTION_UNKNOWN: i64 = -1007;

/// An order list as the order-list endpoints answer it (the fields used).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListJson {
    order_list_id: i64,
    list_order_status: String,
    list_client_order_id: String,
    orders: Vec<ListOrderJson>,
    order_reports: Option<Vec<OrderJson>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListOrderJson {
    client_order_id: String,
}

impl ExchangeBroker {
    /// Places `request` as one OCO list, unless the exchange has it already (asked by its
    /// client id first), and returns what the exchange did. Quantity and
    /// prices are first put on the symbol's filters
    /// ([`crate::binance::filters::SymbolFilters::protection`]); an impossible list is
    /// refused here, unsent. A refusal that makes the list impossible as asked (`-2010`
    /// when the price has already crossed a level, `-1013` a filter) is
    /// `Ok(ProtectionOutcome::Rejected)`.
    ///
    /// # Errors
    /// [`Error::Config`] for another symbol than the broker's; [`Error::Exchange`] when
    /// the first query or the filters fail, when rate limited or refused otherwise
    /// (`-1021` and the like: nothing placed), when the fate
    /// stays unknown (the query failed too: the list is **not** resent), or after
    /// `max_resends` resends.
    pub async fn place_protection(&self, request: &ProtectionRequest) -> Result<ProtectionOutcome> {
        let id = &request.list_client_order_id;
        if request.symbol != self.config.symbol {
            return Err(Error::Config {
                field: "symbol".into(),
                message: format!(
                    "order list {id} is for {}, this broker trades {}",
                    request.symbol, self.config.symbol
                ),
            });
        }
        // a list journaled earlier may be on the book already (a request whose answer was
        // lost, a crash before the answer was journaled): the exchange accepts a list id
        // again once the first list is done, so only its own answer rules out a duplicate
        if let Some(found) = self.protection_api(id).await? {
            return Ok(ProtectionOutcome::Placed(found));
        }
        let filters = self.filters().await?;
        let sent =
            match filters.protection(request.long, request.quantity, Some(request.stop), Some(request.take_profit)) {
                Ok(sent) => sent,
                Err(refusal) => return Ok(ProtectionOutcome::RefusedByFilter(refusal)),
            };
        let (stop_price, take_profit_price) =
            (sent.stop_price.unwrap_or_default(), sent.take_profit_price.unwrap_or_default());
        // a long's list sells: the take-profit above, the stop below; a short's mirrors it
        let params = vec![
            ("symbol", request.symbol.clone()),
            ("side", if request.long { "SELL" } else { "BUY" }.to_owned()),
            ("quantity", sent.quantity),
            ("listClientOrderId", id.clone()),
            (if request.long { "belowType" } else { "aboveType" }, "STOP_LOSS".to_owned()),
            (if request.long { "belowStopPrice" } else { "aboveStopPrice" }, stop_price),
            (
                if request.long { "belowClientOrderId" } else { "aboveClientOrderId" },
                request.stop_client_order_id.clone(),
            ),
            (if request.long { "aboveType" } else { "belowType" }, "LIMIT_MAKER".to_owned()),
            (if request.long { "abovePrice" } else { "belowPrice" }, take_profit_price),
            (
                if request.long { "aboveClientOrderId" } else { "belowClientOrderId" },
                request.take_profit_client_order_id.clone(),
            ),
            ("newOrderRespType", "FULL".to_owned()),
        ];
        let mut resends = 0;
        loop {
            let (sent_at, answer) = self.signed(Method::POST, "/api/v3/orderList/oco", &params).await;
            let endpoint = self.endpoint("POST", "/api/v3/orderList/oco");
            let err = match answer.and_then(|body| http::parse_json::<ListJson>(&endpoint, &body)) {
                Ok(json) => return Ok(ProtectionOutcome::Placed(self.list(&endpoint, json).await?)),
                Err(err) => err,
            };
            let duplicate =
                matches!(&err, ApiError::Api { code: NEW_ORDER_REJECTED, msg, .. } if msg.contains("Duplicate"));
            match &err {
                // the refusals that say the list is impossible as asked: a level already
                // crossed or a filter (-2010, -1013); the caller closes the position
                ApiError::Api { code: code @ (NEW_ORDER_REJECTED | FILTER_FAILURE), msg, status, .. }
                    if !duplicate && *status < 500 =>
                {
                    return Ok(ProtectionOutcome::Rejected { code: *code, message: msg.clone() });
                }
                // any other refusal (a clock off recvWindow, a bad key): not placed, tried
                // again by the caller
                ApiError::Api { code, status, .. } if !duplicate && *status < 500 && *code != EXECUTION_UNKNOWN => {
                    return Err(err.into());
                }
                ApiError::RateLimited { .. } => return Err(err.into()),
                _ => {} // unknown fate (5XX, -1007, timeout) or a duplicate: ask
            }
            let shown = crate::log_text::untrusted(&err.to_string());
            tracing::warn!("order list {id}: {shown}; querying it by its client id before anything else");
            let mut found = self.protection_api(id).await;
            if matches!(found, Ok(None)) && self.wait_past_recv_window(sent_at).await {
                found = self.protection_api(id).await;
            }
            match found {
                Ok(Some(list)) => return Ok(ProtectionOutcome::Placed(list)),
                Ok(None) if resends < self.config.max_resends => {
                    resends += 1;
                    tracing::warn!(
                        "order list {id}: the exchange has no such list; resending with the same ids ({resends})"
                    );
                }
                Ok(None) => {
                    return Err(Error::Exchange {
                        endpoint: err.endpoint().to_owned(),
                        message: format!("order list {id}: not placed after {resends} resends ({})", err.detail()),
                    });
                }
                Err(query_err) => {
                    return Err(Error::Exchange {
                        endpoint: err.endpoint().to_owned(),
                        message: format!(
                            "order list {id}: fate unknown ({}); query failed too ({query_err}); not resent",
                            err.detail()
                        ),
                    });
                }
            }
        }
    }

    /// The order list `list_client_order_id` with its legs' states and fills
    /// (`GET /api/v3/orderList?origClientOrderId=`, then each leg); `None` when the
    /// exchange has no such list.
    ///
    /// # Errors
    /// [`Error::Exchange`] for every other failure, naming the endpoint.
    pub async fn protection(&self, list_client_order_id: &str) -> Result<Option<ProtectionList>> {
        Ok(self.protection_api(list_client_order_id).await?)
    }

    async fn protection_api(&self, list_client_order_id: &str) -> Result<Option<ProtectionList>, ApiError> {
        let params = [("origClientOrderId", list_client_order_id.to_owned())];
        let endpoint = self.endpoint("GET", "/api/v3/orderList");
        let body = match self.signed(Method::GET, "/api/v3/orderList", &params).await.1 {
            Ok(body) => body,
            Err(ApiError::Api { code: LIST_DOES_NOT_EXIST, .. }) => return Ok(None),
            Err(err) => return Err(err),
        };
        let json: ListJson = http::parse_json(&endpoint, &body)?;
        self.list(&endpoint, json).await.map(Some)
    }

    /// Cancels the order list `list_client_order_id` (`DELETE /api/v3/orderList`) and
    /// returns its final state. A list already over (a leg executed, or cancelled or
    /// expired at the exchange) is read back instead, so the caller sees the fill that
    /// beat the cancel.
    ///
    /// # Errors
    /// [`Error::Exchange`], naming the list, for a list the exchange does not know or a
    /// failed request.
    pub async fn cancel_protection(&self, list_client_order_id: &str) -> Result<ProtectionList> {
        let params = [("symbol", self.config.symbol.clone()), ("listClientOrderId", list_client_order_id.to_owned())];
        let endpoint = self.endpoint("DELETE", "/api/v3/orderList");
        match self.signed(Method::DELETE, "/api/v3/orderList", &params).await.1 {
            Ok(body) => {
                let json: ListJson = http::parse_json(&endpoint, &body)?;
                Ok(self.list(&endpoint, json).await?)
            }
            Err(ApiError::Api { code: UNKNOWN_LIST | LIST_DOES_NOT_EXIST, .. }) => {
                self.protection(list_client_order_id).await?.ok_or_else(|| Error::Exchange {
                    endpoint,
                    message: format!("order list {list_client_order_id}: the exchange does not know it"),
                })
            }
            Err(err) => Err(err.into()),
        }
    }

    /// The client ids of the order lists still on the book (`GET /api/v3/openOrderList`).
    ///
    /// # Errors
    /// [`Error::Exchange`].
    pub async fn open_protections(&self) -> Result<Vec<String>> {
        let endpoint = self.endpoint("GET", "/api/v3/openOrderList");
        let body = self.signed(Method::GET, "/api/v3/openOrderList", &[]).await.1?;
        let lists: Vec<ListJson> = http::parse_json(&endpoint, &body)?;
        Ok(lists.into_iter().map(|l| l.list_client_order_id).collect())
    }

    /// A list and its legs: their reports when the answer carries them, else each leg
    /// read by its client id; the fills of an executed leg from its trades.
    async fn list(&self, endpoint: &str, json: ListJson) -> Result<ProtectionList, ApiError> {
        let malformed = |message: String| ApiError::Malformed { endpoint: endpoint.to_owned(), message };
        let mut legs = Vec::with_capacity(2);
        for order in &json.orders {
            let answered =
                json.order_reports.iter().flatten().find(|r| {
                    r.client_order_id == order.client_order_id && r.status.is_some() && r.order_type.is_some()
                });
            let fetched;
            let report = match answered {
                Some(report) => report,
                None => {
                    fetched = self.order_json(&order.client_order_id).await?;
                    &fetched
                }
            };
            let status = report.status.as_deref().and_then(LegStatus::parse).ok_or_else(|| {
                malformed(format!(
                    "order {}: status {:?} is not an order status",
                    report.client_order_id, report.status
                ))
            })?;
            let outcome = self.outcome_with_trades(endpoint, report).await?;
            legs.push((
                report.order_type.clone().unwrap_or_default(),
                ProtectionLeg {
                    client_order_id: report.client_order_id.clone(),
                    order_id: report.order_id,
                    status,
                    outcome,
                },
            ));
        }
        let take = |stop: bool| {
            legs.iter().find(|(kind, _)| kind.starts_with("STOP_LOSS") == stop).map(|(_, leg)| leg.clone())
        };
        let (Some(stop), Some(take_profit)) = (take(true), take(false)) else {
            return Err(malformed(format!(
                "order list {}: not one STOP_LOSS and one take-profit leg",
                json.list_client_order_id
            )));
        };
        let status = match json.list_order_status.as_str() {
            "EXECUTING" => ListStatus::Executing,
            "ALL_DONE" => ListStatus::AllDone,
            "REJECT" => ListStatus::Rejected,
            other => return Err(malformed(format!("listOrderStatus {other:?} is not a list status"))),
        };
        Ok(ProtectionList {
            order_list_id: json.order_list_id,
            list_client_order_id: json.list_client_order_id,
            status,
            stop,
            take_profit,
        })
    }

    /// `GET /api/v3/order?origClientOrderId=` as its JSON.
    async fn order_json(&self, client_order_id: &str) -> Result<OrderJson, ApiError> {
        let params = [("symbol", self.config.symbol.clone()), ("origClientOrderId", client_order_id.to_owned())];
        let endpoint = self.endpoint("GET", "/api/v3/order");
        let body = self.signed(Method::GET, "/api/v3/order", &params).await.1?;
        http::parse_json(&endpoint, &body)
    }
}
