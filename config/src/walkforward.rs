//! `[walkforward]`: the settings of `rltrade walkforward` (the fold layout, seeds and
//! jobs). The folds themselves are cut by `rltrade_agent::walkforward::folds`.

use serde::{Deserialize, Serialize};

/// Where each fold's training window starts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scheme {
    /// Every fold trains on all bars before its validation window (an expanding window).
    #[default]
    Anchored,
    /// Every fold trains on the last `train_bars` bars before its validation window.
    Rolling,
}

impl std::str::FromStr for Scheme {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "anchored" => Ok(Scheme::Anchored),
            "rolling" => Ok(Scheme::Rolling),
            other => Err(format!("unknown scheme `{other}`: expected anchored or rolling")),
        }
    }
}

impl std::fmt::Display for Scheme {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Scheme::Anchored => "anchored",
            Scheme::Rolling => "rolling",
        })
    }
}

/// Settings of `rltrade walkforward` (`[walkforward]`); the CLI flags override them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WalkForwardConfig {
    /// K: the number of folds (test windows). Default 6.
    pub folds: usize,
    /// Anchored or rolling training windows. Default `anchored`.
    pub scheme: Scheme,
    /// Training bars of a rolling fold. Default: as many as fold 1 has anchored, so every
    /// fold trains on the same number of bars.
    pub train_bars: Option<usize>,
    /// Fraction of the bars (the last ones) cut into the K test windows. Default 0.3.
    pub test_fraction: f64,
    /// V: bars of each fold's validation window before the purge gap is cut from its end.
    /// Default: the test window's length L.
    pub validation_bars: Option<usize>,
    /// Seeds trained in every fold. Default `[1, 2, 3]`.
    pub seeds: Vec<u64>,
    /// Fold k starts from fold k − 1's final weights (same seed). Default false.
    pub warm_start: bool,
    /// Runs trained at once. Default 1.
    pub jobs: usize,
    /// The RL arm's name in reports. Default: the config file's name without `.toml`
    /// (`ppo` without a file).
    pub name: Option<String>,
    /// PPO environment steps of every fold-seed run, in place of `ppo.total_steps`
    /// (a walk-forward trains K × seeds runs). Default: unset (`ppo.total_steps`).
    pub total_steps: Option<u64>,
}

impl Default for WalkForwardConfig {
    fn default() -> Self {
        Self {
            folds: 6,
            scheme: Scheme::Anchored,
            train_bars: None,
            test_fraction: 0.3,
            validation_bars: None,
            seeds: vec![1, 2, 3],
            warm_start: false,
            jobs: 1,
            name: None,
            total_steps: None,
        }
    }
}
