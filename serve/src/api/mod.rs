//! The HTTP API (axum). [`router`] builds it, so tests drive it without a socket.
//!
//! | route | what |
//! |---|---|
//! | `GET /` | the dashboard ([`page`]): one page, its script and style, lightweight-charts |
//! | `GET /health` | `{"status": "ok" \| "degraded" \| "halted", ...}`; degraded while the feed is stale or a strategy is halted or killed; halted when the daemon halted (`halt` says why) |
//! | `GET /metrics` | Prometheus text |
//! | `GET /positions` | every strategy's position, equity, trading state |
//! | `GET /ab`, `/signals`, `/chart`, `/activity`, `/latency`, `/models` | read from the journal's committed bars off the engine's lock ([`journal_routes`]) |
//! | `GET /events` | server-sent events: `commit` (`{"bars_committed", "last_bar_ms"}`) after journal commits, coalesced to one per 250 ms, the current one first ([`events`]) |
//! | `POST /kill[?flatten=true]` | kill switch on every strategy, open orders cancelled: in memory first, then journaled (`"journaled": false` and a halted daemon when the journal refuses) |
//! | `POST /resume` | kill switch released, halts lifted (409 once the daemon halted) |
//! | `POST /models/reload` | body `{"strategy", "path"}`; validated before the swap (409 once the daemon halted) |
//!
//! Every request is checked before any body is read ([`access`]): first the `Host`
//! allow-list (421), then, on every route but `/health` and the page's own files, the
//! bearer token. POST routes need the
//! control token (`Authorization: Bearer <token>`): 401 without it, 403 with a wrong
//! one, 403 for every POST when the daemon has none. GET routes need the read token (or
//! the control token) when `serve.read_token_file` is set. A client past
//! `serve.http.auth_failures_per_minute` failures gets 429. Requests time out after
//! `serve.http.request_timeout_ms` (408); bodies over `serve.http.max_body_bytes` get
//! 413. The server itself ([`server`]) caps connections and bounds every wait.

mod ab_snapshot;
pub mod access;
pub mod events;
pub mod journal_routes;
pub mod page;
pub mod requests;
pub mod server;

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{StatusCode, Uri, header};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Serialize;
use serde_json::json;

pub use access::{Access, AllowedHosts, ApiToken, ClientAddr, FailedAuthLimiter};

use crate::config::HttpConfig;
use crate::engine::Engine;
use crate::error::Error;
use crate::halt::DaemonHalt;
use crate::log_text::untrusted;
use journal_routes::JournalReads;
use requests::{KillQuery, ReloadRequest};

/// What the handlers share.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The engine (the feed loop holds the lock only while it processes one bar).
    pub engine: Arc<Mutex<Engine>>,
    /// Tokens, hosts and the failed-authentication limit.
    pub access: Arc<Access>,
    /// The routes read from the journal's committed bars, off the engine's lock.
    reads: Arc<JournalReads>,
    /// `serve.http.request_timeout_ms`.
    request_timeout: Duration,
    /// `serve.http.max_body_bytes`.
    max_body_bytes: usize,
}

impl AppState {
    /// The state of an API over `engine`, checked by `access`, under `http`'s request
    /// timeout and body limit.
    pub fn new(engine: Arc<Mutex<Engine>>, access: Access, http: &HttpConfig) -> Self {
        let journal: PathBuf = engine.lock().unwrap_or_else(|p| p.into_inner()).journal().path().to_path_buf();
        Self {
            engine,
            access: Arc::new(access),
            reads: Arc::new(JournalReads::new(journal)),
            request_timeout: Duration::from_millis(http.request_timeout_ms),
            max_body_bytes: http.max_body_bytes,
        }
    }

    fn engine(&self) -> MutexGuard<'_, Engine> {
        // a panic while holding the lock is a bug; keep serving what is there
        self.engine.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The router with every route and check.
pub fn router(state: AppState) -> Router {
    let read = Router::new()
        .route("/metrics", get(metrics))
        .route("/positions", get(positions))
        .route("/events", get(events::events))
        .merge(journal_routes::routes(Arc::clone(&state.reads)))
        .route_layer(from_fn_with_state(state.clone(), access::require_read));
    let control = Router::new()
        .route("/kill", post(kill))
        .route("/resume", post(resume))
        .route("/models/reload", post(reload))
        .route_layer(from_fn_with_state(state.clone(), declared_body_size))
        .route_layer(from_fn_with_state(state.clone(), access::require_control));
    Router::new()
        .route("/health", get(health))
        .merge(page::routes(page::Mode::Live))
        .merge(read)
        .merge(control)
        .layer(DefaultBodyLimit::max(state.max_body_bytes))
        .layer(axum::middleware::from_fn(page::security_headers))
        .layer(from_fn_with_state(state.clone(), request_timeout))
        .layer(from_fn_with_state(state.clone(), access::check_host))
        .with_state(state)
}

/// 408 when the handler (reading the body included) takes longer than
/// `serve.http.request_timeout_ms`.
async fn request_timeout(State(state): State<AppState>, request: Request, next: Next) -> Response {
    match tokio::time::timeout(state.request_timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => error(
            StatusCode::REQUEST_TIMEOUT,
            format!("no response within serve.http.request_timeout_ms = {} ms", state.request_timeout.as_millis()),
        ),
    }
}

/// 413 at once for a `Content-Length` over `serve.http.max_body_bytes`, before a byte
/// of the body is read (the body extractors' own limit, [`DefaultBodyLimit`], catches a
/// chunked body that grows past it).
async fn declared_body_size(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let declared =
        request.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    match declared {
        Some(length) if length > state.max_body_bytes as u64 => error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("a body of {length} bytes is over serve.http.max_body_bytes = {}", state.max_body_bytes),
        ),
        _ => next.run(request).await,
    }
}

pub(crate) fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
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

/// A query string that does not parse (`?limit=abc`): a JSON 400 that names the
/// parameter, like every other error of the API (axum's own rejection is plain text).
pub(crate) fn bad_query(rejection: QueryRejection) -> Response {
    error(StatusCode::BAD_REQUEST, rejection.body_text())
}

async fn kill(State(state): State<AppState>, uri: Uri) -> Response {
    let query = match KillQuery::from_uri(&uri) {
        Ok(query) => query,
        Err(message) => return error(StatusCode::BAD_REQUEST, message),
    };
    // engaged in memory whatever the journal does: always 200, `journaled` says the rest
    Json(state.engine().kill(query.flatten)).into_response()
}

async fn resume(State(state): State<AppState>) -> Response {
    match state.engine().resume() {
        Ok(()) => Json(json!({ "kill_switch": false })).into_response(),
        Err(e) => refused(&e, StatusCode::INTERNAL_SERVER_ERROR),
    }
}

async fn reload(State(state): State<AppState>, body: axum::body::Bytes) -> Response {
    let request = match ReloadRequest::from_body(&body) {
        Ok(r) => r,
        Err(message) => return error(StatusCode::BAD_REQUEST, message),
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
