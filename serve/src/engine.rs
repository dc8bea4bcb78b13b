//! [`Engine`]: the synchronous heart of the daemon. Takes closed bars in order, runs
//! every strategy on each, journals what happened, and answers the operator (kill
//! switch, resume, model reload). No I/O but the journal; the tokio side
//! ([`crate::daemon`]) owns feeds, timers and HTTP.

mod batch;
mod protection;

pub use protection::{ActiveProtection, ListCheck};

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use rltrade_env::Bar;
use rltrade_exec::{FillOutcome, HaltReason, TargetOrder, TradingState};
use serde::Serialize;

use crate::alerts::Alert;
use crate::broker::client_order_id;
use crate::error::{Error, Result};
use crate::fault;
use crate::halt::DaemonHalt;
use crate::journal::{BarPhase, DAY_MS, EventKind, Journal, JournalMeta, OrderStatus, SyncMode};
use crate::log_text::untrusted;
use crate::metrics::{Metrics, ReasonLabels, StrategyMetrics};
use crate::strategy::{BarOutcome, StrategyRunner, StrategySpec};

/// How the engine journals.
#[derive(Clone, Debug, PartialEq)]
pub struct EngineSettings {
    /// Feed symbol.
    pub symbol: String,
    /// Bar interval, ms.
    pub interval_ms: i64,
    /// Where bars come from (recorded in the journal; a restart must match).
    pub feed: String,
    /// SQLite `synchronous`.
    pub sync: SyncMode,
    /// Traded bars per journal transaction (1 = every bar commits).
    pub bars_per_commit: usize,
    /// The venue's lot step, base units (reconciliation tolerance: max(lot step, 1e-8)).
    pub lot_step: f64,
}

/// A strategy's position as served by `GET /positions`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PositionView {
    /// Strategy.
    pub strategy: String,
    /// Position, base units (signed).
    pub position: f64,
    /// Cash, quote currency.
    pub cash: f64,
    /// Equity at the last close, quote currency.
    pub equity: f64,
    /// Position value / equity at the last close.
    pub exposure: f64,
    /// `ACTIVE`, `REDUCING` or `HALTED`, as the risk check applies it: `HALTED` while the
    /// kill switch is engaged ([`rltrade_exec::RiskManager::effective_state`]), so this
    /// agrees with `/health`'s `halted`; `halt_reason` stays `null` unless a limit halted
    /// the strategy too.
    pub trading_state: TradingState,
    /// True while the kill switch is engaged.
    pub kill_switch: bool,
    /// Why trading halted, if it did (`{"kind": "max_drawdown", ...}`).
    pub halt_reason: Option<HaltReason>,
    /// Target exposure of the order waiting for the next open, if any.
    pub pending_target: Option<f64>,
    /// SHA-256 of the model serving (empty for baselines).
    pub model_sha256: String,
}

/// What `POST /kill` did (its JSON answer).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct KillOutcome {
    /// Always true: the kill switch is engaged in memory before anything is journaled.
    pub kill_switch: bool,
    /// Whether positions are to be closed at the next open.
    pub flatten: bool,
    /// Whether the journal recorded it (false: the daemon halted, see `halt`).
    pub journaled: bool,
    /// The daemon's halt, when it is halted.
    pub halt: Option<DaemonHalt>,
}

/// The engine.
#[derive(Debug)]
pub struct Engine {
    runners: Vec<StrategyRunner>,
    journal: Journal,
    meta: JournalMeta,
    settings: EngineSettings,
    metrics: Arc<Metrics>,
    handles: Vec<StrategyMetrics>,
    started: bool,
    last_bar: Option<Bar>,
    uncommitted: u64,
    feed_stale: bool,
    halt: Option<DaemonHalt>,
    /// The last commit, for `GET /events`; dropped at [`Engine::close`], which ends the
    /// streams.
    commits: Option<tokio::sync::watch::Sender<Committed>>,
    /// Each strategy's protective order list at the exchange, while one may be on the
    /// book ([`protection`]).
    protections: Vec<Option<ActiveProtection>>,
    /// Buffers of the batched inference of strategies sharing a model ([`batch`]).
    batch: batch::BatchBuffers,
}

/// The journal's last commit as `GET /events` announces it: clients then read what
/// changed (`/ab`, `/positions`, …) as of that commit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Committed {
    /// Traded bars committed since the daemon started (`rltrade_bars_committed_total`;
    /// the event's `id`).
    pub bars_committed: u64,
    /// Open time of the last committed bar, ms since epoch UTC (`None` before the first).
    pub last_bar_ms: Option<i64>,
}

impl Engine {
    /// Opens the journal at `path` (taking its lock) and continues as
    /// [`Self::from_journal`].
    ///
    /// # Errors
    /// [`Error::JournalInUse`] while another daemon holds the journal; as
    /// [`Self::from_journal`].
    pub fn open(
        path: &Path,
        settings: EngineSettings,
        runners: Vec<StrategyRunner>,
        metrics: Arc<Metrics>,
    ) -> Result<Self> {
        Self::from_journal(Journal::open(path, settings.sync)?, settings, runners, metrics)
    }

    /// Either starts the opened `journal` for `runners` or, when it holds a run, checks
    /// that `runners` and the feed are the same (by name, in order, with the journal's
    /// model SHA-256 or MA periods each) and restores every account and the policies'
    /// state from it. The runners take the journal's record of their strategy (a
    /// model's reload history); the record takes the path each model was loaded from.
    ///
    /// # Errors
    /// [`Error::Journal`] for a journal of another symbol, interval, feed or strategy
    /// set (naming both), or a corrupt one.
    pub fn from_journal(
        mut journal: Journal,
        settings: EngineSettings,
        mut runners: Vec<StrategyRunner>,
        metrics: Arc<Metrics>,
    ) -> Result<Self> {
        let path = journal.path().to_path_buf();
        let path = path.as_path();
        let specs: Vec<StrategySpec> = runners.iter().map(|r| r.spec.clone()).collect();
        let mut names = std::collections::HashSet::new();
        for spec in &specs {
            if !names.insert(spec.name()) {
                return Err(Error::Config {
                    field: "strategies".into(),
                    message: format!("{} appears twice; strategy names must be unique", spec.name()),
                });
            }
        }
        let meta = match journal.meta()? {
            Some(mut meta) => {
                let refuse = |what: &str, journal_value: String, now: String| Error::Journal {
                    path: path.to_path_buf(),
                    message: format!(
                        "was started with {what} {journal_value}, this daemon has {now}; use a new --journal or the same settings"
                    ),
                };
                if meta.symbol != settings.symbol || meta.interval_ms != settings.interval_ms {
                    return Err(refuse(
                        "feed",
                        format!("{} every {} ms", meta.symbol, meta.interval_ms),
                        format!("{} every {} ms", settings.symbol, settings.interval_ms),
                    ));
                }
                if meta.feed != settings.feed {
                    return Err(refuse("feed", meta.feed.clone(), settings.feed.clone()));
                }
                let same = meta.strategies.len() == specs.len()
                    && meta.strategies.iter().zip(&specs).all(|(journaled, now)| journaled.same_strategy(now));
                if !same {
                    return Err(refuse(
                        "strategies",
                        StrategySpec::describe(&meta.strategies),
                        StrategySpec::describe(&specs),
                    ));
                }
                // the journal's record keeps each model's reload history; its path is
                // where this daemon loaded the model from
                let mut moved = false;
                for (journaled, runner) in meta.strategies.iter_mut().zip(runners.iter_mut()) {
                    if let (StrategySpec::Model { path, .. }, StrategySpec::Model { path: loaded, .. }) =
                        (&mut *journaled, &runner.spec)
                    {
                        if loaded.is_some() && path != loaded {
                            path.clone_from(loaded);
                            moved = true;
                        }
                    }
                    runner.spec = journaled.clone();
                }
                if moved {
                    journal.update_meta(&meta)?;
                }
                meta
            }
            None => {
                let meta = JournalMeta {
                    journal_id: new_journal_id(),
                    symbol: settings.symbol.clone(),
                    interval_ms: settings.interval_ms,
                    strategies: specs,
                    feed: settings.feed.clone(),
                };
                journal.init(&meta)?;
                meta
            }
        };
        let handles = runners.iter().map(|r| metrics.strategy(r.name())).collect();
        let protections = vec![None; runners.len()];
        let mut engine = Self {
            protections,
            handles,
            runners,
            journal,
            meta,
            settings,
            metrics,
            started: false,
            last_bar: None,
            uncommitted: 0,
            feed_stale: false,
            batch: batch::BatchBuffers::default(),
            halt: None,
            commits: Some(tokio::sync::watch::channel(Committed::default()).0),
        };
        engine.restore()?;
        Ok(engine)
    }

    /// Rebuilds the policies' state from the journaled bars and restores each account
    /// (positions, pending order, halts, kill switch).
    fn restore(&mut self) -> Result<()> {
        let bars = self.journal.bars()?;
        if bars.is_empty() {
            return Ok(());
        }
        for (bar, phase) in &bars {
            if *phase == BarPhase::Traded && !self.started {
                self.started = true;
                for runner in &mut self.runners {
                    runner.begin_window();
                }
            }
            for runner in &mut self.runners {
                runner.warm(bar);
            }
        }
        self.last_bar = bars.last().map(|(bar, _)| *bar);
        let mut accounts = self.journal.accounts()?;
        for runner in &mut self.runners {
            if let Some(account) = accounts.remove(runner.name()) {
                // a restart keeps the protective orders the account traded with
                let configured = runner.settings().protect;
                if let Some((field, journaled, config)) = account.protect.differences(&configured).first() {
                    return Err(Error::Config {
                        field: (*field).into(),
                        message: format!(
                            "{} traded with {field} = {journaled} (journal), the config says {config}",
                            runner.name()
                        ),
                    });
                }
                runner.account = account;
            } else if self.started {
                return Err(Error::Journal {
                    path: self.journal.path().to_path_buf(),
                    message: format!("has traded bars but no account for {}", runner.name()),
                });
            }
        }
        self.restore_protections()?;
        let traded = bars.iter().filter(|(_, p)| *p == BarPhase::Traded).count();
        tracing::info!(
            journal = %self.journal.path().display(),
            bars = bars.len(),
            traded,
            "restored from the journal; resuming after the last processed bar"
        );
        self.journal.insert_event(
            self.last_bar.map(|b| b.time_ms),
            None,
            EventKind::Restart,
            "restored from the journal",
        )?;
        self.reconcile()?;
        for i in 0..self.runners.len() {
            self.publish(i);
        }
        Ok(())
    }

    /// Paper reconciliation: each restored account against the journal's fill ledger,
    /// replayed through a fresh `exec` [`rltrade_exec::Portfolio`] (less the borrow fees
    /// the account paid, which are not fills). A quantity difference above
    /// max(lot step, 1e-8) or a cash difference above 0.01 halts the strategy
    /// ([`rltrade_exec::HaltReason::Reconciliation`], journaled, logged, and counted in
    /// `rltrade_reconciliation_mismatches_total`).
    fn reconcile(&mut self) -> Result<()> {
        let fills = self.journal.fills()?;
        let tolerance = self.settings.lot_step.max(1e-8);
        for i in 0..self.runners.len() {
            let name = self.runners[i].name().to_string();
            let account = &self.runners[i].account;
            let mut ledger = rltrade_exec::Portfolio::new(account.portfolio.initial_cash);
            for fill in fills.iter().filter(|f| f.strategy == name) {
                ledger.update_from_fill(&fill.to_fill());
            }
            let (quantity, cash) = (ledger.quantity, ledger.cash - account.portfolio.borrow_fees_paid);
            let (dq, dc) = ((quantity - account.portfolio.quantity).abs(), (cash - account.portfolio.cash).abs());
            if dq > tolerance || dc > 0.01 {
                let message = format!(
                    "journal fills give position {quantity} and cash {cash:.2}, the account has {} and {:.2}: halted",
                    account.portfolio.quantity, account.portfolio.cash
                );
                let reason = rltrade_exec::HaltReason::Reconciliation {
                    against: rltrade_exec::ReconciliationSource::JournalFills,
                    position_diff: quantity - account.portfolio.quantity,
                    cash_diff: cash - account.portfolio.cash,
                };
                self.halt_on_mismatch(i, reason, &message)?;
            }
        }
        Ok(())
    }

    /// Halts strategy `i` for a reconciliation mismatch: logs `message`, counts
    /// `rltrade_reconciliation_mismatches_total`, records `reason` in its risk state and
    /// journals the event (inside the caller's transaction).
    fn halt_on_mismatch(&mut self, i: usize, reason: rltrade_exec::HaltReason, message: &str) -> Result<()> {
        let name = self.runners[i].name().to_string();
        tracing::error!(strategy = %name, "reconciliation: {message}");
        self.handles[i].reconciliation_mismatches.inc();
        self.runners[i].account.risk.halt(reason);
        self.journal.insert_event(self.last_bar.map(|b| b.time_ms), Some(&name), EventKind::Reconciliation, message)
    }

    /// The journal.
    pub fn journal(&self) -> &Journal {
        &self.journal
    }

    /// The last bar fed (warm-up or traded), journaled or in the open transaction.
    pub fn last_bar(&self) -> Option<Bar> {
        self.last_bar
    }

    /// True once the first traded bar was processed.
    pub fn started(&self) -> bool {
        self.started
    }

    /// True while the feed is stale.
    pub fn feed_stale(&self) -> bool {
        self.feed_stale
    }

    /// Why the daemon halted, when it did: it takes no more bars.
    pub fn halt(&self) -> Option<&DaemonHalt> {
        self.halt.as_ref()
    }

    fn refuse_when_halted(&self) -> Result<()> {
        match &self.halt {
            Some(halt) => Err(Error::Halted { halt: halt.clone() }),
            None => Ok(()),
        }
    }

    /// The shared metrics.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// The journal's commits from now on: the current one at once, then each new one
    /// (a slow reader sees only the latest). The channel closes when the engine closes.
    pub fn subscribe_commits(&self) -> Option<tokio::sync::watch::Receiver<Committed>> {
        self.commits.as_ref().map(tokio::sync::watch::Sender::subscribe)
    }

    /// Counts the bars of the transaction just committed and announces the commit.
    fn committed(&mut self) {
        self.metrics.bars_committed.inc_by(self.uncommitted);
        self.uncommitted = 0;
        let update = Committed {
            bars_committed: self.metrics.bars_committed.get(),
            last_bar_ms: self.last_bar.map(|b| b.time_ms),
        };
        if let Some(commits) = &self.commits {
            commits.send_replace(update);
        }
    }

    fn check_order(&self, bar: &Bar) -> Result<()> {
        if let Some(last) = self.last_bar {
            if bar.time_ms <= last.time_ms {
                return Err(Error::Journal {
                    path: self.journal.path().to_path_buf(),
                    message: format!("bar {} is not after the last processed bar {}", bar.time_ms, last.time_ms),
                });
            }
        }
        Ok(())
    }

    /// Feeds a warm-up bar: features and indicators only, journaled as `warmup`.
    ///
    /// # Errors
    /// [`Error::Halted`] once the daemon halted; a bar not after the last one, or SQLite
    /// errors.
    pub fn warm(&mut self, bar: &Bar) -> Result<()> {
        self.refuse_when_halted()?;
        self.check_order(bar)?;
        if self.started {
            return Err(Error::Config { field: "feed".into(), message: "a warm-up bar after trading started".into() });
        }
        self.journal.begin()?;
        self.journal.insert_bar(bar, BarPhase::Warmup)?;
        fault::point(fault::DURING_WARMUP);
        for runner in &mut self.runners {
            runner.warm(bar);
        }
        self.last_bar = Some(*bar);
        Ok(())
    }

    /// Processes a traded bar: every strategy fills its pending order at the open,
    /// marks the close and (when `decide`) decides at the close; then all of it is
    /// journaled, committing every `bars_per_commit` bars. The first traded bar only
    /// marks the starting cash and decides. `arrived` is when the bar was received
    /// (latency metrics).
    ///
    /// Every strategy decides (and has its order risk-checked) before any strategy's
    /// outcome is journaled, so one strategy's journaling never delays another's decision;
    /// strategies sharing a model infer as one batch ([`batch`]).
    /// Nothing reaches a broker before [`Engine::flush`]'s commit or the daemon's send
    /// after it: the journal still records every order before any broker sees it.
    ///
    /// Returns the instant at which every strategy's order of this bar was risk-checked
    /// (the journaling follows it).
    ///
    /// # Errors
    /// [`Error::Halted`] once the daemon halted (nothing is traded); a bar not after the
    /// last one; SQLite errors or a failed decision, after which the engine halts
    /// ([`DaemonHalt::BarFailed`]: nothing of the bar is committed).
    pub fn on_bar(&mut self, bar: &Bar, decide: bool, arrived: Instant) -> Result<Instant> {
        self.refuse_when_halted()?;
        self.check_order(bar)?;
        // a bar that fails half way is never committed in part: the engine halts, which
        // rolls back the open transaction and keeps `close` from committing it
        self.trade_bar(bar, decide, arrived).inspect_err(|e| {
            self.halt_on(DaemonHalt::BarFailed { bar_ms: bar.time_ms, error: e.to_string() });
        })
    }

    fn trade_bar(&mut self, bar: &Bar, decide: bool, arrived: Instant) -> Result<Instant> {
        self.journal.begin()?;
        self.journal.insert_bar(bar, BarPhase::Traded)?;
        if let (true, Some(last)) = (self.started, self.last_bar) {
            let day = |ms: i64| ms.div_euclid(DAY_MS) * DAY_MS;
            if day(bar.time_ms) > day(last.time_ms) {
                let names: Vec<String> = self.runners.iter().map(|r| r.name().to_string()).collect();
                self.journal.insert_daily_summaries(&names, day(last.time_ms), bar.time_ms)?;
            }
        }
        let first = !self.started;
        if first {
            self.started = true;
            for runner in &mut self.runners {
                runner.begin_window();
            }
        }
        let mut prepared = Vec::with_capacity(self.runners.len());
        for runner in &mut self.runners {
            let pending_id = runner.account.pending.map(|p| p.order().id);
            prepared.push((pending_id, runner.prepare(bar, decide, first)?));
        }
        let batched_us = batch::infer_shared_models(&mut self.runners, &prepared, &mut self.batch);
        let mut outcomes = Vec::with_capacity(self.runners.len());
        for ((runner, (pending_id, prepared)), batched_us) in self.runners.iter_mut().zip(prepared).zip(batched_us) {
            outcomes.push((pending_id, runner.conclude(bar, prepared, arrived, batched_us)?));
        }
        let risk_checked = Instant::now();
        for (i, (pending_id, outcome)) in outcomes.iter().enumerate() {
            if outcome.fill.is_some() {
                fault::point(fault::FILL_APPLIED_BEFORE_JOURNAL);
            }
            self.record(i, bar, first, *pending_id, outcome)?;
        }
        self.last_bar = Some(*bar);
        self.metrics.last_bar_ms.set(bar.time_ms);
        self.metrics.bars_processed.inc();
        self.uncommitted += 1;
        if self.uncommitted >= self.settings.bars_per_commit as u64 {
            self.flush()?;
        }
        Ok(risk_checked)
    }

    fn record(
        &mut self,
        i: usize,
        bar: &Bar,
        first: bool,
        pending_id: Option<u64>,
        outcome: &BarOutcome,
    ) -> Result<()> {
        let runner = &self.runners[i];
        let name = runner.name();
        let handles = &self.handles[i];
        if let (Some(fill), Some(order_id)) = (&outcome.fill, pending_id) {
            self.journal.insert_fill_outcome(name, order_id, fill)?;
            if matches!(fill, FillOutcome::Filled { .. }) {
                handles.fills.inc();
            }
        }
        if let Some(exit) = &outcome.protective {
            let client_id = client_order_id(&self.meta.journal_id, runner.index, exit.fill.order_id);
            self.journal.insert_protective_exit(name, bar.time_ms, exit, &client_id)?;
            handles.fills.inc();
            handles.orders.inc();
            tracing::info!(strategy = %name, "{} at {}", exit.reason, exit.fill.price);
        }
        if !first {
            // the first traded bar's close is the starting cash, as in the backtest's curve
            self.journal.insert_equity(name, bar.time_ms, &outcome.mark, &runner.account, bar.close)?;
        }
        if let Some(change) = outcome.mark.state_change {
            let message = format!("{:?} → {:?} ({:?})", change.from, change.to, change.halt_reason);
            tracing::warn!(strategy = %name, "trading state {message}");
            self.journal.insert_event(Some(bar.time_ms), Some(name), EventKind::TradingState, &message)?;
        }
        if let Some(signal) = &outcome.signal {
            self.journal.insert_signal(signal)?;
            handles.signals.inc();
            if signal.invalid_output {
                handles.invalid_outputs.inc();
            }
            handles.bar_to_order_latency.observe(signal.latency_us as f64 * 1e-6);
        }
        if let Some(us) = outcome.inference_us {
            handles.inference_latency.observe(us * 1e-6);
        }
        let journal_id = &self.meta.journal_id;
        let index = runner.index;
        if outcome.decision.liquidation.is_some() || outcome.decision.signal.is_some() {
            self.journal
                .insert_decision(name, bar.time_ms, &outcome.decision, |id| client_order_id(journal_id, index, id))?;
        }
        let approved =
            outcome.decision.liquidation.is_some() as u64 + matches!(outcome.decision.signal, Some(Ok(_))) as u64;
        if approved > 0 {
            handles.orders.inc_by(approved);
        }
        if let Some(reason) = outcome.decision.refusal() {
            self.metrics
                .risk_refusals
                .get_or_create(&ReasonLabels { strategy: name.to_string(), reason: reason.name().into() })
                .inc();
        }
        if let Some(Ok(approved)) = &outcome.decision.signal {
            if let Some(clip) = approved.clipped() {
                self.metrics
                    .risk_clips
                    .get_or_create(&ReasonLabels { strategy: name.to_string(), reason: clip.name().into() })
                    .inc();
            }
        }
        self.publish(i);
        Ok(())
    }

    fn publish(&self, i: usize) {
        let (account, handles) = (&self.runners[i].account, &self.handles[i]);
        handles.equity.set(account.portfolio.equity());
        let close = self.last_bar.map_or(0.0, |b| b.close);
        let exposure = if close > 0.0 { account.portfolio.exposure_at(close) } else { 0.0 };
        handles.exposure.set(exposure);
        let halted = account.risk.effective_state() == TradingState::Halted;
        handles.halted.set(i64::from(halted));
    }

    /// Commits the open transaction with every account as of the last bar: its bars
    /// count as committed (`rltrade_bars_committed_total`). A halted daemon has nothing to commit.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn flush(&mut self) -> Result<()> {
        if !self.journal.in_transaction() || self.halt.is_some() {
            return Ok(());
        }
        if let Some(bar) = self.last_bar {
            for runner in &self.runners {
                self.journal.save_account(runner.name(), bar.time_ms, &runner.account)?;
            }
        }
        fault::point(fault::BEFORE_COMMIT);
        self.journal.commit()?;
        fault::point(fault::AFTER_COMMIT);
        if self.runners.iter().any(|r| r.account.pending.is_some()) {
            fault::point(fault::ORDER_JOURNALED_BEFORE_FILL);
        }
        self.committed();
        Ok(())
    }

    /// `POST /kill`: engages every strategy's kill switch and cancels its pending
    /// order; with `flatten`, queues a liquidation of every position for the next open.
    /// This happens in memory first, so nothing trades from here on whatever the
    /// journal does; then all of it is journaled, with the bars not yet committed, in
    /// one transaction. When the journal refuses (a full disk, an I/O error) that
    /// transaction is rolled back, every strategy halts
    /// ([`HaltReason::JournalUnwritable`]) and the daemon halts
    /// ([`DaemonHalt::KillNotJournaled`]): it takes no more bars.
    pub fn kill(&mut self, flatten: bool) -> KillOutcome {
        let bar = self.last_bar;
        let mut cancelled = Vec::new();
        let mut liquidations = Vec::new();
        for (i, runner) in self.runners.iter_mut().enumerate() {
            runner.account.risk.engage_kill_switch();
            if let Some(order) = runner.account.cancel_pending() {
                cancelled.push((i, order.order().id));
            }
            if let (true, Some(bar)) = (flatten, bar) {
                if let Some(order) = runner.account.liquidate(bar.time_ms, bar.close) {
                    liquidations.push((i, order));
                }
            }
            let message = if flatten { "kill switch engaged; flattening" } else { "kill switch engaged" };
            tracing::warn!(strategy = %runner.name(), "{message}");
        }
        for i in 0..self.runners.len() {
            self.publish(i);
        }
        let journaled = self.halt.is_none()
            && match self.journal_kill(flatten, &cancelled, &liquidations) {
                Ok(()) => true,
                Err(e) => {
                    self.halt_on(DaemonHalt::KillNotJournaled { flatten, error: e.to_string() });
                    false
                }
            };
        KillOutcome { kill_switch: true, flatten, journaled, halt: self.halt.clone() }
    }

    /// Journals a kill already applied in memory: the cancelled orders, the
    /// liquidations, one event per strategy and every account, committed with the bars
    /// still uncommitted.
    fn journal_kill(
        &mut self,
        flatten: bool,
        cancelled: &[(usize, u64)],
        liquidations: &[(usize, TargetOrder)],
    ) -> Result<()> {
        self.journal.begin()?;
        let bar_ms = self.last_bar.map(|b| b.time_ms);
        for &(i, order_id) in cancelled {
            let name = self.runners[i].name().to_string();
            self.journal.set_order_status(&name, order_id, OrderStatus::Cancelled, Some("kill switch"))?;
        }
        for &(i, order) in liquidations {
            let runner = &self.runners[i];
            let decision = rltrade_exec::Decision { liquidation: Some(order), signal: None };
            let (journal_id, index) = (&self.meta.journal_id, runner.index);
            let decided_ms = bar_ms.unwrap_or(order.decided_at_ms);
            self.journal
                .insert_decision(runner.name(), decided_ms, &decision, |id| client_order_id(journal_id, index, id))?;
        }
        let message = if flatten { "kill switch engaged; flattening" } else { "kill switch engaged" };
        for runner in &self.runners {
            self.journal.insert_event(bar_ms, Some(runner.name()), EventKind::Kill, message)?;
        }
        self.save_accounts_and_commit()
    }

    /// Halts the daemon after its journal or a bar failed: rolls back the open
    /// transaction, halts every strategy ([`HaltReason::JournalUnwritable`]: its state
    /// in memory is ahead of the journal) and takes no more bars.
    fn halt_on(&mut self, halt: DaemonHalt) {
        self.journal.rollback();
        // the rolled-back bars were never committed: they do not count as committed
        self.uncommitted = 0;
        for runner in &mut self.runners {
            runner.account.risk.halt(HaltReason::JournalUnwritable);
        }
        for i in 0..self.runners.len() {
            self.publish(i);
        }
        tracing::error!("halted: {halt}");
        // best effort: the journal that failed may refuse this too
        let alert = Alert::DaemonHalted { reason: halt.to_string() };
        if let Err(e) = self.journal.insert_alert(self.last_bar.map(|b| b.time_ms), &alert) {
            tracing::warn!("the halt's alert is not in the outbox: {e}");
        }
        self.halt = Some(halt);
    }

    /// Ends the daemon's run: commits what is pending ([`Self::flush`]), then ends the
    /// event streams ([`Self::subscribe_commits`]). A halted daemon
    /// commits nothing; after [`DaemonHalt::KillNotJournaled`] it tries once more to
    /// journal the kill switch, into the accounts as of the last committed bar (their
    /// pending orders cancelled, with `flatten` a liquidation at that bar's close), so
    /// that a restart keeps it engaged.
    ///
    /// # Errors
    /// SQLite errors; [`Error::Halted`] when the daemon halted (the log says whether
    /// the kill switch is journaled now).
    pub fn close(&mut self) -> Result<()> {
        let closed = self.close_journal();
        let stopped = Alert::Stopped { halt: self.halt.as_ref().map(ToString::to_string) };
        if let Err(e) = self.journal.insert_alert(self.last_bar.map(|b| b.time_ms), &stopped) {
            tracing::warn!("the stop's alert is not in the outbox: {e}");
        }
        // the event streams end, after the last commit was announced
        self.commits = None;
        closed
    }

    fn close_journal(&mut self) -> Result<()> {
        let Some(halt) = self.halt.clone() else { return self.flush() };
        match &halt {
            DaemonHalt::KillNotJournaled { flatten, .. } => match self.journal_kill_at_exit(*flatten) {
                Ok(()) => tracing::warn!(
                    journal = %self.journal.path().display(),
                    "the kill switch is journaled now (at exit): a restart keeps it engaged"
                ),
                Err(e) => {
                    self.journal.rollback();
                    tracing::error!(
                        journal = %self.journal.path().display(),
                        "the kill switch is still not journaled ({e}): a restart will trade; engage it again \
                         (POST /kill) right after restarting"
                    );
                }
            },
            DaemonHalt::BarFailed { .. } => {}
        }
        Err(Error::Halted { halt })
    }

    /// Journals the kill switch into the saved accounts (see [`Self::close`]).
    fn journal_kill_at_exit(&mut self, flatten: bool) -> Result<()> {
        let mut saved = self.journal.saved_accounts()?;
        let last = self.journal.last_bar()?;
        self.journal.begin()?;
        let message = "kill switch engaged; journaled at exit, after the journal had refused it";
        for runner in &self.runners {
            let name = runner.name();
            let Some((bar_ms, mut account)) = saved.remove(name) else { continue };
            account.risk.engage_kill_switch();
            if let Some(cancelled) = account.cancel_pending() {
                self.journal.set_order_status(
                    name,
                    cancelled.order().id,
                    OrderStatus::Cancelled,
                    Some("kill switch"),
                )?;
            }
            if let (true, Some(bar)) = (flatten, last) {
                if let Some(order) = account.liquidate(bar.time_ms, bar.close) {
                    let decision = rltrade_exec::Decision { liquidation: Some(order), signal: None };
                    let (journal_id, index) = (&self.meta.journal_id, runner.index);
                    self.journal
                        .insert_decision(name, bar.time_ms, &decision, |id| client_order_id(journal_id, index, id))?;
                }
            }
            self.journal.save_account(name, bar_ms, &account)?;
            self.journal.insert_event(Some(bar_ms), Some(name), EventKind::Kill, message)?;
        }
        self.journal.commit()
    }

    /// `POST /resume`: releases the kill switch and lifts halts and REDUCING (unless
    /// the feed is stale). Committed at once.
    ///
    /// # Errors
    /// [`Error::Halted`] when the daemon halted (only a restart resumes it); SQLite
    /// errors.
    pub fn resume(&mut self) -> Result<()> {
        self.refuse_when_halted()?;
        self.flush()?;
        self.journal.begin()?;
        let bar_ms = self.last_bar.map(|b| b.time_ms);
        for runner in &mut self.runners {
            runner.account.risk.release_kill_switch();
            if !self.feed_stale {
                runner.account.risk.resume();
            }
            self.journal.insert_event(
                bar_ms,
                Some(runner.name()),
                EventKind::Resume,
                "trading resumed by the operator",
            )?;
        }
        self.save_accounts_and_commit()
    }

    /// Saves every account as of the last bar and commits, with any bars still
    /// uncommitted (they count as committed).
    fn save_accounts_and_commit(&mut self) -> Result<()> {
        let bar_ms = self.last_bar.map_or(0, |b| b.time_ms);
        for runner in &self.runners {
            self.journal.save_account(runner.name(), bar_ms, &runner.account)?;
        }
        self.journal.commit()?;
        self.committed();
        for i in 0..self.runners.len() {
            self.publish(i);
        }
        Ok(())
    }

    /// Marks the feed stale (every strategy to REDUCING) or fresh again (REDUCING
    /// lifted back to ACTIVE; halts stay). A halted daemon only notes it.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn set_feed_stale(&mut self, stale: bool) -> Result<()> {
        if stale == self.feed_stale {
            return Ok(());
        }
        self.feed_stale = stale;
        self.metrics.feed_stale.set(i64::from(stale));
        if self.halt.is_some() {
            return Ok(());
        }
        self.flush()?;
        self.journal.begin()?;
        let bar_ms = self.last_bar.map(|b| b.time_ms);
        for runner in &mut self.runners {
            if stale {
                runner.account.risk.set_reducing();
            } else if runner.account.risk.state() == TradingState::Reducing {
                runner.account.risk.resume();
            }
        }
        let message = if stale { "feed stale: trading REDUCING" } else { "feed fresh: trading ACTIVE" };
        tracing::warn!("{message}");
        self.journal.insert_event(bar_ms, None, EventKind::Feed, message)?;
        self.save_accounts_and_commit()
    }

    /// `POST /models/reload`: validates the model at `path` against the feed, warms
    /// its features on every bar so far, and swaps it in for `strategy`. A bad model
    /// leaves the old one serving. The journal's strategy list records the new SHA-256
    /// (a restart must use the new model).
    ///
    /// # Errors
    /// An unknown strategy, a baseline, or the new model's load or validation error;
    /// [`Error::Halted`] when the daemon halted.
    pub fn reload(&mut self, strategy: &str, path: &Path) -> Result<String> {
        self.refuse_when_halted()?;
        let Some(i) = self.runners.iter().position(|r| r.name() == strategy) else {
            return Err(Error::Config {
                field: "strategy".into(),
                message: format!(
                    "no strategy named {} (have {})",
                    untrusted(strategy),
                    self.runners.iter().map(|r| r.name()).collect::<Vec<_>>().join(", ")
                ),
            });
        };
        self.flush()?;
        // every bar so far, from the journal: the engine keeps none in memory (a daemon
        // that runs for years would hold them all)
        let history: Vec<Bar> = self.journal.bars()?.into_iter().map(|(bar, _)| bar).collect();
        self.runners[i].reload(path, &history)?;
        let sha = self.runners[i].model_sha256().to_string();
        self.meta.strategies[i] = self.runners[i].spec.clone();
        self.journal.update_meta(&self.meta)?;
        let message = format!("model reloaded from {} (sha256 {sha})", path.display());
        self.journal.insert_event(self.last_bar.map(|b| b.time_ms), Some(strategy), EventKind::Reload, &message)?;
        tracing::info!(strategy, "{}", untrusted(&message));
        Ok(sha)
    }

    /// The journal's id (part of every client order id and alert id).
    pub fn journal_id(&self) -> &str {
        &self.meta.journal_id
    }

    /// Writes the [`Alert::Started`] of this start to the outbox (committed with the
    /// open transaction, or at once).
    ///
    /// # Errors
    /// SQLite errors.
    pub fn announce_start(&mut self) -> Result<()> {
        let alert = Alert::Started {
            symbol: self.settings.symbol.clone(),
            strategies: self.runners.iter().map(|r| r.name().to_string()).collect(),
            feed: self.settings.feed.clone(),
        };
        self.journal.insert_alert(self.last_bar.map(|b| b.time_ms), &alert)
    }

    /// Every strategy's position.
    pub fn positions(&self) -> Vec<PositionView> {
        let close = self.last_bar.map_or(0.0, |b| b.close);
        self.runners
            .iter()
            .map(|r| {
                let a = &r.account;
                PositionView {
                    strategy: r.name().to_string(),
                    position: a.portfolio.quantity,
                    cash: a.portfolio.cash,
                    equity: if close > 0.0 { a.portfolio.equity_at(close) } else { a.portfolio.cash },
                    exposure: if close > 0.0 { a.portfolio.exposure_at(close) } else { 0.0 },
                    trading_state: a.risk.effective_state(),
                    kill_switch: a.risk.kill_switch_engaged(),
                    halt_reason: a.risk.halt_reason(),
                    pending_target: a.pending.map(|p| p.order().target_exposure),
                    model_sha256: r.model_sha256().to_string(),
                }
            })
            .collect()
    }

    /// Accounts by strategy name (reconciliation, tests).
    pub fn accounts(&self) -> HashMap<String, rltrade_exec::Account> {
        self.runners.iter().map(|r| (r.name().to_string(), r.account.clone())).collect()
    }
}

/// 8 hex characters from the clock and the process id: unique enough per journal
/// (client order ids carry it).
fn new_journal_id() -> String {
    use sha2::{Digest, Sha256};
    let seed = format!("{:?}{}", std::time::SystemTime::now(), std::process::id());
    hex::encode(&Sha256::digest(seed.as_bytes())[..4])
}

/// An order on its way to an exchange broker.
#[derive(Clone, Debug, PartialEq)]
pub struct OutboundOrder {
    /// Index of the strategy.
    pub runner: usize,
    /// The approved target order.
    pub order: rltrade_exec::TargetOrder,
    /// What the exchange receives.
    pub request: crate::broker::OrderRequest,
}

impl Engine {
    /// The approved orders an exchange broker must send (journaled and committed
    /// already), each resolved into a market quantity at its decision's reference price
    /// (the fill model's sizing, without slippage). An order that would not trade is
    /// closed as `no_fill`.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn outbound_orders(&mut self, symbol: &str) -> Result<Vec<OutboundOrder>> {
        let mut out = Vec::new();
        if self.halt.is_some() {
            // the kill cancelled every pending order, and a halted daemon journals nothing
            return Ok(out);
        }
        for i in 0..self.runners.len() {
            let runner = &self.runners[i];
            let Some(approved) = runner.account.pending else { continue };
            let order = *approved.order();
            let name = runner.name().to_string();
            match runner.simulator().resolve_quantity(&approved, &runner.account.portfolio, order.reference_price) {
                Ok(market) => out.push(OutboundOrder {
                    runner: i,
                    order,
                    request: crate::broker::OrderRequest {
                        client_order_id: client_order_id(&self.meta.journal_id, runner.index, order.id),
                        symbol: symbol.to_string(),
                        side: market.side,
                        quantity: market.quantity,
                        reference_price: order.reference_price,
                    },
                }),
                Err(reason) => {
                    self.runners[i].account.pending = None;
                    self.journal.begin()?;
                    self.journal.set_order_status(
                        &name,
                        order.id,
                        OrderStatus::NoFill,
                        Some(&format!("{reason:?}")),
                    )?;
                    // its list came off the book before it: the position needs one again
                    self.protect_position(i, order.id)?;
                    self.save_accounts_and_commit()?;
                }
            }
        }
        Ok(out)
    }

    /// Applies what the exchange did with `outbound`, committed at once: a fill goes
    /// into the account and the journal; a rejection closes the order; an order still
    /// open stays pending. `None` (fate unknown after the broker's own query) halts the
    /// strategy and keeps the order pending: a restart re-sends it under the same client
    /// order id once the broker has looked it up and found the exchange without it.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn apply_outcome(
        &mut self,
        outbound: &OutboundOrder,
        outcome: Option<&crate::broker::OrderOutcome>,
        error: Option<&str>,
    ) -> Result<()> {
        use crate::broker::OrderOutcome;
        let i = outbound.runner;
        let name = self.runners[i].name().to_string();
        let order_id = outbound.order.id;
        let bar_ms = self.last_bar.map(|b| b.time_ms);
        if let Some(halt) = &self.halt {
            // what the exchange did stays true; the journal cannot record it
            tracing::error!(strategy = %name, "order {}: {outcome:?} not journaled: {halt}", outbound.request.client_order_id);
            return Ok(());
        }
        self.journal.begin()?;
        match outcome {
            Some(OrderOutcome::Filled { quantity, price, fee, time_ms }) => {
                let fill = rltrade_exec::Fill {
                    order_id,
                    time_ms: *time_ms,
                    side: outbound.request.side,
                    quantity: *quantity,
                    price: *price,
                    reference_price: outbound.order.reference_price,
                    fee: *fee,
                };
                self.runners[i].account.apply_fill(&fill);
                self.journal.insert_fill(&name, &fill)?;
                self.handles[i].fills.inc();
                // the position's stop and take-profit, journaled before they are sent
                self.protect_position(i, order_id)?;
            }
            Some(OrderOutcome::Rejected { code, message }) => {
                self.runners[i].account.pending = None;
                let reason = format!("{code}: {message}");
                self.journal.set_order_status(&name, order_id, OrderStatus::Rejected, Some(&reason))?;
                self.journal.insert_event(bar_ms, Some(&name), EventKind::OrderRejected, &reason)?;
                tracing::warn!(
                    strategy = %name,
                    "order {} rejected: {}",
                    outbound.request.client_order_id,
                    untrusted(&reason)
                );
            }
            Some(OrderOutcome::Open) => {
                self.journal.set_order_status(&name, order_id, OrderStatus::Open, None)?;
            }
            Some(OrderOutcome::RefusedByFilter(refusal)) => {
                self.runners[i].account.pending = None;
                let reason = format!("not sent: {refusal}");
                self.journal.set_order_status(&name, order_id, OrderStatus::Rejected, Some(&reason))?;
                self.journal.insert_event(bar_ms, Some(&name), EventKind::OrderRejected, &reason)?;
                tracing::warn!(strategy = %name, "order {}: {reason}", outbound.request.client_order_id);
            }
            None => {
                let reason = error.unwrap_or("fate unknown");
                self.runners[i].account.risk.halt(rltrade_exec::HaltReason::OrderUnknown { order_id });
                self.journal.set_order_status(&name, order_id, OrderStatus::Unknown, Some(reason))?;
                let message = format!("order {}: {reason}; halted until resumed", outbound.request.client_order_id);
                self.journal.insert_event(bar_ms, Some(&name), EventKind::OrderUnknown, &message)?;
                tracing::error!(strategy = %name, "{}", untrusted(&message));
            }
        }
        if matches!(outcome, Some(OrderOutcome::Rejected { .. } | OrderOutcome::RefusedByFilter(_))) {
            // a refused order leaves the position as it was, and its list came off the
            // book before it: protect it again (an order of unknown fate waits for the
            // restart that settles it)
            self.protect_position(i, order_id)?;
        }
        self.save_accounts_and_commit()
    }

    /// Exchange reconciliation of a one-strategy daemon: the account's position against
    /// the base balance (free + locked) and its cash against the quote balance. A
    /// difference above max(lot step, 1e-8) base or 0.01 quote halts the strategy
    /// (journaled, logged, `rltrade_reconciliation_mismatches_total`). The exchange
    /// account must hold exactly what the daemon trades: `execution.initial_cash` of the
    /// quote asset and no base asset when the journal starts.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn reconcile_balances(&mut self, base: f64, quote: f64) -> Result<bool> {
        let tolerance = self.settings.lot_step.max(1e-8);
        let mut agreed = true;
        for i in 0..self.runners.len() {
            let portfolio = self.runners[i].account.portfolio;
            let (dq, dc) = ((portfolio.quantity - base).abs(), (portfolio.cash - quote).abs());
            if dq > tolerance || dc > 0.01 {
                agreed = false;
                let message = format!(
                    "exchange balances {base} base / {quote:.2} quote, the journal's account {} / {:.2}: halted",
                    portfolio.quantity, portfolio.cash
                );
                let reason = rltrade_exec::HaltReason::Reconciliation {
                    against: rltrade_exec::ReconciliationSource::ExchangeBalances,
                    position_diff: base - portfolio.quantity,
                    cash_diff: quote - portfolio.cash,
                };
                self.journal.begin()?;
                self.halt_on_mismatch(i, reason, &message)?;
                self.save_accounts_and_commit()?;
            }
        }
        Ok(agreed)
    }
}
