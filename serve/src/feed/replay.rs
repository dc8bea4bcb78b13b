//! The replay feed: a CSV in the data format, split into warm-up bars and the traded
//! window exactly as the backtest does it ([`rltrade_env::backtest::evaluation_window`]).

use std::sync::Arc;

use rltrade_env::backtest::{EvaluationWindow, evaluation_window};
use rltrade_env::{Bar, MarketData, SplitName, Warmup};

use crate::error::Result;

/// A replay: the bars, and which of them are warm-up, traded, and decided at.
#[derive(Clone, Debug)]
pub struct ReplayPlan {
    /// Every bar of the file.
    pub bars: Arc<Vec<Bar>>,
    /// The backtest's window over them.
    pub window: EvaluationWindow,
}

/// What to do with one bar of a replay.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplayStep {
    /// Features and indicators only.
    Warmup,
    /// Traded; `decide` is false only at the window's last bar (marked, not decided
    /// at, as in the backtest).
    Traded {
        /// Decide at this close.
        decide: bool,
    },
    /// After the window: not fed.
    After,
}

impl ReplayPlan {
    /// The plan for `split` of `data` with strategies of `warmups` (name, warm-up).
    ///
    /// # Errors
    /// A split too early for a strategy's warm-up, or too short to trade.
    pub fn new(data: &MarketData, split: SplitName, warmups: &[(String, Warmup)]) -> Result<Self> {
        let window = evaluation_window(data, split, warmups)?;
        Ok(Self { bars: Arc::new(data.series.bars.clone()), window })
    }

    /// Index of the first traded bar: the close before the window, where the backtest
    /// first decides.
    pub fn decision_start(&self) -> usize {
        self.window.start.saturating_sub(1)
    }

    /// What bar `index` is.
    pub fn step(&self, index: usize) -> ReplayStep {
        if index < self.decision_start() {
            ReplayStep::Warmup
        } else if index <= self.window.end {
            ReplayStep::Traded { decide: index < self.window.end }
        } else {
            ReplayStep::After
        }
    }

    /// Checks a restart's resume point: the journal's last bar `last_ms` must be a bar
    /// of this replay. A bar after the file's last one (a bar from the future) would
    /// make the replay end at once, trading nothing.
    ///
    /// # Errors
    /// A message naming the bar's time and the replay's last bar.
    pub fn check_resume(&self, last_ms: i64) -> std::result::Result<(), String> {
        use rltrade_env::bar::format_time_ms;
        if self.bars.binary_search_by_key(&last_ms, |b| b.time_ms).is_ok() {
            return Ok(());
        }
        let last_of_file = self.bars.last().map_or(i64::MIN, |b| b.time_ms);
        let why = if last_ms > last_of_file {
            "a bar from the future: after the replayed file's last bar"
        } else {
            "which the replayed file does not have (its bars end at"
        };
        let close = if last_ms > last_of_file { "" } else { ")" };
        Err(format!(
            "holds bar {}, {why} {}{close}: this journal is not of this replay; use a new --journal",
            format_time_ms(last_ms),
            format_time_ms(last_of_file)
        ))
    }

    /// The index of the first bar after `last_ms` (a restart's resume point).
    pub fn resume_index(&self, last_ms: Option<i64>) -> usize {
        match last_ms {
            Some(t) => self.bars.partition_point(|b| b.time_ms <= t),
            None => 0,
        }
    }
}
