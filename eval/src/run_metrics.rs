//! A training run's `metrics.jsonl` (one JSON object per update or validation, written
//! by `rltrade train`), read back by the dashboard and the Python package.

use std::path::Path;

use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// The file's name in a run folder.
pub const METRICS_FILE: &str = "metrics.jsonl";

/// Reads a run's `metrics.jsonl`: one object per line, in file order.
///
/// # Errors
/// [`Error::Io`] when the file cannot be read; [`Error::Malformed`] naming the file and
/// line when a line is not a JSON object. A last line cut short by a killed run (no
/// final newline) is skipped.
pub fn read_metrics(path: &Path) -> Result<Vec<Map<String, Value>>> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io { path: path.to_path_buf(), source })?;
    let lines: Vec<&str> = text.lines().collect();
    let bad = |index: usize, message: String| Error::Malformed { path: path.to_path_buf(), line: index + 1, message };
    let mut rows = Vec::with_capacity(lines.len());
    for (i, line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Value>(line) {
            Ok(Value::Object(row)) => rows.push(row),
            // a run killed mid-write leaves its last line short: not an error
            Err(_) if i + 1 == lines.len() && !text.ends_with('\n') => {}
            Ok(_) => return Err(bad(i, "not a JSON object".into())),
            Err(e) => return Err(bad(i, e.to_string())),
        }
    }
    Ok(rows)
}
