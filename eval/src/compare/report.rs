//! `report.md`: the comparison in words and tables, with an honest verdict
//! ([`super::verdict::Verdict`]): an RL arm "beats" a baseline only when the whole 95%
//! interval of its paired Sharpe difference is above zero and its Deflated Sharpe Ratio
//! is at least 0.95, "loses to" it when the whole interval is below, and otherwise the
//! report says which of the two tests failed.

use std::fmt::Write as _;

use rltrade_env::bar::{format_interval, format_time_ms};

use super::arms::MA_AUTO_GRID;
use super::verdict::DSR_THRESHOLD;
use super::{ArmKind, CompareReport, PboSummary};

/// How trades are counted, printed under every table that counts them: buy-and-hold's
/// one position never closes, so it shows 0.
pub const OPEN_TRADE_NOTE: &str = "Trades are closed round trips: a position still open at the end is not counted, so buy-and-hold (one position, never closed) shows 0.";

/// The PBO in one sentence, e.g. "Probability of backtest overfitting: 0.43 (CSCV over
/// 12 configurations' validation returns, 800 common bars, S = 16 partitions, 12870
/// combinations; about 0.5 means the selection shows no skill)."
pub fn pbo_sentence(p: &PboSummary) -> String {
    format!(
        "Probability of backtest overfitting (PBO): {:.2} (CSCV over the validation returns of {} configurations in the trial ledger, {} common bars, S = {} partitions, {} combinations; about 0.5 means choosing the best in sample shows no skill out of sample).",
        p.pbo, p.n_configs, p.n_bars, p.partitions, p.n_combinations
    )
}

fn num(v: Option<f64>, digits: usize) -> String {
    v.filter(|x| x.is_finite()).map_or_else(|| "–".into(), |x| format!("{x:.digits$}"))
}

fn pct(v: f64) -> String {
    if v.is_finite() { format!("{:.2}%", v * 100.0) } else { "–".into() }
}

/// The markdown report; `plot_file` is the plot's file name next to it; `provenance`
/// lines (data file, models) go under "Setup".
pub fn render(report: &CompareReport, plot_file: &str, provenance: &[String]) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "# Out-of-sample comparison: {} {}\n", report.symbol, format_interval(report.interval_ms));
    md.push_str("## Verdict\n\n");
    if report.differences.is_empty() {
        md.push_str("No RL arm to compare.\n");
    }
    let sharpe = |name: &str| report.arms.iter().find(|a| a.name == name).and_then(|a| a.metrics.sharpe);
    for rl in report.arms.iter().filter(|a| a.kind == ArmKind::Rl) {
        let best = report
            .arms
            .iter()
            .filter(|a| a.kind == ArmKind::Baseline)
            .filter_map(|a| sharpe(&a.name).map(|s| (a.name.as_str(), s)))
            .max_by(|x, y| x.1.total_cmp(&y.1));
        if let (Some(s), Some((name, b))) = (sharpe(&rl.name), best) {
            let _ = writeln!(
                md,
                "**{}** (mean of {} seed(s)) had a Sharpe of {s:.3} after fees, {} the best baseline, {name} ({b:.3}).\n",
                rl.name,
                rl.seeds.len(),
                match s.total_cmp(&b) {
                    std::cmp::Ordering::Greater => "above",
                    std::cmp::Ordering::Equal => "equal to",
                    std::cmp::Ordering::Less => "below",
                }
            );
        }
    }
    for rl in report.arms.iter().filter(|a| a.kind == ArmKind::Rl) {
        if let Some(d) = &rl.deflated_sharpe {
            let _ = writeln!(
                md,
                "**{}**: Probabilistic Sharpe Ratio against 0 {} (per-bar Sharpe {}, skewness {}, kurtosis {}, {} bars); Deflated Sharpe Ratio {} for N = {} configuration(s) {} ({} run(s); variance of their per-bar Sharpe ratios {}; expected maximum per-bar Sharpe of as many unskilled trials {}). \"Beats\" needs a DSR of at least {DSR_THRESHOLD}.\n",
                rl.name,
                num(d.psr, 3),
                num(d.sharpe_per_bar, 4),
                num(d.skewness, 2),
                num(d.kurtosis, 2),
                d.n_returns,
                num(d.dsr, 3),
                d.n_trials,
                if report.trials.is_some() {
                    "in the trial ledger"
                } else {
                    "in this comparison (no trial ledger: trials tried before it are not counted)"
                },
                rl.n_runs.unwrap_or(0),
                num(Some(d.trials_sharpe_variance), 6),
                num(Some(d.expected_max_sharpe), 4),
            );
        }
    }
    if let Some(p) = &report.pbo {
        let _ = writeln!(md, "{}\n", pbo_sentence(p));
    }
    for d in &report.differences {
        let _ = writeln!(
            md,
            "- {} Sharpe difference {} (95% interval {} to {}; higher in {:.0}% of resamples); total return difference {} ({} to {}).",
            d.verdict_sentence,
            num(d.sharpe_diff, 3),
            num(Some(d.sharpe_diff_ci95[0]), 3),
            num(Some(d.sharpe_diff_ci95[1]), 3),
            d.prob_sharpe_higher * 100.0,
            pct(d.total_return_diff),
            pct(d.total_return_diff_ci95[0]),
            pct(d.total_return_diff_ci95[1]),
        );
    }
    md.push_str("\n## Setup\n\n");
    let _ = writeln!(
        md,
        "- Window: the `{}` split, {} to {} ({} bars), the same for every arm.",
        report.window.split,
        format_time_ms(report.first_bar_ms),
        format_time_ms(report.last_bar_ms),
        report.window.bars()
    );
    let _ = writeln!(
        md,
        "- Costs: fee {} bps of fill notional, slippage {} bps; starting cash {}; fills at the next bar's open.",
        report.fee_bps, report.slippage_bps, report.initial_cash
    );
    let _ = writeln!(md, "- Data SHA-256: `{}`.", report.data_sha256);
    for line in provenance {
        let _ = writeln!(md, "- {line}");
    }
    for a in report.arms.iter().filter(|a| a.kind == ArmKind::Rl) {
        let _ = writeln!(
            md,
            "- RL arm `{}`: {} run(s), seeds {:?}, greedy policy through ONNX Runtime.",
            a.name,
            a.seeds.len(),
            a.seeds
        );
    }
    let _ = writeln!(
        md,
        "- `ma:auto`: the (fast, slow) pair of {:?} with the best Sharpe on the validation split.",
        MA_AUTO_GRID
    );
    let _ = writeln!(
        md,
        "- Intervals: paired stationary block bootstrap of per-bar returns (Politis & Romano 1994), {} resamples, mean block length {:.1} bars, seed {}; 2.5%/97.5% percentiles.",
        report.bootstrap_resamples, report.bootstrap_mean_block_len, report.bootstrap_seed
    );

    md.push_str("\n## Metrics\n\n");
    md.push_str("| arm | kind | seeds | final equity | total return (95% CI) | Sharpe (95% CI) | Sharpe std | Sortino | max drawdown | Calmar | VaR 95% | ES 95% | VaR 99% | ES 99% | closed trades | turnover | exposure | fees |\n");
    md.push_str("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for a in &report.arms {
        let m = &a.metrics;
        let name = a.chosen.as_ref().map_or_else(|| a.name.clone(), |c| format!("{} ({c})", a.name));
        let _ = writeln!(
            md,
            "| {name} | {} | {} | {} | {} ({} to {}) | {} ({} to {}) | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            if a.kind == ArmKind::Rl { "rl" } else { "baseline" },
            if a.seeds.is_empty() { "–".into() } else { a.seeds.len().to_string() },
            num(m.final_equity, 2),
            pct(m.total_return.unwrap_or(f64::NAN)),
            pct(a.total_return_ci95[0]),
            pct(a.total_return_ci95[1]),
            num(m.sharpe, 3),
            num(Some(a.sharpe_ci95[0]), 3),
            num(Some(a.sharpe_ci95[1]), 3),
            num(a.sharpe_std, 3),
            num(m.sortino, 3),
            pct(m.max_drawdown.unwrap_or(f64::NAN)),
            num(m.calmar, 3),
            pct(m.var_95.unwrap_or(f64::NAN)),
            pct(m.es_95.unwrap_or(f64::NAN)),
            pct(m.var_99.unwrap_or(f64::NAN)),
            pct(m.es_99.unwrap_or(f64::NAN)),
            num(m.num_trades, 1),
            num(m.turnover, 2),
            pct(m.exposure.unwrap_or(f64::NAN)),
            num(m.fees_paid, 2),
        );
    }
    md.push_str("\nRL rows are means over seeds; their intervals are of the seed mean. VaR and ES are historical, one bar, as losses (the m = ⌈(1 − level) · bars⌉ worst bars: VaR the m-th worst, ES their mean). ");
    md.push_str(OPEN_TRADE_NOTE);
    md.push('\n');

    md.push_str("\n## Fee sensitivity\n\n| fee (bps) |");
    for a in &report.arms {
        let _ = write!(md, " {} Sharpe | {} return |", a.name, a.name);
    }
    md.push_str("\n|---|");
    md.push_str(&"---|---|".repeat(report.arms.len()));
    md.push('\n');
    for row in &report.fee_sensitivity {
        let _ = write!(md, "| {} |", row.fee_bps);
        for a in &row.arms {
            let _ = write!(md, " {} | {} |", num(a.sharpe, 3), pct(a.total_return));
        }
        md.push('\n');
    }
    let _ = writeln!(md, "\n## Equity\n\n![equity curves]({plot_file})");
    md
}
