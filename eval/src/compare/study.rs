//! One comparison from models, data and a config, as `rltrade compare` runs it (and
//! `rltrade.compare` from Python): the model cards name the data and group seeds into
//! arms, the trial ledger is read before any backtest (a malformed one fails fast),
//! every arm is backtested at every fee level, the verdicts are deflated for the
//! ledger's trials, and `report.md`, `equity.png`/`.svg`, `equity.csv` and
//! `compare.json` are written into the output folder.

use std::path::{Path, PathBuf};

use rltrade_config::Config;
use rltrade_env::SplitName;
use rltrade_env::bar::format_interval;
use rltrade_env::baselines::MaSpec;
use rltrade_env::selection_stats::sharpe::DeflatedSharpe;
use rltrade_policy::ModelCard;
use rltrade_policy::model_dir::{EXPORT_DIR, MODEL_CARD_FILE, resolve_export_dir};
use serde::Serialize;
use serde_json::{Value, json};

use super::arms::{BaselineSpec, DEFAULT_BASELINES, arm_name, group_by_seed};
use super::bootstrap::{BootstrapConfig, Interval, MAX_BLOCK_LEN, MAX_RESAMPLES};
use super::equity_csv::write_equity_csv;
use super::plot::write_equity_plot;
use super::report::render;
use super::{
    ArmKind, ArmMetrics, CompareReport, CompareRequest, PboSummary, TrialCount, analyze, fee_levels, run_backtests,
};
use crate::error::{Error, Result};
use crate::ledger::{DEFAULT_PBO_PARTITIONS, Ledger, ledger_pbo, trial_count};
use crate::output::write_atomically;

/// What a comparison is asked.
#[derive(Clone, Debug)]
pub struct StudyRequest {
    /// The resolved, validated config: costs, cash and risk limits of every arm
    /// (`data.symbol` too; `data.path` is replaced by `data` or the first card's file).
    pub config: Config,
    /// Exported models (export or run folders); seeds of one configuration form one arm.
    pub models: Vec<PathBuf>,
    /// The bars' CSV; `None`: the first model card's data file.
    pub data: Option<PathBuf>,
    /// The baselines; empty: [`DEFAULT_BASELINES`].
    pub baselines: Vec<BaselineSpec>,
    /// The out-of-sample window.
    pub split: SplitName,
    /// The main fee, bps of notional; `None`: `execution.fee_bps`.
    pub fee_bps: Option<f64>,
    /// The other fee levels of the sensitivity table, bps; `None`: 0 and 20.
    pub fee_levels: Option<Vec<f64>>,
    /// The stationary bootstrap's settings.
    pub bootstrap: BootstrapConfig,
    /// The trial ledger; `None`: the `trials.jsonl` beside the models' runs, if any
    /// ([`default_ledger`]).
    pub ledger: Option<PathBuf>,
    /// The output folder; `None`: `<first run>/compare/`.
    pub out: Option<PathBuf>,
}

/// The files a comparison writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StudyPaths {
    /// `report.md`.
    pub report: PathBuf,
    /// `equity.svg`.
    pub plot_svg: PathBuf,
    /// `equity.png`.
    pub plot_png: PathBuf,
    /// `equity.csv`.
    pub equity_csv: PathBuf,
    /// `compare.json`.
    pub json: PathBuf,
}

/// A finished comparison.
#[derive(Clone, Debug)]
pub struct StudyOutcome {
    /// Every arm's metrics, intervals, differences and verdicts.
    pub report: CompareReport,
    /// `compare.json`'s content.
    pub json: Value,
    /// Where the files went.
    pub paths: StudyPaths,
}

impl StudyRequest {
    /// Checks the request's numbers (the CLI's flags take the same bounds).
    ///
    /// # Errors
    /// [`Error::Config`] naming `resamples` (1 to [`MAX_RESAMPLES`]), `block_len` (1 to
    /// [`MAX_BLOCK_LEN`] bars), `fee_bps` or `fee_levels` (finite, in [0, 10,000) bps).
    pub fn validate(&self) -> Result<()> {
        let bad = |field: &str, message: String| Error::Config { field: field.into(), message };
        let b = &self.bootstrap;
        if !(1..=MAX_RESAMPLES).contains(&b.resamples) {
            return Err(bad("resamples", format!("must be in 1..={MAX_RESAMPLES}, found {}", b.resamples)));
        }
        if let Some(len) = b.mean_block_len.filter(|l| !(1.0..=MAX_BLOCK_LEN).contains(l)) {
            return Err(bad("block_len", format!("must be in [1, {MAX_BLOCK_LEN}] bars, found {len}")));
        }
        let fee_ok = |f: &f64| (0.0..rltrade_exec::MAX_COST_BPS).contains(f);
        if let Some(fee) = self.fee_bps.filter(|f| !fee_ok(f)) {
            return Err(bad("fee_bps", format!("must be in [0, {}) bps, found {fee}", rltrade_exec::MAX_COST_BPS)));
        }
        if let Some(fee) = self.fee_levels.iter().flatten().find(|f| !fee_ok(f)) {
            return Err(bad("fee_levels", format!("must be in [0, {}) bps, found {fee}", rltrade_exec::MAX_COST_BPS)));
        }
        Ok(())
    }
}

/// Runs the comparison and writes its files (see the module documentation).
///
/// # Errors
/// A number out of range ([`StudyRequest::validate`]); no model; a model that cannot be loaded or does not fit the data; a data error
/// (file and line); a malformed ledger or returns file; an output that cannot be
/// written.
pub fn run_study(request: &StudyRequest) -> Result<StudyOutcome> {
    request.validate()?;
    let Some(first_model) = request.models.first() else {
        return Err(Error::Config { field: "models".into(), message: "give at least one exported model".into() });
    };
    let mut config = request.config.clone();
    // cards first: they name the data file when none is given, and group seeds
    let mut runs = Vec::new();
    let mut cards = Vec::new();
    for dir in &request.models {
        let export = resolve_export_dir(dir)?;
        let card = ModelCard::load(&export.join(MODEL_CARD_FILE))?;
        let seed = card.training["seed"].as_u64().unwrap_or(0);
        let t = &card.training;
        let settings = json!({"ppo": t["ppo"], "reward": t["reward"], "env": t["env"], "execution": t["execution"], "risk": t["risk"], "data": card.data.sha256});
        runs.push((arm_name(&card.name), seed, export, settings));
        cards.push(card);
    }
    let arms = group_by_seed(runs)?;
    let ledger = match &request.ledger {
        Some(path) => Some(Ledger::at(path)),
        None => default_ledger(&request.models)?,
    };
    let records = match &ledger {
        Some(l) => {
            tracing::info!("counting the trials of the ledger {}", l.path().display());
            Some(l.read()?)
        }
        None => None,
    };
    let data_path = match &request.data {
        Some(p) => p.clone(),
        None => cards[0].data.locate(&resolve_export_dir(first_model)?)?,
    };
    config.data.path.clone_from(&data_path);
    let series =
        config.load_series().map_err(|e| Error::Config { field: "data.path".into(), message: format!("{e:#}") })?;
    let fees = fee_levels(request.fee_bps.unwrap_or(config.execution.fee_bps), request.fee_levels.as_deref());
    let compare = CompareRequest {
        series,
        rl_arms: arms,
        baselines: if request.baselines.is_empty() { DEFAULT_BASELINES.to_vec() } else { request.baselines.clone() },
        split: request.split,
        fees_bps: fees,
        execution: config.execution.clone(),
        risk: config.risk.clone(),
        bootstrap: request.bootstrap,
    };
    let backtests = run_backtests(&compare)?;
    let mut trials: Option<TrialCount> = None;
    let mut pbo: Option<PboSummary> = None;
    if let (Some(l), Some(records)) = (&ledger, &records) {
        let first = &backtests.runs[0][0][0];
        trials = trial_count(l.dir(), records, (first.first_bar_ms, first.last_bar_ms))?;
        pbo = ledger_pbo(l.dir(), records, DEFAULT_PBO_PARTITIONS)?.as_ref().map(PboSummary::from);
        let n_rl = compare.rl_arms.len();
        match &trials {
            None => tracing::warn!(
                "the ledger {} has no finished trial: N = the {n_rl} RL arm(s) of this comparison",
                l.path().display()
            ),
            Some(t) if t.n_trials < n_rl => tracing::warn!(
                "the ledger {} counts {} configuration(s), fewer than the {n_rl} RL arms compared: are their trials in it?",
                l.path().display(),
                t.n_trials
            ),
            Some(_) => {}
        }
    }
    let mut report = analyze(&backtests, &compare.bootstrap, trials.as_ref());
    report.pbo = pbo;

    let out = request.out.clone().unwrap_or_else(|| {
        let run = if first_model.join(MODEL_CARD_FILE).is_file() {
            first_model.parent().unwrap_or(first_model)
        } else {
            first_model
        };
        run.join("compare")
    });
    std::fs::create_dir_all(&out).map_err(|source| Error::Io { path: out.clone(), source })?;
    let paths = StudyPaths {
        report: out.join("report.md"),
        plot_svg: out.join("equity.svg"),
        plot_png: out.join("equity.png"),
        equity_csv: out.join("equity.csv"),
        json: out.join("compare.json"),
    };
    write_equity_plot(&report, &compare.series.bars, &[], &paths.plot_svg, &paths.plot_png)?;
    write_equity_csv(&report, &paths.equity_csv)?;
    let risk = &config.risk;
    let provenance = vec![
        format!("Data: `{}` ({} bars).", data_path.display(), compare.series.bars.len()),
        format!(
            "Models: {}.",
            request.models.iter().map(|m| format!("`{}`", m.display())).collect::<Vec<_>>().join(", ")
        ),
        format!(
            "Risk: max exposure {}, max drawdown halt {}, daily loss halt {}, shorts {}.",
            risk.max_exposure,
            risk.max_drawdown.map_or_else(|| "none".into(), |v| v.to_string()),
            risk.daily_loss_limit.map_or_else(|| "none".into(), |v| v.to_string()),
            if risk.allow_short { "allowed" } else { "not allowed" }
        ),
        match (&ledger, &report.trials) {
            (Some(l), Some(t)) => format!(
                "Trial ledger: `{}`: {} configuration(s), {} finished run(s).",
                l.path().display(),
                t.n_trials,
                t.n_runs
            ),
            (Some(l), None) => format!("Trial ledger: `{}`, without a finished trial.", l.path().display()),
            (None, _) => "Trial ledger: none (N of the DSR = the RL arms of this comparison).".into(),
        },
    ];
    write_atomically(&paths.report, render(&report, "equity.png", &provenance).as_bytes())?;
    let value = report_json(&report, &data_path, &request.models, ledger.as_ref().map(Ledger::path), &paths);
    let text = serde_json::to_string_pretty(&value)
        .map_err(|e| Error::Report { path: paths.json.clone(), message: e.to_string() })?;
    write_atomically(&paths.json, text.as_bytes())?;
    Ok(StudyOutcome { report, json: value, paths })
}

/// The trial ledger of `models` when none is given: the `trials.jsonl` of the folder
/// that holds the run folder of every model (a run folder holds `export/`; a model given
/// as an export folder not named `export` is its own run folder), or else of the folder
/// above it (a walk-forward's `DIR/fold-k/seed-s`), if that file exists.
///
/// # Errors
/// A model path that is not a model, or that cannot be resolved.
pub fn default_ledger(models: &[PathBuf]) -> Result<Option<Ledger>> {
    let mut study: Option<PathBuf> = None;
    for model in models {
        let export = resolve_export_dir(model)?;
        let export = std::fs::canonicalize(&export).map_err(|source| Error::Io { path: export.clone(), source })?;
        let run = if export.file_name().is_some_and(|n| n == EXPORT_DIR) {
            export.parent().unwrap_or(&export)
        } else {
            &export
        };
        let Some(parent) = run.parent() else { return Ok(None) };
        match &study {
            Some(s) if s != parent => return Ok(None),
            Some(_) => {}
            None => study = Some(parent.to_path_buf()),
        }
    }
    // the folder above the runs, or the one above it (a walk-forward's
    // `DIR/fold-k/seed-s` runs have their ledger in `DIR`)
    let Some(study) = study else { return Ok(None) };
    Ok(study.ancestors().take(2).map(Ledger::in_dir).find(|l| l.path().is_file()))
}

/// An RL arm's Deflated Sharpe Ratio in `compare.json`: every input and output of
/// [`DeflatedSharpe`], with the runs behind its N.
#[derive(Serialize)]
struct DeflatedJson<'a> {
    #[serde(flatten)]
    deflated: &'a DeflatedSharpe,
    n_runs: Option<usize>,
}

/// One arm in `compare.json`: its metrics and the rest side by side in one object.
#[derive(Serialize)]
struct ArmJson<'a> {
    #[serde(flatten)]
    metrics: &'a ArmMetrics,
    name: &'a str,
    kind: ArmKind,
    seeds: &'a [u64],
    chosen: Option<MaSpec>,
    sharpe_std: Option<f64>,
    total_return_std: Option<f64>,
    sharpe_ci95: Interval,
    total_return_ci95: Interval,
    deflated_sharpe: Option<DeflatedJson<'a>>,
    runs: usize,
}

/// `compare.json`: every arm, the differences and verdicts, the fee sensitivity, the
/// trials and PBO, the window, costs, bootstrap and the files written.
fn report_json(
    report: &CompareReport,
    data: &Path,
    models: &[PathBuf],
    ledger: Option<&Path>,
    paths: &StudyPaths,
) -> Value {
    let arms: Vec<ArmJson<'_>> = report
        .arms
        .iter()
        .map(|a| ArmJson {
            metrics: &a.metrics,
            name: &a.name,
            kind: a.kind,
            seeds: &a.seeds,
            chosen: a.chosen,
            sharpe_std: a.sharpe_std,
            total_return_std: a.total_return_std,
            sharpe_ci95: a.sharpe_ci95,
            total_return_ci95: a.total_return_ci95,
            deflated_sharpe: a.deflated_sharpe.as_ref().map(|deflated| DeflatedJson { deflated, n_runs: a.n_runs }),
            runs: a.runs.len(),
        })
        .collect();
    json!({
        "arms": arms,
        "differences": report.differences,
        "fee_sensitivity": report.fee_sensitivity,
        "report_path": paths.report,
        "plot_path": paths.plot_svg,
        "equity_csv_path": paths.equity_csv,
        "ledger": ledger,
        "trials": report.trials,
        "pbo": report.pbo,
        "data_file": data.display().to_string(),
        "data_sha256": report.data_sha256,
        "symbol": report.symbol,
        "interval": format_interval(report.interval_ms),
        "split": report.window.split,
        "first_bar_ms": report.first_bar_ms,
        "last_bar_ms": report.last_bar_ms,
        "bars": report.window.bars(),
        "fee_bps": report.fee_bps,
        "slippage_bps": report.slippage_bps,
        "initial_cash": report.initial_cash,
        "bootstrap": {
            "resamples": report.bootstrap_resamples,
            "mean_block_len": report.bootstrap_mean_block_len,
            "seed": report.bootstrap_seed,
        },
        "models": models,
    })
}
