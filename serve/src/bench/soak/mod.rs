//! `rltrade bench soak`: the daemon against the mock exchange over loopback for a set
//! time, years of bars served one at a time at full speed, with faults injected at
//! random under a fixed seed. Three lanes run side by side, each its own exchange,
//! daemon and journal:
//!
//! - **faulted**: `kill -9` and restarts, full-disk episodes, and the network faults
//!   (429 with `Retry-After`, 5XX, timeouts, dropped connections) on the feed and on
//!   orders: faults that must leave no trace;
//! - **uninterrupted**: the same bars with no fault, bar for bar behind the faulted
//!   lane; the two journals must end equal ([`check::first_difference`]);
//! - **changing**: all of the above plus rejected orders and stale feeds, which change
//!   what trades: only the invariants must hold ([`check::Invariants`]).
//!
//! In every lane: no bar lost, no client order id sent twice, the account equal to the
//! exchange's balances, and resident memory flat after warm-up (within
//! [`MAX_RSS_GROWTH_PCT`]).

pub mod check;
pub mod child;
pub mod faults;
pub mod lane;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rltrade_env::BarSeries;
use serde::Serialize;

use crate::binance::klines::Interval;
use crate::error::{Error, Result};
use faults::SoakFault;
use lane::{LaneReport, LaneSetup, LaneSpec, Progress};

/// The most resident memory may grow after warm-up, percent.
pub const MAX_RSS_GROWTH_PCT: f64 = 10.0;
/// A process must live this long for its memory to be judged, s.
pub const MIN_RSS_LIFE_S: f64 = 30.0;

/// The soak's knobs, as `rltrade bench soak` takes them.
#[derive(Clone, Debug)]
pub struct SoakPlan {
    /// How long the faulted lanes serve bars.
    pub duration: Duration,
    /// The seed of the fault schedules.
    pub seed: u64,
    /// Mean gap between network faults (and stale feeds in the changing lane), bars.
    pub fault_every: u64,
    /// Mean gap between kills, bars (± 50 %).
    pub kill_every: u64,
    /// Every n-th kill restarts on a full disk.
    pub disk_full_every: u32,
    /// The strategy, `ma:FAST:SLOW`.
    pub baseline: String,
}

/// What a soak runs.
#[derive(Clone, Debug)]
pub struct SoakConfig {
    /// The `rltrade` executable the daemons run.
    pub exe: PathBuf,
    /// The folder of the lanes' journals, configs and logs.
    pub dir: PathBuf,
    /// The knobs.
    pub plan: SoakPlan,
    /// Bars the exchange holds before the daemon starts.
    pub warmup: usize,
    /// The daemon's per-request timeout.
    pub timeout: Duration,
}

/// What a soak found.
#[derive(Clone, Debug, Serialize)]
pub struct SoakReport {
    /// The seed.
    pub seed: u64,
    /// The replayed data's symbol and interval.
    pub data: String,
    /// Each lane: faulted, uninterrupted, changing.
    pub lanes: Vec<LaneReport>,
    /// Whether the faulted lane's journal equals the uninterrupted one's.
    pub journals_equal: bool,
    /// Where they first differ.
    pub first_difference: Option<String>,
    /// Whether every check passed.
    pub passed: bool,
    /// Why not, one line each.
    pub failures: Vec<String>,
}

/// Runs the three lanes on `series` (see the module docs) and checks them.
///
/// # Errors
/// Setup failures (the folder, a socket); a daemon's failure is a failed check in the
/// report, not an error.
pub fn run(config: &SoakConfig, series: &BarSeries) -> Result<SoakReport> {
    let interval = Interval::from_ms(series.interval_ms).ok_or_else(|| Error::Config {
        field: "--data".into(),
        message: format!("interval of {} ms: the exchange has no such kline interval", series.interval_ms),
    })?;
    if series.bars.len() <= config.warmup + 1 {
        return Err(Error::Config {
            field: "--warmup".into(),
            message: format!(
                "{} bars of data, {} for the warm-up: none left to trade",
                series.bars.len(),
                config.warmup
            ),
        });
    }
    let setup = LaneSetup {
        exe: config.exe.clone(),
        bars: Arc::new(series.bars.clone()),
        interval,
        warmup: config.warmup,
        duration: config.plan.duration,
        baseline: config.plan.baseline.clone(),
        cash: 10_000.0,
        timeout: config.timeout,
        fault_every: config.plan.fault_every,
        kill_every: Some(config.plan.kill_every),
        disk_full_every: config.plan.disk_full_every,
    };
    let faulted = Arc::new(Progress::default());
    let specs = [
        LaneSpec {
            name: "faulted",
            faults: SoakFault::NO_TRACE.to_vec(),
            seed: config.plan.seed,
            follow: None,
            progress: faulted.clone(),
        },
        LaneSpec {
            name: "uninterrupted",
            faults: Vec::new(),
            seed: config.plan.seed,
            follow: Some(faulted),
            progress: Arc::default(),
        },
        LaneSpec {
            name: "changing",
            faults: SoakFault::NO_TRACE.iter().chain(&SoakFault::CHANGING).copied().collect(),
            seed: config.plan.seed.wrapping_add(1),
            follow: None,
            progress: Arc::default(),
        },
    ];
    let lanes: Vec<Result<LaneReport>> = std::thread::scope(|scope| {
        let handles: Vec<_> = specs
            .iter()
            .map(|spec| {
                let (setup, dir) = (&setup, config.dir.join(spec.name));
                scope.spawn(move || lane::run(setup, spec, &dir))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(Error::Config { field: "soak".into(), message: "a lane panicked".into() }))
            })
            .collect()
    });
    let lanes: Vec<LaneReport> = lanes.into_iter().collect::<Result<_>>()?;
    let first_difference = check::first_difference(&lanes[0].journal, &lanes[1].journal)?;
    let mut failures = Vec::new();
    for lane in &lanes {
        if let Some(error) = &lane.error {
            failures.push(format!("{}: {error}", lane.name));
        }
        if !lane.invariants.hold() {
            failures.push(format!("{}: an invariant broke: {:?}", lane.name, lane.invariants));
        }
        if lane.rss.process_seconds >= MIN_RSS_LIFE_S && lane.rss.growth_pct > MAX_RSS_GROWTH_PCT {
            failures.push(format!(
                "{}: resident memory grew {:.1} % after warm-up ({:.1} → {:.1} MiB)",
                lane.name, lane.rss.growth_pct, lane.rss.warm_mib, lane.rss.max_mib
            ));
        }
    }
    if let Some(difference) = &first_difference {
        failures.push(format!("the faulted journal differs from the uninterrupted one at {difference}"));
    }
    if lanes[0].bars == 0 {
        failures.push("the faulted lane served no bar".into());
    }
    Ok(SoakReport {
        seed: config.plan.seed,
        data: format!("{} {}", series.symbol, interval.name()),
        journals_equal: first_difference.is_none(),
        first_difference,
        passed: failures.is_empty(),
        failures,
        lanes,
    })
}
