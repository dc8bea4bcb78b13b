//! The faults a soak injects ([`SoakFault`]) and when ([`FaultSchedule`]): a schedule
//! drawn from a seeded ChaCha8 stream, so that a seed names a run.

use std::collections::BTreeMap;
use std::time::Duration;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::binance::mock_server::{Endpoint, Fault, MockServer};

/// A fault a soak injects into the daemon's world.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SoakFault {
    /// `kill -9` of the daemon 0 to 20 ms after a bar is served (mid-bar), then a restart.
    Kill9,
    /// `kill -9`, then a restart on a journal that cannot grow (SQLite's
    /// `max_page_count`, through `RLTRADE_JOURNAL_MAX_PAGES`) until the daemon fails
    /// on it; then a restart on a cleared disk.
    DiskFull,
    /// The next klines poll: HTTP 429 with `Retry-After: 1`.
    FeedRateLimited,
    /// The next klines poll: HTTP 500.
    FeedServerError,
    /// The next klines poll answers after the daemon's timeout.
    FeedTimeout,
    /// The next klines poll: the connection drops in the middle of the answer.
    FeedDropped,
    /// The next new order: HTTP 429 with `Retry-After: 1` (nothing placed).
    OrderRateLimited,
    /// The next new order: HTTP 500 before it reaches the book (nothing placed).
    OrderServerError,
    /// The next new order executes and is answered after the daemon's timeout.
    OrderTimeout,
    /// The next new order is lost (nothing placed), a 500 after the timeout.
    OrderLost,
    /// The next new order executes and its connection drops mid-answer; the two order
    /// queries that follow answer 500.
    OrderDropped,
    /// The next new order is refused: `-2010 Market is closed.` (changes what trades).
    OrderRejected,
    /// The exchange's clock runs three intervals past the last bar with no new bar: the
    /// feed goes stale (every strategy REDUCING) until the late bar comes.
    FeedStale,
}

impl SoakFault {
    /// The faults whose run must end with the journal of a run without them.
    pub const NO_TRACE: [SoakFault; 11] = [
        SoakFault::Kill9,
        SoakFault::DiskFull,
        SoakFault::FeedRateLimited,
        SoakFault::FeedServerError,
        SoakFault::FeedTimeout,
        SoakFault::FeedDropped,
        SoakFault::OrderRateLimited,
        SoakFault::OrderServerError,
        SoakFault::OrderTimeout,
        SoakFault::OrderLost,
        SoakFault::OrderDropped,
    ];

    /// The faults that change behaviour: only invariants must hold after them.
    pub const CHANGING: [SoakFault; 2] = [SoakFault::OrderRejected, SoakFault::FeedStale];

    /// Whether it is queued on the next new order (and waits for one).
    pub fn is_order_fault(self) -> bool {
        matches!(
            self,
            SoakFault::OrderRateLimited
                | SoakFault::OrderServerError
                | SoakFault::OrderTimeout
                | SoakFault::OrderLost
                | SoakFault::OrderDropped
                | SoakFault::OrderRejected
        )
    }

    /// Queues the mock's side of a network fault; `timeout` is the daemon's request
    /// timeout (a hang outlasts it). Kills, full disks and stale feeds are the lane's.
    pub fn inject(self, mock: &MockServer, timeout: Duration) {
        let late = timeout + Duration::from_millis(300);
        let (endpoint, fault) = match self {
            SoakFault::FeedRateLimited => (Endpoint::Klines, Fault::RateLimited { retry_after_s: 1 }),
            SoakFault::FeedServerError => (Endpoint::Klines, Fault::ServerError),
            SoakFault::FeedTimeout => (Endpoint::Klines, Fault::Hang(late)),
            SoakFault::FeedDropped => (Endpoint::Klines, Fault::Drop),
            SoakFault::OrderRateLimited => (Endpoint::NewOrder, Fault::RateLimited { retry_after_s: 1 }),
            SoakFault::OrderServerError => (Endpoint::NewOrder, Fault::ServerError),
            SoakFault::OrderTimeout => (Endpoint::NewOrder, Fault::Hang(late)),
            SoakFault::OrderLost => (Endpoint::NewOrder, Fault::Lose(late)),
            SoakFault::OrderDropped => {
                mock.inject(Endpoint::QueryOrder, Fault::ServerError, 2);
                (Endpoint::NewOrder, Fault::Drop)
            }
            SoakFault::OrderRejected => (Endpoint::NewOrder, Fault::Rejected),
            SoakFault::Kill9 | SoakFault::DiskFull | SoakFault::FeedStale => return,
        };
        mock.inject(endpoint, fault, 1);
    }
}

/// When each fault comes, counted in bars served, so that a seed names the whole
/// sequence whatever the machine's speed: the network faults and stale episodes one
/// every `fault_every` bars on average (exponential gaps, a Poisson process), a kill
/// every `kill_every` bars ± 50 % (landing a random 0 to 20 ms after its bar is served:
/// in the middle of the bar, its orders in flight or not), and every
/// `disk_full_every`-th kill a full disk instead.
#[derive(Debug)]
pub struct FaultSchedule {
    rng: ChaCha8Rng,
    kinds: Vec<SoakFault>,
    fault_every: f64,
    kill_every: Option<u64>,
    disk_full_every: u32,
    next_fault: u64,
    next_kill: Option<u64>,
    /// A new-order fault drawn while another waited for its order: injected first.
    held: Option<SoakFault>,
    kills: u32,
    /// Faults injected so far, by kind.
    pub injected: BTreeMap<SoakFault, u64>,
}

impl FaultSchedule {
    /// A schedule over `kinds` (kills and full disks come from `kill_every`, not from
    /// `kinds`) from `seed`; gaps in bars; `kill_every: None` never kills.
    pub fn new(
        seed: u64,
        kinds: &[SoakFault],
        fault_every: u64,
        kill_every: Option<u64>,
        disk_full_every: u32,
    ) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let kinds: Vec<SoakFault> =
            kinds.iter().copied().filter(|k| !matches!(k, SoakFault::Kill9 | SoakFault::DiskFull)).collect();
        let fault_every = fault_every.max(1) as f64;
        let next_fault = exponential(&mut rng, fault_every);
        let next_kill = kill_every.map(|every| jittered(&mut rng, every));
        Self {
            rng,
            kinds,
            fault_every,
            kill_every,
            disk_full_every: disk_full_every.max(1),
            next_fault,
            next_kill,
            held: None,
            kills: 0,
            injected: BTreeMap::new(),
        }
    }

    /// The network fault or stale episode due at bar `bar` (counted from the first
    /// served), if any; `order_fault_queued` holds a new-order fault back (to a later
    /// bar) while another still waits for its order.
    pub fn due_fault(&mut self, bar: u64, order_fault_queued: bool) -> Option<SoakFault> {
        if self.held.is_none() {
            if self.kinds.is_empty() || bar < self.next_fault {
                return None;
            }
            self.held = Some(self.kinds[self.rng.random_range(0..self.kinds.len())]);
            self.next_fault = bar + exponential(&mut self.rng, self.fault_every);
        }
        let kind = self.held?;
        if kind.is_order_fault() && order_fault_queued {
            return None;
        }
        self.held = None;
        *self.injected.entry(kind).or_default() += 1;
        Some(kind)
    }

    /// A kill ([`SoakFault::Kill9`] or [`SoakFault::DiskFull`]) due at bar `bar`, if
    /// any, with how long after serving the bar it lands.
    pub fn due_kill(&mut self, bar: u64) -> Option<(SoakFault, Duration)> {
        let (every, next) = (self.kill_every?, self.next_kill?);
        if bar < next {
            return None;
        }
        self.next_kill = Some(bar + jittered(&mut self.rng, every));
        self.kills += 1;
        let kind = if self.kills % self.disk_full_every == 0 { SoakFault::DiskFull } else { SoakFault::Kill9 };
        *self.injected.entry(kind).or_default() += 1;
        Some((kind, Duration::from_micros(self.rng.random_range(0..20_000))))
    }
}

/// An exponential gap of mean `mean` bars (inverse transform of a uniform draw), at
/// least 1.
fn exponential(rng: &mut ChaCha8Rng, mean: f64) -> u64 {
    let u: f64 = rng.random();
    ((mean * -(1.0 - u).ln()).round() as u64).max(1)
}

/// `every` times a uniform factor in [0.5, 1.5), at least 1.
fn jittered(rng: &mut ChaCha8Rng, every: u64) -> u64 {
    ((every as f64 * (0.5 + rng.random::<f64>())).round() as u64).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_names_one_schedule_by_bar_and_every_kth_kill_is_a_full_disk() {
        let draw = |seed| {
            let mut s = FaultSchedule::new(seed, &SoakFault::NO_TRACE, 10, Some(100), 3);
            let mut seen = Vec::new();
            for bar in 0..2_000 {
                seen.extend(s.due_kill(bar).map(|(k, delay)| (bar, k, delay)));
                seen.extend(s.due_fault(bar, false).map(|k| (bar, k, Duration::ZERO)));
            }
            seen
        };
        let (a, b, c) = (draw(7), draw(7), draw(8));
        assert_eq!(a, b, "the same seed, the same faults at the same bars");
        assert_ne!(a, c);
        let kills: Vec<(SoakFault, Duration)> = a
            .iter()
            .filter(|(_, k, _)| matches!(k, SoakFault::Kill9 | SoakFault::DiskFull))
            .map(|x| (x.1, x.2))
            .collect();
        assert!((13..=27).contains(&kills.len()), "a kill every 100 bars ± 50 % over 2,000: {}", kills.len());
        assert!(kills.iter().enumerate().all(|(i, (k, _))| (*k == SoakFault::DiskFull) == ((i + 1) % 3 == 0)));
        assert!(kills.iter().all(|(_, d)| *d < Duration::from_millis(20)));
        let faults = a.len() - kills.len();
        assert!((120..=280).contains(&faults), "a fault every 10 bars on average over 2,000: {faults}");
    }

    #[test]
    fn an_order_fault_waits_while_another_is_queued_and_keeps_its_turn() {
        let mut s = FaultSchedule::new(1, &[SoakFault::OrderLost], 1, None, 1);
        assert_eq!(s.due_fault(5, true), None);
        assert_eq!(s.due_fault(6, true), None);
        assert_eq!(s.due_fault(7, false), Some(SoakFault::OrderLost));
        assert_eq!(s.due_kill(100), None, "no kills without kill_every");
    }
}
