//! The Sharpe ratio of one return series and how much of it survives the search that
//! found it: the Probabilistic Sharpe Ratio (PSR) against a benchmark, and the Deflated
//! Sharpe Ratio (DSR), the PSR against the Sharpe ratio the best of N trials would show
//! by luck alone.
//!
//! Everything here is per bar: Sharpe ratios are mean / std of per-bar simple returns,
//! never annualized (an annualized figure is a per-bar one times √(bars per year); divide
//! it back before passing it in).

use serde::{Deserialize, Serialize};

use super::normal::{inverse_normal_cdf, normal_cdf};

/// The Euler–Mascheroni constant γ = 0.5772156649015328606…, in the expected maximum
/// of N Sharpe ratios ([`expected_max_sharpe`]).
#[allow(clippy::excessive_precision)]
pub const EULER_MASCHERONI: f64 = 0.57721566490153286060651209008240243;

/// Invalid inputs to [`expected_max_sharpe`] and [`deflated_sharpe_ratio`]. Statistics
/// that the data leave undefined (too few returns, zero variance) are not errors but
/// `None` fields.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum SharpeError {
    /// The number of trials N is 0; every selection made is at least one trial.
    #[error("the number of trials must be at least 1, got 0")]
    NoTrials,
    /// The variance of the trials' Sharpe ratios is negative, NaN or infinite.
    #[error("the variance of the trials' per-bar Sharpe ratios must be finite and >= 0, got {value}")]
    InvalidTrialsVariance {
        /// The value given.
        value: f64,
    },
    /// A return is NaN or infinite.
    #[error("return {index} is not finite ({value})")]
    NonFiniteReturn {
        /// Its 0-based position in the series.
        index: usize,
        /// The value.
        value: f64,
    },
}

/// Central moments of a series: count, mean, and the sums of the 2nd, 3rd and 4th powers
/// of the deviations from the mean.
struct CentralSums {
    n: usize,
    mean: f64,
    sum2: f64,
    sum3: f64,
    sum4: f64,
}

/// Two passes; the mean is computed around the first value, so a constant series has
/// its exact mean and exactly zero deviations.
fn central_sums(returns: &[f64]) -> CentralSums {
    let n = returns.len();
    let shift = returns.first().copied().unwrap_or(0.0);
    let mean = if n == 0 { 0.0 } else { shift + returns.iter().map(|r| r - shift).sum::<f64>() / n as f64 };
    let (mut sum2, mut sum3, mut sum4) = (0.0, 0.0, 0.0);
    for &r in returns {
        let d = r - mean;
        let d2 = d * d;
        sum2 += d2;
        sum3 += d2 * d;
        sum4 += d2 * d2;
    }
    CentralSums { n, mean, sum2, sum3, sum4 }
}

impl CentralSums {
    /// mean / std with ddof 1; `None` below 2 values or at zero variance.
    fn sharpe(&self) -> Option<f64> {
        (self.n >= 2 && self.sum2 > 0.0).then(|| self.mean / (self.sum2 / (self.n - 1) as f64).sqrt())
    }

    /// m3 / m2^1.5 with population moments mₖ = Σdᵏ / n; `None` at zero variance.
    fn skewness(&self) -> Option<f64> {
        let n = self.n as f64;
        (self.sum2 > 0.0).then(|| (self.sum3 / n) / (self.sum2 / n).powf(1.5))
    }

    /// m4 / m2² with population moments; `None` at zero variance.
    fn kurtosis(&self) -> Option<f64> {
        let n = self.n as f64;
        (self.sum2 > 0.0).then(|| (self.sum4 / n) / (self.sum2 / n).powi(2))
    }
}

/// Per-bar Sharpe ratio of `returns` (`[n]`, per-bar simple returns, fractions):
/// mean / standard deviation with ddof 1, risk-free rate 0, not annualized.
///
/// `None` for fewer than 2 returns, zero variance or a non-finite return. The same
/// definition as the Sharpe of [`crate::metrics::Metrics`] before its √(bars per year).
pub fn sharpe_per_bar(returns: &[f64]) -> Option<f64> {
    central_sums(returns).sharpe()
}

/// Skewness γ3 of `returns` (`[n]`): m3 / m2^1.5 with population central moments
/// mₖ = (1/n) Σ (rₜ − r̄)ᵏ (no small-sample correction), as in the PSR's γ3
/// (Bailey & López de Prado 2012, see [`probabilistic_sharpe_ratio`]). 0 for a
/// symmetric series. `None` at zero variance, for no returns or a non-finite one.
pub fn skewness(returns: &[f64]) -> Option<f64> {
    central_sums(returns).skewness()
}

/// Kurtosis γ4 of `returns` (`[n]`): m4 / m2² with population central moments, **not**
/// excess kurtosis: 3 for normal returns, 1 for a two-point series. `None` at zero
/// variance, for no returns or a non-finite one.
pub fn kurtosis(returns: &[f64]) -> Option<f64> {
    central_sums(returns).kurtosis()
}

/// Probabilistic Sharpe Ratio: the probability that the true per-bar Sharpe ratio exceeds
/// `benchmark` SR*, given the observed per-bar `sharpe` SR of `n_returns` = n returns with
/// skewness γ3 and kurtosis γ4 (not excess: normal = 3):
///
/// PSR(SR*) = Φ( (SR − SR*) √(n − 1) / √(1 − γ3·SR + (γ4 − 1)/4 · SR²) )
///
/// Source: D. H. Bailey and M. López de Prado (2012), "The Sharpe Ratio Efficient
/// Frontier", *Journal of Risk* 15(2), 3–44, §3 "Probabilistic Sharpe Ratio" (the
/// denominator is the asymptotic standard deviation of the estimated SR under non-normal
/// i.i.d. returns, Mertens 2002). For normal returns (γ3 = 0, γ4 = 3) it reduces to
/// √(1 + SR²/2); at SR = SR*, PSR = 1/2.
///
/// `None` when n < 2, when the term under the square root is not positive (possible for
/// strongly skewed returns), or when an input is not finite. A value in [0, 1].
pub fn probabilistic_sharpe_ratio(
    sharpe: f64,
    benchmark: f64,
    n_returns: usize,
    skewness: f64,
    kurtosis: f64,
) -> Option<f64> {
    if n_returns < 2 || ![sharpe, benchmark, skewness, kurtosis].iter().all(|v| v.is_finite()) {
        return None;
    }
    let variance_term = 1.0 - skewness * sharpe + (kurtosis - 1.0) / 4.0 * sharpe * sharpe;
    if variance_term.is_nan() || variance_term <= 0.0 {
        return None;
    }
    let z = (sharpe - benchmark) * ((n_returns - 1) as f64).sqrt() / variance_term.sqrt();
    Some(normal_cdf(z))
}

/// Expected maximum per-bar Sharpe ratio of `n_trials` = N independent trials whose true
/// Sharpe ratios are all 0, given `trials_sharpe_variance` = V, the variance of the
/// trials' estimated per-bar Sharpe ratios:
///
/// E[max SR] = √V · ( (1 − γ) Φ⁻¹(1 − 1/N) + γ Φ⁻¹(1 − 1/(N e)) ),  γ = [`EULER_MASCHERONI`]
///
/// Source: D. H. Bailey and M. López de Prado (2014), "The Deflated Sharpe Ratio:
/// Correcting for Selection Bias, Backtest Overfitting and Non-Normality", *Journal of
/// Portfolio Management* 40(5), 94–107: the benchmark SR₀ of the DSR (an extreme-value
/// approximation of the expected maximum of N standard normals, scaled by the trials'
/// standard deviation). The paper's numerical example (N = 100, V = 1/2 annualized, daily
/// bars) gives SR₀ ≈ 0.1132 per day; this module's tests reproduce it.
///
/// Exactly 0 for N = 1 (the formula would be −∞ + finite; one trial selects nothing).
/// Φ⁻¹(1 − q) is computed as −Φ⁻¹(q), which keeps full precision for large N.
///
/// # Errors
/// [`SharpeError::NoTrials`] for N = 0; [`SharpeError::InvalidTrialsVariance`] when V is
/// negative or not finite.
pub fn expected_max_sharpe(n_trials: usize, trials_sharpe_variance: f64) -> Result<f64, SharpeError> {
    if n_trials == 0 {
        return Err(SharpeError::NoTrials);
    }
    if !trials_sharpe_variance.is_finite() || trials_sharpe_variance < 0.0 {
        return Err(SharpeError::InvalidTrialsVariance { value: trials_sharpe_variance });
    }
    if n_trials == 1 {
        return Ok(0.0);
    }
    let n = n_trials as f64;
    let z_n = -inverse_normal_cdf(1.0 / n);
    let z_ne = -inverse_normal_cdf(1.0 / (n * std::f64::consts::E));
    Ok(trials_sharpe_variance.sqrt() * ((1.0 - EULER_MASCHERONI) * z_n + EULER_MASCHERONI * z_ne))
}

/// Sample variance (ddof 1) of the trials' per-bar Sharpe ratios `sharpes` (`[N]`, one per
/// trial, see [`sharpe_per_bar`]): the V of [`expected_max_sharpe`] and
/// [`deflated_sharpe_ratio`]. `None` for fewer than 2 values or a non-finite one.
pub fn trials_sharpe_variance(sharpes: &[f64]) -> Option<f64> {
    if sharpes.len() < 2 || !sharpes.iter().all(|s| s.is_finite()) {
        return None;
    }
    let sums = central_sums(sharpes);
    Some(sums.sum2 / (sums.n - 1) as f64)
}

/// The Deflated Sharpe Ratio of one selected return series, with every input it was
/// computed from, for reports (JSON: `null` where a statistic is undefined).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeflatedSharpe {
    /// Per-bar Sharpe ratio SR of the selected series ([`sharpe_per_bar`]); `None` below
    /// 2 returns or at zero variance.
    pub sharpe_per_bar: Option<f64>,
    /// Skewness γ3 of its returns ([`skewness`]); `None` at zero variance.
    pub skewness: Option<f64>,
    /// Kurtosis γ4 of its returns, not excess (normal = 3) ([`kurtosis`]); `None` at zero
    /// variance.
    pub kurtosis: Option<f64>,
    /// Number of returns n (bars) in the series.
    pub n_returns: usize,
    /// Number of trials N: the distinct configurations tried, the selected one included.
    pub n_trials: usize,
    /// Variance V of the trials' per-bar Sharpe ratios, as given (unused when N = 1).
    pub trials_sharpe_variance: f64,
    /// SR₀ = E[max SR] of N zero-skill trials ([`expected_max_sharpe`]), per bar; 0 when N = 1.
    pub expected_max_sharpe: f64,
    /// PSR(0): probability that the true Sharpe ratio is above 0, not deflated.
    pub psr: Option<f64>,
    /// DSR = PSR(SR₀): probability that the true Sharpe ratio is above what the best of N
    /// zero-skill trials would show. Equal to `psr` when N = 1.
    pub dsr: Option<f64>,
}

/// The Deflated Sharpe Ratio of `returns` (`[n]`, per-bar simple returns of the selected
/// configuration), selected as the best of `n_trials` = N trials whose per-bar Sharpe
/// ratios have variance `trials_sharpe_variance` = V ([`trials_sharpe_variance`]):
///
/// DSR = PSR(SR₀) = Φ( (SR − SR₀) √(n − 1) / √(1 − γ3·SR + (γ4 − 1)/4 · SR²) ),
/// SR₀ = √V · ( (1 − γ) Φ⁻¹(1 − 1/N) + γ Φ⁻¹(1 − 1/(N e)) )
///
/// Source: D. H. Bailey and M. López de Prado (2014), "The Deflated Sharpe Ratio:
/// Correcting for Selection Bias, Backtest Overfitting and Non-Normality", *Journal of
/// Portfolio Management* 40(5), 94–107 (DSR ≡ PSR(SR₀)), with the PSR of Bailey & López
/// de Prado (2012), see [`probabilistic_sharpe_ratio`]. With N = 1, SR₀ = 0 and the DSR is
/// the PSR(0) exactly. The PSR and DSR are `None` where the Sharpe ratio, skewness or
/// kurtosis is undefined or the PSR's variance term is not positive.
///
/// # Errors
/// [`SharpeError::NoTrials`] for N = 0, [`SharpeError::InvalidTrialsVariance`] for V
/// negative or not finite, [`SharpeError::NonFiniteReturn`] for a NaN or infinite return.
pub fn deflated_sharpe_ratio(
    returns: &[f64],
    n_trials: usize,
    trials_sharpe_variance: f64,
) -> Result<DeflatedSharpe, SharpeError> {
    let expected_max_sharpe = expected_max_sharpe(n_trials, trials_sharpe_variance)?;
    if let Some((index, &value)) = returns.iter().enumerate().find(|(_, r)| !r.is_finite()) {
        return Err(SharpeError::NonFiniteReturn { index, value });
    }
    let sums = central_sums(returns);
    let (sharpe, skewness, kurtosis) = (sums.sharpe(), sums.skewness(), sums.kurtosis());
    let psr_against = |benchmark: f64| match (sharpe, skewness, kurtosis) {
        (Some(sr), Some(g3), Some(g4)) => probabilistic_sharpe_ratio(sr, benchmark, sums.n, g3, g4),
        _ => None,
    };
    let psr = psr_against(0.0);
    let dsr = if n_trials == 1 { psr } else { psr_against(expected_max_sharpe) };
    Ok(DeflatedSharpe {
        sharpe_per_bar: sharpe,
        skewness,
        kurtosis,
        n_returns: sums.n,
        n_trials,
        trials_sharpe_variance,
        expected_max_sharpe,
        psr,
        dsr,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn close(got: f64, want: f64, tolerance: f64) -> bool {
        (got - want).abs() <= tolerance
    }

    /// Standard normal draws by Box–Muller from a seeded ChaCha8 stream.
    fn gaussian(rng: &mut ChaCha8Rng) -> f64 {
        let u1 = 1.0 - rng.random::<f64>(); // (0, 1]
        let u2 = rng.random::<f64>();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    #[test]
    fn moments_of_a_hand_computed_series() {
        // Exact rationals: mean 1/100, sample variance 1/1000, so SR = √(1/10);
        // m2 = 1/1200, m3 = −1/100000, m4 = 457/300000000, so γ3 = −1e-5·1200^1.5 and
        // γ4 = 457·1200²/3e8 = 2.1936.
        let r = [0.02, -0.01, 0.03, -0.04, 0.05, 0.01];
        assert!(close(sharpe_per_bar(&r).unwrap(), 0.1f64.sqrt(), 1e-14));
        assert!(close(skewness(&r).unwrap(), -0.41569219381653055, 1e-13));
        assert!(close(kurtosis(&r).unwrap(), 2.1936, 1e-13));
        // Symmetric three points: γ3 = 0, γ4 = (2/3) / (2/3)² = 1.5; a two-point series: γ4 = 1.
        assert_eq!(skewness(&[-1.0, 0.0, 1.0]), Some(0.0));
        assert!(close(kurtosis(&[-1.0, 0.0, 1.0]).unwrap(), 1.5, 1e-15));
        assert!(close(kurtosis(&[0.01, -0.01, 0.01, -0.01]).unwrap(), 1.0, 1e-15));
    }

    #[test]
    fn undefined_moments_are_none() {
        let constant = [0.001; 50];
        assert_eq!((sharpe_per_bar(&constant), skewness(&constant), kurtosis(&constant)), (None, None, None));
        assert_eq!(sharpe_per_bar(&[0.01]), None);
        assert_eq!((sharpe_per_bar(&[]), skewness(&[]), kurtosis(&[])), (None, None, None));
        let broken = [0.01, f64::NAN, 0.02];
        assert_eq!((sharpe_per_bar(&broken), skewness(&broken), kurtosis(&broken)), (None, None, None));
        let broken = [0.01, f64::INFINITY, 0.02];
        assert_eq!((sharpe_per_bar(&broken), skewness(&broken), kurtosis(&broken)), (None, None, None));
    }

    #[test]
    fn gaussian_returns_have_normal_moments() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let r: Vec<f64> = (0..200_000).map(|_| 0.001 + 0.01 * gaussian(&mut rng)).collect();
        // Standard errors at n = 2e5: SR ≈ 0.0022, γ3 ≈ 0.0055, γ4 ≈ 0.011.
        assert!(close(sharpe_per_bar(&r).unwrap(), 0.1, 0.01));
        assert!(close(skewness(&r).unwrap(), 0.0, 0.03));
        assert!(close(kurtosis(&r).unwrap(), 3.0, 0.06));
    }

    #[test]
    fn psr_closed_forms() {
        // SR = SR*: Φ(0) = 1/2 whatever the moments.
        for (sr, g3, g4) in [(0.1, 0.0, 3.0), (0.3, -2.0, 9.0), (-0.05, 1.0, 4.0)] {
            assert_eq!(probabilistic_sharpe_ratio(sr, sr, 500, g3, g4), Some(0.5));
        }
        // Normal moments: the denominator is √(1 + SR²/2).
        for (sr, benchmark, n) in [(0.1, 0.0, 250), (0.05, 0.02, 1000), (-0.1, 0.0, 30), (0.8, 0.5, 2)] {
            let want = normal_cdf((sr - benchmark) * ((n - 1) as f64).sqrt() / (1.0 + sr * sr / 2.0).sqrt());
            assert_eq!(probabilistic_sharpe_ratio(sr, benchmark, n, 0.0, 3.0), Some(want));
        }
        // A hand evaluation: SR 0.1, n 101, γ3 −1, γ4 6 → z = 0.1·10 / √(1 + 0.1 + 0.0125).
        let z = 1.0 / 1.1125f64.sqrt();
        assert!(close(probabilistic_sharpe_ratio(0.1, 0.0, 101, -1.0, 6.0).unwrap(), normal_cdf(z), 1e-15));
        // Negative skew lowers the PSR of a positive Sharpe ratio, fat tails too.
        let base = probabilistic_sharpe_ratio(0.1, 0.0, 250, 0.0, 3.0).unwrap();
        assert!(probabilistic_sharpe_ratio(0.1, 0.0, 250, -2.0, 3.0).unwrap() < base);
        assert!(probabilistic_sharpe_ratio(0.1, 0.0, 250, 0.0, 12.0).unwrap() < base);
    }

    #[test]
    fn psr_is_none_where_undefined() {
        // 1 − γ3·SR + (γ4 − 1)/4·SR² = 1 − 2 + 0 < 0.
        assert_eq!(probabilistic_sharpe_ratio(0.5, 0.0, 100, 4.0, 1.0), None);
        // Exactly 0: 1 − 1 + 0.
        assert_eq!(probabilistic_sharpe_ratio(0.5, 0.0, 100, 2.0, 1.0), None);
        assert_eq!(probabilistic_sharpe_ratio(0.1, 0.0, 1, 0.0, 3.0), None);
        assert_eq!(probabilistic_sharpe_ratio(0.1, 0.0, 0, 0.0, 3.0), None);
        assert_eq!(probabilistic_sharpe_ratio(f64::NAN, 0.0, 100, 0.0, 3.0), None);
        assert_eq!(probabilistic_sharpe_ratio(0.1, f64::INFINITY, 100, 0.0, 3.0), None);
    }

    /// Bailey & López de Prado (2014), numerical example: N = 100 trials, V[SR] = 1/2
    /// (annualized), T = 1250 daily returns, annualized SR 2.5, γ3 = −3, γ4 = 10. The
    /// paper converts with 250 days a year: SR = 2.5/√250 ≈ 0.1581, V = (1/2)/250, and
    /// prints SR₀ ≈ 0.1132 and DSR ≈ 0.9004.
    #[test]
    fn reproduces_the_deflated_sharpe_papers_example() {
        let days = 250.0;
        let sr = 2.5 / f64::sqrt(days);
        let sr0 = expected_max_sharpe(100, 0.5 / days).unwrap();
        let dsr = probabilistic_sharpe_ratio(sr, sr0, 1250, -3.0, 10.0).unwrap();
        eprintln!("paper example: SR = {sr:.6}, SR0 = {sr0:.6}, DSR = {dsr:.6}");
        assert_eq!(format!("{sr:.4}"), "0.1581");
        assert_eq!(format!("{sr0:.4}"), "0.1132");
        assert_eq!(format!("{dsr:.4}"), "0.9004");
        // Independently: Python 3 `statistics.NormalDist` (Φ⁻¹ AS 241, Φ through libm erfc)
        // gives SR₀ = 0.11317200186513214 and DSR = 0.9003968344493904.
        assert!(close(sr0, 0.11317200186513214, 1e-15));
        assert!(close(dsr, 0.9003968344493904, 1e-14));
    }

    #[test]
    fn expected_max_sharpe_grows_with_trials_and_variance() {
        assert_eq!(expected_max_sharpe(1, 0.3), Ok(0.0));
        let mut previous = 0.0;
        for n in 2..=10_000 {
            let e = expected_max_sharpe(n, 1.0).unwrap();
            assert!(e > previous, "E[max SR] not increasing at N = {n}");
            previous = e;
        }
        // N = 2: Φ⁻¹(1/2) = 0, so √V·γ·Φ⁻¹(1 − 1/(2e)).
        let want = EULER_MASCHERONI * inverse_normal_cdf(1.0 - 1.0 / (2.0 * std::f64::consts::E));
        assert!(close(expected_max_sharpe(2, 1.0).unwrap(), want, 1e-15));
        // Scales with √V; zero spread across trials means nothing to deflate.
        let unit = expected_max_sharpe(50, 1.0).unwrap();
        assert!(close(expected_max_sharpe(50, 0.04).unwrap(), 0.2 * unit, 1e-15));
        assert_eq!(expected_max_sharpe(50, 0.0), Ok(0.0));
        // Against the exact E[max of N standard normals] (numerical integration, mpmath):
        // N = 10: 1.5387527308352, N = 100: 2.5075936364417. The approximation is 2.3% and 0.9% high.
        assert!(close(expected_max_sharpe(10, 1.0).unwrap(), 1.5387527308352, 0.03 * 1.54));
        assert!(close(expected_max_sharpe(100, 1.0).unwrap(), 2.5075936364417, 0.03 * 2.51));
    }

    #[test]
    fn invalid_inputs_are_typed_errors() {
        assert_eq!(expected_max_sharpe(0, 1.0), Err(SharpeError::NoTrials));
        assert_eq!(deflated_sharpe_ratio(&[0.01, 0.02], 0, 1.0), Err(SharpeError::NoTrials));
        assert_eq!(expected_max_sharpe(5, -1e-9), Err(SharpeError::InvalidTrialsVariance { value: -1e-9 }));
        assert!(matches!(expected_max_sharpe(5, f64::NAN), Err(SharpeError::InvalidTrialsVariance { .. })));
        assert_eq!(
            deflated_sharpe_ratio(&[0.01, f64::INFINITY], 3, 0.1),
            Err(SharpeError::NonFiniteReturn { index: 1, value: f64::INFINITY })
        );
        assert_eq!(trials_sharpe_variance(&[0.1]), None);
        assert_eq!(trials_sharpe_variance(&[0.1, f64::NAN]), None);
    }

    #[test]
    fn deflated_sharpe_ratio_of_a_series() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let r: Vec<f64> = (0..1000).map(|_| 0.0005 + 0.01 * gaussian(&mut rng)).collect();
        let (sr, g3, g4) = (sharpe_per_bar(&r).unwrap(), skewness(&r).unwrap(), kurtosis(&r).unwrap());

        // One trial: nothing to deflate, DSR = PSR(0) bit for bit.
        let one = deflated_sharpe_ratio(&r, 1, 0.0).unwrap();
        assert_eq!(one.expected_max_sharpe, 0.0);
        assert_eq!(one.dsr, one.psr);
        assert_eq!(one.psr, probabilistic_sharpe_ratio(sr, 0.0, 1000, g3, g4));
        assert_eq!((one.sharpe_per_bar, one.skewness, one.kurtosis), (Some(sr), Some(g3), Some(g4)));
        assert_eq!((one.n_returns, one.n_trials), (1000, 1));

        // Many trials: the fields are the composition of the public functions.
        let v = trials_sharpe_variance(&[0.01, 0.05, -0.02, 0.03, 0.0]).unwrap();
        let many = deflated_sharpe_ratio(&r, 40, v).unwrap();
        let sr0 = expected_max_sharpe(40, v).unwrap();
        assert_eq!(many.expected_max_sharpe, sr0);
        assert_eq!(many.dsr, probabilistic_sharpe_ratio(sr, sr0, 1000, g3, g4));
        assert_eq!(many.psr, one.psr);
        assert_eq!(many.trials_sharpe_variance, v);

        // More trials, lower DSR.
        let mut previous = one.dsr.unwrap();
        for n in [2, 5, 10, 100, 1000, 100_000] {
            let dsr = deflated_sharpe_ratio(&r, n, v).unwrap().dsr.unwrap();
            assert!(dsr < previous, "DSR not decreasing at N = {n}");
            previous = dsr;
        }
        eprintln!("DSR: N = 1: {:.4}, N = 40: {:.4}, N = 1e5: {previous:.4}", one.dsr.unwrap(), many.dsr.unwrap());
    }

    #[test]
    fn flat_series_has_undefined_statistics_not_an_error() {
        let d = deflated_sharpe_ratio(&[0.0; 100], 10, 0.01).unwrap();
        assert_eq!((d.sharpe_per_bar, d.skewness, d.kurtosis, d.psr, d.dsr), (None, None, None, None, None));
        assert!(d.expected_max_sharpe > 0.0);
        let json = serde_json::to_value(&d).unwrap();
        assert!(json["dsr"].is_null());
        assert_eq!(json["n_trials"], 10);
    }

    #[test]
    fn trials_variance_is_the_sample_variance() {
        // mean 0.02, squared deviations 0.0004 + 0 + 0.0004 → 0.0008 / 2.
        assert!(close(trials_sharpe_variance(&[0.0, 0.02, 0.04]).unwrap(), 0.0004, 1e-17));
    }
}
