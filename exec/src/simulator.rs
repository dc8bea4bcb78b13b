//! `FillSimulator`: the simulated venue. Resolves approved target orders into market
//! quantities and fills them at a reference price (the next bar's open) with fee,
//! slippage, lot step and minimum notional. The backtest, the environment and the paper
//! broker all fill through it.

use serde::{Deserialize, Serialize};

use crate::config::ExecutionConfig;
use crate::costs::CostModel;
use crate::error::{Error, Result};
use crate::fill::Fill;
use crate::order::{MarketOrder, Side, TargetOrder};
use crate::portfolio::{FillEffect, Portfolio, QTY_EPSILON};
use crate::risk::RiskApproved;

/// Why an approved order produced no fill.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NoFillReason {
    /// The position already matches the target (after lot rounding).
    NothingToTrade,
    /// The fill notional would be below `execution.min_notional`.
    BelowMinNotional {
        /// Notional of the would-be fill, quote currency.
        notional: f64,
        /// The venue minimum, quote currency.
        min_notional: f64,
    },
    /// Equity at the reference price is ≤ 0: nothing can be sized.
    NonPositiveEquity {
        /// The equity, quote currency.
        equity: f64,
    },
}

/// The result of filling one approved order.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum FillOutcome {
    /// The order filled; the portfolio was updated.
    Filled {
        /// The fill.
        fill: Fill,
        /// What it did to the position.
        effect: FillEffect,
    },
    /// No fill; the portfolio is unchanged.
    NoFill(NoFillReason),
}

/// The simulated venue: costs and venue rules from an [`ExecutionConfig`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FillSimulator {
    costs: CostModel,
    lot_step: f64,
    min_notional: f64,
}

impl FillSimulator {
    /// Builds the simulator.
    ///
    /// # Errors
    /// [`Error::Config`] when the config is out of range ([`ExecutionConfig::validate`]).
    pub fn new(config: &ExecutionConfig) -> Result<Self> {
        config.validate()?;
        Ok(Self { costs: CostModel::from_config(config), lot_step: config.lot_step, min_notional: config.min_notional })
    }

    /// The cost model.
    pub fn costs(&self) -> &CostModel {
        &self.costs
    }

    /// Resolves an approved target order into a market order at reference price `price`
    /// (the fill bar's open). With equity `E = cash + quantity × price` and fill price
    /// `p` (slipped for the side), the target quantity is
    /// `target × E / (p × (1 + fee))` (so an all-in buy spends exactly the cash), and the
    /// order is the difference to the current quantity, rounded toward zero to the lot
    /// step. A target of 0 closes the whole position.
    ///
    /// # Errors
    /// The [`NoFillReason`] when nothing would trade; [`Error::InvalidPrice`] is not
    /// possible here: callers pass validated bar prices.
    #[inline]
    pub fn resolve_quantity(
        &self,
        order: &RiskApproved<TargetOrder>,
        portfolio: &Portfolio,
        price: f64,
    ) -> std::result::Result<MarketOrder, NoFillReason> {
        let target = order.order().target_exposure;
        let id = order.order().id;
        let current = portfolio.quantity;
        let (side, quantity) = if target == 0.0 {
            if portfolio.is_flat() {
                return Err(NoFillReason::NothingToTrade);
            }
            (if current > 0.0 { Side::Sell } else { Side::Buy }, current.abs())
        } else {
            let equity = portfolio.equity_at(price);
            if equity.is_nan() || equity <= 0.0 {
                return Err(NoFillReason::NonPositiveEquity { equity });
            }
            let fee_factor = 1.0 + self.costs.fee_rate;
            let side = if target * equity / (price * fee_factor) > current { Side::Buy } else { Side::Sell };
            let target_quantity = target * equity / (self.costs.fill_price(side, price) * fee_factor);
            let delta = (target_quantity - current) * side.sign();
            if delta <= QTY_EPSILON {
                return Err(NoFillReason::NothingToTrade);
            }
            (side, self.round_to_lot(delta))
        };
        if quantity <= QTY_EPSILON {
            return Err(NoFillReason::NothingToTrade);
        }
        let notional = quantity * self.costs.fill_price(side, price);
        if notional < self.min_notional {
            return Err(NoFillReason::BelowMinNotional { notional, min_notional: self.min_notional });
        }
        Ok(MarketOrder { id, side, quantity })
    }

    /// Fills an approved order at reference price `price` (the fill bar's open, quote
    /// currency) at `time_ms` (ms since epoch, UTC): slippage against the trader, the
    /// fee on the slipped notional, and the portfolio updated through
    /// [`Portfolio::update_from_fill`].
    ///
    /// # Errors
    /// [`Error::InvalidPrice`] when `price` is not finite and > 0.
    #[inline]
    pub fn fill(
        &self,
        order: RiskApproved<TargetOrder>,
        portfolio: &mut Portfolio,
        price: f64,
        time_ms: i64,
    ) -> Result<FillOutcome> {
        if !(price.is_finite() && price > 0.0) {
            return Err(Error::InvalidPrice { what: "fill", price });
        }
        let market = match self.resolve_quantity(&order, portfolio, price) {
            Ok(market) => market,
            Err(reason) => return Ok(FillOutcome::NoFill(reason)),
        };
        let fill_price = self.costs.fill_price(market.side, price);
        let fill = Fill {
            order_id: market.id,
            time_ms,
            side: market.side,
            quantity: market.quantity,
            price: fill_price,
            reference_price: price,
            fee: self.costs.fee(market.quantity * fill_price),
        };
        let effect = portfolio.update_from_fill(&fill);
        Ok(FillOutcome::Filled { fill, effect })
    }

    /// Closes the whole position of `portfolio` with a protective order (id
    /// `order_id`) triggered at reference price `price` (quote currency) at `time_ms`
    /// (ms since epoch, UTC): a stop or time stop is a market order once triggered, so
    /// with `slipped` the fill is slipped against the trader; a take-profit is a limit
    /// order (`slipped = false`). The fee applies either way. The close is of the whole
    /// position: neither lot step nor minimum notional apply (a reduce-only close).
    /// `None` when the portfolio is flat.
    ///
    /// # Errors
    /// [`Error::InvalidPrice`] when `price` is not finite and > 0.
    #[inline]
    pub fn fill_exit(
        &self,
        order_id: u64,
        portfolio: &mut Portfolio,
        price: f64,
        time_ms: i64,
        slipped: bool,
    ) -> Result<Option<(Fill, FillEffect)>> {
        if !(price.is_finite() && price > 0.0) {
            return Err(Error::InvalidPrice { what: "protective fill", price });
        }
        if portfolio.is_flat() {
            return Ok(None);
        }
        let side = if portfolio.quantity > 0.0 { Side::Sell } else { Side::Buy };
        let quantity = portfolio.quantity.abs();
        let fill_price = if slipped { self.costs.fill_price(side, price) } else { price };
        let fill = Fill {
            order_id,
            time_ms,
            side,
            quantity,
            price: fill_price,
            reference_price: price,
            fee: self.costs.fee(quantity * fill_price),
        };
        let effect = portfolio.update_from_fill(&fill);
        Ok(Some((fill, effect)))
    }

    fn round_to_lot(&self, quantity: f64) -> f64 {
        if self.lot_step > 0.0 {
            // the small tolerance keeps 0.3 / 0.1 from rounding down to 2 lots
            (quantity / self.lot_step + 1e-9).floor() * self.lot_step
        } else {
            quantity
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::order::OrderPurpose;
    use crate::risk::{RiskConfig, RiskManager};

    fn approve(target: f64, portfolio: &Portfolio, sim: &FillSimulator) -> RiskApproved<TargetOrder> {
        let risk = RiskManager::new(RiskConfig { allow_short: true, ..RiskConfig::default() }, 1.0).unwrap();
        let order = TargetOrder {
            id: 7,
            decided_at_ms: 0,
            target_exposure: target,
            reference_price: 100.0,
            purpose: OrderPurpose::Signal,
        };
        risk.check(order, portfolio, sim.costs()).unwrap()
    }

    fn sim(fee_bps: f64, slippage_bps: f64, lot_step: f64, min_notional: f64) -> FillSimulator {
        FillSimulator::new(&ExecutionConfig {
            fee_bps,
            slippage_bps,
            lot_step,
            min_notional,
            ..ExecutionConfig::default()
        })
        .unwrap()
    }

    #[test]
    fn all_in_buy_spends_exactly_the_cash() {
        let sim = sim(10.0, 5.0, 0.0, 0.0);
        let mut p = Portfolio::new(10_000.0);
        let order = approve(1.0, &p, &sim);
        let FillOutcome::Filled { fill, .. } = sim.fill(order, &mut p, 100.0, 5).unwrap() else { panic!() };
        assert_eq!(fill.side, Side::Buy);
        assert!((fill.price - 100.05).abs() < 1e-12);
        assert!((fill.quantity - 10_000.0 / (100.05 * 1.001)).abs() < 1e-9);
        assert!(p.cash.abs() < 1e-9, "cash left: {}", p.cash);
        assert_eq!(fill.time_ms, 5);
        assert_eq!(fill.order_id, 7);
    }

    #[test]
    fn target_zero_closes_everything_and_repeating_a_target_rebalances_cost_drift() {
        let sim = sim(10.0, 5.0, 0.0, 0.0);
        let mut p = Portfolio::new(10_000.0);
        sim.fill(approve(1.0, &p, &sim), &mut p, 100.0, 0).unwrap();
        // Re-sending the same target rebalances the cost drift (equity fell by fee and
        // slippage): a small sell. This is why strategies send orders only on a change.
        let FillOutcome::Filled { fill, .. } = sim.fill(approve(1.0, &p, &sim), &mut p, 100.0, 1).unwrap() else {
            panic!()
        };
        assert_eq!(fill.side, Side::Sell);
        assert!(fill.quantity < 1e-3 * p.quantity);
        let FillOutcome::Filled { fill, .. } = sim.fill(approve(0.0, &p, &sim), &mut p, 110.0, 2).unwrap() else {
            panic!()
        };
        assert_eq!(fill.side, Side::Sell);
        assert_eq!(p.quantity, 0.0);
    }

    #[test]
    fn lot_step_rounds_down_and_min_notional_skips() {
        let sim = sim(0.0, 0.0, 0.1, 50.0);
        let mut p = Portfolio::new(1_000.0);
        let FillOutcome::Filled { fill, .. } = sim.fill(approve(0.5, &p, &sim), &mut p, 99.0, 0).unwrap() else {
            panic!()
        };
        assert!((fill.quantity - 5.0).abs() < 1e-12, "500 / 99 = 5.05 → 5.0 lots of 0.1: {}", fill.quantity);
        let outcome = sim.fill(approve(0.52, &p, &sim), &mut p, 99.0, 1).unwrap();
        assert!(
            matches!(outcome, FillOutcome::NoFill(NoFillReason::BelowMinNotional { min_notional, .. }) if min_notional == 50.0)
        );
    }

    #[test]
    fn short_then_reverse() {
        let sim = sim(0.0, 0.0, 0.0, 0.0);
        let mut p = Portfolio::new(1_000.0);
        sim.fill(approve(-1.0, &p, &sim), &mut p, 100.0, 0).unwrap();
        assert!((p.quantity + 10.0).abs() < 1e-12);
        assert!((p.cash - 2_000.0).abs() < 1e-9);
        // price falls 10%: equity 1,100; reverse to +1 buys 21 units
        let FillOutcome::Filled { fill, effect } = sim.fill(approve(1.0, &p, &sim), &mut p, 90.0, 1).unwrap() else {
            panic!()
        };
        assert!((fill.quantity - 10.0 - 1_100.0 / 90.0).abs() < 1e-9);
        assert!((effect.realized_pnl - 100.0).abs() < 1e-9);
        assert!((p.equity_at(90.0) - 1_100.0).abs() < 1e-9);
    }

    #[test]
    fn bad_prices_are_errors() {
        let sim = sim(0.0, 0.0, 0.0, 0.0);
        let mut p = Portfolio::new(1_000.0);
        let err = sim.fill(approve(1.0, &p, &sim), &mut p, f64::NAN, 0).unwrap_err();
        assert!(err.to_string().contains("invalid price NaN for fill"), "{err}");
    }
}
