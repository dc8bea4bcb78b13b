//! [`Trader`]: one strategy on a live or replayed stream of bars — its policy, its
//! incremental observation and its account. The one home of the per-bar sequence that
//! the backtest ([`crate::backtest::run_backtest`]) and the serving daemon share.
//!
//! Per closed bar t ([`Trader::on_bar`]):
//!
//! 1. [`Account::step_bar`]: the order pending from t−1's close fills at t's open, the
//!    checks inside the bar run, t's close is marked;
//! 2. the policy and the observation see bar t ([`Policy::on_bar`],
//!    [`ObservationBuilder::push`]);
//! 3. the policy decides at t's close (once its warm-up is over and the caller asks for
//!    a decision), and [`Account::decide`] turns the target into a risk-checked order,
//!    pending for t+1's open.
//!
//! The daemon adds only what a live process needs around it: the journal, the broker
//! and the clock. The training environment ([`crate::TradingEnv`]) drives the same
//! [`Account::step_bar`] over a precomputed feature matrix, which is bit-identical to
//! the incremental features used here.

use std::time::Instant;

use rltrade_exec::{
    Account, BarStep, Decision, ExecutionConfig, FillSimulator, FillSource, Mark, ProtectConfig, RiskConfig,
};

use crate::bar::Bar;
use crate::config::check_short_targets;
use crate::decision::DecisionSchedule;
use crate::error::{Error, Result};
use crate::observation::ObservationBuilder;
use crate::policy::{DecisionContext, Policy, Warmup};

/// The account side of a [`Trader`]: bar interval, costs, limits and who fills orders.
#[derive(Clone, Debug, PartialEq)]
pub struct TraderSettings {
    /// Bar interval, ms (a bar's close time is its open time plus this).
    pub interval_ms: i64,
    /// Cash, costs (bps) and venue rules of the account.
    pub execution: ExecutionConfig,
    /// Risk limits of the account.
    pub risk: RiskConfig,
    /// Protective orders of the account (checked inside each bar with simulated fills).
    pub protect: ProtectConfig,
    /// [`FillSource::Simulator`] for backtests and paper trading;
    /// [`FillSource::Broker`] when an exchange reports fills
    /// ([`Account::apply_fill`]).
    pub fills: FillSource,
}

/// What the policy chose at one close.
#[derive(Clone, Debug, PartialEq)]
pub struct Action {
    /// The action index (`< actions.len()`).
    pub index: usize,
    /// Its target exposure, signed fraction of equity.
    pub target: f64,
    /// The policy could not decide (an inference error, an invalid output): no order
    /// was placed. The message is the policy's.
    pub failure: Option<String>,
    /// Time spent in [`Policy::act`], µs.
    pub act_us: f64,
}

/// One bar's result for one [`Trader`].
#[derive(Clone, Debug, PartialEq)]
pub struct BarOutcome {
    /// The fill at this bar's open and the mark at its close (the first traded bar
    /// has no fill; its mark is the starting equity).
    pub step: BarStep,
    /// What the account did at this close (liquidation, approval or refusal).
    pub decision: Decision,
    /// The policy's choice, when it decided at this close.
    pub action: Option<Action>,
}

/// A traded bar half done: the fill at its open, the mark at its close and, when the
/// policy decides at this close, the observation ([`Trader::observation`]) are done;
/// the decision is not. Made by [`Trader::prepare_start`] or [`Trader::prepare_bar`],
/// consumed by [`Trader::conclude`] with the same bar. Between the two, a caller
/// running many traders on one model may run their inferences as one batch.
#[derive(Debug)]
#[must_use = "a prepared bar is concluded with Trader::conclude"]
pub struct PreparedBar {
    step: BarStep,
    index: usize,
    decides: bool,
}

impl PreparedBar {
    /// Whether the policy decides at this close (its observation is written).
    pub fn decides(&self) -> bool {
        self.decides
    }
}

/// A strategy with its own account: see the module documentation for the bar sequence.
#[derive(Debug)]
pub struct Trader<P> {
    policy: P,
    /// The account (portfolio, risk state, pending order). Plain data: the daemon
    /// journals and restores it.
    pub account: Account,
    observation: Option<ObservationBuilder>,
    obs: Vec<f32>,
    simulator: FillSimulator,
    settings: TraderSettings,
    schedule: DecisionSchedule,
    actions: Vec<f64>,
    bars_seen: usize,
    first_observation: Option<usize>,
    failures: u64,
    first_failure: Option<String>,
}

impl<P: Policy> Trader<P> {
    /// A trader for `policy` choosing among `actions` (target exposures), with a flat
    /// account holding `settings.execution.initial_cash`. `observation` builds the
    /// policy's observation (`[obs_dim]` f32) at each close; a policy that needs none
    /// (a [`Warmup::Bars`] baseline) may get `None` and then sees an empty slice.
    ///
    /// # Errors
    /// [`Error::Config`] for short targets while `risk.allow_short` is false, a policy
    /// that needs an observation without a builder, or invalid costs or limits.
    pub fn new(
        policy: P,
        observation: Option<ObservationBuilder>,
        actions: Vec<f64>,
        settings: &TraderSettings,
    ) -> Result<Self> {
        check_short_targets(&actions, settings.risk.allow_short)?;
        if policy.warmup() == Warmup::Observation && observation.is_none() {
            return Err(Error::Config {
                field: "observation".into(),
                message: format!("{} decides on observations but was given no observation builder", policy.name()),
            });
        }
        let obs_dim = observation.as_ref().map_or(0, ObservationBuilder::obs_dim);
        let schedule = DecisionSchedule::new(policy.decision_interval(), settings.interval_ms);
        Ok(Self {
            policy,
            account: Account::new(settings.execution.initial_cash, settings.risk.clone(), settings.protect, true)?,
            observation,
            obs: vec![0.0; obs_dim],
            simulator: FillSimulator::new(&settings.execution)?,
            settings: settings.clone(),
            schedule,
            actions,
            bars_seen: 0,
            first_observation: None,
            failures: 0,
            first_failure: None,
        })
    }

    /// The policy, mutable: for a caller that runs the inference of many traders as
    /// one batch and hands each its outputs before [`Trader::conclude`].
    pub fn policy_mut(&mut self) -> &mut P {
        &mut self.policy
    }

    /// The observation written by the last [`PreparedBar`] that decides, `[obs_dim]` f32
    /// (empty for a policy without an observation builder).
    pub fn observation(&self) -> &[f32] {
        &self.obs
    }

    /// The policy.
    pub fn policy(&self) -> &P {
        &self.policy
    }

    /// The action list: action `i` targets exposure `actions()[i]`.
    pub fn actions(&self) -> &[f64] {
        &self.actions
    }

    /// The fill model (the account's costs).
    pub fn simulator(&self) -> &FillSimulator {
        &self.simulator
    }

    /// The settings.
    pub fn settings(&self) -> &TraderSettings {
        &self.settings
    }

    /// The bars the policy decides at (its decision interval on this feed).
    pub fn schedule(&self) -> DecisionSchedule {
        self.schedule
    }

    /// Bars fed so far (warm-up included).
    pub fn bars_seen(&self) -> usize {
        self.bars_seen
    }

    /// The 0-based index (counted from the first bar fed) of the first close the policy
    /// can decide at: [`Warmup::Bars`] as given, [`Warmup::Observation`] once the
    /// observation holds a full window of valid features (`None` until then).
    pub fn first_decision_index(&self) -> Option<usize> {
        match self.policy.warmup() {
            Warmup::Bars(n) => Some(n),
            Warmup::Observation => self.first_observation,
        }
    }

    /// Decisions the policy could not make (no order placed) since the trader was built.
    pub fn failures(&self) -> u64 {
        self.failures
    }

    /// The first failure, with the count of decisions that placed no order (taken:
    /// later calls return `None` until the next failure).
    pub fn take_failure(&mut self) -> Option<String> {
        self.first_failure.take().map(|first| format!("{first} ({} decisions placed no order)", self.failures))
    }

    /// Replaces the policy and its observation builder (a model reload). The new
    /// builder should already have seen every bar fed so far; the first decision index
    /// is kept.
    ///
    /// # Errors
    /// [`Error::Config`] when the new policy decides on observations without a builder.
    pub fn replace_policy(&mut self, policy: P, observation: Option<ObservationBuilder>) -> Result<()> {
        if policy.warmup() == Warmup::Observation && observation.is_none() {
            return Err(Error::Config {
                field: "observation".into(),
                message: format!("{} decides on observations but was given no observation builder", policy.name()),
            });
        }
        self.obs = vec![0.0; observation.as_ref().map_or(0, ObservationBuilder::obs_dim)];
        self.schedule = DecisionSchedule::new(policy.decision_interval(), self.settings.interval_ms);
        self.policy = policy;
        self.observation = observation;
        Ok(())
    }

    /// Feeds a bar without trading (warm-up, or a restart rebuilding state from a
    /// journal): the policy and the observation see it, and the account's risk check
    /// its close ([`Account::warm`]: the VaR limit's history).
    pub fn warm(&mut self, bar: &Bar) {
        self.see(bar);
        self.account.warm(bar.close);
    }

    /// The policy and the observation see `bar` (every bar, warm-up or traded).
    fn see(&mut self, bar: &Bar) {
        self.policy.on_bar(bar);
        if let Some(observation) = &mut self.observation {
            observation.push(bar);
            if self.first_observation.is_none() && observation.ready() {
                self.first_observation = Some(self.bars_seen);
            }
        }
        self.bars_seen += 1;
    }

    /// Called once before the first traded bar ([`Policy::begin_window`]).
    pub fn begin_window(&mut self) {
        self.policy.begin_window();
    }

    /// The first traded bar: the policy sees it, the account marks its close as the
    /// starting equity, and the policy decides at that close when `decide` and it is a
    /// decision bar of the policy's schedule.
    ///
    /// # Errors
    /// [`Error::InvalidAction`] when the policy returns an index outside the actions.
    pub fn start(&mut self, bar: &Bar, decide: bool) -> Result<BarOutcome> {
        let prepared = self.prepare_start(bar, decide);
        self.conclude(bar, prepared)
    }

    /// [`Trader::start`] up to the decision: the policy sees the bar, the account marks
    /// its close as the starting equity, and the observation is written when the
    /// policy decides at this close.
    pub fn prepare_start(&mut self, bar: &Bar, decide: bool) -> PreparedBar {
        self.see(bar);
        self.account.start(bar.close, bar.time_ms + self.settings.interval_ms, &self.simulator);
        let mark = Mark { equity: self.account.portfolio.equity(), borrow_fee: 0.0, state_change: None };
        self.prepare(bar, decide, BarStep { mark, ..BarStep::default() })
    }

    /// A traded bar after the first: [`Account::step_bar`] (fill at the open, checks
    /// inside the bar, mark at the close), then the policy sees the bar, then it decides
    /// at the close when `decide` and the bar is a decision bar of the policy's
    /// schedule (between decisions the requested target holds).
    ///
    /// # Errors
    /// [`Error::Exec`] for an invalid open price (validated bars never have one);
    /// [`Error::InvalidAction`] when the policy returns an index outside the actions.
    #[inline]
    pub fn on_bar(&mut self, bar: &Bar, decide: bool) -> Result<BarOutcome> {
        let prepared = self.prepare_bar(bar, decide)?;
        self.conclude(bar, prepared)
    }

    /// [`Trader::on_bar`] up to the decision: fill, checks and mark, the policy sees the
    /// bar, and the observation is written when the policy decides at this close.
    ///
    /// # Errors
    /// [`Error::Exec`] for an invalid open price (validated bars never have one).
    #[inline]
    pub fn prepare_bar(&mut self, bar: &Bar, decide: bool) -> Result<PreparedBar> {
        let step = self.account.step_bar(bar, self.settings.interval_ms, &self.simulator, self.settings.fills)?;
        self.see(bar);
        Ok(self.prepare(bar, decide, step))
    }

    #[inline]
    fn prepare(&mut self, bar: &Bar, decide: bool, step: BarStep) -> PreparedBar {
        let index = self.bars_seen - 1;
        let decides = decide
            && self.schedule.is_decision_bar(bar)
            && self.first_decision_index().is_some_and(|first| index >= first);
        if decides {
            if let Some(observation) = &self.observation {
                observation.write(&self.account, bar.close, &mut self.obs);
            }
        }
        PreparedBar { step, index, decides }
    }

    /// Finishes a prepared `bar` (the one given to the prepare call): the policy
    /// decides on the observation when the bar is a decision bar, and the account
    /// risk-checks the order it asks for (or holds the requested target).
    ///
    /// # Errors
    /// [`Error::InvalidAction`] when the policy returns an index outside the actions.
    #[inline]
    pub fn conclude(&mut self, bar: &Bar, prepared: PreparedBar) -> Result<BarOutcome> {
        let PreparedBar { step, index, decides } = prepared;
        if !decides {
            let decision = self.account.decide(None, bar.time_ms, bar.close, &self.simulator);
            return Ok(BarOutcome { step, decision, action: None });
        }
        let context = DecisionContext {
            bar,
            index,
            current_target: self.account.current_target,
            requested_target: self.account.requested_target,
            actions: &self.actions,
        };
        let started = Instant::now();
        let chosen = self.policy.act(&self.obs, &context);
        let act_us = started.elapsed().as_secs_f64() * 1e6;
        let Some(&target) = self.actions.get(chosen) else {
            return Err(Error::InvalidAction { action: chosen, n_actions: self.actions.len() });
        };
        let failure = self.policy.take_failure();
        if let Some(message) = &failure {
            self.failures += 1;
            if self.first_failure.is_none() {
                self.first_failure = Some(message.clone());
            }
        }
        // a failed decision places no order (and never re-sends a refused one)
        let requested = failure.is_none().then_some(target);
        let decision = self.account.decide(requested, bar.time_ms, bar.close, &self.simulator);
        Ok(BarOutcome { step, decision, action: Some(Action { index: chosen, target, failure, act_us }) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::baselines::BuyAndHold;

    fn bar(i: i64, price: f64) -> Bar {
        Bar { time_ms: i * 3_600_000, open: price, high: price + 1.0, low: price - 1.0, close: price, volume: 1.0 }
    }

    fn settings() -> TraderSettings {
        TraderSettings {
            interval_ms: 3_600_000,
            execution: ExecutionConfig::default(),
            risk: RiskConfig::default(),
            protect: ProtectConfig::default(),
            fills: FillSource::Simulator,
        }
    }

    #[test]
    fn decides_at_the_close_and_fills_at_the_next_open() {
        let mut trader = Trader::new(BuyAndHold::new(&[0.0, 1.0]).unwrap(), None, vec![0.0, 1.0], &settings()).unwrap();
        let first = trader.start(&bar(0, 100.0), true).unwrap();
        assert!(first.step.fill.is_none());
        assert_eq!(first.action.as_ref().map(|a| a.target), Some(1.0));
        assert!(trader.account.pending.is_some());
        let second = trader.on_bar(&bar(1, 110.0), true).unwrap();
        assert!(matches!(second.step.fill, Some(rltrade_exec::FillOutcome::Filled { .. })));
        assert!(trader.account.portfolio.quantity > 0.0);
        // buy-and-hold asks for the same target: no new order
        assert!(second.decision.signal.is_none());
    }

    #[test]
    fn broker_fills_leave_the_pending_order_to_the_broker() {
        let broker = TraderSettings { fills: FillSource::Broker, ..settings() };
        let mut trader = Trader::new(BuyAndHold::new(&[0.0, 1.0]).unwrap(), None, vec![0.0, 1.0], &broker).unwrap();
        trader.start(&bar(0, 100.0), true).unwrap();
        let next = trader.on_bar(&bar(1, 110.0), true).unwrap();
        assert!(next.step.fill.is_none());
        assert!(trader.account.pending.is_some());
        assert!(trader.account.portfolio.is_flat());
    }

    #[test]
    fn short_targets_need_allow_short() {
        let err = Trader::new(BuyAndHold::new(&[-1.0, 0.0, 1.0]).unwrap(), None, vec![-1.0, 0.0, 1.0], &settings())
            .unwrap_err();
        assert!(err.to_string().contains("risk.allow_short"), "{err}");
    }
}
