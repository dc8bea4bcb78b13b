//! `GET /ab` without the engine's lock: the report is read from the journal's last
//! commit through a read-only connection of its own. It is computed again only when the
//! journal committed since (SQLite's `data_version`) and the last report is at least
//! [`MAX_AGE`] old, so a client polling `/ab` never waits on the bar loop, and any
//! number of clients cost at most one report per [`MAX_AGE`] however fast bars commit.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::body::Bytes;

use crate::error::{Error, Result};
use crate::journal::Journal;

/// How stale `GET /ab` may be: one second behind the journal at most. A replay at full
/// speed commits hundreds of bars per second; recomputing the report on each would
/// take a core from trading (`rltrade bench api`).
pub(super) const MAX_AGE: Duration = Duration::from_secs(1);

/// The read-only connection and the last report, by `data_version`.
#[derive(Debug)]
pub(super) struct AbSnapshots {
    path: PathBuf,
    reader: Mutex<Option<Reader>>,
}

#[derive(Debug)]
struct Reader {
    journal: Journal,
    /// The `data_version` the cached body was computed at.
    version: Option<i64>,
    /// When the cached body was computed.
    computed: Instant,
    body: Bytes,
}

impl AbSnapshots {
    /// Reports of the journal at `path`, opened at the first request.
    pub(super) fn new(path: PathBuf) -> Self {
        Self { path, reader: Mutex::new(None) }
    }

    /// The report as JSON, computed again only when the journal committed since and the
    /// last one is at least [`MAX_AGE`] old.
    /// Blocking: call it off the async workers.
    ///
    /// # Errors
    /// The journal cannot be opened or read.
    pub(super) fn latest(&self) -> Result<Bytes> {
        let mut reader = self.reader.lock().unwrap_or_else(|p| p.into_inner());
        if reader.is_none() {
            let journal = Journal::open_read_only(&self.path)?;
            *reader = Some(Reader { journal, version: None, computed: Instant::now(), body: Bytes::new() });
        }
        let Some(reader) = reader.as_mut() else { unreachable!("opened above") };
        if reader.version.is_some() && reader.computed.elapsed() < MAX_AGE {
            return Ok(reader.body.clone());
        }
        let version = reader.journal.data_version()?;
        if reader.version != Some(version) {
            let report = reader.journal.read_consistent(|journal| crate::ab::report(journal, None))?;
            let body = serde_json::to_vec(&report)
                .map_err(|e| Error::Journal { path: self.path.clone(), message: format!("A/B report: {e}") })?;
            reader.body = Bytes::from(body);
            reader.version = Some(version);
            reader.computed = Instant::now();
        }
        Ok(reader.body.clone())
    }
}
