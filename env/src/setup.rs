//! [`TradingSetup`]: the one settings bundle of a market — data, environment,
//! execution, risk and protective orders — that travels as one value between the config loader, the
//! training environment, the backtest, compare and export.

use std::sync::Arc;

use rltrade_exec::{ExecutionConfig, FillSource, ProtectConfig, RiskConfig};

use crate::backtest::{EvaluationWindow, evaluation_window, risk_warmup};
use crate::config::EnvConfig;
use crate::error::Result;
use crate::market::MarketData;
use crate::policy::Warmup;
use crate::split::SplitName;
use crate::trader::TraderSettings;

/// Data, environment, execution, risk and protective-order settings of one market.
#[derive(Clone, Debug)]
pub struct TradingSetup {
    /// Bars, features, normalization and splits.
    pub data: Arc<MarketData>,
    /// The environment (window, actions, reward, episode length).
    pub env: EnvConfig,
    /// Cash, costs (bps) and venue rules.
    pub execution: ExecutionConfig,
    /// Risk limits.
    pub risk: RiskConfig,
    /// Protective orders (stop-loss, take-profit, trailing and time stop; `[protect]`).
    pub protect: ProtectConfig,
}

impl TradingSetup {
    /// The account settings of a [`crate::trader::Trader`] on this market, with fills
    /// from the `exec` fill simulator (backtests, paper trading).
    pub fn trader_settings(&self) -> TraderSettings {
        TraderSettings {
            interval_ms: self.data.series.interval_ms,
            execution: self.execution.clone(),
            risk: self.risk.clone(),
            protect: self.protect,
            fills: FillSource::Simulator,
        }
    }

    /// [`evaluation_window`] on this market for policies with `warmups`, the warm-up of
    /// this setup's risk limits ([`risk_warmup`]: the VaR limit's lookback) counted too.
    ///
    /// # Errors
    /// [`evaluation_window`]'s: a split that starts too early for a policy or for the
    /// risk limits' history, or a window without a bar to trade.
    pub fn evaluation_window(&self, split: SplitName, warmups: &[(String, Warmup)]) -> Result<EvaluationWindow> {
        let mut warmups = warmups.to_vec();
        warmups.extend(risk_warmup(&self.risk));
        evaluation_window(&self.data, split, &warmups)
    }
}
