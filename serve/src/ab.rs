//! Live A/B: the backtest metrics of every strategy over the same journaled bars, plus
//! orders and fills counted from the journal (`GET /ab`, `rltrade ab-report`).

use std::collections::HashMap;

use rltrade_env::metrics::{Metrics, MetricsInput, compute_metrics};
use rltrade_exec::{Account, ExitReasonCounts};
use serde::Serialize;

use crate::error::Result;
use crate::journal::Journal;

/// One strategy's row.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AbRow {
    /// Strategy name.
    pub name: String,
    /// Equity at the last journaled close, quote currency.
    pub final_equity: f64,
    /// Fills journaled.
    pub num_fills: u64,
    /// Orders journaled (approved signals and liquidations).
    pub num_orders: u64,
    /// Risk refusals journaled.
    pub num_refusals: u64,
    /// Entries the VaR limit (`risk.max_var_95`) scaled down (the account's count).
    pub var_scaled_entries: u64,
    /// The account's closed trades counted by exit reason (stop-loss, take-profit,
    /// trailing stop, time stop, signal, risk liquidation), as in the backtest JSON.
    pub exit_reasons: ExitReasonCounts,
    /// The backtest's metrics over the journaled marks, under `"metrics"` (`null` before
    /// the first mark). Its `final_equity` is the last journaled mark's, as the row's;
    /// its `num_fills` is the account's count, the row's the journal's (the same on a
    /// journal that recorded every fill). CAGR and
    /// Calmar are `null` until the marks span 30 days
    /// ([`rltrade_env::metrics::MIN_ANNUALIZED_MS`]).
    pub metrics: Option<Metrics>,
}

/// The A/B table: `{"strategies": [...]}`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AbReport {
    /// Feed symbol.
    pub symbol: String,
    /// First and last journaled traded bar (open times, ms since epoch UTC).
    pub bars: Option<(i64, i64)>,
    /// One row per strategy, in the daemon's order.
    pub strategies: Vec<AbRow>,
}

/// Builds the report from `journal`, with the accounts of `accounts` (the engine's
/// live ones) or, when absent, the journal's saved ones.
///
/// # Errors
/// SQLite errors or a corrupt journal.
pub fn report(journal: &Journal, accounts: Option<&HashMap<String, Account>>) -> Result<AbReport> {
    let Some(meta) = journal.meta()? else {
        return Ok(AbReport { symbol: String::new(), bars: None, strategies: Vec::new() });
    };
    let saved;
    let accounts = match accounts {
        Some(a) => a,
        None => {
            saved = journal.accounts()?;
            &saved
        }
    };
    let orders = journal.orders()?;
    let fills = journal.fills()?;
    let refusals = journal.refusal_counts()?;
    let mut rows = Vec::new();
    let mut span = None;
    for spec in &meta.strategies {
        let name = spec.name().to_string();
        let marks = journal.equity(&name)?;
        let account = accounts.get(&name);
        let equity: Vec<f64> = marks.iter().map(|m| m.equity).collect();
        let positions: Vec<f64> = marks.iter().map(|m| m.position).collect();
        let metrics = match (account, marks.first(), marks.last()) {
            (Some(account), Some(first), Some(last)) => {
                span = Some((first.bar_ms, last.bar_ms));
                let portfolio = &account.portfolio;
                let closed = account.trades.as_ref().map_or(&[][..], |t| t.closed());
                Some(compute_metrics(&MetricsInput {
                    initial_equity: portfolio.initial_cash,
                    equity: &equity,
                    positions: &positions,
                    interval_ms: meta.interval_ms,
                    duration_ms: last.bar_ms - first.bar_ms + meta.interval_ms,
                    closed_trades: closed,
                    traded_notional: portfolio.traded_notional,
                    fees_paid: portfolio.fees_paid,
                    borrow_fees_paid: portfolio.borrow_fees_paid,
                    num_fills: portfolio.num_fills,
                }))
            }
            _ => None,
        };
        let final_equity = marks.last().map(|m| m.equity).or(account.map(|a| a.portfolio.cash)).unwrap_or(0.0);
        let closed = account.and_then(|a| a.trades.as_ref()).map_or(&[][..], |t| t.closed());
        rows.push(AbRow {
            final_equity,
            var_scaled_entries: account.map_or(0, |a| a.var_scaled_entries),
            exit_reasons: ExitReasonCounts::from_trades(closed),
            num_fills: fills.iter().filter(|f| f.strategy == name).count() as u64,
            num_orders: orders.iter().filter(|o| o.strategy == name).count() as u64,
            num_refusals: refusals.get(&name).copied().unwrap_or(0),
            metrics,
            name,
        });
    }
    Ok(AbReport { symbol: meta.symbol, bars: span, strategies: rows })
}

/// The report as a text table.
pub fn render(report: &AbReport) -> String {
    let mut out = format!("live A/B on {}", report.symbol);
    if let Some((first, last)) = report.bars {
        out.push_str(&format!(
            ", bars {} → {}",
            rltrade_env::bar::format_time_ms(first),
            rltrade_env::bar::format_time_ms(last)
        ));
    }
    out.push('\n');
    out.push_str(&format!(
        "{:<28} {:>12} {:>9} {:>8} {:>8} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>8}\n",
        "strategy",
        "final equity",
        "return",
        "sharpe",
        "max dd",
        "VaR95",
        "ES95",
        "VaR99",
        "ES99",
        "orders",
        "fills",
        "refused"
    ));
    for row in &report.strategies {
        let pct = |x: f64| format!("{:.2}%", x * 100.0);
        let na = || "n/a".to_string();
        let (ret, sharpe, dd, tail) = match &row.metrics {
            Some(m) => (
                pct(m.total_return),
                m.sharpe.map_or_else(na, |s| format!("{s:.3}")),
                format!("{:.1}%", m.max_drawdown * 100.0),
                [pct(m.var_95), pct(m.es_95), pct(m.var_99), pct(m.es_99)],
            ),
            None => (na(), na(), na(), [na(), na(), na(), na()]),
        };
        let [var_95, es_95, var_99, es_99] = tail;
        out.push_str(&format!(
            "{:<28} {:>12.2} {:>9} {:>8} {:>8} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>8}\n",
            row.name,
            row.final_equity,
            ret,
            sharpe,
            dd,
            var_95,
            es_95,
            var_99,
            es_99,
            row.num_orders,
            row.num_fills,
            row.num_refusals
        ));
    }
    out.push_str("VaR and ES: historical, one bar, as losses (fractions of equity).\n");
    out
}
