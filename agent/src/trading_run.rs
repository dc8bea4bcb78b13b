//! A training run from the CLI: the environment (trading or CartPole), the run folder,
//! `metrics.jsonl`, validation backtests of the greedy policy every K updates, and the
//! `last` and `best` checkpoints (best by validation Sharpe).

use std::path::PathBuf;
use std::sync::Arc;

use rltrade_env::backtest::{BacktestSetup, evaluation_window, run_backtest};
use rltrade_env::{EnvConfig, MarketData, Policy, SplitName, VecEnv};
use rltrade_exec::{ExecutionConfig, RiskConfig};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::cartpole::CartPoleVecEnv;
use crate::checkpoint::{CheckpointState, save_checkpoint};
use crate::config::PpoConfig;
use crate::error::Result;
use crate::mlp::ActorCriticWeights;
use crate::policy::GreedyPolicy;
use crate::run_dir::RunDir;
use crate::train::{Control, SeedPurpose, TrainSummary, UpdateLog, derive_seed, mean_last, train};
use crate::vector_env::VectorEnv;

/// Fields of `metrics.jsonl` that measure wall-clock time: they differ between two runs
/// of the same seed; every other field is identical.
pub const WALL_CLOCK_FIELDS: [&str; 4] =
    ["charts/SPS", "time/collect_seconds", "time/update_seconds", "time/elapsed_seconds"];

/// Which environment to train on.
#[derive(Clone, Debug)]
pub enum TrainingEnv {
    /// The trading environment on the train split of `data`.
    Trading {
        /// Bars, features, splits.
        data: Arc<MarketData>,
        /// Environment settings.
        env: EnvConfig,
        /// Cash and costs.
        execution: ExecutionConfig,
        /// Risk limits.
        risk: RiskConfig,
    },
    /// CartPole-v1 (the PPO sanity check).
    CartPole,
}

/// Everything a run needs.
#[derive(Clone, Debug)]
pub struct TrainingRun {
    /// The environment.
    pub env: TrainingEnv,
    /// PPO hyperparameters.
    pub ppo: PpoConfig,
    /// The one seed of the run.
    pub seed: u64,
    /// Validation backtest (and `last` checkpoint) every this many updates, and at the end.
    pub validation_every: u64,
    /// The run folder (must not exist or be empty).
    pub run_dir: PathBuf,
    /// The resolved configuration, saved as `config.toml`.
    pub config_toml: String,
    /// Provenance saved in `run.json` (data file, SHA-256, git commit, ...).
    pub provenance: Value,
}

/// What a finished run reports (`rltrade train --json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    /// The run folder.
    pub run_dir: PathBuf,
    /// The seed.
    pub seed: u64,
    /// Environment steps.
    pub total_steps: u64,
    /// Updates.
    pub updates: u64,
    /// Environment steps per wall second.
    pub steps_per_second: f64,
    /// Mean return of the last 20 training episodes.
    pub mean_return_last_20_episodes: Option<f64>,
    /// Best validation Sharpe of the greedy policy (trading only).
    pub best_validation_sharpe: Option<f64>,
    /// Share of wall time spent collecting rollouts.
    pub collect_share: f64,
}

/// Runs training, writing the run folder; `progress` receives one line per update.
///
/// # Errors
/// A non-empty run folder, invalid settings, environment or I/O errors, divergence.
pub fn run_training(run: &TrainingRun, mut progress: impl FnMut(&str)) -> Result<RunReport> {
    run.ppo.validate()?;
    let dir = RunDir::create(&run.run_dir)?;
    dir.write("config.toml", run.config_toml.as_bytes())?;
    dir.write("run.json", serde_json::to_string_pretty(&run.provenance).unwrap_or_default().as_bytes())?;
    let env_seed = derive_seed(run.seed, SeedPurpose::Env);
    let (summary, best) = match &run.env {
        TrainingEnv::Trading { data, env, execution, risk } => {
            let mut venv = VecEnv::new(
                Arc::clone(data),
                env,
                execution,
                risk,
                SplitName::Train,
                run.ppo.n_envs,
                env_seed,
                run.ppo.env_threads,
            )?;
            let setup = BacktestSetup {
                data: Arc::clone(data),
                env: env.clone(),
                execution: execution.clone(),
                risk: risk.clone(),
            };
            train_with_logging(run, &dir, &mut venv, Some(&setup), &mut progress)?
        }
        TrainingEnv::CartPole => {
            let mut venv = CartPoleVecEnv::new(run.ppo.n_envs, env_seed);
            train_with_logging(run, &dir, &mut venv, None, &mut progress)?
        }
    };
    let total = summary.collect_seconds + summary.update_seconds;
    Ok(RunReport {
        run_dir: run.run_dir.clone(),
        seed: run.seed,
        total_steps: summary.total_steps,
        updates: summary.updates,
        steps_per_second: summary.steps_per_second,
        mean_return_last_20_episodes: summary.mean_return_last_20(),
        best_validation_sharpe: best,
        collect_share: if total > 0.0 { summary.collect_seconds / total } else { 0.0 },
    })
}

/// The greedy policy's Sharpe and total return on the validation split.
fn validate(setup: &BacktestSetup, weights: &ActorCriticWeights) -> Result<(Option<f64>, f64)> {
    let mut policy = GreedyPolicy::new("ppo", weights.clone());
    let window = evaluation_window(&setup.data, SplitName::Validation, &[(policy.name(), policy.warmup())])?;
    let result = run_backtest(setup, window, &mut policy)?;
    Ok((result.metrics.sharpe, result.metrics.total_return))
}

fn train_with_logging<E: VectorEnv>(
    run: &TrainingRun,
    dir: &RunDir,
    env: &mut E,
    validation: Option<&BacktestSetup>,
    progress: &mut impl FnMut(&str),
) -> Result<(TrainSummary, Option<f64>)> {
    let mut returns: Vec<f64> = Vec::new();
    let mut best: Option<f64> = None;
    let started = std::time::Instant::now();
    let every = run.validation_every.max(1);
    let (obs_dim, n_actions) = (env.obs_dim(), env.n_actions());
    let (_, _, summary) = train(env, &run.ppo, run.seed, |log: &UpdateLog<'_>| {
        returns.extend(log.episodes.iter().map(|e| e.0));
        let mut line = metrics_line(log, started.elapsed().as_secs_f64());
        let checkpoint_now = log.update % every == 0 || log.update == log.num_updates;
        let mut sharpe = None;
        if checkpoint_now {
            if let Some(setup) = validation {
                let (s, total_return) = validate(setup, log.weights)?;
                sharpe = s;
                line.insert("validation/sharpe".into(), json!(s));
                line.insert("validation/total_return".into(), json!(total_return));
            }
            let state = CheckpointState {
                update: log.update,
                global_step: log.global_step,
                seed: run.seed,
                obs_dim,
                n_actions,
                hidden: run.ppo.hidden.clone(),
                validation_sharpe: sharpe,
            };
            save_checkpoint(&dir.path().join("checkpoints").join("last"), log.learner, &state)?;
            // best by validation Sharpe (trading), else the last one
            let better = match (sharpe, best) {
                (Some(s), Some(b)) => s > b,
                (Some(_), None) => true,
                (None, _) => validation.is_none(),
            };
            if better {
                best = sharpe.or(best);
                save_checkpoint(&dir.path().join("checkpoints").join("best"), log.learner, &state)?;
            }
        }
        dir.append_line("metrics.jsonl", &Value::Object(line).to_string())?;
        progress(&format!(
            "update {}/{} step {} return(last 20) {} sps {:.0}{}",
            log.update,
            log.num_updates,
            log.global_step,
            mean_last(&returns, 20).map_or_else(|| "-".into(), |m| format!("{m:.4}")),
            log.steps_per_second,
            sharpe.map_or_else(String::new, |s| format!(" validation sharpe {s:.3}")),
        ));
        Ok(Control::Continue)
    })?;
    Ok((summary, best))
}

/// One `metrics.jsonl` line, with CleanRL's TensorBoard tags as keys.
fn metrics_line(log: &UpdateLog<'_>, elapsed: f64) -> Map<String, Value> {
    let s = log.stats;
    let n = log.episodes.len();
    let mean = |f: &dyn Fn(&(f64, u32)) -> f64| (n > 0).then(|| log.episodes.iter().map(f).sum::<f64>() / n as f64);
    let mut m = Map::new();
    let mut put = |k: &str, v: Value| {
        m.insert(k.to_string(), v);
    };
    put("update", json!(log.update));
    put("global_step", json!(log.global_step));
    put("charts/learning_rate", json!(s.learning_rate));
    put("charts/episodic_return", json!(mean(&|e| e.0)));
    put("charts/episodic_length", json!(mean(&|e| f64::from(e.1))));
    put("charts/episodes", json!(n));
    put("losses/policy_loss", json!(s.policy_loss));
    put("losses/value_loss", json!(s.value_loss));
    put("losses/entropy", json!(s.entropy));
    put("losses/old_approx_kl", json!(s.old_approx_kl));
    put("losses/approx_kl", json!(s.approx_kl));
    put("losses/clipfrac", json!(s.clipfrac));
    put("losses/explained_variance", json!(s.explained_variance));
    put("losses/grad_norm", json!(s.grad_norm));
    put("losses/epochs", json!(s.epochs));
    put("charts/SPS", json!(log.steps_per_second));
    put("time/collect_seconds", json!(log.collect_seconds));
    put("time/update_seconds", json!(log.update_seconds));
    put("time/elapsed_seconds", json!(elapsed));
    m
}
