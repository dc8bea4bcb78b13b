//! What a client sends the API, parsed from its bytes: the body of
//! `POST /models/reload` and the query of `POST /kill`. The handlers and the fuzz target
//! `api_requests` (`fuzz/`) run this same code.

use std::path::PathBuf;

use axum::extract::Query;
use axum::http::Uri;
use serde::Deserialize;

/// Body of `POST /models/reload`: `{"strategy": NAME, "path": DIR}`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct ReloadRequest {
    /// The strategy to reload (as the client wrote it: untrusted until matched).
    pub strategy: String,
    /// The new model's export or run folder (untrusted until validated).
    pub path: PathBuf,
}

impl ReloadRequest {
    /// Parses a request body.
    ///
    /// # Errors
    /// A message for the 400 answer: the expected shape and serde_json's reason (line,
    /// column, field).
    pub fn from_body(body: &[u8]) -> Result<Self, String> {
        serde_json::from_slice(body).map_err(|e| format!("body must be {{\"strategy\", \"path\"}}: {e}"))
    }
}

/// Query of `POST /kill`: `?flatten=true` also liquidates every position.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct KillQuery {
    /// Liquidate after engaging the kill switch. Default false.
    #[serde(default)]
    pub flatten: bool,
}

impl KillQuery {
    /// Parses the query of a request's URI (none: the defaults), as axum's `Query`
    /// extractor does.
    ///
    /// # Errors
    /// The extractor's message for the 400 answer (`flatten` that is not a boolean).
    pub fn from_uri(uri: &Uri) -> Result<Self, String> {
        Query::<Self>::try_from_uri(uri).map(|Query(query)| query).map_err(|rejection| rejection.body_text())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reload_bodies_parse_or_name_what_is_wrong() {
        let ok = ReloadRequest::from_body(br#"{"strategy": "a", "path": "/m"}"#).unwrap();
        assert_eq!((ok.strategy.as_str(), ok.path.to_str()), ("a", Some("/m")));
        let err = ReloadRequest::from_body(br#"{"strategy": "a"}"#).unwrap_err();
        assert!(err.contains("path") && err.contains("{\"strategy\", \"path\"}"), "{err}");
        assert!(ReloadRequest::from_body(b"\xff").is_err());
    }

    #[test]
    fn kill_queries_parse_or_are_refused() {
        let uri = |q: &str| q.parse::<Uri>().unwrap();
        assert_eq!(KillQuery::from_uri(&uri("/kill")).unwrap(), KillQuery { flatten: false });
        assert_eq!(KillQuery::from_uri(&uri("/kill?flatten=true")).unwrap(), KillQuery { flatten: true });
        let err = KillQuery::from_uri(&uri("/kill?flatten=maybe")).unwrap_err();
        assert!(err.contains("flatten"), "{err}");
    }
}
