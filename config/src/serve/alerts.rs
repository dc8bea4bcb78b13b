//! `[serve.alerts]`: where the daemon's alerts go (a Telegram bot, signed webhooks), how
//! fast, and who may command it from Telegram. Nothing is sent unless a destination is
//! configured. Secrets (the bot token, webhook secrets) are never in the config itself:
//! it names the environment variable or the file that holds each.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use rltrade_env::{Error, Result};

/// The Bot API's limit on one message's text, characters (Telegram Bot API,
/// `sendMessage`: "1-4096 characters after entities parsing").
pub const TELEGRAM_MAX_TEXT_CHARS: usize = 4096;

/// The longest `*_ms` wait any `serve.alerts` key takes: one hour.
pub const MAX_ALERT_WAIT_MS: u64 = 3_600_000;

/// The longest `getUpdates` long poll, s (the Bot API allows up to 50 in practice).
pub const MAX_POLL_TIMEOUT_S: u64 = 50;

/// `[serve.alerts]`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlertsConfig {
    /// The Telegram bot (`[serve.alerts.telegram]`); `None` = no bot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub telegram: Option<TelegramConfig>,
    /// Signed JSON webhooks (`[[serve.alerts.webhooks]]`). Default none.
    pub webhooks: Vec<WebhookConfig>,
    /// Delivery of the outbox (`[serve.alerts.delivery]`).
    pub delivery: DeliveryConfig,
}

/// `[serve.alerts.telegram]`: a bot created with @BotFather.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TelegramConfig {
    /// Chats that receive every alert and whose commands are obeyed (numeric ids; a
    /// group's is negative). At least one. Required.
    pub chat_ids: Vec<i64>,
    /// Environment variable holding the bot token, read when `token_file` is empty.
    /// Default `RLTRADE_TELEGRAM_TOKEN`.
    pub token_env: String,
    /// File holding the bot token (its first line); empty = `token_env`. Default empty.
    pub token_file: PathBuf,
    /// The Bot API's base URL. Default `https://api.telegram.org` (a local Bot API
    /// server or a test's mock otherwise).
    pub api_url: String,
    /// Least time between two messages to one chat, ms: the Bot API allows about one
    /// message per second per chat and 20 per minute in a group (use 3,000 for a
    /// group). Alerts that arrive faster are coalesced into one summary. Default 1,000.
    pub min_interval_ms: u64,
    /// Listen for commands (`/status`, `/positions`, `/pnl`, `/kill`, `/resume`,
    /// `/help`) with `getUpdates` long polling. Default true.
    pub commands: bool,
    /// Long-poll timeout of `getUpdates`, s, in `1..=50`. Default 30.
    pub poll_timeout_s: u64,
}

impl Default for TelegramConfig {
    fn default() -> Self {
        Self {
            chat_ids: Vec::new(),
            token_env: "RLTRADE_TELEGRAM_TOKEN".into(),
            token_file: PathBuf::new(),
            api_url: "https://api.telegram.org".into(),
            min_interval_ms: 1_000,
            commands: true,
            poll_timeout_s: 30,
        }
    }
}

/// A `[[serve.alerts.webhooks]]` table: every alert as a JSON POST, signed with
/// `X-Rltrade-Signature: sha256=<hex HMAC-SHA256 of the body>`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// Its name in logs and metrics (its URL is a secret for Slack and Discord, and is
    /// never logged): 1 to 64 ASCII letters, digits, `_` or `-`, unique. Required.
    pub name: String,
    /// Environment variable holding the URL to POST to, read when `url_file` is
    /// empty. Required unless `url_file` is set.
    #[serde(default)]
    pub url_env: String,
    /// File holding the URL (its first line). Default empty.
    #[serde(default)]
    pub url_file: PathBuf,
    /// Environment variable holding the HMAC secret, read when `secret_file` is empty.
    /// Required unless `secret_file` is set.
    #[serde(default)]
    pub secret_env: String,
    /// File holding the HMAC secret (its first line). Default empty.
    #[serde(default)]
    pub secret_file: PathBuf,
    /// Least time between two POSTs, ms; alerts that arrive faster go together in one
    /// POST. Default 0.
    #[serde(default)]
    pub min_interval_ms: u64,
}

/// `[serve.alerts.delivery]`: how the outbox is delivered (to every destination alike).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeliveryConfig {
    /// Most alerts sent one by one from a backlog; more waiting at once (a fast replay,
    /// a storm of fills, a restart after an outage) go out as one summary. Default 3.
    pub coalesce_above: usize,
    /// First wait before a failed send is retried, ms; doubled (with jitter) up to
    /// `max_retry_ms`. A 429's `retry_after` is waited instead. Default 500.
    pub first_retry_ms: u64,
    /// Longest wait between retries, ms. Retries never stop: an alert is delivered or
    /// stays in the outbox. Default 60,000.
    pub max_retry_ms: u64,
    /// Per-request timeout, ms. Default 10,000.
    pub timeout_ms: u64,
    /// At a clean stop, how long delivery may go on to empty the outbox, ms; what is
    /// left is sent after the next start. Default 5,000.
    pub drain_ms: u64,
    /// A daily summary per strategy at the first bar of each UTC day. Default true.
    pub daily_summary: bool,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        Self {
            coalesce_above: 3,
            first_retry_ms: 500,
            max_retry_ms: 60_000,
            timeout_ms: 10_000,
            drain_ms: 5_000,
            daily_summary: true,
        }
    }
}

impl AlertsConfig {
    /// Whether any destination is configured (the outbox is written only then).
    pub fn any_destination(&self) -> bool {
        self.telegram.is_some() || !self.webhooks.is_empty()
    }

    /// Checks every key.
    ///
    /// # Errors
    /// [`Error::Config`] naming the `serve.alerts.*` key.
    pub fn validate(&self) -> Result<()> {
        let bad = |key: String, message: String| Error::Config { field: format!("serve.alerts.{key}"), message };
        let wait = |key: &str, ms: u64, least: u64| {
            if (least..=MAX_ALERT_WAIT_MS).contains(&ms) {
                Ok(())
            } else {
                Err(bad(key.into(), format!("must be in {least}..={MAX_ALERT_WAIT_MS} ms, found {ms}")))
            }
        };
        if let Some(telegram) = &self.telegram {
            if telegram.chat_ids.is_empty() {
                return Err(bad("telegram.chat_ids".into(), "give at least one chat id (see the README)".into()));
            }
            if let Some(dup) = telegram.chat_ids.iter().enumerate().find(|(i, id)| telegram.chat_ids[..*i].contains(id))
            {
                return Err(bad("telegram.chat_ids".into(), format!("chat {} is listed twice", dup.1)));
            }
            if telegram.token_file.as_os_str().is_empty() && telegram.token_env.is_empty() {
                return Err(bad("telegram.token_env".into(), "empty, and no telegram.token_file".into()));
            }
            if !(telegram.api_url.starts_with("http://") || telegram.api_url.starts_with("https://")) {
                return Err(bad("telegram.api_url".into(), format!("`{}` is not an http(s) URL", telegram.api_url)));
            }
            wait("telegram.min_interval_ms", telegram.min_interval_ms, 0)?;
            if !(1..=MAX_POLL_TIMEOUT_S).contains(&telegram.poll_timeout_s) {
                return Err(bad(
                    "telegram.poll_timeout_s".into(),
                    format!("must be in 1..={MAX_POLL_TIMEOUT_S} s, found {}", telegram.poll_timeout_s),
                ));
            }
        }
        for (i, hook) in self.webhooks.iter().enumerate() {
            let key = |k: &str| format!("webhooks[{i}].{k}");
            let valid = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
            if hook.name.is_empty() || hook.name.len() > 64 || !hook.name.chars().all(valid) {
                return Err(bad(
                    key("name"),
                    format!("`{}`: 1 to 64 ASCII letters, digits, `_` or `-`", hook.name.escape_debug()),
                ));
            }
            if let Some(j) = self.webhooks[..i].iter().position(|h| h.name == hook.name) {
                return Err(bad(key("name"), format!("`{}` is already the name of webhooks[{j}]", hook.name)));
            }
            if hook.url_env.is_empty() && hook.url_file.as_os_str().is_empty() {
                return Err(bad(key("url_env"), "give url_env or url_file (the URL is a secret)".into()));
            }
            if hook.secret_env.is_empty() && hook.secret_file.as_os_str().is_empty() {
                return Err(bad(key("secret_env"), "give secret_env or secret_file".into()));
            }
            wait(&key("min_interval_ms"), hook.min_interval_ms, 0)?;
        }
        let delivery = &self.delivery;
        wait("delivery.first_retry_ms", delivery.first_retry_ms, 1)?;
        wait("delivery.max_retry_ms", delivery.max_retry_ms, delivery.first_retry_ms)?;
        wait("delivery.timeout_ms", delivery.timeout_ms, 1)?;
        wait("delivery.drain_ms", delivery.drain_ms, 0)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alerts(text: &str) -> AlertsConfig {
        toml::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
    }

    #[test]
    fn a_bot_and_a_webhook_are_read_with_their_defaults() {
        let config = alerts(
            "[telegram]\nchat_ids = [42, -100]\n[[webhooks]]\nname = \"slack\"\nurl_env = \"SLACK_URL\"\n\
             secret_env = \"SLACK_SECRET\"\n",
        );
        config.validate().unwrap();
        let telegram = config.telegram.as_ref().unwrap();
        assert_eq!(telegram.chat_ids, [42, -100]);
        assert_eq!(telegram.token_env, "RLTRADE_TELEGRAM_TOKEN");
        assert_eq!((telegram.min_interval_ms, telegram.poll_timeout_s), (1_000, 30));
        assert_eq!(config.webhooks[0].min_interval_ms, 0);
        assert_eq!(config.delivery, DeliveryConfig::default());
        assert!(config.any_destination());
        assert!(!AlertsConfig::default().any_destination());
    }

    #[test]
    fn bad_keys_are_refused_naming_them() {
        let hook = "[[webhooks]]\nname = \"h\"\nurl_env = \"U\"\nsecret_env = \"S\"\n";
        let cases = [
            ("[telegram]\n", "serve.alerts.telegram.chat_ids", "at least one"),
            ("[telegram]\nchat_ids = [1, 1]\n", "serve.alerts.telegram.chat_ids", "listed twice"),
            ("[telegram]\nchat_ids = [1]\npoll_timeout_s = 0\n", "serve.alerts.telegram.poll_timeout_s", "1..=50"),
            ("[telegram]\nchat_ids = [1]\napi_url = \"ftp://x\"\n", "serve.alerts.telegram.api_url", "not an http"),
            ("[telegram]\nchat_ids = [1]\ntoken_env = \"\"\n", "serve.alerts.telegram.token_env", "empty"),
            (
                "[[webhooks]]\nname = \"a b\"\nurl_env = \"U\"\nsecret_env = \"S\"\n",
                "serve.alerts.webhooks[0].name",
                "letters",
            ),
            (
                "[[webhooks]]\nname = \"h\"\nsecret_env = \"S\"\n",
                "serve.alerts.webhooks[0].url_env",
                "url_env or url_file",
            ),
            ("[[webhooks]]\nname = \"h\"\nurl_env = \"U\"\n", "serve.alerts.webhooks[0].secret_env", "secret_env"),
            (&format!("{hook}{hook}"), "serve.alerts.webhooks[1].name", "already the name of webhooks[0]"),
            ("[delivery]\nfirst_retry_ms = 0\n", "serve.alerts.delivery.first_retry_ms", "1..="),
            ("[delivery]\nfirst_retry_ms = 900\nmax_retry_ms = 800\n", "serve.alerts.delivery.max_retry_ms", "900..="),
        ];
        for (text, field, message) in cases {
            let err = alerts(text).validate().unwrap_err();
            let Error::Config { field: got, message: said } = &err else { panic!("{err}") };
            assert_eq!(got, field, "{text}");
            assert!(said.contains(message), "{text}: {err}");
        }
        let unknown = toml::from_str::<AlertsConfig>("[telegram]\nchat_ids = [1]\ntoken = \"123:abc\"\n");
        assert!(unknown.unwrap_err().to_string().contains("unknown field `token`"), "a token is never in the config");
    }
}
