//! The backtest runner: any [`Policy`] through the same [`TradingEnv`] and
//! `rltrade-exec` code as training, over one evaluation window.
//!
//! Conventions: the window is a range of bars whose closes are marked. Equity at the
//! close before the window is the starting cash; the first possible fill is at the
//! window's first open (for a decision at the close before it). Features and indicators
//! warm up on the bars before the window. With a named split the window is the split;
//! with `all` it starts at the first bar where every compared strategy can decide (the
//! MA crossover at 0-based index `slow`). A position still open at the end stays open,
//! valued at the last close.

use std::sync::Arc;

use rltrade_exec::{ExecutionConfig, RiskConfig, Trade};
use serde::{Deserialize, Serialize};

use crate::bar::format_time_ms;
use crate::config::EnvConfig;
use crate::error::{Error, Result};
use crate::market::MarketData;
use crate::metrics::{Metrics, MetricsInput, compute_metrics};
use crate::policy::{DecisionContext, Policy, Warmup};
use crate::split::SplitName;
use crate::trading_env::TradingEnv;

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
    /// One point per close in the window.
    pub equity_curve: Vec<EquityPoint>,
    /// Closed trades, then the open one (if any, valued at the last close).
    pub trades: Vec<Trade>,
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

/// Settings shared by every backtest of a comparison.
#[derive(Clone, Debug)]
pub struct BacktestSetup {
    /// The data.
    pub data: Arc<MarketData>,
    /// The environment (window, actions).
    pub env: EnvConfig,
    /// Cash, costs, venue rules.
    pub execution: ExecutionConfig,
    /// Risk limits.
    pub risk: RiskConfig,
}

/// Runs `policy` over `window`: it sees every bar from the first (warm-up) onward, and
/// decides at each close from the close before the window (or its own first decision,
/// if later) to the close before the last bar.
///
/// # Errors
/// Invalid settings ([`Error::Config`]), or an action index outside the action list.
pub fn run_backtest(
    setup: &BacktestSetup,
    window: EvaluationWindow,
    policy: &mut dyn Policy,
) -> Result<BacktestResult> {
    let data = &setup.data;
    let bars = &data.series.bars;
    let mut env = TradingEnv::new(
        Arc::clone(data),
        setup.env.clone(),
        setup.execution.clone(),
        setup.risk.clone(),
        window.split,
        0,
    )?;
    policy.reset();
    let first_decision = first_decision_index(data, policy.warmup());
    let decision_start = window.start.saturating_sub(1);
    for bar in &bars[..decision_start] {
        policy.on_bar(bar);
    }
    policy.begin_window();
    policy.on_bar(&bars[decision_start]);
    let mut obs = vec![0.0f32; env.obs_dim()];
    let info = env.reset_at(decision_start, window.end, true, &mut obs)?;
    let mut curve = Vec::with_capacity(window.bars());
    let mut equity = Vec::with_capacity(window.bars());
    let mut positions = Vec::with_capacity(window.bars());
    if window.start == decision_start {
        // a window that starts at bar 0: its first close is marked before any fill
        curve.push(EquityPoint {
            time_ms: info.time_ms,
            equity: info.equity,
            cash: info.cash,
            position: info.position,
        });
    }
    let n_actions = env.n_actions();
    while env.index() < window.end {
        let t = env.index();
        let outcome = if t >= first_decision {
            let context = DecisionContext {
                bar: &bars[t],
                index: t,
                current_target: env.current_target(),
                actions: env.actions(),
            };
            let action = policy.act(&obs, &context);
            if action >= n_actions {
                return Err(Error::InvalidAction { action, n_actions });
            }
            env.step_into(action, &mut obs)?
        } else {
            env.hold_into(&mut obs)?
        };
        let info = outcome.info;
        policy.on_bar(&bars[info.index]);
        curve.push(EquityPoint {
            time_ms: info.time_ms,
            equity: info.equity,
            cash: info.cash,
            position: info.position,
        });
    }
    for point in &curve {
        equity.push(point.equity);
        positions.push(point.position);
    }
    let portfolio = env.portfolio();
    let interval_ms = data.series.interval_ms;
    let (first_bar_ms, last_bar_ms) = (bars[window.start].time_ms, bars[window.end].time_ms);
    let metrics = compute_metrics(&MetricsInput {
        initial_equity: setup.execution.initial_cash,
        equity: &equity,
        positions: &positions,
        interval_ms,
        duration_ms: last_bar_ms - first_bar_ms + interval_ms,
        closed_trades: env.closed_trades(),
        traded_notional: portfolio.traded_notional,
        fees_paid: portfolio.fees_paid,
        borrow_fees_paid: portfolio.borrow_fees_paid,
        num_fills: portfolio.num_fills,
    });
    if let Some(message) = policy.take_failure() {
        return Err(Error::PolicyFailed { policy: policy.name(), message });
    }
    let mut trades = env.closed_trades().to_vec();
    trades.extend(env.open_trade());
    Ok(BacktestResult {
        strategy: policy.name(),
        window,
        first_bar_ms,
        last_bar_ms,
        metrics,
        risk_refusals: env.risk_refusals(),
        equity_curve: curve,
        trades,
    })
}
