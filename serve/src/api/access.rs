//! Who may use the API: the `Host` allow-list, the bearer tokens of the read and
//! control routes, and the per-client limit on failed authentication. Each check runs as
//! a middleware before any handler, so a refused request's body is never read.

use std::collections::{BTreeSet, HashMap};
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;

use super::{AppState, error};
use crate::config::ServeConfig;
use crate::error::{Error, Result};

/// A bearer token. Its `Debug` never prints it.
#[derive(Clone)]
pub struct ApiToken(String);

impl ApiToken {
    /// Wraps a token.
    pub fn new(token: String) -> Self {
        Self(token)
    }

    /// Constant-time comparison with `candidate`.
    fn matches(&self, candidate: &str) -> bool {
        let (a, b) = (self.0.as_bytes(), candidate.as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

impl std::fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiToken(***)")
    }
}

/// The peer of the connection a request came on, set by the server
/// ([`super::server::serve`]); absent when a test drives the router directly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientAddr(pub SocketAddr);

/// The `Host` names the API answers (lowercase, without the port).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AllowedHosts(BTreeSet<String>);

impl AllowedHosts {
    /// `localhost`, `127.0.0.1`, `::1`, the IP of `listen` unless unspecified, and
    /// `extra` (`serve.http.allowed_hosts`).
    pub fn new(listen: SocketAddr, extra: &[String]) -> Self {
        let mut hosts: BTreeSet<String> = ["localhost", "127.0.0.1", "::1"].into_iter().map(str::to_string).collect();
        if !listen.ip().is_unspecified() {
            hosts.insert(listen.ip().to_string());
        }
        hosts.extend(extra.iter().map(|h| h.trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase()));
        Self(hosts)
    }

    /// Whether a `Host` header value names an allowed host (its port is ignored).
    pub fn allows(&self, host: &str) -> bool {
        let name = match host.strip_prefix('[') {
            // `[::1]:8080`
            Some(rest) => rest.split(']').next().unwrap_or(""),
            // a bare IPv6 literal has several colons and no port
            None if host.parse::<Ipv6Addr>().is_ok() => host,
            None => host.rsplit_once(':').map_or(host, |(name, _port)| name),
        };
        self.0.contains(&name.to_ascii_lowercase())
    }
}

/// Failed authentications per client IP in fixed one-minute windows: past the budget,
/// the client's authenticated requests are refused with 429 until its window ends,
/// without their token being checked, so tokens cannot be guessed faster than the
/// budget. A fixed window rather than a token bucket from a rate-limiting crate: the
/// check must look at the budget without spending it, on every request, and spend it
/// only on a failure.
#[derive(Debug)]
pub struct FailedAuthLimiter {
    per_window: u32,
    window: Duration,
    clients: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

/// Windows kept before expired ones are swept, bounding the limiter's memory.
const MAX_TRACKED_CLIENTS: usize = 10_000;

impl FailedAuthLimiter {
    /// `per_minute` failures per client IP per minute.
    pub fn new(per_minute: u32) -> Self {
        Self::with_window(per_minute, Duration::from_secs(60))
    }

    fn with_window(per_window: u32, window: Duration) -> Self {
        Self { per_window, window, clients: Mutex::new(HashMap::new()) }
    }

    /// `Some(wait)` while `ip` has spent its budget.
    fn blocked(&self, ip: IpAddr, now: Instant) -> Option<Duration> {
        let clients = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        let &(start, failures) = clients.get(&ip)?;
        let end = start + self.window;
        (now < end && failures >= self.per_window).then(|| end - now)
    }

    /// Counts a failure of `ip`.
    fn fail(&self, ip: IpAddr, now: Instant) {
        let mut clients = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        if clients.len() >= MAX_TRACKED_CLIENTS {
            let window = self.window;
            clients.retain(|_, (start, _)| now < *start + window);
        }
        let entry = clients.entry(ip).or_insert((now, 0));
        if now >= entry.0 + self.window {
            *entry = (now, 0);
        }
        entry.1 = entry.1.saturating_add(1);
    }
}

/// The tokens, hosts and limiter of one API.
#[derive(Debug)]
pub struct Access {
    /// The token of every POST; `None` refuses them all with 403.
    pub control: Option<ApiToken>,
    /// The token of the read routes (every GET but `/health`); `None` leaves them open.
    pub read: Option<ApiToken>,
    /// The `Host` allow-list.
    pub hosts: AllowedHosts,
    /// The failed-authentication limit.
    pub failures: FailedAuthLimiter,
}

impl Access {
    /// An API on loopback (`127.0.0.1`, any port) with `control` as its token, open
    /// reads and the default limit of 10 failures per minute: what tests and the
    /// benchmarks use.
    pub fn loopback(control: Option<ApiToken>) -> Self {
        Self {
            control,
            read: None,
            hosts: AllowedHosts::new(SocketAddr::from(([127, 0, 0, 1], 0)), &[]),
            failures: FailedAuthLimiter::new(10),
        }
    }
}

/// 421 for a request whose `Host` is missing or not allowed.
pub(super) async fn check_host(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let host = request.headers().get(header::HOST).and_then(|h| h.to_str().ok());
    match host {
        Some(host) if state.access.hosts.allows(host) => next.run(request).await,
        Some(host) => error(
            StatusCode::MISDIRECTED_REQUEST,
            format!(
                "Host `{}` is not served here; add it to serve.http.allowed_hosts",
                crate::log_text::untrusted(host)
            ),
        ),
        None => error(StatusCode::MISDIRECTED_REQUEST, "a Host header is required"),
    }
}

/// Which token a route needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Need {
    Read,
    Control,
}

/// The read routes: the read token (or the control token) when one is configured.
pub(super) async fn require_read(State(state): State<AppState>, request: Request, next: Next) -> Response {
    authorize(&state, Need::Read, request, next).await
}

/// The control routes: the control token, always.
pub(super) async fn require_control(State(state): State<AppState>, request: Request, next: Next) -> Response {
    authorize(&state, Need::Control, request, next).await
}

async fn authorize(state: &AppState, need: Need, request: Request, next: Next) -> Response {
    let access = &state.access;
    if need == Need::Read && access.read.is_none() {
        return next.run(request).await;
    }
    let ip = request.extensions().get::<ClientAddr>().map_or(IpAddr::from([0, 0, 0, 0]), |c| c.0.ip());
    let now = Instant::now();
    if let Some(wait) = access.failures.blocked(ip, now) {
        let seconds = wait.as_secs() + 1;
        let mut response = error(
            StatusCode::TOO_MANY_REQUESTS,
            format!("too many failed authentications from {ip}; retry in {seconds} s"),
        );
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        return response;
    }
    let Some(control) = &access.control else {
        if need == Need::Control {
            return error(StatusCode::FORBIDDEN, "no API token is configured (RLTRADE_API_TOKEN or --token-file)");
        }
        return check(access, access.read.iter().collect(), ip, now, request, next).await;
    };
    let accepted = match need {
        Need::Control => vec![control],
        Need::Read => access.read.iter().chain(std::iter::once(control)).collect(),
    };
    check(access, accepted, ip, now, request, next).await
}

async fn check(
    access: &Access,
    accepted: Vec<&ApiToken>,
    ip: IpAddr,
    now: Instant,
    request: Request,
    next: Next,
) -> Response {
    match bearer(request.headers()) {
        Some(token) if accepted.iter().any(|t| t.matches(token)) => next.run(request).await,
        given => {
            access.failures.fail(ip, now);
            tracing::warn!(client = %ip, "API authentication failed ({})", if given.is_some() { "wrong token" } else { "no token" });
            match given {
                None => error(StatusCode::UNAUTHORIZED, "missing `Authorization: Bearer <token>`"),
                Some(_) => error(StatusCode::FORBIDDEN, "wrong token"),
            }
        }
    }
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
}

/// The control token: the first line of `serve.token_file`, else `RLTRADE_API_TOKEN`;
/// `None` when neither is set (every POST is then refused with 403).
///
/// # Errors
/// An unreadable or empty token file, naming `serve.token_file`.
pub fn control_token(serve: &ServeConfig) -> Result<Option<ApiToken>> {
    if !serve.token_file.as_os_str().is_empty() {
        return token_from_file(&serve.token_file, "serve.token_file").map(Some);
    }
    Ok(std::env::var("RLTRADE_API_TOKEN").ok().filter(|t| !t.is_empty()).map(ApiToken::new))
}

/// The read token: the first line of `serve.read_token_file`; `None` when it is not set
/// (the read routes are then open, which [`ServeConfig::validate`] allows on loopback
/// only).
///
/// # Errors
/// An unreadable or empty token file, naming `serve.read_token_file`.
pub fn read_token(serve: &ServeConfig) -> Result<Option<ApiToken>> {
    if serve.read_token_file.as_os_str().is_empty() {
        return Ok(None);
    }
    token_from_file(&serve.read_token_file, "serve.read_token_file").map(Some)
}

/// The first line of `path`, trimmed, as a token.
fn token_from_file(path: &std::path::Path, field: &str) -> Result<ApiToken> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let token = text.lines().next().unwrap_or("").trim().to_string();
    if token.is_empty() {
        return Err(Error::Config { field: field.into(), message: format!("{} is empty", path.display()) });
    }
    Ok(ApiToken::new(token))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_matched_without_their_port() {
        let hosts = AllowedHosts::new("127.0.0.1:8080".parse().unwrap(), &["Desk.Example".into()]);
        for ok in
            ["localhost", "localhost:8080", "127.0.0.1:1", "[::1]:8080", "::1", "desk.example:443", "DESK.example"]
        {
            assert!(hosts.allows(ok), "{ok}");
        }
        for bad in ["evil.example", "evil.example:8080", "localhost.evil.example", "127.0.0.2", "[::2]:80", ""] {
            assert!(!hosts.allows(bad), "{bad}");
        }
        let any = AllowedHosts::new("0.0.0.0:8080".parse().unwrap(), &[]);
        assert!(!any.allows("0.0.0.0"), "the unspecified address is no host name");
        let lan = AllowedHosts::new("192.168.1.5:8080".parse().unwrap(), &[]);
        assert!(lan.allows("192.168.1.5:8080"));
    }

    #[test]
    fn a_client_past_its_budget_waits_for_its_window_and_others_do_not() {
        let limiter = FailedAuthLimiter::with_window(3, Duration::from_secs(60));
        let (a, b) = (IpAddr::from([10, 0, 0, 1]), IpAddr::from([10, 0, 0, 2]));
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(limiter.blocked(a, t0), None);
            limiter.fail(a, t0);
        }
        let wait = limiter.blocked(a, t0 + Duration::from_secs(10)).expect("blocked");
        assert_eq!(wait, Duration::from_secs(50));
        assert_eq!(limiter.blocked(b, t0), None, "per client");
        assert_eq!(limiter.blocked(a, t0 + Duration::from_secs(60)), None, "the window ended");
        limiter.fail(a, t0 + Duration::from_secs(61));
        assert_eq!(limiter.blocked(a, t0 + Duration::from_secs(62)), None, "a new window counts from zero");
    }
}
