//! The trial ledger: every trained model is a trial and is counted (DESIGN.md, "Rules
//! that keep results honest"). A ledger is one JSON-lines file, `trials.jsonl`, in the
//! folder that holds a study's runs; each trial appends one [`TrialRecord`] when it ends,
//! with the paths of its per-bar validation and test returns (CSV files next to it).
//!
//! From a ledger come the inputs of the selection statistics of
//! [`rltrade_env::selection_stats`]:
//! - [`trial_count`]: N (distinct configurations) and V (the variance of their per-bar
//!   Sharpe ratios on an evaluation window) for the Deflated Sharpe Ratio;
//! - [`ledger_pbo`]: the Probability of Backtest Overfitting of the configurations, by
//!   CSCV over their validation returns.
//!
//! Durability: appends are whole lines written under an exclusive lock on the file
//! (`flock`, [`std::fs::File::lock`]) and fsynced, so concurrent trials never interleave.
//! A process killed mid-append can leave a torn last line without its newline; readers
//! drop it with a warning, and the next append cuts it off before writing.

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use rltrade_env::selection_stats::pbo::{self, MAX_PARTITIONS, Pbo, probability_of_backtest_overfitting};
use rltrade_env::selection_stats::sharpe::{sharpe_per_bar, trials_sharpe_variance};
use serde::{Deserialize, Serialize};

use crate::compare::TrialCount;
use crate::error::{Error, Result};
use crate::output::write_atomically;

/// The ledger's file name inside a study folder.
pub const LEDGER_FILE: &str = "trials.jsonl";

/// The number of partitions S of the PBO's CSCV, 16, the choice of Bailey, Borwein,
/// López de Prado & Zhu (2017) in their examples: C(16, 8) = 12,870 combinations
/// ([`rltrade_env::selection_stats::pbo::DEFAULT_PARTITIONS`]).
pub const DEFAULT_PBO_PARTITIONS: usize = pbo::DEFAULT_PARTITIONS;

/// The header of a per-bar returns file ([`write_returns`]).
pub const RETURNS_HEADER: [&str; 2] = ["timestamp", "return"];

/// How a trial ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrialStatus {
    /// Trained to the end of its budget (`finished`). Counted in N, V and the PBO.
    Finished,
    /// Stopped before the end of its budget, e.g. by a sweep's scheduler or SIGTERM
    /// (`stopped_early`). Counted in N and V (its configuration was tried, and its best
    /// checkpoint judged), not in the PBO (its validation returns are of a policy not
    /// trained to the end).
    StoppedEarly,
    /// Failed with an error (`failed`).
    Failed,
}

/// One trial: one training run of one configuration with one seed (on one walk-forward
/// fold), one JSON line of the ledger.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrialRecord {
    /// Unique id of the trial within the ledger; a later line with the same id replaces
    /// an earlier one.
    pub trial_id: String,
    /// How it ended.
    pub status: TrialStatus,
    /// SHA-256 (hex) of the configuration without seed, fold, dates and paths: trials
    /// with the same hash are one configuration (the `rltrade` binary's
    /// `Config::configuration_hash`).
    pub config_hash: String,
    /// The training seed.
    pub seed: u64,
    /// The walk-forward fold, 1-based as in `walkforward.json`; `None` for a single split.
    pub fold: Option<usize>,
    /// Annualized Sharpe ratio on the validation split (as `Metrics::sharpe`); `None`
    /// where undefined or not evaluated.
    pub validation_sharpe: Option<f64>,
    /// Annualized Sharpe ratio on the test split (as `Metrics::sharpe`).
    pub test_sharpe: Option<f64>,
    /// Bars in the validation window.
    pub validation_bars: usize,
    /// Bars in the test window.
    pub test_bars: usize,
    /// The per-bar validation returns file ([`write_returns`]), relative to the
    /// ledger's folder.
    pub validation_returns: Option<PathBuf>,
    /// The per-bar test returns file, relative to the ledger's folder.
    pub test_returns: Option<PathBuf>,
}

/// A trial ledger: the JSON-lines file of [`TrialRecord`]s at [`Ledger::path`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ledger {
    path: PathBuf,
}

impl Ledger {
    /// The ledger of the study folder `dir`: `dir/trials.jsonl` ([`LEDGER_FILE`]).
    pub fn in_dir(dir: &Path) -> Self {
        Self { path: dir.join(LEDGER_FILE) }
    }

    /// The ledger in the file `path`.
    pub fn at(path: &Path) -> Self {
        Self { path: path.to_path_buf() }
    }

    /// The ledger file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The folder holding the ledger file (`.` for a bare file name): the base of the
    /// records' relative returns paths.
    pub fn dir(&self) -> &Path {
        match self.path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        }
    }

    /// Appends `record` as one line. The file (and its folder) is created when missing,
    /// opened in append mode, locked exclusively for the write ([`File::lock`]), and the
    /// line is fsynced before the lock is released. A torn last line left by a killed
    /// writer (no newline) is cut off first, with a warning (or completed with its
    /// newline when it is a whole record).
    ///
    /// # Errors
    /// [`Error::Io`] naming the file when it cannot be created, locked, read or written.
    pub fn append(&self, record: &TrialRecord) -> Result<()> {
        let path = &self.path;
        let mut line = serde_json::to_string(record).map_err(|e| io(path, std::io::Error::other(e)))?;
        line.push('\n');
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs::create_dir_all(parent).map_err(|e| io(parent, e))?;
        }
        let mut file = OpenOptions::new().read(true).append(true).create(true).open(path).map_err(|e| io(path, e))?;
        file.lock().map_err(|e| io(path, e))?;
        repair_torn_tail(&mut file, path)?;
        file.write_all(line.as_bytes()).map_err(|e| io(path, e))?;
        file.sync_all().map_err(|e| io(path, e))?;
        file.unlock().map_err(|e| io(path, e))
    }

    /// Every trial of the ledger, read under a shared lock, in the order of their first
    /// line, each with the content of its last line (deduplicated by `trial_id`, the last
    /// line wins). Blank lines are skipped. A torn last line (no trailing newline, not a
    /// record), as a writer killed mid-append leaves, is dropped with a `tracing` warning.
    ///
    /// # Errors
    /// [`Error::Io`] when the file is missing or unreadable; [`Error::Malformed`] naming
    /// the file, the 1-based line and serde's message for any other line that is not a
    /// [`TrialRecord`].
    pub fn read(&self) -> Result<Vec<TrialRecord>> {
        let path = &self.path;
        let mut file = File::open(path).map_err(|e| io(path, e))?;
        file.lock_shared().map_err(|e| io(path, e))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(|e| io(path, e))?;
        file.unlock().map_err(|e| io(path, e))?;
        parse_ledger(path, &bytes)
    }

    /// [`Ledger::read`], with a missing file read as an empty ledger.
    ///
    /// # Errors
    /// As [`Ledger::read`], but for a missing file.
    pub fn read_if_exists(&self) -> Result<Vec<TrialRecord>> {
        if !self.path.exists() {
            return Ok(Vec::new());
        }
        self.read()
    }
}

/// Parses the ledger's bytes (see [`Ledger::read`]).
fn parse_ledger(path: &Path, bytes: &[u8]) -> Result<Vec<TrialRecord>> {
    let complete = bytes.last().is_none_or(|&b| b == b'\n');
    let mut lines: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
    if complete {
        lines.pop(); // the empty piece after the final newline
    }
    let n_lines = lines.len();
    let mut records: Vec<TrialRecord> = Vec::new();
    let mut position: HashMap<String, usize> = HashMap::new();
    for (i, line) in lines.iter().enumerate() {
        let number = i + 1;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match serde_json::from_slice::<TrialRecord>(line) {
            Ok(record) => match position.get(&record.trial_id) {
                Some(&k) => records[k] = record,
                None => {
                    position.insert(record.trial_id.clone(), records.len());
                    records.push(record);
                }
            },
            Err(e) if !complete && number == n_lines => {
                tracing::warn!(
                    "{}: line {number}: dropping a torn last line (no newline, {} bytes: {e}), as a writer killed mid-append leaves",
                    path.display(),
                    line.len()
                );
            }
            Err(e) => {
                return Err(Error::Malformed {
                    path: path.to_path_buf(),
                    line: number,
                    message: format!("not a trial record: {e}"),
                });
            }
        }
    }
    Ok(records)
}

/// Under the append's lock: when the file does not end with a newline, completes a
/// whole last record with its newline, or cuts off a torn one (with a warning).
fn repair_torn_tail(file: &mut File, path: &Path) -> Result<()> {
    let len = file.metadata().map_err(|e| io(path, e))?.len();
    if len == 0 {
        return Ok(());
    }
    let mut last = [0u8];
    file.seek(SeekFrom::End(-1)).map_err(|e| io(path, e))?;
    file.read_exact(&mut last).map_err(|e| io(path, e))?;
    if last[0] == b'\n' {
        return Ok(());
    }
    let mut bytes = Vec::new();
    file.seek(SeekFrom::Start(0)).map_err(|e| io(path, e))?;
    file.read_to_end(&mut bytes).map_err(|e| io(path, e))?;
    let start = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    if serde_json::from_slice::<TrialRecord>(&bytes[start..]).is_ok() {
        file.write_all(b"\n").map_err(|e| io(path, e))
    } else {
        tracing::warn!(
            "{}: cutting off a torn last line ({} bytes without a newline) before appending",
            path.display(),
            bytes.len() - start
        );
        file.set_len(start as u64).map_err(|e| io(path, e))
    }
}

/// Writes per-bar returns to `path` as CSV, atomically (temporary file, then rename;
/// [`write_atomically`]), creating its folder. Header `timestamp,return`
/// ([`RETURNS_HEADER`]); one row per bar: `timestamp` the bar's open time in ms since
/// epoch UTC, `return` the simple return of equity over that bar (`equityₜ / equityₜ₋₁ −
/// 1`, a fraction), written in Rust's shortest round-trip form.
///
/// # Errors
/// [`Error::Malformed`] naming the row's line when a return is not finite or the
/// timestamps are not strictly increasing; [`Error::Io`].
pub fn write_returns(path: &Path, points: &[(i64, f64)]) -> Result<()> {
    let mut previous: Option<i64> = None;
    for (i, &(time_ms, r)) in points.iter().enumerate() {
        let bad = |message: String| Error::Malformed { path: path.to_path_buf(), line: i + 2, message };
        if !r.is_finite() {
            return Err(bad(format!("the return at {time_ms} is not finite ({r})")));
        }
        if previous.is_some_and(|p| time_ms <= p) {
            return Err(bad(format!("timestamp {time_ms} does not follow {}", previous.unwrap_or_default())));
        }
        previous = Some(time_ms);
    }
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(RETURNS_HEADER).map_err(|e| csv_error(path, e))?;
    for &(time_ms, r) in points {
        writer.write_record([time_ms.to_string(), format!("{r:?}")]).map_err(|e| csv_error(path, e))?;
    }
    let bytes = writer.into_inner().map_err(|e| io(path, std::io::Error::other(e.to_string())))?;
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent).map_err(|e| io(parent, e))?;
    }
    write_atomically(path, &bytes)
}

/// Reads a per-bar returns file written by [`write_returns`]: `(open time in ms since
/// epoch UTC, simple return)` per bar, in file order.
///
/// # Errors
/// [`Error::Io`] when the file cannot be read; [`Error::Malformed`] naming the file and
/// 1-based line for a wrong header, a row that is not two fields, a timestamp that is not
/// an integer or does not strictly increase, or a return that is not a finite number.
pub fn read_returns(path: &Path) -> Result<Vec<(i64, f64)>> {
    let mut reader = csv::ReaderBuilder::new().has_headers(true).from_path(path).map_err(|e| csv_error(path, e))?;
    let header = reader.headers().map_err(|e| csv_error(path, e))?.clone();
    if header.iter().ne(RETURNS_HEADER) {
        return Err(Error::Malformed {
            path: path.to_path_buf(),
            line: 1,
            message: format!(
                "expected the header `timestamp,return`, found `{}`",
                header.iter().collect::<Vec<_>>().join(",")
            ),
        });
    }
    let mut points: Vec<(i64, f64)> = Vec::new();
    for row in reader.records() {
        let row = row.map_err(|e| csv_error(path, e))?;
        let line = row.position().map_or(0, |p| p.line() as usize);
        let bad = |message: String| Error::Malformed { path: path.to_path_buf(), line, message };
        let [time, value] = [0, 1].map(|i| row.get(i).unwrap_or("").trim());
        let time_ms: i64 = time.parse().map_err(|e| bad(format!("timestamp `{time}` is not an integer: {e}")))?;
        let r: f64 = value.parse().map_err(|e| bad(format!("return `{value}` is not a number: {e}")))?;
        if !r.is_finite() {
            return Err(bad(format!("return `{value}` is not finite")));
        }
        if let Some(&(previous, _)) = points.last()
            && time_ms <= previous
        {
            return Err(bad(format!("timestamp {time_ms} does not follow {previous}: timestamps must increase")));
        }
        points.push((time_ms, r));
    }
    Ok(points)
}

/// The trials of `records` with a status in `statuses`, grouped by configuration hash
/// (in hash order).
fn configurations<'a>(records: &'a [TrialRecord], statuses: &[TrialStatus]) -> BTreeMap<&'a str, Vec<&'a TrialRecord>> {
    let mut configs: BTreeMap<&str, Vec<&TrialRecord>> = BTreeMap::new();
    for r in records.iter().filter(|r| statuses.contains(&r.status)) {
        configs.entry(r.config_hash.as_str()).or_default().push(r);
    }
    configs
}

/// The finished trials of `records`, grouped by configuration hash (in hash order).
fn finished_configurations(records: &[TrialRecord]) -> BTreeMap<&str, Vec<&TrialRecord>> {
    configurations(records, &[TrialStatus::Finished])
}

/// One configuration's per-bar returns: the returns files `file(trial)` of its trials
/// (relative to `ledger_dir`), restricted to open times in `window` (inclusive) when
/// given, and averaged per timestamp over the trials that have it. Ordered by time.
fn mean_returns(
    ledger_dir: &Path,
    trials: &[&TrialRecord],
    file: impl Fn(&TrialRecord) -> Option<&PathBuf>,
    window: Option<(i64, i64)>,
) -> Result<BTreeMap<i64, f64>> {
    let mut sums: BTreeMap<i64, (f64, usize)> = BTreeMap::new();
    for trial in trials {
        let Some(relative) = file(trial) else { continue };
        for (time_ms, r) in read_returns(&ledger_dir.join(relative))? {
            if window.is_none_or(|(first, last)| first <= time_ms && time_ms <= last) {
                let entry = sums.entry(time_ms).or_insert((0.0, 0));
                entry.0 += r;
                entry.1 += 1;
            }
        }
    }
    Ok(sums.into_iter().map(|(t, (sum, n))| (t, sum / n as f64)).collect())
}

/// N and V of the Deflated Sharpe Ratio (Bailey & López de Prado 2014, see
/// [`rltrade_env::selection_stats::sharpe::deflated_sharpe_ratio`]) from the ledger's
/// `records`, for a selection judged on the bars whose open times lie in `window`
/// (`(first, last)`, ms since epoch UTC, both included):
///
/// - trials with status [`TrialStatus::Finished`] or [`TrialStatus::StoppedEarly`]
///   count: a configuration a sweep's scheduler stopped early was tried and lost, and
///   leaving it out would deflate the winner too little; a failed trial was never
///   judged and counts nowhere;
/// - N (`n_trials`) = the number of distinct `config_hash` among them (each
///   configuration is one trial of the selection, however many seeds or folds it ran);
/// - `n_runs` = the number of those trials;
/// - for each configuration: the per-bar test returns of its trials (`test_returns`
///   files, relative to `ledger_dir`; a trial stopped early has those of its best
///   checkpoint), restricted to the window, averaged per timestamp over the trials
///   that have that bar (so seeds are averaged, and folds with disjoint test bars are
///   joined), then its per-bar Sharpe ratio
///   ([`rltrade_env::selection_stats::sharpe::sharpe_per_bar`]: mean / std, ddof 1, not
///   annualized);
/// - V (`sharpe_variance`) = the sample variance (ddof 1) of those Sharpe ratios
///   ([`trials_sharpe_variance`]); 0 when fewer than 2 are defined.
///
/// A configuration without test returns in the window (no files, or bars elsewhere, or
/// an undefined Sharpe ratio) counts in N but not in V. `None` when no trial finished
/// or stopped early.
///
/// # Errors
/// A returns file that cannot be read or is malformed ([`read_returns`]).
pub fn trial_count(ledger_dir: &Path, records: &[TrialRecord], window: (i64, i64)) -> Result<Option<TrialCount>> {
    trial_count_with_prior(ledger_dir, records, None, window)
}

/// [`trial_count`] over two ledgers: a walk-forward's own (`ledger_dir`, `records`) and
/// the one of the search its config came from (`prior`: a sweep's folder and records),
/// whose configurations add to N, `n_runs` and the Sharpe ratios of V (each computed
/// alone, on the same `window`: a sweep trial's test returns that lie in it).
///
/// N counts the configuration under test twice, as the search's trial and as the
/// walk-forward's: one more than strictly needed, which deflates a little more.
///
/// # Errors
/// As [`trial_count`], for either ledger's returns files.
pub fn trial_count_with_prior(
    ledger_dir: &Path,
    records: &[TrialRecord],
    prior: Option<(&Path, &[TrialRecord])>,
    window: (i64, i64),
) -> Result<Option<TrialCount>> {
    let (mut n_trials, mut n_runs, mut sharpes) = (0, 0, Vec::new());
    for (dir, records) in std::iter::once((ledger_dir, records)).chain(prior) {
        for trials in configurations(records, &[TrialStatus::Finished, TrialStatus::StoppedEarly]).values() {
            n_trials += 1;
            n_runs += trials.len();
            let returns = mean_returns(dir, trials, |t| t.test_returns.as_ref(), Some(window))?;
            let returns: Vec<f64> = returns.into_values().collect();
            sharpes.extend(sharpe_per_bar(&returns));
        }
    }
    if n_trials == 0 {
        return Ok(None);
    }
    Ok(Some(TrialCount { n_trials, n_runs, sharpe_variance: trials_sharpe_variance(&sharpes).unwrap_or(0.0) }))
}

/// The Probability of Backtest Overfitting of the ledger's configurations, by
/// combinatorially symmetric cross-validation (CSCV) over `partitions` = S blocks
/// (D. H. Bailey, J. M. Borwein, M. López de Prado and Q. J. Zhu, "The Probability of
/// Backtest Overfitting", *Journal of Computational Finance* 20(4), 2017; see
/// [`rltrade_env::selection_stats::pbo`] for the procedure and its conventions):
///
/// - the configurations are the distinct `config_hash` of the finished trials that have
///   validation returns (`validation_returns` files, relative to `ledger_dir`);
/// - each configuration's series is its trials' per-bar validation returns averaged per
///   timestamp (seeds averaged, folds joined, as in [`trial_count`]);
/// - the T × N matrix holds the timestamps common to every configuration, in time order.
///
/// `None` (with a `tracing` warning saying why) for fewer than 2 such configurations or
/// fewer common bars than `partitions` (every block needs at least one bar).
/// [`DEFAULT_PBO_PARTITIONS`] is the usual S.
///
/// # Errors
/// [`Error::Config`] for S odd, below 2 or above [`MAX_PARTITIONS`]; a returns file that
/// cannot be read or is malformed ([`read_returns`]).
pub fn ledger_pbo(ledger_dir: &Path, records: &[TrialRecord], partitions: usize) -> Result<Option<Pbo>> {
    if partitions < 2 || !partitions.is_multiple_of(2) || partitions > MAX_PARTITIONS {
        return Err(Error::Config {
            field: "partitions".into(),
            message: format!("the PBO needs an even number of partitions in 2..={MAX_PARTITIONS}, got {partitions}"),
        });
    }
    let mut series = Vec::new();
    for trials in finished_configurations(records).values() {
        let returns = mean_returns(ledger_dir, trials, |t| t.validation_returns.as_ref(), None)?;
        if !returns.is_empty() {
            series.push(returns);
        }
    }
    if series.len() < 2 {
        tracing::warn!(
            "no PBO: {} finished configuration(s) with validation returns in the ledger, it needs 2",
            series.len()
        );
        return Ok(None);
    }
    let common: Vec<i64> =
        series[0].keys().copied().filter(|t| series[1..].iter().all(|s| s.contains_key(t))).collect();
    if common.len() < partitions {
        tracing::warn!(
            "no PBO: the {} configurations share {} validation bars, fewer than the {partitions} partitions",
            series.len(),
            common.len()
        );
        return Ok(None);
    }
    let matrix: Vec<f64> = common.iter().flat_map(|t| series.iter().map(move |s| s[t])).collect();
    probability_of_backtest_overfitting(&matrix, series.len(), partitions)
        .map(Some)
        .map_err(|e| Error::Config { field: "partitions".into(), message: e.to_string() })
}

fn io(path: &Path, source: std::io::Error) -> Error {
    Error::Io { path: path.to_path_buf(), source }
}

fn csv_error(path: &Path, e: csv::Error) -> Error {
    let line = e.position().map_or(0, |p| p.line() as usize);
    let message = e.to_string();
    match e.into_kind() {
        csv::ErrorKind::Io(source) => io(path, source),
        _ => Error::Malformed { path: path.to_path_buf(), line, message },
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use super::*;

    fn record(id: &str, status: TrialStatus, config: &str, seed: u64) -> TrialRecord {
        TrialRecord {
            trial_id: id.into(),
            status,
            config_hash: config.into(),
            seed,
            fold: None,
            validation_sharpe: Some(0.5),
            test_sharpe: None,
            validation_bars: 100,
            test_bars: 50,
            validation_returns: None,
            test_returns: None,
        }
    }

    /// The `tracing` output of `f`, captured.
    fn captured_logs<T>(f: impl FnOnce() -> T) -> (T, String) {
        #[derive(Clone, Default)]
        struct Buffer(Arc<Mutex<Vec<u8>>>);
        impl Write for Buffer {
            fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(bytes);
                Ok(bytes.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt().with_writer(move || writer.clone()).with_ansi(false).finish();
        let out = tracing::subscriber::with_default(subscriber, f);
        let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        (out, text)
    }

    #[test]
    fn records_round_trip_one_line_each_with_snake_case_statuses() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::in_dir(&dir.path().join("study"));
        assert_eq!(ledger.dir(), dir.path().join("study"));
        assert!(ledger.read_if_exists().unwrap().is_empty(), "a missing ledger reads as empty where asked");
        let err = ledger.read().unwrap_err().to_string();
        assert!(err.contains("trials.jsonl"), "{err}");
        let mut a = record("a", TrialStatus::Finished, "h1", 1);
        a.fold = Some(2);
        a.test_sharpe = Some(-0.25);
        a.test_returns = Some(PathBuf::from("runs/a/test_returns.csv"));
        let b = record("b", TrialStatus::StoppedEarly, "h1", 2);
        let c = record("c", TrialStatus::Failed, "h2", 1);
        for r in [&a, &b, &c] {
            ledger.append(r).unwrap();
        }
        assert_eq!(ledger.read().unwrap(), vec![a, b, c]);
        let text = fs::read_to_string(ledger.path()).unwrap();
        assert_eq!(text.lines().count(), 3);
        assert!(text.contains(r#""status":"finished""#), "{text}");
        assert!(text.contains(r#""status":"stopped_early""#) && text.contains(r#""status":"failed""#), "{text}");
        assert_eq!(Ledger::at(Path::new("trials.jsonl")).dir(), Path::new("."));
    }

    #[test]
    fn the_last_line_of_a_trial_id_wins_in_the_place_of_its_first() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::in_dir(dir.path());
        ledger.append(&record("a", TrialStatus::StoppedEarly, "h1", 1)).unwrap();
        ledger.append(&record("b", TrialStatus::Finished, "h2", 1)).unwrap();
        let mut again = record("a", TrialStatus::Finished, "h1", 1);
        again.test_bars = 7;
        ledger.append(&again).unwrap();
        let read = ledger.read().unwrap();
        assert_eq!(read.iter().map(|r| r.trial_id.as_str()).collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(read[0], again);
    }

    #[test]
    fn a_torn_last_line_is_dropped_with_a_warning_and_cut_off_by_the_next_append() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::in_dir(dir.path());
        ledger.append(&record("a", TrialStatus::Finished, "h1", 1)).unwrap();
        ledger.append(&record("b", TrialStatus::Finished, "h1", 2)).unwrap();
        let mut file = OpenOptions::new().append(true).open(ledger.path()).unwrap();
        file.write_all(br#"{"trial_id":"c","status":"fini"#).unwrap();
        drop(file);
        let (read, logs) = captured_logs(|| ledger.read().unwrap());
        assert_eq!(read.len(), 2);
        assert!(logs.contains("WARN") && logs.contains("line 3") && logs.contains("torn"), "{logs}");
        // The next append starts on a fresh line: the torn bytes are gone.
        ledger.append(&record("c", TrialStatus::Finished, "h2", 1)).unwrap();
        let text = fs::read_to_string(ledger.path()).unwrap();
        assert_eq!(text.lines().count(), 3, "{text}");
        assert_eq!(ledger.read().unwrap().len(), 3);
        // A whole record without its newline is kept, and completed by the next append.
        let line = serde_json::to_string(&record("d", TrialStatus::Failed, "h2", 2)).unwrap();
        OpenOptions::new().append(true).open(ledger.path()).unwrap().write_all(line.as_bytes()).unwrap();
        assert_eq!(ledger.read().unwrap().len(), 4);
        ledger.append(&record("e", TrialStatus::Failed, "h2", 3)).unwrap();
        assert_eq!(ledger.read().unwrap().len(), 5);
    }

    #[test]
    fn a_bad_line_that_is_not_the_torn_last_one_is_an_error_naming_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::in_dir(dir.path());
        let good = serde_json::to_string(&record("a", TrialStatus::Finished, "h1", 1)).unwrap();
        let cases = [
            ("garbage in the middle", format!("{good}\nnot json\n{good}\n"), 2),
            ("a complete bad last line", format!("{good}\n{good}\n{{\"trial_id\": 3}}\n"), 3),
            ("an unknown status", format!("{}\n", good.replace("finished", "done")), 1),
            ("a bad line before a torn one", format!("{good}\n[]\n{{\"tri"), 2),
        ];
        for (name, text, line) in cases {
            fs::write(ledger.path(), text).unwrap();
            let err = ledger.read().unwrap_err();
            assert!(matches!(&err, Error::Malformed { line: l, .. } if *l == line), "{name}: {err:?}");
            let message = err.to_string();
            assert!(
                message.contains("trials.jsonl") && message.contains(&format!("line {line}:")),
                "{name}: {message}"
            );
        }
    }

    #[test]
    fn concurrent_appends_all_land_as_whole_lines() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::in_dir(dir.path());
        let (threads, per_thread) = (8, 40);
        std::thread::scope(|scope| {
            for t in 0..threads {
                let ledger = ledger.clone();
                scope.spawn(move || {
                    for i in 0..per_thread {
                        let mut r = record(&format!("t{t}-{i}"), TrialStatus::Finished, &"x".repeat(2000), i as u64);
                        r.fold = Some(t);
                        ledger.append(&r).unwrap();
                    }
                });
            }
        });
        let text = fs::read_to_string(ledger.path()).unwrap();
        assert_eq!(text.lines().count(), threads * per_thread);
        let read = ledger.read().unwrap();
        assert_eq!(read.len(), threads * per_thread);
        for t in 0..threads {
            let seeds: Vec<u64> = read.iter().filter(|r| r.fold == Some(t)).map(|r| r.seed).collect();
            assert_eq!(seeds, (0..per_thread as u64).collect::<Vec<_>>(), "thread {t}'s appends in order");
        }
    }

    #[test]
    fn returns_files_round_trip_and_errors_name_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("runs/a/returns.csv");
        let points = vec![(1_000, 0.1), (2_000, -1.0 / 3.0), (3_000, 1e-20), (4_000, 0.0)];
        write_returns(&path, &points).unwrap();
        assert!(fs::read_to_string(&path).unwrap().starts_with("timestamp,return\n1000,0.1\n"));
        assert_eq!(read_returns(&path).unwrap(), points, "exact round trip");
        let err = write_returns(&path, &[(1, 0.0), (1, 0.1)]).unwrap_err().to_string();
        assert!(err.contains("line 3") && err.contains("does not follow"), "{err}");
        assert!(write_returns(&path, &[(1, f64::NAN)]).is_err());

        let cases = [
            ("a wrong header", "time,return\n1,0.1\n", 1, "header"),
            ("a bad return", "timestamp,return\n1,0.1\n2,abc\n", 3, "abc"),
            ("a bad timestamp", "timestamp,return\n1.5,0.1\n", 2, "1.5"),
            ("a missing field", "timestamp,return\n1,0.1\n2\n", 3, "field"),
            ("a non-finite return", "timestamp,return\n1,NaN\n", 2, "finite"),
            ("time going back", "timestamp,return\n5,0.1\n4,0.1\n", 3, "increase"),
        ];
        for (name, text, line, word) in cases {
            fs::write(&path, text).unwrap();
            let err = read_returns(&path).unwrap_err();
            let message = err.to_string();
            assert!(matches!(&err, Error::Malformed { line: l, .. } if *l == line), "{name}: {message}");
            assert!(message.contains("returns.csv") && message.contains(word), "{name}: {message}");
        }
    }

    /// Writes `returns` (one per timestamp from `first`, 1 apart) under `dir` and
    /// returns the path relative to `dir`.
    fn returns_file(dir: &Path, name: &str, first: i64, returns: &[f64]) -> PathBuf {
        let points: Vec<(i64, f64)> = returns.iter().enumerate().map(|(i, &r)| (first + i as i64, r)).collect();
        write_returns(&dir.join(name), &points).unwrap();
        PathBuf::from(name)
    }

    #[test]
    fn trial_count_on_a_hand_computed_ledger() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let mut trials = Vec::new();
        // Configuration A: two seeds on bars 1..=3, mean returns [0.02, 0.02, 0.0]:
        // per-bar Sharpe 0.04 / √0.0012 = 2/√3.
        for (seed, returns) in [(1, [0.01, 0.03, -0.01]), (2, [0.03, 0.01, 0.01])] {
            let mut r = record(&format!("a{seed}"), TrialStatus::Finished, "A", seed);
            r.test_returns = Some(returns_file(d, &format!("a{seed}.csv"), 1, &returns));
            trials.push(r);
        }
        // Configuration B: two folds joined, bars 1..=2 and 3..=4; bar 4 lies outside the
        // window: [0.01, -0.01, 0.02], Sharpe 0.02 / √0.0021.
        for (fold, first, returns) in [(0, 1, [0.01, -0.01]), (1, 3, [0.02, 0.5])] {
            let mut r = record(&format!("b{fold}"), TrialStatus::Finished, "B", 1);
            r.fold = Some(fold);
            r.test_returns = Some(returns_file(d, &format!("b{fold}.csv"), first, &returns));
            trials.push(r);
        }
        // Configuration C finished without test returns: in N, not in V.
        trials.push(record("c", TrialStatus::Finished, "C", 1));
        // Trials stopped early count in N, n_runs and V: one more seed of A, with its
        // bars outside the window (A's mean is unchanged), and E, a configuration only
        // ever stopped early: [0.01, 0.02, 0.0], Sharpe 0.01 / 0.01 = 1.
        let mut stopped = record("a3", TrialStatus::StoppedEarly, "A", 3);
        stopped.test_returns = Some(returns_file(d, "a3.csv", 10, &[1.0, -1.0, 1.0]));
        trials.push(stopped);
        let mut pruned = record("e", TrialStatus::StoppedEarly, "E", 1);
        pruned.test_returns = Some(returns_file(d, "e.csv", 1, &[0.01, 0.02, 0.0]));
        trials.push(pruned);
        // A failed trial counts nowhere.
        trials.push(record("d", TrialStatus::Failed, "D", 1));

        let count = trial_count(d, &trials, (1, 3)).unwrap().unwrap();
        let (sharpe_a, sharpe_b) = (0.04 / 0.0012f64.sqrt(), 0.02 / 0.0021f64.sqrt());
        assert_eq!((count.n_trials, count.n_runs), (4, 7));
        let mean = (sharpe_a + sharpe_b + 1.0) / 3.0;
        let v = [sharpe_a, sharpe_b, 1.0].iter().map(|s| (s - mean).powi(2)).sum::<f64>() / 2.0;
        assert!((count.sharpe_variance - v).abs() < 1e-9, "{} vs {v}", count.sharpe_variance);

        // One configuration with a defined Sharpe: V = 0. No finished trial: None.
        let count = trial_count(d, &trials[..2], (1, 3)).unwrap().unwrap();
        assert_eq!((count.n_trials, count.n_runs, count.sharpe_variance), (1, 2, 0.0));
        assert_eq!(trial_count(d, &trials[7..], (1, 3)).unwrap(), None);
        // Only stopped early: counted, V = 0.
        let count = trial_count(d, &trials[5..7], (1, 3)).unwrap().unwrap();
        assert_eq!((count.n_trials, count.n_runs, count.sharpe_variance), (2, 2, 0.0));
        // A window with none of the bars: N still counts every configuration.
        let count = trial_count(d, &trials, (100, 200)).unwrap().unwrap();
        assert_eq!((count.n_trials, count.n_runs, count.sharpe_variance), (4, 7, 0.0));
        // A missing returns file is an error naming it.
        trials[0].test_returns = Some(PathBuf::from("gone.csv"));
        let err = trial_count(d, &trials, (1, 3)).unwrap_err().to_string();
        assert!(err.contains("gone.csv"), "{err}");
    }

    #[test]
    fn a_prior_ledger_adds_its_tried_configurations_to_n_and_their_sharpe_ratios_to_v() {
        let (own_dir, prior_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        // the walk-forward's one configuration W: [0.01, 0.03, -0.01], Sharpe 0.01 / 0.02
        let mut own = record("fold-1/seed-1", TrialStatus::Finished, "W", 1);
        own.test_returns = Some(returns_file(own_dir.path(), "w.csv", 1, &[0.01, 0.03, -0.01]));
        // the sweep's: A finished, [0.01, 0.02, 0.0], Sharpe 1; B stopped early twice,
        // mean [0.01, 0.0, 0.01], Sharpe (0.02 / 3) / √(0.0001 / 3) = 2 / √3; C failed
        let mut a = record("trials/a", TrialStatus::Finished, "A", 1);
        a.test_returns = Some(returns_file(prior_dir.path(), "a.csv", 1, &[0.01, 0.02, 0.0]));
        let mut b1 = record("trials/b1", TrialStatus::StoppedEarly, "B", 1);
        b1.test_returns = Some(returns_file(prior_dir.path(), "b1.csv", 1, &[0.02, 0.0, 0.01]));
        let mut b2 = record("trials/b2", TrialStatus::StoppedEarly, "B", 2);
        b2.test_returns = Some(returns_file(prior_dir.path(), "b2.csv", 1, &[0.0, 0.0, 0.01]));
        let prior = vec![a, b1, b2, record("trials/c", TrialStatus::Failed, "C", 1)];
        let own = vec![own];

        let alone = trial_count(own_dir.path(), &own, (1, 3)).unwrap().unwrap();
        assert_eq!((alone.n_trials, alone.n_runs, alone.sharpe_variance), (1, 1, 0.0));
        let with = |prior: &[TrialRecord], own: &[TrialRecord]| {
            trial_count_with_prior(own_dir.path(), own, Some((prior_dir.path(), prior)), (1, 3)).unwrap()
        };
        let count = with(&prior, &own).unwrap();
        assert_eq!((count.n_trials, count.n_runs), (3, 4));
        let sharpes = [0.5, 1.0, 2.0 / 3f64.sqrt()];
        let mean = sharpes.iter().sum::<f64>() / 3.0;
        let v = sharpes.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / 2.0;
        assert!((count.sharpe_variance - v).abs() < 1e-9, "{} vs {v}", count.sharpe_variance);
        // a prior ledger of failed trials adds nothing; two empty ones give None
        assert_eq!(with(&prior[3..], &own), Some(alone));
        assert_eq!(with(&prior[3..], &[]), None);
    }

    /// Standard normal draws by Box–Muller.
    fn gaussian(rng: &mut ChaCha8Rng) -> f64 {
        let u1 = 1.0 - rng.random::<f64>();
        let u2 = rng.random::<f64>();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// A ledger of `n_configs` configurations, each two seeds on two folds (bars
    /// 0..T/2 and T/2..T), of i.i.d. normal validation returns with std 1%; configuration
    /// 0 has the per-bar mean `edge`.
    fn noise_ledger(dir: &Path, n_configs: usize, bars: usize, edge: f64, seed: u64) -> Vec<TrialRecord> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut records = Vec::new();
        for c in 0..n_configs {
            for s in 0..2u64 {
                for fold in 0..2 {
                    let first = (fold * bars / 2) as i64;
                    let returns: Vec<f64> =
                        (0..bars / 2).map(|_| if c == 0 { edge } else { 0.0 } + 0.01 * gaussian(&mut rng)).collect();
                    let id = format!("c{c}-s{s}-f{fold}");
                    let mut r = record(&id, TrialStatus::Finished, &format!("config-{c}"), s);
                    r.fold = Some(fold);
                    r.validation_returns = Some(returns_file(dir, &format!("{id}.csv"), first, &returns));
                    records.push(r);
                }
            }
        }
        records
    }

    #[test]
    fn the_pbo_of_pure_noise_is_about_one_half_and_of_a_planted_edge_near_zero() {
        let dir = tempfile::tempdir().unwrap();
        let mut noise = Vec::new();
        for seed in 0..4 {
            let sub = dir.path().join(format!("noise-{seed}"));
            let records = noise_ledger(&sub, 12, 800, 0.0, seed);
            let pbo = ledger_pbo(&sub, &records, DEFAULT_PBO_PARTITIONS).unwrap().unwrap();
            assert_eq!((pbo.n_configs, pbo.n_rows, pbo.partitions, pbo.n_combinations), (12, 800, 16, 12_870));
            noise.push(pbo.pbo);
        }
        let mean = noise.iter().sum::<f64>() / noise.len() as f64;
        assert!((0.3..=0.7).contains(&mean), "PBO of noise {noise:?}");

        let sub = dir.path().join("edge");
        let records = noise_ledger(&sub, 12, 800, 0.003, 9);
        let pbo = ledger_pbo(&sub, &records, DEFAULT_PBO_PARTITIONS).unwrap().unwrap();
        assert!(pbo.pbo < 0.05, "PBO with a planted edge {}", pbo.pbo);
    }

    #[test]
    fn the_pbo_needs_two_configurations_and_enough_common_bars() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let records = noise_ledger(d, 3, 40, 0.0, 1);
        // Configurations 0 and 1 only (2 is failed): 40 common bars.
        let mut two = records.clone();
        two.iter_mut().filter(|r| r.config_hash == "config-2").for_each(|r| r.status = TrialStatus::Failed);
        assert_eq!(ledger_pbo(d, &two, 8).unwrap().unwrap().n_configs, 2);
        // One configuration: none.
        assert_eq!(ledger_pbo(d, &records[..4], 8).unwrap(), None);
        // 40 common bars cannot be cut into 16 + 16 + ... more partitions than bars.
        assert!(ledger_pbo(d, &records, 24).unwrap().is_some());
        let mut short = records.clone();
        short[0].validation_returns = Some(returns_file(d, "short.csv", 0, &[0.01; 10]));
        short[1].validation_returns = None;
        short[2].validation_returns = None;
        short[3].validation_returns = None;
        assert_eq!(ledger_pbo(d, &short, 16).unwrap(), None, "10 common bars < 16 partitions");
        assert!(ledger_pbo(d, &short, 10).unwrap().is_some());
        let err = ledger_pbo(d, &records, 15).unwrap_err().to_string();
        assert!(err.contains("partitions") && err.contains("15"), "{err}");
    }
}
