//! Errors of loading and running an exported policy. Every variant names the file or
//! the field at fault and, where there is one, how to fix it.

use std::path::PathBuf;

/// An error of the policy crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The data file a model was trained on is in none of the places its card names
    /// ([`crate::model_card::DataInfo::locate`]).
    #[error(
        "the model's data file (sha256 {sha256}) was not found; tried: {}; pass --data FILE",
        tried.join("; ")
    )]
    DataNotFound {
        /// The SHA-256 the card records.
        sha256: String,
        /// Each place tried and why it did not do.
        tried: Vec<String>,
    },
    /// A folder is neither an export (`model_card.json`) nor a run (`export/model_card.json`).
    #[error("{0}: not a model folder: it holds neither model_card.json (an export) nor export/model_card.json (a run)")]
    NotAModel(PathBuf),
    /// `model_card.json` is malformed or inconsistent.
    #[error("{path}: {message}")]
    Card {
        /// The card file.
        path: PathBuf,
        /// What is wrong, naming the field.
        message: String,
    },
    /// The model does not fit the data or settings it is used with.
    #[error(
        "model {model} does not fit the data: {field}: the model was trained with {expected}, the data has {found}"
    )]
    Mismatch {
        /// The model folder or name.
        model: String,
        /// The field that differs (`symbol`, `interval`, `features`, `obs_dim`, `actions`, ...).
        field: String,
        /// The model's value.
        expected: String,
        /// The data's value.
        found: String,
    },
    /// A setting the model card carries (its protective orders) differs from the
    /// settings it is run with.
    #[error("model {model}: {field}: the model card says {card} but {against} says {found}")]
    SettingMismatch {
        /// The model's name.
        model: String,
        /// The setting, by its TOML path (`protect.stop_loss`, ...).
        field: String,
        /// The card's value.
        card: String,
        /// What the card was compared with.
        against: SettingsSource,
        /// Its value.
        found: String,
    },
    /// The ONNX Runtime shared library could not be found or loaded.
    #[error("ONNX Runtime: {0}")]
    Runtime(String),
    /// The ONNX file could not be loaded, has the wrong inputs or outputs, or failed to run.
    #[error("{path}: {message}")]
    Onnx {
        /// The ONNX file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// The environment crate refused something (data, features, splits).
    #[error(transparent)]
    Env(#[from] rltrade_env::Error),
}

/// What a model card's settings are compared with ([`Error::SettingMismatch`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SettingsSource {
    /// The daemon's settings (`rltrade serve`'s config file and flags).
    ServeConfig,
    /// Another model's card, by the model's name (the models of one comparison must
    /// carry the same settings).
    ModelCard(String),
}

impl std::fmt::Display for SettingsSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::ServeConfig => f.write_str("the serve config"),
            Self::ModelCard(name) => write!(f, "model {name}'s card"),
        }
    }
}

/// The policy crate's result.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// An [`Error::Io`] for `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io { path: path.into(), source }
    }
}
