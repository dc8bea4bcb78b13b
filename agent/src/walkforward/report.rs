//! A walk-forward's results: each fold's comparison on its test window, the comparison
//! over the stitched curve, and the folds each RL arm won; and its `report.md`.

use std::fmt::Write as _;

use rltrade_env::bar::{format_interval, format_time_ms};
use serde::{Deserialize, Serialize};

use super::folds::FoldTimes;
use rltrade_eval::compare::{ArmKind, ArmReport, CompareReport};

/// One fold: its windows and the comparison on its test window (N of its DSR: the RL
/// arms; the walk-forward's verdict uses the stitched one).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FoldResult {
    /// The fold's windows.
    pub times: FoldTimes,
    /// The comparison on its test window.
    pub report: CompareReport,
}

/// In how many folds an RL arm's Sharpe (mean over seeds) was above a baseline's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FoldWins {
    /// The RL arm.
    pub arm: String,
    /// The baseline.
    pub baseline: String,
    /// Folds where the RL arm's Sharpe was strictly higher.
    pub folds_won: usize,
    /// Folds compared (all of them).
    pub folds_compared: usize,
}

/// The whole walk-forward.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct WalkForwardReport {
    /// Every fold, in time order.
    pub folds: Vec<FoldResult>,
    /// Every arm over the stitched test windows.
    pub stitched: CompareReport,
    /// Folds won, per RL arm and baseline.
    pub wins: Vec<FoldWins>,
}

/// An arm's Sharpe ratio in a fold: the mean over its runs (seeds), where a run that
/// never traded (a flat curve, which has no Sharpe ratio) counts as 0.
pub fn fold_sharpe(arm: &ArmReport) -> f64 {
    arm.runs.iter().map(|r| r.metrics.sharpe.unwrap_or(0.0)).sum::<f64>() / arm.runs.len().max(1) as f64
}

/// Counts, per RL arm and baseline, the folds where the RL arm's [`fold_sharpe`] was
/// above the baseline's.
pub fn fold_wins(folds: &[FoldResult]) -> Vec<FoldWins> {
    let mut wins: Vec<FoldWins> = Vec::new();
    for fold in folds {
        for d in &fold.report.differences {
            let i = match wins.iter().position(|w| w.arm == d.arm && w.baseline == d.baseline) {
                Some(i) => i,
                None => {
                    wins.push(FoldWins {
                        arm: d.arm.clone(),
                        baseline: d.baseline.clone(),
                        folds_won: 0,
                        folds_compared: 0,
                    });
                    wins.len() - 1
                }
            };
            let sharpe = |name: &str| fold.report.arms.iter().find(|a| a.name == name).map(fold_sharpe);
            if let (Some(rl), Some(base)) = (sharpe(&d.arm), sharpe(&d.baseline)) {
                wins[i].folds_compared += 1;
                wins[i].folds_won += usize::from(rl > base);
            }
        }
    }
    wins
}

fn num(v: Option<f64>, digits: usize) -> String {
    v.filter(|x| x.is_finite()).map_or_else(|| "–".into(), |x| format!("{x:.digits$}"))
}

fn pct(v: Option<f64>) -> String {
    v.filter(|x| x.is_finite()).map_or_else(|| "–".into(), |x| format!("{:.2}%", x * 100.0))
}

fn day(ms: i64) -> String {
    let t = format_time_ms(ms);
    t.get(..10).unwrap_or(&t).to_string()
}

/// The markdown report: the verdict on the stitched curve, the per-fold table, the
/// stitched metrics with PSR and DSR, and the plot `plot_file` beside it; `setup` lines go
/// under "Setup".
pub fn render(report: &WalkForwardReport, plot_file: &str, setup: &[String]) -> String {
    let s = &report.stitched;
    let mut md = String::new();
    let _ = writeln!(md, "# Walk-forward: {} {}\n", s.symbol, format_interval(s.interval_ms));
    let _ = writeln!(
        md,
        "{} folds; every fold trained, selected its checkpoints on its own validation window and was tested on the next {} bars. The test windows, joined in time and compounded from the starting cash, form one out-of-sample curve of {} bars, {} to {}, after a fee of {} bps and slippage of {} bps.\n",
        report.folds.len(),
        report.folds.first().map_or(0, |f| f.report.window.bars()),
        s.window.bars(),
        day(s.first_bar_ms),
        day(s.last_bar_ms),
        s.fee_bps,
        s.slippage_bps
    );
    md.push_str("## Verdict on the stitched out-of-sample curve\n\n");
    for d in &s.differences {
        let _ = writeln!(md, "- {}", d.verdict_sentence);
    }
    for w in &report.wins {
        let _ = writeln!(
            md,
            "- {} had the higher Sharpe than {} in {} of {} folds.",
            w.arm, w.baseline, w.folds_won, w.folds_compared
        );
    }
    if let Some(p) = &s.pbo {
        let _ = writeln!(md, "- {}", rltrade_eval::compare::report::pbo_sentence(p));
    }
    for a in s.arms.iter().filter(|a| a.kind == ArmKind::Rl) {
        if let Some(d) = &a.deflated_sharpe {
            let _ = writeln!(
                md,
                "- {}: Probabilistic Sharpe Ratio {} against 0; Deflated Sharpe Ratio {} for N = {} configuration(s) tried (per-bar Sharpe {}, skewness {}, kurtosis {}, {} bars).",
                a.name,
                num(d.psr, 3),
                num(d.dsr, 3),
                d.n_trials,
                num(d.sharpe_per_bar, 4),
                num(d.skewness, 2),
                num(d.kurtosis, 2),
                d.n_returns
            );
        }
    }

    md.push_str("\n## Folds\n\n| fold | test window |");
    for a in &s.arms {
        let _ = write!(md, " {} return | {} Sharpe | {} turnover |", a.name, a.name, a.name);
    }
    for d in &s.differences {
        let _ = write!(md, " {} − {} Sharpe |", d.arm, d.baseline);
    }
    md.push_str("\n|---|---|");
    md.push_str(&"---|---|---|".repeat(s.arms.len()));
    md.push_str(&"---|".repeat(s.differences.len()));
    md.push('\n');
    for f in &report.folds {
        let t = &f.times;
        let _ = write!(md, "| {} | {} to {} |", t.fold, day(t.test_start_ms), day(t.test_end_ms - 1));
        for a in &f.report.arms {
            let _ = write!(
                md,
                " {} | {:.3} | {} |",
                pct(a.metrics.total_return),
                fold_sharpe(a),
                num(a.metrics.turnover, 2)
            );
        }
        for d in &f.report.differences {
            let arm = |name: &str| f.report.arms.iter().find(|a| a.name == name).map(fold_sharpe);
            let diff = arm(&d.arm).zip(arm(&d.baseline)).map(|(x, y)| x - y);
            let _ = write!(md, " {} |", num(diff, 3));
        }
        md.push('\n');
    }
    md.push_str("\nRL columns are means over seeds; a fold's Sharpe ratio is the mean over seeds with a seed that never traded counted as 0. `ma:auto` is tuned on each fold's validation window:\n");
    for f in &report.folds {
        let chosen: Vec<String> = f.report.arms.iter().filter_map(|a| a.chosen.map(|c| c.to_string())).collect();
        let _ = writeln!(md, "fold {}: {}.", f.times.fold, chosen.join(", "));
    }

    md.push_str("\n## Stitched\n\n| arm | final equity | total return (95% CI) | Sharpe (95% CI) | max drawdown | trades | turnover | exposure | PSR | DSR |\n|---|---|---|---|---|---|---|---|---|---|\n");
    for a in &s.arms {
        let m = &a.metrics;
        let d = a.deflated_sharpe.as_ref();
        let _ = writeln!(
            md,
            "| {} | {} | {} ({} to {}) | {} ({} to {}) | {} | {} | {} | {} | {} | {} |",
            a.name,
            num(m.final_equity, 2),
            pct(m.total_return),
            pct(Some(a.total_return_ci95[0])),
            pct(Some(a.total_return_ci95[1])),
            num(m.sharpe, 3),
            num(Some(a.sharpe_ci95[0]), 3),
            num(Some(a.sharpe_ci95[1]), 3),
            pct(m.max_drawdown),
            num(m.num_trades, 1),
            num(m.turnover, 2),
            pct(m.exposure),
            num(d.and_then(|d| d.psr), 3),
            num(d.and_then(|d| d.dsr), 3),
        );
    }
    md.push_str("\n| RL arm | vs | Sharpe difference (95% CI) | return difference (95% CI) |\n|---|---|---|---|\n");
    for d in &s.differences {
        let _ = writeln!(
            md,
            "| {} | {} | {} ({} to {}) | {} ({} to {}) |",
            d.arm,
            d.baseline,
            num(d.sharpe_diff, 3),
            num(Some(d.sharpe_diff_ci95[0]), 3),
            num(Some(d.sharpe_diff_ci95[1]), 3),
            pct(Some(d.total_return_diff)),
            pct(Some(d.total_return_diff_ci95[0])),
            pct(Some(d.total_return_diff_ci95[1])),
        );
    }
    md.push_str("\n## Setup\n\n");
    for line in setup {
        let _ = writeln!(md, "- {line}");
    }
    let _ = writeln!(
        md,
        "- Intervals: paired stationary block bootstrap of the stitched per-bar returns (Politis & Romano 1994), {} resamples, mean block length {:.1} bars, seed {}.",
        s.bootstrap_resamples, s.bootstrap_mean_block_len, s.bootstrap_seed
    );
    let _ = writeln!(md, "\n## Equity\n\n![stitched equity, fold boundaries dashed]({plot_file})");
    md
}
