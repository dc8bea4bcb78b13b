//! Performance metrics of an equity curve, with the conventions of common backtesters
//! so results can be checked against them.

use rltrade_exec::Trade;
use serde::{Deserialize, Serialize};

/// Milliseconds in a year of 365.25 days (for CAGR).
pub const MS_PER_YEAR: f64 = 365.25 * 86_400_000.0;

/// The shortest window, in ms, whose return is annualized (CAGR, Calmar): 30 days.
/// Compounding a shorter window to a year turns a few hours' noise into figures such as a
/// CAGR of 1.8e8 (six bars of a live A/B), so below it both are `None` (JSON `null`).
pub const MIN_ANNUALIZED_MS: i64 = 30 * 86_400_000;

/// Metrics of one backtest. Ratios are fractions (0.2013 = 20.13%); money is quote
/// currency. `None` (JSON `null`) where a ratio is undefined (zero variance, no
/// drawdown, no closed trade).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// Equity at the last close of the window.
    pub final_equity: f64,
    /// `final_equity / initial_equity − 1`.
    pub total_return: f64,
    /// Compound annual growth: `(final / initial)^(1 / years) − 1`, years = window
    /// duration (first bar's open to last bar's close) / 365.25 days; −1 after ruin.
    /// `None` for a window shorter than [`MIN_ANNUALIZED_MS`] (30 days).
    pub cagr: Option<f64>,
    /// Annualized volatility: std (ddof 1) of per-bar simple returns × √P, P = bars per
    /// year (365 × 86,400 s / interval).
    pub volatility: f64,
    /// Sharpe ratio (risk-free rate 0): mean / std (ddof 1) of per-bar returns × √P.
    pub sharpe: Option<f64>,
    /// Sortino ratio: mean / √mean(min(r, 0)²) × √P (downside deviation over all bars).
    pub sortino: Option<f64>,
    /// Maximum drawdown, positive: max over bars of `1 − equity / running peak`
    /// (the peak includes the starting equity).
    pub max_drawdown: f64,
    /// CAGR / max drawdown; `None` without a CAGR (a window under 30 days) or without a
    /// drawdown.
    pub calmar: Option<f64>,
    /// Closed round trips (from flat or a sign flip to the next flat or flip).
    pub num_trades: usize,
    /// Share of closed trades with PnL > 0 after both fees.
    pub win_rate: Option<f64>,
    /// Fraction of bars in the window that closed with a position.
    pub exposure: f64,
    /// Sum of fill notional / mean equity over the window's closes.
    pub turnover: f64,
    /// Trading fees paid.
    pub fees_paid: f64,
    /// Borrow fees paid on shorts.
    pub borrow_fees_paid: f64,
    /// Number of fills.
    pub num_fills: u64,
    /// Closes in the window.
    pub bars: usize,
    /// Historical one-bar Value at Risk at 95%, a loss as a fraction of equity
    /// ([`historical_var_es`]); negative when even the worst 5% of bars gained.
    #[serde(default)]
    pub var_95: f64,
    /// Historical one-bar Expected Shortfall at 95%: the mean loss of the worst 5% of
    /// bars ([`historical_var_es`]).
    #[serde(default)]
    pub es_95: f64,
    /// Historical one-bar Value at Risk at 99%.
    #[serde(default)]
    pub var_99: f64,
    /// Historical one-bar Expected Shortfall at 99%.
    #[serde(default)]
    pub es_99: f64,
}

/// Historical one-bar VaR and ES of per-bar returns: the one quantile rule, at home in
/// `rltrade_exec` (the risk check's VaR sizing limit uses it too).
pub use rltrade_exec::value_at_risk::historical_var_es;

/// Inputs of [`compute_metrics`].
#[derive(Clone, Copy, Debug)]
pub struct MetricsInput<'a> {
    /// Equity at the close before the window (the starting cash).
    pub initial_equity: f64,
    /// Equity at each close in the window, `[bars]`.
    pub equity: &'a [f64],
    /// Position (base units, signed) at each close in the window, `[bars]`.
    pub positions: &'a [f64],
    /// Bar interval, ms.
    pub interval_ms: i64,
    /// Window duration in ms: last bar's open − first bar's open + interval.
    pub duration_ms: i64,
    /// Closed trades.
    pub closed_trades: &'a [Trade],
    /// Sum of fill notional, quote currency.
    pub traded_notional: f64,
    /// Trading fees, quote currency.
    pub fees_paid: f64,
    /// Borrow fees, quote currency.
    pub borrow_fees_paid: f64,
    /// Fills.
    pub num_fills: u64,
}

/// Computes [`Metrics`] from per-bar simple returns of equity marked at each close.
///
/// # Panics
/// Panics if `equity` is empty or `positions` has another length.
pub fn compute_metrics(input: &MetricsInput<'_>) -> Metrics {
    let equity = input.equity;
    assert!(!equity.is_empty(), "metrics need at least one bar");
    assert_eq!(equity.len(), input.positions.len());
    let bars = equity.len();
    let periods = crate::bar::periods_per_year(input.interval_ms);
    let initial = input.initial_equity;
    let final_equity = equity[bars - 1];

    let mut returns = Vec::with_capacity(bars);
    let mut previous = initial;
    for &e in equity {
        returns.push(if previous > 0.0 { e / previous - 1.0 } else { 0.0 });
        previous = e;
    }
    let n = returns.len() as f64;
    let mean = returns.iter().sum::<f64>() / n;
    let std = if bars > 1 { (returns.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt() } else { 0.0 };
    let downside = (returns.iter().map(|r| r.min(0.0).powi(2)).sum::<f64>() / n).sqrt();
    let sharpe = (std > 0.0).then(|| mean / std * periods.sqrt());
    let sortino = (downside > 0.0).then(|| mean / downside * periods.sqrt());

    let mut peak = initial;
    let mut max_drawdown = 0.0f64;
    for &e in equity {
        peak = peak.max(e);
        max_drawdown = max_drawdown.max(1.0 - e / peak);
    }
    let total_return = final_equity / initial - 1.0;
    let years = input.duration_ms as f64 / MS_PER_YEAR;
    let cagr = (input.duration_ms >= MIN_ANNUALIZED_MS)
        .then(|| if final_equity <= 0.0 { -1.0 } else { (final_equity / initial).powf(1.0 / years) - 1.0 });
    let calmar = cagr.filter(|_| max_drawdown > 0.0).map(|cagr| cagr / max_drawdown);
    let num_trades = input.closed_trades.len();
    let win_rate =
        (num_trades > 0).then(|| input.closed_trades.iter().filter(|t| t.pnl > 0.0).count() as f64 / num_trades as f64);
    let exposure = input.positions.iter().filter(|q| q.abs() > rltrade_exec::portfolio::QTY_EPSILON).count() as f64 / n;
    let mean_equity = equity.iter().sum::<f64>() / n;
    let turnover = if mean_equity > 0.0 { input.traded_notional / mean_equity } else { 0.0 };
    let (var_95, es_95) = historical_var_es(&returns, 0.95);
    let (var_99, es_99) = historical_var_es(&returns, 0.99);
    Metrics {
        final_equity,
        total_return,
        cagr,
        volatility: std * periods.sqrt(),
        sharpe,
        sortino,
        max_drawdown,
        calmar,
        num_trades,
        win_rate,
        exposure,
        turnover,
        fees_paid: input.fees_paid,
        borrow_fees_paid: input.borrow_fees_paid,
        num_fills: input.num_fills,
        bars,
        var_95,
        es_95,
        var_99,
        es_99,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rltrade_exec::TradeSide;

    fn trade(pnl: f64) -> Trade {
        Trade {
            entry_time_ms: 0,
            exit_time_ms: Some(1),
            side: TradeSide::Long,
            quantity: 1.0,
            entry_price: 1.0,
            exit_price: Some(1.0),
            fees: 0.0,
            pnl,
            exit_reason: Some(rltrade_exec::ExitReason::Signal),
        }
    }

    #[test]
    fn hand_computed_daily_series() {
        // returns +10%, −10%, +5%
        let equity = [110.0, 99.0, 103.95];
        let trades = [trade(5.0), trade(-1.0)];
        let m = compute_metrics(&MetricsInput {
            initial_equity: 100.0,
            equity: &equity,
            positions: &[1.0, 0.0, 2.0],
            interval_ms: 86_400_000,
            duration_ms: 3 * 86_400_000,
            closed_trades: &trades,
            traded_notional: 313.0,
            fees_paid: 0.3,
            borrow_fees_paid: 0.0,
            num_fills: 3,
        });
        let r = [0.1, -0.1, 0.05];
        let mean = (0.1 - 0.1 + 0.05) / 3.0;
        let std = (r.iter().map(|x: &f64| (x - mean).powi(2)).sum::<f64>() / 2.0).sqrt();
        assert!((m.total_return - 0.0395).abs() < 1e-12);
        assert!((m.sharpe.unwrap() - mean / std * 365f64.sqrt()).abs() < 1e-9);
        assert!((m.sortino.unwrap() - mean / (0.01f64 / 3.0).sqrt() * 365f64.sqrt()).abs() < 1e-9);
        assert!((m.volatility - std * 365f64.sqrt()).abs() < 1e-12);
        assert!((m.max_drawdown - 0.1).abs() < 1e-12);
        assert_eq!((m.cagr, m.calmar), (None, None), "3 days are not annualized");
        assert_eq!((m.num_trades, m.win_rate), (2, Some(0.5)));
        assert!((m.exposure - 2.0 / 3.0).abs() < 1e-12);
        assert!((m.turnover - 313.0 / ((110.0 + 99.0 + 103.95) / 3.0)).abs() < 1e-12);
        assert_eq!(m.bars, 3);
    }

    #[test]
    fn flat_equity_has_undefined_ratios() {
        let m = compute_metrics(&MetricsInput {
            initial_equity: 100.0,
            equity: &[100.0, 100.0],
            positions: &[0.0, 0.0],
            interval_ms: 3_600_000,
            duration_ms: 7_200_000,
            closed_trades: &[],
            traded_notional: 0.0,
            fees_paid: 0.0,
            borrow_fees_paid: 0.0,
            num_fills: 0,
        });
        assert_eq!((m.sharpe, m.sortino, m.calmar, m.win_rate), (None, None, None, None));
        assert_eq!((m.total_return, m.max_drawdown, m.exposure), (0.0, 0.0, 0.0));
    }

    #[test]
    fn annualized_figures_need_30_days() {
        // the same three returns (+3.95%, max drawdown 10%) over windows just under and at 30 days
        let metrics = |duration_ms: i64| {
            compute_metrics(&MetricsInput {
                initial_equity: 100.0,
                equity: &[110.0, 99.0, 103.95],
                positions: &[1.0, 1.0, 1.0],
                interval_ms: 86_400_000,
                duration_ms,
                closed_trades: &[],
                traded_notional: 0.0,
                fees_paid: 0.0,
                borrow_fees_paid: 0.0,
                num_fills: 0,
            })
        };
        let short = metrics(MIN_ANNUALIZED_MS - 1);
        assert_eq!((short.cagr, short.calmar), (None, None));
        assert!((short.total_return - 0.0395).abs() < 1e-12, "the plain return stays");
        let month = metrics(MIN_ANNUALIZED_MS);
        let cagr = 1.0395f64.powf(365.25 / 30.0) - 1.0;
        assert!((month.cagr.unwrap() - cagr).abs() < 1e-12 * cagr);
        assert!((month.calmar.unwrap() - cagr / 0.1).abs() < 1e-9 * cagr);
        // ruin is −100% a year whatever the window, once it is annualized
        let ruined =
            compute_metrics(&MetricsInput { equity: &[50.0, 0.0], positions: &[1.0, 0.0], ..metrics_input_of(&[]) });
        assert_eq!(ruined.cagr, Some(-1.0));
    }

    fn metrics_input_of(equity: &[f64]) -> MetricsInput<'_> {
        MetricsInput {
            initial_equity: 100.0,
            equity,
            positions: &[],
            interval_ms: 86_400_000,
            duration_ms: 365 * 86_400_000,
            closed_trades: &[],
            traded_notional: 0.0,
            fees_paid: 0.0,
            borrow_fees_paid: 0.0,
            num_fills: 0,
        }
    }
}
