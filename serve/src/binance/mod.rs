//! Binance spot REST: public klines, signed orders, a test double and `data fetch`.
//!
//! - [`klines`]: `GET /api/v3/klines` client and parser (closed bars only), intervals.
//! - [`signing`]: HMAC-SHA256 request signatures and redacted API credentials.
//! - [`fetch`]: paged, rate-limited, resumable download of bars into the project's CSV.
//! - `mock_server` (feature `mock-exchange`, for tests): an in-process exchange that
//!   speaks the real JSON shapes, with fault knobs (429, 418, 5xx, malformed JSON, bad
//!   rows, orders that never answer) and OCO order lists triggered by its own klines.
//! - [`filters`]: a symbol's `exchangeInfo` filters and quantities rounded down to them.
//! - [`error`]: the typed errors of a request ([`ApiError`]).
//! - [`clock`]: the injectable wall clock ([`Clock`]) and the exchange-synchronised one ([`ExchangeClock`]).
//!
//! Source of every shape and code: Binance spot API docs,
//! <https://developers.binance.com/docs/binance-spot-api-docs/rest-api>.

pub mod clock;
pub mod error;
pub mod fetch;
pub mod filters;
pub(crate) mod http;
pub mod klines;
#[cfg(feature = "mock-exchange")]
pub mod mock_server;
pub mod signing;

pub use clock::{Clock, ExchangeClock, ManualClock, system_clock};
pub use error::ApiError;
pub use http::error_from_answer;
pub use klines::{Interval, Kline, KlinePage, KlinesClient, KlinesRequest};
pub use signing::{Credentials, Secret, sign};

/// Binance spot production REST base URL (real money).
pub const LIVE_URL: &str = "https://api.binance.com";
/// Binance spot testnet REST base URL (<https://testnet.binance.vision>, play money).
pub const TESTNET_URL: &str = "https://testnet.binance.vision";
