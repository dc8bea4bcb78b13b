//! The run folder: one per training run, holding the resolved config, provenance,
//! `metrics.jsonl` and checkpoints. Every file is written atomically (temporary file,
//! then rename).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// A run folder.
#[derive(Clone, Debug)]
pub struct RunDir {
    path: PathBuf,
}

impl RunDir {
    /// Creates `path` (and parents). An existing non-empty folder is an error: runs are
    /// never overwritten.
    ///
    /// # Errors
    /// [`Error::Io`] when the folder cannot be created or is not empty.
    pub fn create(path: &Path) -> Result<Self> {
        if path.exists() && fs::read_dir(path).map_err(|e| io(path, e))?.next().is_some() {
            return Err(Error::Io {
                path: path.to_path_buf(),
                source: std::io::Error::new(
                    std::io::ErrorKind::AlreadyExists,
                    "the run folder exists and is not empty: pick another --out",
                ),
            });
        }
        fs::create_dir_all(path).map_err(|e| io(path, e))?;
        Ok(Self { path: path.to_path_buf() })
    }

    /// An existing run folder, to resume the run in it.
    ///
    /// # Errors
    /// [`Error::Io`] when `path` is not a folder.
    pub fn open(path: &Path) -> Result<Self> {
        if !path.is_dir() {
            return Err(io(path, std::io::Error::new(std::io::ErrorKind::NotFound, "no run folder here to resume")));
        }
        Ok(Self { path: path.to_path_buf() })
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `bytes` to `name` inside the folder atomically.
    ///
    /// # Errors
    /// [`Error::Io`].
    pub fn write(&self, name: &str, bytes: &[u8]) -> Result<()> {
        write_atomically(&self.path.join(name), bytes)
    }

    /// Appends one line to `name` (for `metrics.jsonl`) and flushes it.
    ///
    /// # Errors
    /// [`Error::Io`].
    pub fn append_line(&self, name: &str, line: &str) -> Result<()> {
        let path = self.path.join(name);
        let mut file = fs::OpenOptions::new().create(true).append(true).open(&path).map_err(|e| io(&path, e))?;
        writeln!(file, "{line}").map_err(|e| io(&path, e))?;
        file.flush().map_err(|e| io(&path, e))
    }
}

/// Keeps the first `updates` lines of the JSON-lines file `name` (`metrics.jsonl`) and
/// drops the rest, atomically (a missing file holds 0 updates): what a run resumed from the checkpoint of update
/// `updates` does, so that every update appears once. Line i must be the object of
/// update i (its `update` field).
///
/// # Errors
/// [`Error::Io`]; [`Error::Checkpoint`] naming the file and line when a kept line is
/// missing, not JSON, or of another update.
pub fn keep_first_updates(dir: &RunDir, name: &str, updates: u64) -> Result<()> {
    let path = dir.path().join(name);
    if updates == 0 && !path.exists() {
        return Ok(());
    }
    let text = fs::read_to_string(&path).map_err(|e| io(&path, e))?;
    let mut kept = String::new();
    let mut lines = text.lines();
    for expected in 1..=updates {
        let bad =
            |message: String| Error::Checkpoint { path: path.clone(), message: format!("line {expected}: {message}") };
        let line = lines.next().ok_or_else(|| bad(format!("missing: the checkpoint is at update {updates}")))?;
        let value: serde_json::Value = serde_json::from_str(line).map_err(|e| bad(format!("not JSON: {e}")))?;
        let update = value.get("update").and_then(serde_json::Value::as_u64);
        if update != Some(expected) {
            return Err(bad(format!("holds update {update:?}, expected {expected}")));
        }
        kept.push_str(line);
        kept.push('\n');
    }
    write_atomically(&path, kept.as_bytes())
}

/// The file holding a run's provenance (seed, data file and SHA-256, splits, features).
pub const RUN_JSON: &str = "run.json";

/// Reads the `run.json` of the run folder `dir`.
///
/// # Errors
/// [`Error::Io`] naming the file when it is missing, unreadable or not JSON.
pub fn read_run_json(dir: &Path) -> Result<serde_json::Value> {
    let path = dir.join(RUN_JSON);
    let text = fs::read_to_string(&path).map_err(|e| io(&path, e))?;
    serde_json::from_str(&text)
        .map_err(|e| io(&path, std::io::Error::new(std::io::ErrorKind::InvalidData, format!("not JSON: {e}"))))
}

/// Writes `bytes` to `path` through a uniquely named temporary file in the same folder
/// (`tempfile`), synced and then renamed over `path`: a crash leaves the old file or the
/// new one, never half of one, and two writers never share a temporary name.
///
/// # Errors
/// [`Error::Io`] naming `path`.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    rltrade_eval::output::write_atomically(path, bytes).map_err(|e| match e {
        rltrade_eval::Error::Io { path, source } => Error::Io { path, source },
        other => Error::from(other),
    })
}

fn io(path: &Path, source: std::io::Error) -> Error {
    Error::Io { path: path.to_path_buf(), source }
}
