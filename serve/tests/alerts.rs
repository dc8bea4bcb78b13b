//! Alerts end to end in one process: a real engine and journal with the outbox on, the
//! delivery tasks, and the local Bot API and webhook receiver (`alerts::mock`).
//!
//! - Every event the issue lists (fills, risk refusals, halts, the kill switch and its
//!   release, a stale feed, a reconciliation mismatch, start and stop, the daily
//!   summaries) reaches Telegram and the webhook, each as its own message, and every
//!   journal event has its alert.
//! - The commands work from the allowed chat and are refused from another.
//! - 429 with `retry_after`, 5xx, timeouts and dropped connections are retried in
//!   order, `retry_after` is waited, nothing is lost, and a backlog is coalesced.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rltrade_config::serve::{AlertsConfig, DeliveryConfig, TelegramConfig, WebhookConfig};
use rltrade_env::{Bar, TraderSettings};
use rltrade_exec::{ExecutionConfig, FillSource, RiskConfig};
use rltrade_serve::alerts::mock::{MockBotApi, MockEndpoint, MockFault, SentMessage};
use rltrade_serve::alerts::{Alert, AlertsPlan};
use rltrade_serve::engine::{Engine, EngineSettings};
use rltrade_serve::journal::{EventKind, Journal, SyncMode};
use rltrade_serve::metrics::Metrics;
use rltrade_serve::strategy::{RunnerSettings, StrategyRunner};

const HOUR: i64 = 3_600_000;
const TOKEN: &str = "123456789:AAH-test-token_never-logged";
const HOOK_SECRET: &str = "hook-secret";
const CHAT: i64 = 111;
const STRANGER: i64 = 999;

/// A zig-zag of closes that makes SMA(2) cross SMA(4) several times.
fn bars(n: usize) -> Vec<Bar> {
    (0..n)
        .map(|i| {
            let close = 100.0 + 10.0 * ((i as f64) * 0.7).sin();
            Bar { time_ms: i as i64 * HOUR, open: close, high: close + 1.0, low: close - 1.0, close, volume: 1.0 }
        })
        .collect()
}

fn runner(index: usize, risk: RiskConfig) -> StrategyRunner {
    let settings = RunnerSettings {
        symbol: "BTCUSD".into(),
        trader: TraderSettings {
            interval_ms: HOUR,
            execution: ExecutionConfig::default(),
            risk,
            protect: rltrade_exec::ProtectConfig::default(),
            fills: FillSource::Simulator,
        },
    };
    StrategyRunner::ma_crossover(index, 2 + index, 4 + index, &[0.0, 1.0], &settings).unwrap()
}

/// `[serve.alerts]` for the mock: the bot (token in a file) and a webhook (URL and
/// secret in files), one message per alert unless `coalesce_above` says otherwise.
fn alerts_config(dir: &Path, mock: &MockBotApi, coalesce_above: usize) -> AlertsConfig {
    std::fs::write(dir.join("token"), format!("{TOKEN}\n")).unwrap();
    std::fs::write(dir.join("hook-url"), mock.hook_url()).unwrap();
    std::fs::write(dir.join("hook-secret"), HOOK_SECRET).unwrap();
    AlertsConfig {
        telegram: Some(TelegramConfig {
            chat_ids: vec![CHAT],
            token_file: dir.join("token"),
            api_url: mock.api_url().to_string(),
            min_interval_ms: 0,
            poll_timeout_s: 1,
            ..TelegramConfig::default()
        }),
        webhooks: vec![WebhookConfig {
            name: "hook".into(),
            url_env: String::new(),
            url_file: dir.join("hook-url"),
            secret_env: String::new(),
            secret_file: dir.join("hook-secret"),
            min_interval_ms: 0,
        }],
        delivery: DeliveryConfig {
            coalesce_above,
            first_retry_ms: 50,
            max_retry_ms: 400,
            timeout_ms: 1_000,
            drain_ms: 20_000,
            daily_summary: true,
        },
    }
}

fn engine_settings() -> EngineSettings {
    EngineSettings {
        symbol: "BTCUSD".into(),
        interval_ms: HOUR,
        feed: "test".into(),
        sync: SyncMode::Normal,
        bars_per_commit: 4,
        lot_step: 0.0,
    }
}

/// Opens the journal with the outbox on and an engine over it: strategy 0 may send one
/// order per 48 bars (the rest are refused), strategy 1 halts past 1 % drawdown.
fn open(dir: &Path, config: &AlertsConfig) -> (Arc<Mutex<Engine>>, AlertsPlan) {
    let mut journal = Journal::open(&dir.join("journal.db"), SyncMode::Normal).unwrap();
    let plan = AlertsPlan::prepare(config, &mut journal).unwrap().expect("destinations configured");
    let refusing = RiskConfig { max_orders: 1, max_orders_window_bars: 48, ..RiskConfig::default() };
    let halting = RiskConfig { max_drawdown: Some(0.01), ..RiskConfig::default() };
    let runners = vec![runner(0, refusing), runner(1, halting)];
    let engine = Engine::from_journal(journal, engine_settings(), runners, Arc::new(Metrics::new())).unwrap();
    (Arc::new(Mutex::new(engine)), plan)
}

fn lock(engine: &Mutex<Engine>) -> std::sync::MutexGuard<'_, Engine> {
    engine.lock().unwrap()
}

/// Waits until `done` holds (10 s at most).
async fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < Duration::from_secs(20), "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The outbox ids a Telegram message covers: `#N` of a single alert, `#A–#B` of a summary.
fn covered_ids(message: &SentMessage) -> Vec<i64> {
    let text = &message.text;
    if let Some(rest) = text.strip_prefix("⏩ ") {
        let range = rest.split(", ").nth(1).unwrap();
        let (a, b) = range.trim_start_matches('#').split_once("–#").unwrap();
        return (a.parse().unwrap()..=b.parse().unwrap()).collect();
    }
    let footer = text.lines().last().unwrap();
    footer.strip_prefix('#').map(|f| vec![f.split(' ').next().unwrap().parse().unwrap()]).unwrap_or_default()
}

fn outbox(dir: &Path) -> Vec<rltrade_serve::alerts::OutboxRow> {
    Journal::open_read_only(&dir.join("journal.db")).unwrap().outbox_after(0, 100_000).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_reaches_telegram_and_the_webhook_and_commands_obey_only_the_allowed_chat() {
    let dir = tempfile::tempdir().unwrap();
    let mock = MockBotApi::start(TOKEN, HOOK_SECRET).await.unwrap();
    let config = alerts_config(dir.path(), &mock, 1_000_000);
    let (engine, plan) = open(dir.path(), &config);
    let journal_id = lock(&engine).journal_id().to_string();
    lock(&engine).announce_start().unwrap();
    let alerts = plan.start(&engine, &journal_id);

    // 60 hourly bars: three UTC days, fills, refusals (strategy 0), a halt (strategy 1)
    let bars = bars(60);
    {
        let mut engine = lock(&engine);
        for bar in &bars[..5] {
            engine.warm(bar).unwrap();
        }
        for bar in &bars[5..] {
            engine.on_bar(bar, true, Instant::now()).unwrap();
        }
        engine.flush().unwrap();
    }

    // commands: the allowed chat's are carried out and answered; a stranger's /kill is
    // not; one sent ten minutes ago (while nobody polled) has expired
    let ten_minutes_ago =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64 - 600;
    mock.push_message_sent_at(CHAT, "/kill", ten_minutes_ago);
    mock.push_message(STRANGER, "/kill flatten\u{1b}[31m");
    for command in ["/status", "/positions", "/pnl", "/help", "/bogus"] {
        mock.push_message(CHAT, command);
    }
    let mock = &mock;
    let answered = |n: usize| move || mock.sent().iter().filter(|m| !m.text.contains('#')).count() >= n;
    wait_for("6 answers", answered(6)).await;
    mock.push_message(CHAT, "/kill");
    wait_for("the kill's answer", answered(7)).await;
    mock.push_message(CHAT, "/resume@rltrade_bot");
    wait_for("the resume's answer", answered(8)).await;

    // a stale feed, fresh again, and balances that disagree with the accounts
    {
        let mut engine = lock(&engine);
        engine.set_feed_stale(true).unwrap();
        engine.set_feed_stale(false).unwrap();
        assert!(!engine.reconcile_balances(1.0, 0.0).unwrap());
        engine.close().unwrap();
    }
    alerts.stop().await;

    let rows = outbox(dir.path());
    let last = rows.last().unwrap().id;
    assert_eq!(rows.iter().map(|r| r.id).collect::<Vec<_>>(), (1..=last).collect::<Vec<_>>());
    // every journal event has its alert, in the same order
    let events = Journal::open_read_only(&dir.path().join("journal.db")).unwrap().events().unwrap();
    let alerted: Vec<(EventKind, String)> = rows
        .iter()
        .filter_map(|r| match &r.alert {
            Alert::Event { event, message, .. } => Some((*event, message.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(alerted, events.iter().map(|e| (e.kind, e.message.clone())).collect::<Vec<_>>());
    let kinds: BTreeSet<&str> = rows.iter().map(|r| r.alert.kind_name()).collect();
    for kind in [
        "started",
        "fill",
        "risk_refusal",
        "trading_state",
        "kill",
        "resume",
        "feed",
        "reconciliation",
        "daily_summary",
        "stopped",
    ] {
        assert!(kinds.contains(kind), "no {kind} alert in {kinds:?}");
    }
    let kills = events.iter().filter(|e| e.kind == EventKind::Kill).count();
    assert_eq!(kills, 2, "one kill (two strategies): the stranger's refused, the old one expired");

    // Telegram: one message per alert, each id once, in order, the words of each kind
    let sent = mock.sent();
    assert!(sent.iter().all(|m| m.chat_id == CHAT), "nothing to the stranger");
    let alert_messages: Vec<&SentMessage> = sent.iter().filter(|m| !covered_ids(m).is_empty()).collect();
    let ids: Vec<i64> = alert_messages.iter().flat_map(|m| covered_ids(m)).collect();
    assert_eq!(ids, (1..=last).collect::<Vec<_>>());
    let all = sent.iter().map(|m| m.text.as_str()).collect::<Vec<_>>().join("\n---\n");
    for words in [
        "🚀 rltrade started: BTCUSD, strategies ma:2:4, ma:3:5",
        " bought ",
        " sold ",
        "risk check refused a target",
        "[trading_state]: Active → Halted",
        "🛑 ma:2:4 [kill]: kill switch engaged",
        "▶️ ma:2:4 [resume]: trading resumed by the operator",
        "📡 daemon [feed]: feed stale: trading REDUCING",
        "❗ ma:2:4 [reconciliation]: exchange balances",
        "📊 ma:2:4 1970-01-01: equity",
        "📊 ma:3:5 1970-01-02: equity",
        "⏹ rltrade stopped",
        // the answers
        "running\nlast bar 1970-01-03T11:00:00Z",
        "positions:\nma:2:4: ",
        "PnL:\nma:2:4: ",
        "rltrade commands:",
        "unknown command `/bogus`",
        "kill switch engaged",
        "trading resumed",
        "expired: sent 60",
    ] {
        assert!(all.contains(words), "no message with {words:?} in:\n{all}");
    }
    assert_eq!(mock.unconfirmed_updates(), 0, "every update confirmed");
    let metrics = lock(&engine).metrics().encode();
    for destination in [format!("telegram:{CHAT}"), "webhook:hook".into()] {
        let line = format!("rltrade_alerts_delivered_total{{destination=\"{destination}\"}} {last}");
        assert!(metrics.contains(&line), "{line} in\n{metrics}");
    }
    assert!(!metrics.contains(TOKEN) && !metrics.contains(&mock.hook_url()));

    // the webhook: every alert once, signed (the mock refuses bad signatures)
    assert_eq!(mock.bad_signatures(), 0);
    let hooks = mock.hooks();
    let mut hook_ids = Vec::new();
    for (headers, body) in &hooks {
        let delivery = headers.get("x-rltrade-delivery").unwrap().to_str().unwrap();
        assert_eq!(body["delivery"], delivery);
        for alert in body["alerts"].as_array().unwrap() {
            let id = alert["id"].as_str().unwrap();
            let (journal, n) = id.split_once(':').unwrap();
            assert_eq!(journal, journal_id);
            hook_ids.push(n.parse::<i64>().unwrap());
        }
    }
    assert_eq!(hook_ids, (1..=last).collect::<Vec<_>>());
    let fill =
        hooks.iter().flat_map(|(_, b)| b["alerts"].as_array().unwrap().clone()).find(|a| a["alert"]["kind"] == "fill");
    let fill = fill.expect("a fill");
    assert!(fill["alert"]["price"].as_f64().unwrap() > 0.0 && fill["alert"]["reason"] == "signal", "{fill}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_are_retried_in_order_retry_after_is_waited_and_a_backlog_is_coalesced() {
    let dir = tempfile::tempdir().unwrap();
    let mock = MockBotApi::start(TOKEN, HOOK_SECRET).await.unwrap();
    let mut config = alerts_config(dir.path(), &mock, 3);
    config.telegram.as_mut().unwrap().commands = false;
    let (engine, plan) = open(dir.path(), &config);
    // a backlog before delivery starts: 40 bars of alerts
    {
        let mut engine = lock(&engine);
        let bars = bars(45);
        for bar in &bars[..5] {
            engine.warm(bar).unwrap();
        }
        for bar in &bars[5..] {
            engine.on_bar(bar, true, Instant::now()).unwrap();
        }
        engine.flush().unwrap();
    }
    let backlog = outbox(dir.path()).len();
    assert!(backlog > 10, "{backlog}");
    for endpoint in [MockEndpoint::SendMessage, MockEndpoint::Webhook] {
        for fault in [
            MockFault::TooManyRequests { retry_after_s: 1 },
            MockFault::ServerError,
            MockFault::Timeout(Duration::from_millis(1_500)),
            MockFault::Drop,
        ] {
            mock.push_fault(endpoint, fault);
        }
    }
    let journal_id = lock(&engine).journal_id().to_string();
    let started = Instant::now();
    let alerts = plan.start(&engine, &journal_id);
    wait_for("the backlog on both", || !mock.sent().is_empty() && !mock.hooks().is_empty()).await;
    let first_delivery = started.elapsed();
    // then three alerts one by one (at most `coalesce_above`), then a close
    {
        let mut engine = lock(&engine);
        engine.kill(false);
        engine.close().unwrap();
    }
    alerts.stop().await;

    // 429 (1 s), 500, a 1.5 s timeout (the client gives up after 1 s), then a dropped
    // connection whose message was taken: sent again, with the same ids
    assert!(first_delivery >= Duration::from_secs(2), "retry_after waited: {first_delivery:?}");
    assert_eq!(
        mock.requests(MockEndpoint::SendMessage) as usize,
        3 + mock.sent().len(),
        "4 faults, then one request per message"
    );
    let sent = mock.sent();
    assert!(sent[0].text.starts_with(&format!("⏩ {backlog} alerts, #1–#{backlog}")), "{}", sent[0].text);
    assert_eq!(sent[0], sent[1], "the dropped answer's message is sent again, the same");
    let rows = outbox(dir.path());
    let last = rows.last().unwrap().id;
    let ids: Vec<i64> = sent.iter().skip(1).flat_map(covered_ids).collect();
    assert_eq!(ids, (1..=last).collect::<Vec<_>>(), "in order, none lost; redelivered once");
    // after the backlog, the three alerts of the kill and the stop (at most
    // `coalesce_above` waiting at once) go one by one
    assert!(sent[2..].iter().all(|m| !m.text.starts_with('⏩')), "{sent:?}");
    assert_eq!(sent.len() - 2, last as usize - backlog, "{sent:?}");

    let hooks = mock.hooks();
    assert_eq!(hooks[0].1, hooks[1].1, "the webhook's dropped delivery is posted again, the same body");
    let hook_ids: Vec<i64> = hooks
        .iter()
        .skip(1)
        .flat_map(|(_, b)| b["alerts"].as_array().unwrap().clone())
        .map(|a| a["id"].as_str().unwrap().split_once(':').unwrap().1.parse().unwrap())
        .collect();
    assert_eq!(hook_ids, (1..=last).collect::<Vec<_>>());
    assert_eq!(hooks[0].1["alerts"].as_array().unwrap().len(), backlog, "the backlog in one POST");
    let metrics = lock(&engine).metrics().encode();
    for destination in [format!("telegram:{CHAT}"), "webhook:hook".into()] {
        let line = format!("rltrade_alert_send_failures_total{{destination=\"{destination}\"}} 4");
        assert!(metrics.contains(&line), "{line} in\n{metrics}");
    }
}
