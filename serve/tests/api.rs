//! The HTTP API through its router (no socket): reads, the bearer token on every POST,
//! the kill switch and resume, a refused model reload, Prometheus names; and the
//! engine's halts on a reconciliation mismatch or an order of unknown fate.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use rltrade_env::{Bar, TraderSettings};
use rltrade_exec::{ExecutionConfig, FillSource, HaltReason, ReconciliationSource, RiskConfig};
use rltrade_serve::api::{Access, ApiToken, AppState, router};
use rltrade_serve::broker::OrderOutcome;
use rltrade_serve::config::HttpConfig;
use rltrade_serve::engine::{Engine, EngineSettings, OutboundOrder};
use rltrade_serve::journal::{EventKind, OrderStatus, SyncMode};
use rltrade_serve::metrics::Metrics;
use rltrade_serve::strategy::{RunnerSettings, StrategyRunner};
use serde_json::Value;
use tower::ServiceExt;

const HOUR: i64 = 3_600_000;

fn runner_settings(execution: &ExecutionConfig, risk: &RiskConfig) -> RunnerSettings {
    RunnerSettings {
        symbol: "BTCUSD".into(),
        trader: TraderSettings {
            interval_ms: HOUR,
            execution: execution.clone(),
            risk: risk.clone(),
            protect: rltrade_exec::ProtectConfig::default(),
            fills: FillSource::Simulator,
        },
    }
}

/// A zig-zag of closes that makes SMA(2) cross SMA(4) several times.
fn bars(n: usize) -> Vec<Bar> {
    (0..n)
        .map(|i| {
            let close = 100.0 + 10.0 * ((i as f64) * 0.7).sin();
            Bar { time_ms: i as i64 * HOUR, open: close, high: close + 1.0, low: close - 1.0, close, volume: 1.0 }
        })
        .collect()
}

/// A BTCUSD 1h engine committing every 4 bars.
fn engine_settings(feed: &str) -> EngineSettings {
    EngineSettings {
        symbol: "BTCUSD".into(),
        interval_ms: HOUR,
        feed: feed.into(),
        sync: SyncMode::Normal,
        bars_per_commit: 4,
        lot_step: 0.0,
    }
}

fn engine(dir: &std::path::Path, n: usize) -> Arc<Mutex<Engine>> {
    let (execution, risk) = (ExecutionConfig::default(), RiskConfig::default());
    let runner = StrategyRunner::ma_crossover(0, 2, 4, &[0.0, 1.0], &runner_settings(&execution, &risk)).unwrap();
    let settings = engine_settings("test");
    let mut engine = Engine::open(&dir.join("journal.db"), settings, vec![runner], Arc::new(Metrics::new())).unwrap();
    let bars = bars(n);
    for bar in &bars[..5] {
        engine.warm(bar).unwrap();
    }
    for bar in &bars[5..] {
        engine.on_bar(bar, true, Instant::now()).unwrap();
    }
    engine.flush().unwrap();
    Arc::new(Mutex::new(engine))
}

async fn call(state: &AppState, method: &str, uri: &str, token: Option<&str>, body: &str) -> (StatusCode, String) {
    call_as(state, method, uri, "localhost:8080", token, body).await
}

async fn call_as(
    state: &AppState,
    method: &str,
    uri: &str,
    host: &str,
    token: Option<&str>,
    body: &str,
) -> (StatusCode, String) {
    let mut request = Request::builder().method(method).uri(uri).header("host", host);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let response = router(state.clone()).oneshot(request.body(Body::from(body.to_string())).unwrap()).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

/// An API on loopback with `token` as its control token and the default limits.
fn state(engine: Arc<Mutex<Engine>>, token: Option<&str>) -> AppState {
    let access = Access::loopback(token.map(|t| ApiToken::new(t.into())));
    AppState::new(engine, access, &HttpConfig::default())
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// Regression: `rltrade_bars_processed_total` counted committed batches only, so it
/// stayed 0 for the first `bars_per_commit` bars while the signals grew.
#[tokio::test]
async fn bars_count_as_processed_when_taken_and_as_committed_when_committed() {
    let dir = tempfile::tempdir().unwrap();
    let (execution, risk) = (ExecutionConfig::default(), RiskConfig::default());
    let runner = StrategyRunner::ma_crossover(0, 2, 4, &[0.0, 1.0], &runner_settings(&execution, &risk)).unwrap();
    let settings = EngineSettings { bars_per_commit: 1_000, ..engine_settings("test") };
    let mut engine =
        Engine::open(&dir.path().join("journal.db"), settings, vec![runner], Arc::new(Metrics::new())).unwrap();
    let bars = bars(20);
    for bar in &bars[..5] {
        engine.warm(bar).unwrap();
    }
    for bar in &bars[5..] {
        engine.on_bar(bar, true, Instant::now()).unwrap();
    }
    let engine = Arc::new(Mutex::new(engine));
    let state = state(Arc::clone(&engine), None);
    let metrics = || async { call(&state, "GET", "/metrics", None, "").await.1 };
    let text = metrics().await;
    assert!(text.contains("rltrade_bars_processed_total 15\n"), "{text}");
    assert!(text.contains("rltrade_bars_committed_total 0\n"), "{text}");
    engine.lock().unwrap().flush().unwrap();
    let text = metrics().await;
    assert!(
        text.contains("rltrade_bars_processed_total 15\n") && text.contains("rltrade_bars_committed_total 15\n"),
        "{text}"
    );
}

#[tokio::test]
async fn reads_report_health_positions_signals_ab_and_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let state = state(engine(dir.path(), 60), Some("s3cret"));

    let (status, body) = call(&state, "GET", "/health", None, "").await;
    assert_eq!(status, StatusCode::OK);
    let health = json(&body);
    assert_eq!(health["status"], "ok", "{health}");
    assert_eq!(health["last_bar_ms"], 59 * HOUR);

    let (_, body) = call(&state, "GET", "/positions", None, "").await;
    let positions = json(&body);
    assert_eq!(positions[0]["strategy"], "ma:2:4");
    assert_eq!(positions[0]["trading_state"], "ACTIVE");

    // regression: a bad query was a plain-text 400; now JSON naming the parameter
    for uri in ["/signals?limit=abc", "/signals?limit=-1"] {
        let (status, body) = call(&state, "GET", uri, None, "").await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}");
        assert!(json(&body)["error"].as_str().unwrap().contains("limit"), "{uri}: {body}");
    }
    let (_, body) = call(&state, "GET", "/signals?limit=3", None, "").await;
    let signals = json(&body);
    assert_eq!(signals.as_array().unwrap().len(), 3);
    assert_eq!(signals[0]["bar_ms"], 59 * HOUR, "newest first");

    let (_, body) = call(&state, "GET", "/ab", None, "").await;
    let ab = json(&body);
    // no key twice in one object (the metrics were flattened into the row, repeating
    // `final_equity` and `num_fills`): serde's derived structs refuse a duplicate field
    #[derive(serde::Deserialize)]
    #[allow(dead_code)]
    struct Keys {
        final_equity: f64,
        num_fills: u64,
        metrics: Option<MetricsKeys>,
    }
    #[derive(serde::Deserialize)]
    #[allow(dead_code)]
    struct MetricsKeys {
        final_equity: f64,
        num_fills: u64,
    }
    #[derive(serde::Deserialize)]
    #[allow(dead_code)]
    struct Report {
        strategies: Vec<Keys>,
    }
    serde_json::from_str::<Report>(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    let repeated = body.replacen("\"num_orders\"", "\"num_fills\":1,\"num_orders\"", 1);
    assert!(serde_json::from_str::<Report>(&repeated).is_err(), "the check sees a repeated key");
    let row = &ab["strategies"][0];
    assert_eq!(row["name"], "ma:2:4");
    assert!(row["num_fills"].as_u64().unwrap() >= 2, "{ab}");
    let metrics = &row["metrics"];
    // 55 hourly bars: too short a window to annualize
    assert!(metrics["cagr"].is_null() && metrics["calmar"].is_null(), "{ab}");
    assert!(metrics["total_return"].is_number(), "{ab}");
    assert!(row["final_equity"].as_f64().unwrap() > 0.0 && metrics["sharpe"].is_number(), "{ab}");
    // tail risk and the closed trades by exit reason, per arm
    let (var_95, es_95) = (metrics["var_95"].as_f64().unwrap(), metrics["es_95"].as_f64().unwrap());
    assert!(var_95.is_finite() && es_95 >= var_95 && metrics["es_99"].as_f64() >= metrics["var_99"].as_f64(), "{ab}");
    let reasons = row["exit_reasons"].as_object().expect("exit_reasons");
    let closed: u64 = reasons.values().map(|n| n.as_u64().unwrap()).sum();
    assert_eq!(closed, metrics["num_trades"].as_u64().unwrap(), "{ab}");
    assert_eq!(reasons["signal"].as_u64(), Some(closed), "no protection here: the crossover closes its trades");
    assert_eq!(row["var_scaled_entries"], 0, "{ab}");

    let (status, text) = call(&state, "GET", "/metrics", None, "").await;
    assert_eq!(status, StatusCode::OK);
    for name in [
        "rltrade_bars_processed_total 55",
        "rltrade_bars_committed_total 55",
        "rltrade_signals_total{strategy=\"ma:2:4\"}",
        "rltrade_fills_total{strategy=\"ma:2:4\"}",
        "rltrade_feed_bad_input_total{kind=\"malformed_json\"} 0",
        "rltrade_feed_stale 0",
        "rltrade_bar_to_order_latency_seconds_bucket",
        "rltrade_equity{strategy=\"ma:2:4\"}",
        "rltrade_exposure{strategy=\"ma:2:4\"}",
    ] {
        assert!(text.contains(name), "{name} missing from\n{text}");
    }
}

#[tokio::test]
async fn posts_need_the_bearer_token_and_kill_resume_work() {
    let dir = tempfile::tempdir().unwrap();
    let state = state(engine(dir.path(), 60), Some("s3cret"));
    assert_eq!(call(&state, "POST", "/kill", None, "").await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(call(&state, "POST", "/kill", Some("wrong"), "").await.0, StatusCode::FORBIDDEN);
    assert_eq!(call(&state, "POST", "/resume", None, "").await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(call(&state, "POST", "/models/reload", Some("wrong"), "{}").await.0, StatusCode::FORBIDDEN);
    assert!(!format!("{:?}", state.access).contains("s3cret"), "the token is never printed");

    let (status, body) = call(&state, "POST", "/kill?flatten=yes", Some("s3cret"), "").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(json(&body)["error"].as_str().unwrap().contains("flatten"), "{body}");
    assert_eq!(json(&call(&state, "GET", "/positions", None, "").await.1)[0]["kill_switch"], false, "nothing engaged");
    let (status, _) = call(&state, "POST", "/kill?flatten=true", Some("s3cret"), "").await;
    assert_eq!(status, StatusCode::OK);
    let positions = json(&call(&state, "GET", "/positions", None, "").await.1);
    assert_eq!(positions[0]["kill_switch"], true);
    // regression: it said ACTIVE while /health listed the strategy as halted
    assert_eq!(positions[0]["trading_state"], "HALTED", "{positions}");
    let health = json(&call(&state, "GET", "/health", None, "").await.1);
    assert_eq!(health["status"], "degraded");
    assert_eq!(health["halted"], serde_json::json!(["ma:2:4"]), "{health}");
    // the journal's equity row of the next bar says the same
    {
        let mut engine = state.engine.lock().unwrap();
        engine.on_bar(&bars(61)[60], true, Instant::now()).unwrap();
        engine.flush().unwrap();
        let conn = rusqlite::Connection::open(dir.path().join("journal.db")).unwrap();
        let state: String = conn
            .query_row(
                "SELECT trading_state FROM equity WHERE strategy = 'ma:2:4' ORDER BY bar_ms DESC LIMIT 1",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(state, "HALTED");
    }
    // the kill switch is journaled: a restart fails closed
    {
        let engine = state.engine.lock().unwrap();
        let saved = engine.journal().accounts().unwrap();
        assert!(saved["ma:2:4"].risk.kill_switch_engaged());
    }
    let (status, _) = call(&state, "POST", "/resume", Some("s3cret"), "").await;
    assert_eq!(status, StatusCode::OK);
    let positions = json(&call(&state, "GET", "/positions", None, "").await.1);
    assert_eq!(positions[0]["kill_switch"], false);
    assert_eq!(positions[0]["trading_state"], "ACTIVE", "{positions}");

    // a baseline cannot be reloaded; bad bodies are 400
    let (status, body) =
        call(&state, "POST", "/models/reload", Some("s3cret"), r#"{"strategy": "ma:2:4", "path": "/nope"}"#).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.contains("not a model") && body.contains("old model keeps serving"), "{body}");
    let (status, _) = call(&state, "POST", "/models/reload", Some("s3cret"), "not json").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_host_outside_the_allow_list_is_refused_before_anything_else() {
    let dir = tempfile::tempdir().unwrap();
    let state = state(engine(dir.path(), 20), Some("s3cret"));
    // DNS rebinding: a page of evil.example resolving to 127.0.0.1 sends its own name
    for uri in ["/health", "/positions", "/ab"] {
        let (status, body) = call_as(&state, "GET", uri, "evil.example:8080", None, "").await;
        assert_eq!(status, StatusCode::MISDIRECTED_REQUEST, "{uri}: {body}");
        assert!(body.contains("evil.example") && body.contains("serve.http.allowed_hosts"), "{body}");
    }
    let (status, _) = call_as(&state, "POST", "/kill", "evil.example", Some("s3cret"), "").await;
    assert_eq!(status, StatusCode::MISDIRECTED_REQUEST);
    assert_eq!(json(&call(&state, "GET", "/positions", None, "").await.1)[0]["kill_switch"], false);
    for host in ["127.0.0.1:9", "[::1]:8080", "LOCALHOST"] {
        assert_eq!(call_as(&state, "GET", "/health", host, None, "").await.0, StatusCode::OK, "{host}");
    }
}

#[tokio::test]
async fn a_read_token_guards_every_get_but_health_and_the_control_token_reads_too() {
    let dir = tempfile::tempdir().unwrap();
    let mut access = Access::loopback(Some(ApiToken::new("control".into())));
    access.read = Some(ApiToken::new("reader".into()));
    // more failures than the default budget of 10 a minute: each route is refused once
    access.failures = rltrade_serve::api::FailedAuthLimiter::new(100);
    let state = AppState::new(engine(dir.path(), 20), access, &HttpConfig::default());
    assert_eq!(call(&state, "GET", "/health", None, "").await.0, StatusCode::OK);
    for uri in ["/metrics", "/positions", "/signals", "/ab", "/chart", "/activity", "/latency", "/models", "/events"] {
        assert_eq!(call(&state, "GET", uri, None, "").await.0, StatusCode::UNAUTHORIZED, "{uri}");
        if uri == "/events" {
            continue; // an endless stream: its authorized answer is tested on its own
        }
        assert_eq!(call(&state, "GET", uri, Some("reader"), "").await.0, StatusCode::OK, "{uri}");
        assert_eq!(call(&state, "GET", uri, Some("control"), "").await.0, StatusCode::OK, "{uri}");
    }
    assert_eq!(call(&state, "GET", "/positions", Some("guess"), "").await.0, StatusCode::FORBIDDEN);
    // the page and its files carry no data: open, as /health
    for uri in ["/", "/assets/dashboard.js", "/assets/dashboard.css", "/about"] {
        assert_eq!(call(&state, "GET", uri, None, "").await.0, StatusCode::OK, "{uri}");
    }
    // the read token controls nothing
    assert_eq!(call(&state, "POST", "/kill", Some("reader"), "").await.0, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_client_past_its_failed_authentications_gets_429_even_with_the_right_token() {
    let dir = tempfile::tempdir().unwrap();
    let state = state(engine(dir.path(), 20), Some("s3cret"));
    for _ in 0..10 {
        assert_eq!(call(&state, "POST", "/kill", Some("guess"), "").await.0, StatusCode::FORBIDDEN);
    }
    let (status, body) = call(&state, "POST", "/kill", Some("s3cret"), "").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert!(body.contains("too many failed authentications") && body.contains("retry in"), "{body}");
    assert_eq!(json(&call(&state, "GET", "/positions", None, "").await.1)[0]["kill_switch"], false, "not killed");
    // reads without a read token stay open
    assert_eq!(call(&state, "GET", "/health", None, "").await.0, StatusCode::OK);
}

#[tokio::test]
async fn a_body_over_the_limit_gets_413_and_an_unauthorized_one_is_not_read() {
    let dir = tempfile::tempdir().unwrap();
    let state = state(engine(dir.path(), 20), Some("s3cret"));
    let big = format!(r#"{{"strategy": "ma:2:4", "path": "{}"}}"#, "x".repeat(100_000));
    let (status, _) = call(&state, "POST", "/models/reload", Some("s3cret"), &big).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    let (status, body) = call(&state, "POST", "/models/reload", None, &big).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the token is checked first: {body}");
}

#[tokio::test]
async fn without_a_configured_token_every_post_is_forbidden() {
    let dir = tempfile::tempdir().unwrap();
    let state = state(engine(dir.path(), 20), None);
    for uri in ["/kill", "/resume", "/models/reload"] {
        assert_eq!(call(&state, "POST", uri, Some("anything"), "{}").await.0, StatusCode::FORBIDDEN, "{uri}");
    }
}

#[test]
fn a_restarted_engine_restores_accounts_and_refuses_other_strategies() {
    let dir = tempfile::tempdir().unwrap();
    let before = {
        let engine = engine(dir.path(), 40);
        let engine = engine.lock().unwrap();
        (engine.accounts(), engine.last_bar())
    };
    let (execution, risk) = (ExecutionConfig::default(), RiskConfig::default());
    let settings = engine_settings;
    let runner = StrategyRunner::ma_crossover(0, 2, 4, &[0.0, 1.0], &runner_settings(&execution, &risk)).unwrap();
    let engine =
        Engine::open(&dir.path().join("journal.db"), settings("test"), vec![runner], Arc::new(Metrics::new())).unwrap();
    assert_eq!(engine.accounts(), before.0);
    assert_eq!(engine.last_bar(), before.1);
    drop(engine);

    let other = StrategyRunner::ma_crossover(0, 3, 5, &[0.0, 1.0], &runner_settings(&execution, &risk)).unwrap();
    let err = Engine::open(&dir.path().join("journal.db"), settings("test"), vec![other], Arc::new(Metrics::new()))
        .unwrap_err()
        .to_string();
    assert!(err.contains("was started with strategies [ma:2:4]") && err.contains("ma:3:5"), "{err}");
    let runner = StrategyRunner::ma_crossover(0, 2, 4, &[0.0, 1.0], &runner_settings(&execution, &risk)).unwrap();
    let err = Engine::open(&dir.path().join("journal.db"), settings("other"), vec![runner], Arc::new(Metrics::new()))
        .unwrap_err()
        .to_string();
    assert!(err.contains("was started with feed test"), "{err}");

    std::fs::write(dir.path().join("bad.db"), b"this is not sqlite at all, not even close............").unwrap();
    let runner = StrategyRunner::ma_crossover(0, 2, 4, &[0.0, 1.0], &runner_settings(&execution, &risk)).unwrap();
    let err = Engine::open(&dir.path().join("bad.db"), settings("test"), vec![runner], Arc::new(Metrics::new()))
        .unwrap_err()
        .to_string();
    assert!(err.contains("bad.db") && err.contains("not a usable SQLite journal"), "{err}");
}

#[test]
fn a_journaled_account_that_disagrees_with_its_fills_halts_on_restart() {
    let dir = tempfile::tempdir().unwrap();
    drop(engine(dir.path(), 40));
    let path = dir.path().join("journal.db");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        let bytes: Vec<u8> = conn.query_row("SELECT account FROM accounts", [], |r| r.get(0)).unwrap();
        let mut account: rltrade_exec::Account = ciborium::from_reader(bytes.as_slice()).unwrap();
        account.portfolio.cash += 5.0;
        let mut bytes = Vec::new();
        ciborium::into_writer(&account, &mut bytes).unwrap();
        conn.execute("UPDATE accounts SET account = ?1", [bytes]).unwrap();
    }
    let (execution, risk) = (ExecutionConfig::default(), RiskConfig::default());
    let runner = StrategyRunner::ma_crossover(0, 2, 4, &[0.0, 1.0], &runner_settings(&execution, &risk)).unwrap();
    let settings = engine_settings("test");
    let metrics = Arc::new(Metrics::new());
    let engine = Engine::open(&path, settings, vec![runner], Arc::clone(&metrics)).unwrap();
    assert_eq!(engine.positions()[0].trading_state, rltrade_exec::TradingState::Halted);
    assert!(metrics.encode().contains("rltrade_reconciliation_mismatches_total{strategy=\"ma:2:4\"} 1"));
    // the halt says why: the fills give 5 less cash than the tampered account
    let reason = engine.accounts()["ma:2:4"].risk.halt_reason();
    let Some(HaltReason::Reconciliation { against, position_diff, cash_diff }) = reason else { panic!("{reason:?}") };
    assert_eq!(against, ReconciliationSource::JournalFills);
    assert!(position_diff.abs() < 1e-9 && (cash_diff + 5.0).abs() < 1e-6, "{reason:?}");
    let events = engine.journal().events().unwrap();
    assert_eq!(events.iter().map(|e| e.kind).collect::<Vec<_>>(), [EventKind::Restart, EventKind::Reconciliation]);
}

/// An engine whose orders go to an exchange (no paper fills), fed until its first
/// order is pending, with that order on its way out.
fn exchange_engine(dir: &std::path::Path) -> (Engine, OutboundOrder) {
    let (execution, risk) = (ExecutionConfig::default(), RiskConfig::default());
    let mut settings = runner_settings(&execution, &risk);
    settings.trader.fills = FillSource::Broker;
    let runner = StrategyRunner::ma_crossover(0, 2, 4, &[0.0, 1.0], &settings).unwrap();
    let mut engine =
        Engine::open(&dir.join("journal.db"), engine_settings("test"), vec![runner], Arc::new(Metrics::new())).unwrap();
    let bars = bars(40);
    for bar in &bars[..5] {
        engine.warm(bar).unwrap();
    }
    for bar in &bars[5..] {
        engine.on_bar(bar, true, Instant::now()).unwrap();
        if engine.accounts()["ma:2:4"].pending.is_some() {
            break;
        }
    }
    engine.flush().unwrap();
    let outbound = engine.outbound_orders("BTCUSD").unwrap();
    assert_eq!(outbound.len(), 1, "the MA crossover ordered within 35 zig-zag bars");
    (engine, outbound.into_iter().next().unwrap())
}

/// An order the symbol's filters make impossible is journaled as rejected, naming the
/// filter, and leaves the strategy trading (nothing was sent).
#[test]
fn an_order_refused_by_a_filter_is_journaled_as_rejected_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let (mut engine, order) = exchange_engine(dir.path());
    let refusal = rltrade_serve::binance::filters::FilterRefusal::BelowMinQty {
        filter: "LOT_SIZE".into(),
        requested: 0.000004,
        rounded: 0.0,
        step: 0.00001,
        min_qty: 0.00001,
    };
    engine.apply_outcome(&order, Some(&OrderOutcome::RefusedByFilter(refusal)), None).unwrap();
    let account = &engine.accounts()["ma:2:4"];
    assert!(account.pending.is_none() && account.risk.halt_reason().is_none(), "{account:?}");
    let orders = engine.journal().orders().unwrap();
    assert_eq!(orders.iter().find(|o| o.order_id == order.order.id).unwrap().status, OrderStatus::Rejected);
    let event = engine.journal().events().unwrap().pop().unwrap();
    assert_eq!(event.kind, EventKind::OrderRejected);
    assert!(event.message.contains("not sent: LOT_SIZE") && event.message.contains("minQty"), "{}", event.message);
}

#[test]
fn an_order_of_unknown_fate_halts_its_strategy_as_order_unknown_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (mut engine, order) = exchange_engine(dir.path());
    engine.apply_outcome(&order, None, Some("timeout")).unwrap();
    let expected = Some(HaltReason::OrderUnknown { order_id: order.order.id });
    assert_eq!(engine.accounts()["ma:2:4"].risk.halt_reason(), expected);
    assert_eq!(engine.positions()[0].trading_state, rltrade_exec::TradingState::Halted);
    let orders = engine.journal().orders().unwrap();
    let journaled = orders.iter().find(|o| o.order_id == order.order.id).unwrap();
    assert_eq!(journaled.status, OrderStatus::Unknown);
    assert_eq!(engine.journal().events().unwrap().last().map(|e| e.kind), Some(EventKind::OrderUnknown));
    drop(engine);

    // the saved account restores the reason, and the order is still pending (re-sent under its id)
    let (execution, risk) = (ExecutionConfig::default(), RiskConfig::default());
    let mut settings = runner_settings(&execution, &risk);
    settings.trader.fills = FillSource::Broker;
    let runner = StrategyRunner::ma_crossover(0, 2, 4, &[0.0, 1.0], &settings).unwrap();
    let mut engine =
        Engine::open(&dir.path().join("journal.db"), engine_settings("test"), vec![runner], Arc::new(Metrics::new()))
            .unwrap();
    assert_eq!(engine.accounts()["ma:2:4"].risk.halt_reason(), expected);
    let again = engine.outbound_orders("BTCUSD").unwrap();
    assert_eq!(again.iter().map(|o| &o.request.client_order_id).collect::<Vec<_>>(), [&order.request.client_order_id]);
}

#[test]
fn exchange_balances_that_disagree_with_the_account_halt_as_reconciliation() {
    let dir = tempfile::tempdir().unwrap();
    let (mut engine, _) = exchange_engine(dir.path());
    let cash = engine.accounts()["ma:2:4"].portfolio.cash;
    assert!(engine.reconcile_balances(0.0, cash).unwrap(), "flat with all its cash: agreed");
    assert_eq!(engine.accounts()["ma:2:4"].risk.halt_reason(), None);
    assert!(!engine.reconcile_balances(0.5, cash - 10.0).unwrap());
    assert_eq!(
        engine.accounts()["ma:2:4"].risk.halt_reason(),
        Some(HaltReason::Reconciliation {
            against: ReconciliationSource::ExchangeBalances,
            position_diff: 0.5,
            cash_diff: -10.0
        })
    );
    assert_eq!(engine.journal().events().unwrap().last().map(|e| e.kind), Some(EventKind::Reconciliation));
}

/// The next server-sent event of `body` as text, or `None` when the stream ended
/// (within 5 s).
async fn next_event(body: &mut Body) -> Option<String> {
    use http_body_util::BodyExt;
    loop {
        let frame = tokio::time::timeout(std::time::Duration::from_secs(5), body.frame())
            .await
            .expect("an event within 5 s")?;
        let data = frame.unwrap().into_data().unwrap_or_default();
        let text = String::from_utf8_lossy(&data).into_owned();
        if !text.starts_with(':') {
            return Some(text);
        }
    }
}

#[tokio::test]
async fn events_announce_commits_coalesced_and_end_when_the_engine_closes() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(dir.path(), 60);
    let state = state(Arc::clone(&engine), None);
    let request = Request::builder().uri("/events").header("host", "localhost:8080").body(Body::empty()).unwrap();
    let response = router(state.clone()).oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut body = response.into_body();

    // the current commit first: a client that (re)connects catches up at once
    let first = next_event(&mut body).await.unwrap();
    assert!(first.contains("event: commit") && first.contains("id: 55"), "{first}");
    assert!(first.contains(&format!("\"last_bar_ms\":{}", 59 * HOUR)), "{first}");

    // 200 commits in a burst: announced coalesced, the last one within the gap
    let more = bars(260);
    let started = Instant::now();
    for bar in &more[60..] {
        let mut engine = engine.lock().unwrap();
        engine.on_bar(bar, true, Instant::now()).unwrap();
        engine.flush().unwrap();
    }
    let mut seen = Vec::new();
    while !seen.last().is_some_and(|e: &String| e.contains("id: 255")) {
        seen.push(next_event(&mut body).await.unwrap());
    }
    let elapsed = started.elapsed().as_secs_f64();
    let most = 2 + (elapsed / rltrade_serve::api::events::MIN_EVENT_GAP.as_secs_f64()) as usize;
    assert!(seen.len() <= most, "{} events for 200 commits in {elapsed:.2} s: {seen:?}", seen.len());
    assert!(seen.last().unwrap().contains(&format!("\"last_bar_ms\":{}", 259 * HOUR)), "{seen:?}");

    // the daemon closes its journal: the stream ends, and a new one is refused
    engine.lock().unwrap().close().unwrap();
    assert_eq!(next_event(&mut body).await, None);
    let (status, body) = call(&state, "GET", "/events", None, "").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
}

/// A request with extra headers: the status, the response headers and the body.
async fn call_with_headers(
    state: &AppState,
    uri: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, axum::http::HeaderMap, String) {
    let mut request = Request::builder().method("GET").uri(uri).header("host", "localhost:8080");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = router(state.clone()).oneshot(request.body(Body::empty()).unwrap()).await.unwrap();
    let (status, headers) = (response.status(), response.headers().clone());
    let bytes = axum::body::to_bytes(response.into_body(), 4 << 20).await.unwrap();
    (status, headers, String::from_utf8_lossy(&bytes).into_owned())
}

#[tokio::test]
async fn the_page_is_served_same_origin_only_under_a_content_security_policy() {
    let dir = tempfile::tempdir().unwrap();
    let state = state(engine(dir.path(), 20), Some("s3cret"));
    let (status, headers, body) = call_with_headers(&state, "/", &[("origin", "http://evil.example")]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers["content-type"].to_str().unwrap().starts_with("text/html"));
    assert!(body.contains("/assets/dashboard.js") && !body.contains("<script>"), "no inline script");
    for uri in ["/", "/positions", "/assets/dashboard.js", "/ab"] {
        let (_, headers, _) = call_with_headers(&state, uri, &[("origin", "http://evil.example")]).await;
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert_eq!(csp, rltrade_serve::api::page::CONTENT_SECURITY_POLICY, "{uri}");
        assert!(csp.contains("script-src 'self'") && csp.contains("connect-src 'self'") && !csp.contains("unsafe"));
        assert_eq!(headers["x-content-type-options"], "nosniff", "{uri}");
        assert_eq!(headers["x-frame-options"], "DENY", "{uri}");
        // no CORS: a browser keeps other origins' pages from reading any answer
        assert!(!headers.keys().any(|k| k.as_str().starts_with("access-control-")), "{uri}: {headers:?}");
    }
    let (status, headers, _) = call_with_headers(&state, "/assets/lightweight-charts.js", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers["content-type"].to_str().unwrap().starts_with("text/javascript"));
    let about = json(&call(&state, "GET", "/about", None, "").await.1);
    assert_eq!(about["mode"], "live");
    assert_eq!(about["charts"], rltrade_serve::api::page::charts_bundled());
    assert_eq!(about["install_charts"], "scripts/install_dashboard_assets.sh");
}

#[tokio::test]
async fn the_dashboard_reads_charts_activity_latency_and_models_from_the_journal() {
    let dir = tempfile::tempdir().unwrap();
    let state = state(engine(dir.path(), 60), None);
    let chart = json(&call(&state, "GET", "/chart", None, "").await.1);
    assert_eq!(chart["symbol"], "BTCUSD");
    assert_eq!(chart["interval_ms"], HOUR);
    let bars = chart["bars"].as_array().unwrap();
    assert_eq!(bars.len(), 55, "the traded bars, warm-up excluded");
    assert_eq!(chart["last_bar_ms"], bars[54]["time_ms"]);
    let strategy = &chart["strategies"][0];
    assert_eq!(strategy["name"], "ma:2:4");
    let equity = strategy["equity"].as_array().unwrap();
    // the first traded bar's close is the starting cash: marks from the second on
    assert_eq!(equity.len(), 54);
    assert_eq!(equity[0]["bar_ms"], bars[1]["time_ms"]);
    // drawdown: equity over its running peak, minus one
    let mut peak = f64::MIN;
    for point in equity {
        let e = point["equity"].as_f64().unwrap();
        peak = peak.max(e);
        assert!((point["drawdown"].as_f64().unwrap() - (e / peak - 1.0)).abs() < 1e-12, "{point}");
    }
    let fills = strategy["fills"].as_array().unwrap();
    assert!(fills.len() >= 4, "the zig-zag trades: {fills:?}");
    // long-only 0/1 targets: entries and exits alternate, each a signal's
    for (i, fill) in fills.iter().enumerate() {
        assert_eq!(fill["kind"], if i % 2 == 0 { "entry" } else { "exit" }, "{fill}");
        assert_eq!(fill["reason"], "signal");
        assert_eq!(fill["side"], if i % 2 == 0 { "buy" } else { "sell" });
    }
    // after a bar: only what follows it, drawdowns still from the whole journal's peak
    let middle = bars[30]["time_ms"].as_i64().unwrap();
    let later = json(&call(&state, "GET", &format!("/chart?after={middle}"), None, "").await.1);
    assert_eq!(later["bars"].as_array().unwrap().len(), 24);
    assert_eq!(later["strategies"][0]["equity"].as_array().unwrap()[..], equity[30..]);
    let after_end = json(&call(&state, "GET", &format!("/chart?after={}", bars[54]["time_ms"]), None, "").await.1);
    assert_eq!(after_end["bars"], serde_json::json!([]));
    assert_eq!(after_end["last_bar_ms"], bars[54]["time_ms"], "a client keeps its place");
    let (status, body) = call(&state, "GET", "/chart?after=abc", None, "").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(json(&body)["error"].as_str().unwrap().contains("after"), "{body}");

    let activity = json(&call(&state, "GET", "/activity?limit=3", None, "").await.1);
    let orders = activity["orders"].as_array().unwrap();
    assert_eq!(orders.len(), 3);
    assert!(orders[0]["decided_bar_ms"].as_i64() >= orders[1]["decided_bar_ms"].as_i64(), "newest first");
    assert_eq!(orders[0]["reason"], "signal");
    assert!(["filled", "pending"].contains(&orders[1]["status"].as_str().unwrap()), "{orders:?}");
    assert_eq!(activity["fills"].as_array().unwrap().len(), 3);
    assert_eq!(activity["fills"][0], fills[fills.len() - 1], "the newest fill first, as the chart has it");

    let latency = json(&call(&state, "GET", "/latency", None, "").await.1);
    assert_eq!(latency["window"], 10_000);
    let row = &latency["strategies"][0];
    assert_eq!(row["strategy"], "ma:2:4");
    assert_eq!(row["count"], 55);
    assert!(row["p50_us"].as_u64() <= row["p99_us"].as_u64() && row["p99_us"].as_u64() <= row["max_us"].as_u64());

    let models = json(&call(&state, "GET", "/models", None, "").await.1);
    assert_eq!(models[0]["kind"], "ma_crossover");
    assert_eq!(models[0]["ma_periods"], serde_json::json!([2, 4]));
}

/// A bar that fails (here: another connection holds the journal's write lock, so the
/// bar's first insert fails) halts the engine (`DaemonHalt::BarFailed`): it takes no
/// more bars, and `close` commits nothing, so the journal stays as of its last commit.
/// (Before, the error ended the daemon without a halt and `close` committed whatever
/// the failed bar had left in the open transaction.)
#[test]
fn a_bar_that_fails_halts_the_engine_and_close_commits_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (execution, risk) = (ExecutionConfig::default(), RiskConfig::default());
    let settings = runner_settings(&execution, &risk);
    let runners = vec![
        StrategyRunner::ma_crossover(0, 2, 4, &[0.0, 1.0], &settings).unwrap(),
        StrategyRunner::ma_crossover(1, 3, 6, &[0.0, 1.0], &settings).unwrap(),
    ];
    let path = dir.path().join("journal.db");
    let mut engine = Engine::open(&path, engine_settings("test"), runners, Arc::new(Metrics::new())).unwrap();
    let bars = bars(20);
    for bar in &bars[..8] {
        engine.warm(bar).unwrap();
    }
    for bar in &bars[8..16] {
        engine.on_bar(bar, true, Instant::now()).unwrap();
    }
    engine.flush().unwrap();
    let accounts = |conn: &rusqlite::Connection| -> Vec<(String, i64, Vec<u8>)> {
        let mut stmt = conn.prepare("SELECT strategy, bar_ms, account FROM accounts ORDER BY strategy").unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).unwrap().map(|r| r.unwrap()).collect()
    };
    let blocker = rusqlite::Connection::open(&path).unwrap();
    let committed = accounts(&blocker);
    assert_eq!(committed.len(), 2);
    assert!(committed.iter().all(|(_, bar_ms, _)| *bar_ms == bars[15].time_ms), "{committed:?}");
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
    let err = engine.on_bar(&bars[16], true, Instant::now()).unwrap_err().to_string();
    assert!(err.contains("locked"), "{err}");
    let halted = engine.on_bar(&bars[17], true, Instant::now()).unwrap_err().to_string();
    assert!(halted.contains("bar") && halted.contains("failed"), "{halted}");
    blocker.execute_batch("ROLLBACK").unwrap();
    let closed = engine.close().unwrap_err().to_string();
    assert!(closed.contains("failed") && closed.contains("restart"), "{closed}");
    drop(engine);
    assert_eq!(accounts(&blocker), committed, "the accounts are those of the last commit, byte for byte");
    let traded: i64 = blocker.query_row("SELECT COUNT(*) FROM bars WHERE phase = 'traded'", [], |r| r.get(0)).unwrap();
    assert_eq!(traded, 8, "the failed bar is not journaled");
}
