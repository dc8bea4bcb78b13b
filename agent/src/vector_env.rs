//! `VectorEnv`: what PPO needs of a batch of environments. Implemented by the trading
//! [`rltrade_env::VecEnv`] and by the CartPole sanity environment.

pub use rltrade_env::VecStepBuffers;
use serde::{Deserialize, Serialize};

use crate::cartpole::CartPoleVecEnv;

/// The saved state of a [`VectorEnv`] between two steps: every env's episode, random
/// generator and running episode statistics (part of a resumable checkpoint).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum EnvState {
    /// The trading [`rltrade_env::VecEnv`].
    Trading(rltrade_env::VecEnvState),
    /// The CartPole envs, whole.
    CartPole(CartPoleVecEnv),
}

/// N environments stepped together with same-step auto-reset (see
/// [`rltrade_env::vec_env`]).
pub trait VectorEnv {
    /// Number of environments.
    fn n_envs(&self) -> usize;
    /// Observation length.
    fn obs_dim(&self) -> usize;
    /// Number of discrete actions.
    fn n_actions(&self) -> usize;
    /// Resets every env, writing observations `[n_envs, obs_dim]` into `obs`.
    ///
    /// # Errors
    /// A buffer of the wrong size.
    fn reset(&mut self, obs: &mut [f32]) -> rltrade_env::Result<()>;
    /// Steps every env with `actions[i]`, writing into `out`.
    ///
    /// # Errors
    /// Buffers of the wrong size, an invalid action.
    fn step(&mut self, actions: &[usize], out: &mut VecStepBuffers) -> rltrade_env::Result<()>;
    /// The state between steps, for a checkpoint.
    fn state(&self) -> EnvState;
    /// Continues from `state` (taken by [`Self::state`] of an env built the same way).
    ///
    /// # Errors
    /// [`rltrade_env::Error::InvalidState`] when `state` is of another kind or does not fit.
    fn restore(&mut self, state: &EnvState) -> rltrade_env::Result<()>;
}

impl VectorEnv for rltrade_env::VecEnv {
    fn n_envs(&self) -> usize {
        rltrade_env::VecEnv::n_envs(self)
    }

    fn obs_dim(&self) -> usize {
        rltrade_env::VecEnv::obs_dim(self)
    }

    fn n_actions(&self) -> usize {
        self.envs().next().map_or(0, |e| e.n_actions())
    }

    fn reset(&mut self, obs: &mut [f32]) -> rltrade_env::Result<()> {
        rltrade_env::VecEnv::reset(self, obs)
    }

    fn step(&mut self, actions: &[usize], out: &mut VecStepBuffers) -> rltrade_env::Result<()> {
        rltrade_env::VecEnv::step(self, actions, out)
    }

    fn state(&self) -> EnvState {
        EnvState::Trading(rltrade_env::VecEnv::state(self))
    }

    fn restore(&mut self, state: &EnvState) -> rltrade_env::Result<()> {
        match state {
            EnvState::Trading(saved) => rltrade_env::VecEnv::restore(self, saved),
            EnvState::CartPole(_) => {
                Err(rltrade_env::Error::InvalidState { message: "it is CartPole's, not a trading env's".into() })
            }
        }
    }
}
