//! Feeds: where closed bars come from. Every feed sends [`FeedEvent`]s into one
//! channel that the daemon's engine consumes in order.

pub mod exchange;
pub mod replay;

use rltrade_env::Bar;
use serde::Serialize;

/// Kinds of bad input a feed skips (counted in the `rltrade_feed_bad_input_total`
/// metric by `kind`, logged once per kind).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BadInputKind {
    /// A response body that is not the documented JSON shape.
    MalformedJson,
    /// A NaN, infinite or non-positive price, negative volume, or high/low that do not
    /// bound open and close.
    InvalidPrice,
    /// A bar whose open time was already delivered.
    Duplicate,
    /// A bar older than the last one delivered.
    OutOfOrder,
    /// A bar whose open time is not a multiple of the interval after the last one.
    Misaligned,
}

impl BadInputKind {
    /// The metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MalformedJson => "malformed_json",
            Self::InvalidPrice => "invalid_price",
            Self::Duplicate => "duplicate",
            Self::OutOfOrder => "out_of_order",
            Self::Misaligned => "misaligned",
        }
    }

    /// Every kind (metric label pre-registration).
    pub const ALL: [BadInputKind; 5] =
        [Self::MalformedJson, Self::InvalidPrice, Self::Duplicate, Self::OutOfOrder, Self::Misaligned];
}

/// What a feed reports.
#[derive(Clone, Debug, PartialEq)]
pub enum FeedEvent {
    /// A closed bar, validated, strictly later than every bar sent before.
    Bar(Bar),
    /// Input the feed skipped.
    BadInput {
        /// What was wrong.
        kind: BadInputKind,
        /// Details for the log (the offending value, the bar time).
        message: String,
    },
    /// No closed bar for two intervals: the feed is stale (trading goes to REDUCING).
    Stale {
        /// Open time of the last bar delivered (ms since epoch UTC), if any.
        last_bar_ms: Option<i64>,
    },
    /// Bars flow again after [`FeedEvent::Stale`].
    Fresh,
    /// A transport problem the feed is retrying (connection refused, HTTP 5xx, 429/418).
    Retrying {
        /// The error, for the log.
        message: String,
        /// How long the feed waits before the next try, ms.
        wait_ms: u64,
    },
}

/// Checks a bar's invariants with the data loader's own rule
/// ([`rltrade_env::data::check_bar`]); the message names the bar's time and the field.
pub fn check_bar(bar: &Bar) -> Result<(), String> {
    rltrade_env::data::check_bar(bar).map_err(|problem| format!("bar at {} ms: {problem}", bar.time_ms))
}
