//! The exchange's kline JSON (`rltrade_serve::binance::klines::parse_klines`) on
//! arbitrary bytes: an error, or a page whose every kept kline is closed before `now`
//! and has valid prices, and whose counts add up. Never a panic.

use rltrade_serve::binance::klines::parse_klines;

/// 2030-01-01, ms: klines closing at or after it count as still open.
const NOW_MS: i64 = 1_893_456_000_000;

fn main() {
    afl::fuzz!(|data: &[u8]| {
        if let Ok(page) = parse_klines("/api/v3/klines", data, NOW_MS) {
            assert!(page.klines.len() + page.bad_rows.len() + page.open_dropped <= page.rows, "counts exceed rows");
            for kline in &page.klines {
                assert!(kline.close_time_ms < NOW_MS, "an open kline kept: {kline:?}");
                let prices = [kline.open, kline.high, kline.low, kline.close, kline.volume];
                assert!(prices.iter().all(|p| p.is_finite()), "a non-finite value kept: {kline:?}");
                assert!(kline.low <= kline.high, "low above high kept: {kline:?}");
            }
        }
    });
}
