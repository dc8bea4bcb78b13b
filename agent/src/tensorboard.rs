//! TensorBoard event files: scalars under a run's `tb/`, readable by TensorBoard's own
//! reader (`scripts/check_tensorboard.py` proves it).
//!
//! The records are TFRecords (length, masked CRC32C of the length, the serialized
//! `Event` protobuf, masked CRC32C of the data) written with tensorboard-rs's
//! `RecordWriter`, and the events are tensorboard-rs's protobuf types. Its
//! `SummaryWriter` is not used: it panics on I/O errors, names files by the second and
//! the process id (two writers in one second of one process write the same file), and
//! flushes on a background thread, so a checkpoint could not be known to follow its
//! events on disk.
//!
//! One writer writes one new file. A resumed run opens another in the same folder,
//! named to sort after the earlier ones (TensorBoard reads a folder's files in name
//! order and merges them), and starts it with a `SessionLog` START event at the first
//! step it will write: TensorBoard then drops the events at or after that step from
//! the earlier files, which are those of updates after the checkpoint the run resumed
//! from (`EventAccumulator._CheckForRestartAndMaybePurge`).

use std::fs::{self, File};
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use protobuf::Message;
use tensorboard_proto::event::{Event, SessionLog, SessionLog_SessionStatus};
use tensorboard_rs::record_writer::RecordWriter;

use crate::error::{Error, Result};

/// The prefix TensorBoard looks for (`tfevents` in the name).
const PREFIX: &str = "events.out.tfevents.";

/// Appends scalar events to one new event file.
pub struct EventWriter {
    path: PathBuf,
    records: RecordWriter<BufWriter<File>>,
}

impl std::fmt::Debug for EventWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventWriter").field("path", &self.path).finish()
    }
}

impl EventWriter {
    /// Creates `dir` if needed and a new event file in it, named
    /// `events.out.tfevents.<seconds>.rltrade.<n>` with `<seconds>` the current Unix
    /// time or, if an earlier file of `dir` has a later one, one past it (so files sort
    /// in the order they were written) and `<n>` the number of earlier event files.
    /// The file starts with the `brain.Event:2` version event; with `restart_step`, a
    /// `SessionLog` START event at that step follows (see the module docs).
    ///
    /// # Errors
    /// [`Error::Io`] naming the folder or file.
    pub fn create(dir: &Path, restart_step: Option<u64>) -> Result<Self> {
        fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
        let (mut latest, mut count) = (0u64, 0usize);
        for entry in fs::read_dir(dir).map_err(|e| io(dir, e))? {
            let name = entry.map_err(|e| io(dir, e))?.file_name().to_string_lossy().into_owned();
            if let Some(rest) = name.strip_prefix(PREFIX) {
                count += 1;
                let seconds = rest.split('.').next().and_then(|s| s.parse::<u64>().ok()).unwrap_or(0);
                latest = latest.max(seconds);
            }
        }
        let now = wall_time() as u64;
        let seconds = if count > 0 { now.max(latest + 1) } else { now };
        let path = dir.join(format!("{PREFIX}{seconds:010}.rltrade.{count}"));
        let file = File::create_new(&path).map_err(|e| io(&path, e))?;
        let mut writer = Self { path, records: RecordWriter::new(BufWriter::new(file)) };
        let mut version = Event::new();
        version.set_wall_time(wall_time());
        version.set_file_version("brain.Event:2".into());
        writer.write(&version)?;
        if let Some(step) = restart_step {
            let mut log = SessionLog::new();
            log.set_status(SessionLog_SessionStatus::START);
            let mut start = Event::new();
            start.set_wall_time(wall_time());
            start.set_step(to_i64(step));
            start.set_session_log(log);
            writer.write(&start)?;
        }
        writer.flush()?;
        Ok(writer)
    }

    /// The event file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes scalar `value` under `tag` at `step` (TensorBoard's x axis; stored as f32,
    /// TensorBoard's scalar type).
    ///
    /// # Errors
    /// [`Error::Io`].
    pub fn scalar(&mut self, tag: &str, value: f64, step: u64) -> Result<()> {
        let mut event = Event::new();
        event.set_wall_time(wall_time());
        event.set_step(to_i64(step));
        event.set_summary(tensorboard_rs::summary::scalar(tag, value as f32));
        self.write(&event)
    }

    /// Writes buffered events to the file.
    ///
    /// # Errors
    /// [`Error::Io`].
    pub fn flush(&mut self) -> Result<()> {
        let path = &self.path;
        self.records.flush().map_err(|e| io(path, e))
    }

    fn write(&mut self, event: &Event) -> Result<()> {
        let bytes = event.write_to_bytes().map_err(|e| {
            io(&self.path, std::io::Error::new(std::io::ErrorKind::InvalidData, format!("cannot encode an event: {e}")))
        })?;
        let path = &self.path;
        self.records.write(&bytes).map_err(|e| io(path, e))
    }
}

/// Seconds since the Unix epoch (0 if the clock is before it).
fn wall_time() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

/// Steps beyond `i64::MAX` (never reached) saturate.
fn to_i64(step: u64) -> i64 {
    i64::try_from(step).unwrap_or(i64::MAX)
}

fn io(path: &Path, source: std::io::Error) -> Error {
    Error::Io { path: path.to_path_buf(), source }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Splits a TFRecord file into its records, checking lengths (not CRCs).
    fn records(path: &Path) -> Vec<Vec<u8>> {
        let bytes = fs::read(path).unwrap();
        let mut out = Vec::new();
        let mut at = 0;
        while at < bytes.len() {
            let len = u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap()) as usize;
            out.push(bytes[at + 12..at + 12 + len].to_vec());
            at += 12 + len + 4;
        }
        out
    }

    #[test]
    fn files_sort_in_write_order_and_a_restart_marks_its_step() {
        let tmp = tempfile::tempdir().unwrap();
        let mut first = EventWriter::create(tmp.path(), None).unwrap();
        first.scalar("losses/value_loss", 0.5, 128).unwrap();
        first.flush().unwrap();
        let second = EventWriter::create(tmp.path(), Some(129)).unwrap();
        assert!(first.path() < second.path(), "{:?} sorts before {:?}", first.path(), second.path());

        let events: Vec<Event> = records(first.path()).iter().map(|r| Event::parse_from_bytes(r).unwrap()).collect();
        assert_eq!(events[0].get_file_version(), "brain.Event:2");
        let value = &events[1].get_summary().get_value()[0];
        assert_eq!((events[1].get_step(), value.get_tag(), value.get_simple_value()), (128, "losses/value_loss", 0.5));
        let events: Vec<Event> = records(second.path()).iter().map(|r| Event::parse_from_bytes(r).unwrap()).collect();
        assert_eq!(events[1].get_session_log().get_status(), SessionLog_SessionStatus::START);
        assert_eq!(events[1].get_step(), 129);
    }
}
