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
}

impl std::fmt::Display for DaemonHalt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::KillNotJournaled { error, .. } => write!(
                f,
                "the kill switch is engaged, but the journal could not record it ({error}); nothing trades until \
                 the daemon is restarted on a writable journal"
            ),
        }
    }
}
