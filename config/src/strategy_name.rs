//! [`StrategyName`]: what the journal, the HTTP API and the metrics call a strategy.
//!
//! A name is the strategy's identity across restarts: every journal row of a strategy
//! is keyed by it, and a model reload keeps it. It is given in a `[[serve.strategies]]`
//! table, or derived: a model's run name (its card's `name`), an MA crossover's
//! `ma:FAST:SLOW`.

use rltrade_env::baselines::MaSpec;
use serde::{Deserialize, Serialize};

/// The longest name, characters.
pub const MAX_NAME_LEN: usize = 64;

/// A strategy's name: 1 to [`MAX_NAME_LEN`] ASCII letters, digits, `_`, `-`, `.` or `:`
/// (so `ma:50:200` and a run's folder name such as `btc_1h_ppo-s1` are names). Safe in
/// URLs, JSON, Prometheus labels and log lines without quoting.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct StrategyName(String);

/// Why a text is not a [`StrategyName`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InvalidName {
    /// The empty text.
    #[error("a strategy name cannot be empty")]
    Empty,
    /// More than [`MAX_NAME_LEN`] characters.
    #[error("`{name}` has {len} characters; a strategy name has at most {MAX_NAME_LEN}")]
    TooLong {
        /// The text.
        name: String,
        /// Its length, characters.
        len: usize,
    },
    /// A character outside the set.
    #[error("`{name}` contains {found:?}; a strategy name has only ASCII letters, digits, `_`, `-`, `.` and `:`")]
    BadCharacter {
        /// The text.
        name: String,
        /// The first character outside the set.
        found: char,
    },
}

impl StrategyName {
    /// Checks `name`.
    ///
    /// # Errors
    /// [`InvalidName`]: empty, longer than [`MAX_NAME_LEN`], or a character other than
    /// ASCII letters, digits, `_`, `-`, `.` and `:`.
    pub fn new(name: impl Into<String>) -> Result<Self, InvalidName> {
        let name = name.into();
        if name.is_empty() {
            return Err(InvalidName::Empty);
        }
        if let Some(found) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':'))) {
            return Err(InvalidName::BadCharacter { name, found });
        }
        let len = name.chars().count();
        if len > MAX_NAME_LEN {
            return Err(InvalidName::TooLong { name, len });
        }
        Ok(Self(name))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for StrategyName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for StrategyName {
    type Err = InvalidName;
    fn from_str(text: &str) -> Result<Self, InvalidName> {
        Self::new(text)
    }
}

impl TryFrom<String> for StrategyName {
    type Error = InvalidName;
    fn try_from(text: String) -> Result<Self, InvalidName> {
        Self::new(text)
    }
}

impl From<StrategyName> for String {
    fn from(name: StrategyName) -> Self {
        name.0
    }
}

/// An MA crossover's default name, `ma:FAST:SLOW` (digits and colons, at most 44
/// characters: always a name).
impl From<MaSpec> for StrategyName {
    fn from(spec: MaSpec) -> Self {
        Self(spec.to_string())
    }
}

impl AsRef<str> for StrategyName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_in_and_out_of_the_set() {
        for good in ["ma:50:200", "btc_1h_ppo-s1", "fold-6-s1", "A.b", &"x".repeat(MAX_NAME_LEN)] {
            assert_eq!(StrategyName::new(good).unwrap().as_str(), good);
        }
        let cases: [(&str, InvalidName); 5] = [
            ("", InvalidName::Empty),
            ("a b", InvalidName::BadCharacter { name: "a b".into(), found: ' ' }),
            ("a/b", InvalidName::BadCharacter { name: "a/b".into(), found: '/' }),
            ("é", InvalidName::BadCharacter { name: "é".into(), found: 'é' }),
            (&"y".repeat(MAX_NAME_LEN + 1), InvalidName::TooLong { name: "y".repeat(65), len: 65 }),
        ];
        for (text, expected) in cases {
            assert_eq!(StrategyName::new(text).unwrap_err(), expected, "{text:?}");
        }
    }

    #[test]
    fn serde_checks_the_name() {
        let name: StrategyName = serde_json::from_str("\"fast\"").unwrap();
        assert_eq!(serde_json::to_string(&name).unwrap(), "\"fast\"");
        let err = serde_json::from_str::<StrategyName>("\"no spaces\"").unwrap_err().to_string();
        assert!(err.contains("`no spaces` contains ' '"), "{err}");
    }
}
