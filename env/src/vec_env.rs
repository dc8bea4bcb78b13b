//! `VecEnv`: N trading environments stepped as a batch into caller-owned buffers,
//! with auto-reset, optionally across threads.
//!
//! Each env draws from its own ChaCha8 stream (`seed`, stream = env index), so results
//! do not depend on the thread count. Same-step auto-reset (as in Stable-Baselines3):
//! when an episode ends, its last observation goes to `final_obs` and `obs` holds the
//! first observation of the next episode.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::setup::TradingSetup;
use crate::split::SplitName;
use crate::step_pool::StepPool;
use crate::trading_env::{TradingEnv, TradingEnvState};

/// Caller-owned outputs of [`VecEnv::step`], allocated once with [`VecStepBuffers::new`].
#[derive(Clone, Debug, PartialEq)]
pub struct VecStepBuffers {
    /// Observations, row-major `[n_envs, obs_dim]`.
    pub obs: Vec<f32>,
    /// Rewards, `[n_envs]`.
    pub rewards: Vec<f32>,
    /// Terminated flags (ruin), `[n_envs]`.
    pub terminated: Vec<bool>,
    /// Truncated flags (time limit, end of data), `[n_envs]`.
    pub truncated: Vec<bool>,
    /// Last observation of the episode that just ended, `[n_envs, obs_dim]`; meaningful
    /// only where `terminated || truncated` (PPO bootstraps truncated episodes from it).
    pub final_obs: Vec<f32>,
    /// Return (sum of rewards) of the episode that just ended, `[n_envs]`, where done.
    pub episode_return: Vec<f64>,
    /// Length in steps of the episode that just ended, `[n_envs]`, where done.
    pub episode_length: Vec<u32>,
}

impl VecStepBuffers {
    /// Buffers for `n_envs` environments with observations of `obs_dim`.
    pub fn new(n_envs: usize, obs_dim: usize) -> Self {
        Self {
            obs: vec![0.0; n_envs * obs_dim],
            rewards: vec![0.0; n_envs],
            terminated: vec![false; n_envs],
            truncated: vec![false; n_envs],
            final_obs: vec![0.0; n_envs * obs_dim],
            episode_return: vec![0.0; n_envs],
            episode_length: vec![0; n_envs],
        }
    }
}

/// The state of every env of a [`VecEnv`] between two steps: each env's episode and
/// generator ([`TradingEnvState`]) with its running episode return and length. Taken
/// with [`VecEnv::state`], restored with [`VecEnv::restore`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VecEnvState {
    envs: Vec<SlotState>,
}

/// One env's saved state and its running episode statistics.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct SlotState {
    env: TradingEnvState,
    episode_return: f64,
    episode_length: u32,
}

impl VecEnvState {
    /// Number of environments saved.
    pub fn n_envs(&self) -> usize {
        self.envs.len()
    }
}

/// One env plus its running episode statistics.
#[derive(Clone, Debug)]
struct Slot {
    env: TradingEnv,
    episode_return: f64,
    episode_length: u32,
}

/// Raw views of one batch's caller-owned buffers, handed to the step pool's workers.
/// Each worker touches only the elements of its own block of envs.
#[derive(Clone, Copy)]
struct Batch {
    obs_dim: usize,
    actions: *const usize,
    obs: *mut f32,
    final_obs: *mut f32,
    rewards: *mut f32,
    terminated: *mut bool,
    truncated: *mut bool,
    episode_return: *mut f64,
    episode_length: *mut u32,
}

// SAFETY: the pointers are views of the caller's buffers during one `VecEnv::step`;
// each worker dereferences only its own block (see `step_block`).
unsafe impl Send for Batch {}

/// N environments over one dataset, stepped together.
pub struct VecEnv {
    slots: Vec<Slot>,
    obs_dim: usize,
    pool: Option<StepPool<Slot, Batch>>,
}

impl std::fmt::Debug for VecEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VecEnv").field("n_envs", &self.slots.len()).field("obs_dim", &self.obs_dim).finish()
    }
}

impl VecEnv {
    /// `n_envs` environments on `split` of `setup` (data and settings), env `i` on stream `i` of the ChaCha8
    /// generator seeded with `seed`; `threads` > 1 steps contiguous blocks of envs on
    /// that many threads (the caller's included; workers spin briefly between batches,
    /// then park).
    ///
    /// # Errors
    /// [`Error::Config`] for `n_envs == 0`, `threads == 0`, invalid env settings, or a
    /// thread that cannot start.
    pub fn new(setup: &TradingSetup, split: SplitName, n_envs: usize, seed: u64, threads: usize) -> Result<Self> {
        if n_envs == 0 || threads == 0 {
            return Err(Error::Config { field: "n_envs".into(), message: "n_envs and threads must be >= 1".into() });
        }
        let prototype = TradingEnv::new(setup, split, seed)?;
        let obs_dim = prototype.obs_dim();
        let slots = (0..n_envs)
            .map(|i| {
                let mut env = prototype.clone();
                env.set_rng_stream(i as u64);
                Slot { env, episode_return: 0.0, episode_length: 0 }
            })
            .collect();
        let pool = if threads > 1 && n_envs > 1 { Some(StepPool::new(n_envs, threads, step_block)?) } else { None };
        Ok(Self { slots, obs_dim, pool })
    }

    /// Number of environments.
    pub fn n_envs(&self) -> usize {
        self.slots.len()
    }

    /// Observation length of each env.
    pub fn obs_dim(&self) -> usize {
        self.obs_dim
    }

    /// The envs, for inspection.
    pub fn envs(&self) -> impl Iterator<Item = &TradingEnv> {
        self.slots.iter().map(|s| &s.env)
    }

    /// Every env's episode state, generator and running episode statistics.
    pub fn state(&self) -> VecEnvState {
        VecEnvState {
            envs: self
                .slots
                .iter()
                .map(|s| SlotState {
                    env: s.env.state(),
                    episode_return: s.episode_return,
                    episode_length: s.episode_length,
                })
                .collect(),
        }
    }

    /// Continues from `state` (see [`TradingEnv::restore`]); the caller keeps the
    /// observations that were pending when it was taken.
    ///
    /// # Errors
    /// [`Error::InvalidState`] for another number of envs or an env state that does not
    /// fit (naming the env); no env is changed then.
    pub fn restore(&mut self, state: &VecEnvState) -> Result<()> {
        if state.envs.len() != self.slots.len() {
            return Err(Error::InvalidState {
                message: format!("it holds {} envs, this VecEnv has {}", state.envs.len(), self.slots.len()),
            });
        }
        let mut restored = self.slots.clone();
        for (i, (slot, saved)) in restored.iter_mut().zip(&state.envs).enumerate() {
            slot.env.restore(&saved.env).map_err(|e| match e {
                Error::InvalidState { message } => Error::InvalidState { message: format!("env {i}: {message}") },
                other => other,
            })?;
            slot.episode_return = saved.episode_return;
            slot.episode_length = saved.episode_length;
        }
        self.slots = restored;
        Ok(())
    }

    /// Resets every env (each on its own stream) and writes the observations into
    /// `obs` (`[n_envs, obs_dim]`).
    ///
    /// # Errors
    /// [`Error::BufferSize`] when `obs` has the wrong length.
    pub fn reset(&mut self, obs: &mut [f32]) -> Result<()> {
        self.reset_seeded(None, obs)
    }

    /// [`Self::reset`], re-seeding every env's generator with `seed` first (each keeps
    /// its own stream, so the envs still differ): gymnasium's `reset(seed=...)`.
    ///
    /// # Errors
    /// [`Error::BufferSize`] when `obs` has the wrong length.
    pub fn reset_seeded(&mut self, seed: Option<u64>, obs: &mut [f32]) -> Result<()> {
        check_len("obs", obs.len(), self.slots.len() * self.obs_dim)?;
        for (slot, o) in self.slots.iter_mut().zip(obs.chunks_exact_mut(self.obs_dim)) {
            slot.env.reset_into(seed, o);
            slot.episode_return = 0.0;
            slot.episode_length = 0;
        }
        Ok(())
    }

    /// Steps env `i` with `actions[i]` for every i, writing into `out`; finished envs
    /// are reset at once (see the module docs). No allocation.
    ///
    /// # Errors
    /// [`Error::BufferSize`] for buffers of the wrong size; [`Error::InvalidAction`].
    pub fn step(&mut self, actions: &[usize], out: &mut VecStepBuffers) -> Result<()> {
        let n = self.slots.len();
        check_len("actions", actions.len(), n)?;
        check_len("obs", out.obs.len(), n * self.obs_dim)?;
        check_len("final_obs", out.final_obs.len(), n * self.obs_dim)?;
        // validate every action first, so an error never leaves a batch half-stepped
        let n_actions = self.slots[0].env.n_actions();
        if let Some(&action) = actions.iter().find(|&&a| a >= n_actions) {
            return Err(Error::InvalidAction { action, n_actions });
        }
        for (name, len) in [
            ("rewards", out.rewards.len()),
            ("terminated", out.terminated.len()),
            ("truncated", out.truncated.len()),
            ("episode_return", out.episode_return.len()),
            ("episode_length", out.episode_length.len()),
        ] {
            check_len(name, len, n)?;
        }
        let batch = Batch {
            obs_dim: self.obs_dim,
            actions: actions.as_ptr(),
            obs: out.obs.as_mut_ptr(),
            final_obs: out.final_obs.as_mut_ptr(),
            rewards: out.rewards.as_mut_ptr(),
            terminated: out.terminated.as_mut_ptr(),
            truncated: out.truncated.as_mut_ptr(),
            episode_return: out.episode_return.as_mut_ptr(),
            episode_length: out.episode_length.as_mut_ptr(),
        };
        match &self.pool {
            None => step_block(&mut self.slots, 0, batch),
            Some(pool) => pool.run(&mut self.slots, batch),
        }
    }
}

/// Steps the envs `slots` (global indices `first..first + slots.len()`) and writes
/// their outputs into the batch buffers.
fn step_block(slots: &mut [Slot], first: usize, batch: Batch) -> Result<()> {
    let (n, d) = (slots.len(), batch.obs_dim);
    // SAFETY: `VecEnv::step` checked every buffer's length for all envs and holds the
    // `&mut` borrows for the whole call; this block's ranges are disjoint from every
    // other block's.
    let (actions, obs, final_obs, rewards, terminated, truncated, ret, len) = unsafe {
        (
            std::slice::from_raw_parts(batch.actions.add(first), n),
            std::slice::from_raw_parts_mut(batch.obs.add(first * d), n * d),
            std::slice::from_raw_parts_mut(batch.final_obs.add(first * d), n * d),
            std::slice::from_raw_parts_mut(batch.rewards.add(first), n),
            std::slice::from_raw_parts_mut(batch.terminated.add(first), n),
            std::slice::from_raw_parts_mut(batch.truncated.add(first), n),
            std::slice::from_raw_parts_mut(batch.episode_return.add(first), n),
            std::slice::from_raw_parts_mut(batch.episode_length.add(first), n),
        )
    };
    for (i, (slot, o)) in slots.iter_mut().zip(obs.chunks_exact_mut(d)).enumerate() {
        let step = slot.env.step_into(actions[i], o)?;
        slot.episode_return += step.reward;
        slot.episode_length += 1;
        rewards[i] = step.reward as f32;
        terminated[i] = step.terminated;
        truncated[i] = step.truncated;
        if step.terminated || step.truncated {
            final_obs[i * d..(i + 1) * d].copy_from_slice(o);
            ret[i] = slot.episode_return;
            len[i] = slot.episode_length;
            slot.episode_return = 0.0;
            slot.episode_length = 0;
            slot.env.reset_into(None, o);
        }
    }
    Ok(())
}

fn check_len(name: &'static str, found: usize, expected: usize) -> Result<()> {
    if found == expected { Ok(()) } else { Err(Error::BufferSize { name, expected, found }) }
}
