//! Orders: target-exposure orders (what strategies ask for) and the market orders they
//! resolve into at fill time.

use serde::{Deserialize, Serialize};

/// Direction of a market order or fill.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// Increase the position (buy base asset with quote currency).
    Buy,
    /// Decrease the position (sell base asset).
    Sell,
}

impl Side {
    /// +1.0 for a buy, −1.0 for a sell.
    #[inline]
    pub fn sign(self) -> f64 {
        match self {
            Side::Buy => 1.0,
            Side::Sell => -1.0,
        }
    }
}

/// Why an order exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderPurpose {
    /// A strategy's signal.
    Signal,
    /// Closing the position after a halt or a kill switch (always target 0).
    Liquidation,
}

/// A target-position order: "hold `target_exposure` × equity in the asset".
///
/// Strategies decide on bar t's close; the order is filled at bar t+1's open, where it
/// resolves into a market quantity (see [`crate::simulator::resolve_quantity`]):
/// `target quantity = target_exposure × equity / (fill price × (1 + fee))`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct TargetOrder {
    /// Sequence number, unique per account.
    pub id: u64,
    /// Open time (ms since epoch, UTC) of the bar on whose close the order was decided.
    pub decided_at_ms: i64,
    /// Signed target exposure, a fraction of equity (1.0 = all-in long, −1.0 = all-in short).
    pub target_exposure: f64,
    /// The last price known at the decision (the decision bar's close), quote currency;
    /// risk checks estimate notional with it.
    pub reference_price: f64,
    /// Why the order exists.
    pub purpose: OrderPurpose,
}

/// A market order of a definite quantity, what a venue receives.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct MarketOrder {
    /// The id of the [`TargetOrder`] it came from.
    pub id: u64,
    /// Buy or sell.
    pub side: Side,
    /// Quantity in base units, > 0.
    pub quantity: f64,
}
