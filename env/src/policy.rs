//! The `Policy` trait: what every strategy (baselines, the PPO agent, the exported
//! ONNX model) implements, so the backtest and the daemon run them all the same way.

use crate::bar::Bar;

/// What a policy sees besides the observation when it decides at a bar's close.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DecisionContext<'a> {
    /// The bar just closed.
    pub bar: &'a Bar,
    /// Its index in the series.
    pub index: usize,
    /// The target exposure of the last approved order (signed fraction of equity).
    pub current_target: f64,
    /// The target exposure the policy asked for last, approved or not (what switching
    /// hysteresis holds on to; see [`crate::decision::switch_with_margin`]).
    pub requested_target: f64,
    /// The action list: action `i` targets exposure `actions[i]`.
    pub actions: &'a [f64],
}

/// How much history a policy needs before its first decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Warmup {
    /// It can decide at the close of this 0-based bar index at the earliest.
    Bars(usize),
    /// It needs a full observation window of valid features (the env knows where).
    Observation,
}

/// A trading policy: observation and bar context in, action index out.
pub trait Policy {
    /// A short name for reports (`buy-and-hold`, `ma:50:200`, a run name).
    fn name(&self) -> String;

    /// The history the policy needs before it can decide.
    fn warmup(&self) -> Warmup;
    /// Decide every k bars ([`crate::decision::DecisionSchedule`]); the
    /// [`crate::trader::Trader`] asks it only on decision bars. The default, 1, decides
    /// at every bar (the baselines).
    fn decision_interval(&self) -> u32 {
        1
    }

    /// Sees every bar in order, warm-up bars included, before `act` at that bar.
    /// Baselines update their indicators here; the default does nothing.
    fn on_bar(&mut self, _bar: &Bar) {}

    /// Called once before the first decision of a backtest window, after the warm-up
    /// bars before the close it first decides at. Signal-driven policies forget events
    /// seen during warm-up here (the MA crossover takes no position before the first
    /// cross it can act on); the default does nothing.
    fn begin_window(&mut self) {}

    /// The action at `context.bar`'s close; `obs` is the env's observation there
    /// (`[obs_dim]` f32). The returned index must be < `context.actions.len()`.
    fn act(&mut self, obs: &[f32], context: &DecisionContext<'_>) -> usize;

    /// Forgets all state (a new run).
    fn reset(&mut self);

    /// Takes the failure of the last [`Self::act`], if any: a decision the policy could
    /// not make (an inference error, a NaN output). [`crate::trader::Trader`] asks after
    /// every decision and places no order then; [`crate::backtest::run_backtest`] fails
    /// with the first one. The default never fails.
    fn take_failure(&mut self) -> Option<String> {
        None
    }
}

/// A borrowed policy is a policy: the backtest drives a caller's `&mut dyn Policy`
/// through the same [`crate::trader::Trader`] as an owned one.
impl<P: Policy + ?Sized> Policy for &mut P {
    fn name(&self) -> String {
        (**self).name()
    }
    fn warmup(&self) -> Warmup {
        (**self).warmup()
    }
    fn decision_interval(&self) -> u32 {
        (**self).decision_interval()
    }
    fn on_bar(&mut self, bar: &Bar) {
        (**self).on_bar(bar);
    }
    fn begin_window(&mut self) {
        (**self).begin_window();
    }
    fn act(&mut self, obs: &[f32], context: &DecisionContext<'_>) -> usize {
        (**self).act(obs, context)
    }
    fn reset(&mut self) {
        (**self).reset();
    }
    fn take_failure(&mut self) -> Option<String> {
        (**self).take_failure()
    }
}

/// The index of the largest value, ties to the lowest index (NaN never wins).
/// The greedy action of a policy's probabilities or logits.
///
/// # Panics
/// Panics on an empty slice.
pub fn greedy_action(values: &[f32]) -> usize {
    assert!(!values.is_empty(), "greedy_action of an empty slice");
    let mut best = 0;
    for (i, &v) in values.iter().enumerate().skip(1) {
        if v > values[best] || values[best].is_nan() && !v.is_nan() {
            best = i;
        }
    }
    best
}

/// The index of `target` in `actions` (exact match), if present.
pub fn action_index(actions: &[f64], target: f64) -> Option<usize> {
    actions.iter().position(|&a| a == target)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greedy_ties_go_to_the_lowest_index() {
        let cases: [(&[f32], usize); 5] = [
            (&[0.5, 0.5], 0),
            (&[0.2, 0.4, 0.4], 1),
            (&[0.1, 0.2, 0.7], 2),
            (&[f32::NAN, 0.1], 1),
            (&[0.3, f32::NAN, 0.3], 0),
        ];
        for (values, expected) in cases {
            assert_eq!(greedy_action(values), expected, "{values:?}");
        }
    }
}
