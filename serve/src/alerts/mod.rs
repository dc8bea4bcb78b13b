//! Alerts and remote control (`[serve.alerts]`): a Telegram bot and signed webhooks,
//! fed from an outbox in the journal.
//!
//! - [`alert`]: what an alert is ([`Alert`]), as the outbox holds it.
//! - The journal writes each alert in the transaction of what it reports
//!   (`crate::journal`'s outbox): a fill, a risk refusal, every operator event (halts,
//!   the kill switch, a stale feed, a reconciliation mismatch, …), the daemon's start
//!   and stop, a daily summary per strategy. A journal that cannot record an alert
//!   fails as for anything else: the daemon halts with its reason.
//! - [`delivery`]: one task per destination delivers the outbox at least once, in
//!   order, at the destination's pace, coalescing a backlog into summaries, retrying
//!   with backoff and jitter or the server's `retry_after`; [`progress`] records how
//!   far each got, beside the journal. What is not delivered when the daemon dies
//!   (even by `kill -9`) is sent after the next start.
//! - [`telegram`]: the Bot API client; [`commands`]: `/status`, `/positions`, `/pnl`,
//!   `/kill`, `/resume`, `/help` from the allowed chats.
//! - [`webhook`]: the signed JSON POST.
//! - [`render`]: alerts as text.
//! - `mock` (feature `mock-exchange`, for tests): a local Bot API and webhook receiver
//!   with faults.

pub mod alert;
pub mod commands;
pub mod delivery;
#[cfg(feature = "mock-exchange")]
pub mod mock;
pub mod progress;
pub mod render;
pub mod send_error;
pub mod telegram;
pub mod webhook;

pub use alert::{Alert, OutboxRow};
pub use send_error::SendError;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rltrade_config::serve::AlertsConfig;

use crate::Result;
use crate::engine::Engine;
use crate::journal::{Journal, OutboxSettings};
use crate::secret::Secret;
use delivery::{CommandSettings, DeliverySettings, Destination, Sink};
use progress::DeliveryProgress;
use telegram::BotApi;
use webhook::Webhook;

/// The configured destinations, their secrets read and clients built, before the daemon
/// takes any bar ([`AlertsPlan::prepare`]); started with [`AlertsPlan::start`].
#[derive(Debug)]
pub struct AlertsPlan {
    destinations: Vec<Destination>,
    bot: Option<(BotApi, CommandSettings)>,
    settings: DeliverySettings,
}

/// The running delivery and command tasks.
#[derive(Debug)]
pub struct Alerts {
    stop_delivery: tokio::sync::watch::Sender<bool>,
    delivery: Vec<tokio::task::JoinHandle<()>>,
    stop_commands: tokio::sync::watch::Sender<bool>,
    commands: Option<tokio::task::JoinHandle<()>>,
}

impl AlertsPlan {
    /// Reads every secret, builds the clients, turns the journal's outbox on and
    /// registers each destination (a new one starts after the outbox's last alert).
    /// `None` when no destination is configured: the outbox stays off.
    ///
    /// # Errors
    /// [`crate::Error::Config`] naming the key of a secret that cannot be read or a
    /// client that cannot be built; journal errors.
    pub fn prepare(config: &AlertsConfig, journal: &mut Journal) -> Result<Option<Self>> {
        if !config.any_destination() {
            return Ok(None);
        }
        config.validate()?;
        let delivery = &config.delivery;
        let timeout = Duration::from_millis(delivery.timeout_ms);
        let (first_retry, max_retry) =
            (Duration::from_millis(delivery.first_retry_ms), Duration::from_millis(delivery.max_retry_ms));
        let mut destinations = Vec::new();
        let mut bot = None;
        if let Some(telegram) = &config.telegram {
            let token = Secret::read(&telegram.token_file, &telegram.token_env, "serve.alerts.telegram.token_file")?;
            let api = BotApi::new(&telegram.api_url, token, timeout)?;
            for &chat_id in &telegram.chat_ids {
                destinations.push(Destination {
                    key: format!("telegram:{chat_id}"),
                    sink: Sink::Telegram { api: api.clone(), chat_id },
                    min_interval: Duration::from_millis(telegram.min_interval_ms),
                });
            }
            if telegram.commands {
                let settings = CommandSettings {
                    allowed_chats: telegram.chat_ids.clone(),
                    poll_timeout_s: telegram.poll_timeout_s,
                    first_retry,
                    max_retry,
                    journal: journal.path().to_path_buf(),
                };
                bot = Some((api, settings));
            }
        }
        for (i, hook) in config.webhooks.iter().enumerate() {
            let key = format!("serve.alerts.webhooks[{i}]");
            let url = Secret::read(&hook.url_file, &hook.url_env, &format!("{key}.url_env"))?;
            let secret = Secret::read(&hook.secret_file, &hook.secret_env, &format!("{key}.secret_env"))?;
            destinations.push(Destination {
                key: format!("webhook:{}", hook.name),
                sink: Sink::Webhook(Webhook::new(&hook.name, url, secret, timeout)?),
                min_interval: Duration::from_millis(hook.min_interval_ms),
            });
        }
        journal.enable_outbox(OutboxSettings { daily_summary: delivery.daily_summary });
        let progress = DeliveryProgress::open(journal.path())?;
        match journal.meta()? {
            // a delivery state left by another journal (deleted, replaced) is forgotten
            Some(meta) => progress.bind_journal(&meta.journal_id)?,
            None => progress.forget_deliveries()?,
        }
        let last = journal.outbox_last_id()?;
        for destination in &destinations {
            progress.register(&destination.key, last)?;
        }
        let settings = DeliverySettings {
            journal: journal.path().to_path_buf(),
            journal_id: journal.meta()?.map(|m| m.journal_id).unwrap_or_default(),
            coalesce_above: delivery.coalesce_above,
            first_retry,
            max_retry,
            drain: Duration::from_millis(delivery.drain_ms),
        };
        Ok(Some(Self { destinations, bot, settings }))
    }

    /// Starts a delivery task per destination and the command listener, on the current
    /// tokio runtime; their counters go to the engine's metrics. `journal_id` is the journal's id (known once the engine opened it).
    pub fn start(mut self, engine: &Arc<Mutex<Engine>>, journal_id: &str) -> Alerts {
        self.settings.journal_id = journal_id.to_string();
        if let Err(e) = DeliveryProgress::open(&self.settings.journal).and_then(|p| p.bind_journal(journal_id)) {
            tracing::error!("{e}");
        }
        let (stop_delivery, delivery_rx) = tokio::sync::watch::channel(false);
        let (stop_commands, commands_rx) = tokio::sync::watch::channel(false);
        let metrics = Arc::clone(engine.lock().unwrap_or_else(|p| p.into_inner()).metrics());
        let delivery = self
            .destinations
            .into_iter()
            .map(|d| {
                tokio::spawn(delivery::deliver(d, self.settings.clone(), Arc::clone(&metrics), delivery_rx.clone()))
            })
            .collect();
        let commands = self.bot.map(|(api, settings)| {
            tokio::spawn(delivery::listen_for_commands(api, settings, Arc::clone(engine), commands_rx))
        });
        Alerts { stop_delivery, delivery, stop_commands, commands }
    }
}

impl Alerts {
    /// Stops the command listener (a command in flight finishes first): called before
    /// the engine closes, so that no command is carried out after the last commit.
    pub async fn stop_commands(&mut self) {
        let _ = self.stop_commands.send(true);
        if let Some(task) = self.commands.take() {
            let _ = task.await;
        }
    }

    /// Stops the command listener, then lets each destination deliver what is left for
    /// up to `serve.alerts.delivery.drain_ms` (plus a send in flight); what is still
    /// undelivered then is sent after the next start.
    pub async fn stop(mut self) {
        self.stop_commands().await;
        let _ = self.stop_delivery.send(true);
        for task in self.delivery {
            let _ = task.await;
        }
    }
}
