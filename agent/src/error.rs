//! The error type of `rltrade-agent`.

use std::path::PathBuf;

/// Errors of training, checkpoints and export.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A setting is out of range; `field` is its TOML path (`ppo.n_steps`).
    #[error("config `{field}`: {message}")]
    Config {
        /// TOML path.
        field: String,
        /// What is wrong and what is allowed.
        message: String,
    },
    /// An environment error.
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
    /// A checkpoint is corrupt, incomplete or does not match the run.
    #[error("checkpoint {path}: {message}")]
    Checkpoint {
        /// The checkpoint folder or file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A run folder cannot be resumed as asked: its config, data file or environment
    /// differ from the ones given.
    #[error("cannot resume {path}: {message}")]
    Resume {
        /// The run folder (or the file in it that differs).
        path: PathBuf,
        /// What differs, with both values.
        message: String,
    },
    /// The network produced a non-finite value (exploding loss, NaN weights).
    #[error("training diverged at update {update}: {what} is not finite")]
    Diverged {
        /// The update number.
        update: u64,
        /// Which quantity.
        what: &'static str,
    },
    /// An export failed its checks (parity, splits).
    #[error("export {path}: {message}")]
    Export {
        /// The export folder.
        path: PathBuf,
        /// What failed, with the numbers.
        message: String,
    },
    /// The exported policy could not be loaded or run.
    #[error(transparent)]
    Policy(#[from] rltrade_policy::Error),
    /// A comparison, backtest or trial-ledger error (`rltrade-eval`), boxed: it is
    /// larger than every other variant.
    #[error(transparent)]
    Eval(Box<rltrade_eval::Error>),
}

impl From<rltrade_eval::Error> for Error {
    fn from(e: rltrade_eval::Error) -> Self {
        Error::Eval(Box::new(e))
    }
}

/// Result alias of `rltrade-agent`.
pub type Result<T, E = Error> = std::result::Result<T, E>;
