//! `RiskConfig`: the limits of the pre-trade risk check (TOML section `[risk]`).

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Risk limits. The default never binds for a long-only or ±1 strategy (max exposure
/// 1.0, no order-notional limit, no halts), so backtests stay comparable with other
/// backtesters; configured limits apply everywhere (env, backtest, daemon).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RiskConfig {
    /// Largest |target exposure|, a fraction of equity (1.0 = no leverage). Larger
    /// targets are clipped to it. Default 1.0.
    pub max_exposure: f64,
    /// Largest notional of one order, quote currency, estimated at the decision
    /// price; larger orders are refused (a fat-finger guard). Default: none.
    pub max_order_notional: Option<f64>,
    /// Halt trading for the rest of the UTC day when equity falls more than this
    /// fraction below the equity at the day's start (0.05 = 5%). Default: none.
    pub daily_loss_limit: Option<f64>,
    /// Halt trading (until an operator resumes) when equity falls more than this
    /// fraction below its running peak (0.25 = 25%). Default: none.
    pub max_drawdown: Option<f64>,
    /// Allow negative target exposures (short positions). Default false: spot venues
    /// cannot short.
    pub allow_short: bool,
    /// On a halt or kill switch, close the open position with a liquidation order
    /// (filled at the next open). Default true: a halted strategy should carry no risk.
    pub flatten_on_halt: bool,
    /// Start with the kill switch engaged: nothing trades until an operator releases
    /// it. Default false.
    pub kill_switch: bool,
}

impl Default for RiskConfig {
    fn default() -> Self {
        Self {
            max_exposure: 1.0,
            max_order_notional: None,
            daily_loss_limit: None,
            max_drawdown: None,
            allow_short: false,
            flatten_on_halt: true,
            kill_switch: false,
        }
    }
}

impl RiskConfig {
    /// Checks ranges: `max_exposure` finite and > 0; `max_order_notional` > 0;
    /// `daily_loss_limit` and `max_drawdown` in (0, 1].
    ///
    /// # Errors
    /// [`Error::Config`] naming the field (`risk.<name>`).
    pub fn validate(&self) -> Result<()> {
        let bad = |field: &str, message: String| Error::Config { field: format!("risk.{field}"), message };
        if !(self.max_exposure.is_finite() && self.max_exposure > 0.0) {
            return Err(bad("max_exposure", format!("must be finite and > 0, found {}", self.max_exposure)));
        }
        if let Some(v) = self.max_order_notional {
            if !(v.is_finite() && v > 0.0) {
                return Err(bad("max_order_notional", format!("must be finite and > 0, found {v}")));
            }
        }
        for (field, value) in [("daily_loss_limit", self.daily_loss_limit), ("max_drawdown", self.max_drawdown)] {
            if let Some(v) = value {
                if !(v > 0.0 && v <= 1.0) {
                    return Err(bad(field, format!("must be a fraction in (0, 1], found {v}")));
                }
            }
        }
        Ok(())
    }
}
