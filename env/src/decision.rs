//! When and how a learned policy decides: the decision schedule (`env.decision_interval`)
//! and switching hysteresis (`env.switch_margin`).
//!
//! One home for both, used by the training environment ([`crate::TradingEnv`]), the
//! backtest and the daemon (through [`crate::Trader`]) and validation during training,
//! so every driver decides on the same bars and switches on the same probabilities.
//!
//! Sources: acting every k bars and charging for changes of position are the usual
//! answers to overtrading in direct reinforcement trading — Moody & Saffell, "Learning
//! to Trade via Direct Reinforcement", IEEE Trans. Neural Networks 12(4), 2001 (the
//! transaction-cost term); Zhang, Zohren & Roberts, "Deep Reinforcement Learning for
//! Trading", J. Financial Data Science 2(2), 2020 (cost term and volatility scaling).
//! Hysteresis (a no-trade band around the current position) is the classic result
//! for proportional costs: Davis & Norman, "Portfolio Selection with Transaction
//! Costs", Math. Oper. Res. 15(4), 1990.

use serde::{Deserialize, Serialize};

use crate::bar::Bar;
use crate::policy::{action_index, greedy_action};

/// The bars a policy decides at: those whose close time is a whole multiple of
/// `every × interval_ms` since the Unix epoch (UTC). With `every = 1` every bar is a
/// decision bar, whatever its alignment. A decision bar missing from the data skips
/// that decision; between decisions the requested target holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecisionSchedule {
    /// Decide every this many bars (k ≥ 1).
    pub every: u32,
    /// The bar interval, ms.
    pub interval_ms: i64,
}

impl DecisionSchedule {
    /// A decision every `every` bars of `interval_ms` (`every` ≥ 1 is validated by
    /// [`crate::EnvConfig::validate`]; 0 is treated as 1).
    pub fn new(every: u32, interval_ms: i64) -> Self {
        Self { every: every.max(1), interval_ms }
    }

    /// Every bar decides (k = 1).
    pub fn every_bar(interval_ms: i64) -> Self {
        Self::new(1, interval_ms)
    }

    /// True when the policy decides at `bar`'s close (open time `bar.time_ms`, close
    /// time `bar.time_ms + interval_ms`).
    #[inline]
    pub fn is_decision_bar(&self, bar: &Bar) -> bool {
        self.is_decision_time(bar.time_ms)
    }

    /// [`Self::is_decision_bar`] for a bar opening at `time_ms`, ms since epoch UTC.
    #[inline]
    pub fn is_decision_time(&self, time_ms: i64) -> bool {
        self.every <= 1 || (time_ms + self.interval_ms).rem_euclid(i64::from(self.every) * self.interval_ms) == 0
    }
}

/// The greedy action with switching hysteresis: the best action (ties to the lowest
/// index, [`greedy_action`]) replaces the current requested target's action only when
/// its probability exceeds that action's by more than `margin`. With `margin = 0`, or
/// when `requested_target` is not one of `actions`, it is plain greedy.
///
/// `probs`: `[n_actions]` probabilities; `actions`: the target exposures;
/// `margin` in [0, 1).
///
/// # Panics
/// Panics on empty `probs`.
#[inline]
pub fn switch_with_margin(probs: &[f32], actions: &[f64], requested_target: f64, margin: f64) -> usize {
    let best = greedy_action(probs);
    if margin <= 0.0 {
        return best;
    }
    match action_index(actions, requested_target) {
        Some(current) if current < probs.len() => {
            if f64::from(probs[best]) - f64::from(probs[current]) > margin {
                best
            } else {
                current
            }
        }
        _ => best,
    }
}

/// Softmax of `logits` into `probs` (same length), computed in f64 and rounded to f32,
/// as the exported ONNX graph's `Softmax` would (up to rounding).
pub fn softmax_into(logits: &[f32], probs: &mut [f32]) {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0f64;
    for (p, &l) in probs.iter_mut().zip(logits) {
        let e = f64::from(l - max).exp();
        *p = e as f32;
        sum += e;
    }
    for p in probs.iter_mut() {
        *p = (f64::from(*p) / sum) as f32;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000;

    #[test]
    fn decision_bars_close_on_multiples_of_k_intervals() {
        let schedule = DecisionSchedule::new(4, HOUR);
        // bars opening at 03:00, 07:00, ... close at 04:00, 08:00 UTC
        let decisions: Vec<i64> = (0..12).filter(|h| schedule.is_decision_time(h * HOUR)).collect();
        assert_eq!(decisions, vec![3, 7, 11]);
        assert!((0..12).all(|h| DecisionSchedule::every_bar(HOUR).is_decision_time(h * HOUR + 1)));
        // before the epoch too
        assert!(schedule.is_decision_time(-HOUR));
    }

    #[test]
    fn hysteresis_keeps_the_current_target_inside_the_margin() {
        let actions = [0.0, 1.0];
        assert_eq!(switch_with_margin(&[0.45, 0.55], &actions, 0.0, 0.2), 0);
        assert_eq!(switch_with_margin(&[0.35, 0.65], &actions, 0.0, 0.2), 1);
        // margin 0 is plain greedy (ties to the lowest index)
        assert_eq!(switch_with_margin(&[0.5, 0.5], &actions, 1.0, 0.0), 0);
        // a current target outside the action list: no hysteresis
        assert_eq!(switch_with_margin(&[0.45, 0.55], &actions, 0.5, 0.2), 1);
    }

    #[test]
    fn softmax_sums_to_one() {
        let mut p = [0.0f32; 3];
        softmax_into(&[1.0, 2.0, 3.0], &mut p);
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!(p[2] > p[1] && p[1] > p[0]);
    }
}
