//! Rollout storage `[n_steps, n_envs]` and its collection with the plain-f32 policy
//! (no autodiff, no allocation per step). Names follow CleanRL's `ppo.py`.

use rand::{Rng, RngExt};

use crate::error::Result;
use crate::mlp::{ActorCriticWeights, Scratch, log_softmax};
use crate::vector_env::{VecStepBuffers, VectorEnv};

/// One rollout's data, row-major `[n_steps, n_envs]` (obs: `[n_steps, n_envs, obs_dim]`).
#[derive(Clone, Debug)]
pub struct Rollout {
    /// Steps per env.
    pub n_steps: usize,
    /// Envs.
    pub n_envs: usize,
    /// Observation length.
    pub obs_dim: usize,
    /// Observations the actions were taken on.
    pub obs: Vec<f32>,
    /// Actions taken.
    pub actions: Vec<usize>,
    /// Log-probabilities of the actions under the rollout policy.
    pub logprobs: Vec<f32>,
    /// Rewards (truncated episodes get `γ V(final obs)` added: bootstrapping).
    pub rewards: Vec<f32>,
    /// The step ended the episode (terminated or truncated).
    pub ends: Vec<bool>,
    /// Critic values of `obs`.
    pub values: Vec<f32>,
    /// Critic values of the observations after the last step, `[n_envs]`.
    pub next_values: Vec<f32>,
    /// Returns and lengths of the episodes that ended during the rollout.
    pub episodes: Vec<(f64, u32)>,
}

/// Collects rollouts from a [`VectorEnv`], carrying the next observation between them.
#[derive(Clone, Debug)]
pub struct Collector {
    /// Current observations `[n_envs, obs_dim]` (CleanRL's `next_obs`).
    pub next_obs: Vec<f32>,
    out: VecStepBuffers,
    actions: Vec<usize>,
    logits: Vec<f32>,
    scratch: Scratch,
}

impl Collector {
    /// Resets `env` and prepares buffers.
    ///
    /// # Errors
    /// Environment errors.
    pub fn new<E: VectorEnv>(env: &mut E, weights: &ActorCriticWeights) -> Result<Self> {
        let (n, d) = (env.n_envs(), env.obs_dim());
        let mut next_obs = vec![0.0; n * d];
        env.reset(&mut next_obs)?;
        Self::resume(env, weights, next_obs)
    }

    /// A collector that continues from the observations `next_obs` (`[n_envs, obs_dim]`)
    /// pending when a run was checkpointed; `env` is not reset (it was restored).
    ///
    /// # Errors
    /// [`rltrade_env::Error::BufferSize`] when `next_obs` does not fit `env`.
    pub fn resume<E: VectorEnv>(env: &E, weights: &ActorCriticWeights, next_obs: Vec<f32>) -> Result<Self> {
        let (n, d) = (env.n_envs(), env.obs_dim());
        if next_obs.len() != n * d {
            return Err(
                rltrade_env::Error::BufferSize { name: "next_obs", expected: n * d, found: next_obs.len() }.into()
            );
        }
        Ok(Self {
            next_obs,
            out: VecStepBuffers::new(n, d),
            actions: vec![0; n],
            logits: vec![0.0; env.n_actions()],
            scratch: weights.scratch(),
        })
    }

    /// Runs `n_steps` steps of every env with actions sampled from `weights`' policy,
    /// filling `rollout`.
    ///
    /// # Errors
    /// Environment errors.
    pub fn collect<E: VectorEnv>(
        &mut self,
        env: &mut E,
        weights: &ActorCriticWeights,
        gamma: f64,
        rng: &mut impl Rng,
        rollout: &mut Rollout,
    ) -> Result<()> {
        let (n, d) = (rollout.n_envs, rollout.obs_dim);
        rollout.episodes.clear();
        for step in 0..rollout.n_steps {
            let base = step * n;
            rollout.obs[base * d..(base + n) * d].copy_from_slice(&self.next_obs);
            for i in 0..n {
                let obs = &self.next_obs[i * d..(i + 1) * d];
                weights.logits(obs, &mut self.scratch, &mut self.logits);
                log_softmax(&mut self.logits);
                let action = sample(&self.logits, rng.random::<f32>());
                self.actions[i] = action;
                rollout.actions[base + i] = action;
                rollout.logprobs[base + i] = self.logits[action];
                rollout.values[base + i] = weights.value(obs, &mut self.scratch);
            }
            env.step(&self.actions, &mut self.out)?;
            for i in 0..n {
                let (terminated, truncated) = (self.out.terminated[i], self.out.truncated[i]);
                let mut reward = self.out.rewards[i];
                if truncated && !terminated {
                    // the episode was cut, not finished: bootstrap from its last state
                    let final_obs = &self.out.final_obs[i * d..(i + 1) * d];
                    reward += (gamma * f64::from(weights.value(final_obs, &mut self.scratch))) as f32;
                }
                rollout.rewards[base + i] = reward;
                rollout.ends[base + i] = terminated || truncated;
                if terminated || truncated {
                    rollout.episodes.push((self.out.episode_return[i], self.out.episode_length[i]));
                }
            }
            self.next_obs.copy_from_slice(&self.out.obs);
        }
        for i in 0..n {
            rollout.next_values[i] = weights.value(&self.next_obs[i * d..(i + 1) * d], &mut self.scratch);
        }
        Ok(())
    }
}

impl Rollout {
    /// Zeroed storage.
    pub fn new(n_steps: usize, n_envs: usize, obs_dim: usize) -> Self {
        let n = n_steps * n_envs;
        Self {
            n_steps,
            n_envs,
            obs_dim,
            obs: vec![0.0; n * obs_dim],
            actions: vec![0; n],
            logprobs: vec![0.0; n],
            rewards: vec![0.0; n],
            ends: vec![false; n],
            values: vec![0.0; n],
            next_values: vec![0.0; n_envs],
            episodes: Vec::new(),
        }
    }

    /// Transitions stored: `n_steps × n_envs`.
    pub fn len(&self) -> usize {
        self.actions.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.actions.is_empty()
    }
}

/// Samples an index from log-probabilities with a uniform draw `u` in [0, 1)
/// (inverse CDF; the last index takes any rounding remainder).
#[inline]
pub fn sample(log_probs: &[f32], u: f32) -> usize {
    let mut cumulative = 0.0f32;
    for (i, lp) in log_probs.iter().enumerate() {
        cumulative += lp.exp();
        if u < cumulative {
            return i;
        }
    }
    log_probs.len() - 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampling_follows_the_probabilities() {
        let lp = [0.25f32.ln(), 0.75f32.ln()];
        assert_eq!(sample(&lp, 0.0), 0);
        assert_eq!(sample(&lp, 0.2499), 0);
        assert_eq!(sample(&lp, 0.2501), 1);
        assert_eq!(sample(&lp, 0.9999999), 1);
    }
}
