//! `ExecutionConfig`: cash, costs and venue rules of one account (TOML section `[execution]`).

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Largest starting cash, quote currency (`execution.initial_cash`, `--cash`): a
/// trillion. Equity grows with the market and with leverage; far larger amounts overflow
/// f64 arithmetic (1e308 × a price is infinite) and lose the cents besides.
pub const MAX_INITIAL_CASH: f64 = 1e12;

/// Fee and slippage are below this many basis points (100%).
pub const MAX_COST_BPS: f64 = 10_000.0;

/// Cash, trading costs and venue rules. Every field has a default; see
/// `configs/backtest.toml` for the commented TOML form.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExecutionConfig {
    /// Starting cash, quote currency. Default 10,000.
    pub initial_cash: f64,
    /// Fee in basis points (1 bps = 0.01%) of fill notional, charged on every fill. Default 10.
    pub fee_bps: f64,
    /// Slippage in bps, always against the trader: buys fill at `price × (1 + s)`,
    /// sells at `price × (1 − s)`. Default 5.
    pub slippage_bps: f64,
    /// Borrow fee of a short position in bps **per day** of its notional (marked at each
    /// bar close), accrued pro rata over the time between marks. Default 0.
    pub borrow_bps_per_day: f64,
    /// Quantity step of the venue in base units (0 = any fractional quantity). Order
    /// quantities are rounded down to a multiple of it. Default 0.
    pub lot_step: f64,
    /// Smallest fill notional the venue accepts, quote currency (0 = none); a smaller
    /// order is skipped. Default 0.
    pub min_notional: f64,
}

impl Default for ExecutionConfig {
    fn default() -> Self {
        Self {
            initial_cash: 10_000.0,
            fee_bps: 10.0,
            slippage_bps: 5.0,
            borrow_bps_per_day: 0.0,
            lot_step: 0.0,
            min_notional: 0.0,
        }
    }
}

impl ExecutionConfig {
    /// Checks ranges: cash finite, > 0 and at most [`MAX_INITIAL_CASH`]; fee, slippage,
    /// borrow, lot step and minimum notional finite and ≥ 0; fee and slippage below
    /// [`MAX_COST_BPS`].
    ///
    /// # Errors
    /// [`Error::Config`] naming the field (`execution.<name>`).
    pub fn validate(&self) -> Result<()> {
        let bad = |field: &str, message: String| Error::Config { field: format!("execution.{field}"), message };
        if !(self.initial_cash.is_finite() && self.initial_cash > 0.0 && self.initial_cash <= MAX_INITIAL_CASH) {
            return Err(bad(
                "initial_cash",
                format!("must be finite, > 0 and at most {MAX_INITIAL_CASH:e}, found {}", self.initial_cash),
            ));
        }
        for (field, value, max) in [
            ("fee_bps", self.fee_bps, MAX_COST_BPS),
            ("slippage_bps", self.slippage_bps, MAX_COST_BPS),
            ("borrow_bps_per_day", self.borrow_bps_per_day, f64::INFINITY),
            ("lot_step", self.lot_step, f64::INFINITY),
            ("min_notional", self.min_notional, f64::INFINITY),
        ] {
            if !(value.is_finite() && value >= 0.0 && value < max) {
                return Err(bad(field, format!("must be finite, >= 0 and < {max}, found {value}")));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cash_that_would_overflow_equity_is_refused_naming_the_key() {
        assert!(ExecutionConfig::default().validate().is_ok());
        let at_bound = ExecutionConfig { initial_cash: MAX_INITIAL_CASH, ..ExecutionConfig::default() };
        assert!(at_bound.validate().is_ok());
        for cash in [1e308, MAX_INITIAL_CASH * 2.0, f64::INFINITY, f64::NAN, 0.0, -1.0] {
            let config = ExecutionConfig { initial_cash: cash, ..ExecutionConfig::default() };
            let err = config.validate().unwrap_err().to_string();
            assert!(err.contains("execution.initial_cash") && err.contains("1e12"), "{cash}: {err}");
        }
    }
}
