//! The error type of `rltrade-env`: every variant names the file, line, field or
//! setting at fault, so a user can go straight to it.

use std::path::PathBuf;

/// What is wrong with one data row. Shown after `path: line N:`.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum RowProblem {
    /// The row does not have the 6 fields of the header.
    #[error("expected {expected} fields, found {found}")]
    FieldCount {
        /// Fields in the header (6).
        expected: usize,
        /// Fields in this row.
        found: usize,
    },
    /// A field is not a number (or the timestamp is neither ISO 8601 nor integer ms).
    #[error("field `{field}`: {value:?} is not a valid {what}")]
    NotANumber {
        /// Column name.
        field: &'static str,
        /// The raw text.
        value: String,
        /// What was expected ("number", "ISO 8601 UTC time or integer ms since the epoch").
        what: &'static str,
    },
    /// An integer timestamp below 10^11: that is seconds, not milliseconds.
    #[error(
        "field `timestamp`: {value} looks like seconds since the epoch; rltrade wants milliseconds (multiply by 1000) or ISO 8601"
    )]
    TimestampInSeconds {
        /// The integer read.
        value: i64,
    },
    /// NaN or ±inf.
    #[error("field `{field}` is not finite ({value})")]
    NonFinite {
        /// Column name.
        field: &'static str,
        /// The value read.
        value: f64,
    },
    /// A price ≤ 0.
    #[error("field `{field}` must be > 0, found {value}")]
    NonPositivePrice {
        /// Column name.
        field: &'static str,
        /// The value read.
        value: f64,
    },
    /// high < max(open, close).
    #[error("high {high} is below max(open, close) = {max_open_close}")]
    HighTooLow {
        /// The bar's high.
        high: f64,
        /// max(open, close).
        max_open_close: f64,
    },
    /// low > min(open, close).
    #[error("low {low} is above min(open, close) = {min_open_close}")]
    LowTooHigh {
        /// The bar's low.
        low: f64,
        /// min(open, close).
        min_open_close: f64,
    },
    /// volume < 0.
    #[error("field `volume` must be >= 0, found {value}")]
    NegativeVolume {
        /// The value read.
        value: f64,
    },
    /// The same timestamp as the previous row.
    #[error("duplicate timestamp {time} (also on line {previous_line})")]
    DuplicateTimestamp {
        /// ISO 8601 UTC.
        time: String,
        /// The line of the earlier row with that time.
        previous_line: u64,
    },
    /// A timestamp earlier than the previous row's.
    #[error(
        "timestamp {time} is before the previous row's {previous_time} (line {previous_line}): rows must be strictly increasing in time"
    )]
    NotIncreasing {
        /// ISO 8601 UTC of this row.
        time: String,
        /// ISO 8601 UTC of the previous row.
        previous_time: String,
        /// The previous row's line.
        previous_line: u64,
    },
    /// The CSV reader itself failed on this row (bad quoting, invalid UTF-8).
    #[error("{0}")]
    Csv(String),
}

/// The error type of `rltrade-env`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file could not be opened or read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The first line is not the expected header.
    #[error("{path}: line 1: expected header `{expected}`, found `{found}`")]
    Header {
        /// The file.
        path: PathBuf,
        /// The header rltrade reads.
        expected: &'static str,
        /// What line 1 holds.
        found: String,
    },
    /// A bad data row; `line` is the file's own line number (the header is line 1).
    #[error("{path}: line {line}: {problem}")]
    Row {
        /// The file.
        path: PathBuf,
        /// 1-based line number in the file.
        line: u64,
        /// What is wrong.
        problem: RowProblem,
    },
    /// Too few bars to do anything with the file.
    #[error("{path}: {found} bars, need at least {needed}")]
    TooFewBars {
        /// The file.
        path: PathBuf,
        /// Bars read.
        found: usize,
        /// Bars needed.
        needed: usize,
    },
    /// A configuration value is out of range or inconsistent; `field` is its TOML path.
    #[error("config `{field}`: {message}")]
    Config {
        /// TOML path of the setting, e.g. `env.window`.
        field: String,
        /// What is wrong and what is allowed.
        message: String,
    },
    /// Not enough bars before an evaluation window to warm up features or indicators.
    #[error(
        "{what} needs {needed} bars of history before the {window} window, but only {available} exist: {missing} bars are missing (use an earlier split or `--split all`)"
    )]
    InsufficientWarmup {
        /// Who needs the history (a strategy or the observation).
        what: String,
        /// The window's name (`test`, `validation`, ...).
        window: String,
        /// Bars of history needed.
        needed: usize,
        /// Bars available.
        available: usize,
        /// needed − available.
        missing: usize,
    },
    /// An action index outside the configured action list.
    #[error("action {action} is out of range: the action list has {n_actions} entries")]
    InvalidAction {
        /// The index given.
        action: usize,
        /// Length of the action list.
        n_actions: usize,
    },
    /// A buffer handed to the env has the wrong length.
    #[error("buffer `{name}` has length {found}, expected {expected}")]
    BufferSize {
        /// Which buffer.
        name: &'static str,
        /// Length expected.
        expected: usize,
        /// Length given.
        found: usize,
    },
    /// A policy could not decide (an inference error, an invalid output); the backtest
    /// built on it is not valid.
    #[error("policy `{policy}` failed: {message}")]
    PolicyFailed {
        /// The policy's name.
        policy: String,
        /// Its first failure.
        message: String,
    },
    /// Equity left the finite numbers during a backtest (an overflow of f64 amounts:
    /// cash near the largest float, or prices spanning hundreds of orders of magnitude):
    /// no metric computed from it means anything, so the backtest is refused.
    #[error(
        "{strategy}: equity is not finite ({equity}) at the bar of {time}: the amounts overflowed (starting cash `execution.initial_cash` {initial_cash})"
    )]
    NonFiniteEquity {
        /// The strategy backtested.
        strategy: String,
        /// The bar's open time, ISO 8601 UTC.
        time: String,
        /// The equity marked there (NaN or ±inf).
        equity: f64,
        /// The starting cash, quote currency.
        initial_cash: f64,
    },
    /// A saved environment state ([`crate::trading_env::TradingEnvState`],
    /// [`crate::vec_env::VecEnvState`]) does not fit the environment it is restored into.
    #[error("saved environment state: {message}")]
    InvalidState {
        /// What does not fit.
        message: String,
    },
    /// An error from the execution core.
    #[error(transparent)]
    Exec(#[from] rltrade_exec::Error),
}

/// Result alias of `rltrade-env`.
pub type Result<T, E = Error> = std::result::Result<T, E>;
