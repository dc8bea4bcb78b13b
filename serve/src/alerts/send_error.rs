//! [`SendError`]: why a delivery (a Telegram call, a webhook POST) failed, and how long
//! the server asked to be left alone.

use std::time::Duration;

/// A failed delivery. Its message never holds a secret (the bot token, a webhook's
/// URL): the clients strip them before building it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SendError {
    /// What happened, in words, safe to log.
    pub message: String,
    /// The wait the server asked for (a 429's `retry_after` or `Retry-After`), which
    /// replaces the backoff's next wait.
    pub retry_after: Option<Duration>,
}

impl SendError {
    /// An error without a requested wait.
    pub fn new(message: impl Into<String>) -> Self {
        Self { message: message.into(), retry_after: None }
    }

    /// With the server's requested wait, in seconds (none when `None`).
    pub fn retry_after_s(mut self, seconds: Option<u64>) -> Self {
        self.retry_after = seconds.map(Duration::from_secs);
        self
    }
}
