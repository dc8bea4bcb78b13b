//! `rltrade-exec`: the execution and risk core shared by simulation and live trading.
#![deny(missing_docs)]

pub mod error;

pub use error::{Error, Result};
