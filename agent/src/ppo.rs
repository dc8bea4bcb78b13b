//! The PPO update: clipped surrogate objective, value loss, entropy bonus, global
//! gradient-norm clipping, Adam; CleanRL's order and names (`b_obs`, `b_logprobs`,
//! `b_advantages`, `b_returns`, `b_inds`, `mb_inds`).
//!
//! Schulman et al., "Proximal Policy Optimization Algorithms", arXiv:1707.06347, 2017
//! (eq. 7 and 9); implementation details from Huang et al., "The 37 Implementation
//! Details of PPO", ICLR Blog Track 2022.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use burn::module::ParamId;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Int, Tensor, TensorData};
use rand::{Rng, RngExt};
use serde::{Deserialize, Serialize};

use crate::actor_critic::ActorCritic;
use crate::error::{Error, Result};
use crate::gae::compute_gae;
use crate::rollout::Rollout;
use rltrade_config::ppo::PpoConfig;

/// Diagnostics of one update (logged under `losses/` and `charts/`), averaged over the
/// minibatches of the last epoch that ran, as in CleanRL.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct UpdateStats {
    /// Learning rate used.
    pub learning_rate: f64,
    /// Clipped surrogate loss.
    pub policy_loss: f64,
    /// Value loss (½ squared error, clipped if configured).
    pub value_loss: f64,
    /// Mean policy entropy, nats.
    pub entropy: f64,
    /// KL estimate `mean(−log ratio)` (Schulman's k1).
    pub old_approx_kl: f64,
    /// KL estimate `mean((ratio − 1) − log ratio)` (Schulman's k3).
    pub approx_kl: f64,
    /// Fraction of samples whose ratio left [1 − ε, 1 + ε].
    pub clipfrac: f64,
    /// `1 − Var(returns − values) / Var(returns)` of the rollout (`None` if returns are constant).
    pub explained_variance: Option<f64>,
    /// Global gradient norm before clipping, mean over minibatches.
    pub grad_norm: f64,
    /// Epochs run (fewer than `n_epochs` after a `target_kl` stop).
    pub epochs: usize,
}

/// The learner: model, optimizer and the buffers of the update.
pub struct Learner {
    /// The actor-critic (on an autodiff device).
    pub model: ActorCritic,
    /// Adam.
    pub optimizer: ModuleOptimizer,
    config: PpoConfig,
    device: Device,
    param_ids: Vec<(ParamId, usize)>,
    advantages: Vec<f32>,
    returns: Vec<f32>,
    b_inds: Vec<usize>,
    /// The update's threads (see [`PpoConfig::update_threads`]).
    pool: Arc<rayon::ThreadPool>,
}

impl Learner {
    /// A learner for `model` with Adam (ε = `config.adam_eps`).
    ///
    /// # Errors
    /// [`Error::Config`] (`ppo.update_threads`) when the OS refuses the update's threads.
    pub fn new(model: ActorCritic, config: &PpoConfig, device: Device) -> Result<Self> {
        let n = config.rollout_size();
        let threads = config.update_thread_count();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|k| format!("ppo-update-{k}"))
            .build()
            .map_err(|e| Error::Config {
                field: "ppo.update_threads".into(),
                message: format!("cannot start {threads} update threads: {e}"),
            })?;
        Ok(Self {
            param_ids: model.param_ids(),
            model,
            optimizer: AdamConfig::new().with_epsilon(config.adam_eps as f32).init(),
            config: config.clone(),
            device,
            advantages: vec![0.0; n],
            returns: vec![0.0; n],
            b_inds: (0..n).collect(),
            pool: Arc::new(pool),
        })
    }

    /// One PPO update on `rollout` at learning rate `lr`; `update` numbers it for errors.
    ///
    /// # Errors
    /// [`Error::Diverged`] when a loss becomes NaN or infinite.
    pub fn update(
        &mut self,
        rollout: &Rollout,
        lr: f64,
        update: u64,
        rng: &mut (impl Rng + Send),
    ) -> Result<UpdateStats> {
        // the whole update runs on the pool, so that the layers' shards are cheap rayon
        // joins from a worker rather than cross-thread injections from outside the pool
        let pool = Arc::clone(&self.pool);
        let threads = pool.current_num_threads();
        pool.install(|| {
            if threads == 1 {
                return self.update_on_pool(rollout, lr, update, rng);
            }
            // The other workers stay awake for the update, taking shards as they come:
            // a sleeping rayon worker needs about as long to wake as half a shard's
            // matmul, and the loss and Adam between the layers let them fall asleep.
            let stop = AtomicBool::new(false);
            let caller = rayon::current_thread_index();
            rayon::scope(|scope| {
                for _ in 1..threads {
                    scope.spawn(|_| keep_awake(&stop, caller));
                }
                let result = self.update_on_pool(rollout, lr, update, rng);
                stop.store(true, Ordering::Release);
                result
            })
        })
    }

    fn update_on_pool(&mut self, rollout: &Rollout, lr: f64, update: u64, rng: &mut impl Rng) -> Result<UpdateStats> {
        let c = &self.config;
        let (n, d) = (rollout.len(), rollout.obs_dim);
        compute_gae(
            &rollout.rewards,
            &rollout.values,
            &rollout.ends,
            &rollout.next_values,
            rollout.n_envs,
            c.gamma,
            c.gae_lambda,
            &mut self.advantages,
            &mut self.returns,
        );
        // flat views b_*: the rollout's row-major [n_steps, n_envs] order is already flat
        let (b_obs, b_actions, b_logprobs, b_values) =
            (&rollout.obs, &rollout.actions, &rollout.logprobs, &rollout.values);
        let (b_advantages, b_returns) = (&self.advantages, &self.returns);
        let batch = c.batch_size;
        let mut stats = UpdateStats { learning_rate: lr, ..UpdateStats::default() };
        for epoch in 0..c.n_epochs {
            shuffle(&mut self.b_inds, rng);
            let mut sums = [0.0f64; 7];
            let mut minibatches = 0usize;
            for start in (0..n).step_by(batch) {
                let mb_inds = &self.b_inds[start..(start + batch).min(n)];
                let m = mb_inds.len();
                let mut mb_obs = Vec::with_capacity(m * d);
                let (mut mb_actions, mut mb_logprobs) = (Vec::with_capacity(m), Vec::with_capacity(m));
                let (mut mb_adv, mut mb_returns, mut mb_values) =
                    (Vec::with_capacity(m), Vec::with_capacity(m), Vec::with_capacity(m));
                for &k in mb_inds {
                    mb_obs.extend_from_slice(&b_obs[k * d..(k + 1) * d]);
                    mb_actions.push(b_actions[k] as i64);
                    mb_logprobs.push(b_logprobs[k]);
                    mb_adv.push(b_advantages[k]);
                    mb_returns.push(b_returns[k]);
                    mb_values.push(b_values[k]);
                }
                if c.normalize_advantage && m > 1 {
                    normalize(&mut mb_adv);
                }
                let dev = &self.device;
                let obs = Tensor::<2>::from_data(TensorData::new(mb_obs, [m, d]), dev);
                let actions = Tensor::<2, Int>::from_data(TensorData::new(mb_actions, [m, 1]), dev);
                let old_logprobs = Tensor::<1>::from_data(TensorData::new(mb_logprobs, [m]), dev);
                let advantages = Tensor::<1>::from_data(TensorData::new(mb_adv, [m]), dev);
                let returns = Tensor::<1>::from_data(TensorData::new(mb_returns, [m]), dev);

                let (logits, new_values) = self.model.forward(obs);
                let log_probs = log_softmax(logits, 1);
                let new_logprobs = log_probs.clone().gather(1, actions).reshape([m]);
                let entropy = (log_probs.clone().exp() * log_probs).sum_dim(1).reshape([m]).neg();
                let logratio = new_logprobs - old_logprobs;
                let ratio = logratio.clone().exp();

                let pg_loss1 = advantages.clone().neg() * ratio.clone();
                let pg_loss2 = advantages.neg() * ratio.clone().clamp(1.0 - c.clip_range, 1.0 + c.clip_range);
                let pg_loss = pg_loss1.max_pair(pg_loss2).mean();
                let v_loss = if c.clip_vloss {
                    let old_values = Tensor::<1>::from_data(TensorData::new(mb_values, [m]), dev);
                    let unclipped = (new_values.clone() - returns.clone()).square();
                    let clipped = old_values.clone() + (new_values - old_values).clamp(-c.clip_range, c.clip_range);
                    let clipped = (clipped - returns).square();
                    unclipped.max_pair(clipped).mean().mul_scalar(0.5)
                } else {
                    (new_values - returns).square().mean().mul_scalar(0.5)
                };
                let entropy_loss = entropy.mean();
                let loss = pg_loss.clone() - entropy_loss.clone().mul_scalar(c.ent_coef)
                    + v_loss.clone().mul_scalar(c.vf_coef);

                // diagnostics from detached copies
                let logratio_host = host(logratio.detach())?;
                let ratio_host = host(ratio.detach())?;
                let (mut old_kl, mut kl, mut clipped) = (0.0, 0.0, 0.0);
                for (lr_, r) in logratio_host.iter().zip(&ratio_host) {
                    old_kl -= f64::from(*lr_);
                    kl += f64::from(r - 1.0 - lr_);
                    clipped += f64::from(u8::from(f64::from((r - 1.0).abs()) > c.clip_range));
                }
                let (pg, vl, ent) = (scalar(pg_loss)?, scalar(v_loss)?, scalar(entropy_loss)?);
                if !(pg.is_finite() && vl.is_finite() && ent.is_finite()) {
                    return Err(Error::Diverged { update, what: "the loss" });
                }

                let grads = GradientsParams::from_grads(loss.backward(), &self.model);
                let (grads, grad_norm) = clip_global_norm(grads, &self.param_ids, c.max_grad_norm)?;
                if !grad_norm.is_finite() {
                    return Err(Error::Diverged { update, what: "the gradient norm" });
                }
                // The model is moved into the optimizer, not cloned: a parameter whose
                // buffer is shared cannot be updated in place (burn-flex's fast path), and
                // every Adam step would allocate a new one.
                let model = std::mem::replace(&mut self.model, ActorCritic::empty());
                self.model = self.optimizer.step(lr, model, grads);

                let mf = m as f64;
                for (s, v) in sums.iter_mut().zip([pg, vl, ent, old_kl / mf, kl / mf, clipped / mf, grad_norm]) {
                    *s += v;
                }
                minibatches += 1;
            }
            let k = minibatches.max(1) as f64;
            stats.policy_loss = sums[0] / k;
            stats.value_loss = sums[1] / k;
            stats.entropy = sums[2] / k;
            stats.old_approx_kl = sums[3] / k;
            stats.approx_kl = sums[4] / k;
            stats.clipfrac = sums[5] / k;
            stats.grad_norm = sums[6] / k;
            stats.epochs = epoch + 1;
            if c.target_kl.is_some_and(|target| stats.approx_kl > target) {
                break;
            }
        }
        stats.explained_variance = explained_variance(&rollout.values, &self.returns);
        Ok(stats)
    }
}

/// The learner's state between updates that a resumed run needs besides the model and
/// the optimizer.
impl Learner {
    /// The minibatch order `b_inds` the last update left behind: each epoch shuffles it
    /// in place, so the next update's shuffles start from it. `[n_envs × n_steps]`.
    pub fn minibatch_order(&self) -> &[usize] {
        &self.b_inds
    }

    /// Restores `b_inds` from a checkpoint.
    ///
    /// # Errors
    /// [`Error::Config`] when `order` is not a permutation of `0..n_envs × n_steps`.
    pub fn set_minibatch_order(&mut self, order: &[usize]) -> Result<()> {
        let n = self.b_inds.len();
        let mut seen = vec![false; n];
        for &k in order {
            if k >= n || std::mem::replace(&mut seen[k], true) {
                break;
            }
        }
        if order.len() != n || seen.iter().any(|s| !s) {
            return Err(Error::Config {
                field: "ppo.n_steps".into(),
                message: format!("a saved minibatch order is not a permutation of 0..{n} (n_envs × n_steps)"),
            });
        }
        self.b_inds.copy_from_slice(order);
        Ok(())
    }
}

/// Scales every gradient by `min(1, max_norm / (‖g‖ + 1e-6))` where ‖g‖ is the L2 norm
/// over all parameters together (PyTorch's `clip_grad_norm_`, as CleanRL and SB3 use).
/// Returns the gradients and ‖g‖ before clipping.
fn clip_global_norm(
    mut grads: GradientsParams,
    ids: &[(ParamId, usize)],
    max_norm: f64,
) -> Result<(GradientsParams, f64)> {
    // Each gradient is taken out of `grads` (so its buffer is not shared and reading it
    // does not copy), its squares are summed on the host in f64, and when the norm is
    // over the limit it is scaled in place on the host before it goes back: one pass per
    // gradient instead of three tensor operations.
    let bad = |e| Error::Config { field: "model".into(), message: format!("cannot read a gradient as f32: {e:?}") };
    let mut taken = Vec::with_capacity(ids.len());
    let mut squares = 0.0f64;
    for &(id, rank) in ids {
        let (data, device) = match rank {
            2 => match grads.remove::<2>(id) {
                Some(g) => {
                    let device = g.device();
                    (g.into_data(), device)
                }
                None => continue,
            },
            _ => match grads.remove::<1>(id) {
                Some(g) => {
                    let device = g.device();
                    (g.into_data(), device)
                }
                None => continue,
            },
        };
        squares += sum_of_squares(data.as_slice::<f32>().map_err(bad)?);
        taken.push((id, rank, data, device));
    }
    let norm = squares.sqrt();
    let scale = (norm > max_norm).then(|| (max_norm / (norm + 1e-6)) as f32);
    for (id, rank, mut data, device) in taken {
        if let Some(scale) = scale {
            data.as_mut_slice::<f32>().map_err(bad)?.iter_mut().for_each(|v| *v *= scale);
        }
        if rank == 2 {
            grads.register(id, Tensor::<2>::from_data(data, &device));
        } else {
            grads.register(id, Tensor::<1>::from_data(data, &device));
        }
    }
    Ok((grads, norm))
}

/// Runs the pool's pending jobs (the shards of the update's layers) on this worker until
/// `stop`, spinning between them instead of sleeping. Returns at once on the `caller`'s
/// own worker (it may pop this job itself while it waits for a shard), where spinning
/// would block the update.
fn keep_awake(stop: &AtomicBool, caller: Option<usize>) {
    if rayon::current_thread_index() == caller {
        return;
    }
    while !stop.load(Ordering::Acquire) {
        if rayon::yield_now() != Some(rayon::Yield::Executed) {
            std::hint::spin_loop();
        }
    }
}

/// `Σ v²` in f64 with 8 partial sums in a fixed order (the same result on every run),
/// which the compiler vectorizes; one running sum would be a chain of dependent additions.
/// The 8 lanes fill one AVX-512 register where the CPU has AVX-512F (detected at run
/// time), with the same bits as the portable loop.
fn sum_of_squares(values: &[f32]) -> f64 {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") {
        // SAFETY: the CPU supports AVX-512F, checked just above.
        return unsafe { sum_of_squares_avx512(values) };
    }
    sum_of_squares_portable(values)
}

/// [`sum_of_squares_portable`] compiled for AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn sum_of_squares_avx512(values: &[f32]) -> f64 {
    sum_of_squares_portable(values)
}

#[inline(always)]
fn sum_of_squares_portable(values: &[f32]) -> f64 {
    let mut lanes = [0.0f64; 8];
    let chunks = values.chunks_exact(8);
    let rest: f64 = chunks.remainder().iter().map(|&v| f64::from(v) * f64::from(v)).sum();
    for chunk in chunks {
        for (lane, &v) in lanes.iter_mut().zip(chunk) {
            *lane += f64::from(v) * f64::from(v);
        }
    }
    lanes.iter().sum::<f64>() + rest
}

fn scalar(t: Tensor<1>) -> Result<f64> {
    let v = host(t)?;
    Ok(v.first().copied().map(f64::from).unwrap_or(f64::NAN))
}

fn host(t: Tensor<1>) -> Result<Vec<f32>> {
    t.into_data()
        .try_into_vec::<f32>()
        .map_err(|e| Error::Config { field: "model".into(), message: format!("cannot read a tensor as f32: {e:?}") })
}

/// Normalizes to mean 0 and std 1 (population std + 1e-8), as CleanRL.
fn normalize(x: &mut [f32]) {
    let n = x.len() as f64;
    let mean = x.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
    let var = x.iter().map(|&v| (f64::from(v) - mean).powi(2)).sum::<f64>() / (n - 1.0);
    let std = var.sqrt() + 1e-8;
    x.iter_mut().for_each(|v| *v = ((f64::from(*v) - mean) / std) as f32);
}

/// `1 − Var(y − ŷ) / Var(y)`.
pub fn explained_variance(predicted: &[f32], actual: &[f32]) -> Option<f64> {
    let n = actual.len() as f64;
    let var = |f: &dyn Fn(usize) -> f64| {
        let mean = (0..actual.len()).map(f).sum::<f64>() / n;
        (0..actual.len()).map(|k| (f(k) - mean).powi(2)).sum::<f64>() / n
    };
    let var_y = var(&|k| f64::from(actual[k]));
    (var_y > 0.0).then(|| 1.0 - var(&|k| f64::from(actual[k] - predicted[k])) / var_y)
}

/// Fisher-Yates shuffle with the run's generator.
pub fn shuffle(x: &mut [usize], rng: &mut impl Rng) {
    for i in (1..x.len()).rev() {
        let j = rng.random_range(0..=i);
        x.swap(i, j);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sum_of_squares_matches_a_plain_sum_for_every_remainder() {
        for n in [0usize, 1, 7, 8, 9, 16, 17, 1000] {
            let values: Vec<f32> = (0..n).map(|k| (k as f32 * 0.37).sin() * 3.0).collect();
            let plain: f64 = values.iter().map(|&v| f64::from(v) * f64::from(v)).sum();
            let lanes = sum_of_squares(&values);
            assert!((lanes - plain).abs() <= 1e-12 * plain.max(1.0), "n {n}: {lanes} vs {plain}");
            assert_eq!(
                lanes.to_bits(),
                sum_of_squares_portable(&values).to_bits(),
                "n {n}: the wide loop changed a bit"
            );
        }
    }
}
