//! The exchange's `exchangeInfo` JSON (`SymbolFilters::from_exchange_info`) on
//! arbitrary bytes, then the filters applied to a few quantities and prices: errors or
//! decimal strings that parse back to positive numbers. Never a panic.

use rltrade_serve::binance::filters::{Rounding, SymbolFilters};

fn main() {
    afl::fuzz!(|data: &[u8]| {
        let Ok(filters) = SymbolFilters::from_exchange_info(data, "BTCUSDT") else { return };
        for quantity in [1e-9, 0.001, 0.5, 3.0, 1e6] {
            if let Ok(text) = filters.market_order(quantity, 30_000.0) {
                let sent: f64 = text.parse().expect("a quantity sent is a decimal");
                assert!(sent > 0.0 && sent <= quantity * (1.0 + 1e-9), "{quantity} sent as {text}");
            }
        }
        for price in [0.01, 29_999.5, 30_000.0, 1e9] {
            for rounding in [Rounding::Down, Rounding::Up] {
                if let Ok(text) = filters.price("stop", price, rounding) {
                    let sent: f64 = text.parse().expect("a price sent is a decimal");
                    assert!(sent > 0.0 && sent.is_finite(), "{price} sent as {text}");
                }
            }
        }
    });
}
