//! Running the built `rltrade` binary in a temporary directory.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub mod daemon;

/// A temporary working directory for one test.
pub struct Dir {
    pub tmp: tempfile::TempDir,
}

impl Default for Dir {
    fn default() -> Self {
        Self::new()
    }
}

impl Dir {
    pub fn new() -> Self {
        Self { tmp: tempfile::tempdir().expect("temp dir") }
    }

    pub fn path(&self) -> &Path {
        self.tmp.path()
    }

    /// Writes `text` to `name` in the directory and returns its path.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path().join(name);
        std::fs::write(&path, text).expect("write");
        path
    }
}

/// Path of a shipped data file.
pub fn data(file: &str) -> String {
    format!("{}/data/{file}", env!("CARGO_MANIFEST_DIR"))
}

/// Runs `rltrade args...` in `dir`.
/// The project's ONNX Runtime library is used unless `ORT_DYLIB_PATH` says otherwise
/// (`scripts/test.sh` installs it and sets the variable).
pub fn run(dir: &Path, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_rltrade"));
    if std::env::var_os("ORT_DYLIB_PATH").is_none() {
        command.env(
            "ORT_DYLIB_PATH",
            format!("{}/.ort/onnxruntime/capi/libonnxruntime.so.1.31.1", env!("CARGO_MANIFEST_DIR")),
        );
    }
    command.args(args).current_dir(dir).output().expect("run rltrade")
}

/// Runs `rltrade args...` in `dir` with extra environment variables.
pub fn run_with_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_rltrade"));
    command.envs(env.iter().copied());
    command.args(args).current_dir(dir).output().expect("run rltrade")
}

/// Describes a finished command for assertion messages.
pub fn describe(args: &[&str], out: &Output) -> String {
    format!(
        "command: rltrade {}\nstatus: {}\nstdout:\n{}\nstderr:\n{}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Runs and expects exit code `code`; returns stdout.
pub fn expect_code(dir: &Path, args: &[&str], code: i32) -> (String, String) {
    let out = run(dir, args);
    assert_eq!(out.status.code(), Some(code), "{}", describe(args, &out));
    (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// Runs, expects success, parses stdout as one JSON object.
pub fn json(dir: &Path, args: &[&str]) -> serde_json::Value {
    let (stdout, _) = expect_code(dir, args, 0);
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("stdout is not one JSON object ({e}):\n{stdout}"))
}

/// The shipped config without its switching hysteresis, written into `dir` (its path
/// returned): the tests' short trainings (a few rollouts) are too few to learn past the
/// shipped margin of 0.3, so such a model stays flat, and these tests need models that
/// trade. Everything else is the shipped config's.
pub fn shipped_config_without_margin(dir: &Path) -> String {
    let shipped = std::fs::read_to_string(format!("{}/configs/btc_1h_ppo.toml", env!("CARGO_MANIFEST_DIR")))
        .expect("the shipped config");
    let margin =
        shipped.lines().find(|l| l.starts_with("switch_margin")).expect("the shipped config sets switch_margin");
    let path = dir.join("btc_1h_ppo_no_margin.toml");
    std::fs::write(&path, shipped.replace(margin, "switch_margin = 0.0")).expect("write the config");
    path.display().to_string()
}
