//! Fills: what the market (or the simulator) did with an order.

use serde::{Deserialize, Serialize};

use crate::order::Side;

/// One execution of a market order.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Fill {
    /// The order's id.
    pub order_id: u64,
    /// Fill time, ms since epoch UTC (simulated: the open time of the fill bar).
    pub time_ms: i64,
    /// Buy or sell.
    pub side: Side,
    /// Quantity in base units, > 0.
    pub quantity: f64,
    /// Fill price including slippage, quote currency.
    pub price: f64,
    /// The unslipped reference price (simulated: the bar's open), quote currency.
    pub reference_price: f64,
    /// Fee charged, quote currency (≥ 0).
    pub fee: f64,
}

impl Fill {
    /// `quantity × price`, quote currency.
    #[inline]
    pub fn notional(&self) -> f64 {
        self.quantity * self.price
    }

    /// Cost of slippage against the reference price: `quantity × |price − reference|`.
    #[inline]
    pub fn slippage_cost(&self) -> f64 {
        self.quantity * (self.price - self.reference_price).abs()
    }

    /// Signed quantity: `+quantity` for a buy, `−quantity` for a sell.
    #[inline]
    pub fn signed_quantity(&self) -> f64 {
        self.side.sign() * self.quantity
    }
}
