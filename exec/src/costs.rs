//! Fee, slippage and borrow arithmetic: the one home of trading-cost math in rltrade.

use crate::config::ExecutionConfig;
use crate::order::Side;

/// One basis point as a fraction.
pub const BPS: f64 = 1e-4;
/// Milliseconds in a day (borrow fees are quoted per day).
pub const MS_PER_DAY: f64 = 86_400_000.0;

/// Trading costs as fractions, precomputed from an [`ExecutionConfig`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CostModel {
    /// Fee as a fraction of fill notional (`fee_bps × 1e-4`).
    pub fee_rate: f64,
    /// Slippage as a fraction of the reference price (`slippage_bps × 1e-4`).
    pub slippage_rate: f64,
    /// Borrow fee as a fraction of short notional per ms (`borrow_bps_per_day × 1e-4 / 86,400,000`).
    pub borrow_rate_per_ms: f64,
}

impl CostModel {
    /// Converts the bps settings of `config` into fractions.
    pub fn from_config(config: &ExecutionConfig) -> Self {
        Self {
            fee_rate: config.fee_bps * BPS,
            slippage_rate: config.slippage_bps * BPS,
            borrow_rate_per_ms: config.borrow_bps_per_day * BPS / MS_PER_DAY,
        }
    }

    /// The price a market order fills at, given the reference price (the bar's open):
    /// `price × (1 + slippage)` for a buy, `price × (1 − slippage)` for a sell.
    #[inline]
    pub fn fill_price(&self, side: Side, reference_price: f64) -> f64 {
        match side {
            Side::Buy => reference_price * (1.0 + self.slippage_rate),
            Side::Sell => reference_price * (1.0 - self.slippage_rate),
        }
    }

    /// The fee on a fill of `notional` (quote currency): `notional × fee_rate`.
    #[inline]
    pub fn fee(&self, notional: f64) -> f64 {
        notional.abs() * self.fee_rate
    }

    /// The borrow fee of a short notional held for `duration_ms`:
    /// `|short notional| × borrow_rate_per_ms × duration_ms` (quote currency, ≥ 0).
    #[inline]
    pub fn borrow_fee(&self, short_notional: f64, duration_ms: i64) -> f64 {
        short_notional.abs() * self.borrow_rate_per_ms * duration_ms.max(0) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bps_become_fractions_and_slippage_goes_against_the_trader() {
        let costs = CostModel::from_config(&ExecutionConfig {
            fee_bps: 10.0,
            slippage_bps: 5.0,
            borrow_bps_per_day: 2.0,
            ..ExecutionConfig::default()
        });
        assert!((costs.fee(1_000.0) - 1.0).abs() < 1e-12);
        assert!((costs.fill_price(Side::Buy, 100.0) - 100.05).abs() < 1e-12);
        assert!((costs.fill_price(Side::Sell, 100.0) - 99.95).abs() < 1e-12);
        // 2 bps a day on 10,000 of short notional for 12 hours = 1.0
        assert!((costs.borrow_fee(-10_000.0, 43_200_000) - 1.0).abs() < 1e-9);
    }
}
