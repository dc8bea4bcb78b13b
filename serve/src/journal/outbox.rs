//! The outbox (`outbox` table): alerts written in the transaction of what they report,
//! read back by the delivery tasks ([`crate::alerts`]) through their own read-only
//! connections.

use rusqlite::{OptionalExtension, params};

use super::Journal;
use crate::alerts::{Alert, OutboxRow};
use crate::error::Result;

/// One UTC day, ms.
pub const DAY_MS: i64 = 86_400_000;

/// What the outbox records once enabled ([`Journal::enable_outbox`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutboxSettings {
    /// Write a [`Alert::DailySummary`] per strategy at the first bar of each UTC day.
    pub daily_summary: bool,
}

impl Journal {
    /// Starts writing alerts to the outbox (a daemon with a destination). Until then
    /// every alert is dropped, so a daemon without alerts writes no outbox rows.
    pub fn enable_outbox(&mut self, settings: OutboxSettings) {
        self.outbox = Some(settings);
    }

    /// What the outbox records, `None` while it is off.
    pub fn outbox(&self) -> Option<OutboxSettings> {
        self.outbox
    }

    /// Appends `alert` to the outbox, in the open transaction when there is one (the
    /// bar's), else committed at once. Nothing while the outbox is off.
    ///
    /// # Errors
    /// SQLite errors: a journal that cannot record an alert fails as for anything else.
    pub fn insert_alert(&mut self, bar_ms: Option<i64>, alert: &Alert) -> Result<()> {
        if self.outbox.is_none() {
            return Ok(());
        }
        let text = serde_json::to_string(alert).map_err(|e| self.error(format!("encoding an alert: {e}")))?;
        let result = self
            .conn
            .prepare_cached("INSERT INTO outbox (bar_ms, alert, at_wall_ms) VALUES (?1,?2,?3)")
            .and_then(|mut s| s.execute(params![bar_ms, text, super::wall_ms()]));
        self.sql("inserting an alert", result).map(|_| ())
    }

    /// The outbox's alerts after id `after`, in id order, at most `limit`. An alert
    /// that does not decode comes back as [`Alert::Unreadable`] with the decoder's
    /// message, so that delivery goes on past it.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn outbox_after(&self, after: i64, limit: usize) -> Result<Vec<OutboxRow>> {
        let rows = self
            .conn
            .prepare_cached("SELECT id, bar_ms, at_wall_ms, alert FROM outbox WHERE id > ?1 ORDER BY id LIMIT ?2")
            .and_then(|mut s| {
                s.query_map(params![after, limit as i64], |r| {
                    Ok((r.get::<_, i64>(0)?, r.get(1)?, r.get(2)?, r.get::<_, String>(3)?))
                })?
                .collect::<rusqlite::Result<Vec<(i64, Option<i64>, i64, String)>>>()
            });
        let rows = self.sql("reading the outbox", rows)?;
        Ok(rows
            .into_iter()
            .map(|(id, bar_ms, at_wall_ms, text)| {
                let alert = serde_json::from_str(&text).unwrap_or_else(|e| {
                    tracing::error!(journal = %self.path.display(), "outbox alert {id} does not decode: {e}");
                    Alert::Unreadable { error: format!("outbox alert {id}: {e}") }
                });
                OutboxRow { id, bar_ms, at_wall_ms, alert }
            })
            .collect::<Vec<_>>())
    }

    /// The last alert's id, 0 for an empty outbox.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn outbox_last_id(&self) -> Result<i64> {
        let last = self.conn.query_row("SELECT COALESCE(MAX(id), 0) FROM outbox", [], |r| r.get(0));
        self.sql("reading the outbox", last)
    }

    /// Appends a [`Alert::DailySummary`] for each of `strategies` that was marked during
    /// the UTC day starting at `day_ms`: its first and last equity marks, its fills and
    /// fees (by fill time) and its last trading state, as the open transaction sees
    /// them. Nothing unless the outbox records daily summaries.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn insert_daily_summaries(&mut self, strategies: &[String], day_ms: i64, bar_ms: i64) -> Result<()> {
        if !self.outbox.is_some_and(|o| o.daily_summary) {
            return Ok(());
        }
        let end = day_ms + DAY_MS;
        for strategy in strategies {
            let marks = self
                .conn
                .prepare_cached(
                    "SELECT (SELECT equity FROM equity WHERE strategy = ?1 AND bar_ms >= ?2 AND bar_ms < ?3 \
                     ORDER BY bar_ms LIMIT 1), e.equity, e.trading_state FROM equity e \
                     WHERE e.strategy = ?1 AND e.bar_ms >= ?2 AND e.bar_ms < ?3 ORDER BY e.bar_ms DESC LIMIT 1",
                )
                .and_then(|mut s| {
                    s.query_row(params![strategy, day_ms, end], |r| {
                        Ok((r.get::<_, f64>(0)?, r.get::<_, f64>(1)?, r.get::<_, String>(2)?))
                    })
                    .optional()
                });
            let Some((equity_open, equity_close, trading_state)) = self.sql("reading the day's marks", marks)? else {
                continue;
            };
            let fills = self
                .conn
                .prepare_cached(
                    "SELECT COUNT(*), COALESCE(SUM(fee), 0) FROM fills WHERE strategy = ?1 AND time_ms >= ?2 \
                     AND time_ms < ?3",
                )
                .and_then(|mut s| {
                    s.query_row(params![strategy, day_ms, end], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, f64>(1)?)))
                });
            let (fills, fees) = self.sql("reading the day's fills", fills)?;
            let alert = Alert::DailySummary {
                strategy: strategy.clone(),
                day_ms,
                equity_open,
                equity_close,
                fills: fills as u64,
                fees,
                trading_state,
            };
            self.insert_alert(Some(bar_ms), &alert)?;
        }
        Ok(())
    }

    /// The reason (`orders.purpose`) of an order, for its fill's alert.
    pub(super) fn order_reason(&self, strategy: &str, order_id: u64) -> Result<Option<super::OrderReason>> {
        let reason = self
            .conn
            .prepare_cached("SELECT purpose FROM orders WHERE strategy = ?1 AND order_id = ?2")
            .and_then(|mut s| s.query_row(params![strategy, order_id as i64], |r| r.get(0)).optional());
        self.sql("reading an order's purpose", reason)
    }
}
