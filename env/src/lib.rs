//! `rltrade-env`: market data, causal features, the gym-like trading environment,
//! the baselines and the backtest.
#![deny(missing_docs)]

pub mod bar;
pub mod data;
pub mod error;
pub mod features;
pub mod indicators;
pub mod quality;

pub use bar::{Bar, BarSeries};
pub use error::{Error, Result, RowProblem};
