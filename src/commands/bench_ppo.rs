//! `rltrade bench ppo`: PPO training throughput, counted in env steps per wall second,
//! with the shares of rollout collection and of the gradient update.
//!
//! Three cases: Stable-Baselines3's `PPO` defaults (one env, n_steps 2048, batch 64,
//! 10 epochs, 64×64 tanh; `PpoConfig::default()`) on the trading env over the given
//! data with the default features and window 32; the same with hidden layers of
//! 256×256; and the shipped training config (`configs/btc_1h_ppo.toml`) when it exists. Each case trains a fresh agent (seed 1)
//! for a fixed number of updates in memory: nothing is written to disk.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use rltrade_agent::train::{Control, SeedPurpose, derive_seed, train};
use rltrade_config::ppo::PpoConfig;
use rltrade_env::{MarketData, SplitName, TradingSetup, VecEnv};
use serde_json::json;

use crate::config::Config;
use crate::output::{print_json, table};

/// The training config measured when `--config` is not given (skipped if absent).
pub const SHIPPED_CONFIG: &str = "configs/btc_1h_ppo.toml";

/// The seed of every case.
const SEED: u64 = 1;

/// One measured case.
#[derive(Clone, Debug)]
struct Case {
    name: String,
    ppo: PpoConfig,
    obs_dim: usize,
    updates: u64,
    steps: u64,
    seconds: f64,
    collect_seconds: f64,
    update_seconds: f64,
    minibatch_steps: u64,
}

impl Case {
    fn steps_per_s(&self) -> f64 {
        self.steps as f64 / self.seconds
    }

    fn collect_share(&self) -> f64 {
        self.collect_seconds / self.seconds
    }

    fn update_share(&self) -> f64 {
        self.update_seconds / self.seconds
    }

    /// Milliseconds of one minibatch step (forward, backward, clipping, Adam), from the
    /// update time divided by the minibatch steps that ran.
    fn ms_per_minibatch(&self) -> f64 {
        1e3 * self.update_seconds / self.minibatch_steps.max(1) as f64
    }

    fn to_json(&self) -> serde_json::Value {
        json!({
            "case": self.name,
            "n_envs": self.ppo.n_envs,
            "env_threads": self.ppo.env_threads,
            "update_threads": self.ppo.update_thread_count(),
            "n_steps": self.ppo.n_steps,
            "batch_size": self.ppo.batch_size,
            "n_epochs": self.ppo.n_epochs,
            "hidden": self.ppo.hidden,
            "obs_dim": self.obs_dim,
            "updates": self.updates,
            "env_steps": self.steps,
            "seconds": self.seconds,
            "steps_per_s": self.steps_per_s(),
            "collect_share": self.collect_share(),
            "update_share": self.update_share(),
            "minibatch_steps": self.minibatch_steps,
            "ms_per_minibatch": self.ms_per_minibatch(),
        })
    }
}

/// Trains `updates` PPO updates at SB3's defaults on `data_path` and, if present, at the
/// config `config_path` (default [`SHIPPED_CONFIG`]); prints a table (or JSON).
///
/// # Errors
/// Unreadable data, an invalid config, a `--config` file that does not exist, training
/// errors.
pub fn run(
    data_path: &Path,
    config_path: Option<&Path>,
    updates: u64,
    update_threads: Option<usize>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    if updates == 0 {
        anyhow::bail!("--updates must be >= 1");
    }
    if update_threads == Some(0) {
        anyhow::bail!("--update-threads must be >= 1");
    }
    // the config first, so that a bad file fails before anything is measured
    let shipped = match config_path {
        Some(path) => Some(path.to_path_buf()),
        None => Some(Path::new(SHIPPED_CONFIG).to_path_buf()).filter(|p| p.exists()),
    };
    let mut config = shipped.as_deref().map(|path| Config::load(Some(path))).transpose()?;

    let mut defaults = Config::default();
    defaults.data.path = data_path.to_path_buf();
    if update_threads.is_some() {
        defaults.ppo.update_threads = update_threads;
        if let Some(config) = config.as_mut() {
            config.ppo.update_threads = update_threads;
        }
    }
    let mut wide = defaults.clone();
    wide.ppo.hidden = vec![256, 256];
    let mut cases =
        vec![measure("SB3 defaults", &defaults, updates)?, measure("SB3 defaults, 256×256", &wide, updates)?];
    match (&shipped, &config) {
        (Some(path), Some(config)) => {
            let name = path.file_stem().map_or_else(|| "config".into(), |s| s.to_string_lossy().into_owned());
            cases.push(measure(&name, config, updates).with_context(|| format!("config {}", path.display()))?);
        }
        _ => tracing::info!("{SHIPPED_CONFIG} not found: measuring SB3's defaults only"),
    }

    if json {
        print_json(&json!({
            "sb3_defaults_steps_per_s": cases[0].steps_per_s(),
            "hidden_256_steps_per_s": cases[1].steps_per_s(),
            "config_steps_per_s": cases.get(2).map(Case::steps_per_s),
            "update_threads": cases[0].ppo.update_thread_count(),
            "config": shipped.as_ref().map(|p| p.display().to_string()),
            "data": data_path.display().to_string(),
            "seed": SEED,
            "cases": cases.iter().map(Case::to_json).collect::<Vec<_>>(),
        }))?;
    } else {
        let mut t = table(&[
            "case",
            "envs",
            "n_steps",
            "batch",
            "epochs",
            "hidden",
            "threads",
            "updates",
            "env steps/s",
            "collect",
            "update",
            "ms/minibatch",
        ]);
        for c in &cases {
            t.add_row(vec![
                c.name.clone(),
                c.ppo.n_envs.to_string(),
                c.ppo.n_steps.to_string(),
                c.ppo.batch_size.to_string(),
                c.ppo.n_epochs.to_string(),
                c.ppo.hidden.iter().map(ToString::to_string).collect::<Vec<_>>().join("×"),
                c.ppo.update_thread_count().to_string(),
                c.updates.to_string(),
                format!("{:.0}", c.steps_per_s()),
                format!("{:.1}%", 100.0 * c.collect_share()),
                format!("{:.1}%", 100.0 * c.update_share()),
                format!("{:.3}", c.ms_per_minibatch()),
            ]);
        }
        println!("{t}");
    }
    Ok(ExitCode::SUCCESS)
}

/// Trains a fresh agent for `updates` updates of `config.ppo` on the train split of
/// `config.data` and times it.
fn measure(name: &str, config: &Config, updates: u64) -> anyhow::Result<Case> {
    let mut config = config.clone();
    config.ppo.total_steps = updates * config.ppo.rollout_size() as u64;
    config.validate()?;
    let series = config.load_series()?;
    let risk_lookback = config.risk.lookback_bars();
    let data = Arc::new(MarketData::new(series, &config.features, &config.split, &config.env, risk_lookback, None)?);
    let ppo = &config.ppo;
    let mut venv = VecEnv::new(
        &TradingSetup {
            data: Arc::clone(&data),
            env: config.env.clone(),
            execution: config.execution.clone(),
            risk: config.risk.clone(),
            protect: config.protect,
        },
        SplitName::Train,
        ppo.n_envs,
        derive_seed(SEED, SeedPurpose::Env),
        ppo.env_threads,
    )?;
    let obs_dim = venv.obs_dim();
    let per_epoch = ppo.rollout_size().div_ceil(ppo.batch_size) as u64;
    let mut minibatch_steps = 0u64;
    let (_, _, summary) = train(&mut venv, ppo, SEED, |log| {
        minibatch_steps += per_epoch * log.stats.epochs as u64;
        Ok(Control::Continue)
    })?;
    // the loop's own clock: steps / (collect + update) excludes only the setup above
    let seconds = summary.total_steps as f64 / summary.steps_per_second;
    tracing::info!("{name}: {} updates, {} env steps in {seconds:.2} s", summary.updates, summary.total_steps);
    Ok(Case {
        name: name.to_string(),
        ppo: ppo.clone(),
        obs_dim,
        updates: summary.updates,
        steps: summary.total_steps,
        seconds,
        collect_seconds: summary.collect_seconds,
        update_seconds: summary.update_seconds,
        minibatch_steps,
    })
}
