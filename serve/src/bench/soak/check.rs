//! What a soak checks once its lanes stop: a faulted journal against the
//! uninterrupted one ([`first_difference`]) and the invariants every lane keeps
//! ([`invariants`]).

use std::collections::HashSet;
use std::path::Path;

use rusqlite::{Connection, OpenFlags};
use serde::Serialize;

use crate::binance::mock_server::MockServer;
use crate::error::{Error, Result};
use crate::journal::{EventKind, OrderStatus, decode_account};

/// The journal's rows that say what traded, in a fixed order, one text line per row.
/// Left out: `events` (restarts, retries and faults are journaled there: they differ
/// by design), the fills' `time_ms` and the account's trade times taken from them (the
/// exchange's transaction time, a wall-clock reading), and the first 10 characters of
/// client order ids (the journal's own prefix, drawn when it is created). Accounts are
/// compared decoded.
const TRADED_ROWS: [&str; 7] = [
    "SELECT time_ms, open, high, low, close, volume, phase FROM bars ORDER BY time_ms",
    "SELECT strategy, bar_ms, model_sha256, action, target_exposure, probs, invalid_output FROM signals \
     ORDER BY strategy, bar_ms",
    "SELECT strategy, bar_ms, order_id, requested, outcome, approved, reason FROM risk_decisions \
     ORDER BY strategy, order_id",
    "SELECT strategy, order_id, substr(client_order_id, 11), decided_bar_ms, purpose, target_exposure, \
     reference_price, status, status_reason FROM orders ORDER BY strategy, order_id",
    "SELECT strategy, order_id, side, quantity, price, reference_price, fee FROM fills ORDER BY strategy, order_id",
    "SELECT strategy, bar_ms, equity, cash, position, exposure, trading_state FROM equity ORDER BY strategy, bar_ms",
    "SELECT strategy, bar_ms, account FROM accounts ORDER BY strategy",
];

/// Opens `path` read-only (the daemon may be writing it: WAL readers do not block it).
///
/// # Errors
/// [`Error::Journal`].
pub fn open_read_only(path: &Path) -> Result<Connection> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
        .map_err(|e| journal_error(path, &e))?;
    conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(|e| journal_error(path, &e))?;
    Ok(conn)
}

fn journal_error(path: &Path, e: &dyn std::fmt::Display) -> Error {
    Error::Journal { path: path.to_path_buf(), message: e.to_string() }
}

/// The [`TRADED_ROWS`] of the journal at `path`, one line per row.
fn dump(path: &Path) -> Result<Vec<String>> {
    let conn = open_read_only(path)?;
    let mut lines = Vec::new();
    for query in TRADED_ROWS {
        let mut stmt = conn.prepare(query).map_err(|e| journal_error(path, &e))?;
        let n = stmt.column_count();
        let mut rows = stmt.query([]).map_err(|e| journal_error(path, &e))?;
        let table = query.split(" FROM ").nth(1).and_then(|t| t.split_whitespace().next()).unwrap_or("?");
        while let Some(row) = rows.next().map_err(|e| journal_error(path, &e))? {
            let mut line = format!("{table}:");
            for i in 0..n {
                let value: rusqlite::types::Value = row.get(i).map_err(|e| journal_error(path, &e))?;
                match value {
                    rusqlite::types::Value::Blob(bytes) if table == "accounts" => {
                        line.push_str(&format!(" {}", account_without_exchange_times(path, &bytes)?));
                    }
                    value => line.push_str(&format!(" {value:?}")),
                }
            }
            lines.push(line);
        }
    }
    Ok(lines)
}

/// A journaled account as JSON, without the times its trades took from the exchange's
/// fills (`entry_time_ms`, `exit_time_ms`: transaction times, wall-clock readings).
fn account_without_exchange_times(path: &Path, bytes: &[u8]) -> Result<serde_json::Value> {
    fn strip(value: &mut serde_json::Value) {
        match value {
            serde_json::Value::Object(map) => {
                map.remove("entry_time_ms");
                map.remove("exit_time_ms");
                map.values_mut().for_each(strip);
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let account = decode_account(bytes).map_err(|message| Error::Journal { path: path.to_path_buf(), message })?;
    let mut value = serde_json::to_value(&account).map_err(|e| journal_error(path, &e))?;
    strip(&mut value);
    Ok(value)
}

/// The first row where the journal at `faulted` differs from the one at `reference`
/// (`None`: they are equal), both as text.
///
/// # Errors
/// [`Error::Journal`].
pub fn first_difference(faulted: &Path, reference: &Path) -> Result<Option<String>> {
    let (a, b) = (dump(faulted)?, dump(reference)?);
    let shown = |line: Option<&String>| line.map_or("(none)".to_owned(), |l| l.chars().take(300).collect());
    for i in 0..a.len().max(b.len()) {
        if a.get(i) != b.get(i) {
            return Ok(Some(format!("row {i}: faulted {} / uninterrupted {}", shown(a.get(i)), shown(b.get(i)))));
        }
    }
    Ok(None)
}

/// The invariants a lane keeps whatever its faults.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Invariants {
    /// Bars the mock served after the warm-up.
    pub bars_served: u64,
    /// Of those, bars the journal holds as traded.
    pub bars_traded: u64,
    /// Bars served and not traded, or traded twice (0 expected).
    pub lost_bars: u64,
    /// Orders the exchange executed or refused.
    pub exchange_orders: u64,
    /// Client order ids the exchange saw more than once (0 expected).
    pub duplicate_client_ids: u64,
    /// Filled orders in the journal without their execution at the exchange, or the
    /// reverse (0 expected).
    pub unmatched_fills: u64,
    /// Journal's position minus the exchange's base balance (free + locked).
    pub position_diff: f64,
    /// Journal's cash minus the exchange's quote balance (free + locked).
    pub cash_diff: f64,
    /// Orders still `pending`, `open` or `unknown` (0 expected).
    pub unsettled_orders: u64,
    /// `reconciliation` events: a restart found the journal and the exchange apart (0
    /// expected).
    pub reconciliation_mismatches: u64,
    /// `order_unknown` events: an order's fate stayed unknown and halted its strategy
    /// (0 expected: the broker's queries and resends settle every fault injected).
    pub unknown_fates: u64,
}

impl Invariants {
    /// Whether every invariant holds (balances to 1e-8 base and 0.01 quote, the
    /// daemon's own reconciliation tolerance).
    pub fn hold(&self) -> bool {
        self.lost_bars == 0
            && self.duplicate_client_ids == 0
            && self.unmatched_fills == 0
            && self.position_diff.abs() <= 1e-8
            && self.cash_diff.abs() <= 0.01
            && self.unsettled_orders == 0
            && self.reconciliation_mismatches == 0
            && self.unknown_fates == 0
    }
}

/// Checks the journal at `path` (the daemon stopped) against `mock`, which served
/// `served_ms` (open times, ms) after the warm-up.
///
/// # Errors
/// [`Error::Journal`] when the journal cannot be read or its account decoded.
pub fn invariants(path: &Path, mock: &MockServer, served_ms: &[i64], base: &str, quote: &str) -> Result<Invariants> {
    let conn = open_read_only(path)?;
    let err = |e: rusqlite::Error| journal_error(path, &e);
    let traded: Vec<i64> = conn
        .prepare("SELECT time_ms FROM bars WHERE phase = 'traded' ORDER BY time_ms")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .map_err(err)?;
    let served: HashSet<i64> = served_ms.iter().copied().collect();
    let traded_set: HashSet<i64> = traded.iter().copied().collect();
    let lost = served.difference(&traded_set).count() + traded_set.difference(&served).count();
    let twice = traded.len() - traded_set.len();

    let orders = mock.orders();
    let mut ids = HashSet::new();
    let duplicates = orders.iter().filter(|o| !ids.insert(o.client_order_id.as_str())).count();
    let executed: HashSet<&str> =
        orders.iter().filter(|o| o.status == "FILLED").map(|o| o.client_order_id.as_str()).collect();
    let filled: Vec<String> = conn
        .prepare("SELECT client_order_id FROM orders WHERE status = ?1")
        .and_then(|mut s| s.query_map([OrderStatus::Filled.as_str()], |r| r.get(0))?.collect())
        .map_err(err)?;
    let filled: HashSet<&str> = filled.iter().map(String::as_str).collect();
    let unmatched = executed.symmetric_difference(&filled).count();

    let unsettled: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM orders WHERE status IN (?1, ?2, ?3)",
            [OrderStatus::Pending.as_str(), OrderStatus::Open.as_str(), OrderStatus::Unknown.as_str()],
            |r| r.get(0),
        )
        .map_err(err)?;
    let (mismatches, unknown) = (events(&conn, EventKind::Reconciliation)?, events(&conn, EventKind::OrderUnknown)?);

    let blob: Vec<u8> = conn.query_row("SELECT account FROM accounts LIMIT 1", [], |r| r.get(0)).map_err(err)?;
    let account = decode_account(&blob).map_err(|message| Error::Journal { path: path.to_path_buf(), message })?;
    let balance = |asset: &str| {
        let (free, locked) = mock.balance(asset);
        free + locked
    };
    Ok(Invariants {
        bars_served: served.len() as u64,
        bars_traded: traded.len() as u64,
        lost_bars: (lost + twice) as u64,
        exchange_orders: orders.len() as u64,
        duplicate_client_ids: duplicates as u64,
        unmatched_fills: unmatched as u64,
        position_diff: account.portfolio.quantity - balance(base),
        cash_diff: account.portfolio.cash - balance(quote),
        unsettled_orders: unsettled as u64,
        reconciliation_mismatches: mismatches,
        unknown_fates: unknown,
    })
}

/// Events of `kind` in the journal open on `conn`.
///
/// # Errors
/// [`Error::Journal`] (named by the connection's path).
pub fn events(conn: &Connection, kind: EventKind) -> Result<u64> {
    conn.query_row("SELECT COUNT(*) FROM events WHERE kind = ?1", [kind.as_str()], |r| r.get::<_, i64>(0))
        .map(|n| n as u64)
        .map_err(|e| Error::Journal { path: conn.path().unwrap_or_default().into(), message: e.to_string() })
}
