//! Alerts as text for people (a Telegram message, a webhook's `text`): one alert per
//! message ([`single`]), or a backlog coalesced into one summary ([`summary`]). Plain
//! text, no markup: nothing in a message needs escaping.

use std::collections::BTreeMap;
use std::fmt::Write;

use rltrade_env::bar::format_time_ms;
use rltrade_exec::Side;

use super::alert::{Alert, OutboxRow};
use crate::journal::EventKind;

/// The longest message rendered, characters: the Bot API's limit
/// ([`rltrade_config::serve::TELEGRAM_MAX_TEXT_CHARS`]).
pub const MAX_MESSAGE_CHARS: usize = rltrade_config::serve::TELEGRAM_MAX_TEXT_CHARS;

/// One line for `alert` (no id, no time).
pub fn line(alert: &Alert) -> String {
    match alert {
        Alert::Fill { strategy, reason, side, quantity, price, fee, time_ms, .. } => {
            let (mark, verb) = match side {
                Side::Buy => ("🟢", "bought"),
                Side::Sell => ("🔴", "sold"),
            };
            let quantity = format!("{quantity:.8}");
            let quantity = quantity.trim_end_matches('0').trim_end_matches('.');
            let at = format_time_ms(*time_ms);
            format!("{mark} {strategy} {verb} {quantity} at {price:.2} ({reason}), fee {fee:.2}, {at}")
        }
        Alert::RiskRefusal { strategy, requested, reason, .. } => {
            format!("⛔ {strategy}: risk check refused a target of {requested:+.2} ({reason})")
        }
        Alert::Event { event, strategy, message } => {
            let mark = match event {
                EventKind::TradingState => "⚠️",
                EventKind::Kill => "🛑",
                EventKind::Resume => "▶️",
                EventKind::Feed => "📡",
                EventKind::Reconciliation => "❗",
                EventKind::OrderRejected => "❌",
                EventKind::OrderUnknown => "❓",
                EventKind::Protection => "🛡",
                EventKind::Restart => "🔄",
                EventKind::Reload => "📦",
            };
            let who = strategy.as_deref().unwrap_or("daemon");
            format!("{mark} {who} [{event}]: {message}")
        }
        Alert::Started { symbol, strategies, feed } => {
            format!("🚀 rltrade started: {symbol}, strategies {} ({feed})", strategies.join(", "))
        }
        Alert::Stopped { halt: None } => "⏹ rltrade stopped".to_string(),
        Alert::Stopped { halt: Some(halt) } => format!("⏹ rltrade stopped, halted: {halt}"),
        Alert::Unreadable { error } => format!("⁉️ an alert could not be read from the journal: {error}"),
        Alert::DaemonHalted { reason } => format!("🚨 rltrade halted, no more bars are traded: {reason}"),
        Alert::DailySummary { strategy, day_ms, equity_open, equity_close, fills, fees, trading_state } => {
            let change = if *equity_open != 0.0 { (equity_close / equity_open - 1.0) * 100.0 } else { 0.0 };
            let day = format_time_ms(*day_ms);
            let day = day.get(..10).unwrap_or(&day);
            format!(
                "📊 {strategy} {day}: equity {equity_open:.2} → {equity_close:.2} ({change:+.2} %), {fills} fills, \
                 fees {fees:.2}, {trading_state}"
            )
        }
    }
}

/// The message of one alert: its line, then its id and bar (`#17 · bar 2024-01-02T03:00:00Z`).
pub fn single(row: &OutboxRow) -> String {
    let mut text = line(&row.alert);
    let _ = write!(text, "\n#{}", row.id);
    if let Some(bar_ms) = row.bar_ms {
        let _ = write!(text, " · bar {}", format_time_ms(bar_ms));
    }
    clip(text)
}

/// One message for many alerts (`rows`, in id order, at least one): their id range and
/// bars, counts per kind, every urgent alert ([`Alert::is_urgent`]) on its own line as
/// room allows, and the latest alert. At most [`MAX_MESSAGE_CHARS`].
pub fn summary(rows: &[OutboxRow]) -> String {
    let (Some(first), Some(last)) = (rows.first(), rows.last()) else { return String::new() };
    let mut text = format!("⏩ {} alerts, #{}–#{}", rows.len(), first.id, last.id);
    let bars: Vec<i64> = rows.iter().filter_map(|r| r.bar_ms).collect();
    if let (Some(from), Some(to)) = (bars.iter().min(), bars.iter().max()) {
        let _ = write!(text, ", bars {} – {}", format_time_ms(*from), format_time_ms(*to));
    }
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for row in rows {
        *counts.entry(row.alert.kind_name()).or_default() += 1;
    }
    let counts: Vec<String> = counts.iter().map(|(kind, n)| format!("{n} {kind}")).collect();
    let _ = write!(text, "\n{}", counts.join(", "));
    let latest = format!("\nlatest #{}: {}", last.id, line(&last.alert));
    let urgent: Vec<&OutboxRow> = rows.iter().filter(|r| r.alert.is_urgent() && r.id != last.id).collect();
    let room = MAX_MESSAGE_CHARS.saturating_sub(text.chars().count() + latest.chars().count() + 40);
    let mut used = 0;
    for (n, row) in urgent.iter().enumerate() {
        let entry = format!("\n#{} {}", row.id, line(&row.alert));
        let chars = entry.chars().count();
        if used + chars > room {
            let _ = write!(text, "\n… {} more", urgent.len() - n);
            break;
        }
        used += chars;
        text.push_str(&entry);
    }
    text.push_str(&latest);
    clip(text)
}

/// `text` cut to [`MAX_MESSAGE_CHARS`] characters (ending `…`).
fn clip(text: String) -> String {
    if text.chars().count() <= MAX_MESSAGE_CHARS {
        return text;
    }
    let mut out: String = text.chars().take(MAX_MESSAGE_CHARS - 1).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::OrderReason;

    fn row(id: i64, alert: Alert) -> OutboxRow {
        OutboxRow { id, bar_ms: Some(1_704_067_200_000 + id * 3_600_000), at_wall_ms: 0, alert }
    }

    fn fill(id: i64) -> OutboxRow {
        let alert = Alert::Fill {
            strategy: "rl".into(),
            order_id: id as u64,
            reason: OrderReason::Signal,
            side: Side::Buy,
            quantity: 0.25,
            price: 42_000.5,
            fee: 1.05,
            time_ms: 0,
        };
        row(id, alert)
    }

    #[test]
    fn one_alert_names_what_happened_its_id_and_bar() {
        let text = single(&fill(7));
        assert_eq!(
            text,
            "🟢 rl bought 0.25 at 42000.50 (signal), fee 1.05, 1970-01-01T00:00:00Z\n#7 · bar 2024-01-01T07:00:00Z"
        );
        let kill =
            Alert::Event { event: EventKind::Kill, strategy: Some("rl".into()), message: "kill switch engaged".into() };
        assert_eq!(line(&kill), "🛑 rl [kill]: kill switch engaged");
        let day = Alert::DailySummary {
            strategy: "rl".into(),
            day_ms: 1_704_067_200_000,
            equity_open: 10_000.0,
            equity_close: 10_150.0,
            fills: 4,
            fees: 12.5,
            trading_state: "ACTIVE".into(),
        };
        assert_eq!(line(&day), "📊 rl 2024-01-01: equity 10000.00 → 10150.00 (+1.50 %), 4 fills, fees 12.50, ACTIVE");
    }

    #[test]
    fn a_backlog_is_one_summary_with_counts_urgent_lines_and_the_latest_within_the_limit() {
        let mut rows: Vec<OutboxRow> = (1..=5000).map(fill).collect();
        let halt = Alert::Event {
            event: EventKind::TradingState,
            strategy: Some("rl".into()),
            message: "Active → Halted (Some(MaxDrawdown))".into(),
        };
        rows.insert(10, row(10_001, halt));
        let text = summary(&rows);
        assert!(text.starts_with("⏩ 5001 alerts, #1–#5000"), "{text}");
        assert!(text.contains("5000 fill, 1 trading_state"), "{text}");
        assert!(text.contains("#10001 ⚠️ rl [trading_state]: Active → Halted"), "{text}");
        assert!(
            text.ends_with("latest #5000: 🟢 rl bought 0.25 at 42000.50 (signal), fee 1.05, 1970-01-01T00:00:00Z"),
            "{text}"
        );
        let many: Vec<OutboxRow> = (1..=400)
            .map(|id| row(id, Alert::Event { event: EventKind::Kill, strategy: None, message: "x".repeat(100) }))
            .collect();
        let text = summary(&many);
        assert!(text.chars().count() <= MAX_MESSAGE_CHARS && text.contains(" more\nlatest #400"), "{}", text.len());
    }
}
