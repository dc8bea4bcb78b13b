//! `rltrade walkforward`: K folds, each an ordinary training run per seed (trained on
//! its training window, its checkpoint picked on its validation window, exported and
//! parity-checked) compared with the baselines on its test window; then every arm over
//! the stitched out-of-sample curve. `--resume DIR` continues a stopped walk-forward.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::{Context, bail, ensure};
use rltrade_agent::resume::first_difference;
use rltrade_agent::run_dir::{RunDir, write_atomically};
use rltrade_agent::trading_run::TrainingEnv;
use rltrade_agent::walkforward::folds::{Fold, FoldNeeds, plan_folds};
use rltrade_agent::walkforward::report::{FoldResult, WalkForwardReport, fold_sharpe, fold_wins, render};
use rltrade_agent::walkforward::stitch::stitch_backtests;
use rltrade_env::bar::{format_interval, format_time_ms};
use rltrade_env::{BarSeries, MarketData, SplitConfig, SplitName, TradingSetup};
use rltrade_eval::compare::arms::{DEFAULT_BASELINES, MA_AUTO_GRID, RlArmSpec};
use rltrade_eval::compare::bootstrap::BootstrapConfig;
use rltrade_eval::compare::equity_csv::{equity_table, write_table};
use rltrade_eval::compare::plot::write_equity_plot;
use rltrade_eval::compare::{ArmBacktests, ArmKind, CompareRequest, PboSummary, analyze, fee_levels, run_backtests};
use rltrade_eval::ledger::{DEFAULT_PBO_PARTITIONS, Ledger, TrialStatus, ledger_pbo, trial_count_with_prior};
use rltrade_policy::ModelCard;
use rltrade_policy::model_dir::{EXPORT_DIR, MODEL_CARD_FILE};
use serde_json::{Value, json};

use super::train::{SeedRun, train_and_export};
use super::trials::Trial;
use crate::cli::WalkForwardArgs;
use crate::config::Config;
use crate::output::{pct, print_json, ratio, table};

/// The resolved config of a walk-forward, in its output folder (`--resume` reads it).
pub const WALKFORWARD_CONFIG: &str = "walkforward.toml";

/// Runs (or resumes) the walk-forward, writes `walkforward.json`, `equity.csv`,
/// `report.md` and `equity.svg` into the output folder, and prints the tables (or JSON).
///
/// # Errors
/// Bad config or data, folds that do not fit the data, a non-empty new output folder, a
/// `--resume` folder of another config, an unreadable or malformed `--prior-ledger`
/// (before any training), training, export or backtest errors.
pub fn run(args: &WalkForwardArgs) -> anyhow::Result<ExitCode> {
    let prior = match &args.prior_ledger {
        Some(path) => Ledger::at(path).read().with_context(|| format!("--prior-ledger {}", path.display()))?,
        None => Vec::new(),
    };
    let (config, out, resuming) = resolve(args)?;
    let series = config.load_series()?;
    let folds = plan(&config, &series)?;
    if resuming {
        RunDir::open(&out)?;
    } else {
        let dir = RunDir::create(&out)?;
        dir.write(WALKFORWARD_CONFIG, config.to_toml()?.as_bytes())?;
    }
    let wf = &config.walkforward;
    tracing::info!(
        "walk-forward: {} {} folds × {} seed(s), test windows of {} bars from {}, into {}",
        folds.len(),
        wf.scheme,
        wf.seeds.len(),
        folds[0].test.len(),
        format_time_ms(series.bars[folds[0].test.start].time_ms),
        out.display()
    );

    // Every fold's config and environment: its own splits and normalization (its
    // training bars).
    let mut runs = Vec::with_capacity(folds.len());
    for fold in &folds {
        runs.push(FoldRun::new(&config, &series, fold.clone())?);
    }
    let ledger = Ledger::in_dir(&out);
    train_all(&config, &runs, &out, &series, args.json)?;
    let records = ledger.read()?;

    // Each fold's comparison on its test window, then the stitched one.
    let arm = wf.name.clone().unwrap_or_else(|| arm_name(None));
    let fees = fee_levels(config.execution.fee_bps, args.fee_levels.as_deref());
    let bootstrap = BootstrapConfig { resamples: args.resamples, mean_block_len: None, seed: args.bootstrap_seed };
    let mut fold_backtests: Vec<ArmBacktests> = Vec::with_capacity(folds.len());
    let mut results = Vec::with_capacity(folds.len());
    for fold in &folds {
        let request = CompareRequest {
            series: series.clone(),
            rl_arms: vec![RlArmSpec {
                name: arm.clone(),
                models: wf.seeds.iter().map(|&s| (s, run_dir(&out, fold.fold, s).join(EXPORT_DIR))).collect(),
            }],
            baselines: DEFAULT_BASELINES.to_vec(),
            split: SplitName::Test,
            fees_bps: fees.clone(),
            execution: config.execution.clone(),
            risk: config.risk.clone(),
            bootstrap,
        };
        let backtests = run_backtests(&request).with_context(|| format!("fold {}: backtests", fold.fold))?;
        results.push(FoldResult {
            times: fold.times(&series.bars, series.interval_ms),
            report: analyze(&backtests, &bootstrap, None),
        });
        fold_backtests.push(backtests);
    }
    let stitched_backtests = stitch_backtests(&fold_backtests)?;
    // N and V of the DSR from the ledger's trials on the stitched window, PBO from their
    // validation returns
    let first_ms = stitched_backtests.runs[0][0][0].first_bar_ms;
    let last_ms = stitched_backtests.runs[0][0][0].last_bar_ms;
    let prior_ledger = args.prior_ledger.as_deref().map(Ledger::at);
    let prior = prior_ledger.as_ref().map(|l| (l.dir(), prior.as_slice()));
    let trials = trial_count_with_prior(ledger.dir(), &records, prior, (first_ms, last_ms))
        .context("--prior-ledger: its trials' returns files")?;
    let mut stitched = analyze(&stitched_backtests, &bootstrap, trials.as_ref());
    stitched.pbo = ledger_pbo(ledger.dir(), &records, DEFAULT_PBO_PARTITIONS)?.as_ref().map(PboSummary::from);
    let report = WalkForwardReport { wins: fold_wins(&results), folds: results, stitched };

    let (json_path, csv_path, report_path, plot_path) =
        (out.join("walkforward.json"), out.join("equity.csv"), out.join("report.md"), out.join("equity.svg"));
    let png_path = out.join("equity.png");
    let boundaries: Vec<i64> = report.folds.iter().skip(1).map(|f| f.times.test_start_ms).collect();
    write_equity_plot(&report.stitched, &series.bars, &boundaries, &plot_path, &png_path)?;
    write_equity_csv(&report, &csv_path)?;
    let setup = setup_lines(&config, args.config.as_deref(), &folds, &series);
    write_atomically(&report_path, render(&report, "equity.png", &setup).as_bytes())?;
    let value = report_json(&report, &config, &series, &out);
    write_atomically(&json_path, serde_json::to_string_pretty(&value)?.as_bytes())?;

    if args.json {
        print_json(&value)?;
    } else {
        print_tables(&report);
        println!(
            "report: {}\nplot:   {} (and .svg)\njson:   {}\nequity: {}",
            report_path.display(),
            png_path.display(),
            json_path.display(),
            csv_path.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The config (file, then `[walkforward]`, then flags), the output folder and whether it
/// resumes. With `--resume DIR`, DIR's saved config is the default, and a config or flags
/// that resolve differently (but for `--jobs`) are an error naming the first difference.
fn resolve(args: &WalkForwardArgs) -> anyhow::Result<(Config, PathBuf, bool)> {
    let saved = match &args.resume {
        Some(dir) => {
            let path = dir.join(WALKFORWARD_CONFIG);
            ensure!(
                path.is_file(),
                "{}: no {WALKFORWARD_CONFIG}, so no walk-forward to resume here (start one with --out)",
                dir.display()
            );
            Some(Config::load(Some(&path))?)
        }
        None => None,
    };
    let mut config = match (&args.config, &saved) {
        (Some(path), _) => Config::load(Some(path))?,
        (None, Some(saved)) => saved.clone(),
        (None, None) => Config::default(),
    };
    apply_flags(args, &mut config);
    config.validate()?;
    let wf = &config.walkforward;
    ensure!(!wf.seeds.is_empty(), "config `walkforward.seeds`: give at least one seed");
    if let Some(seed) = crate::cli::values::first_duplicate(&wf.seeds) {
        bail!("config `walkforward.seeds`: seed {seed} appears twice: give each seed once");
    }
    ensure!(
        (1..=crate::cli::values::MAX_THREADS).contains(&(wf.jobs as u64)),
        "config `walkforward.jobs`: must be in 1..={}, found {}",
        crate::cli::values::MAX_THREADS,
        wf.jobs
    );
    if let (Some(saved), Some(dir)) = (&saved, &args.resume) {
        // --jobs changes how fast, not what: a resumed walk-forward may use another
        let mut given = config.clone();
        given.walkforward.jobs = saved.walkforward.jobs;
        let (a, b) = (saved.to_toml()?, given.to_toml()?);
        if let Some(diff) = first_difference(&a, &b) {
            bail!(
                "{} holds a walk-forward of another config ({diff}): resume it with its own config, or start a new one with --out",
                dir.display()
            );
        }
    }
    let out = match (&args.resume, &args.out) {
        (Some(dir), _) => dir.clone(),
        (None, Some(out)) => out.clone(),
        (None, None) => PathBuf::from("checkpoints").join(format!("{}-walkforward", arm_name(args.config.as_deref()))),
    };
    Ok((config, out, args.resume.is_some()))
}

/// Flags over the config; `[walkforward].total_steps` over `[ppo].total_steps`.
fn apply_flags(args: &WalkForwardArgs, config: &mut Config) {
    let wf = &mut config.walkforward;
    if let Some(v) = &args.data {
        config.data.path.clone_from(v);
    }
    if let Some(v) = args.folds {
        wf.folds = v;
    }
    if let Some(v) = args.scheme {
        wf.scheme = v;
    }
    if let Some(v) = args.train_bars {
        wf.train_bars = Some(v);
    }
    if let Some(v) = &args.seeds {
        wf.seeds.clone_from(&v.0);
    }
    if args.warm_start {
        wf.warm_start = true;
    }
    if let Some(v) = args.jobs {
        wf.jobs = v;
    }
    if let Some(v) = args.total_steps {
        wf.total_steps = Some(v);
    }
    if let Some(v) = wf.total_steps.take() {
        config.ppo.total_steps = v;
    }
    if let Some(v) = args.fee_bps {
        config.execution.fee_bps = v;
    }
    if wf.name.is_none() {
        wf.name = Some(arm_name(args.config.as_deref()));
    }
}

/// The folds of the config on `series`.
fn plan(config: &Config, series: &BarSeries) -> anyhow::Result<Vec<Fold>> {
    // the gap and warm-up as every fold's MarketData will cut them
    let risk_lookback = config.risk.lookback_bars();
    let probe =
        MarketData::new(series.clone(), &config.features, &SplitConfig::default(), &config.env, risk_lookback, None)
            .with_context(|| format!("{}: features and warm-up", config.data.path.display()))?;
    let needs = FoldNeeds {
        n_bars: series.bars.len(),
        gap: probe.splits.gap,
        first_observation: probe.first_observation_index(),
        episode_bars: config.env.max_episode_steps * config.env.decision_interval as usize,
        decision_interval: config.env.decision_interval as usize,
        // ma:50:200 and ma:auto's grid: slow period + 1 bars before a window (or the
        // VaR limit's lookback + 1, if longer)
        baseline_history: MA_AUTO_GRID.iter().map(|&(_, slow)| slow).chain([200, risk_lookback]).max().unwrap_or(0) + 1,
    };
    let folds = plan_folds(&config.walkforward, &needs)
        .with_context(|| format!("{} ({} bars)", config.data.path.display(), series.bars.len()))?;
    Ok(folds)
}

/// A run to train: (index of its fold in the walk-forward, seed).
type Task = (usize, u64);

/// One fold: its windows, its config (the run config with the fold's split dates) and its
/// training environment (its own splits, normalized on its training bars).
struct FoldRun {
    fold: Fold,
    config: Config,
    env: TrainingEnv,
}

impl FoldRun {
    fn new(config: &Config, series: &BarSeries, fold: Fold) -> anyhow::Result<Self> {
        let mut c = config.clone();
        c.split = fold.split_config(&series.bars);
        // how many runs train at once is not the run's setting: a resumed walk-forward
        // may use another --jobs, and its runs' config.toml must not change
        c.walkforward.jobs = 1;
        let data = MarketData::new(series.clone(), &c.features, &c.split, &c.env, c.risk.lookback_bars(), None)
            .with_context(|| format!("fold {}", fold.fold))?;
        let s = &data.splits;
        ensure!(
            (&s.train, &s.validation, &s.test) == (&fold.train, &fold.validation, &fold.test),
            "fold {}: the split dates rebuilt bars {:?}, {:?}, {:?} instead of {:?}, {:?}, {:?}",
            fold.fold,
            s.train,
            s.validation,
            s.test,
            fold.train,
            fold.validation,
            fold.test
        );
        let env = TrainingEnv::Trading(Box::new(TradingSetup {
            data: Arc::new(data),
            env: c.env.clone(),
            execution: c.execution.clone(),
            risk: c.risk.clone(),
            protect: c.protect,
        }));
        Ok(Self { fold, config: c, env })
    }
}

/// The run folder of one fold and seed.
fn run_dir(out: &Path, fold: usize, seed: u64) -> PathBuf {
    out.join(format!("fold-{fold}")).join(format!("seed-{seed}"))
}

/// Whether a fold-seed run is finished: trained and exported.
fn is_finished(dir: &Path) -> bool {
    dir.join(EXPORT_DIR).join(MODEL_CARD_FILE).is_file()
}

/// Trains every unfinished fold-seed run, `walkforward.jobs` at a time. With
/// `warm_start`, fold k's runs wait for fold k − 1's (same seed) and start from its
/// final weights; otherwise every run is independent. Results do not depend on the
/// number of jobs: each run is seeded by its own seed only.
///
/// Every finished run is a trial of the walk-forward's ledger (`trials.jsonl`), recorded
/// once it is exported (again on `--resume` when a kill came between the two); a run
/// that fails is recorded as failed.
fn train_all(config: &Config, runs: &[FoldRun], out: &Path, series: &BarSeries, json: bool) -> anyhow::Result<()> {
    let ledger = Ledger::in_dir(out);
    let recorded: Vec<String> = ledger
        .read_if_exists()?
        .into_iter()
        .filter(|r| r.status == TrialStatus::Finished)
        .map(|r| r.trial_id)
        .collect();
    let wf = &config.walkforward;
    let tasks: Vec<(usize, u64)> = (0..runs.len()).flat_map(|i| wf.seeds.iter().map(move |&s| (i, s))).collect();
    let waves: Vec<Vec<(usize, u64)>> = if wf.warm_start {
        (0..runs.len()).map(|i| tasks.iter().copied().filter(|t| t.0 == i).collect()).collect()
    } else {
        vec![tasks]
    };
    let progress_bar = wf.jobs == 1 && !json && std::io::stderr().is_terminal();
    for wave in waves {
        let (done, todo): (Vec<Task>, Vec<Task>) =
            wave.into_iter().partition(|&(i, s)| is_finished(&run_dir(out, runs[i].fold.fold, s)));
        for (i, seed) in done {
            check_finished_run(&runs[i], &run_dir(out, runs[i].fold.fold, seed), series)?;
            let trial = trial(&ledger, &runs[i], out, seed);
            if !recorded.contains(&trial.trial_id) {
                trial.record_finished(series)?;
            }
        }
        let next = AtomicUsize::new(0);
        let errors: Mutex<Vec<anyhow::Error>> = Mutex::new(Vec::new());
        std::thread::scope(|scope| {
            for _ in 0..wf.jobs.min(todo.len()) {
                scope.spawn(|| {
                    loop {
                        // stop taking runs after a failure; runs under way finish
                        if errors.lock().map_or(true, |e| !e.is_empty()) {
                            break;
                        }
                        let Some(&(i, seed)) = todo.get(next.fetch_add(1, Ordering::SeqCst)) else { break };
                        let trial = trial(&ledger, &runs[i], out, seed);
                        let result = train_one(&runs[i], out, seed, progress_bar)
                            .and_then(|()| trial.record_finished(series).map(|_| ()))
                            .or_else(|e| trial.record_failed().and(Err(e)));
                        if let Err(e) = result {
                            if let Ok(mut errors) = errors.lock() {
                                errors.push(e);
                            }
                        }
                    }
                });
            }
        });
        let mut errors = errors.into_inner().unwrap_or_default();
        if !errors.is_empty() {
            return Err(errors.remove(0));
        }
    }
    Ok(())
}

/// Checks that a finished run kept from before a `--resume` belongs to this plan: its
/// model card's data SHA-256 and split boundaries are the fold's.
///
/// # Errors
/// A changed data file, or a fold re-planned on other bars, naming the run.
fn check_finished_run(run: &FoldRun, dir: &Path, series: &BarSeries) -> anyhow::Result<()> {
    let card = ModelCard::load(&dir.join(EXPORT_DIR).join(MODEL_CARD_FILE))?;
    ensure!(
        card.data.sha256 == series.sha256,
        "{}: trained on data with SHA-256 {}, the data now has {}: start a new walk-forward",
        dir.display(),
        card.data.sha256,
        series.sha256
    );
    let s = &card.splits;
    let f = &run.fold;
    let planned = [f.train.clone(), f.validation.clone(), f.test.clone()];
    let kept = [s.train.start..s.train.end, s.validation.start..s.validation.end, s.test.start..s.test.end];
    ensure!(
        planned == kept,
        "{}: its splits {kept:?} are not fold {}'s {planned:?} (the walk-forward's settings or data changed): start a new walk-forward",
        dir.display(),
        f.fold
    );
    Ok(())
}

/// Fold `run`'s run of `seed` as a trial of `ledger`.
fn trial<'a>(ledger: &'a Ledger, run: &'a FoldRun, out: &Path, seed: u64) -> Trial<'a> {
    let fold = run.fold.fold;
    let dir = run_dir(out, fold, seed);
    Trial {
        ledger,
        trial_id: format!("fold-{fold}/seed-{seed}"),
        run_dir: dir,
        config: &run.config,
        seed,
        fold: Some(fold),
    }
}

/// Trains (or resumes) and exports one fold-seed run.
fn train_one(run: &FoldRun, out: &Path, seed: u64, progress_bar: bool) -> anyhow::Result<()> {
    let fold = run.fold.fold;
    let dir = run_dir(out, fold, seed);
    let warm_start = (run.config.walkforward.warm_start && fold > 1)
        .then(|| run_dir(out, fold - 1, seed).join("checkpoints").join("last"));
    let job = SeedRun {
        config: &run.config,
        env: &run.env,
        seed,
        resume: dir.join("config.toml").is_file(),
        run_dir: dir,
        warm_start,
        progress_bar,
    };
    train_and_export(&job).with_context(|| format!("fold {fold}, seed {seed}"))?;
    Ok(())
}

/// The RL arm's name: the config file's stem (`ppo` without one).
fn arm_name(config: Option<&Path>) -> String {
    config.and_then(|p| p.file_stem()).map_or_else(|| "ppo".into(), |s| s.to_string_lossy().into_owned())
}

fn setup_lines(config: &Config, config_path: Option<&Path>, folds: &[Fold], series: &BarSeries) -> Vec<String> {
    let wf = &config.walkforward;
    vec![
        format!("Data: `{}` ({} bars, SHA-256 `{}`).", config.data.path.display(), series.bars.len(), series.sha256),
        format!("Config: `{}`.", config_path.map_or_else(|| "defaults".into(), |p| p.display().to_string())),
        format!(
            "Folds: {} ({}), test windows of {} bars (the last {} of the bars), validation windows of {} bars before the purge gap, training {}; seeds {:?}, {} PPO steps per run{}.",
            folds.len(),
            wf.scheme,
            folds[0].test.len(),
            wf.test_fraction,
            folds[0].validation.len(),
            match wf.scheme {
                rltrade_agent::walkforward::folds::Scheme::Anchored => "on every bar before validation".to_string(),
                rltrade_agent::walkforward::folds::Scheme::Rolling =>
                    format!("on the last {} bars before validation", folds[0].train.len()),
            },
            wf.seeds,
            config.ppo.total_steps,
            if wf.warm_start { ", each fold starting from the previous fold's final weights" } else { "" }
        ),
        "Normalization: every fold's own, fitted on its training bars (also when warm-started).".into(),
        "Stitching: the folds' test curves joined and compounded; each fold starts flat with fresh risk limits, and a position open at a fold's end is valued at its last close without an exit fee.".into(),
        format!(
            "Costs: fee {} bps, slippage {} bps, starting cash {}; risk: max exposure {}, shorts {}.",
            config.execution.fee_bps,
            config.execution.slippage_bps,
            config.execution.initial_cash,
            config.risk.max_exposure,
            if config.risk.allow_short { "allowed" } else { "not allowed" }
        ),
    ]
}

fn report_json(report: &WalkForwardReport, config: &Config, series: &BarSeries, out: &Path) -> Value {
    let wf = &config.walkforward;
    let folds: Vec<Value> = report
        .folds
        .iter()
        .map(|f| {
            let mut v = json!(f.times);
            v["arms"] = json!(f.report.arms);
            v["differences"] = json!(f.report.differences);
            v["bars"] = json!(f.report.window.bars());
            v
        })
        .collect();
    let s = &report.stitched;
    let runs: Vec<PathBuf> =
        report.folds.iter().flat_map(|f| wf.seeds.iter().map(move |&seed| run_dir(out, f.times.fold, seed))).collect();
    json!({
        "folds": folds,
        "stitched": {
            "first_bar_ms": s.first_bar_ms,
            "last_bar_ms": s.last_bar_ms,
            "bars": s.window.bars(),
            "arms": s.arms,
            "differences": s.differences,
            "fee_sensitivity": s.fee_sensitivity,
            "trials": s.trials,
            "pbo": s.pbo,
            "bootstrap": {
                "resamples": s.bootstrap_resamples,
                "mean_block_len": s.bootstrap_mean_block_len,
                "seed": s.bootstrap_seed,
            },
        },
        "wins": report.wins,
        "scheme": wf.scheme,
        "n_folds": report.folds.len(),
        "seeds": wf.seeds,
        "warm_start": wf.warm_start,
        "total_steps": config.ppo.total_steps,
        "data_file": config.data.path.display().to_string(),
        "data_sha256": series.sha256,
        "symbol": series.symbol,
        "interval": format_interval(series.interval_ms),
        "fee_bps": s.fee_bps,
        "slippage_bps": s.slippage_bps,
        "initial_cash": s.initial_cash,
        "runs": runs,
        "out": out,
    })
}

/// `equity.csv`: compare's equity table of the stitched curve (`timestamp,<arm>,…,<rl
/// arm>/seed-<n>,…`, timestamp = bar open time in ms since epoch UTC, an RL arm's column
/// the mean over seeds of the seed equities) with the fold of each bar after the
/// timestamp.
fn write_equity_csv(report: &WalkForwardReport, path: &Path) -> anyhow::Result<()> {
    let (mut header, mut rows) = equity_table(&report.stitched, path)?;
    header.insert(1, "fold".into());
    for row in &mut rows {
        let time_ms: i64 = row[0].parse()?;
        let fold = report
            .folds
            .iter()
            .find(|f| (f.times.test_start_ms..f.times.test_end_ms).contains(&time_ms))
            .map_or(0, |f| f.times.fold);
        row.insert(1, fold.to_string());
    }
    write_table(path, &header, &rows)?;
    Ok(())
}

fn print_tables(report: &WalkForwardReport) {
    let s = &report.stitched;
    println!(
        "{} {} walk-forward: {} folds, stitched out of sample {} → {} ({} bars), fee {} bps, slippage {} bps",
        s.symbol,
        format_interval(s.interval_ms),
        report.folds.len(),
        format_time_ms(s.first_bar_ms),
        format_time_ms(s.last_bar_ms),
        s.window.bars(),
        s.fee_bps,
        s.slippage_bps
    );
    let mut header = vec!["fold".to_string(), "test window".to_string()];
    header.extend(s.arms.iter().map(|a| format!("{}\nSharpe / return / turnover", a.name)));
    header.extend(s.differences.iter().map(|d| format!("RL − {}\nSharpe", d.baseline)));
    let mut t = table(&header.iter().map(String::as_str).collect::<Vec<_>>());
    for f in &report.folds {
        let mut row = vec![
            f.times.fold.to_string(),
            format!(
                "{} → {}",
                &format_time_ms(f.times.test_start_ms)[..10],
                &format_time_ms(f.times.test_end_ms - 1)[..10]
            ),
        ];
        row.extend(f.report.arms.iter().map(|a| {
            format!(
                "{:.3} / {} / {:.2}",
                fold_sharpe(a),
                pct(a.metrics.total_return.unwrap_or(f64::NAN)),
                a.metrics.turnover.unwrap_or(f64::NAN)
            )
        }));
        let sharpe = |name: &str| f.report.arms.iter().find(|a| a.name == name).map_or(f64::NAN, fold_sharpe);
        row.extend(f.report.differences.iter().map(|d| format!("{:.3}", sharpe(&d.arm) - sharpe(&d.baseline))));
        t.add_row(row);
    }
    println!("{t}");
    println!("Fold Sharpe ratios: the mean over seeds, a seed that never traded counted as 0.");
    let mut st = table(&[
        "stitched arm",
        "final equity",
        "total return [95% CI]",
        "Sharpe [95% CI]",
        "max DD",
        "turnover",
        "PSR",
        "DSR",
        "N",
    ]);
    for a in &s.arms {
        let m = &a.metrics;
        let d = a.deflated_sharpe.as_ref();
        st.add_row(vec![
            if a.kind == ArmKind::Rl { format!("{} ({} seeds)", a.name, a.seeds.len()) } else { a.name.clone() },
            format!("{:.2}", m.final_equity.unwrap_or(f64::NAN)),
            format!(
                "{} [{}, {}]",
                pct(m.total_return.unwrap_or(f64::NAN)),
                pct(a.total_return_ci95[0]),
                pct(a.total_return_ci95[1])
            ),
            format!("{} [{}, {}]", ratio(m.sharpe), ratio(Some(a.sharpe_ci95[0])), ratio(Some(a.sharpe_ci95[1]))),
            pct(m.max_drawdown.unwrap_or(f64::NAN)),
            format!("{:.2}", m.turnover.unwrap_or(f64::NAN)),
            d.map_or_else(|| "–".into(), |d| ratio(d.psr)),
            d.map_or_else(|| "–".into(), |d| ratio(d.dsr)),
            d.map_or_else(|| "–".into(), |d| d.n_trials.to_string()),
        ]);
    }
    println!("{st}");
    for d in &s.differences {
        let won = report.wins.iter().find(|w| w.arm == d.arm && w.baseline == d.baseline);
        println!(
            "{} Higher Sharpe in {} of {} folds.",
            d.verdict_sentence,
            won.map_or(0, |w| w.folds_won),
            won.map_or(0, |w| w.folds_compared)
        );
    }
}
