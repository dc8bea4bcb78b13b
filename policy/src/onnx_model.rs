//! An exported policy loaded into ONNX Runtime: the session, its card, and batched
//! inference into caller-owned buffers.

use std::path::{Path, PathBuf};

use ort::session::Session;
use ort::value::{TensorRef, ValueType};
use rltrade_env::data::sha256_hex;

use crate::error::{Error, Result};
use crate::model_card::{INPUT_OBS, ModelCard, OUTPUT_LOGITS, OUTPUT_PROBS};
use crate::model_dir::{MODEL_CARD_FILE, resolve_export_dir};
use crate::runtime;

/// A loaded `policy.onnx` with its [`ModelCard`], checked against each other.
pub struct OnnxModel {
    session: Session,
    card: ModelCard,
    export_dir: PathBuf,
    onnx_path: PathBuf,
}

impl std::fmt::Debug for OnnxModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnnxModel").field("name", &self.card.name).field("onnx_path", &self.onnx_path).finish()
    }
}

impl OnnxModel {
    /// Loads the model a folder names (an export, or a run holding `export/`): reads the
    /// card (checksum, consistency, `onnx.file` a plain file name of the card's folder),
    /// refuses an ONNX file that is a symbolic link, checks its SHA-256 against the card,
    /// opens an ONNX Runtime session on one thread, and checks the graph against the card:
    /// its one input named `onnx.input`, f32 `[batch, obs_dim]`, and outputs `probs` and
    /// `logits`, f32 `[batch, n_actions]`.
    ///
    /// # Errors
    /// [`Error::NotAModel`], [`Error::Card`], [`Error::Runtime`] (no ONNX Runtime: says how
    /// to fix it), [`Error::Onnx`] for a linked, changed, unreadable or wrongly shaped
    /// file, or one whose input is not the card's `onnx.input`.
    pub fn load(path: &Path) -> Result<Self> {
        let export_dir = resolve_export_dir(path)?;
        let card = ModelCard::load(&export_dir.join(MODEL_CARD_FILE))?;
        let onnx_path = export_dir.join(&card.onnx.file);
        let onnx_err = |message: String| Error::Onnx { path: onnx_path.clone(), message };
        let metadata = std::fs::symlink_metadata(&onnx_path).map_err(|e| Error::io(&onnx_path, e))?;
        if !metadata.is_file() {
            // a link could reach any file on the machine; only a file of the export counts
            return Err(onnx_err(
                "onnx.file: not a regular file of the export folder (a symbolic link or a folder): export the run again"
                    .into(),
            ));
        }
        let bytes = std::fs::read(&onnx_path).map_err(|e| Error::io(&onnx_path, e))?;
        let sha = sha256_hex(&bytes);
        if sha != card.onnx.sha256 {
            return Err(onnx_err(format!(
                "SHA-256 {sha} differs from the model card's {}: the file changed after export; export the run again",
                card.onnx.sha256
            )));
        }
        let environment = runtime::environment()?;
        let session = Session::builder(environment)
            .and_then(|b| b.with_intra_threads(1).map_err(ort::Error::from))
            .and_then(|b| b.with_inter_threads(1).map_err(ort::Error::from))
            .and_then(|mut b| b.commit_from_memory(&bytes))
            .map_err(|e| onnx_err(format!("ONNX Runtime cannot load it: {e}")))?;
        check_signature(&session, &card).map_err(onnx_err)?;
        Ok(Self { session, card, export_dir, onnx_path })
    }

    /// The model card.
    pub fn card(&self) -> &ModelCard {
        &self.card
    }

    /// The export folder.
    pub fn export_dir(&self) -> &Path {
        &self.export_dir
    }

    /// Observation length.
    pub fn obs_dim(&self) -> usize {
        self.card.obs_dim
    }

    /// Number of actions.
    pub fn n_actions(&self) -> usize {
        self.card.n_actions()
    }

    /// Runs the policy on `batch` observations (`obs`: `[batch, obs_dim]` row-major) and
    /// writes `probs` and `logits` (`[batch, n_actions]` each).
    ///
    /// # Errors
    /// [`Error::Onnx`] on wrong buffer lengths or a runtime failure.
    pub fn infer(&mut self, obs: &[f32], batch: usize, probs: &mut [f32], logits: &mut [f32]) -> Result<()> {
        let (obs_dim, n_actions) = (self.card.obs_dim, self.card.n_actions());
        let onnx_path = &self.onnx_path;
        let err = |message: String| Error::Onnx { path: onnx_path.clone(), message };
        if obs.len() != batch * obs_dim || probs.len() != batch * n_actions || logits.len() != batch * n_actions {
            return Err(err(format!(
                "buffers of {} observations, {} probabilities and {} logits for a batch of {batch} ({obs_dim} × {n_actions})",
                obs.len(),
                probs.len(),
                logits.len()
            )));
        }
        let input = TensorRef::from_array_view(([batch, obs_dim], obs)).map_err(|e| err(format!("input: {e}")))?;
        let input_name = self.card.onnx.input.as_str();
        let outputs =
            self.session.run(ort::inputs![input_name => input]).map_err(|e| err(format!("inference failed: {e}")))?;
        for (name, out) in [(OUTPUT_PROBS, &mut *probs), (OUTPUT_LOGITS, &mut *logits)] {
            let (shape, data) =
                outputs[name].try_extract_tensor::<f32>().map_err(|e| err(format!("output `{name}`: {e}")))?;
            if data.len() != out.len() {
                return Err(err(format!("output `{name}` has shape {shape}, expected [{batch}, {n_actions}]")));
            }
            out.copy_from_slice(data);
        }
        Ok(())
    }
}

/// Checks the session's input and outputs against the card; a message naming what differs.
fn check_signature(session: &Session, card: &ModelCard) -> std::result::Result<(), String> {
    let describe = |t: &ValueType| format!("{t}");
    let inputs = session.inputs();
    let names: Vec<&str> = inputs.iter().map(|i| i.name()).collect();
    if names != [card.onnx.input.as_str()] {
        return Err(format!(
            "onnx.input: the card names the input {:?}, the file's inputs are {names:?} (this build writes one input `{INPUT_OBS}`)",
            card.onnx.input
        ));
    }
    check_matrix(inputs[0].dtype(), &card.onnx.input, card.obs_dim, "obs_dim")
        .map_err(|m| format!("onnx.input: {m}{}", describe(inputs[0].dtype())))?;
    for name in [OUTPUT_PROBS, OUTPUT_LOGITS] {
        let Some(out) = session.outputs().iter().find(|o| o.name() == name) else {
            let names: Vec<&str> = session.outputs().iter().map(|o| o.name()).collect();
            return Err(format!("outputs are {names:?}, expected `{OUTPUT_PROBS}` and `{OUTPUT_LOGITS}`"));
        };
        check_matrix(out.dtype(), name, card.n_actions(), "the card's action count")
            .map_err(|m| m + &describe(out.dtype()))?;
    }
    Ok(())
}

fn check_matrix(t: &ValueType, name: &str, columns: usize, what: &str) -> std::result::Result<(), String> {
    match t {
        ValueType::Tensor { ty: ort::value::TensorElementType::Float32, shape, .. }
            if shape.len() == 2 && shape[1] == columns as i64 =>
        {
            Ok(())
        }
        _ => Err(format!("`{name}` must be f32 [batch, {columns}] ({what}); the file has ")),
    }
}
