//! The exchange's answers to the broker on arbitrary bytes. The first byte picks the
//! parser:
//! - `0`: a new order's FULL answer (`broker::exchange::answers::parse_order_answer`):
//!   an error, the order open, or a fill whose quantity and price are finite and
//!   positive and whose fee is finite and non-negative;
//! - `1`: the account's balances (`parse_balances`): all finite and non-negative;
//! - else: an error answer (`binance::error_from_answer`): two bytes of HTTP status,
//!   the `Retry-After` header up to the first newline, then the body; rate limits only
//!   for 429 and 418, and a 5XX never read as a refusal.
//!
//! Never a panic (overflow checks are on).

use rltrade_serve::binance::{ApiError, error_from_answer};
use rltrade_serve::broker::OrderOutcome;
use rltrade_serve::broker::exchange::answers::{parse_balances, parse_order_answer};

fn main() {
    afl::fuzz!(|data: &[u8]| {
        let Some((&kind, rest)) = data.split_first() else { return };
        match kind {
            0 => {
                if let Ok(OrderOutcome::Filled { quantity, price, fee, .. }) =
                    parse_order_answer("POST /api/v3/order", rest, "BTC", "USDT")
                {
                    assert!(quantity.is_finite() && quantity > 0.0, "quantity {quantity}");
                    assert!(price.is_finite() && price > 0.0, "price {price}");
                    assert!(fee.is_finite() && fee >= 0.0, "fee {fee}");
                }
            }
            1 => {
                if let Ok(b) = parse_balances("GET /api/v3/account", rest, "BTC", "USDT") {
                    for x in [b.base_free, b.base_locked, b.quote_free, b.quote_locked] {
                        assert!(x.is_finite() && x >= 0.0, "balance {x}: {b:?}");
                    }
                }
            }
            _ => {
                let [hi, lo, rest @ ..] = rest else { return };
                let status = u16::from_be_bytes([*hi, *lo]);
                let (retry_after, body) = match rest.iter().position(|&b| b == b'\n') {
                    Some(at) => (Some(&rest[..at]), &rest[at + 1..]),
                    None => (None, rest),
                };
                let err = error_from_answer("GET /api/v3/order", status, retry_after, body);
                let limited = matches!(err, ApiError::RateLimited { .. });
                assert_eq!(limited, status == 429 || status == 418, "{status}: {err:?}");
                // a 5XX is an unknown outcome, never a refusal
                assert!(status < 500 || !matches!(err, ApiError::Api { .. }), "{status}: {err:?}");
                let _ = err.to_string();
            }
        }
    });
}
