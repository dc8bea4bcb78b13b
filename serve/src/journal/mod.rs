//! The durable journal: one SQLite file in WAL mode ([`schema.sql`](./schema.sql)).
//!
//! A bar is durable (committed) when the transaction holding its signals, risk decisions,
//! orders, fills and equity marks commits; each strategy's account (positions, risk
//! state, halts, kill switch, pending order) is saved in the same transaction. An
//! order is journaled in the transaction of the bar it was decided at, before a broker
//! sees it. With [`SyncMode::Normal`] several bars may share a transaction (replay and
//! paper); a crash loses only uncommitted bars, which a restart processes again from
//! the feed, so the journal ends as if never interrupted.
//!
//! An order's `status` is an [`OrderStatus`] and an event's `kind` an [`EventKind`],
//! each written and read through its one spelling.

mod account_blob;
mod event_kind;
mod lock;
mod order_reason;
mod order_status;
mod outbox;
mod protection;
mod read;
mod spelling;
mod views;

pub use account_blob::{decode_account, encode_account};
pub use event_kind::EventKind;
pub use lock::JournalLock;
pub use order_reason::OrderReason;
pub use order_status::OrderStatus;
pub use outbox::{DAY_MS, OutboxSettings};
pub use protection::{ProtectionRow, ProtectionStatus};
pub use read::{EquityRow, EventRow, FillRow, OrderRow};
pub use views::{
    ActivityView, Candle, ChartView, EquityPoint, FillView, LatencyRow, LatencyView, OrderView, RefusalView,
    StrategySeries, TradeKind,
};

use std::path::{Path, PathBuf};

use rltrade_env::Bar;
use rltrade_exec::{Account, Decision, Fill, FillOutcome, Mark, TargetOrder};
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use serde::{Deserialize, Serialize};

use crate::alerts::Alert;
use crate::error::{Error, Result};
use crate::signal::Signal;
use crate::strategy::StrategySpec;

/// The journal's format; a file of another format is refused.
pub const JOURNAL_FORMAT: u32 = 1;

pub use rltrade_config::serve::SyncMode;

/// What a journal was started with: a restart must match it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JournalMeta {
    /// Random id of this journal (part of every client order id).
    pub journal_id: String,
    /// Feed symbol.
    pub symbol: String,
    /// Bar interval, ms.
    pub interval_ms: i64,
    /// The strategies, in order.
    pub strategies: Vec<StrategySpec>,
    /// Where bars come from (`replay:<file sha256>:<split>` or `exchange:<base url>`).
    pub feed: String,
}

impl JournalMeta {
    /// Parses the `run` row of the `meta` table (JSON). The fuzz target
    /// `journal_meta` (`fuzz/`) runs this on arbitrary text.
    ///
    /// # Errors
    /// serde_json's message (line, column, field) for text that is not such a meta.
    pub fn from_json(text: &str) -> std::result::Result<Self, String> {
        serde_json::from_str(text).map_err(|e| e.to_string())
    }
}

/// Phase of a journaled bar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BarPhase {
    /// Fed to features and indicators only.
    Warmup,
    /// Traded: signals, orders, fills and marks belong to it.
    Traded,
}

/// Text in a journal column that is none of its type's spellings (a corrupt journal).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown {of} `{text}`")]
pub struct UnknownSpelling {
    /// What the text should have named (`order status`, `event kind`).
    pub of: &'static str,
    /// The text found.
    pub text: String,
}

/// The SQLite journal.
#[derive(Debug)]
pub struct Journal {
    conn: Connection,
    path: PathBuf,
    in_transaction: bool,
    /// The daemon's exclusive hold (`None` for a reader).
    lock: Option<JournalLock>,
    /// What the outbox records (`None`: no alert is written).
    outbox: Option<OutboxSettings>,
}

impl Journal {
    /// Opens (creating if needed) the journal at `path` for a daemon: takes its
    /// [`JournalLock`] first (held until the journal is dropped), then opens it in WAL
    /// mode with `sync`.
    ///
    /// # Errors
    /// [`Error::JournalInUse`] while another daemon holds the journal; [`Error::Journal`]
    /// when the file cannot be opened, is not SQLite, or holds another journal format.
    pub fn open(path: &Path, sync: SyncMode) -> Result<Self> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        }
        let lock = JournalLock::acquire(path)?;
        let conn = Connection::open(path).map_err(|e| journal_error(path, "cannot open", e))?;
        let sync_value = match sync {
            SyncMode::Normal => "NORMAL",
            SyncMode::Full => "FULL",
        };
        conn.pragma_update(None, "journal_mode", "WAL")
            .and_then(|()| conn.pragma_update(None, "synchronous", sync_value))
            // an 8 MiB page cache (the default is 2): it fills and levels off within
            // minutes, so a daemon's memory stays flat over days (a 64 MiB one kept
            // growing through an hour's soak); checkpoints every 16 MiB of WAL, not 4
            .and_then(|()| conn.pragma_update(None, "cache_size", -8_192))
            .and_then(|()| conn.pragma_update(None, "wal_autocheckpoint", 4_096))
            .and_then(|()| conn.execute_batch(include_str!("schema.sql")))
            .map_err(|e| journal_error(path, "is not a usable SQLite journal", e))?;
        if let Some(pages) = crate::fault::journal_max_pages() {
            // testing only (RLTRADE_JOURNAL_MAX_PAGES): a journal that cannot grow, as on a full disk
            conn.pragma_update(None, "max_page_count", pages)
                .map_err(|e| journal_error(path, "cannot cap its size", e))?;
        }
        let journal = Self { conn, path: path.to_path_buf(), in_transaction: false, lock: Some(lock), outbox: None };
        journal.check_format()?;
        Ok(journal)
    }

    /// Opens an existing journal for reading only (`rltrade ab-report`): nothing is
    /// created, written or checkpointed, so a journal on a read-only filesystem or in a
    /// read-only folder can be read. SQLite's read-only mode is tried first (it sees a
    /// running daemon's committed bars); when that cannot open the file (a WAL journal
    /// in a folder where SQLite may not create its `-shm` file) and no `-wal` file holds
    /// data, the file is opened as immutable (`?immutable=1`), which needs no lock file.
    ///
    /// # Errors
    /// [`Error::Journal`] when the file does not exist, is not SQLite, holds another
    /// journal format, or cannot be read without writing (its `-wal` file holds commits
    /// not yet in the main file and the folder is read-only).
    pub fn open_read_only(path: &Path) -> Result<Self> {
        if !path.is_file() {
            return Err(Error::Journal { path: path.to_path_buf(), message: "does not exist".into() });
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let readable =
            |conn: &Connection| conn.query_row("SELECT COUNT(*) FROM sqlite_master", [], |r| r.get::<_, i64>(0));
        let conn = match Connection::open_with_flags(path, flags) {
            Ok(conn) if readable(&conn).is_ok() => conn,
            first => {
                let wal = wal_path(path);
                if std::fs::metadata(&wal).is_ok_and(|m| m.len() > 0) {
                    let cause = first.and_then(|c| readable(&c).map(|_| ())).err();
                    return Err(Error::Journal {
                        path: path.to_path_buf(),
                        message: format!(
                            "cannot be read without writing: {} holds commits not yet in the journal and SQLite \
                             cannot open its lock file here ({}); read it where the folder is writable",
                            wal.display(),
                            cause.map_or_else(|| "unknown cause".to_string(), |e| e.to_string())
                        ),
                    });
                }
                let uri = format!("file:{}?immutable=1", uri_path(path));
                let conn = Connection::open_with_flags(&uri, flags)
                    .map_err(|e| journal_error(path, "cannot open read-only", e))?;
                readable(&conn).map_err(|e| journal_error(path, "is not a readable SQLite journal", e))?;
                conn
            }
        };
        let journal = Self { conn, path: path.to_path_buf(), in_transaction: false, lock: None, outbox: None };
        journal.check_format()?;
        Ok(journal)
    }

    /// Whether nothing but the meta (what a start records before its first bar) was
    /// journaled: no bar, signal, risk decision, order, fill, equity mark, account or
    /// event.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn is_unused(&self) -> Result<bool> {
        for table in ["bars", "signals", "risk_decisions", "orders", "fills", "equity", "accounts", "events"] {
            let sql = format!("SELECT EXISTS (SELECT 1 FROM {table})");
            let any = self.conn.query_row(&sql, [], |row| row.get::<_, bool>(0));
            if self.sql(&format!("reading {table}"), any)? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// SQLite's `PRAGMA data_version`: it changes when another connection commits, so
    /// a reader can tell whether what it computed is still current.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn data_version(&self) -> Result<i64> {
        let version = self.conn.query_row("PRAGMA data_version", [], |row| row.get(0));
        self.sql("reading data_version", version)
    }

    /// Runs `read` inside one read transaction, so that all its queries see the same
    /// commit (a reader beside a running daemon). Not for the daemon's own connection.
    ///
    /// # Errors
    /// SQLite errors, or `read`'s.
    pub fn read_consistent<T>(&self, read: impl FnOnce(&Self) -> Result<T>) -> Result<T> {
        let begun = self.conn.execute_batch("BEGIN DEFERRED");
        self.sql("beginning a read", begun)?;
        let out = read(self);
        let ended = self.conn.execute_batch("COMMIT");
        let ended = self.sql("ending a read", ended);
        let out = out?;
        ended?;
        Ok(out)
    }

    /// Removes the journal at `path` (with its `-wal` and `-shm` files) when it holds
    /// nothing ([`Journal::is_unused`]): what a failed start that created it leaves
    /// behind. Returns whether it removed it; a journal that recorded anything is kept.
    ///
    /// # Errors
    /// [`Error::Journal`] when it cannot be read; [`Error::Io`] when it cannot be removed.
    pub fn remove_if_unused(path: &Path) -> Result<bool> {
        if !path.is_file() {
            return Ok(false);
        }
        let unused = Self::open_read_only(path)?.is_unused()?;
        if unused {
            // with the alerts' delivery state beside it (a new journal must not inherit it)
            let alerts = sidecar(path, "-alerts");
            let files = [path.to_path_buf(), wal_path(path), sidecar(path, "-shm")];
            let delivery = [sidecar(&alerts, "-wal"), sidecar(&alerts, "-shm"), alerts.clone()];
            for file in files.into_iter().chain(delivery) {
                match std::fs::remove_file(&file) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(Error::io(file, e)),
                    _ => {}
                }
            }
        }
        Ok(unused)
    }

    fn check_format(&self) -> Result<()> {
        match self.meta_value("format")? {
            Some(format) if format != JOURNAL_FORMAT.to_string() => {
                Err(self.error(format!("has format {format}, this daemon writes {JOURNAL_FORMAT}")))
            }
            _ => Ok(()),
        }
    }

    /// The lock file this journal's daemon holds (`None` for a reader).
    pub fn lock_path(&self) -> Option<&Path> {
        self.lock.as_ref().map(JournalLock::path)
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn error(&self, message: impl Into<String>) -> Error {
        Error::Journal { path: self.path.clone(), message: message.into() }
    }

    fn sql<T>(&self, what: &str, result: rusqlite::Result<T>) -> Result<T> {
        result.map_err(|e| self.error(format!("{what}: {e}")))
    }

    fn meta_value(&self, key: &str) -> Result<Option<String>> {
        let value = self
            .conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |row| row.get::<_, String>(0))
            .optional();
        self.sql("reading meta", value)
    }

    /// The journal's meta, `None` for a new journal.
    ///
    /// # Errors
    /// A corrupt meta row.
    pub fn meta(&self) -> Result<Option<JournalMeta>> {
        let Some(text) = self.meta_value("run")? else { return Ok(None) };
        JournalMeta::from_json(&text).map(Some).map_err(|e| self.error(format!("meta `run` is corrupt: {e}")))
    }

    /// Records the meta of a new journal.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn init(&mut self, meta: &JournalMeta) -> Result<()> {
        let text = serde_json::to_string(meta).unwrap_or_default();
        let result = self.conn.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('format', ?1), ('run', ?2)",
            params![JOURNAL_FORMAT.to_string(), text],
        );
        self.sql("writing meta", result).map(|_| ())
    }

    /// Replaces the strategy list in the meta (after a model reload).
    ///
    /// # Errors
    /// SQLite errors.
    pub fn update_meta(&mut self, meta: &JournalMeta) -> Result<()> {
        self.begin()?;
        self.init(meta)?;
        self.commit()
    }

    /// Starts a transaction unless one is open.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn begin(&mut self) -> Result<()> {
        if !self.in_transaction {
            let result = self.conn.execute_batch("BEGIN IMMEDIATE");
            self.sql("BEGIN", result)?;
            self.in_transaction = true;
        }
        Ok(())
    }

    /// Commits the open transaction, if any: its bars count as committed.
    ///
    /// # Errors
    /// SQLite errors (the transaction is rolled back by SQLite then).
    pub fn commit(&mut self) -> Result<()> {
        if self.in_transaction {
            self.in_transaction = false;
            let result = self.conn.execute_batch("COMMIT");
            self.sql("COMMIT", result)?;
        }
        Ok(())
    }

    /// True while a transaction is open.
    pub fn in_transaction(&self) -> bool {
        self.in_transaction
    }

    /// Rolls back the open transaction, if SQLite still holds one (after a failed
    /// statement or `COMMIT` it may or may not have rolled back by itself): nothing of
    /// it counts as committed. Best effort: a failed `ROLLBACK` is logged.
    pub fn rollback(&mut self) {
        self.in_transaction = false;
        if !self.conn.is_autocommit() {
            if let Err(e) = self.conn.execute_batch("ROLLBACK") {
                tracing::error!(journal = %self.path.display(), "ROLLBACK failed: {e}");
            }
        }
    }

    /// Journals a bar fed to the strategies.
    ///
    /// # Errors
    /// SQLite errors (a bar journaled twice among them).
    pub fn insert_bar(&mut self, bar: &Bar, phase: BarPhase) -> Result<()> {
        let phase = match phase {
            BarPhase::Warmup => "warmup",
            BarPhase::Traded => "traded",
        };
        let result = self
            .conn
            .prepare_cached(
                "INSERT INTO bars (time_ms, open, high, low, close, volume, phase) VALUES (?1,?2,?3,?4,?5,?6,?7)",
            )
            .and_then(|mut s| {
                s.execute(params![bar.time_ms, bar.open, bar.high, bar.low, bar.close, bar.volume, phase])
            });
        self.sql("inserting a bar", result).map(|_| ())
    }

    /// Journals a signal.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn insert_signal(&mut self, signal: &Signal) -> Result<()> {
        let probs = serde_json::to_string(&signal.probs).unwrap_or_default();
        let result = self
            .conn
            .prepare_cached(
                "INSERT INTO signals (strategy, bar_ms, symbol, model_sha256, action, target_exposure, probs, \
                 invalid_output, latency_us) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    signal.strategy,
                    signal.bar_ms,
                    signal.symbol,
                    signal.model_sha256,
                    signal.action as i64,
                    signal.target_exposure,
                    probs,
                    signal.invalid_output,
                    signal.latency_us as i64
                ])
            });
        self.sql("inserting a signal", result).map(|_| ())
    }

    /// Journals a decision: the liquidation and the signal's risk check, and every
    /// approved order ([`OrderStatus::Pending`]) under its client order id `client_id(order_id)`.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn insert_decision(
        &mut self,
        strategy: &str,
        bar_ms: i64,
        decision: &Decision,
        client_id: impl Fn(u64) -> String,
    ) -> Result<()> {
        if let Some(order) = decision.liquidation {
            self.insert_risk(strategy, bar_ms, &order, "liquidation", Some(0.0), None)?;
            self.insert_order(strategy, bar_ms, &order, &client_id(order.id))?;
        }
        match &decision.signal {
            Some(Ok(approved)) => {
                let order = approved.order();
                let (outcome, reason) = match approved.clipped() {
                    Some(clip) => ("clipped", Some(format!("{clip:?}"))),
                    None => ("approved", None),
                };
                // requested: the target before clipping
                let requested = approved.clipped().map_or(order.target_exposure, |clip| clip.requested());
                let requested_order = TargetOrder { target_exposure: requested, ..*order };
                self.insert_risk(strategy, bar_ms, &requested_order, outcome, Some(order.target_exposure), reason)?;
                self.insert_order(strategy, bar_ms, order, &client_id(order.id))?;
            }
            Some(Err(refused)) => {
                let reason = format!("{}: {:?}", refused.reason.name(), refused.reason);
                self.insert_risk(strategy, bar_ms, &refused.order, "refused", None, Some(reason.clone()))?;
                let alert = Alert::RiskRefusal {
                    strategy: strategy.to_string(),
                    order_id: refused.order.id,
                    requested: refused.order.target_exposure,
                    reason,
                };
                self.insert_alert(Some(bar_ms), &alert)?;
            }
            None => {}
        }
        Ok(())
    }

    fn insert_risk(
        &mut self,
        strategy: &str,
        bar_ms: i64,
        order: &TargetOrder,
        outcome: &str,
        approved: Option<f64>,
        reason: Option<String>,
    ) -> Result<()> {
        let result = self
            .conn
            .prepare_cached(
                "INSERT INTO risk_decisions (strategy, bar_ms, order_id, requested, outcome, approved, reason) \
                 VALUES (?1,?2,?3,?4,?5,?6,?7)",
            )
            .and_then(|mut s| {
                s.execute(params![strategy, bar_ms, order.id as i64, order.target_exposure, outcome, approved, reason])
            });
        self.sql("inserting a risk decision", result).map(|_| ())
    }

    fn insert_order(&mut self, strategy: &str, bar_ms: i64, order: &TargetOrder, client_id: &str) -> Result<()> {
        let purpose = OrderReason::from(order.purpose);
        let result = self
            .conn
            .prepare_cached(
                "INSERT INTO orders (strategy, order_id, client_order_id, decided_bar_ms, purpose, target_exposure, \
                 reference_price, status) VALUES (?1,?2,?3,?4,?5,?6,?7,?8) \
                 ON CONFLICT (strategy, order_id) DO NOTHING",
            )
            .and_then(|mut s| {
                s.execute(params![
                    strategy,
                    order.id as i64,
                    client_id,
                    bar_ms,
                    purpose,
                    order.target_exposure,
                    order.reference_price,
                    OrderStatus::Pending
                ])
            });
        self.sql("inserting an order", result).map(|_| ())
    }

    /// Journals a protective order that filled inside the bar opening at `bar_ms`: an
    /// order row whose `purpose` is the exit reason (`stop_loss`, `take_profit`,
    /// `trailing_stop`, `max_holding`), target 0, reference price the level (or the gap
    /// open), then its fill (status [`OrderStatus::Filled`]).
    ///
    /// # Errors
    /// SQLite errors.
    pub fn insert_protective_exit(
        &mut self,
        strategy: &str,
        bar_ms: i64,
        exit: &rltrade_exec::ProtectiveExit,
        client_id: &str,
    ) -> Result<()> {
        let fill = &exit.fill;
        let result = self
            .conn
            .prepare_cached(
                "INSERT INTO orders (strategy, order_id, client_order_id, decided_bar_ms, purpose, target_exposure, \
                 reference_price, status) VALUES (?1,?2,?3,?4,?5,?6,?7,?8)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    strategy,
                    fill.order_id as i64,
                    client_id,
                    bar_ms,
                    OrderReason::from(exit.reason),
                    0.0,
                    fill.reference_price,
                    OrderStatus::Pending
                ])
            });
        self.sql("inserting a protective order", result)?;
        self.insert_fill(strategy, fill)
    }

    /// Sets an order's status, with a reason.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn set_order_status(
        &mut self,
        strategy: &str,
        order_id: u64,
        status: OrderStatus,
        reason: Option<&str>,
    ) -> Result<()> {
        let result = self
            .conn
            .prepare_cached("UPDATE orders SET status = ?3, status_reason = ?4 WHERE strategy = ?1 AND order_id = ?2")
            .and_then(|mut s| s.execute(params![strategy, order_id as i64, status, reason]));
        self.sql("updating an order", result).map(|_| ())
    }

    /// Journals the outcome of a pending order at a bar's open: the fill (and the
    /// order's status [`OrderStatus::Filled`]), or the order's status
    /// [`OrderStatus::NoFill`] with the reason.
    ///
    /// # Errors
    /// SQLite errors (a second fill of one order among them).
    pub fn insert_fill_outcome(&mut self, strategy: &str, order_id: u64, outcome: &FillOutcome) -> Result<()> {
        match outcome {
            FillOutcome::Filled { fill, .. } => self.insert_fill(strategy, fill),
            FillOutcome::NoFill(reason) => {
                self.set_order_status(strategy, order_id, OrderStatus::NoFill, Some(&format!("{reason:?}")))
            }
        }
    }

    /// Journals a fill and marks its order [`OrderStatus::Filled`].
    ///
    /// # Errors
    /// SQLite errors (a second fill of one order among them).
    pub fn insert_fill(&mut self, strategy: &str, fill: &Fill) -> Result<()> {
        let side = match fill.side {
            rltrade_exec::Side::Buy => "buy",
            rltrade_exec::Side::Sell => "sell",
        };
        let result = self
            .conn
            .prepare_cached(
                "INSERT INTO fills (strategy, order_id, time_ms, side, quantity, price, reference_price, fee) \
                 VALUES (?1,?2,?3,?4,?5,?6,?7,?8)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    strategy,
                    fill.order_id as i64,
                    fill.time_ms,
                    side,
                    fill.quantity,
                    fill.price,
                    fill.reference_price,
                    fill.fee
                ])
            });
        self.sql("inserting a fill", result)?;
        self.set_order_status(strategy, fill.order_id, OrderStatus::Filled, None)?;
        if self.outbox.is_some() {
            let reason = self.order_reason(strategy, fill.order_id)?.unwrap_or(OrderReason::Signal);
            let alert = Alert::Fill {
                strategy: strategy.to_string(),
                order_id: fill.order_id,
                reason,
                side: fill.side,
                quantity: fill.quantity,
                price: fill.price,
                fee: fill.fee,
                time_ms: fill.time_ms,
            };
            self.insert_alert(None, &alert)?;
        }
        Ok(())
    }

    /// Journals the equity mark of a traded bar.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn insert_equity(
        &mut self,
        strategy: &str,
        bar_ms: i64,
        mark: &Mark,
        account: &Account,
        close: f64,
    ) -> Result<()> {
        // the state the risk check applies, as GET /positions reports it (HALTED while killed)
        let state = match account.risk.effective_state() {
            rltrade_exec::TradingState::Active => "ACTIVE",
            rltrade_exec::TradingState::Reducing => "REDUCING",
            rltrade_exec::TradingState::Halted => "HALTED",
        };
        let result = self
            .conn
            .prepare_cached(
                "INSERT INTO equity (strategy, bar_ms, equity, cash, position, exposure, trading_state) \
                 VALUES (?1,?2,?3,?4,?5,?6,?7)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    strategy,
                    bar_ms,
                    mark.equity,
                    account.portfolio.cash,
                    account.portfolio.quantity,
                    account.portfolio.exposure_at(close),
                    state
                ])
            });
        self.sql("inserting an equity mark", result).map(|_| ())
    }

    /// Saves a strategy's account as of `bar_ms` (what a restart restores).
    ///
    /// # Errors
    /// SQLite errors.
    pub fn save_account(&mut self, strategy: &str, bar_ms: i64, account: &Account) -> Result<()> {
        let bytes = encode_account(account).map_err(|e| self.error(e))?;
        let result = self
            .conn
            .prepare_cached("INSERT OR REPLACE INTO accounts (strategy, bar_ms, account) VALUES (?1,?2,?3)")
            .and_then(|mut s| s.execute(params![strategy, bar_ms, bytes]));
        self.sql("saving an account", result).map(|_| ())
    }

    /// Logs an operator event of `kind` (trading state change, kill switch, resume,
    /// reload, reconciliation, feed, restart, rejected or unknown order), with its alert
    /// in the outbox; committed at once when no transaction is open.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn insert_event(
        &mut self,
        bar_ms: Option<i64>,
        strategy: Option<&str>,
        kind: EventKind,
        message: &str,
    ) -> Result<()> {
        let own_transaction = !self.in_transaction && self.outbox.is_some();
        if own_transaction {
            // the event and its alert commit together
            self.begin()?;
        }
        let result = self.conn.execute(
            "INSERT INTO events (bar_ms, strategy, kind, message, at_wall_ms) VALUES (?1,?2,?3,?4,?5)",
            params![bar_ms, strategy, kind, message, wall_ms()],
        );
        let inserted = self.sql("inserting an event", result).map(|_| ()).and_then(|()| {
            let alert = Alert::Event { event: kind, strategy: strategy.map(str::to_string), message: message.into() };
            self.insert_alert(bar_ms, &alert)
        });
        match (own_transaction, inserted) {
            (true, Ok(())) => self.commit(),
            (true, Err(e)) => {
                self.rollback();
                Err(e)
            }
            (false, inserted) => inserted,
        }
    }
}

/// The wall clock, ms since epoch UTC (0 before 1970).
fn wall_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// `<journal>-wal`, SQLite's write-ahead log beside the journal.
fn wal_path(path: &Path) -> PathBuf {
    sidecar(path, "-wal")
}

/// `path` with `suffix` appended to its file name.
fn sidecar(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// `path` for a SQLite `file:` URI: absolute, every byte but unreserved ones and `/`
/// percent-encoded (so `?`, `#` and `%` in a name stay part of it).
fn uri_path(path: &Path) -> String {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut out = String::new();
    for b in absolute.to_string_lossy().bytes() {
        if b.is_ascii_alphanumeric() || b"/-_.~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn journal_error(path: &Path, what: &str, e: rusqlite::Error) -> Error {
    Error::Journal { path: path.to_path_buf(), message: format!("{what}: {e}") }
}
