//! One backtest of the config's `[backtest]` strategy (the MA crossover, buy-and-hold)
//! or of an exported model, as `rltrade backtest` runs it and `rltrade.backtest` from
//! Python: a model's card sets the environment, features, splits and protective orders
//! (and, when asked, the data file), then the bars are loaded and the policy runs over
//! the evaluation window of `backtest.split` through `rltrade_env::backtest`.

use std::path::Path;
use std::sync::Arc;

use rltrade_config::{Config, Strategy};
use rltrade_env::backtest::{BacktestResult, run_backtest};
use rltrade_env::baselines::{BuyAndHold, MaCrossover};
use rltrade_env::{MarketData, Policy, TradingSetup};
use rltrade_policy::{OnnxModel, OnnxPolicy};

use crate::error::{Error, Result};

/// A finished backtest with what it ran on.
#[derive(Debug)]
pub struct ConfiguredBacktest {
    /// The config as run (a model's card applied).
    pub config: Config,
    /// The market: bars, features, normalization and splits.
    pub data: Arc<MarketData>,
    /// The result.
    pub result: BacktestResult,
}

/// Backtests `config` (validated) with the exported model at `model` when given (its
/// `backtest.strategy` is then `model`), else with `backtest.strategy`.
/// `data_from_card`: take the bars' file from the model card (the caller was given
/// none).
///
/// # Errors
/// [`Error::Config`] for `backtest.strategy = "model"` without a model; a model that
/// cannot be loaded or does not fit the data; a data error (file and line); a window
/// too short for the policy's warm-up.
pub fn backtest_configured(
    mut config: Config,
    model: Option<&Path>,
    data_from_card: bool,
) -> Result<ConfiguredBacktest> {
    let onnx = match model {
        Some(dir) => {
            let model = OnnxModel::load(dir)?;
            let card = model.card();
            if data_from_card {
                config.data.path = card.data.locate(model.export_dir())?;
            }
            config.env = card.env_config();
            if config.protect != card.protect {
                tracing::warn!(
                    "{} was trained with protective orders {:?}; they win over the config and flags ({:?})",
                    card.name,
                    card.protect,
                    config.protect
                );
                config.protect = card.protect;
            }
            config.features = card.features.clone();
            config.split = card.split.clone();
            Some(model)
        }
        None if config.backtest.strategy == Strategy::Model => {
            return Err(Error::Config {
                field: "backtest.strategy".into(),
                message: "`model` needs an exported model folder".into(),
            });
        }
        None => None,
    };
    let series =
        config.load_series().map_err(|e| Error::Config { field: "data.path".into(), message: format!("{e:#}") })?;
    let data = Arc::new(match &onnx {
        Some(model) => model.card().market_data(series)?,
        None => {
            MarketData::new(series, &config.features, &config.split, &config.env, config.risk.lookback_bars(), None)?
        }
    });
    let mut policy: Box<dyn Policy + Send> = match onnx {
        Some(model) => Box::new(OnnxPolicy::new(model)),
        None => match config.backtest.strategy {
            Strategy::BuyAndHold => Box::new(BuyAndHold::new(&config.env.actions)?),
            _ => Box::new(MaCrossover::new(
                config.backtest.fast,
                config.backtest.slow,
                &config.env.actions,
                config.risk.allow_short,
            )?),
        },
    };
    let setup = TradingSetup {
        data: Arc::clone(&data),
        env: config.env.clone(),
        execution: config.execution.clone(),
        risk: config.risk.clone(),
        protect: config.protect,
    };
    let window = setup.evaluation_window(config.backtest.split, &[(policy.name(), policy.warmup())])?;
    let result = run_backtest(&setup, window, policy.as_mut())?;
    Ok(ConfiguredBacktest { config, data, result })
}
