//! `rltrade-eval`: out-of-sample evaluation without burn, shared by the CLI, the
//! training crate and the Python package.
//!
//! - [`backtest`]: one backtest of a baseline or an exported model, as
//!   `rltrade backtest` runs it.
//! - [`compare`]: exported RL policies against baselines on one window, with
//!   bootstrap intervals, paired differences, verdicts deflated for the trials of a
//!   trial ledger, fee sensitivity, a plot, `equity.csv` and `report.md`;
//!   [`compare::study`] runs one from models, data and a config, as `rltrade compare`
//!   does.
//! - [`ledger`]: the trial ledger `trials.jsonl`, per-bar returns files, the number of
//!   trials and their Sharpe variance for the DSR, and the PBO.
//! - [`output`]: atomic file writes.
//! - [`run_metrics`]: a training run's `metrics.jsonl`, read back.

#![deny(missing_docs)]

pub mod backtest;
pub mod compare;
pub mod error;
pub mod ledger;
pub mod output;
pub mod run_metrics;

pub use error::{Error, Result};
