//! TensorBoard event files under a run's `tb/`, readable by TensorBoard's own reader
//! (`scripts/check_tensorboard.py` proves it): the scalars of every update, the
//! resolved configuration as text, and the hyperparameters with the final validation
//! metrics through the HParams plugin, so runs compare in TensorBoard's own table.
//!
//! The records are TFRecords ([`record`]) holding `Event` protobufs declared for prost
//! ([`proto`]).
//!
//! One writer writes one new file. A resumed run opens another in the same folder,
//! named to sort after the earlier ones (TensorBoard reads a folder's files in name
//! order and merges them), and starts it with a `SessionLog` START event at the first
//! step it will write: TensorBoard then drops the events at or after that step from
//! the earlier files, which are those of updates after the checkpoint the run resumed
//! from (`EventAccumulator._CheckForRestartAndMaybePurge`).

pub mod hparams;
pub mod proto;
pub mod record;

use std::fs::{self, File};
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use prost::Message;

pub use hparams::{HParam, HParams, hparams_from_config};
use proto::{
    DatasetType, Event, EventKind, Experiment, HParamInfo, HParamsData, HParamsPluginData, MetricInfo, MetricName,
    PluginData, SessionEndInfo, SessionEndStatus, SessionLog, SessionStartInfo, SessionStatus, Summary,
    SummaryMetadata, SummaryValue, SummaryValueKind, TensorProto, TensorShapeDim, TensorShapeProto, dtype,
};
use record::RecordWriter;

use crate::error::{Error, Result};

/// The prefix TensorBoard looks for (`tfevents` in the name).
const PREFIX: &str = "events.out.tfevents.";

/// The HParams plugin's tags (`tensorboard/plugins/hparams/metadata.py`).
pub const EXPERIMENT_TAG: &str = "_hparams_/experiment";
/// See [`EXPERIMENT_TAG`].
pub const SESSION_START_INFO_TAG: &str = "_hparams_/session_start_info";
/// See [`EXPERIMENT_TAG`].
pub const SESSION_END_INFO_TAG: &str = "_hparams_/session_end_info";

/// A metric column of TensorBoard's HParams table: the last value of a scalar tag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HParamsMetric {
    /// The scalar tag (`validation/sharpe`).
    pub tag: &'static str,
    /// Whether it is measured on validation data (else on training).
    pub validation: bool,
}

/// How a run ended, for the HParams table's status column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionOutcome {
    /// Trained to the end.
    Success,
    /// Stopped by an error.
    Failure,
}

/// Appends events to one new event file.
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
        writer.write(0, EventKind::FileVersion("brain.Event:2".into()))?;
        if let Some(step) = restart_step {
            writer.write(step, EventKind::SessionLog(SessionLog { status: SessionStatus::Start.into() }))?;
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
        let value =
            SummaryValue { tag: tag.into(), metadata: None, value: Some(SummaryValueKind::SimpleValue(value as f32)) };
        self.summary(value, step)
    }

    /// Writes `markdown` as text under `tag` at `step`, for TensorBoard's Text tab (a
    /// scalar `DT_STRING` tensor with the `text` plugin's metadata, as
    /// `tensorboard.plugins.text.summary` writes it).
    ///
    /// # Errors
    /// [`Error::Io`].
    pub fn text(&mut self, tag: &str, markdown: &str, step: u64) -> Result<()> {
        let tensor = TensorProto {
            dtype: dtype::STRING,
            tensor_shape: Some(TensorShapeProto { dim: Vec::new() }),
            float_val: Vec::new(),
            string_val: vec![markdown.as_bytes().to_vec()],
        };
        let value = SummaryValue {
            tag: tag.into(),
            metadata: Some(plugin_metadata("text", Vec::new())),
            value: Some(SummaryValueKind::Tensor(tensor)),
        };
        self.summary(value, step)
    }

    /// Writes the HParams plugin's experiment (one column per hyperparameter of
    /// `hparams` and per metric of `metrics`) and this run's session start: its
    /// hyperparameters, and `group` (runs of one group differ only by seed).
    ///
    /// # Errors
    /// [`Error::Io`].
    pub fn hparams_start(&mut self, hparams: &HParams, metrics: &[HParamsMetric], group: &str) -> Result<()> {
        let now = wall_time();
        let experiment = Experiment {
            time_created_secs: now,
            hparam_infos: hparams
                .iter()
                .map(|(name, value)| HParamInfo { name: name.clone(), r#type: value.data_type().into() })
                .collect(),
            metric_infos: metrics
                .iter()
                .map(|m| MetricInfo {
                    name: Some(MetricName { group: String::new(), tag: m.tag.into() }),
                    dataset_type: if m.validation { DatasetType::Validation } else { DatasetType::Training }.into(),
                })
                .collect(),
        };
        self.hparams_summary(EXPERIMENT_TAG, HParamsData::Experiment(experiment))?;
        let start = SessionStartInfo {
            hparams: hparams.iter().map(|(k, v)| (k.clone(), v.to_proto())).collect(),
            group_name: group.into(),
            start_time_secs: now,
        };
        self.hparams_summary(SESSION_START_INFO_TAG, HParamsData::SessionStartInfo(start))
    }

    /// Writes the HParams plugin's session end with `outcome`.
    ///
    /// # Errors
    /// [`Error::Io`].
    pub fn hparams_end(&mut self, outcome: SessionOutcome) -> Result<()> {
        let status = match outcome {
            SessionOutcome::Success => SessionEndStatus::Success,
            SessionOutcome::Failure => SessionEndStatus::Failure,
        };
        let end = SessionEndInfo { status: status.into(), end_time_secs: wall_time() };
        self.hparams_summary(SESSION_END_INFO_TAG, HParamsData::SessionEndInfo(end))
    }

    /// Writes buffered events to the file.
    ///
    /// # Errors
    /// [`Error::Io`].
    pub fn flush(&mut self) -> Result<()> {
        let path = &self.path;
        self.records.flush().map_err(|e| io(path, e))
    }

    /// One hparams summary: the plugin data in the metadata, and the plugin's empty
    /// float tensor of shape `[0]` as the value (`metadata.NULL_TENSOR`).
    fn hparams_summary(&mut self, tag: &str, data: HParamsData) -> Result<()> {
        let content = HParamsPluginData { version: 0, data: Some(data) }.encode_to_vec();
        let null_tensor = TensorProto {
            dtype: dtype::FLOAT,
            tensor_shape: Some(TensorShapeProto { dim: vec![TensorShapeDim { size: 0 }] }),
            float_val: Vec::new(),
            string_val: Vec::new(),
        };
        let value = SummaryValue {
            tag: tag.into(),
            metadata: Some(plugin_metadata("hparams", content)),
            value: Some(SummaryValueKind::Tensor(null_tensor)),
        };
        self.summary(value, 0)
    }

    fn summary(&mut self, value: SummaryValue, step: u64) -> Result<()> {
        self.write(step, EventKind::Summary(Summary { value: vec![value] }))
    }

    fn write(&mut self, step: u64, what: EventKind) -> Result<()> {
        let event = Event { wall_time: wall_time(), step: to_i64(step), what: Some(what) };
        let path = &self.path;
        self.records.write(&event.encode_to_vec()).map_err(|e| io(path, e))
    }
}

fn plugin_metadata(plugin_name: &str, content: Vec<u8>) -> SummaryMetadata {
    SummaryMetadata {
        plugin_data: Some(PluginData { plugin_name: plugin_name.into(), content }),
        display_name: String::new(),
        summary_description: String::new(),
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

    fn events(path: &Path) -> Vec<Event> {
        let bytes = fs::read(path).unwrap();
        record::read_records(&bytes).unwrap().into_iter().map(|r| Event::decode(r).unwrap()).collect()
    }

    #[test]
    fn files_sort_in_write_order_and_a_restart_marks_its_step() {
        let tmp = tempfile::tempdir().unwrap();
        let mut first = EventWriter::create(tmp.path(), None).unwrap();
        first.scalar("losses/value_loss", 0.5, 128).unwrap();
        first.flush().unwrap();
        let second = EventWriter::create(tmp.path(), Some(129)).unwrap();
        assert!(first.path() < second.path(), "{:?} sorts before {:?}", first.path(), second.path());

        let read = events(first.path());
        assert_eq!(read[0].what, Some(EventKind::FileVersion("brain.Event:2".into())));
        let Some(EventKind::Summary(summary)) = &read[1].what else { panic!("{:?}", read[1]) };
        let value = &summary.value[0];
        assert_eq!((read[1].step, value.tag.as_str()), (128, "losses/value_loss"));
        assert_eq!(value.value, Some(SummaryValueKind::SimpleValue(0.5)));
        let read = events(second.path());
        assert_eq!(read[1].what, Some(EventKind::SessionLog(SessionLog { status: SessionStatus::Start.into() })));
        assert_eq!(read[1].step, 129);
    }
}
