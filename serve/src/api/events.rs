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
use std::time::Duration;

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

/// `GET /events`.
pub(super) async fn events(State(state): State<AppState>) -> Response {
    let Some(commits) = state.engine().subscribe_commits() else {
        return error(StatusCode::SERVICE_UNAVAILABLE, "the daemon is shutting down: no more events");
    };
    Sse::new(commit_events(commits)).keep_alive(KeepAlive::default()).into_response()
}

/// The current commit at once, then the latest one after each change, at least
/// [`MIN_EVENT_GAP`] apart; ends when the engine drops its sender.
fn commit_events(commits: watch::Receiver<Committed>) -> impl Stream<Item = Result<Event, Infallible>> {
    stream::unfold((commits, true), |(mut commits, first)| async move {
        if !first {
            tokio::time::sleep(MIN_EVENT_GAP).await;
            commits.changed().await.ok()?;
        }
        let update = *commits.borrow_and_update();
        let event = Event::default()
            .event("commit")
            .id(update.bars_committed.to_string())
            .json_data(update)
            .unwrap_or_else(|e| Event::default().event("error").data(e.to_string()));
        Some((Ok(event), (commits, false)))
    })
}
