//! Resuming a run folder: the checks that refuse to continue a run with another config,
//! data file or environment than it was started with, and the note of each resume in
//! `run.json`. The run folder's `config.toml` is the source of truth.

use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::run_dir::RunDir;

/// Checks that the run in `dir` was started with exactly `config_toml` (the resolved
/// config) and, per `provenance` (what `run.json` would hold for this run), the same
/// environment and data file (by SHA-256).
///
/// # Errors
/// [`Error::Resume`] naming the first differing config key (`ppo.learning_rate`) with
/// both values, or the differing environment or data SHA-256; [`Error::Io`] when
/// `config.toml` or `run.json` cannot be read.
pub fn check_run_folder(dir: &RunDir, config_toml: &str, provenance: &Value) -> Result<()> {
    let config_path = dir.path().join("config.toml");
    let saved =
        std::fs::read_to_string(&config_path).map_err(|e| Error::Io { path: config_path.clone(), source: e })?;
    if let Some(difference) = first_difference(&saved, config_toml) {
        return Err(Error::Resume { path: config_path, message: format!("the config differs: {difference}") });
    }
    let run_path = dir.path().join(crate::run_dir::RUN_JSON);
    let run = crate::run_dir::read_run_json(dir.path())?;
    for (key, what) in [("env", "environment"), ("data_sha256", "data file's SHA-256")] {
        let (before, now) = (&run[key], &provenance[key]);
        if before != now {
            return Err(Error::Resume {
                path: run_path,
                message: format!("the {what} differs: the run was started with {before}, this run has {now}"),
            });
        }
    }
    Ok(())
}

/// Appends `{"from_update", "git_commit", "rltrade_version"}` (the latter two from
/// `provenance`) to the `resumes` list of `dir`'s `run.json`.
///
/// # Errors
/// [`Error::Io`] when `run.json` is unreadable or not JSON; [`Error::Resume`] when it is
/// not a JSON object.
pub fn record_resume(dir: &RunDir, from_update: u64, provenance: &Value) -> Result<()> {
    let path = dir.path().join(crate::run_dir::RUN_JSON);
    let mut run = crate::run_dir::read_run_json(dir.path())?;
    let Some(object) = run.as_object_mut() else {
        return Err(Error::Resume { path, message: "run.json is not a JSON object".into() });
    };
    let entry = json!({
        "from_update": from_update,
        "git_commit": provenance.get("git_commit"),
        "rltrade_version": provenance.get("rltrade_version"),
    });
    match object.get_mut("resumes").and_then(Value::as_array_mut) {
        Some(list) => list.push(entry),
        None => {
            object.insert("resumes".into(), json!([entry]));
        }
    }
    let text = serde_json::to_string_pretty(&run).unwrap_or_default();
    dir.write("run.json", text.as_bytes())
}

/// The first line where two TOML texts differ, as `section.key: the run folder has
/// `a`, this run has `b`` (tracking `[section]` headers), or `None` when equal.
pub fn first_difference(saved: &str, given: &str) -> Option<String> {
    let (mut a, mut b) = (saved.lines(), given.lines());
    let mut section = String::new();
    loop {
        match (a.next(), b.next()) {
            (None, None) => return None,
            (x, y) if x == y => {
                if let Some(header) =
                    x.map(str::trim).and_then(|l| l.strip_prefix('[')).and_then(|l| l.strip_suffix(']'))
                {
                    section = header.to_string();
                }
            }
            (x, y) => {
                let line = x.or(y).unwrap_or_default();
                let key = line.split('=').next().unwrap_or(line).trim();
                let name = if section.is_empty() { key.to_string() } else { format!("{section}.{key}") };
                let show = |l: Option<&str>| l.map_or_else(|| "nothing".to_string(), |l| format!("`{}`", l.trim()));
                return Some(format!("{name}: the run folder has {}, this run has {}", show(x), show(y)));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_difference_names_section_and_key() {
        let saved = "[ppo]\nn_envs = 2\nlearning_rate = 0.0003\n\n[train]\nseed = 1\n";
        assert_eq!(first_difference(saved, saved), None);
        let given = saved.replace("learning_rate = 0.0003", "learning_rate = 0.001");
        assert_eq!(
            first_difference(saved, &given).unwrap(),
            "ppo.learning_rate: the run folder has `learning_rate = 0.0003`, this run has `learning_rate = 0.001`"
        );
        let given = saved.replace("seed = 1", "seed = 2");
        assert!(first_difference(saved, &given).unwrap().starts_with("train.seed:"));
        let shorter = "[ppo]\nn_envs = 2\n";
        assert_eq!(
            first_difference(saved, shorter).unwrap(),
            "ppo.learning_rate: the run folder has `learning_rate = 0.0003`, this run has nothing"
        );
    }
}
