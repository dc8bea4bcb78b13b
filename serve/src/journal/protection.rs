//! The `protections` table: a position's protective orders held by the exchange (one
//! OCO order list each), journaled before they are sent, and [`ProtectionStatus`], the
//! spelling of its `status` column.

use rusqlite::params;
use serde::{Deserialize, Serialize};

use super::Journal;
use super::spelling::journal_spelling;
use crate::broker::ProtectionRequest;
use crate::error::Result;

/// Where a journaled protection stands (`protections.status`). It starts `pending`
/// (journaled, not yet answered), becomes `placed` (on the book) or ends `rejected` or
/// `refused`; a placed list ends `stop_filled` or `take_profit_filled` (the other leg
/// expired), `cancelled` (by the daemon before an exit, or outside it) or `expired`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProtectionStatus {
    /// Journaled; the exchange has not answered yet (`pending`).
    Pending,
    /// Both legs on the book (`placed`).
    Placed,
    /// Refused by the exchange (`rejected`; the reason holds its code and message).
    Rejected,
    /// Not sent: the symbol's filters make it impossible (`refused`; the reason names the
    /// filter).
    Refused,
    /// The stop leg executed (`stop_filled`).
    StopFilled,
    /// The take-profit leg executed (`take_profit_filled`).
    TakeProfitFilled,
    /// Cancelled with nothing executed (`cancelled`).
    Cancelled,
    /// Expired at the exchange with nothing executed (`expired`).
    Expired,
}

impl ProtectionStatus {
    /// Every status, in the order of a protection's life.
    pub const ALL: [ProtectionStatus; 8] = [
        ProtectionStatus::Pending,
        ProtectionStatus::Placed,
        ProtectionStatus::Rejected,
        ProtectionStatus::Refused,
        ProtectionStatus::StopFilled,
        ProtectionStatus::TakeProfitFilled,
        ProtectionStatus::Cancelled,
        ProtectionStatus::Expired,
    ];

    /// The journal's spelling, the same as its serde form.
    pub fn as_str(self) -> &'static str {
        match self {
            ProtectionStatus::Pending => "pending",
            ProtectionStatus::Placed => "placed",
            ProtectionStatus::Rejected => "rejected",
            ProtectionStatus::Refused => "refused",
            ProtectionStatus::StopFilled => "stop_filled",
            ProtectionStatus::TakeProfitFilled => "take_profit_filled",
            ProtectionStatus::Cancelled => "cancelled",
            ProtectionStatus::Expired => "expired",
        }
    }

    /// True while the list may be on the book (`pending` or `placed`).
    pub fn is_active(self) -> bool {
        matches!(self, ProtectionStatus::Pending | ProtectionStatus::Placed)
    }
}

journal_spelling!(ProtectionStatus, "protection status");

/// A journaled protection: the request as sent (ids, side, quantity, levels) and its
/// status.
#[derive(Clone, Debug, PartialEq)]
pub struct ProtectionRow {
    /// Strategy.
    pub strategy: String,
    /// The entry order whose fill it protects.
    pub entry_order_id: u64,
    /// Replacements before this list (0: the entry's first).
    pub replacement: u32,
    /// What was (or is to be) sent.
    pub request: ProtectionRequest,
    /// Where it stands.
    pub status: ProtectionStatus,
}

impl Journal {
    /// Journals `request` as `pending`, decided at the bar opening at `bar_ms`, before it
    /// is sent.
    ///
    /// # Errors
    /// SQLite errors (a list client id journaled twice among them).
    pub fn insert_protection(
        &mut self,
        strategy: &str,
        entry_order_id: u64,
        replacement: u32,
        bar_ms: Option<i64>,
        request: &ProtectionRequest,
    ) -> Result<()> {
        let result = self
            .conn
            .prepare_cached(
                "INSERT INTO protections (list_client_order_id, strategy, entry_order_id, replacement, long, \
                 quantity, stop, take_profit, decided_bar_ms, status) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    request.list_client_order_id,
                    strategy,
                    entry_order_id as i64,
                    replacement,
                    request.long,
                    request.quantity,
                    request.stop,
                    request.take_profit,
                    bar_ms,
                    ProtectionStatus::Pending
                ])
            });
        self.sql("inserting a protection", result).map(|_| ())
    }

    /// Sets a protection's status, with a reason.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn set_protection_status(
        &mut self,
        list_client_order_id: &str,
        status: ProtectionStatus,
        reason: Option<&str>,
    ) -> Result<()> {
        let result = self
            .conn
            .prepare_cached("UPDATE protections SET status = ?2, status_reason = ?3 WHERE list_client_order_id = ?1")
            .and_then(|mut s| s.execute(params![list_client_order_id, status, reason]));
        self.sql("updating a protection", result).map(|_| ())
    }

    /// Every protection, in the order journaled.
    ///
    /// # Errors
    /// SQLite errors, or a status that is none of [`ProtectionStatus`]'s spellings.
    pub fn protections(&self, symbol: &str) -> Result<Vec<ProtectionRow>> {
        self.rows(
            "reading protections",
            "SELECT strategy, entry_order_id, replacement, list_client_order_id, long, quantity, stop, take_profit, \
             status FROM protections ORDER BY rowid",
            [],
            |row| {
                let list: String = row.get(3)?;
                let [_, stop_id, take_profit_id] = crate::broker::protection_client_ids_of_list(&list);
                Ok(ProtectionRow {
                    strategy: row.get(0)?,
                    entry_order_id: row.get::<_, i64>(1)? as u64,
                    replacement: row.get(2)?,
                    request: ProtectionRequest {
                        list_client_order_id: list,
                        stop_client_order_id: stop_id,
                        take_profit_client_order_id: take_profit_id,
                        symbol: symbol.to_owned(),
                        long: row.get(4)?,
                        quantity: row.get(5)?,
                        stop: row.get(6)?,
                        take_profit: row.get(7)?,
                    },
                    status: row.get(8)?,
                })
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_round_trip_through_str_and_serde() {
        for status in ProtectionStatus::ALL {
            assert_eq!(status.as_str().parse::<ProtectionStatus>().unwrap(), status);
            assert_eq!(serde_json::to_value(status).unwrap(), status.as_str());
        }
        let err = "filled".parse::<ProtectionStatus>().unwrap_err();
        assert_eq!(err.to_string(), "unknown protection status `filled`");
    }
}
