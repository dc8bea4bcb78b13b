//! The read routes answered from the journal alone, through read-only connections of
//! their own, off the engine's lock and off the async workers: the live daemon and the
//! offline dashboard (`rltrade dashboard --journal FILE`) serve them alike.
//!
//! | route | what |
//! |---|---|
//! | `GET /ab` | the A/B table ([`crate::ab::AbReport`]), at most 1 s stale |
//! | `GET /signals?limit=N` | the last N signals, newest first (default 100, at most 10,000) |
//! | `GET /chart?after=MS` | candles, equity and drawdown, fills by reason, after the traded bar opening at `MS` ([`ChartView`](crate::journal::ChartView)) |
//! | `GET /activity?limit=N` | the latest N orders, fills, refusals and events (default 50, at most 1,000) |
//! | `GET /latency?window=N` | bar-to-order latency percentiles over each strategy's last N signals (default 10,000) |
//! | `GET /models` | each strategy's model and its model card |

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::{Deserialize, Serialize};

use super::ab_snapshot::AbSnapshots;
use super::{bad_query, error};
use crate::error::Result;
use crate::journal::Journal;
use crate::strategy::StrategySpec;

/// The journal the routes read, and their connections (opened at the first request).
#[derive(Debug)]
pub struct JournalReads {
    path: PathBuf,
    ab: AbSnapshots,
    reader: Mutex<Option<Journal>>,
}

impl JournalReads {
    /// Reads of the journal at `path`.
    pub fn new(path: PathBuf) -> Self {
        Self { ab: AbSnapshots::new(path.clone()), path, reader: Mutex::new(None) }
    }

    /// Runs `read` on the read-only connection, in one snapshot of the journal.
    /// Blocking: call it off the async workers.
    fn read<T>(&self, read: impl FnOnce(&Journal) -> Result<T>) -> Result<T> {
        let mut reader = self.reader.lock().unwrap_or_else(|p| p.into_inner());
        let journal = match reader.as_mut() {
            Some(journal) => journal,
            None => reader.insert(Journal::open_read_only(&self.path)?),
        };
        journal.read_consistent(read)
    }
}

/// The routes, to merge into a router of any state.
pub fn routes<S>(reads: Arc<JournalReads>) -> Router<S> {
    Router::new()
        .route("/ab", get(ab))
        .route("/signals", get(signals))
        .route("/chart", get(chart))
        .route("/activity", get(activity))
        .route("/latency", get(latency))
        .route("/models", get(models))
        .with_state(reads)
}

/// Runs `read` off the async workers and answers its value as JSON (500 naming the
/// journal's error).
async fn answer<T: Serialize + Send + 'static>(
    reads: Arc<JournalReads>,
    read: impl FnOnce(&Journal) -> Result<T> + Send + 'static,
) -> Response {
    match tokio::task::spawn_blocking(move || reads.read(read)).await {
        Ok(Ok(value)) => Json(value).into_response(),
        Ok(Err(e)) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, format!("reading the journal failed: {e}")),
    }
}

async fn ab(State(reads): State<Arc<JournalReads>>) -> Response {
    match tokio::task::spawn_blocking(move || reads.ab.latest()).await {
        Ok(Ok(body)) => ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
        Ok(Err(e)) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, format!("the A/B report failed: {e}")),
    }
}

/// `?limit=N`.
#[derive(Debug, Deserialize)]
struct Limit {
    limit: Option<usize>,
}

async fn signals(State(reads): State<Arc<JournalReads>>, query: Result<Query<Limit>, QueryRejection>) -> Response {
    let limit = match query {
        Ok(Query(query)) => query.limit.unwrap_or(100).min(10_000),
        Err(rejection) => return bad_query(rejection),
    };
    answer(reads, move |journal| journal.signals(limit)).await
}

/// `?after=MS`.
#[derive(Debug, Deserialize)]
struct After {
    after: Option<i64>,
}

async fn chart(State(reads): State<Arc<JournalReads>>, query: Result<Query<After>, QueryRejection>) -> Response {
    let after = match query {
        Ok(Query(query)) => query.after,
        Err(rejection) => return bad_query(rejection),
    };
    answer(reads, move |journal| journal.chart(after)).await
}

async fn activity(State(reads): State<Arc<JournalReads>>, query: Result<Query<Limit>, QueryRejection>) -> Response {
    let limit = match query {
        Ok(Query(query)) => query.limit.unwrap_or(50).min(1_000),
        Err(rejection) => return bad_query(rejection),
    };
    answer(reads, move |journal| journal.activity(limit)).await
}

/// `?window=N`.
#[derive(Debug, Deserialize)]
struct Window {
    window: Option<u64>,
}

async fn latency(State(reads): State<Arc<JournalReads>>, query: Result<Query<Window>, QueryRejection>) -> Response {
    let window = match query {
        Ok(Query(query)) => query.window.unwrap_or(10_000).clamp(1, 1_000_000),
        Err(rejection) => return bad_query(rejection),
    };
    answer(reads, move |journal| journal.latencies(window)).await
}

/// What a strategy runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StrategyKind {
    /// An exported model.
    Model,
    /// The MA crossover baseline.
    MaCrossover,
}

/// One strategy on the model page.
#[derive(Clone, Debug, Serialize)]
pub struct ModelView {
    /// Strategy name.
    pub strategy: String,
    /// What it runs.
    pub kind: StrategyKind,
    /// SHA-256 of the ONNX file (models only).
    pub sha256: Option<String>,
    /// The export folder (models only; absent in journals older than recorded paths).
    pub path: Option<PathBuf>,
    /// The MA crossover's periods, bars (baselines only).
    pub ma_periods: Option<(usize, usize)>,
    /// The model card (`model_card.json` of the export): data, splits, features,
    /// normalization, training facts, parity.
    pub card: Option<serde_json::Value>,
    /// Why the card could not be read, naming the file.
    pub card_error: Option<String>,
}

async fn models(State(reads): State<Arc<JournalReads>>) -> Response {
    answer(reads, |journal| {
        let specs = journal.meta()?.map(|m| m.strategies).unwrap_or_default();
        Ok(specs.iter().map(model_view).collect::<Vec<_>>())
    })
    .await
}

/// The model page's entry for `spec`, its card read from the export folder.
fn model_view(spec: &StrategySpec) -> ModelView {
    let strategy = spec.name().to_string();
    match spec {
        StrategySpec::Model { sha256, path, .. } => {
            let (card, card_error) = match path {
                None => (None, Some("the journal records no export folder for this model".to_string())),
                Some(dir) => {
                    let file = dir.join(rltrade_policy::model_dir::MODEL_CARD_FILE);
                    match std::fs::read(&file).map_err(|e| e.to_string()).and_then(|bytes| {
                        serde_json::from_slice::<serde_json::Value>(&bytes).map_err(|e| e.to_string())
                    }) {
                        Ok(card) => (Some(card), None),
                        Err(e) => (None, Some(format!("{}: {e}", file.display()))),
                    }
                }
            };
            ModelView {
                strategy,
                kind: StrategyKind::Model,
                sha256: Some(sha256.clone()),
                path: path.clone(),
                ma_periods: None,
                card,
                card_error,
            }
        }
        StrategySpec::MaCrossover { fast, slow, .. } => ModelView {
            strategy,
            kind: StrategyKind::MaCrossover,
            sha256: None,
            path: None,
            ma_periods: Some((*fast, *slow)),
            card: None,
            card_error: None,
        },
    }
}
