//! Signed webhooks: alerts as a JSON POST ([`body`]) with `X-Rltrade-Signature:
//! sha256=<hex>`, the HMAC-SHA256 of the exact body bytes keyed with the configured
//! secret, and `X-Rltrade-Delivery: <journal id>:<first id>-<last id>`, the same for a
//! redelivery. A receiver recomputes the HMAC over the raw body and compares in
//! constant time ([`verify_signature`]), then drops alert ids it has seen.
//!
//! The body carries `text` (what Slack's incoming webhooks show) and `content` (what
//! Discord's show), the same words, and `alerts`, every alert with its id and fields.
//! The URL is a secret (a Slack or Discord webhook URL is its own credential): it is
//! never logged, and errors are stripped of it.

use std::time::Duration;

use serde_json::json;

use super::alert::OutboxRow;
use super::render;
use super::send_error::SendError;
use crate::log_text::untrusted;
use crate::secret::{Secret, hmac_sha256_hex, verify_hmac_sha256_hex};
use crate::{Error, Result};

/// The signature header.
pub const SIGNATURE_HEADER: &str = "X-Rltrade-Signature";
/// The delivery id header.
pub const DELIVERY_HEADER: &str = "X-Rltrade-Delivery";

/// One configured webhook.
#[derive(Clone, Debug)]
pub struct Webhook {
    /// Its name (`serve.alerts.webhooks[i].name`), what logs show.
    pub name: String,
    url: Secret,
    secret: Secret,
    http: reqwest::Client,
}

/// `X-Rltrade-Signature`'s value for `body`: `sha256=` and the lower-case hex
/// HMAC-SHA256 of the bytes keyed with `secret`.
pub fn signature(secret: &[u8], body: &[u8]) -> String {
    format!("sha256={}", hmac_sha256_hex(secret, body))
}

/// Whether `header` (an `X-Rltrade-Signature` value) signs `body` with `secret`,
/// compared in constant time: what a receiver runs.
pub fn verify_signature(secret: &[u8], body: &[u8], header: &str) -> bool {
    header.strip_prefix("sha256=").is_some_and(|hex| verify_hmac_sha256_hex(secret, body, hex))
}

/// The delivery id of `rows`: `<journal id>:<first>-<last>`.
pub fn delivery_id(journal_id: &str, rows: &[OutboxRow]) -> String {
    let first = rows.first().map_or(0, |r| r.id);
    let last = rows.last().map_or(0, |r| r.id);
    format!("{journal_id}:{first}-{last}")
}

/// The JSON body for `rows` (one alert, or a coalesced backlog): `delivery`,
/// `journal_id`, `text` and `content` (one line, or the summary), and `alerts` (each
/// with `id` = `<journal id>:<outbox id>`, `bar_ms`, `at_wall_ms`, `text` and the
/// alert's own fields under `alert`).
pub fn body(journal_id: &str, rows: &[OutboxRow]) -> Vec<u8> {
    let text = match rows {
        [one] => render::single(one),
        rows => render::summary(rows),
    };
    let alerts: Vec<serde_json::Value> = rows
        .iter()
        .map(|row| {
            json!({
                "id": format!("{journal_id}:{}", row.id),
                "bar_ms": row.bar_ms,
                "at_wall_ms": row.at_wall_ms,
                "text": render::line(&row.alert),
                "alert": row.alert,
            })
        })
        .collect();
    let body = json!({
        "delivery": delivery_id(journal_id, rows),
        "journal_id": journal_id,
        "text": text,
        "content": text,
        "alerts": alerts,
    });
    serde_json::to_vec(&body).unwrap_or_default()
}

impl Webhook {
    /// A webhook `name` posting to `url`, signing with `secret`; each POST times out
    /// after `timeout`.
    ///
    /// # Errors
    /// [`Error::Config`] when the URL is not http(s) (without showing it) or the HTTP
    /// client cannot be built.
    pub fn new(name: &str, url: Secret, secret: Secret, timeout: Duration) -> Result<Self> {
        let field = format!("webhook {name}");
        if !(url.expose().starts_with("https://") || url.expose().starts_with("http://")) {
            return Err(Error::Config { field, message: "its URL is not http(s)".into() });
        }
        let http = reqwest::Client::builder()
            .timeout(timeout)
            // a redirect would turn the POST into a GET elsewhere, with our headers: a
            // 3XX is a failure
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| Error::Config { field, message: e.without_url().to_string() })?;
        Ok(Self { name: name.to_string(), url, secret, http })
    }

    /// POSTs `body` signed, with `delivery` as its delivery id. Any 2XX is delivered.
    ///
    /// # Errors
    /// [`SendError`]: the transport's error (without the URL) or the status, with a
    /// 429's or 503's `Retry-After` (seconds).
    pub async fn post(&self, body: Vec<u8>, delivery: &str) -> std::result::Result<(), SendError> {
        let signature = signature(self.secret.expose().as_bytes(), &body);
        let response = self
            .http
            .post(self.url.expose())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(SIGNATURE_HEADER, signature)
            .header(DELIVERY_HEADER, delivery)
            .body(body)
            .send()
            .await
            .map_err(|e| {
                SendError::new(format!("webhook {}: {}", self.name, self.redact(&e.without_url().to_string())))
            })?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let retry = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        // redacted whole, then cut (by `untrusted`), so that no part of the URL survives
        let text = response.text().await.unwrap_or_default();
        Err(SendError::new(format!("webhook {}: HTTP {status}: {}", self.name, self.redact(&text)))
            .retry_after_s(retry))
    }

    /// `text` with the URL (as it is, and JSON-escaped) replaced by `<url>`, then
    /// escaped and cut for a log ([`untrusted`]).
    fn redact(&self, text: &str) -> String {
        let url = self.url.expose();
        let escaped = url.replace('/', "\\/");
        untrusted(&text.replace(url, "<url>").replace(&escaped, "<url>"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::Alert;

    #[test]
    fn the_body_is_signed_over_its_exact_bytes() {
        let rows = [OutboxRow { id: 4, bar_ms: None, at_wall_ms: 9, alert: Alert::Stopped { halt: None } }];
        let body = body("j1", &rows);
        let header = signature(b"s3cret", &body);
        assert!(header.starts_with("sha256=") && header.len() == 7 + 64, "{header}");
        assert!(verify_signature(b"s3cret", &body, &header));
        assert!(!verify_signature(b"other", &body, &header));
        let mut tampered = body.clone();
        tampered[2] ^= 1;
        assert!(!verify_signature(b"s3cret", &tampered, &header));
        assert!(!verify_signature(b"s3cret", &body, header.trim_start_matches("sha256=")));
        let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(value["delivery"], "j1:4-4");
        assert_eq!(value["alerts"][0]["id"], "j1:4");
        assert_eq!(value["alerts"][0]["alert"]["kind"], "stopped");
        assert_eq!(value["text"], value["content"]);
    }
}
