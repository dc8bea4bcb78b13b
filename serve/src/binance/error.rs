//! The typed errors of one Binance REST request.
//!
//! Binance documents (<https://developers.binance.com/docs/binance-spot-api-docs/rest-api/general-api-information>):
//! HTTP 4XX for malformed requests, with a body `{"code": -1121, "msg": "Invalid symbol."}`;
//! 429 when a request rate limit is broken and 418 when an IP is banned after ignoring
//! 429s, both with a `Retry-After` header in seconds; 5XX for errors on Binance's side,
//! where the execution status is **unknown** (an order may have been placed).

/// Default wait (ms) after a 429/418 that carries no usable `Retry-After` header.
pub const DEFAULT_RETRY_AFTER_MS: u64 = 1_000;

/// What went wrong with one request. `endpoint` is the method and URL without the
/// query (`GET https://api.binance.com/api/v3/klines`).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ApiError {
    /// HTTP 429 (rate limit) or 418 (IP banned): wait `retry_after_ms` before the next
    /// request (from the `Retry-After` header, seconds × 1000).
    #[error("{endpoint}: HTTP {status} rate limited, retry after {retry_after_ms} ms")]
    RateLimited {
        /// Method and URL.
        endpoint: String,
        /// 429 or 418.
        status: u16,
        /// How long to wait, ms.
        retry_after_ms: u64,
    },
    /// The exchange refused the request with its `{"code", "msg"}` body (a 4XX).
    #[error("{endpoint}: HTTP {status}, code {code}: {msg}")]
    Api {
        /// Method and URL.
        endpoint: String,
        /// The HTTP status.
        status: u16,
        /// Binance's error code (`-1121`).
        code: i64,
        /// Binance's message (`Invalid symbol.`).
        msg: String,
    },
    /// A non-2XX answer without a `{"code", "msg"}` body (a 5XX, a proxy's page).
    #[error("{endpoint}: HTTP {status}: {body}")]
    Http {
        /// Method and URL.
        endpoint: String,
        /// The HTTP status.
        status: u16,
        /// The start of the body.
        body: String,
    },
    /// No answer: connection refused or reset, DNS, TLS, or the client's timeout.
    #[error("{endpoint}: {message}")]
    Transport {
        /// Method and URL.
        endpoint: String,
        /// The transport error.
        message: String,
        /// Whether the client's timeout expired (the request may have been processed).
        timed_out: bool,
    },
    /// A 2XX answer whose body is not the documented JSON shape.
    #[error("{endpoint}: malformed response: {message}")]
    Malformed {
        /// Method and URL.
        endpoint: String,
        /// What did not parse.
        message: String,
    },
}

impl ApiError {
    /// The method and URL the error is about.
    pub fn endpoint(&self) -> &str {
        match self {
            Self::RateLimited { endpoint, .. }
            | Self::Api { endpoint, .. }
            | Self::Http { endpoint, .. }
            | Self::Transport { endpoint, .. }
            | Self::Malformed { endpoint, .. } => endpoint,
        }
    }

    /// Binance's error code, for [`ApiError::Api`].
    pub fn code(&self) -> Option<i64> {
        match self {
            Self::Api { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// Whether a write (an order) may have been executed although no success came back:
    /// transport errors (timeouts included) and 5XX answers.
    pub fn fate_unknown(&self) -> bool {
        match self {
            Self::Transport { .. } => true,
            Self::Http { status, .. } => *status >= 500,
            _ => false,
        }
    }

    /// The error without its endpoint (for [`crate::Error::Exchange`]'s `message`).
    pub fn detail(&self) -> String {
        let full = self.to_string();
        full.strip_prefix(&format!("{}: ", self.endpoint())).unwrap_or(&full).to_owned()
    }
}

impl From<ApiError> for crate::Error {
    fn from(err: ApiError) -> Self {
        crate::Error::Exchange { endpoint: err.endpoint().to_owned(), message: err.detail() }
    }
}
