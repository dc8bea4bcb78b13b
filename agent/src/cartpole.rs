//! CartPole-v1, the sanity check of the PPO code: the classic cart-pole dynamics of
//! Barto, Sutton & Anderson (1983) with gymnasium's `CartPole-v1` constants, Euler
//! integration, termination at |x| > 2.4 or |θ| > 12°, truncation at 500 steps, reward
//! 1 per step, initial state uniform in ±0.05.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::vector_env::{EnvState, VecStepBuffers, VectorEnv};

const GRAVITY: f64 = 9.8;
const MASS_CART: f64 = 1.0;
const MASS_POLE: f64 = 0.1;
const TOTAL_MASS: f64 = MASS_CART + MASS_POLE;
const LENGTH: f64 = 0.5; // half the pole's length
const POLE_MASS_LENGTH: f64 = MASS_POLE * LENGTH;
const FORCE_MAG: f64 = 10.0;
const TAU: f64 = 0.02;
const THETA_LIMIT: f64 = 12.0 * 2.0 * std::f64::consts::PI / 360.0;
const X_LIMIT: f64 = 2.4;
/// Steps after which an episode is truncated (CartPole-v1).
pub const MAX_STEPS: u32 = 500;

/// One cart-pole (serializable: it is its own saved state).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CartPole {
    state: [f64; 4],
    steps: u32,
    rng: ChaCha8Rng,
}

impl CartPole {
    /// A cart-pole drawing its initial states from stream `stream` of `seed`.
    pub fn new(seed: u64, stream: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(stream);
        let mut env = Self { state: [0.0; 4], steps: 0, rng };
        env.reset();
        env
    }

    /// A new episode; returns the observation `[x, ẋ, θ, θ̇]`.
    pub fn reset(&mut self) -> [f32; 4] {
        for s in &mut self.state {
            *s = self.rng.random_range(-0.05..0.05);
        }
        self.steps = 0;
        self.observation()
    }

    fn observation(&self) -> [f32; 4] {
        self.state.map(|s| s as f32)
    }

    /// Pushes left (0) or right (1): returns (observation, reward, terminated, truncated).
    pub fn step(&mut self, action: usize) -> ([f32; 4], f32, bool, bool) {
        let [x, x_dot, theta, theta_dot] = self.state;
        let force = if action == 1 { FORCE_MAG } else { -FORCE_MAG };
        let (sin, cos) = theta.sin_cos();
        let temp = (force + POLE_MASS_LENGTH * theta_dot * theta_dot * sin) / TOTAL_MASS;
        let theta_acc = (GRAVITY * sin - cos * temp) / (LENGTH * (4.0 / 3.0 - MASS_POLE * cos * cos / TOTAL_MASS));
        let x_acc = temp - POLE_MASS_LENGTH * theta_acc * cos / TOTAL_MASS;
        self.state = [x + TAU * x_dot, x_dot + TAU * x_acc, theta + TAU * theta_dot, theta_dot + TAU * theta_acc];
        self.steps += 1;
        let terminated = self.state[0].abs() > X_LIMIT || self.state[2].abs() > THETA_LIMIT;
        let truncated = !terminated && self.steps >= MAX_STEPS;
        (self.observation(), 1.0, terminated, truncated)
    }
}

/// N cart-poles with same-step auto-reset, env i on stream i of `seed`. Serializable:
/// the whole vector is its own saved state ([`EnvState`] of kind `CartPole`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CartPoleVecEnv {
    envs: Vec<CartPole>,
    returns: Vec<f64>,
    lengths: Vec<u32>,
}

impl CartPoleVecEnv {
    /// `n_envs` cart-poles.
    pub fn new(n_envs: usize, seed: u64) -> Self {
        Self {
            envs: (0..n_envs).map(|i| CartPole::new(seed, i as u64)).collect(),
            returns: vec![0.0; n_envs],
            lengths: vec![0; n_envs],
        }
    }
}

impl EnvState for CartPoleVecEnv {
    const KIND: &'static str = "CartPole";
}

impl VectorEnv for CartPoleVecEnv {
    type State = CartPoleVecEnv;

    fn n_envs(&self) -> usize {
        self.envs.len()
    }

    fn obs_dim(&self) -> usize {
        4
    }

    fn n_actions(&self) -> usize {
        2
    }

    fn reset(&mut self, obs: &mut [f32]) -> rltrade_env::Result<()> {
        check(obs.len(), self.envs.len() * 4, "obs")?;
        for (env, o) in self.envs.iter_mut().zip(obs.chunks_exact_mut(4)) {
            o.copy_from_slice(&env.reset());
        }
        self.returns.fill(0.0);
        self.lengths.fill(0);
        Ok(())
    }

    fn state(&self) -> CartPoleVecEnv {
        self.clone()
    }

    fn restore(&mut self, saved: &CartPoleVecEnv) -> rltrade_env::Result<()> {
        if saved.envs.len() != self.envs.len() {
            return Err(rltrade_env::Error::InvalidState {
                message: format!("it holds {} cart-poles, this run has {}", saved.envs.len(), self.envs.len()),
            });
        }
        self.clone_from(saved);
        Ok(())
    }

    fn step(&mut self, actions: &[usize], out: &mut VecStepBuffers) -> rltrade_env::Result<()> {
        check(actions.len(), self.envs.len(), "actions")?;
        if let Some(&action) = actions.iter().find(|&&a| a > 1) {
            return Err(rltrade_env::Error::InvalidAction { action, n_actions: 2 });
        }
        for (i, env) in self.envs.iter_mut().enumerate() {
            let (obs, reward, terminated, truncated) = env.step(actions[i]);
            self.returns[i] += f64::from(reward);
            self.lengths[i] += 1;
            out.rewards[i] = reward;
            out.terminated[i] = terminated;
            out.truncated[i] = truncated;
            let o = &mut out.obs[i * 4..(i + 1) * 4];
            o.copy_from_slice(&obs);
            if terminated || truncated {
                out.final_obs[i * 4..(i + 1) * 4].copy_from_slice(&obs);
                out.episode_return[i] = self.returns[i];
                out.episode_length[i] = self.lengths[i];
                self.returns[i] = 0.0;
                self.lengths[i] = 0;
                o.copy_from_slice(&env.reset());
            }
        }
        Ok(())
    }
}

fn check(found: usize, expected: usize, name: &'static str) -> rltrade_env::Result<()> {
    if found == expected { Ok(()) } else { Err(rltrade_env::Error::BufferSize { name, expected, found }) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pushing_one_way_topples_the_pole_and_episodes_truncate_at_500() {
        let mut env = CartPole::new(0, 0);
        let steps = (1..).find(|_| env.step(1).2).unwrap();
        assert!((5..60).contains(&steps), "always pushing right falls within a few dozen steps: {steps}");
        // alternating pushes keep it up for a while but 500 steps is the hard limit
        let mut env = CartPole::new(0, 0);
        env.state = [0.0; 4];
        let mut truncated_at = None;
        for t in 1..=MAX_STEPS {
            let a = if env.state[2] + 0.1 * env.state[3] > 0.0 { 1 } else { 0 };
            let (_, _, terminated, truncated) = env.step(a);
            assert!(!terminated, "a simple balancing rule holds the pole (step {t})");
            if truncated {
                truncated_at = Some(t);
            }
        }
        assert_eq!(truncated_at, Some(MAX_STEPS));
    }

    /// A checkpoint's field holding the envs, as `LoopState` saves it.
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Saved {
        #[serde(with = "crate::vector_env::tagged")]
        env: CartPoleVecEnv,
    }

    /// The closed enum the saved state used to be (`Trading(VecEnvState)` or
    /// `CartPole(CartPoleVecEnv)`), as older checkpoints hold it.
    #[derive(Serialize)]
    enum OldEnvState {
        CartPole(CartPoleVecEnv),
    }

    #[derive(Serialize)]
    struct OldSaved {
        env: OldEnvState,
    }

    #[test]
    fn saved_state_has_the_layout_of_older_checkpoints() {
        let mut venv = CartPoleVecEnv::new(3, 11);
        let mut obs = vec![0.0; 12];
        venv.reset(&mut obs).unwrap();
        let mut out = VecStepBuffers::new(3, 4);
        for _ in 0..40 {
            venv.step(&[1, 0, 1], &mut out).unwrap();
        }
        let old = cbor(&OldSaved { env: OldEnvState::CartPole(venv.state()) });
        let new = cbor(&Saved { env: venv.state() });
        assert_eq!(old, new, "byte for byte the enum's CBOR");
        let read: Saved = ciborium::from_reader(old.as_slice()).unwrap();
        assert_eq!(read.env, venv);
        let mut restored = CartPoleVecEnv::new(3, 0);
        restored.restore(&read.env).unwrap();
        assert_eq!(restored, venv);
        // a state of another kind is refused, naming both
        let json = serde_json::json!({ "env": { "Trading": {} } });
        let err = serde_json::from_value::<Saved>(json).unwrap_err().to_string();
        assert!(err.contains("the saved environment is `Trading`, this run's is `CartPole`"), "{err}");
        let err = CartPoleVecEnv::new(2, 0).restore(&venv).unwrap_err().to_string();
        assert!(err.contains("it holds 3 cart-poles, this run has 2"), "{err}");
    }

    fn cbor<T: Serialize>(value: &T) -> Vec<u8> {
        let mut out = Vec::new();
        ciborium::into_writer(value, &mut out).unwrap();
        out
    }
}
