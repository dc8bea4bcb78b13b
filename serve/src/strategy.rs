//! [`StrategyRunner`]: one strategy of the daemon — an env [`Trader`] (its policy, an
//! exported ONNX model or an MA crossover; its incremental observation; its own
//! account) with the name and model identity the journal records.
//!
//! The per-bar sequence is the [`Trader`]'s, the one `rltrade backtest` loops over,
//! so a replay trades like a backtest by construction; this module only turns the
//! trader's outcome into the [`Signal`] the daemon journals.

use std::path::Path;
use std::time::Instant;

use rltrade_env::baselines::{MaCrossover, MaSpec};
use rltrade_env::{Bar, DecisionContext, ObservationBuilder, Policy, Trader, TraderSettings, Warmup};
use rltrade_exec::{Decision, FillOutcome, Mark, ProtectiveExit};
use rltrade_policy::model_dir::resolve_export_dir;
use rltrade_policy::{OnnxModel, OnnxPolicy, SettingsSource};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
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
/// can be journaled; the [`Trader`] drives both only through [`Policy`].
#[derive(Debug)]
pub enum StrategyPolicy {
    /// An exported model.
    Model(Box<OnnxPolicy>),
    /// The MA crossover baseline.
    Baseline(MaCrossover),
}

impl StrategyPolicy {
    fn get(&self) -> &dyn Policy {
        match self {
            Self::Model(policy) => policy.as_ref(),
            Self::Baseline(ma) => ma,
        }
    }

    fn get_mut(&mut self) -> &mut dyn Policy {
        match self {
            Self::Model(policy) => policy.as_mut(),
            Self::Baseline(ma) => ma,
        }
    }
}

impl Policy for StrategyPolicy {
    fn name(&self) -> String {
        self.get().name()
    }
    fn warmup(&self) -> Warmup {
        self.get().warmup()
    }
    fn decision_interval(&self) -> u32 {
        self.get().decision_interval()
    }
    fn on_bar(&mut self, bar: &Bar) {
        self.get_mut().on_bar(bar);
    }
    fn begin_window(&mut self) {
        self.get_mut().begin_window();
    }
    fn act(&mut self, obs: &[f32], context: &DecisionContext<'_>) -> usize {
        self.get_mut().act(obs, context)
    }
    fn reset(&mut self) {
        self.get_mut().reset();
    }
    fn take_failure(&mut self) -> Option<String> {
        self.get_mut().take_failure()
    }
}

/// One bar's result for one strategy: the [`Trader`]'s outcome and the signal the
/// daemon journals.
#[derive(Clone, Debug, PartialEq)]
pub struct BarOutcome {
    /// The fill (or no-fill) of the order pending from the previous close.
    pub fill: Option<FillOutcome>,
    /// A protective order (stop, take-profit, trailing or time stop) that closed the
    /// position inside this bar.
    pub protective: Option<ProtectiveExit>,
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
    /// Bar interval, costs, limits and who fills orders ([`rltrade_exec::FillSource::Simulator`] for
    /// the paper broker, [`rltrade_exec::FillSource::Broker`] when an exchange reports fills through
    /// [`rltrade_exec::Account::apply_fill`]).
    pub trader: TraderSettings,
}

/// A strategy of the daemon: a [`Trader`] (policy, observation, account) with the
/// identity the journal records. It dereferences to its trader, so
/// `runner.account` is the trader's account.
#[derive(Debug)]
pub struct StrategyRunner {
    /// Position in the strategy list (client order ids use it).
    pub index: usize,
    name: String,
    /// What it is.
    pub spec: StrategySpec,
    trader: Trader<StrategyPolicy>,
    symbol: String,
}

impl std::ops::Deref for StrategyRunner {
    type Target = Trader<StrategyPolicy>;
    fn deref(&self) -> &Self::Target {
        &self.trader
    }
}

impl std::ops::DerefMut for StrategyRunner {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.trader
    }
}

impl StrategyRunner {
    /// A runner for the exported model at `path` (an export or a run folder), checked
    /// against the feed's `symbol` and `interval_ms` and the daemon's protective orders.
    ///
    /// # Errors
    /// The model cannot be loaded, its card does not match its ONNX file, or it was
    /// trained on another symbol or interval ([`rltrade_policy::Error::Mismatch`]) or
    /// with other protective settings ([`rltrade_policy::Error::SettingMismatch`]
    /// naming the setting, the card's value and the config's).
    pub fn model(index: usize, path: &Path, settings: &RunnerSettings) -> Result<Self> {
        let (policy, observation) = load_model(path, &settings.symbol, settings.trader.interval_ms)?;
        let card = policy.model().card();
        card.check_protect(&settings.trader.protect, SettingsSource::ServeConfig)?;
        let spec = StrategySpec::Model { name: card.name.clone(), sha256: card.onnx.sha256.clone() };
        let actions = card.actions.clone();
        Self::build(index, spec, StrategyPolicy::Model(policy), Some(observation), actions, settings)
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
        let policy = MaCrossover::new(fast, slow, actions, settings.trader.risk.allow_short)?;
        let spec = StrategySpec::MaCrossover { fast, slow };
        Self::build(index, spec, StrategyPolicy::Baseline(policy), None, actions.to_vec(), settings)
    }

    fn build(
        index: usize,
        spec: StrategySpec,
        policy: StrategyPolicy,
        observation: Option<ObservationBuilder>,
        actions: Vec<f64>,
        settings: &RunnerSettings,
    ) -> Result<Self> {
        let trader = Trader::new(policy, observation, actions, &settings.trader)?;
        Ok(Self { index, name: spec.name(), spec, trader, symbol: settings.symbol.clone() })
    }

    /// The strategy's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// SHA-256 of the model's ONNX file (empty for baselines).
    pub fn model_sha256(&self) -> &str {
        match &self.spec {
            StrategySpec::Model { sha256, .. } => sha256,
            StrategySpec::MaCrossover { .. } => "",
        }
    }

    /// The first traded bar: the policy sees it, the account marks its close as the
    /// starting equity, and the strategy decides (`decide`).
    ///
    /// # Errors
    /// [`Error::Env`] when the policy returns an action outside its list.
    pub fn start(&mut self, bar: &Bar, decide: bool, arrived: Instant) -> Result<BarOutcome> {
        let outcome = self.trader.start(bar, decide)?;
        Ok(self.outcome(bar, outcome, arrived))
    }

    /// A traded bar after the first: the [`Trader`]'s bar (fill at the open, checks
    /// inside the bar, mark at the close, decide at the close when `decide`).
    ///
    /// # Errors
    /// An invalid price (the feed validates bars, so never in practice), or an action
    /// outside the policy's list.
    pub fn on_bar(&mut self, bar: &Bar, decide: bool, arrived: Instant) -> Result<BarOutcome> {
        let outcome = self.trader.on_bar(bar, decide)?;
        Ok(self.outcome(bar, outcome, arrived))
    }

    /// The daemon's view of a trader outcome: the signal to journal.
    fn outcome(&self, bar: &Bar, outcome: rltrade_env::BarOutcome, arrived: Instant) -> BarOutcome {
        let rltrade_env::BarOutcome { step, decision, action } = outcome;
        let (signal, inference_us) = match action {
            None => (None, None),
            Some(action) => {
                let (probs, inference_us) = match self.trader.policy() {
                    StrategyPolicy::Model(policy) => (policy.last_probs().to_vec(), Some(action.act_us)),
                    StrategyPolicy::Baseline(_) => (Vec::new(), None),
                };
                if let Some(failure) = &action.failure {
                    tracing::warn!(strategy = %self.name, "no order: {failure}");
                }
                let signal = Signal {
                    bar_ms: bar.time_ms,
                    symbol: self.symbol.clone(),
                    strategy: self.name.clone(),
                    model_sha256: self.model_sha256().to_string(),
                    action: action.index,
                    target_exposure: action.target,
                    probs,
                    latency_us: arrived.elapsed().as_micros() as u64,
                    invalid_output: action.failure.is_some(),
                };
                (Some(signal), inference_us)
            }
        };
        BarOutcome { fill: step.fill, protective: step.protective, mark: step.mark, signal, decision, inference_us }
    }

    /// Swaps in the model at `path` after validating it against the feed and warming
    /// its features on `history` (every bar fed so far). The old model keeps serving
    /// when this fails. Only model strategies can be reloaded.
    ///
    /// # Errors
    /// A baseline strategy, or any load or validation error of the new model.
    pub fn reload(&mut self, path: &Path, history: &[Bar]) -> Result<()> {
        let StrategyPolicy::Model(_) = self.trader.policy() else {
            return Err(Error::Config { field: "strategy".into(), message: format!("{} is not a model", self.name()) });
        };
        let (policy, mut observation) = load_model(path, &self.symbol, self.trader.settings().interval_ms)?;
        let card = policy.model().card();
        card.check_protect(&self.trader.settings().protect, SettingsSource::ServeConfig)?;
        if card.actions != self.trader.actions() {
            return Err(Error::Config {
                field: "actions".into(),
                message: format!("the new model's actions {:?} differ from {:?}", card.actions, self.trader.actions()),
            });
        }
        for bar in history {
            observation.push(bar);
        }
        let name = self.spec.name();
        let spec = StrategySpec::Model { name, sha256: card.onnx.sha256.clone() };
        self.trader.replace_policy(StrategyPolicy::Model(policy), Some(observation))?;
        self.spec = spec;
        Ok(())
    }
}

/// Loads the model at `path` (an export or a run folder) and checks it against the
/// feed (the card's symbol and interval) and this build's observation layout.
fn load_model(path: &Path, symbol: &str, interval_ms: i64) -> Result<(Box<OnnxPolicy>, ObservationBuilder)> {
    let model = OnnxModel::load(&resolve_export_dir(path)?)?;
    let card = model.card();
    card.check_feed(symbol, interval_ms)?;
    card.check_layout(&card.features, card.window, &card.actions)?;
    let observation = ObservationBuilder::new(&card.features, card.normalization.clone(), card.window)?;
    Ok((Box::new(OnnxPolicy::new(model)), observation))
}
