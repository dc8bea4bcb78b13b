//! The trained PPO policy as an [`rltrade_env::Policy`]: greedy over the actor's
//! logits, ties to the lowest action index, on plain-f32 weights; with the run's
//! decision interval and switching hysteresis (`env.decision_interval`,
//! `env.switch_margin`), as the exported model will trade.

use rltrade_env::decision::{softmax_into, switch_with_margin};
use rltrade_env::policy::greedy_action;
use rltrade_env::{DecisionContext, EnvConfig, Policy, Warmup};

use crate::mlp::{ActorCriticWeights, Scratch};

/// Greedy PPO policy.
#[derive(Clone, Debug)]
pub struct GreedyPolicy {
    name: String,
    weights: ActorCriticWeights,
    scratch: Scratch,
    logits: Vec<f32>,
    probs: Vec<f32>,
    decision_interval: u32,
    switch_margin: f64,
}

impl GreedyPolicy {
    /// A policy named `name` (reports) acting with `weights`, deciding at every bar,
    /// plain greedy.
    pub fn new(name: impl Into<String>, weights: ActorCriticWeights) -> Self {
        let logits = vec![0.0; weights.actor.d_out()];
        Self {
            name: name.into(),
            scratch: weights.scratch(),
            weights,
            probs: logits.clone(),
            logits,
            decision_interval: 1,
            switch_margin: 0.0,
        }
    }

    /// The same policy deciding as `env` says: every `env.decision_interval` bars, with
    /// `env.switch_margin` hysteresis.
    #[must_use]
    pub fn with_decision_rules(mut self, env: &EnvConfig) -> Self {
        self.decision_interval = env.decision_interval;
        self.switch_margin = env.switch_margin;
        self
    }
}

impl Policy for GreedyPolicy {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn warmup(&self) -> Warmup {
        Warmup::Observation
    }

    fn decision_interval(&self) -> u32 {
        self.decision_interval
    }

    fn act(&mut self, obs: &[f32], context: &DecisionContext<'_>) -> usize {
        self.weights.logits(obs, &mut self.scratch, &mut self.logits);
        if self.switch_margin <= 0.0 {
            return greedy_action(&self.logits);
        }
        softmax_into(&self.logits, &mut self.probs);
        switch_with_margin(&self.probs, context.actions, context.requested_target, self.switch_margin)
    }

    fn reset(&mut self) {}
}
