//! `rltrade data fetch` end to end: the built binary against the mock exchange, started
//! in-process on 127.0.0.1 and passed with `--base-url`. No internet.

mod util;

use rltrade_env::Bar;
use rltrade_env::data::load_csv;
use rltrade_serve::binance::mock_server::{Endpoint, MockConfig, MockServer};
use util::{Dir, describe, run};

/// 2020-01-01T00:00:00Z, ms.
const T0: i64 = 1_577_836_800_000;
const HOUR: i64 = 3_600_000;

fn bars(from: usize, n: usize) -> Vec<Bar> {
    (from..from + n)
        .map(|i| {
            let p = 7_000.0 + (i % 97) as f64;
            Bar { time_ms: T0 + i as i64 * HOUR, open: p, high: p + 5.0, low: p - 5.0, close: p + 1.25, volume: 3.5 }
        })
        .collect()
}

/// A multi-threaded runtime (its threads serve the mock while the test blocks on the
/// binary) and a mock with `n` 1h bars from 2020-01-01.
fn mock(n: usize) -> (tokio::runtime::Runtime, MockServer) {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let mock = runtime.block_on(MockServer::start(MockConfig { bars: bars(0, n), ..MockConfig::default() })).unwrap();
    (runtime, mock)
}

fn fetch_args<'a>(url: &'a str, out: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "data",
        "fetch",
        "--symbol",
        "BTCUSDT",
        "--interval",
        "1h",
        "--out",
        out,
        "--base-url",
        url,
        "--min-gap-ms",
        "10",
    ];
    args.extend_from_slice(extra);
    args
}

#[test]
fn fetches_in_pages_and_resumes_with_only_the_new_bars() {
    let (_runtime, mock) = mock(2_500);
    let dir = Dir::new();
    let args = fetch_args(mock.base_url(), "btcusdt_1h.csv", &["--start", "2020-01-01"]);
    let out = run(dir.path(), &args);
    assert!(out.status.success(), "{}", describe(&args, &out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("new bars:  2500"), "{stdout}");
    assert!(mock.requests(Endpoint::Klines) >= 3, "1,000 bars a page: {}", mock.requests(Endpoint::Klines));
    let file = dir.path().join("btcusdt_1h.csv");
    let series = load_csv(&file).unwrap();
    assert_eq!(series.bars, bars(0, 2_500));
    assert_eq!(series.interval_ms, HOUR);
    let before = std::fs::read_to_string(&file).unwrap();
    assert!(
        before.starts_with("timestamp,open,high,low,close,volume\n2020-01-01T00:00:00Z,7000,7005,6995,7001.25,3.5\n")
    );

    // 100 more bars close at the exchange; the same command appends only those.
    mock.push_bars(&bars(2_500, 100));
    let requests_before = mock.requests(Endpoint::Klines);
    let out = run(dir.path(), &args);
    assert!(out.status.success(), "{}", describe(&args, &out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("new bars:  100") && stdout.contains("existing:  2500"), "{stdout}");
    assert_eq!(mock.requests(Endpoint::Klines) - requests_before, 1, "one page from the last bar on");
    let after = std::fs::read_to_string(&file).unwrap();
    assert!(after.starts_with(&before), "appended, the old rows untouched");
    assert_eq!(load_csv(&file).unwrap().bars, bars(0, 2_600), "no duplicates, no gaps");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(leftovers, vec!["btcusdt_1h.csv"], "no temporary file left");
}

#[test]
fn end_is_exclusive() {
    let (_runtime, mock) = mock(100);
    let dir = Dir::new();
    let args = fetch_args(mock.base_url(), "day.csv", &["--start", "2020-01-01", "--end", "2020-01-02T00:00:00Z"]);
    let out = run(dir.path(), &args);
    assert!(out.status.success(), "{}", describe(&args, &out));
    assert_eq!(load_csv(&dir.path().join("day.csv")).unwrap().bars, bars(0, 24));
}

#[test]
fn a_bad_date_is_a_clear_error() {
    let (_runtime, mock) = mock(10);
    let dir = Dir::new();
    let args = fetch_args(mock.base_url(), "x.csv", &["--start", "2020-13-45"]);
    let out = run(dir.path(), &args);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&args, &out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--start") && stderr.contains("`2020-13-45` is not a date") && stderr.contains("YYYY-MM-DD"),
        "{stderr}"
    );
    assert_eq!(mock.requests(Endpoint::Klines), 0);
    assert!(!dir.path().join("x.csv").exists());
}

#[test]
fn an_exchange_error_prints_code_and_msg_and_leaves_no_file() {
    let (_runtime, mock) = mock(10);
    let dir = Dir::new();
    let mut args = fetch_args(mock.base_url(), "x.csv", &["--start", "2020-01-01"]);
    args[3] = "NOPE";
    let out = run(dir.path(), &args);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&args, &out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("/api/v3/klines") && stderr.contains("-1121") && stderr.contains("Invalid symbol."),
        "{stderr}"
    );
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "no file, no temporary file");
}
