//! The dashboard's own files, served from the binary: the page (`GET /`), its script and
//! style, and TradingView's lightweight-charts (Apache-2.0; its standalone build,
//! bundled at build time by `serve/build.rs`, with its license at
//! `/assets/lightweight-charts.LICENSE`). Nothing is fetched from elsewhere: the
//! Content-Security-Policy ([`security_headers`]) lets the page load its own origin's
//! files only.
//!
//! These routes carry no data, so they need no token; the data routes they read do.

use axum::Json;
use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;

/// The page.
const INDEX_HTML: &str = include_str!("../../dashboard/index.html");
/// The page's script (plain JavaScript, no build step).
const DASHBOARD_JS: &str = include_str!("../../dashboard/dashboard.js");
/// The page's style.
const DASHBOARD_CSS: &str = include_str!("../../dashboard/dashboard.css");
/// lightweight-charts' standalone build; empty when it was not installed at build time.
const CHARTS_JS: &str = include_str!(concat!(env!("OUT_DIR"), "/lightweight-charts.js"));
/// lightweight-charts' license text.
const CHARTS_LICENSE: &str = include_str!(concat!(env!("OUT_DIR"), "/lightweight-charts.LICENSE"));

/// The command that installs lightweight-charts, for a binary built without it.
pub const INSTALL_CHARTS: &str = "scripts/install_dashboard_assets.sh";

/// The one style element lightweight-charts adds to the page: the rules of its
/// TradingView attribution logo, which the page keeps. The policy allows exactly this
/// text, by its SHA-256 ([`ATTRIBUTION_STYLE_SHA256`]); a new version of the library
/// that changes it fails the test that checks the bundle for it.
pub const ATTRIBUTION_STYLE: &str = "a#tv-attr-logo{--fill:#131722;--stroke:#fff;position:absolute;left:10px;\
bottom:10px;height:19px;width:35px;margin:0;padding:0;border:0;z-index:3;}a#tv-attr-logo[data-dark]{--fill:#D1D4DC;\
--stroke:#131722;}";

/// Base64 of the SHA-256 of [`ATTRIBUTION_STYLE`], as CSP hash sources spell it.
pub const ATTRIBUTION_STYLE_SHA256: &str = "3pRED1tOXas1FXFoPb9TGCjmYe9XQsmO9OV23khV2nY=";

/// The Content-Security-Policy of every response: scripts, styles and fetches from
/// this origin only, no inline script, no inline style but the chart library's
/// attribution rules (by hash), no framing, no forms.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self' 'sha256-3pRED1tOXas1FXFoPb9TGCjmYe9XQsmO9OV23khV2nY='; img-src 'self' data:; \
     connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// Whether the binary was built with lightweight-charts.
pub fn charts_bundled() -> bool {
    !CHARTS_JS.is_empty()
}

/// What the page is served by: it shows the panels that mode has data for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "mode")]
pub enum Mode {
    /// `rltrade serve`: every panel, live updates from `GET /events`, the kill switch.
    Live,
    /// `rltrade dashboard`: a finished journal (`journal`) and training runs and
    /// reports (`runs`), read once.
    Offline {
        /// A journal is served (`/ab`, `/chart`, ...).
        journal: bool,
        /// Run folders are served (`/runs`, `/reports`).
        runs: bool,
    },
}

/// `GET /about`: the mode, the version and whether charts are bundled.
#[derive(Clone, Debug, Serialize)]
struct About {
    #[serde(flatten)]
    mode: Mode,
    version: &'static str,
    charts: bool,
    install_charts: &'static str,
}

/// The page's routes, for a router of any state.
pub fn routes<S: Clone + Send + Sync + 'static>(mode: Mode) -> Router<S> {
    let about =
        About { mode, version: env!("CARGO_PKG_VERSION"), charts: charts_bundled(), install_charts: INSTALL_CHARTS };
    Router::new()
        .route("/", get(|| async { asset("text/html; charset=utf-8", INDEX_HTML) }))
        .route("/assets/dashboard.js", get(|| async { asset("text/javascript; charset=utf-8", DASHBOARD_JS) }))
        .route("/assets/dashboard.css", get(|| async { asset("text/css; charset=utf-8", DASHBOARD_CSS) }))
        .route("/assets/lightweight-charts.js", get(|| async { asset("text/javascript; charset=utf-8", CHARTS_JS) }))
        .route(
            "/assets/lightweight-charts.LICENSE",
            get(|| async { asset("text/plain; charset=utf-8", CHARTS_LICENSE) }),
        )
        .route("/about", get(move || async move { Json(about.clone()) }))
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "no-cache")], body).into_response()
}

/// Adds to every response: the [`CONTENT_SECURITY_POLICY`], `nosniff`, no referrer,
/// and no framing. No CORS header is ever sent, so browsers keep other origins out.
pub async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(HeaderName::from_static("cross-origin-opener-policy"), HeaderValue::from_static("same-origin"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use sha2::Digest as _;

    #[test]
    fn the_policy_allows_the_attribution_style_by_its_hash_and_the_bundle_has_it() {
        let digest = sha2::Sha256::digest(ATTRIBUTION_STYLE.as_bytes());
        assert_eq!(base64::engine::general_purpose::STANDARD.encode(digest), ATTRIBUTION_STYLE_SHA256);
        assert!(CONTENT_SECURITY_POLICY.contains(&format!("'sha256-{ATTRIBUTION_STYLE_SHA256}'")));
        assert!(!CONTENT_SECURITY_POLICY.contains("unsafe"));
        if charts_bundled() {
            assert!(CHARTS_JS.contains(ATTRIBUTION_STYLE), "lightweight-charts changed its attribution style");
            assert!(CHARTS_JS.contains("Licensed under Apache License 2.0"), "the bundle keeps its license header");
            assert!(CHARTS_LICENSE.contains("Apache License"));
        }
    }
}
