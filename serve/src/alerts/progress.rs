//! How far delivery got ([`DeliveryProgress`]): for each destination, the last outbox id
//! it received, and the bot's `getUpdates` offset. Kept in `<journal>-alerts`, a SQLite
//! file beside the journal, so that the delivery tasks never write to the journal and
//! never make the bar loop wait for a lock. A destination's id is stored after the
//! destination acknowledged the message: a crash in between sends it again (at least
//! once), never skips it.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, params};

use crate::{Error, Result};

/// The delivery state beside a journal.
#[derive(Debug)]
pub struct DeliveryProgress {
    conn: Connection,
    path: PathBuf,
}

/// `<journal>-alerts`: the delivery state's file for the journal at `journal`.
pub fn progress_path(journal: &Path) -> PathBuf {
    let mut name = journal.as_os_str().to_owned();
    name.push("-alerts");
    PathBuf::from(name)
}

impl DeliveryProgress {
    /// Opens (creating) the delivery state of the journal at `journal`.
    ///
    /// # Errors
    /// [`Error::Journal`] naming the file when it cannot be opened or is not this
    /// state.
    pub fn open(journal: &Path) -> Result<Self> {
        let path = progress_path(journal);
        let fail = |e: rusqlite::Error| Error::Journal { path: path.clone(), message: format!("delivery state: {e}") };
        let conn = Connection::open(&path).map_err(fail)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .and_then(|()| conn.pragma_update(None, "journal_mode", "WAL"))
            .and_then(|()| conn.pragma_update(None, "synchronous", "NORMAL"))
            .and_then(|()| {
                conn.execute_batch(
                    "CREATE TABLE IF NOT EXISTS delivered (destination TEXT PRIMARY KEY, last_id INTEGER NOT NULL) \
                     STRICT; CREATE TABLE IF NOT EXISTS bot (key TEXT PRIMARY KEY, value INTEGER NOT NULL) STRICT; \
                     CREATE TABLE IF NOT EXISTS journal (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;",
                )
            })
            .map_err(fail)?;
        Ok(Self { conn, path })
    }

    fn fail(&self, what: &str, e: rusqlite::Error) -> Error {
        Error::Journal { path: self.path.clone(), message: format!("delivery state, {what}: {e}") }
    }

    /// Registers `destination` (a new one starts after outbox id `start_after`, so it
    /// is not sent the journal's history) and returns its last delivered id.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn register(&self, destination: &str, start_after: i64) -> Result<i64> {
        self.conn
            .execute(
                "INSERT INTO delivered (destination, last_id) VALUES (?1, ?2) ON CONFLICT (destination) DO NOTHING",
                params![destination, start_after],
            )
            .map_err(|e| self.fail("registering a destination", e))?;
        self.delivered(destination).map(|id| id.unwrap_or(start_after))
    }

    /// The last outbox id `destination` acknowledged (`None` for an unknown one).
    ///
    /// # Errors
    /// SQLite errors.
    pub fn delivered(&self, destination: &str) -> Result<Option<i64>> {
        self.conn
            .query_row("SELECT last_id FROM delivered WHERE destination = ?1", [destination], |r| r.get(0))
            .optional()
            .map_err(|e| self.fail("reading", e))
    }

    /// Records that `destination` acknowledged every alert up to `last_id`.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn set_delivered(&self, destination: &str, last_id: i64) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO delivered (destination, last_id) VALUES (?1, ?2) \
                 ON CONFLICT (destination) DO UPDATE SET last_id = excluded.last_id",
                params![destination, last_id],
            )
            .map(|_| ())
            .map_err(|e| self.fail("recording a delivery", e))
    }

    /// Ties this state to the journal with id `journal_id`: when it was another
    /// journal's (a journal deleted or replaced while this file stayed), every
    /// destination's place is forgotten first, so that none skips the new journal's
    /// alerts.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn bind_journal(&self, journal_id: &str) -> Result<()> {
        let bound: Option<String> = self
            .conn
            .query_row("SELECT value FROM journal WHERE key = 'journal_id'", [], |r| r.get(0))
            .optional()
            .map_err(|e| self.fail("reading the journal id", e))?;
        if bound.as_deref() == Some(journal_id) {
            return Ok(());
        }
        if bound.is_some() {
            self.forget_deliveries()?;
        }
        self.conn
            .execute(
                "INSERT INTO journal (key, value) VALUES ('journal_id', ?1) \
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [journal_id],
            )
            .map(|_| ())
            .map_err(|e| self.fail("recording the journal id", e))
    }

    /// Forgets every destination's place (a new journal: its outbox starts at 1).
    ///
    /// # Errors
    /// SQLite errors.
    pub fn forget_deliveries(&self) -> Result<()> {
        self.conn
            .execute_batch("DELETE FROM delivered; DELETE FROM journal;")
            .map_err(|e| self.fail("forgetting deliveries", e))
    }

    /// The next `getUpdates` offset (0 before the first update).
    ///
    /// # Errors
    /// SQLite errors.
    pub fn update_offset(&self) -> Result<i64> {
        self.conn
            .query_row("SELECT value FROM bot WHERE key = 'update_offset'", [], |r| r.get(0))
            .optional()
            .map(Option::unwrap_or_default)
            .map_err(|e| self.fail("reading the update offset", e))
    }

    /// Records the next `getUpdates` offset (after a command was carried out).
    ///
    /// # Errors
    /// SQLite errors.
    pub fn set_update_offset(&self, offset: i64) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO bot (key, value) VALUES ('update_offset', ?1) \
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [offset],
            )
            .map(|_| ())
            .map_err(|e| self.fail("recording the update offset", e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_destination_starts_after_the_history_and_keeps_its_place_across_opens() {
        let dir = tempfile::tempdir().unwrap();
        let journal = dir.path().join("journal.db");
        let progress = DeliveryProgress::open(&journal).unwrap();
        assert_eq!(progress.register("telegram:1", 40).unwrap(), 40);
        progress.set_delivered("telegram:1", 45).unwrap();
        assert_eq!(progress.register("telegram:1", 99).unwrap(), 45, "registered once");
        progress.set_update_offset(7).unwrap();
        drop(progress);
        let again = DeliveryProgress::open(&journal).unwrap();
        assert_eq!(again.delivered("telegram:1").unwrap(), Some(45));
        assert_eq!(again.delivered("webhook:x").unwrap(), None);
        assert_eq!(again.update_offset().unwrap(), 7);
        assert!(dir.path().join("journal.db-alerts").is_file());
        again.bind_journal("j1").unwrap();
        again.bind_journal("j1").unwrap();
        assert_eq!(again.delivered("telegram:1").unwrap(), Some(45), "the same journal keeps its places");
        again.bind_journal("j2").unwrap();
        assert_eq!(again.delivered("telegram:1").unwrap(), None, "another journal's places are forgotten");
        assert_eq!(again.update_offset().unwrap(), 7, "the bot's offset is the bot's, not the journal's");
    }
}
