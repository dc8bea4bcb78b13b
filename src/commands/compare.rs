//! `rltrade compare`: exported RL policies against baselines on one out-of-sample
//! window, with bootstrap intervals, paired differences, fee sensitivity, a plot and
//! `report.md`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use rltrade_agent::compare::arms::{DEFAULT_BASELINES, arm_name, group_by_seed};
use rltrade_agent::compare::bootstrap::BootstrapConfig;
use rltrade_agent::compare::bootstrap::Interval;
use rltrade_agent::compare::plot::write_equity_svg;
use rltrade_agent::compare::report::{render, verdict};
use rltrade_agent::compare::{ArmKind, ArmMetrics, CompareReport, CompareRequest, run_compare};
use rltrade_agent::run_dir::write_atomically;
use rltrade_env::bar::{format_interval, format_time_ms};
use rltrade_env::baselines::MaSpec;
use rltrade_env::selection_stats::sharpe::DeflatedSharpe;
use rltrade_policy::ModelCard;
use rltrade_policy::model_dir::{MODEL_CARD_FILE, resolve_export_dir};
use serde::Serialize;
use serde_json::{Value, json};

use crate::cli::CompareArgs;
use crate::config::Config;
use crate::output::{pct, print_json, ratio, table};

/// Runs the comparison, writes `report.md`, `equity.svg` and `compare.json` into the
/// output folder, and prints the tables (or one JSON object).
///
/// # Errors
/// Bad models or data, missing ONNX Runtime, unwritable output.
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
    let data_path = match &args.data {
        Some(p) => p.clone(),
        None => PathBuf::from(&cards[0].data.file),
    };
    config.data.path.clone_from(&data_path);
    let series = config.load_series()?;
    let fees = args.fee_bps.clone().unwrap_or_else(|| {
        let main = config.execution.fee_bps;
        let mut v = vec![main];
        v.extend([0.0, 20.0].into_iter().filter(|f| *f != main));
        v
    });
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
    let report = run_compare(&request)?;

    let out = args.out.clone().unwrap_or_else(|| {
        let first = &args.models[0];
        let run = if first.join(MODEL_CARD_FILE).is_file() { first.parent().unwrap_or(first) } else { first };
        run.join("compare")
    });
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    let (report_path, plot_path, json_path) = (out.join("report.md"), out.join("equity.svg"), out.join("compare.json"));
    write_equity_svg(&report, &plot_path)?;
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
    ];
    write_atomically(&report_path, render(&report, "equity.svg", &provenance).as_bytes())?;
    let value = report_json(&report, &data_path, &args.models, &report_path, &plot_path);
    write_atomically(&json_path, serde_json::to_string_pretty(&value)?.as_bytes())?;

    if args.json {
        print_json(&value)?;
    } else {
        print_tables(&report);
        println!("report: {}\nplot:   {}\njson:   {}", report_path.display(), plot_path.display(), json_path.display());
    }
    Ok(ExitCode::SUCCESS)
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
    deflated_sharpe: Option<&'a DeflatedSharpe>,
    runs: usize,
}

fn report_json(report: &CompareReport, data: &Path, models: &[PathBuf], report_path: &Path, plot_path: &Path) -> Value {
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
            deflated_sharpe: a.deflated_sharpe.as_ref(),
            runs: a.runs.len(),
        })
        .collect();
    json!({
        "arms": arms,
        "differences": report.differences,
        "fee_sensitivity": report.fee_sensitivity,
        "report_path": report_path,
        "plot_path": plot_path,
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
        "trades",
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
            format!("{:.1}", m.num_trades.unwrap_or(f64::NAN)),
            format!("{:.2}", m.turnover.unwrap_or(f64::NAN)),
        ]);
    }
    println!("{t}");
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
            verdict(x).to_string(),
        ]);
    }
    println!("{d}");
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
