//! `rltrade compare`: exported RL policies against baselines on one out-of-sample
//! window, with bootstrap intervals, paired differences, verdicts deflated for the
//! trials of a trial ledger, fee sensitivity, a plot, `equity.csv` and `report.md`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use rltrade_agent::compare::arms::{DEFAULT_BASELINES, arm_name, group_by_seed};
use rltrade_agent::compare::bootstrap::BootstrapConfig;
use rltrade_agent::compare::bootstrap::Interval;
use rltrade_agent::compare::equity_csv::write_equity_csv;
use rltrade_agent::compare::plot::write_equity_plot;
use rltrade_agent::compare::report::{pbo_sentence, render};
use rltrade_agent::compare::{
    ArmKind, ArmMetrics, CompareReport, CompareRequest, PboSummary, TrialCount, analyze, fee_levels, run_backtests,
};
use rltrade_agent::ledger::{DEFAULT_PBO_PARTITIONS, Ledger, ledger_pbo, trial_count};
use rltrade_agent::run_dir::write_atomically;
use rltrade_env::bar::{format_interval, format_time_ms};
use rltrade_env::baselines::MaSpec;
use rltrade_env::selection_stats::sharpe::DeflatedSharpe;
use rltrade_policy::ModelCard;
use rltrade_policy::model_dir::{EXPORT_DIR, MODEL_CARD_FILE, resolve_export_dir};
use serde::Serialize;
use serde_json::{Value, json};

use crate::cli::CompareArgs;
use crate::config::Config;
use rltrade_agent::compare::report::OPEN_TRADE_NOTE;

use crate::output::{pct, print_json, ratio, table};

/// Runs the comparison, writes `report.md`, `equity.png`/`.svg`, `equity.csv` and
/// `compare.json` into the output folder, and prints the tables (or one JSON object).
/// With a trial ledger (`--ledger`, or the `trials.jsonl` next to the models' run
/// folders) the Deflated Sharpe Ratios count its trials and the PBO is reported.
///
/// # Errors
/// Bad models or data, a malformed ledger or returns file, missing ONNX Runtime,
/// unwritable output.
pub fn run(args: &CompareArgs) -> anyhow::Result<ExitCode> {
    let mut config = Config::load(args.config.as_deref())?;
    if let Some(v) = args.slippage_bps {
        config.execution.slippage_bps = v;
    }
    config.validate()?;

    // Cards first: they name the data file when --data is not given, and group seeds.
    let mut runs = Vec::new();
    let mut cards = Vec::new();
    for dir in &args.models {
        let export = resolve_export_dir(dir)?;
        let card = ModelCard::load(&export.join(MODEL_CARD_FILE))?;
        let seed = card.training["seed"].as_u64().unwrap_or(0);
        let t = &card.training;
        let settings = json!({"ppo": t["ppo"], "reward": t["reward"], "env": t["env"], "execution": t["execution"], "risk": t["risk"], "data": card.data.sha256});
        runs.push((arm_name(&card.name), seed, export, settings));
        cards.push(card);
    }
    let arms = group_by_seed(runs)?;
    // The ledger is read before the backtests, so a malformed one fails fast.
    let ledger = match &args.ledger {
        Some(path) => Some(Ledger::at(path)),
        None => default_ledger(&args.models)?,
    };
    let records = match &ledger {
        Some(l) => {
            tracing::info!("counting the trials of the ledger {}", l.path().display());
            Some(l.read()?)
        }
        None => None,
    };
    let data_path = match &args.data {
        Some(p) => p.clone(),
        None => cards[0].data.locate(&rltrade_policy::model_dir::resolve_export_dir(&args.models[0])?)?,
    };
    config.data.path.clone_from(&data_path);
    let series = config.load_series()?;
    let fees = fee_levels(args.fee_bps.unwrap_or(config.execution.fee_bps), args.fee_levels.as_deref());
    let request = CompareRequest {
        series,
        rl_arms: arms,
        baselines: if args.baseline.is_empty() { DEFAULT_BASELINES.to_vec() } else { args.baseline.clone() },
        split: args.split,
        fees_bps: fees,
        execution: config.execution.clone(),
        risk: config.risk.clone(),
        bootstrap: BootstrapConfig {
            resamples: args.resamples,
            mean_block_len: args.block_len,
            seed: args.bootstrap_seed,
        },
    };
    let backtests = run_backtests(&request)?;
    let mut trials: Option<TrialCount> = None;
    let mut pbo: Option<PboSummary> = None;
    if let (Some(l), Some(records)) = (&ledger, &records) {
        let first = &backtests.runs[0][0][0];
        trials = trial_count(l.dir(), records, (first.first_bar_ms, first.last_bar_ms))?;
        pbo = ledger_pbo(l.dir(), records, DEFAULT_PBO_PARTITIONS)?.as_ref().map(PboSummary::from);
        let n_rl = request.rl_arms.len();
        match &trials {
            None => tracing::warn!(
                "the ledger {} has no finished trial: N = the {n_rl} RL arm(s) of this comparison",
                l.path().display()
            ),
            Some(t) if t.n_trials < n_rl => tracing::warn!(
                "the ledger {} counts {} configuration(s), fewer than the {n_rl} RL arms compared: are their trials in it?",
                l.path().display(),
                t.n_trials
            ),
            Some(_) => {}
        }
    }
    let mut report = analyze(&backtests, &request.bootstrap, trials.as_ref());
    report.pbo = pbo;

    let out = args.out.clone().unwrap_or_else(|| {
        let first = &args.models[0];
        let run = if first.join(MODEL_CARD_FILE).is_file() { first.parent().unwrap_or(first) } else { first };
        run.join("compare")
    });
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    let (report_path, plot_path, json_path) = (out.join("report.md"), out.join("equity.svg"), out.join("compare.json"));
    let csv_path = out.join("equity.csv");
    let png_path = out.join("equity.png");
    write_equity_plot(&report, &request.series.bars, &[], &plot_path, &png_path)?;
    write_equity_csv(&report, &csv_path)?;
    let provenance = vec![
        format!("Data: `{}` ({} bars).", data_path.display(), request.series.bars.len()),
        format!("Models: {}.", args.models.iter().map(|m| format!("`{}`", m.display())).collect::<Vec<_>>().join(", ")),
        format!(
            "Risk: max exposure {}, max drawdown halt {}, daily loss halt {}, shorts {}.",
            config.risk.max_exposure,
            config.risk.max_drawdown.map_or_else(|| "none".into(), |v| v.to_string()),
            config.risk.daily_loss_limit.map_or_else(|| "none".into(), |v| v.to_string()),
            if config.risk.allow_short { "allowed" } else { "not allowed" }
        ),
        match (&ledger, &report.trials) {
            (Some(l), Some(t)) => format!(
                "Trial ledger: `{}`: {} configuration(s), {} finished run(s).",
                l.path().display(),
                t.n_trials,
                t.n_runs
            ),
            (Some(l), None) => format!("Trial ledger: `{}`, without a finished trial.", l.path().display()),
            (None, _) => "Trial ledger: none (N of the DSR = the RL arms of this comparison).".into(),
        },
    ];
    write_atomically(&report_path, render(&report, "equity.png", &provenance).as_bytes())?;
    let paths = OutputPaths { report: &report_path, plot: &plot_path, equity_csv: &csv_path };
    let value = report_json(&report, &data_path, &args.models, ledger.as_ref().map(Ledger::path), &paths);
    write_atomically(&json_path, serde_json::to_string_pretty(&value)?.as_bytes())?;

    if args.json {
        print_json(&value)?;
    } else {
        print_tables(&report);
        println!(
            "report: {}\nplot:   {} (and .svg)\ncsv:    {}\njson:   {}",
            report_path.display(),
            png_path.display(),
            csv_path.display(),
            json_path.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The trial ledger of `models` when none is given: the `trials.jsonl` of the folder
/// that holds the run folder of every model (a run folder holds `export/`; a model given
/// as an export folder not named `export` is its own run folder), or else of the folder
/// above it (a walk-forward's `DIR/fold-k/seed-s`), if that file exists.
///
/// # Errors
/// A model path that is not a model, or that cannot be resolved.
fn default_ledger(models: &[PathBuf]) -> anyhow::Result<Option<Ledger>> {
    let mut study: Option<PathBuf> = None;
    for model in models {
        let export = resolve_export_dir(model)?;
        let export = std::fs::canonicalize(&export).with_context(|| format!("cannot resolve {}", export.display()))?;
        let run = if export.file_name().is_some_and(|n| n == EXPORT_DIR) {
            export.parent().unwrap_or(&export)
        } else {
            &export
        };
        let Some(parent) = run.parent() else { return Ok(None) };
        match &study {
            Some(s) if s != parent => return Ok(None),
            Some(_) => {}
            None => study = Some(parent.to_path_buf()),
        }
    }
    // the folder above the runs, or the one above it (a walk-forward's
    // `DIR/fold-k/seed-s` runs have their ledger in `DIR`)
    let Some(study) = study else { return Ok(None) };
    Ok(study.ancestors().take(2).map(Ledger::in_dir).find(|l| l.path().is_file()))
}

/// An RL arm's Deflated Sharpe Ratio in `compare.json`: every input and output of
/// [`DeflatedSharpe`], with the runs behind its N.
#[derive(Serialize)]
struct DeflatedJson<'a> {
    #[serde(flatten)]
    deflated: &'a DeflatedSharpe,
    n_runs: Option<usize>,
}

/// The files a comparison writes.
struct OutputPaths<'a> {
    report: &'a Path,
    plot: &'a Path,
    equity_csv: &'a Path,
}

/// One arm in `compare.json`: its metrics and the rest side by side in one object.
#[derive(Serialize)]
struct ArmJson<'a> {
    #[serde(flatten)]
    metrics: &'a ArmMetrics,
    name: &'a str,
    kind: ArmKind,
    seeds: &'a [u64],
    chosen: Option<MaSpec>,
    sharpe_std: Option<f64>,
    total_return_std: Option<f64>,
    sharpe_ci95: Interval,
    total_return_ci95: Interval,
    deflated_sharpe: Option<DeflatedJson<'a>>,
    runs: usize,
}

fn report_json(
    report: &CompareReport,
    data: &Path,
    models: &[PathBuf],
    ledger: Option<&Path>,
    paths: &OutputPaths<'_>,
) -> Value {
    let arms: Vec<ArmJson<'_>> = report
        .arms
        .iter()
        .map(|a| ArmJson {
            metrics: &a.metrics,
            name: &a.name,
            kind: a.kind,
            seeds: &a.seeds,
            chosen: a.chosen,
            sharpe_std: a.sharpe_std,
            total_return_std: a.total_return_std,
            sharpe_ci95: a.sharpe_ci95,
            total_return_ci95: a.total_return_ci95,
            deflated_sharpe: a.deflated_sharpe.as_ref().map(|deflated| DeflatedJson { deflated, n_runs: a.n_runs }),
            runs: a.runs.len(),
        })
        .collect();
    json!({
        "arms": arms,
        "differences": report.differences,
        "fee_sensitivity": report.fee_sensitivity,
        "report_path": paths.report,
        "plot_path": paths.plot,
        "equity_csv_path": paths.equity_csv,
        "ledger": ledger,
        "trials": report.trials,
        "pbo": report.pbo,
        "data_file": data.display().to_string(),
        "data_sha256": report.data_sha256,
        "symbol": report.symbol,
        "interval": format_interval(report.interval_ms),
        "split": report.window.split,
        "first_bar_ms": report.first_bar_ms,
        "last_bar_ms": report.last_bar_ms,
        "bars": report.window.bars(),
        "fee_bps": report.fee_bps,
        "slippage_bps": report.slippage_bps,
        "initial_cash": report.initial_cash,
        "bootstrap": {
            "resamples": report.bootstrap_resamples,
            "mean_block_len": report.bootstrap_mean_block_len,
            "seed": report.bootstrap_seed,
        },
        "models": models,
    })
}

fn print_tables(report: &CompareReport) {
    println!(
        "{} {}, {} split: {} → {} ({} bars), fee {} bps, slippage {} bps",
        report.symbol,
        format_interval(report.interval_ms),
        report.window.split,
        format_time_ms(report.first_bar_ms),
        format_time_ms(report.last_bar_ms),
        report.window.bars(),
        report.fee_bps,
        report.slippage_bps
    );
    let mut t = table(&[
        "arm",
        "seeds",
        "final equity",
        "total return [95% CI]",
        "Sharpe [95% CI]",
        "Sharpe std",
        "max DD",
        "VaR / ES 95%",
        "VaR / ES 99%",
        "closed trades",
        "turnover",
    ]);
    for a in &report.arms {
        let m = &a.metrics;
        let name = a.chosen.as_ref().map_or_else(|| a.name.clone(), |c| format!("{} ({c})", a.name));
        t.add_row(vec![
            name,
            if a.kind == ArmKind::Rl { a.seeds.len().to_string() } else { "–".into() },
            format!("{:.2}", m.final_equity.unwrap_or(f64::NAN)),
            format!(
                "{} [{}, {}]",
                pct(m.total_return.unwrap_or(f64::NAN)),
                pct(a.total_return_ci95[0]),
                pct(a.total_return_ci95[1])
            ),
            format!("{} [{}, {}]", ratio(m.sharpe), ratio(Some(a.sharpe_ci95[0])), ratio(Some(a.sharpe_ci95[1]))),
            ratio(a.sharpe_std),
            pct(m.max_drawdown.unwrap_or(f64::NAN)),
            format!("{} / {}", pct(m.var_95.unwrap_or(f64::NAN)), pct(m.es_95.unwrap_or(f64::NAN))),
            format!("{} / {}", pct(m.var_99.unwrap_or(f64::NAN)), pct(m.es_99.unwrap_or(f64::NAN))),
            format!("{:.1}", m.num_trades.unwrap_or(f64::NAN)),
            format!("{:.2}", m.turnover.unwrap_or(f64::NAN)),
        ]);
    }
    println!("{t}");
    println!("{OPEN_TRADE_NOTE}");
    let mut d = table(&["RL arm", "vs", "Sharpe diff [95% CI]", "return diff [95% CI]", "verdict"]);
    for x in &report.differences {
        d.add_row(vec![
            x.arm.clone(),
            x.baseline.clone(),
            format!(
                "{} [{}, {}]",
                ratio(x.sharpe_diff),
                ratio(Some(x.sharpe_diff_ci95[0])),
                ratio(Some(x.sharpe_diff_ci95[1]))
            ),
            format!(
                "{} [{}, {}]",
                pct(x.total_return_diff),
                pct(x.total_return_diff_ci95[0]),
                pct(x.total_return_diff_ci95[1])
            ),
            x.verdict.short().to_string(),
        ]);
    }
    println!("{d}");
    for x in &report.differences {
        println!("{}", x.verdict_sentence);
    }
    if let Some(p) = &report.pbo {
        println!("{}", pbo_sentence(p));
    }
    let mut header = vec!["fee (bps)".to_string()];
    header.extend(report.arms.iter().map(|a| format!("{} Sharpe / return", a.name)));
    let mut f = table(&header.iter().map(String::as_str).collect::<Vec<_>>());
    for row in &report.fee_sensitivity {
        let mut cells = vec![row.fee_bps.to_string()];
        cells.extend(row.arms.iter().map(|a| format!("{} / {}", ratio(a.sharpe), pct(a.total_return))));
        f.add_row(cells);
    }
    println!("{f}");
}
