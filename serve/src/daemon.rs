//! The tokio side of `rltrade serve`: builds the strategies and the engine, runs the
//! feed, serves the HTTP API, and shuts down cleanly on SIGTERM or Ctrl-C (stop taking
//! bars, finish the bar in hand, flush the journal, exit 0).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rltrade_env::backtest::risk_warmup;
use rltrade_env::features::FeatureConfig;
use rltrade_env::{BarSeries, EnvConfig, MarketData, SplitConfig, TraderSettings, Warmup};
use rltrade_exec::{ExecutionConfig, FillSource, ProtectConfig, RiskConfig};
use rltrade_policy::ModelCard;
use rltrade_policy::model_dir::{MODEL_CARD_FILE, resolve_export_dir};

use crate::alerts::{Alerts, AlertsPlan};
use crate::api::server::{self, ServerLimits, fd_limit};
use crate::api::{Access, AllowedHosts, AppState, FailedAuthLimiter, router};
use crate::binance::ExchangeClock;
use crate::binance::klines::{Interval, KlinesClient, KlinesRequest, Sequencer};
use crate::binance::signing::Credentials;
use crate::broker::exchange::{ExchangeBroker, ExchangeBrokerConfig};
use crate::config::{BrokerKind, ClockSource, ServeConfig, Speed, StrategySource};
use crate::engine::{Engine, EngineSettings, ListCheck};
use crate::error::{Error, Result};
use crate::fault;
use crate::feed::FeedEvent;
use crate::feed::exchange::{ExchangeFeed, ExchangeFeedConfig};
use crate::feed::replay::{ReplayPlan, ReplayStep};
use crate::journal::{Journal, SyncMode};
use crate::lineup::Lineup;
use crate::log_text::untrusted;
use crate::metrics::Metrics;
use crate::shutdown::ShutdownSignals;
use crate::strategy::{RunnerSettings, StrategyRunner};

/// Everything `rltrade serve` resolved from the config and flags.
#[derive(Clone, Debug)]
pub struct DaemonSetup {
    /// `[serve]` with the flags applied.
    pub serve: ServeConfig,
    /// Cash, costs, venue rules (`[execution]`).
    pub execution: ExecutionConfig,
    /// Risk limits (`[risk]`).
    pub risk: RiskConfig,
    /// Protective orders (`[protect]`): every strategy applies them; a model's card
    /// must carry the same settings.
    pub protect: ProtectConfig,
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

/// Whether the exchange can hold `protect`'s orders: off, or a take-profit with a
/// stop-loss or a trailing stop (one OCO order list, replaced when the trailing rule
/// moves the stop). The time stop is simulated inside bars only (paper), so the
/// exchange broker refuses it.
///
/// # Errors
/// [`Error::Config`] naming the `protect.*` setting.
fn exchange_protection_supported(protect: &rltrade_exec::ProtectConfig) -> Result<()> {
    if protect.is_off() {
        return Ok(());
    }
    let refuse = |field: &str, message: &str| {
        Err(Error::Config { field: format!("protect.{field}"), message: message.to_owned() })
    };
    if protect.max_holding_bars > 0 {
        return refuse(
            "max_holding_bars",
            "the exchange broker holds a stop and a take-profit (an OCO order list); a time stop needs \
             serve.broker = \"paper\"",
        );
    }
    if protect.take_profit <= 0.0 {
        return refuse(
            "take_profit",
            "the exchange broker holds the stop and the take-profit as one OCO order list: set protect.take_profit \
             with protect.stop_loss or protect.trailing_stop, or none of them",
        );
    }
    if protect.stop_loss <= 0.0 && protect.trailing_stop <= 0.0 {
        return refuse(
            "stop_loss",
            "the exchange broker holds the stop and the take-profit as one OCO order list: set protect.stop_loss \
             or protect.trailing_stop with protect.take_profit, or none of them",
        );
    }
    Ok(())
}

/// Builds the runners of `lineup`, in its order, each under its lineup name.
///
/// # Errors
/// A model that does not load or fit the feed, or whose card's protective settings
/// differ from `[protect]` (naming the setting); a bad baseline; protective orders with
/// an exchange broker (they are simulated inside each bar, which only the paper broker
/// does).
pub fn build_runners(
    setup: &DaemonSetup,
    lineup: &Lineup,
    symbol: &str,
    interval_ms: i64,
) -> Result<Vec<StrategyRunner>> {
    let fills = if setup.serve.broker == BrokerKind::Paper { FillSource::Simulator } else { FillSource::Broker };
    if fills == FillSource::Broker {
        exchange_protection_supported(&setup.protect)?;
    }
    let settings = RunnerSettings {
        symbol: symbol.to_string(),
        trader: TraderSettings {
            interval_ms,
            execution: setup.execution.clone(),
            risk: setup.risk.clone(),
            protect: setup.protect,
            fills,
        },
    };
    let mut runners = Vec::new();
    for entry in &lineup.entries {
        let runner = match &entry.source {
            StrategySource::Model(path) => StrategyRunner::model(runners.len(), path, &settings),
            StrategySource::Baseline(ma) => {
                StrategyRunner::ma_crossover(runners.len(), ma.fast, ma.slow, &setup.actions, &settings)
            }
        };
        runners.push(runner?.named(entry.name.clone()));
    }
    Ok(runners)
}

/// The replay's window: split by the first model's card (its split dates and
/// features), else by the config; every strategy's warm-up, and the history the risk
/// limits need (`risk.var_lookback` with the VaR limit on), counted as in the backtest.
///
/// # Errors
/// Card or data errors, or a split too early or short for the strategies.
pub fn replay_plan(setup: &DaemonSetup, lineup: &Lineup, series: &BarSeries) -> Result<ReplayPlan> {
    let mut warmups = Vec::new();
    let mut split_data: Option<MarketData> = None;
    for entry in &lineup.entries {
        match &entry.source {
            StrategySource::Model(path) => {
                let card = ModelCard::load(&resolve_export_dir(path)?.join(MODEL_CARD_FILE))?;
                let data = card.market_data(series.clone())?;
                warmups.push((entry.name.to_string(), Warmup::Bars(data.first_observation_index())));
                split_data.get_or_insert(data);
            }
            StrategySource::Baseline(ma) => warmups.push((entry.name.to_string(), Warmup::Bars(ma.slow))),
        }
    }
    warmups.extend(risk_warmup(&setup.risk));
    let data = match split_data {
        Some(data) => data,
        None => {
            let env = EnvConfig { window: setup.window, ..EnvConfig::default() };
            let risk_lookback = setup.risk.lookback_bars();
            MarketData::new(series.clone(), &setup.features, &setup.split, &env, risk_lookback, None)?
        }
    };
    ReplayPlan::new(&data, setup.serve.split, &warmups)
}

/// Runs the daemon until the replay ends (`exit_at_end`) or SIGTERM/Ctrl-C. A start
/// that fails after creating the journal removes it again while it holds nothing.
///
/// # Errors
/// Setup errors (models, journal, address in use); a journal whose last bar is not of
/// this feed (a bar after the replayed file's last one, or later than now on the
/// exchange feed); a journal write failing mid-run stops the daemon with the error
/// after flushing what it can.
pub fn run(setup: DaemonSetup) -> Result<()> {
    setup.serve.validate()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::Config { field: "tokio runtime".into(), message: e.to_string() })?;
    let journal = setup.serve.journal.clone();
    let journal_existed = journal.exists();
    let outcome = runtime.block_on(serve(setup));
    // every task (and with it the engine and its connection) is gone after this
    drop(runtime);
    if outcome.is_err() && !journal_existed {
        // a failed start (address in use, a bad token file, ...) leaves no empty journal
        // behind; one that recorded anything is kept
        match crate::journal::Journal::remove_if_unused(&journal) {
            Ok(true) => tracing::info!(journal = %journal.display(), "removed the journal this failed start created"),
            Ok(false) => {}
            Err(e) => tracing::warn!("could not check the journal this failed start created: {e}"),
        }
    }
    outcome
}

async fn serve(setup: DaemonSetup) -> Result<()> {
    match setup.replay.clone() {
        Some(series) => serve_replay(setup, series).await,
        None => serve_exchange(setup).await,
    }
}

/// The HTTP server, running until `stop` turns true.
struct Api {
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Api {
    async fn start(setup: &DaemonSetup, engine: &Arc<Mutex<Engine>>) -> Result<Self> {
        let serve = &setup.serve;
        let access = Access {
            control: crate::api::access::control_token(serve)?,
            read: crate::api::access::read_token(serve)?,
            hosts: AllowedHosts::new(serve.listen, &serve.http.allowed_hosts),
            failures: FailedAuthLimiter::new(serve.http.auth_failures_per_minute),
        };
        if !crate::api::page::charts_bundled() {
            tracing::warn!(
                "built without lightweight-charts: the dashboard draws no charts until {} is run and rltrade built again",
                crate::api::page::INSTALL_CHARTS
            );
        }
        if access.control.is_none() {
            tracing::warn!("no API token (RLTRADE_API_TOKEN or --token-file): POST endpoints answer 403");
        }
        let state = AppState::new(Arc::clone(engine), access, &serve.http);
        let listen = serve.listen;
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|e| Error::Config { field: "serve.listen".into(), message: format!("{listen}: {e}") })?;
        let address: SocketAddr = listener.local_addr().map_err(|e| Error::io("listen socket", e))?;
        let limits = ServerLimits::new(&serve.http);
        if limits.max_connections < serve.http.max_connections {
            tracing::warn!(
                "serve.http.max_connections lowered to {} to stay below the file limit ({:?})",
                limits.max_connections,
                fd_limit()
            );
        }
        eprintln!("rltrade serve: listening on http://{address}");
        let (stop, rx) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(server::serve(listener, router(state), limits, rx));
        Ok(Self { stop, task })
    }

    async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

/// The journal's `synchronous`: an exchange broker commits every order to disk before
/// it is sent.
fn journal_sync(setup: &DaemonSetup) -> SyncMode {
    if setup.serve.broker == BrokerKind::Binance { SyncMode::Full } else { setup.serve.synchronous }
}

/// Opens the journal, taking its lock (a second daemon is refused here, before
/// anything else), and resolves the strategies against it.
/// Then reads the alerts' secrets and turns the outbox on ([`AlertsPlan::prepare`]),
/// before the engine writes anything.
fn open_journal(setup: &DaemonSetup) -> Result<(Journal, Lineup, Option<AlertsPlan>)> {
    let mut journal = Journal::open(&setup.serve.journal, journal_sync(setup))?;
    let lineup = Lineup::resolve(&setup.serve, journal.meta()?.as_ref(), journal.path())?;
    let alerts = AlertsPlan::prepare(&setup.serve.alerts, &mut journal)?;
    Ok((journal, lineup, alerts))
}

/// Announces the start in the outbox and starts delivering it (when alerts are
/// configured).
fn start_alerts(engine: &Arc<Mutex<Engine>>, plan: Option<AlertsPlan>) -> Result<Option<Alerts>> {
    let Some(plan) = plan else { return Ok(None) };
    let journal_id = {
        let mut engine = lock(engine);
        engine.announce_start()?;
        engine.journal_id().to_string()
    };
    Ok(Some(plan.start(engine, &journal_id)))
}

/// Stops the bot's commands: before the engine closes, so that none is carried out
/// after the last commit.
async fn stop_commands(alerts: &mut Option<Alerts>) {
    if let Some(alerts) = alerts {
        alerts.stop_commands().await;
    }
}

/// Lets delivery drain the outbox (after the engine closed: its stop is in it).
async fn stop_alerts(alerts: Option<Alerts>) {
    if let Some(alerts) = alerts {
        alerts.stop().await;
    }
}

fn open_engine(
    setup: &DaemonSetup,
    journal: Journal,
    lineup: &Lineup,
    symbol: &str,
    interval_ms: i64,
    feed: String,
) -> Result<Arc<Mutex<Engine>>> {
    let runners = build_runners(setup, lineup, symbol, interval_ms)?;
    let sync = journal_sync(setup);
    let settings = EngineSettings {
        symbol: symbol.to_string(),
        interval_ms,
        feed,
        sync,
        bars_per_commit: if sync == SyncMode::Full { 1 } else { setup.serve.bars_per_commit },
        lot_step: setup.execution.lot_step,
    };
    let engine = Engine::from_journal(journal, settings, runners, Arc::new(Metrics::new()))?;
    Ok(Arc::new(Mutex::new(engine)))
}

fn lock(engine: &Mutex<Engine>) -> std::sync::MutexGuard<'_, Engine> {
    engine.lock().unwrap_or_else(|p| p.into_inner())
}

async fn serve_replay(setup: DaemonSetup, series: BarSeries) -> Result<()> {
    let (journal, lineup, alerts) = open_journal(&setup)?;
    let plan = replay_plan(&setup, &lineup, &series)?;
    let feed = format!("replay:{}:{}", series.sha256, setup.serve.split);
    let engine = open_engine(&setup, journal, &lineup, &series.symbol, series.interval_ms, feed)?;
    if let Some(last) = lock(&engine).last_bar() {
        plan.check_resume(last.time_ms)
            .map_err(|message| Error::Journal { path: setup.serve.journal.clone(), message })?;
    }
    // installed before the API listens and kept to the end: a SIGTERM from here on stops
    // the daemon cleanly (during the setup above it ends the process as a kill would,
    // which the journal survives)
    let mut signals = ShutdownSignals::listen()?;
    let api = Api::start(&setup, &engine).await?;
    let mut alerts = start_alerts(&engine, alerts)?;

    let stop = Arc::new(AtomicBool::new(false));
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
                if lock(&engine).halt().is_some() {
                    tracing::error!("halted: no more bars; serving the API until SIGTERM");
                } else {
                    tracing::info!("replay finished; serving the API until SIGTERM");
                }
                signals.recv().await;
            }
            result
        }
        () = signals.recv() => {
            tracing::info!("shutting down: no more bars, flushing the journal");
            stop.store(true, Ordering::SeqCst);
            feed.await.unwrap_or_else(|e| Err(Error::Config { field: "feed".into(), message: e.to_string() }))
        }
    };
    stop_commands(&mut alerts).await;
    let closed = lock(&engine).close();
    stop_alerts(alerts).await;
    api.stop().await;
    outcome.and(closed)
}

/// Binance spot klines: warm up on the last `warmup_bars` closed bars, or on the VaR
/// limit's `risk.var_lookback` if that is longer (first start only), then trade every new closed bar; a restart resumes after the journal's last
/// bar and the feed backfills the gap.
async fn serve_exchange(setup: DaemonSetup) -> Result<()> {
    let exchange = &setup.serve.exchange;
    let interval = Interval::parse(&exchange.interval).ok_or_else(|| Error::Config {
        field: "serve.exchange.interval".into(),
        message: format!("`{}`: expected one of {}", exchange.interval, Interval::names()),
    })?;
    let mut client = KlinesClient::new(&exchange.base_url, Duration::from_millis(exchange.timeout_ms))?;
    let exchange_clock = match exchange.clock {
        ClockSource::Local => None,
        ClockSource::Exchange => {
            let clock = ExchangeClock::new();
            let offset = sync_at_start(&clock, &client).await?;
            tracing::info!(offset_ms = offset, "going by the exchange's clock");
            client = client.with_clock(clock.clock());
            Some(clock)
        }
    };
    let feed_name = format!("exchange:{}", exchange.base_url);
    let (journal, lineup, alerts) = open_journal(&setup)?;
    let engine = open_engine(&setup, journal, &lineup, &exchange.symbol, interval.ms(), feed_name)?;
    // delivering from here on: what the start finds (a restart, a mismatch) is sent too
    let mut alerts = start_alerts(&engine, alerts)?;
    let last_bar = lock(&engine).last_bar();
    if let Some(last) = last_bar {
        // a bar that has not closed yet cannot have been traded: the feed would wait for
        // the bars after it forever, trading nothing
        let now = client.now_ms();
        if last.time_ms + interval.ms() > now {
            return Err(Error::Journal {
                path: setup.serve.journal.clone(),
                message: format!(
                    "holds bar {}, which has not closed yet (now {}): a bar from the future; use a new --journal",
                    rltrade_env::bar::format_time_ms(last.time_ms),
                    rltrade_env::bar::format_time_ms(now)
                ),
            });
        }
    }
    if last_bar.is_none() {
        let bars = exchange.warmup_bars.max(setup.risk.lookback_bars());
        warm_up(&client, exchange, bars, interval, &engine).await?;
    }
    let broker = match setup.serve.broker {
        BrokerKind::Paper => None,
        BrokerKind::Binance => {
            let mut broker = exchange_broker(&setup)?;
            if exchange_clock.is_some() {
                // its own offset, to its own server (the testnet's clock is not the
                // market data's); measured again on a -1021
                let clock = ExchangeClock::new();
                let time_client =
                    KlinesClient::new(&broker.config().base_url, Duration::from_millis(exchange.timeout_ms))?;
                sync_at_start(&clock, &time_client).await?;
                broker = broker.with_exchange_clock(clock, time_client);
            }
            // the symbol's filters, cached for every order; a start without them fails here
            broker.filters().await?;
            // what the exchange's protective orders did while the daemon was down
            poll_protections(&engine, &broker).await?;
            send_orders(&engine, &broker, &exchange.symbol, Resumed::Yes).await?;
            let balances = broker.balances().await?;
            let agreed = lock(&engine).reconcile_balances(
                balances.base_free + balances.base_locked,
                balances.quote_free + balances.quote_locked,
            )?;
            if agreed {
                tracing::info!("reconciled with the exchange's balances");
            }
            Some(broker)
        }
    };
    // installed before the API listens and kept to the end: a SIGTERM from here on stops
    // the daemon cleanly (during the setup above it ends the process as a kill would,
    // which the journal survives)
    let mut signals = ShutdownSignals::listen()?;
    let api = Api::start(&setup, &engine).await?;
    let mut config = ExchangeFeedConfig::new(&exchange.symbol, interval);
    config.poll = Duration::from_millis(exchange.poll_ms.max(1));
    config.sync_clock = exchange_clock;
    let (tx, mut rx) = tokio::sync::mpsc::channel(1024);
    let (feed_stop, feed_stop_rx) = tokio::sync::watch::channel(false);
    let after = lock(&engine).last_bar().map(|b| b.time_ms);
    let feed = tokio::spawn(ExchangeFeed::new(client, config).run(after, tx, feed_stop_rx));
    let mut logged = std::collections::HashSet::new();
    let outcome = loop {
        tokio::select! {
            // a waiting signal wins over a waiting bar: nothing more trades after SIGTERM
            biased;
            () = signals.recv() => {
                tracing::info!("shutting down: no more bars, flushing the journal");
                break Ok(());
            }
            event = rx.recv() => {
                let Some(event) = event else { break Ok(()) };
                let is_bar = matches!(event, FeedEvent::Bar(_));
                if let (true, Some(broker)) = (is_bar, &broker) {
                    // a leg executed inside the bar is taken before the bar is marked
                    if let Err(e) = poll_protections(&engine, broker).await {
                        break Err(e);
                    }
                }
                if let Err(e) = on_feed_event(&engine, event, &mut logged) {
                    break Err(e);
                }
                if let (true, Some(broker)) = (is_bar, &broker) {
                    if let Err(e) = send_orders(&engine, broker, &exchange.symbol, Resumed::No).await {
                        break Err(e);
                    }
                }
            }
        }
    };
    let _ = feed_stop.send(true);
    let _ = feed.await;
    stop_commands(&mut alerts).await;
    let closed = lock(&engine).close();
    stop_alerts(alerts).await;
    api.stop().await;
    outcome.and(closed)
}

/// Measures `clock`'s offset through `client` at start: up to 5 attempts with the
/// exchange clients' backoff (0.2 s doubling, jitter), or a rate limit's `Retry-After`.
///
/// # Errors
/// The last attempt's error.
async fn sync_at_start(clock: &ExchangeClock, client: &KlinesClient) -> Result<i64> {
    let mut waits = crate::backoff::exponential(Duration::from_millis(200), Duration::from_secs(5));
    let mut attempt = 1;
    loop {
        match clock.sync(client).await {
            Ok(offset) => return Ok(offset),
            Err(e) if attempt >= 5 => return Err(e.into()),
            Err(e) => {
                let wait = match &e {
                    crate::binance::ApiError::RateLimited { retry_after_ms, .. } => {
                        Duration::from_millis(*retry_after_ms)
                    }
                    _ => waits.next().unwrap_or(Duration::from_secs(5)),
                };
                tracing::warn!(
                    "measuring the exchange's clock: {}; again in {} ms",
                    untrusted(&e.to_string()),
                    wait.as_millis()
                );
                tokio::time::sleep(wait).await;
                attempt += 1;
            }
        }
    }
}

/// Whether the orders [`send_orders`] finds were journaled before this start (so may
/// have executed already) or at this bar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Resumed {
    /// At start: every outbound order is a dead daemon's; each is looked up first.
    Yes,
    /// At a bar: the orders are this bar's.
    No,
}

/// The Binance broker of `[serve.exchange]`: orders to `testnet_url`, or to
/// `base_url` with `--live`; keys from the named environment variables.
fn exchange_broker(setup: &DaemonSetup) -> Result<ExchangeBroker> {
    let exchange = &setup.serve.exchange;
    let mut config = ExchangeBrokerConfig::testnet(&exchange.symbol, &exchange.base_asset, &exchange.quote_asset);
    config.live = setup.serve.live;
    config.timeout = Duration::from_millis(exchange.timeout_ms);
    config.recv_window_ms = exchange.recv_window_ms;
    config.base_url = if setup.serve.live { exchange.base_url.clone() } else { exchange.testnet_url.clone() };
    let credentials = Credentials::from_env(&exchange.api_key_env, &exchange.api_secret_env)?;
    tracing::info!(url = %config.base_url, live = config.live, "orders go to Binance");
    ExchangeBroker::new(config, credentials)
}

/// Sends every order the engine has approved and journaled (the lock is not held
/// while waiting for the exchange), then applies each outcome: first the protective
/// lists of the strategies about to trade come off the book (a leg that executed
/// before the cancel is taken; a strategy whose list could not be cancelled keeps its
/// order pending until the next bar), then the orders go, then the lists their fills
/// call for (journaled already) are placed. A list the exchange refuses queues a
/// liquidation, sent in a second round at once.
async fn send_orders(engine: &Mutex<Engine>, broker: &ExchangeBroker, symbol: &str, resumed: Resumed) -> Result<()> {
    // stops the trailing rule moved at this close: the replacements are journaled first
    lock(engine).trail_protections()?;
    for _round in 0..2 {
        // strategies whose list could not come off the book: their orders wait for the
        // next bar (the list locks the balance an order would need, and still protects)
        let mut blocked = std::collections::HashSet::new();
        let replaced = lock(engine).protections_to_replace();
        let cancels = lock(engine).protections_to_cancel();
        let replaced = replaced.into_iter().map(|(i, list)| (i, list, true));
        for (i, list, replacing) in replaced.chain(cancels.into_iter().map(|(i, list)| (i, list, false))) {
            match broker.cancel_protection(&list).await {
                Ok(state) if replacing => lock(engine).apply_replaced_list(i, &state)?,
                Ok(state) => lock(engine).apply_list_state(i, &state, ListCheck::Cancelled)?,
                Err(e) => {
                    tracing::warn!(
                        "order list {list}: cancel failed ({}); tried again at the next bar, the strategy's order \
                         with it",
                        untrusted(&e.to_string())
                    );
                    blocked.insert(i);
                }
            }
        }
        let outbound = lock(engine).outbound_orders(symbol)?;
        for order in outbound.into_iter().filter(|o| !blocked.contains(&o.runner)) {
            fault::point(fault::ORDER_JOURNALED_BEFORE_FILL);
            let answer = match resumed {
                // journaled by the daemon that died: maybe executed already
                Resumed::Yes => broker.submit_resumed(&order.request).await,
                Resumed::No => broker.submit(&order.request).await,
            };
            match answer {
                Ok(outcome) => lock(engine).apply_outcome(&order, Some(&outcome), None)?,
                Err(e) => lock(engine).apply_outcome(&order, None, Some(&e.to_string()))?,
            }
        }
        let mut liquidating = false;
        let lists = lock(engine).protections_to_place();
        for (i, request) in lists {
            let outcome = broker.place_protection(&request).await;
            let applied = match &outcome {
                Ok(outcome) => lock(engine).apply_protection_outcome(i, Ok(outcome))?,
                Err(e) => lock(engine).apply_protection_outcome(i, Err(&e.to_string()))?,
            };
            liquidating |= applied;
        }
        if !liquidating {
            break;
        }
    }
    Ok(())
}

/// Reads every protective list on the book and applies what it did (a leg executed, or
/// the list ended at the exchange). A failed read is logged and tried again at the next
/// bar.
async fn poll_protections(engine: &Mutex<Engine>, broker: &ExchangeBroker) -> Result<()> {
    let lists = lock(engine).protections_on_book();
    for (i, list) in lists {
        match broker.protection(&list).await {
            Ok(Some(state)) => lock(engine).apply_list_state(i, &state, ListCheck::Poll)?,
            Ok(None) => tracing::warn!("order list {list}: the exchange does not know it"),
            Err(e) => tracing::warn!("order list {list}: {}; read again at the next bar", untrusted(&e.to_string())),
        }
    }
    // lists executed in part: cancelled, their execution taken, the rest protected anew
    let partial = lock(engine).protections_to_settle();
    for (i, list) in partial {
        match broker.cancel_protection(&list).await {
            Ok(state) => lock(engine).apply_list_state(i, &state, ListCheck::Settle)?,
            Err(e) => tracing::warn!(
                "order list {list}: cancel failed ({}); tried at the next bar",
                untrusted(&e.to_string())
            ),
        }
    }
    Ok(())
}

fn on_feed_event(
    engine: &Mutex<Engine>,
    event: FeedEvent,
    logged: &mut std::collections::HashSet<crate::feed::BadInputKind>,
) -> Result<()> {
    let mut engine = lock(engine);
    match event {
        FeedEvent::Bar(bar) => {
            if engine.last_bar().is_some_and(|last| bar.time_ms <= last.time_ms) {
                return Ok(());
            }
            if engine.halt().is_some() {
                // halted: no bar is traded any more (the halt was logged when it happened)
                return Ok(());
            }
            engine.on_bar(&bar, true, Instant::now())?;
            engine.flush()?;
        }
        FeedEvent::BadInput { kind, message } => {
            let label = crate::metrics::KindLabel { kind: kind.as_str().into() };
            engine.metrics().bad_input.get_or_create(&label).inc();
            if logged.insert(kind) {
                let message = crate::log_text::untrusted(&message);
                tracing::warn!(kind = kind.as_str(), "bad feed input skipped (logged once per kind): {message}");
            }
        }
        FeedEvent::Stale { last_bar_ms } => {
            tracing::warn!(?last_bar_ms, "no closed bar for two intervals");
            engine.set_feed_stale(true)?;
        }
        FeedEvent::Fresh => engine.set_feed_stale(false)?,
        FeedEvent::Retrying { message, wait_ms } => {
            tracing::warn!(wait_ms, "feed retrying: {}", crate::log_text::untrusted(&message));
        }
    }
    Ok(())
}

/// Feeds the last `warmup_bars` closed bars as warm-up (features, indicators and the
/// risk limits' price history only).
async fn warm_up(
    client: &KlinesClient,
    exchange: &crate::config::ExchangeConfig,
    warmup_bars: usize,
    interval: Interval,
    engine: &Mutex<Engine>,
) -> Result<()> {
    let now = client.now_ms();
    let mut start = now - (warmup_bars as i64 + 1) * interval.ms();
    let mut bars = Vec::new();
    let mut sequencer = Sequencer::new(interval, None);
    loop {
        let request = KlinesRequest {
            symbol: exchange.symbol.clone(),
            interval,
            start_ms: Some(start),
            end_ms: None,
            limit: 1000,
        };
        let page = client.klines(&request).await.map_err(Error::from)?;
        let Some(last) = page.last_open_time_ms else { break };
        for kline in &page.klines {
            if sequencer.accept(kline).is_ok() && crate::feed::check_bar(&kline.bar()).is_ok() {
                bars.push(kline.bar());
            }
        }
        if page.rows < 1000 {
            break;
        }
        start = last + 1;
    }
    tracing::info!(bars = bars.len(), "warming up on closed bars from {}", exchange.base_url);
    let mut engine = lock(engine);
    for bar in &bars {
        engine.warm(bar)?;
    }
    engine.flush()
}

/// Feeds the replay's bars after the journal's last one into the engine.
fn replay(plan: &ReplayPlan, engine: &Mutex<Engine>, stop: &AtomicBool, speed: Speed, interval_ms: i64) -> Result<()> {
    let lock = || lock(engine);
    let start = plan.resume_index(lock().last_bar().map(|b| b.time_ms));
    let pause = speed.pause(interval_ms)?;
    for index in start..plan.bars.len() {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let bar = &plan.bars[index];
        match plan.step(index) {
            ReplayStep::Warmup => {
                let mut engine = lock();
                if engine.halt().is_some() {
                    break;
                }
                engine.warm(bar)?;
            }
            ReplayStep::Traded { decide } => {
                if let Some(pause) = pause {
                    std::thread::sleep(pause);
                }
                let mut engine = lock();
                // a halted daemon (the kill switch could not be journaled) takes no more bars
                if engine.halt().is_some() {
                    break;
                }
                engine.on_bar(bar, decide, Instant::now())?;
            }
            ReplayStep::After => break,
        }
    }
    lock().flush()
}

#[cfg(test)]
mod tests {
    use rltrade_exec::ProtectConfig;

    use super::exchange_protection_supported;

    #[test]
    fn the_exchange_holds_a_stop_and_a_take_profit_together_and_refuses_the_rest_by_name() {
        let oco = ProtectConfig { stop_loss: 0.05, take_profit: 0.1, ..ProtectConfig::default() };
        assert!(exchange_protection_supported(&ProtectConfig::default()).is_ok());
        assert!(exchange_protection_supported(&oco).is_ok());
        assert!(exchange_protection_supported(&ProtectConfig { stop_loss: 0.0, trailing_stop: 0.05, ..oco }).is_ok());
        for (config, field) in [
            (ProtectConfig { max_holding_bars: 24, ..oco }, "protect.max_holding_bars"),
            (ProtectConfig { take_profit: 0.0, ..oco }, "protect.take_profit"),
            (ProtectConfig { stop_loss: 0.0, ..oco }, "protect.stop_loss"),
        ] {
            let err = exchange_protection_supported(&config).unwrap_err().to_string();
            assert!(err.contains(field) && err.contains("OCO"), "{err}");
        }
    }
}
