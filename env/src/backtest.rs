//! The backtest runner: any [`Policy`] over one evaluation window, bar by bar through
//! the same [`Trader`] the serving daemon drives (and so the same
//! `rltrade_exec::Account::step_bar` as the training environment).
//!
//! Conventions: the window is a range of bars whose closes are marked. Equity at the
//! close before the window is the starting cash; the first possible fill is at the
//! window's first open (for a decision at the close before it). Features and indicators
//! warm up on the bars before the window. With a named split the window is the split;
//! with `all` it starts at the first bar where every compared strategy can decide (the
//! MA crossover at 0-based index `slow`). A position still open at the end stays open,
//! valued at the last close.

use rltrade_exec::{ExitReasonCounts, RiskConfig, Trade};
use serde::{Deserialize, Serialize};

use crate::bar::{Bar, format_time_ms};
use crate::error::{Error, Result};
use crate::market::MarketData;
use crate::metrics::{Metrics, MetricsInput, compute_metrics};
use crate::observation::ObservationBuilder;
use crate::policy::{Policy, Warmup};
use crate::setup::TradingSetup;
use crate::split::SplitName;
use crate::trader::Trader;

/// The bars a backtest marks: `start..=end` (indices into the series).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvaluationWindow {
    /// The split it came from.
    pub split: SplitName,
    /// First bar of the window.
    pub start: usize,
    /// Last bar of the window (inclusive).
    pub end: usize,
}

impl EvaluationWindow {
    /// Closes in the window.
    pub fn bars(&self) -> usize {
        self.end - self.start + 1
    }
}

/// The first bar index at whose close a policy with `warmup` can decide.
pub fn first_decision_index(data: &MarketData, warmup: Warmup) -> usize {
    match warmup {
        Warmup::Bars(index) => index,
        Warmup::Observation => data.first_observation_index(),
    }
}

/// The warm-up the risk limits of `risk` need, as an entry of [`evaluation_window`]'s
/// `warmups` named by its setting: with the VaR limit on (`risk.max_var_95`) the first
/// decision that may enter is at the close of bar `risk.var_lookback` (its
/// close-to-close returns need the closes before it). `None` while the limits need no
/// history.
pub fn risk_warmup(risk: &RiskConfig) -> Option<(String, Warmup)> {
    let bars = risk.lookback_bars();
    (bars > 0).then(|| ("risk.var_lookback".to_string(), Warmup::Bars(bars)))
}

/// The one window that every policy with one of `warmups` trades over on `split`.
///
/// # Errors
/// [`Error::InsufficientWarmup`] when a named split starts too early for a policy
/// (saying how many bars are missing); [`Error::Config`] when the window leaves no bar
/// to trade.
pub fn evaluation_window(
    data: &MarketData,
    split: SplitName,
    warmups: &[(String, Warmup)],
) -> Result<EvaluationWindow> {
    let range = data.splits.range(split);
    let end = range.end - 1;
    let start = match split {
        SplitName::All => warmups.iter().map(|(_, w)| first_decision_index(data, *w)).max().unwrap_or(0),
        _ => {
            for (name, warmup) in warmups {
                // deciding at the close before the window needs bars 0..=first of history
                let needed = first_decision_index(data, *warmup) + 1;
                if needed > range.start {
                    return Err(Error::InsufficientWarmup {
                        what: name.clone(),
                        window: split.to_string(),
                        needed,
                        available: range.start,
                        missing: needed - range.start,
                    });
                }
            }
            range.start
        }
    };
    if start >= end {
        return Err(Error::Config {
            field: "backtest window".into(),
            message: format!(
                "the {split} split has bars {}..{}, but the strategies can first decide at bar {start}",
                range.start, range.end
            ),
        });
    }
    Ok(EvaluationWindow { split, start, end })
}

/// One point of the equity curve: marked at the close of the bar opening at `time_ms`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct EquityPoint {
    /// Bar open time, ms since epoch UTC.
    pub time_ms: i64,
    /// Equity at the bar's close, quote currency.
    pub equity: f64,
    /// Cash, quote currency.
    pub cash: f64,
    /// Position, base units (signed).
    pub position: f64,
}

/// The result of one backtest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BacktestResult {
    /// The policy's name.
    pub strategy: String,
    /// The window.
    pub window: EvaluationWindow,
    /// Open time of the window's first bar, ms since epoch UTC.
    pub first_bar_ms: i64,
    /// Open time of the window's last bar.
    pub last_bar_ms: i64,
    /// The metrics.
    pub metrics: Metrics,
    /// Orders the risk check refused.
    pub risk_refusals: u64,
    /// Entries the VaR limit (`risk.max_var_95`) scaled down (0 in results saved before
    /// it existed).
    #[serde(default)]
    pub var_scaled_entries: u64,
    /// One point per close in the window.
    pub equity_curve: Vec<EquityPoint>,
    /// Closed trades, then the open one (if any, valued at the last close).
    pub trades: Vec<Trade>,
    /// The closed trades counted by exit reason (stop-loss, take-profit, trailing stop,
    /// time stop, signal, risk liquidation); all 0 in results saved before they existed.
    #[serde(default)]
    pub exit_reasons: ExitReasonCounts,
}

impl BacktestResult {
    /// A one-line summary for logs.
    pub fn summary(&self) -> String {
        format!(
            "{}: {} → {}, {} bars, final equity {:.2}, total return {:.2}%",
            self.strategy,
            format_time_ms(self.first_bar_ms),
            format_time_ms(self.last_bar_ms),
            self.metrics.bars,
            self.metrics.final_equity,
            self.metrics.total_return * 100.0
        )
    }
}

/// Runs `policy` over `window`: a loop over one [`Trader`] (the daemon's per-bar code).
/// The policy sees every bar from the first (warm-up) onward, and decides at each close
/// from the close before the window (or its own first decision, if later) to the close
/// before the last bar. A policy that decides on observations gets them from the
/// incremental [`ObservationBuilder`] with `setup.data`'s features, normalization and
/// window (bit-identical to the training env's matrix).
///
/// # Errors
/// Invalid settings ([`Error::Config`]), an action index outside the action list
/// ([`Error::InvalidAction`]), or a decision the policy could not make
/// ([`Error::PolicyFailed`], with the first failure and the count); equity that left the
/// finite numbers ([`Error::NonFiniteEquity`]).
pub fn run_backtest(setup: &TradingSetup, window: EvaluationWindow, policy: &mut dyn Policy) -> Result<BacktestResult> {
    let data = &setup.data;
    let bars = &data.series.bars;
    if window.start > window.end || window.end >= data.len() {
        return Err(Error::Config {
            field: "backtest window".into(),
            message: format!("bars {}..={} do not fit the {} bars of data", window.start, window.end, data.len()),
        });
    }
    policy.reset();
    let observation = match policy.warmup() {
        Warmup::Observation => {
            Some(ObservationBuilder::new(&data.feature_config, data.normalization.clone(), data.window)?)
        }
        Warmup::Bars(_) => None,
    };
    let mut trader = Trader::new(policy, observation, setup.env.actions.clone(), &setup.trader_settings())?;
    let decision_start = window.start.saturating_sub(1);
    for bar in &bars[..decision_start] {
        trader.warm(bar);
    }
    trader.begin_window();
    let first = trader.start(&bars[decision_start], decision_start < window.end)?;
    let mut curve = Vec::with_capacity(window.bars());
    if window.start == decision_start {
        // a window that starts at bar 0: its first close is marked before any fill
        curve.push(equity_point(&bars[decision_start], &trader, first.step.mark.equity));
    }
    for (t, bar) in bars.iter().enumerate().take(window.end + 1).skip(decision_start + 1) {
        // the last bar is marked, not decided at: an order there could never fill
        let outcome = trader.on_bar(bar, t < window.end)?;
        curve.push(equity_point(bar, &trader, outcome.step.mark.equity));
    }
    if let Some(point) = curve.iter().find(|p| !p.equity.is_finite()) {
        return Err(Error::NonFiniteEquity {
            strategy: trader.policy().name(),
            time: crate::bar::format_time_ms(point.time_ms),
            equity: point.equity,
            initial_cash: setup.execution.initial_cash,
        });
    }
    let equity: Vec<f64> = curve.iter().map(|p| p.equity).collect();
    let positions: Vec<f64> = curve.iter().map(|p| p.position).collect();
    let account = &trader.account;
    let portfolio = &account.portfolio;
    let closed_trades = account.trades.as_ref().map_or(&[][..], |t| t.closed());
    let interval_ms = data.series.interval_ms;
    let (first_bar_ms, last_bar_ms) = (bars[window.start].time_ms, bars[window.end].time_ms);
    let metrics = compute_metrics(&MetricsInput {
        initial_equity: setup.execution.initial_cash,
        equity: &equity,
        positions: &positions,
        interval_ms,
        duration_ms: last_bar_ms - first_bar_ms + interval_ms,
        closed_trades,
        traded_notional: portfolio.traded_notional,
        fees_paid: portfolio.fees_paid,
        borrow_fees_paid: portfolio.borrow_fees_paid,
        num_fills: portfolio.num_fills,
    });
    let exit_reasons = ExitReasonCounts::from_trades(closed_trades);
    let mut trades = closed_trades.to_vec();
    trades.extend(account.trades.as_ref().and_then(|t| t.open_trade(portfolio.unrealized_pnl())));
    let (risk_refusals, var_scaled_entries) = (account.risk_refusals, account.var_scaled_entries);
    let strategy = trader.policy().name();
    if let Some(message) = trader.take_failure() {
        return Err(Error::PolicyFailed { policy: strategy, message });
    }
    Ok(BacktestResult {
        strategy,
        window,
        first_bar_ms,
        last_bar_ms,
        metrics,
        risk_refusals,
        var_scaled_entries,
        equity_curve: curve,
        trades,
        exit_reasons,
    })
}

/// The equity curve's point at `bar`'s close.
fn equity_point<P>(bar: &Bar, trader: &Trader<P>, equity: f64) -> EquityPoint {
    let portfolio = &trader.account.portfolio;
    EquityPoint { time_ms: bar.time_ms, equity, cash: portfolio.cash, position: portfolio.quantity }
}
