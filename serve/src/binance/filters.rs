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

    /// `value` moved onto the grid of multiples of `self` in the direction `rounding`,
    /// tolerating 16 ulps of binary error in the number of steps (`0.7 − 0.4`, held as
    /// `0.29999999999999993`, is 3 steps of 0.1): the exact decimal to send and its value.
    /// `None` when the multiple does not fit a `u64`.
    ///
    /// The tolerance is relative to the number of steps, not a fixed fraction of a step:
    /// a fixed 1e-6 of a step rounded 0.001 on a step of 0.0010000001 *up* to
    /// 0.0010000001, more than asked (found by the `exchange_info` fuzz target).
    fn round(self, value: f64, rounding: Rounding) -> Option<(String, f64)> {
        let steps = value / self.to_f64();
        let tolerance = steps.abs() * 16.0 * f64::EPSILON;
        let steps = match rounding {
            Rounding::Down => (steps + tolerance).floor(),
            Rounding::Up => (steps - tolerance).ceil(),
        };
        Some((self.times(steps as u64)?, steps * self.to_f64()))
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
    /// The smallest notional of a resting order (a stop or a limit): `NOTIONAL`'s or
    /// `MIN_NOTIONAL`'s `minNotional`, whatever their market flags.
    pub min_notional_resting: Option<MinNotional>,
    /// `PRICE_FILTER`: the bounds and tick of every price sent.
    pub price_filter: Option<PriceFilter>,
}

/// `PRICE_FILTER`: a price must be at least `minPrice`, at most `maxPrice`, and a whole
/// number of `tickSize` (each 0 = that check is off).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PriceFilter {
    /// `minPrice`, quote per base.
    pub min_price: f64,
    /// `maxPrice`, quote per base.
    pub max_price: f64,
    /// `tickSize`, quote per base (0: any price).
    pub tick: Decimal,
}

/// Which way a price moves onto the tick grid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rounding {
    /// To the tick at or below.
    Down,
    /// To the tick at or above.
    Up,
}

/// The quantity and prices of a position's protective orders, as the exact decimals to
/// send ([`SymbolFilters::protection`]).
#[derive(Clone, Debug, PartialEq)]
pub struct ProtectionOrder {
    /// Quantity, base units, rounded down to `LOT_SIZE`'s step.
    pub quantity: String,
    /// The stop's trigger price, on the tick grid; `None` without a stop.
    pub stop_price: Option<String>,
    /// The take-profit's limit price, on the tick grid; `None` without one.
    pub take_profit_price: Option<String>,
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
    /// A price outside `PRICE_FILTER`'s bounds once on its tick.
    #[error(
        "PRICE_FILTER: {level} price {price} (on the tick {rounded}) is outside [minPrice {min_price}, maxPrice {max_price}]"
    )]
    PriceOutOfRange {
        /// Which price: `stop` or `take_profit`.
        level: String,
        /// The price asked for, quote per base.
        price: f64,
        /// On the tick grid.
        rounded: f64,
        /// The filter's `minPrice`.
        min_price: f64,
        /// The filter's `maxPrice` (0: no bound).
        max_price: f64,
    },
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
        let mut filters = Self {
            symbol: entry.symbol,
            lot_size: None,
            market_lot_size: None,
            min_notional: None,
            min_notional_resting: None,
            price_filter: None,
        };
        for filter in entry.filters {
            match filter {
                FilterJson::LotSize { min_qty, max_qty, step_size } => {
                    filters.lot_size = Some(lot_size("LOT_SIZE", &min_qty, &max_qty, &step_size)?);
                }
                FilterJson::MarketLotSize { min_qty, max_qty, step_size } => {
                    filters.market_lot_size = Some(lot_size("MARKET_LOT_SIZE", &min_qty, &max_qty, &step_size)?);
                }
                FilterJson::Notional { min_notional, apply_min_to_market } => {
                    let min = MinNotional { filter: "NOTIONAL", min: number("NOTIONAL.minNotional", &min_notional)? };
                    filters.min_notional_resting = Some(min.clone());
                    if apply_min_to_market {
                        filters.min_notional = Some(min);
                    }
                }
                FilterJson::MinNotional { min_notional, apply_to_market } => {
                    let min =
                        MinNotional { filter: "MIN_NOTIONAL", min: number("MIN_NOTIONAL.minNotional", &min_notional)? };
                    filters.min_notional_resting = Some(min.clone());
                    if apply_to_market {
                        filters.min_notional = Some(min);
                    }
                }
                FilterJson::PriceFilter { min_price, max_price, tick_size } => {
                    filters.price_filter = Some(PriceFilter {
                        min_price: number("PRICE_FILTER.minPrice", &min_price)?,
                        max_price: number("PRICE_FILTER.maxPrice", &max_price)?,
                        tick: Decimal::parse(&tick_size).map_err(|e| format!("PRICE_FILTER.tickSize: {e}"))?,
                    });
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

    /// `price` moved onto `PRICE_FILTER`'s tick grid in the direction `rounding`, as the
    /// exact decimal to send, within the filter's bounds (8 decimals without the filter).
    /// `level` names the price in a refusal (`stop`, `take_profit`).
    ///
    /// # Errors
    /// [`FilterRefusal::NotPositive`] for a price that is not finite and > 0;
    /// [`FilterRefusal::PriceOutOfRange`] outside `[minPrice, maxPrice]`.
    pub fn price(&self, level: &str, price: f64, rounding: Rounding) -> Result<String, FilterRefusal> {
        if !(price.is_finite() && price > 0.0) {
            return Err(FilterRefusal::NotPositive(price));
        }
        let filter = self.price_filter.unwrap_or(PriceFilter {
            min_price: 0.0,
            max_price: 0.0,
            tick: Decimal { units: 0, scale: 0 },
        });
        let tick = if filter.tick.units > 0 { filter.tick } else { Decimal { units: 1, scale: 8 } };
        let (text, rounded) = tick.round(price, rounding).unwrap_or_default();
        let out_of_range = rounded <= 0.0
            || rounded < filter.min_price * (1.0 - 1e-12)
            || (filter.max_price > 0.0 && rounded > filter.max_price * (1.0 + 1e-12));
        (!out_of_range).then_some(text).ok_or_else(|| FilterRefusal::PriceOutOfRange {
            level: level.to_owned(),
            price,
            rounded,
            min_price: filter.min_price,
            max_price: filter.max_price,
        })
    }

    /// The protective orders of a position of `quantity` base units: the quantity
    /// rounded down to `LOT_SIZE`'s step (a resting order is not held to
    /// `MARKET_LOT_SIZE`), the stop and the take-profit on the tick grid, each rounded
    /// toward the position's current price so that the protection is never looser than
    /// asked (a long's stop up and its take-profit down; a short's the other way), and
    /// the notional of each leg at its price at least the resting-order minimum.
    /// `long` is the side of the position protected (its exit is a sell).
    ///
    /// # Errors
    /// [`FilterRefusal`] naming the filter: the quantity under `minQty` once rounded or
    /// over `maxQty`, a price outside `PRICE_FILTER`, a leg's notional under
    /// `minNotional`.
    pub fn protection(
        &self,
        long: bool,
        quantity: f64,
        stop: Option<f64>,
        take_profit: Option<f64>,
    ) -> Result<ProtectionOrder, FilterRefusal> {
        let (text, sent) = self.rounded_quantity_of(quantity, &[("LOT_SIZE", self.lot_size)])?;
        let (stop_rounding, take_profit_rounding) =
            if long { (Rounding::Up, Rounding::Down) } else { (Rounding::Down, Rounding::Up) };
        let stop_price = stop.map(|p| self.price("stop", p, stop_rounding)).transpose()?;
        let take_profit_price = take_profit.map(|p| self.price("take_profit", p, take_profit_rounding)).transpose()?;
        for price in [&stop_price, &take_profit_price].into_iter().flatten() {
            let price: f64 = price.parse().unwrap_or(0.0);
            if let Some(MinNotional { filter, min }) = &self.min_notional_resting {
                let notional = sent * price;
                if notional < *min {
                    return Err(FilterRefusal::BelowMinNotional {
                        filter: (*filter).to_owned(),
                        quantity: sent,
                        price,
                        notional,
                        min_notional: *min,
                    });
                }
            }
        }
        Ok(ProtectionOrder { quantity: text, stop_price, take_profit_price })
    }

    /// The quantity to send as text and as a number (see [`Self::market_quantity`]).
    fn rounded_quantity(&self, quantity: f64) -> Result<(String, f64), FilterRefusal> {
        self.rounded_quantity_of(quantity, &[("LOT_SIZE", self.lot_size), ("MARKET_LOT_SIZE", self.market_lot_size)])
    }

    /// `quantity` rounded down to the coarser step of `filters`, checked against each.
    fn rounded_quantity_of(
        &self,
        quantity: f64,
        filters: &[(&'static str, Option<LotSize>)],
    ) -> Result<(String, f64), FilterRefusal> {
        if !(quantity.is_finite() && quantity > 0.0) {
            return Err(FilterRefusal::NotPositive(quantity));
        }
        let lots: Vec<(&'static str, LotSize)> =
            filters.iter().filter_map(|(name, lot)| lot.map(|l| (*name, l))).collect();
        // the coarser step of the two filters; none listed: 8 decimals
        let step = lots
            .iter()
            .map(|(_, l)| l.step)
            .filter(|s| s.units > 0)
            .max_by(|a, b| a.to_f64().total_cmp(&b.to_f64()))
            .unwrap_or(Decimal { units: 1, scale: 8 });
        let (text, rounded) = step.round(quantity, Rounding::Down).ok_or(FilterRefusal::NotPositive(quantity))?;
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
    #[serde(rename = "PRICE_FILTER", rename_all = "camelCase")]
    PriceFilter { min_price: String, max_price: String, tick_size: String },
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

    /// Regression (fuzz target `exchange_info`): a quantity just under a multiple of
    /// the step is never rounded up past it; binary error is still forgiven.
    #[test]
    fn a_quantity_just_under_a_step_is_not_rounded_up() {
        let odd = BTCUSDT.replace("\"stepSize\":\"0.00001000\"", "\"stepSize\":\"0.0010000001\"");
        let f = SymbolFilters::from_exchange_info(odd.as_bytes(), "BTCUSDT").unwrap();
        assert!(f.market_quantity(0.001).is_err(), "0.001 is under one step of 0.0010000001");
        assert_eq!(f.market_quantity(0.0020000002).unwrap(), "0.0020000002");
        let tenth = BTCUSDT.replace("\"stepSize\":\"0.00001000\"", "\"stepSize\":\"0.1\"");
        let f = SymbolFilters::from_exchange_info(tenth.as_bytes(), "BTCUSDT").unwrap();
        assert_eq!(f.market_quantity(0.7 - 0.4).unwrap(), "0.3", "0.29999999999999993 is 3 steps");
        assert_eq!(f.market_quantity(3.0 - 1e-9).unwrap(), "2.9");
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
    fn protective_prices_go_on_the_tick_never_looser_than_asked() {
        let f = btcusdt();
        assert_eq!(f.price_filter.unwrap().tick, Decimal { units: 1, scale: 2 });
        // a long: the stop rounds up (closer), the take-profit down (closer)
        let p = f.protection(true, 0.123456789, Some(19_000.123), Some(21_000.129)).unwrap();
        assert_eq!(
            p,
            ProtectionOrder {
                quantity: "0.12345".into(),
                stop_price: Some("19000.13".into()),
                take_profit_price: Some("21000.12".into())
            }
        );
        // a short mirrors it
        let p = f.protection(false, 0.5, Some(21_000.129), Some(19_000.123)).unwrap();
        assert_eq!((p.stop_price.unwrap(), p.take_profit_price.unwrap()), ("21000.12".into(), "19000.13".into()));
        // on the grid already, binary noise included: unchanged
        assert_eq!(f.price("stop", 0.1 + 0.2, Rounding::Up).unwrap(), "0.3");
        assert_eq!(f.price("stop", 0.1 + 0.2, Rounding::Down).unwrap(), "0.3");
        assert_eq!(f.price("stop", 20_000.0, Rounding::Down).unwrap(), "20000");
        // a stop alone
        let p = f.protection(true, 1.0, Some(19_000.0), None).unwrap();
        assert_eq!((p.stop_price.as_deref(), p.take_profit_price), (Some("19000"), None));
    }

    #[test]
    fn impossible_protective_orders_name_the_filter() {
        let f = btcusdt();
        // a short's stop rounds down: 0.001 goes to 0, under minPrice
        let err = f.protection(false, 1.0, Some(0.001), None).unwrap_err();
        assert!(matches!(&err, FilterRefusal::PriceOutOfRange { level, .. } if level == "stop"), "{err:?}");
        assert!(err.to_string().contains("PRICE_FILTER") && err.to_string().contains("minPrice 0.01"), "{err}");
        let err = f.protection(true, 1.0, None, Some(2_000_000.0)).unwrap_err();
        assert!(err.to_string().contains("take_profit") && err.to_string().contains("maxPrice"), "{err}");
        // the notional minimum holds at the stop's price, where a long's exit is smallest
        let err = f.protection(true, 0.0003, Some(15_000.0), Some(30_000.0)).unwrap_err();
        assert!(
            matches!(&err, FilterRefusal::BelowMinNotional { filter, price, .. } if filter == "NOTIONAL" && *price == 15_000.0),
            "{err:?}"
        );
        // a resting order is held to LOT_SIZE only (MARKET_LOT_SIZE's maxQty is 85)
        assert_eq!(f.protection(true, 100.0, Some(19_000.0), None).unwrap().quantity, "100");
        assert!(matches!(f.protection(true, 0.000001, Some(19_000.0), None), Err(FilterRefusal::BelowMinQty { .. })));
        assert!(matches!(f.price("stop", f64::NAN, Rounding::Up), Err(FilterRefusal::NotPositive(_))));
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
