//! The engine's side of protective orders held by an exchange: after an entry fills at
//! the exchange, the position's stop and take-profit become one OCO order list,
//! journaled (`protections`, status `pending`) in the fill's own transaction, before the
//! daemon sends it. What the exchange then does with the list comes back here:
//!
//! - placed: `placed`;
//! - refused (a level the price has already crossed, `-2010`) or impossible under the
//!   symbol's filters: the position is closed at market at once (a liquidation, sent in
//!   the same round), with the reason journaled; a position under the lot minimum (the
//!   dust a rounded-down sell leaves) can be neither protected nor sold, and is left,
//!   journaled;
//! - a leg executed: the account takes the fill with its reason (`stop_loss`,
//!   `trailing_stop` or `take_profit`), journaled as a protective exit under the leg's
//!   client id; the other leg's expiry is recorded in the list's status. A leg executed
//!   in part (Binance then expires the other leg, the list going on) is cancelled, its
//!   execution taken, and the rest of the position protected by a new list;
//! - cancelled by the daemon (before any order of that strategy is sent, so a signal
//!   exit never meets base locked by its own list): `cancelled`, unless a leg executed
//!   first, which is then taken as above;
//! - cancelled or expired at the exchange while the position is open: replaced by a new
//!   list under the next replacement's ids, and journaled as an event.
//!
//! The ids of a list derive from the entry order's client id
//! ([`crate::broker::protection_client_ids`]); a `pending` list is sent again (at the
//! next bar, or after a restart) only once the exchange, asked by that id, has none.

use rltrade_exec::{ExitReason, Side};

use super::Engine;
use crate::binance::filters::FilterRefusal;
use crate::broker::{
    ListStatus, OrderOutcome, ProtectionList, ProtectionOutcome, ProtectionRequest, client_order_id,
    protection_client_ids,
};
use crate::error::Result;
use crate::journal::{EventKind, ProtectionStatus};
use crate::log_text::untrusted;

/// A strategy's protection that may be on the exchange's book.
#[derive(Clone, Debug, PartialEq)]
pub struct ActiveProtection {
    /// The entry order whose fill it protects.
    pub entry_order_id: u64,
    /// Replacements before this list (0: the entry's first).
    pub replacement: u32,
    /// What is (or is to be) on the book.
    pub request: ProtectionRequest,
    /// `pending` (journaled, not answered) or `placed`.
    pub status: ProtectionStatus,
    /// The list this one replaces (a trailing stop moved), still to cancel before this
    /// one is sent.
    pub replaces: Option<ProtectionRequest>,
    /// A poll found a leg executed in part while the list is still executing (Binance
    /// then expires the other leg): the list is to be cancelled, its execution taken and
    /// the rest of the position protected again.
    pub settle: bool,
}

/// Why the engine reads a list's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListCheck {
    /// The daemon's poll at a bar (or at start): a list ended without an execution was
    /// ended outside the daemon, and is replaced.
    Poll,
    /// The daemon cancelled it before sending an order of the strategy.
    Cancelled,
    /// The daemon cancelled it after a leg executed in part: the execution is taken and
    /// the rest of the position protected again under the next ids.
    Settle,
}

impl Engine {
    /// Restores the protections still active in the journal (status `pending` or
    /// `placed`), one per strategy at most.
    pub(super) fn restore_protections(&mut self) -> Result<()> {
        for row in self.journal.protections(&self.settings.symbol)? {
            let Some(i) = self.runners.iter().position(|r| r.name() == row.strategy) else { continue };
            if !row.status.is_active() {
                continue;
            }
            // two active lists: the later replaces the earlier, which a crash left on the book
            let replaces = self.protections[i].take().map(|earlier| earlier.request);
            self.protections[i] = Some(ActiveProtection {
                entry_order_id: row.entry_order_id,
                replacement: row.replacement,
                request: row.request,
                status: row.status,
                replaces,
                settle: false,
            });
        }
        Ok(())
    }

    /// After a fill of order `entry_order_id` at the exchange (inside its journal
    /// transaction): when the account holds a position with a stop and a take-profit and
    /// no list protects it, journals a new list for it (`pending`).
    pub(super) fn protect_position(&mut self, i: usize, entry_order_id: u64) -> Result<()> {
        if let Some(active) = &self.protections[i] {
            if active.status == ProtectionStatus::Pending && active.replaces.is_none() {
                // never sent, and made stale by this fill
                let reason = format!("superseded by the fill of order {entry_order_id} before it was sent");
                self.set_protection(i, ProtectionStatus::Cancelled, Some(&reason))?;
            } else {
                // on the book (its cancel before the order failed): left as it is
                return Ok(());
            }
        }
        self.journal_new_protection(i, entry_order_id, 0)
    }

    /// Journals a new list for runner `i`'s position under the ids of the entry order
    /// `entry_order_id` and `replacement`; nothing when the account has no position or
    /// no levels. A list still active becomes the one the new list replaces.
    fn journal_new_protection(&mut self, i: usize, entry_order_id: u64, replacement: u32) -> Result<()> {
        let account = &self.runners[i].account;
        let quantity = account.portfolio.quantity;
        let Some(levels) = account.levels.filter(|_| quantity != 0.0) else { return Ok(()) };
        let (Some(stop), Some(take_profit)) = (levels.stop, levels.take_profit) else { return Ok(()) };
        let entry = client_order_id(&self.meta.journal_id, self.runners[i].index, entry_order_id);
        let [list, stop_id, take_profit_id] = protection_client_ids(&entry, replacement);
        let request = ProtectionRequest {
            list_client_order_id: list,
            stop_client_order_id: stop_id,
            take_profit_client_order_id: take_profit_id,
            symbol: self.settings.symbol.clone(),
            long: quantity > 0.0,
            quantity: quantity.abs(),
            stop,
            take_profit,
        };
        let name = self.runners[i].name().to_string();
        let bar_ms = self.last_bar.map(|b| b.time_ms);
        self.journal.insert_protection(&name, entry_order_id, replacement, bar_ms, &request)?;
        let replaces = self.protections[i].take().map(|old| old.request);
        self.protections[i] = Some(ActiveProtection {
            entry_order_id,
            replacement,
            request,
            status: ProtectionStatus::Pending,
            replaces,
            settle: false,
        });
        Ok(())
    }

    /// At a close where the trailing rule moved a position's stop past the one on the
    /// book: journals the replacement list (`pending`, the next replacement's ids, the
    /// new stop and the same take-profit) first, committed; the daemon then cancels the
    /// old list ([`Self::protections_to_replace`]) and places the new one. Between the
    /// cancel and the placement no stop is on the book (two requests' time).
    ///
    /// # Errors
    /// SQLite errors.
    pub fn trail_protections(&mut self) -> Result<()> {
        let moved: Vec<usize> = (0..self.runners.len())
            .filter(|&i| {
                let Some(active) = self.protections[i].as_ref().filter(|a| a.status == ProtectionStatus::Placed) else {
                    return false;
                };
                let levels = self.runners[i].account.levels;
                levels.and_then(|l| l.stop.map(|stop| (stop - active.request.stop) * l.sign > 0.0)).unwrap_or(false)
            })
            .collect();
        if moved.is_empty() || self.halt.is_some() {
            return Ok(());
        }
        self.journal.begin()?;
        for i in moved {
            let Some(active) = self.protections[i].clone() else { continue };
            self.journal_new_protection(i, active.entry_order_id, active.replacement + 1)?;
        }
        self.save_accounts_and_commit()
    }

    /// The lists replaced by a newer one, to cancel first: `(strategy index, old list
    /// client id)`.
    pub fn protections_to_replace(&self) -> Vec<(usize, String)> {
        self.protections
            .iter()
            .enumerate()
            .filter_map(|(i, p)| p.as_ref()?.replaces.as_ref().map(|old| (i, old.list_client_order_id.clone())))
            .collect()
    }

    /// Applies the final state of the list runner `i`'s new list replaces (the answer to
    /// its cancel): cancelled, the new list may go; a leg that executed first is taken as
    /// a protective exit, and the new list is cancelled unsent. Committed at once.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn apply_replaced_list(&mut self, i: usize, old: &ProtectionList) -> Result<()> {
        let Some(new) = self.protections[i].clone() else { return Ok(()) };
        let Some(replaced) = new.replaces.filter(|r| r.list_client_order_id == old.list_client_order_id) else {
            return Ok(());
        };
        if old.status == ListStatus::Executing || self.halt.is_some() {
            return Ok(());
        }
        self.journal.begin()?;
        let new_id = &new.request.list_client_order_id;
        if let Some(status) = self.take_execution(i, &replaced, old)? {
            let reason = format!("executed before its replacement {new_id}");
            self.journal.set_protection_status(&old.list_client_order_id, status, Some(&reason))?;
            let reason = format!("{} executed before it was replaced", old.list_client_order_id);
            self.set_protection(i, ProtectionStatus::Cancelled, Some(&reason))?;
        } else {
            let reason = format!("replaced by {new_id}");
            self.journal.set_protection_status(
                &old.list_client_order_id,
                ProtectionStatus::Cancelled,
                Some(&reason),
            )?;
            if let Some(active) = self.protections[i].as_mut() {
                active.replaces = None;
            }
        }
        self.save_accounts_and_commit()
    }

    /// The lists journaled and not yet answered, to send (once the list each replaces is
    /// off the book): `(strategy index, request)`.
    pub fn protections_to_place(&self) -> Vec<(usize, ProtectionRequest)> {
        self.active_protections(ProtectionStatus::Pending)
            .filter(|(_, p)| p.replaces.is_none())
            .map(|(i, p)| (i, p.request.clone()))
            .collect()
    }

    /// The lists on the book, to poll: `(strategy index, list client id)`.
    pub fn protections_on_book(&self) -> Vec<(usize, String)> {
        self.active_protections(ProtectionStatus::Placed)
            .map(|(i, p)| (i, p.request.list_client_order_id.clone()))
            .collect()
    }

    /// The lists to cancel before the strategy's pending order is sent: `(strategy
    /// index, list client id)`.
    pub fn protections_to_cancel(&self) -> Vec<(usize, String)> {
        self.protections_on_book().into_iter().filter(|(i, _)| self.runners[*i].account.pending.is_some()).collect()
    }

    /// The lists a poll found executed in part, to cancel and settle
    /// ([`ListCheck::Settle`]): `(strategy index, list client id)`.
    pub fn protections_to_settle(&self) -> Vec<(usize, String)> {
        self.active_protections(ProtectionStatus::Placed)
            .filter(|(_, p)| p.settle)
            .map(|(i, p)| (i, p.request.list_client_order_id.clone()))
            .collect()
    }

    fn active_protections(&self, status: ProtectionStatus) -> impl Iterator<Item = (usize, &ActiveProtection)> {
        self.protections
            .iter()
            .enumerate()
            .filter_map(move |(i, p)| p.as_ref().filter(|p| p.status == status).map(|p| (i, p)))
    }

    /// Applies what the exchange did with runner `i`'s pending list: `Ok(outcome)` from
    /// the broker, or `Err(message)` when the request failed (the list stays pending and
    /// is asked for again at the next bar, by its id first: see
    /// [`crate::broker::exchange::ExchangeBroker::place_protection`]). Committed at once.
    /// Returns true when it queued a liquidation to send now (the list was refused).
    ///
    /// # Errors
    /// SQLite errors.
    pub fn apply_protection_outcome(
        &mut self,
        i: usize,
        outcome: std::result::Result<&ProtectionOutcome, &str>,
    ) -> Result<bool> {
        let Some(active) = self.protections[i].clone() else { return Ok(false) };
        let list = active.request.list_client_order_id.clone();
        let name = self.runners[i].name().to_string();
        if let Some(halt) = &self.halt {
            tracing::error!(strategy = %name, "order list {list}: {outcome:?} not journaled: {halt}");
            return Ok(false);
        }
        let bar_ms = self.last_bar.map(|b| b.time_ms);
        self.journal.begin()?;
        let mut liquidating = false;
        match outcome {
            Ok(ProtectionOutcome::Placed(placed)) => {
                self.set_protection(i, ProtectionStatus::Placed, None)?;
                // a leg may have executed already (found by the query after a lost answer)
                self.take_list_state(i, placed, ListCheck::Poll)?;
            }
            Ok(ProtectionOutcome::Rejected { code, message }) => {
                let reason = format!("{code}: {message}");
                self.set_protection(i, ProtectionStatus::Rejected, Some(&reason))?;
                liquidating = self.close_unprotected(i, &format!("order list {list} rejected ({reason})"))?;
            }
            Ok(ProtectionOutcome::RefusedByFilter(refusal)) => {
                let reason = format!("not sent: {refusal}");
                self.set_protection(i, ProtectionStatus::Refused, Some(&reason))?;
                if matches!(refusal, FilterRefusal::BelowMinQty { .. }) {
                    // dust under the lot minimum (what rounding down a sell leaves): no
                    // order can protect it, nor sell it
                    let message = format!("order list {list} {reason}: the position is left unprotected");
                    self.journal.insert_event(bar_ms, Some(&name), EventKind::Protection, &message)?;
                    tracing::info!(strategy = %name, "{}", untrusted(&message));
                } else {
                    liquidating = self.close_unprotected(i, &format!("order list {list} {reason}"))?;
                }
            }
            Err(message) => {
                // still pending: the next round asks the exchange for it by its id first,
                // and sends it only if the exchange has none
                let message = format!("order list {list}: {message}; asked for again at the next bar");
                self.journal.insert_event(bar_ms, Some(&name), EventKind::Protection, &message)?;
                tracing::error!(strategy = %name, "{}", untrusted(&message));
            }
        }
        self.save_accounts_and_commit()?;
        Ok(liquidating)
    }

    /// Applies the state of runner `i`'s list read back from the exchange (a poll, or
    /// the answer to the daemon's cancel). Committed at once.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn apply_list_state(&mut self, i: usize, list: &ProtectionList, check: ListCheck) -> Result<()> {
        if let Some(halt) = &self.halt {
            tracing::error!("order list {}: {list:?} not journaled: {halt}", list.list_client_order_id);
            return Ok(());
        }
        self.journal.begin()?;
        self.take_list_state(i, list, check)?;
        self.save_accounts_and_commit()
    }

    /// [`Self::apply_list_state`] inside an open transaction.
    fn take_list_state(&mut self, i: usize, list: &ProtectionList, check: ListCheck) -> Result<()> {
        let Some(active) = self.protections[i].clone() else { return Ok(()) };
        if active.request.list_client_order_id != list.list_client_order_id {
            return Ok(());
        }
        if list.status == ListStatus::Executing {
            // a leg executed in part (or ended) while the list goes on: settle it
            let partial = [&list.stop, &list.take_profit]
                .iter()
                .any(|leg| leg.status.is_final() || matches!(leg.outcome, OrderOutcome::Filled { .. }));
            if let (true, Some(active)) = (partial, self.protections[i].as_mut()) {
                active.settle = true;
            }
            return Ok(());
        }
        let name = self.runners[i].name().to_string();
        let bar_ms = self.last_bar.map(|b| b.time_ms);
        let levels = self.runners[i].account.levels;
        if let Some(status) = self.take_execution(i, &active.request, list)? {
            let other = if status == ProtectionStatus::StopFilled { &list.take_profit } else { &list.stop };
            let reason = format!("{}: {} {:?}", status, other.client_order_id, other.status);
            self.set_protection(i, status, Some(&reason))?;
            let whole = list.executed().is_some_and(|(_, leg)| leg.status == crate::broker::LegStatus::Filled);
            if !whole && !self.runners[i].account.portfolio.is_flat() {
                // executed in part: the rest keeps the position's levels, on a new list
                self.runners[i].account.levels = levels;
                self.journal_new_protection(i, active.entry_order_id, active.replacement + 1)?;
                let message = format!(
                    "order list {} executed in part; the rest is protected by {}",
                    list.list_client_order_id,
                    self.protections[i].as_ref().map_or("nothing", |p| p.request.list_client_order_id.as_str())
                );
                self.journal.insert_event(bar_ms, Some(&name), EventKind::Protection, &message)?;
                tracing::info!(strategy = %name, "{}", untrusted(&message));
            }
            return Ok(());
        }
        let ended_outside = check == ListCheck::Poll;
        let status = if list.stop.status == crate::broker::LegStatus::Expired {
            ProtectionStatus::Expired
        } else {
            ProtectionStatus::Cancelled
        };
        let why = if ended_outside { "ended at the exchange" } else { "cancelled before an order" };
        self.set_protection(i, status, Some(why))?;
        if ended_outside {
            // the position is still open: protect it again under the next ids
            self.journal_new_protection(i, active.entry_order_id, active.replacement + 1)?;
            let message = format!(
                "order list {} {} ({status}) with the position open; replaced by {}",
                list.list_client_order_id,
                why,
                self.protections[i].as_ref().map_or("nothing (flat)", |p| p.request.list_client_order_id.as_str())
            );
            self.journal.insert_event(bar_ms, Some(&name), EventKind::Protection, &message)?;
            tracing::warn!(strategy = %name, "{}", untrusted(&message));
        }
        Ok(())
    }

    /// Takes the executed leg of `list` (placed as `request`), if one executed, into
    /// runner `i`'s account and the journal: a protective exit with its reason
    /// (`stop_loss`, `trailing_stop` when the trailing rule set the stop, or
    /// `take_profit`) under the leg's client id. Returns the list's final status then.
    fn take_execution(
        &mut self,
        i: usize,
        request: &ProtectionRequest,
        list: &ProtectionList,
    ) -> Result<Option<ProtectionStatus>> {
        let Some((is_stop, leg)) = list.executed() else { return Ok(None) };
        let OrderOutcome::Filled { quantity, price, fee, time_ms } = leg.outcome else { return Ok(None) };
        let name = self.runners[i].name().to_string();
        let (reason, level, status) = if is_stop {
            (self.stop_reason(i, request.stop), request.stop, ProtectionStatus::StopFilled)
        } else {
            (ExitReason::TakeProfit, request.take_profit, ProtectionStatus::TakeProfitFilled)
        };
        let side = if request.long { Side::Sell } else { Side::Buy };
        let account = &mut self.runners[i].account;
        let exit = account.apply_protective_fill(reason, side, quantity, price, fee, level, time_ms);
        let decided_ms = self.last_bar.map_or(time_ms, |b| b.time_ms);
        self.journal.insert_protective_exit(&name, decided_ms, &exit, &leg.client_order_id)?;
        self.handles[i].fills.inc();
        self.handles[i].orders.inc();
        tracing::info!(strategy = %name, "{reason} at {price} (order list {})", list.list_client_order_id);
        Ok(Some(status))
    }

    /// Why a stop at `stop` closed runner `i`'s position
    /// ([`rltrade_exec::ProtectiveLevels::stop_reason`]).
    fn stop_reason(&self, i: usize, stop: f64) -> ExitReason {
        let account = &self.runners[i].account;
        account.levels.map_or(ExitReason::StopLoss, |levels| levels.stop_reason(&account.protect, stop))
    }

    /// Sets runner `i`'s active list's status; an ended list leaves the runner without one.
    fn set_protection(&mut self, i: usize, status: ProtectionStatus, reason: Option<&str>) -> Result<()> {
        let Some(active) = self.protections[i].as_mut() else { return Ok(()) };
        self.journal.set_protection_status(&active.request.list_client_order_id, status, reason)?;
        active.status = status;
        if !status.is_active() {
            self.protections[i] = None;
        }
        Ok(())
    }

    /// A position the exchange will not protect is closed at market: a liquidation
    /// queued now, journaled with `why`. Returns whether one was queued.
    fn close_unprotected(&mut self, i: usize, why: &str) -> Result<bool> {
        let name = self.runners[i].name().to_string();
        let bar = self.last_bar;
        let close = bar.map_or(0.0, |b| b.close);
        let time_ms = bar.map_or(0, |b| b.time_ms);
        let message = format!("{why}: closing the position at market");
        self.journal.insert_event(bar.map(|b| b.time_ms), Some(&name), EventKind::Protection, &message)?;
        tracing::warn!(strategy = %name, "{}", untrusted(&message));
        let runner = &mut self.runners[i];
        let Some(order) = runner.account.liquidate(time_ms, close) else { return Ok(false) };
        let decision = rltrade_exec::Decision { liquidation: Some(order), signal: None };
        let (journal_id, index) = (&self.meta.journal_id, runner.index);
        self.journal.insert_decision(runner.name(), time_ms, &decision, |id| client_order_id(journal_id, index, id))?;
        Ok(true)
    }
}
