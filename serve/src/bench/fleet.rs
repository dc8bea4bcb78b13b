//! `rltrade bench fleet`: many strategies on one feed in one engine — the daemon's
//! per-bar loop with every strategy on its own paper account, journaled (NORMAL, 256
//! bars per transaction), as `rltrade serve` runs it.
//!
//! Measures, over the traded bars, two spans from a bar's arrival: until every
//! strategy's order is risk-checked (what [`Engine::on_bar`] returns), and until all of
//! it is journaled in the open transaction ([`Engine::on_bar`] returned, commits
//! included: when orders may leave for a broker); the p50, p99, p99.9 and maximum of
//! each; replay
//! throughput in bar × strategy per second; and resident memory per strategy (the
//! process's RSS after the runners are built, less before, over their number), and its
//! growth over the replay.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use hdrhistogram::Histogram;
use rltrade_env::{BarSeries, TraderSettings};
use rltrade_exec::{ExecutionConfig, FillSource, ProtectConfig, RiskConfig};
use serde::Serialize;

use super::bench_error;
use crate::engine::{Engine, EngineSettings};
use crate::error::Result;
use crate::journal::SyncMode;
use crate::metrics::Metrics;
use crate::strategy::{RunnerSettings, StrategyRunner};
use crate::strategy_name::StrategyName;

/// What was measured. Times in µs, memory in MiB.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FleetBench {
    /// Model strategies (the given models, cycled).
    pub models: usize,
    /// MA-crossover strategies (periods from a grid).
    pub baselines: usize,
    /// Bars traded (after the warm-up half).
    pub bars: u64,
    /// Arrival to every order risk-checked, p50, µs.
    pub bar_p50_us: f64,
    /// p99, µs (target ≤ 1,000 for 100 strategies).
    pub bar_p99_us: f64,
    /// p99.9, µs.
    pub bar_p999_us: f64,
    /// Maximum, µs.
    pub bar_max_us: f64,
    /// Arrival to everything of the bar journaled (commits included), p50, µs.
    pub journaled_p50_us: f64,
    /// p99, µs.
    pub journaled_p99_us: f64,
    /// p99.9, µs.
    pub journaled_p999_us: f64,
    /// Maximum, µs.
    pub journaled_max_us: f64,
    /// Bars × strategies per second of replay.
    pub bar_strategies_per_s: f64,
    /// Resident memory per strategy once built (from the first of each kind on), MiB.
    pub rss_per_strategy_mib: f64,
    /// Resident memory of the whole process after the replay, MiB.
    pub rss_after_mib: f64,
    /// Growth of resident memory over the replay, MiB.
    pub rss_growth_mib: f64,
}

/// The (fast, slow) periods of the `k`-th MA crossover: fast 5 to 50 by 5, slow 2 to
/// 6 times fast, so that no two are the same.
fn ma_periods(k: usize) -> (usize, usize) {
    let fast = 5 * (k % 10 + 1);
    (fast, fast * (2 + k / 10))
}

/// Resident memory of this process, MiB (`/proc/self/statm`; 0 where it cannot be read).
fn rss_mib() -> f64 {
    let pages = std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1).and_then(|p| p.parse::<f64>().ok()))
        .unwrap_or(0.0);
    pages * 4096.0 / (1024.0 * 1024.0)
}

/// Runs `models` model strategies (cycling through `model_dirs`) and `baselines` MA
/// crossovers on `series` (the first half warms up, the second is traded); the journal
/// goes to `scratch`.
///
/// # Errors
/// Model, data or journal errors; [`crate::Error::Config`] (`bench`) for no model with
/// `models > 0`.
pub fn run(
    model_dirs: &[PathBuf],
    models: usize,
    baselines: usize,
    series: &BarSeries,
    scratch: &Path,
) -> Result<FleetBench> {
    if models > 0 && model_dirs.is_empty() {
        return Err(bench_error("model strategies asked for, but no model given".into()));
    }
    let (symbol, interval) = (series.symbol.as_str(), series.interval_ms);
    let trader = TraderSettings {
        interval_ms: interval,
        execution: ExecutionConfig::default(),
        risk: RiskConfig::default(),
        protect: ProtectConfig::default(),
        fills: FillSource::Simulator,
    };
    let settings = RunnerSettings { symbol: symbol.to_string(), trader };
    let name = |text: String| StrategyName::new(text).map_err(|e| bench_error(e.to_string()));
    // memory per strategy: measured from the first strategy of each kind on, so that
    // loading ONNX Runtime itself (with the first model) does not count
    let mut runners = Vec::with_capacity(models + baselines);
    let mut rss_first = None;
    for k in 0..models {
        let dir = &model_dirs[k % model_dirs.len()];
        let runner = StrategyRunner::model(runners.len(), dir, &settings)?;
        runners.push(runner.named(name(format!("model-{k}"))?));
        rss_first = rss_first.or(Some(rss_mib()));
    }
    let rss_models = rss_mib();
    let mut rss_first_ma = None;
    for k in 0..baselines {
        let (fast, slow) = ma_periods(k);
        let runner = StrategyRunner::ma_crossover(runners.len(), fast, slow, &[0.0, 1.0], &settings)?;
        runners.push(runner.named(name(format!("ma-{k}-{fast}-{slow}"))?));
        rss_first_ma = rss_first_ma.or(Some(rss_mib()));
    }
    let strategies = runners.len();
    let rss_built = rss_mib();
    let grown = rss_first.map_or(0.0, |first| rss_models - first) + rss_first_ma.map_or(0.0, |first| rss_built - first);
    let measured = models.saturating_sub(1) + baselines.saturating_sub(1);
    let path = scratch.join("bench-fleet.db");
    let engine_settings = EngineSettings {
        symbol: symbol.to_string(),
        interval_ms: interval,
        feed: "bench".into(),
        sync: SyncMode::Normal,
        bars_per_commit: 256,
        lot_step: settings.trader.execution.lot_step,
    };
    let mut engine = Engine::open(&path, engine_settings, runners, Arc::new(Metrics::new()))?;
    let bars = &series.bars;
    let warm = bars.len() / 2;
    for bar in &bars[..warm] {
        engine.warm(bar)?;
    }
    engine.flush()?;
    let histogram = || Histogram::<u64>::new(3).map_err(|e| bench_error(e.to_string()));
    let (mut checked, mut journaled) = (histogram()?, histogram()?);
    let started = Instant::now();
    for bar in &bars[warm..] {
        let arrived = Instant::now();
        let risk_checked = engine.on_bar(bar, true, arrived)?;
        let _ = journaled.record(arrived.elapsed().as_nanos() as u64);
        let _ = checked.record((risk_checked - arrived).as_nanos() as u64);
    }
    engine.flush()?;
    let seconds = started.elapsed().as_secs_f64();
    let rss_after = rss_mib();
    drop(engine);
    for suffix in ["", "-wal", "-shm", ".lock"] {
        let _ = std::fs::remove_file(scratch.join(format!("bench-fleet.db{suffix}")));
    }
    let traded = (bars.len() - warm) as u64;
    let us = |h: &Histogram<u64>, q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    Ok(FleetBench {
        models,
        baselines,
        bars: traded,
        bar_p50_us: us(&checked, 0.5),
        bar_p99_us: us(&checked, 0.99),
        bar_p999_us: us(&checked, 0.999),
        bar_max_us: checked.max() as f64 / 1000.0,
        journaled_p50_us: us(&journaled, 0.5),
        journaled_p99_us: us(&journaled, 0.99),
        journaled_p999_us: us(&journaled, 0.999),
        journaled_max_us: journaled.max() as f64 / 1000.0,
        bar_strategies_per_s: (traded as f64 * strategies as f64) / seconds,
        rss_per_strategy_mib: if measured > 0 { grown / measured as f64 } else { 0.0 },
        rss_after_mib: rss_after,
        rss_growth_mib: rss_after - rss_built,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifty_distinct_ma_pairs() {
        let pairs: std::collections::HashSet<_> = (0..50).map(ma_periods).collect();
        assert_eq!(pairs.len(), 50);
        assert!(pairs.iter().all(|(fast, slow)| fast < slow));
    }
}
