//! The wait before each retry after a transport error or an HTTP 5XX: exponential
//! backoff with jitter (backon's `ExponentialBuilder`), the one retry policy of the
//! daemon: the exchange clients (`data fetch`, the feed, the broker) and the delivery
//! of alerts.
//!
//! The n-th wait is `min(first · 2ⁿ⁻¹, max)` times a random factor in [1, 2): the jitter
//! spreads out clients that failed together, so they do not come back at the same
//! instant ("Exponential Backoff And Jitter", AWS Architecture Blog, 2015). Rate limits
//! (HTTP 429/418, the Bot API's `retry_after`) wait the server's figure instead.

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBackoff, ExponentialBuilder};

/// An endless sequence of waits: `first`, then doubling up to `max`, each with jitter
/// (see the module documentation). Start a new one after a success.
pub fn exponential(first: Duration, max: Duration) -> ExponentialBackoff {
    ExponentialBuilder::default()
        .with_min_delay(first)
        .with_max_delay(max)
        .with_factor(2.0)
        .with_jitter()
        .without_max_times()
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_to_the_cap_with_jitter_below_twice_the_base() {
        let (first, max) = (Duration::from_millis(10), Duration::from_millis(80));
        let waits: Vec<Duration> = exponential(first, max).take(7).collect();
        let bases = [10u64, 20, 40, 80, 80, 80, 80].map(Duration::from_millis);
        for (wait, base) in waits.iter().zip(bases) {
            assert!(*wait >= base && *wait < base * 2, "{wait:?} for a base of {base:?}");
        }
        // jitter: two sequences differ somewhere
        let other: Vec<Duration> = exponential(first, max).take(7).collect();
        assert_ne!(waits, other);
    }
}
