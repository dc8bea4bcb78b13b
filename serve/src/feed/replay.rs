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

    /// The index of the first bar after `last_ms` (a restart's resume point).
    pub fn resume_index(&self, last_ms: Option<i64>) -> usize {
        match last_ms {
            Some(t) => self.bars.partition_point(|b| b.time_ms <= t),
            None => 0,
        }
    }
}
