//! `rltrade-policy`: the exported policy, `policy.onnx` plus `model_card.json`, loaded
//! and validated through ONNX Runtime (`ort`). Depends on `rltrade-env` and `ort`,
//! never on burn; the CLI, the agent's export and the serving daemon use it.
//!
//! [`OnnxModel::load`] finds the export ([`model_dir`]), reads its [`ModelCard`], checks
//! the file's SHA-256 and the graph's shapes; [`ModelCard::market_data`] and
//! [`ModelCard::check_layout`] check it against the data and settings it is used with;
//! [`OnnxPolicy`] runs it as an env [`rltrade_env::Policy`].
#![deny(missing_docs)]

pub mod error;
pub mod model_card;
pub mod model_dir;
pub mod onnx_model;
pub mod onnx_policy;
pub mod runtime;

pub use error::{Error, Result, SettingsSource};
pub use model_card::ModelCard;
pub use onnx_model::OnnxModel;
pub use onnx_policy::OnnxPolicy;
