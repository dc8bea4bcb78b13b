//! `[serve.http]`: the HTTP API's limits. Every one bounds what a client can make the
//! daemon hold: connections (file descriptors), time, memory and password guesses.

use serde::{Deserialize, Serialize};

use rltrade_env::{Error, Result};

/// The longest timeout any `serve.http.*_ms` key takes: one hour.
pub const MAX_TIMEOUT_MS: u64 = 3_600_000;

/// The most connections `serve.http.max_connections` allows.
pub const MAX_CONNECTIONS: usize = 100_000;

/// File descriptors kept free for the journal, the exchange client and the runtime:
/// the connection cap is at most the process's soft `RLIMIT_NOFILE` minus this.
pub const RESERVED_FDS: u64 = 64;

/// The largest request body `serve.http.max_body_bytes` allows: 16 MiB.
pub const MAX_BODY_BYTES: usize = 16 << 20;

/// `[serve.http]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// Most open connections, in `1..=100,000`; lowered to the file limit minus
    /// [`RESERVED_FDS`]. When full, the connection idle longest (no request in
    /// flight) is closed to admit the new one, so `/health` and `POST /kill` answer
    /// whatever a client holds open. Default 256.
    pub max_connections: usize,
    /// From a connection's accept, or the end of its previous response, to the end of
    /// the next request's headers, ms; a keep-alive connection waiting longer is closed.
    /// Default 10,000.
    pub header_timeout_ms: u64,
    /// From the end of a request's headers to its response's head, reading the body
    /// included, ms; 408 after it. Default 10,000.
    pub request_timeout_ms: u64,
    /// A connection that moves no byte for this long is closed, ms; a response with
    /// `Content-Type: text/event-stream` in progress is exempt. Default 60,000.
    pub idle_timeout_ms: u64,
    /// On shutdown, requests in flight get this long before their connections are
    /// closed, ms. Default 5,000.
    pub shutdown_grace_ms: u64,
    /// Failed authentications a client IP may make per minute; past it, its
    /// authenticated requests get 429 with `Retry-After` until the minute ends, without
    /// their token being checked. Default 10.
    pub auth_failures_per_minute: u32,
    /// Largest request body, bytes; 413 beyond it. Default 65,536.
    pub max_body_bytes: usize,
    /// Host names (or IP literals, without the port) the API answers besides
    /// `localhost`, `127.0.0.1`, `::1` and the listen address's own IP; any other
    /// `Host` header gets 421, which defeats DNS rebinding. Default none.
    pub allowed_hosts: Vec<String>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            max_connections: 256,
            header_timeout_ms: 10_000,
            request_timeout_ms: 10_000,
            idle_timeout_ms: 60_000,
            shutdown_grace_ms: 5_000,
            auth_failures_per_minute: 10,
            max_body_bytes: 65_536,
            allowed_hosts: Vec::new(),
        }
    }
}

impl HttpConfig {
    /// Checks every range.
    ///
    /// # Errors
    /// [`Error::Config`] naming the `serve.http.*` key.
    pub fn validate(&self) -> Result<()> {
        let bad = |key: &str, message: String| Error::Config { field: format!("serve.http.{key}"), message };
        if !(1..=MAX_CONNECTIONS).contains(&self.max_connections) {
            return Err(bad(
                "max_connections",
                format!("must be in 1..={MAX_CONNECTIONS}, found {}", self.max_connections),
            ));
        }
        for (key, ms) in [
            ("header_timeout_ms", self.header_timeout_ms),
            ("request_timeout_ms", self.request_timeout_ms),
            ("idle_timeout_ms", self.idle_timeout_ms),
            ("shutdown_grace_ms", self.shutdown_grace_ms),
        ] {
            if !(1..=MAX_TIMEOUT_MS).contains(&ms) {
                return Err(bad(key, format!("must be in 1..={MAX_TIMEOUT_MS} ms, found {ms}")));
            }
        }
        if !(1..=10_000).contains(&self.auth_failures_per_minute) {
            return Err(bad(
                "auth_failures_per_minute",
                format!("must be in 1..=10000, found {}", self.auth_failures_per_minute),
            ));
        }
        if !(1024..=MAX_BODY_BYTES).contains(&self.max_body_bytes) {
            return Err(bad(
                "max_body_bytes",
                format!("must be in 1024..={MAX_BODY_BYTES} bytes, found {}", self.max_body_bytes),
            ));
        }
        for (i, host) in self.allowed_hosts.iter().enumerate() {
            let valid = !host.is_empty()
                && host.len() <= 253
                && host.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
            if !valid {
                return Err(bad(
                    &format!("allowed_hosts[{i}]"),
                    format!("`{}` is not a host name or IP literal (no port, scheme or path)", host.escape_debug()),
                ));
            }
        }
        Ok(())
    }

    /// The connection cap: `max_connections`, lowered to `fd_limit - RESERVED_FDS`
    /// when the process's soft file limit `fd_limit` is known; at least 1.
    pub fn connection_cap(&self, fd_limit: Option<u64>) -> usize {
        let by_fds =
            fd_limit.map_or(usize::MAX, |n| usize::try_from(n.saturating_sub(RESERVED_FDS)).unwrap_or(usize::MAX));
        self.max_connections.min(by_fds).max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_range_limits_are_refused_naming_the_key() {
        HttpConfig::default().validate().unwrap();
        let cases: [(HttpConfig, &str); 6] = [
            (HttpConfig { max_connections: 0, ..HttpConfig::default() }, "serve.http.max_connections"),
            (HttpConfig { header_timeout_ms: 0, ..HttpConfig::default() }, "serve.http.header_timeout_ms"),
            (HttpConfig { idle_timeout_ms: u64::MAX, ..HttpConfig::default() }, "serve.http.idle_timeout_ms"),
            (
                HttpConfig { auth_failures_per_minute: 0, ..HttpConfig::default() },
                "serve.http.auth_failures_per_minute",
            ),
            (HttpConfig { max_body_bytes: 1 << 30, ..HttpConfig::default() }, "serve.http.max_body_bytes"),
            (
                HttpConfig { allowed_hosts: vec!["ok.example".into(), "http://x/".into()], ..HttpConfig::default() },
                "serve.http.allowed_hosts[1]",
            ),
        ];
        for (config, key) in cases {
            let err = config.validate().unwrap_err();
            let Error::Config { field, .. } = &err else { panic!("{err}") };
            assert_eq!(field, key, "{err}");
        }
    }

    #[test]
    fn the_cap_stays_below_the_file_limit() {
        let config = HttpConfig::default();
        assert_eq!(config.connection_cap(None), 256);
        assert_eq!(config.connection_cap(Some(1024)), 256);
        assert_eq!(config.connection_cap(Some(200)), 136);
        assert_eq!(config.connection_cap(Some(10)), 1);
    }
}
