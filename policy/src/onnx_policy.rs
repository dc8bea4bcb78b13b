//! [`OnnxPolicy`]: an exported model as an env [`Policy`], greedy over its probabilities
//! (ties to the lowest index) with the card's switching hysteresis, deciding every
//! `decision_interval` bars as the card says, so backtests and the daemon run it like
//! any strategy.

use rltrade_env::decision::switch_with_margin;
use rltrade_env::policy::action_index;
use rltrade_env::{DecisionContext, Policy, Warmup};

use crate::error::Error;
use crate::onnx_model::OnnxModel;

/// The greedy policy of an [`OnnxModel`].
///
/// `act` cannot fail, so a failed inference or invalid output (NaN, a probability
/// outside [0, 1]) places no new order: the policy keeps the current target (the action
/// whose exposure equals it, else action 0, flat in the default action list), counts
/// the event in [`Self::invalid_outputs`] and keeps the first error for
/// [`Self::take_error`] ([`Policy::take_failure`]). The [`rltrade_env::Trader`] that
/// drives it places no order at such a decision, and
/// [`rltrade_env::backtest::run_backtest`] fails when one happened.
#[derive(Debug)]
pub struct OnnxPolicy {
    model: OnnxModel,
    name: String,
    probs: Vec<f32>,
    logits: Vec<f32>,
    invalid_outputs: u64,
    first_error: Option<Error>,
    /// `probs` and `logits` hold the next `act`'s outputs, inferred by the caller in a
    /// batch ([`Self::preset_outputs`]).
    preset: bool,
}

impl OnnxPolicy {
    /// Wraps a loaded model; its name is the card's run name.
    pub fn new(model: OnnxModel) -> Self {
        let n = model.n_actions();
        let name = model.card().name.clone();
        Self {
            model,
            name,
            probs: vec![0.0; n],
            logits: vec![0.0; n],
            invalid_outputs: 0,
            first_error: None,
            preset: false,
        }
    }

    /// Renames the policy (arm names in comparisons).
    #[must_use]
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// The model.
    pub fn model(&self) -> &OnnxModel {
        &self.model
    }

    /// The model, mutable: to run one batched inference for several policies of the
    /// same model ([`OnnxModel::infer`] with `batch > 1`), whose rows are then handed to
    /// each with [`Self::preset_outputs`].
    pub fn model_mut(&mut self) -> &mut OnnxModel {
        &mut self.model
    }

    /// Sets the outputs of the next [`Policy::act`], which then runs no inference of its
    /// own: `probs` and `logits` are this policy's row of a batched inference of its
    /// model, `[n_actions]` each. `act` checks them as it checks its own (an invalid
    /// output holds the current target). Returns false, setting nothing (the next `act`
    /// infers), when a slice is not `[n_actions]` long.
    #[must_use]
    pub fn preset_outputs(&mut self, probs: &[f32], logits: &[f32]) -> bool {
        if probs.len() != self.probs.len() || logits.len() != self.logits.len() {
            return false;
        }
        self.probs.copy_from_slice(probs);
        self.logits.copy_from_slice(logits);
        self.preset = true;
        true
    }

    /// The probabilities of the last decision, `[n_actions]`.
    pub fn last_probs(&self) -> &[f32] {
        &self.probs
    }

    /// Decisions that placed no order because inference failed or gave invalid outputs.
    pub fn invalid_outputs(&self) -> u64 {
        self.invalid_outputs
    }

    /// The first inference error, if any (taken: later calls return `None`).
    pub fn take_error(&mut self) -> Option<Error> {
        self.first_error.take()
    }

    fn hold(&mut self, context: &DecisionContext<'_>, error: Error) -> usize {
        self.invalid_outputs += 1;
        if self.first_error.is_none() {
            self.first_error = Some(error);
        }
        action_index(context.actions, context.current_target).unwrap_or(0)
    }
}

impl Policy for OnnxPolicy {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn warmup(&self) -> Warmup {
        Warmup::Observation
    }

    fn act(&mut self, obs: &[f32], context: &DecisionContext<'_>) -> usize {
        let inferred = if std::mem::take(&mut self.preset) {
            Ok(())
        } else {
            self.model.infer(obs, 1, &mut self.probs, &mut self.logits)
        };
        if let Err(e) = inferred {
            return self.hold(context, e);
        }
        if self.probs.iter().any(|p| !(0.0..=1.0).contains(p)) || self.logits.iter().any(|l| !l.is_finite()) {
            let message = format!(
                "invalid output at bar {} (probs {:?}, logits {:?}): no order placed",
                context.index, self.probs, self.logits
            );
            let path = self.model.export_dir().to_path_buf();
            return self.hold(context, Error::Onnx { path, message });
        }
        let card = self.model.card();
        switch_with_margin(&self.probs, context.actions, context.requested_target, card.switch_margin)
    }

    fn decision_interval(&self) -> u32 {
        self.model.card().decision_interval
    }

    fn reset(&mut self) {
        self.preset = false;
        self.probs.fill(0.0);
        self.logits.fill(0.0);
        self.invalid_outputs = 0;
        self.first_error = None;
    }

    fn take_failure(&mut self) -> Option<String> {
        self.take_error().map(|e| e.to_string())
    }
}
