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
