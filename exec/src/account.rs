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
//!    2. applies the checks inside the bar, between its open, high, low and close: the
//!       protective orders of [`crate::protect`] (time stop at the open, then stop and
//!       take-profit against the low and the high); with simulated fills only;
//!    3. marks t+1's close ([`Account::mark`]): borrow fees, equity, the risk state;
//!       the trailing stop ratchets at the close.
//! 2. [`Account::decide`] at t+1's close: flatten-on-halt, then the policy's target
//!    becomes a [`TargetOrder`] (only when it differs from the target asked for last
//!    time), checked by the [`RiskManager`]; an approved order is pending.

use serde::{Deserialize, Serialize};

use crate::bar::Bar;
use crate::error::Result;
use crate::fill::Fill;
use crate::order::{OrderPurpose, TargetOrder};
use crate::portfolio::{FillEffect, Portfolio};
use crate::protect::{ExitReason, ProtectConfig, ProtectiveExit, ProtectiveLevels};
use crate::risk::{
    ClipReason, RefusalReason, RiskApproved, RiskConfig, RiskManager, RiskRefused, StateChange, TradingState,
};
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
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct BarStep {
    /// The fill (or the reason for no fill) of the order pending from the previous
    /// close, at this bar's open; `None` when nothing was pending (or a broker fills).
    pub fill: Option<FillOutcome>,
    /// A protective order (stop, take-profit, trailing or time stop) that closed the
    /// position inside this bar.
    pub protective: Option<ProtectiveExit>,
    /// Why a position was closed in this bar (by the pending order at the open or by a
    /// protective order); `None` when no position was closed.
    pub exit_reason: Option<ExitReason>,
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
    /// Entries the VaR limit (`risk.max_var_95`) scaled down: approved signals clipped
    /// with [`ClipReason::MaxVar`] (0 in accounts journaled before it existed).
    #[serde(default)]
    pub var_scaled_entries: u64,
    /// Protective-order settings (all off by default, and in accounts journaled before
    /// they existed).
    #[serde(default)]
    pub protect: ProtectConfig,
    /// The open position's protective levels (`None` when flat or when protection is off).
    #[serde(default)]
    pub levels: Option<ProtectiveLevels>,
}

/// What one fill did to the account's position, beyond the portfolio.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Settled {
    /// The fill closed (or reversed) the position, for this reason.
    closed: Option<ExitReason>,
    /// The fill opened a position from flat or reversed it: new protective levels.
    entered: bool,
}

impl Account {
    /// A flat account holding `initial_cash`, in state ACTIVE (or with the kill switch
    /// engaged if `risk.kill_switch`), not yet marked, with the protective orders of
    /// `protect`. `record_trades` keeps round trips.
    ///
    /// # Errors
    /// [`crate::Error::Config`] for invalid risk limits or protective settings.
    pub fn new(initial_cash: f64, risk: RiskConfig, protect: ProtectConfig, record_trades: bool) -> Result<Self> {
        protect.validate()?;
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
            var_scaled_entries: 0,
            protect,
            levels: None,
        })
    }

    /// A bar before the account's first (a warm-up bar): only the risk check's price
    /// history sees its `close` ([`RiskManager::update_from_close`], the VaR limit's
    /// lookback).
    #[inline]
    pub fn warm(&mut self, close: f64) {
        self.risk.update_from_close(close);
    }

    /// Marks the starting close (`close` at `close_time_ms`, the bar's open time plus
    /// its interval) before the first decision: equity is the cash, the daily-loss day
    /// starts there.
    pub fn start(&mut self, close: f64, close_time_ms: i64, simulator: &FillSimulator) {
        self.risk.update_from_close(close);
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
        let blocked = self.risk.effective_state() == TradingState::Halted;
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
                    self.risk.on_order_approved();
                    if matches!(approved.clipped(), Some(ClipReason::MaxVar { .. })) {
                        self.var_scaled_entries += 1;
                    }
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
        Ok(self.fill_pending_settled(open, time_ms, simulator)?.0)
    }

    #[inline]
    fn fill_pending_settled(
        &mut self,
        open: f64,
        time_ms: i64,
        simulator: &FillSimulator,
    ) -> Result<(Option<FillOutcome>, Settled)> {
        let Some(order) = self.pending.take() else { return Ok((None, Settled::default())) };
        let was_flat = self.portfolio.is_flat();
        let outcome = simulator.fill(order, &mut self.portfolio, open, time_ms)?;
        let mut settled = Settled::default();
        if let FillOutcome::Filled { fill, effect } = &outcome {
            settled = self.after_fill(fill, effect, was_flat, exit_reason_of(order.order().purpose));
        }
        Ok((Some(outcome), settled))
    }

    /// Applies a fill reported by a broker (not the simulator) to the portfolio and the
    /// round-trip bookkeeping; clears the pending order it belongs to. A fill that
    /// closes the position is recorded with the pending order's reason
    /// ([`ExitReason::RiskLiquidation`] for a liquidation, else [`ExitReason::Signal`]).
    pub fn apply_fill(&mut self, fill: &Fill) -> FillEffect {
        let mut reason = ExitReason::Signal;
        if let Some(pending) = self.pending.filter(|p| p.order().id == fill.order_id) {
            reason = exit_reason_of(pending.order().purpose);
            self.pending = None;
        }
        let was_flat = self.portfolio.is_flat();
        let effect = self.portfolio.update_from_fill(fill);
        self.after_fill(fill, &effect, was_flat, reason);
        effect
    }

    /// Applies the execution of a protective order held by an exchange (a leg of an OCO
    /// list) as [`Self::step_bar`] applies a simulated one: the fill takes the next order
    /// id, closes (part of) the position with `reason`, the protective levels end with a
    /// flat position, the target becomes 0 and the risk layer counts the exit (the
    /// stop-loss guard). `side` is the leg's (a long's protection sells), `quantity` in
    /// base units, `price` the execution's average price and `fee` its fee in the quote
    /// currency; `reference_price` is the level the leg was placed at. The protection
    /// ends even when the exchange's lot step left dust of the position: the next
    /// opening fill sets new levels.
    #[allow(clippy::too_many_arguments, reason = "the fields of one exchange execution")]
    pub fn apply_protective_fill(
        &mut self,
        reason: ExitReason,
        side: crate::order::Side,
        quantity: f64,
        price: f64,
        fee: f64,
        reference_price: f64,
        time_ms: i64,
    ) -> ProtectiveExit {
        let fill = Fill { order_id: self.next_order_id, time_ms, side, quantity, price, reference_price, fee };
        self.next_order_id += 1;
        let effect = self.portfolio.update_from_fill(&fill);
        self.after_fill(&fill, &effect, false, reason);
        self.levels = None;
        self.current_target = 0.0;
        self.risk.on_protective_exit(reason);
        ProtectiveExit { reason, fill, effect }
    }

    #[inline]
    fn after_fill(&mut self, fill: &Fill, effect: &FillEffect, was_flat: bool, reason: ExitReason) -> Settled {
        if let Some(trades) = self.trades.as_mut() {
            trades.on_fill(fill, effect, self.portfolio.quantity, reason);
        }
        let reversed = effect.opened_quantity > 0.0 && effect.closed_quantity > 0.0;
        let flat = self.portfolio.is_flat();
        if reversed || flat {
            self.bars_in_position = 0;
        }
        // an entry: from flat, a reversal, or a position grown while unprotected (the dust
        // an exchange's protective exit left under its lot step)
        let unprotected = self.levels.is_none() && !self.protect.is_off();
        let entered = !flat && (reversed || ((was_flat || unprotected) && effect.opened_quantity > 0.0));
        if flat {
            self.levels = None;
        } else if entered && !self.protect.is_off() {
            self.levels = Some(ProtectiveLevels::new(&self.protect, self.portfolio.quantity.signum(), fill.price));
        }
        let closed = (effect.closed_quantity > 0.0 && (flat || reversed)).then_some(reason);
        Settled { closed, entered }
    }

    /// The protective orders inside `bar`, after the open's fill (`entered`: that fill
    /// opened or reversed the position, so the open is the entry's fill price): the
    /// time stop at the open, else the stop and the take-profit against the bar's low
    /// and high ([`ProtectiveLevels::check`]). A triggered order closes the whole
    /// position through [`FillSimulator::fill_exit`]; the strategy's requested target is
    /// left as it was, so it re-enters only when it asks for another target.
    #[inline]
    fn check_protective(
        &mut self,
        bar: &Bar,
        entered: bool,
        simulator: &FillSimulator,
    ) -> Result<Option<ProtectiveExit>> {
        let Some(levels) = self.levels else { return Ok(None) };
        let max_holding = self.protect.max_holding_bars;
        let (reason, price, slipped) = if max_holding > 0 && self.bars_in_position >= max_holding {
            (ExitReason::MaxHolding, bar.open, true)
        } else {
            let open = if entered { levels.entry_price } else { bar.open };
            match levels.check(open, bar.high, bar.low) {
                Some((reason, price)) => (reason, price, reason != ExitReason::TakeProfit),
                None => return Ok(None),
            }
        };
        let id = self.next_order_id;
        let Some((fill, effect)) = simulator.fill_exit(id, &mut self.portfolio, price, bar.time_ms, slipped)? else {
            self.levels = None;
            return Ok(None);
        };
        self.next_order_id += 1;
        self.after_fill(&fill, &effect, false, reason);
        self.current_target = 0.0;
        self.risk.on_protective_exit(reason);
        Ok(Some(ProtectiveExit { reason, fill, effect }))
    }

    /// One bar of the account's life, in the one order every driver uses (training env,
    /// backtest, daemon): (1) the order pending from the previous close fills at
    /// `bar.open` (bar open time `bar.time_ms`) when `fills` is
    /// [`FillSource::Simulator`]; (2) the checks inside the bar: the protective orders
    /// of [`crate::protect`] against `bar.open`, `bar.high` and `bar.low`, filled at the
    /// bar's open time (simulated fills only: with [`FillSource::Broker`] the exchange
    /// would have to hold them, which is not supported); (3) the mark at `bar.close`, at
    /// close time `bar.time_ms + interval_ms`, and the trailing stop's ratchet at that
    /// close. The decision at the close is [`Self::decide`], after the caller's policy
    /// has seen the bar.
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
        let (fill, settled) = match fills {
            FillSource::Simulator => self.fill_pending_settled(bar.open, bar.time_ms, simulator)?,
            FillSource::Broker => (None, Settled::default()),
        };
        let protective = match fills {
            FillSource::Simulator => self.check_protective(bar, settled.entered, simulator)?,
            FillSource::Broker => None,
        };
        let exit_reason = protective.map(|p| p.reason).or(settled.closed);
        let mark = self.mark(bar.close, bar.time_ms + interval_ms, simulator);
        if let Some(levels) = self.levels.as_mut() {
            levels.trail(bar.close, self.protect.trailing_stop);
        }
        Ok(BarStep { fill, protective, exit_reason, mark })
    }

    /// Marks the close `close` at `close_time_ms`: borrow fees for a short, equity, the
    /// risk state (drawdown and daily-loss halts, the VaR limit's price history), and the
    /// bars-in-position count.
    #[inline]
    pub fn mark(&mut self, close: f64, close_time_ms: i64, simulator: &FillSimulator) -> Mark {
        self.risk.update_from_close(close);
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
        // (protective orders take their ids from the same sequence, in check_protective)
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

/// The reason recorded when an order of `purpose` closes a position.
fn exit_reason_of(purpose: OrderPurpose) -> ExitReason {
    match purpose {
        OrderPurpose::Signal => ExitReason::Signal,
        OrderPurpose::Liquidation => ExitReason::RiskLiquidation,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ExecutionConfig;

    fn setup() -> (Account, FillSimulator) {
        let execution = ExecutionConfig { fee_bps: 10.0, slippage_bps: 5.0, ..ExecutionConfig::default() };
        let simulator = FillSimulator::new(&execution).unwrap();
        (
            Account::new(execution.initial_cash, RiskConfig::default(), ProtectConfig::default(), true).unwrap(),
            simulator,
        )
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
        assert_eq!(step, BarStep { fill, protective: None, exit_reason: None, mark });
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

    const HOUR: i64 = 3_600_000;

    fn protected(protect: ProtectConfig, allow_short: bool) -> (Account, FillSimulator) {
        let execution = ExecutionConfig { fee_bps: 10.0, slippage_bps: 5.0, ..ExecutionConfig::default() };
        let simulator = FillSimulator::new(&execution).unwrap();
        let risk = RiskConfig { allow_short, ..RiskConfig::default() };
        (Account::new(execution.initial_cash, risk, protect, true).unwrap(), simulator)
    }

    fn ohlc(i: i64, open: f64, high: f64, low: f64, close: f64) -> Bar {
        Bar { time_ms: i * HOUR, open, high, low, close, volume: 1.0 }
    }

    /// Enters `target` at bar 1's open (decided at bar 0's close of 100) and steps bar 1.
    fn enter(account: &mut Account, sim: &FillSimulator, target: f64, bar1: Bar) -> BarStep {
        account.start(100.0, HOUR, sim);
        assert!(matches!(account.decide(Some(target), 0, 100.0, sim).signal, Some(Ok(_))));
        account.step_bar(&bar1, HOUR, sim, FillSource::Simulator).unwrap()
    }

    #[test]
    fn a_stop_in_the_entry_bar_fills_at_the_level_with_slippage_and_fee() {
        let (mut account, sim) = protected(ProtectConfig { stop_loss: 0.25, ..ProtectConfig::default() }, false);
        let step = enter(&mut account, &sim, 1.0, ohlc(1, 100.0, 101.0, 70.0, 90.0));
        let Some(FillOutcome::Filled { fill: entry, .. }) = step.fill else { panic!("{step:?}") };
        let exit = step.protective.expect("the entry bar's low is under the stop");
        let stop = entry.price * 0.75;
        assert_eq!(exit.reason, ExitReason::StopLoss);
        assert_eq!(exit.fill.reference_price, stop, "in the entry bar the open is the entry price");
        assert!((exit.fill.price - stop * (1.0 - 5e-4)).abs() < 1e-9, "a stop pays slippage");
        assert!((exit.fill.fee - exit.fill.price * exit.fill.quantity * 1e-3).abs() < 1e-9);
        assert_eq!(step.exit_reason, Some(ExitReason::StopLoss));
        assert!(account.portfolio.is_flat() && account.levels.is_none());
        assert_eq!(account.current_target, 0.0);
        let trade = account.trades.as_ref().unwrap().closed()[0];
        assert_eq!((trade.exit_reason, trade.exit_time_ms), (Some(ExitReason::StopLoss), Some(HOUR)));
        // re-entry: the strategy still asks for 1.0, so nothing is sent; flat then long re-enters
        assert_eq!(account.decide(Some(1.0), HOUR, 90.0, &sim), Decision::default());
        assert!(account.decide(Some(0.0), HOUR, 90.0, &sim).signal.is_some());
        assert!(matches!(account.decide(Some(1.0), HOUR, 90.0, &sim).signal, Some(Ok(_))));
    }

    #[test]
    fn a_protective_fill_from_an_exchange_closes_the_position_as_a_simulated_one() {
        let protect = ProtectConfig { stop_loss: 0.25, take_profit: 0.5, ..ProtectConfig::default() };
        let (mut account, sim) = protected(protect, false);
        account.start(100.0, HOUR, &sim);
        let order = account.decide(Some(1.0), 0, 100.0, &sim).signal.unwrap().unwrap();
        let id = order.order().id;
        let quantity = 10_000.0 / 100.0 / 1.001;
        let entry = Fill {
            order_id: id,
            time_ms: HOUR,
            side: crate::order::Side::Buy,
            quantity,
            price: 100.0,
            reference_price: 100.0,
            fee: 0.1 * quantity,
        };
        account.apply_fill(&entry);
        let levels = account.levels.expect("a broker's entry sets the levels too");
        assert_eq!((levels.stop, levels.take_profit), (Some(75.0), Some(150.0)));
        let exit = account.apply_protective_fill(
            ExitReason::TakeProfit,
            crate::order::Side::Sell,
            quantity,
            150.0,
            1.5,
            150.0,
            5 * HOUR,
        );
        assert_eq!((exit.fill.order_id, exit.fill.side), (id + 1, crate::order::Side::Sell));
        assert!(account.portfolio.is_flat() && account.levels.is_none());
        assert_eq!((account.current_target, account.next_order_id), (0.0, id + 2));
        let trade = account.trades.as_ref().unwrap().closed()[0];
        assert_eq!((trade.exit_reason, trade.exit_time_ms), (Some(ExitReason::TakeProfit), Some(5 * HOUR)));
    }

    #[test]
    fn a_gap_through_the_stop_fills_at_the_open_and_a_take_profit_pays_no_slippage() {
        let protect = ProtectConfig { stop_loss: 0.25, take_profit: 0.5, ..ProtectConfig::default() };
        let (mut gap, sim) = protected(protect, false);
        let step = enter(&mut gap, &sim, 1.0, ohlc(1, 100.0, 101.0, 99.0, 100.0));
        assert!(step.protective.is_none());
        let step = gap.step_bar(&ohlc(2, 60.0, 61.0, 59.0, 60.0), HOUR, &sim, FillSource::Simulator).unwrap();
        let exit = step.protective.unwrap();
        assert_eq!((exit.reason, exit.fill.reference_price), (ExitReason::StopLoss, 60.0));
        assert!((exit.fill.price - 60.0 * (1.0 - 5e-4)).abs() < 1e-9);

        let (mut tp, sim) = protected(protect, false);
        let step = enter(&mut tp, &sim, 1.0, ohlc(1, 100.0, 101.0, 99.0, 100.0));
        let Some(FillOutcome::Filled { fill: entry, .. }) = step.fill else { panic!() };
        let step = tp.step_bar(&ohlc(2, 101.0, 200.0, 100.0, 120.0), HOUR, &sim, FillSource::Simulator).unwrap();
        let exit = step.protective.unwrap();
        assert_eq!(exit.reason, ExitReason::TakeProfit);
        assert_eq!(exit.fill.price, entry.price * 1.5, "a limit order: no slippage");
        assert!(exit.fill.fee > 0.0);

        // both touched in one bar: the stop
        let (mut both, sim) = protected(protect, false);
        enter(&mut both, &sim, 1.0, ohlc(1, 100.0, 101.0, 99.0, 100.0));
        let step = both.step_bar(&ohlc(2, 100.0, 200.0, 50.0, 100.0), HOUR, &sim, FillSource::Simulator).unwrap();
        assert_eq!(step.exit_reason, Some(ExitReason::StopLoss));
    }

    #[test]
    fn the_trailing_stop_ratchets_at_closes_and_is_checked_from_the_next_bar() {
        let protect = ProtectConfig { trailing_stop: 0.25, ..ProtectConfig::default() };
        let (mut account, sim) = protected(protect, false);
        // the entry bar closes at 160: the level moves to 120 at that close, not inside the bar
        let step = enter(&mut account, &sim, 1.0, ohlc(1, 100.0, 160.0, 100.0, 160.0));
        assert!(step.protective.is_none());
        assert_eq!(account.levels.unwrap().stop, Some(120.0));
        let step = account.step_bar(&ohlc(2, 150.0, 151.0, 119.0, 125.0), HOUR, &sim, FillSource::Simulator).unwrap();
        let exit = step.protective.unwrap();
        assert_eq!((exit.reason, exit.fill.reference_price), (ExitReason::TrailingStop, 120.0));
    }

    #[test]
    fn shorts_mirror_and_the_time_stop_closes_at_the_open_after_n_bars() {
        let protect = ProtectConfig { stop_loss: 0.25, max_holding_bars: 2, ..ProtectConfig::default() };
        let (mut short, sim) = protected(protect, true);
        let step = enter(&mut short, &sim, -1.0, ohlc(1, 100.0, 101.0, 99.0, 100.0));
        let Some(FillOutcome::Filled { fill: entry, .. }) = step.fill else { panic!() };
        assert_eq!(short.levels.unwrap().stop, Some(entry.price * 1.25));
        let step = short.step_bar(&ohlc(2, 100.0, 130.0, 99.0, 100.0), HOUR, &sim, FillSource::Simulator).unwrap();
        let exit = step.protective.unwrap();
        assert_eq!((exit.reason, exit.fill.side), (ExitReason::StopLoss, crate::order::Side::Buy));
        assert!((exit.fill.price - entry.price * 1.25 * (1.0 + 5e-4)).abs() < 1e-9);

        let (mut held, sim) = protected(protect, false);
        enter(&mut held, &sim, 1.0, ohlc(1, 100.0, 101.0, 99.0, 100.0));
        let step = held.step_bar(&ohlc(2, 100.0, 101.0, 99.0, 100.0), HOUR, &sim, FillSource::Simulator).unwrap();
        assert!(step.protective.is_none() && held.bars_in_position == 2);
        let step = held.step_bar(&ohlc(3, 104.0, 105.0, 99.0, 100.0), HOUR, &sim, FillSource::Simulator).unwrap();
        let exit = step.protective.unwrap();
        assert_eq!((exit.reason, exit.fill.reference_price), (ExitReason::MaxHolding, 104.0));
        assert!(held.portfolio.is_flat());
    }

    #[test]
    fn protection_off_checks_nothing_and_bad_settings_name_the_field() {
        let (mut off, sim) = protected(ProtectConfig::default(), false);
        let step = enter(&mut off, &sim, 1.0, ohlc(1, 100.0, 101.0, 1.0, 100.0));
        assert!(step.protective.is_none() && off.levels.is_none());
        let err = Account::new(
            1.0,
            RiskConfig::default(),
            ProtectConfig { take_profit: -0.1, ..ProtectConfig::default() },
            false,
        )
        .unwrap_err();
        assert!(err.to_string().contains("protect.take_profit"), "{err}");
    }

    fn with_risk(protect: ProtectConfig, risk: RiskConfig) -> (Account, FillSimulator) {
        let execution = ExecutionConfig { fee_bps: 10.0, slippage_bps: 5.0, ..ExecutionConfig::default() };
        let simulator = FillSimulator::new(&execution).unwrap();
        (Account::new(execution.initial_cash, risk, protect, true).unwrap(), simulator)
    }

    /// Asks for flat, then for `target`, at a close: the second request's refusal.
    fn reenter(account: &mut Account, sim: &FillSimulator, target: f64) -> Option<RefusalReason> {
        account.decide(Some(0.0), 0, 100.0, sim);
        account.decide(Some(target), 0, 100.0, sim).refusal()
    }

    #[test]
    fn the_cooldown_refuses_entries_for_n_bars_after_a_protective_exit() {
        let stop = ProtectConfig { stop_loss: 0.25, ..ProtectConfig::default() };
        let (mut account, sim) = with_risk(stop, RiskConfig { cooldown_bars: 2, ..RiskConfig::default() });
        let step = enter(&mut account, &sim, 1.0, ohlc(1, 100.0, 101.0, 70.0, 90.0));
        assert_eq!(step.exit_reason, Some(ExitReason::StopLoss));
        // the exit's bar and the next one: refused, typed, counted
        assert_eq!(reenter(&mut account, &sim, 1.0), Some(RefusalReason::Cooldown { limit: 2, bars_left: 2 }));
        account.step_bar(&ohlc(2, 90.0, 91.0, 89.0, 90.0), HOUR, &sim, FillSource::Simulator).unwrap();
        assert_eq!(reenter(&mut account, &sim, 1.0), Some(RefusalReason::Cooldown { limit: 2, bars_left: 1 }));
        assert_eq!(account.risk_refusals, 2);
        account.step_bar(&ohlc(3, 90.0, 91.0, 89.0, 90.0), HOUR, &sim, FillSource::Simulator).unwrap();
        assert_eq!(reenter(&mut account, &sim, 1.0), None);
        assert!(account.pending.is_some());
    }

    #[test]
    fn the_stoploss_guard_pauses_entries_after_k_stop_outs_within_l_bars() {
        let stop = ProtectConfig { stop_loss: 0.25, ..ProtectConfig::default() };
        let risk = RiskConfig {
            stoploss_guard_trades: 2,
            stoploss_guard_lookback_bars: 10,
            stoploss_guard_pause_bars: 3,
            ..RiskConfig::default()
        };
        let (mut account, sim) = with_risk(stop, risk);
        enter(&mut account, &sim, 1.0, ohlc(1, 100.0, 101.0, 70.0, 90.0));
        // one stop-out: entries still allowed
        assert_eq!(reenter(&mut account, &sim, 1.0), None);
        let step = account.step_bar(&ohlc(2, 100.0, 101.0, 70.0, 90.0), HOUR, &sim, FillSource::Simulator).unwrap();
        assert_eq!(step.exit_reason, Some(ExitReason::StopLoss));
        let refusal = reenter(&mut account, &sim, 1.0);
        assert_eq!(refusal, Some(RefusalReason::StopLossGuard { stop_outs: 2, lookback_bars: 10, bars_left: 3 }));
        for i in 3..5 {
            account.step_bar(&ohlc(i, 90.0, 91.0, 89.0, 90.0), HOUR, &sim, FillSource::Simulator).unwrap();
            assert_eq!(reenter(&mut account, &sim, 1.0).map(|r| r.name()), Some("stoploss_guard"));
        }
        account.step_bar(&ohlc(5, 90.0, 91.0, 89.0, 90.0), HOUR, &sim, FillSource::Simulator).unwrap();
        assert_eq!(reenter(&mut account, &sim, 1.0), None);
    }

    #[test]
    fn the_throttle_refuses_entries_over_r_orders_per_w_bars_but_never_exits() {
        let risk = RiskConfig { max_orders: 2, max_orders_window_bars: 4, ..RiskConfig::default() };
        let (mut account, sim) = with_risk(ProtectConfig::default(), risk);
        let flat_bar = |i| ohlc(i, 100.0, 101.0, 99.0, 100.0);
        let step = |account: &mut Account, i| {
            account.step_bar(&flat_bar(i), HOUR, &sim, FillSource::Simulator).unwrap();
        };
        // orders at the closes of bars 0 (the entry) and 1 (the exit)
        enter(&mut account, &sim, 1.0, flat_bar(1));
        assert!(matches!(account.decide(Some(0.0), HOUR, 100.0, &sim).signal, Some(Ok(_))));
        step(&mut account, 2);
        assert!(account.portfolio.is_flat());
        let refusal = account.decide(Some(1.0), 2 * HOUR, 100.0, &sim).refusal();
        assert_eq!(refusal, Some(RefusalReason::OrderRate { limit: 2, window_bars: 4, orders: 2 }));
        // a full window never throttles an exit (here: asking for flat)
        step(&mut account, 3);
        assert!(matches!(account.decide(Some(0.0), 3 * HOUR, 100.0, &sim).signal, Some(Ok(_))));
        step(&mut account, 4);
        assert_eq!(account.decide(Some(1.0), 4 * HOUR, 100.0, &sim).refusal().map(|r| r.name()), Some("order_rate"));
        // every approved order counts, the ask for flat too: once the window holds only
        // that one, the entry passes
        for i in 5..8 {
            step(&mut account, i);
        }
        assert!(matches!(account.decide(Some(0.0), 7 * HOUR, 100.0, &sim).signal, Some(Ok(_))));
        assert!(matches!(account.decide(Some(1.0), 7 * HOUR, 100.0, &sim).signal, Some(Ok(_))));
        let bad = RiskConfig { max_orders: 1, ..RiskConfig::default() };
        assert!(RiskManager::new(bad, 1.0).unwrap_err().to_string().contains("risk.max_orders_window_bars"));
    }

    #[test]
    fn the_var_limit_sees_the_decision_bars_close_and_counts_scaled_entries() {
        let risk = RiskConfig { max_var_95: 0.02, var_lookback: 2, ..RiskConfig::default() };
        let (mut account, sim) = with_risk(ProtectConfig::default(), risk);
        // a warm-up close and the starting close: one return, the lookback needs two
        account.warm(100.0);
        account.start(100.0, HOUR, &sim);
        let refusal = account.decide(Some(1.0), 0, 100.0, &sim).refusal();
        assert_eq!(refusal, Some(RefusalReason::VarWarmup { lookback_bars: 2, returns: 1 }));
        // bar 1 closes 10% down: returns [0, -10%], VaR 95% = the worst (m = 1) = 10%,
        // so the entry decided at that close is 0.02 / 0.10 = 0.2 of equity
        account.step_bar(&ohlc(1, 100.0, 101.0, 89.0, 90.0), HOUR, &sim, FillSource::Simulator).unwrap();
        account.decide(Some(0.0), HOUR, 90.0, &sim);
        let Some(Ok(approved)) = account.decide(Some(1.0), HOUR, 90.0, &sim).signal else { panic!() };
        assert!((approved.order().target_exposure - 0.2).abs() < 1e-12, "{approved:?}");
        assert!(matches!(approved.clipped(), Some(ClipReason::MaxVar { requested: 1.0, .. })));
        assert_eq!((account.var_scaled_entries, account.risk_refusals), (1, 1));
        // the history travels with the account (journal, checkpoints)
        let back: Account = serde_json::from_str(&serde_json::to_string(&account).unwrap()).unwrap();
        assert_eq!(back, account);
        assert_eq!(back.risk.var_95(), account.risk.var_95());
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
