//! `TradingEnv`: a gym-like environment that replays historical bars.
//!
//! Gymnasium semantics: [`TradingEnv::reset`] returns `(observation, info)`,
//! [`TradingEnv::step`] returns `(observation, reward, terminated, truncated, info)`.
//! The action chosen on bar t's close becomes a target order that passes the
//! `rltrade-exec` risk check and fills at bar t+1's open through its fill simulator:
//! the environment does no fill or fee arithmetic of its own.

use std::ops::Range;
use std::sync::Arc;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rltrade_exec::{
    Account, ExecutionConfig, ExitReason, Fill, FillOutcome, FillSimulator, FillSource, NoFillReason, Portfolio,
    ProtectConfig, RefusalReason, RiskConfig, RiskManager, StateChange, Trade,
};
use serde::{Deserialize, Serialize};

use crate::config::{EnvConfig, RewardKind, check_short_targets};
use crate::decision::DecisionSchedule;
use crate::error::{Error, Result};
use crate::market::MarketData;
use crate::reward::{RewardState, ew_volatility, turnover_penalty};
use crate::setup::TradingSetup;
use crate::split::SplitName;

/// Position-state values appended after the feature window in every observation:
/// exposure (signed fraction of equity), unrealized return of the open position
/// (fraction, signed for the side), and `ln(1 + bars in position)`.
pub const POSITION_FEATURES: usize = 3;

/// What happened in one step (or at reset), besides observation and reward.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct StepInfo {
    /// Index of the bar whose close the observation is taken at.
    pub index: usize,
    /// That bar's open time, ms since epoch UTC.
    pub time_ms: i64,
    /// Equity marked at that close, quote currency.
    pub equity: f64,
    /// Cash, quote currency.
    pub cash: f64,
    /// Position, base units (signed).
    pub position: f64,
    /// Position value / equity, signed.
    pub exposure: f64,
    /// The fill at this bar's open, if an order filled.
    pub fill: Option<Fill>,
    /// Why an approved order did not fill at this bar's open.
    pub no_fill: Option<NoFillReason>,
    /// The risk refusal of the order this step's action asked for.
    pub refusal: Option<RefusalReason>,
    /// A trading-state change at this close (a halt, or a halt lifted).
    pub state_change: Option<StateChange>,
    /// Why a position was closed during this step (a protective order, the strategy's
    /// own order or a risk liquidation); the last one when several were.
    pub exit_reason: Option<ExitReason>,
}

/// One step's result (gymnasium's 5-tuple).
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    /// The next observation, `[obs_dim]` f32.
    pub observation: Vec<f32>,
    /// The reward.
    pub reward: f64,
    /// The episode ended inside the MDP (ruin).
    pub terminated: bool,
    /// The episode was cut (time limit, end of the split's data).
    pub truncated: bool,
    /// Details.
    pub info: StepInfo,
}

/// A step written into caller-owned buffers (no allocation): the observation went
/// into the slice given to [`TradingEnv::step_into`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepOutcome {
    /// The reward.
    pub reward: f64,
    /// Ruin.
    pub terminated: bool,
    /// Time limit or end of data.
    pub truncated: bool,
    /// Details.
    pub info: StepInfo,
}

/// The episode state of a [`TradingEnv`] between two steps, with its random generator:
/// what a resumed training run restores ([`TradingEnv::state`],
/// [`TradingEnv::restore`]). Data, settings and split are not part of it: they come
/// from the run's config. No order is pending between steps (an approved order fills,
/// or fails to, within the step that approved it).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TradingEnvState {
    rng: ChaCha8Rng,
    t: usize,
    end: usize,
    steps: usize,
    max_steps: usize,
    evaluation: bool,
    account: Account,
    reward: RewardState,
}

/// The trading environment.
#[derive(Clone, Debug)]
pub struct TradingEnv {
    data: Arc<MarketData>,
    config: EnvConfig,
    execution: ExecutionConfig,
    risk_config: RiskConfig,
    protect: ProtectConfig,
    simulator: FillSimulator,
    split: SplitName,
    range: Range<usize>,
    rng: ChaCha8Rng,
    obs_dim: usize,
    // episode state
    t: usize,
    end: usize,
    steps: usize,
    max_steps: usize,
    evaluation: bool,
    account: Account,
    reward: RewardState,
    schedule: DecisionSchedule,
    /// σ̂ per bar for `vol_scaled` (`[n_bars]`, [`ew_volatility`]); empty otherwise.
    sigma: Arc<[f64]>,
}

impl TradingEnv {
    /// An environment over `split` of `setup.data`, with the environment settings of
    /// `setup.env`, costs and venue rules from `setup.execution` and limits from
    /// `setup.risk`. Random episode starts use a ChaCha8 stream
    /// seeded by `seed` (see [`Self::reset`]).
    ///
    /// # Errors
    /// [`Error::Config`] for invalid settings (an action list with shorts while
    /// `risk.allow_short` is false, for one), or a split too short for one step after
    /// the observation warm-up.
    pub fn new(setup: &TradingSetup, split: SplitName, seed: u64) -> Result<Self> {
        let TradingSetup { data, env: config, execution, risk, protect } = setup.clone();
        config.validate()?;
        if config.window != data.window {
            return Err(Error::Config {
                field: "env.window".into(),
                message: format!("{} differs from the window the data was split for ({})", config.window, data.window),
            });
        }
        if config.reward.lookback() > data.reward_lookback {
            return Err(Error::Config {
                field: "env.reward.vol_span".into(),
                message: format!(
                    "{} bars of reward warm-up, but the data was split for {}: build the data with this env config",
                    config.reward.lookback(),
                    data.reward_lookback
                ),
            });
        }
        if risk.lookback_bars() > data.risk_lookback {
            return Err(Error::Config {
                field: "risk.var_lookback".into(),
                message: format!(
                    "{} bars of VaR history, but the data was split for {}: build the data with this risk config",
                    risk.lookback_bars(),
                    data.risk_lookback
                ),
            });
        }
        check_short_targets(&config.actions, risk.allow_short)?;
        let simulator = FillSimulator::new(&execution)?;
        let account = Account::new(execution.initial_cash, risk.clone(), protect, false)?;
        let range = data.splits.range(split);
        let obs_dim = config.window * data.n_features + POSITION_FEATURES;
        let schedule = DecisionSchedule::new(config.decision_interval, data.series.interval_ms);
        let sigma: Arc<[f64]> = match config.reward.kind {
            RewardKind::VolScaled => {
                let closes: Vec<f64> = data.series.bars.iter().map(|b| b.close).collect();
                ew_volatility(&closes, config.reward.vol_span).into()
            }
            _ => Arc::from(Vec::new()),
        };
        let env = Self {
            schedule,
            sigma,
            account,
            reward: RewardState::new(&config.reward, execution.initial_cash),
            data,
            config,
            execution,
            risk_config: risk,
            protect,
            simulator,
            split,
            range,
            rng: ChaCha8Rng::seed_from_u64(seed),
            obs_dim,
            t: 0,
            end: 0,
            steps: 0,
            max_steps: 0,
            evaluation: false,
        };
        let (lo, hi) = env.start_bounds();
        if lo > hi {
            return Err(Error::Config {
                field: "split".into(),
                message: format!(
                    "the {} split (bars {}..{}) is too short for the observation warm-up (first full observation at bar {})",
                    split,
                    env.range.start,
                    env.range.end,
                    env.data.first_observation_index()
                ),
            });
        }
        Ok(env)
    }

    /// Selects a stream of the random generator (one per env in a [`crate::VecEnv`]),
    /// so results do not depend on how envs are spread over threads.
    pub fn set_rng_stream(&mut self, stream: u64) {
        self.rng.set_stream(stream);
    }

    /// The episode state and random generator, to be restored later with
    /// [`Self::restore`] (on an environment built from the same data and settings).
    pub fn state(&self) -> TradingEnvState {
        debug_assert!(self.account.pending.is_none(), "no order is pending between steps");
        TradingEnvState {
            rng: self.rng.clone(),
            t: self.t,
            end: self.end,
            steps: self.steps,
            max_steps: self.max_steps,
            evaluation: self.evaluation,
            account: self.account.clone(),
            reward: self.reward,
        }
    }

    /// Continues from `state` (taken with [`Self::state`]): the next step is the one the
    /// saved environment would have taken, with the same random draws.
    ///
    /// # Errors
    /// [`Error::InvalidState`] when `state` cannot belong to this environment: bar
    /// indices outside the data (or, for a training episode, outside the split), other
    /// risk limits or another initial cash. The environment is unchanged then.
    pub fn restore(&mut self, state: &TradingEnvState) -> Result<()> {
        let invalid = |message: String| Err(Error::InvalidState { message });
        if state.end >= self.data.len() || state.t > state.end || state.steps > state.max_steps {
            return invalid(format!(
                "bar {} (episode end {}, step {} of {}) does not fit the {} bars of data",
                state.t,
                state.end,
                state.steps,
                state.max_steps,
                self.data.len()
            ));
        }
        if !state.evaluation && (state.end >= self.range.end || state.t + 1 < self.range.start) {
            return invalid(format!(
                "training episode at bars {}..={} lies outside the {} split (bars {}..{})",
                state.t, state.end, self.split, self.range.start, self.range.end
            ));
        }
        if state.account.risk.config() != &self.risk_config {
            return invalid("it was saved with other risk limits".into());
        }
        if state.account.protect != self.protect {
            return invalid("it was saved with other protective-order settings".into());
        }
        if state.account.portfolio.initial_cash.to_bits() != self.execution.initial_cash.to_bits() {
            return invalid(format!(
                "it was saved with initial cash {}, this environment has {}",
                state.account.portfolio.initial_cash, self.execution.initial_cash
            ));
        }
        self.rng = state.rng.clone();
        self.t = state.t;
        self.end = state.end;
        self.steps = state.steps;
        self.max_steps = state.max_steps;
        self.evaluation = state.evaluation;
        self.account = state.account.clone();
        self.account.pending = None;
        self.reward = state.reward;
        Ok(())
    }

    /// Length of an observation: `window × n_features + 3`.
    pub fn obs_dim(&self) -> usize {
        self.obs_dim
    }

    /// Number of actions.
    pub fn n_actions(&self) -> usize {
        self.config.actions.len()
    }

    /// The action list (target exposures).
    pub fn actions(&self) -> &[f64] {
        &self.config.actions
    }

    /// The settings.
    pub fn config(&self) -> &EnvConfig {
        &self.config
    }

    /// The split episodes are drawn from.
    pub fn split(&self) -> SplitName {
        self.split
    }

    /// The market data.
    pub fn data(&self) -> &Arc<MarketData> {
        &self.data
    }

    /// Index of the bar whose close the current observation is taken at.
    pub fn index(&self) -> usize {
        self.t
    }

    /// The portfolio.
    pub fn portfolio(&self) -> &Portfolio {
        &self.account.portfolio
    }

    /// The risk manager (trading state, halts, kill switch).
    pub fn risk(&self) -> &RiskManager {
        &self.account.risk
    }

    /// Mutable risk manager, for operators (kill switch, resume).
    pub fn risk_mut(&mut self) -> &mut RiskManager {
        &mut self.account.risk
    }

    /// Risk refusals since the last reset.
    pub fn risk_refusals(&self) -> u64 {
        self.account.risk_refusals
    }

    /// The target exposure of the last approved order (0 at reset; 0 after a liquidation).
    pub fn current_target(&self) -> f64 {
        self.account.current_target
    }

    /// Closed trades since the last reset (only when trade recording is on, see
    /// [`Self::reset_at`]).
    pub fn closed_trades(&self) -> &[Trade] {
        self.account.trades.as_ref().map_or(&[], |t| t.closed())
    }

    /// The open trade valued at the last close, if any (trade recording on).
    pub fn open_trade(&self) -> Option<Trade> {
        self.account.trades.as_ref().and_then(|t| t.open_trade(self.account.portfolio.unrealized_pnl()))
    }

    /// Bars one full training episode spans: `max_episode_steps` decisions of
    /// `decision_interval` bars each.
    fn episode_bars(&self) -> usize {
        self.config.max_episode_steps.saturating_mul(self.schedule.every as usize)
    }

    /// Bounds of a training episode's first decision index: from the first bar of the
    /// split (or the first full observation, if later) to the last start that leaves a
    /// full episode (or at least one step) before the split's last bar.
    fn start_bounds(&self) -> (usize, usize) {
        let lo = self.range.start.saturating_sub(1).max(self.data.first_observation_index());
        let last = self.range.end.saturating_sub(1);
        let hi = last.saturating_sub(self.episode_bars()).max(lo.min(last.saturating_sub(1)));
        (lo, hi.min(last.saturating_sub(1)))
    }

    /// The decision bar nearest after `start` within `lo..=hi` (else the nearest before
    /// it; else `start` itself, for data without a decision bar there).
    fn snap_to_decision_bar(&self, start: usize, lo: usize, hi: usize) -> usize {
        let bars = &self.data.series.bars;
        let is_decision = |i: &usize| self.schedule.is_decision_bar(&bars[*i]);
        (start..=hi).find(is_decision).or_else(|| (lo..start).rev().find(is_decision)).unwrap_or(start)
    }

    /// Starts a training episode at a random bar of the split (uniform over the starts
    /// that leave a full episode, then moved to the next decision bar when
    /// `decision_interval` > 1), flat with the initial cash. `seed` re-seeds the
    /// generator first (gymnasium's `reset(seed=...)`), keeping the stream.
    pub fn reset(&mut self, seed: Option<u64>) -> (Vec<f32>, StepInfo) {
        let mut obs = vec![0.0; self.obs_dim];
        let info = self.reset_into(seed, &mut obs);
        (obs, info)
    }

    /// [`Self::reset`] writing the observation into `obs` (`[obs_dim]`).
    ///
    /// # Panics
    /// Panics if `obs.len() != obs_dim`.
    pub fn reset_into(&mut self, seed: Option<u64>, obs: &mut [f32]) -> StepInfo {
        if let Some(seed) = seed {
            let stream = self.rng.get_stream();
            self.rng = ChaCha8Rng::seed_from_u64(seed);
            self.rng.set_stream(stream);
        }
        let (lo, hi) = self.start_bounds();
        let mut start = self.rng.random_range(lo..=hi);
        if self.schedule.every > 1 {
            start = self.snap_to_decision_bar(start, lo, hi);
        }
        let end = (start + self.episode_bars()).min(self.range.end - 1);
        self.begin(start, end, false, false);
        self.max_steps = self.config.max_episode_steps.min(end - start);
        self.observe(obs)
    }

    /// Starts an evaluation episode (backtest): the first decision at the close of bar
    /// `start`, the last step marks bar `end` (inclusive); no ruin termination, no time
    /// limit. With `record_trades`, round trips are kept ([`Self::closed_trades`]).
    ///
    /// # Errors
    /// [`Error::Config`] if `start >= end` or `end` is past the data.
    pub fn reset_at(&mut self, start: usize, end: usize, record_trades: bool, obs: &mut [f32]) -> Result<StepInfo> {
        if start >= end || end >= self.data.len() {
            return Err(Error::Config {
                field: "backtest window".into(),
                message: format!("bars {start}..={end} do not fit the {} bars of data", self.data.len()),
            });
        }
        self.begin(start, end, true, record_trades);
        Ok(self.observe(obs))
    }

    fn begin(&mut self, start: usize, end: usize, evaluation: bool, record_trades: bool) {
        let cash = self.execution.initial_cash;
        self.t = start;
        self.end = end;
        self.steps = 0;
        self.max_steps = end - start;
        self.evaluation = evaluation;
        let bar = self.data.series.bars[start];
        // the config was validated in `new`
        self.account = Account::new(cash, self.risk_config.clone(), self.protect, record_trades)
            .unwrap_or_else(|_| unreachable!());
        // the risk limits' price history: the closes before the episode (warm-up bars)
        let history = self.risk_config.lookback_bars();
        for bar in &self.data.series.bars[start.saturating_sub(history)..start] {
            self.account.warm(bar.close);
        }
        self.account.start(bar.close, bar.time_ms + self.data.series.interval_ms, &self.simulator);
        self.reward = RewardState::new(&self.config.reward, cash);
    }

    /// Takes `action` at the current bar's close and advances one bar (allocating the
    /// observation; see [`Self::step_into`] for the allocation-free form).
    ///
    /// # Errors
    /// [`Error::InvalidAction`] for an index outside the action list.
    pub fn step(&mut self, action: usize) -> Result<Step> {
        let mut observation = vec![0.0; self.obs_dim];
        let out = self.step_into(action, &mut observation)?;
        Ok(Step {
            observation,
            reward: out.reward,
            terminated: out.terminated,
            truncated: out.truncated,
            info: out.info,
        })
    }

    /// One step: the action becomes a target order at bar t's close (sent only when the
    /// target differs from the one asked for at the previous decision), is risk-checked,
    /// fills at bar t+1's open, and the bars up to the next decision bar (t+1 when
    /// `decision_interval` = 1) go through [`Account::step_bar`]; the reward is the sum of
    /// their rewards minus the turnover penalty of this decision, and the observation at
    /// the next decision bar is written into `obs`. Between decisions the requested
    /// target holds (a halt may still flatten, as in the backtest). Stepping a finished
    /// episode keeps returning its last state with `truncated = true`.
    ///
    /// # Errors
    /// [`Error::InvalidAction`] for an index outside the action list.
    ///
    /// # Panics
    /// Panics if `obs.len() != obs_dim`.
    #[inline]
    pub fn step_into(&mut self, action: usize, obs: &mut [f32]) -> Result<StepOutcome> {
        let Some(&target) = self.config.actions.get(action) else {
            return Err(Error::InvalidAction { action, n_actions: self.config.actions.len() });
        };
        self.advance(Some(target), obs)
    }

    #[inline]
    fn advance(&mut self, target: Option<f64>, obs: &mut [f32]) -> Result<StepOutcome> {
        let mut info = StepInfo::default();
        if self.t >= self.end {
            return Ok(StepOutcome { reward: 0.0, terminated: false, truncated: true, info: self.observe(obs) });
        }
        let bars = &self.data.series.bars;
        let decision_bar = bars[self.t];
        let previous_request = self.account.requested_target;
        let decision = self.account.decide(target, decision_bar.time_ms, decision_bar.close, &self.simulator);
        info.refusal = decision.refusal();
        // the turnover penalty of this decision (the risk layer's exits are not charged)
        let mut reward = match target {
            Some(t) if t.to_bits() != previous_request.to_bits() && self.config.reward.turnover_penalty > 0.0 => {
                -turnover_penalty(self.config.reward.turnover_penalty, previous_request, t)
            }
            _ => 0.0,
        };
        let ruin = self.config.ruin_fraction * self.execution.initial_cash;
        let mut terminated;
        loop {
            self.t += 1;
            let bar = bars[self.t];
            let previous_equity = self.account.portfolio.equity();
            // the one per-bar sequence (fill at the open, checks inside the bar, mark at
            // the close); its mark time is the bar's close, so a daily-loss halt lifts for
            // the decision at 00:00
            let step =
                self.account.step_bar(&bar, self.data.series.interval_ms, &self.simulator, FillSource::Simulator)?;
            match step.fill {
                Some(FillOutcome::Filled { fill, .. }) => info.fill = info.fill.or(Some(fill)),
                Some(FillOutcome::NoFill(reason)) => info.no_fill = Some(reason),
                None => {}
            }
            let equity = step.mark.equity;
            info.state_change = step.mark.state_change.or(info.state_change);
            info.exit_reason = step.exit_reason.or(info.exit_reason);
            let sigma = self.sigma.get(self.t - 1).copied().unwrap_or(0.0);
            reward += self.reward.reward(previous_equity, equity, sigma);
            terminated = !self.evaluation && equity <= ruin;
            if terminated || self.t >= self.end || self.schedule.is_decision_bar(&bar) {
                break;
            }
            // between decisions the target holds; a halt still flattens, as in the Trader
            self.account.decide(None, bar.time_ms, bar.close, &self.simulator);
        }
        self.steps += 1;
        let truncated = !terminated && (self.t >= self.end || self.steps >= self.max_steps);
        let base = self.observe(obs);
        Ok(StepOutcome { reward, terminated, truncated, info: info_with(base, info) })
    }

    /// Writes the observation at bar `t` into `obs` and returns the matching info:
    /// rows `t − window + 1 ..= t` of the normalized feature matrix (oldest first; rows
    /// before bar 0 are zeros), then the position state.
    #[inline]
    fn observe(&self, obs: &mut [f32]) -> StepInfo {
        assert_eq!(obs.len(), self.obs_dim, "observation buffer length");
        let n = self.data.n_features;
        let window = self.config.window;
        let (features, state) = obs.split_at_mut(window * n);
        let first = (self.t + 1).saturating_sub(window);
        let rows = self.t + 1 - first;
        let pad = (window - rows) * n;
        features[..pad].fill(0.0);
        features[pad..].copy_from_slice(&self.data.features[first * n..(self.t + 1) * n]);
        let bar = self.data.series.bars[self.t];
        let exposure = position_features(&self.account, bar.close, state);
        StepInfo {
            index: self.t,
            time_ms: bar.time_ms,
            equity: self.account.portfolio.equity(),
            cash: self.account.portfolio.cash,
            position: self.account.portfolio.quantity,
            exposure,
            ..StepInfo::default()
        }
    }
}

/// Writes the [`POSITION_FEATURES`] of `account` marked at `close` into `out` (`[3]`):
/// exposure (signed fraction of equity), the open position's unrealized return
/// (fraction), `ln(1 + bars in position)`. Returns the exposure as f64. The env's
/// observations and the daemon's share this one definition.
///
/// # Panics
/// Panics if `out.len() != POSITION_FEATURES`.
#[inline]
pub fn position_features(account: &Account, close: f64, out: &mut [f32]) -> f64 {
    assert_eq!(out.len(), POSITION_FEATURES, "position feature buffer length");
    let exposure = account.portfolio.exposure_at(close);
    out[0] = exposure as f32;
    out[1] = account.portfolio.unrealized_return() as f32;
    out[2] = ln_1p_count(account.bars_in_position);
    exposure
}

/// `ln(1 + n)` as f32, from a table for the common small counts.
#[inline]
fn ln_1p_count(n: u64) -> f32 {
    static TABLE: std::sync::LazyLock<Vec<f32>> =
        std::sync::LazyLock::new(|| (0..4_096u32).map(|n| (n as f32).ln_1p()).collect());
    TABLE.get(n as usize).copied().unwrap_or_else(|| (n as f32).ln_1p())
}

/// Merges the step's events into the end-of-step snapshot.
#[inline]
fn info_with(base: StepInfo, events: StepInfo) -> StepInfo {
    StepInfo {
        fill: events.fill,
        no_fill: events.no_fill,
        refusal: events.refusal,
        state_change: events.state_change,
        exit_reason: events.exit_reason,
        ..base
    }
}
