//! Reading the journal back: restart state, the HTTP API's views and the A/B report.

use std::collections::HashMap;

use rltrade_env::Bar;
use rltrade_exec::Account;
use serde::Serialize;

use super::{BarPhase, Journal};
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
    /// `pending`, `filled`, `no_fill`, `cancelled`, `rejected`.
    pub status: String,
}

/// A fill as journaled.
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

impl Journal {
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
        let result = (|| {
            let mut stmt = self
                .conn
                .prepare("SELECT time_ms, open, high, low, close, volume, phase FROM bars ORDER BY time_ms")?;
            let rows = stmt.query_map([], |row| {
                let bar = Bar {
                    time_ms: row.get(0)?,
                    open: row.get(1)?,
                    high: row.get(2)?,
                    low: row.get(3)?,
                    close: row.get(4)?,
                    volume: row.get(5)?,
                };
                let phase = if row.get::<_, String>(6)? == "traded" { BarPhase::Traded } else { BarPhase::Warmup };
                Ok((bar, phase))
            })?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
        })();
        self.sql("reading bars", result)
    }

    /// Every strategy's saved account.
    ///
    /// # Errors
    /// SQLite errors, or an account that does not deserialize (corrupt journal).
    pub fn accounts(&self) -> Result<HashMap<String, Account>> {
        let rows = (|| {
            let mut stmt = self.conn.prepare("SELECT strategy, account FROM accounts")?;
            let rows = stmt.query_map([], |row| Ok((row.get::<_, String>(0)?, row.get::<_, Vec<u8>>(1)?)))?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
        })();
        let rows = self.sql("reading accounts", rows)?;
        rows.into_iter()
            .map(|(strategy, bytes)| match ciborium::from_reader(bytes.as_slice()) {
                Ok(account) => Ok((strategy, account)),
                Err(e) => Err(self.error(format!("the account of {strategy} is corrupt: {e}"))),
            })
            .collect()
    }

    /// The last `limit` signals, newest first (all strategies).
    ///
    /// # Errors
    /// SQLite errors.
    pub fn signals(&self, limit: usize) -> Result<Vec<Signal>> {
        let result = (|| {
            let mut stmt = self.conn.prepare(
                "SELECT bar_ms, symbol, strategy, model_sha256, action, target_exposure, probs, latency_us, \
                 invalid_output FROM signals ORDER BY bar_ms DESC, strategy LIMIT ?1",
            )?;
            let rows = stmt.query_map([limit as i64], |row| {
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
            })?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
        })();
        self.sql("reading signals", result)
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
    /// SQLite errors.
    pub fn orders(&self) -> Result<Vec<OrderRow>> {
        let result = (|| {
            let mut stmt = self.conn.prepare(
                "SELECT strategy, order_id, client_order_id, status FROM orders ORDER BY strategy, order_id",
            )?;
            let rows = stmt.query_map([], |row| {
                Ok(OrderRow {
                    strategy: row.get(0)?,
                    order_id: row.get::<_, i64>(1)? as u64,
                    client_order_id: row.get(2)?,
                    status: row.get(3)?,
                })
            })?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
        })();
        self.sql("reading orders", result)
    }

    /// Fills, by strategy and order id.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn fills(&self) -> Result<Vec<FillRow>> {
        let result = (|| {
            let mut stmt = self.conn.prepare(
                "SELECT strategy, order_id, time_ms, side, quantity, price, fee FROM fills ORDER BY strategy, order_id",
            )?;
            let rows = stmt.query_map([], |row| {
                Ok(FillRow {
                    strategy: row.get(0)?,
                    order_id: row.get::<_, i64>(1)? as u64,
                    time_ms: row.get(2)?,
                    side: row.get(3)?,
                    quantity: row.get(4)?,
                    price: row.get(5)?,
                    fee: row.get(6)?,
                })
            })?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
        })();
        self.sql("reading fills", result)
    }
}

impl Journal {
    /// Risk refusals per strategy.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn refusal_counts(&self) -> Result<HashMap<String, u64>> {
        let result = (|| {
            let mut stmt = self
                .conn
                .prepare("SELECT strategy, COUNT(*) FROM risk_decisions WHERE outcome = 'refused' GROUP BY strategy")?;
            let rows = stmt.query_map([], |row| Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)? as u64)))?;
            rows.collect::<rusqlite::Result<HashMap<_, _>>>()
        })();
        self.sql("counting refusals", result)
    }
}
