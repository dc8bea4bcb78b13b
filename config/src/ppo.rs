//! `PpoConfig` (TOML section `[ppo]`): PPO hyperparameters. Defaults are
//! Stable-Baselines3's `PPO` defaults (https://stable-baselines3.readthedocs.io, "PPO"
//! parameters) except where a field says otherwise; CleanRL's values are noted.

use serde::{Deserialize, Serialize};

use rltrade_env::{Error, Result};

/// The most threads `ppo.env_threads` and `ppo.update_threads` (and the CLI's thread
/// flags) may ask for.
pub const MAX_THREADS: usize = 256;

/// PPO hyperparameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PpoConfig {
    /// Environments stepped in parallel. Default 1 (SB3 `make_vec_env`); CleanRL 4.
    pub n_envs: usize,
    /// Threads stepping the environments (the VecEnv's worker pool). Default 1.
    pub env_threads: usize,
    /// Threads of the gradient update (a rayon pool): each minibatch's layers run in
    /// shards of 64 rows ([`crate::fused_linear::SHARD_ROWS`]) spread over them. The
    /// shards do not depend on the thread count, so any value trains the same weights, bit
    /// for bit. Default: none, meaning 1: on the 2-core machine two threads were slower at
    /// every measured size (the README's performance section has the figures).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub update_threads: Option<usize>,
    /// Steps per env per rollout. Default 2048 (SB3); CleanRL 128.
    pub n_steps: usize,
    /// Environment steps in total (all envs). Default 1,000,000.
    pub total_steps: u64,
    /// Adam learning rate. Default 3e-4 (SB3); CleanRL 2.5e-4.
    pub learning_rate: f64,
    /// Anneal the learning rate linearly to 0 over training. Default false (SB3's
    /// constant schedule); CleanRL true.
    pub anneal_lr: bool,
    /// Discount γ. Default 0.99.
    pub gamma: f64,
    /// GAE λ (Schulman et al., "High-Dimensional Continuous Control Using Generalized
    /// Advantage Estimation", 2016). Default 0.95.
    pub gae_lambda: f64,
    /// Minibatch size. Default 64 (SB3); CleanRL uses 4 minibatches per rollout.
    pub batch_size: usize,
    /// Epochs over each rollout. Default 10 (SB3); CleanRL 4.
    pub n_epochs: usize,
    /// Clip range ε of the surrogate objective (Schulman et al. 2017, eq. 7). Default 0.2.
    pub clip_range: f64,
    /// Clip the value loss around the old values with the same ε. Default false (SB3
    /// `clip_range_vf=None`); CleanRL true.
    pub clip_vloss: bool,
    /// Normalize advantages per minibatch. Default true.
    pub normalize_advantage: bool,
    /// Entropy bonus coefficient. Default 0.0 (SB3); CleanRL 0.01.
    pub ent_coef: f64,
    /// Value loss coefficient. Default 0.5.
    pub vf_coef: f64,
    /// Global gradient-norm clip. Default 0.5.
    pub max_grad_norm: f64,
    /// Stop an update's epochs early once the approximate KL passes this. Default: none.
    pub target_kl: Option<f64>,
    /// Adam ε. Default 1e-5 (CleanRL and Huang et al. 2022 detail 3; PyTorch's own
    /// default is 1e-8).
    pub adam_eps: f64,
    /// Hidden layer widths of actor and critic. Default `[64, 64]`.
    pub hidden: Vec<usize>,
}

impl Default for PpoConfig {
    fn default() -> Self {
        Self {
            n_envs: 1,
            env_threads: 1,
            update_threads: None,
            n_steps: 2048,
            total_steps: 1_000_000,
            learning_rate: 3e-4,
            anneal_lr: false,
            gamma: 0.99,
            gae_lambda: 0.95,
            batch_size: 64,
            n_epochs: 10,
            clip_range: 0.2,
            clip_vloss: false,
            normalize_advantage: true,
            ent_coef: 0.0,
            vf_coef: 0.5,
            max_grad_norm: 0.5,
            target_kl: None,
            adam_eps: 1e-5,
            hidden: vec![64, 64],
        }
    }
}

impl PpoConfig {
    /// The update's thread count: [`Self::update_threads`], 1 when unset.
    pub fn update_thread_count(&self) -> usize {
        self.update_threads.unwrap_or(1)
    }

    /// Steps per rollout over all envs: `n_envs × n_steps`.
    pub fn rollout_size(&self) -> usize {
        self.n_envs * self.n_steps
    }

    /// Updates in a run: `total_steps / rollout_size` (at least 1).
    pub fn num_updates(&self) -> u64 {
        (self.total_steps / self.rollout_size() as u64).max(1)
    }

    /// Checks ranges.
    ///
    /// # Errors
    /// [`Error::Config`] naming the field (`ppo.<name>`).
    pub fn validate(&self) -> Result<()> {
        let bad = |field: &str, message: String| Err(Error::Config { field: format!("ppo.{field}"), message });
        for (field, v) in [("n_envs", self.n_envs), ("env_threads", self.env_threads), ("n_steps", self.n_steps)] {
            if v == 0 {
                return bad(field, "must be >= 1".into());
            }
        }
        if self.update_threads == Some(0) {
            return bad("update_threads", "must be >= 1".into());
        }
        for (field, v) in [("env_threads", self.env_threads), ("update_threads", self.update_thread_count())] {
            if v > MAX_THREADS {
                return bad(field, format!("must be at most {MAX_THREADS}, found {v}"));
            }
        }
        if self.batch_size == 0 || self.batch_size > self.rollout_size() {
            return bad("batch_size", format!("must be in 1..={} (n_envs × n_steps)", self.rollout_size()));
        }
        if self.n_epochs == 0 {
            return bad("n_epochs", "must be >= 1".into());
        }
        for (field, v, lo, hi) in [
            ("learning_rate", self.learning_rate, 0.0, 1.0),
            ("gamma", self.gamma, 0.0, 1.0),
            ("gae_lambda", self.gae_lambda, 0.0, 1.0),
            ("clip_range", self.clip_range, 0.0, 10.0),
            ("max_grad_norm", self.max_grad_norm, 0.0, f64::INFINITY),
            ("adam_eps", self.adam_eps, 0.0, 1.0),
        ] {
            if !(v > lo && v <= hi) {
                return bad(field, format!("must be in ({lo}, {hi}], found {v}"));
            }
        }
        for (field, v) in [("ent_coef", self.ent_coef), ("vf_coef", self.vf_coef)] {
            if !(v.is_finite() && v >= 0.0) {
                return bad(field, format!("must be finite and >= 0, found {v}"));
            }
        }
        if self.total_steps < self.rollout_size() as u64 {
            return bad(
                "total_steps",
                format!("{} is less than one rollout ({})", self.total_steps, self.rollout_size()),
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_update_threads_is_an_error_naming_the_setting() {
        let config = PpoConfig { update_threads: Some(0), ..PpoConfig::default() };
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains("ppo.update_threads"), "{err}");
        let config = PpoConfig { update_threads: Some(usize::MAX), ..PpoConfig::default() };
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains("ppo.update_threads") && err.contains("at most 256"), "{err}");
        assert_eq!(PpoConfig::default().update_thread_count(), 1);
        assert_eq!(PpoConfig { update_threads: Some(2), ..PpoConfig::default() }.update_thread_count(), 2);
    }
}
