//! The offline A/B comparison: RL policies (exported, run through ONNX Runtime) against
//! baselines, out of sample, through one backtest code path, one set of costs and risk
//! limits, and one evaluation window.
//!
//! For each arm and fee level every run is backtested; Sharpe and total return get 95%
//! intervals from a paired stationary block bootstrap of per-bar returns
//! ([`bootstrap`]), and every RL arm gets its paired difference to every baseline, its
//! Deflated Sharpe Ratio, and a [`verdict::Verdict`] on each difference.

pub mod arms;
pub mod bootstrap;
pub mod equity_csv;
pub mod plot;
pub mod report;
pub mod study;
pub mod verdict;

use std::sync::Arc;

use rltrade_env::TradingSetup;
use rltrade_env::backtest::{
    BacktestResult, EvaluationWindow, evaluation_window, first_decision_index, risk_warmup, run_backtest,
};
use rltrade_env::baselines::{BuyAndHold, MaCrossover, MaSpec};
use rltrade_env::metrics::Metrics;
use rltrade_env::selection_stats::pbo::Pbo;
use rltrade_env::selection_stats::sharpe::{
    DeflatedSharpe, deflated_sharpe_ratio, sharpe_per_bar, trials_sharpe_variance,
};
use rltrade_env::{BarSeries, EnvConfig, MarketData, Policy, SplitName, Warmup};
use rltrade_exec::{ExecutionConfig, RiskConfig};
use rltrade_policy::{OnnxModel, OnnxPolicy, SettingsSource};
use serde::{Deserialize, Serialize};

pub use self::arms::ArmKind;
use self::arms::{BaselineSpec, MA_AUTO_GRID, RlArmSpec};
use self::bootstrap::{BootstrapConfig, Interval, differences, paired_draws, percentile_interval, returns_from_equity};
use self::verdict::Verdict;
use crate::error::{Error, Result};

/// What to compare, on which data, with which costs.
#[derive(Clone, Debug)]
pub struct CompareRequest {
    /// The bars (checked against every model's card: symbol, interval).
    pub series: BarSeries,
    /// RL arms (at least one).
    pub rl_arms: Vec<RlArmSpec>,
    /// Baseline arms.
    pub baselines: Vec<BaselineSpec>,
    /// The evaluation split (its boundaries come from the models' cards).
    pub split: SplitName,
    /// Fee levels in bps of fill notional; the first drives the main table.
    pub fees_bps: Vec<f64>,
    /// Cash, slippage and venue rules (the fee is replaced by each level).
    pub execution: ExecutionConfig,
    /// Risk limits, the same for every arm.
    pub risk: RiskConfig,
    /// Bootstrap settings.
    pub bootstrap: BootstrapConfig,
}

/// One arm's results at the main fee.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ArmReport {
    /// `buy-and-hold`, `ma:50:200`, `ma:auto`, or the RL arm's run name.
    pub name: String,
    /// RL or baseline.
    pub kind: ArmKind,
    /// The seeds of an RL arm (empty for baselines).
    pub seeds: Vec<u64>,
    /// For `ma:auto`: the pair chosen on the validation split (serialized `ma:F:S`).
    pub chosen: Option<MaSpec>,
    /// The backtest metrics (for RL: the mean over seeds of each).
    pub metrics: ArmMetrics,
    /// Standard deviation of Sharpe over seeds (ddof 1; `None` for one run).
    pub sharpe_std: Option<f64>,
    /// Standard deviation of total return over seeds (ddof 1; `None` for one run).
    pub total_return_std: Option<f64>,
    /// 95% bootstrap interval of Sharpe (of the seed mean for RL).
    pub sharpe_ci95: Interval,
    /// 95% bootstrap interval of total return (a fraction; of the seed mean for RL).
    pub total_return_ci95: Interval,
    /// For an RL arm: the Probabilistic and Deflated Sharpe Ratios of its mean-over-seeds
    /// equity's per-bar simple returns, with their inputs
    /// ([`rltrade_env::selection_stats::sharpe::deflated_sharpe_ratio`]). The number of
    /// trials N is the number of RL arms (configurations) in this comparison and the
    /// variance that of their per-bar Sharpe ratios on this window; with one arm, DSR =
    /// PSR. With a [`TrialCount`] (from a trial ledger, [`crate::ledger::trial_count`]),
    /// N and V are its. `None` for baselines.
    pub deflated_sharpe: Option<DeflatedSharpe>,
    /// For an RL arm: the trained runs behind the N of its DSR ([`TrialCount::n_runs`],
    /// or else the seed runs of every RL arm in this comparison). `None` for baselines.
    pub n_runs: Option<usize>,
    /// One backtest per seed (one for a baseline), at the main fee.
    #[serde(skip)]
    pub runs: Vec<BacktestResult>,
}

/// An arm's backtest metrics: the fields of [`rltrade_env::metrics::Metrics`] (same
/// names, units and meaning), each the mean over the arm's runs (its seeds; one run for a
/// baseline), so counts may be fractional. `None` (JSON `null`) where any run's value is
/// undefined or not finite.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ArmMetrics {
    /// Equity at the last close of the window, quote currency.
    pub final_equity: Option<f64>,
    /// `final_equity / initial_equity − 1`.
    pub total_return: Option<f64>,
    /// Compound annual growth (`None` for a window under 30 days).
    pub cagr: Option<f64>,
    /// Annualized volatility of per-bar returns.
    pub volatility: Option<f64>,
    /// Annualized Sharpe ratio (risk-free rate 0).
    pub sharpe: Option<f64>,
    /// Annualized Sortino ratio.
    pub sortino: Option<f64>,
    /// Maximum drawdown, a positive fraction.
    pub max_drawdown: Option<f64>,
    /// CAGR / max drawdown.
    pub calmar: Option<f64>,
    /// Closed round trips.
    pub num_trades: Option<f64>,
    /// Share of closed trades with PnL > 0 after fees.
    pub win_rate: Option<f64>,
    /// Fraction of bars that closed with a position.
    pub exposure: Option<f64>,
    /// Fill notional / mean equity.
    pub turnover: Option<f64>,
    /// Trading fees paid, quote currency.
    pub fees_paid: Option<f64>,
    /// Borrow fees paid on shorts, quote currency.
    pub borrow_fees_paid: Option<f64>,
    /// Number of fills.
    pub num_fills: Option<f64>,
    /// Closes in the window.
    pub bars: Option<f64>,
    /// Historical one-bar VaR at 95%, a loss fraction.
    pub var_95: Option<f64>,
    /// Historical one-bar Expected Shortfall at 95%.
    pub es_95: Option<f64>,
    /// Historical one-bar VaR at 99%.
    pub var_99: Option<f64>,
    /// Historical one-bar Expected Shortfall at 99%.
    pub es_99: Option<f64>,
}

impl ArmMetrics {
    /// The mean over `runs` of each metric.
    pub fn mean<'a>(runs: impl IntoIterator<Item = &'a Metrics>) -> Self {
        let runs: Vec<&Metrics> = runs.into_iter().collect();
        let mean = |f: &dyn Fn(&Metrics) -> Option<f64>| mean_defined(runs.iter().map(|m| f(m)));
        Self {
            final_equity: mean(&|m| Some(m.final_equity)),
            total_return: mean(&|m| Some(m.total_return)),
            cagr: mean(&|m| m.cagr),
            volatility: mean(&|m| Some(m.volatility)),
            sharpe: mean(&|m| m.sharpe),
            sortino: mean(&|m| m.sortino),
            max_drawdown: mean(&|m| Some(m.max_drawdown)),
            calmar: mean(&|m| m.calmar),
            num_trades: mean(&|m| Some(m.num_trades as f64)),
            win_rate: mean(&|m| m.win_rate),
            exposure: mean(&|m| Some(m.exposure)),
            turnover: mean(&|m| Some(m.turnover)),
            fees_paid: mean(&|m| Some(m.fees_paid)),
            borrow_fees_paid: mean(&|m| Some(m.borrow_fees_paid)),
            num_fills: mean(&|m| Some(m.num_fills as f64)),
            bars: mean(&|m| Some(m.bars as f64)),
            var_95: mean(&|m| Some(m.var_95)),
            es_95: mean(&|m| Some(m.es_95)),
            var_99: mean(&|m| Some(m.var_99)),
            es_99: mean(&|m| Some(m.es_99)),
        }
    }
}

/// The mean of `values`; `None` when there are none, when any is `None` or not finite,
/// or when the mean is not finite.
fn mean_defined(values: impl Iterator<Item = Option<f64>>) -> Option<f64> {
    let values: Option<Vec<f64>> = values.map(|v| v.filter(|x| x.is_finite())).collect();
    match values {
        Some(v) if !v.is_empty() => Some(v.iter().sum::<f64>() / v.len() as f64).filter(|m| m.is_finite()),
        _ => None,
    }
}

/// The paired difference RL arm − baseline.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DifferenceReport {
    /// The RL arm.
    pub arm: String,
    /// The baseline.
    pub baseline: String,
    /// Sharpe difference (point estimate: mean over seeds minus the baseline's).
    pub sharpe_diff: Option<f64>,
    /// Its 95% paired bootstrap interval.
    pub sharpe_diff_ci95: Interval,
    /// Total return difference (fractions).
    pub total_return_diff: f64,
    /// Its 95% paired bootstrap interval.
    pub total_return_diff_ci95: Interval,
    /// Share of resamples in which the RL arm's Sharpe is higher.
    pub prob_sharpe_higher: f64,
    /// The RL arm's Deflated Sharpe Ratio (a probability; `None` where undefined), the
    /// second test of the verdict.
    pub dsr: Option<f64>,
    /// The verdict: beats only when the Sharpe difference's 95% interval lies above 0
    /// and `dsr` ≥ [`verdict::DSR_THRESHOLD`].
    pub verdict: Verdict,
    /// The verdict as one English sentence ([`Verdict::sentence`]).
    pub verdict_sentence: String,
}

/// The Probability of Backtest Overfitting of a comparison's trials (CSCV over the trial
/// ledger's validation returns, [`crate::ledger::ledger_pbo`]), without its logits.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct PboSummary {
    /// The PBO, a probability in [0, 1]: the share of CSCV combinations whose in-sample
    /// best configuration ranks at or below the median out of sample (Bailey, Borwein,
    /// López de Prado & Zhu 2017). About 0.5 for configurations without skill.
    pub pbo: f64,
    /// Configurations N (matrix columns).
    pub n_configs: usize,
    /// Bars T (matrix rows): the validation bars common to every configuration.
    pub n_bars: usize,
    /// Partitions S.
    pub partitions: usize,
    /// Combinations C(S, S/2) evaluated.
    pub n_combinations: usize,
}

impl From<&Pbo> for PboSummary {
    fn from(p: &Pbo) -> Self {
        Self {
            pbo: p.pbo,
            n_configs: p.n_configs,
            n_bars: p.n_rows,
            partitions: p.partitions,
            n_combinations: p.n_combinations,
        }
    }
}

/// One arm at one fee level.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FeeArm {
    /// Arm name.
    pub name: String,
    /// Sharpe (mean over seeds for RL).
    pub sharpe: Option<f64>,
    /// Total return, a fraction (mean over seeds for RL).
    pub total_return: f64,
    /// Final equity, quote currency (mean over seeds for RL).
    pub final_equity: f64,
    /// Turnover (mean over seeds for RL).
    pub turnover: f64,
}

/// All arms at one fee level.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FeeRow {
    /// Fee, bps of fill notional.
    pub fee_bps: f64,
    /// The arms.
    pub arms: Vec<FeeArm>,
}

/// The whole comparison.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CompareReport {
    /// Arms at the main fee.
    pub arms: Vec<ArmReport>,
    /// RL − baseline paired differences.
    pub differences: Vec<DifferenceReport>,
    /// Every arm at every fee level.
    pub fee_sensitivity: Vec<FeeRow>,
    /// The evaluation window.
    pub window: EvaluationWindow,
    /// Open time of the window's first bar, ms since epoch UTC.
    pub first_bar_ms: i64,
    /// Open time of its last bar.
    pub last_bar_ms: i64,
    /// Symbol.
    pub symbol: String,
    /// Bar interval, ms.
    pub interval_ms: i64,
    /// The data file's SHA-256.
    pub data_sha256: String,
    /// Main fee, bps.
    pub fee_bps: f64,
    /// Slippage, bps.
    pub slippage_bps: f64,
    /// Starting cash.
    pub initial_cash: f64,
    /// Bootstrap resamples.
    pub bootstrap_resamples: usize,
    /// Mean block length used, bars.
    pub bootstrap_mean_block_len: f64,
    /// Bootstrap seed.
    pub bootstrap_seed: u64,
    /// The trials the Deflated Sharpe Ratios count (`None`: the RL arms of this comparison).
    pub trials: Option<TrialCount>,
    /// The Probability of Backtest Overfitting of the trial ledger's configurations;
    /// `None` without a ledger or where it is undefined. [`analyze`] leaves it `None`:
    /// the caller that holds the ledger fills it ([`crate::ledger::ledger_pbo`]).
    pub pbo: Option<PboSummary>,
}

struct RlModel {
    seed: u64,
    policy: OnnxPolicy,
    data: Arc<MarketData>,
    env: EnvConfig,
}

/// Who an arm is: its name, kind, seeds (RL) and tuned pair (`ma:auto`).
#[derive(Clone, Debug, PartialEq)]
pub struct ArmIdentity {
    /// `buy-and-hold`, `ma:50:200`, `ma:auto`, or the RL arm's run name.
    pub name: String,
    /// RL or baseline.
    pub kind: ArmKind,
    /// The seeds of an RL arm, in the order of its runs (empty for baselines).
    pub seeds: Vec<u64>,
    /// For `ma:auto`: the pair chosen on the validation split.
    pub chosen: Option<MaSpec>,
}

/// Every arm's backtests at every fee level over one evaluation period: one window
/// ([`run_backtests`]) or test windows joined in time (walk-forward). RL arms come first.
#[derive(Clone, Debug)]
pub struct ArmBacktests {
    /// The arms, RL first, in the order of `runs[fee]`.
    pub arms: Vec<ArmIdentity>,
    /// Fee levels, bps of fill notional; the first is the main fee.
    pub fees_bps: Vec<f64>,
    /// Backtests `[fee][arm][run]`: one run per seed for RL, one for a baseline; every
    /// run's equity curve has the same bars.
    pub runs: Vec<Vec<Vec<BacktestResult>>>,
    /// The evaluation window (of a stitched period: the first window's split, its start
    /// and the last window's end).
    pub window: EvaluationWindow,
    /// Symbol.
    pub symbol: String,
    /// Bar interval, ms.
    pub interval_ms: i64,
    /// The data file's SHA-256.
    pub data_sha256: String,
    /// Starting cash, quote currency.
    pub initial_cash: f64,
    /// Slippage, bps.
    pub slippage_bps: f64,
}

/// The trials behind a selection, for the Deflated Sharpe Ratio: N and the variance of
/// their per-bar Sharpe ratios on the evaluation window.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrialCount {
    /// N: distinct configurations tried (at least 1).
    pub n_trials: usize,
    /// Trained runs behind them (seeds, folds).
    pub n_runs: usize,
    /// Sample variance (ddof 1) of the configurations' per-bar Sharpe ratios on the
    /// evaluation window; 0 for one configuration.
    pub sharpe_variance: f64,
}

/// The fee sensitivity levels of `compare` and `walkforward`, in bps of fill notional:
/// the main fee `main` first, then `extra` (default 0 and 20), without repeating `main`.
pub fn fee_levels(main: f64, extra: Option<&[f64]>) -> Vec<f64> {
    let extra = extra.unwrap_or(&[0.0, 20.0]);
    std::iter::once(main).chain(extra.iter().copied().filter(|f| *f != main)).collect()
}

/// Runs the comparison: [`run_backtests`], then [`analyze`] with N = the number of RL
/// arms (no ledger).
///
/// # Errors
/// See [`run_backtests`].
pub fn run_compare(request: &CompareRequest) -> Result<CompareReport> {
    let backtests = run_backtests(request)?;
    Ok(analyze(&backtests, &request.bootstrap, None))
}

/// Backtests every arm of `request` at every fee level on one window.
///
/// # Errors
/// No RL arm or fee, models that do not fit the data or each other (splits, action
/// lists), missing ONNX Runtime, backtest errors, an inference error in a run.
pub fn run_backtests(request: &CompareRequest) -> Result<ArmBacktests> {
    let config_err = |field: &str, message: String| Error::Config { field: field.into(), message };
    let Some(&main_fee) = request.fees_bps.first() else {
        return Err(config_err("--fee-bps", "give at least one fee level".into()));
    };
    // Load every model with its own market data (its card's features, normalization, split dates).
    let mut rl: Vec<(String, Vec<RlModel>)> = Vec::new();
    let mut first: Option<(String, rltrade_env::Splits)> = None;
    // the RL arm's protective orders (every card must agree); the baselines run with them too
    let mut protect: Option<(String, rltrade_exec::ProtectConfig)> = None;
    for arm in &request.rl_arms {
        let mut models = Vec::new();
        for (seed, dir) in &arm.models {
            let model = OnnxModel::load(dir)?;
            let card = model.card().clone();
            let data = Arc::new(card.market_data(request.series.clone())?);
            match &first {
                Some((name, splits)) if *splits != data.splits => {
                    return Err(config_err(
                        "--models",
                        format!("{name} and {} split the data differently: compare them separately", card.name),
                    ));
                }
                Some(_) => {}
                None => first = Some((card.name.clone(), data.splits.clone())),
            }
            match &protect {
                Some((name, first)) => card.check_protect(first, SettingsSource::ModelCard(name.clone()))?,
                None => protect = Some((card.name.clone(), card.protect)),
            }
            let env = card.env_config();
            models.push(RlModel { seed: *seed, policy: OnnxPolicy::new(model).with_name(&arm.name), data, env });
        }
        rl.push((arm.name.clone(), models));
    }
    if first.is_none() {
        return Err(config_err("--models", "give at least one model".into()));
    }
    let base_data = Arc::clone(&rl[0].1[0].data);
    let base_env = rl[0].1[0].env.clone();
    let protect = protect.map(|(_, protect)| protect).unwrap_or_default();
    let setup_at = |data: &Arc<MarketData>, env: &EnvConfig, fee: f64| TradingSetup {
        data: Arc::clone(data),
        env: env.clone(),
        execution: ExecutionConfig { fee_bps: fee, ..request.execution.clone() },
        risk: request.risk.clone(),
        protect,
    };

    // ma:auto: the grid's best validation Sharpe at the main fee.
    let mut baselines: Vec<(BaselineSpec, Option<MaSpec>)> = Vec::new();
    for spec in &request.baselines {
        let chosen = match spec {
            BaselineSpec::MaAuto => {
                Some(choose_ma(&setup_at(&base_data, &base_env, main_fee), request.risk.allow_short)?)
            }
            _ => None,
        };
        baselines.push((*spec, chosen));
    }
    let make_baseline = |spec: &BaselineSpec, chosen: &Option<MaSpec>| -> Result<Box<dyn Policy>> {
        let actions = &base_env.actions;
        Ok(match spec {
            BaselineSpec::BuyAndHold => Box::new(BuyAndHold::new(actions)?),
            BaselineSpec::Ma { fast, slow } => {
                Box::new(MaCrossover::new(*fast, *slow, actions, request.risk.allow_short)?)
            }
            BaselineSpec::MaAuto => {
                let MaSpec { fast, slow } =
                    chosen.ok_or_else(|| config_err("ma:auto", "no MA pair was chosen".into()))?;
                Box::new(MaCrossover::new(fast, slow, actions, request.risk.allow_short)?)
            }
        })
    };

    // One window for every arm.
    let mut warmups = Vec::new();
    for (_, models) in &rl {
        // each model's first decidable bar on its own data (window, feature lookback)
        warmups.extend(
            models.iter().map(|m| (m.policy.name(), Warmup::Bars(first_decision_index(&m.data, m.policy.warmup())))),
        );
    }
    for (spec, chosen) in &baselines {
        let p = make_baseline(spec, chosen)?;
        warmups.push((p.name(), p.warmup()));
    }
    // and the history the risk limits need (the VaR limit's lookback)
    warmups.extend(risk_warmup(&request.risk));
    let window = evaluation_window(&base_data, request.split, &warmups)?;

    // Backtest every arm at every fee.
    let mut per_fee: Vec<Vec<Vec<BacktestResult>>> = Vec::new(); // [fee][arm][seed]
    for &fee in &request.fees_bps {
        let mut arms_at_fee = Vec::new();
        for (_, models) in rl.iter_mut() {
            let mut runs = Vec::new();
            for m in models.iter_mut() {
                runs.push(run_backtest(&setup_at(&m.data, &m.env, fee), window, &mut m.policy)?);
            }
            arms_at_fee.push(runs);
        }
        for (spec, chosen) in &baselines {
            let mut p = make_baseline(spec, chosen)?;
            arms_at_fee.push(vec![run_backtest(&setup_at(&base_data, &base_env, fee), window, p.as_mut())?]);
        }
        per_fee.push(arms_at_fee);
    }

    let arms = rl
        .iter()
        .map(|(name, models)| ArmIdentity {
            name: name.clone(),
            kind: ArmKind::Rl,
            seeds: models.iter().map(|m| m.seed).collect(),
            chosen: None,
        })
        .chain(baselines.iter().map(|(spec, chosen)| ArmIdentity {
            name: spec.to_string(),
            kind: ArmKind::Baseline,
            seeds: vec![],
            chosen: *chosen,
        }))
        .collect();
    Ok(ArmBacktests {
        arms,
        fees_bps: request.fees_bps.clone(),
        runs: per_fee,
        window,
        symbol: request.series.symbol.clone(),
        interval_ms: request.series.interval_ms,
        data_sha256: request.series.sha256.clone(),
        initial_cash: request.execution.initial_cash,
        slippage_bps: request.execution.slippage_bps,
    })
}

/// The comparison's statistics from its backtests: per-arm metrics (means over seeds),
/// paired stationary block-bootstrap intervals, RL − baseline differences with their
/// [`Verdict`]s, the fee table and, for every RL arm, PSR and DSR with N and V from
/// `trials` (`None`: N = the number of RL arms, V their Sharpe variance on this window).
/// The report's `pbo` is left `None`.
pub fn analyze(
    backtests: &ArmBacktests,
    bootstrap_config: &BootstrapConfig,
    trials: Option<&TrialCount>,
) -> CompareReport {
    let per_fee = &backtests.runs;
    let main_fee = backtests.fees_bps[0];
    // Bootstrap at the main fee, paired across arms.
    let main = &per_fee[0];
    let initial = backtests.initial_cash;
    let returns: Vec<Vec<Vec<f64>>> = main
        .iter()
        .map(|runs| {
            runs.iter()
                .map(|r| returns_from_equity(initial, &r.equity_curve.iter().map(|p| p.equity).collect::<Vec<_>>()))
                .collect()
        })
        .collect();
    let periods = rltrade_env::bar::periods_per_year(backtests.interval_ms);
    let draws = paired_draws(&returns, periods, bootstrap_config);
    let n_bars = returns.first().and_then(|a| a.first()).map_or(0, Vec::len);

    let n_rl = backtests.arms.iter().filter(|a| a.kind == ArmKind::Rl).count();
    let deflated = deflated_sharpes(main, n_rl, initial, trials);
    let n_runs = trials.map_or_else(|| main[..n_rl].iter().map(Vec::len).sum(), |t| t.n_runs);
    let mut arms = Vec::new();
    for (i, ((identity, runs), d)) in backtests.arms.iter().zip(main).zip(&draws).enumerate() {
        let ArmIdentity { name, kind, seeds, chosen } = identity.clone();
        let sharpes: Vec<f64> = runs.iter().filter_map(|r| r.metrics.sharpe).collect();
        let totals: Vec<f64> = runs.iter().map(|r| r.metrics.total_return).collect();
        arms.push(ArmReport {
            name,
            kind,
            seeds,
            chosen,
            metrics: ArmMetrics::mean(runs.iter().map(|r| &r.metrics)),
            sharpe_std: sample_std(&sharpes),
            total_return_std: sample_std(&totals),
            sharpe_ci95: percentile_interval(&d.sharpe),
            total_return_ci95: percentile_interval(&d.total_return),
            deflated_sharpe: deflated.get(i).cloned().flatten(),
            n_runs: (kind == ArmKind::Rl).then_some(n_runs),
            runs: runs.clone(),
        });
    }
    let mut diffs = Vec::new();
    for (i, a) in arms.iter().enumerate().filter(|(_, a)| a.kind == ArmKind::Rl) {
        for (j, b) in arms.iter().enumerate().filter(|(_, b)| b.kind == ArmKind::Baseline) {
            let ds = differences(&draws[i].sharpe, &draws[j].sharpe);
            let dr = differences(&draws[i].total_return, &draws[j].total_return);
            let sharpe = |arm: &ArmReport| arm.metrics.sharpe;
            let total = |arm: &ArmReport| arm.metrics.total_return.unwrap_or(f64::NAN);
            let sharpe_diff_ci95 = percentile_interval(&ds);
            let dsr = a.deflated_sharpe.as_ref().and_then(|d| d.dsr);
            let verdict = Verdict::new(sharpe_diff_ci95, dsr);
            diffs.push(DifferenceReport {
                arm: a.name.clone(),
                baseline: b.name.clone(),
                sharpe_diff: sharpe(a).zip(sharpe(b)).map(|(x, y)| x - y),
                sharpe_diff_ci95,
                total_return_diff: total(a) - total(b),
                total_return_diff_ci95: percentile_interval(&dr),
                prob_sharpe_higher: ds.iter().filter(|x| **x > 0.0).count() as f64 / ds.len().max(1) as f64,
                dsr,
                verdict,
                verdict_sentence: verdict.sentence(&a.name, &b.name, sharpe_diff_ci95, dsr),
            });
        }
    }
    let fee_sensitivity = backtests
        .fees_bps
        .iter()
        .zip(per_fee)
        .map(|(&fee_bps, arms_at_fee)| FeeRow {
            fee_bps,
            arms: arms
                .iter()
                .zip(arms_at_fee)
                .map(|(arm, runs)| {
                    let mean = |f: &dyn Fn(&BacktestResult) -> f64| runs.iter().map(f).sum::<f64>() / runs.len() as f64;
                    // undefined when any seed's Sharpe is (as in the main table)
                    let sharpes: Option<Vec<f64>> = runs.iter().map(|r| r.metrics.sharpe).collect();
                    FeeArm {
                        name: arm.name.clone(),
                        sharpe: sharpes.map(|s| s.iter().sum::<f64>() / s.len() as f64),
                        total_return: mean(&|r| r.metrics.total_return),
                        final_equity: mean(&|r| r.metrics.final_equity),
                        turnover: mean(&|r| r.metrics.turnover),
                    }
                })
                .collect(),
        })
        .collect();
    CompareReport {
        arms,
        differences: diffs,
        fee_sensitivity,
        window: backtests.window,
        first_bar_ms: main[0][0].first_bar_ms,
        last_bar_ms: main[0][0].last_bar_ms,
        symbol: backtests.symbol.clone(),
        interval_ms: backtests.interval_ms,
        data_sha256: backtests.data_sha256.clone(),
        fee_bps: main_fee,
        slippage_bps: backtests.slippage_bps,
        initial_cash: initial,
        bootstrap_resamples: bootstrap_config.resamples,
        bootstrap_mean_block_len: bootstrap::mean_block_len(bootstrap_config, n_bars),
        bootstrap_seed: bootstrap_config.seed,
        trials: trials.copied(),
        pbo: None,
    }
}

/// The [`DeflatedSharpe`] of each of the first `n_rl` arms of `main` (the RL arms, each
/// a list of seed runs): the per-bar simple returns of the mean-over-seeds equity curve,
/// with N and V from `trials`, or else N = `n_rl` trials and V the sample variance of the
/// arms' per-bar Sharpe ratios (0 for one arm, where DSR = PSR). `None` where the
/// statistics are undefined.
fn deflated_sharpes(
    main: &[Vec<BacktestResult>],
    n_rl: usize,
    initial: f64,
    trials: Option<&TrialCount>,
) -> Vec<Option<DeflatedSharpe>> {
    let returns: Vec<Vec<f64>> = main[..n_rl]
        .iter()
        .map(|runs| {
            let n_bars = runs.first().map_or(0, |r| r.equity_curve.len());
            let mean: Vec<f64> = (0..n_bars)
                .map(|t| runs.iter().map(|r| r.equity_curve[t].equity).sum::<f64>() / runs.len() as f64)
                .collect();
            returns_from_equity(initial, &mean)
        })
        .collect();
    let sharpes: Vec<f64> = returns.iter().filter_map(|r| sharpe_per_bar(r)).collect();
    let (n, variance) = match trials {
        Some(t) => (t.n_trials.max(1), t.sharpe_variance),
        None if n_rl > 1 => (n_rl, trials_sharpe_variance(&sharpes).unwrap_or(0.0)),
        None => (1, 0.0),
    };
    returns.iter().map(|r| deflated_sharpe_ratio(r, n, variance).ok()).collect()
}

/// The MA pair of [`MA_AUTO_GRID`] with the highest Sharpe on the validation split
/// (no Sharpe ranks last; ties go to the first in grid order).
///
/// # Errors
/// Backtest errors (too little history before the validation split).
pub fn choose_ma(setup: &TradingSetup, allow_short: bool) -> Result<MaSpec> {
    let mut best: Option<(MaSpec, f64)> = None;
    for &(fast, slow) in &MA_AUTO_GRID {
        let mut p = MaCrossover::new(fast, slow, &setup.env.actions, allow_short)?;
        let window = setup.evaluation_window(SplitName::Validation, &[(p.name(), p.warmup())])?;
        let sharpe = run_backtest(setup, window, &mut p)?.metrics.sharpe.unwrap_or(f64::NEG_INFINITY);
        if best.is_none_or(|(_, s)| sharpe > s) {
            best = Some((MaSpec { fast, slow }, sharpe));
        }
    }
    Ok(best.map_or(MaSpec { fast: 50, slow: 200 }, |(pair, _)| pair))
}

fn sample_std(x: &[f64]) -> Option<f64> {
    if x.len() < 2 {
        return None;
    }
    let n = x.len() as f64;
    let mean = x.iter().sum::<f64>() / n;
    Some((x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Map, Value};

    fn metrics(sharpe: Option<f64>, num_trades: usize, turnover: f64) -> Metrics {
        Metrics {
            final_equity: 10_500.0,
            total_return: 0.05,
            cagr: Some(0.2),
            volatility: 0.4,
            sharpe,
            sortino: Some(1.5),
            max_drawdown: 0.1,
            calmar: Some(2.0),
            num_trades,
            win_rate: None,
            exposure: 0.5,
            turnover,
            fees_paid: 12.5,
            borrow_fees_paid: 0.0,
            num_fills: 7,
            bars: 100,
            var_95: 0.02,
            es_95: 0.03,
            var_99: 0.04,
            es_99: 0.05,
        }
    }

    /// The JSON map of means the comparison used to build from each run's metrics JSON.
    fn mean_of_json(runs: &[Metrics]) -> Value {
        let objects: Vec<Map<String, Value>> = runs
            .iter()
            .map(|m| match serde_json::to_value(m).unwrap() {
                Value::Object(o) => o,
                other => panic!("{other}"),
            })
            .collect();
        let mut out = Map::new();
        for key in objects[0].keys() {
            let values: Option<Vec<f64>> = objects.iter().map(|o| o.get(key).and_then(Value::as_f64)).collect();
            let v = match values {
                Some(v) if !v.is_empty() => serde_json::json!(v.iter().sum::<f64>() / v.len() as f64),
                _ => Value::Null,
            };
            out.insert(key.clone(), v);
        }
        Value::Object(out)
    }

    #[test]
    fn arm_metrics_are_the_mean_of_every_field_as_the_json_map_was() {
        let cases = [
            ("one run", vec![metrics(Some(0.7), 3, 1.25)]),
            ("two seeds", vec![metrics(Some(0.7), 3, 1.25), metrics(Some(-0.2), 4, 2.5)]),
            ("an undefined Sharpe", vec![metrics(Some(0.7), 3, 1.25), metrics(None, 4, 2.5)]),
            ("a NaN", vec![metrics(Some(f64::NAN), 3, f64::NAN), metrics(Some(1.0), 4, 2.5)]),
        ];
        for (name, runs) in cases {
            let typed = ArmMetrics::mean(&runs);
            assert_eq!(serde_json::to_value(typed).unwrap(), mean_of_json(&runs), "{name}");
        }
        let two = ArmMetrics::mean(&[metrics(Some(0.75), 3, 1.25), metrics(Some(-0.25), 4, 2.5)]);
        assert_eq!((two.num_trades, two.sharpe, two.win_rate), (Some(3.5), Some(0.25), None));
    }
}
