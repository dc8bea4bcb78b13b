//! A training run from the CLI: the environment (trading or CartPole), the run folder,
//! `metrics.jsonl` and TensorBoard events (`tb/`) with CleanRL's tags, validation
//! backtests of the greedy policy every K updates, the `best` checkpoint (by validation
//! Sharpe) and, after every update, the resumable `last` checkpoint.
//!
//! Each update writes, in order: its TensorBoard events, its `metrics.jsonl` line,
//! `best` (if it improved), `last`. A run stopped anywhere resumes from `last`: lines
//! and events of later updates are dropped (`metrics.jsonl` is cut, TensorBoard is told
//! to purge them), and the updates after it run again exactly as before.

use std::path::PathBuf;

use rltrade_env::TradingSetup;

use rltrade_env::backtest::run_backtest;
use rltrade_env::{Policy, SplitName, VecEnv};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::cartpole::CartPoleVecEnv;
use crate::checkpoint::{CheckpointState, ResumeState, load_resume, recover_interrupted_save, save_checkpoint};
use crate::error::{Error, Result};
use crate::mlp::ActorCriticWeights;
use crate::policy::GreedyPolicy;
use crate::progress::Progress;
use crate::resume::{check_run_folder, record_resume};
use crate::run_dir::{RunDir, keep_first_updates};
use crate::tensorboard::{EventWriter, HParamsMetric, SessionOutcome, hparams_from_config};
use crate::train::{Control, Resume, SeedPurpose, Start, TrainSummary, UpdateLog, derive_seed, mean_last, train_from};
use crate::vector_env::{EnvState, VectorEnv};
use rltrade_config::ppo::PpoConfig;

/// Fields of `metrics.jsonl` that measure wall-clock time: they differ between two runs
/// of the same seed; every other field is identical.
pub const WALL_CLOCK_FIELDS: [&str; 4] =
    ["charts/SPS", "time/collect_seconds", "time/update_seconds", "time/elapsed_seconds"];

/// Which environment to train on.
#[derive(Clone, Debug)]
pub enum TrainingEnv {
    /// The trading environment on the train split of `data`.
    Trading(Box<TradingSetup>),
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
    /// Validation backtest (and `best` checkpoint) every this many updates, and at the end.
    pub validation_every: u64,
    /// The run folder (must not exist or be empty, unless `resume`).
    pub run_dir: PathBuf,
    /// The resolved configuration, saved as `config.toml`.
    pub config_toml: String,
    /// Provenance saved in `run.json` (data file, SHA-256, git commit, ...).
    pub provenance: Value,
    /// Continue the run in `run_dir` from its `checkpoints/last` instead of starting one:
    /// `config_toml` and the data's SHA-256 must equal the folder's.
    pub resume: bool,
    /// Start a new run's network from the weights of this checkpoint folder (a
    /// walk-forward fold continuing the previous fold, `walkforward --warm-start`);
    /// optimizer, generators and environments still start from the seed. Ignored when a
    /// run resumes from its own checkpoint.
    pub warm_start: Option<PathBuf>,
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
    /// The update the run resumed from (`None` for a run started here; 0 for a resumed
    /// run that had not finished its first update).
    pub resumed_from_update: Option<u64>,
}

/// Runs training (or, with `run.resume`, continues it), writing the run folder;
/// `progress` sees every update and may stop the run there (it stays resumable).
///
/// # Errors
/// A non-empty run folder (new runs), a folder that differs from `run` or has no
/// checkpoint (resumed runs), invalid settings, environment or I/O errors, divergence.
pub fn run_training(run: &TrainingRun, mut progress: impl FnMut(&Progress) -> Control) -> Result<RunReport> {
    run.ppo.validate()?;
    let dir = if run.resume {
        let dir = RunDir::open(&run.run_dir)?;
        check_run_folder(&dir, &run.config_toml, &run.provenance)?;
        dir
    } else {
        let dir = RunDir::create(&run.run_dir)?;
        dir.write("config.toml", run.config_toml.as_bytes())?;
        dir.write("run.json", serde_json::to_string_pretty(&run.provenance).unwrap_or_default().as_bytes())?;
        dir
    };
    let config_sha256 = rltrade_env::data::sha256_file(&dir.path().join("config.toml"))?;
    let env_seed = derive_seed(run.seed, SeedPurpose::Env);
    let logging = Logging { run, dir: &dir, config_sha256 };
    // the checkpoint to resume from is read as the saved state of the run's kind of env
    let (summary, best, resumed_from_update) = match &run.env {
        TrainingEnv::Trading(setup) => {
            let resume = logging.resume_point()?;
            let mut venv = VecEnv::new(setup, SplitName::Train, run.ppo.n_envs, env_seed, run.ppo.env_threads)?;
            logging.train(&mut venv, Some(setup.as_ref()), resume, &mut progress)?
        }
        TrainingEnv::CartPole => {
            let resume = logging.resume_point()?;
            let mut venv = CartPoleVecEnv::new(run.ppo.n_envs, env_seed);
            logging.train(&mut venv, None, resume, &mut progress)?
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
        resumed_from_update,
    })
}

/// The point a resumed run continues from: `None` for a new run.
type ResumePoint<S> = Option<(Resume<S>, ResumeState<S>)>;

/// How a run without a resume point starts: from `run.warm_start`'s weights, or fresh.
fn fresh_start<S>(run: &TrainingRun) -> Result<Start<S>> {
    match &run.warm_start {
        None => Ok(Start::Fresh),
        Some(path) => {
            let (model, _) = crate::checkpoint::load_checkpoint(path, &crate::training_device())?;
            Ok(Start::WarmStart { path: path.clone(), model })
        }
    }
}

/// Loads `checkpoints/last` of the run folder, checks it belongs to `run`, cuts
/// `metrics.jsonl` to its update and notes the resume in `run.json`. `None` when the
/// run stopped before its first update ended: it then starts over in its folder.
fn resume_point<S: EnvState>(run: &TrainingRun, dir: &RunDir, config_sha256: &str) -> Result<ResumePoint<S>> {
    let last = dir.path().join("checkpoints").join("last");
    for checkpoint in ["last", "best"] {
        recover_interrupted_save(&dir.path().join("checkpoints").join(checkpoint))?;
    }
    if !last.exists() {
        refuse_a_lost_last_checkpoint(dir, &last)?;
        keep_first_updates(dir, "metrics.jsonl", 0)?;
        record_resume(dir, 0, &run.provenance)?;
        return Ok(None);
    }
    let (resume, state, resume_state) = load_resume(&last, &crate::training_device())?;
    let mismatch = |message: String| Error::Checkpoint { path: last.clone(), message };
    if state.config_sha256 != config_sha256 {
        return Err(mismatch(format!(
            "it was written for another config.toml (SHA-256 {}, the run folder's is {config_sha256})",
            state.config_sha256
        )));
    }
    if state.seed != run.seed || state.hidden != run.ppo.hidden {
        return Err(mismatch(format!(
            "it is of seed {} with hidden layers {:?}, this run has seed {} and {:?}",
            state.seed, state.hidden, run.seed, run.ppo.hidden
        )));
    }
    keep_first_updates(dir, "metrics.jsonl", state.update)?;
    record_resume(dir, state.update, &run.provenance)?;
    Ok(Some((resume, resume_state)))
}

/// Refuses to start a run over when its `checkpoints/last` is missing although the run
/// got past its first update. Each update writes its `metrics.jsonl` line before its
/// `last` checkpoint, so a run stopped during update 1 may hold one line and no `last`
/// (it then starts over, losing nothing that was checkpointed); two lines or more mean
/// `last` was written and is gone (deleted, or the folder copied without it), and
/// starting over would discard every update done.
///
/// # Errors
/// [`Error::Resume`] naming the missing folder and what would be discarded.
fn refuse_a_lost_last_checkpoint(dir: &RunDir, last: &std::path::Path) -> Result<()> {
    let metrics = dir.path().join("metrics.jsonl");
    let logged =
        std::fs::read_to_string(&metrics).map_or(0, |text| text.lines().filter(|l| !l.trim().is_empty()).count());
    if logged < 2 {
        return Ok(());
    }
    let best = dir.path().join("checkpoints").join("best");
    let best_note = if best.exists() { format!(", the checkpoint {}", best.display()) } else { String::new() };
    Err(Error::Resume {
        path: dir.path().to_path_buf(),
        message: format!(
            "its last checkpoint {} is missing, but {} records {logged} updates: starting over would discard them \
             (their metrics lines, TensorBoard events{best_note}); restore {} or start a new run with --out",
            last.display(),
            metrics.display(),
            last.display()
        ),
    })
}

/// The greedy policy's Sharpe and total return on the validation split, deciding as the
/// exported model will (decision interval, switch margin).
fn validate(setup: &TradingSetup, weights: &ActorCriticWeights) -> Result<(Option<f64>, f64)> {
    let mut policy = GreedyPolicy::new("ppo", weights.clone()).with_decision_rules(&setup.env);
    let window = setup.evaluation_window(SplitName::Validation, &[(policy.name(), policy.warmup())])?;
    let result = run_backtest(setup, window, &mut policy)?;
    Ok((result.metrics.sharpe, result.metrics.total_return))
}

/// What every update writes, and where.
struct Logging<'a> {
    run: &'a TrainingRun,
    dir: &'a RunDir,
    config_sha256: String,
}

impl Logging<'_> {
    /// With `run.resume`, the run's [`resume_point`]; else `None`.
    fn resume_point<S: EnvState>(&self) -> Result<ResumePoint<S>> {
        if self.run.resume { resume_point(self.run, self.dir, &self.config_sha256) } else { Ok(None) }
    }

    /// Trains on `env` (validating on `validation`, if any), from `resume` if given,
    /// writing metrics, events and checkpoints after every update. Returns the summary,
    /// the best validation Sharpe and, for a resumed run, the update it resumed after.
    fn train<E: VectorEnv>(
        &self,
        env: &mut E,
        validation: Option<&TradingSetup>,
        resume: ResumePoint<E::State>,
        progress: &mut impl FnMut(&Progress) -> Control,
    ) -> Result<(TrainSummary, Option<f64>, Option<u64>)> {
        let (run, dir) = (self.run, self.dir);
        let resumed_from_update = run.resume.then(|| resume.as_ref().map_or(0, |(r, _)| r.state.update));
        let (start, mut best) = match resume {
            Some((resume, state)) => (Start::Resume(Box::new(resume)), state.best_validation_sharpe),
            None => (fresh_start(run)?, None),
        };
        let restart_step = match &start {
            Start::Resume(r) => Some(r.state.global_step + 1),
            _ => None,
        };
        let mut events = EventWriter::create(&dir.path().join("tb"), restart_step)?;
        if restart_step.is_none() {
            self.describe_run(&mut events, validation.is_some())?;
        }
        let every = run.validation_every.max(1);
        let (obs_dim, n_actions) = (env.obs_dim(), env.n_actions());
        let checkpoints = dir.path().join("checkpoints");
        let trained = train_from(env, &run.ppo, run.seed, start, |log: &UpdateLog<'_, E>| {
            let mut line = metrics_line(log);
            let validate_now = log.update.is_multiple_of(every) || log.update == log.num_updates;
            let mut sharpe = None;
            if validate_now && let Some(setup) = validation {
                let (s, total_return) = validate(setup, log.weights)?;
                sharpe = s;
                line.insert("validation/sharpe".into(), json!(s));
                line.insert("validation/total_return".into(), json!(total_return));
            }
            write_events(&mut events, &line, log.global_step)?;
            dir.append_line("metrics.jsonl", &Value::Object(line).to_string())?;
            let state = CheckpointState {
                update: log.update,
                global_step: log.global_step,
                seed: run.seed,
                obs_dim,
                n_actions,
                hidden: run.ppo.hidden.clone(),
                validation_sharpe: sharpe,
                config_sha256: self.config_sha256.clone(),
            };
            // best by validation Sharpe (trading); until one is defined (a policy that
            // never trades on validation has a flat equity curve and no Sharpe), the
            // latest validated checkpoint, so that every run has a best to export
            let better = validate_now
                && match (sharpe, best) {
                    (Some(s), Some(b)) => s > b,
                    (Some(_), None) | (None, None) => true,
                    (None, Some(_)) => validation.is_none(),
                };
            if better {
                best = sharpe.or(best);
                save_checkpoint::<E::State>(&checkpoints.join("best"), log.learner, &state, None)?;
            }
            let resume_state = ResumeState { loop_state: log.loop_state(), best_validation_sharpe: best };
            save_checkpoint(&checkpoints.join("last"), log.learner, &state, Some(&resume_state))?;
            Ok(progress(&Progress {
                update: log.update,
                num_updates: log.num_updates,
                global_step: log.global_step,
                mean_return_last_20: mean_last(log.episode_returns, 20),
                steps_per_second: log.steps_per_second,
                validation_sharpe: sharpe,
                best_validation_sharpe: best,
            }))
        });
        let outcome = if trained.is_ok() { SessionOutcome::Success } else { SessionOutcome::Failure };
        // the run's own error comes first; the end marker is best effort after one
        let ended = events.hparams_end(outcome).and_then(|()| events.flush());
        let (_, _, summary) = trained?;
        ended?;
        Ok((summary, best, resumed_from_update))
    }

    /// The first events of a new run: its resolved configuration as text (tag `config`)
    /// and its hyperparameters for TensorBoard's HParams table, grouped by the
    /// configuration's SHA-256 (runs of one group differ only by seed), with the final
    /// validation metrics (with `validated`) and the mean episodic return as columns.
    fn describe_run(&self, events: &mut EventWriter, validated: bool) -> Result<()> {
        let run = self.run;
        let text: String = run.config_toml.lines().map(|l| format!("    {l}\n")).collect();
        events.text("config", &text, 0)?;
        let mut metrics = vec![HParamsMetric { tag: "charts/episodic_return", validation: false }];
        if validated {
            metrics.push(HParamsMetric { tag: "validation/sharpe", validation: true });
            metrics.push(HParamsMetric { tag: "validation/total_return", validation: true });
        }
        events.hparams_start(&hparams_from_config(&run.config_toml, run.seed)?, &metrics, &self.config_sha256)?;
        events.flush()
    }
}

/// Writes every number of a `metrics.jsonl` line but `update` and `global_step` as a
/// TensorBoard scalar at `global_step` (CleanRL's x axis), then flushes.
fn write_events(events: &mut EventWriter, line: &Map<String, Value>, global_step: u64) -> Result<()> {
    for (tag, value) in line {
        if tag == "update" || tag == "global_step" {
            continue;
        }
        if let Some(v) = value.as_f64() {
            events.scalar(tag, v, global_step)?;
        }
    }
    events.flush()
}

/// One `metrics.jsonl` line, with CleanRL's TensorBoard tags as keys.
fn metrics_line<E: VectorEnv>(log: &UpdateLog<'_, E>) -> Map<String, Value> {
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
    put("time/elapsed_seconds", json!(log.elapsed_seconds));
    m
}
