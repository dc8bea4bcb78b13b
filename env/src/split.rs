//! Train / validation / test splits by time, with warm-up gaps between them.

use std::ops::Range;

use serde::{Deserialize, Serialize};

use crate::bar::{Bar, format_time_ms};
use crate::config::SplitConfig;
use crate::error::{Error, Result};

/// Which part of the data a run uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum SplitName {
    /// Every bar.
    #[default]
    All,
    /// The training split.
    Train,
    /// The validation split (model selection, baseline tuning).
    Validation,
    /// The held-out test split.
    Test,
}

impl SplitName {
    /// `all`, `train`, `validation` or `test`.
    pub fn as_str(self) -> &'static str {
        match self {
            SplitName::All => "all",
            SplitName::Train => "train",
            SplitName::Validation => "validation",
            SplitName::Test => "test",
        }
    }
}

impl std::str::FromStr for SplitName {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "all" => Ok(SplitName::All),
            "train" => Ok(SplitName::Train),
            "validation" => Ok(SplitName::Validation),
            "test" => Ok(SplitName::Test),
            other => Err(format!("unknown split `{other}`: expected all, train, validation or test")),
        }
    }
}

impl std::fmt::Display for SplitName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Bar index ranges (start inclusive, end exclusive) of the three splits.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Splits {
    /// Bars in train.
    pub train: Range<usize>,
    /// Bars in validation (after the gap).
    pub validation: Range<usize>,
    /// Bars in test (after the gap).
    pub test: Range<usize>,
    /// Bars cut before validation and before test.
    pub gap: usize,
    /// Total bars.
    pub n_bars: usize,
}

/// A split's boundaries as times, for provenance (model cards, reports).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SplitBoundary {
    /// First bar index.
    pub start: usize,
    /// One past the last bar index.
    pub end: usize,
    /// Open time of the first bar, ms since epoch UTC.
    pub start_ms: i64,
    /// Open time of the last bar, ms since epoch UTC.
    pub last_ms: i64,
    /// `start_ms` as ISO 8601 UTC.
    pub start_time: String,
    /// `last_ms` as ISO 8601 UTC.
    pub last_time: String,
}

impl Splits {
    /// Splits `bars` by `config`, cutting `gap` bars before validation and before test.
    ///
    /// # Errors
    /// [`Error::Config`] when the fractions or dates are invalid or a split would be empty.
    pub fn new(bars: &[Bar], config: &SplitConfig, gap: usize) -> Result<Self> {
        let n = bars.len();
        let bad = |field: &str, message: String| Error::Config { field: format!("split.{field}"), message };
        let date_index = |field: &str, text: &Option<String>| -> Result<Option<usize>> {
            match text {
                None => Ok(None),
                Some(t) => {
                    let ms = parse_date(t).map_err(|m| bad(field, m))?;
                    Ok(Some(bars.partition_point(|x| x.time_ms < ms)))
                }
            }
        };
        let train_start = date_index("train_start", &config.train_start)?;
        let test_end = date_index("test_end", &config.test_end)?;
        if (train_start.is_some() || test_end.is_some()) && config.train_end.is_none() {
            let field = if train_start.is_some() { "train_start" } else { "test_end" };
            return Err(bad(field, "is only read with the dates train_end and validation_end set".into()));
        }
        let (train_end, validation_end) = match (&config.train_end, &config.validation_end) {
            (Some(a), Some(b)) => {
                let a_ms = parse_date(a).map_err(|m| bad("train_end", m))?;
                let b_ms = parse_date(b).map_err(|m| bad("validation_end", m))?;
                if a_ms >= b_ms {
                    return Err(bad("validation_end", format!("{b} must be after train_end {a}")));
                }
                (bars.partition_point(|x| x.time_ms < a_ms), bars.partition_point(|x| x.time_ms < b_ms))
            }
            (None, None) => {
                let (t, v) = (config.train_fraction, config.validation_fraction);
                if !(t > 0.0 && v > 0.0 && t + v < 1.0) {
                    return Err(bad(
                        "train_fraction",
                        format!("train_fraction {t} and validation_fraction {v} must be > 0 with a sum < 1"),
                    ));
                }
                ((t * n as f64).floor() as usize, ((t + v) * n as f64).floor() as usize)
            }
            _ => return Err(bad("train_end", "set both train_end and validation_end, or neither".into())),
        };
        let train_start = train_start.unwrap_or(0);
        let test_end = test_end.unwrap_or(n);
        if train_start >= train_end {
            return Err(bad("train_start", "must be before train_end".into()));
        }
        if test_end <= validation_end {
            return Err(bad("test_end", "must be after validation_end".into()));
        }
        let splits = Self {
            train: train_start..train_end,
            validation: (train_end + gap).min(validation_end)..validation_end,
            test: (validation_end + gap).min(test_end)..test_end,
            gap,
            n_bars: n,
        };
        for (name, range) in [("train", &splits.train), ("validation", &splits.validation), ("test", &splits.test)] {
            if range.len() < 2 {
                return Err(bad(
                    "train_fraction",
                    format!("the {name} split would hold {} bars (of {n}, gap {gap}): give it more data", range.len()),
                ));
            }
        }
        Ok(splits)
    }

    /// The bar range of a split (`All` is every bar).
    pub fn range(&self, name: SplitName) -> Range<usize> {
        match name {
            SplitName::All => 0..self.n_bars,
            SplitName::Train => self.train.clone(),
            SplitName::Validation => self.validation.clone(),
            SplitName::Test => self.test.clone(),
        }
    }

    /// A split's boundaries with times.
    pub fn boundary(&self, name: SplitName, bars: &[Bar]) -> SplitBoundary {
        let r = self.range(name);
        let (start_ms, last_ms) = (bars[r.start].time_ms, bars[r.end - 1].time_ms);
        SplitBoundary {
            start: r.start,
            end: r.end,
            start_ms,
            last_ms,
            start_time: format_time_ms(start_ms),
            last_time: format_time_ms(last_ms),
        }
    }
}

/// Parses `YYYY-MM-DD` (midnight UTC) or RFC 3339 into ms since epoch.
///
/// # Errors
/// A message saying which formats are accepted.
pub fn parse_date(text: &str) -> std::result::Result<i64, String> {
    let text = text.trim();
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(t.timestamp_millis());
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        if let Some(t) = d.and_hms_opt(0, 0, 0) {
            return Ok(t.and_utc().timestamp_millis());
        }
    }
    Err(format!("`{text}` is not a date: use YYYY-MM-DD or RFC 3339 (UTC)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bars(n: usize) -> Vec<Bar> {
        (0..n)
            .map(|i| Bar { time_ms: i as i64 * 86_400_000, open: 1.0, high: 1.0, low: 1.0, close: 1.0, volume: 1.0 })
            .collect()
    }

    #[test]
    fn fractions_with_gaps() {
        let s = Splits::new(&bars(1_000), &SplitConfig::default(), 96).unwrap();
        assert_eq!((s.train.clone(), s.validation.clone(), s.test.clone()), (0..700, 796..850, 946..1_000));
    }

    #[test]
    fn dates_with_gaps() {
        let config = SplitConfig {
            train_end: Some("1970-01-11".into()),
            validation_end: Some("1970-01-21T00:00:00Z".into()),
            ..SplitConfig::default()
        };
        let s = Splits::new(&bars(40), &config, 3).unwrap();
        assert_eq!((s.train, s.validation, s.test), (0..10, 13..20, 23..40));
    }

    #[test]
    fn a_walk_forward_fold_starts_training_late_and_ends_test_early() {
        let config = SplitConfig {
            train_start: Some("1970-01-03".into()),
            train_end: Some("1970-01-11".into()),
            validation_end: Some("1970-01-21".into()),
            test_end: Some("1970-01-31".into()),
            ..SplitConfig::default()
        };
        let s = Splits::new(&bars(40), &config, 3).unwrap();
        assert_eq!((s.train, s.validation, s.test, s.n_bars), (2..10, 13..20, 23..30, 40));
        let no_dates = SplitConfig { test_end: Some("1970-01-31".into()), ..SplitConfig::default() };
        let err = Splits::new(&bars(40), &no_dates, 3).unwrap_err().to_string();
        assert!(err.contains("split.test_end"), "{err}");
    }

    #[test]
    fn bad_settings_name_the_field() {
        let cases = [
            (
                SplitConfig { train_fraction: 0.9, validation_fraction: 0.2, ..SplitConfig::default() },
                "split.train_fraction",
            ),
            (SplitConfig { train_end: Some("2020-01-01".into()), ..SplitConfig::default() }, "split.train_end"),
            (
                SplitConfig {
                    train_end: Some("yesterday".into()),
                    validation_end: Some("2020-01-01".into()),
                    ..SplitConfig::default()
                },
                "split.train_end",
            ),
        ];
        for (config, field) in cases {
            let err = Splits::new(&bars(1_000), &config, 10).unwrap_err().to_string();
            assert!(err.contains(field), "{err}");
        }
        let err = Splits::new(&bars(100), &SplitConfig::default(), 96).unwrap_err().to_string();
        assert!(err.contains("validation split would hold 0 bars"), "{err}");
    }
}
