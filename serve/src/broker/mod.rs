//! Brokers: where risk-approved orders go.
//!
//! - paper: the `rltrade-exec` fill model (next bar's open, fees, slippage) through
//!   `Account::fill_pending`, the same code as the backtest; the default, run inside
//!   the engine.
//! - exchange: Binance spot REST, HMAC-SHA256 signed market orders with client order
//!   ids (testnet unless `--live`).

pub mod exchange;

use rltrade_exec::Side;
use serde::{Deserialize, Serialize};

/// A market order as a venue receives it: the approved target order of one strategy
/// resolved into a quantity at the decision's reference price.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OrderRequest {
    /// Client order id, unique per journal and stable across restarts
    /// ([`client_order_id`]); the idempotency key at the exchange.
    pub client_order_id: String,
    /// Exchange symbol (`BTCUSDT`).
    pub symbol: String,
    /// Buy or sell.
    pub side: Side,
    /// Quantity, base units, > 0, a multiple of the lot step.
    pub quantity: f64,
    /// The decision's reference price (its close), quote per base: the notional filters
    /// are checked at it before the order is sent (a market order's own price is only
    /// known once it fills).
    pub reference_price: f64,
}

/// A position's protective orders as one OCO order list: a stop-market leg
/// (`STOP_LOSS`) and a take-profit leg (`LIMIT_MAKER`), both selling a long's quantity
/// (buying back a short's).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProtectionRequest {
    /// `listClientOrderId`, stable across restarts ([`protection_client_ids`]).
    pub list_client_order_id: String,
    /// The stop leg's client order id.
    pub stop_client_order_id: String,
    /// The take-profit leg's client order id.
    pub take_profit_client_order_id: String,
    /// Exchange symbol (`BTCUSDT`).
    pub symbol: String,
    /// True when the position protected is long (the legs sell).
    pub long: bool,
    /// The position's quantity, base units (rounded down to the lot step when sent).
    pub quantity: f64,
    /// Stop trigger price, quote per base (rounded toward the price when sent).
    pub stop: f64,
    /// Take-profit limit price, quote per base (rounded toward the price when sent).
    pub take_profit: f64,
}

/// The ids of a protection: the list's and its stop and take-profit legs', derived from
/// the entry order's client id (`<entry>-p<n>`, `<entry>-p<n>s`, `<entry>-p<n>t`, with
/// `n` the replacement count, 0 for the first list), so a restarted daemon asks for the
/// same ids and never places a list twice. Returned as `[list, stop, take-profit]`;
/// an entry id of [`client_order_id`]'s form (under 30 characters) keeps each within
/// Binance's 36.
pub fn protection_client_ids(entry_client_order_id: &str, replacement: u32) -> [String; 3] {
    protection_client_ids_of_list(&format!("{entry_client_order_id}-p{replacement}"))
}

/// `[list, stop, take-profit]` client ids of the list `list_client_order_id`.
pub fn protection_client_ids_of_list(list_client_order_id: &str) -> [String; 3] {
    let list = list_client_order_id;
    [list.to_owned(), format!("{list}s"), format!("{list}t")]
}

/// What the exchange did with a [`ProtectionRequest`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ProtectionOutcome {
    /// On the book: the list and its legs, with the exact decimals sent.
    Placed(ProtectionList),
    /// Refused by the exchange, nothing placed: e.g. `-2010 The relationship of the
    /// prices for the orders is not correct.` when the price has already crossed a
    /// level (the caller then closes the position at market).
    Rejected {
        /// The exchange's error code.
        code: i64,
        /// The exchange's message.
        message: String,
    },
    /// Not sent: the symbol's filters make it impossible (named in the refusal).
    RefusedByFilter(crate::binance::filters::FilterRefusal),
}

/// An OCO list at the exchange.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProtectionList {
    /// Exchange order list id.
    pub order_list_id: i64,
    /// `listClientOrderId`.
    pub list_client_order_id: String,
    /// Whether its legs are still on the book.
    pub status: ListStatus,
    /// The stop leg.
    pub stop: ProtectionLeg,
    /// The take-profit leg.
    pub take_profit: ProtectionLeg,
}

/// `listOrderStatus` of an order list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ListStatus {
    /// `EXECUTING`: its legs are on the book.
    Executing,
    /// `ALL_DONE`: a leg executed, or the list was cancelled or expired.
    AllDone,
    /// `REJECT`.
    Rejected,
}

/// One leg of an order list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProtectionLeg {
    /// Client order id.
    pub client_order_id: String,
    /// Exchange order id.
    pub order_id: u64,
    /// Its state at the exchange.
    pub status: LegStatus,
    /// What it executed ([`OrderOutcome::Open`] while nothing).
    pub outcome: OrderOutcome,
}

/// An order's `status` at the exchange.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LegStatus {
    /// `NEW`: resting on the book.
    New,
    /// `PARTIALLY_FILLED`.
    PartiallyFilled,
    /// `FILLED`.
    Filled,
    /// `CANCELED`.
    Canceled,
    /// `EXPIRED` (an OCO leg whose sibling executed, among others).
    Expired,
    /// `REJECTED`.
    Rejected,
}

impl LegStatus {
    /// The status named by Binance's `status` field; `None` for one not known here.
    pub fn parse(status: &str) -> Option<Self> {
        Some(match status {
            "NEW" | "PENDING_NEW" => Self::New,
            "PARTIALLY_FILLED" => Self::PartiallyFilled,
            "FILLED" => Self::Filled,
            "CANCELED" | "PENDING_CANCEL" => Self::Canceled,
            "EXPIRED" | "EXPIRED_IN_MATCH" => Self::Expired,
            "REJECTED" => Self::Rejected,
            _ => return None,
        })
    }
}

/// A client order id: `rt<journal id>-<strategy index>-<order id>`, at most 36
/// characters of `[A-Za-z0-9-]` as Binance requires (`newClientOrderId`).
pub fn client_order_id(journal_id: &str, strategy_index: usize, order_id: u64) -> String {
    format!("rt{journal_id}-{strategy_index}-{order_id}")
}

/// What the venue did with an order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum OrderOutcome {
    /// Executed (fully or partly); quantities in base units, prices and fees in the
    /// quote currency.
    Filled {
        /// Executed quantity, base units, net of a commission paid in the base asset.
        quantity: f64,
        /// Average fill price (quote per base).
        price: f64,
        /// Fee charged, quote currency (fees in other assets converted at `price`).
        fee: f64,
        /// Exchange transaction time, ms since epoch UTC.
        time_ms: i64,
    },
    /// Refused by the venue (`{"code", "msg"}`), nothing executed.
    Rejected {
        /// The exchange's error code.
        code: i64,
        /// The exchange's message.
        message: String,
    },
    /// Accepted but not executed yet (or cancelled/expired with nothing executed).
    Open,
    /// Not sent: the symbol's filters (`LOT_SIZE`, `MARKET_LOT_SIZE`, `NOTIONAL` or
    /// `MIN_NOTIONAL`) make the order impossible; the refusal names the filter and its
    /// numbers.
    RefusedByFilter(crate::binance::filters::FilterRefusal),
}

impl LegStatus {
    /// True once the leg can no longer execute.
    pub fn is_final(self) -> bool {
        !matches!(self, Self::New | Self::PartiallyFilled)
    }
}

impl ProtectionList {
    /// The leg that executed, if one did: `(true, leg)` for the stop, `(false, leg)` for
    /// the take-profit.
    pub fn executed(&self) -> Option<(bool, &ProtectionLeg)> {
        [(true, &self.stop), (false, &self.take_profit)]
            .into_iter()
            .find(|(_, leg)| matches!(leg.outcome, OrderOutcome::Filled { .. }))
    }
}
