//! `MarketData`: one bar series with its features precomputed, normalized and split,
//! shared read-only (behind an `Arc`) by every environment that replays it.

use crate::bar::BarSeries;
use crate::config::{EnvConfig, SplitConfig};
use crate::error::{Error, Result};
use crate::features::{FeatureConfig, FeaturePipeline, Normalization, RawFeatures, compute_batch};
use crate::split::Splits;

/// Bars, features and splits of one dataset.
#[derive(Clone, Debug)]
pub struct MarketData {
    /// The bars.
    pub series: BarSeries,
    /// The feature settings.
    pub feature_config: FeatureConfig,
    /// Raw features, row-major `[n_bars, n_features]`, from [`compute_batch`].
    pub raw: RawFeatures,
    /// Normalization statistics (fitted on the train split unless given).
    pub normalization: Normalization,
    /// Normalized features as f32, row-major `[n_bars, n_features]`; rows before
    /// `raw.first_valid` are zeros.
    pub features: Vec<f32>,
    /// Features per bar.
    pub n_features: usize,
    /// Bars the features need before all are valid ([`FeaturePipeline::lookback`]).
    pub feature_lookback: usize,
    /// The splits.
    pub splits: Splits,
    /// The observation window the splits' gaps were cut for.
    pub window: usize,
    /// Bars of history the reward needs (`RewardConfig::lookback`: `vol_span` for
    /// `vol_scaled`, else 0); part of the warm-up and of the splits' gap.
    pub reward_lookback: usize,
    /// Bars of price history the risk limits need (`RiskConfig::lookback_bars`:
    /// `risk.var_lookback` while `risk.max_var_95` is on, else 0); part of the warm-up
    /// and of the splits' gap.
    pub risk_lookback: usize,
}

impl MarketData {
    /// Computes features over `series`, splits it with a gap of max(`env.window`,
    /// feature lookback, reward lookback, `risk_lookback`) bars, and normalizes with
    /// `normalization` or, when `None`, with statistics fitted on the train split only.
    /// `risk_lookback` is the bars of price history the risk limits need
    /// (`RiskConfig::lookback_bars`, 0 for none).
    ///
    /// # Errors
    /// [`Error::Config`] for invalid feature or split settings, a normalization whose
    /// size does not match the feature count, or a warm-up longer than the data (naming
    /// the setting that asks for it).
    pub fn new(
        series: BarSeries,
        feature_config: &FeatureConfig,
        split_config: &SplitConfig,
        env: &EnvConfig,
        risk_lookback: usize,
        normalization: Option<Normalization>,
    ) -> Result<Self> {
        let window = env.window;
        let pipeline = FeaturePipeline::new(feature_config)?;
        let lookback = pipeline.lookback();
        let reward_lookback = env.reward.lookback();
        for (field, bars) in
            [("env.window", window), ("env.reward.vol_span", reward_lookback), ("risk.var_lookback", risk_lookback)]
        {
            if bars >= series.bars.len() {
                return Err(Error::Config {
                    field: field.into(),
                    message: format!(
                        "a warm-up of {bars} bars is longer than the data ({} bars in {})",
                        series.bars.len(),
                        series.source.display()
                    ),
                });
            }
        }
        let raw = compute_batch(feature_config, &series.bars)?;
        let gap = window.max(lookback).max(reward_lookback).max(risk_lookback);
        let splits = Splits::new(&series.bars, split_config, gap)?;
        let normalization = match normalization {
            Some(n) => {
                if n.mean.len() != raw.n_features || n.std.len() != raw.n_features {
                    return Err(Error::Config {
                        field: "normalization".into(),
                        message: format!(
                            "has {} means and {} stds, the features are {}",
                            n.mean.len(),
                            n.std.len(),
                            raw.n_features
                        ),
                    });
                }
                n
            }
            None => Normalization::fit(&raw, splits.train.clone())?,
        };
        let features = normalization.normalize_all(&raw);
        Ok(Self {
            n_features: raw.n_features,
            series,
            feature_config: feature_config.clone(),
            raw,
            normalization,
            features,
            feature_lookback: lookback,
            splits,
            window,
            reward_lookback,
            risk_lookback,
        })
    }

    /// Number of bars.
    pub fn len(&self) -> usize {
        self.series.bars.len()
    }

    /// True when there is no bar.
    pub fn is_empty(&self) -> bool {
        self.series.bars.is_empty()
    }

    /// The first bar index at whose close a full observation window of valid features
    /// exists and the reward and the risk limits have their history:
    /// max(`raw.first_valid + window − 1`, `reward_lookback`, `risk_lookback`).
    pub fn first_observation_index(&self) -> usize {
        (self.raw.first_valid + self.window - 1).max(self.reward_lookback).max(self.risk_lookback)
    }
}
