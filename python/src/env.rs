//! `RawEnv` and `RawVecEnv`: the Rust `TradingEnv` and `VecEnv` behind the Python
//! package's gymnasium classes (`rltrade.TradingEnv`, `rltrade.VecEnv`).

use numpy::{PyArray1, PyArray2, PyArrayMethods, PyReadonlyArray1};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use rltrade_env::trading_env::{POSITION_FEATURES, TradingEnv};
use rltrade_env::vec_env::{VecEnv, VecStepBuffers};
use rltrade_env::{SplitName, TradingSetup};

use crate::convert::info_dict;
use crate::setup::{load_config, parse_split, path_arg, trading_setup};

/// What both envs are built from: the market and the split.
fn market(
    config: Option<&Bound<'_, PyAny>>,
    data: Option<&Bound<'_, PyAny>>,
    split: &str,
    overrides: Option<&Bound<'_, PyDict>>,
) -> PyResult<(TradingSetup, SplitName, f64)> {
    let config = load_config(path_arg(config)?.as_deref(), path_arg(data)?.as_deref(), overrides)?;
    let split = parse_split(split)?;
    let clip = config.features.clip;
    Ok((trading_setup(&config)?, split, clip))
}

/// The observation's bounds, `[obs_dim]` each: normalized features within `±clip`,
/// then exposure and unrealized return (signed, unbounded: ±f32::MAX) and
/// `ln(1 + bars in position)` (≥ 0).
fn bounds(obs_dim: usize, clip: f64) -> (Vec<f32>, Vec<f32>) {
    let features = obs_dim - POSITION_FEATURES;
    let mut low = vec![-(clip as f32); features];
    let mut high = vec![clip as f32; features];
    low.extend([-f32::MAX, -f32::MAX, 0.0]);
    high.extend([f32::MAX, f32::MAX, f32::MAX]);
    (low, high)
}

fn env_error(e: rltrade_env::Error) -> PyErr {
    PyValueError::new_err(e.to_string())
}

/// gymnasium's step: `(obs, reward, terminated, truncated, info)`.
type StepTuple<'py> = (Bound<'py, PyArray1<f32>>, f64, bool, bool, Bound<'py, PyDict>);

/// One float64 value per env, `[num_envs]`.
type Column<'py> = Bound<'py, PyArray1<f64>>;

/// One trading environment (the Rust `TradingEnv`).
#[pyclass(module = "rltrade._rltrade")]
pub struct RawEnv {
    env: TradingEnv,
    obs: Vec<f32>,
    clip: f64,
}

#[pymethods]
impl RawEnv {
    /// `RawEnv(config=None, data=None, split="train", seed=0, overrides=None)`.
    #[new]
    #[pyo3(signature = (config=None, data=None, split="train", seed=0, overrides=None))]
    fn new(
        config: Option<&Bound<'_, PyAny>>,
        data: Option<&Bound<'_, PyAny>>,
        split: &str,
        seed: u64,
        overrides: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Self> {
        let (setup, split, clip) = market(config, data, split, overrides)?;
        let env = TradingEnv::new(&setup, split, seed).map_err(env_error)?;
        let obs = vec![0.0; env.obs_dim()];
        Ok(Self { env, obs, clip })
    }

    /// Observation length.
    #[getter]
    fn obs_dim(&self) -> usize {
        self.env.obs_dim()
    }

    /// The actions' target exposures (fractions of equity), in action order.
    #[getter]
    fn actions(&self) -> Vec<f64> {
        self.env.actions().to_vec()
    }

    /// `(low, high)`, float32 `[obs_dim]` each.
    fn observation_bounds<'py>(&self, py: Python<'py>) -> (Bound<'py, PyArray1<f32>>, Bound<'py, PyArray1<f32>>) {
        let (low, high) = bounds(self.env.obs_dim(), self.clip);
        (PyArray1::from_vec(py, low), PyArray1::from_vec(py, high))
    }

    /// Starts an episode (re-seeding first when `seed` is given): `(obs, info)`.
    #[pyo3(signature = (seed=None))]
    fn reset<'py>(
        &mut self,
        py: Python<'py>,
        seed: Option<u64>,
    ) -> PyResult<(Bound<'py, PyArray1<f32>>, Bound<'py, PyDict>)> {
        let info = self.env.reset_into(seed, &mut self.obs);
        Ok((PyArray1::from_slice(py, &self.obs), info_dict(py, &info)?))
    }

    /// One step: `(obs, reward, terminated, truncated, info)`.
    fn step<'py>(&mut self, py: Python<'py>, action: &Bound<'py, PyAny>) -> PyResult<StepTuple<'py>> {
        let n = self.env.n_actions();
        let index = action.extract::<i64>().ok().and_then(|a| usize::try_from(a).ok()).filter(|a| *a < n);
        let action = index.ok_or_else(|| {
            PyValueError::new_err(format!("action {action} is out of range: the env has {n} actions (0..{n})"))
        })?;
        let out = self.env.step_into(action, &mut self.obs).map_err(env_error)?;
        Ok((PyArray1::from_slice(py, &self.obs), out.reward, out.terminated, out.truncated, info_dict(py, &out.info)?))
    }
}

/// The arrays `copy=False` steps write into, owned by [`RawVecEnv`].
struct Outputs {
    obs: Py<PyArray2<f32>>,
    rewards: Py<PyArray1<f64>>,
    terminated: Py<PyArray1<bool>>,
    truncated: Py<PyArray1<bool>>,
}

/// What a batch step returns: `(obs, rewards, terminated, truncated, finished)`, where
/// `finished` is `None` unless an episode ended, else `(final_obs, episode_return,
/// episode_length)` (fresh arrays; rows of envs that did not finish are meaningless).
type BatchStep<'py> = (
    Bound<'py, PyArray2<f32>>,
    Bound<'py, PyArray1<f64>>,
    Bound<'py, PyArray1<bool>>,
    Bound<'py, PyArray1<bool>>,
    Option<(Bound<'py, PyArray2<f32>>, Bound<'py, PyArray1<f64>>, Bound<'py, PyArray1<i64>>)>,
);

/// N environments stepped as a batch in Rust (the Rust `VecEnv`), with same-step
/// auto-reset.
#[pyclass(module = "rltrade._rltrade")]
pub struct RawVecEnv {
    env: VecEnv,
    buffers: VecStepBuffers,
    actions: Vec<usize>,
    n_actions: usize,
    action_targets: Vec<f64>,
    clip: f64,
    outputs: Outputs,
}

#[pymethods]
impl RawVecEnv {
    /// `RawVecEnv(num_envs, config=None, data=None, split="train", seed=0, threads=1, overrides=None)`.
    #[new]
    #[pyo3(signature = (num_envs, config=None, data=None, split="train", seed=0, threads=1, overrides=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        num_envs: usize,
        config: Option<&Bound<'_, PyAny>>,
        data: Option<&Bound<'_, PyAny>>,
        split: &str,
        seed: u64,
        threads: usize,
        overrides: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Self> {
        let (setup, split, clip) = market(config, data, split, overrides)?;
        let env = VecEnv::new(&setup, split, num_envs, seed, threads).map_err(env_error)?;
        let first = env.envs().next().ok_or_else(|| PyValueError::new_err("num_envs must be >= 1"))?;
        let (n_actions, action_targets) = (first.n_actions(), first.actions().to_vec());
        let d = env.obs_dim();
        let buffers = VecStepBuffers::new(num_envs, d);
        let outputs = Outputs {
            obs: PyArray2::zeros(py, [num_envs, d], false).unbind(),
            rewards: PyArray1::zeros(py, num_envs, false).unbind(),
            terminated: PyArray1::from_vec(py, vec![false; num_envs]).unbind(),
            truncated: PyArray1::from_vec(py, vec![false; num_envs]).unbind(),
        };
        Ok(Self { env, buffers, actions: vec![0; num_envs], n_actions, action_targets, clip, outputs })
    }

    /// Number of envs.
    #[getter]
    fn num_envs(&self) -> usize {
        self.env.n_envs()
    }

    /// Observation length of one env.
    #[getter]
    fn obs_dim(&self) -> usize {
        self.env.obs_dim()
    }

    /// The actions' target exposures.
    #[getter]
    fn actions(&self) -> Vec<f64> {
        self.action_targets.clone()
    }

    /// `(low, high)` of one env's observation, float32 `[obs_dim]` each.
    fn observation_bounds<'py>(&self, py: Python<'py>) -> (Bound<'py, PyArray1<f32>>, Bound<'py, PyArray1<f32>>) {
        let (low, high) = bounds(self.env.obs_dim(), self.clip);
        (PyArray1::from_vec(py, low), PyArray1::from_vec(py, high))
    }

    /// Resets every env, re-seeding each env's generator with `seed` first when given
    /// (each keeps its own stream). Returns the observations, float32
    /// `[num_envs, obs_dim]`: a fresh array with `copy`, else the env's own buffer.
    #[pyo3(signature = (copy, seed=None))]
    fn reset<'py>(&mut self, py: Python<'py>, copy: bool, seed: Option<u64>) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let (n, d) = (self.env.n_envs(), self.env.obs_dim());
        let mut obs = vec![0.0; n * d];
        self.env.reset_seeded(seed, &mut obs).map_err(env_error)?;
        self.buffers.obs.copy_from_slice(&obs);
        if copy {
            return PyArray1::from_vec(py, obs).reshape([n, d]).map_err(|e| PyValueError::new_err(e.to_string()));
        }
        let out = self.outputs.obs.bind(py).clone();
        write(&out, &obs)?;
        Ok(out)
    }

    /// Steps env i with `actions[i]` (int64 `[num_envs]`) without the GIL. With `copy`
    /// every array returned is new; without, `obs`, `rewards`, `terminated` and
    /// `truncated` are the env's own buffers, overwritten at the next step (through
    /// numpy's checked borrow: a buffer someone made read-only raises).
    ///
    /// Raises `ValueError` for an action outside `0..n_actions` (nothing is stepped).
    fn step<'py>(
        &mut self,
        py: Python<'py>,
        actions: PyReadonlyArray1<'_, i64>,
        copy: bool,
    ) -> PyResult<BatchStep<'py>> {
        let given = actions.as_slice().map_err(|e| PyValueError::new_err(format!("actions: {e}")))?;
        if given.len() != self.actions.len() {
            return Err(PyValueError::new_err(format!("{} actions for {} envs", given.len(), self.actions.len())));
        }
        for (slot, (i, &a)) in self.actions.iter_mut().zip(given.iter().enumerate()) {
            *slot = usize::try_from(a).ok().filter(|a| *a < self.n_actions).ok_or_else(|| {
                PyValueError::new_err(format!(
                    "actions[{i}] = {a} is out of range: the env has {} actions",
                    self.n_actions
                ))
            })?;
        }
        let (env, buffers, actions) = (&mut self.env, &mut self.buffers, &self.actions);
        py.detach(|| env.step(actions, buffers)).map_err(env_error)?;
        let b = &self.buffers;
        let (n, d) = (self.env.n_envs(), self.env.obs_dim());
        let rewards: Vec<f64> = b.rewards.iter().map(|r| f64::from(*r)).collect();
        let done = b.terminated.iter().zip(&b.truncated).any(|(t, u)| *t || *u);
        let finished = if done {
            let final_obs = PyArray1::from_slice(py, &b.final_obs).reshape([n, d]).map_err(value_error)?;
            let lengths = PyArray1::from_iter(py, b.episode_length.iter().map(|l| i64::from(*l)));
            Some((final_obs, PyArray1::from_slice(py, &b.episode_return), lengths))
        } else {
            None
        };
        if copy {
            let obs = PyArray1::from_slice(py, &b.obs).reshape([n, d]).map_err(value_error)?;
            return Ok((
                obs,
                PyArray1::from_vec(py, rewards),
                PyArray1::from_slice(py, &b.terminated),
                PyArray1::from_slice(py, &b.truncated),
                finished,
            ));
        }
        let o = &self.outputs;
        let (obs, r, t, u) = (
            o.obs.bind(py).clone(),
            o.rewards.bind(py).clone(),
            o.terminated.bind(py).clone(),
            o.truncated.bind(py).clone(),
        );
        write(&obs, &b.obs)?;
        write(&r, &rewards)?;
        write(&t, &b.terminated)?;
        write(&u, &b.truncated)?;
        Ok((obs, r, t, u, finished))
    }

    /// Every env's equity, position and exposure now (after any auto-reset), float64
    /// `[num_envs]` each: what a batched `reward_fn` reads.
    fn accounts<'py>(&self, py: Python<'py>) -> (Column<'py>, Column<'py>, Column<'py>) {
        let mut equity = Vec::with_capacity(self.env.n_envs());
        let mut position = Vec::with_capacity(self.env.n_envs());
        let mut exposure = Vec::with_capacity(self.env.n_envs());
        for env in self.env.envs() {
            let close = env.data().series.bars[env.index()].close;
            let portfolio = env.portfolio();
            equity.push(portfolio.equity_at(close));
            position.push(portfolio.quantity);
            exposure.push(portfolio.exposure_at(close));
        }
        (PyArray1::from_vec(py, equity), PyArray1::from_vec(py, position), PyArray1::from_vec(py, exposure))
    }
}

fn value_error(e: impl std::fmt::Display) -> PyErr {
    PyValueError::new_err(e.to_string())
}

/// Copies `from` into one of the env's own arrays, through numpy's checked borrow.
fn write<T: numpy::Element + Copy, D: numpy::ndarray::Dimension>(
    out: &Bound<'_, numpy::PyArray<T, D>>,
    from: &[T],
) -> PyResult<()> {
    let mut out = out
        .try_readwrite()
        .map_err(|e| PyValueError::new_err(format!("the env's output array cannot be written: {e}")))?;
    let out = out.as_slice_mut().map_err(value_error)?;
    if out.len() != from.len() {
        return Err(PyValueError::new_err(format!("an output of {} values, expected {}", out.len(), from.len())));
    }
    out.copy_from_slice(from);
    Ok(())
}

/// The pure-Rust loop of a `TradingEnv` (no Python in it) for a test that compares it
/// with the gymnasium class: reset with `seed`, then `actions` in order (restarting
/// after an episode ends, unseeded): per step `(obs, reward, terminated, truncated)`.
#[pyfunction]
#[pyo3(signature = (actions, seed, config=None, data=None, split="train", overrides=None))]
#[allow(clippy::type_complexity)]
pub fn reference_rollout<'py>(
    py: Python<'py>,
    actions: Vec<usize>,
    seed: u64,
    config: Option<&Bound<'_, PyAny>>,
    data: Option<&Bound<'_, PyAny>>,
    split: &str,
    overrides: Option<&Bound<'_, PyDict>>,
) -> PyResult<(Bound<'py, PyArray1<f32>>, Vec<(Bound<'py, PyArray1<f32>>, f64, bool, bool)>)> {
    let (setup, split, _) = market(config, data, split, overrides)?;
    let mut env = TradingEnv::new(&setup, split, seed).map_err(env_error)?;
    let (first, _) = env.reset(Some(seed));
    let mut steps = Vec::with_capacity(actions.len());
    for action in actions {
        let step = env.step(action).map_err(env_error)?;
        if step.terminated || step.truncated {
            env.reset(None);
        }
        steps.push((PyArray1::from_vec(py, step.observation), step.reward, step.terminated, step.truncated));
    }
    Ok((PyArray1::from_vec(py, first), steps))
}
