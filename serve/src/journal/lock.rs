//! [`JournalLock`]: a daemon's exclusive hold on its journal, for its whole life.
//!
//! SQLite locks the file only during a transaction, so two daemons could open one
//! journal and both trade on it, taking turns. A daemon therefore takes an exclusive
//! advisory lock on `<journal>.lock`, the file beside the journal, before it opens the
//! journal, and holds it until it exits: `flock(2)` on Unix (`LockFileEx` on Windows),
//! through `fs4` (std's `File::try_lock` has the same semantics but needs Rust 1.89,
//! above the workspace's 1.85; `fd-lock` hands out a guard borrowing its lock, awkward
//! to hold for a process's life). The kernel drops the lock when the process ends,
//! however it ends (`kill -9` included), so there is nothing stale to clean up; the file
//! itself stays, holding the last holder's process id. Readers (`rltrade ab-report`,
//! `sqlite3`) do not take the lock and keep working while a daemon runs.
//!
//! Why not SQLite's `PRAGMA locking_mode=EXCLUSIVE`: in WAL mode it shuts every other
//! connection out, readers included, so `rltrade ab-report` and the `GET /ab` habit of
//! reading a live journal from another process would stop working; and it is taken
//! at the first read or write rather than at open, so a second daemon would get as
//! far as its first query before failing with SQLite's "database is locked" instead
//! of an error that names the journal and the daemon holding it.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The held lock of one journal; dropping it (or the process ending) releases it.
#[derive(Debug)]
pub struct JournalLock {
    path: PathBuf,
    // held open: the lock lives as long as this descriptor
    _file: File,
}

impl JournalLock {
    /// The lock file of the journal at `journal`: `journal.db` → `journal.db.lock`.
    pub fn path_for(journal: &Path) -> PathBuf {
        let mut name = journal.as_os_str().to_owned();
        name.push(".lock");
        PathBuf::from(name)
    }

    /// Takes the lock of the journal at `journal` without waiting, and writes this
    /// process's id into the lock file (for the next daemon's error message).
    ///
    /// # Errors
    /// [`Error::JournalInUse`] naming the journal, the lock file and, when it wrote
    /// it, the holder's process id; [`Error::Io`] when the lock file cannot be created or
    /// locked.
    pub fn acquire(journal: &Path) -> Result<Self> {
        let path = Self::path_for(journal);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        match fs4::FileExt::try_lock(&file) {
            Ok(()) => {}
            Err(fs4::TryLockError::WouldBlock) => {
                let mut text = String::new();
                let holder = file.read_to_string(&mut text).ok().and_then(|_| text.trim().parse().ok());
                return Err(Error::JournalInUse { journal: journal.to_path_buf(), lock: path, holder });
            }
            Err(fs4::TryLockError::Error(e)) => return Err(Error::io(&path, e)),
        }
        // best effort: the id only helps the message of a refused second daemon, and a
        // full disk must not keep the daemon from starting
        let pid = format!("{}\n", std::process::id());
        let written =
            file.set_len(0).and_then(|()| file.seek(SeekFrom::Start(0))).and_then(|_| file.write_all(pid.as_bytes()));
        if let Err(e) = written {
            tracing::warn!(lock = %path.display(), "cannot write the process id into the lock file: {e}");
        }
        Ok(Self { path, _file: file })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_holder_at_a_time_and_released_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let journal = dir.path().join("journal.db");
        let first = JournalLock::acquire(&journal).unwrap();
        assert_eq!(first.path(), dir.path().join("journal.db.lock"));
        let err = JournalLock::acquire(&journal).unwrap_err();
        let Error::JournalInUse { holder, lock, .. } = &err else { panic!("{err}") };
        assert_eq!(*holder, Some(std::process::id()));
        assert_eq!(lock, first.path());
        let text = err.to_string();
        assert!(text.contains("journal.db") && text.contains("in use by another rltrade daemon"), "{text}");
        drop(first);
        JournalLock::acquire(&journal).unwrap();
    }
}
