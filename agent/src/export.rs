//! Export of a trained run: `policy.onnx` (the actor, [`crate::onnx_graph`]) and
//! `model_card.json` ([`rltrade_policy::ModelCard`]), after a parity check.
//!
//! Parity: up to [`MAX_PARITY_OBSERVATIONS`] observations are recorded on the test split
//! while burn's greedy policy trades it; ONNX Runtime (through `ort`) and tract (pure
//! Rust, an independent reader of the file) must reproduce burn's probabilities and
//! logits to [`PARITY_TOLERANCE`] max abs error, and ONNX Runtime's greedy action must
//! equal burn's wherever burn's top two probabilities differ by more than
//! [`TIE_TOLERANCE`]. The export folder is written into a temporary folder and renamed
//! into place only when the check holds.

use std::path::{Path, PathBuf};

use burn::tensor::activation::softmax;
use burn::tensor::{Device, Tensor, TensorData};
use rltrade_env::TradingSetup;
use rltrade_env::backtest::run_backtest;
use rltrade_env::bar::format_time_ms;
use rltrade_env::features::FEATURE_NAMES;
use rltrade_env::policy::greedy_action;
use rltrade_env::trading_env::POSITION_FEATURES;
use rltrade_env::{DecisionContext, Policy, SplitConfig, SplitName, Warmup};
use rltrade_policy::OnnxModel;
use rltrade_policy::model_card::{
    DataInfo, INPUT_OBS, MODEL_CARD_FORMAT, ModelCard, OUTPUT_LOGITS, OUTPUT_PROBS, OnnxInfo, Parity, SplitBoundaries,
    Versions, interval_name,
};
use rltrade_policy::model_dir::{MODEL_CARD_FILE, ONNX_FILE};
use rltrade_policy::runtime::ONNXRUNTIME_VERSION;
use serde::{Deserialize, Serialize};

use crate::actor_critic::ActorCritic;
use crate::checkpoint::load_checkpoint;
use crate::error::{Error, Result};
use crate::mlp::ActorCriticWeights;
use crate::onnx_graph::{OPSET, policy_onnx};
use crate::policy::GreedyPolicy;

/// Observations compared at most.
pub const MAX_PARITY_OBSERVATIONS: usize = 1000;
/// Largest accepted |ONNX − burn| over probabilities and logits.
pub const PARITY_TOLERANCE: f64 = 1e-5;
/// Top-two probability margin below which two greedy actions may differ (a near tie).
pub const TIE_TOLERANCE: f32 = 2e-5;
/// burn's version, as pinned in the workspace.
pub const BURN_VERSION: &str = "0.22.1";
/// tract-onnx's version, as pinned in the workspace.
pub const TRACT_ONNX_VERSION: &str = "0.23.9";

/// Which checkpoint of a run to export.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum CheckpointChoice {
    /// The best by validation Sharpe (`checkpoints/best`).
    #[default]
    Best,
    /// The latest (`checkpoints/last`).
    Last,
}

impl CheckpointChoice {
    /// The checkpoint's folder name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Best => "best",
            Self::Last => "last",
        }
    }
}

/// What an export needs.
#[derive(Clone, Debug)]
pub struct ExportRequest {
    /// The run folder (holds `checkpoints/`).
    pub run_dir: PathBuf,
    /// Which checkpoint.
    pub checkpoint: CheckpointChoice,
    /// The export folder to write (replaced if it exists).
    pub out_dir: PathBuf,
    /// The run's data (with the run's normalization), environment, costs and risk.
    pub setup: TradingSetup,
    /// The data file as given at training time.
    pub data_file: String,
    /// Training facts for the card (seed, steps, settings); the checkpoint's update and
    /// validation Sharpe are added.
    pub training: serde_json::Value,
    /// The git commit of the run, when known.
    pub git_commit: Option<String>,
}

/// What an export wrote and measured.
#[derive(Clone, Debug)]
pub struct ExportReport {
    /// The export folder.
    pub out_dir: PathBuf,
    /// The card written.
    pub card: ModelCard,
}

/// Exports a run's checkpoint: writes `policy.onnx` and `model_card.json` into
/// `request.out_dir` after the parity check passes.
///
/// # Errors
/// A missing or corrupt checkpoint, a run `config.toml` that is not the checkpoint's
/// ([`check_run_config`]), a model that does not fit the data, no ONNX Runtime (the
/// message says how to install it), a failed parity check ([`Error::Export`] with the
/// numbers), I/O errors.
pub fn export_policy(request: &ExportRequest) -> Result<ExportReport> {
    let (tmp, old) = sibling_paths(&request.out_dir, &request.run_dir)?;
    let checkpoint_dir = request.run_dir.join("checkpoints").join(request.checkpoint.as_str());
    let device = crate::inference_device();
    let (model, state) = load_checkpoint(&checkpoint_dir, &device)?;
    check_run_config(&request.run_dir, &checkpoint_dir, &state.config_sha256)?;
    let setup = &request.setup;
    let data = &setup.data;
    let obs_dim = setup.env.window * data.n_features + POSITION_FEATURES;
    if state.obs_dim != obs_dim || state.n_actions != setup.env.actions.len() {
        return Err(Error::Checkpoint {
            path: checkpoint_dir,
            message: format!(
                "the model takes {} observations and {} actions; the run's config gives {obs_dim} and {}",
                state.obs_dim,
                state.n_actions,
                setup.env.actions.len()
            ),
        });
    }
    let weights = model.to_weights()?;
    let onnx = policy_onnx(&weights.actor);

    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).map_err(|e| Error::Io { path: tmp.clone(), source: e })?;
    std::fs::write(tmp.join(ONNX_FILE), &onnx).map_err(|e| Error::Io { path: tmp.join(ONNX_FILE), source: e })?;

    let name = run_name(&request.run_dir);
    let bars = &data.series.bars;
    let splits = &data.splits;
    let mut training = request.training.clone();
    training["checkpoint"] = serde_json::json!(request.checkpoint.as_str());
    training["checkpoint_update"] = serde_json::json!(state.update);
    training["checkpoint_global_step"] = serde_json::json!(state.global_step);
    training["validation_sharpe"] = serde_json::json!(state.validation_sharpe);
    training["env"] = serde_json::json!(setup.env);
    training["execution"] = serde_json::json!(setup.execution);
    training["risk"] = serde_json::json!(setup.risk);
    training["protect"] = serde_json::json!(setup.protect);
    let mut card = ModelCard {
        format_version: MODEL_CARD_FORMAT,
        name,
        created_at: chrono_now(),
        onnx: OnnxInfo {
            file: ONNX_FILE.into(),
            sha256: rltrade_env::data::sha256_hex(&onnx),
            opset: OPSET,
            input: INPUT_OBS.into(),
            outputs: vec![OUTPUT_PROBS.into(), OUTPUT_LOGITS.into()],
            hidden: state.hidden.clone(),
        },
        obs_dim,
        window: setup.env.window,
        feature_names: FEATURE_NAMES.iter().map(|s| (*s).to_string()).collect(),
        position_features: POSITION_FEATURES,
        actions: setup.env.actions.clone(),
        decision_interval: setup.env.decision_interval,
        switch_margin: setup.env.switch_margin,
        reward: setup.env.reward.clone(),
        protect: setup.protect,
        risk_lookback: data.risk_lookback,
        symbol: data.series.symbol.clone(),
        interval_ms: data.series.interval_ms,
        interval: interval_name(data.series.interval_ms),
        features: data.feature_config.clone(),
        normalization: data.normalization.clone(),
        data: DataInfo {
            file: request.data_file.clone(),
            file_from_card: path_from(&request.out_dir, Path::new(&request.data_file)),
            sha256: data.series.sha256.clone(),
            n_bars: bars.len(),
        },
        split: SplitConfig {
            train_end: Some(format_time_ms(bars[splits.train.end].time_ms)),
            validation_end: Some(format_time_ms(bars[splits.validation.end].time_ms)),
            // a walk-forward fold's ends (else the data's)
            train_start: (splits.train.start > 0).then(|| format_time_ms(bars[splits.train.start].time_ms)),
            test_end: (splits.test.end < bars.len()).then(|| format_time_ms(bars[splits.test.end].time_ms)),
            ..SplitConfig::default()
        },
        splits: SplitBoundaries {
            gap: splits.gap,
            train: splits.boundary(SplitName::Train, bars),
            validation: splits.boundary(SplitName::Validation, bars),
            test: splits.boundary(SplitName::Test, bars),
        },
        training,
        // filled in by the check below; this card only lives in the temporary folder
        parity: Parity {
            observations: 0,
            ort_max_abs_error: 0.0,
            tract_max_abs_error: 0.0,
            decisive_observations: 0,
            greedy_agreements: 0,
        },
        versions: Versions {
            rltrade: env!("CARGO_PKG_VERSION").into(),
            git_commit: request.git_commit.clone(),
            burn: BURN_VERSION.into(),
            onnxruntime: ONNXRUNTIME_VERSION.into(),
            tract_onnx: TRACT_ONNX_VERSION.into(),
        },
        // written by `to_json`, over the card as written
        card_sha256: None,
    };
    // The card's split dates must give back the run's splits.
    let resplit = rltrade_env::Splits::new(bars, &card.split, splits.gap)?;
    if resplit != *splits {
        return Err(Error::Export {
            path: request.out_dir.clone(),
            message: format!("the split dates {:?} do not reproduce the run's splits", card.split),
        });
    }
    // Parity is checked on the file as written, through the card as written.
    std::fs::write(tmp.join(MODEL_CARD_FILE), card.to_json())
        .map_err(|e| Error::Io { path: tmp.join(MODEL_CARD_FILE), source: e })?;
    let observations = record_test_observations(setup, &weights, MAX_PARITY_OBSERVATIONS)?;
    card.parity = check_parity(&tmp, &model, &device, &onnx, &observations, obs_dim, card.n_actions())?;
    std::fs::write(tmp.join(MODEL_CARD_FILE), card.to_json())
        .map_err(|e| Error::Io { path: tmp.join(MODEL_CARD_FILE), source: e })?;
    let _ = std::fs::remove_dir_all(&old);
    if request.out_dir.exists() {
        std::fs::rename(&request.out_dir, &old).map_err(|e| Error::Io { path: request.out_dir.clone(), source: e })?;
    }
    std::fs::rename(&tmp, &request.out_dir).map_err(|e| Error::Io { path: request.out_dir.clone(), source: e })?;
    let _ = std::fs::remove_dir_all(&old);
    Ok(ExportReport { out_dir: request.out_dir.clone(), card })
}

/// Checks that the run's `config.toml` is the one the checkpoint was trained with: its
/// SHA-256 must equal the checkpoint's `config_sha256` (`state.json`). An edited config
/// (another fee, other risk limits) would otherwise go into the model card as if the
/// model had been trained with it.
///
/// # Errors
/// [`Error::Env`] (an I/O error naming the file) when `config.toml` cannot be read;
/// [`Error::Checkpoint`] naming `config.toml` when its SHA-256 differs.
pub fn check_run_config(run_dir: &Path, checkpoint_dir: &Path, expected_sha256: &str) -> Result<()> {
    let path = run_dir.join("config.toml");
    let found = rltrade_env::data::sha256_file(&path)?;
    if found != expected_sha256 {
        return Err(Error::Checkpoint {
            path,
            message: format!(
                "its SHA-256 {found} differs from the {expected_sha256} the checkpoint {} was trained with: \
                 config.toml changed after training; restore it (nothing was exported)",
                checkpoint_dir.display()
            ),
        });
    }
    Ok(())
}

/// The temporary and the previous-export folders beside `out_dir` (`.<name>.tmp`,
/// `.<name>.old`); an `out_dir` without a name (`.`, `/`) or holding the run is refused.
fn sibling_paths(out_dir: &Path, run_dir: &Path) -> Result<(PathBuf, PathBuf)> {
    let refuse =
        |why: &str| Error::Export { path: out_dir.to_path_buf(), message: format!("cannot export here: {why}") };
    let (Some(name), Some(parent)) = (out_dir.file_name(), out_dir.parent()) else {
        return Err(refuse("give a folder with a name (the export replaces it)"));
    };
    let absolute = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    if absolute(run_dir).starts_with(absolute(out_dir)) {
        return Err(refuse("it holds the run folder, which the export would replace"));
    }
    let name = name.to_string_lossy();
    Ok((parent.join(format!(".{name}.tmp")), parent.join(format!(".{name}.old"))))
}

/// A run's name for its card: the folder name, or `<parent>-s<N>` for a `seed-<N>` folder
/// of `rltrade train --seeds` (so the name says which runs it belongs with).
pub fn run_name(run_dir: &Path) -> String {
    let name = |p: &Path| p.file_name().map(|n| n.to_string_lossy().into_owned());
    let own = name(run_dir).unwrap_or_else(|| "model".into());
    match (own.strip_prefix("seed-"), run_dir.parent().and_then(name)) {
        (Some(seed), Some(parent)) if !seed.is_empty() && seed.bytes().all(|b| b.is_ascii_digit()) => {
            format!("{parent}-s{seed}")
        }
        _ => own,
    }
}

/// Observations seen by burn's greedy policy trading the test split (at most `limit`),
/// row-major `[n, obs_dim]`.
///
/// # Errors
/// The backtest's errors (a split too short for the window, ...).
pub fn record_test_observations(setup: &TradingSetup, weights: &ActorCriticWeights, limit: usize) -> Result<Vec<f32>> {
    let mut recorder = Recorder { inner: GreedyPolicy::new("burn", weights.clone()), obs: Vec::new(), limit, rows: 0 };
    let window = setup.evaluation_window(SplitName::Test, &[(recorder.name(), recorder.warmup())])?;
    run_backtest(setup, window, &mut recorder)?;
    Ok(recorder.obs)
}

struct Recorder {
    inner: GreedyPolicy,
    obs: Vec<f32>,
    limit: usize,
    rows: usize,
}

impl Policy for Recorder {
    fn name(&self) -> String {
        self.inner.name()
    }
    fn warmup(&self) -> Warmup {
        self.inner.warmup()
    }
    fn act(&mut self, obs: &[f32], context: &DecisionContext<'_>) -> usize {
        if self.rows < self.limit {
            self.obs.extend_from_slice(obs);
            self.rows += 1;
        }
        self.inner.act(obs, context)
    }
    fn reset(&mut self) {
        self.inner.reset();
    }
}

/// burn's probabilities and logits, `[n, n_actions]` each.
fn burn_outputs(
    model: &ActorCritic,
    device: &Device,
    obs: &[f32],
    n: usize,
    obs_dim: usize,
) -> Result<(Vec<f32>, Vec<f32>)> {
    let x = Tensor::<2>::from_data(TensorData::new(obs.to_vec(), [n, obs_dim]), device);
    let (logits, _) = model.forward(x);
    let probs = softmax(logits.clone(), 1);
    let read = |t: Tensor<2>| {
        t.into_data()
            .try_into_vec::<f32>()
            .map_err(|e| Error::Config { field: "model".into(), message: format!("{e:?}") })
    };
    Ok((read(probs)?, read(logits)?))
}

fn check_parity(
    export_dir: &Path,
    model: &ActorCritic,
    device: &Device,
    onnx: &[u8],
    obs: &[f32],
    obs_dim: usize,
    n_actions: usize,
) -> Result<Parity> {
    let n = obs.len() / obs_dim;
    let fail = |message: String| Error::Export { path: export_dir.to_path_buf(), message };
    if n == 0 {
        return Err(fail("no observations recorded on the test split".into()));
    }
    let (burn_probs, burn_logits) = burn_outputs(model, device, obs, n, obs_dim)?;
    let mut ort_model = OnnxModel::load(export_dir)?;
    let (mut probs, mut logits) = (vec![0.0; n * n_actions], vec![0.0; n * n_actions]);
    ort_model.infer(obs, n, &mut probs, &mut logits)?;
    let ort_err = max_abs_diff(&probs, &burn_probs).max(max_abs_diff(&logits, &burn_logits));
    let (tract_probs, tract_logits) = tract_outputs(onnx, obs, n, obs_dim).map_err(|e| fail(format!("tract: {e}")))?;
    let tract_err = max_abs_diff(&tract_probs, &burn_probs).max(max_abs_diff(&tract_logits, &burn_logits));
    let (mut decisive, mut agree) = (0, 0);
    for i in 0..n {
        let row = &burn_probs[i * n_actions..(i + 1) * n_actions];
        if top_two_margin(row) > TIE_TOLERANCE {
            decisive += 1;
            agree += usize::from(greedy_action(row) == greedy_action(&probs[i * n_actions..(i + 1) * n_actions]));
        }
    }
    let parity = Parity {
        observations: n,
        ort_max_abs_error: ort_err,
        tract_max_abs_error: tract_err,
        decisive_observations: decisive,
        greedy_agreements: agree,
    };
    if !(ort_err <= PARITY_TOLERANCE && tract_err <= PARITY_TOLERANCE && agree == decisive) {
        return Err(fail(format!(
            "parity check failed on {n} test observations: max abs error ONNX Runtime {ort_err:.3e}, tract {tract_err:.3e} \
             (limit {PARITY_TOLERANCE:e}); greedy actions equal on {agree} of {decisive} decisive observations"
        )));
    }
    Ok(parity)
}

/// Runs the ONNX bytes with tract: probabilities and logits `[n, n_actions]`.
///
/// # Errors
/// tract's message when the file cannot be read or run.
pub fn tract_outputs(
    model_bytes: &[u8],
    obs: &[f32],
    n: usize,
    obs_dim: usize,
) -> std::result::Result<(Vec<f32>, Vec<f32>), String> {
    use tract_onnx::prelude::*;
    let run = || -> TractResult<(Vec<f32>, Vec<f32>)> {
        let plan = tract_onnx::onnx()
            .model_for_read(&mut &model_bytes[..])?
            .with_input_fact(0, f32::fact([n, obs_dim]).into())?
            .into_optimized()?
            .into_runnable()?;
        let input = Tensor::from_shape(&[n, obs_dim], obs)?;
        let outputs = plan.run(tvec!(input.into_tvalue()))?;
        let read = |t: &TValue| -> TractResult<Vec<f32>> { Ok(t.try_as_plain_ram()?.as_slice::<f32>()?.to_vec()) };
        Ok((read(&outputs[0])?, read(&outputs[1])?))
    };
    run().map_err(|e| format!("{e:#}"))
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f64 {
    if a.len() != b.len() {
        return f64::INFINITY;
    }
    a.iter()
        .zip(b)
        .map(|(x, y)| f64::from((x - y).abs()))
        .fold(0.0, |m, d| if d.is_nan() { f64::INFINITY } else { m.max(d) })
}

fn top_two_margin(p: &[f32]) -> f32 {
    let (mut a, mut b) = (f32::NEG_INFINITY, f32::NEG_INFINITY);
    for &x in p {
        if x > a {
            b = a;
            a = x;
        } else if x > b {
            b = x;
        }
    }
    a - b
}

fn chrono_now() -> String {
    let ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
    format_time_ms(ms - ms % 1000)
}

/// `target` relative to the folder `dir` (which need not exist yet: its parent must),
/// both made absolute first; `None` when either cannot be resolved.
fn path_from(dir: &Path, target: &Path) -> Option<String> {
    let target = std::fs::canonicalize(target).ok()?;
    let parent = dir.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let dir = std::fs::canonicalize(parent).ok()?.join(dir.file_name()?);
    pathdiff::diff_paths(target, dir).map(|p| p.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_folders_are_named_after_their_parent() {
        assert_eq!(run_name(Path::new("checkpoints/btc_1h_ppo/seed-2")), "btc_1h_ppo-s2");
        assert_eq!(run_name(Path::new("checkpoints/default-s1")), "default-s1");
        assert_eq!(run_name(Path::new("runs/seed-x")), "seed-x");
    }

    #[test]
    fn an_export_folder_without_a_name_or_holding_the_run_is_refused() {
        let run = Path::new("checkpoints/btc/seed-1");
        for out in [Path::new("."), Path::new("/"), Path::new("checkpoints/btc"), run] {
            let err = sibling_paths(out, run).unwrap_err().to_string();
            assert!(err.contains("cannot export here"), "{out:?}: {err}");
        }
        let (tmp, old) = sibling_paths(Path::new("checkpoints/btc/seed-1/export"), run).unwrap();
        assert_eq!(tmp, Path::new("checkpoints/btc/seed-1/.export.tmp"));
        assert_eq!(old, Path::new("checkpoints/btc/seed-1/.export.old"));
    }
}
