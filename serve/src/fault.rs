//! Named crash points for the kill tests: `RLTRADE_FAULT=<point>[:<n>]` aborts the
//! process (no unwinding, no flush) the n-th time (default 1st) execution reaches
//! `point`. Unset (always, outside tests) a point costs one read of a `OnceLock`.
//! Compiled into every build: a cargo feature would not reach the binary that the
//! integration tests run (cargo does not unify dev-dependency features into it).
//!
//! Points: [`BEFORE_COMMIT`], [`AFTER_COMMIT`], [`ORDER_JOURNALED_BEFORE_FILL`],
//! [`FILL_APPLIED_BEFORE_JOURNAL`], [`DURING_WARMUP`].
//!
//! One more testing-only knob lives here: `RLTRADE_JOURNAL_MAX_PAGES` ([`journal_max_pages`]),
//! a journal that cannot grow, for the full-disk tests.

/// Bars written into the open transaction, before `COMMIT`.
pub const BEFORE_COMMIT: &str = "before_commit";
/// Right after a `COMMIT`.
pub const AFTER_COMMIT: &str = "after_commit";
/// An order is journaled (committed) and its fill is not.
pub const ORDER_JOURNALED_BEFORE_FILL: &str = "order_journaled_before_fill";
/// A fill was applied to the in-memory account, not yet journaled.
pub const FILL_APPLIED_BEFORE_JOURNAL: &str = "fill_applied_before_journal";
/// While warm-up bars are being journaled.
pub const DURING_WARMUP: &str = "during_warmup";

/// Aborts the process when `RLTRADE_FAULT` names `point` and its hit count is reached.
#[inline]
pub fn point(point: &'static str) {
    armed::hit(point);
}

/// Testing only: `RLTRADE_JOURNAL_MAX_PAGES=<n>` caps the daemon's journal connection at
/// `n` pages (SQLite's `PRAGMA max_page_count`, which is per connection). SQLite never
/// lets the cap fall below the file's size and raises it to that size at every
/// transaction, so `1` gives a journal that cannot grow: every write that needs a new
/// page fails with "database or disk is full", as on a full disk, while rows that fit
/// in free pages still go in. Unset (always, outside tests), or not a number: no cap.
pub fn journal_max_pages() -> Option<u32> {
    static PAGES: std::sync::OnceLock<Option<u32>> = std::sync::OnceLock::new();
    *PAGES.get_or_init(|| std::env::var("RLTRADE_JOURNAL_MAX_PAGES").ok()?.trim().parse().ok())
}

mod armed {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU64, Ordering};

    static TARGET: OnceLock<Option<(String, u64)>> = OnceLock::new();
    static HITS: AtomicU64 = AtomicU64::new(0);

    pub(super) fn hit(point: &str) {
        let target = TARGET.get_or_init(|| {
            let spec = std::env::var("RLTRADE_FAULT").ok()?;
            let (name, n) = match spec.split_once(':') {
                Some((name, n)) => (name.to_string(), n.parse().unwrap_or(1)),
                None => (spec, 1),
            };
            Some((name, n))
        });
        if let Some((name, n)) = target {
            if name == point && HITS.fetch_add(1, Ordering::Relaxed) + 1 == *n {
                eprintln!("fault injection: aborting at {point}");
                std::process::abort();
            }
        }
    }
}
