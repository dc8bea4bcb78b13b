//! Baseline strategies: buy-and-hold and the classic moving-average crossover.

use crate::bar::Bar;
use crate::error::{Error, Result};
use crate::indicators::{MAX_PERIOD, Sma};
use crate::policy::{DecisionContext, Policy, Warmup, action_index};

/// The periods of an MA crossover as written in configs and on the command line:
/// `ma:FAST:SLOW` (bars, 0 < FAST < SLOW <= [`MAX_PERIOD`]). [`MaCrossover::name`] prints it; serde reads
/// and writes it as that text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MaSpec {
    /// Fast SMA period, bars.
    pub fast: usize,
    /// Slow SMA period, bars.
    pub slow: usize,
}

impl std::str::FromStr for MaSpec {
    type Err = String;

    fn from_str(text: &str) -> std::result::Result<Self, String> {
        let bad = || format!("`{text}`: expected ma:FAST:SLOW (bars), e.g. ma:50:200");
        let (fast, slow) = text.strip_prefix("ma:").and_then(|rest| rest.split_once(':')).ok_or_else(bad)?;
        let (fast, slow): (usize, usize) = (fast.parse().map_err(|_| bad())?, slow.parse().map_err(|_| bad())?);
        if fast == 0 || fast >= slow {
            return Err(format!("`{text}`: need 0 < FAST < SLOW"));
        }
        if slow > MAX_PERIOD {
            return Err(format!("`{text}`: SLOW must be at most {MAX_PERIOD} bars"));
        }
        Ok(Self { fast, slow })
    }
}

impl std::fmt::Display for MaSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ma:{}:{}", self.fast, self.slow)
    }
}

impl serde::Serialize for MaSpec {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for MaSpec {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Buys all-in at the first decision (filled at the next open) and holds to the end.
#[derive(Clone, Debug)]
pub struct BuyAndHold {
    long: usize,
}

impl BuyAndHold {
    /// A buy-and-hold policy for `actions`.
    ///
    /// # Errors
    /// [`Error::Config`] when `actions` holds no 1.0 target.
    pub fn new(actions: &[f64]) -> Result<Self> {
        let long = action_index(actions, 1.0).ok_or_else(|| Error::Config {
            field: "env.actions".into(),
            message: format!("buy-and-hold needs a 1.0 target in {actions:?}"),
        })?;
        Ok(Self { long })
    }
}

impl Policy for BuyAndHold {
    fn name(&self) -> String {
        "buy-and-hold".into()
    }

    fn warmup(&self) -> Warmup {
        Warmup::Bars(0)
    }

    fn act(&mut self, _obs: &[f32], _context: &DecisionContext<'_>) -> usize {
        self.long
    }

    fn reset(&mut self) {}
}

/// The classic moving-average crossover.
///
/// SMA = plain mean of the last n closes ([`Sma`]). A cross up at bar t is
/// `fast[t−1] < slow[t−1]` and `fast[t] > slow[t]` (strict: touching is no cross); a
/// cross down is the mirror image. Both are decided at t's close and filled at t+1's
/// open. No position before the first cross the strategy can act on: crosses during
/// the warm-up before a backtest window are forgotten ([`Policy::begin_window`]). Long-only: a cross up goes all-in long, a
/// cross down goes flat; with shorts: stop-and-reverse between +1 and −1. The first
/// decision is possible at 0-based index `slow` (both SMAs defined at t−1 and t).
#[derive(Clone, Debug)]
pub struct MaCrossover {
    fast_period: usize,
    slow_period: usize,
    fast: Sma,
    slow: Sma,
    previous: Option<(f64, f64)>,
    desired: usize,
    flat: usize,
    long: usize,
    down: usize,
    allow_short: bool,
}

impl MaCrossover {
    /// A crossover of SMA(`fast`) over SMA(`slow`) choosing among `actions`
    /// (needs 0.0 and 1.0, and −1.0 with `allow_short`).
    ///
    /// # Errors
    /// [`Error::Config`] when `fast >= slow`, either is 0, `slow` is above
    /// [`MAX_PERIOD`], or a needed target is missing.
    pub fn new(fast: usize, slow: usize, actions: &[f64], allow_short: bool) -> Result<Self> {
        if fast == 0 || fast >= slow {
            return Err(Error::Config {
                field: "backtest.fast".into(),
                message: format!("need 0 < fast < slow, found fast {fast}, slow {slow}"),
            });
        }
        if slow > MAX_PERIOD {
            return Err(Error::Config {
                field: "backtest.slow".into(),
                message: format!("must be at most {MAX_PERIOD} bars, found {slow}"),
            });
        }
        let find = |target: f64| {
            action_index(actions, target).ok_or_else(|| Error::Config {
                field: "env.actions".into(),
                message: format!("the MA crossover needs a {target} target in {actions:?}"),
            })
        };
        let flat = find(0.0)?;
        let long = find(1.0)?;
        let down = if allow_short { find(-1.0)? } else { flat };
        Ok(Self {
            fast_period: fast,
            slow_period: slow,
            fast: Sma::try_new(fast)?,
            slow: Sma::try_new(slow)?,
            previous: None,
            desired: flat,
            flat,
            long,
            down,
            allow_short,
        })
    }

    /// The fast and slow periods.
    pub fn periods(&self) -> (usize, usize) {
        (self.fast_period, self.slow_period)
    }
}

impl Policy for MaCrossover {
    fn name(&self) -> String {
        let suffix = if self.allow_short { ":short" } else { "" };
        format!("{}{suffix}", MaSpec { fast: self.fast_period, slow: self.slow_period })
    }

    fn warmup(&self) -> Warmup {
        Warmup::Bars(self.slow_period)
    }

    fn on_bar(&mut self, bar: &Bar) {
        let (fast, slow) = (self.fast.update(bar.close), self.slow.update(bar.close));
        let (Some(fast), Some(slow)) = (fast, slow) else { return };
        if let Some((prev_fast, prev_slow)) = self.previous {
            if prev_fast < prev_slow && fast > slow {
                self.desired = self.long;
            } else if prev_fast > prev_slow && fast < slow {
                self.desired = self.down;
            }
        }
        self.previous = Some((fast, slow));
    }

    fn begin_window(&mut self) {
        // crosses during warm-up are history, not signals of this window
        self.desired = self.flat;
    }

    fn act(&mut self, _obs: &[f32], _context: &DecisionContext<'_>) -> usize {
        self.desired
    }

    fn reset(&mut self) {
        self.fast.reset();
        self.slow.reset();
        self.previous = None;
        self.desired = self.flat;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bar(close: f64) -> Bar {
        Bar { time_ms: 0, open: close, high: close, low: close, close, volume: 1.0 }
    }

    /// Feeds closes and returns the desired target after each bar.
    fn targets(policy: &mut MaCrossover, closes: &[f64], actions: &[f64]) -> Vec<f64> {
        closes
            .iter()
            .map(|&c| {
                let b = bar(c);
                policy.on_bar(&b);
                let ctx = DecisionContext { bar: &b, index: 0, current_target: 0.0, requested_target: 0.0, actions };
                actions[policy.act(&[], &ctx)]
            })
            .collect()
    }

    #[test]
    fn crosses_are_strict_and_touching_is_no_cross() {
        let actions = [0.0, 1.0];
        // fast = SMA(1) = close, slow = SMA(2)
        let table: [(&str, &[f64], &[f64]); 4] = [
            ("cross up then down", &[5.0, 4.0, 6.0, 3.0], &[0.0, 0.0, 1.0, 0.0]),
            ("no position before the first cross", &[5.0, 6.0, 7.0], &[0.0, 0.0, 0.0]),
            // at bar 2 fast == slow (touch); at bar 3 it goes above: prev fast is not < prev slow
            ("touch is no cross", &[4.0, 2.0, 2.0, 3.0], &[0.0, 0.0, 0.0, 0.0]),
            ("equal then above after a below", &[4.0, 2.0, 2.0, 1.0, 3.0], &[0.0, 0.0, 0.0, 0.0, 1.0]),
        ];
        for (name, closes, expected) in table {
            let mut p = MaCrossover::new(1, 2, &actions, false).unwrap();
            assert_eq!(targets(&mut p, closes, &actions), expected, "{name}");
        }
    }

    #[test]
    fn stop_and_reverse_with_shorts() {
        let actions = [-1.0, 0.0, 1.0];
        let mut p = MaCrossover::new(1, 2, &actions, true).unwrap();
        assert_eq!(targets(&mut p, &[5.0, 4.0, 6.0, 3.0, 5.0], &actions), [0.0, 0.0, 1.0, -1.0, 1.0]);
        assert_eq!(p.name(), "ma:1:2:short");
    }

    #[test]
    fn bad_settings_are_refused() {
        assert!(MaCrossover::new(5, 5, &[0.0, 1.0], false).unwrap_err().to_string().contains("fast < slow"));
        assert!(MaCrossover::new(1, 2, &[0.0, 1.0], true).unwrap_err().to_string().contains("-1 target"));
        assert!(BuyAndHold::new(&[0.0, 0.5]).is_err());
        assert_eq!(MaCrossover::new(50, 200, &[0.0, 1.0], false).unwrap().warmup(), Warmup::Bars(200));
        // a slow period that would allocate without bound names the key, not a panic
        let err = MaCrossover::new(1, usize::MAX, &[0.0, 1.0], false).unwrap_err().to_string();
        assert!(err.contains("backtest.slow") && err.contains("1000000"), "{err}");
        assert!(format!("ma:1:{}", u64::MAX).parse::<MaSpec>().unwrap_err().contains("at most 1000000"));
    }

    #[test]
    fn ma_specs_serialize_as_their_text() {
        let spec = MaSpec { fast: 5, slow: 50 };
        assert_eq!(serde_json::to_value(spec).unwrap(), "ma:5:50");
        assert_eq!(serde_json::from_str::<MaSpec>("\"ma:5:50\"").unwrap(), spec);
        assert!(serde_json::from_str::<MaSpec>("\"ma:50:5\"").unwrap_err().to_string().contains("FAST < SLOW"));
    }
}
