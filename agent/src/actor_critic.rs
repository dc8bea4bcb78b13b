//! `ActorCritic`: separate actor and critic MLPs (tanh hidden layers) as a burn module.
//!
//! Architecture and initialization follow CleanRL's `ppo.py` and Huang et al., "The 37
//! Implementation Details of PPO" (2022): two hidden layers of 64 with tanh, orthogonal
//! weights with gain √2 in hidden layers, 0.01 for the policy head and 1.0 for the value
//! head, zero biases.

use burn::config::Config;
use burn::module::{Module, Param, ParamId};
use burn::nn::Linear;
use burn::tensor::{Device, Tensor, TensorData};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::error::{Error, Result};
use crate::fused_linear::{Activation, fused_linear};
use crate::init::orthogonal;
use crate::mlp::{ActorCriticWeights, Dense, Mlp};

/// Shape of the networks.
#[derive(Config, Debug, PartialEq)]
pub struct ActorCriticConfig {
    /// Observation length.
    pub obs_dim: usize,
    /// Number of discrete actions.
    pub n_actions: usize,
    /// Hidden layer widths, the same for actor and critic. Default `[64, 64]` (CleanRL,
    /// SB3 `MlpPolicy`).
    #[config(default = "vec![64, 64]")]
    pub hidden: Vec<usize>,
}

/// The actor-critic network: `actor: [obs_dim] → … → [n_actions]` logits and
/// `critic: [obs_dim] → … → [1]` value.
#[derive(Module, Debug)]
pub struct ActorCritic {
    /// Actor layers, input first.
    pub actor: Vec<Linear>,
    /// Critic layers, input first.
    pub critic: Vec<Linear>,
}

impl ActorCriticConfig {
    /// Initializes the networks on `device` from a ChaCha8 stream seeded with `seed`.
    ///
    /// # Errors
    /// [`Error::Config`] for zero sizes.
    pub fn init(&self, seed: u64, device: &Device) -> Result<ActorCritic> {
        if self.obs_dim == 0 || self.n_actions == 0 || self.hidden.contains(&0) {
            return Err(Error::Config {
                field: "ppo.hidden".into(),
                message: format!(
                    "sizes must be >= 1: obs_dim {}, n_actions {}, hidden {:?}",
                    self.obs_dim, self.n_actions, self.hidden
                ),
            });
        }
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        // Parameter ids by position (not burn's random ids), so that checkpoints of the
        // same seed are byte-identical.
        let mut net = |d_out: usize, head_gain: f64, id_base: u64| -> Vec<Linear> {
            let mut widths = vec![self.obs_dim];
            widths.extend(&self.hidden);
            widths.push(d_out);
            let n = widths.len() - 1;
            (0..n)
                .map(|k| {
                    let gain = if k + 1 == n { head_gain } else { std::f64::consts::SQRT_2 };
                    let weight = orthogonal(widths[k], widths[k + 1], gain, &mut rng);
                    let mut layer = linear(widths[k], widths[k + 1], weight, vec![0.0; widths[k + 1]], device);
                    layer.weight.id = ParamId::from(id_base + 2 * k as u64);
                    if let Some(bias) = layer.bias.as_mut() {
                        bias.id = ParamId::from(id_base + 2 * k as u64 + 1);
                    }
                    layer
                })
                .collect()
        };
        let actor = net(self.n_actions, 0.01, 1_000);
        let critic = net(1, 1.0, 2_000);
        Ok(ActorCritic { actor, critic })
    }
}

/// A burn `Linear` holding the given row-major `[d_in, d_out]` weights and bias.
fn linear(d_in: usize, d_out: usize, weight: Vec<f32>, bias: Vec<f32>, device: &Device) -> Linear {
    Linear {
        weight: Param::from_tensor(Tensor::<2>::from_data(TensorData::new(weight, [d_in, d_out]), device)),
        bias: Some(Param::from_tensor(Tensor::<1>::from_data(TensorData::new(bias, [d_out]), device))),
    }
}

/// The layers in order, each as one [`fused_linear`] operation: tanh after every layer but
/// the last.
fn mlp_forward(layers: &[Linear], x: Tensor<2>) -> Tensor<2> {
    let last = layers.len() - 1;
    layers.iter().enumerate().fold(x, |x, (k, layer)| {
        let activation = if k == last { Activation::Identity } else { Activation::Tanh };
        let bias = match &layer.bias {
            Some(bias) => bias.val(),
            None => Tensor::zeros([layer.weight.dims()[1]], &x.device()),
        };
        fused_linear(x, layer.weight.val(), bias, activation)
    })
}

impl ActorCritic {
    /// A network without layers: a placeholder left behind while the model is moved
    /// (into the optimizer's step), never used for a forward.
    pub fn empty() -> Self {
        Self { actor: Vec::new(), critic: Vec::new() }
    }

    /// Logits and values of a batch.
    ///
    /// # Shapes
    /// `obs`: `[batch, obs_dim]` → logits `[batch, n_actions]`, values `[batch]`.
    pub fn forward(&self, obs: Tensor<2>) -> (Tensor<2>, Tensor<1>) {
        let logits = mlp_forward(&self.actor, obs.clone());
        let values = mlp_forward(&self.critic, obs);
        let batch = values.dims()[0];
        (logits, values.reshape([batch]))
    }

    /// The ids of every parameter with its rank, for global gradient clipping.
    pub fn param_ids(&self) -> Vec<(ParamId, usize)> {
        self.actor
            .iter()
            .chain(&self.critic)
            .flat_map(|l| std::iter::once((l.weight.id, 2)).chain(l.bias.as_ref().map(|b| (b.id, 1))))
            .collect()
    }

    /// Plain-f32 copies of the weights.
    ///
    /// # Errors
    /// [`Error::Diverged`] is not raised here; a tensor that cannot be read as f32
    /// gives [`Error::Config`].
    pub fn to_weights(&self) -> Result<ActorCriticWeights> {
        let mlp = |layers: &[Linear]| -> Result<Mlp> {
            let layers = layers
                .iter()
                .map(|l| {
                    let [d_in, d_out] = l.weight.val().dims();
                    let read = |t: TensorData| {
                        t.try_into_vec::<f32>().map_err(|e| Error::Config {
                            field: "model".into(),
                            message: format!("cannot read weights as f32: {e:?}"),
                        })
                    };
                    let weight = read(l.weight.val().into_data())?;
                    let bias = match &l.bias {
                        Some(b) => read(b.val().into_data())?,
                        None => vec![0.0; d_out],
                    };
                    Ok(Dense { d_in, d_out, weight, bias })
                })
                .collect::<Result<Vec<_>>>()?;
            Ok(Mlp { layers })
        };
        Ok(ActorCriticWeights { actor: mlp(&self.actor)?, critic: mlp(&self.critic)? })
    }
}
