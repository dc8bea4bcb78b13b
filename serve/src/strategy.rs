//! [`StrategyRunner`]: one strategy of the daemon — an env [`Trader`] (its policy, an
//! exported ONNX model or an MA crossover; its incremental observation; its own
//! account) with the name and model identity the journal records.
//!
//! The per-bar sequence is the [`Trader`]'s, the one `rltrade backtest` loops over,
//! so a replay trades like a backtest by construction; this module only turns the
//! trader's outcome into the [`Signal`] the daemon journals.

use std::path::{Path, PathBuf};
use std::time::Instant;

use rltrade_env::baselines::{MaCrossover, MaSpec};
use rltrade_env::{Bar, DecisionContext, ObservationBuilder, Policy, PreparedBar, Trader, TraderSettings, Warmup};
use rltrade_exec::{Decision, FillOutcome, Mark, ProtectiveExit};
use rltrade_policy::model_dir::resolve_export_dir;
use rltrade_policy::{OnnxModel, OnnxPolicy, SettingsSource};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::signal::Signal;
use crate::strategy_name::StrategyName;

/// What a strategy is, as recorded in the journal: a restart must run the same
/// strategies, by name, each the model (by SHA-256) or MA crossover the journal
/// records for it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StrategySpec {
    /// An exported model, identified by the SHA-256 of its `policy.onnx`.
    Model {
        /// The strategy's name.
        name: StrategyName,
        /// SHA-256 of the `policy.onnx` it runs (hex).
        sha256: String,
        /// The export it was loaded from, absolute; a reload records the new one. `None`
        /// in journals written before paths were recorded.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        path: Option<PathBuf>,
        /// SHA-256 of the models it ran before, oldest first: a reload appends the one
        /// it replaces. A restart whose config names one of them resumes with `path`.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        replaced: Vec<String>,
    },
    /// The MA crossover baseline.
    MaCrossover {
        /// The strategy's name; `None` (journals written before names were configurable)
        /// means `ma:FAST:SLOW`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<StrategyName>,
        /// Fast SMA period, bars.
        fast: usize,
        /// Slow SMA period, bars.
        slow: usize,
    },
}

impl StrategySpec {
    /// The strategy's name: the configured one, else the model's run name or
    /// `ma:FAST:SLOW`.
    pub fn name(&self) -> StrategyName {
        match self {
            Self::Model { name, .. } | Self::MaCrossover { name: Some(name), .. } => name.clone(),
            Self::MaCrossover { name: None, fast, slow } => StrategyName::from(MaSpec { fast: *fast, slow: *slow }),
        }
    }

    /// SHA-256 of the model's ONNX file (`None` for baselines).
    pub fn model_sha256(&self) -> Option<&str> {
        match self {
            Self::Model { sha256, .. } => Some(sha256),
            Self::MaCrossover { .. } => None,
        }
    }

    /// True when `other` is the same strategy: the same name and kind, and the same
    /// model (SHA-256) or the same MA periods. Paths and reload history are not
    /// compared.
    pub fn same_strategy(&self, other: &StrategySpec) -> bool {
        match (self, other) {
            (Self::Model { sha256: a, .. }, Self::Model { sha256: b, .. }) => a == b && self.name() == other.name(),
            (Self::MaCrossover { fast: f1, slow: s1, .. }, Self::MaCrossover { fast: f2, slow: s2, .. }) => {
                (f1, s1) == (f2, s2) && self.name() == other.name()
            }
            _ => false,
        }
    }

    /// One line per strategy for error messages: `name (model sha256 0123456789ab)`
    /// or `name (ma:FAST:SLOW)`.
    pub fn describe(specs: &[StrategySpec]) -> String {
        let parts: Vec<String> = specs
            .iter()
            .map(|s| match s {
                Self::Model { sha256, .. } => format!("{} (model sha256 {})", s.name(), short_sha(sha256)),
                Self::MaCrossover { fast, slow, .. } => {
                    let spec = MaSpec { fast: *fast, slow: *slow }.to_string();
                    if s.name().as_str() == spec { spec } else { format!("{} ({spec})", s.name()) }
                }
            })
            .collect();
        format!("[{}]", parts.join(", "))
    }
}

/// The first 12 hex digits of a SHA-256, for messages.
pub fn short_sha(sha256: &str) -> &str {
    &sha256[..sha256.len().min(12)]
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
    name: StrategyName,
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
    /// against the feed's `symbol` and `interval_ms` and the daemon's protective orders,
    /// named by its run name (the card's `name`; [`Self::named`] renames it).
    ///
    /// # Errors
    /// The model cannot be loaded, its card does not match its ONNX file, or it was
    /// trained on another symbol or interval ([`rltrade_policy::Error::Mismatch`]) or
    /// with other protective settings ([`rltrade_policy::Error::SettingMismatch`]
    /// naming the setting, the card's value and the config's); a run name that is not a
    /// [`StrategyName`].
    pub fn model(index: usize, path: &Path, settings: &RunnerSettings) -> Result<Self> {
        let (policy, observation) = load_model(path, &settings.symbol, settings.trader.interval_ms)?;
        let card = policy.model().card();
        card.check_protect(&settings.trader.protect, SettingsSource::ServeConfig)?;
        let name = run_name(&card.name, path)?;
        let spec = StrategySpec::Model {
            name,
            sha256: card.onnx.sha256.clone(),
            path: Some(absolute(policy.model().export_dir())),
            replaced: Vec::new(),
        };
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
        let spec = StrategySpec::MaCrossover { name: None, fast, slow };
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

    /// The runner renamed `name` (a `[[serve.strategies]]` table's name).
    pub fn named(mut self, name: StrategyName) -> Self {
        match &mut self.spec {
            StrategySpec::Model { name: spec_name, .. } => *spec_name = name.clone(),
            StrategySpec::MaCrossover { name: spec_name, .. } => *spec_name = Some(name.clone()),
        }
        self.name = name;
        self
    }

    /// The strategy's name.
    pub fn name(&self) -> &str {
        self.name.as_str()
    }

    /// The strategy's name, typed.
    pub fn strategy_name(&self) -> &StrategyName {
        &self.name
    }

    /// SHA-256 of the model's ONNX file (empty for baselines).
    pub fn model_sha256(&self) -> &str {
        self.spec.model_sha256().unwrap_or("")
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

    /// [`Self::start`] (`first`) or [`Self::on_bar`] up to the decision
    /// ([`Trader::prepare_start`], [`Trader::prepare_bar`]): the engine may then run the
    /// inference of every strategy on one model as a batch before [`Self::conclude`].
    ///
    /// # Errors
    /// An invalid price (the feed validates bars, so never in practice).
    pub fn prepare(&mut self, bar: &Bar, decide: bool, first: bool) -> Result<PreparedBar> {
        if first { Ok(self.trader.prepare_start(bar, decide)) } else { Ok(self.trader.prepare_bar(bar, decide)?) }
    }

    /// Finishes a bar prepared by [`Self::prepare`] ([`Trader::conclude`]).
    /// `batched_us`: when this strategy's outputs came from a batched inference
    /// ([`OnnxPolicy::preset_outputs`]), its share of that run's time, µs, which is then
    /// its inference time.
    ///
    /// # Errors
    /// An action outside the policy's list.
    pub fn conclude(
        &mut self,
        bar: &Bar,
        prepared: PreparedBar,
        arrived: Instant,
        batched_us: Option<f64>,
    ) -> Result<BarOutcome> {
        let outcome = self.trader.conclude(bar, prepared)?;
        let mut outcome = self.outcome(bar, outcome, arrived);
        if let (Some(us), Some(inference_us)) = (batched_us, &mut outcome.inference_us) {
            *inference_us = us;
        }
        Ok(outcome)
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
                    strategy: self.name.to_string(),
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
        let mut replaced = match &self.spec {
            StrategySpec::Model { replaced, .. } => replaced.clone(),
            StrategySpec::MaCrossover { .. } => Vec::new(),
        };
        replaced.push(self.model_sha256().to_string());
        let spec = StrategySpec::Model {
            name: self.name.clone(),
            sha256: card.onnx.sha256.clone(),
            path: Some(absolute(policy.model().export_dir())),
            replaced,
        };
        self.trader.replace_policy(StrategyPolicy::Model(policy), Some(observation))?;
        self.spec = spec;
        Ok(())
    }
}

/// A model's run name as a strategy name.
fn run_name(card_name: &str, path: &Path) -> Result<StrategyName> {
    StrategyName::new(card_name).map_err(|e| Error::Config {
        field: "strategy name".into(),
        message: format!(
            "the model {} is named by its run name, and {e}; name it in a [[serve.strategies]] table",
            path.display()
        ),
    })
}

/// `path` made absolute (symlinks resolved), or as given when it cannot be resolved:
/// what the journal records, so a restart from another directory finds it.
pub fn absolute(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
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
