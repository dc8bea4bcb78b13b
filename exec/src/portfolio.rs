//! `Portfolio`: cash, one position, and its accounting (equity, realized and unrealized
//! PnL, fees). State changes only through [`Portfolio::update_from_fill`] and
//! [`Portfolio::update_from_bar`].

use serde::{Deserialize, Serialize};

use crate::costs::CostModel;
use crate::fill::Fill;

/// Below this absolute quantity a position counts as flat (float dust after a close).
pub const QTY_EPSILON: f64 = 1e-12;

/// What one fill did to the position.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct FillEffect {
    /// Quantity of the previous position the fill closed (base units, ≥ 0).
    pub closed_quantity: f64,
    /// Quantity of new position the fill opened or added (base units, ≥ 0).
    pub opened_quantity: f64,
    /// Realized PnL of the closed part, gross of fees (quote currency).
    pub realized_pnl: f64,
}

/// Cash plus one position in one instrument, marked to market at bar closes.
///
/// Identity kept at all times (a tested invariant):
/// `equity = cash + quantity × mark = initial_cash + realized_pnl + unrealized_pnl − fees_paid − borrow_fees_paid`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Portfolio {
    /// Starting cash, quote currency.
    pub initial_cash: f64,
    /// Cash, quote currency (grows when selling, including short sales).
    pub cash: f64,
    /// Signed position in base units (negative = short).
    pub quantity: f64,
    /// Average entry price of the open position, quote currency (0 when flat).
    pub avg_entry_price: f64,
    /// Last mark price (the last close, or the last fill price before any close).
    pub mark_price: f64,
    /// Time of the last mark, ms since epoch UTC (borrow fees accrue from it).
    pub mark_time_ms: i64,
    /// Realized PnL of closed quantity, gross of fees, quote currency.
    pub realized_pnl: f64,
    /// Trading fees paid, quote currency.
    pub fees_paid: f64,
    /// Borrow fees paid on short positions, quote currency.
    pub borrow_fees_paid: f64,
    /// Sum of fill notionals, quote currency (for turnover).
    pub traded_notional: f64,
    /// Number of fills.
    pub num_fills: u64,
}

impl Portfolio {
    /// A flat portfolio holding `initial_cash` (quote currency).
    pub fn new(initial_cash: f64) -> Self {
        Self {
            initial_cash,
            cash: initial_cash,
            quantity: 0.0,
            avg_entry_price: 0.0,
            mark_price: 0.0,
            mark_time_ms: i64::MIN,
            realized_pnl: 0.0,
            fees_paid: 0.0,
            borrow_fees_paid: 0.0,
            traded_notional: 0.0,
            num_fills: 0,
        }
    }

    /// True when no position is held.
    #[inline]
    pub fn is_flat(&self) -> bool {
        self.quantity.abs() <= QTY_EPSILON
    }

    /// Value of the position at `price`: `quantity × price` (negative when short).
    #[inline]
    pub fn position_value(&self, price: f64) -> f64 {
        self.quantity * price
    }

    /// Equity at `price`: `cash + quantity × price`, quote currency.
    #[inline]
    pub fn equity_at(&self, price: f64) -> f64 {
        self.cash + self.quantity * price
    }

    /// Equity at the last mark price.
    #[inline]
    pub fn equity(&self) -> f64 {
        self.equity_at(self.mark_price)
    }

    /// Signed exposure at `price`: position value / equity (0 when equity ≤ 0).
    #[inline]
    pub fn exposure_at(&self, price: f64) -> f64 {
        let equity = self.equity_at(price);
        if equity > 0.0 { self.position_value(price) / equity } else { 0.0 }
    }

    /// Unrealized PnL at the last mark: `quantity × (mark − avg_entry_price)`.
    #[inline]
    pub fn unrealized_pnl(&self) -> f64 {
        self.quantity * (self.mark_price - self.avg_entry_price)
    }

    /// Return of the open position since entry at the last mark, signed for the side
    /// (+0.05 = the position is 5% in profit); 0 when flat.
    #[inline]
    pub fn unrealized_return(&self) -> f64 {
        if self.is_flat() || self.avg_entry_price <= 0.0 {
            0.0
        } else {
            self.quantity.signum() * (self.mark_price / self.avg_entry_price - 1.0)
        }
    }

    /// Applies a fill: moves cash by `∓ notional − fee`, updates the position, its
    /// average entry price (volume-weighted over opening fills) and realized PnL
    /// (closed quantity × (fill price − average entry), signed for the side). A fill
    /// larger than the position flips it; the rest opens at the fill price.
    #[inline]
    pub fn update_from_fill(&mut self, fill: &Fill) -> FillEffect {
        let signed = fill.signed_quantity();
        let notional = fill.notional();
        self.cash -= fill.side.sign() * notional + fill.fee;
        self.fees_paid += fill.fee;
        self.traded_notional += notional;
        self.num_fills += 1;
        if self.mark_time_ms == i64::MIN || self.quantity == 0.0 {
            // a position opened from flat owes borrow from its fill on, not from the
            // last mark (which may lie before a gap in the data)
            self.mark_time_ms = fill.time_ms;
        }
        self.mark_price = fill.price;

        let old = self.quantity;
        let mut effect = FillEffect::default();
        if old == 0.0 || old.signum() == signed.signum() {
            // opening or adding
            let new = old + signed;
            self.avg_entry_price = (old.abs() * self.avg_entry_price + fill.quantity * fill.price) / new.abs();
            self.quantity = new;
            effect.opened_quantity = fill.quantity;
        } else {
            let closed = fill.quantity.min(old.abs());
            effect.closed_quantity = closed;
            effect.realized_pnl = closed * (fill.price - self.avg_entry_price) * old.signum();
            self.realized_pnl += effect.realized_pnl;
            let new = old + signed;
            if new.abs() <= QTY_EPSILON {
                self.quantity = 0.0;
                self.avg_entry_price = 0.0;
            } else if new.signum() == old.signum() {
                self.quantity = new; // partial close keeps the entry price
            } else {
                self.quantity = new; // flipped: the remainder opens at the fill price
                self.avg_entry_price = fill.price;
                effect.opened_quantity = new.abs();
            }
        }
        effect
    }

    /// Marks the portfolio at a bar's close price `price` at `time_ms` (ms since epoch,
    /// UTC). A short position pays the borrow fee of its notional for the time since
    /// the previous mark. Returns the borrow fee charged (quote currency, ≥ 0).
    #[inline]
    pub fn update_from_bar(&mut self, price: f64, time_ms: i64, costs: &CostModel) -> f64 {
        let mut borrow = 0.0;
        if self.quantity < 0.0 && self.mark_time_ms != i64::MIN {
            borrow = costs.borrow_fee(self.quantity * price, time_ms - self.mark_time_ms);
            self.cash -= borrow;
            self.borrow_fees_paid += borrow;
        }
        self.mark_price = price;
        self.mark_time_ms = time_ms;
        borrow
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::order::Side;

    fn fill(side: Side, quantity: f64, price: f64, fee: f64) -> Fill {
        Fill { order_id: 0, time_ms: 0, side, quantity, price, reference_price: price, fee }
    }

    #[test]
    fn buy_then_partial_sell_then_flip() {
        let mut p = Portfolio::new(1_000.0);
        p.update_from_fill(&fill(Side::Buy, 2.0, 100.0, 0.2));
        assert_eq!(p.quantity, 2.0);
        assert!((p.cash - 799.8).abs() < 1e-9);
        p.update_from_fill(&fill(Side::Buy, 2.0, 200.0, 0.4));
        assert!((p.avg_entry_price - 150.0).abs() < 1e-9);
        let e = p.update_from_fill(&fill(Side::Sell, 1.0, 170.0, 0.17));
        assert!((e.realized_pnl - 20.0).abs() < 1e-9);
        assert_eq!(p.quantity, 3.0);
        assert!((p.avg_entry_price - 150.0).abs() < 1e-9);
        // flip: sell 5 at 140 closes 3 (pnl 3 × −10) and opens a 2 short at 140
        let e = p.update_from_fill(&fill(Side::Sell, 5.0, 140.0, 0.7));
        assert!((e.realized_pnl + 30.0).abs() < 1e-9);
        assert_eq!((e.closed_quantity, e.opened_quantity), (3.0, 2.0));
        assert_eq!(p.quantity, -2.0);
        assert_eq!(p.avg_entry_price, 140.0);
        assert!((p.unrealized_return() - 0.0).abs() < 1e-12);
        let identity = p.initial_cash + p.realized_pnl + p.unrealized_pnl() - p.fees_paid - p.borrow_fees_paid;
        assert!((p.equity() - identity).abs() < 1e-9);
    }

    #[test]
    fn shorts_pay_borrow_between_marks() {
        let costs = CostModel { fee_rate: 0.0, slippage_rate: 0.0, borrow_rate_per_ms: 1e-4 / 86_400_000.0 };
        let mut p = Portfolio::new(1_000.0);
        p.update_from_bar(100.0, 0, &costs);
        p.update_from_fill(&fill(Side::Sell, 10.0, 100.0, 0.0));
        let borrow = p.update_from_bar(100.0, 86_400_000, &costs);
        assert!((borrow - 0.1).abs() < 1e-12, "1 bps of 1,000 for a day: {borrow}");
        assert!((p.equity() - 999.9).abs() < 1e-9);
    }
}
