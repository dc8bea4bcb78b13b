//! `MarketData`: one bar series with its features precomputed, normalized and split,
//! shared read-only (behind an `Arc`) by every environment that replays it.

use crate::bar::BarSeries;
use crate::config::SplitConfig;
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
}

impl MarketData {
    /// Computes features over `series`, splits it with a gap of
    /// max(`window`, feature lookback) bars, and normalizes with `normalization` or, when
    /// `None`, with statistics fitted on the train split only.
    ///
    /// # Errors
    /// [`Error::Config`] for invalid feature or split settings, or a normalization whose
    /// size does not match the feature count.
    pub fn new(
        series: BarSeries,
        feature_config: &FeatureConfig,
        split_config: &SplitConfig,
        window: usize,
        normalization: Option<Normalization>,
    ) -> Result<Self> {
        let pipeline = FeaturePipeline::new(feature_config)?;
        let lookback = pipeline.lookback();
        let raw = compute_batch(feature_config, &series.bars)?;
        let splits = Splits::new(&series.bars, split_config, window.max(lookback))?;
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
    /// exists: `raw.first_valid + window − 1`.
    pub fn first_observation_index(&self) -> usize {
        self.raw.first_valid + self.window - 1
    }
}
