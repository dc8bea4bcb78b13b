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
    /// Cooldown: no new entry for this many bars after a protective exit (stop,
    /// take-profit, trailing or time stop); the decisions at the closes of the exit's
    /// bar and the next `cooldown_bars − 1` bars are refused. 0 = off. Default 0.
    pub cooldown_bars: u64,
    /// Stop-loss guard: after this many stop-outs (stop-loss or trailing-stop exits)
    /// within `stoploss_guard_lookback_bars` bars, no new entries for
    /// `stoploss_guard_pause_bars` bars. 0 = off. Default 0.
    pub stoploss_guard_trades: u64,
    /// The stop-loss guard's window, bars (the stop-out's bar and the L − 1 before it).
    /// Default 0 (needs ≥ 1 when the guard is on).
    pub stoploss_guard_lookback_bars: u64,
    /// The stop-loss guard's pause, bars (counted like the cooldown). Default 0 (needs
    /// ≥ 1 when the guard is on).
    pub stoploss_guard_pause_bars: u64,
    /// Order-rate throttle: at most this many orders (approved signal orders, entries
    /// and exits) per rolling window of `max_orders_window_bars` bars; a new entry over
    /// the limit is refused, exits never are. 0 = off. Default 0.
    pub max_orders: u64,
    /// The throttle's window, bars (the decision's bar and the W − 1 before it).
    /// Default 0 (needs ≥ 1 when the throttle is on).
    pub max_orders_window_bars: u64,
    /// VaR sizing limit, a fraction of equity (0.02 = 2%): a new entry's |target
    /// exposure| is scaled down so that |target| × the asset's one-bar 95% historical
    /// VaR (of its last `var_lookback` close-to-close returns, the decision's close
    /// included; [`crate::value_at_risk::historical_var_es`]) stays within it. It never
    /// rebalances an open position; entries are refused until `var_lookback` returns
    /// exist. In [0, 1); 0 = off. Default 0.
    pub max_var_95: f64,
    /// The VaR limit's lookback, bars (close-to-close returns). It counts toward the
    /// warm-up and the splits' purge gap while `max_var_95` is on ([`Self::lookback_bars`]).
    /// Default 500 (needs ≥ 2 when the limit is on).
    pub var_lookback: u64,
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
            cooldown_bars: 0,
            stoploss_guard_trades: 0,
            stoploss_guard_lookback_bars: 0,
            stoploss_guard_pause_bars: 0,
            max_orders: 0,
            max_orders_window_bars: 0,
            max_var_95: 0.0,
            var_lookback: 500,
        }
    }
}

impl RiskConfig {
    /// Bars of price history the limits need before a new entry: `var_lookback` while
    /// the VaR limit (`max_var_95`) is on, else 0. Part of the warm-up of every
    /// evaluation window and of the splits' purge gap, like the feature lookback.
    pub fn lookback_bars(&self) -> usize {
        if self.max_var_95 > 0.0 { usize::try_from(self.var_lookback).unwrap_or(usize::MAX) } else { 0 }
    }

    /// Checks ranges: `max_exposure` finite and > 0; `max_order_notional` > 0;
    /// `daily_loss_limit` and `max_drawdown` in (0, 1]; the stop-loss guard's lookback
    /// and pause, and the throttle's window, ≥ 1 when those are on; `max_var_95` finite
    /// in [0, 1), and `var_lookback` ≥ 2 bars when it is on.
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
        if self.stoploss_guard_trades > 0 {
            for (field, value) in [
                ("stoploss_guard_lookback_bars", self.stoploss_guard_lookback_bars),
                ("stoploss_guard_pause_bars", self.stoploss_guard_pause_bars),
            ] {
                if value == 0 {
                    return Err(bad(field, "must be >= 1 bar when risk.stoploss_guard_trades is set".into()));
                }
            }
        }
        if self.max_orders > 0 && self.max_orders_window_bars == 0 {
            return Err(bad("max_orders_window_bars", "must be >= 1 bar when risk.max_orders is set".into()));
        }
        if !(self.max_var_95.is_finite() && (0.0..1.0).contains(&self.max_var_95)) {
            return Err(bad(
                "max_var_95",
                format!("must be a fraction of equity in [0, 1) (0 = off), found {}", self.max_var_95),
            ));
        }
        if self.max_var_95 > 0.0 && self.var_lookback < 2 {
            return Err(bad(
                "var_lookback",
                format!("must be >= 2 bars when risk.max_var_95 is set, found {}", self.var_lookback),
            ));
        }
        Ok(())
    }
}
