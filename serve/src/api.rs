//! The HTTP API (axum). [`router`] builds it, so tests drive it without a socket.
//!
//! | route | what |
//! |---|---|
//! | `GET /health` | `{"status": "ok" \| "degraded" \| "halted", ...}`; degraded while the feed is stale or a strategy is halted or killed; halted when the daemon halted (`halt` says why) |
//! | `GET /metrics` | Prometheus text |
//! | `GET /positions` | every strategy's position, equity, trading state |
//! | `GET /signals?limit=N` | the last N signals (default 100, at most 10,000) |
//! | `GET /ab` | the live A/B table (as `rltrade ab-report --json`) |
//! | `POST /kill[?flatten=true]` | kill switch on every strategy, open orders cancelled: in memory first, then journaled (`"journaled": false` and a halted daemon when the journal refuses) |
//! | `POST /resume` | kill switch released, halts lifted (409 once the daemon halted) |
//! | `POST /models/reload` | body `{"strategy", "path"}`; validated before the swap (409 once the daemon halted) |
//!
//! POST routes need `Authorization: Bearer <token>`: 401 without it, 403 with a wrong
//! one, 403 for every POST when the daemon has no token.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Json;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::engine::Engine;
use crate::error::Error;
use crate::halt::DaemonHalt;
use crate::log_text::untrusted;

/// The bearer token of POST routes. Its `Debug` never prints it.
#[derive(Clone)]
pub struct ApiToken(String);

impl ApiToken {
    /// Wraps a token.
    pub fn new(token: String) -> Self {
        Self(token)
    }

    /// Constant-time comparison with `candidate`.
    fn matches(&self, candidate: &str) -> bool {
        let (a, b) = (self.0.as_bytes(), candidate.as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

impl std::fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiToken(***)")
    }
}

/// What the handlers share.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The engine (the feed loop holds the lock only while it processes one bar).
    pub engine: Arc<Mutex<Engine>>,
    /// The POST token, if configured.
    pub token: Option<ApiToken>,
}

impl AppState {
    fn engine(&self) -> MutexGuard<'_, Engine> {
        // a panic while holding the lock is a bug; keep serving what is there
        self.engine.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The router with every route.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/positions", get(positions))
        .route("/signals", get(signals))
        .route("/ab", get(ab))
        .route("/kill", post(kill))
        .route("/resume", post(resume))
        .route("/models/reload", post(reload))
        .with_state(state)
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

/// The refusal of an unauthorized POST: 401 without a bearer token, 403 with a wrong
/// one or when none is configured; `None` when authorized.
fn refusal(state: &AppState, headers: &HeaderMap) -> Option<Response> {
    let Some(expected) = &state.token else {
        return Some(error(StatusCode::FORBIDDEN, "no API token is configured (RLTRADE_API_TOKEN or --token-file)"));
    };
    let given =
        headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    match given {
        None => Some(error(StatusCode::UNAUTHORIZED, "missing `Authorization: Bearer <token>`")),
        Some(token) if expected.matches(token.trim()) => None,
        Some(_) => Some(error(StatusCode::FORBIDDEN, "wrong token")),
    }
}

/// `GET /health`'s `status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HealthStatus {
    /// Bars flow and every strategy may trade.
    Ok,
    /// The feed is stale, or a strategy is halted or its kill switch engaged.
    Degraded,
    /// The daemon halted ([`DaemonHalt`]): it takes no more bars.
    Halted,
}

/// `GET /health`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Health<'a> {
    /// Overall state.
    pub status: HealthStatus,
    /// True while no closed bar came for two intervals.
    pub feed_stale: bool,
    /// Open time of the last bar fed, ms since epoch UTC.
    pub last_bar_ms: Option<i64>,
    /// True once the first traded bar was processed.
    pub trading_started: bool,
    /// The strategies that are halted or whose kill switch is engaged.
    pub halted: Vec<&'a str>,
    /// True when the kill switch of any strategy is engaged.
    pub kill_switch: bool,
    /// Why the daemon halted, when it did.
    pub halt: Option<&'a DaemonHalt>,
    /// Number of strategies.
    pub strategies: usize,
}

async fn health(State(state): State<AppState>) -> Response {
    let engine = state.engine();
    let positions = engine.positions();
    let halted: Vec<&str> = positions
        .iter()
        .filter(|p| p.kill_switch || p.trading_state == rltrade_exec::TradingState::Halted)
        .map(|p| p.strategy.as_str())
        .collect();
    let stale = engine.feed_stale();
    let status = match engine.halt() {
        Some(_) => HealthStatus::Halted,
        None if stale || !halted.is_empty() => HealthStatus::Degraded,
        None => HealthStatus::Ok,
    };
    let health = Health {
        status,
        feed_stale: stale,
        last_bar_ms: engine.last_bar().map(|b| b.time_ms),
        trading_started: engine.started(),
        kill_switch: positions.iter().any(|p| p.kill_switch),
        halted,
        halt: engine.halt(),
        strategies: positions.len(),
    };
    Json(health).into_response()
}

/// 409 for what a halted daemon refuses; `other` for any other error.
fn refused(e: &Error, other: StatusCode) -> Response {
    match e {
        Error::Halted { halt } => {
            (StatusCode::CONFLICT, Json(json!({ "error": e.to_string(), "halt": halt }))).into_response()
        }
        _ => error(other, e.to_string()),
    }
}

async fn metrics(State(state): State<AppState>) -> Response {
    let text = state.engine().metrics().encode();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response()
}

async fn positions(State(state): State<AppState>) -> Response {
    Json(state.engine().positions()).into_response()
}

/// `?limit=N`.
#[derive(Debug, Deserialize)]
struct Limit {
    limit: Option<usize>,
}

async fn signals(State(state): State<AppState>, Query(query): Query<Limit>) -> Response {
    let limit = query.limit.unwrap_or(100).min(10_000);
    match state.engine().journal().signals(limit) {
        Ok(signals) => Json(signals).into_response(),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

async fn ab(State(state): State<AppState>) -> Response {
    let engine = state.engine();
    let accounts = engine.accounts();
    match crate::ab::report(engine.journal(), Some(&accounts)) {
        Ok(report) => Json(report).into_response(),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// `?flatten=true`.
#[derive(Debug, Deserialize)]
struct Flatten {
    #[serde(default)]
    flatten: bool,
}

async fn kill(State(state): State<AppState>, headers: HeaderMap, Query(query): Query<Flatten>) -> Response {
    if let Some(response) = refusal(&state, &headers) {
        return response;
    }
    // engaged in memory whatever the journal does: always 200, `journaled` says the rest
    Json(state.engine().kill(query.flatten)).into_response()
}

async fn resume(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(response) = refusal(&state, &headers) {
        return response;
    }
    match state.engine().resume() {
        Ok(()) => Json(json!({ "kill_switch": false })).into_response(),
        Err(e) => refused(&e, StatusCode::INTERNAL_SERVER_ERROR),
    }
}

/// Body of `POST /models/reload`.
#[derive(Debug, Deserialize)]
struct Reload {
    strategy: String,
    path: PathBuf,
}

async fn reload(State(state): State<AppState>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    if let Some(response) = refusal(&state, &headers) {
        return response;
    }
    let request: Reload = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("body must be {{\"strategy\", \"path\"}}: {e}")),
    };
    let result = state.engine().reload(&request.strategy, &request.path);
    match result {
        Ok(sha256) => Json(json!({ "strategy": request.strategy, "sha256": sha256 })).into_response(),
        Err(e @ Error::Halted { .. }) => refused(&e, StatusCode::CONFLICT),
        Err(e) => {
            // the strategy and path are the request's: escaped and cut before logging
            tracing::warn!(
                strategy = %untrusted(&request.strategy),
                "reload refused, the old model keeps serving: {}",
                untrusted(&e.to_string())
            );
            error(StatusCode::UNPROCESSABLE_ENTITY, format!("{e}; the old model keeps serving"))
        }
    }
}
