//! `rltrade export`: a run's checkpoint to `policy.onnx` + `model_card.json`, checked
//! for parity against burn (also run at the end of `rltrade train`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use rltrade_agent::export::{CheckpointChoice, ExportReport, ExportRequest, PARITY_TOLERANCE, export_policy};
use rltrade_agent::run_dir::{RUN_JSON, read_run_json};
use rltrade_env::MarketData;
use rltrade_env::TradingSetup;
use rltrade_env::features::Normalization;
use rltrade_policy::model_dir::EXPORT_DIR;
use serde_json::json;

use crate::cli::ExportArgs;
use crate::config::Config;
use crate::output::{print_json, table};

/// Exports the run and prints the parity check (or JSON).
///
/// # Errors
/// Not a trading run, a missing or corrupt checkpoint, data that changed since training,
/// no ONNX Runtime, a failed parity check.
pub fn run(args: &ExportArgs) -> anyhow::Result<ExitCode> {
    let report = export_run(&args.run, args.checkpoint, args.out.clone())?;
    let card = &report.card;
    if args.json {
        print_json(&json!({
            "export_dir": report.out_dir,
            "onnx_sha256": card.onnx.sha256,
            "obs_dim": card.obs_dim,
            "actions": card.actions,
            "parity": card.parity,
        }))?;
    } else {
        print_parity(&report);
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints the export folder and the parity table.
pub fn print_parity(report: &ExportReport) {
    let p = &report.card.parity;
    println!("exported {} to {}", report.card.name, report.out_dir.display());
    let mut t = table(&["check", "value", "limit"]);
    t.add_row(vec!["test-split observations".to_string(), p.observations.to_string(), "≤ 1000".into()]);
    t.add_row(vec![
        "max |ONNX Runtime − burn|".into(),
        format!("{:.2e}", p.ort_max_abs_error),
        format!("{PARITY_TOLERANCE:e}"),
    ]);
    t.add_row(vec![
        "max |tract − burn|".into(),
        format!("{:.2e}", p.tract_max_abs_error),
        format!("{PARITY_TOLERANCE:e}"),
    ]);
    t.add_row(vec![
        "greedy actions equal".into(),
        format!("{} of {}", p.greedy_agreements, p.decisive_observations),
        "all with a top-two margin > 2e-5".into(),
    ]);
    println!("{t}");
}

/// Exports `checkpoint` of the run in `run_dir` into `out` (default `<run>/export/`).
///
/// # Errors
/// See [`run`].
pub fn export_run(run_dir: &Path, checkpoint: CheckpointChoice, out: Option<PathBuf>) -> anyhow::Result<ExportReport> {
    let run_json_path = run_dir.join(RUN_JSON);
    let provenance =
        read_run_json(run_dir).with_context(|| format!("{}: not a training run folder", run_dir.display()))?;
    if provenance["env"] != "trading" {
        bail!(
            "{}: only trading runs export a trading policy (this run trained on {})",
            run_dir.display(),
            provenance["env"]
        );
    }
    let config = Config::load(Some(&run_dir.join("config.toml")))?;
    config.validate()?;
    let series = config.load_series()?;
    let expected_sha = provenance["data_sha256"].as_str().unwrap_or_default();
    if series.sha256 != expected_sha {
        bail!(
            "{}: SHA-256 {} differs from the run's {} ({}): the data changed since training",
            config.data.path.display(),
            series.sha256,
            expected_sha,
            run_json_path.display()
        );
    }
    let normalization: Normalization = serde_json::from_value(provenance["features"]["normalization"].clone())
        .with_context(|| format!("{}: features.normalization", run_json_path.display()))?;
    let risk_lookback = config.risk.lookback_bars();
    let data = Arc::new(MarketData::new(
        series,
        &config.features,
        &config.split,
        &config.env,
        risk_lookback,
        Some(normalization),
    )?);
    let request = ExportRequest {
        run_dir: run_dir.to_path_buf(),
        checkpoint,
        out_dir: out.unwrap_or_else(|| run_dir.join(EXPORT_DIR)),
        setup: TradingSetup {
            data,
            env: config.env.clone(),
            execution: config.execution.clone(),
            risk: config.risk.clone(),
            protect: config.protect,
        },
        data_file: config.data.path.display().to_string(),
        training: json!({
            "seed": provenance["seed"],
            "ppo": provenance["ppo"],
            "reward": config.env.reward,
        }),
        git_commit: provenance["git_commit"].as_str().map(str::to_string),
    };
    Ok(export_policy(&request)?)
}
