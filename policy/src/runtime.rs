//! The ONNX Runtime shared library: found through `ORT_DYLIB_PATH` (or the project's
//! `.ort/` folder), loaded once per process, with errors that say how to fix a missing
//! or wrong library.
//!
//! ort is built with `load-dynamic`: nothing is downloaded at build time. The library
//! is the one inside the PyPI wheel `onnxruntime==1.31.1`
//! (`onnxruntime/capi/libonnxruntime.so.1.31.1`); `scripts/install_ort.sh` installs it
//! into the git-ignored `.ort/` folder and prints the path.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ort::environment::Environment;

use crate::error::{Error, Result};

/// The environment variable naming the ONNX Runtime library.
pub const ORT_DYLIB_ENV: &str = "ORT_DYLIB_PATH";
/// The ONNX Runtime version this build is made for (ort's `api-31`).
pub const ONNXRUNTIME_VERSION: &str = "1.31.1";
/// Where `scripts/install_ort.sh` puts the library, relative to the project root.
pub const PROJECT_LIBRARY: &str = ".ort/onnxruntime/capi/libonnxruntime.so.1.31.1";

const HOW_TO_FIX: &str = "run `bash scripts/install_ort.sh` (it installs the PyPI wheel onnxruntime==1.31.1 into .ort/) \
and set ORT_DYLIB_PATH to the libonnxruntime.so.1.31.1 it prints";

static ENVIRONMENT: OnceLock<std::result::Result<Environment, String>> = OnceLock::new();

/// The library path: `ORT_DYLIB_PATH` if set, else [`PROJECT_LIBRARY`] under the
/// current directory or one of its ancestors.
///
/// # Errors
/// [`Error::Runtime`] with how to fix it when neither exists.
pub fn library_path() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os(ORT_DYLIB_ENV).filter(|p| !p.is_empty()) {
        let path = PathBuf::from(path);
        if !path.is_file() {
            return Err(Error::Runtime(format!("{ORT_DYLIB_ENV}={} is not a file: {HOW_TO_FIX}", path.display())));
        }
        return Ok(path);
    }
    let cwd = std::env::current_dir().map_err(|e| Error::Runtime(format!("current directory: {e}")))?;
    cwd.ancestors().map(|dir| dir.join(PROJECT_LIBRARY)).find(|p| p.is_file()).ok_or_else(|| {
        Error::Runtime(format!(
            "the library was not found ({ORT_DYLIB_ENV} is not set, no {PROJECT_LIBRARY}): {HOW_TO_FIX}"
        ))
    })
}

/// The process's ONNX Runtime environment, loading the library on first use.
///
/// # Errors
/// [`Error::Runtime`] when the library is missing, cannot be loaded, or is a version
/// ort's `api-31` rejects; the message says how to fix it. The outcome of the first
/// call is kept: later calls return the same error.
pub fn environment() -> Result<&'static Environment> {
    // keep the message without the variant's own "ONNX Runtime: " prefix, which
    // wrapping it again adds back once
    let kept = ENVIRONMENT.get_or_init(|| {
        init().map_err(|e| match e {
            Error::Runtime(message) => message,
            other => other.to_string(),
        })
    });
    kept.as_ref().map_err(|message| Error::Runtime(message.clone()))
}

fn init() -> Result<Environment> {
    let path = library_path()?;
    load(&path)
}

fn load(path: &Path) -> Result<Environment> {
    let builder = ort::init_from(path).map_err(|e| {
        Error::Runtime(format!(
            "{}: cannot load it ({e}); this build needs ONNX Runtime {ONNXRUNTIME_VERSION}: {HOW_TO_FIX}",
            path.display()
        ))
    })?;
    builder
        .with_name("rltrade")
        .build()
        .map_err(|e| Error::Runtime(format!("{}: cannot start an environment ({e}): {HOW_TO_FIX}", path.display())))
}
