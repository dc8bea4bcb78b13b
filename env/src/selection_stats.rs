//! Statistics for judging a configuration selected among many trials, so that a verdict
//! accounts for the search that produced it: the Probabilistic and Deflated Sharpe Ratios
//! of the selected configuration's returns ([`sharpe`]), and the Probability of Backtest
//! Overfitting of the selection procedure ([`pbo`]), with the normal distribution
//! function and its inverse they need ([`normal`]).
//!
//! Pure functions of per-bar simple returns (fractions, one per bar, not annualized); no
//! I/O. Undefined statistics (zero variance, too few returns) are `None`, invalid inputs
//! typed errors; nothing here panics on data.

pub mod normal;
pub mod pbo;
pub mod sharpe;

pub use normal::{inverse_normal_cdf, normal_cdf};
pub use pbo::{DEFAULT_PARTITIONS, Pbo, PboError, probability_of_backtest_overfitting};
pub use sharpe::{
    DeflatedSharpe, SharpeError, deflated_sharpe_ratio, expected_max_sharpe, kurtosis, probabilistic_sharpe_ratio,
    sharpe_per_bar, skewness, trials_sharpe_variance,
};
