//! `rltrade-serve`: the serving daemon and the I/O side of execution.
//!
//! A feed (a replayed CSV or Binance spot klines over REST) delivers closed OHLCV
//! bars; per bar and strategy the strategy runner updates the env's
//! `FeaturePipeline`, evaluates the policy (an exported ONNX model or the MA
//! crossover, both through the env's `Policy` trait), and drives the strategy's
//! `rltrade_exec::Account`: risk check, then the broker. Everything goes into the
//! SQLite journal before it is acted on, so a killed daemon restarts where it
//! stopped. An axum HTTP API exposes health, Prometheus metrics, positions, signals,
//! the live A/B table and the kill switch.
#![deny(missing_docs)]

pub mod ab;
pub mod alerts;
pub mod api;
pub mod backoff;
pub mod bench;
pub mod binance;
pub mod broker;
pub mod config;
pub mod daemon;
pub mod dashboard;
pub mod engine;
pub mod error;
pub mod fault;
pub mod feed;
pub mod halt;
pub mod journal;
pub mod lineup;
pub mod log_text;
pub mod metrics;
pub mod secret;
mod shutdown;
pub mod signal;
pub mod strategy;
/// Strategy names (`rltrade-config`, where `[[serve.strategies]]` is read).
pub use rltrade_config::strategy_name;

pub use config::ServeConfig;
pub use error::{Error, Result};
pub use halt::DaemonHalt;
pub use strategy_name::StrategyName;
