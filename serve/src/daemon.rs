//! The tokio side of `rltrade serve`: builds the strategies and the engine, runs the
//! feed, serves the HTTP API, and shuts down cleanly on SIGTERM or Ctrl-C (stop taking
//! bars, finish the bar in hand, flush the journal, exit 0).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rltrade_env::features::FeatureConfig;
use rltrade_env::{BarSeries, MarketData, SplitConfig, Warmup};
use rltrade_exec::{ExecutionConfig, RiskConfig};
use rltrade_policy::ModelCard;
use rltrade_policy::model_dir::{MODEL_CARD_FILE, resolve_export_dir};

use crate::api::{AppState, router};
use crate::config::{BrokerKind, ServeConfig, Speed, parse_baseline};
use crate::engine::{Engine, EngineSettings};
use crate::error::{Error, Result};
use crate::feed::replay::{ReplayPlan, ReplayStep};
use crate::journal::SyncMode;
use crate::metrics::Metrics;
use crate::strategy::StrategyRunner;

/// Everything `rltrade serve` resolved from the config and flags.
#[derive(Clone, Debug)]
pub struct DaemonSetup {
    /// `[serve]` with the flags applied.
    pub serve: ServeConfig,
    /// Cash, costs, venue rules (`[execution]`).
    pub execution: ExecutionConfig,
    /// Risk limits (`[risk]`).
    pub risk: RiskConfig,
    /// The baselines' action list (`[env] actions`).
    pub actions: Vec<f64>,
    /// Features, splits and window of a replay without a model (`[features]`,
    /// `[split]`, `[env] window`); with a model its card's settings split the data.
    pub features: FeatureConfig,
    /// See `features`.
    pub split: SplitConfig,
    /// See `features`.
    pub window: usize,
    /// The replayed bars (when `serve.replay` is set).
    pub replay: Option<BarSeries>,
}

/// Builds the runners: models first (in `--model` order), then baselines.
///
/// # Errors
/// A model that does not load or fit the feed; a bad baseline.
pub fn build_runners(setup: &DaemonSetup, symbol: &str, interval_ms: i64) -> Result<Vec<StrategyRunner>> {
    let mut runners = Vec::new();
    for path in &setup.serve.models {
        let index = runners.len();
        runners.push(StrategyRunner::model(index, path, symbol, interval_ms, &setup.execution, &setup.risk)?);
    }
    for spec in &setup.serve.baselines {
        let (fast, slow) = parse_baseline(spec)?;
        let index = runners.len();
        runners.push(StrategyRunner::ma_crossover(
            index,
            fast,
            slow,
            &setup.actions,
            symbol,
            interval_ms,
            &setup.execution,
            &setup.risk,
        )?);
    }
    Ok(runners)
}

/// The replay's window: split by the first model's card (its split dates and
/// features), else by the config; every strategy's warm-up counted as in the backtest.
///
/// # Errors
/// Card or data errors, or a split too early or short for the strategies.
pub fn replay_plan(setup: &DaemonSetup, series: &BarSeries) -> Result<ReplayPlan> {
    let mut warmups = Vec::new();
    let mut split_data: Option<MarketData> = None;
    for path in &setup.serve.models {
        let card = ModelCard::load(&resolve_export_dir(path)?.join(MODEL_CARD_FILE))?;
        let data = card.market_data(series.clone())?;
        warmups.push((card.name.clone(), Warmup::Bars(data.first_observation_index())));
        split_data.get_or_insert(data);
    }
    for spec in &setup.serve.baselines {
        let (_, slow) = parse_baseline(spec)?;
        warmups.push((spec.clone(), Warmup::Bars(slow)));
    }
    let data = match split_data {
        Some(data) => data,
        None => MarketData::new(series.clone(), &setup.features, &setup.split, setup.window, None)?,
    };
    ReplayPlan::new(&data, setup.serve.split, &warmups)
}

/// Runs the daemon until the replay ends (`exit_at_end`) or SIGTERM/Ctrl-C.
///
/// # Errors
/// Setup errors (models, journal, address in use); a journal write failing mid-run
/// stops the daemon with the error after flushing what it can.
pub fn run(setup: DaemonSetup) -> Result<()> {
    setup.serve.validate()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::Config { field: "tokio runtime".into(), message: e.to_string() })?;
    runtime.block_on(serve(setup))
}

async fn serve(setup: DaemonSetup) -> Result<()> {
    let Some(series) = setup.replay.clone() else {
        return Err(Error::Config {
            field: "serve.replay".into(),
            message: "the exchange feed is not wired into `rltrade serve` yet: give --replay FILE".into(),
        });
    };
    if setup.serve.broker != BrokerKind::Paper {
        return Err(Error::Config { field: "serve.broker".into(), message: "a replay trades on paper only".into() });
    }
    let plan = replay_plan(&setup, &series)?;
    let runners = build_runners(&setup, &series.symbol, series.interval_ms)?;
    let sync = setup.serve.synchronous;
    let settings = EngineSettings {
        symbol: series.symbol.clone(),
        interval_ms: series.interval_ms,
        feed: format!("replay:{}:{}", series.sha256, setup.serve.split),
        sync,
        bars_per_commit: if sync == SyncMode::Full { 1 } else { setup.serve.bars_per_commit },
    };
    let metrics = Arc::new(Metrics::new());
    let engine = Engine::open(&setup.serve.journal, settings, runners, metrics)?;
    let engine = Arc::new(Mutex::new(engine));
    let state = AppState { engine: Arc::clone(&engine), token: setup.serve.api_token()? };
    if state.token.is_none() {
        tracing::warn!("no API token (RLTRADE_API_TOKEN or --token-file): POST endpoints answer 403");
    }

    let listener = tokio::net::TcpListener::bind(setup.serve.listen)
        .await
        .map_err(|e| Error::Config { field: "serve.listen".into(), message: format!("{}: {e}", setup.serve.listen) })?;
    let address: SocketAddr = listener.local_addr().map_err(|e| Error::io("listen socket", e))?;
    eprintln!("rltrade serve: listening on http://{address}");

    let stop = Arc::new(AtomicBool::new(false));
    let (server_stop_tx, server_stop_rx) = tokio::sync::watch::channel(false);
    let server = tokio::spawn(async move {
        let mut rx = server_stop_rx;
        axum::serve(listener, router(state))
            .with_graceful_shutdown(async move {
                let _ = rx.wait_for(|stop| *stop).await;
            })
            .await
    });

    let feed_engine = Arc::clone(&engine);
    let feed_stop = Arc::clone(&stop);
    let speed = setup.serve.speed;
    let interval_ms = series.interval_ms;
    let mut feed = tokio::task::spawn_blocking(move || replay(&plan, &feed_engine, &feed_stop, speed, interval_ms));

    let exit_at_end = setup.serve.exit_at_end;
    let outcome = tokio::select! {
        result = &mut feed => {
            let result = result.unwrap_or_else(|e| Err(Error::Config { field: "feed".into(), message: e.to_string() }));
            if result.is_ok() && !exit_at_end {
                tracing::info!("replay finished; serving the API until SIGTERM");
                shutdown_signal().await;
            }
            result
        }
        () = shutdown_signal() => {
            tracing::info!("shutting down: no more bars, flushing the journal");
            stop.store(true, Ordering::SeqCst);
            feed.await.unwrap_or_else(|e| Err(Error::Config { field: "feed".into(), message: e.to_string() }))
        }
    };
    let flushed = engine.lock().unwrap_or_else(|p| p.into_inner()).flush();
    let _ = server_stop_tx.send(true);
    let _ = server.await;
    outcome.and(flushed)
}

/// Feeds the replay's bars after the journal's last one into the engine.
fn replay(plan: &ReplayPlan, engine: &Mutex<Engine>, stop: &AtomicBool, speed: Speed, interval_ms: i64) -> Result<()> {
    let lock = || engine.lock().unwrap_or_else(|p| p.into_inner());
    let start = plan.resume_index(lock().last_bar().map(|b| b.time_ms));
    let pause = match speed {
        Speed::Max(_) => None,
        Speed::Factor(x) => Some(Duration::from_secs_f64(interval_ms as f64 / 1000.0 / x)),
    };
    for index in start..plan.bars.len() {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let bar = &plan.bars[index];
        match plan.step(index) {
            ReplayStep::Warmup => lock().warm(bar)?,
            ReplayStep::Traded { decide } => {
                if let Some(pause) = pause {
                    std::thread::sleep(pause);
                }
                lock().on_bar(bar, decide, Instant::now())?;
            }
            ReplayStep::After => break,
        }
    }
    lock().flush()
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}
