//! Sending one request and sorting its answer into a body or an [`ApiError`].

use reqwest::StatusCode;
use reqwest::header::RETRY_AFTER;
use serde::Deserialize;

use super::error::{ApiError, DEFAULT_RETRY_AFTER_MS};

/// Most characters of a non-JSON error body kept in [`ApiError::Http`].
const MAX_BODY_SHOWN: usize = 200;

/// Binance's error body.
#[derive(Deserialize)]
struct CodeMsg {
    code: i64,
    msg: String,
}

/// Sends `request` and returns the body of a 2XX answer.
///
/// # Errors
/// [`ApiError::Transport`] without an answer (or a body cut short),
/// [`ApiError::RateLimited`] for 429/418, [`ApiError::Api`] for a `{"code","msg"}`
/// body, else [`ApiError::Http`].
pub(crate) async fn send(endpoint: &str, request: reqwest::RequestBuilder) -> Result<Vec<u8>, ApiError> {
    let transport = |e: reqwest::Error| ApiError::Transport {
        endpoint: endpoint.to_owned(),
        message: without_url(&e),
        timed_out: e.is_timeout(),
    };
    let response = request.send().await.map_err(transport)?;
    let status = response.status();
    let retry_after = response.headers().get(RETRY_AFTER).map(|v| v.as_bytes().to_vec());
    let body = response.bytes().await.map_err(transport)?.to_vec();
    if status.is_success() {
        return Ok(body);
    }
    Err(error_from_answer(endpoint, status.as_u16(), retry_after.as_deref(), &body))
}

/// The [`ApiError`] of a non-2XX answer: its status, its `Retry-After` header's bytes
/// (whole seconds; absent or unreadable: [`DEFAULT_RETRY_AFTER_MS`]) and its body.
/// [`ApiError::RateLimited`] for 429 and 418, [`ApiError::Api`] for a `{"code","msg"}`
/// body below 500, else [`ApiError::Http`] with the body's first 200 characters (a 5XX
/// is always `Http`: the request's fate is unknown, even with a code). Pure: fuzzed as
/// `fuzz/src/bin/exchange_answers.rs`.
pub fn error_from_answer(endpoint: &str, status: u16, retry_after: Option<&[u8]>, body: &[u8]) -> ApiError {
    if status == StatusCode::TOO_MANY_REQUESTS.as_u16() || status == 418 {
        let seconds = retry_after.and_then(|v| std::str::from_utf8(v).ok()).and_then(|v| v.trim().parse::<u64>().ok());
        return ApiError::RateLimited {
            endpoint: endpoint.to_owned(),
            status,
            retry_after_ms: seconds.map_or(DEFAULT_RETRY_AFTER_MS, |s| s.saturating_mul(1_000)),
        };
    }
    // a 5XX is an unknown outcome whatever its body says (Binance's 503 carries
    // `-1007`, "execution status unknown"): never a refusal
    if status < 500 {
        if let Ok(CodeMsg { code, msg }) = serde_json::from_slice::<CodeMsg>(body) {
            return ApiError::Api { endpoint: endpoint.to_owned(), status, code, msg };
        }
    }
    let text = String::from_utf8_lossy(body);
    ApiError::Http { endpoint: endpoint.to_owned(), status, body: text.chars().take(MAX_BODY_SHOWN).collect() }
}

/// Parses a 2XX body as `T`.
///
/// # Errors
/// [`ApiError::Malformed`] naming the serde error.
pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(endpoint: &str, body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::Malformed { endpoint: endpoint.to_owned(), message: e.to_string() })
}

/// reqwest's message without the URL (which would repeat the endpoint and its query,
/// where a signature lives).
fn without_url(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else if e.is_body() || e.is_decode() {
        "reading the body failed"
    } else {
        "request failed"
    };
    let mut source = std::error::Error::source(e);
    let mut causes = Vec::new();
    while let Some(cause) = source {
        causes.push(cause.to_string());
        source = cause.source();
    }
    if causes.is_empty() { kind.to_owned() } else { format!("{kind}: {}", causes.join(": ")) }
}
