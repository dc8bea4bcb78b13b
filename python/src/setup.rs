//! A run configuration from Python: the TOML file (or the defaults), a data file, and
//! `overrides` (`{"env.window": 16}`), each checked by the config crate's own schema
//! so that an unknown key or a wrong type names the key.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use rltrade_config::Config;
use rltrade_env::{MarketData, SplitName, TradingSetup};

/// A Python value as TOML (bool, int, float, str, and lists of them).
/// Python values accepted: bool (and numpy's), int (and numpy integers: anything with
/// `__index__`), float (and numpy floats), str, and lists or tuples of them.
fn toml_value(key: &str, value: &Bound<'_, PyAny>) -> PyResult<toml::Value> {
    let bad = |what: String| PyValueError::new_err(format!("overrides[`{key}`]: {what}"));
    let type_name = value.get_type().name().map(|n| n.to_string()).unwrap_or_default();
    if value.is_instance_of::<PyBool>() || type_name == "bool_" {
        return Ok(toml::Value::Boolean(value.is_truthy()?));
    }
    if value.is_instance_of::<PyInt>() || (value.hasattr("__index__")? && !value.is_instance_of::<PyFloat>()) {
        let index = value.call_method0("__index__")?;
        return index
            .extract::<i64>()
            .map(toml::Value::Integer)
            .map_err(|_| bad(format!("{index} does not fit a 64-bit integer")));
    }
    if value.is_instance_of::<PyFloat>() || value.hasattr("__float__")? && !value.is_instance_of::<PyString>() {
        return Ok(toml::Value::Float(value.call_method0("__float__")?.extract()?));
    }
    if value.is_instance_of::<PyString>() {
        return Ok(toml::Value::String(value.extract()?));
    }
    if value.is_instance_of::<PyList>() || value.is_instance_of::<PyTuple>() {
        let items: Vec<Bound<'_, PyAny>> = value.try_iter()?.collect::<PyResult<_>>()?;
        return items.iter().map(|item| toml_value(key, item)).collect::<PyResult<Vec<_>>>().map(toml::Value::Array);
    }
    Err(bad(format!("{value} ({type_name}) is not a bool, int, float, str or list")))
}

/// Sets the dotted `key` (`env.reward.kind`) in `table`, creating tables on the way.
fn set_dotted(table: &mut toml::Table, key: &str, value: toml::Value) -> Result<(), String> {
    let mut parts: Vec<&str> = key.split('.').collect();
    let Some(last) = parts.pop().filter(|p| !p.is_empty()) else { return Err("an empty key".into()) };
    let mut at = table;
    for (i, part) in parts.iter().enumerate() {
        if part.is_empty() {
            return Err("an empty part".into());
        }
        let entry = at.entry((*part).to_string()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
        at = match entry {
            toml::Value::Table(t) => t,
            _ => return Err(format!("`{}` is not a table", parts[..=i].join("."))),
        };
    }
    at.insert(last.to_string(), value);
    Ok(())
}

/// The config of `config` (a TOML file; `None`: the defaults) with `data` as
/// `data.path` and `overrides` applied, validated.
///
/// # Errors
/// `ValueError`: an unreadable or invalid file (its path, line and key), an override
/// whose key is unknown or whose value has the wrong type (naming the key), a setting
/// out of range (naming it).
pub fn load_config(
    config: Option<&Path>,
    data: Option<&Path>,
    overrides: Option<&Bound<'_, PyDict>>,
) -> PyResult<Config> {
    let text = match config {
        Some(path) => std::fs::read_to_string(path)
            .map_err(|e| PyValueError::new_err(format!("cannot read config {}: {e}", path.display())))?,
        None => String::new(),
    };
    // the file alone first, parsed from its text: its errors name the file, line and key
    let name = config.map_or_else(|| "(defaults)".to_string(), |p| p.display().to_string());
    toml::from_str::<Config>(&text).map_err(|e| PyValueError::new_err(format!("config {name}: {e}")))?;
    let mut table: toml::Table = text.parse().map_err(|e| PyValueError::new_err(format!("config {name}: {e}")))?;
    if let Some(overrides) = overrides {
        for (key, value) in overrides.iter() {
            let key: String =
                key.extract().map_err(|_| PyValueError::new_err(format!("overrides: key {key} is not a str")))?;
            let value = toml_value(&key, &value)?;
            set_dotted(&mut table, &key, value)
                .map_err(|e| PyValueError::new_err(format!("overrides[`{key}`]: {e}")))?;
            // each override checked on its own: the error names the key that broke it
            from_table(&table).map_err(|e| PyValueError::new_err(format!("overrides[`{key}`]: {e}")))?;
        }
    }
    let mut config = from_table(&table).map_err(|e| PyValueError::new_err(e.to_string()))?;
    if let Some(data) = data {
        config.data.path = data.to_path_buf();
    }
    config.validate().map_err(|e| PyValueError::new_err(format!("{e:#}")))?;
    Ok(config)
}

/// `table` as a [`Config`] (serde, `deny_unknown_fields`: an unknown key is an error).
fn from_table(table: &toml::Table) -> Result<Config, toml::de::Error> {
    use serde::Deserialize;
    Config::deserialize(toml::Value::Table(table.clone()))
}

/// The split named `split` (`all`, `train`, `validation`, `test`).
///
/// # Errors
/// `ValueError` naming the allowed names.
pub fn parse_split(split: &str) -> PyResult<SplitName> {
    split.parse().map_err(|e: String| PyValueError::new_err(format!("split: {e}")))
}

/// The market of `config`: its bars loaded (errors name the file and line), features,
/// normalization and splits.
///
/// # Errors
/// `ValueError` with the data's error.
pub fn trading_setup(config: &Config) -> PyResult<TradingSetup> {
    let series = config.load_series().map_err(|e| PyValueError::new_err(format!("{e:#}")))?;
    let data = MarketData::new(series, &config.features, &config.split, &config.env, config.risk.lookback_bars(), None)
        .map_err(|e| PyValueError::new_err(e.to_string()))?;
    Ok(TradingSetup {
        data: Arc::new(data),
        env: config.env.clone(),
        execution: config.execution.clone(),
        risk: config.risk.clone(),
        protect: config.protect,
    })
}

/// A path argument from Python (`str` or `os.PathLike`).
pub fn path_arg(value: Option<&Bound<'_, PyAny>>) -> PyResult<Option<PathBuf>> {
    value.filter(|v| !v.is_none()).map(|v| v.extract::<PathBuf>()).transpose()
}
