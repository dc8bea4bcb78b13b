//! OHLCV bars and bar series: the market data every other part of rltrade reads.

use std::path::PathBuf;

/// One OHLCV bar (defined in `rltrade-exec`, whose per-bar account step consumes it).
pub use rltrade_exec::Bar;

/// A validated, strictly time-ordered series of bars of one symbol and one interval.
#[derive(Clone, Debug)]
pub struct BarSeries {
    /// Where the bars came from (a CSV path, or a description such as `"synthetic"`).
    pub source: PathBuf,
    /// Symbol, upper case (e.g. `BTCUSD`).
    pub symbol: String,
    /// The bar interval in ms, inferred as the most common spacing between bars.
    pub interval_ms: i64,
    /// The bars, strictly increasing in `time_ms`.
    pub bars: Vec<Bar>,
    /// Lower-case hex SHA-256 of the source file's bytes (empty for in-memory series).
    pub sha256: String,
}

impl BarSeries {
    /// Builds an in-memory series (tests, synthetic data). The interval is inferred
    /// with [`infer_interval_ms`]; `sha256` is empty.
    ///
    /// # Panics
    /// Panics if `bars` has fewer than 2 bars or is not strictly increasing in time:
    /// file data goes through [`crate::data::load_csv`], which returns errors instead.
    pub fn from_bars(symbol: &str, bars: Vec<Bar>) -> Self {
        assert!(bars.len() >= 2, "a bar series needs at least 2 bars");
        assert!(bars.windows(2).all(|w| w[0].time_ms < w[1].time_ms), "bars must be strictly increasing in time");
        let interval_ms = infer_interval_ms(&bars);
        Self {
            source: PathBuf::from("in-memory"),
            symbol: symbol.to_ascii_uppercase(),
            interval_ms,
            bars,
            sha256: String::new(),
        }
    }

    /// Number of bars.
    pub fn len(&self) -> usize {
        self.bars.len()
    }

    /// True when the series holds no bar.
    pub fn is_empty(&self) -> bool {
        self.bars.is_empty()
    }

    /// Bars per year for this interval: `365 × 86,400,000 / interval_ms`
    /// (crypto trades every day; the annualization factor of Sharpe and volatility).
    pub fn periods_per_year(&self) -> f64 {
        periods_per_year(self.interval_ms)
    }
}

/// Bars per year for an interval in ms: `365 × 86,400,000 / interval_ms`.
pub fn periods_per_year(interval_ms: i64) -> f64 {
    365.0 * 86_400_000.0 / interval_ms as f64
}

/// The most common spacing between consecutive bars, in ms (ties go to the smaller
/// spacing). Gaps in the data do not change it as long as most bars are regular.
///
/// # Panics
/// Panics if `bars` has fewer than 2 bars.
pub fn infer_interval_ms(bars: &[Bar]) -> i64 {
    assert!(bars.len() >= 2, "need at least 2 bars to infer an interval");
    let mut diffs: Vec<i64> = bars.windows(2).map(|w| w[1].time_ms - w[0].time_ms).collect();
    diffs.sort_unstable();
    let (mut best, mut best_count) = (diffs[0], 0usize);
    let mut i = 0;
    while i < diffs.len() {
        let j = diffs[i..].iter().position(|&d| d != diffs[i]).map_or(diffs.len(), |k| i + k);
        if j - i > best_count {
            best = diffs[i];
            best_count = j - i;
        }
        i = j;
    }
    best
}

/// Formats ms since the epoch as ISO 8601 UTC with second precision
/// (`2017-07-01T11:00:00Z`), the format of the data files and of every CSV rltrade writes.
pub fn format_time_ms(time_ms: i64) -> String {
    match chrono::DateTime::from_timestamp_millis(time_ms) {
        Some(t) if time_ms % 1000 == 0 => t.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        Some(t) => t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        None => format!("{time_ms}ms"),
    }
}

/// Formats an interval in ms the way exchanges name them: `30m`, `1h`, `1d`, else `<n>ms`.
pub fn format_interval(interval_ms: i64) -> String {
    const UNITS: [(i64, &str); 5] =
        [(604_800_000, "w"), (86_400_000, "d"), (3_600_000, "h"), (60_000, "m"), (1_000, "s")];
    for (unit, name) in UNITS {
        if interval_ms > 0 && interval_ms % unit == 0 {
            return format!("{}{name}", interval_ms / unit);
        }
    }
    format!("{interval_ms}ms")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bar(time_ms: i64) -> Bar {
        Bar { time_ms, open: 1.0, high: 1.0, low: 1.0, close: 1.0, volume: 0.0 }
    }

    #[test]
    fn interval_is_the_most_common_spacing() {
        let bars: Vec<Bar> = [0, 10, 20, 50, 60, 70].into_iter().map(bar).collect();
        assert_eq!(infer_interval_ms(&bars), 10);
    }

    #[test]
    fn formats_times_and_intervals() {
        assert_eq!(format_time_ms(1_498_906_800_000), "2017-07-01T11:00:00Z");
        assert_eq!(format_interval(1_800_000), "30m");
        assert_eq!(format_interval(3_600_000), "1h");
        assert_eq!(format_interval(86_400_000), "1d");
        assert_eq!(periods_per_year(3_600_000), 8760.0);
    }
}
