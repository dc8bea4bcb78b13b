//! A run's hyperparameters for TensorBoard's HParams plugin: every leaf of the
//! resolved configuration, by its dotted key, plus the seed.

use std::collections::BTreeMap;

use super::proto::{HParamType, ProtoValue, ProtoValueKind};
use crate::error::{Error, Result};

/// One hyperparameter value (the HParams plugin knows numbers, strings and booleans).
#[derive(Clone, Debug, PartialEq)]
pub enum HParam {
    /// An integer or float setting.
    Number(f64),
    /// A string setting; arrays are written as their TOML text (`[64, 64]`).
    Text(String),
    /// A boolean setting.
    Bool(bool),
}

impl HParam {
    /// The plugin's type of the column.
    pub(super) fn data_type(&self) -> HParamType {
        match self {
            Self::Number(_) => HParamType::Float64,
            Self::Text(_) => HParamType::String,
            Self::Bool(_) => HParamType::Bool,
        }
    }

    /// As `google.protobuf.Value`.
    pub(super) fn to_proto(&self) -> ProtoValue {
        let kind = match self {
            Self::Number(x) => ProtoValueKind::Number(*x),
            Self::Text(s) => ProtoValueKind::String(s.clone()),
            Self::Bool(b) => ProtoValueKind::Bool(*b),
        };
        ProtoValue { kind: Some(kind) }
    }
}

/// Hyperparameters by dotted key (`ppo.learning_rate`, `env.fee_bps`, `seed`), sorted.
pub type HParams = BTreeMap<String, HParam>;

/// Every leaf of `config_toml` (the run's resolved `config.toml`) under its dotted key,
/// and `seed`. Tables nest with `.`; arrays and dates become their TOML text.
///
/// # Errors
/// [`Error::Config`] when `config_toml` is not TOML (it is the run's own resolved
/// configuration, so this means a defect, not bad input).
pub fn hparams_from_config(config_toml: &str, seed: u64) -> Result<HParams> {
    let table: toml::Table = config_toml
        .parse()
        .map_err(|e| Error::Config { field: "config.toml".into(), message: format!("not TOML: {e}") })?;
    let mut out = HParams::new();
    flatten("", &table, &mut out);
    out.insert("seed".into(), HParam::Number(seed as f64));
    Ok(out)
}

fn flatten(prefix: &str, table: &toml::Table, out: &mut HParams) {
    for (key, value) in table {
        let name = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
        let leaf = match value {
            toml::Value::Table(inner) => {
                flatten(&name, inner, out);
                continue;
            }
            toml::Value::Integer(i) => HParam::Number(*i as f64),
            toml::Value::Float(x) => HParam::Number(*x),
            toml::Value::Boolean(b) => HParam::Bool(*b),
            toml::Value::String(s) => HParam::Text(s.clone()),
            other => HParam::Text(other.to_string()),
        };
        out.insert(name, leaf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_leaf_is_a_dotted_key_and_arrays_are_text() {
        let config = "[ppo]\nlearning_rate = 0.0003\nhidden = [64, 64]\nnorm_adv = true\n[env]\nreward = \"log_return\"\n[env.risk]\nmax_var_95 = 0\n";
        let h = hparams_from_config(config, 7).unwrap();
        assert_eq!(h["ppo.learning_rate"], HParam::Number(0.0003));
        assert_eq!(h["ppo.hidden"], HParam::Text("[64, 64]".into()));
        assert_eq!(h["ppo.norm_adv"], HParam::Bool(true));
        assert_eq!(h["env.reward"], HParam::Text("log_return".into()));
        assert_eq!(h["env.risk.max_var_95"], HParam::Number(0.0));
        assert_eq!(h["seed"], HParam::Number(7.0));
        assert_eq!(h.len(), 6);
        assert!(matches!(hparams_from_config("not toml [", 1), Err(Error::Config { .. })));
    }
}
