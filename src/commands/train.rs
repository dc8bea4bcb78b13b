//! `rltrade train`: PPO on the trading environment (or CartPole), one run folder per seed;
//! `--resume DIR` continues a stopped run.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use rltrade_agent::export::CheckpointChoice;
use rltrade_agent::progress::ProgressBarDisplay;
use rltrade_agent::trading_run::{RunReport, TrainingEnv, TrainingRun, run_training};
use rltrade_agent::train::Control;
use rltrade_env::{MarketData, SplitName, TradingSetup};
use rltrade_eval::ledger::Ledger;
use serde_json::json;

use super::trials::Trial;
use crate::cli::{TrainArgs, TrainEnvKind};
use crate::config::Config;
use crate::output::print_json;

/// Resolves config and flags, trains each seed, prints a summary (or JSON).
///
/// # Errors
/// Bad config or data, an existing run folder, training errors.
pub fn run(args: &TrainArgs) -> anyhow::Result<ExitCode> {
    // SIGTERM or Ctrl-C: the run stops after its update, checkpointed and exported
    crate::interrupt::install().context("cannot install the SIGTERM handler")?;
    // a resumed run's own config is the default; a --config given must equal it
    if let Some(dir) = &args.resume {
        anyhow::ensure!(
            dir.join("config.toml").is_file(),
            "{}: no config.toml, so no run to resume here (a run killed before writing it left nothing to keep: start it with --out)",
            dir.display()
        );
    }
    let config_file = match (&args.config, &args.resume) {
        (None, Some(dir)) => Some(dir.join("config.toml")),
        (path, _) => path.clone(),
    };
    let mut config = Config::load(config_file.as_deref())?;
    if let Some(path) = &args.data {
        config.data.path.clone_from(path);
    }
    if let Some(steps) = args.total_steps {
        config.ppo.total_steps = steps;
    }
    let seeds: Vec<u64> = match (&args.seeds, args.seed) {
        (Some(list), _) => list.0.clone(),
        (None, Some(seed)) => vec![seed],
        (None, None) => vec![config.train.seed],
    };
    config.validate()?;
    let env_kind = match (args.env, &args.resume) {
        (Some(kind), _) => kind,
        (None, Some(dir)) => env_of_run(dir),
        (None, None) => TrainEnvKind::Trading,
    };
    let config_name = match (&env_kind, &args.config) {
        (TrainEnvKind::Cartpole, None) => "cartpole".to_string(),
        (_, Some(path)) => path.file_stem().map_or("run".into(), |s| s.to_string_lossy().into_owned()),
        (_, None) => "default".to_string(),
    };
    let env = match env_kind {
        TrainEnvKind::Cartpole => TrainingEnv::CartPole,
        TrainEnvKind::Trading => {
            let series = config.load_series()?;
            let risk_lookback = config.risk.lookback_bars();
            let data =
                Arc::new(MarketData::new(series, &config.features, &config.split, &config.env, risk_lookback, None)?);
            TrainingEnv::Trading(Box::new(TradingSetup {
                data,
                env: config.env.clone(),
                execution: config.execution.clone(),
                risk: config.risk.clone(),
                protect: config.protect,
            }))
        }
    };
    let mut reports = Vec::new();
    let mut stopped_by_signal = false;
    for &seed in &seeds {
        if crate::interrupt::requested() {
            // a signal between two runs (or during the start): no run is started after it
            stopped_by_signal = true;
            break;
        }
        let run_dir = match (&args.resume, &args.out, args.seeds.is_some()) {
            (Some(dir), _, _) => dir.clone(),
            (None, Some(out), true) => out.join(format!("seed-{seed}")),
            (None, Some(out), false) => out.clone(),
            (None, None, _) => PathBuf::from("checkpoints").join(format!("{config_name}-s{seed}")),
        };
        let job = SeedRun {
            config: &config,
            env: &env,
            seed,
            run_dir,
            resume: args.resume.is_some(),
            warm_start: None,
            progress_bar: !args.json && std::io::stderr().is_terminal(),
        };
        // `--seeds --out DIR` is an experiment: each run is a trial of DIR's ledger; a
        // run of one resumed with `--resume DIR/seed-N` is recorded there too
        let experiment = match (&env, &args.trial_of) {
            (TrainingEnv::Trading(setup), Some(study)) => {
                Some((Ledger::in_dir(study), trial_id_in(study, &job.run_dir)?, &setup.data.series))
            }
            _ => None,
        };
        let experiment = experiment.or(match (&env, &args.resume, &args.out, args.seeds.is_some()) {
            (TrainingEnv::Trading(setup), None, Some(out), true) => {
                Some((Ledger::in_dir(out), format!("seed-{seed}"), &setup.data.series))
            }
            (TrainingEnv::Trading(setup), Some(dir), _, _) => {
                let ledger = dir.parent().map(Ledger::in_dir).filter(|l| l.path().is_file());
                let id = dir.file_name().map(|n| n.to_string_lossy().into_owned());
                ledger.zip(id).map(|(l, id)| (l, id, &setup.data.series))
            }
            _ => None,
        });
        let result = train_and_export(&job);
        let stopped = result.as_ref().is_ok_and(|o| o.stopped);
        if let Some((ledger, trial_id, series)) = &experiment {
            let trial = Trial {
                ledger,
                run_dir: job.run_dir.clone(),
                trial_id: trial_id.clone(),
                config: &config,
                seed,
                fold: None,
            };
            match &result {
                Ok(_) if stopped => {
                    trial.record_stopped_early(series)?;
                }
                Ok(_) => {
                    trial.record_finished(series)?;
                }
                Err(_) => {
                    if let Err(e) = trial.record_failed() {
                        tracing::warn!("could not record the failed trial: {e:#}");
                    }
                }
            }
        }
        reports.push(result?.report);
        if stopped {
            // the seeds after it are not started
            stopped_by_signal = true;
            break;
        }
    }
    if args.json {
        let mut value = report_json(&reports, args.seeds.is_some(), args.out.as_deref());
        value["stopped_by_signal"] = json!(stopped_by_signal);
        print_json(&value)?;
    } else {
        for r in &reports {
            println!(
                "{}: seed {}{}, {} steps, {:.0} steps/s, mean return (last 20 episodes) {}, best validation Sharpe {}",
                r.run_dir.display(),
                r.seed,
                r.resumed_from_update.map_or_else(String::new, |u| format!(" (resumed from update {u})")),
                r.total_steps,
                r.steps_per_second,
                r.mean_return_last_20_episodes.map_or_else(|| "-".into(), |m| format!("{m:.4}")),
                r.best_validation_sharpe.map_or_else(|| "-".into(), |s| format!("{s:.3}")),
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// One seed's run: where, from what, and how it shows progress.
pub struct SeedRun<'a> {
    /// The resolved config (its `train.seed` is replaced by `seed`).
    pub config: &'a Config,
    /// The environment built from it.
    pub env: &'a TrainingEnv,
    /// The seed.
    pub seed: u64,
    /// The run folder.
    pub run_dir: PathBuf,
    /// Continue the run in `run_dir` (`train --resume`).
    pub resume: bool,
    /// Start the network from this checkpoint folder's weights (walk-forward warm start).
    pub warm_start: Option<PathBuf>,
    /// A progress bar on stderr; else a log line per update.
    pub progress_bar: bool,
}

/// Trains (or resumes) one seed's run and, on the trading env, exports its best
/// checkpoint to `<run>/export/` with the parity check.
///
/// # Errors
/// Training errors (a non-empty new folder, a folder of another run), export errors;
/// each names the seed and the folder.
pub fn train_and_export(job: &SeedRun<'_>) -> anyhow::Result<SeedOutcome> {
    let (seed, run_dir) = (job.seed, &job.run_dir);
    let mut resolved = job.config.clone();
    resolved.train.seed = seed;
    let run = TrainingRun {
        env: job.env.clone(),
        ppo: job.config.ppo.clone(),
        seed,
        validation_every: job.config.train.validation_every,
        run_dir: run_dir.clone(),
        config_toml: resolved.to_toml()?,
        provenance: {
            let mut v = provenance(job.env, &resolved, seed, &job.config.data.path);
            if let Some(path) = &job.warm_start {
                v["warm_start"] = json!(path.display().to_string());
            }
            v
        },
        resume: job.resume,
        warm_start: job.warm_start.clone(),
    };
    let verb = if run.resume { "resuming" } else { "training" };
    tracing::info!("{verb} seed {seed} in {}", run_dir.display());
    // a bar on a terminal; plain log lines otherwise (and always with --json)
    let mut bar = job.progress_bar.then(ProgressBarDisplay::new);
    let mut stopped = false;
    let report = run_training(&run, |p| {
        match bar.as_mut() {
            Some(bar) => bar.show(p),
            None => tracing::info!("{}: {}", run_dir.display(), p.line()),
        }
        // after the update's checkpoints were saved (SIGTERM, Ctrl-C: crate::interrupt);
        // a signal during the last update stops nothing: the run has finished
        stopped = crate::interrupt::requested() && p.update < p.num_updates;
        if stopped { Control::Stop } else { Control::Continue }
    });
    if let Some(bar) = bar.as_mut() {
        bar.finish();
    }
    let report = report.with_context(|| format!("{verb} seed {seed} in {}", run_dir.display()))?;
    if stopped {
        tracing::warn!(
            "seed {seed} stopped by a signal after update {} (checkpoint saved; `rltrade train --resume {}` continues it)",
            report.updates,
            run_dir.display()
        );
    }
    tracing::info!(
        "seed {seed}: {} steps at {:.0} steps/s, mean return of the last 20 episodes {}",
        report.total_steps,
        report.steps_per_second,
        report.mean_return_last_20_episodes.map_or_else(|| "-".into(), |m| format!("{m:.4}"))
    );
    match job.env {
        TrainingEnv::Trading(_) => {
            // a run stopped before its first validation has no `best` yet: its `last`
            let best_saved = run_dir.join("checkpoints").join("best").exists();
            let choice = if stopped && !best_saved { CheckpointChoice::Last } else { CheckpointChoice::Best };
            let export = super::export::export_run(run_dir, choice, None)
                .with_context(|| format!("exporting {}", run_dir.display()))?;
            let p = &export.card.parity;
            tracing::info!(
                "exported the best checkpoint to {}: parity on {} test observations, max abs error ONNX Runtime {:.2e}, tract {:.2e}",
                export.out_dir.display(),
                p.observations,
                p.ort_max_abs_error,
                p.tract_max_abs_error
            );
        }
        TrainingEnv::CartPole => {}
    }
    Ok(SeedOutcome { report, stopped })
}

/// The trial id of the run folder `run` in the experiment folder `study`: its path
/// relative to `study` (`trial-0003`, `trial-0003/seed-1`), with `/` separators.
///
/// # Errors
/// `run` is not inside `study` (both compared as absolute paths; a `..` in the part
/// below `study` is refused).
fn trial_id_in(study: &Path, run: &Path) -> anyhow::Result<String> {
    let absolute = |p: &Path| std::path::absolute(p).with_context(|| format!("cannot resolve {}", p.display()));
    let (study_abs, run_abs) = (absolute(study)?, absolute(run)?);
    let inside =
        |r: &Path| !r.as_os_str().is_empty() && r.components().all(|c| matches!(c, std::path::Component::Normal(_)));
    let relative = run_abs.strip_prefix(&study_abs).ok().filter(|r| inside(r)).with_context(|| {
        format!(
            "--trial-of {}: the run folder {} is not inside it (give --out inside the experiment's folder)",
            study.display(),
            run.display()
        )
    })?;
    Ok(relative.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/"))
}

/// How one seed's run ended.
pub struct SeedOutcome {
    /// The training report.
    pub report: RunReport,
    /// Stopped by SIGTERM or Ctrl-C before the end of its budget
    /// ([`crate::interrupt`]): its checkpoints and export (`<run>/export/`, written for
    /// every trading run) are as of the last update.
    pub stopped: bool,
}

/// The environment a run folder was trained on, from its `run.json` (trading when it
/// cannot tell; resuming then checks `run.json` and names what is wrong).
fn env_of_run(dir: &Path) -> TrainEnvKind {
    let run = rltrade_agent::run_dir::read_run_json(dir).ok();
    match run.as_ref().and_then(|r| r["env"].as_str()) {
        Some("cartpole") => TrainEnvKind::Cartpole,
        _ => TrainEnvKind::Trading,
    }
}

fn report_json(reports: &[RunReport], many: bool, out: Option<&Path>) -> serde_json::Value {
    let total_steps: u64 = reports.iter().map(|r| r.total_steps).sum();
    let sps = reports.iter().map(|r| r.steps_per_second).sum::<f64>() / reports.len().max(1) as f64;
    let mut v = json!({
        "total_steps": total_steps,
        "steps_per_second": sps,
        "runs": reports,
    });
    if many {
        v["run_dirs"] = json!(reports.iter().map(|r| r.run_dir.clone()).collect::<Vec<_>>());
        v["out"] = json!(out);
        let means: Vec<f64> = reports.iter().filter_map(|r| r.mean_return_last_20_episodes).collect();
        v["mean_return_last_20_episodes"] =
            json!((!means.is_empty()).then(|| means.iter().sum::<f64>() / means.len() as f64));
    } else if let Some(r) = reports.first() {
        v["run_dir"] = json!(r.run_dir);
        v["mean_return_last_20_episodes"] = json!(r.mean_return_last_20_episodes);
        v["best_validation_sharpe"] = json!(r.best_validation_sharpe);
        v["seed"] = json!(r.seed);
        v["resumed_from_update"] = json!(r.resumed_from_update);
    }
    v
}

/// `run.json`: what the run was trained on and with.
fn provenance(env: &TrainingEnv, config: &Config, seed: u64, data_path: &Path) -> serde_json::Value {
    let git_commit = std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    let mut v = json!({
        "seed": seed,
        "rltrade_version": env!("CARGO_PKG_VERSION"),
        "git_commit": git_commit,
        "ppo": config.ppo,
    });
    if let TrainingEnv::Trading(setup) = env {
        let data = &setup.data;
        let bars = &data.series.bars;
        v["env"] = json!("trading");
        v["data_file"] = json!(data_path.display().to_string());
        v["data_sha256"] = json!(data.series.sha256);
        v["symbol"] = json!(data.series.symbol);
        v["interval_ms"] = json!(data.series.interval_ms);
        v["splits"] = json!({
            "gap": data.splits.gap,
            "train": data.splits.boundary(SplitName::Train, bars),
            "validation": data.splits.boundary(SplitName::Validation, bars),
            "test": data.splits.boundary(SplitName::Test, bars),
        });
        v["features"] = json!({
            "config": data.feature_config,
            "names": rltrade_env::features::FEATURE_NAMES,
            "normalization": data.normalization,
        });
    } else {
        v["env"] = json!("cartpole");
    }
    v
}
