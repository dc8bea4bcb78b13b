//! The wall clock, injectable so tests decide which bars are closed and when a feed is
//! stale without waiting for real time.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

/// A source of "now" in ms since the Unix epoch, UTC.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// The system clock (`SystemTime::now`), ms since the epoch, UTC (0 before 1970).
pub fn system_clock() -> Clock {
    Arc::new(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
    })
}

/// A clock that tests set and advance by hand; clones share one time.
#[derive(Clone, Debug, Default)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    /// A clock reading `now_ms` (ms since the epoch, UTC).
    pub fn new(now_ms: i64) -> Self {
        Self(Arc::new(AtomicI64::new(now_ms)))
    }

    /// The current reading, ms since the epoch.
    pub fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }

    /// Sets the reading to `now_ms`.
    pub fn set(&self, now_ms: i64) {
        self.0.store(now_ms, Ordering::SeqCst);
    }

    /// Moves the reading forward by `ms`.
    pub fn advance(&self, ms: i64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }

    /// This clock as a [`Clock`] (sharing the reading).
    pub fn clock(&self) -> Clock {
        let inner = self.0.clone();
        Arc::new(move || inner.load(Ordering::SeqCst))
    }
}

/// The local clock corrected by an offset to the exchange's (`serve.exchange.clock =
/// "exchange"`); clones share one offset. [`ExchangeClock::sync`] measures it.
#[derive(Clone, Debug, Default)]
pub struct ExchangeClock {
    offset_ms: Arc<AtomicI64>,
}

impl ExchangeClock {
    /// A clock with no offset yet (the local clock until the first sync).
    pub fn new() -> Self {
        Self::default()
    }

    /// The offset last measured: exchange minus local, ms.
    pub fn offset_ms(&self) -> i64 {
        self.offset_ms.load(Ordering::SeqCst)
    }

    /// This clock as a [`Clock`]: the system clock plus the offset (sharing it).
    pub fn clock(&self) -> Clock {
        let offset = self.offset_ms.clone();
        let local = system_clock();
        Arc::new(move || local().saturating_add(offset.load(Ordering::SeqCst)))
    }

    /// Measures the offset with one `GET /api/v3/time` through `client`: the server's
    /// reading minus the local clock at the round trip's midpoint (the NTP estimate,
    /// RFC 5905 §8, with one sample).
    ///
    /// # Errors
    /// The request's [`super::error::ApiError`], or `Malformed` for a server time whose
    /// offset overflows; the offset is kept.
    pub async fn sync(&self, client: &super::klines::KlinesClient) -> Result<i64, super::error::ApiError> {
        let local = system_clock();
        let sent = local();
        let server = client.server_time().await?;
        let received = local();
        let midpoint = sent + (received - sent) / 2;
        // any offset is followed (a mock exchange replaying history runs years behind),
        // but not one that overflows
        let offset = server.checked_sub(midpoint).ok_or_else(|| super::error::ApiError::Malformed {
            endpoint: format!("GET {}/api/v3/time", client.base_url()),
            message: format!("serverTime {server} is out of range"),
        })?;
        self.offset_ms.store(offset, Ordering::SeqCst);
        Ok(offset)
    }
}
