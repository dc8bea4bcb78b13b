//! The typed outcome of a risk check: an approved order (a type only the risk check
//! builds, and the only thing brokers and the simulator accept) or a refusal with its reason.

use serde::{Deserialize, Serialize};

/// Why trading is halted.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum HaltReason {
    /// Equity fell more than `limit` (fraction) below the UTC day's starting equity.
    DailyLoss {
        /// The configured limit, fraction.
        limit: f64,
        /// The loss seen, fraction of the day's starting equity.
        loss: f64,
    },
    /// Equity fell more than `limit` (fraction) below its running peak.
    MaxDrawdown {
        /// The configured limit, fraction.
        limit: f64,
        /// The drawdown seen, fraction of the peak.
        drawdown: f64,
    },
    /// An operator halted trading.
    Manual,
    /// A reconciliation found the account off its reference by more than the tolerance.
    Reconciliation {
        /// What the account was checked against.
        against: ReconciliationSource,
        /// The reference's position minus the account's, base units.
        position_diff: f64,
        /// The reference's cash minus the account's, quote currency.
        cash_diff: f64,
    },
    /// An order was sent and what became of it stayed unknown (no answer, and the
    /// broker's own query failed too): nothing trades until an operator resumes.
    OrderUnknown {
        /// The order's id (per account).
        order_id: u64,
    },
    /// The daemon could not write its journal (a full disk, an I/O error) when it had
    /// to record something that stops trading, the kill switch: its state in memory is
    /// ahead of its journal, so nothing trades until it is restarted on a writable one.
    JournalUnwritable,
}

/// What a reconciliation checks an account against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReconciliationSource {
    /// The journal's fills, replayed through a fresh portfolio (paper trading).
    JournalFills,
    /// The exchange's balances (base and quote asset, free + locked).
    ExchangeBalances,
}

/// Why a pre-trade check refused an order. Each variant carries the limit and the
/// value requested, so a journal line explains itself.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RefusalReason {
    /// The kill switch is engaged: nothing trades.
    KillSwitch,
    /// Trading is halted.
    Halted {
        /// Why.
        reason: HaltReason,
    },
    /// The state is REDUCING and the order would not shrink the position.
    ReducingOnly {
        /// Exposure now, fraction of equity (signed).
        current_exposure: f64,
        /// Target exposure requested (signed).
        requested: f64,
    },
    /// A negative target while shorts are not allowed.
    ShortNotAllowed {
        /// Target exposure requested (signed).
        requested: f64,
    },
    /// The position is already at the exposure limit: a clipped order would not trade.
    MaxExposure {
        /// `risk.max_exposure`, fraction of equity.
        limit: f64,
        /// Target exposure requested (signed).
        requested: f64,
    },
    /// The order's estimated notional is above `risk.max_order_notional` (a fat-finger
    /// guard: such an order is refused, not cut down).
    MaxOrderNotional {
        /// `risk.max_order_notional`, quote currency.
        limit: f64,
        /// Estimated notional requested, quote currency.
        requested: f64,
    },
    /// The target is NaN or infinite, or equity is not positive.
    InvalidTarget {
        /// Target exposure requested.
        requested: f64,
    },
    /// A new entry inside the cooldown after a protective exit (`risk.cooldown_bars`).
    Cooldown {
        /// `risk.cooldown_bars`.
        limit: u64,
        /// Bars until entries are allowed again (≥ 1).
        bars_left: u64,
    },
    /// A new entry while the stop-loss guard pauses entries.
    StopLossGuard {
        /// `risk.stoploss_guard_trades`: the stop-outs that trip the guard.
        stop_outs: u64,
        /// `risk.stoploss_guard_lookback_bars`.
        lookback_bars: u64,
        /// Bars until entries are allowed again (≥ 1).
        bars_left: u64,
    },
    /// A new entry over the order-rate limit (`risk.max_orders` per
    /// `risk.max_orders_window_bars`).
    OrderRate {
        /// `risk.max_orders`.
        limit: u64,
        /// `risk.max_orders_window_bars`.
        window_bars: u64,
        /// Orders already in the window.
        orders: u64,
    },
    /// A new entry before the VaR limit (`risk.max_var_95`) has its history: fewer than
    /// `risk.var_lookback` close-to-close returns were seen.
    VarWarmup {
        /// `risk.var_lookback`, bars (returns).
        lookback_bars: u64,
        /// Returns seen so far (< `lookback_bars`).
        returns: u64,
    },
    /// An increase of the position that the VaR limit would scale down to the current
    /// exposure or below: the scaled order would not trade (the limit never shrinks an
    /// open position).
    MaxVar {
        /// `risk.max_var_95`, fraction of equity.
        limit: f64,
        /// The asset's one-bar 95% historical VaR, a loss fraction of its price.
        var_95: f64,
        /// Target exposure requested (signed).
        requested: f64,
    },
}

impl RefusalReason {
    /// A short snake_case name for metrics and logs (`kill_switch`, `max_exposure`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            RefusalReason::KillSwitch => "kill_switch",
            RefusalReason::Halted { .. } => "halted",
            RefusalReason::ReducingOnly { .. } => "reducing_only",
            RefusalReason::ShortNotAllowed { .. } => "short_not_allowed",
            RefusalReason::MaxExposure { .. } => "max_exposure",
            RefusalReason::MaxOrderNotional { .. } => "max_order_notional",
            RefusalReason::InvalidTarget { .. } => "invalid_target",
            RefusalReason::Cooldown { .. } => "cooldown",
            RefusalReason::StopLossGuard { .. } => "stoploss_guard",
            RefusalReason::OrderRate { .. } => "order_rate",
            RefusalReason::VarWarmup { .. } => "var_warmup",
            RefusalReason::MaxVar { .. } => "max_var",
        }
    }
}

/// Which limit clipped an approved order.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ClipReason {
    /// |target| was above `risk.max_exposure`.
    MaxExposure {
        /// The limit, fraction of equity.
        limit: f64,
        /// The target asked for.
        requested: f64,
    },
    /// A new entry's |target| × the asset's one-bar 95% historical VaR was above
    /// `risk.max_var_95`: |target| was scaled down to `limit / var_95` (not below the
    /// current exposure when the entry adds to a position on the same side).
    MaxVar {
        /// `risk.max_var_95`, fraction of equity.
        limit: f64,
        /// The asset's one-bar 95% historical VaR over `risk.var_lookback` returns, a
        /// loss fraction of its price (> 0).
        var_95: f64,
        /// The target asked for (signed), before any clipping.
        requested: f64,
    },
}

impl ClipReason {
    /// A short snake_case name for metrics and logs (`max_exposure`, `max_var`).
    pub fn name(&self) -> &'static str {
        match self {
            ClipReason::MaxExposure { .. } => "max_exposure",
            ClipReason::MaxVar { .. } => "max_var",
        }
    }

    /// The target exposure asked for before clipping (signed fraction of equity).
    pub fn requested(&self) -> f64 {
        match *self {
            ClipReason::MaxExposure { requested, .. } | ClipReason::MaxVar { requested, .. } => requested,
        }
    }
}

/// An order that passed the pre-trade risk check, possibly clipped. Only
/// [`crate::risk::RiskManager`] can build one; brokers and the simulator take nothing else.
/// It deserializes only so a journaled or checkpointed pending order can be restored.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct RiskApproved<T> {
    order: T,
    clipped: Option<ClipReason>,
}

impl<T> RiskApproved<T> {
    pub(crate) fn new(order: T, clipped: Option<ClipReason>) -> Self {
        Self { order, clipped }
    }

    /// The approved (possibly clipped) order.
    pub fn order(&self) -> &T {
        &self.order
    }

    /// The limit that clipped the order, if any.
    pub fn clipped(&self) -> Option<ClipReason> {
        self.clipped
    }

    /// Gives the order back (for journaling); it cannot be approved again without a check.
    pub fn into_inner(self) -> T {
        self.order
    }
}

/// An order the risk check refused, with the reason.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct RiskRefused<T> {
    /// The order as it was requested.
    pub order: T,
    /// Why it was refused.
    pub reason: RefusalReason,
}

/// The outcome of a pre-trade check.
pub type RiskDecision<T> = Result<RiskApproved<T>, RiskRefused<T>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn halt_reasons_keep_the_spellings_journals_hold() {
        // the forms saved accounts have held since before Reconciliation and OrderUnknown
        let old = [
            (r#"{"kind":"daily_loss","limit":0.05,"loss":0.06}"#, HaltReason::DailyLoss { limit: 0.05, loss: 0.06 }),
            (
                r#"{"kind":"max_drawdown","limit":0.2,"drawdown":0.25}"#,
                HaltReason::MaxDrawdown { limit: 0.2, drawdown: 0.25 },
            ),
            (r#"{"kind":"manual"}"#, HaltReason::Manual),
        ];
        for (text, reason) in old {
            assert_eq!(serde_json::from_str::<HaltReason>(text).unwrap(), reason, "{text}");
            assert_eq!(serde_json::to_string(&reason).unwrap(), text);
        }
        let new = [
            (
                r#"{"kind":"reconciliation","against":"journal_fills","position_diff":0.0,"cash_diff":-5.0}"#,
                HaltReason::Reconciliation {
                    against: ReconciliationSource::JournalFills,
                    position_diff: 0.0,
                    cash_diff: -5.0,
                },
            ),
            (
                r#"{"kind":"reconciliation","against":"exchange_balances","position_diff":1.5,"cash_diff":0.0}"#,
                HaltReason::Reconciliation {
                    against: ReconciliationSource::ExchangeBalances,
                    position_diff: 1.5,
                    cash_diff: 0.0,
                },
            ),
            (r#"{"kind":"order_unknown","order_id":7}"#, HaltReason::OrderUnknown { order_id: 7 }),
            (r#"{"kind":"journal_unwritable"}"#, HaltReason::JournalUnwritable),
        ];
        for (text, reason) in new {
            assert_eq!(serde_json::to_string(&reason).unwrap(), text);
            assert_eq!(serde_json::from_str::<HaltReason>(text).unwrap(), reason);
        }
    }
}
