//! One lane of a soak: a mock exchange, the daemon trading against it over loopback,
//! and the driver that serves it one closed bar at a time, injects the lane's faults,
//! kills and restarts the daemon, and samples its resident memory.
//!
//! **Lockstep.** The driver serves bar k (the exchange's clock set just past its close)
//! and waits until the journal holds it as traded with every order settled before it
//! serves bar k + 1. MARKET orders fill at the close of the last bar served, so every
//! run of the same bars fills at the same prices, however long its faults take.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rltrade_env::Bar;
use serde::Serialize;

use super::check::{self, Invariants, open_read_only};
use super::child::DaemonProcess;
use super::faults::{FaultSchedule, SoakFault};
use crate::binance::Clock;
use crate::binance::klines::Interval;
use crate::binance::mock_server::{Endpoint, MockConfig, MockServer};
use crate::error::{Error, Result};
use crate::journal::{EventKind, OrderStatus};

/// How long one bar may take to settle (faults included) before the lane fails.
const BAR_DEADLINE: Duration = Duration::from_secs(30);
/// `recvWindow` of the daemon's signed requests, ms: an order lost by the exchange is
/// resent once it has passed.
const RECV_WINDOW_MS: u64 = 1_000;
/// The daemon's klines poll period, ms.
const POLL_MS: u64 = 5;

/// What every lane of a soak shares.
#[derive(Clone, Debug)]
pub struct LaneSetup {
    /// The `rltrade` executable.
    pub exe: PathBuf,
    /// The replayed bars (one lap; later laps are shifted by its span).
    pub bars: Arc<Vec<Bar>>,
    /// Their interval.
    pub interval: Interval,
    /// Bars the exchange holds before the daemon starts (its warm-up).
    pub warmup: usize,
    /// How long the faulted lanes serve bars.
    pub duration: Duration,
    /// The strategy, `ma:FAST:SLOW`.
    pub baseline: String,
    /// The account's starting cash, quote currency (the exchange's USDT balance).
    pub cash: f64,
    /// The daemon's per-request timeout.
    pub timeout: Duration,
    /// Mean gap between network faults, bars.
    pub fault_every: u64,
    /// Mean gap between kills, bars (`None`: never).
    pub kill_every: Option<u64>,
    /// Every n-th kill restarts on a full disk.
    pub disk_full_every: u32,
}

/// Bars a lane has settled, for a lane that follows it.
#[derive(Debug, Default)]
pub struct Progress {
    settled: AtomicUsize,
    done: AtomicBool,
}

impl Progress {
    fn settled(&self) -> usize {
        self.settled.load(Ordering::SeqCst)
    }
}

/// What makes one lane differ from another.
#[derive(Clone, Debug)]
pub struct LaneSpec {
    /// Its name (and its folder's).
    pub name: &'static str,
    /// The faults it injects (kills too when listed).
    pub faults: Vec<SoakFault>,
    /// The seed of its schedule.
    pub seed: u64,
    /// A lane whose settled bars bound this one's (the uninterrupted reference follows
    /// the faulted lane bar for bar and stops where it stopped).
    pub follow: Option<Arc<Progress>>,
    /// This lane's progress, for a follower.
    pub progress: Arc<Progress>,
}

/// Resident memory of a lane's longest-lived daemon process.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct RssReport {
    /// How long that process ran, s.
    pub process_seconds: f64,
    /// Resident memory once warm (at a quarter of its life, 10 s at the earliest), MiB.
    pub warm_mib: f64,
    /// The most after that, MiB.
    pub max_mib: f64,
    /// `max / warm - 1`, percent.
    pub growth_pct: f64,
}

/// What one lane did.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct LaneReport {
    /// The lane's name.
    pub name: String,
    /// Bars served and settled after the warm-up.
    pub bars: u64,
    /// Open time of the first and the last bar served, UTC.
    pub first_bar: String,
    /// See `first_bar`.
    pub last_bar: String,
    /// Wall time serving bars, s.
    pub seconds: f64,
    /// Bars settled per second of wall time.
    pub bars_per_s: f64,
    /// Daemon starts after the first.
    pub restarts: u64,
    /// Daemons on a full disk that failed on it (exited on their own).
    pub disk_full_failures: u64,
    /// Faults injected, by kind.
    pub faults: BTreeMap<SoakFault, u64>,
    /// The invariants after the final stop.
    pub invariants: Invariants,
    /// Resident memory.
    pub rss: RssReport,
    /// Why the lane stopped early, if it did.
    pub error: Option<String>,
    /// Its journal.
    #[serde(skip)]
    pub journal: PathBuf,
}

/// The exchange's clock: set by the driver, running on with real time from there (so
/// that signed requests stay inside their `recvWindow` while the daemon waits).
#[derive(Clone)]
struct SoakClock(Arc<Mutex<(i64, Instant)>>);

impl SoakClock {
    fn new(now_ms: i64) -> Self {
        Self(Arc::new(Mutex::new((now_ms, Instant::now()))))
    }

    fn set(&self, now_ms: i64) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = (now_ms, Instant::now());
    }

    fn clock(&self) -> Clock {
        let inner = self.0.clone();
        Arc::new(move || {
            let (base, at) = *inner.lock().unwrap_or_else(|p| p.into_inner());
            base + i64::try_from(at.elapsed().as_millis()).unwrap_or(i64::MAX)
        })
    }
}

/// Bar `i` of an endless replay of `bars`: lap `i / n` shifted by `n` laps' span.
fn bar_at(bars: &[Bar], interval_ms: i64, i: usize) -> Bar {
    let n = bars.len();
    let span = bars[n - 1].time_ms - bars[0].time_ms + interval_ms;
    let mut bar = bars[i % n];
    bar.time_ms += span * (i / n) as i64;
    bar
}

/// What a poll of the journal found.
enum Check {
    /// What was waited for holds.
    Ready,
    /// Not yet: poll again.
    NotYet,
    /// It never will: the lane fails with this.
    Failed(String),
}

/// The lane's driver state.
struct Lane<'a> {
    setup: &'a LaneSetup,
    spec: &'a LaneSpec,
    dir: PathBuf,
    journal: PathBuf,
    config: PathBuf,
    log: PathBuf,
    daemon: Option<DaemonProcess>,
    capped: bool,
    report: LaneReport,
    /// (process number, seconds since it started, RSS KiB).
    rss: Vec<(usize, f64, u64)>,
    process: usize,
    last_sample: Instant,
}

/// Runs one lane in `dir` until its time is up (or its leader stops), then stops the
/// daemon with SIGTERM and checks the invariants. Never panics on a daemon's failure:
/// it ends the lane with [`LaneReport::error`] set.
///
/// # Errors
/// Setup failures: the folder, the mock exchange's socket, the tokio runtime.
pub fn run(setup: &LaneSetup, spec: &LaneSpec, dir: &Path) -> Result<LaneReport> {
    std::fs::create_dir_all(dir).map_err(|source| Error::Io { path: dir.to_path_buf(), source })?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|source| Error::Io { path: dir.to_path_buf(), source })?;
    let interval_ms = setup.interval.ms();
    let initial: Vec<Bar> = (0..setup.warmup).map(|i| bar_at(&setup.bars, interval_ms, i)).collect();
    let clock = SoakClock::new(initial.last().map_or(0, |b| b.time_ms + interval_ms) + 1);
    let mock_config = MockConfig {
        interval: setup.interval,
        bars: initial.clone(),
        fill_at_last_close: true,
        balances: vec![("BTC".into(), 0.0), ("USDT".into(), setup.cash)],
        clock: clock.clock(),
        ..MockConfig::default()
    };
    let mock = runtime
        .block_on(MockServer::start(mock_config))
        .map_err(|source| Error::Io { path: dir.to_path_buf(), source })?;
    let config = dir.join("soak.toml");
    let url = mock.base_url();
    let toml = format!(
        "[execution]\ninitial_cash = {cash}\n[serve]\nbroker = \"binance\"\n[serve.exchange]\nbase_url = \"{url}\"\n\
         testnet_url = \"{url}\"\nsymbol = \"BTCUSDT\"\ninterval = \"{interval}\"\npoll_ms = {POLL_MS}\n\
         warmup_bars = {warmup}\nclock = \"exchange\"\ntimeout_ms = {timeout}\nrecv_window_ms = {RECV_WINDOW_MS}\n",
        cash = setup.cash,
        interval = setup.interval.name(),
        warmup = setup.warmup,
        timeout = setup.timeout.as_millis(),
    );
    std::fs::write(&config, toml).map_err(|source| Error::Io { path: config.clone(), source })?;
    let mut lane = Lane {
        setup,
        spec,
        dir: dir.to_path_buf(),
        journal: dir.join("journal.db"),
        config,
        log: dir.join("daemon.log"),
        daemon: None,
        capped: false,
        report: LaneReport { name: spec.name.to_owned(), ..LaneReport::default() },
        rss: Vec::new(),
        process: 0,
        last_sample: Instant::now(),
    };
    lane.report.journal = lane.journal.clone();
    let served = match lane.drive(&mock, &clock, &initial) {
        Ok(served) => served,
        Err((served, message)) => {
            lane.report.error = Some(message);
            served
        }
    };
    spec.progress.done.store(true, Ordering::SeqCst);
    if let Some(daemon) = lane.daemon.take() {
        let (status, by_itself) = daemon.terminate(Duration::from_secs(20));
        if lane.report.error.is_none() && !(by_itself && status.is_some_and(|s| s.success())) {
            lane.report.error =
                Some(format!("SIGTERM: the daemon did not exit 0 ({status:?}); see {}", lane.log.display()));
        }
    }
    let served_ms: Vec<i64> = served.iter().map(|b| b.time_ms).collect();
    lane.report.bars = served.len() as u64;
    lane.report.first_bar = served.first().map_or_else(String::new, |b| rltrade_env::bar::format_time_ms(b.time_ms));
    lane.report.last_bar = served.last().map_or_else(String::new, |b| rltrade_env::bar::format_time_ms(b.time_ms));
    match check::invariants(&lane.journal, &mock, &served_ms, "BTC", "USDT") {
        Ok(invariants) => lane.report.invariants = invariants,
        Err(e) => {
            lane.report.error.get_or_insert_with(|| format!("invariants: {e}"));
        }
    }
    lane.report.rss = rss_report(&lane.rss);
    drop(mock);
    Ok(lane.report)
}

impl Lane<'_> {
    /// Serves bars until the time is up: the bars served, or with the reason it failed.
    fn drive(
        &mut self,
        mock: &MockServer,
        clock: &SoakClock,
        initial: &[Bar],
    ) -> std::result::Result<Vec<Bar>, (Vec<Bar>, String)> {
        let setup = self.setup;
        let interval_ms = setup.interval.ms();
        let mut schedule = FaultSchedule::new(
            self.spec.seed,
            &self.spec.faults,
            setup.fault_every,
            if self.spec.faults.contains(&SoakFault::Kill9) { setup.kill_every } else { None },
            setup.disk_full_every,
        );
        let mut served = Vec::new();
        if let Err(e) = self.start(false) {
            return Err((served, e));
        }
        // the warm-up must be journaled before the first bar is served, else the
        // warm-up would take that bar too
        let last_warm = initial.last().map_or(0, |b| b.time_ms);
        if let Err(e) = self.wait("the warm-up", |conn| {
            let warm: Option<i64> = conn
                .query_row("SELECT MAX(time_ms) FROM bars WHERE phase = 'warmup'", [], |r| r.get(0))
                .map_err(|e| Error::Journal { path: PathBuf::new(), message: e.to_string() })?;
            Ok(if warm == Some(last_warm) { Check::Ready } else { Check::NotYet })
        }) {
            return Err((served, e));
        }
        let started = Instant::now();
        let mut order_fault_at: Option<usize> = None;
        let mut i = setup.warmup;
        loop {
            match &self.spec.follow {
                Some(leader) => {
                    // the reference serves bar i only once the faulted lane settled it
                    let k = i - setup.warmup;
                    while leader.settled() <= k && !leader.done.load(Ordering::SeqCst) {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    if leader.settled() <= k {
                        break;
                    }
                }
                None if started.elapsed() >= setup.duration => break,
                None => {}
            }
            let n = (i - setup.warmup) as u64;
            if order_fault_at.is_some_and(|at| mock.requests(Endpoint::NewOrder) > at) {
                order_fault_at = None;
            }
            let bar = bar_at(&setup.bars, interval_ms, i);
            if let Some(fault) = schedule.due_fault(n, order_fault_at.is_some()) {
                if fault == SoakFault::FeedStale {
                    if let Err(e) = self.go_stale(clock, &bar) {
                        return Err((served, e));
                    }
                } else {
                    fault.inject(mock, setup.timeout);
                    if fault.is_order_fault() {
                        order_fault_at = Some(mock.requests(Endpoint::NewOrder));
                    }
                }
            }
            clock.set(bar.time_ms + interval_ms + 1);
            mock.push_bars(&[bar]);
            served.push(bar);
            if let Some((kill, after)) = schedule.due_kill(n) {
                // in the middle of the bar: polled or not, its order journaled, sent,
                // answered or not
                std::thread::sleep(after);
                if let Err(e) = self.kill_and_restart(kill == SoakFault::DiskFull) {
                    return Err((served, e));
                }
            }
            if let Err(e) = self.settle(&bar) {
                return Err((served, e));
            }
            self.spec.progress.settled.fetch_add(1, Ordering::SeqCst);
            i += 1;
        }
        self.report.seconds = started.elapsed().as_secs_f64();
        self.report.bars_per_s = served.len() as f64 / self.report.seconds.max(1e-9);
        self.report.faults = schedule.injected.clone();
        Ok(served)
    }

    /// Starts a daemon (`capped`: on a journal that cannot grow).
    fn start(&mut self, capped: bool) -> std::result::Result<(), String> {
        let args: Vec<String> = [
            "serve",
            "--config",
            &self.config.display().to_string(),
            "--baseline",
            &self.setup.baseline,
            "--listen",
            "127.0.0.1:0",
            "--journal",
            &self.journal.display().to_string(),
        ]
        .map(String::from)
        .to_vec();
        let mut env = vec![
            ("BINANCE_API_KEY", "mock-key".to_owned()),
            ("BINANCE_API_SECRET", "mock-secret".to_owned()),
            ("RUST_LOG", "warn".to_owned()),
        ];
        if capped {
            env.push(("RLTRADE_JOURNAL_MAX_PAGES", "1".to_owned()));
        }
        let daemon = DaemonProcess::spawn(&self.setup.exe, &self.dir, &args, &env, &self.log)
            .map_err(|e| format!("spawning {}: {e}", self.setup.exe.display()))?;
        self.daemon = Some(daemon);
        self.capped = capped;
        self.process += 1;
        Ok(())
    }

    /// `kill -9`, then a restart (on a full disk when `disk_full`).
    fn kill_and_restart(&mut self, disk_full: bool) -> std::result::Result<(), String> {
        if let Some(daemon) = self.daemon.take() {
            daemon.kill9();
        }
        self.report.restarts += 1;
        self.start(disk_full)
    }

    /// The exchange's clock runs three intervals past the last bar with none new; waits
    /// until the journal records the stale feed.
    fn go_stale(&mut self, clock: &SoakClock, next: &Bar) -> std::result::Result<(), String> {
        let mut before = None;
        self.wait("the feed's events", |conn| {
            before = Some(check::events(conn, EventKind::Feed)?);
            Ok(Check::Ready)
        })?;
        clock.set(next.time_ms + 2 * self.setup.interval.ms() + 1);
        self.wait("the stale feed", |conn| {
            let now = check::events(conn, EventKind::Feed)?;
            Ok(if before.is_some_and(|b| now > b) { Check::Ready } else { Check::NotYet })
        })
    }

    /// Waits until `bar` is journaled as traded and every order is settled.
    fn settle(&mut self, bar: &Bar) -> std::result::Result<(), String> {
        let time_ms = bar.time_ms;
        let unsettled = [OrderStatus::Pending.as_str(), OrderStatus::Open.as_str()];
        let unknown = OrderStatus::Unknown.as_str();
        self.wait(&format!("bar {}", rltrade_env::bar::format_time_ms(time_ms)), |conn| {
            let read = |e: rusqlite::Error| Error::Journal { path: PathBuf::new(), message: e.to_string() };
            let last: Option<i64> = conn
                .query_row("SELECT MAX(time_ms) FROM bars WHERE phase = 'traded'", [], |r| r.get(0))
                .map_err(read)?;
            if last.is_none_or(|t| t < time_ms) {
                return Ok(Check::NotYet);
            }
            let (open, lost): (i64, i64) = conn
                .query_row(
                    "SELECT COUNT(*) FILTER (WHERE status IN (?1, ?2)), COUNT(*) FILTER (WHERE status = ?3) \
                     FROM orders",
                    [unsettled[0], unsettled[1], unknown],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .map_err(read)?;
            Ok(match (lost, open) {
                (1.., _) => Check::Failed("an order's fate is unknown: its strategy halted".into()),
                (_, 0) => Check::Ready,
                _ => Check::NotYet,
            })
        })
    }

    /// Polls the journal until `ready` says [`Check::Ready`], restarting a daemon that
    /// exited on a full disk, sampling memory; fails on [`Check::Failed`], on any other
    /// exit, or after [`BAR_DEADLINE`]. A read error (a busy moment, a table not made
    /// yet, a journal being recovered after a kill) is asked again.
    fn wait(
        &mut self,
        what: &str,
        mut ready: impl FnMut(&rusqlite::Connection) -> Result<Check>,
    ) -> std::result::Result<(), String> {
        let deadline = Instant::now() + BAR_DEADLINE;
        let mut conn: Option<rusqlite::Connection> = None;
        loop {
            self.sample_rss();
            if let Some(status) = self.daemon.as_mut().and_then(DaemonProcess::exited) {
                let log = std::fs::read_to_string(&self.log).unwrap_or_default();
                let full = log.lines().rev().take(20).any(|l| l.contains("database or disk is full"));
                if !(self.capped && full) {
                    return Err(format!("the daemon exited ({status}) waiting for {what}; see {}", self.log.display()));
                }
                // it failed on the full disk, as it must: the disk is cleared, it restarts
                self.report.disk_full_failures += 1;
                self.daemon = None;
                self.report.restarts += 1;
                self.start(false)?;
            }
            if conn.is_none() && self.journal.exists() {
                conn = open_read_only(&self.journal).ok();
            }
            if let Some(c) = &conn {
                match ready(c) {
                    Ok(Check::Ready) => return Ok(()),
                    Ok(Check::NotYet) => {}
                    Ok(Check::Failed(message)) => return Err(format!("{what}: {message}; see {}", self.log.display())),
                    Err(_) => conn = None,
                }
            }
            if Instant::now() > deadline {
                return Err(format!("{what}: not settled after {BAR_DEADLINE:?}; see {}", self.log.display()));
            }
            std::thread::sleep(Duration::from_micros(500));
        }
    }

    fn sample_rss(&mut self) {
        if self.last_sample.elapsed() < Duration::from_secs(1) {
            return;
        }
        self.last_sample = Instant::now();
        if let Some(daemon) = &self.daemon {
            if let Some(kib) = daemon.rss_kib() {
                self.rss.push((self.process, daemon.started.elapsed().as_secs_f64(), kib));
            }
        }
    }
}

/// [`RssReport`] of the longest-lived process among `samples`.
fn rss_report(samples: &[(usize, f64, u64)]) -> RssReport {
    let mut lives: BTreeMap<usize, f64> = BTreeMap::new();
    for (process, t, _) in samples {
        let life = lives.entry(*process).or_default();
        *life = life.max(*t);
    }
    let Some((&longest, &life)) = lives.iter().max_by(|a, b| a.1.total_cmp(b.1)) else {
        return RssReport::default();
    };
    let warm_at = (life / 4.0).max(10.0);
    let mine: Vec<(f64, u64)> = samples.iter().filter(|s| s.0 == longest).map(|s| (s.1, s.2)).collect();
    let Some(&(_, warm)) = mine.iter().find(|(t, _)| *t >= warm_at) else {
        return RssReport { process_seconds: life, ..RssReport::default() };
    };
    let max = mine.iter().filter(|(t, _)| *t >= warm_at).map(|(_, kib)| *kib).max().unwrap_or(warm);
    let mib = |kib: u64| kib as f64 / 1024.0;
    RssReport {
        process_seconds: life,
        warm_mib: mib(warm),
        max_mib: mib(max),
        growth_pct: 100.0 * (max as f64 / warm.max(1) as f64 - 1.0),
    }
}
