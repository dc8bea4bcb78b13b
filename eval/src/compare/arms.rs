//! The arms of a comparison: RL models grouped by seed, and baselines (`buy-and-hold`,
//! `ma:F:S`, `ma:auto`).

use std::path::PathBuf;

use rltrade_env::baselines::MaSpec;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Whether an arm is a trained policy or a baseline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ArmKind {
    /// An exported PPO policy (one or more seeds).
    Rl,
    /// A rule-based baseline.
    Baseline,
}

/// A baseline arm.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BaselineSpec {
    /// Long from the first decision to the end (`buy-and-hold`).
    BuyAndHold,
    /// MA crossover with fixed SMA periods in bars (`ma:FAST:SLOW`).
    Ma {
        /// Fast SMA period, bars.
        fast: usize,
        /// Slow SMA period, bars.
        slow: usize,
    },
    /// MA crossover with the pair of [`MA_AUTO_GRID`] that has the best Sharpe on the
    /// validation split (`ma:auto`), so the baseline is tuned as the agent was.
    MaAuto,
}

/// The `(fast, slow)` grid `ma:auto` searches on the validation split: fast in
/// {5, 10, 20, 50}, slow in {50, 100, 200}, fast < slow.
pub const MA_AUTO_GRID: [(usize, usize); 11] =
    [(5, 50), (5, 100), (5, 200), (10, 50), (10, 100), (10, 200), (20, 50), (20, 100), (20, 200), (50, 100), (50, 200)];

/// The default baselines: `buy-and-hold`, `ma:50:200`, `ma:auto`.
pub const DEFAULT_BASELINES: [BaselineSpec; 3] =
    [BaselineSpec::BuyAndHold, BaselineSpec::Ma { fast: 50, slow: 200 }, BaselineSpec::MaAuto];

impl std::str::FromStr for BaselineSpec {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let bad = || format!("unknown baseline `{s}`: expected buy-and-hold, ma:FAST:SLOW (bars) or ma:auto");
        match s {
            "buy-and-hold" => Ok(Self::BuyAndHold),
            "ma:auto" => Ok(Self::MaAuto),
            _ if s.starts_with("ma:") => {
                let MaSpec { fast, slow } = s.parse().map_err(|e| format!("baseline {e}"))?;
                Ok(Self::Ma { fast, slow })
            }
            _ => Err(bad()),
        }
    }
}

impl std::fmt::Display for BaselineSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::BuyAndHold => f.write_str("buy-and-hold"),
            Self::Ma { fast, slow } => write!(f, "{}", MaSpec { fast: *fast, slow: *slow }),
            Self::MaAuto => f.write_str("ma:auto"),
        }
    }
}

/// One RL arm: exports of runs that differ only in seed.
#[derive(Clone, Debug, PartialEq)]
pub struct RlArmSpec {
    /// The arm's name (the run name without its seed suffix).
    pub name: String,
    /// `(seed, export folder)` per run.
    pub models: Vec<(u64, PathBuf)>,
}

/// The arm name of a run (its card's name): `name-sN` → `name`; else the name itself.
/// Exports of `rltrade train --seeds` runs are named `<parent>-s<N>`, so the seeds of one
/// config form one arm.
pub fn arm_name(run_name: &str) -> String {
    match run_name.rsplit_once("-s") {
        Some((base, seed)) if !base.is_empty() && !seed.is_empty() && seed.bytes().all(|b| b.is_ascii_digit()) => {
            base.to_string()
        }
        _ => run_name.to_string(),
    }
}

/// Groups `(arm name, seed, export folder, settings)` into arms, in first-seen order.
/// Runs in one arm must have equal settings (everything but the seed).
///
/// # Errors
/// [`Error::Config`] when two runs of one name differ in settings or repeat a seed.
pub fn group_by_seed(runs: Vec<(String, u64, PathBuf, serde_json::Value)>) -> Result<Vec<RlArmSpec>> {
    let mut arms: Vec<(RlArmSpec, serde_json::Value)> = Vec::new();
    for (name, seed, dir, settings) in runs {
        match arms.iter_mut().find(|(a, _)| a.name == name) {
            Some((arm, first)) => {
                if *first != settings {
                    return Err(Error::Config {
                        field: "--models".into(),
                        message: format!(
                            "{} and {} share the arm name `{name}` but were trained with different settings",
                            arm.models[0].1.display(),
                            dir.display()
                        ),
                    });
                }
                if arm.models.iter().any(|(s, _)| *s == seed) {
                    return Err(Error::Config {
                        field: "--models".into(),
                        message: format!("seed {seed} of `{name}` is given twice ({})", dir.display()),
                    });
                }
                arm.models.push((seed, dir));
            }
            None => arms.push((RlArmSpec { name, models: vec![(seed, dir)] }, settings)),
        }
    }
    Ok(arms.into_iter().map(|(a, _)| a).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn baseline_specs_parse_and_print() {
        for s in ["buy-and-hold", "ma:50:200", "ma:auto"] {
            assert_eq!(s.parse::<BaselineSpec>().unwrap().to_string(), s);
        }
        assert!("ma:200:50".parse::<BaselineSpec>().unwrap_err().contains("FAST < SLOW"));
        assert!("sma".parse::<BaselineSpec>().unwrap_err().contains("unknown baseline"));
    }

    #[test]
    fn runs_that_differ_in_seed_form_one_arm() {
        assert_eq!(arm_name("btc_1h_ppo-s2"), "btc_1h_ppo");
        assert_eq!(arm_name("mymodel"), "mymodel");
        assert_eq!(arm_name("run-sx"), "run-sx");
        let s = serde_json::json!({"lr": 1});
        let arms = group_by_seed(vec![
            ("a".into(), 1, "a1".into(), s.clone()),
            ("b".into(), 1, "b1".into(), s.clone()),
            ("a".into(), 2, "a2".into(), s.clone()),
        ])
        .unwrap();
        assert_eq!(arms.len(), 2);
        assert_eq!(arms[0].models.len(), 2);
        let err = group_by_seed(vec![
            ("a".into(), 1, "a1".into(), s.clone()),
            ("a".into(), 2, "a2".into(), serde_json::json!({"lr": 2})),
        ])
        .unwrap_err();
        assert!(err.to_string().contains("different settings"), "{err}");
    }
}
