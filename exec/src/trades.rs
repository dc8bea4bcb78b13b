//! Round-trip trades built from fills: a trade runs from flat (or a sign flip) to the
//! next flat (or flip). The backtest's trade list, trade count and win rate come from here.

use serde::{Deserialize, Serialize};

use crate::fill::Fill;
use crate::portfolio::{FillEffect, QTY_EPSILON};
use crate::protect::ExitReason;

/// Long or short.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TradeSide {
    /// Positive position.
    Long,
    /// Negative position.
    Short,
}

/// One round trip.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Trade {
    /// Time of the opening fill, ms since epoch UTC.
    pub entry_time_ms: i64,
    /// Time of the closing fill (`None` while open).
    pub exit_time_ms: Option<i64>,
    /// Long or short.
    pub side: TradeSide,
    /// Largest |position| held during the trade, base units.
    pub quantity: f64,
    /// Volume-weighted price of the opening fills, quote currency.
    pub entry_price: f64,
    /// Volume-weighted price of the closing fills (`None` while nothing closed).
    pub exit_price: Option<f64>,
    /// Fees of the trade: the share of each fill's fee that belongs to it, plus borrow
    /// fees while short. Quote currency.
    pub fees: f64,
    /// PnL after all fees, quote currency: realized PnL of closed quantity, plus (for an
    /// open trade) the unrealized PnL at the last mark, minus `fees`.
    pub pnl: f64,
    /// Why the trade was closed (`None` while open).
    #[serde(default)]
    pub exit_reason: Option<ExitReason>,
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
struct OpenTrade {
    entry_time_ms: i64,
    side: TradeSide,
    max_quantity: f64,
    entry_quantity: f64,
    entry_notional: f64,
    exit_quantity: f64,
    exit_notional: f64,
    fees: f64,
    realized_pnl: f64,
}

impl OpenTrade {
    fn to_trade(self, exit_time_ms: Option<i64>, unrealized_pnl: f64, exit_reason: Option<ExitReason>) -> Trade {
        Trade {
            entry_time_ms: self.entry_time_ms,
            exit_time_ms,
            side: self.side,
            quantity: self.max_quantity,
            entry_price: self.entry_notional / self.entry_quantity,
            exit_price: (self.exit_quantity > 0.0).then(|| self.exit_notional / self.exit_quantity),
            fees: self.fees,
            pnl: self.realized_pnl + unrealized_pnl - self.fees,
            exit_reason,
        }
    }
}

/// Builds [`Trade`]s from the fill stream of one account.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TradeTracker {
    open: Option<OpenTrade>,
    closed: Vec<Trade>,
}

impl TradeTracker {
    /// An empty tracker.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a fill, its effect on the position ([`crate::Portfolio::update_from_fill`])
    /// and the signed position after it; `reason` is recorded on the trade the fill
    /// closes, if it closes one. The fee is split between the closed and the opened
    /// part in proportion to their quantities.
    pub fn on_fill(&mut self, fill: &Fill, effect: &FillEffect, position_after: f64, reason: ExitReason) {
        let fee_per_unit = fill.fee / fill.quantity;
        if effect.closed_quantity > 0.0 {
            if let Some(open) = self.open.as_mut() {
                open.exit_quantity += effect.closed_quantity;
                open.exit_notional += effect.closed_quantity * fill.price;
                open.fees += effect.closed_quantity * fee_per_unit;
                open.realized_pnl += effect.realized_pnl;
                let flat_or_flipped = position_after.abs() <= QTY_EPSILON || effect.opened_quantity > 0.0;
                if flat_or_flipped {
                    self.closed.push(open.to_trade(Some(fill.time_ms), 0.0, Some(reason)));
                    self.open = None;
                }
            }
        }
        if effect.opened_quantity > 0.0 {
            let open = self.open.get_or_insert(OpenTrade {
                entry_time_ms: fill.time_ms,
                side: if position_after > 0.0 { TradeSide::Long } else { TradeSide::Short },
                max_quantity: 0.0,
                entry_quantity: 0.0,
                entry_notional: 0.0,
                exit_quantity: 0.0,
                exit_notional: 0.0,
                fees: 0.0,
                realized_pnl: 0.0,
            });
            open.entry_quantity += effect.opened_quantity;
            open.entry_notional += effect.opened_quantity * fill.price;
            open.fees += effect.opened_quantity * fee_per_unit;
            open.max_quantity = open.max_quantity.max(position_after.abs());
        }
    }

    /// Adds a borrow fee (quote currency) to the open trade.
    pub fn on_borrow_fee(&mut self, fee: f64) {
        if let Some(open) = self.open.as_mut() {
            open.fees += fee;
        }
    }

    /// The closed trades, oldest first.
    pub fn closed(&self) -> &[Trade] {
        &self.closed
    }

    /// The open trade valued with `unrealized_pnl` (quote currency) of the position.
    pub fn open_trade(&self, unrealized_pnl: f64) -> Option<Trade> {
        self.open.map(|open| open.to_trade(None, unrealized_pnl, None))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::order::Side;
    use crate::portfolio::Portfolio;

    fn apply(p: &mut Portfolio, t: &mut TradeTracker, time_ms: i64, side: Side, quantity: f64, price: f64, fee: f64) {
        let fill = Fill { order_id: 0, time_ms, side, quantity, price, reference_price: price, fee };
        let effect = p.update_from_fill(&fill);
        t.on_fill(&fill, &effect, p.quantity, ExitReason::Signal);
    }

    #[test]
    fn round_trips_flips_and_open_trades() {
        let mut p = Portfolio::new(10_000.0);
        let mut t = TradeTracker::new();
        apply(&mut p, &mut t, 1, Side::Buy, 10.0, 100.0, 1.0);
        apply(&mut p, &mut t, 2, Side::Sell, 10.0, 110.0, 1.1);
        assert_eq!(t.closed().len(), 1);
        let trade = t.closed()[0];
        assert_eq!((trade.entry_time_ms, trade.exit_time_ms, trade.side), (1, Some(2), TradeSide::Long));
        assert!((trade.pnl - (100.0 - 2.1)).abs() < 1e-9);
        assert_eq!(trade.exit_price, Some(110.0));
        assert_eq!(trade.exit_reason, Some(ExitReason::Signal));
        // a flip closes the long and opens a short; the fee is split 50/50
        apply(&mut p, &mut t, 3, Side::Buy, 5.0, 100.0, 0.5);
        apply(&mut p, &mut t, 4, Side::Sell, 10.0, 90.0, 0.9);
        assert_eq!(t.closed().len(), 2);
        let long = t.closed()[1];
        assert!((long.fees - 0.95).abs() < 1e-12);
        assert!((long.pnl - (-50.0 - 0.95)).abs() < 1e-9);
        let short = t.open_trade(p.quantity * (80.0 - p.avg_entry_price)).unwrap();
        assert_eq!(short.side, TradeSide::Short);
        assert_eq!(short.exit_time_ms, None);
        assert!((short.pnl - (50.0 - 0.45)).abs() < 1e-9);
    }
}
