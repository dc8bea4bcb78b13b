//! `rltrade-env`: market data, causal features, the gym-like trading environment,
//! the baselines and the backtest.
//!
//! The flow: [`data::load_csv`] validates bars into a [`BarSeries`];
//! [`MarketData`] computes the [`features::FeaturePipeline`] features over it, splits it
//! by time and normalizes with train-split statistics; [`TradingEnv`] and [`VecEnv`]
//! replay it with gymnasium semantics, filling through `rltrade-exec`; any [`Policy`]
//! (the [`baselines`], the PPO and ONNX policies) runs through
//! [`backtest::run_backtest`] over one [`backtest::EvaluationWindow`], a loop over the
//! same [`Trader`] the serving daemon drives bar by bar. Data, environment, execution
//! and risk settings travel together as one [`TradingSetup`]. A configuration chosen
//! among many trials is judged by [`selection_stats`]: its Deflated Sharpe Ratio and the
//! Probability of Backtest Overfitting of the choice.
#![deny(missing_docs)]

pub mod backtest;
pub mod bar;
pub mod baselines;
pub mod config;
pub mod data;
pub mod decision;
pub mod error;
pub mod features;
pub mod indicators;
pub mod market;
pub mod metrics;
pub mod observation;
pub mod output_file;
pub mod policy;
pub mod quality;
pub mod reward;
pub mod selection_stats;
pub mod setup;
pub mod split;
mod step_pool;
pub mod trader;
pub mod trading_env;
pub mod vec_env;

pub use bar::{Bar, BarSeries};
pub use config::{EnvConfig, RewardConfig, RewardKind, SplitConfig};
pub use decision::DecisionSchedule;
pub use error::{Error, Result, RowProblem};
pub use market::MarketData;
pub use observation::ObservationBuilder;
pub use policy::{DecisionContext, Policy, Warmup};
pub use setup::TradingSetup;
pub use split::{SplitName, Splits};
pub use trader::{Action, BarOutcome, PreparedBar, Trader, TraderSettings};
pub use trading_env::{POSITION_FEATURES, StepInfo, TradingEnv, TradingEnvState, position_features};
pub use vec_env::{VecEnv, VecEnvState, VecStepBuffers};
