//! One module per subcommand; each has a `run` returning the exit code.

pub mod ab_report;
pub mod backtest;
pub mod bench_api;
pub mod bench_env;
pub mod bench_fleet;
pub mod bench_ppo;
pub mod bench_serve;
pub mod bench_soak;
pub mod compare;
pub mod config_show;
pub mod dashboard;
pub mod data_check;
pub mod data_fetch;
pub mod export;
pub mod serve;
pub mod sweep;
pub mod train;
pub mod trials;
pub mod walkforward;
