//! The verdict on one RL arm against one baseline. An RL arm beats a baseline only when
//! two tests pass: the paired 95% bootstrap interval of its Sharpe difference lies
//! entirely above 0 (the difference is not noise on this window), and its Deflated
//! Sharpe Ratio is at least [`DSR_THRESHOLD`] (its Sharpe ratio survives the number of
//! configurations tried, Bailey & López de Prado 2014). It loses to the baseline when
//! the interval lies entirely below 0. Otherwise the report says which test failed.

use serde::{Deserialize, Serialize};

use super::bootstrap::Interval;

/// The Deflated Sharpe Ratio an RL arm needs for "beats": 0.95, the 95% confidence
/// Bailey & López de Prado (2014) use ("The Deflated Sharpe Ratio", *Journal of
/// Portfolio Management* 40(5)) to reject that the best of N trials has no skill.
pub const DSR_THRESHOLD: f64 = 0.95;

/// The verdict on one paired difference RL arm − baseline (JSON: an object with `kind`
/// `beats`, `does_not_beat` or `loses_to`, and the two tests' outcomes for
/// `does_not_beat`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Verdict {
    /// The Sharpe difference's 95% interval lies above 0 and the RL arm's DSR is at
    /// least [`DSR_THRESHOLD`].
    Beats,
    /// Not shown to beat, nor to lose: at least one of the two tests failed.
    DoesNotBeat {
        /// Whether the Sharpe difference's 95% interval lies entirely above 0.
        interval_above_zero: bool,
        /// Whether the RL arm's DSR is defined and at least [`DSR_THRESHOLD`].
        dsr_passes: bool,
    },
    /// The Sharpe difference's 95% interval lies entirely below 0.
    LosesTo,
}

impl Verdict {
    /// The verdict from the Sharpe difference's 95% interval `[lo, hi]` and the RL arm's
    /// DSR (`None` where undefined, which fails the DSR test). An undefined interval (a
    /// NaN bound) is neither above nor below 0.
    pub fn new(sharpe_diff_ci95: Interval, dsr: Option<f64>) -> Self {
        let [lo, hi] = sharpe_diff_ci95;
        let interval_above_zero = lo > 0.0 && !hi.is_nan();
        let dsr_passes = dsr.is_some_and(|d| d >= DSR_THRESHOLD);
        if hi < 0.0 && !lo.is_nan() {
            Self::LosesTo
        } else if interval_above_zero && dsr_passes {
            Self::Beats
        } else {
            Self::DoesNotBeat { interval_above_zero, dsr_passes }
        }
    }

    /// A few words for a table column: `beats`, `does not beat`, `loses to`.
    pub fn short(&self) -> &'static str {
        match self {
            Self::Beats => "beats",
            Self::DoesNotBeat { .. } => "does not beat",
            Self::LosesTo => "loses to",
        }
    }

    /// The verdict as one English sentence naming the RL arm `arm` and the `baseline`,
    /// the interval and the DSR, and, when the arm does not beat the baseline, which
    /// test failed, e.g. "ppo does not beat ma:50:200: the Sharpe difference's 95%
    /// interval [-0.41, 1.20] includes 0, and its DSR of 0.51 is below 0.95."
    pub fn sentence(&self, arm: &str, baseline: &str, sharpe_diff_ci95: Interval, dsr: Option<f64>) -> String {
        let [lo, hi] = sharpe_diff_ci95;
        let interval = if lo.is_nan() || hi.is_nan() {
            "the Sharpe difference's 95% interval is undefined".to_string()
        } else {
            let place = if lo > 0.0 {
                "lies above 0"
            } else if hi < 0.0 {
                "lies below 0"
            } else {
                "includes 0"
            };
            format!("the Sharpe difference's 95% interval [{lo:.2}, {hi:.2}] {place}")
        };
        let dsr_text = match dsr {
            Some(d) if d >= DSR_THRESHOLD => format!("its DSR of {d:.2} is at least {DSR_THRESHOLD:.2}"),
            Some(d) => format!("its DSR of {d:.2} is below {DSR_THRESHOLD:.2}"),
            None => format!("its DSR is undefined (it needs at least {DSR_THRESHOLD:.2})"),
        };
        match self {
            Self::Beats => format!("{arm} beats {baseline}: {interval}, and {dsr_text}."),
            Self::LosesTo => format!("{arm} loses to {baseline}: {interval}."),
            Self::DoesNotBeat { interval_above_zero: true, dsr_passes: false } => {
                format!("{arm} does not beat {baseline}: {interval}, but {dsr_text}.")
            }
            Self::DoesNotBeat { interval_above_zero: false, dsr_passes: true } => {
                format!("{arm} does not beat {baseline}: {interval}, although {dsr_text}.")
            }
            Self::DoesNotBeat { .. } => format!("{arm} does not beat {baseline}: {interval}, and {dsr_text}."),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn beats_needs_both_the_interval_above_zero_and_the_dsr() {
        let cases = [
            ("both pass", [0.1, 0.9], Some(0.97), Verdict::Beats),
            ("exactly the threshold", [0.1, 0.9], Some(0.95), Verdict::Beats),
            (
                "the DSR fails",
                [0.1, 0.9],
                Some(0.51),
                Verdict::DoesNotBeat { interval_above_zero: true, dsr_passes: false },
            ),
            ("no DSR", [0.1, 0.9], None, Verdict::DoesNotBeat { interval_above_zero: true, dsr_passes: false }),
            (
                "the interval includes 0",
                [-0.41, 1.2],
                Some(0.99),
                Verdict::DoesNotBeat { interval_above_zero: false, dsr_passes: true },
            ),
            (
                "an interval touching 0",
                [0.0, 1.2],
                Some(0.99),
                Verdict::DoesNotBeat { interval_above_zero: false, dsr_passes: true },
            ),
            (
                "both fail",
                [-0.41, 1.2],
                Some(0.51),
                Verdict::DoesNotBeat { interval_above_zero: false, dsr_passes: false },
            ),
            ("below 0", [-0.9, -0.1], Some(0.99), Verdict::LosesTo),
            (
                "undefined",
                [f64::NAN, f64::NAN],
                Some(0.99),
                Verdict::DoesNotBeat { interval_above_zero: false, dsr_passes: true },
            ),
        ];
        for (name, interval, dsr, want) in cases {
            assert_eq!(Verdict::new(interval, dsr), want, "{name}");
        }
    }

    #[test]
    fn each_verdict_is_one_sentence_saying_which_test_failed() {
        let cases = [
            (
                [-0.41, 1.2],
                Some(0.51),
                "ppo does not beat ma:50:200: the Sharpe difference's 95% interval [-0.41, 1.20] includes 0, and its DSR of 0.51 is below 0.95.",
            ),
            (
                [0.2, 1.2],
                Some(0.51),
                "ppo does not beat ma:50:200: the Sharpe difference's 95% interval [0.20, 1.20] lies above 0, but its DSR of 0.51 is below 0.95.",
            ),
            (
                [-0.41, 1.2],
                Some(0.97),
                "ppo does not beat ma:50:200: the Sharpe difference's 95% interval [-0.41, 1.20] includes 0, although its DSR of 0.97 is at least 0.95.",
            ),
            (
                [0.2, 1.2],
                Some(0.97),
                "ppo beats ma:50:200: the Sharpe difference's 95% interval [0.20, 1.20] lies above 0, and its DSR of 0.97 is at least 0.95.",
            ),
            (
                [-1.2, -0.2],
                None,
                "ppo loses to ma:50:200: the Sharpe difference's 95% interval [-1.20, -0.20] lies below 0.",
            ),
            (
                [0.2, 1.2],
                None,
                "ppo does not beat ma:50:200: the Sharpe difference's 95% interval [0.20, 1.20] lies above 0, but its DSR is undefined (it needs at least 0.95).",
            ),
        ];
        for (interval, dsr, want) in cases {
            let v = Verdict::new(interval, dsr);
            assert_eq!(v.sentence("ppo", "ma:50:200", interval, dsr), want);
        }
        let json = serde_json::to_value(Verdict::DoesNotBeat { interval_above_zero: true, dsr_passes: false }).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"kind": "does_not_beat", "interval_above_zero": true, "dsr_passes": false})
        );
        assert_eq!(serde_json::to_value(Verdict::Beats).unwrap(), serde_json::json!({"kind": "beats"}));
    }
}
