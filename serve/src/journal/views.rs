//! The dashboard's views of the journal: the chart series (`GET /chart`: candles, each
//! strategy's equity and drawdown, its fills marked by reason) and the recent activity
//! (`GET /activity`: orders, fills, risk refusals and operator events, newest first).
//! Both read committed rows only, so a client sees whole bars.

use rltrade_exec::Side;
use serde::Serialize;

use super::{EventRow, Journal, OrderReason, OrderStatus};
use crate::error::Result;

/// One traded bar as a candle.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Candle {
    /// Open time, ms since epoch UTC.
    pub time_ms: i64,
    /// Open, quote currency.
    pub open: f64,
    /// High, quote currency.
    pub high: f64,
    /// Low, quote currency.
    pub low: f64,
    /// Close, quote currency.
    pub close: f64,
}

/// A strategy's equity at one bar's close and its drawdown.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct EquityPoint {
    /// Bar open time, ms since epoch UTC.
    pub bar_ms: i64,
    /// Equity at the bar's close, quote currency.
    pub equity: f64,
    /// `equity / running peak − 1` (a fraction ≤ 0), the peak taken over every mark of
    /// the journal up to this one.
    pub drawdown: f64,
}

/// What a fill did to the position it found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TradeKind {
    /// Opened a position from flat.
    Entry,
    /// Closed the position to flat.
    Exit,
    /// Closed the position and opened one on the other side.
    Reversal,
    /// Added to the position.
    Increase,
    /// Reduced the position without closing it.
    Reduce,
}

impl TradeKind {
    /// The kind of a fill that moves the position from `before` to `after` (base units;
    /// below `1e-12` in size counts as flat).
    pub fn of(before: f64, after: f64) -> Self {
        const FLAT: f64 = 1e-12;
        let (was_flat, is_flat) = (before.abs() < FLAT, after.abs() < FLAT);
        match (was_flat, is_flat) {
            (true, _) => TradeKind::Entry,
            (false, true) => TradeKind::Exit,
            _ if before.signum() != after.signum() => TradeKind::Reversal,
            _ if after.abs() > before.abs() => TradeKind::Increase,
            _ => TradeKind::Reduce,
        }
    }
}

/// A fill with its order's reason and what it did to the position.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FillView {
    /// Strategy.
    pub strategy: String,
    /// Order id (per strategy).
    pub order_id: u64,
    /// Fill time, ms since epoch UTC.
    pub time_ms: i64,
    /// Buy or sell.
    pub side: Side,
    /// Base units (positive).
    pub quantity: f64,
    /// Fill price, quote currency.
    pub price: f64,
    /// Fee, quote currency.
    pub fee: f64,
    /// Why its order existed.
    pub reason: OrderReason,
    /// What it did to the position.
    pub kind: TradeKind,
    /// The position after it, base units (signed).
    pub position_after: f64,
}

/// One strategy's series.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StrategySeries {
    /// Strategy name.
    pub name: String,
    /// Equity marks, oldest first.
    pub equity: Vec<EquityPoint>,
    /// Fills, oldest first.
    pub fills: Vec<FillView>,
}

/// `GET /chart`: what the charts draw, after a given bar.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ChartView {
    /// Feed symbol (empty before the journal is initialized).
    pub symbol: String,
    /// Bar interval, ms.
    pub interval_ms: i64,
    /// Open time of the last traded bar included, ms since epoch UTC: the next
    /// request's `after` (`None`: no bar yet).
    pub last_bar_ms: Option<i64>,
    /// Traded bars (warm-up excluded), oldest first.
    pub bars: Vec<Candle>,
    /// One entry per strategy, in the daemon's order.
    pub strategies: Vec<StrategySeries>,
}

/// An order as the activity table shows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OrderView {
    /// Strategy.
    pub strategy: String,
    /// Order id (per strategy).
    pub order_id: u64,
    /// Client order id (what an exchange sees).
    pub client_order_id: String,
    /// Open time of the bar it was decided at, ms since epoch UTC.
    pub decided_bar_ms: i64,
    /// Why it exists.
    pub reason: OrderReason,
    /// Target exposure, signed fraction of equity.
    pub target_exposure: f64,
    /// Reference price at the decision, quote currency.
    pub reference_price: f64,
    /// Where it stands.
    pub status: OrderStatus,
    /// Why it stands there (a rejection's message), when recorded.
    pub status_reason: Option<String>,
}

/// A signal the risk layer refused.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RefusalView {
    /// Strategy.
    pub strategy: String,
    /// Open time of the bar it was decided at, ms since epoch UTC.
    pub bar_ms: i64,
    /// The order id it would have had.
    pub order_id: u64,
    /// The requested target exposure, signed fraction of equity.
    pub requested: f64,
    /// The refusal as journaled: the limit's name, then its details
    /// (`max_position: ...`).
    pub reason: String,
}

/// `GET /activity`: the latest rows of each kind, newest first.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ActivityView {
    /// Orders, newest decision first.
    pub orders: Vec<OrderView>,
    /// Fills, newest first.
    pub fills: Vec<FillView>,
    /// Risk refusals, newest first.
    pub refusals: Vec<RefusalView>,
    /// Operator events (restarts, halts, kill switch, feed, reloads, rejections), newest
    /// first.
    pub events: Vec<EventRow>,
}

/// One strategy's bar-to-order latency percentiles over its latest signals.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LatencyRow {
    /// Strategy.
    pub strategy: String,
    /// Signals measured (at most the view's window).
    pub count: u64,
    /// Median, µs.
    pub p50_us: u64,
    /// 90th percentile, µs.
    pub p90_us: u64,
    /// 99th percentile, µs.
    pub p99_us: u64,
    /// 99.9th percentile, µs.
    pub p999_us: u64,
    /// Largest, µs.
    pub max_us: u64,
    /// Mean, µs.
    pub mean_us: f64,
}

/// `GET /latency`: the time from a bar's arrival until each strategy's order is
/// risk-checked (the signals' `latency_us`, wall clock), per strategy, over its latest
/// `window` signals. Percentiles from an HDR histogram at 3 significant digits.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LatencyView {
    /// Signals per strategy the percentiles are over, at most.
    pub window: u64,
    /// One row per strategy with signals, in the daemon's order.
    pub strategies: Vec<LatencyRow>,
}

impl Journal {
    /// Bar-to-order latency percentiles over each strategy's latest `window` signals.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn latencies(&self, window: u64) -> Result<LatencyView> {
        let names: Vec<String> =
            self.meta()?.map(|m| m.strategies.iter().map(|s| s.name().to_string()).collect()).unwrap_or_default();
        let mut strategies = Vec::new();
        for strategy in names {
            let latencies: Vec<i64> = self.rows(
                "reading signal latencies",
                "SELECT latency_us FROM signals WHERE strategy = ?1 ORDER BY bar_ms DESC LIMIT ?2",
                rusqlite::params![strategy, window as i64],
                |row| row.get(0),
            )?;
            if latencies.is_empty() {
                continue;
            }
            let mut histogram = hdrhistogram::Histogram::<u64>::new(3).expect("3 significant digits is valid");
            for latency in &latencies {
                histogram.saturating_record((*latency).max(0) as u64);
            }
            strategies.push(LatencyRow {
                strategy,
                count: histogram.len(),
                p50_us: histogram.value_at_quantile(0.5),
                p90_us: histogram.value_at_quantile(0.9),
                p99_us: histogram.value_at_quantile(0.99),
                p999_us: histogram.value_at_quantile(0.999),
                max_us: histogram.max(),
                mean_us: histogram.mean(),
            });
        }
        Ok(LatencyView { window, strategies })
    }

    /// The charts' series after the traded bar opening at `after` (every bar when
    /// `None`), so a client polls with the last `last_bar_ms` it saw. Drawdowns are
    /// measured from the peak over the whole journal, so a partial read draws the same
    /// values as a full one.
    ///
    /// # Errors
    /// SQLite errors, or an order reason that is none of [`OrderReason`]'s spellings
    /// (corrupt journal).
    pub fn chart(&self, after: Option<i64>) -> Result<ChartView> {
        let Some(meta) = self.meta()? else {
            return Ok(ChartView {
                symbol: String::new(),
                interval_ms: 0,
                last_bar_ms: None,
                bars: Vec::new(),
                strategies: Vec::new(),
            });
        };
        let after = after.unwrap_or(i64::MIN);
        let bars = self.rows(
            "reading bars for the chart",
            "SELECT time_ms, open, high, low, close FROM bars WHERE phase = 'traded' AND time_ms > ?1 ORDER BY time_ms",
            [after],
            |row| {
                Ok(Candle {
                    time_ms: row.get(0)?,
                    open: row.get(1)?,
                    high: row.get(2)?,
                    low: row.get(3)?,
                    close: row.get(4)?,
                })
            },
        )?;
        let fills = self.fill_views()?;
        let mut strategies = Vec::with_capacity(meta.strategies.len());
        for spec in &meta.strategies {
            let name = spec.name().to_string();
            let prior_peak: Option<f64> = self.sql(
                "reading the equity peak",
                self.conn.query_row(
                    "SELECT MAX(equity) FROM equity WHERE strategy = ?1 AND bar_ms <= ?2",
                    rusqlite::params![name, after],
                    |row| row.get(0),
                ),
            )?;
            let marks: Vec<(i64, f64)> = self.rows(
                "reading equity for the chart",
                "SELECT bar_ms, equity FROM equity WHERE strategy = ?1 AND bar_ms > ?2 ORDER BY bar_ms",
                rusqlite::params![name, after],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )?;
            let mut peak = prior_peak.unwrap_or(f64::NEG_INFINITY);
            let equity = marks
                .into_iter()
                .map(|(bar_ms, equity)| {
                    peak = peak.max(equity);
                    let drawdown = if peak > 0.0 { equity / peak - 1.0 } else { 0.0 };
                    EquityPoint { bar_ms, equity, drawdown }
                })
                .collect();
            let fills = fills.iter().filter(|f| f.strategy == name && f.time_ms > after).cloned().collect();
            strategies.push(StrategySeries { name, equity, fills });
        }
        let last_bar_ms = bars.last().map(|b: &Candle| b.time_ms).or((after != i64::MIN).then_some(after));
        Ok(ChartView { symbol: meta.symbol, interval_ms: meta.interval_ms, last_bar_ms, bars, strategies })
    }

    /// The latest `limit` orders, fills, refusals and events, each newest first.
    ///
    /// # Errors
    /// SQLite errors, or a status, reason or kind that is none of its type's spellings
    /// (corrupt journal).
    pub fn activity(&self, limit: usize) -> Result<ActivityView> {
        let limit = limit as i64;
        let orders = self.rows(
            "reading recent orders",
            "SELECT strategy, order_id, client_order_id, decided_bar_ms, purpose, target_exposure, reference_price, \
                 status, status_reason FROM orders ORDER BY decided_bar_ms DESC, strategy, order_id DESC LIMIT ?1",
            [limit],
            |row| {
                Ok(OrderView {
                    strategy: row.get(0)?,
                    order_id: row.get::<_, i64>(1)? as u64,
                    client_order_id: row.get(2)?,
                    decided_bar_ms: row.get(3)?,
                    reason: row.get(4)?,
                    target_exposure: row.get(5)?,
                    reference_price: row.get(6)?,
                    status: row.get(7)?,
                    status_reason: row.get(8)?,
                })
            },
        )?;
        let mut fills = self.fill_views()?;
        fills.sort_by(|a, b| b.time_ms.cmp(&a.time_ms).then_with(|| a.strategy.cmp(&b.strategy)));
        fills.truncate(limit as usize);
        let refusals = self.rows(
            "reading recent refusals",
            "SELECT strategy, bar_ms, order_id, requested, COALESCE(reason, '') FROM risk_decisions \
                 WHERE outcome = 'refused' ORDER BY bar_ms DESC, strategy LIMIT ?1",
            [limit],
            |row| {
                Ok(RefusalView {
                    strategy: row.get(0)?,
                    bar_ms: row.get(1)?,
                    order_id: row.get::<_, i64>(2)? as u64,
                    requested: row.get(3)?,
                    reason: row.get(4)?,
                })
            },
        )?;
        let events = self.rows(
            "reading recent events",
            "SELECT bar_ms, strategy, kind, message FROM events ORDER BY id DESC LIMIT ?1",
            [limit],
            |row| Ok(EventRow { bar_ms: row.get(0)?, strategy: row.get(1)?, kind: row.get(2)?, message: row.get(3)? }),
        )?;
        Ok(ActivityView { orders, fills, refusals, events })
    }

    /// Every fill with its order's reason and its trade kind, by strategy then time.
    fn fill_views(&self) -> Result<Vec<FillView>> {
        // kind and position are filled in below, in time order per strategy
        let mut views = self.rows(
            "reading fills with their orders",
            "SELECT f.strategy, f.order_id, f.time_ms, f.side, f.quantity, f.price, f.fee, o.purpose \
                 FROM fills f JOIN orders o ON o.strategy = f.strategy AND o.order_id = f.order_id \
                 ORDER BY f.strategy, f.time_ms, f.order_id",
            [],
            |row| {
                Ok(FillView {
                    strategy: row.get(0)?,
                    order_id: row.get::<_, i64>(1)? as u64,
                    time_ms: row.get(2)?,
                    side: super::read::side_from_column(&row.get::<_, String>(3)?),
                    quantity: row.get(4)?,
                    price: row.get(5)?,
                    fee: row.get(6)?,
                    reason: row.get(7)?,
                    kind: TradeKind::Entry,
                    position_after: 0.0,
                })
            },
        )?;
        let mut position = 0.0;
        let mut current: Option<String> = None;
        for view in &mut views {
            if current.as_deref() != Some(view.strategy.as_str()) {
                current = Some(view.strategy.clone());
                position = 0.0;
            }
            let before = position;
            position += match view.side {
                Side::Buy => view.quantity,
                Side::Sell => -view.quantity,
            };
            view.kind = TradeKind::of(before, position);
            view.position_after = position;
        }
        Ok(views)
    }
}

#[cfg(test)]
mod tests {
    use super::TradeKind;

    #[test]
    fn trade_kinds_follow_the_position() {
        assert_eq!(TradeKind::of(0.0, 1.0), TradeKind::Entry);
        assert_eq!(TradeKind::of(0.0, -1.0), TradeKind::Entry);
        assert_eq!(TradeKind::of(1.0, 0.0), TradeKind::Exit);
        assert_eq!(TradeKind::of(1.0, 1e-15), TradeKind::Exit);
        assert_eq!(TradeKind::of(1.0, -0.5), TradeKind::Reversal);
        assert_eq!(TradeKind::of(1.0, 1.5), TradeKind::Increase);
        assert_eq!(TradeKind::of(-1.0, -0.5), TradeKind::Reduce);
    }
}
