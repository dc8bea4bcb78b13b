//! Settings of the environment (TOML section `[env]`) and of the splits (`[split]`).

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Which reward the environment pays per step.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RewardKind {
    /// `ln(equity_t / equity_{t−1})`: sums to the log growth of the episode.
    #[default]
    LogReturn,
    /// The differential Sharpe ratio of Moody & Saffell, "Learning to Trade via Direct
    /// Reinforcement", IEEE Trans. Neural Networks 12(4), 2001, eq. 14.
    DifferentialSharpe,
    /// `ln(equity_t / equity_{t−1}) − λ × max(0, drawdown_t − drawdown_{t−1})`, with
    /// drawdown as a fraction of the running peak: each new bit of drawdown costs λ.
    DrawdownPenalty,
    /// Volatility-scaled return (Zhang, Zohren & Roberts, "Deep Reinforcement Learning
    /// for Trading", J. Financial Data Science 2(2), 2020, eq. 4):
    /// `(E_t / E_{t−1} − 1) × target_vol / σ̂_{t−1}` per bar, where the equity return
    /// is the position's exposure × the bar's return net of the fees and slippage paid,
    /// and σ̂ is the exponentially weighted volatility of past close-to-close returns
    /// (span `vol_span` bars, so α = 2 / (span + 1); returns up to the previous close
    /// only). It is a reward, not a sizing rule: orders are sized by the action alone.
    VolScaled,
}

/// The reward and its parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RewardConfig {
    /// Which reward. Default `log_return`.
    pub kind: RewardKind,
    /// Adaptation rate η of the differential Sharpe ratio's moving moments (per bar).
    /// Default 0.01 (Moody & Saffell 2001 use values of this order).
    pub dsr_eta: f64,
    /// λ of the drawdown penalty (reward units per unit of new drawdown). Default 0.5.
    pub drawdown_penalty: f64,
    /// λ of the turnover penalty, any reward kind: at each decision the reward loses
    /// λ × |new requested target − previous requested target| (targets as signed
    /// fractions of equity), on top of the fees that equity already pays. Exits made by
    /// the risk layer are not charged. Default 0 (off). The transaction-cost term of
    /// Moody & Saffell 2001 (eq. 2) and Zhang, Zohren & Roberts 2020 (eq. 4).
    pub turnover_penalty: f64,
    /// Target volatility of `vol_scaled`, as a fraction per bar (e.g. 0.01 = 1% per
    /// bar). Required by `vol_scaled`; ignored otherwise.
    pub target_vol: Option<f64>,
    /// Span, in bars, of `vol_scaled`'s exponentially weighted volatility σ̂. It counts
    /// toward the warm-up (no episode starts before σ̂ has seen this many returns) and
    /// the splits' purge gap. Default 64.
    pub vol_span: usize,
}

impl Default for RewardConfig {
    fn default() -> Self {
        Self {
            kind: RewardKind::LogReturn,
            dsr_eta: 0.01,
            drawdown_penalty: 0.5,
            turnover_penalty: 0.0,
            target_vol: None,
            vol_span: 64,
        }
    }
}

impl RewardConfig {
    /// Bars of history the reward needs before an episode can start: `vol_span` for
    /// `vol_scaled`, else 0.
    pub fn lookback(&self) -> usize {
        match self.kind {
            RewardKind::VolScaled => self.vol_span,
            _ => 0,
        }
    }
}

/// The trading environment's settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EnvConfig {
    /// Bars of features in one observation. Default 32.
    pub window: usize,
    /// The action list: action `i` targets exposure `actions[i]` (fraction of equity,
    /// signed). Default `[0.0, 1.0]` (flat / long); `[-1.0, 0.0, 1.0]` allows shorts
    /// (needs `risk.allow_short = true`).
    pub actions: Vec<f64>,
    /// Steps after which a training episode is truncated. Default 720 (30 days of 1 h bars).
    pub max_episode_steps: usize,
    /// A training episode terminates when equity falls to this fraction of the starting
    /// cash or below. Default 0.5. Backtests never terminate early.
    pub ruin_fraction: f64,
    /// The reward.
    pub reward: RewardConfig,
    /// Decide every k bars: at bars whose close time is a whole multiple of
    /// k × interval since the Unix epoch, UTC (`rltrade_env::decision::DecisionSchedule`).
    /// Between decisions the requested target holds; one env step spans the bars up to
    /// the next decision and pays the sum of their rewards, so `max_episode_steps` and
    /// γ count decisions. Default 1 (every bar).
    pub decision_interval: u32,
    /// Switching hysteresis of the greedy policy (backtest, compare, daemon, validation):
    /// it leaves the current requested target only when the best action's probability
    /// exceeds the current target's by more than this. In [0, 1); default 0 (plain
    /// greedy). Baselines are unaffected.
    pub switch_margin: f64,
}

impl Default for EnvConfig {
    fn default() -> Self {
        Self {
            window: 32,
            actions: vec![0.0, 1.0],
            max_episode_steps: 720,
            ruin_fraction: 0.5,
            reward: RewardConfig::default(),
            decision_interval: 1,
            switch_margin: 0.0,
        }
    }
}

impl EnvConfig {
    /// Checks ranges and consistency: `actions` holds at least two distinct finite
    /// target exposures (what an exported model card requires), the window, episode
    /// length and decision interval are ≥ 1, the fractions and reward parameters in range.
    ///
    /// # Errors
    /// [`Error::Config`] naming the field (`env.<name>`).
    pub fn validate(&self) -> Result<()> {
        let bad = |field: &str, message: String| Err(Error::Config { field: format!("env.{field}"), message });
        if self.window == 0 {
            return bad("window", "must be >= 1".into());
        }
        if self.actions.len() < 2 {
            // a policy chooses between targets: its network has one output per action, and
            // an exported model card must list at least two
            return bad(
                "actions",
                format!("{:?}: must hold at least two target exposures (e.g. [0.0, 1.0])", self.actions),
            );
        }
        if let Some(a) = self.actions.iter().find(|a| !a.is_finite()) {
            return bad("actions", format!("target exposures must be finite, found {a}"));
        }
        for (i, a) in self.actions.iter().enumerate() {
            if self.actions[..i].contains(a) {
                return bad("actions", format!("target exposure {a} appears twice"));
            }
        }
        if self.max_episode_steps == 0 {
            return bad("max_episode_steps", "must be >= 1".into());
        }
        if !(0.0..1.0).contains(&self.ruin_fraction) {
            return bad("ruin_fraction", format!("must be in [0, 1), found {}", self.ruin_fraction));
        }
        if !(self.reward.dsr_eta > 0.0 && self.reward.dsr_eta < 1.0) {
            return bad("reward.dsr_eta", format!("must be in (0, 1), found {}", self.reward.dsr_eta));
        }
        if !(self.reward.drawdown_penalty.is_finite() && self.reward.drawdown_penalty >= 0.0) {
            return bad(
                "reward.drawdown_penalty",
                format!("must be finite and >= 0, found {}", self.reward.drawdown_penalty),
            );
        }
        let reward = &self.reward;
        if !(reward.turnover_penalty.is_finite() && reward.turnover_penalty >= 0.0) {
            return bad(
                "reward.turnover_penalty",
                format!("must be finite and >= 0, found {}", reward.turnover_penalty),
            );
        }
        if reward.kind == RewardKind::VolScaled {
            match reward.target_vol {
                None => {
                    return bad(
                        "reward.target_vol",
                        "must be set for kind = \"vol_scaled\" (target volatility per bar, e.g. 0.01)".into(),
                    );
                }
                Some(v) if !(v.is_finite() && v > 0.0) => {
                    return bad("reward.target_vol", format!("must be finite and > 0, found {v}"));
                }
                Some(_) => {}
            }
            if reward.vol_span < 2 {
                return bad("reward.vol_span", format!("must be >= 2 bars, found {}", reward.vol_span));
            }
        }
        if self.decision_interval == 0 {
            return bad("decision_interval", "must be >= 1 (decide every k bars)".into());
        }
        if !(0.0..1.0).contains(&self.switch_margin) {
            return bad("switch_margin", format!("must be in [0, 1), found {}", self.switch_margin));
        }
        Ok(())
    }
}

/// Checks that `actions` (target exposures) hold no short target unless
/// `allow_short` (`risk.allow_short`). The one rule the training env and every
/// [`crate::Trader`] apply.
///
/// # Errors
/// [`Error::Config`] naming `risk.allow_short` and the actions.
pub fn check_short_targets(actions: &[f64], allow_short: bool) -> Result<()> {
    if actions.iter().any(|&a| a < 0.0) && !allow_short {
        return Err(Error::Config {
            field: "risk.allow_short".into(),
            message: format!(
                "the actions {actions:?} hold short targets but `risk.allow_short` is false: set it to true or drop negative actions"
            ),
        });
    }
    Ok(())
}

/// How the bars are split into train / validation / test, in time order.
///
/// With dates unset, fractions of the bars; with `train_end` and `validation_end` set
/// (both, `YYYY-MM-DD` or RFC 3339, UTC, exclusive), by time. With dates, `train_start`
/// (inclusive) and `test_end` (exclusive) may also cut the data's ends off the splits
/// (a walk-forward fold); bars outside still warm up features. A gap of
/// max(observation window, longest feature lookback, reward lookback) bars is cut from
/// the start of validation and of test: gap bars belong to no split and only warm up.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SplitConfig {
    /// Fraction of the bars in train. Default 0.70.
    pub train_fraction: f64,
    /// Fraction of the bars in validation (test gets the rest). Default 0.15.
    pub validation_fraction: f64,
    /// First time not in train (exclusive end), UTC. Default: unset (use fractions).
    pub train_end: Option<String>,
    /// First time not in validation (exclusive end), UTC. Default: unset.
    pub validation_end: Option<String>,
    /// First time in train (inclusive), UTC; only with the dates above. Default: unset
    /// (the first bar).
    pub train_start: Option<String>,
    /// First time not in test (exclusive end), UTC; only with the dates above. Default:
    /// unset (past the last bar).
    pub test_end: Option<String>,
}

impl Default for SplitConfig {
    fn default() -> Self {
        Self {
            train_fraction: 0.70,
            validation_fraction: 0.15,
            train_end: None,
            validation_end: None,
            train_start: None,
            test_end: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression (issue 19): one action trained fully and failed only at export.
    #[test]
    fn actions_need_two_distinct_finite_targets() {
        assert!(EnvConfig::default().validate().is_ok());
        for actions in [vec![], vec![1.0], vec![0.0, 0.0], vec![0.0, f64::NAN], vec![0.0, f64::INFINITY]] {
            let config = EnvConfig { actions: actions.clone(), ..EnvConfig::default() };
            let err = config.validate().unwrap_err().to_string();
            assert!(err.contains("env.actions"), "{actions:?}: {err}");
        }
        let short = EnvConfig { actions: vec![-1.0, 0.0, 1.0], ..EnvConfig::default() };
        assert!(short.validate().is_ok());
    }
}
