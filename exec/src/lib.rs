//! `rltrade-exec`: the execution and risk core shared by simulation and live trading.
//!
//! Plain synchronous Rust with no I/O. A strategy's decision becomes a
//! [`TargetOrder`]; the [`RiskManager`] turns it into a [`RiskApproved`] order or a
//! [`RiskRefused`] one; only approved orders reach the [`FillSimulator`] (or, in the
//! daemon, a broker), whose [`Fill`]s update the [`Portfolio`] and the
//! [`TradeTracker`]. Units: prices and cash in the quote currency, quantities in base
//! units, fees and slippage configured in basis points, times in ms since the epoch (UTC).
#![deny(missing_docs)]

pub mod account;
pub mod bar;
pub mod config;
pub mod costs;
pub mod error;
pub mod fill;
pub mod order;
pub mod portfolio;
pub mod protect;
pub mod risk;
pub mod simulator;
pub mod trades;
pub mod value_at_risk;

pub use account::{Account, BarStep, Decision, FillSource, Mark};
pub use bar::Bar;
pub use config::{ExecutionConfig, MAX_COST_BPS, MAX_INITIAL_CASH};
pub use costs::CostModel;
pub use error::{Error, Result};
pub use fill::Fill;
pub use order::{MarketOrder, OrderPurpose, Side, TargetOrder};
pub use portfolio::{FillEffect, Portfolio};
pub use protect::{ExitReason, ExitReasonCounts, ProtectConfig, ProtectiveExit, ProtectiveLevels};
pub use risk::{
    ClipReason, HaltReason, ReconciliationSource, RefusalReason, RiskApproved, RiskConfig, RiskDecision, RiskManager,
    RiskRefused, StateChange, TradingState,
};
pub use simulator::{FillOutcome, FillSimulator, NoFillReason};
pub use trades::{Trade, TradeSide, TradeTracker};
