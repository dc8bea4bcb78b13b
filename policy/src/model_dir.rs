//! Where a model lives: a folder holding `model_card.json` is an export; a folder
//! holding `export/model_card.json` is a training run, and means its export.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The card's file name inside an export folder.
pub const MODEL_CARD_FILE: &str = "model_card.json";
/// The ONNX file's name inside an export folder.
pub const ONNX_FILE: &str = "policy.onnx";
/// The export folder's name inside a run folder.
pub const EXPORT_DIR: &str = "export";

/// The export folder a model path names.
///
/// # Errors
/// [`Error::NotAModel`] when `path` is neither an export nor a run with an export.
pub fn resolve_export_dir(path: &Path) -> Result<PathBuf> {
    if path.join(MODEL_CARD_FILE).is_file() {
        return Ok(path.to_path_buf());
    }
    let export = path.join(EXPORT_DIR);
    if export.join(MODEL_CARD_FILE).is_file() {
        return Ok(export);
    }
    Err(Error::NotAModel(path.to_path_buf()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_export_a_run_and_neither() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("run");
        std::fs::create_dir_all(run.join(EXPORT_DIR)).unwrap();
        std::fs::write(run.join(EXPORT_DIR).join(MODEL_CARD_FILE), "{}").unwrap();
        assert_eq!(resolve_export_dir(&run).unwrap(), run.join(EXPORT_DIR));
        assert_eq!(resolve_export_dir(&run.join(EXPORT_DIR)).unwrap(), run.join(EXPORT_DIR));
        let err = resolve_export_dir(dir.path()).unwrap_err().to_string();
        assert!(err.contains("not a model folder"), "{err}");
    }
}
