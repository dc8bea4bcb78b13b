//! [`Account`]: the order lifecycle of one strategy's account, bar by bar — fill at
//! the open, the checks inside the bar, mark at the close, decide at the close.
//!
//! The one home of that sequence: the training environment, the backtest and the
//! serving daemon all drive an `Account`, so a replay through the daemon trades exactly
//! like a backtest. Time line of bar t+1, given a decision at bar t's close:
//!
//! 1. [`Account::step_bar`] with bar t+1, which in order:
//!    1. fills the order pending from t's close at t+1's open through the
//!       [`FillSimulator`] ([`FillSource::Simulator`]); in the daemon an exchange
//!       broker reports the fill instead, through [`Account::apply_fill`]
//!       ([`FillSource::Broker`]);
//!    2. applies the checks inside the bar, between its open, high, low and close
//!       (protective orders will live here; none today);
//!    3. marks t+1's close ([`Account::mark`]): borrow fees, equity, the risk state.
//! 2. [`Account::decide`] at t+1's close: flatten-on-halt, then the policy's target
//!    becomes a [`TargetOrder`] (only when it differs from the target asked for last
//!    time), checked by the [`RiskManager`]; an approved order is pending.

use serde::{Deserialize, Serialize};

use crate::bar::Bar;
use crate::error::Result;
use crate::fill::Fill;
use crate::order::{OrderPurpose, TargetOrder};
use crate::portfolio::{FillEffect, Portfolio};
use crate::risk::{RefusalReason, RiskApproved, RiskConfig, RiskManager, RiskRefused, StateChange, TradingState};
use crate::simulator::{FillOutcome, FillSimulator};
use crate::trades::TradeTracker;

/// What [`Account::decide`] did at one close.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Decision {
    /// A liquidation approved because trading is halted or the kill switch is engaged
    /// (with `flatten_on_halt`); it is now the pending order.
    pub liquidation: Option<TargetOrder>,
    /// The policy's new target as an order, approved (now pending, replacing a
    /// liquidation) or refused. `None` when the target equals the last one asked for.
    pub signal: Option<std::result::Result<RiskApproved<TargetOrder>, RiskRefused<TargetOrder>>>,
}

impl Decision {
    /// The refusal reason, when the signal was refused.
    pub fn refusal(&self) -> Option<RefusalReason> {
        match self.signal {
            Some(Err(refused)) => Some(refused.reason),
            _ => None,
        }
    }
}

/// What [`Account::mark`] did at one close.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Mark {
    /// Equity after the mark, quote currency.
    pub equity: f64,
    /// Borrow fee charged for a short held over the bar, quote currency (≥ 0).
    pub borrow_fee: f64,
    /// A trading-state change at this close (a halt, or a halt lifted).
    pub state_change: Option<StateChange>,
}

/// Who fills an account's pending order at the next open.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FillSource {
    /// The [`FillSimulator`] fills it inside [`Account::step_bar`] (backtest, training,
    /// paper trading).
    Simulator,
    /// An exchange broker reports the fill through [`Account::apply_fill`];
    /// [`Account::step_bar`] leaves the pending order alone.
    Broker,
}

/// What [`Account::step_bar`] did over one bar.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BarStep {
    /// The fill (or the reason for no fill) of the order pending from the previous
    /// close, at this bar's open; `None` when nothing was pending (or a broker fills).
    pub fill: Option<FillOutcome>,
    /// The mark at this bar's close.
    pub mark: Mark,
}

/// One strategy's account: portfolio, risk state, the pending order and the bookkeeping
/// the observation needs (bars in position). Plain data (serializable), so the daemon
/// can journal it and training can checkpoint it; the [`FillSimulator`] is passed in.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Account {
    /// Cash, position and cost totals.
    pub portfolio: Portfolio,
    /// Limits and trading state.
    pub risk: RiskManager,
    /// The approved order waiting for the next open.
    pub pending: Option<RiskApproved<TargetOrder>>,
    /// Target exposure of the last approved order (0 after a liquidation).
    pub current_target: f64,
    /// Target exposure the policy asked for last (approved or not).
    pub requested_target: f64,
    /// Closes marked since the position was opened or reversed (0 when flat).
    pub bars_in_position: u64,
    /// The next order id (sequence per account, from 0).
    pub next_order_id: u64,
    /// Round trips, when recorded.
    pub trades: Option<TradeTracker>,
    /// Signals the risk check refused.
    pub risk_refusals: u64,
}

impl Account {
    /// A flat account holding `initial_cash`, in state ACTIVE (or with the kill switch
    /// engaged if `risk.kill_switch`), not yet marked. `record_trades` keeps round trips.
    ///
    /// # Errors
    /// [`crate::Error::Config`] for invalid risk limits.
    pub fn new(initial_cash: f64, risk: RiskConfig, record_trades: bool) -> Result<Self> {
        Ok(Self {
            portfolio: Portfolio::new(initial_cash),
            risk: RiskManager::new(risk, initial_cash)?,
            pending: None,
            current_target: 0.0,
            requested_target: 0.0,
            bars_in_position: 0,
            next_order_id: 0,
            trades: record_trades.then(TradeTracker::new),
            risk_refusals: 0,
        })
    }

    /// Marks the starting close (`close` at `close_time_ms`, the bar's open time plus
    /// its interval) before the first decision: equity is the cash, the daily-loss day
    /// starts there.
    pub fn start(&mut self, close: f64, close_time_ms: i64, simulator: &FillSimulator) {
        self.portfolio.update_from_bar(close, close_time_ms, simulator.costs());
        let cash = self.portfolio.cash;
        self.risk.update_from_equity(close_time_ms, cash);
    }

    /// The decision at a close (bar open time `time_ms`, close price `close`):
    ///
    /// - halted or killed with `flatten_on_halt` and a position but no pending order: a
    ///   liquidation is approved and pending;
    /// - `target` (the policy's target exposure, `None` for no decision) becomes an order
    ///   only if it differs from the last target asked for; it is risk-checked, and an
    ///   approved one is pending (replacing a liquidation). A refused request is not
    ///   re-sent while the policy keeps asking for it.
    #[inline]
    pub fn decide(&mut self, target: Option<f64>, time_ms: i64, close: f64, simulator: &FillSimulator) -> Decision {
        let mut decision = Decision::default();
        let blocked = self.risk.kill_switch_engaged() || self.risk.state() == TradingState::Halted;
        if blocked && self.risk.config().flatten_on_halt && self.pending.is_none() {
            decision.liquidation = self.liquidate(time_ms, close);
        }
        if let Some(target) = target.filter(|t| t.to_bits() != self.requested_target.to_bits()) {
            self.requested_target = target;
            let order = self.order(time_ms, target, close, OrderPurpose::Signal);
            let checked = self.risk.check(order, &self.portfolio, simulator.costs());
            match checked {
                Ok(approved) => {
                    self.current_target = target;
                    self.pending = Some(approved);
                }
                Err(_) => self.risk_refusals += 1,
            }
            decision.signal = Some(checked);
        }
        decision
    }

    /// The kill switch's flatten: a liquidation approved in any state, replacing any
    /// pending order. `None` when flat.
    pub fn liquidate(&mut self, time_ms: i64, close: f64) -> Option<TargetOrder> {
        if self.portfolio.is_flat() {
            return None;
        }
        let order = self.order(time_ms, 0.0, close, OrderPurpose::Liquidation);
        self.pending = Some(self.risk.approve_liquidation(order));
        self.current_target = 0.0;
        Some(order)
    }

    /// Cancels the pending order, returning it.
    pub fn cancel_pending(&mut self) -> Option<RiskApproved<TargetOrder>> {
        self.pending.take()
    }

    /// Fills the pending order, if any, at `open` (the next bar's open price) and
    /// `time_ms` (that bar's open time) through `simulator`.
    ///
    /// # Errors
    /// [`crate::Error::InvalidPrice`] when `open` is not finite and > 0.
    #[inline]
    pub fn fill_pending(&mut self, open: f64, time_ms: i64, simulator: &FillSimulator) -> Result<Option<FillOutcome>> {
        let Some(order) = self.pending.take() else { return Ok(None) };
        let outcome = simulator.fill(order, &mut self.portfolio, open, time_ms)?;
        if let FillOutcome::Filled { fill, effect } = &outcome {
            self.after_fill(fill, effect);
        }
        Ok(Some(outcome))
    }

    /// Applies a fill reported by a broker (not the simulator) to the portfolio and the
    /// round-trip bookkeeping; clears the pending order it belongs to.
    pub fn apply_fill(&mut self, fill: &Fill) -> FillEffect {
        if self.pending.is_some_and(|p| p.order().id == fill.order_id) {
            self.pending = None;
        }
        let effect = self.portfolio.update_from_fill(fill);
        self.after_fill(fill, &effect);
        effect
    }

    #[inline]
    fn after_fill(&mut self, fill: &Fill, effect: &FillEffect) {
        if let Some(trades) = self.trades.as_mut() {
            trades.on_fill(fill, effect, self.portfolio.quantity);
        }
        if effect.opened_quantity > 0.0 && effect.closed_quantity > 0.0 || self.portfolio.is_flat() {
            self.bars_in_position = 0;
        }
    }

    /// One bar of the account's life, in the one order every driver uses (training env,
    /// backtest, daemon): (1) the order pending from the previous close fills at
    /// `bar.open` (bar open time `bar.time_ms`) when `fills` is
    /// [`FillSource::Simulator`]; (2) the checks inside the bar (protective orders, to
    /// come, between `bar.open`, `bar.high`, `bar.low` and `bar.close`); (3) the mark at
    /// `bar.close`, at close time `bar.time_ms + interval_ms`. The decision at the close
    /// is [`Self::decide`], after the caller's policy has seen the bar.
    ///
    /// # Errors
    /// [`crate::Error::InvalidPrice`] when `bar.open` is not finite and > 0 and an order
    /// was pending.
    #[inline]
    pub fn step_bar(
        &mut self,
        bar: &Bar,
        interval_ms: i64,
        simulator: &FillSimulator,
        fills: FillSource,
    ) -> Result<BarStep> {
        let fill = match fills {
            FillSource::Simulator => self.fill_pending(bar.open, bar.time_ms, simulator)?,
            FillSource::Broker => None,
        };
        // the checks inside the bar (protective orders) go here, before the mark
        let mark = self.mark(bar.close, bar.time_ms + interval_ms, simulator);
        Ok(BarStep { fill, mark })
    }

    /// Marks the close `close` at `close_time_ms`: borrow fees for a short, equity, the
    /// risk state (drawdown and daily-loss halts), and the bars-in-position count.
    #[inline]
    pub fn mark(&mut self, close: f64, close_time_ms: i64, simulator: &FillSimulator) -> Mark {
        let borrow_fee = self.portfolio.update_from_bar(close, close_time_ms, simulator.costs());
        if borrow_fee > 0.0 {
            if let Some(trades) = self.trades.as_mut() {
                trades.on_borrow_fee(borrow_fee);
            }
        }
        let equity = self.portfolio.equity();
        let state_change = self.risk.update_from_equity(close_time_ms, equity);
        self.bars_in_position = if self.portfolio.is_flat() { 0 } else { self.bars_in_position + 1 };
        Mark { equity, borrow_fee, state_change }
    }

    fn order(&mut self, time_ms: i64, target: f64, close: f64, purpose: OrderPurpose) -> TargetOrder {
        let order = TargetOrder {
            id: self.next_order_id,
            decided_at_ms: time_ms,
            target_exposure: target,
            reference_price: close,
            purpose,
        };
        self.next_order_id += 1;
        order
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ExecutionConfig;

    fn setup() -> (Account, FillSimulator) {
        let execution = ExecutionConfig { fee_bps: 10.0, slippage_bps: 5.0, ..ExecutionConfig::default() };
        let simulator = FillSimulator::new(&execution).unwrap();
        (Account::new(execution.initial_cash, RiskConfig::default(), true).unwrap(), simulator)
    }

    #[test]
    fn decide_fill_mark_follows_the_bar_timeline() {
        let (mut account, sim) = setup();
        account.start(100.0, 3_600_000, &sim);
        let decision = account.decide(Some(1.0), 0, 100.0, &sim);
        assert!(matches!(decision.signal, Some(Ok(_))));
        assert!(account.pending.is_some());
        // the same target again sends nothing
        assert_eq!(account.decide(Some(1.0), 0, 100.0, &sim), Decision::default());
        let outcome = account.fill_pending(101.0, 3_600_000, &sim).unwrap();
        assert!(matches!(outcome, Some(FillOutcome::Filled { .. })));
        assert!(account.pending.is_none());
        let mark = account.mark(102.0, 7_200_000, &sim);
        assert!(mark.equity > 9_900.0 && mark.equity < 10_200.0, "{mark:?}");
        assert_eq!(account.bars_in_position, 1);
        assert_eq!(account.trades.as_ref().unwrap().closed().len(), 0);
    }

    #[test]
    fn step_bar_fills_at_the_open_then_marks_the_close() {
        let (mut account, sim) = setup();
        account.start(100.0, 3_600_000, &sim);
        account.decide(Some(1.0), 0, 100.0, &sim);
        let bar = Bar { time_ms: 3_600_000, open: 101.0, high: 104.0, low: 99.0, close: 102.0, volume: 1.0 };
        // a broker fills: the pending order stays for it
        let mut by_broker = account.clone();
        let step = by_broker.step_bar(&bar, 3_600_000, &sim, FillSource::Broker).unwrap();
        assert!(step.fill.is_none() && by_broker.pending.is_some() && by_broker.portfolio.is_flat());
        // the simulator fills: the same as fill_pending then mark, by hand
        let mut by_hand = account.clone();
        let fill = by_hand.fill_pending(bar.open, bar.time_ms, &sim).unwrap();
        let mark = by_hand.mark(bar.close, bar.time_ms + 3_600_000, &sim);
        let step = account.step_bar(&bar, 3_600_000, &sim, FillSource::Simulator).unwrap();
        assert_eq!(step, BarStep { fill, mark });
        assert_eq!(account, by_hand);
        assert!(matches!(step.fill, Some(FillOutcome::Filled { .. })));
    }

    #[test]
    fn kill_switch_refuses_and_liquidate_flattens() {
        let (mut account, sim) = setup();
        account.start(100.0, 3_600_000, &sim);
        account.decide(Some(1.0), 0, 100.0, &sim);
        account.fill_pending(100.0, 3_600_000, &sim).unwrap();
        account.mark(100.0, 7_200_000, &sim);
        account.risk.engage_kill_switch();
        let decision = account.decide(Some(0.5), 3_600_000, 100.0, &sim);
        assert!(matches!(decision.refusal(), Some(RefusalReason::KillSwitch)));
        // flatten_on_halt (default true) queued a liquidation
        assert_eq!(decision.liquidation.map(|o| o.purpose), Some(OrderPurpose::Liquidation));
        account.fill_pending(100.0, 7_200_000, &sim).unwrap();
        assert!(account.portfolio.is_flat());
        assert!(account.liquidate(0, 100.0).is_none());
    }

    #[test]
    fn serde_round_trip_keeps_the_pending_order() {
        let (mut account, sim) = setup();
        account.start(100.0, 3_600_000, &sim);
        account.decide(Some(1.0), 0, 100.0, &sim);
        let json = serde_json::to_string(&account).unwrap();
        let back: Account = serde_json::from_str(&json).unwrap();
        assert_eq!(back, account);
    }
}
