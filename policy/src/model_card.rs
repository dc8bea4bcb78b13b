//! `model_card.json`: what an exported policy was trained on and how to feed it.
//!
//! The card is the contract between training and every later use (backtest, compare,
//! the serving daemon): the observation layout (window, features, normalization,
//! position features), the action list, the symbol and interval, the splits (as dates,
//! so the same test split is found again), the data file's SHA-256 and the ONNX file's
//! SHA-256. Wall-clock facts (`created_at`) live here, never in `policy.onnx`, so that
//! the same seed exports a byte-identical ONNX file.
//!
//! # The card's checksum
//!
//! Since format 4 the card carries `card_sha256`, the SHA-256 of its own canonical
//! content, so that an edited card (swapped actions would trade inverted) is refused on
//! load. The rule ([`card_checksum`]): read the card's file as JSON (serde_json), drop
//! its top-level `card_sha256` key, and write the rest in canonical JSON: the keys of
//! every object sorted by their UTF-8 bytes, no whitespace, strings and numbers as
//! serde_json writes them (floats in their shortest round-trip form, of the value
//! serde_json parsed); the checksum is the lower-case hex SHA-256 of those bytes.
//! Whitespace and key order in the file do not count; any changed value does. [`ModelCard::to_json`] writes it; [`ModelCard::load`]
//! recomputes it from the file's JSON and refuses a card whose checksum is missing
//! (format 4 and later) or differs. Cards of formats 1 to 3 predate the checksum and
//! load without one. The checksum detects accidental or careless edits; it is not a
//! signature (anyone can recompute it).

use std::path::{Component, Path, PathBuf};

use rltrade_env::bar::format_interval;
use rltrade_env::features::{FEATURE_NAMES, FeatureConfig, Normalization};
use rltrade_env::split::SplitBoundary;
use rltrade_env::trading_env::POSITION_FEATURES;
use rltrade_env::{BarSeries, EnvConfig, MarketData, RewardConfig, SplitConfig};
use rltrade_exec::ProtectConfig;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result, SettingsSource};

/// The card format this build writes. Format 2 added `decision_interval`,
/// `switch_margin` and `reward`; format 3 added `protect`; format 4 added the card's own
/// checksum `card_sha256` (required from format 4 on). Older cards still load, with the
/// values that reproduce their old behaviour (format 1: decide every bar, plain greedy,
/// no reward warm-up; formats 1 and 2: no protective orders; formats 1 to 3: no
/// checksum).
pub const MODEL_CARD_FORMAT: u32 = 4;
/// The first card format that must carry `card_sha256`.
pub const CARD_CHECKSUM_FORMAT: u32 = 4;
/// The card's checksum key ([`card_checksum`]).
pub const CARD_CHECKSUM_KEY: &str = "card_sha256";
/// The oldest card format this build reads.
pub const MODEL_CARD_OLDEST_FORMAT: u32 = 1;
/// The ONNX graph's input: observations `[batch, obs_dim]` f32.
pub const INPUT_OBS: &str = "obs";
/// The ONNX graph's output: action probabilities `[batch, n_actions]` f32.
pub const OUTPUT_PROBS: &str = "probs";
/// The ONNX graph's output: action logits `[batch, n_actions]` f32.
pub const OUTPUT_LOGITS: &str = "logits";

/// The ONNX file as the card describes it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OnnxInfo {
    /// File name inside the export folder (`policy.onnx`): a plain name, never a path
    /// (absolute, with a folder, or with `..`), and the file must not be a symbolic link,
    /// so that a card can only name a file of its own folder.
    pub file: String,
    /// Lower-case hex SHA-256 of the file's bytes.
    pub sha256: String,
    /// The ONNX opset the graph imports.
    pub opset: i64,
    /// Input name ([`INPUT_OBS`]): the graph's one input, f32 `[batch, obs_dim]`,
    /// checked against the ONNX file on load.
    pub input: String,
    /// Output names ([`OUTPUT_PROBS`], [`OUTPUT_LOGITS`]).
    pub outputs: Vec<String>,
    /// Hidden layer widths of the actor MLP (tanh).
    pub hidden: Vec<usize>,
}

/// The data file the model was trained on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataInfo {
    /// The path as given at training time (relative to where training ran, or absolute).
    pub file: String,
    /// The same file relative to the card's folder (`../../data/btc.csv`), so the model
    /// finds its data from any working directory. Absent in cards exported before it
    /// was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_from_card: Option<String>,
    /// Lower-case hex SHA-256 of its bytes.
    pub sha256: String,
    /// Number of bars.
    pub n_bars: usize,
}

impl DataInfo {
    /// The places the data file is looked for, in order, for a card in `card_dir`:
    /// [`DataInfo::file_from_card`] under `card_dir`, [`DataInfo::file`] as given
    /// (from the working directory, or absolute), and `data/<file name>`. Nothing else:
    /// the filesystem is never searched.
    pub fn candidates(&self, card_dir: &Path) -> Vec<PathBuf> {
        let given = PathBuf::from(&self.file);
        let mut paths: Vec<PathBuf> = self.file_from_card.iter().map(|f| card_dir.join(f)).collect();
        paths.push(given.clone());
        if let Some(name) = given.file_name() {
            paths.push(Path::new("data").join(name));
        }
        paths.dedup();
        paths
    }

    /// The first of [`DataInfo::candidates`] that exists with the bytes the model was
    /// trained on ([`DataInfo::sha256`]).
    ///
    /// # Errors
    /// [`Error::DataNotFound`] listing every place tried, and for each file found there
    /// that holds other bytes, its SHA-256.
    pub fn locate(&self, card_dir: &Path) -> Result<PathBuf> {
        let mut tried = Vec::new();
        for path in self.candidates(card_dir) {
            if !path.is_file() {
                tried.push(format!("{} (no such file)", path.display()));
                continue;
            }
            match rltrade_env::data::sha256_file(&path) {
                Ok(sha) if sha == self.sha256 => return Ok(path),
                Ok(sha) => tried.push(format!("{} (other bytes: sha256 {sha})", path.display())),
                Err(e) => tried.push(format!("{} ({e})", path.display())),
            }
        }
        Err(Error::DataNotFound { sha256: self.sha256.clone(), tried })
    }
}

/// Split boundaries on the training data (bar indices and times).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SplitBoundaries {
    /// Warm-up gap between splits, in bars.
    pub gap: usize,
    /// The train split.
    pub train: SplitBoundary,
    /// The validation split.
    pub validation: SplitBoundary,
    /// The test split.
    pub test: SplitBoundary,
}

/// Agreement of ONNX Runtime (and tract) with burn on recorded observations.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Parity {
    /// Observations compared (recorded on the test split).
    pub observations: usize,
    /// Max |ort − burn| over probabilities and logits.
    pub ort_max_abs_error: f64,
    /// Max |tract − burn| over probabilities and logits.
    pub tract_max_abs_error: f64,
    /// Observations whose top two probabilities differ by more than the tie tolerance.
    pub decisive_observations: usize,
    /// Decisive observations where ONNX Runtime's greedy action equals burn's.
    pub greedy_agreements: usize,
}

/// Versions of what built and checked the export.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Versions {
    /// rltrade's version.
    pub rltrade: String,
    /// The git commit of the training run, when known.
    pub git_commit: Option<String>,
    /// burn's version (training).
    pub burn: String,
    /// ONNX Runtime's version used for the parity check.
    pub onnxruntime: String,
    /// tract-onnx's version (writing and cross-check).
    pub tract_onnx: String,
}

/// `model_card.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelCard {
    /// [`MODEL_CARD_FORMAT`].
    pub format_version: u32,
    /// The run's name (its folder name), used as the arm name in comparisons.
    pub name: String,
    /// When the export was written, RFC 3339 UTC (wall clock; not part of the ONNX file).
    pub created_at: String,
    /// The ONNX file.
    pub onnx: OnnxInfo,
    /// Observation length: `window × n_features + position_features`.
    pub obs_dim: usize,
    /// Bars of features per observation.
    pub window: usize,
    /// Feature names, in observation order (oldest bar first within the window).
    pub feature_names: Vec<String>,
    /// Position features appended after the window (exposure, unrealized PnL, ...).
    pub position_features: usize,
    /// The action list: action `i` targets exposure `actions[i]` (signed fraction of equity).
    pub actions: Vec<f64>,
    /// Decide every k bars, at bars whose close time is a whole multiple of k × interval
    /// (`env.decision_interval`). Format 1 cards: 1.
    #[serde(default = "one")]
    pub decision_interval: u32,
    /// Switching hysteresis of the greedy decision, in [0, 1) (`env.switch_margin`).
    /// Format 1 cards: 0.
    #[serde(default)]
    pub switch_margin: f64,
    /// The reward it was trained with, including the turnover penalty (`env.reward`);
    /// its lookback is part of the warm-up and the splits' gap. Format 1 cards: the
    /// defaults (no lookback).
    #[serde(default)]
    pub reward: RewardConfig,
    /// The protective orders it was trained with (`[protect]`: stop-loss, take-profit,
    /// trailing and time stop), which every backtest, comparison and daemon of this
    /// model applies. Format 1 and 2 cards: all off.
    #[serde(default)]
    pub protect: ProtectConfig,
    /// Bars of price history the risk limits it was trained with needed
    /// (`RiskConfig::lookback_bars`: `risk.var_lookback` with `risk.max_var_95` on), part
    /// of the splits' gap and the warm-up, so that its data splits as in training.
    /// Written only when > 0; cards without it: 0.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub risk_lookback: usize,
    /// Symbol, upper case (e.g. `BTCUSD`).
    pub symbol: String,
    /// Bar interval in ms.
    pub interval_ms: i64,
    /// Bar interval as exchanges name it (`1h`).
    pub interval: String,
    /// The feature pipeline's settings.
    pub features: FeatureConfig,
    /// Normalization statistics, fitted on the train split.
    pub normalization: Normalization,
    /// The training data.
    pub data: DataInfo,
    /// The splits as dates (`train_end`, `validation_end`): applied to the same file they
    /// give the same bar ranges; applied to a longer file, the same dates.
    pub split: SplitConfig,
    /// The split boundaries on the training data.
    pub splits: SplitBoundaries,
    /// Training facts: seed, steps, checkpoint, validation Sharpe, PPO settings, the
    /// environment, execution and risk settings it was trained with.
    pub training: serde_json::Value,
    /// The parity check run at export.
    pub parity: Parity,
    /// Versions.
    pub versions: Versions,
    /// Lower-case hex SHA-256 of the card's canonical content without this field (the
    /// rule is in the module documentation, [`card_checksum`]). Written by
    /// [`ModelCard::to_json`]; required from format [`CARD_CHECKSUM_FORMAT`] on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card_sha256: Option<String>,
}

/// The checksum of a card given as JSON: the lower-case hex SHA-256 of its canonical
/// JSON (every object's keys sorted by their UTF-8 bytes, no whitespace, serde_json's
/// spelling of strings and numbers) without the top-level [`CARD_CHECKSUM_KEY`].
pub fn card_checksum(card: &serde_json::Value) -> String {
    let mut text = String::new();
    match card {
        serde_json::Value::Object(map) => {
            let content: serde_json::Map<String, serde_json::Value> = map
                .iter()
                .filter(|(k, _)| k.as_str() != CARD_CHECKSUM_KEY)
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            write_canonical(&serde_json::Value::Object(content), &mut text);
        }
        other => write_canonical(other, &mut text),
    }
    rltrade_env::data::sha256_hex(text.as_bytes())
}

/// Appends `value` as canonical JSON to `out` (keys sorted at every level, whatever
/// order serde_json's map keeps).
fn write_canonical(value: &serde_json::Value, out: &mut String) {
    match value {
        serde_json::Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(&map[key], out);
            }
            out.push('}');
        }
        serde_json::Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

impl ModelCard {
    /// Reads and checks a card: its checksum (`card_sha256`, see the module
    /// documentation), then its consistency.
    ///
    /// # Errors
    /// [`Error::Io`] if unreadable; [`Error::Card`] naming the field when malformed, of
    /// another format version, without its checksum (format 4 on) or with one that does
    /// not match its content (edited after export), or inconsistent (obs_dim, feature
    /// names, actions, an `onnx.file` that is not a plain file name).
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::parse(path, &text)
    }

    /// [`Self::load`] on a card's text already read; `path` names it in errors. The fuzz
    /// target `model_card` (`fuzz/`) runs this on arbitrary text.
    ///
    /// # Errors
    /// As [`Self::load`], but for reading the file.
    pub fn parse(path: &Path, text: &str) -> Result<Self> {
        let card_error = |message: String| Error::Card { path: path.to_path_buf(), message };
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| card_error(format!("malformed: {e}")))?;
        let card: Self = serde_json::from_value(value.clone()).map_err(|e| card_error(format!("malformed: {e}")))?;
        card.check_checksum(&value).map_err(card_error)?;
        card.check_consistent().map_err(card_error)?;
        Ok(card)
    }

    /// The card as pretty JSON, with its checksum `card_sha256` computed over what is
    /// written (cards of formats before [`CARD_CHECKSUM_FORMAT`] are written as they are).
    pub fn to_json(&self) -> String {
        let mut card = self.clone();
        card.card_sha256 = None;
        let text = serde_json::to_string_pretty(&card).unwrap_or_default();
        if card.format_version < CARD_CHECKSUM_FORMAT {
            return text;
        }
        // the checksum of the JSON as a reader parses it: serde_json's float parser may
        // land an ulp away from the value written, so the written text is read back
        // (the final text spells every number the same way)
        let read_back: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        card.card_sha256 = Some(card_checksum(&read_back));
        serde_json::to_string_pretty(&card).unwrap_or_default()
    }

    /// Checks `card_sha256` against `value`, the card's JSON as read.
    fn check_checksum(&self, value: &serde_json::Value) -> std::result::Result<(), String> {
        match &self.card_sha256 {
            None if self.format_version >= CARD_CHECKSUM_FORMAT => Err(format!(
                "{CARD_CHECKSUM_KEY}: missing, but a format {} card must carry the checksum of its content: \
                 export the run again",
                self.format_version
            )),
            None => Ok(()),
            Some(recorded) if *recorded != card_checksum(value) => Err(format!(
                "{CARD_CHECKSUM_KEY}: {recorded} does not match the card's content: the card was edited after \
                 export; export the run again"
            )),
            Some(_) => Ok(()),
        }
    }

    fn check_consistent(&self) -> std::result::Result<(), String> {
        if !(MODEL_CARD_OLDEST_FORMAT..=MODEL_CARD_FORMAT).contains(&self.format_version) {
            return Err(format!(
                "format_version {} is not supported (this build reads {MODEL_CARD_OLDEST_FORMAT} to {MODEL_CARD_FORMAT}): export the run again",
                self.format_version
            ));
        }
        self.env_config().validate().map_err(|e| e.to_string())?;
        self.protect.validate().map_err(|e| e.to_string())?;
        let n_features = self.feature_names.len();
        if self.normalization.mean.len() != n_features || self.normalization.std.len() != n_features {
            return Err(format!(
                "normalization: {} means and {} stds for {n_features} features",
                self.normalization.mean.len(),
                self.normalization.std.len()
            ));
        }
        let expected = self.window * n_features + self.position_features;
        if self.obs_dim != expected {
            return Err(format!(
                "obs_dim: {} but window {} × {n_features} features + {} position features = {expected}",
                self.obs_dim, self.window, self.position_features
            ));
        }
        if !is_plain_file_name(&self.onnx.file) {
            return Err(format!(
                "onnx.file: {:?} must be a plain file name in the card's folder (such as {:?}), not a path",
                self.onnx.file, "policy.onnx"
            ));
        }
        if self.interval_ms <= 0 {
            return Err(format!("interval_ms: {} must be positive", self.interval_ms));
        }
        Ok(())
    }

    /// The number of actions.
    pub fn n_actions(&self) -> usize {
        self.actions.len()
    }

    /// Checks that `series` is data this model can trade: same interval and symbol (compared without case
    /// and separators).
    ///
    /// # Errors
    /// [`Error::Mismatch`] naming `symbol` or `interval`.
    pub fn check_series(&self, series: &BarSeries) -> Result<()> {
        self.check_feed(&series.symbol, series.interval_ms)
    }

    /// [`Self::check_series`] for a feed known by its `symbol` and `interval_ms` (a live
    /// feed has no series yet).
    ///
    /// # Errors
    /// [`Error::Mismatch`] naming `symbol` or `interval`.
    pub fn check_feed(&self, symbol: &str, interval_ms: i64) -> Result<()> {
        if interval_ms != self.interval_ms {
            return Err(self.mismatch("interval", &format_interval(self.interval_ms), &format_interval(interval_ms)));
        }
        if normalize_symbol(symbol) != normalize_symbol(&self.symbol) {
            return Err(self.mismatch("symbol", &self.symbol, symbol));
        }
        Ok(())
    }

    /// Checks the observation layout this build produces against the card's: feature
    /// names and count, position features and `obs_dim`, and the action list.
    ///
    /// # Errors
    /// [`Error::Mismatch`] naming the field.
    pub fn check_layout(&self, features: &FeatureConfig, window: usize, actions: &[f64]) -> Result<()> {
        let names: Vec<String> = FEATURE_NAMES.iter().map(|s| (*s).to_string()).collect();
        if names != self.feature_names {
            return Err(self.mismatch("feature_names", &self.feature_names.join(","), &names.join(",")));
        }
        if *features != self.features {
            return Err(self.mismatch("features", &format!("{:?}", self.features), &format!("{features:?}")));
        }
        if window != self.window {
            return Err(self.mismatch("window", &self.window.to_string(), &window.to_string()));
        }
        if POSITION_FEATURES != self.position_features {
            return Err(self.mismatch(
                "position_features",
                &self.position_features.to_string(),
                &POSITION_FEATURES.to_string(),
            ));
        }
        let obs_dim = window * names.len() + POSITION_FEATURES;
        if obs_dim != self.obs_dim {
            return Err(self.mismatch("obs_dim", &self.obs_dim.to_string(), &obs_dim.to_string()));
        }
        if actions.len() != self.actions.len() {
            return Err(self.mismatch(
                "action count",
                &format!("{} {:?}", self.actions.len(), self.actions),
                &format!("{} {actions:?}", actions.len()),
            ));
        }
        if actions != self.actions.as_slice() {
            return Err(self.mismatch("actions", &format!("{:?}", self.actions), &format!("{actions:?}")));
        }
        Ok(())
    }

    /// Checks that `protect` (a daemon's `[protect]` settings, or another model's in a
    /// comparison; `against` says which) are the ones the model was trained with.
    ///
    /// # Errors
    /// [`Error::SettingMismatch`] naming the first differing setting
    /// (`protect.stop_loss`, …), the card's value and `against`'s.
    pub fn check_protect(&self, protect: &ProtectConfig, against: SettingsSource) -> Result<()> {
        match self.protect.differences(protect).first() {
            None => Ok(()),
            Some((field, card, found)) => Err(Error::SettingMismatch {
                model: self.name.clone(),
                field: (*field).to_string(),
                card: card.to_string(),
                against,
                found: found.to_string(),
            }),
        }
    }

    /// The environment settings the model decides under: window, actions, decision
    /// interval, switch margin and reward from the card, the rest defaults (episode
    /// settings only matter in training).
    pub fn env_config(&self) -> EnvConfig {
        EnvConfig {
            window: self.window,
            actions: self.actions.clone(),
            decision_interval: self.decision_interval,
            switch_margin: self.switch_margin,
            reward: self.reward.clone(),
            ..EnvConfig::default()
        }
    }

    /// Market data for this model from `series`: the card's features, window, split
    /// dates and normalization statistics (never refitted), after [`Self::check_series`]
    /// and [`Self::check_layout`] (the observation this build computes must be the one
    /// the model was trained on).
    ///
    /// # Errors
    /// A symbol, interval or layout mismatch; the env's errors (too few bars for a split, ...).
    pub fn market_data(&self, series: BarSeries) -> Result<MarketData> {
        self.check_series(&series)?;
        self.check_layout(&self.features, self.window, &self.actions)?;
        let env = self.env_config();
        let normalization = Some(self.normalization.clone());
        Ok(MarketData::new(series, &self.features, &self.split, &env, self.risk_lookback, normalization)?)
    }

    fn mismatch(&self, field: &str, expected: &str, found: &str) -> Error {
        Error::Mismatch {
            model: self.name.clone(),
            field: field.to_string(),
            expected: expected.to_string(),
            found: found.to_string(),
        }
    }
}

/// Whether `name` names a file directly in a folder: one normal path component, no
/// separator of any platform, not `.` or `..`, no NUL.
fn is_plain_file_name(name: &str) -> bool {
    let mut components = Path::new(name).components();
    let one_normal = matches!(
        (components.next(), components.next()),
        (Some(Component::Normal(first)), None) if first.to_str() == Some(name)
    );
    one_normal && !name.contains(['/', '\\', '\0'])
}

/// Whether a count is 0 (then the card leaves it out).
fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// The serde default of `decision_interval` for format 1 cards.
fn one() -> u32 {
    1
}

/// Symbols compare without case and separators: `BTC-USD`, `btc/usd` and `BTCUSD` are one.
fn normalize_symbol(symbol: &str) -> String {
    symbol.chars().filter(char::is_ascii_alphanumeric).map(|c| c.to_ascii_uppercase()).collect()
}

/// The interval text for `interval_ms` (re-exported for writers of cards).
pub fn interval_name(interval_ms: i64) -> String {
    format_interval(interval_ms)
}

#[cfg(test)]
mod tests {
    use rltrade_env::Bar;
    use rltrade_env::split::SplitBoundary;

    use super::*;

    fn boundary() -> SplitBoundary {
        SplitBoundary { start: 0, end: 2, start_ms: 0, last_ms: 1, start_time: String::new(), last_time: String::new() }
    }

    fn card() -> ModelCard {
        let n = FEATURE_NAMES.len();
        ModelCard {
            format_version: MODEL_CARD_FORMAT,
            name: "btc-s1".into(),
            created_at: "2026-11-21T00:00:00Z".into(),
            onnx: OnnxInfo {
                file: "policy.onnx".into(),
                sha256: "0".repeat(64),
                opset: 17,
                input: INPUT_OBS.into(),
                outputs: vec![OUTPUT_PROBS.into(), OUTPUT_LOGITS.into()],
                hidden: vec![64, 64],
            },
            obs_dim: 32 * n + POSITION_FEATURES,
            window: 32,
            feature_names: FEATURE_NAMES.iter().map(|s| (*s).to_string()).collect(),
            position_features: POSITION_FEATURES,
            actions: vec![0.0, 1.0],
            decision_interval: 1,
            switch_margin: 0.0,
            reward: RewardConfig::default(),
            protect: ProtectConfig::default(),
            risk_lookback: 0,
            symbol: "BTC-USD".into(),
            interval_ms: 3_600_000,
            interval: "1h".into(),
            features: FeatureConfig::default(),
            normalization: Normalization { mean: vec![0.0; n], std: vec![1.0; n], clip: 5.0 },
            data: DataInfo { file: "btc.csv".into(), file_from_card: None, sha256: "0".repeat(64), n_bars: 10 },
            split: SplitConfig::default(),
            splits: SplitBoundaries { gap: 0, train: boundary(), validation: boundary(), test: boundary() },
            training: serde_json::json!({}),
            parity: Parity {
                observations: 1,
                ort_max_abs_error: 0.0,
                tract_max_abs_error: 0.0,
                decisive_observations: 1,
                greedy_agreements: 1,
            },
            versions: Versions {
                rltrade: "0.1.0".into(),
                git_commit: None,
                burn: "0.22.1".into(),
                onnxruntime: "1.31.1".into(),
                tract_onnx: "0.23.9".into(),
            },
            card_sha256: None,
        }
    }

    fn series(symbol: &str, interval_ms: i64) -> BarSeries {
        let bars = (0..5)
            .map(|i| Bar { time_ms: i * interval_ms, open: 1.0, high: 1.0, low: 1.0, close: 1.0, volume: 1.0 })
            .collect();
        BarSeries::from_bars(symbol, bars)
    }

    #[test]
    fn the_layout_this_build_produces_fits_and_each_difference_is_named() {
        let card = card();
        card.check_layout(&FeatureConfig::default(), 32, &[0.0, 1.0]).unwrap();
        let field = |r: Result<()>| match r {
            Err(Error::Mismatch { field, .. }) => field,
            other => panic!("expected a mismatch, got {other:?}"),
        };
        assert_eq!(field(card.check_layout(&FeatureConfig::default(), 16, &[0.0, 1.0])), "window");
        assert_eq!(field(card.check_layout(&FeatureConfig::default(), 32, &[-1.0, 0.0, 1.0])), "action count");
        assert_eq!(field(card.check_layout(&FeatureConfig::default(), 32, &[0.0, 0.5])), "actions");
        let other = FeatureConfig { rsi_period: 7, ..FeatureConfig::default() };
        assert_eq!(field(card.check_layout(&other, 32, &[0.0, 1.0])), "features");
    }

    #[test]
    fn series_must_have_the_interval_and_symbol() {
        let card = card();
        card.check_series(&series("BTCUSD", 3_600_000)).unwrap();
        card.check_series(&series("btc/usd", 3_600_000)).unwrap();
        let err = card.check_series(&series("BTCUSD", 1_800_000)).unwrap_err().to_string();
        assert!(err.contains("interval") && err.contains("1h") && err.contains("30m"), "{err}");
        let err = card.check_series(&series("ETHUSD", 3_600_000)).unwrap_err().to_string();
        assert!(err.contains("symbol") && err.contains("ETHUSD"), "{err}");
    }

    #[test]
    fn an_inconsistent_or_foreign_card_is_refused_naming_the_field() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model_card.json");
        let write = |c: &ModelCard| std::fs::write(&path, c.to_json()).unwrap();
        write(&card());
        assert_eq!(ModelCard { card_sha256: None, ..ModelCard::load(&path).unwrap() }, card());
        write(&ModelCard { obs_dim: 100, ..card() });
        let err = ModelCard::load(&path).unwrap_err().to_string();
        assert!(err.contains("model_card.json") && err.contains("obs_dim: 100"), "{err}");
        write(&ModelCard { format_version: 99, ..card() });
        assert!(ModelCard::load(&path).unwrap_err().to_string().contains("format_version 99"));
        std::fs::write(&path, "{\"name\": 1}").unwrap();
        assert!(ModelCard::load(&path).unwrap_err().to_string().contains("malformed"));
        write(&ModelCard { switch_margin: 1.5, ..card() });
        let err = ModelCard::load(&path).unwrap_err().to_string();
        assert!(err.contains("env.switch_margin"), "{err}");
        write(&ModelCard { protect: ProtectConfig { stop_loss: 1.0, ..ProtectConfig::default() }, ..card() });
        let err = ModelCard::load(&path).unwrap_err().to_string();
        assert!(err.contains("protect.stop_loss"), "{err}");
    }

    #[test]
    fn a_format_1_card_loads_with_the_old_behaviour() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model_card.json");
        let mut json: serde_json::Value = serde_json::from_str(&card().to_json()).unwrap();
        let fields = json.as_object_mut().unwrap();
        for key in ["decision_interval", "switch_margin", "reward", "card_sha256"] {
            fields.remove(key);
        }
        fields.insert("format_version".into(), 1.into());
        std::fs::write(&path, json.to_string()).unwrap();
        let old = ModelCard::load(&path).unwrap();
        assert_eq!((old.decision_interval, old.switch_margin, old.reward.lookback()), (1, 0.0, 0));
        assert_eq!(old.env_config().decision_interval, 1);
        assert!(old.protect.is_off());
    }

    #[test]
    fn a_format_2_card_loads_without_protection_and_protect_mismatches_name_the_setting() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model_card.json");
        let protected = ModelCard { protect: ProtectConfig { stop_loss: 0.05, ..ProtectConfig::default() }, ..card() };
        let mut json: serde_json::Value = serde_json::from_str(&protected.to_json()).unwrap();
        let fields = json.as_object_mut().unwrap();
        fields.remove("protect");
        fields.remove("card_sha256");
        fields.insert("format_version".into(), 2.into());
        std::fs::write(&path, json.to_string()).unwrap();
        let old = ModelCard::load(&path).unwrap();
        assert!(old.protect.is_off());
        assert_eq!(old.card_sha256, None, "cards before format 4 carry no checksum");
        assert!(old.check_protect(&ProtectConfig::default(), SettingsSource::ServeConfig).is_ok());
        let config = ProtectConfig { stop_loss: 0.03, ..ProtectConfig::default() };
        let err = protected.check_protect(&config, SettingsSource::ServeConfig).unwrap_err().to_string();
        assert_eq!(
            err, "model btc-s1: protect.stop_loss: the model card says 0.05 but the serve config says 0.03",
            "names the setting, the card's value and the config's"
        );
        let other = SettingsSource::ModelCard("eth-s2".into());
        let err = protected.check_protect(&ProtectConfig::default(), other).unwrap_err().to_string();
        assert!(err.ends_with("the model card says 0.05 but model eth-s2's card says 0"), "{err}");
    }

    /// Regression (issue 19): the card had no checksum of its own, so an edited card
    /// (actions swapped: the model trades inverted) loaded without complaint.
    #[test]
    fn an_edited_card_is_refused_by_its_checksum() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model_card.json");
        let text = card().to_json();
        std::fs::write(&path, &text).unwrap();
        let loaded = ModelCard::load(&path).unwrap();
        let sealed: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(loaded.card_sha256.as_deref(), sealed["card_sha256"].as_str());
        assert_eq!(loaded.card_sha256, Some(card_checksum(&sealed)), "the checksum is of the content as written");
        // the rule: canonical JSON (sorted keys, no whitespace) without the checksum key
        let tiny = serde_json::json!({"b": [1, {"d": 0.5, "c": "x"}], "a": true, "card_sha256": "ignored"});
        assert_eq!(card_checksum(&tiny), rltrade_env::data::sha256_hex(br#"{"a":true,"b":[1,{"c":"x","d":0.5}]}"#));

        // swapped actions, the checksum left as it was
        let mut json = sealed.clone();
        json["actions"] = serde_json::json!([1.0, 0.0]);
        std::fs::write(&path, serde_json::to_string_pretty(&json).unwrap()).unwrap();
        let err = ModelCard::load(&path).unwrap_err().to_string();
        assert!(
            err.contains("model_card.json") && err.contains("card_sha256") && err.contains("edited after export"),
            "{err}"
        );
        // the checksum removed from a format 4 card
        json.as_object_mut().unwrap().remove("card_sha256");
        std::fs::write(&path, json.to_string()).unwrap();
        let err = ModelCard::load(&path).unwrap_err().to_string();
        assert!(err.contains("card_sha256: missing"), "{err}");
        // whitespace and key order do not count
        let reordered = serde_json::to_string(&sealed).unwrap();
        std::fs::write(&path, reordered).unwrap();
        assert_eq!(ModelCard::load(&path).unwrap(), loaded);
    }

    /// Regression (issue 19): `onnx.file` could be absolute or hold `../`, so loading
    /// read (and echoed the SHA-256 of) a file outside the export folder.
    #[test]
    fn onnx_file_must_be_a_plain_name_in_the_cards_folder() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model_card.json");
        for file in ["/etc/hostname", "../policy.onnx", "sub/policy.onnx", "..", ".", "", "./policy.onnx", "a\\b"] {
            let mut bad = card();
            bad.onnx.file = file.into();
            std::fs::write(&path, bad.to_json()).unwrap();
            let err = ModelCard::load(&path).unwrap_err().to_string();
            assert!(err.contains("onnx.file") && err.contains("plain file name"), "{file:?}: {err}");
        }
        let mut ok = card();
        ok.onnx.file = "model.v2.onnx".into();
        std::fs::write(&path, ok.to_json()).unwrap();
        assert!(ModelCard::load(&path).is_ok());
    }
}
