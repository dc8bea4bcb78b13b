//! `rltrade bench api`: does API load slow trading? A replay journaled with one commit
//! per bar (as a live exchange broker commits), at FULL or NORMAL, is timed from the
//! moment the daemon listens to its exit, alone and while a client sends `GET /ab` at a
//! steady rate, or (`--events`) while one client behaves as the dashboard page: it reads
//! `GET /events` and, after each `commit` event, what the page then reads
//! ([`PAGE_READS`] and `/chart?after=MS`); the runs alternate, and their medians are
//! compared.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use hdrhistogram::Histogram;
use serde::Serialize;

use rltrade_serve::journal::SyncMode;

use crate::output::{print_json, table};

/// The load on the API during the loaded replays.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Load {
    /// `GET /ab` at this many requests per second.
    Ab(u64),
    /// One client reading the event stream `GET /events` to its end and, after each
    /// event, what the dashboard page reads.
    Events,
}

/// What the dashboard page reads after each `commit` event, besides the chart's new bars
/// (`/chart?after=MS`), in its order.
pub const PAGE_READS: [&str; 5] = ["/health", "/positions", "/ab", "/signals?limit=20", "/activity?limit=20"];

/// What was measured.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ApiBench {
    /// The load: `GET /ab` or `GET /events`.
    pub load: String,
    /// `commit` events the event-stream client received over all loaded replays (0 under
    /// `GET /ab`).
    pub events_received: u64,
    /// The page's reads after those events answered 200 (6 per event: [`PAGE_READS`]
    /// and the chart).
    pub page_reads_ok: u64,
    /// Replays of each kind.
    pub runs: u64,
    /// Requests per second of `GET /ab` asked for during the loaded replays (0 under
    /// `GET /events`).
    pub rate_per_s: u64,
    /// The journal's synchronous mode (`full` or `normal`).
    pub synchronous: String,
    /// Median replay time alone, s (from listening to exit).
    pub alone_s: f64,
    /// Median replay time under load, s.
    pub loaded_s: f64,
    /// `loaded_s / alone_s - 1`, a fraction (target at most 0.10).
    pub slowdown: f64,
    /// `GET /ab` requests answered 200 during the loaded replays.
    pub requests_ok: u64,
    /// Requests that failed (connection error or a status other than 200).
    pub requests_failed: u64,
    /// Requests answered per second of loaded replay.
    pub achieved_rate_per_s: f64,
    /// `GET /ab` latency, ms: p50.
    pub latency_p50_ms: f64,
    /// p99.
    pub latency_p99_ms: f64,
}

/// Runs the benchmark and prints a table (or one JSON object).
///
/// # Errors
/// A missing model or data file, or a replay that fails.
pub fn run(model: &Path, data: &Path, load: Load, runs: u64, sync: SyncMode, json: bool) -> anyhow::Result<ExitCode> {
    for (what, path) in [("--model", model), ("--data", data)] {
        if !path.exists() {
            bail!("{what} {}: does not exist", path.display());
        }
    }
    let scratch = tempfile::tempdir().context("a scratch folder for the journals")?;
    // a commit per bar at either mode (FULL forces it; NORMAL batches 256 by default)
    let mode = match sync {
        SyncMode::Full => "full",
        SyncMode::Normal => "normal",
    };
    let config = scratch.path().join("serve.toml");
    std::fs::write(&config, format!("[serve]\nbars_per_commit = 1\nsynchronous = \"{mode}\"\n"))
        .context("writing the bench's serve config")?;
    let (mut alone, mut loaded) = (Vec::new(), Vec::new());
    let mut latencies = latency_histogram()?;
    let (mut failed, mut events_received, mut page_reads_ok) = (0, 0, 0);
    for i in 0..runs {
        alone.push(replay(scratch.path(), &config, &format!("alone-{i}"), model, data, None)?.seconds);
        let run = replay(scratch.path(), &config, &format!("loaded-{i}"), model, data, Some(load))?;
        loaded.push(run.seconds);
        latencies.add(&run.latencies_us).context("merging the latency histograms")?;
        failed += run.failed;
        events_received += run.events;
        page_reads_ok += run.page_reads;
    }
    let (alone_s, loaded_s) = (median(&mut alone), median(&mut loaded));
    let requests_ok = latencies.len();
    let (load_name, rate) = match load {
        Load::Ab(rate) => ("GET /ab", rate),
        Load::Events => ("GET /events and the page's reads", 0),
    };
    let bench = ApiBench {
        load: load_name.into(),
        events_received,
        page_reads_ok,
        runs,
        rate_per_s: rate,
        synchronous: mode.into(),
        alone_s,
        loaded_s,
        slowdown: loaded_s / alone_s - 1.0,
        requests_ok,
        requests_failed: failed,
        achieved_rate_per_s: requests_ok as f64 / loaded.iter().sum::<f64>(),
        latency_p50_ms: latencies.value_at_quantile(0.5) as f64 / 1e3,
        latency_p99_ms: latencies.value_at_quantile(0.99) as f64 / 1e3,
    };
    if json {
        print_json(&serde_json::to_value(&bench)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    let title = format!("replay, commit per bar at {}, model + ma:50:200", mode.to_uppercase());
    let mut out = table(&[title.as_str(), "median", "target"]);
    out.add_row(vec![format!("alone ({runs} runs)"), format!("{:.2} s", bench.alone_s), String::new()]);
    let under = match load {
        Load::Ab(rate) => format!("under GET /ab at {rate}/s ({runs} runs)"),
        Load::Events => format!("with a dashboard page's client ({runs} runs)"),
    };
    out.add_row(vec![under, format!("{:.2} s", bench.loaded_s), String::new()]);
    out.add_row(vec!["slowdown".into(), format!("{:+.1}%", 100.0 * bench.slowdown), "≤ +10%".into()]);
    if load == Load::Events {
        out.add_row(vec![
            "commit events received".into(),
            format!("{} ({:.1}/s)", bench.events_received, bench.events_received as f64 / loaded.iter().sum::<f64>()),
            String::new(),
        ]);
        out.add_row(vec![
            "page reads answered (6 per event)".into(),
            format!("{} ({} failed)", bench.page_reads_ok, bench.requests_failed),
            String::new(),
        ]);
        println!("{out}");
        return Ok(ExitCode::SUCCESS);
    }
    out.add_row(vec![
        format!("GET /ab answered ({} failed)", bench.requests_failed),
        format!("{} at {:.0}/s", bench.requests_ok, bench.achieved_rate_per_s),
        String::new(),
    ]);
    out.add_row(vec![
        "GET /ab latency p50 / p99".into(),
        format!("{:.2} / {:.2} ms", bench.latency_p50_ms, bench.latency_p99_ms),
        String::new(),
    ]);
    println!("{out}");
    Ok(ExitCode::SUCCESS)
}

/// One replay's time and, under load, its requests or events.
struct Replay {
    seconds: f64,
    latencies_us: Histogram<u64>,
    failed: u64,
    events: u64,
    page_reads: u64,
}

fn replay(
    scratch: &Path,
    config: &Path,
    name: &str,
    model: &Path,
    data: &Path,
    load: Option<Load>,
) -> anyhow::Result<Replay> {
    let journal = scratch.join(format!("{name}.db"));
    let exe = std::env::current_exe().context("finding the rltrade binary")?;
    let mut child = Command::new(exe)
        .arg("serve")
        .arg("--config")
        .arg(config)
        .arg("--model")
        .arg(model)
        .args(["--baseline", "ma:50:200", "--replay"])
        .arg(data)
        .args(["--split", "all", "--listen", "127.0.0.1:0", "--exit-at-end", "--journal"])
        .arg(&journal)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting rltrade serve")?;
    let mut stderr = BufReader::new(child.stderr.take().context("the daemon's stderr")?);
    let mut log = String::new();
    let address = loop {
        let mut line = String::new();
        if stderr.read_line(&mut line)? == 0 {
            let status = child.wait()?;
            bail!("rltrade serve exited ({status}) before listening:\n{log}");
        }
        log.push_str(&line);
        if let Some(rest) = line.split("listening on http://").nth(1) {
            break rest.trim().to_string();
        }
    };
    let started = Instant::now();
    let drain = std::thread::spawn(move || {
        let mut rest = String::new();
        let _ = stderr.read_to_string(&mut rest);
        rest
    });
    let stop = Arc::new(AtomicBool::new(false));
    let ab = match load {
        Some(Load::Ab(rate)) => {
            let stop = Arc::clone(&stop);
            let address = address.clone();
            Some(std::thread::spawn(move || load_ab(&address, rate, &stop)))
        }
        _ => None,
    };
    let events = (load == Some(Load::Events)).then(|| std::thread::spawn(move || follow_events(&address)));
    let status = child.wait()?;
    let seconds = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let (latencies_us, failed) = match ab {
        Some(thread) => thread.join().map_err(|_| anyhow::anyhow!("the load thread panicked"))??,
        None => (latency_histogram()?, 0),
    };
    let (events, page_reads, failed) = match events {
        Some(thread) => {
            let page = thread.join().map_err(|_| anyhow::anyhow!("the event reader panicked"))??;
            (page.events, page.reads_ok, failed + page.reads_failed)
        }
        None => (0, 0, failed),
    };
    log.push_str(&drain.join().unwrap_or_default());
    if !status.success() {
        bail!("rltrade serve failed ({status}):\n{log}");
    }
    Ok(Replay { seconds, latencies_us, failed, events, page_reads })
}

/// An empty histogram of request latencies, µs, to 3 significant digits (as
/// `bench serve` records its latencies).
fn latency_histogram() -> anyhow::Result<Histogram<u64>> {
    Histogram::new(3).context("a latency histogram")
}

/// `GET /ab` every `1/rate` s until `stop` or the API closes (the replay's end): the
/// latencies of the 200s, µs, and the number of failures (a status other than 200, or
/// an error other than a refused connection).
fn load_ab(address: &str, rate: u64, stop: &AtomicBool) -> anyhow::Result<(Histogram<u64>, u64)> {
    let period = Duration::from_secs_f64(1.0 / rate as f64);
    let (mut latencies, mut failed) = (latency_histogram()?, 0);
    let mut next = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        let sent = Instant::now();
        match get(address, "/ab").map(|body| body.is_some()) {
            Ok(true) => latencies.saturating_record(u64::try_from(sent.elapsed().as_micros()).unwrap_or(u64::MAX)),
            // the daemon closes its API when the replay ends, before it exits
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => break,
            _ if stop.load(Ordering::Relaxed) => break,
            _ => failed += 1,
        }
        next += period;
        if let Some(wait) = next.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
    }
    Ok((latencies, failed))
}

/// What the page's client did in one replay.
struct PageClient {
    events: u64,
    reads_ok: u64,
    reads_failed: u64,
}

/// Reads `GET /events` until the daemon closes the stream at the replay's end, and after
/// each `commit` event makes the page's reads, one after the other (the chart's after
/// the last bar the previous one returned). A read refused because the daemon has
/// exited ends the reads.
///
/// # Errors
/// A failed connection, or an answer other than 200 to `GET /events`.
fn follow_events(address: &str) -> anyhow::Result<PageClient> {
    let mut stream = TcpStream::connect(address).context("connecting to GET /events")?;
    stream.write_all(b"GET /events HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")?;
    let mut lines = BufReader::new(stream);
    let mut status = String::new();
    lines.read_line(&mut status).context("reading GET /events")?;
    if !status.starts_with("HTTP/1.1 200") {
        bail!("GET /events answered: {}", status.trim());
    }
    let mut client = PageClient { events: 0, reads_ok: 0, reads_failed: 0 };
    let mut after: Option<i64> = None;
    let mut line = String::new();
    'stream: while lines.read_line(&mut line).is_ok_and(|n| n > 0) {
        if line.starts_with("event: commit") {
            client.events += 1;
            let chart = after.map_or_else(|| "/chart".to_string(), |ms| format!("/chart?after={ms}"));
            for path in PAGE_READS.iter().copied().chain([chart.as_str()]) {
                match get(address, path) {
                    Ok(Some(body)) => {
                        client.reads_ok += 1;
                        if path == chart {
                            let value: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
                            after = value["last_bar_ms"].as_i64().or(after);
                        }
                    }
                    // the replay's last event races the daemon's exit: a closed listener
                    // ends the page's reads (a page would show the daemon lost), it is
                    // not a failed read
                    Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => break 'stream,
                    _ => client.reads_failed += 1,
                }
            }
        }
        line.clear();
    }
    Ok(client)
}

/// `GET path` on its own connection: the body of a 200, `None` for another status.
fn get(address: &str, path: &str) -> std::io::Result<Option<Vec<u8>>> {
    let mut stream = TcpStream::connect(address)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(stream, "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    if !response.starts_with(b"HTTP/1.1 200") {
        return Ok(None);
    }
    let body = response.windows(4).position(|w| w == b"\r\n\r\n").map_or(&[][..], |at| &response[at + 4..]);
    Ok(Some(body.to_vec()))
}

/// The median of a few replay times, s; NaN when empty.
fn median(values: &mut [f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 1 { values[mid] } else { (values[mid - 1] + values[mid]) / 2.0 }
}
