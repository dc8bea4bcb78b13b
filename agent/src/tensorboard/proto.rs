//! The protobuf messages of TensorBoard's event files that rltrade writes, declared for
//! prost (the maintained protobuf crate already in the tree through tract-onnx).
//!
//! Each message keeps only the fields rltrade writes, with the field numbers and types
//! of TensorBoard's own definitions, so TensorBoard's reader decodes them:
//! `tensorboard/compat/proto/event.proto`, `summary.proto`, `tensor.proto`,
//! `tensor_shape.proto`, `types.proto`, `plugins/hparams/plugin_data.proto`,
//! `plugins/hparams/api.proto` and `google/protobuf/struct.proto` (TensorBoard 2.20).
//! Fields left out are skipped by every protobuf reader as unknown-free defaults.

use std::collections::BTreeMap;

/// `tensorboard.Event`: one record of an event file.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Event {
    /// Seconds since the Unix epoch.
    #[prost(double, tag = "1")]
    pub wall_time: f64,
    /// The x axis of TensorBoard's charts (here: the global env step).
    #[prost(int64, tag = "2")]
    pub step: i64,
    /// What the event carries.
    #[prost(oneof = "EventKind", tags = "3, 5, 7")]
    pub what: Option<EventKind>,
}

/// `Event.what`.
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum EventKind {
    /// `file_version`, `"brain.Event:2"` in the first event of a file.
    #[prost(string, tag = "3")]
    FileVersion(String),
    /// Summary values.
    #[prost(message, tag = "5")]
    Summary(Summary),
    /// A session log (START marks a restart: later steps of earlier files are purged).
    #[prost(message, tag = "7")]
    SessionLog(SessionLog),
}

/// `tensorboard.SessionLog`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SessionLog {
    /// A [`SessionStatus`].
    #[prost(enumeration = "SessionStatus", tag = "1")]
    pub status: i32,
}

/// `tensorboard.SessionLog.SessionStatus`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum SessionStatus {
    /// `STATUS_UNSPECIFIED`.
    Unspecified = 0,
    /// `START`.
    Start = 1,
    /// `STOP`.
    Stop = 2,
    /// `CHECKPOINT`.
    Checkpoint = 3,
}

/// `tensorboard.Summary`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Summary {
    /// The values.
    #[prost(message, repeated, tag = "1")]
    pub value: Vec<SummaryValue>,
}

/// `tensorboard.Summary.Value`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SummaryValue {
    /// The tag (`losses/value_loss`, `config`, `_hparams_/session_start_info`).
    #[prost(string, tag = "1")]
    pub tag: String,
    /// Which plugin reads the value.
    #[prost(message, optional, tag = "9")]
    pub metadata: Option<SummaryMetadata>,
    /// The value.
    #[prost(oneof = "SummaryValueKind", tags = "2, 8")]
    pub value: Option<SummaryValueKind>,
}

/// `Summary.Value.value`.
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum SummaryValueKind {
    /// A scalar (TensorBoard's scalars are float32).
    #[prost(float, tag = "2")]
    SimpleValue(f32),
    /// A tensor (text, and the hparams plugin's empty tensor).
    #[prost(message, tag = "8")]
    Tensor(TensorProto),
}

/// `tensorboard.SummaryMetadata`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SummaryMetadata {
    /// The plugin and its data.
    #[prost(message, optional, tag = "1")]
    pub plugin_data: Option<PluginData>,
    /// Display name.
    #[prost(string, tag = "2")]
    pub display_name: String,
    /// Description (markdown).
    #[prost(string, tag = "3")]
    pub summary_description: String,
}

/// `tensorboard.SummaryMetadata.PluginData`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PluginData {
    /// `"text"` or `"hparams"`.
    #[prost(string, tag = "1")]
    pub plugin_name: String,
    /// The plugin's own serialized message.
    #[prost(bytes = "vec", tag = "2")]
    pub content: Vec<u8>,
}

/// `tensorboard.DataType` values used here.
pub mod dtype {
    /// `DT_FLOAT`.
    pub const FLOAT: i32 = 1;
    /// `DT_STRING`.
    pub const STRING: i32 = 7;
}

/// `tensorboard.TensorProto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TensorProto {
    /// A [`dtype`] value.
    #[prost(int32, tag = "1")]
    pub dtype: i32,
    /// The shape (no dims: a scalar).
    #[prost(message, optional, tag = "2")]
    pub tensor_shape: Option<TensorShapeProto>,
    /// `DT_FLOAT` values.
    #[prost(float, repeated, tag = "5")]
    pub float_val: Vec<f32>,
    /// `DT_STRING` values (UTF-8 here).
    #[prost(bytes = "vec", repeated, tag = "8")]
    pub string_val: Vec<Vec<u8>>,
}

/// `tensorboard.TensorShapeProto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TensorShapeProto {
    /// The dimensions, outermost first.
    #[prost(message, repeated, tag = "2")]
    pub dim: Vec<TensorShapeDim>,
}

/// `tensorboard.TensorShapeProto.Dim`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TensorShapeDim {
    /// The size.
    #[prost(int64, tag = "1")]
    pub size: i64,
}

/// `tensorboard.hparams.HParamsPluginData`: the content of an hparams summary.
#[derive(Clone, PartialEq, prost::Message)]
pub struct HParamsPluginData {
    /// Always 0 (the plugin's `PLUGIN_DATA_VERSION`).
    #[prost(int32, tag = "1")]
    pub version: i32,
    /// What it carries.
    #[prost(oneof = "HParamsData", tags = "2, 3, 4")]
    pub data: Option<HParamsData>,
}

/// `HParamsPluginData.data`.
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum HParamsData {
    /// The columns of the table (tag `_hparams_/experiment`).
    #[prost(message, tag = "2")]
    Experiment(Experiment),
    /// A session's hyperparameters (tag `_hparams_/session_start_info`).
    #[prost(message, tag = "3")]
    SessionStartInfo(SessionStartInfo),
    /// A session's end (tag `_hparams_/session_end_info`).
    #[prost(message, tag = "4")]
    SessionEndInfo(SessionEndInfo),
}

/// `tensorboard.hparams.Experiment`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Experiment {
    /// Seconds since the Unix epoch.
    #[prost(double, tag = "3")]
    pub time_created_secs: f64,
    /// The hyperparameter columns.
    #[prost(message, repeated, tag = "4")]
    pub hparam_infos: Vec<HParamInfo>,
    /// The metric columns.
    #[prost(message, repeated, tag = "5")]
    pub metric_infos: Vec<MetricInfo>,
}

/// `tensorboard.hparams.DataType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum HParamType {
    /// `DATA_TYPE_UNSET`.
    Unset = 0,
    /// `DATA_TYPE_STRING`.
    String = 1,
    /// `DATA_TYPE_BOOL`.
    Bool = 2,
    /// `DATA_TYPE_FLOAT64`.
    Float64 = 3,
}

/// `tensorboard.hparams.HParamInfo`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct HParamInfo {
    /// The key (`ppo.learning_rate`).
    #[prost(string, tag = "1")]
    pub name: String,
    /// A [`HParamType`].
    #[prost(enumeration = "HParamType", tag = "4")]
    pub r#type: i32,
}

/// `tensorboard.hparams.DatasetType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum DatasetType {
    /// `DATASET_UNKNOWN`.
    Unknown = 0,
    /// `DATASET_TRAINING`.
    Training = 1,
    /// `DATASET_VALIDATION`.
    Validation = 2,
}

/// `tensorboard.hparams.MetricInfo`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct MetricInfo {
    /// The scalar tag that holds the metric.
    #[prost(message, optional, tag = "1")]
    pub name: Option<MetricName>,
    /// A [`DatasetType`].
    #[prost(enumeration = "DatasetType", tag = "5")]
    pub dataset_type: i32,
}

/// `tensorboard.hparams.MetricName`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct MetricName {
    /// The run subfolder holding the tag ("" for the session's own folder).
    #[prost(string, tag = "1")]
    pub group: String,
    /// The scalar tag.
    #[prost(string, tag = "2")]
    pub tag: String,
}

/// `tensorboard.hparams.SessionStartInfo`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SessionStartInfo {
    /// Hyperparameter values by name.
    #[prost(btree_map = "string, message", tag = "1")]
    pub hparams: BTreeMap<String, ProtoValue>,
    /// Sessions of one group are repetitions of one configuration (differing by seed).
    #[prost(string, tag = "4")]
    pub group_name: String,
    /// Seconds since the Unix epoch.
    #[prost(double, tag = "5")]
    pub start_time_secs: f64,
}

/// `tensorboard.hparams.Status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum SessionEndStatus {
    /// `STATUS_UNKNOWN`.
    Unknown = 0,
    /// `STATUS_SUCCESS`.
    Success = 1,
    /// `STATUS_FAILURE`.
    Failure = 2,
    /// `STATUS_RUNNING`.
    Running = 3,
}

/// `tensorboard.hparams.SessionEndInfo`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SessionEndInfo {
    /// A [`SessionEndStatus`].
    #[prost(enumeration = "SessionEndStatus", tag = "1")]
    pub status: i32,
    /// Seconds since the Unix epoch.
    #[prost(double, tag = "2")]
    pub end_time_secs: f64,
}

/// `google.protobuf.Value`, the kinds a hyperparameter can have.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ProtoValue {
    /// The value.
    #[prost(oneof = "ProtoValueKind", tags = "2, 3, 4")]
    pub kind: Option<ProtoValueKind>,
}

/// `google.protobuf.Value.kind`.
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum ProtoValueKind {
    /// `number_value`.
    #[prost(double, tag = "2")]
    Number(f64),
    /// `string_value`.
    #[prost(string, tag = "3")]
    String(String),
    /// `bool_value`.
    #[prost(bool, tag = "4")]
    Bool(bool),
}
