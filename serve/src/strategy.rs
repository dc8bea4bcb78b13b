//! [`StrategyRunner`]: one strategy of the daemon — its policy (an exported ONNX model
//! or an MA crossover, both through the env's `Policy` trait), its incremental
//! observation, and its own paper account driven by `rltrade_exec::Account`.
//!
//! Per closed bar t (the backtest's order, so a replay trades like
//! `rltrade backtest`): the order pending from t−1 fills at t's open, t's close is
//! marked, the policy sees bar t, then decides at t's close; the decision is
//! risk-checked and, if approved, pending for t+1's open.

use std::path::Path;
use std::time::Instant;

use rltrade_env::baselines::{MaCrossover, MaSpec};
use rltrade_env::{Bar, DecisionContext, Policy, Warmup};
use rltrade_exec::{Account, Decision, ExecutionConfig, FillOutcome, FillSimulator, Mark, RiskConfig};
use rltrade_policy::model_dir::resolve_export_dir;
use rltrade_policy::{OnnxModel, OnnxPolicy};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::observation::ObservationBuilder;
use crate::signal::Signal;

/// What a strategy is, as recorded in the journal: a restart must run the same set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StrategySpec {
    /// An exported model, identified by the SHA-256 of its `policy.onnx`.
    Model {
        /// The strategy name (the card's run name).
        name: String,
        /// SHA-256 of `policy.onnx`.
        sha256: String,
    },
    /// The MA crossover baseline.
    MaCrossover {
        /// Fast SMA period, bars.
        fast: usize,
        /// Slow SMA period, bars.
        slow: usize,
    },
}

impl StrategySpec {
    /// The strategy's name: the model's run name, or `ma:FAST:SLOW`.
    pub fn name(&self) -> String {
        match self {
            Self::Model { name, .. } => name.clone(),
            Self::MaCrossover { fast, slow } => MaSpec { fast: *fast, slow: *slow }.to_string(),
        }
    }
}

/// The policy of a runner: the ONNX model keeps its concrete type so its probabilities
/// can be journaled; both are driven only through [`Policy`].
#[derive(Debug)]
enum StrategyPolicy {
    Model { policy: Box<OnnxPolicy>, observation: Box<ObservationBuilder> },
    Baseline(MaCrossover),
}

/// One bar's result for one strategy.
#[derive(Clone, Debug, PartialEq)]
pub struct BarOutcome {
    /// The fill (or no-fill) of the order pending from the previous close.
    pub fill: Option<FillOutcome>,
    /// The mark at this close.
    pub mark: Mark,
    /// The signal, when the strategy decided at this close.
    pub signal: Option<Signal>,
    /// What the account did with it (liquidation, approval or refusal).
    pub decision: Decision,
    /// Inference time of this decision, µs (models only).
    pub inference_us: Option<f64>,
}

/// What every runner of one daemon shares: the feed and the account settings.
#[derive(Clone, Debug, PartialEq)]
pub struct RunnerSettings {
    /// Feed symbol (a model's card must name it).
    pub symbol: String,
    /// Bar interval, ms (a model's card must name it).
    pub interval_ms: i64,
    /// Cash, costs and venue rules of each paper account.
    pub execution: ExecutionConfig,
    /// Risk limits of each account.
    pub risk: RiskConfig,
    /// Fill pending orders at the next bar's open through the `exec` fill model
    /// (paper). False when an exchange broker reports fills ([`StrategyRunner::apply_fill`]).
    pub paper_fills: bool,
}

/// A strategy with its own paper account and risk state.
#[derive(Debug)]
pub struct StrategyRunner {
    /// Position in the strategy list (client order ids use it).
    pub index: usize,
    name: String,
    /// What it is.
    pub spec: StrategySpec,
    /// The account (portfolio, risk state, pending order).
    pub account: Account,
    policy: StrategyPolicy,
    simulator: FillSimulator,
    actions: Vec<f64>,
    interval_ms: i64,
    symbol: String,
    obs: Vec<f32>,
    bars_seen: usize,
    first_decision: Option<usize>,
    paper_fills: bool,
}

impl StrategyRunner {
    /// A runner for the exported model at `path` (an export or a run folder), checked
    /// against the feed's `symbol` and `interval_ms`.
    ///
    /// # Errors
    /// The model cannot be loaded, its card does not match its ONNX file, or it was
    /// trained on another symbol or interval ([`rltrade_policy::Error::Mismatch`]).
    pub fn model(index: usize, path: &Path, settings: &RunnerSettings) -> Result<Self> {
        let (policy, observation) = load_model(path, &settings.symbol, settings.interval_ms)?;
        let card = policy.model().card();
        let spec = StrategySpec::Model { name: card.name.clone(), sha256: card.onnx.sha256.clone() };
        let actions = card.actions.clone();
        Self::build(index, spec, StrategyPolicy::Model { policy, observation }, actions, settings)
    }

    /// A runner for the MA crossover `fast`/`slow` over `actions`.
    ///
    /// # Errors
    /// Invalid periods, or `actions` without the 0 and 1 targets.
    pub fn ma_crossover(
        index: usize,
        fast: usize,
        slow: usize,
        actions: &[f64],
        settings: &RunnerSettings,
    ) -> Result<Self> {
        let policy = MaCrossover::new(fast, slow, actions, settings.risk.allow_short)?;
        let spec = StrategySpec::MaCrossover { fast, slow };
        Self::build(index, spec, StrategyPolicy::Baseline(policy), actions.to_vec(), settings)
    }

    fn build(
        index: usize,
        spec: StrategySpec,
        policy: StrategyPolicy,
        actions: Vec<f64>,
        settings: &RunnerSettings,
    ) -> Result<Self> {
        let RunnerSettings { symbol, interval_ms, execution, risk, .. } = settings;
        let interval_ms = *interval_ms;
        if actions.iter().any(|&a| a < 0.0) && !risk.allow_short {
            return Err(Error::Config {
                field: "risk.allow_short".into(),
                message: format!("{} trades short targets {actions:?}: set risk.allow_short = true", spec.name()),
            });
        }
        let obs_dim = match &policy {
            StrategyPolicy::Model { observation, .. } => observation.obs_dim(),
            StrategyPolicy::Baseline(_) => 0,
        };
        Ok(Self {
            index,
            name: spec.name(),
            spec,
            account: Account::new(execution.initial_cash, risk.clone(), true)?,
            policy,
            simulator: FillSimulator::new(execution)?,
            actions,
            interval_ms,
            symbol: symbol.to_string(),
            obs: vec![0.0; obs_dim],
            bars_seen: 0,
            first_decision: None,
            paper_fills: settings.paper_fills,
        })
    }

    /// The strategy's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The fill model (costs of the paper account).
    pub fn simulator(&self) -> &FillSimulator {
        &self.simulator
    }

    /// SHA-256 of the model's ONNX file (empty for baselines).
    pub fn model_sha256(&self) -> &str {
        match &self.spec {
            StrategySpec::Model { sha256, .. } => sha256,
            StrategySpec::MaCrossover { .. } => "",
        }
    }

    /// The 0-based bar index (counted from the first bar fed) at whose close the
    /// policy can first decide, as the backtest's `first_decision_index`.
    pub fn first_decision_index(&self) -> Option<usize> {
        match &self.policy {
            StrategyPolicy::Model { .. } => self.first_decision,
            StrategyPolicy::Baseline(ma) => match ma.warmup() {
                Warmup::Bars(n) => Some(n),
                Warmup::Observation => None,
            },
        }
    }

    fn policy_mut(&mut self) -> &mut dyn Policy {
        match &mut self.policy {
            StrategyPolicy::Model { policy, .. } => policy.as_mut(),
            StrategyPolicy::Baseline(ma) => ma,
        }
    }

    /// Feeds a bar without trading (warm-up, or a restart rebuilding state from the
    /// journal): the policy and the observation see it.
    pub fn warm(&mut self, bar: &Bar) {
        self.policy_mut().on_bar(bar);
        if let StrategyPolicy::Model { observation, .. } = &mut self.policy {
            observation.push(bar);
            if observation.ready() && self.first_decision.is_none() {
                self.first_decision = Some(observation.bars_seen() - 1);
            }
        }
        self.bars_seen += 1;
    }

    /// Called once before the first traded bar (the backtest's `begin_window`).
    pub fn begin_window(&mut self) {
        self.policy_mut().begin_window();
    }

    /// The first traded bar: the policy sees it, the account marks its close as the
    /// starting equity, and the strategy decides (`decide`).
    pub fn start(&mut self, bar: &Bar, decide: bool, arrived: Instant) -> BarOutcome {
        self.warm(bar);
        self.account.start(bar.close, bar.time_ms + self.interval_ms, &self.simulator);
        let mark = Mark { equity: self.account.portfolio.equity(), borrow_fee: 0.0, state_change: None };
        self.decide(bar, decide, None, mark, arrived)
    }

    /// A traded bar after the first: fill the pending order at its open, mark its
    /// close, let the policy see it, decide at its close when `decide`.
    ///
    /// # Errors
    /// [`Error::Exec`] for an invalid price (the feed validates bars, so never in practice).
    pub fn on_bar(&mut self, bar: &Bar, decide: bool, arrived: Instant) -> Result<BarOutcome> {
        let fill =
            if self.paper_fills { self.account.fill_pending(bar.open, bar.time_ms, &self.simulator)? } else { None };
        let mark = self.account.mark(bar.close, bar.time_ms + self.interval_ms, &self.simulator);
        self.warm(bar);
        Ok(self.decide(bar, decide, fill, mark, arrived))
    }

    fn decide(
        &mut self,
        bar: &Bar,
        decide: bool,
        fill: Option<FillOutcome>,
        mark: Mark,
        arrived: Instant,
    ) -> BarOutcome {
        let index = self.bars_seen - 1;
        let can_decide = decide && self.first_decision_index().is_some_and(|first| index >= first);
        if !can_decide {
            let decision = self.account.decide(None, bar.time_ms, bar.close, &self.simulator);
            return BarOutcome { fill, mark, signal: None, decision, inference_us: None };
        }
        let context =
            DecisionContext { bar, index, current_target: self.account.current_target, actions: &self.actions };
        let (action, probs, invalid, inference_us) = match &mut self.policy {
            StrategyPolicy::Model { policy, observation, .. } => {
                observation.write(&self.account, bar.close, &mut self.obs);
                let before = policy.invalid_outputs();
                let started = Instant::now();
                let action = policy.act(&self.obs, &context);
                let inference_us = started.elapsed().as_secs_f64() * 1e6;
                let invalid = policy.invalid_outputs() > before;
                if invalid {
                    if let Some(error) = policy.take_error() {
                        tracing::warn!(strategy = %self.name, "no order: {error}");
                    }
                }
                (action, policy.last_probs().to_vec(), invalid, Some(inference_us))
            }
            StrategyPolicy::Baseline(ma) => (ma.act(&[], &context), Vec::new(), false, None),
        };
        let target = self.actions[action];
        // an invalid output places no order (and never re-sends a refused one)
        let decision = self.account.decide((!invalid).then_some(target), bar.time_ms, bar.close, &self.simulator);
        let signal = Signal {
            bar_ms: bar.time_ms,
            symbol: self.symbol.clone(),
            strategy: self.name.clone(),
            model_sha256: self.model_sha256().to_string(),
            action,
            target_exposure: target,
            probs,
            latency_us: arrived.elapsed().as_micros() as u64,
            invalid_output: invalid,
        };
        BarOutcome { fill, mark, signal: Some(signal), decision, inference_us }
    }

    /// Swaps in the model at `path` after validating it against the feed and warming
    /// its features on `history` (every bar fed so far). The old model keeps serving
    /// when this fails. Only model strategies can be reloaded.
    ///
    /// # Errors
    /// A baseline strategy, or any load or validation error of the new model.
    pub fn reload(&mut self, path: &Path, history: &[Bar]) -> Result<()> {
        let StrategyPolicy::Model { .. } = &self.policy else {
            return Err(Error::Config { field: "strategy".into(), message: format!("{} is not a model", self.name()) });
        };
        let (policy, mut observation) = load_model(path, &self.symbol, self.interval_ms)?;
        let card = policy.model().card();
        if card.actions != self.actions {
            return Err(Error::Config {
                field: "actions".into(),
                message: format!("the new model's actions {:?} differ from {:?}", card.actions, self.actions),
            });
        }
        for bar in history {
            observation.push(bar);
        }
        let name = self.spec.name();
        self.spec = StrategySpec::Model { name, sha256: card.onnx.sha256.clone() };
        self.obs = vec![0.0; observation.obs_dim()];
        self.policy = StrategyPolicy::Model { policy, observation };
        Ok(())
    }
}

/// Loads the model at `path` (an export or a run folder) and checks it against the
/// feed (the card's symbol and interval) and this build's observation layout.
fn load_model(path: &Path, symbol: &str, interval_ms: i64) -> Result<(Box<OnnxPolicy>, Box<ObservationBuilder>)> {
    let model = OnnxModel::load(&resolve_export_dir(path)?)?;
    let card = model.card();
    card.check_feed(symbol, interval_ms)?;
    card.check_layout(&card.features, card.window, &card.actions)?;
    let observation = ObservationBuilder::new(&card.features, card.normalization.clone(), card.window)?;
    Ok((Box::new(OnnxPolicy::new(model)), Box::new(observation)))
}
