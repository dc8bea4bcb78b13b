//! The Telegram Bot API client: `sendMessage` and `getUpdates` (long polling).
//! Source of every shape: <https://core.telegram.org/bots/api> ("Making requests",
//! `sendMessage`, `getUpdates`, `ResponseParameters.retry_after`).
//!
//! The token is part of every request's URL (`<api>/bot<token>/<method>`). It never
//! leaves this module in an error: reqwest's errors are stripped of their URL
//! ([`reqwest::Error::without_url`]), and every text from the wire has the token
//! replaced by `<token>` before it is kept ([`BotApi::redact`]).

use std::time::Duration;

use serde::Deserialize;
use serde_json::json;

use super::send_error::SendError;
use crate::log_text::untrusted;
use crate::secret::Secret;
use crate::{Error, Result};

/// A bot's client.
#[derive(Clone, Debug)]
pub struct BotApi {
    http: reqwest::Client,
    api_url: String,
    token: Secret,
}

/// A message received by the bot (the fields of a `Message` the daemon reads).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IncomingMessage {
    /// The update's id: the next `getUpdates` asks from `update_id + 1`.
    pub update_id: i64,
    /// The chat it came from (`message.chat.id`), `None` for an update that is not a message.
    pub chat_id: Option<i64>,
    /// Its text (`message.text`), empty for a message without text.
    pub text: String,
    /// When it was sent (`message.date`), s since epoch UTC (0 when absent).
    pub date: i64,
}

/// The Bot API's answer envelope.
#[derive(Deserialize)]
struct Envelope<T> {
    ok: bool,
    result: Option<T>,
    error_code: Option<i64>,
    description: Option<String>,
    parameters: Option<ResponseParameters>,
}

#[derive(Deserialize)]
struct ResponseParameters {
    retry_after: Option<u64>,
}

#[derive(Deserialize)]
struct Update {
    update_id: i64,
    message: Option<Message>,
}

#[derive(Deserialize)]
struct Message {
    chat: Chat,
    text: Option<String>,
    #[serde(default)]
    date: i64,
}

#[derive(Deserialize)]
struct Chat {
    id: i64,
}

impl BotApi {
    /// A client of the Bot API at `api_url` (`https://api.telegram.org`) for the bot
    /// with `token`; each request times out after `timeout` (a long poll after its own
    /// timeout plus `timeout`).
    ///
    /// # Errors
    /// [`Error::Config`] when the HTTP client cannot be built.
    pub fn new(api_url: &str, token: Secret, timeout: Duration) -> Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            // a redirect would send the request (and the token in its path) elsewhere
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| Error::Config {
                field: "serve.alerts.telegram".into(),
                message: e.without_url().to_string(),
            })?;
        Ok(Self { http, api_url: api_url.trim_end_matches('/').to_string(), token })
    }

    fn url(&self, method: &str) -> String {
        format!("{}/bot{}/{method}", self.api_url, self.token.expose())
    }

    /// `text` with the token replaced by `<token>`, escaped and cut for a log
    /// ([`untrusted`]).
    pub fn redact(&self, text: &str) -> String {
        untrusted(&text.replace(self.token.expose(), "<token>"))
    }

    /// `sendMessage`: `text` (plain, at most 4,096 characters) to `chat_id`, without a
    /// link preview.
    ///
    /// # Errors
    /// [`SendError`]: the transport's error, or the API's `error_code` and
    /// `description`, with `retry_after` for a 429.
    pub async fn send_message(&self, chat_id: i64, text: &str) -> std::result::Result<(), SendError> {
        let body = json!({ "chat_id": chat_id, "text": text, "link_preview_options": { "is_disabled": true } });
        let request = self.http.post(self.url("sendMessage")).json(&body);
        self.call::<serde_json::Value>(request, "sendMessage").await.map(|_| ())
    }

    /// `getUpdates`: the messages after `offset`, waiting up to `timeout_s` for one
    /// (long polling); only `message` updates are asked for.
    ///
    /// # Errors
    /// As [`Self::send_message`].
    pub async fn get_updates(
        &self,
        offset: i64,
        timeout_s: u64,
    ) -> std::result::Result<Vec<IncomingMessage>, SendError> {
        let body = json!({ "offset": offset, "timeout": timeout_s, "allowed_updates": ["message"] });
        let request = self
            .http
            .post(self.url("getUpdates"))
            .json(&body)
            .timeout(Duration::from_secs(timeout_s) + Duration::from_secs(10));
        let updates: Vec<Update> = self.call(request, "getUpdates").await?;
        Ok(updates
            .into_iter()
            .map(|u| IncomingMessage {
                update_id: u.update_id,
                chat_id: u.message.as_ref().map(|m| m.chat.id),
                date: u.message.as_ref().map_or(0, |m| m.date),
                text: u.message.and_then(|m| m.text).unwrap_or_default(),
            })
            .collect())
    }

    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
        method: &str,
    ) -> std::result::Result<T, SendError> {
        let response = request
            .send()
            .await
            .map_err(|e| SendError::new(format!("{method}: {}", self.redact(&e.without_url().to_string()))))?;
        let status = response.status();
        let header_retry = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let bytes = response
            .bytes()
            .await
            .map_err(|e| SendError::new(format!("{method}: {}", self.redact(&e.without_url().to_string()))))?;
        let envelope: Envelope<T> = match serde_json::from_slice(&bytes) {
            Ok(envelope) => envelope,
            Err(e) => {
                let body = self.redact(&String::from_utf8_lossy(&bytes));
                return Err(SendError::new(format!("{method}: HTTP {status}, not a Bot API answer ({e}): {body}"))
                    .retry_after_s(header_retry));
            }
        };
        match envelope {
            Envelope { ok: true, result: Some(result), .. } => Ok(result),
            Envelope { error_code, description, parameters, .. } => {
                let retry = parameters.and_then(|p| p.retry_after).or(header_retry);
                let code = error_code.unwrap_or(i64::from(status.as_u16()));
                let description = self.redact(description.as_deref().unwrap_or("no description"));
                Err(SendError::new(format!("{method}: error {code}: {description}")).retry_after_s(retry))
            }
        }
    }
}
