//! `VectorEnv`: what PPO needs of a batch of environments. Implemented here by the
//! trading [`rltrade_env::VecEnv`]; any other environment (a test double, a sanity
//! check) implements it in its own module: this one depends on none of them.

use std::fmt;
use std::marker::PhantomData;

pub use rltrade_env::VecStepBuffers;
use serde::de::{DeserializeOwned, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserializer, Serialize, Serializer};

/// The saved state of a [`VectorEnv`] between two steps: every env's episode, random
/// generator and running episode statistics (part of a resumable checkpoint).
pub trait EnvState: Clone + fmt::Debug + PartialEq + Serialize + DeserializeOwned {
    /// The name a checkpoint files this state under (`Trading` for the trading env): one
    /// per kind of environment, never changed, so older checkpoints still read.
    const KIND: &'static str;
}

/// N environments stepped together with same-step auto-reset (see
/// [`rltrade_env::vec_env`]).
pub trait VectorEnv {
    /// What [`Self::state`] saves and [`Self::restore`] continues from.
    type State: EnvState;
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
    fn state(&self) -> Self::State;
    /// Continues from `state` (taken by [`Self::state`] of an env built the same way).
    ///
    /// # Errors
    /// [`rltrade_env::Error::InvalidState`] when `state` does not fit this env.
    fn restore(&mut self, state: &Self::State) -> rltrade_env::Result<()>;
}

impl EnvState for rltrade_env::VecEnvState {
    const KIND: &'static str = "Trading";
}

impl VectorEnv for rltrade_env::VecEnv {
    type State = rltrade_env::VecEnvState;

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

    fn state(&self) -> rltrade_env::VecEnvState {
        rltrade_env::VecEnv::state(self)
    }

    fn restore(&mut self, state: &rltrade_env::VecEnvState) -> rltrade_env::Result<()> {
        rltrade_env::VecEnv::restore(self, state)
    }
}

/// Serde `with` module for a saved [`EnvState`]: a map of one entry, its
/// [`EnvState::KIND`] to the state (the layout of the closed enum it replaces, so
/// checkpoints written before read the same). Reading a state of another kind fails,
/// naming both.
pub mod tagged {
    use super::*;

    /// Writes `{KIND: state}`.
    ///
    /// # Errors
    /// The serializer's.
    pub fn serialize<S: EnvState, Ser: Serializer>(state: &S, serializer: Ser) -> Result<Ser::Ok, Ser::Error> {
        let mut map = serializer.serialize_map(Some(1))?;
        map.serialize_entry(S::KIND, state)?;
        map.end()
    }

    /// Reads `{KIND: state}`.
    ///
    /// # Errors
    /// Not a map of one entry, or a state of another kind.
    pub fn deserialize<'de, S: EnvState, D: Deserializer<'de>>(deserializer: D) -> Result<S, D::Error> {
        deserializer.deserialize_map(Tagged(PhantomData))
    }

    struct Tagged<S>(PhantomData<S>);

    impl<'de, S: EnvState> Visitor<'de> for Tagged<S> {
        type Value = S;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "the saved state of a `{}` environment", S::KIND)
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<S, A::Error> {
            use serde::de::Error;
            let Some(kind) = map.next_key::<String>()? else {
                return Err(A::Error::custom(format!("no environment state (expected `{}`)", S::KIND)));
            };
            if kind != S::KIND {
                return Err(A::Error::custom(format!(
                    "the saved environment is `{kind}`, this run's is `{}`",
                    S::KIND
                )));
            }
            let state = map.next_value()?;
            if map.next_key::<serde::de::IgnoredAny>()?.is_some() {
                return Err(A::Error::custom("more than one environment state"));
            }
            Ok(state)
        }
    }
}
