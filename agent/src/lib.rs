//! `rltrade-agent`: PPO on burn.
#![deny(missing_docs)]

pub mod actor_critic;
pub mod cartpole;
pub mod checkpoint;
pub mod error;
pub mod export;
pub mod fused_linear;
pub mod gae;
pub mod init;
pub mod mlp;
pub mod onnx_graph;
pub mod policy;
pub mod ppo;
pub mod progress;
pub mod resume;
pub mod rollout;
pub mod run_dir;
pub mod tanh;
pub mod tensorboard;
pub mod trading_run;
pub mod train;
pub mod vector_env;
pub mod walkforward;

pub use error::{Error, Result};

/// The inference device (export, parity checks): burn's flex backend without autodiff.
pub fn inference_device() -> burn::tensor::Device {
    burn::tensor::Device::flex()
}

/// The training device: burn's pure-Rust flex backend with autodiff.
pub fn training_device() -> burn::tensor::Device {
    burn::tensor::Device::flex().autodiff()
}
