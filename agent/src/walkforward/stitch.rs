//! The stitched out-of-sample curve: each arm's fold backtests (contiguous test windows)
//! joined in time, compounding from the starting cash.
//!
//! Fold k's backtest starts from the starting cash C; on the stitched curve it starts
//! from the equity fold k − 1 ended with, so every amount of fold k (equity, cash,
//! position, trade quantities and PnL, fees, traded notional) is scaled by
//! s_k = Π_{j<k} (final equity_j / C). Per-bar returns are unchanged by the scaling, so
//! the stitched Sharpe is that of the folds' returns in sequence.
//!
//! It is the folds' curves joined, not one continuous account: every fold starts flat
//! (a position open at a fold's end is valued at its last close, with no exit fee or
//! slippage, and the next fold enters again, paying them) and with fresh risk state (the
//! drawdown and daily-loss halts count from the fold's start). A position still open at
//! a fold's end is not a closed trade.

use rltrade_env::backtest::{BacktestResult, EquityPoint, EvaluationWindow};
use rltrade_env::metrics::{MetricsInput, compute_metrics};
use rltrade_exec::trades::Trade;

use crate::error::{Error, Result};
use rltrade_eval::compare::ArmBacktests;

/// Joins one run's fold backtests `folds` (in time order, each starting from
/// `initial_cash`) into one backtest over the stitched window, with metrics recomputed
/// over the whole curve (bar interval `interval_ms`).
///
/// # Errors
/// [`Error::Config`] for no fold, or folds that are not in time order.
pub fn stitch_runs(folds: &[&BacktestResult], initial_cash: f64, interval_ms: i64) -> Result<BacktestResult> {
    let (Some(first), Some(last)) = (folds.first(), folds.last()) else {
        return Err(Error::Config { field: "walkforward".into(), message: "no fold to stitch".into() });
    };
    for pair in folds.windows(2) {
        if pair[1].first_bar_ms <= pair[0].last_bar_ms {
            return Err(Error::Config {
                field: "walkforward".into(),
                message: format!(
                    "fold windows overlap or are out of order: one ends at {} ms, the next starts at {} ms",
                    pair[0].last_bar_ms, pair[1].first_bar_ms
                ),
            });
        }
    }
    let mut scale = 1.0;
    let mut curve: Vec<EquityPoint> = Vec::new();
    let mut trades: Vec<Trade> = Vec::new();
    let (mut notional, mut fees, mut borrow, mut fills, mut refusals, mut var_scaled) = (0.0, 0.0, 0.0, 0, 0, 0);
    for fold in folds {
        let equity = &fold.equity_curve;
        let mean_equity = equity.iter().map(|p| p.equity).sum::<f64>() / equity.len().max(1) as f64;
        notional += scale * fold.metrics.turnover * mean_equity;
        fees += scale * fold.metrics.fees_paid;
        borrow += scale * fold.metrics.borrow_fees_paid;
        fills += fold.metrics.num_fills;
        refusals += fold.risk_refusals;
        var_scaled += fold.var_scaled_entries;
        curve.extend(equity.iter().map(|p| EquityPoint {
            time_ms: p.time_ms,
            equity: p.equity * scale,
            cash: p.cash * scale,
            position: p.position * scale,
        }));
        // closed trades only: a position still open at a fold's end is not a round trip
        trades.extend(fold.trades.iter().filter(|t| t.exit_time_ms.is_some()).map(|t| Trade {
            quantity: t.quantity * scale,
            fees: t.fees * scale,
            pnl: t.pnl * scale,
            ..*t
        }));
        scale *= fold.metrics.final_equity / initial_cash;
    }
    let equity: Vec<f64> = curve.iter().map(|p| p.equity).collect();
    let positions: Vec<f64> = curve.iter().map(|p| p.position).collect();
    let metrics = compute_metrics(&MetricsInput {
        initial_equity: initial_cash,
        equity: &equity,
        positions: &positions,
        interval_ms,
        duration_ms: last.last_bar_ms - first.first_bar_ms + interval_ms,
        closed_trades: &trades,
        traded_notional: notional,
        fees_paid: fees,
        borrow_fees_paid: borrow,
        num_fills: fills,
    });
    Ok(BacktestResult {
        strategy: first.strategy.clone(),
        window: EvaluationWindow { split: first.window.split, start: first.window.start, end: last.window.end },
        first_bar_ms: first.first_bar_ms,
        last_bar_ms: last.last_bar_ms,
        metrics,
        risk_refusals: refusals,
        var_scaled_entries: var_scaled,
        equity_curve: curve,
        exit_reasons: rltrade_exec::ExitReasonCounts::from_trades(&trades),
        trades,
    })
}

/// Joins the folds' comparisons (`folds`, in time order, with the same arms, seeds and
/// fee levels) into one over the stitched window. An arm tuned per fold (`ma:auto`)
/// keeps its name; its chosen pair, which may differ between folds, is dropped.
///
/// # Errors
/// [`Error::Config`] for no fold, folds whose arms, seeds or fees differ, or windows out
/// of order.
pub fn stitch_backtests(folds: &[ArmBacktests]) -> Result<ArmBacktests> {
    let Some(first) = folds.first() else {
        return Err(Error::Config { field: "walkforward".into(), message: "no fold to stitch".into() });
    };
    for (i, f) in folds.iter().enumerate() {
        let same_arms = f.arms.len() == first.arms.len()
            && f.arms.iter().zip(&first.arms).all(|(a, b)| a.name == b.name && a.kind == b.kind && a.seeds == b.seeds);
        if !same_arms || f.fees_bps != first.fees_bps {
            return Err(Error::Config {
                field: "walkforward".into(),
                message: format!("fold {} has other arms, seeds or fee levels than fold 1", i + 1),
            });
        }
    }
    let mut runs = Vec::with_capacity(first.fees_bps.len());
    for fee in 0..first.fees_bps.len() {
        let mut arms = Vec::with_capacity(first.arms.len());
        for arm in 0..first.arms.len() {
            let mut seeds = Vec::new();
            for run in 0..first.runs[fee][arm].len() {
                let parts: Vec<&BacktestResult> = folds.iter().map(|f| &f.runs[fee][arm][run]).collect();
                seeds.push(stitch_runs(&parts, first.initial_cash, first.interval_ms)?);
            }
            arms.push(seeds);
        }
        runs.push(arms);
    }
    let last = &folds[folds.len() - 1];
    Ok(ArmBacktests {
        arms: first.arms.iter().map(|a| rltrade_eval::compare::ArmIdentity { chosen: None, ..a.clone() }).collect(),
        fees_bps: first.fees_bps.clone(),
        runs,
        window: EvaluationWindow { split: first.window.split, start: first.window.start, end: last.window.end },
        symbol: first.symbol.clone(),
        interval_ms: first.interval_ms,
        data_sha256: first.data_sha256.clone(),
        initial_cash: first.initial_cash,
        slippage_bps: first.slippage_bps,
    })
}

#[cfg(test)]
mod tests {
    use rltrade_env::SplitName;
    use rltrade_env::metrics::Metrics;

    use super::*;

    /// A backtest of `equity` at hourly bars from `start_ms`, with no trade.
    fn run(start_ms: i64, equity: &[f64], initial: f64) -> BacktestResult {
        let curve: Vec<EquityPoint> = equity
            .iter()
            .enumerate()
            .map(|(i, &e)| EquityPoint { time_ms: start_ms + i as i64 * 3_600_000, equity: e, cash: e, position: 0.0 })
            .collect();
        let positions = vec![0.0; equity.len()];
        let metrics: Metrics = compute_metrics(&MetricsInput {
            initial_equity: initial,
            equity,
            positions: &positions,
            interval_ms: 3_600_000,
            duration_ms: equity.len() as i64 * 3_600_000,
            closed_trades: &[],
            traded_notional: 1_000.0,
            fees_paid: 1.0,
            borrow_fees_paid: 0.0,
            num_fills: 2,
        });
        BacktestResult {
            strategy: "x".into(),
            window: EvaluationWindow { split: SplitName::Test, start: 0, end: equity.len() - 1 },
            first_bar_ms: start_ms,
            last_bar_ms: curve.last().unwrap().time_ms,
            metrics,
            risk_refusals: 0,
            var_scaled_entries: 0,
            equity_curve: curve,
            trades: vec![],
            exit_reasons: Default::default(),
        }
    }

    #[test]
    fn folds_compound_from_the_starting_cash() {
        let a = run(0, &[110.0, 120.0], 100.0);
        let b = run(2 * 3_600_000, &[90.0, 150.0], 100.0);
        let s = stitch_runs(&[&a, &b], 100.0, 3_600_000).unwrap();
        let equity: Vec<f64> = s.equity_curve.iter().map(|p| p.equity).collect();
        assert_eq!(equity, vec![110.0, 120.0, 108.0, 180.0]);
        assert!((s.metrics.total_return - 0.8).abs() < 1e-12);
        // fees and fills add up, fold 2's scaled by 1.2
        assert!((s.metrics.fees_paid - 2.2).abs() < 1e-12);
        assert_eq!(s.metrics.num_fills, 4);
        // the per-bar returns are the folds' own: 0.1, 1/11, −0.1, 2/3
        let direct = run(0, &[110.0, 120.0, 108.0, 180.0], 100.0);
        assert_eq!(s.metrics.sharpe, direct.metrics.sharpe);
        let err = stitch_runs(&[&b, &a], 100.0, 3_600_000).unwrap_err().to_string();
        assert!(err.contains("out of order"), "{err}");
    }
}
