//! `GET /events`: server-sent events, one `commit` event per journal commit, coalesced.
//!
//! Each event is `event: commit`, `id: <bars committed>`, `data: {"bars_committed",
//! "last_bar_ms"}` ([`Committed`]); a client then reads what it shows (`/ab`,
//! `/positions`, …), which is as of that commit or later. The first event is the current
//! commit, so a client that reconnects catches up at once, whatever it saw before.
//! During a fast replay commits are coalesced: at most one event per
//! [`MIN_EVENT_GAP`], always the latest commit, so a commit is announced within that gap
//! (well under the one second the dashboard needs). The stream ends when the daemon
//! closes its journal. The server exempts event streams from its idle timeout.

use std::convert::Infallible;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{self, Stream};
use tokio::sync::watch;

use super::{AppState, error};
use crate::engine::Committed;

/// The shortest time between two events of one stream.
pub const MIN_EVENT_GAP: Duration = Duration::from_millis(250);

/// How often a stream waiting out [`MIN_EVENT_GAP`] looks whether the daemon closed.
const CLOSE_POLL: Duration = Duration::from_millis(10);

/// `GET /events`.
pub(super) async fn events(State(state): State<AppState>) -> Response {
    let Some(commits) = state.engine().subscribe_commits() else {
        return error(StatusCode::SERVICE_UNAVAILABLE, "the daemon is shutting down: no more events");
    };
    Sse::new(commit_events(commits)).keep_alive(KeepAlive::default()).into_response()
}

/// The current commit at once, then the latest one after each change, at least
/// [`MIN_EVENT_GAP`] apart; ends when the engine drops its sender. During the gap the
/// stream looks every [`CLOSE_POLL`] whether the engine closed (rather than waking on
/// every commit), and then announces the last commit at once, so a closing daemon is not
/// held up by its streams.
fn commit_events(commits: watch::Receiver<Committed>) -> impl Stream<Item = Result<Event, Infallible>> {
    stream::unfold((commits, None), |(mut commits, last_sent): (_, Option<Instant>)| async move {
        if let Some(last_sent) = last_sent {
            commits.changed().await.ok()?;
            let deadline = last_sent + MIN_EVENT_GAP;
            while let Some(left) = deadline.checked_duration_since(Instant::now()).filter(|d| !d.is_zero()) {
                tokio::time::sleep(left.min(CLOSE_POLL)).await;
                if commits.has_changed().is_err() {
                    break;
                }
            }
        }
        let update = *commits.borrow_and_update();
        let event = Event::default()
            .event("commit")
            .id(update.bars_committed.to_string())
            .json_data(update)
            .unwrap_or_else(|e| Event::default().event("error").data(e.to_string()));
        Some((Ok(event), (commits, Some(Instant::now()))))
    })
}
