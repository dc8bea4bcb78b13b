//! A local Telegram Bot API and webhook receiver for tests (feature `mock-exchange`):
//! an axum server on `127.0.0.1:0` answering `POST /bot<token>/sendMessage` and
//! `POST /bot<token>/getUpdates` in the Bot API's shapes (`{"ok", "result"}`, or
//! `{"ok": false, "error_code", "description", "parameters": {"retry_after"}}`), with
//! real long polling; and `POST /hook`, which checks `X-Rltrade-Signature` against its
//! secret (401 when it does not match) before keeping the body.
//!
//! Faults ([`MockFault`]) are queued per [`MockEndpoint`] and answer the next requests;
//! [`MockBotApi::set_down`] makes an endpoint fail every request until it is set up again.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

use super::webhook::{SIGNATURE_HEADER, verify_signature};

/// The mock's endpoints.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MockEndpoint {
    /// `sendMessage`.
    SendMessage,
    /// `getUpdates`.
    GetUpdates,
    /// The webhook receiver.
    Webhook,
}

/// A fault answering one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MockFault {
    /// 429 with `parameters.retry_after` (the Bot API's flood control) and `Retry-After`.
    TooManyRequests {
        /// Seconds.
        retry_after_s: u64,
    },
    /// 500 Internal Server Error.
    ServerError,
    /// No answer for this long (beyond a client's timeout), then a 500.
    Timeout(Duration),
    /// The connection breaks after the answer's first bytes, the message taken.
    Drop,
}

/// A message the bot was asked to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SentMessage {
    /// `chat_id`.
    pub chat_id: i64,
    /// `text`.
    pub text: String,
}

#[derive(Default)]
struct State_ {
    token: String,
    webhook_secret: Vec<u8>,
    faults: HashMap<MockEndpoint, VecDeque<MockFault>>,
    down: HashMap<MockEndpoint, bool>,
    requests: HashMap<MockEndpoint, u64>,
    sent: Vec<SentMessage>,
    hooks: Vec<(HeaderMap, Value)>,
    bad_signatures: u64,
    updates: Vec<(i64, i64, String, i64)>,
    next_update: i64,
}

type Shared = Arc<(Mutex<State_>, tokio::sync::Notify)>;

/// A running mock. Dropping it stops the server.
pub struct MockBotApi {
    url: String,
    shared: Shared,
    task: tokio::task::JoinHandle<()>,
}

impl MockBotApi {
    /// Binds `127.0.0.1:0`, for the bot with `token` and webhooks signed with
    /// `webhook_secret`, and serves on the current tokio runtime.
    ///
    /// # Errors
    /// The bind error.
    pub async fn start(token: &str, webhook_secret: &str) -> std::io::Result<Self> {
        let state = State_ {
            token: token.to_string(),
            webhook_secret: webhook_secret.as_bytes().to_vec(),
            next_update: 1,
            ..State_::default()
        };
        let shared: Shared = Arc::new((Mutex::new(state), tokio::sync::Notify::new()));
        let router = Router::new()
            .route("/{bot}/{method}", post(bot_method))
            .route("/hook", post(hook))
            .with_state(Arc::clone(&shared));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Ok(Self { url, shared, task })
    }

    /// The Bot API's base URL (`serve.alerts.telegram.api_url`).
    pub fn api_url(&self) -> &str {
        &self.url
    }

    /// The webhook receiver's URL.
    pub fn hook_url(&self) -> String {
        format!("{}/hook", self.url)
    }

    fn state(&self) -> MutexGuard<'_, State_> {
        self.shared.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues `fault` for the next request to `endpoint`.
    pub fn push_fault(&self, endpoint: MockEndpoint, fault: MockFault) {
        self.state().faults.entry(endpoint).or_default().push_back(fault);
    }

    /// While `down`, every request to `endpoint` gets a 500.
    pub fn set_down(&self, endpoint: MockEndpoint, down: bool) {
        self.state().down.insert(endpoint, down);
    }

    /// Requests `endpoint` received (faulted ones included).
    pub fn requests(&self, endpoint: MockEndpoint) -> u64 {
        self.state().requests.get(&endpoint).copied().unwrap_or_default()
    }

    /// Every message sent so far, in order.
    pub fn sent(&self) -> Vec<SentMessage> {
        self.state().sent.clone()
    }

    /// Every webhook body whose signature matched, in order, with its headers.
    pub fn hooks(&self) -> Vec<(HeaderMap, Value)> {
        self.state().hooks.clone()
    }

    /// Webhook requests refused for a bad or missing signature.
    pub fn bad_signatures(&self) -> u64 {
        self.state().bad_signatures
    }

    /// A user writes `text` in `chat_id` now: the next `getUpdates` returns it.
    pub fn push_message(&self, chat_id: i64, text: &str) {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
        self.push_message_sent_at(chat_id, text, now);
    }

    /// A message sent at `date` (s since epoch UTC), as one sent while nobody polled.
    pub fn push_message_sent_at(&self, chat_id: i64, text: &str, date: i64) {
        let mut state = self.state();
        let id = state.next_update;
        state.next_update += 1;
        state.updates.push((id, chat_id, text.to_string(), date));
        drop(state);
        self.shared.1.notify_waiters();
    }

    /// The updates not yet confirmed by a `getUpdates` offset.
    pub fn unconfirmed_updates(&self) -> usize {
        self.state().updates.len()
    }
}

impl Drop for MockBotApi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn telegram_error(status: StatusCode, description: &str, retry_after: Option<u64>) -> Response {
    let mut body = json!({"ok": false, "error_code": status.as_u16(), "description": description});
    if let Some(seconds) = retry_after {
        body["parameters"] = json!({ "retry_after": seconds });
    }
    (status, axum::Json(body)).into_response()
}

/// The fault for this request to `endpoint`, counting it.
fn take_fault(shared: &Shared, endpoint: MockEndpoint) -> Option<MockFault> {
    let mut state = shared.0.lock().unwrap_or_else(|p| p.into_inner());
    *state.requests.entry(endpoint).or_default() += 1;
    if state.down.get(&endpoint).copied().unwrap_or(false) {
        return Some(MockFault::ServerError);
    }
    state.faults.get_mut(&endpoint).and_then(VecDeque::pop_front)
}

/// Answers a fault; `None` for [`MockFault::Drop`], which the handler answers after
/// taking the request.
async fn fault_answer(fault: MockFault) -> Option<Response> {
    match fault {
        MockFault::TooManyRequests { retry_after_s } => {
            let mut answer = telegram_error(
                StatusCode::TOO_MANY_REQUESTS,
                &format!("Too Many Requests: retry after {retry_after_s}"),
                Some(retry_after_s),
            );
            if let Ok(value) = retry_after_s.to_string().parse() {
                answer.headers_mut().insert(axum::http::header::RETRY_AFTER, value);
            }
            Some(answer)
        }
        MockFault::ServerError => {
            Some(telegram_error(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error", None))
        }
        MockFault::Timeout(wait) => {
            tokio::time::sleep(wait).await;
            Some(telegram_error(StatusCode::INTERNAL_SERVER_ERROR, "answered too late", None))
        }
        MockFault::Drop => None,
    }
}

fn dropped_connection() -> Response {
    let chunks: [Result<axum::body::Bytes, std::io::Error>; 2] = [
        Ok(axum::body::Bytes::from_static(b"{\"ok\":tr")),
        Err(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "connection dropped by the mock")),
    ];
    (StatusCode::OK, axum::body::Body::from_stream(futures_util::stream::iter(chunks))).into_response()
}

async fn bot_method(
    State(shared): State<Shared>,
    Path((bot, method)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Response {
    let token = shared.0.lock().unwrap_or_else(|p| p.into_inner()).token.clone();
    if bot != format!("bot{token}") {
        return telegram_error(StatusCode::UNAUTHORIZED, "Unauthorized", None);
    }
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return telegram_error(StatusCode::BAD_REQUEST, "Bad Request: body is not JSON", None);
    };
    match method.as_str() {
        "sendMessage" => send_message(&shared, &request).await,
        "getUpdates" => get_updates(&shared, &request).await,
        _ => telegram_error(StatusCode::NOT_FOUND, "Not Found: method not found", None),
    }
}

async fn send_message(shared: &Shared, request: &Value) -> Response {
    let fault = take_fault(shared, MockEndpoint::SendMessage);
    if let Some(fault) = fault {
        if let Some(answer) = fault_answer(fault).await {
            return answer;
        }
    }
    let (Some(chat_id), Some(text)) = (request["chat_id"].as_i64(), request["text"].as_str()) else {
        return telegram_error(StatusCode::BAD_REQUEST, "Bad Request: chat_id and text are required", None);
    };
    if text.is_empty() || text.chars().count() > 4096 {
        return telegram_error(StatusCode::BAD_REQUEST, "Bad Request: message text is empty or too long", None);
    }
    shared.0.lock().unwrap_or_else(|p| p.into_inner()).sent.push(SentMessage { chat_id, text: text.to_string() });
    if fault == Some(MockFault::Drop) {
        return dropped_connection();
    }
    axum::Json(json!({"ok": true, "result": {"message_id": 1, "chat": {"id": chat_id}, "text": text}})).into_response()
}

async fn get_updates(shared: &Shared, request: &Value) -> Response {
    if let Some(fault) = take_fault(shared, MockEndpoint::GetUpdates) {
        return fault_answer(fault).await.unwrap_or_else(dropped_connection);
    }
    let offset = request["offset"].as_i64().unwrap_or(0);
    let timeout = Duration::from_secs(request["timeout"].as_u64().unwrap_or(0));
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let notified = shared.1.notified();
        {
            let mut state = shared.0.lock().unwrap_or_else(|p| p.into_inner());
            // an offset confirms every update before it (the Bot API forgets them)
            state.updates.retain(|(id, ..)| *id >= offset);
            if !state.updates.is_empty() || tokio::time::Instant::now() >= deadline {
                let result: Vec<Value> = state
                    .updates
                    .iter()
                    .map(|(id, chat, text, date)| {
                        json!({"update_id": id, "message": {"message_id": id, "date": date,
                            "chat": {"id": chat, "type": "private"}, "text": text}})
                    })
                    .collect();
                return axum::Json(json!({"ok": true, "result": result})).into_response();
            }
        }
        let _ = tokio::time::timeout_at(deadline, notified).await;
    }
}

async fn hook(State(shared): State<Shared>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let fault = take_fault(&shared, MockEndpoint::Webhook);
    if let Some(fault) = fault {
        if let Some(answer) = fault_answer(fault).await {
            return answer;
        }
    }
    let mut state = shared.0.lock().unwrap_or_else(|p| p.into_inner());
    let signature = headers.get(SIGNATURE_HEADER).and_then(|v| v.to_str().ok()).unwrap_or_default();
    if !verify_signature(&state.webhook_secret, &body, signature) {
        state.bad_signatures += 1;
        return (StatusCode::UNAUTHORIZED, "bad signature").into_response();
    }
    let Ok(value) = serde_json::from_slice::<Value>(&body) else {
        return (StatusCode::BAD_REQUEST, "not JSON").into_response();
    };
    state.hooks.push((headers, value));
    drop(state);
    if fault == Some(MockFault::Drop) {
        return dropped_connection();
    }
    StatusCode::NO_CONTENT.into_response()
}
