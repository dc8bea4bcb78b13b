//! Checkpoints: the model (burnpack), the Adam state, for a resumable checkpoint the
//! training loop's state (`resume.cbor`), and `state.json`, which describes the
//! checkpoint and lists every other file with its SHA-256. All are written into a
//! temporary folder that is then renamed into place, so a crash never leaves half a
//! checkpoint; loading checks each file against its SHA-256, so a damaged one is
//! refused by name.
//!
//! `resume.cbor` is CBOR (RFC 8949) through ciborium: a binary format that keeps every
//! f64 and f32 bit-exact (NaN and infinities too), which a resumed run needs to end with
//! the same weights as an uninterrupted one.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::optim::OptimizerRecord;
use serde::{Deserialize, Serialize};

use rltrade_env::data::{sha256_file, sha256_hex};

use crate::actor_critic::{ActorCritic, ActorCriticConfig};
use crate::error::{Error, Result};
use crate::ppo::Learner;
use crate::train::{LoopState, Resume};
use crate::vector_env::EnvState;

/// File names inside a checkpoint folder.
const MODEL: &str = "model.bpk";
const OPTIMIZER: &str = "optimizer.bpk";
const RESUME: &str = "resume.cbor";
const STATE: &str = "state.json";

/// Version of the checkpoint layout, saved in `state.json`; a checkpoint of another
/// version is refused.
pub const CHECKPOINT_VERSION: u32 = 2;

/// Version of `resume.cbor`'s contents.
const RESUME_VERSION: u32 = 1;

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
    /// Lower-case hex SHA-256 of the run's `config.toml`: a resumed run must have the
    /// same config.
    pub config_sha256: String,
}

/// The loop state saved in a resumable checkpoint (`resume.cbor`); `S` is the
/// environments' saved state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(bound = "S: EnvState")]
pub struct ResumeState<S> {
    /// The training loop's state after the checkpointed update.
    pub loop_state: LoopState<S>,
    /// The best validation Sharpe so far (the `best` checkpoint's), if any.
    pub best_validation_sharpe: Option<f64>,
}

/// `state.json` on disk: the state plus the layout version and the files' SHA-256.
#[derive(Serialize, Deserialize)]
struct StateFile {
    version: u32,
    #[serde(flatten)]
    state: CheckpointState,
    /// File name → lower-case hex SHA-256.
    files: BTreeMap<String, String>,
}

/// `resume.cbor` on disk.
#[derive(Serialize, Deserialize)]
#[serde(bound = "S: EnvState")]
struct ResumeFile<S> {
    format: String,
    version: u32,
    state: ResumeState<S>,
}

/// What `resume.cbor` says it is.
const RESUME_FORMAT: &str = "rltrade-resume";

/// Saves `learner`'s model and optimizer with `state` into folder `dir`, replacing it;
/// with `resume`, the checkpoint is resumable ([`load_resume`]).
///
/// The files are not fsynced (that cost about 10 ms per file here, as much as a small
/// update): a process that crashes or is killed never leaves half a checkpoint, since
/// the folder is renamed into place whole; after a power loss a file may be damaged,
/// which loading detects by its SHA-256 and refuses by name.
///
/// # Errors
/// [`Error::Io`] or [`Error::Checkpoint`] when a file cannot be written.
pub fn save_checkpoint<S: EnvState>(
    dir: &Path,
    learner: &Learner,
    state: &CheckpointState,
    resume: Option<&ResumeState<S>>,
) -> Result<()> {
    let fail = |message: String| Error::Checkpoint { path: dir.to_path_buf(), message };
    let model = learner
        .model
        .clone()
        .into_record()
        .into_bytes()
        .map_err(|e| fail(format!("cannot encode the model: {e:?}")))?;
    let optimizer = learner.optimizer.into_bytes().map_err(|e| fail(format!("cannot encode the optimizer: {e:?}")))?;
    let mut contents: Vec<(&str, Vec<u8>)> = vec![(MODEL, model.to_vec()), (OPTIMIZER, optimizer.to_vec())];
    if let Some(resume) = resume {
        let file = ResumeFile { format: RESUME_FORMAT.into(), version: RESUME_VERSION, state: resume.clone() };
        let mut bytes = Vec::new();
        ciborium::into_writer(&file, &mut bytes).map_err(|e| fail(format!("cannot encode {RESUME}: {e}")))?;
        contents.push((RESUME, bytes));
    }
    let files = contents.iter().map(|(name, bytes)| (name.to_string(), sha256_hex(bytes))).collect();
    let json = serde_json::to_vec_pretty(&StateFile { version: CHECKPOINT_VERSION, state: state.clone(), files })
        .map_err(|e| fail(e.to_string()))?;
    contents.push((STATE, json));

    let tmp = dir.with_extension("tmp");
    let old = dir.with_extension("old");
    let _ = fs::remove_dir_all(&tmp);
    fs::create_dir_all(&tmp).map_err(|e| Error::Io { path: tmp.clone(), source: e })?;
    for (name, bytes) in &contents {
        fs::write(tmp.join(name), bytes).map_err(|e| Error::Io { path: tmp.join(name), source: e })?;
    }
    let _ = fs::remove_dir_all(&old);
    if dir.exists() {
        fs::rename(dir, &old).map_err(|e| Error::Io { path: dir.to_path_buf(), source: e })?;
    }
    fs::rename(&tmp, dir).map_err(|e| Error::Io { path: dir.to_path_buf(), source: e })?;
    let _ = fs::remove_dir_all(&old);
    Ok(())
}

/// Completes a [`save_checkpoint`] into `dir` that was interrupted between its two
/// renames (the old checkpoint moved to `<dir>.old`, the new one still at `<dir>.tmp`):
/// puts the new one in place if it is complete (every file matches `state.json`), else
/// the old one. Does nothing when `dir` exists. Returns whether it moved a folder.
///
/// # Errors
/// [`Error::Io`] when a folder cannot be renamed.
pub fn recover_interrupted_save(dir: &Path) -> Result<bool> {
    if dir.exists() {
        return Ok(false);
    }
    let (tmp, old) = (dir.with_extension("tmp"), dir.with_extension("old"));
    let source = if tmp.is_dir() && read_state(&tmp).is_ok() {
        tmp
    } else if old.is_dir() {
        old
    } else {
        return Ok(false);
    };
    fs::rename(&source, dir).map_err(|e| Error::Io { path: source.clone(), source: e })?;
    Ok(true)
}

/// Loads the model and state of the checkpoint in `dir` onto `device`, checking that
/// every file is there, matches its SHA-256 in `state.json`, and is consistent with it.
///
/// # Errors
/// [`Error::Checkpoint`] naming what is missing, corrupt or mismatched.
pub fn load_checkpoint(dir: &Path, device: &burn::tensor::Device) -> Result<(ActorCritic, CheckpointState)> {
    let (state, _) = read_state(dir)?;
    let model = load_model(dir, &state, device)?;
    Ok((model, state))
}

/// Loads a resumable checkpoint (`checkpoints/last` of a run): model, optimizer and
/// loop state, each checked against its SHA-256.
///
/// # Errors
/// [`Error::Checkpoint`] naming what is missing, corrupt, of another version, or not
/// resumable.
pub fn load_resume<S: EnvState>(
    dir: &Path,
    device: &burn::tensor::Device,
) -> Result<(Resume<S>, CheckpointState, ResumeState<S>)> {
    let fail = |message: String| Error::Checkpoint { path: dir.to_path_buf(), message };
    let (state, files) = read_state(dir)?;
    for name in [OPTIMIZER, RESUME] {
        if !files.contains_key(name) {
            return Err(fail(format!("{STATE} lists no {name}: this checkpoint cannot be resumed")));
        }
    }
    let model = load_model(dir, &state, device)?;
    let optimizer =
        OptimizerRecord::load(dir.join(OPTIMIZER)).map_err(|e| fail(format!("{OPTIMIZER} cannot be read: {e:?}")))?;
    let bytes = fs::read(dir.join(RESUME)).map_err(|e| fail(format!("cannot read {RESUME}: {e}")))?;
    let file: ResumeFile<S> =
        ciborium::from_reader(bytes.as_slice()).map_err(|e| fail(format!("{RESUME} is corrupt: {e}")))?;
    if file.format != RESUME_FORMAT || file.version != RESUME_VERSION {
        return Err(fail(format!(
            "{RESUME} is `{}` version {}, this build reads `{RESUME_FORMAT}` version {RESUME_VERSION}",
            file.format, file.version
        )));
    }
    let resume_state = file.state;
    let loop_state = &resume_state.loop_state;
    if (loop_state.update, loop_state.global_step) != (state.update, state.global_step) {
        return Err(fail(format!(
            "{RESUME} is at update {} (step {}), {STATE} at update {} (step {})",
            loop_state.update, loop_state.global_step, state.update, state.global_step
        )));
    }
    let resume = Resume { path: dir.to_path_buf(), model, optimizer, state: resume_state.loop_state.clone() };
    Ok((resume, state, resume_state))
}

/// Reads `state.json`, checks its version and the SHA-256 of every file it lists.
fn read_state(dir: &Path) -> Result<(CheckpointState, BTreeMap<String, String>)> {
    let fail = |message: String| Error::Checkpoint { path: dir.to_path_buf(), message };
    let text = fs::read_to_string(dir.join(STATE)).map_err(|e| fail(format!("cannot read {STATE}: {e}")))?;
    let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| fail(format!("{STATE} is corrupt: {e}")))?;
    let version = value.get("version").and_then(serde_json::Value::as_u64);
    if version != Some(u64::from(CHECKPOINT_VERSION)) {
        return Err(fail(format!(
            "{STATE} has layout version {}, this build reads version {CHECKPOINT_VERSION}",
            version.map_or_else(|| "(none)".into(), |v| v.to_string())
        )));
    }
    let file: StateFile = serde_json::from_value(value).map_err(|e| fail(format!("{STATE} is corrupt: {e}")))?;
    if !file.files.contains_key(MODEL) {
        return Err(fail(format!("{STATE} lists no {MODEL}")));
    }
    for (name, expected) in &file.files {
        let path: PathBuf = dir.join(name);
        if !path.is_file() {
            return Err(fail(format!("{name} is missing")));
        }
        let found = sha256_file(&path)?;
        if &found != expected {
            return Err(fail(format!("{name} is corrupt: its SHA-256 is {found}, {STATE} says {expected}")));
        }
    }
    Ok((file.state, file.files))
}

/// The model of `dir`, shaped as `state` says.
fn load_model(dir: &Path, state: &CheckpointState, device: &burn::tensor::Device) -> Result<ActorCritic> {
    let fail = |message: String| Error::Checkpoint { path: dir.to_path_buf(), message };
    let skeleton =
        ActorCriticConfig::new(state.obs_dim, state.n_actions).with_hidden(state.hidden.clone()).init(0, device)?;
    skeleton
        .try_load_file(dir.join(MODEL))
        .map_err(|e| fail(format!("{MODEL} is missing, corrupt or of another shape than {STATE} says: {e:?}")))
}
