//! Checkpoints: the model (burnpack), the Adam state and `state.json`, written into a
//! temporary folder and renamed into place, so a crash never leaves half a checkpoint.

use std::fs;
use std::path::Path;

use burn::module::Module;
use serde::{Deserialize, Serialize};

use crate::actor_critic::{ActorCritic, ActorCriticConfig};
use crate::error::{Error, Result};
use crate::ppo::Learner;

/// File names inside a checkpoint folder.
const MODEL: &str = "model.bpk";
const OPTIMIZER: &str = "optimizer.bpk";
const STATE: &str = "state.json";

/// What a checkpoint says about itself.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckpointState {
    /// Updates done.
    pub update: u64,
    /// Environment steps done.
    pub global_step: u64,
    /// The run's seed.
    pub seed: u64,
    /// Observation length of the model.
    pub obs_dim: usize,
    /// Actions of the model.
    pub n_actions: usize,
    /// Hidden widths.
    pub hidden: Vec<usize>,
    /// Sharpe of the greedy policy on the validation split at this update, if measured.
    pub validation_sharpe: Option<f64>,
}

/// Saves `learner`'s model and optimizer with `state` into folder `dir`, replacing it.
///
/// # Errors
/// [`Error::Io`] or [`Error::Checkpoint`] when a file cannot be written.
pub fn save_checkpoint(dir: &Path, learner: &Learner, state: &CheckpointState) -> Result<()> {
    let tmp = dir.with_extension("tmp");
    let old = dir.with_extension("old");
    let _ = fs::remove_dir_all(&tmp);
    fs::create_dir_all(&tmp).map_err(|e| Error::Io { path: tmp.clone(), source: e })?;
    let fail = |message: String| Error::Checkpoint { path: dir.to_path_buf(), message };
    learner.model.clone().save_file(tmp.join(MODEL)).map_err(|e| fail(format!("cannot write the model: {e:?}")))?;
    learner.optimizer.save(tmp.join(OPTIMIZER)).map_err(|e| fail(format!("cannot write the optimizer: {e:?}")))?;
    let json = serde_json::to_vec_pretty(state).map_err(|e| fail(e.to_string()))?;
    fs::write(tmp.join(STATE), json).map_err(|e| Error::Io { path: tmp.join(STATE), source: e })?;
    let _ = fs::remove_dir_all(&old);
    if dir.exists() {
        fs::rename(dir, &old).map_err(|e| Error::Io { path: dir.to_path_buf(), source: e })?;
    }
    fs::rename(&tmp, dir).map_err(|e| Error::Io { path: dir.to_path_buf(), source: e })?;
    let _ = fs::remove_dir_all(&old);
    Ok(())
}

/// Loads the model and state of the checkpoint in `dir` onto `device`, checking that
/// every file is there, readable, and consistent with `state.json`.
///
/// # Errors
/// [`Error::Checkpoint`] naming what is missing, corrupt or mismatched.
pub fn load_checkpoint(dir: &Path, device: &burn::tensor::Device) -> Result<(ActorCritic, CheckpointState)> {
    let fail = |message: String| Error::Checkpoint { path: dir.to_path_buf(), message };
    let text = fs::read_to_string(dir.join(STATE)).map_err(|e| fail(format!("cannot read {STATE}: {e}")))?;
    let state: CheckpointState = serde_json::from_str(&text).map_err(|e| fail(format!("{STATE} is corrupt: {e}")))?;
    let skeleton =
        ActorCriticConfig::new(state.obs_dim, state.n_actions).with_hidden(state.hidden.clone()).init(0, device)?;
    let model = skeleton
        .try_load_file(dir.join(MODEL))
        .map_err(|e| fail(format!("{MODEL} is missing, corrupt or of another shape than {STATE} says: {e:?}")))?;
    Ok((model, state))
}
