//! Protective orders: stop-loss, take-profit, trailing stop and time stop (TOML section
//! `[protect]`), and the [`ExitReason`] of every closed position.
//!
//! The levels are checked inside each bar by [`crate::Account::step_bar`], after the
//! order pending from the previous close has filled at the open and before the close
//! is marked, so the training environment, the backtest and the daemon apply them the
//! same way. The rules, for a long position (a short mirrors them):
//!
//! - **Levels.** Set when a position opens from flat or flips side, from the entry's
//!   fill price `fill`: stop = `fill × (1 − stop_loss)`, take-profit =
//!   `fill × (1 + take_profit)`. Resizing the position keeps them.
//! - **Stop.** Hit when `low ≤ stop`; fills at `min(open, stop)` (a gap through the stop
//!   fills at the open; in the entry bar the open is the entry's fill price), less
//!   slippage (a stop is a market order once triggered), plus the fee.
//! - **Take-profit.** Hit when `high ≥ take-profit`; fills at `max(open, take-profit)`
//!   with the fee and no slippage (a limit order).
//! - **Both touched in one bar:** the stop counts (the order of prices inside a bar is
//!   unknown; pessimistic).
//! - **Trailing stop.** At each close the stop rises to
//!   `max(stop, close × (1 − trailing_stop))`, checked from the next bar. With
//!   `stop_loss = 0` the first level is `fill × (1 − trailing_stop)`. A stop hit at a
//!   level the trailing rule set exits with [`ExitReason::TrailingStop`].
//! - **Time stop.** With `max_holding_bars = N`, a position held over N closes is
//!   closed at the next open, a market order (slippage and fee, like a signal exit).
//!
//! Source: the rules are issue 13's; the pessimistic both-touched convention and
//! gap fills at the open are the usual ones of bar-based backtesters (e.g. freqtrade's
//! `stoploss` and `minimal_roi`, <https://www.freqtrade.io/en/stable/stoploss/>).

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::fill::Fill;
use crate::portfolio::FillEffect;
use crate::trades::Trade;

/// Protective-order settings of an account: fractions of the entry's fill price, 0 =
/// off. The default has every protection off, so accounts trade exactly as before.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProtectConfig {
    /// Stop-loss distance below a long's entry (above a short's), a fraction of the
    /// entry's fill price in [0, 1) (0.05 = 5%); 0 = no fixed stop. Default 0.
    pub stop_loss: f64,
    /// Take-profit distance above a long's entry (below a short's), a fraction of the
    /// entry's fill price in [0, 1); 0 = none. Default 0.
    pub take_profit: f64,
    /// Trailing-stop distance below the highest close since entry (above the lowest,
    /// for a short), a fraction in [0, 1); 0 = none. Default 0.
    pub trailing_stop: f64,
    /// Close a position held this many bars (closes marked) at the next open; 0 = no
    /// time stop. Default 0.
    pub max_holding_bars: u64,
}

impl ProtectConfig {
    /// True when every protection is off (nothing is ever checked).
    pub fn is_off(&self) -> bool {
        *self == Self::default()
    }

    /// Checks ranges: every fraction finite, ≥ 0 and < 1.
    ///
    /// # Errors
    /// [`Error::Config`] naming the field (`protect.<name>`).
    pub fn validate(&self) -> Result<()> {
        for (field, value) in
            [("stop_loss", self.stop_loss), ("take_profit", self.take_profit), ("trailing_stop", self.trailing_stop)]
        {
            if !(value.is_finite() && (0.0..1.0).contains(&value)) {
                return Err(Error::Config {
                    field: format!("protect.{field}"),
                    message: format!("must be a fraction of the entry price in [0, 1) (0 = off), found {value}"),
                });
            }
        }
        Ok(())
    }

    /// The settings that differ between `self` and `other`, as `(name, self's value,
    /// other's value)` with names `protect.<field>` (empty when they are equal).
    pub fn differences(&self, other: &Self) -> Vec<(&'static str, f64, f64)> {
        [
            ("protect.stop_loss", self.stop_loss, other.stop_loss),
            ("protect.take_profit", self.take_profit, other.take_profit),
            ("protect.trailing_stop", self.trailing_stop, other.trailing_stop),
            ("protect.max_holding_bars", self.max_holding_bars as f64, other.max_holding_bars as f64),
        ]
        .into_iter()
        .filter(|(_, a, b)| a.to_bits() != b.to_bits())
        .collect()
    }
}

/// Why a position was closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExitReason {
    /// The fixed stop-loss level was hit.
    StopLoss,
    /// The take-profit level was hit.
    TakeProfit,
    /// A stop level set by the trailing rule was hit.
    TrailingStop,
    /// The time stop (`protect.max_holding_bars`) closed the position at an open.
    MaxHolding,
    /// The strategy's own order (a new target) closed or reversed the position.
    Signal,
    /// The risk layer's liquidation (a halt or the kill switch with `flatten_on_halt`).
    RiskLiquidation,
}

impl ExitReason {
    /// Every reason, in the order reports list them.
    pub const ALL: [ExitReason; 6] = [
        ExitReason::StopLoss,
        ExitReason::TakeProfit,
        ExitReason::TrailingStop,
        ExitReason::MaxHolding,
        ExitReason::Signal,
        ExitReason::RiskLiquidation,
    ];

    /// The snake_case name (`stop_loss`, …, `risk_liquidation`), as in the trades CSV
    /// and `backtest --json`.
    pub fn name(self) -> &'static str {
        match self {
            ExitReason::StopLoss => "stop_loss",
            ExitReason::TakeProfit => "take_profit",
            ExitReason::TrailingStop => "trailing_stop",
            ExitReason::MaxHolding => "max_holding",
            ExitReason::Signal => "signal",
            ExitReason::RiskLiquidation => "risk_liquidation",
        }
    }

    /// True for the reasons of protective orders (stop, take-profit, trailing, time).
    pub fn is_protective(self) -> bool {
        !matches!(self, ExitReason::Signal | ExitReason::RiskLiquidation)
    }
}

impl std::fmt::Display for ExitReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Closed trades counted by [`ExitReason`] (the `exit_reasons` of `backtest --json`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExitReasonCounts {
    /// Closed by the fixed stop-loss.
    pub stop_loss: u64,
    /// Closed by the take-profit.
    pub take_profit: u64,
    /// Closed by a stop level the trailing rule set.
    pub trailing_stop: u64,
    /// Closed by the time stop.
    pub max_holding: u64,
    /// Closed or reversed by the strategy's own order.
    pub signal: u64,
    /// Closed by a risk liquidation (halt or kill switch).
    pub risk_liquidation: u64,
}

impl ExitReasonCounts {
    /// Counts the closed trades of `trades` by reason (open trades are not counted).
    pub fn from_trades(trades: &[Trade]) -> Self {
        let mut counts = Self::default();
        for reason in trades.iter().filter_map(|t| t.exit_reason) {
            *counts.get_mut(reason) += 1;
        }
        counts
    }

    /// The count of `reason`.
    pub fn get(&self, reason: ExitReason) -> u64 {
        match reason {
            ExitReason::StopLoss => self.stop_loss,
            ExitReason::TakeProfit => self.take_profit,
            ExitReason::TrailingStop => self.trailing_stop,
            ExitReason::MaxHolding => self.max_holding,
            ExitReason::Signal => self.signal,
            ExitReason::RiskLiquidation => self.risk_liquidation,
        }
    }

    fn get_mut(&mut self, reason: ExitReason) -> &mut u64 {
        match reason {
            ExitReason::StopLoss => &mut self.stop_loss,
            ExitReason::TakeProfit => &mut self.take_profit,
            ExitReason::TrailingStop => &mut self.trailing_stop,
            ExitReason::MaxHolding => &mut self.max_holding,
            ExitReason::Signal => &mut self.signal,
            ExitReason::RiskLiquidation => &mut self.risk_liquidation,
        }
    }

    /// The total over every reason.
    pub fn total(&self) -> u64 {
        ExitReason::ALL.iter().map(|r| self.get(*r)).sum()
    }
}

/// The protective levels of an open position (quote currency).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProtectiveLevels {
    /// +1.0 for a long position, −1.0 for a short one.
    pub sign: f64,
    /// The entry's fill price (slippage included), quote currency.
    pub entry_price: f64,
    /// The stop level (`None`: no stop).
    pub stop: Option<f64>,
    /// The trailing rule set the current stop level.
    pub stop_trails: bool,
    /// The take-profit level (`None`: none).
    pub take_profit: Option<f64>,
}

/// A stop `fraction` of `entry_price` away from it against a position of `sign` (+1
/// long: below it; −1 short: above it).
fn stop_level(sign: f64, entry_price: f64, fraction: f64) -> f64 {
    entry_price * (1.0 - sign * fraction)
}

impl ProtectiveLevels {
    /// The levels of a position of sign `sign` (+1 long, −1 short) entered at fill
    /// price `entry_price` under `config` (see the module documentation).
    pub fn new(config: &ProtectConfig, sign: f64, entry_price: f64) -> Self {
        let (stop, stop_trails) = if config.stop_loss > 0.0 {
            (Some(stop_level(sign, entry_price, config.stop_loss)), false)
        } else if config.trailing_stop > 0.0 {
            (Some(stop_level(sign, entry_price, config.trailing_stop)), true)
        } else {
            (None, false)
        };
        let take_profit = (config.take_profit > 0.0).then_some(entry_price * (1.0 + sign * config.take_profit));
        Self { sign, entry_price, stop, stop_trails, take_profit }
    }

    /// Why a stop at `stop` (a level these levels held, perhaps before the trailing rule
    /// moved it) closed the position: [`ExitReason::StopLoss`] at the fixed level set at
    /// the entry (`config.stop_loss`), else [`ExitReason::TrailingStop`].
    pub fn stop_reason(&self, config: &ProtectConfig, stop: f64) -> ExitReason {
        if config.stop_loss <= 0.0 {
            return ExitReason::TrailingStop;
        }
        let fixed = stop_level(self.sign, self.entry_price, config.stop_loss);
        if (stop - fixed).abs() <= 1e-9 * fixed.abs() { ExitReason::StopLoss } else { ExitReason::TrailingStop }
    }

    /// The exit inside a bar with `open`, `high`, `low`, if a level was touched: the
    /// reason and the reference price of the fill (before slippage). `open` is the
    /// entry's fill price in the entry bar. The stop wins when both are touched.
    pub fn check(&self, open: f64, high: f64, low: f64) -> Option<(ExitReason, f64)> {
        let long = self.sign > 0.0;
        if let Some(stop) = self.stop {
            if (long && low <= stop) || (!long && high >= stop) {
                let price = if long { open.min(stop) } else { open.max(stop) };
                let reason = if self.stop_trails { ExitReason::TrailingStop } else { ExitReason::StopLoss };
                return Some((reason, price));
            }
        }
        if let Some(tp) = self.take_profit {
            if (long && high >= tp) || (!long && low <= tp) {
                let price = if long { open.max(tp) } else { open.min(tp) };
                return Some((ExitReason::TakeProfit, price));
            }
        }
        None
    }

    /// The trailing rule at a close: the stop moves to `close × (1 − trailing_stop)`
    /// (`close × (1 + trailing_stop)` for a short) when that is tighter than the
    /// current stop (strictly); `trailing_stop = 0` does nothing.
    pub fn trail(&mut self, close: f64, trailing_stop: f64) {
        if trailing_stop <= 0.0 {
            return;
        }
        let candidate = close * (1.0 - self.sign * trailing_stop);
        let tighter = match self.stop {
            None => true,
            Some(stop) => (candidate - stop) * self.sign > 0.0,
        };
        if tighter {
            self.stop = Some(candidate);
            self.stop_trails = true;
        }
    }
}

/// A protective order that filled inside a bar.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ProtectiveExit {
    /// Which rule closed the position.
    pub reason: ExitReason,
    /// The fill (its `reference_price` is the level or the gap open, before slippage).
    pub fill: Fill,
    /// What it did to the position (closed all of it).
    pub effect: FillEffect,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(stop_loss: f64, take_profit: f64, trailing_stop: f64) -> ProtectConfig {
        ProtectConfig { stop_loss, take_profit, trailing_stop, max_holding_bars: 0 }
    }

    #[test]
    fn validate_names_the_setting() {
        assert!(ProtectConfig::default().validate().is_ok());
        for (bad, field) in [
            (config(-0.1, 0.0, 0.0), "protect.stop_loss"),
            (config(0.0, 1.0, 0.0), "protect.take_profit"),
            (config(0.0, 0.0, f64::NAN), "protect.trailing_stop"),
        ] {
            let err = bad.validate().unwrap_err().to_string();
            assert!(err.contains(field), "{err}");
        }
    }

    // fractions and prices with exact binary representations, so levels compare exactly

    #[test]
    fn checks_a_long_bar_by_bar() {
        // entry 100, stop 75, take-profit 150
        let levels = ProtectiveLevels::new(&config(0.25, 0.5, 0.0), 1.0, 100.0);
        let cases = [
            ("nothing touched", (101.0, 149.0, 76.0), None),
            ("stop at its level", (101.0, 102.0, 74.0), Some((ExitReason::StopLoss, 75.0))),
            ("the low touching the stop", (101.0, 102.0, 75.0), Some((ExitReason::StopLoss, 75.0))),
            ("gap through the stop fills at the open", (70.0, 72.0, 68.0), Some((ExitReason::StopLoss, 70.0))),
            ("take-profit at its level", (101.0, 151.0, 99.0), Some((ExitReason::TakeProfit, 150.0))),
            (
                "gap over the take-profit fills at the open",
                (152.0, 155.0, 151.0),
                Some((ExitReason::TakeProfit, 152.0)),
            ),
            ("both touched: the stop", (100.0, 160.0, 60.0), Some((ExitReason::StopLoss, 75.0))),
        ];
        for (name, (open, high, low), expected) in cases {
            assert_eq!(levels.check(open, high, low), expected, "{name}");
        }
    }

    #[test]
    fn shorts_mirror() {
        // entry 100, stop 125, take-profit 50
        let levels = ProtectiveLevels::new(&config(0.25, 0.5, 0.0), -1.0, 100.0);
        assert_eq!(levels.check(101.0, 126.0, 99.0), Some((ExitReason::StopLoss, 125.0)));
        assert_eq!(levels.check(130.0, 131.0, 128.0), Some((ExitReason::StopLoss, 130.0)));
        assert_eq!(levels.check(95.0, 96.0, 49.0), Some((ExitReason::TakeProfit, 50.0)));
        assert_eq!(levels.check(45.0, 46.0, 44.0), Some((ExitReason::TakeProfit, 45.0)));
        assert_eq!(levels.check(100.0, 124.0, 51.0), None);
    }

    #[test]
    fn trailing_ratchets_and_names_its_exits() {
        // no fixed stop: the first level is entry × (1 − 0.25)
        let mut levels = ProtectiveLevels::new(&config(0.0, 0.0, 0.25), 1.0, 100.0);
        assert_eq!((levels.stop, levels.stop_trails), (Some(75.0), true));
        levels.trail(120.0, 0.25);
        assert_eq!(levels.stop, Some(90.0));
        levels.trail(110.0, 0.25); // never down
        assert_eq!(levels.stop, Some(90.0));
        assert_eq!(levels.check(95.0, 96.0, 89.0), Some((ExitReason::TrailingStop, 90.0)));
        // a fixed stop stays a stop-loss until the trailing rule moves it
        let mut levels = ProtectiveLevels::new(&config(0.125, 0.0, 0.25), 1.0, 100.0);
        levels.trail(112.0, 0.25); // 84 < 87.5: unchanged
        assert_eq!((levels.stop, levels.stop_trails), (Some(87.5), false));
        assert_eq!(levels.check(95.0, 96.0, 80.0), Some((ExitReason::StopLoss, 87.5)));
        levels.trail(120.0, 0.25);
        assert_eq!((levels.stop, levels.stop_trails), (Some(90.0), true));
        // a short trails down
        let mut short = ProtectiveLevels::new(&config(0.0, 0.0, 0.25), -1.0, 100.0);
        assert_eq!(short.stop, Some(125.0));
        short.trail(80.0, 0.25);
        assert_eq!(short.stop, Some(100.0));
        short.trail(90.0, 0.25);
        assert_eq!(short.stop, Some(100.0));
        assert_eq!(short.check(99.0, 101.0, 98.0), Some((ExitReason::TrailingStop, 100.0)));
    }

    #[test]
    fn exit_reason_names_match_serde() {
        for reason in ExitReason::ALL {
            assert_eq!(serde_json::to_string(&reason).unwrap(), format!("\"{}\"", reason.name()));
        }
    }
}
