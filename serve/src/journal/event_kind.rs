//! [`EventKind`]: what an operator event is about, as the `events.kind` column spells it.

use serde::{Deserialize, Serialize};

use super::spelling::journal_spelling;

/// The kind of a journaled operator event (`events.kind`). The spellings are those
/// journals have always held.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// The daemon restarted and restored its state from the journal (`restart`).
    Restart,
    /// A reconciliation found the account off the journal's fills or the exchange's
    /// balances and halted the strategy (`reconciliation`).
    Reconciliation,
    /// A strategy's trading state changed: ACTIVE, REDUCING, HALTED (`trading_state`;
    /// the message gives both states and the halt reason).
    TradingState,
    /// The operator engaged the kill switch (`kill`).
    Kill,
    /// The operator resumed trading (`resume`).
    Resume,
    /// The feed went stale or fresh again (`feed`).
    Feed,
    /// The operator reloaded a strategy's model (`reload`).
    Reload,
    /// The exchange rejected an order (`order_rejected`).
    OrderRejected,
    /// An order's fate is unknown; the strategy is halted (`order_unknown`).
    OrderUnknown,
    /// A protective order list at the exchange was refused, ended outside the daemon,
    /// replaced, or its fate is unknown (`protection`; the message names the list).
    Protection,
}

impl EventKind {
    /// Every kind.
    pub const ALL: [EventKind; 10] = [
        EventKind::Restart,
        EventKind::Reconciliation,
        EventKind::TradingState,
        EventKind::Kill,
        EventKind::Resume,
        EventKind::Feed,
        EventKind::Reload,
        EventKind::OrderRejected,
        EventKind::OrderUnknown,
        EventKind::Protection,
    ];

    /// The journal's spelling (`restart`, `reconciliation`, `trading_state`, `kill`,
    /// `resume`, `feed`, `reload`, `order_rejected`, `order_unknown`, `protection`), the same as its
    /// serde form.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Restart => "restart",
            EventKind::Reconciliation => "reconciliation",
            EventKind::TradingState => "trading_state",
            EventKind::Kill => "kill",
            EventKind::Resume => "resume",
            EventKind::Feed => "feed",
            EventKind::Reload => "reload",
            EventKind::OrderRejected => "order_rejected",
            EventKind::OrderUnknown => "order_unknown",
            EventKind::Protection => "protection",
        }
    }
}

journal_spelling!(EventKind, "event kind");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_round_trip_through_str_and_serde() {
        for kind in EventKind::ALL {
            assert_eq!(kind.as_str().parse::<EventKind>().unwrap(), kind);
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
            assert_eq!(kind.to_string(), kind.as_str());
        }
        assert!("halt".parse::<EventKind>().unwrap_err().to_string().contains("unknown event kind `halt`"));
    }
}
