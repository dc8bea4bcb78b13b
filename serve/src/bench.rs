//! `rltrade bench serve`: single-observation inference latency through ONNX Runtime,
//! bar-to-risk-checked-order latency in process, and replay throughput with the journal
//! on in both synchronous modes.

pub mod fleet;
#[cfg(feature = "mock-exchange")]
pub mod soak;

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use hdrhistogram::Histogram;
use rltrade_env::{BarSeries, TraderSettings};
use rltrade_exec::{ExecutionConfig, FillSource, RiskConfig};
use rltrade_policy::OnnxModel;
use rltrade_policy::model_dir::resolve_export_dir;
use serde::Serialize;

use crate::engine::{Engine, EngineSettings};
use crate::error::{Error, Result};
use crate::journal::SyncMode;
use crate::metrics::Metrics;
use crate::strategy::{RunnerSettings, StrategyRunner};

/// What was measured (latencies in µs).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ServeBench {
    /// Inference calls measured.
    pub inference_calls: u64,
    /// Single-observation `OnnxModel::infer`, p50.
    pub inference_p50_us: f64,
    /// p99.
    pub inference_p99_us: f64,
    /// p99.9.
    pub inference_p999_us: f64,
    /// Bars measured for bar-to-order latency.
    pub bar_to_order_bars: u64,
    /// Fill, mark, feature update, policy, risk check, order ready: p50.
    pub bar_to_order_p50_us: f64,
    /// p99.
    pub bar_to_order_p99_us: f64,
    /// Bars replayed with the journal at `synchronous=NORMAL` (256 bars per commit).
    pub replay_bars: u64,
    /// Replay throughput at NORMAL, bars/s: the model, deciding on every bar.
    pub replay_bars_per_s: f64,
    /// The same with the MA crossover beside the model (live A/B), bars/s.
    pub replay_ab_bars_per_s: f64,
    /// The MA crossover alone (the journal's own cost), bars/s.
    pub replay_ma_bars_per_s: f64,
    /// Bars replayed at `synchronous=FULL` (one commit per bar).
    pub replay_full_bars: u64,
    /// Replay throughput at FULL, bars/s (the model).
    pub replay_full_bars_per_s: f64,
}

fn us(h: &Histogram<u64>, q: f64) -> f64 {
    h.value_at_quantile(q) as f64 / 1000.0
}

/// Runs the benchmark with the model at `model` on `series`; journals go to `scratch`.
///
/// # Errors
/// Model, data or journal errors.
pub fn run(model: &Path, series: &BarSeries, scratch: &Path, inference_calls: u64) -> Result<ServeBench> {
    let dir = resolve_export_dir(model)?;
    let mut onnx = OnnxModel::load(&dir)?;
    let obs_dim = onnx.obs_dim();
    let n = onnx.n_actions();
    let (mut probs, mut logits) = (vec![0.0f32; n], vec![0.0f32; n]);
    let obs: Vec<f32> = (0..obs_dim).map(|i| ((i as f32) * 0.37).sin()).collect();
    let mut inference = Histogram::<u64>::new(3).map_err(|e| bench_error(e.to_string()))?;
    for _ in 0..1_000 {
        onnx.infer(&obs, 1, &mut probs, &mut logits)?;
    }
    for _ in 0..inference_calls {
        let started = Instant::now();
        onnx.infer(&obs, 1, &mut probs, &mut logits)?;
        let _ = inference.record(started.elapsed().as_nanos() as u64);
    }

    let execution = ExecutionConfig::default();
    let risk = RiskConfig::default();
    let (symbol, interval) = (series.symbol.as_str(), series.interval_ms);
    let protect = rltrade_exec::ProtectConfig::default();
    let trader = TraderSettings { interval_ms: interval, execution, risk, protect, fills: FillSource::Simulator };
    let settings = RunnerSettings { symbol: symbol.to_string(), trader };
    let mut runner = StrategyRunner::model(0, &dir, &settings)?;
    let bars = &series.bars;
    let warm = bars.len() / 2;
    for bar in &bars[..warm] {
        runner.warm(bar);
    }
    runner.begin_window();
    let _ = runner.start(&bars[warm], true, Instant::now());
    let mut bar_to_order = Histogram::<u64>::new(3).map_err(|e| bench_error(e.to_string()))?;
    for bar in &bars[warm + 1..] {
        let arrived = Instant::now();
        let outcome = runner.on_bar(bar, true, arrived)?;
        let _ = bar_to_order.record(arrived.elapsed().as_nanos() as u64);
        std::hint::black_box(outcome);
    }

    let replay = |sync: SyncMode, limit: usize, model: bool, ma: bool, name: &str| -> Result<(u64, f64)> {
        let path = scratch.join(name);
        let _ = std::fs::remove_file(&path);
        let mut runners = Vec::new();
        if model {
            runners.push(StrategyRunner::model(runners.len(), &dir, &settings)?);
        }
        if ma {
            runners.push(StrategyRunner::ma_crossover(runners.len(), 50, 200, &[0.0, 1.0], &settings)?);
        }
        let settings = EngineSettings {
            symbol: symbol.to_string(),
            interval_ms: interval,
            feed: "bench".into(),
            sync,
            bars_per_commit: if sync == SyncMode::Full { 1 } else { 256 },
            lot_step: settings.trader.execution.lot_step,
        };
        let mut engine = Engine::open(&path, settings, runners, Arc::new(Metrics::new()))?;
        let traded = &bars[..limit.min(bars.len())];
        let started = Instant::now();
        for bar in traded {
            engine.on_bar(bar, true, Instant::now())?;
        }
        engine.flush()?;
        let seconds = started.elapsed().as_secs_f64();
        drop(engine);
        for suffix in ["", "-wal", "-shm", ".lock"] {
            let _ = std::fs::remove_file(scratch.join(format!("{name}{suffix}")));
        }
        Ok((traded.len() as u64, traded.len() as f64 / seconds))
    };
    let (replay_bars, replay_bars_per_s) = replay(SyncMode::Normal, usize::MAX, true, false, "bench-normal.db")?;
    let (_, replay_ab_bars_per_s) = replay(SyncMode::Normal, usize::MAX, true, true, "bench-ab.db")?;
    let (_, replay_ma_bars_per_s) = replay(SyncMode::Normal, usize::MAX, false, true, "bench-ma.db")?;
    let (replay_full_bars, replay_full_bars_per_s) = replay(SyncMode::Full, 2_000, true, false, "bench-full.db")?;

    Ok(ServeBench {
        inference_calls,
        inference_p50_us: us(&inference, 0.5),
        inference_p99_us: us(&inference, 0.99),
        inference_p999_us: us(&inference, 0.999),
        bar_to_order_bars: bar_to_order.len(),
        bar_to_order_p50_us: us(&bar_to_order, 0.5),
        bar_to_order_p99_us: us(&bar_to_order, 0.99),
        replay_bars,
        replay_bars_per_s,
        replay_ab_bars_per_s,
        replay_ma_bars_per_s,
        replay_full_bars,
        replay_full_bars_per_s,
    })
}

fn bench_error(message: String) -> Error {
    Error::Config { field: "bench".into(), message }
}
