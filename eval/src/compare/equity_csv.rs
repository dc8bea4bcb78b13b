//! `equity.csv`: a comparison's equity curves at the main fee, one row per bar, for
//! plotting and checking elsewhere.

use std::path::Path;

use super::{ArmKind, CompareReport};
use crate::error::{Error, Result};
use crate::output::write_atomically;

/// The header and rows of `equity.csv` for `report` (see [`write_equity_csv`]).
///
/// # Errors
/// [`Error::Report`] naming `path` when an arm has no run or the runs' equity curves do
/// not share the same bars.
pub fn equity_table(report: &CompareReport, path: &Path) -> Result<(Vec<String>, Vec<Vec<String>>)> {
    let fail = |message: String| Error::Report { path: path.to_path_buf(), message };
    let Some(first) = report.arms.first().and_then(|a| a.runs.first()) else {
        return Err(fail("the comparison has no backtest to write".into()));
    };
    let times: Vec<i64> = first.equity_curve.iter().map(|p| p.time_ms).collect();
    for arm in &report.arms {
        if arm.runs.is_empty() {
            return Err(fail(format!("arm {} has no run", arm.name)));
        }
        for run in &arm.runs {
            if run.equity_curve.len() != times.len()
                || run.equity_curve.iter().zip(&times).any(|(p, t)| p.time_ms != *t)
            {
                return Err(fail(format!(
                    "the equity curves of {} and {} cover different bars",
                    first.strategy, arm.name
                )));
            }
        }
    }
    let mut header = vec!["timestamp".to_string()];
    let mut columns: Vec<Vec<f64>> = Vec::new();
    for arm in &report.arms {
        header.push(arm.name.clone());
        let n = arm.runs.len() as f64;
        columns.push(
            (0..times.len()).map(|t| arm.runs.iter().map(|r| r.equity_curve[t].equity).sum::<f64>() / n).collect(),
        );
    }
    for arm in report.arms.iter().filter(|a| a.kind == ArmKind::Rl) {
        for (seed, run) in arm.seeds.iter().zip(&arm.runs) {
            header.push(format!("{}/seed-{seed}", arm.name));
            columns.push(run.equity_curve.iter().map(|p| p.equity).collect());
        }
    }
    let rows = times
        .iter()
        .enumerate()
        .map(|(t, time_ms)| {
            std::iter::once(time_ms.to_string()).chain(columns.iter().map(|c| format!("{:?}", c[t]))).collect()
        })
        .collect();
    Ok((header, rows))
}

/// Writes the equity curves of `report` at the main fee to `path` as CSV, atomically
/// (temporary file, then rename). Header `timestamp,<arm>,…,<rl arm>/seed-<n>,…`: one
/// column per arm in the report's order (an RL arm's is the mean over its seeds of their
/// equities, a baseline's its one run's), then one per seed of each RL arm; one row per
/// bar of the window, `timestamp` = the bar's open time in ms since epoch UTC, equities
/// at the bar's close in quote currency (Rust's shortest round-trip form).
///
/// # Errors
/// [`Error::Report`] as [`equity_table`]; [`Error::Io`] when the file cannot be written.
pub fn write_equity_csv(report: &CompareReport, path: &Path) -> Result<()> {
    let (header, rows) = equity_table(report, path)?;
    write_table(path, &header, &rows)
}

/// Writes `header` and `rows` to `path` as CSV, atomically.
///
/// # Errors
/// [`Error::Report`] for a CSV error; [`Error::Io`] when the file cannot be written.
pub fn write_table(path: &Path, header: &[String], rows: &[Vec<String>]) -> Result<()> {
    let csv_error = |e: csv::Error| Error::Report { path: path.to_path_buf(), message: e.to_string() };
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(header).map_err(csv_error)?;
    for row in rows {
        writer.write_record(row).map_err(csv_error)?;
    }
    let bytes = writer.into_inner().map_err(|e| Error::Report { path: path.to_path_buf(), message: e.to_string() })?;
    write_atomically(path, &bytes)
}
