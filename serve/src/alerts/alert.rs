//! [`Alert`]: what the daemon tells its operator, as the journal's outbox holds it (JSON
//! in `outbox.alert`), and [`OutboxRow`], one alert with its id.

use rltrade_exec::Side;
use serde::{Deserialize, Serialize};

use crate::journal::{EventKind, OrderReason};

/// One alert. Typed, so that every destination renders it its own way (a Telegram
/// line, a webhook's JSON); serialized with a `kind` tag.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Alert {
    /// An order filled (at the paper fill model's open, or at the exchange).
    Fill {
        /// The strategy.
        strategy: String,
        /// Its order id in the journal.
        order_id: u64,
        /// Why the order exists (signal, liquidation, stop loss, …).
        reason: OrderReason,
        /// Buy or sell.
        side: Side,
        /// Base units.
        quantity: f64,
        /// Average fill price, quote currency per base unit.
        price: f64,
        /// Fee, quote currency.
        fee: f64,
        /// When it filled, ms since epoch UTC.
        time_ms: i64,
    },
    /// The risk layer refused a signal's order.
    RiskRefusal {
        /// The strategy.
        strategy: String,
        /// The refused order's id.
        order_id: u64,
        /// The target exposure asked for, a fraction of equity.
        requested: f64,
        /// The refusal's name and detail (`max_drawdown: …`).
        reason: String,
    },
    /// An operator event of the journal: a trading-state change (a halt among them),
    /// the kill switch, a resume, a stale or fresh feed, a reconciliation mismatch, a
    /// restart, a reload, a rejected or unknown order, a protective order list.
    Event {
        /// Its kind.
        event: EventKind,
        /// The strategy, `None` for the whole daemon.
        strategy: Option<String>,
        /// The journal's message.
        message: String,
    },
    /// The daemon started (and is about to take bars).
    Started {
        /// The feed's symbol.
        symbol: String,
        /// Its strategies, in order.
        strategies: Vec<String>,
        /// Where bars come from (`replay:…`, `exchange:…`).
        feed: String,
    },
    /// The daemon stopped.
    Stopped {
        /// Why, when it did not stop cleanly (its halt); `None` for a clean stop.
        halt: Option<String>,
    },
    /// The daemon halted (its journal or a bar failed): it takes no more bars until
    /// restarted. Written best effort: the journal that failed may refuse it too.
    DaemonHalted {
        /// The halt, in words.
        reason: String,
    },
    /// An outbox row that does not decode (a corrupt journal, or a number JSON cannot
    /// hold): delivered as such, so that one bad row never stops the ones after it.
    /// Never written, only read.
    Unreadable {
        /// The decoder's message.
        error: String,
    },
    /// A strategy's UTC day, sent at the first bar of the next.
    DailySummary {
        /// The strategy.
        strategy: String,
        /// The day's midnight, ms since epoch UTC.
        day_ms: i64,
        /// Equity at the day's first mark, quote currency.
        equity_open: f64,
        /// Equity at its last mark, quote currency.
        equity_close: f64,
        /// Fills during the day.
        fills: u64,
        /// Their fees, quote currency.
        fees: f64,
        /// Trading state at its last mark (`ACTIVE`, `REDUCING`, `HALTED`).
        trading_state: String,
    },
}

impl Alert {
    /// A short name of its kind (`fill`, `risk_refusal`, `event`, …), as in the JSON tag;
    /// for [`Alert::Event`] the event's kind (`kill`, `trading_state`, …).
    pub fn kind_name(&self) -> &'static str {
        match self {
            Alert::Fill { .. } => "fill",
            Alert::RiskRefusal { .. } => "risk_refusal",
            Alert::Event { event, .. } => event.as_str(),
            Alert::Started { .. } => "started",
            Alert::Stopped { .. } => "stopped",
            Alert::DaemonHalted { .. } => "daemon_halted",
            Alert::Unreadable { .. } => "unreadable",
            Alert::DailySummary { .. } => "daily_summary",
        }
    }

    /// Whether a coalesced summary names it on its own line, not only in the counts:
    /// everything but fills, refusals, daily summaries and feed notices.
    pub fn is_urgent(&self) -> bool {
        match self {
            Alert::Fill { .. } | Alert::RiskRefusal { .. } | Alert::DailySummary { .. } => false,
            Alert::Event { event, .. } => !matches!(event, EventKind::Feed | EventKind::Reload),
            Alert::Started { .. } | Alert::Stopped { .. } | Alert::DaemonHalted { .. } | Alert::Unreadable { .. } => {
                true
            }
        }
    }
}

/// An alert of the outbox with its id (`outbox.id`, increasing: delivery order).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OutboxRow {
    /// Its id, 1, 2, …: with the journal id, what a receiver recognizes a redelivery by.
    pub id: i64,
    /// The open time of the bar it belongs to, ms since epoch UTC (`None` outside bars).
    pub bar_ms: Option<i64>,
    /// When it was written, wall-clock ms since epoch UTC.
    pub at_wall_ms: i64,
    /// The alert.
    pub alert: Alert,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alerts_round_trip_through_json_with_a_kind_tag() {
        let alerts = [
            Alert::Fill {
                strategy: "rl".into(),
                order_id: 3,
                reason: OrderReason::StopLoss,
                side: Side::Sell,
                quantity: 0.5,
                price: 100.25,
                fee: 0.05,
                time_ms: 3_600_000,
            },
            Alert::Event { event: EventKind::Kill, strategy: None, message: "kill switch engaged".into() },
            Alert::Stopped { halt: None },
        ];
        for alert in alerts {
            let text = serde_json::to_string(&alert).unwrap();
            assert!(
                text.starts_with(&format!(
                    "{{\"kind\":\"{}\"",
                    if alert.kind_name() == "kill" { "event" } else { alert.kind_name() }
                )),
                "{text}"
            );
            assert_eq!(serde_json::from_str::<Alert>(&text).unwrap(), alert);
        }
    }
}
