//! Training runs for the offline dashboard: every folder under the runs root that holds
//! a `metrics.jsonl` (one JSON object per PPO update, written by `rltrade train`), and
//! its learning curves.

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

use crate::error::{Error, Result};

/// The file that makes a folder a training run.
pub use rltrade_eval::run_metrics::METRICS_FILE;

/// The curves drawn, `(field of metrics.jsonl, price scale)`: the two main ones on the
/// right and left axes, the others on scales of their own.
pub const CURVES: [(&str, &str); 5] = [
    ("charts/episodic_return", "right"),
    ("validation/sharpe", "left"),
    ("validation/total_return", "validation_return"),
    ("losses/entropy", "entropy"),
    ("losses/approx_kl", "approx_kl"),
];

/// One run in the runs table.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunSummary {
    /// The folder, relative to the runs root (`fold-6/seed-1`).
    pub name: String,
    /// The last update's `global_step` (env steps).
    pub steps: u64,
    /// Updates with a validation backtest.
    pub validations: u64,
    /// The best `validation/sharpe`.
    pub best_val_sharpe: Option<f64>,
    /// The last `charts/episodic_return` (mean over the update's finished episodes).
    pub last_mean_return: Option<f64>,
}

/// One learning curve: `(global_step, value)` for every update that logged the field.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Curve {
    /// The `metrics.jsonl` field.
    pub name: String,
    /// The chart's price scale it is drawn on.
    pub scale: &'static str,
    /// `(global_step, value)`, by step.
    pub points: Vec<(u64, f64)>,
}

/// `GET /run?name=`: a run's learning curves.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunCurves {
    /// The run.
    pub name: String,
    /// One entry per field of [`CURVES`] the run logged.
    pub curves: Vec<Curve>,
}

/// A run folder found under the root.
#[derive(Clone, Debug, PartialEq)]
pub struct RunFolder {
    /// Relative to the root, `/`-separated.
    pub name: String,
    /// Its `metrics.jsonl`.
    pub metrics: PathBuf,
}

/// Reads a run's `metrics.jsonl` ([`rltrade_eval::run_metrics::read_metrics`]).
///
/// # Errors
/// The file cannot be read, or a line is not a JSON object ([`Error::Data`] naming the
/// file and line). A last line cut short by a killed run is skipped.
pub fn read_metrics(path: &Path) -> Result<Vec<serde_json::Map<String, Value>>> {
    rltrade_eval::run_metrics::read_metrics(path).map_err(|e| match e {
        rltrade_eval::Error::Io { path, source } => Error::io(path, source),
        rltrade_eval::Error::Malformed { path, line, message } => {
            Error::Data { path, message: format!("line {line}: {message}") }
        }
        other => Error::Data { path: path.to_path_buf(), message: other.to_string() },
    })
}

fn number(row: &serde_json::Map<String, Value>, field: &str) -> Option<f64> {
    row.get(field).and_then(Value::as_f64).filter(|v| v.is_finite())
}

/// The runs table's row for `run`.
///
/// # Errors
/// As [`read_metrics`].
pub fn summary(run: &RunFolder) -> Result<RunSummary> {
    let rows = read_metrics(&run.metrics)?;
    let sharpes: Vec<f64> = rows.iter().filter_map(|r| number(r, "validation/sharpe")).collect();
    Ok(RunSummary {
        name: run.name.clone(),
        steps: rows.last().and_then(|r| r.get("global_step")).and_then(Value::as_u64).unwrap_or(0),
        validations: sharpes.len() as u64,
        best_val_sharpe: sharpes.iter().copied().reduce(f64::max),
        last_mean_return: rows.iter().rev().find_map(|r| number(r, "charts/episodic_return")),
    })
}

/// The learning curves of `run`.
///
/// # Errors
/// As [`read_metrics`].
pub fn curves(run: &RunFolder) -> Result<RunCurves> {
    let rows = read_metrics(&run.metrics)?;
    let curves = CURVES
        .iter()
        .map(|(field, scale)| Curve {
            name: (*field).to_string(),
            scale,
            points: rows
                .iter()
                .filter_map(|r| Some((r.get("global_step").and_then(Value::as_u64)?, number(r, field)?)))
                .collect(),
        })
        .filter(|c| !c.points.is_empty())
        .collect();
    Ok(RunCurves { name: run.name.clone(), curves })
}
