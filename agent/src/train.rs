//! The training loop: collect a rollout with the plain-f32 policy, update with burn,
//! copy the new weights back, report; CleanRL's loop without the logging, which the
//! caller does in `on_update`.

use std::time::Instant;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::actor_critic::ActorCriticConfig;
use crate::config::PpoConfig;
use crate::error::Result;
use crate::mlp::ActorCriticWeights;
use crate::ppo::{Learner, UpdateStats};
use crate::rollout::{Collector, Rollout};
use crate::vector_env::VectorEnv;

/// What a seed is used for: each purpose gets its own generator derived from the run's
/// one seed ([`derive_seed`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u64)]
pub enum SeedPurpose {
    /// Environment resets (the VecEnv's streams).
    Env = 1,
    /// Weight initialization.
    Init = 2,
    /// Action sampling and minibatch shuffles.
    Agent = 3,
}

/// A seed for `purpose` derived from the run's `seed` by SplitMix64 (Steele, Lea &
/// Flood, "Fast Splittable Pseudorandom Number Generators", OOPSLA 2014).
pub fn derive_seed(seed: u64, purpose: SeedPurpose) -> u64 {
    let mut z = seed.wrapping_add((purpose as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// What the loop reports after each update.
pub struct UpdateLog<'a> {
    /// 1-based update number.
    pub update: u64,
    /// Updates in the run.
    pub num_updates: u64,
    /// Environment steps so far (all envs).
    pub global_step: u64,
    /// The update's diagnostics.
    pub stats: &'a UpdateStats,
    /// (return, length) of the episodes that ended in this update's rollout.
    pub episodes: &'a [(f64, u32)],
    /// Environment steps per wall second over the run so far.
    pub steps_per_second: f64,
    /// Seconds this update spent collecting and updating.
    pub collect_seconds: f64,
    /// Seconds of the gradient update.
    pub update_seconds: f64,
    /// The learner after the update.
    pub learner: &'a Learner,
    /// The policy weights after the update.
    pub weights: &'a ActorCriticWeights,
}

/// Whether to go on after an update.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Control {
    /// Next update.
    Continue,
    /// Stop here (early success, a signal).
    Stop,
}

/// The end of a run.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainSummary {
    /// Environment steps taken.
    pub total_steps: u64,
    /// Updates run.
    pub updates: u64,
    /// Environment steps per wall second.
    pub steps_per_second: f64,
    /// Returns of every finished episode, in order.
    pub episode_returns: Vec<f64>,
    /// Seconds spent collecting rollouts.
    pub collect_seconds: f64,
    /// Seconds spent in gradient updates.
    pub update_seconds: f64,
}

impl TrainSummary {
    /// Mean return of the last 20 finished episodes (`None` before any).
    pub fn mean_return_last_20(&self) -> Option<f64> {
        mean_last(&self.episode_returns, 20)
    }
}

/// Mean of the last `k` values (`None` when empty).
pub fn mean_last(values: &[f64], k: usize) -> Option<f64> {
    let tail = &values[values.len().saturating_sub(k)..];
    (!tail.is_empty()).then(|| tail.iter().sum::<f64>() / tail.len() as f64)
}

/// Trains a fresh actor-critic on `env` with `config`, seeded by `seed` (the caller
/// seeds `env` with `derive_seed(seed, SeedPurpose::Env)`). `on_update` runs after each
/// update and may stop the run.
///
/// # Errors
/// Invalid config, environment errors, divergence, or an error from `on_update`.
pub fn train<E: VectorEnv>(
    env: &mut E,
    config: &PpoConfig,
    seed: u64,
    mut on_update: impl FnMut(&UpdateLog<'_>) -> Result<Control>,
) -> Result<(Learner, ActorCriticWeights, TrainSummary)> {
    config.validate()?;
    let device = crate::training_device();
    let model = ActorCriticConfig::new(env.obs_dim(), env.n_actions())
        .with_hidden(config.hidden.clone())
        .init(derive_seed(seed, SeedPurpose::Init), &device)?;
    let mut learner = Learner::new(model, config, device);
    let mut weights = learner.model.to_weights()?;
    let mut rng = ChaCha8Rng::seed_from_u64(derive_seed(seed, SeedPurpose::Agent));
    let mut collector = Collector::new(env, &weights)?;
    let mut rollout = Rollout::new(config.n_steps, config.n_envs.max(env.n_envs()), env.obs_dim());
    let num_updates = config.num_updates();
    let start = Instant::now();
    let mut summary = TrainSummary {
        total_steps: 0,
        updates: 0,
        steps_per_second: 0.0,
        episode_returns: Vec::new(),
        collect_seconds: 0.0,
        update_seconds: 0.0,
    };
    for update in 1..=num_updates {
        let lr = if config.anneal_lr {
            config.learning_rate * (1.0 - (update - 1) as f64 / num_updates as f64)
        } else {
            config.learning_rate
        };
        let t0 = Instant::now();
        collector.collect(env, &weights, config.gamma, &mut rng, &mut rollout)?;
        let t1 = Instant::now();
        let stats = learner.update(&rollout, lr, update, &mut rng)?;
        weights = learner.model.to_weights()?;
        let t2 = Instant::now();
        summary.total_steps += rollout.len() as u64;
        summary.updates = update;
        summary.collect_seconds += (t1 - t0).as_secs_f64();
        summary.update_seconds += (t2 - t1).as_secs_f64();
        summary.episode_returns.extend(rollout.episodes.iter().map(|e| e.0));
        summary.steps_per_second = summary.total_steps as f64 / start.elapsed().as_secs_f64();
        let log = UpdateLog {
            update,
            num_updates,
            global_step: summary.total_steps,
            stats: &stats,
            episodes: &rollout.episodes,
            steps_per_second: summary.steps_per_second,
            collect_seconds: (t1 - t0).as_secs_f64(),
            update_seconds: (t2 - t1).as_secs_f64(),
            learner: &learner,
            weights: &weights,
        };
        if on_update(&log)? == Control::Stop {
            break;
        }
    }
    Ok((learner, weights, summary))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_seeds_differ_by_purpose_and_seed() {
        let a = [SeedPurpose::Env, SeedPurpose::Init, SeedPurpose::Agent].map(|p| derive_seed(1, p));
        assert!(a[0] != a[1] && a[1] != a[2] && a[0] != a[2]);
        assert_ne!(derive_seed(1, SeedPurpose::Env), derive_seed(2, SeedPurpose::Env));
        assert_eq!(derive_seed(7, SeedPurpose::Agent), derive_seed(7, SeedPurpose::Agent));
    }
}
