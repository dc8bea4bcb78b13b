//! Reading the journal back: restart state, the HTTP API's views and the A/B report.

use std::collections::HashMap;

use rltrade_env::Bar;
use rltrade_exec::Account;
use serde::Serialize;

use super::{BarPhase, EventKind, Journal, OrderStatus};
use crate::error::Result;
use crate::signal::Signal;

/// An equity mark as journaled.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EquityRow {
    /// Bar open time, ms since epoch UTC.
    pub bar_ms: i64,
    /// Equity at the bar's close, quote currency.
    pub equity: f64,
    /// Position, base units.
    pub position: f64,
}

/// An order as journaled.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OrderRow {
    /// Strategy.
    pub strategy: String,
    /// Order id (per strategy).
    pub order_id: u64,
    /// Client order id.
    pub client_order_id: String,
    /// Where it stands.
    pub status: OrderStatus,
}

/// An operator event as journaled (its wall-clock time is not read back).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EventRow {
    /// Open time of the last bar fed when it happened, ms since epoch UTC (`None`
    /// before the first bar).
    pub bar_ms: Option<i64>,
    /// The strategy it is about (`None`: the whole daemon).
    pub strategy: Option<String>,
    /// What it is about.
    pub kind: EventKind,
    /// What happened, in words.
    pub message: String,
}

/// A fill as journaled (the reference price is not read back).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FillRow {
    /// Strategy.
    pub strategy: String,
    /// Order id.
    pub order_id: u64,
    /// Fill time, ms since epoch UTC.
    pub time_ms: i64,
    /// `buy` or `sell`.
    pub side: String,
    /// Base units.
    pub quantity: f64,
    /// Fill price, quote currency.
    pub price: f64,
    /// Fee, quote currency.
    pub fee: f64,
}

impl FillRow {
    /// The `exec` fill it records (reference price = fill price: not read back).
    pub fn to_fill(&self) -> rltrade_exec::Fill {
        rltrade_exec::Fill {
            order_id: self.order_id,
            time_ms: self.time_ms,
            side: side_from_column(&self.side),
            quantity: self.quantity,
            price: self.price,
            reference_price: self.price,
            fee: self.fee,
        }
    }
}

impl Journal {
    /// Runs the query `sql` with `params` and maps every row; errors name `what`.
    pub(super) fn rows<T, P: rusqlite::Params>(
        &self,
        what: &str,
        sql: &str,
        params: P,
        map: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Vec<T>> {
        let result = self.conn.prepare(sql).and_then(|mut stmt| stmt.query_map(params, map)?.collect());
        self.sql(what, result)
    }

    /// Open time of the last processed (committed) bar, ms since epoch UTC.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn last_bar_ms(&self) -> Result<Option<i64>> {
        let result = self.conn.query_row("SELECT MAX(time_ms) FROM bars", [], |row| row.get::<_, Option<i64>>(0));
        self.sql("reading the last bar", result)
    }

    /// Every journaled bar, oldest first, with its phase.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn bars(&self) -> Result<Vec<(Bar, BarPhase)>> {
        self.rows(
            "reading bars",
            "SELECT time_ms, open, high, low, close, volume, phase FROM bars ORDER BY time_ms",
            [],
            |row| {
                let bar = bar_from_row(row)?;
                let phase = if row.get::<_, String>(6)? == "traded" { BarPhase::Traded } else { BarPhase::Warmup };
                Ok((bar, phase))
            },
        )
    }

    /// Every strategy's saved account with the bar it is saved as of (open time, ms
    /// since epoch UTC).
    ///
    /// # Errors
    /// SQLite errors, or an account that does not deserialize (corrupt journal).
    pub fn saved_accounts(&self) -> Result<HashMap<String, (i64, Account)>> {
        let rows: Vec<(String, i64, Vec<u8>)> =
            self.rows("reading accounts", "SELECT strategy, bar_ms, account FROM accounts", [], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?, row.get::<_, Vec<u8>>(2)?))
            })?;
        rows.into_iter()
            .map(|(strategy, bar_ms, bytes)| match super::decode_account(&bytes) {
                Ok(account) => Ok((strategy, (bar_ms, account))),
                Err(e) => Err(self.error(format!("the account of {strategy} is corrupt: {e}"))),
            })
            .collect()
    }

    /// The last committed bar, if any.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn last_bar(&self) -> Result<Option<Bar>> {
        let rows = self.rows(
            "reading the last bar",
            "SELECT time_ms, open, high, low, close, volume FROM bars ORDER BY time_ms DESC LIMIT 1",
            [],
            bar_from_row,
        )?;
        Ok(rows.into_iter().next())
    }

    /// Every strategy's saved account.
    ///
    /// # Errors
    /// SQLite errors, or an account that does not deserialize (corrupt journal).
    pub fn accounts(&self) -> Result<HashMap<String, Account>> {
        Ok(self.saved_accounts()?.into_iter().map(|(strategy, (_, account))| (strategy, account)).collect())
    }

    /// The last `limit` signals, newest first (all strategies).
    ///
    /// # Errors
    /// SQLite errors.
    pub fn signals(&self, limit: usize) -> Result<Vec<Signal>> {
        self.rows(
            "reading signals",
            "SELECT bar_ms, symbol, strategy, model_sha256, action, target_exposure, probs, latency_us, \
                 invalid_output FROM signals ORDER BY bar_ms DESC, strategy LIMIT ?1",
            [limit as i64],
            |row| {
                let probs: String = row.get(6)?;
                Ok(Signal {
                    bar_ms: row.get(0)?,
                    symbol: row.get(1)?,
                    strategy: row.get(2)?,
                    model_sha256: row.get(3)?,
                    action: row.get::<_, i64>(4)? as usize,
                    target_exposure: row.get(5)?,
                    probs: serde_json::from_str(&probs).unwrap_or_default(),
                    latency_us: row.get::<_, i64>(7)? as u64,
                    invalid_output: row.get(8)?,
                })
            },
        )
    }

    /// A strategy's equity marks, oldest first.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn equity(&self, strategy: &str) -> Result<Vec<EquityRow>> {
        let result = (|| {
            let mut stmt =
                self.conn.prepare("SELECT bar_ms, equity, position FROM equity WHERE strategy = ?1 ORDER BY bar_ms")?;
            let rows = stmt.query_map([strategy], |row| {
                Ok(EquityRow { bar_ms: row.get(0)?, equity: row.get(1)?, position: row.get(2)? })
            })?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
        })();
        self.sql("reading equity", result)
    }

    /// Orders, by strategy and id.
    ///
    /// # Errors
    /// SQLite errors, or a status that is none of [`OrderStatus`]'s spellings (corrupt
    /// journal).
    pub fn orders(&self) -> Result<Vec<OrderRow>> {
        self.rows(
            "reading orders",
            "SELECT strategy, order_id, client_order_id, status FROM orders ORDER BY strategy, order_id",
            [],
            |row| {
                Ok(OrderRow {
                    strategy: row.get(0)?,
                    order_id: row.get::<_, i64>(1)? as u64,
                    client_order_id: row.get(2)?,
                    status: row.get(3)?,
                })
            },
        )
    }

    /// Operator events, oldest first.
    ///
    /// # Errors
    /// SQLite errors, or a kind that is none of [`EventKind`]'s spellings (corrupt journal).
    pub fn events(&self) -> Result<Vec<EventRow>> {
        self.rows("reading events", "SELECT bar_ms, strategy, kind, message FROM events ORDER BY id", [], |row| {
            Ok(EventRow { bar_ms: row.get(0)?, strategy: row.get(1)?, kind: row.get(2)?, message: row.get(3)? })
        })
    }

    /// Fills, by strategy and order id.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn fills(&self) -> Result<Vec<FillRow>> {
        self.rows(
            "reading fills",
            "SELECT strategy, order_id, time_ms, side, quantity, price, fee FROM fills ORDER BY strategy, order_id",
            [],
            |row| {
                Ok(FillRow {
                    strategy: row.get(0)?,
                    order_id: row.get::<_, i64>(1)? as u64,
                    time_ms: row.get(2)?,
                    side: row.get(3)?,
                    quantity: row.get(4)?,
                    price: row.get(5)?,
                    fee: row.get(6)?,
                })
            },
        )
    }
}

impl Journal {
    /// Risk refusals per strategy.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn refusal_counts(&self) -> Result<HashMap<String, u64>> {
        let rows: Vec<(String, u64)> = self.rows(
            "counting refusals",
            "SELECT strategy, COUNT(*) FROM risk_decisions WHERE outcome = 'refused' GROUP BY strategy",
            [],
            |row| Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)? as u64)),
        )?;
        Ok(rows.into_iter().collect())
    }
}

/// The `fills.side` column's text (`buy` or `sell`, as [`Journal::insert_fill`] writes
/// it) as a [`rltrade_exec::Side`].
pub(super) fn side_from_column(text: &str) -> rltrade_exec::Side {
    if text == "buy" { rltrade_exec::Side::Buy } else { rltrade_exec::Side::Sell }
}

/// A [`Bar`] from columns 0..=5 of a row: `time_ms, open, high, low, close, volume`.
fn bar_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Bar> {
    Ok(Bar {
        time_ms: row.get(0)?,
        open: row.get(1)?,
        high: row.get(2)?,
        low: row.get(3)?,
        close: row.get(4)?,
        volume: row.get(5)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::SyncMode;

    /// A journal written before statuses and kinds were typed: the tables as they were,
    /// every status and kind as the daemon spelled them, in raw SQL.
    fn old_journal(path: &std::path::Path, statuses: &[&str]) {
        let conn = rusqlite::Connection::open(path).unwrap();
        conn.execute_batch(
            "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
             INSERT INTO meta (key, value) VALUES ('format', '1');
             CREATE TABLE orders (
                 strategy TEXT NOT NULL, order_id INTEGER NOT NULL, client_order_id TEXT NOT NULL UNIQUE,
                 decided_bar_ms INTEGER NOT NULL, purpose TEXT NOT NULL, target_exposure REAL NOT NULL,
                 reference_price REAL NOT NULL, status TEXT NOT NULL, status_reason TEXT, PRIMARY KEY (strategy, order_id)
             ) STRICT;
             CREATE TABLE events (
                 id INTEGER PRIMARY KEY, bar_ms INTEGER, strategy TEXT, kind TEXT NOT NULL, message TEXT NOT NULL,
                 at_wall_ms INTEGER NOT NULL
             ) STRICT;",
        )
        .unwrap();
        for (i, status) in statuses.iter().enumerate() {
            conn.execute(
                "INSERT INTO orders VALUES ('ma:2:4', ?1, ?2, 0, 'signal', 1.0, 100.0, ?3, NULL)",
                rusqlite::params![i as i64, format!("x-0-{i}"), status],
            )
            .unwrap();
        }
        for (i, kind) in [
            "restart",
            "reconciliation",
            "trading_state",
            "kill",
            "resume",
            "feed",
            "reload",
            "order_rejected",
            "order_unknown",
        ]
        .iter()
        .enumerate()
        {
            conn.execute(
                "INSERT INTO events (bar_ms, strategy, kind, message, at_wall_ms) VALUES (?1, 'ma:2:4', ?2, 'm', 0)",
                rusqlite::params![i as i64, kind],
            )
            .unwrap();
        }
    }

    #[test]
    fn a_journal_written_with_the_old_strings_reads_back_typed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        old_journal(&path, &["pending", "open", "filled", "no_fill", "cancelled", "rejected", "unknown"]);
        let journal = Journal::open(&path, SyncMode::Normal).unwrap();
        let statuses: Vec<OrderStatus> = journal.orders().unwrap().into_iter().map(|o| o.status).collect();
        assert_eq!(statuses, OrderStatus::ALL);
        let events = journal.events().unwrap();
        // every kind but `protection`, which came with the exchange's protective orders
        assert_eq!(events.iter().map(|e| e.kind).collect::<Vec<_>>(), EventKind::ALL[..9]);
        assert_eq!(
            events[1],
            EventRow {
                bar_ms: Some(1),
                strategy: Some("ma:2:4".into()),
                kind: EventKind::Reconciliation,
                message: "m".into()
            }
        );
    }

    #[test]
    fn a_status_of_no_known_spelling_is_named_in_the_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("odd.db");
        old_journal(&path, &["filled", "canceled"]);
        let journal = Journal::open(&path, SyncMode::Normal).unwrap();
        let err = journal.orders().unwrap_err().to_string();
        assert!(err.contains("reading orders") && err.contains("unknown order status `canceled`"), "{err}");
    }

    #[test]
    fn typed_statuses_and_kinds_are_written_in_their_one_spelling() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new.db");
        let mut journal = Journal::open(&path, SyncMode::Normal).unwrap();
        journal
            .conn
            .execute("INSERT INTO orders VALUES ('s', 1, 'c-1', 0, 'signal', 1.0, 100.0, 'pending', NULL)", [])
            .unwrap();
        journal.set_order_status("s", 1, OrderStatus::NoFill, Some("zero quantity")).unwrap();
        journal.insert_event(None, Some("s"), EventKind::OrderUnknown, "timeout").unwrap();
        let (status, kind): (String, String) = journal
            .conn
            .query_row("SELECT status, (SELECT kind FROM events) FROM orders", [], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap();
        assert_eq!((status.as_str(), kind.as_str()), ("no_fill", "order_unknown"));
    }
}
