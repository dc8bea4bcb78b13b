//! The trained PPO policy as an [`rltrade_env::Policy`]: greedy over the actor's
//! logits, ties to the lowest action index, on plain-f32 weights.

use rltrade_env::policy::greedy_action;
use rltrade_env::{DecisionContext, Policy, Warmup};

use crate::mlp::{ActorCriticWeights, Scratch};

/// Greedy PPO policy.
#[derive(Clone, Debug)]
pub struct GreedyPolicy {
    name: String,
    weights: ActorCriticWeights,
    scratch: Scratch,
    logits: Vec<f32>,
}

impl GreedyPolicy {
    /// A policy named `name` (reports) acting with `weights`.
    pub fn new(name: impl Into<String>, weights: ActorCriticWeights) -> Self {
        let logits = vec![0.0; weights.actor.d_out()];
        Self { name: name.into(), scratch: weights.scratch(), weights, logits }
    }
}

impl Policy for GreedyPolicy {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn warmup(&self) -> Warmup {
        Warmup::Observation
    }

    fn act(&mut self, obs: &[f32], _context: &DecisionContext<'_>) -> usize {
        self.weights.logits(obs, &mut self.scratch, &mut self.logits);
        greedy_action(&self.logits)
    }

    fn reset(&mut self) {}
}
