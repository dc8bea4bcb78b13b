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
