//! Walk-forward folds: the last `test_fraction` of the bars cut into K contiguous test
//! windows, each with the validation window before it and a training window before
//! that (anchored at the first bar, or rolling over the last N bars).
//!
//! Fold k (1-based) with test window `[t_k, t_k + L)`:
//!
//! ```text
//! train [s_k, t_k − V − g) | gap g | validation [t_k − V, t_k − g) | gap g | test [t_k, t_k + L)
//! ```
//!
//! g is the purge gap of every split (max(observation window, longest feature lookback,
//! reward lookback), as `MarketData` cuts it): cut from the end of validation, so that
//! the test windows are contiguous, and between train and validation, as in an ordinary
//! run. s_k is 0 (anchored) or t_k − V − g − N (rolling). Following López de Prado,
//! *Advances in Financial Machine Learning* (2018), ch. 7 (purging) and ch. 11–12
//! (walk-forward).

use std::ops::Range;

use rltrade_env::bar::{Bar, format_time_ms};
use rltrade_env::config::SplitConfig;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

pub use rltrade_config::walkforward::{Scheme, WalkForwardConfig};

/// What the data and the run's settings ask of every fold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FoldNeeds {
    /// Bars in the data.
    pub n_bars: usize,
    /// The purge gap g, bars (`MarketData::splits.gap`).
    pub gap: usize,
    /// The first bar at whose close an observation exists
    /// (`MarketData::first_observation_index`).
    pub first_observation: usize,
    /// Bars one training episode spans (`max_episode_steps × decision_interval`).
    pub episode_bars: usize,
    /// Bars between two decisions (`env.decision_interval`).
    pub decision_interval: usize,
    /// Bars of history the baselines need before the first bar of a validation or test
    /// window (an MA crossover: its slow period + 1).
    pub baseline_history: usize,
}

/// Decisions a test or validation window must hold at least.
pub const MIN_WINDOW_DECISIONS: usize = 10;

/// One fold's windows as bar index ranges (start inclusive, end exclusive).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fold {
    /// 1-based fold number, in time order.
    pub fold: usize,
    /// Training bars.
    pub train: Range<usize>,
    /// Validation bars (after the purge gap was cut from their end).
    pub validation: Range<usize>,
    /// Test bars.
    pub test: Range<usize>,
}

/// A fold's windows as times: open times of the first bar and exclusive ends (the open
/// time of the first bar after the window, or the last bar's open + one interval), ms
/// since epoch UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FoldTimes {
    /// 1-based fold number.
    pub fold: usize,
    /// First training bar.
    pub train_start_ms: i64,
    /// End of training (exclusive).
    pub train_end_ms: i64,
    /// First validation bar.
    pub validation_start_ms: i64,
    /// End of validation (exclusive).
    pub validation_end_ms: i64,
    /// First test bar.
    pub test_start_ms: i64,
    /// End of test (exclusive).
    pub test_end_ms: i64,
}

impl Fold {
    /// The fold's windows as times on `bars` (bar interval `interval_ms`).
    pub fn times(&self, bars: &[Bar], interval_ms: i64) -> FoldTimes {
        let end = |i: usize| bars.get(i).map_or_else(|| bars[i - 1].time_ms + interval_ms, |b| b.time_ms);
        FoldTimes {
            fold: self.fold,
            train_start_ms: bars[self.train.start].time_ms,
            train_end_ms: end(self.train.end),
            validation_start_ms: bars[self.validation.start].time_ms,
            validation_end_ms: end(self.validation.end),
            test_start_ms: bars[self.test.start].time_ms,
            test_end_ms: end(self.test.end),
        }
    }

    /// The split settings that make an ordinary run (train, select on validation,
    /// export, compare on test) of this fold: `train_start`, `train_end`,
    /// `validation_end` and `test_end` as dates (RFC 3339, UTC) of `bars`, which
    /// `MarketData` then cuts with the same gap g (it derives g from the same settings).
    pub fn split_config(&self, bars: &[Bar]) -> SplitConfig {
        let date = |i: usize| format_time_ms(bars[i].time_ms);
        SplitConfig {
            train_start: (self.train.start > 0).then(|| date(self.train.start)),
            train_end: Some(date(self.train.end)),
            validation_end: Some(date(self.validation.end)),
            test_end: (self.test.end < bars.len()).then(|| date(self.test.end)),
            ..SplitConfig::default()
        }
    }
}

/// Cuts the folds of `config` for data and settings `needs`.
///
/// # Errors
/// [`Error::Config`] naming the setting when K is too large for the data (test windows
/// shorter than [`MIN_WINDOW_DECISIONS`] decisions), the validation window is not longer
/// than the purge gap, a rolling window reaches before the first bar, or a fold's
/// training window holds too few bars after the warm-up for one training episode
/// (saying how many are missing).
pub fn plan_folds(config: &WalkForwardConfig, needs: &FoldNeeds) -> Result<Vec<Fold>> {
    let bad = |field: &str, message: String| Error::Config { field: format!("walkforward.{field}"), message };
    let FoldNeeds { n_bars: n, gap, first_observation, episode_bars, decision_interval, baseline_history } = *needs;
    let k = config.folds;
    if k == 0 {
        return Err(bad("folds", "must be at least 1".into()));
    }
    if !(config.test_fraction > 0.0 && config.test_fraction < 1.0) {
        return Err(bad("test_fraction", format!("{} must be in (0, 1)", config.test_fraction)));
    }
    let test_bars = (config.test_fraction * n as f64).floor() as usize;
    let window = test_bars / k;
    let min_window = MIN_WINDOW_DECISIONS * decision_interval.max(1);
    if window < min_window {
        let most = (test_bars / min_window).max(1);
        return Err(bad(
            "folds",
            format!(
                "{k} folds cut the last {test_bars} bars (test_fraction {} of {n}) into test windows of {window} bars; a window needs at least {min_window} ({MIN_WINDOW_DECISIONS} decisions of {decision_interval} bar(s)): use at most {most} fold(s), a larger test_fraction or more data",
                config.test_fraction
            ),
        ));
    }
    let validation = config.validation_bars.unwrap_or(window);
    let min_validation = gap + min_window;
    if validation < min_validation {
        return Err(bad(
            "validation_bars",
            format!(
                "{validation} bars leave {} after the purge gap of {gap} is cut; validation needs at least {min_window}: give at least {min_validation}",
                validation.saturating_sub(gap)
            ),
        ));
    }
    let first_test = n - window * k;
    let mut folds = Vec::with_capacity(k);
    for i in 0..k {
        let fold = i + 1;
        let test_start = first_test + i * window;
        let Some(train_end) = test_start.checked_sub(validation + gap) else {
            return Err(bad(
                "validation_bars",
                format!(
                    "fold {fold}: its validation window and gaps ({} bars) reach before the first bar: {} bars are missing",
                    validation + gap,
                    validation + gap - test_start
                ),
            ));
        };
        let train_start = match config.scheme {
            Scheme::Anchored => 0,
            Scheme::Rolling => {
                let wanted = match config.train_bars {
                    Some(b) => b,
                    None => match folds.first() {
                        Some(Fold { train, .. }) => train.len(),
                        None => train_end,
                    },
                };
                train_end.checked_sub(wanted).ok_or_else(|| {
                    bad(
                        "train_bars",
                        format!(
                            "fold {fold}: a rolling training window of {wanted} bars ends at bar {train_end}: {} bars are missing before the first bar",
                            wanted - train_end
                        ),
                    )
                })?
            }
        };
        let trainable = train_end.saturating_sub(train_start.max(first_observation));
        let needed = episode_bars + 1;
        if trainable < needed {
            return Err(bad(
                if config.scheme == Scheme::Rolling { "train_bars" } else { "folds" },
                format!(
                    "fold {fold}: its training window (bars {train_start}..{train_end}) holds {trainable} bars after the warm-up of {first_observation} bars; one training episode needs {needed}: {} bars are missing (fewer folds, a smaller test_fraction or validation_bars, or more data)",
                    needed - trainable
                ),
            ));
        }
        let validation_start = test_start - validation;
        if validation_start < baseline_history {
            return Err(bad(
                "folds",
                format!(
                    "fold {fold}: its validation window starts at bar {validation_start}, but the baselines need {baseline_history} bars of history before it: {} bars are missing (fewer folds, a smaller test_fraction or validation_bars, or more data)",
                    baseline_history - validation_start
                ),
            ));
        }
        folds.push(Fold {
            fold,
            train: train_start..train_end,
            validation: test_start - validation..test_start - gap,
            test: test_start..test_start + window,
        });
    }
    Ok(folds)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn needs(n_bars: usize) -> FoldNeeds {
        FoldNeeds {
            n_bars,
            gap: 40,
            first_observation: 60,
            episode_bars: 100,
            decision_interval: 1,
            baseline_history: 0,
        }
    }

    #[test]
    fn anchored_folds_tile_the_test_fraction() {
        let config = WalkForwardConfig { folds: 4, test_fraction: 0.4, ..WalkForwardConfig::default() };
        let folds = plan_folds(&config, &needs(2_000)).unwrap();
        assert_eq!(folds.len(), 4);
        assert_eq!(folds[0].test, 1_200..1_400);
        assert_eq!(folds[3].test, 1_800..2_000);
        for w in folds.windows(2) {
            assert_eq!(w[0].test.end, w[1].test.start, "test windows are contiguous");
        }
        for f in &folds {
            assert_eq!(f.train.start, 0);
            assert_eq!(f.validation, f.test.start - 200..f.test.start - 40, "V = L, the gap cut from its end");
            assert_eq!(f.train.end + 40, f.validation.start, "purged before validation too");
        }
    }

    #[test]
    fn rolling_folds_keep_fold_ones_training_length() {
        let config =
            WalkForwardConfig { folds: 3, scheme: Scheme::Rolling, test_fraction: 0.3, ..WalkForwardConfig::default() };
        let folds = plan_folds(&config, &needs(3_000)).unwrap();
        let len = folds[0].train.len();
        assert!(folds.iter().all(|f| f.train.len() == len));
        assert!(folds[2].train.start > 0);
        let fixed = WalkForwardConfig { train_bars: Some(500), ..config };
        let folds = plan_folds(&fixed, &needs(3_000)).unwrap();
        assert!(folds.iter().all(|f| f.train.len() == 500));
    }

    #[test]
    fn bad_plans_name_the_setting_and_the_shortfall() {
        let too_many = WalkForwardConfig { folds: 80, ..WalkForwardConfig::default() };
        let err = plan_folds(&too_many, &needs(2_000)).unwrap_err().to_string();
        assert!(err.contains("walkforward.folds") && err.contains("use at most 60 fold(s)"), "{err}");

        let short = WalkForwardConfig { folds: 2, test_fraction: 0.9, ..WalkForwardConfig::default() };
        let err = plan_folds(&short, &needs(1_000)).unwrap_err().to_string();
        assert!(err.contains("fold 1") && err.contains("reach before the first bar"), "{err}");

        let little_train = WalkForwardConfig { folds: 2, test_fraction: 0.6, ..WalkForwardConfig::default() };
        let err = plan_folds(&little_train, &needs(1_000)).unwrap_err().to_string();
        assert!(err.contains("fold 1") && err.contains("bars are missing"), "{err}");
        // 1000 bars: test 600 → L 300; train ends at 400 − 300 − 40 = 60 = the warm-up
        assert!(err.contains("holds 0 bars after the warm-up") && err.contains("101 bars are missing"), "{err}");

        let narrow = WalkForwardConfig { validation_bars: Some(45), ..WalkForwardConfig::default() };
        let err = plan_folds(&narrow, &needs(2_000)).unwrap_err().to_string();
        assert!(err.contains("walkforward.validation_bars") && err.contains("give at least 50"), "{err}");

        // 1000 bars, K = 2 over 80%: L = 400, fold 1's test at 200, validation (V = 100)
        // at 100, where an MA 50/200 needs 201 bars before it
        let history = FoldNeeds { baseline_history: 201, first_observation: 0, episode_bars: 0, ..needs(1_000) };
        let config = WalkForwardConfig {
            folds: 2,
            test_fraction: 0.8,
            validation_bars: Some(100),
            ..WalkForwardConfig::default()
        };
        let err = plan_folds(&config, &history).unwrap_err().to_string();
        assert!(
            err.contains("fold 1")
                && err.contains("the baselines need 201 bars")
                && err.contains("101 bars are missing"),
            "{err}"
        );

        let rolling =
            WalkForwardConfig { scheme: Scheme::Rolling, train_bars: Some(5_000), ..WalkForwardConfig::default() };
        let err = plan_folds(&rolling, &needs(2_000)).unwrap_err().to_string();
        assert!(err.contains("walkforward.train_bars") && err.contains("missing before the first bar"), "{err}");
    }

    #[test]
    fn split_dates_rebuild_the_fold() {
        let bars: Vec<Bar> = (0..2_000)
            .map(|i| Bar { time_ms: i * 3_600_000, open: 1.0, high: 1.0, low: 1.0, close: 1.0, volume: 1.0 })
            .collect();
        let config = WalkForwardConfig { folds: 3, scheme: Scheme::Rolling, ..WalkForwardConfig::default() };
        for fold in plan_folds(&config, &needs(2_000)).unwrap() {
            let splits = rltrade_env::Splits::new(&bars, &fold.split_config(&bars), 40).unwrap();
            assert_eq!((splits.train, splits.validation, splits.test), (fold.train, fold.validation, fold.test));
        }
    }
}
