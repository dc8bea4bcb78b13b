//! [`ObservationBuilder`]: the env's observation built incrementally from a live
//! stream of bars — the same `FeaturePipeline`, the model card's normalization
//! statistics and the same position features as training.
//!
//! The daemon and the backtest both build observations this way (through
//! [`crate::trader::Trader`]); training slices the precomputed matrix of the same
//! pipeline ([`crate::TradingEnv`]), bit-identical by `features`' own test.
//!
//! Layout (as [`crate::TradingEnv`]): rows `t − window + 1 ..= t` of normalized
//! features, oldest first, rows before the first bar zeros, then
//! [`POSITION_FEATURES`] position values. Rows before every feature is
//! valid are zeros, like `Normalization::normalize_all` in the batch path.

use rltrade_exec::Account;

use crate::bar::Bar;
use crate::error::{Error, Result};
use crate::features::{FeatureConfig, FeaturePipeline, Normalization};
use crate::trading_env::{POSITION_FEATURES, position_features};

/// Incremental features and the observation window of one model.
#[derive(Clone, Debug)]
pub struct ObservationBuilder {
    pipeline: FeaturePipeline,
    normalization: Normalization,
    window: usize,
    n_features: usize,
    raw: Vec<f64>,
    /// `[window, n_features]` ring of normalized rows; `head` is the oldest row.
    rows: Vec<f32>,
    head: usize,
    bars_seen: usize,
    first_valid: Option<usize>,
}

impl ObservationBuilder {
    /// A builder for `window` rows of `features`, normalized with `normalization`.
    ///
    /// # Errors
    /// Invalid feature settings, or a normalization whose size differs from the feature count.
    pub fn new(features: &FeatureConfig, normalization: Normalization, window: usize) -> Result<Self> {
        let pipeline = FeaturePipeline::new(features)?;
        let n_features = pipeline.n_features();
        if normalization.n_features() != n_features {
            return Err(Error::Config {
                field: "normalization".into(),
                message: format!("has {} features, the pipeline writes {n_features}", normalization.n_features()),
            });
        }
        Ok(Self {
            pipeline,
            normalization,
            window,
            n_features,
            raw: vec![0.0; n_features],
            rows: vec![0.0; window * n_features],
            head: 0,
            bars_seen: 0,
            first_valid: None,
        })
    }

    /// Observation length: `window × n_features + POSITION_FEATURES`.
    pub fn obs_dim(&self) -> usize {
        self.window * self.n_features + POSITION_FEATURES
    }

    /// Bars fed so far.
    pub fn bars_seen(&self) -> usize {
        self.bars_seen
    }

    /// True once a full window of valid features exists (the env's
    /// `first_observation_index`: first valid row + window − 1).
    pub fn ready(&self) -> bool {
        self.first_valid.is_some_and(|first| self.bars_seen >= first + self.window)
    }

    /// Feeds the next closed bar (oldest first). Does not allocate.
    pub fn push(&mut self, bar: &Bar) {
        let valid = self.pipeline.update(bar, &mut self.raw);
        if valid && self.first_valid.is_none() {
            self.first_valid = Some(self.bars_seen);
        }
        let n = self.n_features;
        let slot = &mut self.rows[self.head * n..(self.head + 1) * n];
        if valid {
            self.normalization.apply(&self.raw, slot);
        } else {
            slot.fill(0.0);
        }
        self.head = (self.head + 1) % self.window;
        self.bars_seen += 1;
    }

    /// Writes the observation at the last bar's close into `obs` (`[obs_dim]`), with
    /// the position features of `account` marked at `close`.
    ///
    /// # Panics
    /// Panics if `obs.len() != obs_dim()`.
    pub fn write(&self, account: &Account, close: f64, obs: &mut [f32]) {
        assert_eq!(obs.len(), self.obs_dim(), "observation buffer length");
        let n = self.n_features;
        let (features, state) = obs.split_at_mut(self.window * n);
        // the ring's oldest row sits at `head`; rows never written are zeros (padding)
        let split = self.head * n;
        let tail = self.rows.len() - split;
        features[..tail].copy_from_slice(&self.rows[split..]);
        features[tail..].copy_from_slice(&self.rows[..split]);
        position_features(account, close, state);
    }
}
