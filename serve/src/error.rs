//! Errors of the daemon and its I/O parts. Each names the file, field, strategy or
//! endpoint it is about.

use std::path::PathBuf;

/// An error of `rltrade-serve`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or writing a file.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// An invalid or missing setting.
    #[error("config `{field}`: {message}")]
    Config {
        /// The TOML key or flag.
        field: String,
        /// What is wrong and what would be right.
        message: String,
    },
    /// The journal (SQLite) failed or holds something this daemon cannot continue.
    #[error("journal {path}: {message}")]
    Journal {
        /// The journal file.
        path: PathBuf,
        /// What happened.
        message: String,
    },
    /// Another process holds the journal's lock: one journal, one daemon.
    #[error(
        "journal {journal}: in use by another rltrade daemon{} (it holds {lock}); stop that daemon first, \
         or give this one another --journal",
        holder.map(|pid| format!(" (pid {pid})")).unwrap_or_default()
    )]
    JournalInUse {
        /// The journal file.
        journal: PathBuf,
        /// Its lock file (`<journal>.lock`).
        lock: PathBuf,
        /// The holder's process id, when its lock file says.
        holder: Option<u32>,
    },
    /// The daemon halted ([`crate::DaemonHalt`]): it takes no more bars and refuses
    /// what would need its journal.
    #[error("the daemon halted: {halt}")]
    Halted {
        /// Why.
        halt: crate::DaemonHalt,
    },
    /// A model could not be loaded or does not fit the feed.
    #[error(transparent)]
    Policy(#[from] rltrade_policy::Error),
    /// The environment side (data, features, baselines).
    #[error(transparent)]
    Env(#[from] rltrade_env::Error),
    /// The execution core (invalid prices, config).
    #[error(transparent)]
    Exec(#[from] rltrade_exec::Error),
    /// An exchange answered with an error or could not be reached.
    #[error("exchange {endpoint}: {message}")]
    Exchange {
        /// The endpoint (`GET /api/v3/klines`).
        endpoint: String,
        /// The exchange's `{"code", "msg"}` or the transport error.
        message: String,
    },
    /// A data file that cannot be used or written as asked: fetched bars that fail
    /// validation, or an existing file to resume that does not fit the request.
    #[error("{path}: {message}")]
    Data {
        /// The file.
        path: PathBuf,
        /// What is wrong, with the values.
        message: String,
    },
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An [`Error::Io`] for `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io { path: path.into(), source }
    }
}
