//! Typed value parsers of the command-line flags: every number a flag takes is checked
//! here, before anything runs, so that an out-of-range value is clap's usage error
//! naming the flag (`error: invalid value 'inf' for '--duration-s <SECONDS>': ...`,
//! exit 2) instead of a panic or a silent overflow later on.
//!
//! Floats must be finite and within the range each parser documents; integers use
//! clap's ranged parsers with the bounds below (at least 1 where 0 means nothing, and an
//! upper bound wherever a `Duration`, an allocation or a thread count is built from the
//! value). A flag that overrides a config key uses the same bounds as the key's
//! validation, so the flag and the TOML key accept the same values.

use std::ops::RangeInclusive;

use clap::builder::{RangedU64ValueParser, TypedValueParser};
use rltrade_exec::{MAX_COST_BPS, MAX_INITIAL_CASH};

/// Longest `bench env --duration-s` per case, seconds (one hour).
pub const MAX_BENCH_SECONDS: f64 = 3_600.0;
/// Most ONNX inference calls `bench serve --calls` measures.
pub const MAX_BENCH_CALLS: u64 = 100_000_000;
/// Most PPO updates `bench ppo --updates` runs per case.
pub const MAX_BENCH_UPDATES: u64 = 10_000;
/// Most threads a flag may ask for (`--update-threads`, `--jobs`): the config's bound.
pub const MAX_THREADS: u64 = rltrade_config::ppo::MAX_THREADS as u64;
/// Most bootstrap resamples (`--resamples`): the comparison's bound.
pub const MAX_RESAMPLES: u64 = rltrade_eval::compare::bootstrap::MAX_RESAMPLES as u64;
/// Largest mean block length of the bootstrap (`--block-len`), bars: the comparison's bound.
pub const MAX_BLOCK_LEN: f64 = rltrade_eval::compare::bootstrap::MAX_BLOCK_LEN;
/// Most walk-forward folds (`--folds`); the data usually allows far fewer, which the
/// fold planner then says.
pub const MAX_FOLDS: u64 = 10_000;
/// Longest wait between two exchange requests (`data fetch --min-gap-ms`), ms (one minute).
pub const MAX_MIN_GAP_MS: u64 = 60_000;
/// Longest per-request timeout (`data fetch --timeout-s`), s (one hour).
pub const MAX_TIMEOUT_S: u64 = 3_600;

/// A ranged parser of `usize` flags (clap's own message: `0 is not in 1..=256`).
pub fn usize_in(range: RangeInclusive<u64>) -> impl TypedValueParser<Value = usize> {
    RangedU64ValueParser::<usize>::new().range(range)
}

/// A ranged parser of `u64` flags (clap's own message: `0 is not in 1..=10000`).
pub fn u64_in(range: RangeInclusive<u64>) -> impl TypedValueParser<Value = u64> {
    RangedU64ValueParser::<u64>::new().range(range)
}

/// Parses a float and checks it with `ok`; `what` says what is allowed.
fn float(text: &str, ok: impl Fn(f64) -> bool, what: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(x) if x.is_finite() && ok(x) => Ok(x),
        Ok(_) => Err(format!("out of range: expected {what}")),
        Err(_) => Err(format!("not a number: expected {what}")),
    }
}

/// A duration in seconds: finite, in (0, [`MAX_BENCH_SECONDS`]].
///
/// # Errors
/// Not a number, not finite, ≤ 0 or above the bound.
pub fn seconds(text: &str) -> Result<f64, String> {
    float(text, |x| x > 0.0 && x <= MAX_BENCH_SECONDS, &format!("seconds in (0, {MAX_BENCH_SECONDS}]"))
}

/// A cost in basis points (fee, slippage): finite, in [0, [`MAX_COST_BPS`]), the range
/// of `execution.fee_bps` and `execution.slippage_bps`.
///
/// # Errors
/// Not a number, not finite, negative or too large.
pub fn bps(text: &str) -> Result<f64, String> {
    float(text, |x| (0.0..MAX_COST_BPS).contains(&x), &format!("basis points in [0, {MAX_COST_BPS})"))
}

/// Starting cash, quote currency: finite, in (0, [`MAX_INITIAL_CASH`]], the range of
/// `execution.initial_cash` (larger amounts overflow equity).
///
/// # Errors
/// Not a number, not finite, ≤ 0 or above the bound.
pub fn cash(text: &str) -> Result<f64, String> {
    float(text, |x| x > 0.0 && x <= MAX_INITIAL_CASH, &format!("an amount in (0, {MAX_INITIAL_CASH:e}]"))
}

/// The most trials a sweep may have; also the bound of its grace period and of the
/// number of best trials it exports.
pub const MAX_TRIALS: u64 = 100_000;

/// The most CPUs a sweep trial may reserve.
pub const MAX_CPUS_PER_TRIAL: f64 = 1024.0;

/// CPUs per sweep trial: finite, in (0, [`MAX_CPUS_PER_TRIAL`]] (Ray takes fractions).
///
/// # Errors
/// Not a number, not finite, 0 or below, or above the bound.
pub fn cpus(text: &str) -> Result<f64, String> {
    float(text, |x| x > 0.0 && x <= MAX_CPUS_PER_TRIAL, &format!("CPUs in (0, {MAX_CPUS_PER_TRIAL}]"))
}

/// A fraction in [0, 1) (0 = off): protective-order distances and the VaR limit.
///
/// # Errors
/// Not a number, not finite, or outside [0, 1).
pub fn fraction(text: &str) -> Result<f64, String> {
    float(text, |x| (0.0..1.0).contains(&x), "a fraction in [0, 1) (0 = off)")
}

/// A mean block length of the bootstrap, bars: finite, in [1, [`MAX_BLOCK_LEN`]].
///
/// # Errors
/// Not a number, not finite, below 1 or above the bound.
pub fn block_len(text: &str) -> Result<f64, String> {
    float(text, |x| (1.0..=MAX_BLOCK_LEN).contains(&x), &format!("bars in [1, {MAX_BLOCK_LEN}]"))
}

/// Seeds, comma-separated (`1,2,3`): at least one, each a `u64`, none twice (two runs of
/// one seed would be one run, trained twice into one folder).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeedList(pub Vec<u64>);

/// Parses a [`SeedList`].
///
/// # Errors
/// An empty list or item, a non-integer, or a seed that appears twice.
pub fn seed_list(text: &str) -> Result<SeedList, String> {
    let mut seeds = Vec::new();
    for item in text.split(',') {
        let item = item.trim();
        let seed: u64 = item.parse().map_err(|_| format!("`{item}` is not a seed (an integer >= 0)"))?;
        seeds.push(seed);
    }
    if let Some(seed) = first_duplicate(&seeds) {
        return Err(format!("seed {seed} appears twice: give each seed once"));
    }
    Ok(SeedList(seeds))
}

/// The first seed that appears twice in `seeds`, if any.
pub fn first_duplicate(seeds: &[u64]) -> Option<u64> {
    seeds.iter().enumerate().find(|(i, s)| seeds[..*i].contains(s)).map(|(_, s)| *s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_must_be_finite_and_in_range() {
        assert_eq!(seconds("0.5"), Ok(0.5));
        for bad in ["inf", "NaN", "0", "-1", "1e-16x", "3601", "1e308"] {
            assert!(seconds(bad).is_err(), "{bad}");
        }
        assert_eq!(bps("0"), Ok(0.0));
        assert!(bps("10000").is_err() && bps("-1").is_err() && bps("nan").is_err());
        assert_eq!(cash("10000"), Ok(10_000.0));
        let err = cash("1e308").unwrap_err();
        assert!(err.contains("1e12"), "{err}");
        assert!(cash("0").is_err() && cash("inf").is_err());
        assert_eq!(fraction("0.05"), Ok(0.05));
        assert!(fraction("1").is_err() && fraction("-0.1").is_err());
        assert_eq!(block_len("5"), Ok(5.0));
        assert!(block_len("0.5").is_err() && block_len("NaN").is_err());
    }

    #[test]
    fn seed_lists_refuse_duplicates_and_garbage() {
        assert_eq!(seed_list("1,2,3"), Ok(SeedList(vec![1, 2, 3])));
        assert_eq!(seed_list("7"), Ok(SeedList(vec![7])));
        let err = seed_list("1,1").unwrap_err();
        assert!(err.contains("seed 1 appears twice"), "{err}");
        assert!(seed_list("1,,2").is_err() && seed_list("").is_err() && seed_list("-1").is_err());
        assert_eq!(first_duplicate(&[3, 1, 2, 1]), Some(1));
        assert_eq!(first_duplicate(&[3, 1, 2]), None);
    }
}
