//! `[serve]`: the daemon's settings. Every field has a default; `rltrade serve` flags
//! override them. Costs and risk limits come from the shared `[execution]` and `[risk]`
//! sections, so the daemon trades with the backtest's numbers.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use rltrade_env::SplitName;
use rltrade_env::baselines::MaSpec;
use serde::{Deserialize, Serialize};

use rltrade_env::{Error, Result};

use crate::strategy_name::StrategyName;

mod alerts;
mod http;

pub use alerts::{
    AlertsConfig, DeliveryConfig, MAX_ALERT_WAIT_MS, MAX_POLL_TIMEOUT_S, TELEGRAM_MAX_TEXT_CHARS, TelegramConfig,
    WebhookConfig,
};
pub use http::{HttpConfig, MAX_BODY_BYTES, MAX_CONNECTIONS, MAX_TIMEOUT_MS, RESERVED_FDS};

/// SQLite's `synchronous` setting of the daemon's journal (`serve.synchronous`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SyncMode {
    /// `synchronous=NORMAL`: survives the process being killed (not a power cut); the
    /// default for replay and paper.
    Normal,
    /// `synchronous=FULL`: every commit reaches the disk; what an exchange broker uses,
    /// committing each order before sending it.
    Full,
}

/// Replay speed.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Speed {
    /// As fast as possible (`"max"`).
    Max(MaxSpeed),
    /// This many times real time (one bar per `interval / X`).
    Factor(f64),
}

/// The literal `"max"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MaxSpeed {
    /// As fast as possible.
    Max,
}

/// The slowest replay: a thousandth of real time (a 1 h bar every 1,000 hours). Slower
/// factors make the pause between bars longer than any `Duration` holds.
pub const MIN_SPEED_FACTOR: f64 = 1e-3;

impl Speed {
    /// Checks the factor: finite and at least [`MIN_SPEED_FACTOR`].
    ///
    /// # Errors
    /// What is allowed, in words.
    pub fn check(self) -> std::result::Result<Self, String> {
        match self {
            Self::Factor(x) if !(x.is_finite() && x >= MIN_SPEED_FACTOR) => Err(format!(
                "{x:e} is out of range: expected `max` or a finite factor >= {MIN_SPEED_FACTOR} (e.g. 3600 = one hour per second)"
            )),
            _ => Ok(self),
        }
    }

    /// The pause before each traded bar of a replay of bars `interval_ms` apart: `None`
    /// at `max`, else `interval / factor`.
    ///
    /// # Errors
    /// [`Error::Config`] naming `serve.speed` when the factor is out of range or the
    /// pause does not fit a `Duration`.
    pub fn pause(self, interval_ms: i64) -> Result<Option<std::time::Duration>> {
        let bad = |message: String| Error::Config { field: "serve.speed".into(), message };
        match self.check().map_err(bad)? {
            Self::Max(_) => Ok(None),
            Self::Factor(x) => std::time::Duration::try_from_secs_f64(interval_ms as f64 / 1000.0 / x)
                .map(Some)
                .map_err(|e| bad(format!("{x:e}: the pause between bars of {interval_ms} ms is out of range ({e})"))),
        }
    }
}

impl std::str::FromStr for Speed {
    type Err = String;
    fn from_str(text: &str) -> std::result::Result<Self, String> {
        if text == "max" {
            return Ok(Self::Max(MaxSpeed::Max));
        }
        match text.parse::<f64>() {
            Ok(x) => Self::Factor(x).check(),
            Err(_) => Err(format!(
                "`{text}`: expected `max` or a factor >= {MIN_SPEED_FACTOR} (e.g. 3600 = one hour per second)"
            )),
        }
    }
}

/// The longest poll period of the exchange feed (`serve.exchange.poll_ms`): an hour.
pub const MAX_POLL_MS: u64 = 3_600_000;
/// The most warm-up bars fetched at a first start (`serve.exchange.warmup_bars`).
pub const MAX_WARMUP_BARS: usize = 1_000_000;

/// Which broker receives orders.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BrokerKind {
    /// Paper: the `rltrade-exec` fill model at the next bar's open.
    Paper,
    /// Binance spot REST: signed market orders to `testnet_url`, or to `base_url`
    /// with `--live`. One strategy only (the exchange account is its account).
    Binance,
}

/// Binance spot settings (`[serve.exchange]`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExchangeConfig {
    /// Market-data base URL (public klines). Default `https://api.binance.com`.
    pub base_url: String,
    /// Order base URL when not `--live`. Default `https://testnet.binance.vision`.
    pub testnet_url: String,
    /// Exchange symbol. Default `BTCUSDT`.
    pub symbol: String,
    /// Its base asset (the position). Default `BTC`.
    pub base_asset: String,
    /// Its quote asset (the cash). Default `USDT`.
    pub quote_asset: String,
    /// Kline interval (`1m` … `1d`). Default `1h`.
    pub interval: String,
    /// Poll period, ms. Default 5,000.
    pub poll_ms: u64,
    /// Closed bars fetched before trading starts, to warm up features and indicators (at
    /// least `risk.var_lookback` are fetched while the VaR limit is on). Default 500.
    pub warmup_bars: usize,
    /// Environment variable holding the API key. Default `BINANCE_API_KEY`.
    pub api_key_env: String,
    /// Environment variable holding the API secret. Default `BINANCE_API_SECRET`.
    pub api_secret_env: String,
    /// Whose clock decides "now": which bars are closed, when the feed is stale, and
    /// the `timestamp` of signed requests. Default [`ClockSource::Local`].
    pub clock: ClockSource,
    /// Per-request timeout of every exchange call (klines, orders, queries), ms.
    /// Default 10,000.
    pub timeout_ms: u64,
    /// `recvWindow` of signed requests, ms: the exchange refuses a request older than
    /// this, and an order whose fate is unknown is resent only once it has passed.
    /// Binance's default and this one: 5,000; at most 60,000.
    pub recv_window_ms: u64,
}

/// Whose clock the exchange feed and broker go by (`serve.exchange.clock`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClockSource {
    /// The machine's clock (`local`): keep it synchronised (NTP); a clock behind the
    /// exchange's sees bars close late, one ahead makes signed requests fail `-1021`.
    #[default]
    Local,
    /// The exchange's (`exchange`): the offset to `GET /api/v3/time` is measured before
    /// every poll of the feed (one request of weight 1 each, the round trip's midpoint
    /// taken as the server's instant) and applied to every reading of the local clock.
    Exchange,
}

/// The longest `serve.exchange.recv_window_ms` Binance accepts.
pub const MAX_RECV_WINDOW_MS: u64 = 60_000;

impl Default for ExchangeConfig {
    fn default() -> Self {
        Self {
            base_url: "https://api.binance.com".into(),
            testnet_url: "https://testnet.binance.vision".into(),
            symbol: "BTCUSDT".into(),
            base_asset: "BTC".into(),
            quote_asset: "USDT".into(),
            interval: "1h".into(),
            poll_ms: 5_000,
            warmup_bars: 500,
            api_key_env: "BINANCE_API_KEY".into(),
            api_secret_env: "BINANCE_API_SECRET".into(),
            clock: ClockSource::Local,
            timeout_ms: 10_000,
            recv_window_ms: 5_000,
        }
    }
}

/// A `[[serve.strategies]]` table: a strategy with an explicit name, running an
/// exported model or an MA crossover (exactly one of `model` and `baseline`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StrategyTable {
    /// Its name in the journal, the HTTP API and the metrics: 1 to 64 ASCII letters,
    /// digits, `_`, `-`, `.` or `:`, unique in the daemon. Required.
    pub name: String,
    /// An exported model (an export or a run folder).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<PathBuf>,
    /// An MA crossover, `ma:FAST:SLOW` (bars).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<String>,
}

/// What a configured strategy runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StrategySource {
    /// The exported model at this path (an export or a run folder).
    Model(PathBuf),
    /// The MA crossover.
    Baseline(MaSpec),
}

/// One strategy of the config, checked: where it comes from, its name when the config
/// gives one, and what it runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfiguredStrategy {
    /// The config key that defines it (`serve.strategies[0]`, `serve.models[1]`,
    /// `serve.baselines[0]`), named by errors about it.
    pub key: String,
    /// Its name, when a `[[serve.strategies]]` table gives it; `None` for `models` and
    /// `baselines`, whose name is derived (the model card's run name, `ma:FAST:SLOW`).
    pub name: Option<StrategyName>,
    /// What it runs.
    pub source: StrategySource,
}

/// The daemon's settings (`[serve]`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServeConfig {
    /// Named strategies (`[[serve.strategies]]` tables: `name` and `model` or
    /// `baseline`), first in the daemon's order. Default none.
    pub strategies: Vec<StrategyTable>,
    /// Exported models (export or run folders), one strategy each, named by their run
    /// name; after the tables. `--model` replaces them. Default none.
    pub models: Vec<PathBuf>,
    /// MA crossovers as `ma:FAST:SLOW`, named so; after the models. `--baseline`
    /// replaces them. Default none.
    pub baselines: Vec<String>,
    /// A CSV to replay; empty = the exchange feed. Default empty.
    pub replay: PathBuf,
    /// The replayed split (`all`, `train`, `validation`, `test`); bars before it only
    /// warm up features and indicators, as in the backtest. Default `test`.
    pub split: SplitName,
    /// Replay speed: `"max"` or a factor of real time. Default `"max"`.
    pub speed: Speed,
    /// Replay: flush and exit 0 at the end of the feed. Default false.
    pub exit_at_end: bool,
    /// The SQLite journal. Default `journal.db` (working directory).
    pub journal: PathBuf,
    /// `normal` (survives a killed process; replay and paper) or `full` (every commit
    /// on disk). Default `normal`; the exchange broker always uses `full`.
    pub synchronous: SyncMode,
    /// Traded bars per journal transaction with `normal` (1 with `full`). Default 256.
    pub bars_per_commit: usize,
    /// HTTP API address; port 0 picks a free port. Default `127.0.0.1:8080`.
    pub listen: SocketAddr,
    /// File holding the bearer token of the control routes (every POST); empty =
    /// `RLTRADE_API_TOKEN`. Default empty.
    pub token_file: PathBuf,
    /// File holding the bearer token of the read routes (every GET but `/health`; the
    /// control token is accepted too); empty = the read routes are open. Needed to
    /// listen on an address that is not loopback. Default empty.
    pub read_token_file: PathBuf,
    /// The HTTP API's limits (`[serve.http]`).
    pub http: HttpConfig,
    /// Where orders go. Default `paper`.
    pub broker: BrokerKind,
    /// Send orders to the real exchange (needs API keys). Default false (testnet).
    pub live: bool,
    /// The exchange feed and broker.
    pub exchange: ExchangeConfig,
    /// Alerts and remote control (`[serve.alerts]`): Telegram, webhooks. Default none.
    pub alerts: AlertsConfig,
}

impl Default for ServeConfig {
    fn default() -> Self {
        Self {
            strategies: Vec::new(),
            models: Vec::new(),
            baselines: Vec::new(),
            replay: PathBuf::new(),
            split: SplitName::Test,
            speed: Speed::Max(MaxSpeed::Max),
            exit_at_end: false,
            journal: PathBuf::from("journal.db"),
            synchronous: SyncMode::Normal,
            bars_per_commit: 256,
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            token_file: PathBuf::new(),
            read_token_file: PathBuf::new(),
            http: HttpConfig::default(),
            broker: BrokerKind::Paper,
            live: false,
            exchange: ExchangeConfig::default(),
            alerts: AlertsConfig::default(),
        }
    }
}

impl ServeConfig {
    /// Checks ranges and combinations.
    ///
    /// # Errors
    /// [`Error::Config`] naming the key.
    pub fn validate(&self) -> Result<()> {
        let strategies = self.configured_strategies()?;
        if strategies.is_empty() {
            return Err(Error::Config {
                field: "serve.strategies / serve.models / serve.baselines".into(),
                message: "no strategy: give [[serve.strategies]] tables, --model DIR or --baseline ma:FAST:SLOW".into(),
            });
        }
        self.speed.check().map_err(|message| Error::Config { field: "serve.speed".into(), message })?;
        let exchange = &self.exchange;
        if !(1..=MAX_POLL_MS).contains(&exchange.poll_ms) {
            return Err(Error::Config {
                field: "serve.exchange.poll_ms".into(),
                message: format!("must be in 1..={MAX_POLL_MS} ms, found {}", exchange.poll_ms),
            });
        }
        if exchange.warmup_bars > MAX_WARMUP_BARS {
            return Err(Error::Config {
                field: "serve.exchange.warmup_bars".into(),
                message: format!("must be at most {MAX_WARMUP_BARS} bars, found {}", exchange.warmup_bars),
            });
        }
        if exchange.timeout_ms == 0 {
            return Err(Error::Config { field: "serve.exchange.timeout_ms".into(), message: "must be >= 1 ms".into() });
        }
        if !(1..=MAX_RECV_WINDOW_MS).contains(&exchange.recv_window_ms) {
            return Err(Error::Config {
                field: "serve.exchange.recv_window_ms".into(),
                message: format!(
                    "must be in 1..={MAX_RECV_WINDOW_MS} ms (Binance's limit), found {}",
                    exchange.recv_window_ms
                ),
            });
        }
        self.http.validate()?;
        self.alerts.validate()?;
        if !self.listen.ip().is_loopback() && self.read_token_file.as_os_str().is_empty() {
            return Err(Error::Config {
                field: "serve.listen".into(),
                message: format!(
                    "{} is not a loopback address, and serve.read_token_file is not set: anyone who can reach it \
                     could read every position, signal and A/B figure; set serve.read_token_file (and \
                     serve.token_file for the control routes), or listen on 127.0.0.1",
                    self.listen
                ),
            });
        }
        if self.bars_per_commit == 0 {
            return Err(Error::Config { field: "serve.bars_per_commit".into(), message: "must be >= 1".into() });
        }
        if self.live && self.broker == BrokerKind::Paper {
            return Err(Error::Config {
                field: "serve.live".into(),
                message: "--live sends orders to the real exchange, but the broker is paper; \
                          set serve.broker = \"binance\""
                    .into(),
            });
        }
        if self.broker == BrokerKind::Binance && strategies.len() != 1 {
            return Err(Error::Config {
                field: "serve.broker".into(),
                message: format!(
                    "the binance broker trades one strategy (the exchange account is its account); {} given",
                    strategies.len()
                ),
            });
        }
        if self.broker == BrokerKind::Binance && !self.replay.as_os_str().is_empty() {
            return Err(Error::Config {
                field: "serve.broker".into(),
                message: "a replay trades on paper only; the binance broker needs the exchange feed".into(),
            });
        }
        Ok(())
    }
}

impl ServeConfig {
    /// The strategies in the daemon's order: the `[[serve.strategies]]` tables, then
    /// `models`, then `baselines`, each checked (a table's name, its one source, every
    /// MA spec; no explicit name twice).
    ///
    /// # Errors
    /// [`Error::Config`] naming the key: `serve.strategies[i].name` (not a valid name, or
    /// taken by an earlier table), `serve.strategies[i]` (neither or both of `model` and
    /// `baseline`), `serve.strategies[i].baseline` or `serve.baselines[i]` (not
    /// `ma:FAST:SLOW`).
    pub fn configured_strategies(&self) -> Result<Vec<ConfiguredStrategy>> {
        let mut out = Vec::new();
        let mut named: HashMap<StrategyName, String> = HashMap::new();
        for (i, table) in self.strategies.iter().enumerate() {
            let key = format!("serve.strategies[{i}]");
            let name = StrategyName::new(table.name.as_str())
                .map_err(|e| Error::Config { field: format!("{key}.name"), message: e.to_string() })?;
            if let Some(first) = named.get(&name) {
                return Err(Error::Config {
                    field: format!("{key}.name"),
                    message: format!("`{name}` is already the name of {first}; strategy names must be unique"),
                });
            }
            named.insert(name.clone(), key.clone());
            let source = match (&table.model, &table.baseline) {
                (Some(path), None) => StrategySource::Model(path.clone()),
                (None, Some(spec)) => StrategySource::Baseline(parse_baseline_at(spec, &format!("{key}.baseline"))?),
                (model, _) => {
                    let which = if model.is_some() { "both" } else { "neither" };
                    return Err(Error::Config {
                        field: key,
                        message: format!(
                            "give exactly one of `model = \"DIR\"` and `baseline = \"ma:FAST:SLOW\"` ({which} given)"
                        ),
                    });
                }
            };
            out.push(ConfiguredStrategy { key, name: Some(name), source });
        }
        for (i, path) in self.models.iter().enumerate() {
            let key = format!("serve.models[{i}]");
            out.push(ConfiguredStrategy { key, name: None, source: StrategySource::Model(path.clone()) });
        }
        for (i, spec) in self.baselines.iter().enumerate() {
            let key = format!("serve.baselines[{i}]");
            let source = StrategySource::Baseline(parse_baseline_at(spec, &key)?);
            out.push(ConfiguredStrategy { key, name: None, source });
        }
        Ok(out)
    }
}

/// Parses `ma:FAST:SLOW` ([`MaSpec`], the env's parser).
///
/// # Errors
/// [`Error::Config`] naming `serve.baselines`.
pub fn parse_baseline(spec: &str) -> Result<MaSpec> {
    parse_baseline_at(spec, "serve.baselines")
}

fn parse_baseline_at(spec: &str, field: &str) -> Result<MaSpec> {
    spec.parse().map_err(|message| Error::Config { field: field.into(), message })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serve(toml_text: &str) -> ServeConfig {
        toml::from_str(toml_text).unwrap_or_else(|e| panic!("{e}: {toml_text}"))
    }

    #[test]
    fn tables_then_models_then_baselines_with_their_keys() {
        let config = serve(
            r#"
            models = ["runs/a"]
            baselines = ["ma:50:200"]
            [[strategies]]
            name = "rl"
            model = "runs/a"
            [[strategies]]
            name = "slow"
            baseline = "ma:50:200"
            "#,
        );
        let strategies = config.configured_strategies().unwrap();
        let keys: Vec<&str> = strategies.iter().map(|s| s.key.as_str()).collect();
        assert_eq!(keys, ["serve.strategies[0]", "serve.strategies[1]", "serve.models[0]", "serve.baselines[0]"]);
        assert_eq!(strategies[0].name.as_ref().map(StrategyName::as_str), Some("rl"));
        assert_eq!(strategies[1].source, StrategySource::Baseline(MaSpec { fast: 50, slow: 200 }));
        assert_eq!(strategies[2].name, None, "derived from the card");
        config.validate().unwrap();
    }

    #[test]
    fn bad_tables_are_refused_naming_the_key() {
        let long = "n".repeat(65);
        let cases = [
            ("name = \"a b\"\nbaseline = \"ma:2:4\"", "serve.strategies[0].name", "contains ' '"),
            ("name = \"\"\nbaseline = \"ma:2:4\"", "serve.strategies[0].name", "cannot be empty"),
            (&format!("name = \"{long}\"\nbaseline = \"ma:2:4\""), "serve.strategies[0].name", "at most 64"),
            ("name = \"x\"", "serve.strategies[0]", "neither given"),
            ("name = \"x\"\nmodel = \"m\"\nbaseline = \"ma:2:4\"", "serve.strategies[0]", "both given"),
            ("name = \"x\"\nbaseline = \"ma:4:2\"", "serve.strategies[0].baseline", "0 < FAST < SLOW"),
        ];
        for (table, field, message) in cases {
            let config = serve(&format!("[[strategies]]\n{table}\n"));
            let err = config.validate().unwrap_err();
            let Error::Config { field: got, message: text } = &err else { panic!("{err}") };
            assert_eq!(got, field, "{table}: {err}");
            assert!(text.contains(message), "{table}: {err}");
        }
        let twice = serve(
            "[[strategies]]\nname = \"x\"\nbaseline = \"ma:2:4\"\n[[strategies]]\nname = \"x\"\nbaseline = \"ma:3:9\"\n",
        );
        let err = twice.validate().unwrap_err().to_string();
        assert!(
            err.contains("serve.strategies[1].name") && err.contains("already the name of serve.strategies[0]"),
            "{err}"
        );
        let unknown = toml::from_str::<ServeConfig>("[[strategies]]\nname = \"x\"\nmodle = \"m\"\n");
        assert!(unknown.unwrap_err().to_string().contains("unknown field `modle`"));
        let err = ServeConfig::default().validate().unwrap_err().to_string();
        assert!(err.contains("no strategy"), "{err}");
    }

    #[test]
    fn exchange_clock_timeout_and_recv_window_are_read_and_checked_naming_the_key() {
        let base = "baselines = [\"ma:2:4\"]\n[exchange]\n";
        let config = serve(&format!("{base}clock = \"exchange\"\ntimeout_ms = 700\nrecv_window_ms = 2000\n"));
        assert_eq!(config.exchange.clock, ClockSource::Exchange);
        assert_eq!((config.exchange.timeout_ms, config.exchange.recv_window_ms), (700, 2_000));
        config.validate().unwrap();
        assert_eq!(serve(base).exchange.clock, ClockSource::Local, "the machine's clock by default");
        for (line, field) in [
            ("timeout_ms = 0", "serve.exchange.timeout_ms"),
            ("recv_window_ms = 0", "serve.exchange.recv_window_ms"),
            ("recv_window_ms = 60001", "serve.exchange.recv_window_ms"),
        ] {
            let err = serve(&format!("{base}{line}\n")).validate().unwrap_err();
            assert!(matches!(&err, Error::Config { field: f, .. } if f == field), "{line}: {err}");
        }
        let err = toml::from_str::<ServeConfig>(&format!("{base}clock = \"ntp\"\n")).unwrap_err().to_string();
        assert!(err.contains("unknown variant `ntp`") && err.contains("local") && err.contains("exchange"), "{err}");
    }

    #[test]
    fn speeds_too_slow_for_a_duration_are_refused_naming_the_setting() {
        assert_eq!("max".parse::<Speed>(), Ok(Speed::Max(MaxSpeed::Max)));
        assert_eq!("3600".parse::<Speed>(), Ok(Speed::Factor(3600.0)));
        for bad in ["1e-16", "0", "-1", "inf", "NaN", "fast"] {
            let err = bad.parse::<Speed>().unwrap_err();
            assert!(err.contains("0.001"), "{bad}: {err}");
        }
        assert_eq!(Speed::Factor(2.0).pause(3_600_000).unwrap(), Some(std::time::Duration::from_secs(1800)));
        assert_eq!(Speed::Max(MaxSpeed::Max).pause(3_600_000).unwrap(), None);
        // a config file is not parsed by FromStr: validation and the pause check it too
        let err = Speed::Factor(1e-16).pause(3_600_000).unwrap_err().to_string();
        assert!(err.contains("serve.speed"), "{err}");
        let config =
            ServeConfig { baselines: vec!["ma:2:4".into()], speed: Speed::Factor(1e-16), ..ServeConfig::default() };
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains("serve.speed"), "{err}");
        let mut config = ServeConfig { baselines: vec!["ma:2:4".into()], ..ServeConfig::default() };
        config.exchange.warmup_bars = usize::MAX;
        assert!(config.validate().unwrap_err().to_string().contains("serve.exchange.warmup_bars"));
        config.exchange.warmup_bars = 500;
        config.exchange.poll_ms = 0;
        assert!(config.validate().unwrap_err().to_string().contains("serve.exchange.poll_ms"));
    }
}
