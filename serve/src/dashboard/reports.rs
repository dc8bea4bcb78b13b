//! Comparison reports for the offline dashboard: every folder under the runs root that
//! holds an `equity.csv` beside a `compare.json` (`rltrade compare`) or a
//! `walkforward.json` (`rltrade walkforward`, its stitched out-of-sample comparison).

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

use crate::error::{Error, Result};

/// The equity curves file of a report (`timestamp` in ms since epoch UTC, then one
/// column per arm, then one per RL seed as `ARM/seed-N`).
pub const EQUITY_FILE: &str = "equity.csv";

/// Which command wrote a report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportKind {
    /// `rltrade compare` (`compare.json`).
    Compare,
    /// `rltrade walkforward` (`walkforward.json`; its `stitched` comparison).
    WalkForward,
}

impl ReportKind {
    /// The JSON file that marks the kind.
    pub fn file(self) -> &'static str {
        match self {
            ReportKind::Compare => "compare.json",
            ReportKind::WalkForward => "walkforward.json",
        }
    }
}

/// A report folder found under the root.
#[derive(Clone, Debug, PartialEq)]
pub struct ReportFolder {
    /// Relative to the root, `/`-separated.
    pub name: String,
    /// The folder.
    pub dir: PathBuf,
    /// What wrote it.
    pub kind: ReportKind,
}

/// One arm of a report, with its equity curve and headline metrics (at the main fee).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ArmView {
    /// Arm name (a run name, `buy-and-hold`, `ma:FAST:SLOW`), or `ARM/seed-N` for one
    /// seed of an RL arm.
    pub name: String,
    /// `(ms since epoch UTC, equity)`, one point per bar; an RL arm's is the mean of its
    /// seeds.
    pub equity: Vec<(i64, f64)>,
    /// Sharpe ratio (annualized), when the report gives it (arms, not single seeds).
    pub sharpe: Option<f64>,
    /// Total return, a fraction.
    pub total_return: Option<f64>,
    /// Maximum drawdown, a fraction.
    pub max_drawdown: Option<f64>,
    /// Turnover, traded notional / mean equity.
    pub turnover: Option<f64>,
    /// Closed trades.
    pub num_trades: Option<f64>,
}

/// `GET /report?name=`: one report's arms.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReportView {
    /// The folder, relative to the root.
    pub name: String,
    /// What wrote it.
    pub kind: ReportKind,
    /// Arms, in `equity.csv`'s order, then the seeds of arms of several seeds; columns
    /// that are no arm of the report (a walk-forward's `fold`) are left out.
    pub arms: Vec<ArmView>,
}

/// One row of the reports table.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReportSummary {
    /// The folder, relative to the root.
    pub name: String,
    /// What wrote it.
    pub kind: ReportKind,
    /// First bar, ms since epoch UTC.
    pub start_ms: Option<i64>,
    /// Last bar, ms since epoch UTC.
    pub end_ms: Option<i64>,
    /// Arm names.
    pub arms: Vec<String>,
}

/// The comparison inside the report's JSON: the file itself for `compare`, its
/// `stitched` member for a walk-forward.
fn comparison(folder: &ReportFolder) -> Result<Value> {
    let path = folder.dir.join(folder.kind.file());
    let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
    let value: Value =
        serde_json::from_slice(&bytes).map_err(|e| Error::Data { path: path.clone(), message: e.to_string() })?;
    let compare = match folder.kind {
        ReportKind::Compare => value,
        ReportKind::WalkForward => value.get("stitched").cloned().unwrap_or(Value::Null),
    };
    if compare.get("arms").and_then(Value::as_array).is_none() {
        return Err(Error::Data { path, message: "no `arms` array: not a comparison report".into() });
    }
    Ok(compare)
}

/// The reports table's row for `folder`.
///
/// # Errors
/// The JSON cannot be read or holds no comparison ([`Error::Data`] naming the file).
pub fn summary(folder: &ReportFolder) -> Result<ReportSummary> {
    let compare = comparison(folder)?;
    let arms = compare["arms"].as_array().map_or_else(Vec::new, |arms| {
        arms.iter().filter_map(|a| a.get("name").and_then(Value::as_str).map(str::to_string)).collect()
    });
    Ok(ReportSummary {
        name: folder.name.clone(),
        kind: folder.kind,
        start_ms: compare.get("first_bar_ms").and_then(Value::as_i64),
        end_ms: compare.get("last_bar_ms").and_then(Value::as_i64),
        arms,
    })
}

/// Every arm's equity curve (from `equity.csv`) and metrics (from the JSON).
///
/// # Errors
/// A file cannot be read; `equity.csv` has a row that does not parse, or a header
/// without `timestamp` first ([`Error::Data`] naming the file and line).
pub fn view(folder: &ReportFolder) -> Result<ReportView> {
    let compare = comparison(folder)?;
    let path = folder.dir.join(EQUITY_FILE);
    let (names, columns) = read_equity(&path)?;
    // compare.json flattens each arm's metrics into it; walkforward.json nests them
    let metrics_of = |name: &str| {
        compare["arms"]
            .as_array()
            .and_then(|arms| arms.iter().find(|a| a.get("name").and_then(Value::as_str) == Some(name)))
            .map(|a| a.get("metrics").filter(|m| m.is_object()).unwrap_or(a))
            .cloned()
            .unwrap_or(Value::Null)
    };
    // drawn: the report's arms, and the seeds of an arm of several seeds (one seed's
    // column is the arm's own curve); other columns (a walk-forward's `fold`) are not arms
    let arm_names: Vec<&str> = compare["arms"]
        .as_array()
        .map_or_else(Vec::new, |arms| arms.iter().filter_map(|a| a["name"].as_str()).collect());
    let seeds_of = |arm: &str| names.iter().filter(|n| n.starts_with(&format!("{arm}/seed-"))).count();
    let drawn: Vec<bool> = names
        .iter()
        .map(|n| match n.rsplit_once("/seed-") {
            Some((arm, _)) => arm_names.contains(&arm) && seeds_of(arm) > 1,
            None => arm_names.contains(&n.as_str()),
        })
        .collect();
    let arms = names
        .iter()
        .cloned()
        .zip(columns)
        .zip(drawn)
        .filter(|(_, drawn)| *drawn)
        .map(|((name, equity), _)| {
            let m = metrics_of(&name);
            let f = |field: &str| m.get(field).and_then(Value::as_f64);
            ArmView {
                sharpe: f("sharpe"),
                total_return: f("total_return"),
                max_drawdown: f("max_drawdown"),
                turnover: f("turnover"),
                num_trades: f("num_trades"),
                name,
                equity,
            }
        })
        .collect();
    Ok(ReportView { name: folder.name.clone(), kind: folder.kind, arms })
}

/// One `(ms since epoch UTC, equity)` series per column of an `equity.csv`.
type EquityColumns = Vec<Vec<(i64, f64)>>;

/// The arm names and their columns of an `equity.csv`.
fn read_equity(path: &Path) -> Result<(Vec<String>, EquityColumns)> {
    let bad = |line: u64, message: String| Error::Data {
        path: path.to_path_buf(),
        message: format!("line {line}: {message}"),
    };
    let mut reader =
        csv::Reader::from_path(path).map_err(|e| Error::Data { path: path.to_path_buf(), message: e.to_string() })?;
    let header = reader.headers().map_err(|e| bad(1, e.to_string()))?.clone();
    if header.get(0) != Some("timestamp") {
        return Err(bad(1, "the first column must be `timestamp`".into()));
    }
    let names: Vec<String> = header.iter().skip(1).map(str::to_string).collect();
    let mut columns: Vec<Vec<(i64, f64)>> = vec![Vec::new(); names.len()];
    for (i, record) in reader.records().enumerate() {
        let line = i as u64 + 2;
        let record = record.map_err(|e| bad(line, e.to_string()))?;
        let time: i64 = record
            .get(0)
            .and_then(|t| t.parse().ok())
            .ok_or_else(|| bad(line, format!("timestamp `{}` is not ms since epoch", record.get(0).unwrap_or(""))))?;
        for (c, column) in columns.iter_mut().enumerate() {
            let text = record.get(c + 1).unwrap_or("");
            let value: f64 = text.parse().map_err(|_| bad(line, format!("{}: `{text}` is not a number", names[c])))?;
            column.push((time, value));
        }
    }
    Ok((names, columns))
}
