//! Binance spot klines (OHLCV bars): intervals, the client of `GET /api/v3/klines`,
//! the parser of its 12-field rows, and the ordering checks a consumer applies.
//!
//! Source: <https://developers.binance.com/docs/binance-spot-api-docs/rest-api/market-data-endpoints#klinecandlestick-data>.
//! A row is
//! `[openTime, "open", "high", "low", "close", "volume", closeTime, "quoteVolume", trades,
//! "takerBuyBase", "takerBuyQuote", "ignore"]`: times are integer ms since the epoch
//! (UTC), prices (quote currency) and volumes are decimal strings, and
//! `closeTime = openTime + interval − 1`. The last row may be the bar still forming;
//! only closed bars (`closeTime < now`) are kept.

use std::fmt;
use std::time::Duration;

use rltrade_env::Bar;
use serde_json::Value;

use super::clock::{Clock, system_clock};
use super::error::ApiError;
use super::http;
use crate::feed::{BadInputKind, check_bar};

/// Most klines one request returns (`limit` ≤ 1000; default 500).
pub const MAX_LIMIT: u16 = 1_000;

/// A kline interval Binance spot serves, with its length in ms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Interval {
    name: &'static str,
    ms: i64,
}

/// The intervals accepted (Binance spot's, but for `1w` and `1M`, whose bars do not
/// start at multiples of their length since the epoch).
const INTERVALS: [(&str, i64); 13] = [
    ("1s", 1_000),
    ("1m", 60_000),
    ("3m", 180_000),
    ("5m", 300_000),
    ("15m", 900_000),
    ("30m", 1_800_000),
    ("1h", 3_600_000),
    ("2h", 7_200_000),
    ("4h", 14_400_000),
    ("6h", 21_600_000),
    ("8h", 28_800_000),
    ("12h", 43_200_000),
    ("1d", 86_400_000),
];

impl Interval {
    /// The interval named `name` (`"1m"`, `"1h"`, `"1d"`, …), if Binance has it.
    pub fn parse(name: &str) -> Option<Self> {
        INTERVALS.iter().find(|(n, _)| *n == name).map(|&(name, ms)| Self { name, ms })
    }

    /// The interval of length `ms`, if Binance has it.
    pub fn from_ms(ms: i64) -> Option<Self> {
        INTERVALS.iter().find(|(_, m)| *m == ms).map(|&(name, ms)| Self { name, ms })
    }

    /// Binance's name (`"1h"`).
    pub fn name(self) -> &'static str {
        self.name
    }

    /// Length in ms.
    pub fn ms(self) -> i64 {
        self.ms
    }

    /// Every accepted name, for error messages.
    pub fn names() -> String {
        INTERVALS.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
    }
}

impl fmt::Display for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

/// One parsed kline. Times in ms since the epoch (UTC), prices in the quote currency,
/// volumes in the base asset unless named quote.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Kline {
    /// Open time, ms.
    pub open_time_ms: i64,
    /// Open price.
    pub open: f64,
    /// High price.
    pub high: f64,
    /// Low price.
    pub low: f64,
    /// Close price.
    pub close: f64,
    /// Volume, base asset.
    pub volume: f64,
    /// Close time, ms (`open_time_ms + interval − 1`).
    pub close_time_ms: i64,
    /// Volume, quote asset.
    pub quote_volume: f64,
    /// Number of trades.
    pub trades: u64,
    /// Taker buy volume, base asset.
    pub taker_buy_base: f64,
    /// Taker buy volume, quote asset.
    pub taker_buy_quote: f64,
}

impl Kline {
    /// The OHLCV bar (`time_ms` = open time).
    pub fn bar(&self) -> Bar {
        Bar {
            time_ms: self.open_time_ms,
            open: self.open,
            high: self.high,
            low: self.low,
            close: self.close,
            volume: self.volume,
        }
    }
}

/// A row that was skipped.
#[derive(Clone, Debug, PartialEq)]
pub struct BadRow {
    /// What was wrong.
    pub kind: BadInputKind,
    /// The row's open time, ms, when it could be read.
    pub open_time_ms: Option<i64>,
    /// Details: row index, field, value.
    pub message: String,
}

/// One parsed response.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct KlinePage {
    /// Closed, valid klines ([`check_bar`] passed) in response order (not yet checked
    /// for order or duplicates: see [`Sequencer`]).
    pub klines: Vec<Kline>,
    /// Rows skipped: malformed ([`BadInputKind::MalformedJson`]) or invalid prices
    /// ([`BadInputKind::InvalidPrice`]).
    pub bad_rows: Vec<BadRow>,
    /// Rows in the response, all kinds.
    pub rows: usize,
    /// Rows dropped because the bar was still open (`closeTime ≥ now`).
    pub open_dropped: usize,
    /// The latest open time of any readable row (open bars and invalid prices
    /// included), ms: the next page starts after it.
    pub last_open_time_ms: Option<i64>,
}

/// Parses a klines response body. Rows that do not have the documented shape or whose
/// prices fail [`check_bar`] are skipped into [`KlinePage::bad_rows`]; bars with
/// `closeTime ≥ now_ms` are still open and dropped.
///
/// # Errors
/// [`ApiError::Malformed`] (naming `endpoint`) when the body is not a JSON array.
pub fn parse_klines(endpoint: &str, body: &[u8], now_ms: i64) -> Result<KlinePage, ApiError> {
    let rows: Vec<Value> = http::parse_json(endpoint, body)?;
    let mut page = KlinePage { rows: rows.len(), ..KlinePage::default() };
    for (index, row) in rows.iter().enumerate() {
        let open_time_ms = row.get(0).and_then(Value::as_i64);
        if let Some(t) = open_time_ms {
            page.last_open_time_ms = Some(page.last_open_time_ms.map_or(t, |last: i64| last.max(t)));
        }
        let kline = match parse_row(row) {
            Ok(kline) => kline,
            Err(message) => {
                let kind = BadInputKind::MalformedJson;
                page.bad_rows.push(BadRow { kind, open_time_ms, message: format!("row {index}: {message}") });
                continue;
            }
        };
        if let Err(message) = check_bar(&kline.bar()) {
            let kind = BadInputKind::InvalidPrice;
            page.bad_rows.push(BadRow { kind, open_time_ms, message: format!("row {index}: {message}") });
            continue;
        }
        if kline.close_time_ms >= now_ms {
            page.open_dropped += 1;
            continue;
        }
        page.klines.push(kline);
    }
    Ok(page)
}

/// Parses one 12-field row; the message names the field.
fn parse_row(row: &Value) -> Result<Kline, String> {
    let fields = row.as_array().ok_or_else(|| format!("expected an array of 12 fields, found {row}"))?;
    if fields.len() < 11 {
        return Err(format!("expected 12 fields, found {}", fields.len()));
    }
    let int = |i: usize, name: &str| {
        fields[i].as_i64().ok_or_else(|| format!("field `{name}`: expected an integer, found {}", fields[i]))
    };
    let num = |i: usize, name: &str| -> Result<f64, String> {
        match &fields[i] {
            Value::String(s) => s.trim().parse::<f64>().map_err(|_| format!("field `{name}`: {s:?} is not a number")),
            Value::Number(n) => n.as_f64().ok_or_else(|| format!("field `{name}`: {n} is not a number")),
            other => Err(format!("field `{name}`: expected a decimal string, found {other}")),
        }
    };
    Ok(Kline {
        open_time_ms: int(0, "openTime")?,
        open: num(1, "open")?,
        high: num(2, "high")?,
        low: num(3, "low")?,
        close: num(4, "close")?,
        volume: num(5, "volume")?,
        close_time_ms: int(6, "closeTime")?,
        quote_volume: num(7, "quoteVolume")?,
        trades: fields[8]
            .as_u64()
            .ok_or_else(|| format!("field `trades`: expected an integer, found {}", fields[8]))?,
        taker_buy_base: num(9, "takerBuyBaseVolume")?,
        taker_buy_quote: num(10, "takerBuyQuoteVolume")?,
    })
}

/// Keeps bars strictly increasing and on the interval's grid: each accepted bar is
/// later than the last one by a whole number of intervals.
#[derive(Clone, Copy, Debug)]
pub struct Sequencer {
    interval_ms: i64,
    last_ms: Option<i64>,
}

impl Sequencer {
    /// A sequencer whose last accepted open time is `last_ms` (ms), if any.
    pub fn new(interval: Interval, last_ms: Option<i64>) -> Self {
        Self { interval_ms: interval.ms(), last_ms }
    }

    /// The open time of the last accepted bar, ms.
    pub fn last_ms(&self) -> Option<i64> {
        self.last_ms
    }

    /// Accepts `kline` (it becomes the last) or says why not:
    /// [`BadInputKind::Duplicate`] (same open time as the last),
    /// [`BadInputKind::OutOfOrder`] (earlier), [`BadInputKind::Misaligned`] (not a
    /// whole number of intervals later).
    ///
    /// # Errors
    /// The [`BadRow`] of a refused kline.
    pub fn accept(&mut self, kline: &Kline) -> Result<(), BadRow> {
        let t = kline.open_time_ms;
        if let Some(last) = self.last_ms {
            let refuse = |kind, message: String| Err(BadRow { kind, open_time_ms: Some(t), message });
            if t == last {
                return refuse(BadInputKind::Duplicate, format!("bar at {t} ms was already delivered"));
            }
            if t < last {
                return refuse(BadInputKind::OutOfOrder, format!("bar at {t} ms is before the last bar at {last} ms"));
            }
            if (t - last) % self.interval_ms != 0 {
                return refuse(
                    BadInputKind::Misaligned,
                    format!("bar at {t} ms is not a whole number of {} ms intervals after {last} ms", self.interval_ms),
                );
            }
        }
        self.last_ms = Some(t);
        Ok(())
    }
}

/// One klines request. Times are bar **open** times in ms since the epoch, UTC, both
/// bounds inclusive (Binance's `startTime`/`endTime`).
#[derive(Clone, Debug, PartialEq)]
pub struct KlinesRequest {
    /// Symbol (`BTCUSDT`).
    pub symbol: String,
    /// Interval.
    pub interval: Interval,
    /// First open time wanted, ms; `None`: the latest bars.
    pub start_ms: Option<i64>,
    /// Last open time wanted, ms (inclusive).
    pub end_ms: Option<i64>,
    /// Most rows, 1 to [`MAX_LIMIT`] (clamped).
    pub limit: u16,
}

/// A client of Binance's public klines (`GET {base_url}/api/v3/klines`) and server
/// time (`GET {base_url}/api/v3/time`).
#[derive(Clone)]
pub struct KlinesClient {
    http: reqwest::Client,
    base_url: String,
    clock: Clock,
}

impl fmt::Debug for KlinesClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KlinesClient").field("base_url", &self.base_url).finish_non_exhaustive()
    }
}

impl KlinesClient {
    /// A client of `base_url` (`https://api.binance.com`; a trailing `/` is dropped)
    /// with a per-request `timeout`, on the system clock.
    ///
    /// # Errors
    /// [`crate::Error::Exchange`] if the HTTP client cannot be built (TLS setup).
    pub fn new(base_url: &str, timeout: Duration) -> crate::Result<Self> {
        let http = reqwest::Client::builder().timeout(timeout).build().map_err(|e| crate::Error::Exchange {
            endpoint: base_url.to_owned(),
            message: format!("cannot build the HTTP client: {e}"),
        })?;
        Ok(Self { http, base_url: base_url.trim_end_matches('/').to_owned(), clock: system_clock() })
    }

    /// The same client deciding "now" (which bars are closed) with `clock`.
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The base URL.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Now on this client's clock, ms since the epoch.
    pub fn now_ms(&self) -> i64 {
        (self.clock)()
    }

    /// `GET {base}/api/v3/klines` as errors name it.
    pub fn klines_endpoint(&self) -> String {
        format!("GET {}/api/v3/klines", self.base_url)
    }

    /// Requests one page of klines and parses it ([`parse_klines`] at this client's now).
    ///
    /// # Errors
    /// Every [`ApiError`]: rate limits with their wait, `{"code","msg"}` refusals
    /// (`-1121 Invalid symbol.`), transport errors and timeouts, a body that is not an
    /// array.
    pub async fn klines(&self, request: &KlinesRequest) -> Result<KlinePage, ApiError> {
        let endpoint = self.klines_endpoint();
        let mut query: Vec<(&str, String)> = vec![
            ("symbol", request.symbol.clone()),
            ("interval", request.interval.name().to_owned()),
            ("limit", request.limit.clamp(1, MAX_LIMIT).to_string()),
        ];
        if let Some(start) = request.start_ms {
            query.push(("startTime", start.to_string()));
        }
        if let Some(end) = request.end_ms {
            query.push(("endTime", end.to_string()));
        }
        let url = format!("{}/api/v3/klines", self.base_url);
        let body = http::send(&endpoint, self.http.get(url).query(&query)).await?;
        parse_klines(&endpoint, &body, self.now_ms())
    }

    /// The exchange's clock (`GET /api/v3/time` → `{"serverTime": ms}`).
    ///
    /// # Errors
    /// Every [`ApiError`].
    pub async fn server_time(&self) -> Result<i64, ApiError> {
        let endpoint = format!("GET {}/api/v3/time", self.base_url);
        let body = http::send(&endpoint, self.http.get(format!("{}/api/v3/time", self.base_url))).await?;
        let value: Value = http::parse_json(&endpoint, &body)?;
        value["serverTime"].as_i64().ok_or_else(|| ApiError::Malformed {
            endpoint: endpoint.clone(),
            message: format!("no integer `serverTime` in {value}"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000;

    fn row(t: i64, close: &str) -> String {
        format!(r#"[{t},"100.0","110.5","90.25","{close}","12.5",{},"1250.0",42,"6.0","600.0","0"]"#, t + HOUR - 1)
    }

    #[test]
    fn intervals_round_trip() {
        for (name, ms) in [("1m", 60_000), ("5m", 300_000), ("15m", 900_000), ("30m", 1_800_000)] {
            assert_eq!(Interval::parse(name).map(Interval::ms), Some(ms), "{name}");
            assert_eq!(Interval::from_ms(ms).map(Interval::name), Some(name), "{name}");
        }
        for (name, ms) in [("1h", HOUR), ("4h", 4 * HOUR), ("1d", 24 * HOUR), ("1s", 1_000)] {
            assert_eq!(Interval::parse(name).map(Interval::ms), Some(ms), "{name}");
            assert_eq!(Interval::from_ms(ms).map(|i| i.to_string()), Some(name.to_owned()));
        }
        assert_eq!(Interval::parse("1H"), None);
        assert_eq!(Interval::parse("7m"), None);
    }

    #[test]
    fn parses_the_documented_row_shape() {
        let body = format!("[{}]", row(1_499_040_000_000, "105.75"));
        let page = parse_klines("GET x", body.as_bytes(), i64::MAX).unwrap();
        assert_eq!(page.rows, 1);
        assert_eq!(
            page.klines[0],
            Kline {
                open_time_ms: 1_499_040_000_000,
                open: 100.0,
                high: 110.5,
                low: 90.25,
                close: 105.75,
                volume: 12.5,
                close_time_ms: 1_499_040_000_000 + HOUR - 1,
                quote_volume: 1250.0,
                trades: 42,
                taker_buy_base: 6.0,
                taker_buy_quote: 600.0,
            }
        );
    }

    #[test]
    fn bad_rows_are_skipped_and_named() {
        let t = 1_499_040_000_000;
        let body = format!(
            "[{}, {}, {}, [{}, \"1\"], {}, \"text\"]",
            row(t, "105"),
            row(t + HOUR, "NaN"),
            row(t + 2 * HOUR, "-3"),
            t + 3 * HOUR,
            row(t + 4 * HOUR, "abc"),
        );
        let page = parse_klines("GET x", body.as_bytes(), i64::MAX).unwrap();
        assert_eq!(page.klines.len(), 1);
        let kinds: Vec<_> = page.bad_rows.iter().map(|b| (b.kind, b.open_time_ms)).collect();
        assert_eq!(
            kinds,
            vec![
                (BadInputKind::InvalidPrice, Some(t + HOUR)),
                (BadInputKind::InvalidPrice, Some(t + 2 * HOUR)),
                (BadInputKind::MalformedJson, Some(t + 3 * HOUR)),
                (BadInputKind::MalformedJson, Some(t + 4 * HOUR)),
                (BadInputKind::MalformedJson, None),
            ]
        );
        assert!(page.bad_rows[3].message.contains("field `close`: \"abc\""), "{:?}", page.bad_rows[3]);
        assert_eq!(page.last_open_time_ms, Some(t + 4 * HOUR));
        let err = parse_klines("GET x", b"{\"oops\":1}", 0).unwrap_err();
        assert!(matches!(err, ApiError::Malformed { .. }), "{err}");
    }

    #[test]
    fn open_bar_is_dropped() {
        let t = 1_499_040_000_000;
        let body = format!("[{}, {}]", row(t, "105"), row(t + HOUR, "106"));
        // At the second bar's close time it is still open; one ms later it is closed.
        let page = parse_klines("GET x", body.as_bytes(), t + 2 * HOUR - 1).unwrap();
        assert_eq!((page.klines.len(), page.open_dropped), (1, 1));
        let page = parse_klines("GET x", body.as_bytes(), t + 2 * HOUR).unwrap();
        assert_eq!((page.klines.len(), page.open_dropped), (2, 0));
    }

    #[test]
    fn sequencer_refuses_duplicates_out_of_order_and_misaligned() {
        let k = |t: i64| Kline {
            open_time_ms: t,
            ..parse_klines("x", format!("[{}]", row(0, "105")).as_bytes(), i64::MAX).unwrap().klines[0]
        };
        let mut s = Sequencer::new(Interval::parse("1h").unwrap(), Some(0));
        assert!(s.accept(&k(HOUR)).is_ok());
        assert_eq!(s.accept(&k(HOUR)).unwrap_err().kind, BadInputKind::Duplicate);
        assert_eq!(s.accept(&k(0)).unwrap_err().kind, BadInputKind::OutOfOrder);
        assert_eq!(s.accept(&k(HOUR + 1)).unwrap_err().kind, BadInputKind::Misaligned);
        assert!(s.accept(&k(3 * HOUR)).is_ok(), "a gap is not an error");
        assert_eq!(s.last_ms(), Some(3 * HOUR));
    }
}
