//! The error type of `rltrade-eval`.

use std::path::PathBuf;

/// Errors of backtests, comparisons and the trial ledger.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A setting or request is out of range; `field` is its TOML path or flag.
    #[error("config `{field}`: {message}")]
    Config {
        /// TOML path or flag.
        field: String,
        /// What is wrong and what is allowed.
        message: String,
    },
    /// An environment or data error.
    #[error(transparent)]
    Env(#[from] rltrade_env::Error),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A line of a file read line by line (the trial ledger `trials.jsonl`, a per-bar
    /// returns CSV) is malformed.
    #[error("{path}: line {line}: {message}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong (serde's or csv's message, or the rule broken).
        message: String,
    },
    /// A report file (`equity.csv`, the plot) cannot be written from the results given.
    #[error("{path}: {message}")]
    Report {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The exported policy could not be loaded or run.
    #[error(transparent)]
    Policy(#[from] rltrade_policy::Error),
}

/// Result alias of `rltrade-eval`.
pub type Result<T, E = Error> = std::result::Result<T, E>;
