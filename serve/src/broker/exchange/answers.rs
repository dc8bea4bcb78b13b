//! The exchange's answers to the broker, read into the broker's types: an order (its
//! fills and fee), the account's balances. Pure functions of the bytes, so that they can
//! be fuzzed (`fuzz/src/bin/exchange_answers.rs`). Every number must be finite and
//! non-negative, and a fill must make sense (a price, a quantity left after a commission
//! in the base asset): anything else is [`ApiError::Malformed`], never an account fed
//! NaN or infinity.

use serde::Deserialize;

use super::Balances;
use crate::binance::error::ApiError;
use crate::binance::http;
use crate::broker::OrderOutcome;

/// The order as `POST`/`GET`/`DELETE /api/v3/order` return it (the fields used).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct OrderJson {
    pub(crate) order_id: u64,
    pub(crate) client_order_id: String,
    pub(crate) side: String,
    pub(crate) orig_qty: String,
    pub(crate) executed_qty: String,
    pub(crate) cummulative_quote_qty: String,
    pub(crate) transact_time: Option<i64>,
    pub(crate) update_time: Option<i64>,
    pub(crate) time: Option<i64>,
    pub(crate) fills: Option<Vec<FillJson>>,
    /// `NEW`, `FILLED`, … (absent in an ACK).
    pub(crate) status: Option<String>,
    /// `MARKET`, `STOP_LOSS`, `LIMIT_MAKER`, …
    #[serde(rename = "type")]
    pub(crate) order_type: Option<String>,
}

/// A fill of a FULL order response or a trade of `GET /api/v3/myTrades`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FillJson {
    pub(crate) price: String,
    pub(crate) commission: String,
    pub(crate) commission_asset: String,
}

#[derive(Deserialize)]
struct AccountJson {
    balances: Vec<BalanceJson>,
}

#[derive(Deserialize)]
struct BalanceJson {
    asset: String,
    free: String,
    locked: String,
}

fn malformed(endpoint: &str, message: String) -> ApiError {
    ApiError::Malformed { endpoint: endpoint.to_owned(), message }
}

/// A decimal string of Binance's (`"0.00100000"`) as f64: finite and non-negative, as
/// every quantity, price, amount and balance the exchange sends.
///
/// # Errors
/// [`ApiError::Malformed`] naming `field` and the text.
pub(crate) fn number(endpoint: &str, field: &str, text: &str) -> Result<f64, ApiError> {
    match text.parse::<f64>() {
        Ok(x) if x.is_finite() && x >= 0.0 => Ok(x),
        Ok(_) => Err(malformed(endpoint, format!("field `{field}`: {text:?} is not a finite non-negative number"))),
        Err(_) => Err(malformed(endpoint, format!("field `{field}`: {text:?} is not a number"))),
    }
}

/// The outcome of an order answer, its fee from `fills` (FULL responses, trades).
/// Commissions in the base asset are converted at the fill's price and taken off the
/// reported quantity (a buy paying its fee in base receives `executedQty − commission`),
/// so the fill moves the account's position and cash exactly as the exchange moved the
/// balances; commissions in a third asset (BNB) are not known in quote and are left
/// out, with a warning. Quantities in base units, price and fee in quote.
///
/// # Errors
/// [`ApiError::Malformed`]: a number that is not finite and non-negative, an executed
/// quantity above the order's, a zero average price, or a base commission that leaves
/// nothing of the executed quantity.
pub(crate) fn order_outcome(
    endpoint: &str,
    json: &OrderJson,
    fills: Option<&[FillJson]>,
    base_asset: &str,
    quote_asset: &str,
) -> Result<OrderOutcome, ApiError> {
    let executed = number(endpoint, "executedQty", &json.executed_qty)?;
    if executed <= 0.0 {
        return Ok(OrderOutcome::Open);
    }
    let ordered = number(endpoint, "origQty", &json.orig_qty)?;
    if executed > ordered {
        return Err(malformed(endpoint, format!("executedQty {executed} above origQty {ordered}")));
    }
    let quote = number(endpoint, "cummulativeQuoteQty", &json.cummulative_quote_qty)?;
    let price = quote / executed;
    if !(price.is_finite() && price > 0.0) {
        return Err(malformed(endpoint, format!("{quote} quote for {executed} executed is no price")));
    }
    let mut fee = 0.0;
    let mut base_commission = 0.0;
    for fill in fills.unwrap_or_default() {
        let commission = number(endpoint, "commission", &fill.commission)?;
        if fill.commission_asset == quote_asset {
            fee += commission;
        } else if fill.commission_asset == base_asset {
            fee += commission * number(endpoint, "price", &fill.price)?;
            base_commission += commission;
        } else if commission != 0.0 {
            tracing::warn!(
                "order {}: commission {commission} {} not counted in the quote fee",
                crate::log_text::untrusted(&json.client_order_id),
                crate::log_text::untrusted(&fill.commission_asset)
            );
        }
    }
    let quantity = executed - base_commission;
    if !(quantity > 0.0 && fee.is_finite()) {
        return Err(malformed(
            endpoint,
            format!("a commission of {base_commission} base leaves nothing of {executed} executed (fee {fee})"),
        ));
    }
    let time_ms = json.transact_time.or(json.update_time).or(json.time).unwrap_or_default();
    Ok(OrderOutcome::Filled { quantity, price, fee, time_ms })
}

/// [`order_outcome`] of a whole `POST /api/v3/order` answer (`newOrderRespType=FULL`,
/// its `fills` included): the fuzzed entry point.
///
/// # Errors
/// [`ApiError::Malformed`] for a body that is not an order or makes no sense.
pub fn parse_order_answer(
    endpoint: &str,
    body: &[u8],
    base_asset: &str,
    quote_asset: &str,
) -> Result<OrderOutcome, ApiError> {
    let json: OrderJson = http::parse_json(endpoint, body)?;
    order_outcome(endpoint, &json, json.fills.as_deref(), base_asset, quote_asset)
}

/// The free and locked balances of `base_asset` and `quote_asset` in a
/// `GET /api/v3/account` answer; an asset it does not list counts 0.
///
/// # Errors
/// [`ApiError::Malformed`] for a body that is not an account, or a balance that is not
/// a finite non-negative number.
pub fn parse_balances(endpoint: &str, body: &[u8], base_asset: &str, quote_asset: &str) -> Result<Balances, ApiError> {
    let account: AccountJson = http::parse_json(endpoint, body)?;
    let mut balances = Balances::default();
    for b in &account.balances {
        let (free, locked) = (number(endpoint, "free", &b.free)?, number(endpoint, "locked", &b.locked)?);
        if b.asset == base_asset {
            (balances.base_free, balances.base_locked) = (free, locked);
        } else if b.asset == quote_asset {
            (balances.quote_free, balances.quote_locked) = (free, locked);
        }
    }
    Ok(balances)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(executed: &str, quote: &str, commission: &str, asset: &str) -> String {
        format!(
            r#"{{"orderId":1,"clientOrderId":"rt1-0-1","side":"BUY","origQty":"0.50000000","executedQty":"{executed}",
            "cummulativeQuoteQty":"{quote}","transactTime":5,"fills":[{{"price":"20000.00000000",
            "commission":"{commission}","commissionAsset":"{asset}"}}]}}"#
        )
    }

    #[test]
    fn a_full_answer_gives_the_fill_net_of_a_base_commission() {
        let body = answer("0.50000000", "10000.00000000", "0.00050000", "BTC");
        let outcome = parse_order_answer("POST /api/v3/order", body.as_bytes(), "BTC", "USDT").unwrap();
        let OrderOutcome::Filled { quantity, price, fee, time_ms } = outcome else { panic!("{outcome:?}") };
        assert!((quantity - 0.4995).abs() < 1e-12 && price == 20_000.0 && (fee - 10.0).abs() < 1e-9 && time_ms == 5);
        let open = answer("0.00000000", "0.00000000", "0", "BTC");
        assert_eq!(parse_order_answer("e", open.as_bytes(), "BTC", "USDT").unwrap(), OrderOutcome::Open);
    }

    #[test]
    fn numbers_that_would_poison_an_account_are_malformed_answers_naming_the_field() {
        for (body, says) in [
            (answer("NaN", "1", "0", "BTC"), "executedQty"),
            (answer("0.5", "inf", "0", "BTC"), "cummulativeQuoteQty"),
            (answer("0.5", "-10000", "0", "BTC"), "cummulativeQuoteQty"),
            (answer("0.5", "10000", "1e999", "USDT"), "commission"),
            (answer("0.9", "10000", "0", "BTC"), "above origQty"),
            (answer("0.5", "0", "0", "BTC"), "no price"),
            (answer("0.5", "10000", "0.5", "BTC"), "leaves nothing"),
        ] {
            let err = parse_order_answer("POST /api/v3/order", body.as_bytes(), "BTC", "USDT").unwrap_err();
            assert!(matches!(&err, ApiError::Malformed { .. }) && err.to_string().contains(says), "{says}: {err}");
        }
        let account = r#"{"balances":[{"asset":"BTC","free":"NaN","locked":"0"}]}"#;
        let err = parse_balances("GET /api/v3/account", account.as_bytes(), "BTC", "USDT").unwrap_err();
        assert!(err.to_string().contains("field `free`"), "{err}");
        let account =
            r#"{"balances":[{"asset":"BTC","free":"1.5","locked":"0.5"},{"asset":"ETH","free":"9","locked":"0"}]}"#;
        let balances = parse_balances("GET /api/v3/account", account.as_bytes(), "BTC", "USDT").unwrap();
        assert_eq!((balances.base_free, balances.base_locked, balances.quote_free), (1.5, 0.5, 0.0));
    }
}
