//! [`Bar`]: one OHLCV bar, the unit of time of every account, backtest and daemon.
//!
//! It lives in `exec` because [`crate::Account::step_bar`] consumes it: the per-bar
//! sequence (fill at the open, checks inside the bar, mark at the close) needs the
//! open, high, low and close. `rltrade-env` re-exports it with the bar series, the
//! loader and its validation.

use serde::{Deserialize, Serialize};

/// One OHLCV bar.
///
/// `time_ms` is the bar's **open** time in milliseconds since the Unix epoch (UTC); its
/// close time is `time_ms + interval_ms` of the series it belongs to. Prices are in the
/// quote currency (USD, USDT); `volume` is in the base asset. A bar read by
/// `rltrade_env::data::load_csv` always satisfies
/// `low <= min(open, close) <= max(open, close) <= high`, prices `> 0`, `volume >= 0`,
/// every field finite.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Bar {
    /// Open time, ms since the Unix epoch, UTC.
    pub time_ms: i64,
    /// First traded price of the interval, quote currency.
    pub open: f64,
    /// Highest traded price, quote currency.
    pub high: f64,
    /// Lowest traded price, quote currency.
    pub low: f64,
    /// Last traded price, quote currency.
    pub close: f64,
    /// Traded volume, base asset.
    pub volume: f64,
}
