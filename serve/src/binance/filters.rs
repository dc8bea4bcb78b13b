//! A symbol's trading filters from `GET /api/v3/exchangeInfo`, and market-order
//! quantities that obey them.
//!
//! Source: Binance spot API, "Filters"
//! (<https://developers.binance.com/docs/binance-spot-api-docs/filters>). A MARKET
//! order's quantity must satisfy `LOT_SIZE` and `MARKET_LOT_SIZE`: at least `minQty`,
//! at most `maxQty`, and `(quantity − minQty) % stepSize == 0`. Binance lists every
//! `minQty` on the step grid, so a multiple of the step is on it.
//!
//! Quantities are rounded **down** to the step, never up, with exact decimal
//! arithmetic on the step's own digits: a sell of the whole balance never asks for more
//! than the balance. The notional filters (`NOTIONAL`, `MIN_NOTIONAL`, whichever the
//! symbol lists with its market flag on) are checked at the decision's price.

use serde::{Deserialize, Serialize};

/// A decimal of the exchange: `units / 10^scale`, as written in its JSON (`"0.00001000"`
/// is 1 / 10^5). Exact, so a quantity on its grid prints with no binary noise.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decimal {
    /// The digits as an integer.
    pub units: u64,
    /// Digits after the point.
    pub scale: u32,
}

impl Decimal {
    /// Parses `"123.4500"` (no sign, no exponent, at most 18 digits after the point).
    ///
    /// # Errors
    /// A message naming `text` when it is not such a decimal.
    pub fn parse(text: &str) -> Result<Self, String> {
        let bad = || format!("`{text}` is not a decimal such as \"0.00001000\"");
        let (int, frac) = text.split_once('.').unwrap_or((text, ""));
        if int.is_empty() || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let frac = frac.trim_end_matches('0');
        if frac.len() > 18 {
            return Err(bad());
        }
        let units = format!("{int}{frac}").parse::<u64>().map_err(|_| bad())?;
        Ok(Self { units, scale: frac.len() as u32 })
    }

    /// The value as an f64.
    pub fn to_f64(self) -> f64 {
        self.units as f64 / 10f64.powi(self.scale as i32)
    }

    /// `k × self`, written with no trailing zeros (`"0.0012"`, `"3"`).
    fn times(self, k: u64) -> Option<String> {
        let units = self.units.checked_mul(k)?;
        let digits = format!("{units:0>width$}", width = self.scale as usize + 1);
        let (int, frac) = digits.split_at(digits.len() - self.scale as usize);
        let frac = frac.trim_end_matches('0');
        Some(if frac.is_empty() { int.to_owned() } else { format!("{int}.{frac}") })
    }
}

/// One lot-size filter (`LOT_SIZE` or `MARKET_LOT_SIZE`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LotSize {
    /// `minQty`, base units.
    pub min_qty: f64,
    /// `maxQty`, base units.
    pub max_qty: f64,
    /// `stepSize`, base units (0: any quantity).
    pub step: Decimal,
}

/// The filters of one symbol that apply to its MARKET orders.
#[derive(Clone, Debug, PartialEq)]
pub struct SymbolFilters {
    /// The symbol (`BTCUSDT`).
    pub symbol: String,
    /// `LOT_SIZE`.
    pub lot_size: Option<LotSize>,
    /// `MARKET_LOT_SIZE` (a `stepSize` of 0 there means LOT_SIZE's step applies).
    pub market_lot_size: Option<LotSize>,
    /// The smallest notional of a market order: `NOTIONAL`'s `minNotional` when
    /// `applyMinToMarket`, or `MIN_NOTIONAL`'s when `applyToMarket`.
    pub min_notional: Option<MinNotional>,
}

/// The smallest notional of a market order and the filter that sets it.
#[derive(Clone, Debug, PartialEq)]
pub struct MinNotional {
    /// `NOTIONAL` or `MIN_NOTIONAL`.
    pub filter: &'static str,
    /// `minNotional`, quote currency.
    pub min: f64,
}

/// Why a quantity cannot be sent: the filter it fails, with its numbers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FilterRefusal {
    /// Rounded down to the step, the quantity is under `minQty`.
    #[error("{filter}: {requested} base units round down to {rounded} at stepSize {step}, under minQty {min_qty}")]
    BelowMinQty {
        /// `LOT_SIZE` or `MARKET_LOT_SIZE`.
        filter: String,
        /// The quantity asked for.
        requested: f64,
        /// After rounding down to the step.
        rounded: f64,
        /// The step.
        step: f64,
        /// The filter's `minQty`.
        min_qty: f64,
    },
    /// The quantity is over `maxQty`.
    #[error("{filter}: {requested} base units is over maxQty {max_qty}")]
    AboveMaxQty {
        /// `LOT_SIZE` or `MARKET_LOT_SIZE`.
        filter: String,
        /// The quantity asked for.
        requested: f64,
        /// The filter's `maxQty`.
        max_qty: f64,
    },
    /// The notional at the decision's price is under the filter's `minNotional`.
    #[error("{filter}: {quantity} base units at {price} is a notional of {notional}, under minNotional {min_notional}")]
    BelowMinNotional {
        /// `NOTIONAL` or `MIN_NOTIONAL`.
        filter: String,
        /// The quantity that would be sent (rounded down to the step).
        quantity: f64,
        /// The decision's reference price, quote per base.
        price: f64,
        /// `quantity × price`, quote currency.
        notional: f64,
        /// The filter's `minNotional`.
        min_notional: f64,
    },
    /// The quantity (or the price) is not finite and > 0.
    #[error("quantity {0} is not a positive number")]
    NotPositive(f64),
}

impl SymbolFilters {
    /// The filters of `symbol` in an `exchangeInfo` answer.
    ///
    /// # Errors
    /// A message naming the symbol or the field at fault: a body that is not
    /// `exchangeInfo` JSON, a symbol it does not list, a filter number that does not parse.
    pub fn from_exchange_info(body: &[u8], symbol: &str) -> Result<Self, String> {
        let info: ExchangeInfoJson =
            serde_json::from_slice(body).map_err(|e| format!("not an exchangeInfo answer: {e}"))?;
        let entry = info
            .symbols
            .into_iter()
            .find(|s| s.symbol == symbol)
            .ok_or_else(|| format!("exchangeInfo does not list {symbol}"))?;
        let mut filters = Self { symbol: entry.symbol, lot_size: None, market_lot_size: None, min_notional: None };
        for filter in entry.filters {
            match filter {
                FilterJson::LotSize { min_qty, max_qty, step_size } => {
                    filters.lot_size = Some(lot_size("LOT_SIZE", &min_qty, &max_qty, &step_size)?);
                }
                FilterJson::MarketLotSize { min_qty, max_qty, step_size } => {
                    filters.market_lot_size = Some(lot_size("MARKET_LOT_SIZE", &min_qty, &max_qty, &step_size)?);
                }
                FilterJson::Notional { min_notional, apply_min_to_market } => {
                    if apply_min_to_market {
                        let min = number("NOTIONAL.minNotional", &min_notional)?;
                        filters.min_notional = Some(MinNotional { filter: "NOTIONAL", min });
                    }
                }
                FilterJson::MinNotional { min_notional, apply_to_market } => {
                    if apply_to_market {
                        let min = number("MIN_NOTIONAL.minNotional", &min_notional)?;
                        filters.min_notional = Some(MinNotional { filter: "MIN_NOTIONAL", min });
                    }
                }
                FilterJson::Other => {}
            }
        }
        Ok(filters)
    }

    /// `quantity` rounded down to the step as the exact decimal to send, checked against
    /// `LOT_SIZE` and `MARKET_LOT_SIZE`. The step is the coarser of the two filters'
    /// (Binance's steps are powers of ten, so the coarser is a multiple of the finer).
    ///
    /// Rounding down tolerates 1e-6 of a step of binary error (`0.7 − 0.4`, held as
    /// `0.29999999999999993`, still counts as 3 steps of 0.1): a quantity within 1e-6 of a
    /// step under a multiple is sent as that multiple, at most 1e-6 of a step (1e-11 BTC
    /// at BTCUSDT's step) more than asked. A balance read from the exchange has at most 8
    /// decimals, so a sell of the whole balance is never rounded above it.
    ///
    /// # Errors
    /// [`FilterRefusal`] naming the filter when the rounded quantity is under `minQty`
    /// (or 0), or the quantity is over `maxQty`.
    pub fn market_quantity(&self, quantity: f64) -> Result<String, FilterRefusal> {
        self.rounded_quantity(quantity).map(|(text, _)| text)
    }

    /// [`Self::market_quantity`], then the notional filter at `price` (the decision's
    /// reference price; Binance checks a market order against its recent average price,
    /// which the decision's close stands in for).
    ///
    /// # Errors
    /// [`FilterRefusal`] naming the filter, as [`Self::market_quantity`], or
    /// [`FilterRefusal::BelowMinNotional`].
    pub fn market_order(&self, quantity: f64, price: f64) -> Result<String, FilterRefusal> {
        let (text, sent) = self.rounded_quantity(quantity)?;
        if !(price.is_finite() && price > 0.0) {
            return Err(FilterRefusal::NotPositive(price));
        }
        if let Some(MinNotional { filter, min }) = self.min_notional {
            let notional = sent * price;
            if notional < min {
                return Err(FilterRefusal::BelowMinNotional {
                    filter: filter.to_owned(),
                    quantity: sent,
                    price,
                    notional,
                    min_notional: min,
                });
            }
        }
        Ok(text)
    }

    /// The quantity to send as text and as a number (see [`Self::market_quantity`]).
    fn rounded_quantity(&self, quantity: f64) -> Result<(String, f64), FilterRefusal> {
        if !(quantity.is_finite() && quantity > 0.0) {
            return Err(FilterRefusal::NotPositive(quantity));
        }
        let lots: Vec<(&'static str, LotSize)> =
            [("LOT_SIZE", self.lot_size), ("MARKET_LOT_SIZE", self.market_lot_size)]
                .into_iter()
                .filter_map(|(name, lot)| lot.map(|l| (name, l)))
                .collect();
        // the coarser step of the two filters; none listed: 8 decimals
        let step = lots
            .iter()
            .map(|(_, l)| l.step)
            .filter(|s| s.units > 0)
            .max_by(|a, b| a.to_f64().total_cmp(&b.to_f64()))
            .unwrap_or(Decimal { units: 1, scale: 8 });
        let steps = (quantity / step.to_f64() + 1e-6).floor();
        let text = step.times(steps as u64).ok_or(FilterRefusal::NotPositive(quantity))?;
        let rounded = steps * step.to_f64();
        let below = |filter: &str, min_qty: f64| FilterRefusal::BelowMinQty {
            filter: filter.to_owned(),
            requested: quantity,
            rounded,
            step: step.to_f64(),
            min_qty,
        };
        for (filter, lot) in &lots {
            if rounded <= 0.0 || rounded < lot.min_qty * (1.0 - 1e-12) {
                return Err(below(filter, lot.min_qty));
            }
            if lot.max_qty > 0.0 && rounded > lot.max_qty {
                return Err(FilterRefusal::AboveMaxQty {
                    filter: (*filter).to_owned(),
                    requested: quantity,
                    max_qty: lot.max_qty,
                });
            }
        }
        if rounded <= 0.0 {
            return Err(below("LOT_SIZE", 0.0));
        }
        Ok((text, rounded))
    }
}

fn number(field: &str, text: &str) -> Result<f64, String> {
    text.parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v >= 0.0)
        .ok_or_else(|| format!("{field}: `{text}` is not a number"))
}

fn lot_size(filter: &str, min_qty: &str, max_qty: &str, step: &str) -> Result<LotSize, String> {
    Ok(LotSize {
        min_qty: number(&format!("{filter}.minQty"), min_qty)?,
        max_qty: number(&format!("{filter}.maxQty"), max_qty)?,
        step: Decimal::parse(step).map_err(|e| format!("{filter}.stepSize: {e}"))?,
    })
}

#[derive(Deserialize)]
struct ExchangeInfoJson {
    symbols: Vec<SymbolJson>,
}

#[derive(Deserialize)]
struct SymbolJson {
    symbol: String,
    filters: Vec<FilterJson>,
}

#[derive(Deserialize)]
#[serde(tag = "filterType")]
enum FilterJson {
    #[serde(rename = "LOT_SIZE", rename_all = "camelCase")]
    LotSize { min_qty: String, max_qty: String, step_size: String },
    #[serde(rename = "MARKET_LOT_SIZE", rename_all = "camelCase")]
    MarketLotSize { min_qty: String, max_qty: String, step_size: String },
    #[serde(rename = "NOTIONAL", rename_all = "camelCase")]
    Notional { min_notional: String, apply_min_to_market: bool },
    #[serde(rename = "MIN_NOTIONAL", rename_all = "camelCase")]
    MinNotional { min_notional: String, apply_to_market: bool },
    #[serde(other)]
    Other,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// BTCUSDT's filters as the spot API lists them (numbers as strings, 8 decimals).
    const BTCUSDT: &str = r#"{"timezone":"UTC","serverTime":1,"symbols":[{"symbol":"BTCUSDT","status":"TRADING",
        "baseAsset":"BTC","quoteAsset":"USDT","filters":[
        {"filterType":"PRICE_FILTER","minPrice":"0.01000000","maxPrice":"1000000.00000000","tickSize":"0.01000000"},
        {"filterType":"LOT_SIZE","minQty":"0.00001000","maxQty":"9000.00000000","stepSize":"0.00001000"},
        {"filterType":"MARKET_LOT_SIZE","minQty":"0.00000000","maxQty":"85.00000000","stepSize":"0.00000000"},
        {"filterType":"NOTIONAL","minNotional":"5.00000000","applyMinToMarket":true,"maxNotional":"9000000.00000000","applyMaxToMarket":false,"avgPriceMins":5},
        {"filterType":"MAX_NUM_ORDERS","maxNumOrders":200}]}]}"#;

    fn btcusdt() -> SymbolFilters {
        SymbolFilters::from_exchange_info(BTCUSDT.as_bytes(), "BTCUSDT").unwrap()
    }

    #[test]
    fn parses_the_filters_of_the_symbol() {
        let f = btcusdt();
        assert_eq!(f.lot_size.unwrap().step, Decimal { units: 1, scale: 5 });
        assert_eq!((f.lot_size.unwrap().min_qty, f.lot_size.unwrap().max_qty), (0.00001, 9000.0));
        assert_eq!(f.market_lot_size.unwrap().step, Decimal { units: 0, scale: 0 });
        assert_eq!(f.min_notional, Some(MinNotional { filter: "NOTIONAL", min: 5.0 }));
        let err = SymbolFilters::from_exchange_info(BTCUSDT.as_bytes(), "ETHUSDT").unwrap_err();
        assert!(err.contains("ETHUSDT"), "{err}");
        let bad = BTCUSDT.replace("\"stepSize\":\"0.00001000\"", "\"stepSize\":\"1e-5\"");
        let err = SymbolFilters::from_exchange_info(bad.as_bytes(), "BTCUSDT").unwrap_err();
        assert!(err.contains("LOT_SIZE.stepSize") && err.contains("1e-5"), "{err}");
        assert!(SymbolFilters::from_exchange_info(b"{\"code\":-1121}", "BTCUSDT").is_err());
    }

    #[test]
    fn quantities_round_down_to_the_step_and_never_up() {
        let f = btcusdt();
        // a balance with more decimals than the step: never more than the balance
        assert_eq!(f.market_quantity(0.123456789).unwrap(), "0.12345");
        assert_eq!(f.market_quantity(0.123459999).unwrap(), "0.12345");
        // binary noise just under or over a multiple of the step stays on it
        assert_eq!(f.market_quantity(0.1 + 0.2).unwrap(), "0.3");
        assert_eq!(f.market_quantity(f64::from_bits(0.3f64.to_bits() - 1)).unwrap(), "0.3", "one ulp under");
        assert_eq!(f.market_quantity(0.3 - 0.00001).unwrap(), "0.29999", "a whole step under");
        assert_eq!(f.market_quantity(0.0001 * 3.0).unwrap(), "0.0003");
        assert_eq!(f.market_quantity(0.7 - 0.4).unwrap(), "0.3", "0.29999999999999993");
        assert_eq!(f.market_quantity(1.0).unwrap(), "1");
        assert_eq!(f.market_quantity(12.5).unwrap(), "12.5");
        for q in [0.00001, 0.5, 2.71829, 84.99999] {
            let sent: f64 = f.market_quantity(q).unwrap().parse().unwrap();
            assert!(sent <= q * (1.0 + 1e-15) && q - sent < 0.00001, "{q} sent as {sent}");
        }
    }

    #[test]
    fn impossible_quantities_name_the_filter() {
        let f = btcusdt();
        let err = f.market_quantity(0.000009).unwrap_err();
        assert!(matches!(&err, FilterRefusal::BelowMinQty { filter, .. } if filter == "LOT_SIZE"), "{err:?}");
        assert!(err.to_string().contains("minQty 0.00001"), "{err}");
        let err = f.market_quantity(86.0).unwrap_err();
        assert!(matches!(&err, FilterRefusal::AboveMaxQty { filter, .. } if filter == "MARKET_LOT_SIZE"), "{err:?}");
        assert!(err.to_string().contains("maxQty 85"), "{err}");
        assert!(matches!(f.market_quantity(f64::NAN), Err(FilterRefusal::NotPositive(_))));
        assert!(matches!(f.market_quantity(0.0), Err(FilterRefusal::NotPositive(_))));
    }

    #[test]
    fn a_notional_under_the_minimum_names_the_filter() {
        let f = btcusdt();
        assert_eq!(f.market_order(0.001, 20_000.0).unwrap(), "0.001", "20 USDT");
        let err = f.market_order(0.0002, 20_000.0).unwrap_err();
        assert!(
            matches!(&err, FilterRefusal::BelowMinNotional { filter, notional, .. } if filter == "NOTIONAL" && (notional - 4.0).abs() < 1e-9),
            "{err:?}"
        );
        assert!(err.to_string().contains("minNotional 5"), "{err}");
        assert!(matches!(f.market_order(0.001, f64::NAN), Err(FilterRefusal::NotPositive(_))));
        let old = BTCUSDT.replace(
            r#"{"filterType":"NOTIONAL","minNotional":"5.00000000","applyMinToMarket":true,"maxNotional":"9000000.00000000","applyMaxToMarket":false,"avgPriceMins":5}"#,
            r#"{"filterType":"MIN_NOTIONAL","minNotional":"10.00000000","applyToMarket":true,"avgPriceMins":5}"#,
        );
        let f = SymbolFilters::from_exchange_info(old.as_bytes(), "BTCUSDT").unwrap();
        assert_eq!(f.min_notional, Some(MinNotional { filter: "MIN_NOTIONAL", min: 10.0 }));
    }

    #[test]
    fn decimals_parse_exactly() {
        assert_eq!(Decimal::parse("0.00001000").unwrap(), Decimal { units: 1, scale: 5 });
        assert_eq!(Decimal::parse("10").unwrap(), Decimal { units: 10, scale: 0 });
        assert_eq!(Decimal::parse("1.50").unwrap().times(3).unwrap(), "4.5");
        assert_eq!(Decimal::parse("0.001").unwrap().times(7).unwrap(), "0.007");
        for bad in ["", "-1", "1e-5", ".5", "1.2.3", "0.0000000000000000001"] {
            assert!(Decimal::parse(bad).is_err(), "{bad}");
        }
    }
}
