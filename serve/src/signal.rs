//! [`Signal`]: what a strategy decided at one bar's close, as journaled and served by
//! `GET /signals`.

use serde::{Deserialize, Serialize};

/// One strategy's decision at one bar's close.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Signal {
    /// Open time of the bar whose close the decision was taken at, ms since epoch UTC.
    pub bar_ms: i64,
    /// Symbol of the feed.
    pub symbol: String,
    /// Strategy name (unique in the daemon).
    pub strategy: String,
    /// SHA-256 of the model's `policy.onnx` (empty for baselines).
    pub model_sha256: String,
    /// The chosen action index.
    pub action: usize,
    /// Its target exposure, signed fraction of equity.
    pub target_exposure: f64,
    /// The model's action probabilities `[n_actions]` (empty for baselines).
    pub probs: Vec<f32>,
    /// Time from the bar's arrival to the risk-checked order (or no order), µs
    /// (wall clock: differs between runs).
    pub latency_us: u64,
    /// True when the model's output was invalid (NaN, out of range) or inference
    /// failed: no order was placed.
    pub invalid_output: bool,
}
