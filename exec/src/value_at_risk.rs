//! Historical (empirical) one-bar Value at Risk and Expected Shortfall: the one home of
//! the quantile rule, used by the metrics of every result (`rltrade_env::metrics`) and
//! by the VaR sizing limit of the [`crate::RiskManager`] (`risk.max_var_95`).

/// Historical one-bar Value at Risk and Expected Shortfall at confidence `level`
/// (0.95, 0.99) of per-bar simple returns `returns` (`[n]`, fractions), as losses
/// (positive fractions when the tail loses).
///
/// The quantile rule: with m = max(1, ⌈(1 − level) · n⌉), VaR is minus the m-th
/// smallest return and ES minus the mean of the m smallest, so ES ≥ VaR always and
/// both come from the same m worst bars (the "lower" order statistic, no
/// interpolation). Sources: P. Jorion, *Value at Risk* (3rd ed., 2006), ch. 10
/// (historical simulation); C. Acerbi and D. Tasche (2002), "On the coherence of
/// expected shortfall", *Journal of Banking & Finance* 26(7) (ES as the mean of the
/// worst ⌈(1 − α) n⌉ outcomes). `(0, 0)` for no return.
pub fn historical_var_es(returns: &[f64], level: f64) -> (f64, f64) {
    if returns.is_empty() {
        return (0.0, 0.0);
    }
    let mut sorted = returns.to_vec();
    sorted.sort_by(f64::total_cmp);
    // 1 − 0.95 is 0.05000000000000004 in f64: without the tolerance, 5% of 40 bars
    // would round up to 3
    let m = (((1.0 - level) * sorted.len() as f64 - 1e-9).ceil() as usize).clamp(1, sorted.len());
    let tail = &sorted[..m];
    (-tail[m - 1], -tail.iter().sum::<f64>() / m as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn historical_var_and_es_take_the_worst_ceil_tail() {
        // 40 returns: -0.10, -0.09, ..., 0.29; 5% of 40 = 2 worst, 1% → ⌈0.4⌉ = 1 worst
        let returns: Vec<f64> = (0..40).rev().map(|i| (i as f64 - 10.0) / 100.0).collect();
        let (var_95, es_95) = historical_var_es(&returns, 0.95);
        assert!((var_95 - 0.09).abs() < 1e-12 && (es_95 - 0.095).abs() < 1e-12, "{var_95} {es_95}");
        let (var_99, es_99) = historical_var_es(&returns, 0.99);
        assert!((var_99 - 0.10).abs() < 1e-12 && (es_99 - 0.10).abs() < 1e-12);
        // a tail that gains is a negative loss; no return is no risk
        assert_eq!(historical_var_es(&[0.01, 0.02], 0.95), (-0.01, -0.01));
        assert_eq!(historical_var_es(&[], 0.95), (0.0, 0.0));
    }
}
