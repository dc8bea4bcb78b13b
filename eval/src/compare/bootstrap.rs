//! The stationary block bootstrap of per-bar returns (Politis & Romano, "The Stationary
//! Bootstrap", JASA 1994), paired across arms: every resample draws one index path and
//! applies it to every arm's returns, so differences between arms keep their
//! correlation (both face the same resampled market).
//!
//! A path starts at a uniform random bar; each next bar continues the block (`i + 1`,
//! wrapping around) with probability `1 − 1/L` or starts a new block at a uniform
//! random bar with probability `1/L`, so block lengths are geometric with mean `L`.
//! The default `L` is `n^(1/3)` (the rate of the optimal mean block length in Politis &
//! White, 2004). Intervals are percentile intervals (2.5%, 97.5%).

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Most bootstrap resamples: each arm keeps two f64 per resample.
pub const MAX_RESAMPLES: usize = 1_000_000;
/// Largest mean block length of the stationary bootstrap, bars.
pub const MAX_BLOCK_LEN: f64 = 1_000_000.0;

/// Bootstrap settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BootstrapConfig {
    /// Resamples. Default 10,000.
    pub resamples: usize,
    /// Mean block length in bars; `None` uses `n^(1/3)`.
    pub mean_block_len: Option<f64>,
    /// Seed of the index paths.
    pub seed: u64,
}

impl Default for BootstrapConfig {
    fn default() -> Self {
        Self { resamples: 10_000, mean_block_len: None, seed: 0 }
    }
}

/// A two-sided 95% percentile interval.
pub type Interval = [f64; 2];

/// Per-bar simple returns of an equity curve that starts from `initial` (the same
/// convention as the backtest metrics: the first return is against the initial equity).
pub fn returns_from_equity(initial: f64, equity: &[f64]) -> Vec<f64> {
    let mut previous = initial;
    equity
        .iter()
        .map(|&e| {
            let r = if previous > 0.0 { e / previous - 1.0 } else { 0.0 };
            previous = e;
            r
        })
        .collect()
}

/// Annualized Sharpe ratio (risk-free 0) of per-bar returns: mean / std (ddof 1) × √P;
/// `None` when the std is 0 (as in the backtest metrics).
pub fn sharpe(returns: &[f64], periods_per_year: f64) -> Option<f64> {
    let n = returns.len() as f64;
    if returns.len() < 2 {
        return None;
    }
    let mean = returns.iter().sum::<f64>() / n;
    let var = returns.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (var > 0.0).then(|| mean / var.sqrt() * periods_per_year.sqrt())
}

/// Compounded total return of per-bar returns (a fraction).
pub fn total_return(returns: &[f64]) -> f64 {
    returns.iter().fold(1.0, |acc, r| acc * (1.0 + r)) - 1.0
}

/// The mean block length used for `n` bars.
pub fn mean_block_len(config: &BootstrapConfig, n: usize) -> f64 {
    config.mean_block_len.unwrap_or_else(|| (n as f64).cbrt()).max(1.0)
}

/// Fills `path` (length n) with one stationary-bootstrap index path.
pub fn index_path(path: &mut [usize], mean_block_len: f64, rng: &mut ChaCha8Rng) {
    let n = path.len();
    if n == 0 {
        return;
    }
    let p_new = 1.0 / mean_block_len.max(1.0);
    let mut i = rng.random_range(0..n);
    for slot in path.iter_mut() {
        *slot = i;
        i = if rng.random::<f64>() < p_new { rng.random_range(0..n) } else { (i + 1) % n };
    }
}

/// One statistic of a resample, per arm: Sharpe and total return.
#[derive(Clone, Debug, PartialEq)]
pub struct ArmDraws {
    /// Resampled Sharpe per resample (a resample with zero std counts as Sharpe 0).
    pub sharpe: Vec<f64>,
    /// Resampled total return per resample.
    pub total_return: Vec<f64>,
}

/// Resampled statistics of every arm under shared (paired) index paths.
///
/// `arms[a]` holds the per-bar returns of each seed of arm `a` (`[seeds][n]`, every
/// series of length `n`); an arm's statistic in a resample is the mean over its seeds.
///
/// # Panics
/// If the series lengths differ.
pub fn paired_draws(arms: &[Vec<Vec<f64>>], periods_per_year: f64, config: &BootstrapConfig) -> Vec<ArmDraws> {
    let n = arms.iter().flatten().map(Vec::len).next().unwrap_or(0);
    assert!(arms.iter().flatten().all(|s| s.len() == n), "every arm's returns must cover the same bars");
    let l = mean_block_len(config, n);
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    let mut path = vec![0usize; n];
    let mut sample = vec![0.0f64; n];
    let mut out: Vec<ArmDraws> = arms
        .iter()
        .map(|_| ArmDraws {
            sharpe: Vec::with_capacity(config.resamples),
            total_return: Vec::with_capacity(config.resamples),
        })
        .collect();
    for _ in 0..config.resamples {
        index_path(&mut path, l, &mut rng);
        for (arm, draws) in arms.iter().zip(out.iter_mut()) {
            let (mut s_sum, mut r_sum) = (0.0, 0.0);
            for series in arm {
                sample.iter_mut().zip(&path).for_each(|(x, &i)| *x = series[i]);
                s_sum += sharpe(&sample, periods_per_year).unwrap_or(0.0);
                r_sum += total_return(&sample);
            }
            let k = arm.len().max(1) as f64;
            draws.sharpe.push(s_sum / k);
            draws.total_return.push(r_sum / k);
        }
    }
    out
}

/// The 2.5% and 97.5% percentiles (linear interpolation between order statistics).
pub fn percentile_interval(values: &[f64]) -> Interval {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return [f64::NAN, f64::NAN];
    }
    v.sort_by(f64::total_cmp);
    [quantile(&v, 0.025), quantile(&v, 0.975)]
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    let pos = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

/// Element-wise `a − b` of two arms' draws.
pub fn differences(a: &[f64], b: &[f64]) -> Vec<f64> {
    a.iter().zip(b).map(|(x, y)| x - y).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_lengths_are_geometric_with_the_requested_mean() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let n = 100_000;
        let mut path = vec![0; n];
        index_path(&mut path, 10.0, &mut rng);
        let breaks = path.windows(2).filter(|w| w[1] != (w[0] + 1) % n).count();
        let mean_len = n as f64 / (breaks + 1) as f64;
        assert!((mean_len - 10.0).abs() < 0.5, "mean block length {mean_len}");
        assert!(path.iter().all(|&i| i < n));
    }

    #[test]
    fn a_block_length_of_one_is_the_iid_bootstrap_and_every_bar_is_drawn() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut path = vec![0; 50];
        let mut seen = [false; 50];
        for _ in 0..200 {
            index_path(&mut path, 1.0, &mut rng);
            path.iter().for_each(|&i| seen[i] = true);
        }
        assert!(seen.iter().all(|&s| s));
    }

    #[test]
    fn the_interval_covers_the_point_estimate_and_narrows_with_more_bars() {
        // i.i.d. returns with a known positive drift
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let series = |n: usize, rng: &mut ChaCha8Rng| -> Vec<f64> {
            (0..n).map(|_| 0.0005 + 0.01 * (rng.random::<f64>() - 0.5)).collect()
        };
        let cfg = BootstrapConfig { resamples: 2000, mean_block_len: Some(5.0), seed: 9 };
        let short = series(500, &mut rng);
        let long = series(8000, &mut rng);
        let width = |r: &Vec<f64>| {
            let d = paired_draws(&[vec![r.clone()]], 8760.0, &cfg);
            let iv = percentile_interval(&d[0].sharpe);
            let point = sharpe(r, 8760.0).unwrap();
            assert!(iv[0] <= point && point <= iv[1], "{iv:?} vs {point}");
            iv[1] - iv[0]
        };
        assert!(width(&long) < 0.5 * width(&short));
    }

    #[test]
    fn paired_differences_of_identical_arms_are_exactly_zero() {
        let r: Vec<f64> = (0..300).map(|i| ((i * 37 % 11) as f64 - 5.0) * 1e-3).collect();
        let cfg = BootstrapConfig { resamples: 500, ..BootstrapConfig::default() };
        let d = paired_draws(&[vec![r.clone()], vec![r]], 365.0, &cfg);
        assert_eq!(percentile_interval(&differences(&d[0].sharpe, &d[1].sharpe)), [0.0, 0.0]);
    }

    #[test]
    fn statistics_match_the_backtest_conventions() {
        let r = returns_from_equity(100.0, &[110.0, 99.0, 99.0]);
        assert_eq!(r.len(), 3);
        assert!((r[0] - 0.1).abs() < 1e-12 && (r[1] + 0.1).abs() < 1e-12 && r[2] == 0.0);
        assert!((total_return(&r) - (-0.01)).abs() < 1e-12);
        assert_eq!(sharpe(&[0.01, 0.01], 1.0), None);
    }

    #[test]
    fn the_same_seed_gives_the_same_draws() {
        let r: Vec<f64> = (0..200).map(|i| (i as f64).sin() * 1e-2).collect();
        let cfg = BootstrapConfig { resamples: 100, mean_block_len: None, seed: 5 };
        assert_eq!(paired_draws(&[vec![r.clone()]], 365.0, &cfg), paired_draws(&[vec![r]], 365.0, &cfg));
    }
}
