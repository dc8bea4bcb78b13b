//! Batched inference of the strategies that share a model: at a bar where several
//! strategies run the same ONNX file (copies of one model under different names, each
//! with its own account), their observations go through ONNX Runtime as one
//! `[batch, obs_dim]` run instead of one run each. A run's fixed cost (ONNX Runtime's
//! per-call work, and the caches a cold session misses) dominates these small
//! networks, so a bar of 100 strategies on 18 models costs 18 runs, not 100.
//!
//! Each strategy still decides on its own row: its hysteresis, its account and its
//! risk check are its own, exactly as after its own inference. ONNX Runtime's CPU
//! kernels compute each row of a batch as they compute a batch of one
//! (`tests/serve_cli.rs::copies_of_one_model_infer_as_a_batch_and_each_trades_like_the_backtest`
//! checks it bit for bit). A batched run that fails (a foreign ONNX file whose batch
//! dimension is fixed at 1, say) is logged and each strategy infers alone, as without
//! batching.

use std::time::Instant;

use rltrade_env::PreparedBar;

use crate::strategy::{StrategyPolicy, StrategyRunner};

/// Buffers of one batched run, kept between bars to reuse their allocations.
#[derive(Debug, Default)]
pub(super) struct BatchBuffers {
    obs: Vec<f32>,
    probs: Vec<f32>,
    logits: Vec<f32>,
    deciding: Vec<usize>,
}

/// Runs, for every model shared by at least two strategies that decide at this bar, one
/// batched inference, and hands each strategy its row ([`rltrade_policy::OnnxPolicy::preset_outputs`]).
/// When a batched run fails, its strategies get nothing and infer alone when they
/// decide, as do the strategies alone on their model.
///
/// `prepared[i]` belongs to `runners[i]`. Returns, per runner, its share of the batched
/// run its outputs came from, µs: the run's time over the strategies in it (`None` for
/// the others), so that the inference-latency metric sums to the time spent.
pub(super) fn infer_shared_models(
    runners: &mut [StrategyRunner],
    prepared: &[(Option<u64>, PreparedBar)],
    buffers: &mut BatchBuffers,
) -> Vec<Option<f64>> {
    let mut batched_us = vec![None; runners.len()];
    let deciding = &mut buffers.deciding;
    deciding.clear();
    deciding.extend(
        (0..runners.len())
            .filter(|&i| prepared[i].1.decides() && matches!(runners[i].policy(), StrategyPolicy::Model(_))),
    );
    if deciding.len() < 2 {
        return batched_us;
    }
    // stable: a model's strategies stay in their order
    deciding.sort_by(|&a, &b| runners[a].model_sha256().cmp(runners[b].model_sha256()));
    let same_model = |a: &usize, b: &usize| {
        runners[*a].model_sha256() == runners[*b].model_sha256()
            && runners[*a].observation().len() == runners[*b].observation().len()
    };
    let groups: Vec<Vec<usize>> =
        deciding.chunk_by(same_model).filter(|group| group.len() >= 2).map(<[usize]>::to_vec).collect();
    for group in groups {
        let n_actions = runners[group[0]].actions().len();
        buffers.obs.clear();
        for &i in &group {
            buffers.obs.extend_from_slice(runners[i].observation());
        }
        buffers.probs.resize(group.len() * n_actions, 0.0);
        buffers.logits.resize(group.len() * n_actions, 0.0);
        let started = Instant::now();
        let result = match runners[group[0]].policy_mut() {
            StrategyPolicy::Model(policy) => {
                policy.model_mut().infer(&buffers.obs, group.len(), &mut buffers.probs, &mut buffers.logits)
            }
            StrategyPolicy::Baseline(_) => continue,
        };
        let share_us = started.elapsed().as_secs_f64() * 1e6 / group.len() as f64;
        if let Err(e) = result {
            tracing::warn!(
                strategies = group.len(),
                "batched inference failed ({e}); each strategy of the model infers alone"
            );
            continue;
        }
        for (row, &i) in group.iter().enumerate() {
            let StrategyPolicy::Model(policy) = runners[i].policy_mut() else { continue };
            let rows = row * n_actions..(row + 1) * n_actions;
            if policy.preset_outputs(&buffers.probs[rows.clone()], &buffers.logits[rows]) {
                batched_us[i] = Some(share_us);
            }
        }
    }
    batched_us
}
