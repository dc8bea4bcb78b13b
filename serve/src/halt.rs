//! [`DaemonHalt`]: why the daemon as a whole stopped trading.
//!
//! A halted daemon keeps serving the HTTP API (`GET /health` shows the reason under
//! `halt`, every strategy shows its kill switch and halt in `GET /positions`), but
//! takes no more bars, refuses `POST /resume` and `POST /models/reload` (409), and
//! exits 1 on SIGTERM with the reason.

use serde::Serialize;

/// Why the daemon stopped trading as a whole.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum DaemonHalt {
    /// `POST /kill` engaged the kill switch in memory, but the journal refused to
    /// record it (a full disk, an I/O error). Trading stopped at once; the daemon stays
    /// stopped, since its state in memory is now ahead of its journal. At exit it tries
    /// once more to journal the kill switch, so that a restart keeps it engaged.
    KillNotJournaled {
        /// Whether the kill asked to flatten the positions.
        flatten: bool,
        /// The journal's error (SQLite's message, e.g. "database or disk is full").
        error: String,
    },
    /// A traded bar failed half way (the journal refused it, or a strategy's decision
    /// failed): its fills and decisions exist in memory only. Nothing of it, nor of the
    /// bars since the last commit, is committed; a restart resumes from the last
    /// committed bar and processes them again.
    BarFailed {
        /// The bar's open time, ms since epoch UTC.
        bar_ms: i64,
        /// What failed.
        error: String,
    },
}

impl std::fmt::Display for DaemonHalt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::KillNotJournaled { error, .. } => write!(
                f,
                "the kill switch is engaged, but the journal could not record it ({error}); nothing trades until \
                 the daemon is restarted on a writable journal"
            ),
            Self::BarFailed { bar_ms, error } => write!(
                f,
                "bar {bar_ms} failed ({error}); nothing of it is journaled, and a restart processes it again from \
                 the last committed bar"
            ),
        }
    }
}
