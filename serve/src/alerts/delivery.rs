//! Delivery of the outbox: one task per destination ([`deliver`]) and the bot's command
//! listener ([`listen_for_commands`]). Neither touches the bar loop: they read the
//! journal through their own read-only connection and record their progress in
//! [`DeliveryProgress`].
//!
//! Per destination, alerts go out in id order, each acknowledged before the next is
//! sent; at most one message per `min_interval`. When more than `coalesce_above` are
//! waiting at once, they go out as one message ([`render::summary`]; a webhook's body
//! lists them all). A failed send is retried forever with the daemon's backoff
//! ([`crate::backoff::exponential`]), or after the server's `retry_after`: an alert is
//! delivered or stays in the outbox for the next start.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use super::alert::OutboxRow;
use super::commands::Command;
use super::progress::DeliveryProgress;
use super::render;
use super::send_error::SendError;
use super::telegram::BotApi;
use super::webhook::{self, Webhook};
use crate::backoff::exponential;
use crate::engine::Engine;
use crate::journal::Journal;
use crate::log_text::untrusted;
use crate::metrics::{DestinationLabel, Metrics};

/// The longest wait a server's `retry_after` is granted (longer ones are cut to it).
pub const MAX_RETRY_AFTER: Duration = Duration::from_millis(rltrade_config::serve::MAX_ALERT_WAIT_MS);

/// `wait` cut to [`MAX_RETRY_AFTER`].
fn capped(wait: Duration) -> Duration {
    wait.min(MAX_RETRY_AFTER)
}

/// Runs a SQLite call (the outbox, the delivery state) off the async workers, so that a
/// slow disk never holds up the tasks that feed bars and answer the API.
fn blocking<T>(f: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(f)
}

/// How often an idle destination looks at the outbox again.
const IDLE_POLL: Duration = Duration::from_millis(200);

/// Most alerts one Telegram summary covers (counts only beyond the urgent lines).
const TELEGRAM_MAX_BATCH: usize = 10_000;

/// Most alerts one webhook POST carries (each in full).
const WEBHOOK_MAX_BATCH: usize = 500;

/// Where a destination's messages go.
#[derive(Clone, Debug)]
pub enum Sink {
    /// A Telegram chat.
    Telegram {
        /// The bot.
        api: BotApi,
        /// The chat.
        chat_id: i64,
    },
    /// A signed webhook.
    Webhook(Webhook),
}

/// One destination: its key in [`DeliveryProgress`] (`telegram:<chat id>`,
/// `webhook:<name>`), its sink and its pace.
#[derive(Clone, Debug)]
pub struct Destination {
    /// Its key.
    pub key: String,
    /// Where its messages go.
    pub sink: Sink,
    /// Least time between two messages.
    pub min_interval: Duration,
}

/// What every delivery task shares.
#[derive(Clone, Debug)]
pub struct DeliverySettings {
    /// The journal (read through its own read-only connection).
    pub journal: PathBuf,
    /// The journal's id, part of every alert id a webhook receives.
    pub journal_id: String,
    /// More waiting alerts than this go out as one summary.
    pub coalesce_above: usize,
    /// First retry wait.
    pub first_retry: Duration,
    /// Longest retry wait.
    pub max_retry: Duration,
    /// How long delivery goes on after the daemon stops.
    pub drain: Duration,
}

impl Sink {
    fn max_batch(&self) -> usize {
        match self {
            Sink::Telegram { .. } => TELEGRAM_MAX_BATCH,
            Sink::Webhook(_) => WEBHOOK_MAX_BATCH,
        }
    }

    async fn send(&self, rows: &[OutboxRow], journal_id: &str) -> Result<(), SendError> {
        match self {
            Sink::Telegram { api, chat_id } => {
                let text = match rows {
                    [one] => render::single(one),
                    rows => render::summary(rows),
                };
                api.send_message(*chat_id, &text).await
            }
            Sink::Webhook(hook) => {
                hook.post(webhook::body(journal_id, rows), &webhook::delivery_id(journal_id, rows)).await
            }
        }
    }
}

/// The stop signal and the drain deadline it starts.
struct Stopping {
    stop: watch::Receiver<bool>,
    drain: Duration,
    deadline: Option<Instant>,
}

impl Stopping {
    fn note(&mut self) {
        if self.deadline.is_none() && *self.stop.borrow() {
            self.deadline = Some(Instant::now() + self.drain);
        }
    }

    /// Sleeps `wait`; false when the drain deadline comes first (the task then ends).
    async fn pause(&mut self, wait: Duration) -> bool {
        let until = Instant::now() + wait;
        loop {
            self.note();
            if let Some(deadline) = self.deadline {
                if until > deadline {
                    tokio::time::sleep_until(deadline).await;
                    return false;
                }
                tokio::time::sleep_until(until).await;
                return true;
            }
            tokio::select! {
                () = tokio::time::sleep_until(until) => return true,
                changed = self.stop.changed() => {
                    if changed.is_err() {
                        self.deadline.get_or_insert(Instant::now() + self.drain);
                    }
                }
            }
        }
    }

    fn stopped(&mut self) -> bool {
        self.note();
        self.deadline.is_some()
    }
}

/// Delivers the outbox to `destination` until `stop` turns true and the outbox is empty
/// (or the drain time is up). Errors are logged and retried; nothing is dropped.
pub async fn deliver(
    destination: Destination,
    settings: DeliverySettings,
    metrics: Arc<Metrics>,
    stop: watch::Receiver<bool>,
) {
    let label = DestinationLabel { destination: destination.key.clone() };
    let (delivered, failures) = (
        metrics.alerts_delivered.get_or_create(&label).clone(),
        metrics.alert_send_failures.get_or_create(&label).clone(),
    );
    let mut stopping = Stopping { stop, drain: settings.drain, deadline: None };
    let key = destination.key.as_str();
    let mut waits = exponential(settings.first_retry, settings.max_retry);
    // the journal and the progress, opened (again) until they open
    let (reader, progress) = loop {
        let opened =
            blocking(|| (Journal::open_read_only(&settings.journal), DeliveryProgress::open(&settings.journal)));
        match opened {
            (Ok(reader), Ok(progress)) => break (reader, progress),
            (Err(e), _) | (_, Err(e)) => {
                tracing::error!(destination = key, "alerts cannot be read: {e}");
                if !stopping.pause(waits.next().unwrap_or(settings.max_retry)).await {
                    return;
                }
            }
        }
    };
    let mut cursor = match blocking(|| progress.delivered(key)) {
        Ok(Some(id)) => id,
        Ok(None) => 0,
        Err(e) => {
            tracing::error!(destination = key, "alerts not delivered: {e}");
            return;
        }
    };
    let mut last_sent: Option<Instant> = None;
    loop {
        let rows = match blocking(|| reader.outbox_after(cursor, destination.sink.max_batch())) {
            Ok(rows) => rows,
            Err(e) => {
                tracing::error!(destination = key, "reading the outbox: {e}");
                if !stopping.pause(waits.next().unwrap_or(settings.max_retry)).await {
                    return;
                }
                continue;
            }
        };
        if rows.is_empty() {
            if stopping.stopped() || !stopping.pause(IDLE_POLL).await {
                return;
            }
            continue;
        }
        if let Some(ready) = last_sent.map(|at| at + destination.min_interval).filter(|r| *r > Instant::now()) {
            // the pace of the destination; what arrives meanwhile joins the next message
            if !stopping.pause(ready - Instant::now()).await {
                return;
            }
            continue;
        }
        let batch = if rows.len() > settings.coalesce_above { &rows[..] } else { &rows[..1] };
        let mut attempt = 0u32;
        let mut waits = exponential(settings.first_retry, settings.max_retry);
        loop {
            attempt += 1;
            tracing::trace!(destination = key, attempt, first = batch[0].id, count = batch.len(), "sending alerts");
            match destination.sink.send(batch, &settings.journal_id).await {
                Ok(()) => break,
                Err(e) => {
                    failures.inc();
                    let wait = e.retry_after.map_or_else(|| waits.next().unwrap_or(settings.max_retry), capped);
                    tracing::warn!(
                        destination = key,
                        attempt,
                        wait_ms = wait.as_millis() as u64,
                        "alert not delivered: {e}"
                    );
                    if !stopping.pause(wait).await {
                        return;
                    }
                }
            }
        }
        delivered.inc_by(batch.len() as u64);
        let last = batch.last().map_or(cursor, |r| r.id);
        if let Err(e) = blocking(|| progress.set_delivered(key, last)) {
            // sent, but not recorded: sent again after a restart (at least once)
            tracing::error!(destination = key, "{e}");
        }
        tracing::debug!(destination = key, first = batch[0].id, last, "alerts delivered");
        cursor = last;
        last_sent = Some(Instant::now());
    }
}

/// What the command listener needs.
#[derive(Clone, Debug)]
pub struct CommandSettings {
    /// Chats whose commands are obeyed.
    pub allowed_chats: Vec<i64>,
    /// Long-poll timeout, s.
    pub poll_timeout_s: u64,
    /// First retry wait after a failed poll.
    pub first_retry: Duration,
    /// Longest retry wait.
    pub max_retry: Duration,
    /// The journal (for the update offset beside it).
    pub journal: PathBuf,
}

/// Attempts at sending a command's answer (an answer is not an alert: it is not kept).
const ANSWER_ATTEMPTS: u32 = 5;

/// A command older than this (by its message's `date`) is not carried out: Telegram
/// keeps updates for a day, and a `/resume` sent while the daemon was down must not
/// resume it hours later. It is answered "expired".
pub const COMMAND_MAX_AGE_S: i64 = 60;

/// Long-polls `getUpdates` and carries out the commands of allowed chats on `engine`,
/// answering each; a message from any other chat is refused and logged (escaped, cut),
/// and a command older than [`COMMAND_MAX_AGE_S`] is answered "expired". The update
/// offset is recorded after each message, so a restart does not carry out a command
/// twice unless it crashed in between. Ends when `stop` turns true.
pub async fn listen_for_commands(
    api: BotApi,
    settings: CommandSettings,
    engine: Arc<Mutex<Engine>>,
    mut stop: watch::Receiver<bool>,
) {
    let progress = match blocking(|| DeliveryProgress::open(&settings.journal)) {
        Ok(progress) => progress,
        Err(e) => {
            tracing::error!("Telegram commands off: {e}");
            return;
        }
    };
    let mut offset = blocking(|| progress.update_offset()).unwrap_or_else(|e| {
        tracing::error!("{e}");
        0
    });
    let mut waits = exponential(settings.first_retry, settings.max_retry);
    loop {
        if *stop.borrow() {
            return;
        }
        let polled = tokio::select! {
            polled = api.get_updates(offset, settings.poll_timeout_s) => polled,
            _ = stop.changed() => return,
        };
        let messages = match polled {
            Ok(messages) => {
                waits = exponential(settings.first_retry, settings.max_retry);
                messages
            }
            Err(e) => {
                let wait = e.retry_after.map_or_else(|| waits.next().unwrap_or(settings.max_retry), capped);
                tracing::warn!(wait_ms = wait.as_millis() as u64, "Telegram getUpdates failed: {e}");
                tokio::select! {
                    () = tokio::time::sleep(wait) => continue,
                    _ = stop.changed() => return,
                }
            }
        };
        for message in messages {
            if *stop.borrow() {
                // the rest is fetched again (its offset was not recorded)
                return;
            }
            offset = offset.max(message.update_id + 1);
            match message.chat_id {
                Some(chat) if settings.allowed_chats.contains(&chat) => {
                    let age_s = wall_s() - message.date;
                    let answer = match Command::parse(&message.text) {
                        Ok(command) if age_s > COMMAND_MAX_AGE_S => {
                            tracing::warn!(chat, ?command, age_s, "Telegram command expired: not carried out");
                            format!(
                                "expired: sent {age_s} s ago (more than {COMMAND_MAX_AGE_S} s), not carried out; \
                                 send it again"
                            )
                        }
                        Ok(command) => {
                            tracing::info!(chat, ?command, "Telegram command");
                            let engine = Arc::clone(&engine);
                            tokio::task::spawn_blocking(move || command.execute(&engine))
                                .await
                                .unwrap_or_else(|e| format!("the command failed: {e}"))
                        }
                        Err(answer) => answer,
                    };
                    answer_chat(&api, chat, &answer, &settings, &mut stop).await;
                }
                chat => tracing::warn!(
                    chat_id = ?chat,
                    text = %untrusted(&message.text),
                    "Telegram message from a chat that is not allowed: refused"
                ),
            }
            if let Err(e) = blocking(|| progress.set_update_offset(offset)) {
                tracing::error!("{e}");
            }
        }
    }
}

/// The wall clock, s since epoch UTC.
fn wall_s() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// Sends a command's answer, retrying [`ANSWER_ATTEMPTS`] times; gives up at once when
/// `stop` turns true.
async fn answer_chat(
    api: &BotApi,
    chat: i64,
    text: &str,
    settings: &CommandSettings,
    stop: &mut watch::Receiver<bool>,
) {
    let mut waits = exponential(settings.first_retry, settings.max_retry);
    for attempt in 1..=ANSWER_ATTEMPTS {
        let sent = tokio::select! {
            sent = api.send_message(chat, text) => sent,
            _ = stop.changed() => return,
        };
        match sent {
            Ok(()) => return,
            Err(e) => {
                let wait = e.retry_after.map_or_else(|| waits.next().unwrap_or(settings.max_retry), capped);
                tracing::warn!(chat, attempt, "answer to a command not sent: {e}");
                if attempt < ANSWER_ATTEMPTS {
                    tokio::select! {
                        () = tokio::time::sleep(wait) => {}
                        _ = stop.changed() => return,
                    }
                }
            }
        }
    }
}
