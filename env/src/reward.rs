//! Per-bar rewards: log return of equity, the differential Sharpe ratio, log return
//! with a drawdown penalty, and the volatility-scaled return; the turnover penalty
//! charged at decisions; the exponentially weighted volatility σ̂ that `vol_scaled`
//! divides by.

use serde::{Deserialize, Serialize};

use crate::config::{RewardConfig, RewardKind};

/// Running state of the reward over one episode (serializable, so a training run can be
/// resumed mid-episode).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct RewardState {
    kind: RewardKind,
    eta: f64,
    penalty: f64,
    /// Moody & Saffell's A: exponential moving mean of returns.
    a: f64,
    /// Moody & Saffell's B: exponential moving mean of squared returns.
    b: f64,
    peak: f64,
    drawdown: f64,
    /// `vol_scaled`'s target volatility per bar (0 for other kinds).
    #[serde(default)]
    target_vol: f64,
}

impl RewardState {
    /// A fresh state for `config`, starting at `equity`.
    pub fn new(config: &RewardConfig, equity: f64) -> Self {
        Self {
            kind: config.kind,
            eta: config.dsr_eta,
            penalty: config.drawdown_penalty,
            a: 0.0,
            b: 0.0,
            peak: equity,
            drawdown: 0.0,
            target_vol: config.target_vol.unwrap_or(0.0),
        }
    }

    /// The reward for a bar whose equity went from `previous` to `equity` (quote
    /// currency, both > 0). Ruin (equity ≤ 0) gives the log of a tiny ratio, finite.
    /// `sigma` is σ̂ at the previous close (fraction per bar, from [`ew_volatility`]);
    /// only `vol_scaled` reads it:
    /// `(equity / previous − 1) × target_vol / max(σ̂, 1e-8)`.
    ///
    /// Differential Sharpe ratio (Moody & Saffell 2001, eq. 14), with `R = ln(E_t/E_{t−1})`,
    /// `ΔA = R − A`, `ΔB = R² − B`: `D = (B ΔA − ½ A ΔB) / (B − A²)^{3/2}` using the
    /// moments before the update, then `A += η ΔA`, `B += η ΔB`. D is 0 while
    /// `B − A² ≤ 1e-12` (the first steps of an episode).
    #[inline]
    pub fn reward(&mut self, previous: f64, equity: f64, sigma: f64) -> f64 {
        let log_return = (equity.max(1e-12) / previous.max(1e-12)).ln();
        match self.kind {
            RewardKind::LogReturn => log_return,
            RewardKind::DifferentialSharpe => {
                let (delta_a, delta_b) = (log_return - self.a, log_return * log_return - self.b);
                let variance = self.b - self.a * self.a;
                let d = if variance > 1e-12 {
                    (self.b * delta_a - 0.5 * self.a * delta_b) / (variance * variance.sqrt())
                } else {
                    0.0
                };
                self.a += self.eta * delta_a;
                self.b += self.eta * delta_b;
                d
            }
            RewardKind::DrawdownPenalty => {
                self.peak = self.peak.max(equity);
                let drawdown = 1.0 - equity / self.peak;
                let increase = (drawdown - self.drawdown).max(0.0);
                self.drawdown = drawdown;
                log_return - self.penalty * increase
            }
            RewardKind::VolScaled => {
                let bar_return = equity.max(1e-12) / previous.max(1e-12) - 1.0;
                bar_return * self.target_vol / sigma.max(1e-8)
            }
        }
    }
}

/// The turnover penalty of one decision: `λ × |requested − previous|`, targets as signed
/// fractions of equity (see `RewardConfig::turnover_penalty`).
#[inline]
pub fn turnover_penalty(lambda: f64, previous: f64, requested: f64) -> f64 {
    lambda * (requested - previous).abs()
}

/// σ̂ per bar: the exponentially weighted volatility of close-to-close returns
/// `r_i = close_i / close_{i−1} − 1` up to and including bar t (`[n_bars]`, fraction per
/// bar), with α = 2 / (span + 1): `v_t = (1 − α) v_{t−1} + α r_t²`, `σ̂_t = √v_t`,
/// `v_0 = 0`. Causal: σ̂_t uses closes ≤ t. Entries before bar `span` have seen fewer
/// than `span` returns; episodes do not start there (`RewardConfig::lookback`).
pub fn ew_volatility(closes: &[f64], span: usize) -> Vec<f64> {
    let alpha = 2.0 / (span as f64 + 1.0);
    let mut variance = 0.0;
    let mut out = Vec::with_capacity(closes.len());
    out.push(0.0);
    for w in closes.windows(2) {
        let r = w[1] / w[0] - 1.0;
        variance = (1.0 - alpha) * variance + alpha * r * r;
        out.push(variance.sqrt());
    }
    out.truncate(closes.len());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(kind: RewardKind) -> RewardState {
        RewardState::new(&RewardConfig { kind, ..RewardConfig::default() }, 100.0)
    }

    #[test]
    fn log_returns_sum_to_log_growth() {
        let mut s = state(RewardKind::LogReturn);
        let total: f64 = [(100.0, 110.0), (110.0, 99.0)].iter().map(|&(a, b)| s.reward(a, b, 0.0)).sum();
        assert!((total - (99.0f64 / 100.0).ln()).abs() < 1e-12);
    }

    #[test]
    fn drawdown_penalty_charges_only_new_drawdown() {
        let mut s = state(RewardKind::DrawdownPenalty);
        assert_eq!(s.reward(100.0, 100.0, 0.0), 0.0);
        let r = s.reward(100.0, 90.0, 0.0);
        assert!((r - ((0.9f64).ln() - 0.5 * 0.1)).abs() < 1e-12);
        let r = s.reward(90.0, 95.0, 0.0);
        assert!((r - (95.0f64 / 90.0).ln()).abs() < 1e-12, "recovering is not penalized");
    }

    #[test]
    fn differential_sharpe_matches_a_direct_evaluation() {
        let mut s = state(RewardKind::DifferentialSharpe);
        let equities: [f64; 6] = [100.0, 101.0, 100.5, 102.0, 101.0, 103.0];
        let (mut a, mut b) = (0.0f64, 0.0f64);
        for w in equities.windows(2) {
            let r = (w[1] / w[0]).ln();
            let expected =
                if b - a * a > 1e-12 { (b * (r - a) - 0.5 * a * (r * r - b)) / (b - a * a).powf(1.5) } else { 0.0 };
            a += 0.01 * (r - a);
            b += 0.01 * (r * r - b);
            assert!((s.reward(w[0], w[1], 0.0) - expected).abs() < 1e-12);
        }
        // after a few moves the reward is positive for a gain and negative for a loss
        let up = s.clone().reward(103.0, 104.0, 0.0);
        let down = s.reward(103.0, 102.0, 0.0);
        assert!(up > 0.0 && down < 0.0, "{up} {down}");
    }

    #[test]
    fn vol_scaled_divides_the_bar_return_by_sigma() {
        let config = RewardConfig { kind: RewardKind::VolScaled, target_vol: Some(0.01), ..RewardConfig::default() };
        let mut s = RewardState::new(&config, 100.0);
        assert!((s.reward(100.0, 102.0, 0.02) - 0.01).abs() < 1e-12);
        assert!((s.reward(100.0, 99.0, 0.005) + 0.02).abs() < 1e-12);
    }

    #[test]
    fn ew_volatility_is_causal_and_tracks_a_constant_move() {
        let closes: Vec<f64> = (0..200).map(|i| if i % 2 == 0 { 100.0 } else { 101.0 }).collect();
        let sigma = ew_volatility(&closes, 20);
        assert_eq!(sigma.len(), closes.len());
        assert_eq!(sigma[0], 0.0);
        // |r| alternates 1% and ~0.99%: σ̂ settles just under 1%
        assert!((sigma[199] - 0.00995).abs() < 1e-4, "{}", sigma[199]);
        let mut changed = closes.clone();
        changed[150] = 200.0;
        let again = ew_volatility(&changed, 20);
        assert_eq!(sigma[..150], again[..150]);
    }
}
