//! [`ExchangeFeed`]: closed bars from Binance spot klines over REST, polled.
//!
//! Each poll asks `GET /api/v3/klines` for bars after the last one delivered (the
//! first poll: after `after_ms`, so a restarted daemon backfills its gap page by page,
//! 1,000 bars a request). Only closed bars go out, strictly increasing in time; every
//! skipped row becomes a [`FeedEvent::BadInput`]. Errors never end the task:
//! rate limits (429/418) wait `Retry-After`, other failures back off exponentially
//! ([`ExchangeFeedConfig::first_backoff`] doubling to [`ExchangeFeedConfig::max_backoff`],
//! each wait with up to +100% jitter: [`crate::backoff`]),
//! each announced as [`FeedEvent::Retrying`]. No new closed bar for
//! [`ExchangeFeedConfig::stale_after_intervals`] intervals after the last bar's close
//! sends one [`FeedEvent::Stale`]; the next bar is preceded by [`FeedEvent::Fresh`].

use std::collections::HashSet;
use std::time::Duration;

use tokio::sync::{mpsc, watch};

use super::{BadInputKind, FeedEvent};
use crate::backoff::exponential;
use crate::binance::ExchangeClock;
use crate::binance::error::ApiError;
use crate::binance::klines::{BadRow, Interval, KlinesClient, KlinesRequest, MAX_LIMIT, Sequencer};

/// How an [`ExchangeFeed`] polls.
#[derive(Clone, Debug)]
pub struct ExchangeFeedConfig {
    /// Symbol (`BTCUSDT`).
    pub symbol: String,
    /// Bar interval.
    pub interval: Interval,
    /// Time between polls when up to date.
    pub poll: Duration,
    /// First wait after a transport error, 5XX or refusal, before jitter (each wait is
    /// its base times a random factor in [1, 2)).
    pub first_backoff: Duration,
    /// The longest base wait: the doubling stops here (with jitter, a wait is below
    /// twice it).
    pub max_backoff: Duration,
    /// Intervals without a new closed bar, counted from the last bar's close, after
    /// which the feed is stale.
    pub stale_after_intervals: i64,
    /// The exchange-synchronised clock to measure before every poll (its failure is a
    /// failed poll); `None`: the client's clock as it is.
    pub sync_clock: Option<ExchangeClock>,
}

impl ExchangeFeedConfig {
    /// Defaults: poll every 5 s, back off 0.5 s doubling to 30 s, stale after 2
    /// intervals, the client's clock unsynchronised.
    pub fn new(symbol: &str, interval: Interval) -> Self {
        Self {
            symbol: symbol.to_owned(),
            interval,
            poll: Duration::from_secs(5),
            first_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            stale_after_intervals: 2,
            sync_clock: None,
        }
    }
}

/// A polling klines feed (see the module docs). The client's clock decides which bars
/// are closed and when the feed is stale.
#[derive(Clone, Debug)]
pub struct ExchangeFeed {
    client: KlinesClient,
    config: ExchangeFeedConfig,
}

/// Why a poll loop stops early.
struct Closed;

impl ExchangeFeed {
    /// A feed of `config.symbol` through `client`.
    pub fn new(client: KlinesClient, config: ExchangeFeedConfig) -> Self {
        Self { client, config }
    }

    /// Polls until `shutdown` turns true (or is dropped) or `tx`'s receiver is gone.
    /// Sends bars with open time > `after_ms` (ms since the epoch UTC); without
    /// `after_ms`, starts at the latest closed bar.
    pub async fn run(self, after_ms: Option<i64>, tx: mpsc::Sender<FeedEvent>, mut shutdown: watch::Receiver<bool>) {
        let _ = self.poll_loop(after_ms, &tx, &mut shutdown).await;
    }

    async fn poll_loop(
        &self,
        after_ms: Option<i64>,
        tx: &mpsc::Sender<FeedEvent>,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Result<(), Closed> {
        let interval_ms = self.config.interval.ms();
        let mut sequencer = Sequencer::new(self.config.interval, None);
        let mut cursor = after_ms.map(|t| t + 1);
        let start_ref = after_ms.map_or_else(|| self.client.now_ms(), |t| t + interval_ms);
        let new_backoff = || exponential(self.config.first_backoff, self.config.max_backoff);
        let mut backoff = new_backoff();
        let mut stale = false;
        let mut reported: HashSet<(BadInputKind, i64)> = HashSet::new();
        while !*shutdown.borrow() {
            let limit = if cursor.is_some() { MAX_LIMIT } else { 2 };
            let request = KlinesRequest {
                symbol: self.config.symbol.clone(),
                interval: self.config.interval,
                start_ms: cursor,
                end_ms: None,
                limit,
            };
            let mut wait = self.config.poll;
            let answer = match &self.config.sync_clock {
                Some(clock) => match clock.sync(&self.client).await {
                    Ok(_) => self.client.klines(&request).await,
                    Err(e) => Err(e),
                },
                None => self.client.klines(&request).await,
            };
            match answer {
                Ok(page) => {
                    backoff = new_backoff();
                    // Rows that did not parse or have invalid prices first, then the bars
                    // in order (with the duplicates and out-of-order rows among them).
                    for row in &page.bad_rows {
                        report(tx, &mut reported, row.clone()).await?;
                    }
                    let mut delivered = false;
                    for kline in &page.klines {
                        if cursor.is_none() && after_ms.is_none() && page.klines.last() != Some(kline) {
                            continue; // first poll without a start: only the latest closed bar
                        }
                        if after_ms.is_some_and(|a| kline.open_time_ms <= a) && sequencer.last_ms().is_none() {
                            continue;
                        }
                        match sequencer.accept(kline) {
                            Ok(()) => {
                                if stale {
                                    stale = false;
                                    send(tx, FeedEvent::Fresh).await?;
                                }
                                send(tx, FeedEvent::Bar(kline.bar())).await?;
                                delivered = true;
                            }
                            Err(row) => report(tx, &mut reported, row).await?,
                        }
                    }
                    if let Some(last) = sequencer.last_ms() {
                        reported.retain(|(_, t)| *t > last);
                    }
                    let full = page.rows >= usize::from(limit) && page.open_dropped == 0 && cursor.is_some();
                    cursor = match (sequencer.last_ms(), page.last_open_time_ms) {
                        // A full page that delivered nothing: step past it anyway.
                        (_, Some(last_row)) if full && !delivered => Some(last_row + 1),
                        (Some(last), _) => Some(last + 1),
                        (None, _) => cursor,
                    };
                    if full {
                        wait = Duration::ZERO; // backfilling: next page at once
                    }
                }
                Err(ApiError::RateLimited { retry_after_ms, endpoint, status }) => {
                    wait = Duration::from_millis(retry_after_ms);
                    let message = format!("{endpoint}: HTTP {status} rate limited");
                    send(tx, FeedEvent::Retrying { message, wait_ms: retry_after_ms }).await?;
                }
                Err(err @ ApiError::Malformed { .. }) => {
                    send(tx, FeedEvent::BadInput { kind: BadInputKind::MalformedJson, message: err.to_string() })
                        .await?;
                }
                Err(err) => {
                    wait = backoff.next().unwrap_or(self.config.max_backoff);
                    let wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX);
                    send(tx, FeedEvent::Retrying { message: err.to_string(), wait_ms }).await?;
                }
            }
            let reference = sequencer.last_ms().map_or(start_ref, |last| last + interval_ms);
            let backfilling = wait.is_zero();
            if !stale
                && !backfilling
                && self.client.now_ms() >= reference + self.config.stale_after_intervals * interval_ms
            {
                stale = true;
                send(tx, FeedEvent::Stale { last_bar_ms: sequencer.last_ms() }).await?;
            }
            if !wait.is_zero() {
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    changed = shutdown.changed() => if changed.is_err() { return Ok(()) },
                }
            }
        }
        Ok(())
    }
}

/// Sends a skipped row as [`FeedEvent::BadInput`], once per kind and bar time.
async fn report(
    tx: &mpsc::Sender<FeedEvent>,
    reported: &mut HashSet<(BadInputKind, i64)>,
    row: BadRow,
) -> Result<(), Closed> {
    if let Some(t) = row.open_time_ms {
        if !reported.insert((row.kind, t)) {
            return Ok(());
        }
    }
    send(tx, FeedEvent::BadInput { kind: row.kind, message: row.message }).await
}

async fn send(tx: &mpsc::Sender<FeedEvent>, event: FeedEvent) -> Result<(), Closed> {
    tx.send(event).await.map_err(|_| Closed)
}
