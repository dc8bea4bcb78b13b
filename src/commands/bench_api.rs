//! `rltrade bench api`: does API load slow trading? A replay journaled with one commit
//! per bar (as a live exchange broker commits), at FULL or NORMAL, is timed from the
//! moment the daemon listens to its exit, alone and while a client sends `GET /ab` at a
//! steady rate, or (`--events`) while one client reads `GET /events`; the runs
//! alternate, and their medians are compared.

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
    /// One client reading the event stream `GET /events` to its end.
    Events,
}

/// What was measured.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ApiBench {
    /// The load: `GET /ab` or `GET /events`.
    pub load: String,
    /// `commit` events the event-stream client received over all loaded replays (0 under
    /// `GET /ab`).
    pub events_received: u64,
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
    let (mut failed, mut events_received) = (0, 0);
    for i in 0..runs {
        alone.push(replay(scratch.path(), &config, &format!("alone-{i}"), model, data, None)?.seconds);
        let run = replay(scratch.path(), &config, &format!("loaded-{i}"), model, data, Some(load))?;
        loaded.push(run.seconds);
        latencies.add(&run.latencies_us).context("merging the latency histograms")?;
        failed += run.failed;
        events_received += run.events;
    }
    let (alone_s, loaded_s) = (median(&mut alone), median(&mut loaded));
    let requests_ok = latencies.len();
    let (load_name, rate) = match load {
        Load::Ab(rate) => ("GET /ab", rate),
        Load::Events => ("GET /events", 0),
    };
    let bench = ApiBench {
        load: load_name.into(),
        events_received,
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
        Load::Events => format!("with a GET /events client ({runs} runs)"),
    };
    out.add_row(vec![under, format!("{:.2} s", bench.loaded_s), String::new()]);
    out.add_row(vec!["slowdown".into(), format!("{:+.1}%", 100.0 * bench.slowdown), "≤ +10%".into()]);
    if load == Load::Events {
        out.add_row(vec![
            "commit events received".into(),
            format!("{} ({:.1}/s)", bench.events_received, bench.events_received as f64 / loaded.iter().sum::<f64>()),
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
    let events = (load == Some(Load::Events)).then(|| std::thread::spawn(move || read_events(&address)));
    let status = child.wait()?;
    let seconds = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let (latencies_us, failed) = match ab {
        Some(thread) => thread.join().map_err(|_| anyhow::anyhow!("the load thread panicked"))??,
        None => (latency_histogram()?, 0),
    };
    let events = match events {
        Some(thread) => thread.join().map_err(|_| anyhow::anyhow!("the event reader panicked"))??,
        None => 0,
    };
    log.push_str(&drain.join().unwrap_or_default());
    if !status.success() {
        bail!("rltrade serve failed ({status}):\n{log}");
    }
    Ok(Replay { seconds, latencies_us, failed, events })
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
        match get_ab(address) {
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

/// Reads `GET /events` until the daemon closes the stream at the replay's end: the
/// number of `commit` events.
///
/// # Errors
/// A failed connection, or an answer other than 200.
fn read_events(address: &str) -> anyhow::Result<u64> {
    let mut stream = TcpStream::connect(address).context("connecting to GET /events")?;
    stream.write_all(b"GET /events HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")?;
    let mut text = Vec::new();
    stream.read_to_end(&mut text).context("reading GET /events")?;
    let text = String::from_utf8_lossy(&text);
    if !text.starts_with("HTTP/1.1 200") {
        bail!("GET /events answered: {}", text.lines().next().unwrap_or_default());
    }
    Ok(text.matches("event: commit").count() as u64)
}

/// One `GET /ab` on its own connection: whether it answered 200.
fn get_ab(address: &str) -> std::io::Result<bool> {
    let mut stream = TcpStream::connect(address)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.write_all(b"GET /ab HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    Ok(response.starts_with(b"HTTP/1.1 200"))
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
