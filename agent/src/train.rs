//! The training loop: collect a rollout with the plain-f32 policy, update with burn,
//! copy the new weights back, report; CleanRL's loop without the logging, which the
//! caller does in `on_update`. A run can stop after any update and continue later from
//! its [`LoopState`] with the same result as if it had never stopped ([`train_from`]).

use std::path::PathBuf;
use std::time::Instant;

use burn::optim::OptimizerRecord;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::actor_critic::{ActorCritic, ActorCriticConfig};
use crate::error::{Error, Result};
use crate::mlp::ActorCriticWeights;
use crate::ppo::{Learner, UpdateStats};
use crate::rollout::{Collector, Rollout};
use crate::vector_env::{EnvState, VectorEnv};
use rltrade_config::ppo::PpoConfig;

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

/// What the loop reports after each update of a run on environments `E`.
pub struct UpdateLog<'a, E: VectorEnv> {
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
    /// Returns of every episode finished so far in the run (resumed sessions included).
    pub episode_returns: &'a [f64],
    /// Wall seconds of the run so far (resumed sessions included).
    pub elapsed_seconds: f64,
    env: &'a E,
    rng: &'a ChaCha8Rng,
    next_obs: &'a [f32],
    collect_seconds_total: f64,
    update_seconds_total: f64,
}

impl<E: VectorEnv> UpdateLog<'_, E> {
    /// Everything besides the model and optimizer that the loop carries into the next
    /// update: saved with them, it lets [`train_from`] continue the run exactly.
    pub fn loop_state(&self) -> LoopState<E::State> {
        LoopState {
            update: self.update,
            global_step: self.global_step,
            rng: self.rng.clone(),
            env: self.env.state(),
            next_obs: self.next_obs.to_vec(),
            minibatch_order: self.learner.minibatch_order().to_vec(),
            episode_returns: self.episode_returns.to_vec(),
            collect_seconds: self.collect_seconds_total,
            update_seconds: self.update_seconds_total,
            elapsed_seconds: self.elapsed_seconds,
        }
    }
}

/// The training loop's state after an update, besides model and optimizer. CleanRL's
/// loop also carries `next_done`; here an episode's end is stored with the step that
/// ended it and envs reset within that step, so no done flag is pending between
/// rollouts. `S` is the environments' saved state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(bound = "S: EnvState")]
pub struct LoopState<S> {
    /// Updates done.
    pub update: u64,
    /// Environment steps done (all envs).
    pub global_step: u64,
    /// The agent's generator (action sampling and minibatch shuffles).
    pub rng: ChaCha8Rng,
    /// The environments (episodes, generators, running episode statistics).
    #[serde(with = "crate::vector_env::tagged")]
    pub env: S,
    /// The pending observations, `[n_envs, obs_dim]` (CleanRL's `next_obs`).
    pub next_obs: Vec<f32>,
    /// The minibatch order `b_inds`, `[n_envs × n_steps]`.
    pub minibatch_order: Vec<usize>,
    /// Returns of every finished episode, in order.
    pub episode_returns: Vec<f64>,
    /// Seconds spent collecting rollouts so far.
    pub collect_seconds: f64,
    /// Seconds spent in gradient updates so far.
    pub update_seconds: f64,
    /// Wall seconds of the run so far.
    pub elapsed_seconds: f64,
}

/// Where a resumed run continues: the checkpointed model and optimizer with the loop
/// state saved beside them (`S`: the environments' saved state).
pub struct Resume<S> {
    /// The checkpoint it was loaded from (for errors).
    pub path: PathBuf,
    /// The actor-critic after the checkpointed update.
    pub model: ActorCritic,
    /// Adam's state after the checkpointed update.
    pub optimizer: OptimizerRecord,
    /// The rest.
    pub state: LoopState<S>,
}

/// How a run begins.
pub enum Start<S> {
    /// A fresh actor-critic, initialized from the seed.
    Fresh,
    /// A fresh run (optimizer, generators, environments from the seed) whose network
    /// starts from `model`: a walk-forward fold that continues the previous fold's
    /// weights (`walkforward --warm-start`).
    WarmStart {
        /// The checkpoint the weights came from (for errors).
        path: PathBuf,
        /// The weights to start from.
        model: ActorCritic,
    },
    /// The continuation of a stopped run (boxed: it carries the optimizer's state).
    Resume(Box<Resume<S>>),
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
    on_update: impl FnMut(&UpdateLog<'_, E>) -> Result<Control>,
) -> Result<(Learner, ActorCriticWeights, TrainSummary)> {
    train_from(env, config, seed, Start::Fresh, on_update)
}

/// [`train`] from `start`: fresh, from given weights, or the continuation of a run from
/// a checkpoint (`env` is built as for the original run, not reset: its state is
/// restored, and the updates after `resume.state.update` run exactly as they would have
/// without the stop).
///
/// # Errors
/// As [`train`]; [`Error::Checkpoint`] naming the checkpoint when the saved state or
/// weights do not fit `env` or `config`.
pub fn train_from<E: VectorEnv>(
    env: &mut E,
    config: &PpoConfig,
    seed: u64,
    start: Start<E::State>,
    mut on_update: impl FnMut(&UpdateLog<'_, E>) -> Result<Control>,
) -> Result<(Learner, ActorCriticWeights, TrainSummary)> {
    config.validate()?;
    let device = crate::training_device();
    let mut summary = TrainSummary {
        total_steps: 0,
        updates: 0,
        steps_per_second: 0.0,
        episode_returns: Vec::new(),
        collect_seconds: 0.0,
        update_seconds: 0.0,
    };
    let mut elapsed_before = 0.0;
    let (mut learner, mut weights, mut rng, mut collector) = match start {
        Start::Fresh | Start::WarmStart { .. } => {
            let model = match start {
                Start::WarmStart { path, model } => {
                    let w = model.to_weights()?;
                    let hidden: Vec<usize> = w.actor.layers.iter().skip(1).map(|l| l.d_in).collect();
                    let layout = (w.actor.d_in(), w.actor.d_out(), hidden);
                    let wanted = (env.obs_dim(), env.n_actions(), config.hidden.clone());
                    if layout != wanted {
                        return Err(Error::Checkpoint {
                            path,
                            message: format!(
                                "warm start: the model has (inputs, actions, hidden) {layout:?}, this run needs {wanted:?}"
                            ),
                        });
                    }
                    model
                }
                _ => ActorCriticConfig::new(env.obs_dim(), env.n_actions())
                    .with_hidden(config.hidden.clone())
                    .init(derive_seed(seed, SeedPurpose::Init), &device)?,
            };
            let learner = Learner::new(model, config, device)?;
            let weights = learner.model.to_weights()?;
            let rng = ChaCha8Rng::seed_from_u64(derive_seed(seed, SeedPurpose::Agent));
            let collector = Collector::new(env, &weights)?;
            (learner, weights, rng, collector)
        }
        Start::Resume(resume) => {
            let Resume { path, model, optimizer, state } = *resume;
            let fail = |message: String| Error::Checkpoint { path: path.clone(), message };
            let mut learner = Learner::new(model, config, device)?;
            learner.optimizer = learner.optimizer.clone().load_record(optimizer);
            learner.set_minibatch_order(&state.minibatch_order).map_err(|e| fail(e.to_string()))?;
            let weights = learner.model.to_weights()?;
            if weights.actor.d_in() != env.obs_dim() || weights.actor.d_out() != env.n_actions() {
                return Err(fail(format!(
                    "the model maps {} inputs to {} actions, the environment has {} and {}",
                    weights.actor.d_in(),
                    weights.actor.d_out(),
                    env.obs_dim(),
                    env.n_actions()
                )));
            }
            env.restore(&state.env).map_err(|e| fail(e.to_string()))?;
            let collector = Collector::resume(env, &weights, state.next_obs)
                .map_err(|e| fail(format!("pending observations: {e}")))?;
            summary.total_steps = state.global_step;
            summary.updates = state.update;
            summary.episode_returns = state.episode_returns;
            summary.collect_seconds = state.collect_seconds;
            summary.update_seconds = state.update_seconds;
            elapsed_before = state.elapsed_seconds;
            if elapsed_before > 0.0 {
                summary.steps_per_second = summary.total_steps as f64 / elapsed_before;
            }
            (learner, weights, state.rng, collector)
        }
    };
    let mut rollout = Rollout::new(config.n_steps, config.n_envs.max(env.n_envs()), env.obs_dim());
    let num_updates = config.num_updates();
    let start = Instant::now();
    let first = summary.updates + 1;
    for update in first..=num_updates {
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
        let elapsed_seconds = elapsed_before + start.elapsed().as_secs_f64();
        summary.steps_per_second = summary.total_steps as f64 / elapsed_seconds;
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
            episode_returns: &summary.episode_returns,
            elapsed_seconds,
            env: &*env,
            rng: &rng,
            next_obs: &collector.next_obs,
            collect_seconds_total: summary.collect_seconds,
            update_seconds_total: summary.update_seconds,
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

    /// After training, the plain-f32 copy the rollouts use holds exactly the trained
    /// parameters, and its per-observation forward agrees with burn's batched forward
    /// (the fused layers) to 1e-5.
    #[test]
    fn the_rollout_copy_equals_the_trained_weights() {
        use burn::tensor::{Tensor, TensorData};

        let config =
            PpoConfig { n_envs: 2, n_steps: 64, batch_size: 48, n_epochs: 2, total_steps: 256, ..PpoConfig::default() };
        let mut env = crate::cartpole::CartPoleVecEnv::new(2, 5);
        let (learner, weights, summary) = train(&mut env, &config, 5, |_| Ok(Control::Continue)).unwrap();
        assert_eq!(summary.updates, 2);
        assert_eq!(weights, learner.model.to_weights().unwrap(), "the rollout copy is the trained model");

        let obs: Vec<f32> = (0..40).map(|k| ((k * 7919) % 23) as f32 / 11.5 - 1.0).collect();
        let batch =
            Tensor::<2>::from_data(TensorData::new(obs.clone(), [10, 4]), &learner.model.actor[0].weight.device());
        let (logits, values) = learner.model.forward(batch);
        let logits = logits.into_data().try_into_vec::<f32>().unwrap();
        let values = values.into_data().try_into_vec::<f32>().unwrap();
        let mut scratch = weights.scratch();
        let mut row = [0.0f32; 2];
        for k in 0..10 {
            let o = &obs[4 * k..4 * k + 4];
            weights.logits(o, &mut scratch, &mut row);
            for (a, b) in row.iter().zip(&logits[2 * k..2 * k + 2]) {
                assert!((a - b).abs() <= 1e-5, "logits of row {k}: {a} vs {b}");
            }
            let v = weights.value(o, &mut scratch);
            assert!((v - values[k]).abs() <= 1e-5, "value of row {k}: {v} vs {}", values[k]);
        }
    }
}
