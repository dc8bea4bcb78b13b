//! Thin calls into the crates: bars through the CSV loader, a backtest through
//! `rltrade_env::backtest`, an exported policy through `rltrade_policy`, and a run's
//! `metrics.jsonl`.

use std::path::PathBuf;

use numpy::{PyArray1, PyArray2, PyArrayMethods, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use rltrade_config::Strategy;
use rltrade_env::policy::greedy_action;
use rltrade_eval::backtest::backtest_configured;
use rltrade_policy::OnnxModel;

use crate::convert::json_to_py;
use crate::setup::{load_config, path_arg};

fn value_error(e: impl std::fmt::Display) -> PyErr {
    PyValueError::new_err(e.to_string())
}

/// Loads a CSV of OHLCV bars with the project's loader (the CLI's errors: file, line,
/// field). Returns `{"symbol", "interval_ms", "time_ms", "open", "high", "low",
/// "close", "volume"}`, the columns as numpy arrays (int64 ms since epoch UTC, float64
/// prices in the quote currency).
#[pyfunction]
pub fn load_bars<'py>(py: Python<'py>, path: PathBuf) -> PyResult<Bound<'py, PyDict>> {
    let series = rltrade_env::data::load_csv(&path).map_err(value_error)?;
    let dict = PyDict::new(py);
    dict.set_item("symbol", &series.symbol)?;
    dict.set_item("interval_ms", series.interval_ms)?;
    let bars = &series.bars;
    dict.set_item("time_ms", PyArray1::from_iter(py, bars.iter().map(|b| b.time_ms)))?;
    for (name, field) in [
        ("open", (|b: &rltrade_env::Bar| b.open) as fn(&rltrade_env::Bar) -> f64),
        ("high", |b| b.high),
        ("low", |b| b.low),
        ("close", |b| b.close),
        ("volume", |b| b.volume),
    ] {
        dict.set_item(name, PyArray1::from_iter(py, bars.iter().map(field)))?;
    }
    Ok(dict)
}

/// Backtests the `[backtest]` strategy of the config (`strategy`, `fast`, `slow`,
/// `split`, as `overrides` set them), or the exported model at `model`, through
/// `rltrade_eval::backtest::backtest_configured`, as `rltrade backtest` does. Returns the result as a dict: `metrics`, `trades`, `equity_curve`
/// (one point per close), `window`, `risk_refusals`, ….
#[pyfunction]
#[pyo3(signature = (config=None, data=None, model=None, overrides=None))]
pub fn backtest(
    py: Python<'_>,
    config: Option<&Bound<'_, PyAny>>,
    data: Option<&Bound<'_, PyAny>>,
    model: Option<&Bound<'_, PyAny>>,
    overrides: Option<&Bound<'_, PyDict>>,
) -> PyResult<Py<PyAny>> {
    let data_path = path_arg(data)?;
    let config = load_config(path_arg(config)?.as_deref(), data_path.as_deref(), overrides)?;
    let model_dir = path_arg(model)?;
    if model_dir.is_none() && config.backtest.strategy == Strategy::Model {
        return Err(PyValueError::new_err("backtest.strategy = \"model\" needs model=DIR"));
    }
    let data_from_card = data_path.is_none();
    let run = py.detach(|| backtest_configured(config, model_dir.as_deref(), data_from_card));
    let result = run.map_err(value_error)?.result;
    let value = serde_json::to_value(&result).map_err(value_error)?;
    json_to_py(py, &value)
}

/// A run's `metrics.jsonl` (one JSON object per line: training updates and
/// validations) as a list of dicts, in file order, through
/// `rltrade_eval::run_metrics::read_metrics` (a last line cut short by a killed run is
/// skipped).
///
/// Raises `ValueError` naming the file and line of a malformed line, `OSError` for an
/// unreadable file.
#[pyfunction]
pub fn read_run(py: Python<'_>, run_dir: PathBuf) -> PyResult<Vec<Py<PyAny>>> {
    let path = run_dir.join(rltrade_eval::run_metrics::METRICS_FILE);
    let rows = rltrade_eval::run_metrics::read_metrics(&path).map_err(|e| match e {
        rltrade_eval::Error::Io { .. } => pyo3::exceptions::PyOSError::new_err(e.to_string()),
        other => value_error(other),
    })?;
    rows.into_iter().map(|row| json_to_py(py, &serde_json::Value::Object(row))).collect()
}

/// An experiment's trial ledger (`trials.jsonl`) as `rltrade compare` reads it: one dict
/// per trial (its last line), in the order of their first lines; a missing file is an
/// empty list, a torn last line is skipped.
///
/// # Errors
/// `OSError` when the file cannot be read; `ValueError` naming the file and line of a
/// malformed line.
#[pyfunction]
pub fn read_ledger(py: Python<'_>, path: PathBuf) -> PyResult<Vec<Py<PyAny>>> {
    let records = rltrade_eval::ledger::Ledger::at(&path).read_if_exists().map_err(|e| match e {
        rltrade_eval::Error::Io { .. } => pyo3::exceptions::PyOSError::new_err(e.to_string()),
        other => value_error(other),
    })?;
    records
        .iter()
        .map(|record| {
            let value = serde_json::to_value(record).map_err(value_error)?;
            json_to_py(py, &value)
        })
        .collect()
}

/// An exported policy (an export folder or a run folder) run by ONNX Runtime, checked
/// against its model card.
#[pyclass(module = "rltrade._rltrade")]
pub struct RawPolicy {
    model: OnnxModel,
}

#[pymethods]
impl RawPolicy {
    /// Loads the export at `path` (needs the ONNX Runtime library: `ORT_DYLIB_PATH`).
    #[new]
    fn new(path: PathBuf) -> PyResult<Self> {
        Ok(Self { model: OnnxModel::load(&path).map_err(value_error)? })
    }

    /// The model card as a dict.
    fn card(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let value = serde_json::to_value(self.model.card()).map_err(value_error)?;
        json_to_py(py, &value)
    }

    /// Observation length.
    #[getter]
    fn obs_dim(&self) -> usize {
        self.model.obs_dim()
    }

    /// Number of actions.
    #[getter]
    fn n_actions(&self) -> usize {
        self.model.n_actions()
    }

    /// The action probabilities of `obs` (float32 `[batch, obs_dim]`): float32
    /// `[batch, n_actions]`.
    fn probs<'py>(&mut self, py: Python<'py>, obs: PyReadonlyArray2<'_, f32>) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let (probs, batch) = self.infer(&obs)?;
        let n = self.model.n_actions();
        PyArray1::from_vec(py, probs).reshape([batch, n]).map_err(value_error)
    }

    /// The greedy actions of `obs` (float32 `[batch, obs_dim]`; ties go to the lowest
    /// index, as in the daemon): int64 `[batch]`.
    fn act<'py>(&mut self, py: Python<'py>, obs: PyReadonlyArray2<'_, f32>) -> PyResult<Bound<'py, PyArray1<i64>>> {
        let (probs, _) = self.infer(&obs)?;
        let n = self.model.n_actions();
        Ok(PyArray1::from_iter(py, probs.chunks_exact(n).map(|p| greedy_action(p) as i64)))
    }
}

impl RawPolicy {
    fn infer(&mut self, obs: &PyReadonlyArray2<'_, f32>) -> PyResult<(Vec<f32>, usize)> {
        let shape = obs.shape();
        let (batch, dim) = (shape[0], shape[1]);
        if dim != self.model.obs_dim() {
            return Err(PyValueError::new_err(format!(
                "observations of {dim} values, the policy takes {} (its model card's obs_dim)",
                self.model.obs_dim()
            )));
        }
        let values = obs.as_slice().map_err(|e| PyValueError::new_err(format!("obs: {e}")))?.to_vec();
        let n = self.model.n_actions();
        let (mut probs, mut logits) = (vec![0.0; batch * n], vec![0.0; batch * n]);
        let model = &mut self.model;
        // ONNX Runtime runs without the GIL
        obs.py().detach(|| model.infer(&values, batch, &mut probs, &mut logits)).map_err(value_error)?;
        Ok((probs, batch))
    }
}

/// Compares exported RL policies with baselines out of sample, as `rltrade compare`
/// does (`rltrade_eval::compare::study`): bootstrap intervals, paired differences,
/// verdicts deflated for the trial ledger's trials, fee sensitivity; `report.md`,
/// the plot, `equity.csv` and `compare.json` are written into `out` (default
/// `<first run>/compare/`). Returns `compare.json` as a dict.
#[pyfunction]
#[pyo3(signature = (models, config=None, data=None, baselines=None, split="test", fee_bps=None, fee_levels=None,
    resamples=10_000, block_len=None, bootstrap_seed=0, ledger=None, out=None, overrides=None))]
#[allow(clippy::too_many_arguments)]
pub fn compare(
    py: Python<'_>,
    models: Vec<PathBuf>,
    config: Option<&Bound<'_, PyAny>>,
    data: Option<&Bound<'_, PyAny>>,
    baselines: Option<Vec<String>>,
    split: &str,
    fee_bps: Option<f64>,
    fee_levels: Option<Vec<f64>>,
    resamples: usize,
    block_len: Option<f64>,
    bootstrap_seed: u64,
    ledger: Option<PathBuf>,
    out: Option<PathBuf>,
    overrides: Option<&Bound<'_, PyDict>>,
) -> PyResult<Py<PyAny>> {
    use rltrade_eval::compare::arms::BaselineSpec;
    use rltrade_eval::compare::bootstrap::BootstrapConfig;
    use rltrade_eval::compare::study::{StudyRequest, run_study};
    let config = load_config(path_arg(config)?.as_deref(), None, overrides)?;
    let baselines = baselines
        .unwrap_or_default()
        .iter()
        .enumerate()
        .map(|(i, text)| {
            text.parse::<BaselineSpec>().map_err(|e| PyValueError::new_err(format!("baselines[{i}]: {e}")))
        })
        .collect::<PyResult<Vec<_>>>()?;
    let request = StudyRequest {
        config,
        models,
        data: path_arg(data)?,
        baselines,
        split: crate::setup::parse_split(split)?,
        fee_bps,
        fee_levels,
        bootstrap: BootstrapConfig { resamples, mean_block_len: block_len, seed: bootstrap_seed },
        ledger,
        out,
    };
    let outcome = py.detach(|| run_study(&request)).map_err(value_error)?;
    json_to_py(py, &outcome.json)
}

/// The resolved config of `config` (a TOML file; `None`: the defaults) with
/// `overrides` applied and validated, as TOML text: what a trial's `config.toml` holds.
/// Reads no data.
///
/// Raises `ValueError` as `TradingEnv` does for a bad file, key, type or value.
#[pyfunction]
#[pyo3(signature = (config=None, overrides=None))]
pub fn resolve_config(config: Option<&Bound<'_, PyAny>>, overrides: Option<&Bound<'_, PyDict>>) -> PyResult<String> {
    let config = load_config(path_arg(config)?.as_deref(), None, overrides)?;
    config.to_toml().map_err(|e| PyValueError::new_err(format!("{e:#}")))
}
