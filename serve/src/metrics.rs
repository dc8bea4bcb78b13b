//! Prometheus metrics (prometheus-client), served as text at `GET /metrics`.
//! Every name is listed in the README; latencies are in seconds, money in the quote
//! currency.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Label: one strategy.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StrategyLabel {
    /// Strategy name.
    pub strategy: String,
}

/// Labels: a strategy and a reason (risk refusals).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    /// Strategy name.
    pub strategy: String,
    /// `RefusalReason::name()` (`kill_switch`, `halted`, `max_exposure`, ...).
    pub reason: String,
}

/// Label: a kind of bad feed input.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabel {
    /// [`crate::feed::BadInputKind::as_str`].
    pub kind: String,
}

/// Label: an alert destination (`telegram:<chat id>`, `webhook:<name>`; never a URL).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DestinationLabel {
    /// The destination's key.
    pub destination: String,
}

type FloatGauge = Gauge<f64, AtomicU64>;

fn latency_histogram() -> Histogram {
    // 1 µs .. ~16 ms, doubling
    Histogram::new((0..15).map(|i| 1e-6 * f64::from(1u32 << i)))
}

/// Every metric of the daemon.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// `rltrade_bars_processed_total`: traded bars the engine has taken (every strategy
    /// decided on it and journaled the result), counted as each is taken, like the
    /// signals; the journal commits them in batches of `serve.bars_per_commit`.
    pub bars_processed: Counter,
    /// `rltrade_bars_committed_total`: traded bars whose journal transaction committed
    /// (bars rolled back after a journal failure never count).
    pub bars_committed: Counter,
    /// `rltrade_signals_total{strategy}`.
    pub signals: Family<StrategyLabel, Counter>,
    /// `rltrade_orders_total{strategy}`: approved orders (signals and liquidations).
    pub orders: Family<StrategyLabel, Counter>,
    /// `rltrade_fills_total{strategy}`.
    pub fills: Family<StrategyLabel, Counter>,
    /// `rltrade_risk_refusals_total{strategy,reason}`.
    pub risk_refusals: Family<ReasonLabels, Counter>,
    /// `rltrade_risk_clips_total{strategy,reason}`: approved orders a limit cut down
    /// (`max_exposure`, `max_var`: an entry the VaR limit scaled).
    pub risk_clips: Family<ReasonLabels, Counter>,
    /// `rltrade_invalid_model_outputs_total{strategy}`: NaN or out-of-range outputs (no order).
    pub invalid_outputs: Family<StrategyLabel, Counter>,
    /// `rltrade_feed_bad_input_total{kind}`: skipped feed input.
    pub bad_input: Family<KindLabel, Counter>,
    /// `rltrade_feed_stale`: 1 while no closed bar arrived for two intervals.
    pub feed_stale: Gauge,
    /// `rltrade_feed_last_bar_ms`: open time of the last bar, ms since epoch.
    pub last_bar_ms: Gauge,
    /// `rltrade_inference_latency_seconds{strategy}`: one ONNX Runtime call, or the
    /// strategy's share of a call batched with the other strategies of its model.
    pub inference_latency: Family<StrategyLabel, Histogram, fn() -> Histogram>,
    /// `rltrade_bar_to_order_latency_seconds{strategy}`: bar arrival to the risk-checked order.
    pub bar_to_order_latency: Family<StrategyLabel, Histogram, fn() -> Histogram>,
    /// `rltrade_equity{strategy}`: equity at the last close.
    pub equity: Family<StrategyLabel, FloatGauge>,
    /// `rltrade_exposure{strategy}`: position value / equity, signed.
    pub exposure: Family<StrategyLabel, FloatGauge>,
    /// `rltrade_trading_halted{strategy}`: 1 while HALTED or the kill switch is engaged.
    pub halted: Family<StrategyLabel, Gauge>,
    /// `rltrade_reconciliation_mismatches_total{strategy}`: broker and journal disagreed.
    pub reconciliation_mismatches: Family<StrategyLabel, Counter>,
    /// `rltrade_alerts_delivered_total`: outbox alerts a destination acknowledged (a
    /// summary counts each alert it covers).
    pub alerts_delivered: Family<DestinationLabel, Counter>,
    /// `rltrade_alert_send_failures_total`: failed attempts at a delivery (each is
    /// retried).
    pub alert_send_failures: Family<DestinationLabel, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("rltrade");
        let m = Self {
            bars_processed: Counter::default(),
            bars_committed: Counter::default(),
            signals: Family::default(),
            orders: Family::default(),
            fills: Family::default(),
            risk_refusals: Family::default(),
            risk_clips: Family::default(),
            invalid_outputs: Family::default(),
            bad_input: Family::default(),
            feed_stale: Gauge::default(),
            last_bar_ms: Gauge::default(),
            inference_latency: Family::new_with_constructor(latency_histogram as fn() -> Histogram),
            bar_to_order_latency: Family::new_with_constructor(latency_histogram as fn() -> Histogram),
            equity: Family::default(),
            exposure: Family::default(),
            halted: Family::default(),
            reconciliation_mismatches: Family::default(),
            alerts_delivered: Family::default(),
            alert_send_failures: Family::default(),
            registry: Registry::default(),
        };
        registry.register("bars_processed", "Traded bars taken by the engine", m.bars_processed.clone());
        registry.register("bars_committed", "Traded bars committed to the journal", m.bars_committed.clone());
        registry.register("signals", "Signals emitted", m.signals.clone());
        registry.register("orders", "Risk-approved orders", m.orders.clone());
        registry.register("fills", "Fills", m.fills.clone());
        registry.register("risk_refusals", "Orders refused by the risk check", m.risk_refusals.clone());
        registry.register("risk_clips", "Approved orders cut down by a risk limit", m.risk_clips.clone());
        registry.register("invalid_model_outputs", "Invalid model outputs (no order)", m.invalid_outputs.clone());
        registry.register("feed_bad_input", "Feed input skipped as bad", m.bad_input.clone());
        registry.register("feed_stale", "1 while the feed is stale", m.feed_stale.clone());
        registry.register("feed_last_bar_ms", "Open time of the last bar, ms since epoch", m.last_bar_ms.clone());
        registry.register(
            "inference_latency_seconds",
            "Latency of one policy inference (a strategy's share of a batched call)",
            m.inference_latency.clone(),
        );
        registry.register(
            "bar_to_order_latency_seconds",
            "Bar arrival to risk-checked order",
            m.bar_to_order_latency.clone(),
        );
        registry.register("equity", "Equity at the last close, quote currency", m.equity.clone());
        registry.register("exposure", "Position value over equity", m.exposure.clone());
        registry.register("trading_halted", "1 while halted or killed", m.halted.clone());
        registry.register(
            "reconciliation_mismatches",
            "Broker and journal disagreed",
            m.reconciliation_mismatches.clone(),
        );
        registry.register("alerts_delivered", "Alerts acknowledged by a destination", m.alerts_delivered.clone());
        registry.register(
            "alert_send_failures",
            "Failed attempts at delivering alerts (retried)",
            m.alert_send_failures.clone(),
        );
        for kind in crate::feed::BadInputKind::ALL {
            let _ = m.bad_input.get_or_create(&KindLabel { kind: kind.as_str().into() });
        }
        Self { registry, ..m }
    }

    /// The Prometheus text exposition of every metric.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        // writing into a String cannot fail
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}

/// The label of `strategy`.
pub fn strategy_label(strategy: &str) -> StrategyLabel {
    StrategyLabel { strategy: strategy.to_string() }
}

/// One strategy's metric handles, looked up once (the per-bar path touches no label map).
#[derive(Clone, Debug)]
pub struct StrategyMetrics {
    /// `rltrade_signals_total{strategy}`.
    pub signals: Counter,
    /// `rltrade_orders_total{strategy}`.
    pub orders: Counter,
    /// `rltrade_fills_total{strategy}`.
    pub fills: Counter,
    /// `rltrade_invalid_model_outputs_total{strategy}`.
    pub invalid_outputs: Counter,
    /// `rltrade_inference_latency_seconds{strategy}`.
    pub inference_latency: Histogram,
    /// `rltrade_bar_to_order_latency_seconds{strategy}`.
    pub bar_to_order_latency: Histogram,
    /// `rltrade_equity{strategy}`.
    pub equity: FloatGauge,
    /// `rltrade_exposure{strategy}`.
    pub exposure: FloatGauge,
    /// `rltrade_trading_halted{strategy}`.
    pub halted: Gauge,
    /// `rltrade_reconciliation_mismatches_total{strategy}`.
    pub reconciliation_mismatches: Counter,
}

impl Metrics {
    /// The handles of `strategy`'s metrics (registering its labels).
    pub fn strategy(&self, strategy: &str) -> StrategyMetrics {
        let label = strategy_label(strategy);
        StrategyMetrics {
            signals: self.signals.get_or_create(&label).clone(),
            orders: self.orders.get_or_create(&label).clone(),
            fills: self.fills.get_or_create(&label).clone(),
            invalid_outputs: self.invalid_outputs.get_or_create(&label).clone(),
            inference_latency: self.inference_latency.get_or_create(&label).clone(),
            bar_to_order_latency: self.bar_to_order_latency.get_or_create(&label).clone(),
            equity: self.equity.get_or_create(&label).clone(),
            exposure: self.exposure.get_or_create(&label).clone(),
            halted: self.halted.get_or_create(&label).clone(),
            reconciliation_mismatches: self.reconciliation_mismatches.get_or_create(&label).clone(),
        }
    }
}
