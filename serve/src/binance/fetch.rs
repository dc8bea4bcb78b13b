//! `rltrade data fetch`: downloads closed klines into the project's bar CSV
//! (`timestamp,open,high,low,close,volume`, see `rltrade_env::data`).
//!
//! Paged (up to 1,000 bars a request, each page starting one ms after the last open
//! time seen), rate-limited (a minimum gap between requests; 429/418 wait
//! `Retry-After`; transport errors and 5XX back off exponentially), resumable (an
//! existing `--out` of the same interval is continued after its last bar), and atomic:
//! the file is written to a temporary file beside it, loaded back with
//! [`rltrade_env::data::load_csv_with_symbol`], checked with
//! [`rltrade_env::quality::quality_report`], and only then renamed over `--out`.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rltrade_env::Bar;
use rltrade_env::bar::format_time_ms;
use rltrade_env::data::{HEADER, load_csv, load_csv_with_symbol};
use rltrade_env::quality::{QualityReport, quality_report};

use super::error::ApiError;
use super::klines::{BadRow, Interval, KlinesClient, KlinesRequest, MAX_LIMIT, Sequencer};
use crate::backoff::exponential;
use crate::{Error, Result};

/// First wait after a transport error or 5XX; doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
/// Longest wait between retries.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// What to fetch.
#[derive(Clone, Debug, PartialEq)]
pub struct FetchRequest {
    /// Symbol (`BTCUSDT`).
    pub symbol: String,
    /// Bar interval.
    pub interval: Interval,
    /// First open time wanted, ms since the epoch UTC (inclusive).
    pub start_ms: i64,
    /// Open times must be before this, ms (exclusive); `None`: now.
    pub end_ms: Option<i64>,
    /// The CSV to write (continued when it exists).
    pub out: PathBuf,
    /// Least time between two requests (Binance's request-weight limit).
    pub min_gap: Duration,
    /// Retries of one page after rate limits, transport errors, 5XX or malformed
    /// bodies before giving up.
    pub max_retries: u32,
}

/// What a fetch did. Times are bar open times, ms since the epoch UTC.
#[derive(Clone, Debug)]
pub struct FetchSummary {
    /// The file written (or left as it was when nothing was new).
    pub path: PathBuf,
    /// Bars already in the file before (0 for a new file).
    pub existing_bars: usize,
    /// New closed bars appended.
    pub new_bars: usize,
    /// Bars in the file now.
    pub total_bars: usize,
    /// First new bar, if any.
    pub first_new_ms: Option<i64>,
    /// Last new bar, if any.
    pub last_new_ms: Option<i64>,
    /// Requests sent (retries included).
    pub requests: usize,
    /// Requests retried after a rate limit, transport error, 5XX or malformed body.
    pub retries: usize,
    /// Rows skipped (invalid prices, malformed, duplicate, out of order).
    pub bad_rows: Vec<BadRow>,
    /// The data-quality report of the file as written (gaps, zero-volume bars, …).
    pub quality: QualityReport,
}

impl fmt::Display for FetchSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let when = |t: Option<i64>| t.map_or_else(|| "-".to_owned(), format_time_ms);
        writeln!(f, "file:      {}", self.path.display())?;
        writeln!(f, "new bars:  {} ({} .. {})", self.new_bars, when(self.first_new_ms), when(self.last_new_ms))?;
        writeln!(f, "existing:  {}", self.existing_bars)?;
        writeln!(f, "total:     {} ({} .. {})", self.total_bars, self.quality.first_time, self.quality.last_time)?;
        writeln!(f, "requests:  {} ({} retried)", self.requests, self.retries)?;
        writeln!(f, "bad rows:  {}", self.bad_rows.len())?;
        for row in self.bad_rows.iter().take(10) {
            writeln!(f, "  {}: {}", row.kind.as_str(), row.message)?;
        }
        writeln!(f, "gaps:      {} ({} bars missing)", self.quality.gaps.count, self.quality.gaps.missing_bars)
    }
}

/// Fetches `request.symbol` bars into `request.out` (see the module docs).
///
/// # Errors
/// - [`Error::Data`]: `--out` exists but is not a valid bar file, or its interval
///   differs; the range holds no closed bar; the fetched data fails validation
///   (nothing is written then).
/// - [`Error::Config`]: `start` is not before `end`.
/// - [`Error::Exchange`]: the exchange refused (`code`, `msg`) or kept failing after
///   `max_retries` retries; names the endpoint. No file is written.
/// - [`Error::Io`]: writing the temporary file or renaming it.
pub async fn fetch(client: &KlinesClient, request: &FetchRequest) -> Result<FetchSummary> {
    let out = &request.out;
    let interval = request.interval;
    let end_ms = request.end_ms.unwrap_or_else(|| client.now_ms());
    if request.start_ms >= end_ms {
        return Err(Error::Config {
            field: "--start".into(),
            message: format!("{} is not before the end {}", format_time_ms(request.start_ms), format_time_ms(end_ms)),
        });
    }
    let existing = existing_file(out, interval)?;
    let last_existing = existing.as_ref().map(|(_, last, _)| *last);
    let mut cursor = last_existing.map_or(request.start_ms, |last| last + interval.ms());
    let mut sequencer = Sequencer::new(interval, last_existing);
    let mut new_bars: Vec<Bar> = Vec::new();
    let mut bad_rows = Vec::new();
    let (mut requests, mut retries, mut failures) = (0usize, 0usize, 0u32);
    let mut backoff = exponential(FIRST_BACKOFF, MAX_BACKOFF);
    let mut last_request: Option<Instant> = None;
    while cursor < end_ms {
        if let Some(at) = last_request {
            tokio::time::sleep(request.min_gap.saturating_sub(at.elapsed())).await;
        }
        last_request = Some(Instant::now());
        requests += 1;
        let page_request = KlinesRequest {
            symbol: request.symbol.clone(),
            interval,
            start_ms: Some(cursor),
            end_ms: Some(end_ms - 1),
            limit: MAX_LIMIT,
        };
        let page = match client.klines(&page_request).await {
            Ok(page) => page,
            Err(err) => {
                let wait = match &err {
                    ApiError::RateLimited { retry_after_ms, .. } => Duration::from_millis(*retry_after_ms),
                    e if e.fate_unknown() || matches!(e, ApiError::Malformed { .. }) => {
                        backoff.next().unwrap_or(MAX_BACKOFF)
                    }
                    _ => return Err(err.into()),
                };
                if failures >= request.max_retries {
                    return Err(Error::Exchange {
                        endpoint: err.endpoint().to_owned(),
                        message: format!("{} (gave up after {} retries)", err.detail(), failures),
                    });
                }
                failures += 1;
                retries += 1;
                tracing::warn!("{}; retrying in {} ms", crate::log_text::untrusted(&err.to_string()), wait.as_millis());
                tokio::time::sleep(wait).await;
                continue;
            }
        };
        failures = 0;
        backoff = exponential(FIRST_BACKOFF, MAX_BACKOFF);
        bad_rows.extend(page.bad_rows.iter().cloned());
        for kline in &page.klines {
            match sequencer.accept(kline) {
                Ok(()) if kline.open_time_ms < end_ms => new_bars.push(kline.bar()),
                Ok(()) => {}
                Err(bad) => bad_rows.push(bad),
            }
        }
        match page.last_open_time_ms {
            Some(last) if page.rows >= usize::from(MAX_LIMIT) && page.open_dropped == 0 => cursor = last + 1,
            _ => break,
        }
    }
    for bad in &bad_rows {
        tracing::warn!("skipped {} row: {}", bad.kind.as_str(), crate::log_text::untrusted(&bad.message));
    }
    let existing_bars = existing.as_ref().map_or(0, |(n, _, _)| *n);
    let (first_new_ms, last_new_ms) = (new_bars.first().map(|b| b.time_ms), new_bars.last().map(|b| b.time_ms));
    let quality = match (&existing, new_bars.is_empty()) {
        (Some((_, _, report)), true) => report.clone(),
        (None, true) => {
            return Err(Error::Data {
                path: out.clone(),
                message: format!(
                    "no closed {} {} bar from {} to {} at {}; nothing written",
                    request.symbol,
                    interval,
                    format_time_ms(request.start_ms),
                    format_time_ms(end_ms),
                    client.klines_endpoint()
                ),
            });
        }
        (_, false) => write_checked(out, &request.symbol, interval, existing.is_some(), &new_bars)?,
    };
    Ok(FetchSummary {
        path: out.clone(),
        existing_bars,
        new_bars: new_bars.len(),
        total_bars: quality.bars,
        first_new_ms,
        last_new_ms,
        requests,
        retries,
        bad_rows,
        quality,
    })
}

/// An existing `out`: (bars, last open time, quality report); `None` if absent.
fn existing_file(out: &Path, interval: Interval) -> Result<Option<(usize, i64, QualityReport)>> {
    if !out.exists() {
        return Ok(None);
    }
    let series = load_csv(out).map_err(|e| Error::Data {
        path: out.to_owned(),
        message: format!("exists but cannot be resumed ({e}); move it away or choose another --out"),
    })?;
    if series.interval_ms != interval.ms() {
        return Err(Error::Data {
            path: out.to_owned(),
            message: format!(
                "holds {} bars but --interval is {interval}; choose another --out",
                rltrade_env::bar::format_interval(series.interval_ms)
            ),
        });
    }
    let last = series.bars.last().map_or(i64::MIN, |b| b.time_ms);
    Ok(Some((series.bars.len(), last, quality_report(&series))))
}

/// Writes `out` (its current bytes when `append`, then `bars`) through a temporary
/// file beside it, validates that file and renames it over `out`.
fn write_checked(out: &Path, symbol: &str, interval: Interval, append: bool, bars: &[Bar]) -> Result<QualityReport> {
    // a uniquely named file beside `out` (removed when dropped unless persisted)
    let tmp = rltrade_env::output_file::beside(out).map_err(|e| Error::io(out, e))?;
    write_tmp(out, tmp.path(), append, bars)?;
    let report = check(out, tmp.path(), symbol, interval)?;
    tmp.persist(out).map_err(|e| Error::io(out, e.error))?;
    Ok(report)
}

fn write_tmp(out: &Path, tmp: &Path, append: bool, bars: &[Bar]) -> Result<()> {
    let mut text = if append {
        let mut old = std::fs::read_to_string(out).map_err(|e| Error::io(out, e))?;
        if !old.ends_with('\n') {
            old.push('\n');
        }
        old
    } else {
        format!("{HEADER}\n")
    };
    for b in bars {
        text.push_str(&format!(
            "{},{},{},{},{},{}\n",
            format_time_ms(b.time_ms),
            b.open,
            b.high,
            b.low,
            b.close,
            b.volume
        ));
    }
    let mut file = std::fs::File::create(tmp).map_err(|e| Error::io(tmp, e))?;
    file.write_all(text.as_bytes()).and_then(|()| file.sync_all()).map_err(|e| Error::io(tmp, e))
}

/// Loads the temporary file back and refuses hard problems: a row that does not load,
/// an inferred interval other than `interval`, or bars off the interval's grid.
fn check(out: &Path, tmp: &Path, symbol: &str, interval: Interval) -> Result<QualityReport> {
    let refuse = |message: String| Error::Data { path: out.to_owned(), message: format!("{message}; nothing written") };
    let mut series =
        load_csv_with_symbol(tmp, symbol).map_err(|e| refuse(format!("fetched data fails validation: {e}")))?;
    series.source = out.to_owned();
    let report = quality_report(&series);
    if report.interval_ms != interval.ms() {
        return Err(refuse(format!("fetched bars have interval {}, not {interval}", report.interval)));
    }
    if report.irregular_spacings > 0 {
        return Err(refuse(format!("{} spacings are not whole {interval} intervals", report.irregular_spacings)));
    }
    Ok(report)
}
