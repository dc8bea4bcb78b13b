//! `rltrade bench env`: environment throughput, counted in env steps per second.
//!
//! Every case replays the given data with the default features, window 32 and random
//! actions from a fixed seed; observation writing, the risk check and the fill path are
//! included, and finished episodes auto-reset.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rltrade_env::data::load_csv;
use rltrade_env::features::FeatureConfig;
use rltrade_env::{EnvConfig, MarketData, SplitConfig, SplitName, TradingEnv, TradingSetup, VecEnv, VecStepBuffers};
use rltrade_exec::{ExecutionConfig, ProtectConfig, RiskConfig};
use serde_json::json;

use crate::output::{print_json, table};

/// Runs the cases for `seconds` each and prints a table (or JSON).
///
/// # Errors
/// Unreadable data.
pub fn run(data_path: &Path, seconds: f64, json: bool) -> anyhow::Result<ExitCode> {
    let series = load_csv(data_path)?;
    let env_config = EnvConfig::default();
    let data =
        Arc::new(MarketData::new(series, &FeatureConfig::default(), &SplitConfig::default(), &env_config, 0, None)?);
    // `--duration-s` is checked by its parser; this guards callers that skip it
    let budget = Duration::try_from_secs_f64(seconds.max(0.05))
        .map_err(|e| anyhow::anyhow!("--duration-s: {seconds} is not a duration ({e})"))?;
    let setup = TradingSetup {
        data: Arc::clone(&data),
        env: env_config.clone(),
        execution: ExecutionConfig::default(),
        risk: RiskConfig::default(),
        protect: ProtectConfig::default(),
    };

    let single = bench_single(&setup, budget)?;
    let mut rows = vec![("TradingEnv", 1usize, 1usize, single)];
    for threads in [1, 2] {
        for n_envs in [8, 64] {
            let rate = bench_vec(&setup, n_envs, threads, budget)?;
            rows.push(("VecEnv", n_envs, threads, rate));
        }
    }
    let best_vec = rows.iter().skip(1).map(|r| r.3).fold(0.0, f64::max);
    if json {
        print_json(&json!({
            "single_env_steps_per_s": single,
            "vec_env_steps_per_s": best_vec,
            "data": data_path.display().to_string(),
            "window": env_config.window,
            "obs_dim": env_config.window * data.n_features + rltrade_env::trading_env::POSITION_FEATURES,
            "cases": rows.iter().map(|(kind, n, t, rate)| json!({"kind": kind, "n_envs": n, "threads": t, "steps_per_s": rate})).collect::<Vec<_>>(),
        }))?;
    } else {
        let mut t = table(&["case", "envs", "threads", "env steps/s"]);
        for (kind, n, threads, rate) in &rows {
            t.add_row(vec![kind.to_string(), n.to_string(), threads.to_string(), format!("{rate:.0}")]);
        }
        println!("{t}");
    }
    Ok(ExitCode::SUCCESS)
}

fn bench_single(setup: &TradingSetup, budget: Duration) -> anyhow::Result<f64> {
    let mut env = TradingEnv::new(setup, SplitName::Train, 1)?;
    let mut obs = vec![0.0f32; env.obs_dim()];
    env.reset_into(Some(1), &mut obs);
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let n_actions = env.n_actions();
    let mut steps = 0u64;
    let mut checksum = 0.0f64;
    let start = Instant::now();
    while start.elapsed() < budget {
        for _ in 0..4_096 {
            let out = env.step_into(rng.random_range(0..n_actions), &mut obs)?;
            checksum += out.reward;
            if out.terminated || out.truncated {
                env.reset_into(None, &mut obs);
            }
        }
        steps += 4_096;
    }
    let rate = steps as f64 / start.elapsed().as_secs_f64();
    tracing::debug!("single env checksum {checksum}");
    Ok(rate)
}

fn bench_vec(setup: &TradingSetup, n_envs: usize, threads: usize, budget: Duration) -> anyhow::Result<f64> {
    let mut venv = VecEnv::new(setup, SplitName::Train, n_envs, 1, threads)?;
    let mut out = VecStepBuffers::new(n_envs, venv.obs_dim());
    venv.reset(&mut out.obs)?;
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let n_actions = setup.env.actions.len();
    let mut actions = vec![0usize; n_envs];
    let mut batches = 0u64;
    let start = Instant::now();
    while start.elapsed() < budget {
        for _ in 0..64 {
            actions.iter_mut().for_each(|a| *a = rng.random_range(0..n_actions));
            venv.step(&actions, &mut out)?;
        }
        batches += 64;
    }
    Ok((batches * n_envs as u64) as f64 / start.elapsed().as_secs_f64())
}
