//! What a client sends the daemon's API (`rltrade_serve::api::requests`) on arbitrary
//! bytes: the first byte chooses the input, the rest is it. Even: the body of
//! `POST /models/reload`. Odd: the query of `POST /kill` (when the bytes make a URI at
//! all). An error or a request, never a panic.

use axum::http::Uri;
use rltrade_serve::api::requests::{KillQuery, ReloadRequest};

fn main() {
    afl::fuzz!(|data: &[u8]| {
        let Some((&which, rest)) = data.split_first() else { return };
        if which % 2 == 0 {
            let _ = ReloadRequest::from_body(rest);
        } else {
            let Ok(query) = std::str::from_utf8(rest) else { return };
            let Ok(uri) = format!("/kill?{query}").parse::<Uri>() else { return };
            let _ = KillQuery::from_uri(&uri);
        }
    });
}
