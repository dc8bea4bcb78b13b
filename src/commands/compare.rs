//! `rltrade compare`: exported RL policies against baselines on one out-of-sample
//! window, with bootstrap intervals, paired differences, verdicts deflated for the
//! trials of a trial ledger, fee sensitivity, a plot, `equity.csv` and `report.md`
//! (`rltrade_eval::compare::study`, which the Python package runs too); this prints it.

use std::process::ExitCode;

use rltrade_env::bar::{format_interval, format_time_ms};
use rltrade_eval::compare::bootstrap::BootstrapConfig;
use rltrade_eval::compare::report::{OPEN_TRADE_NOTE, pbo_sentence};
use rltrade_eval::compare::study::{StudyOutcome, StudyRequest, run_study};
use rltrade_eval::compare::{ArmKind, CompareReport};

use crate::cli::CompareArgs;
use crate::config::Config;
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
    let request = StudyRequest {
        config,
        models: args.models.clone(),
        data: args.data.clone(),
        baselines: args.baseline.clone(),
        split: args.split,
        fee_bps: args.fee_bps,
        fee_levels: args.fee_levels.clone(),
        bootstrap: BootstrapConfig {
            resamples: args.resamples,
            mean_block_len: args.block_len,
            seed: args.bootstrap_seed,
        },
        ledger: args.ledger.clone(),
        out: args.out.clone(),
    };
    let StudyOutcome { report, json, paths } = run_study(&request)?;
    if args.json {
        print_json(&json)?;
    } else {
        print_tables(&report);
        println!(
            "report: {}\nplot:   {} (and .svg)\ncsv:    {}\njson:   {}",
            paths.report.display(),
            paths.plot_png.display(),
            paths.equity_csv.display(),
            paths.json.display()
        );
    }
    Ok(ExitCode::SUCCESS)
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
