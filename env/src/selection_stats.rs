//! Statistics for judging a configuration selected among many trials, so that a verdict
//! accounts for the search that produced it. So far the normal distribution function
//! and its inverse ([`normal`]).
//!
//! Pure functions; no I/O.

pub mod normal;

pub use normal::{inverse_normal_cdf, normal_cdf};
