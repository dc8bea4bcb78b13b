//! The trial of a finished run for the experiment's ledger: its exported policy
//! backtested on its own validation and test windows (as `compare` runs it, through ONNX
//! Runtime), the per-bar returns written beside the run, one line appended to
//! `trials.jsonl`.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use rltrade_env::backtest::{BacktestResult, run_backtest};
use rltrade_env::{BarSeries, Policy, SplitName, TradingSetup};
use rltrade_eval::compare::bootstrap::returns_from_equity;
use rltrade_eval::ledger::{Ledger, TrialRecord, TrialStatus, write_returns};
use rltrade_policy::model_dir::EXPORT_DIR;
use rltrade_policy::{OnnxModel, OnnxPolicy};

use crate::config::Config;

/// Where a trial's returns go, relative to its run folder.
pub const RETURNS_DIR: &str = "returns";

/// One trained run as a trial of `ledger`.
pub struct Trial<'a> {
    /// The ledger (in the experiment folder).
    pub ledger: &'a Ledger,
    /// The run folder (holding `export/`), inside the ledger's folder.
    pub run_dir: PathBuf,
    /// Unique in the ledger: the run folder relative to the ledger's (`seed-2`,
    /// `fold-3/seed-1`).
    pub trial_id: String,
    /// The run's resolved config (costs and risk limits of the backtests; the hash).
    pub config: &'a Config,
    /// The seed.
    pub seed: u64,
    /// The walk-forward fold (1-based), if any.
    pub fold: Option<usize>,
}

impl Trial<'_> {
    /// Backtests the run's export on its validation and test windows, writes
    /// `returns/validation.csv` and `returns/test.csv` into the run folder and appends a
    /// `finished` line to the ledger.
    ///
    /// # Errors
    /// A missing or bad export, backtest errors, an unwritable run folder or ledger.
    pub fn record_finished(&self, series: &BarSeries) -> anyhow::Result<TrialRecord> {
        self.record_trained(series, TrialStatus::Finished)
    }

    /// As [`Self::record_finished`] for a run stopped before the end of its budget (a
    /// signal, a sweep's scheduler): its export is backtested the same way, and the
    /// line says `stopped_early`.
    ///
    /// # Errors
    /// As [`Self::record_finished`].
    pub fn record_stopped_early(&self, series: &BarSeries) -> anyhow::Result<TrialRecord> {
        self.record_trained(series, TrialStatus::StoppedEarly)
    }

    fn record_trained(&self, series: &BarSeries, status: TrialStatus) -> anyhow::Result<TrialRecord> {
        let model = OnnxModel::load(&self.run_dir.join(EXPORT_DIR))?;
        let data = Arc::new(model.card().market_data(series.clone())?);
        let setup = TradingSetup {
            env: model.card().env_config(),
            data,
            execution: self.config.execution.clone(),
            risk: self.config.risk.clone(),
            protect: self.config.protect,
        };
        let mut policy = OnnxPolicy::new(model);
        let validation = backtest(&setup, SplitName::Validation, &mut policy)?;
        let test = backtest(&setup, SplitName::Test, &mut policy)?;
        let returns_dir = self.run_dir.join(RETURNS_DIR);
        std::fs::create_dir_all(&returns_dir).with_context(|| format!("cannot create {}", returns_dir.display()))?;
        let mut relative = Vec::new();
        for (name, result) in [("validation.csv", &validation), ("test.csv", &test)] {
            let path = returns_dir.join(name);
            write_returns(&path, &per_bar_returns(result, self.config.execution.initial_cash))?;
            // relative to the ledger's folder, compared as absolute paths (`./sweep` and
            // `sweep/trial-7` are one folder)
            let absolute = |p: &std::path::Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
            let (file, dir) = (absolute(&path), absolute(self.ledger.dir()));
            relative.push(file.strip_prefix(&dir).map_or(path.clone(), std::path::Path::to_path_buf));
        }
        let record = TrialRecord {
            trial_id: self.trial_id.clone(),
            status,
            config_hash: self.config.configuration_hash()?,
            seed: self.seed,
            fold: self.fold,
            validation_sharpe: validation.metrics.sharpe,
            test_sharpe: test.metrics.sharpe,
            validation_bars: validation.metrics.bars,
            test_bars: test.metrics.bars,
            validation_returns: Some(relative[0].clone()),
            test_returns: Some(relative[1].clone()),
        };
        self.ledger.append(&record)?;
        Ok(record)
    }

    /// Appends a `failed` line (no returns) to the ledger, unless the trial's latest line
    /// there is finished or stopped early (an error that came before training, such as a
    /// run folder that is not empty or a resume with other settings, does not undo it).
    ///
    /// # Errors
    /// An unreadable or unwritable ledger.
    pub fn record_failed(&self) -> anyhow::Result<()> {
        // a trial already finished or stopped early (a resume that failed before
        // training) keeps its record and returns
        let recorded = self
            .ledger
            .read_if_exists()?
            .into_iter()
            .rev()
            .find(|r| r.trial_id == self.trial_id)
            .is_some_and(|r| r.status != TrialStatus::Failed);
        if recorded {
            return Ok(());
        }
        self.ledger.append(&TrialRecord {
            trial_id: self.trial_id.clone(),
            status: TrialStatus::Failed,
            config_hash: self.config.configuration_hash()?,
            seed: self.seed,
            fold: self.fold,
            validation_sharpe: None,
            test_sharpe: None,
            validation_bars: 0,
            test_bars: 0,
            validation_returns: None,
            test_returns: None,
        })?;
        Ok(())
    }
}

fn backtest(setup: &TradingSetup, split: SplitName, policy: &mut OnnxPolicy) -> anyhow::Result<BacktestResult> {
    let window = setup.evaluation_window(split, &[(policy.name(), policy.warmup())])?;
    Ok(run_backtest(setup, window, policy)?)
}

/// `(bar open time ms, simple return of equity over the bar)` for every bar of `result`.
fn per_bar_returns(result: &BacktestResult, initial_cash: f64) -> Vec<(i64, f64)> {
    let equity: Vec<f64> = result.equity_curve.iter().map(|p| p.equity).collect();
    result.equity_curve.iter().map(|p| p.time_ms).zip(returns_from_equity(initial_cash, &equity)).collect()
}
