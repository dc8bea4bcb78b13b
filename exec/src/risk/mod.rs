//! `RiskManager`: pre-trade checks with typed decisions, the trading state
//! (ACTIVE / REDUCING / HALTED), loss halts and the kill switch.
//!
//! The same manager guards the environment, the backtest and the live daemon.

mod config;
mod decision;

pub use config::RiskConfig;
pub use decision::{
    ClipReason, HaltReason, ReconciliationSource, RefusalReason, RiskApproved, RiskDecision, RiskRefused,
};

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::costs::CostModel;
use crate::error::Result;
use crate::order::{OrderPurpose, TargetOrder};
use crate::portfolio::Portfolio;
use crate::protect::ExitReason;
use crate::value_at_risk::historical_var_es;

/// Milliseconds in a UTC day.
const MS_PER_DAY: i64 = 86_400_000;
/// Exposure differences below this count as "no trade".
const EXPOSURE_EPSILON: f64 = 1e-9;

/// What the risk layer lets through.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TradingState {
    /// Every order the limits allow.
    Active,
    /// Only orders that shrink the position (toward flat, same side).
    Reducing,
    /// Nothing but liquidation.
    Halted,
}

/// A change of the trading state reported by [`RiskManager::update_from_equity`].
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct StateChange {
    /// State before.
    pub from: TradingState,
    /// State after.
    pub to: TradingState,
    /// Why trading halted (set when `to` is HALTED).
    pub halt_reason: Option<HaltReason>,
}

/// Pre-trade risk checks and trading state of one account.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RiskManager {
    config: RiskConfig,
    state: TradingState,
    halt_reason: Option<HaltReason>,
    kill_switch: bool,
    peak_equity: f64,
    day: Option<i64>,
    day_start_equity: f64,
    last_equity: f64,
    /// Closes marked so far ([`Self::update_from_equity`]): the clock of the cooldown,
    /// the stop-loss guard and the throttle, which count bars.
    #[serde(default)]
    bars: u64,
    /// Entries are refused while `bars` is below this (cooldown).
    #[serde(default)]
    cooldown_until: u64,
    /// Entries are refused while `bars` is below this (stop-loss guard).
    #[serde(default)]
    guard_until: u64,
    /// Bars of the recent stop-outs (inside the guard's lookback).
    #[serde(default)]
    stop_outs: Vec<u64>,
    /// Bars of the recent approved signal orders (inside the throttle's window).
    #[serde(default)]
    orders: Vec<u64>,
    /// The last `var_lookback + 1` closes of the traded asset, oldest first (kept only
    /// while the VaR limit is on): the history of the VaR sizing limit.
    #[serde(default, skip_serializing_if = "VecDeque::is_empty")]
    closes: VecDeque<f64>,
}

impl RiskManager {
    /// A manager in state ACTIVE whose peak and day-start equity are `initial_equity`,
    /// with the kill switch engaged if `config.kill_switch` says so.
    ///
    /// # Errors
    /// [`crate::Error::Config`] if the config is out of range ([`RiskConfig::validate`]).
    pub fn new(config: RiskConfig, initial_equity: f64) -> Result<Self> {
        config.validate()?;
        Ok(Self {
            kill_switch: config.kill_switch,
            config,
            state: TradingState::Active,
            halt_reason: None,
            peak_equity: initial_equity,
            day: None,
            day_start_equity: initial_equity,
            last_equity: initial_equity,
            bars: 0,
            cooldown_until: 0,
            guard_until: 0,
            stop_outs: Vec::new(),
            orders: Vec::new(),
            closes: VecDeque::new(),
        })
    }

    /// The limits.
    pub fn config(&self) -> &RiskConfig {
        &self.config
    }

    /// The trading state (the kill switch is separate: see [`Self::kill_switch_engaged`]).
    pub fn state(&self) -> TradingState {
        self.state
    }

    /// The state the risk check applies: [`TradingState::Halted`] while the kill switch
    /// is engaged (it lets nothing through but liquidation, as HALTED does), else
    /// [`Self::state`]. What `GET /positions` reports and what blocks [`crate::Account::decide`].
    pub fn effective_state(&self) -> TradingState {
        if self.kill_switch { TradingState::Halted } else { self.state }
    }

    /// Why trading is halted, when it is.
    pub fn halt_reason(&self) -> Option<HaltReason> {
        self.halt_reason
    }

    /// True while the kill switch is engaged.
    pub fn kill_switch_engaged(&self) -> bool {
        self.kill_switch
    }

    /// The highest equity marked so far, quote currency.
    pub fn peak_equity(&self) -> f64 {
        self.peak_equity
    }

    /// The pre-trade check of a target order against `portfolio` valued at the order's
    /// reference price. In order: a finite target and positive equity; the kill switch;
    /// HALTED; shorts allowed; REDUCING (only |target| ≤ |current exposure| on the same
    /// side or flat); the order-notional limit (estimated notional
    /// `|target × equity / (1 + fee) − quantity × price|`, refused above the limit); the
    /// exposure limit (|target| clipped to `max_exposure`; refused if the clipped order
    /// would not trade). A new entry (a target ≠ 0 from flat, on the other side, or
    /// larger than the current exposure) is also refused inside a cooldown, while the
    /// stop-loss guard pauses entries, over the order-rate limit, and before the VaR
    /// limit has its history; exits never are. The VaR limit (`max_var_95`) then scales
    /// a new entry's |target| down to `max_var_95 / VaR` ([`Self::var_95`], when it is
    /// positive), never below the current exposure on the same side (refused when the
    /// scaled order would not trade): it never rebalances an open position.
    #[inline]
    pub fn check(&self, order: TargetOrder, portfolio: &Portfolio, costs: &CostModel) -> RiskDecision<TargetOrder> {
        let refuse = |reason| Err(RiskRefused { order, reason });
        let requested = order.target_exposure;
        let price = order.reference_price;
        let equity = portfolio.equity_at(price);
        if !requested.is_finite() || equity.is_nan() || equity <= 0.0 || price.is_nan() || price <= 0.0 {
            return refuse(RefusalReason::InvalidTarget { requested });
        }
        if self.kill_switch {
            return refuse(RefusalReason::KillSwitch);
        }
        if self.state == TradingState::Halted {
            return refuse(RefusalReason::Halted { reason: self.halt_reason.unwrap_or(HaltReason::Manual) });
        }
        if requested < 0.0 && !self.config.allow_short {
            return refuse(RefusalReason::ShortNotAllowed { requested });
        }
        let current = portfolio.exposure_at(price);
        let entry = requested != 0.0
            && (portfolio.is_flat()
                || requested.signum() != current.signum()
                || requested.abs() > current.abs() + EXPOSURE_EPSILON);
        let mut var_95 = None;
        if entry {
            if let Some(reason) = self.entry_pause() {
                return refuse(reason);
            }
            if self.config.max_var_95 > 0.0 {
                match self.var_95() {
                    Some(var) => var_95 = Some(var),
                    None => {
                        return refuse(RefusalReason::VarWarmup {
                            lookback_bars: self.config.var_lookback,
                            returns: self.closes.len().saturating_sub(1) as u64,
                        });
                    }
                }
            }
        }
        if self.state == TradingState::Reducing {
            let shrinks = requested == 0.0
                || (requested.signum() == current.signum() && requested.abs() <= current.abs() + EXPOSURE_EPSILON);
            if !shrinks {
                return refuse(RefusalReason::ReducingOnly { current_exposure: current, requested });
            }
        }
        let limit = self.config.max_exposure;
        let (mut target, mut clipped) = if requested.abs() > limit {
            (limit.copysign(requested), Some(ClipReason::MaxExposure { limit, requested }))
        } else {
            (requested, None)
        };
        if clipped.is_some() && (target - current).abs() < EXPOSURE_EPSILON {
            return refuse(RefusalReason::MaxExposure { limit, requested });
        }
        if let Some(var_95) = var_95.filter(|&v| v > 0.0) {
            let limit = self.config.max_var_95;
            let cap = limit / var_95;
            if target.abs() > cap {
                // an addition to a position keeps what is held: the limit sizes entries only
                let same_side = !portfolio.is_flat() && current.signum() == target.signum();
                let floor = if same_side { current.abs() } else { 0.0 };
                target = cap.max(floor).copysign(target);
                clipped = Some(ClipReason::MaxVar { limit, var_95, requested });
                if (target - current).abs() < EXPOSURE_EPSILON {
                    return refuse(RefusalReason::MaxVar { limit, var_95, requested });
                }
            }
        }
        if let Some(limit) = self.config.max_order_notional {
            let notional = (target * equity / (1.0 + costs.fee_rate) - portfolio.quantity * price).abs();
            if notional > limit {
                return refuse(RefusalReason::MaxOrderNotional { limit, requested: notional });
            }
        }
        Ok(RiskApproved::new(TargetOrder { target_exposure: target, ..order }, clipped))
    }

    /// Why a new entry is refused now (cooldown, stop-loss guard, order-rate limit), if
    /// it is.
    fn entry_pause(&self) -> Option<RefusalReason> {
        let c = &self.config;
        if self.bars < self.cooldown_until {
            return Some(RefusalReason::Cooldown {
                limit: c.cooldown_bars,
                bars_left: self.cooldown_until - self.bars,
            });
        }
        if self.bars < self.guard_until {
            return Some(RefusalReason::StopLossGuard {
                stop_outs: c.stoploss_guard_trades,
                lookback_bars: c.stoploss_guard_lookback_bars,
                bars_left: self.guard_until - self.bars,
            });
        }
        if c.max_orders > 0 {
            let window_start = (self.bars + 1).saturating_sub(c.max_orders_window_bars);
            let orders = self.orders.iter().filter(|&&b| b >= window_start).count() as u64;
            if orders >= c.max_orders {
                return Some(RefusalReason::OrderRate {
                    limit: c.max_orders,
                    window_bars: c.max_orders_window_bars,
                    orders,
                });
            }
        }
        None
    }

    /// The traded asset's one-bar 95% historical VaR, a loss fraction of its price: the
    /// [`historical_var_es`] quantile of the last `var_lookback` close-to-close simple
    /// returns (`close[i] / close[i − 1] − 1`), the last close fed
    /// ([`Self::update_from_close`]) included. `None` while fewer returns were seen, or
    /// when the VaR limit is off.
    pub fn var_95(&self) -> Option<f64> {
        let lookback = self.config.lookback_bars();
        if lookback == 0 || self.closes.len() < lookback + 1 {
            return None;
        }
        let returns: Vec<f64> = self.closes.iter().zip(self.closes.iter().skip(1)).map(|(a, b)| b / a - 1.0).collect();
        Some(historical_var_es(&returns, 0.95).0)
    }

    /// Feeds the traded asset's close of one bar, in time order, once per bar: the
    /// warm-up bars before trading and every marked close (the decision at a close sees
    /// that close). Only the VaR limit reads them; while it is off nothing is kept.
    /// Closes that are not finite and > 0 are ignored (validated bars have none).
    #[inline]
    pub fn update_from_close(&mut self, close: f64) {
        let lookback = self.config.lookback_bars();
        if lookback == 0 || !(close.is_finite() && close > 0.0) {
            return;
        }
        while self.closes.len() > lookback {
            self.closes.pop_front();
        }
        self.closes.push_back(close);
    }

    /// Counts an approved signal order (decided at the current close) for the
    /// order-rate throttle.
    pub fn on_order_approved(&mut self) {
        if self.config.max_orders == 0 {
            return;
        }
        let window_start = (self.bars + 1).saturating_sub(self.config.max_orders_window_bars);
        self.orders.retain(|&b| b >= window_start);
        self.orders.push(self.bars);
    }

    /// A protective order closed the position inside the bar whose close is marked
    /// next: starts the cooldown, and counts a stop-out (stop-loss or trailing stop)
    /// for the stop-loss guard, which pauses entries once `stoploss_guard_trades`
    /// stop-outs fall within `stoploss_guard_lookback_bars` bars. Bars count closes: the
    /// exit's bar is the first bar of each pause.
    pub fn on_protective_exit(&mut self, reason: ExitReason) {
        let bar = self.bars + 1;
        let c = &self.config;
        if c.cooldown_bars > 0 {
            self.cooldown_until = self.cooldown_until.max(bar + c.cooldown_bars);
        }
        if c.stoploss_guard_trades > 0 && matches!(reason, ExitReason::StopLoss | ExitReason::TrailingStop) {
            let window_start = (bar + 1).saturating_sub(c.stoploss_guard_lookback_bars);
            self.stop_outs.retain(|&b| b >= window_start);
            self.stop_outs.push(bar);
            if self.stop_outs.len() as u64 >= c.stoploss_guard_trades {
                self.guard_until = self.guard_until.max(bar + c.stoploss_guard_pause_bars);
                self.stop_outs.clear();
            }
        }
    }

    /// Approves closing the position (target 0) in any state: the path of
    /// flatten-on-halt and of the kill switch's flatten. The order's target and purpose
    /// are overwritten with 0 and [`OrderPurpose::Liquidation`].
    pub fn approve_liquidation(&self, order: TargetOrder) -> RiskApproved<TargetOrder> {
        RiskApproved::new(TargetOrder { target_exposure: 0.0, purpose: OrderPurpose::Liquidation, ..order }, None)
    }

    /// Feeds the equity marked at a bar's close (one call per bar: it also advances the
    /// bar clock of the cooldown, guard and throttle). `time_ms` is the time of the mark (the
    /// bar's close time, ms since epoch UTC): a mark at 00:00 opens the new UTC day. The
    /// day's starting equity is the last equity marked on an earlier day. Trips the daily-loss
    /// halt (lifted when a new UTC day starts) and the drawdown halt (lifted only by
    /// [`Self::resume`]). Returns the state change, if any.
    #[inline]
    pub fn update_from_equity(&mut self, time_ms: i64, equity: f64) -> Option<StateChange> {
        let from = self.state;
        self.bars += 1;
        // most marks fall on the same day as the previous one: skip the division then
        let same_day = self.day.is_some_and(|d| time_ms >= d * MS_PER_DAY && time_ms < (d + 1) * MS_PER_DAY);
        let day = if same_day { self.day.unwrap_or_default() } else { time_ms.div_euclid(MS_PER_DAY) };
        if self.day != Some(day) {
            if self.day.is_some() {
                self.day_start_equity = self.last_equity;
            }
            self.day = Some(day);
            if matches!(self.halt_reason, Some(HaltReason::DailyLoss { .. })) {
                self.state = TradingState::Active;
                self.halt_reason = None;
            }
        }
        self.last_equity = equity;
        self.peak_equity = self.peak_equity.max(equity);
        if self.state != TradingState::Halted {
            if let Some(limit) = self.config.max_drawdown {
                let drawdown = 1.0 - equity / self.peak_equity;
                if drawdown > limit {
                    self.halt(HaltReason::MaxDrawdown { limit, drawdown });
                }
            }
        }
        if self.state != TradingState::Halted {
            if let Some(limit) = self.config.daily_loss_limit {
                let loss = 1.0 - equity / self.day_start_equity;
                if loss > limit {
                    self.halt(HaltReason::DailyLoss { limit, loss });
                }
            }
        }
        (self.state != from).then_some(StateChange { from, to: self.state, halt_reason: self.halt_reason })
    }

    /// Halts trading for `reason`.
    pub fn halt(&mut self, reason: HaltReason) {
        self.state = TradingState::Halted;
        self.halt_reason = Some(reason);
    }

    /// Puts trading in REDUCING (only orders that shrink the position), unless halted.
    pub fn set_reducing(&mut self) {
        if self.state == TradingState::Active {
            self.state = TradingState::Reducing;
        }
    }

    /// Lifts REDUCING or any halt: back to ACTIVE. The drawdown peak restarts at the
    /// last marked equity, so a drawdown halt does not trip again at once.
    pub fn resume(&mut self) {
        self.state = TradingState::Active;
        self.halt_reason = None;
        self.peak_equity = self.last_equity;
    }

    /// Engages the kill switch: every order is refused until released.
    pub fn engage_kill_switch(&mut self) {
        self.kill_switch = true;
    }

    /// Releases the kill switch.
    pub fn release_kill_switch(&mut self) {
        self.kill_switch = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ExecutionConfig;
    use crate::fill::Fill;
    use crate::order::Side;

    fn order(target: f64) -> TargetOrder {
        TargetOrder {
            id: 1,
            decided_at_ms: 0,
            target_exposure: target,
            reference_price: 100.0,
            purpose: OrderPurpose::Signal,
        }
    }

    fn costs() -> CostModel {
        CostModel::from_config(&ExecutionConfig { fee_bps: 0.0, slippage_bps: 0.0, ..ExecutionConfig::default() })
    }

    /// A portfolio of 10,000 equity holding `exposure` of it at price 100.
    fn portfolio(exposure: f64) -> Portfolio {
        let mut p = Portfolio::new(10_000.0);
        if exposure != 0.0 {
            let quantity = exposure.abs() * 100.0;
            let side = if exposure > 0.0 { Side::Buy } else { Side::Sell };
            p.update_from_fill(&Fill {
                order_id: 0,
                time_ms: 0,
                side,
                quantity,
                price: 100.0,
                reference_price: 100.0,
                fee: 0.0,
            });
        }
        p
    }

    fn manager(config: RiskConfig) -> RiskManager {
        RiskManager::new(config, 10_000.0).unwrap()
    }

    fn refusal(m: &RiskManager, target: f64, p: &Portfolio) -> RefusalReason {
        m.check(order(target), p, &costs()).unwrap_err().reason
    }

    #[test]
    fn default_limits_approve_long_orders_unclipped() {
        let m = manager(RiskConfig::default());
        for target in [0.0, 0.5, 1.0] {
            let approved = m.check(order(target), &portfolio(0.0), &costs()).unwrap();
            assert_eq!(approved.order().target_exposure, target);
            assert_eq!(approved.clipped(), None);
        }
    }

    #[test]
    fn max_exposure_clips_and_refuses_when_already_at_the_limit() {
        let m = manager(RiskConfig { max_exposure: 0.5, ..RiskConfig::default() });
        let approved = m.check(order(1.0), &portfolio(0.0), &costs()).unwrap();
        assert_eq!(approved.order().target_exposure, 0.5);
        assert_eq!(approved.clipped(), Some(ClipReason::MaxExposure { limit: 0.5, requested: 1.0 }));
        assert_eq!(refusal(&m, 1.0, &portfolio(0.5)), RefusalReason::MaxExposure { limit: 0.5, requested: 1.0 });
    }

    #[test]
    fn max_order_notional_refuses_large_orders() {
        let m = manager(RiskConfig { max_order_notional: Some(2_000.0), ..RiskConfig::default() });
        assert_eq!(
            refusal(&m, 1.0, &portfolio(0.0)),
            RefusalReason::MaxOrderNotional { limit: 2_000.0, requested: 10_000.0 }
        );
        assert!(m.check(order(0.2), &portfolio(0.0), &costs()).is_ok());
        assert!(m.check(order(1.0), &portfolio(0.9), &costs()).is_ok(), "a 1,000 top-up passes");
    }

    #[test]
    fn shorts_need_permission() {
        let m = manager(RiskConfig::default());
        assert_eq!(refusal(&m, -1.0, &portfolio(0.0)), RefusalReason::ShortNotAllowed { requested: -1.0 });
        let m = manager(RiskConfig { allow_short: true, ..RiskConfig::default() });
        assert_eq!(m.check(order(-1.0), &portfolio(0.0), &costs()).unwrap().order().target_exposure, -1.0);
    }

    #[test]
    fn reducing_lets_only_shrinking_orders_through() {
        let mut m = manager(RiskConfig { allow_short: true, ..RiskConfig::default() });
        m.set_reducing();
        assert_eq!(m.state(), TradingState::Reducing);
        let long = portfolio(1.0);
        assert!(m.check(order(0.5), &long, &costs()).is_ok());
        assert!(m.check(order(0.0), &long, &costs()).is_ok());
        assert_eq!(refusal(&m, -0.5, &long), RefusalReason::ReducingOnly { current_exposure: 1.0, requested: -0.5 });
        assert_eq!(
            refusal(&m, 0.5, &portfolio(0.0)),
            RefusalReason::ReducingOnly { current_exposure: 0.0, requested: 0.5 }
        );
        m.resume();
        assert!(m.check(order(0.5), &portfolio(0.0), &costs()).is_ok());
    }

    #[test]
    fn kill_switch_refuses_everything_but_liquidation() {
        let mut m = manager(RiskConfig::default());
        m.engage_kill_switch();
        assert_eq!((m.state(), m.effective_state()), (TradingState::Active, TradingState::Halted));
        assert_eq!(refusal(&m, 0.0, &portfolio(1.0)), RefusalReason::KillSwitch);
        let liquidation = m.approve_liquidation(order(1.0));
        assert_eq!(liquidation.order().target_exposure, 0.0);
        assert_eq!(liquidation.order().purpose, OrderPurpose::Liquidation);
        m.release_kill_switch();
        assert!(m.check(order(1.0), &portfolio(0.0), &costs()).is_ok());
    }

    #[test]
    fn drawdown_halts_until_resumed() {
        let mut m = manager(RiskConfig { max_drawdown: Some(0.2), ..RiskConfig::default() });
        assert_eq!(m.update_from_equity(0, 12_000.0), None);
        assert_eq!(m.update_from_equity(3_600_000, 9_700.0), None, "19.2% below the peak");
        let change = m.update_from_equity(7_200_000, 9_500.0).unwrap();
        assert_eq!(change.to, TradingState::Halted);
        let Some(HaltReason::MaxDrawdown { limit, drawdown }) = change.halt_reason else { panic!("{change:?}") };
        assert_eq!(limit, 0.2);
        assert!((drawdown - (1.0 - 9_500.0 / 12_000.0)).abs() < 1e-12);
        assert!(matches!(refusal(&m, 1.0, &portfolio(0.0)), RefusalReason::Halted { .. }));
        // a new day does not lift a drawdown halt
        assert_eq!(m.update_from_equity(2 * MS_PER_DAY, 9_500.0), None);
        m.resume();
        assert_eq!(m.state(), TradingState::Active);
        assert_eq!(m.update_from_equity(2 * MS_PER_DAY + 1, 9_400.0), None, "the peak restarts at resume");
    }

    #[test]
    fn daily_loss_halts_for_the_rest_of_the_utc_day() {
        let mut m = manager(RiskConfig { daily_loss_limit: Some(0.05), ..RiskConfig::default() });
        m.update_from_equity(MS_PER_DAY - 3_600_000, 10_000.0); // 23:00 of day 0
        m.update_from_equity(MS_PER_DAY, 11_000.0); // day 1 starts from 10,000 (last mark of day 0)
        assert_eq!(m.state(), TradingState::Active, "+10% is no loss");
        let change = m.update_from_equity(MS_PER_DAY + 3_600_000, 9_400.0).unwrap();
        assert_eq!(change.to, TradingState::Halted);
        assert!(matches!(change.halt_reason, Some(HaltReason::DailyLoss { limit, .. }) if limit == 0.05));
        assert_eq!(m.update_from_equity(MS_PER_DAY + 7_200_000, 9_800.0), None, "still halted the same day");
        let change = m.update_from_equity(2 * MS_PER_DAY, 9_800.0).unwrap();
        assert_eq!(change.to, TradingState::Active, "lifted on the next UTC day");
    }

    #[test]
    fn invalid_targets_and_configs_are_refused() {
        let m = manager(RiskConfig::default());
        assert!(matches!(refusal(&m, f64::NAN, &portfolio(0.0)), RefusalReason::InvalidTarget { .. }));
        for (config, field) in [
            (RiskConfig { max_exposure: 0.0, ..RiskConfig::default() }, "risk.max_exposure"),
            (RiskConfig { max_order_notional: Some(-1.0), ..RiskConfig::default() }, "risk.max_order_notional"),
            (RiskConfig { daily_loss_limit: Some(1.5), ..RiskConfig::default() }, "risk.daily_loss_limit"),
            (RiskConfig { max_drawdown: Some(0.0), ..RiskConfig::default() }, "risk.max_drawdown"),
            (RiskConfig { max_var_95: -0.01, ..RiskConfig::default() }, "risk.max_var_95"),
            (RiskConfig { max_var_95: f64::NAN, ..RiskConfig::default() }, "risk.max_var_95"),
            (RiskConfig { max_var_95: f64::INFINITY, ..RiskConfig::default() }, "risk.max_var_95"),
            (RiskConfig { max_var_95: 1.0, ..RiskConfig::default() }, "risk.max_var_95"),
            (RiskConfig { max_var_95: 0.02, var_lookback: 1, ..RiskConfig::default() }, "risk.var_lookback"),
        ] {
            let err = RiskManager::new(config, 1.0).unwrap_err().to_string();
            assert!(err.contains(field), "{err}");
        }
    }

    /// A VaR limit of 2% of equity over 40 returns (m = ⌈5% × 40⌉ = 2 worst), fed the
    /// closes of the returns `returns` from 100.
    fn var_manager(returns: &[f64], allow_short: bool) -> RiskManager {
        let config = RiskConfig { max_var_95: 0.02, var_lookback: 40, allow_short, ..RiskConfig::default() };
        let mut m = manager(config);
        let mut close = 100.0;
        m.update_from_close(close);
        for r in returns {
            close *= 1.0 + r;
            m.update_from_close(close);
        }
        m
    }

    /// 40 returns: the worst -8%, then -5%, the rest in [-1%, +2.7%].
    fn var_returns() -> Vec<f64> {
        let mut returns: Vec<f64> = (0..38).map(|i| (i as f64 - 10.0) / 1_000.0).collect();
        returns.insert(7, -0.08);
        returns.insert(21, -0.05);
        returns
    }

    #[test]
    fn the_var_limit_scales_new_entries_to_limit_over_var() {
        // by hand: the 2nd worst of the 40 returns is -5%, so VaR 95% = 0.05 and the
        // largest entry is 0.02 / 0.05 = 0.4 of equity
        let (var, cap) = (0.05, 0.4);
        let m = var_manager(&var_returns(), true);
        assert!((m.var_95().unwrap() - var).abs() < 1e-12, "{:?}", m.var_95());
        let clip = |requested: f64| ClipReason::MaxVar { limit: 0.02, var_95: m.var_95().unwrap(), requested };
        // (current exposure, requested target, approved target, clip)
        let cases = [
            ("an entry from flat", 0.0, 1.0, cap, Some(clip(1.0))),
            ("a short entry", 0.0, -0.8, -cap, Some(clip(-0.8))),
            ("an entry within the limit", 0.0, 0.3, 0.3, None),
            ("an addition up to the cap", 0.2, 1.0, cap, Some(clip(1.0))),
            ("a reversal", 0.6, -1.0, -cap, Some(clip(-1.0))),
            ("a reduction is no entry", 0.6, 0.5, 0.5, None),
            ("an exit", 0.6, 0.0, 0.0, None),
        ];
        for (name, current, requested, approved, clipped) in cases {
            let checked = m.check(order(requested), &portfolio(current), &costs()).unwrap();
            assert!((checked.order().target_exposure - approved).abs() < 1e-9, "{name}: {checked:?}");
            assert_eq!(checked.clipped(), clipped, "{name}");
        }
        // an addition the limit would cut below the position held: never a rebalance
        let refused = refusal(&m, 1.0, &portfolio(0.6));
        assert_eq!(refused, RefusalReason::MaxVar { limit: 0.02, var_95: m.var_95().unwrap(), requested: 1.0 });
        assert_eq!(refused.name(), "max_var");
    }

    #[test]
    fn the_var_limit_leaves_max_exposure_binding_and_skips_a_gaining_tail() {
        let config = RiskConfig { max_exposure: 0.3, max_var_95: 0.02, var_lookback: 40, ..RiskConfig::default() };
        let mut m = manager(config);
        let mut close = 100.0;
        m.update_from_close(close);
        for r in var_returns() {
            close *= 1.0 + r;
            m.update_from_close(close);
        }
        let checked = m.check(order(1.0), &portfolio(0.0), &costs()).unwrap();
        assert_eq!(checked.order().target_exposure, 0.3);
        assert_eq!(checked.clipped(), Some(ClipReason::MaxExposure { limit: 0.3, requested: 1.0 }));
        // every return a gain: VaR < 0, nothing to scale
        let gains = var_manager(&[0.01; 40], false);
        assert!(gains.var_95().unwrap() < 0.0);
        let checked = gains.check(order(1.0), &portfolio(0.0), &costs()).unwrap();
        assert_eq!((checked.order().target_exposure, checked.clipped()), (1.0, None));
    }

    #[test]
    fn the_var_limit_refuses_entries_until_its_lookback_is_filled_and_rolls() {
        let returns = var_returns();
        let m = var_manager(&returns[..39], false);
        assert_eq!(m.var_95(), None);
        assert_eq!(refusal(&m, 1.0, &portfolio(0.0)), RefusalReason::VarWarmup { lookback_bars: 40, returns: 39 });
        assert!(m.check(order(0.5), &portfolio(1.0), &costs()).is_ok(), "exits are never refused");
        // the window rolls: once the -8% and -5% returns are older than 40 returns, the
        // worst two of the window are the two newest -1% returns
        let mut m = var_manager(&returns, false);
        for _ in 0..40 {
            m.update_from_close(100.0 * 0.99);
            m.update_from_close(100.0);
        }
        let by_hand = 1.0 - 99.0 / 100.0;
        assert!((m.var_95().unwrap() - by_hand).abs() < 1e-12, "{:?}", m.var_95());
        // off: no history is kept, and nothing is refused or scaled
        let mut off = manager(RiskConfig::default());
        off.update_from_close(100.0);
        assert_eq!((off.var_95(), off.closes.len()), (None, 0));
        assert!(off.check(order(1.0), &portfolio(0.0), &costs()).unwrap().clipped().is_none());
    }
}
