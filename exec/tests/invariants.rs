//! Property tests of the accounting invariants of `rltrade-exec`.

use proptest::prelude::*;
use rltrade_exec::{
    ExecutionConfig, FillOutcome, FillSimulator, OrderPurpose, Portfolio, RiskConfig, RiskManager, TargetOrder,
};

fn simulator(fee_bps: f64, slippage_bps: f64) -> FillSimulator {
    FillSimulator::new(&ExecutionConfig { fee_bps, slippage_bps, ..ExecutionConfig::default() }).unwrap()
}

fn order(id: u64, target: f64, price: f64) -> TargetOrder {
    TargetOrder { id, decided_at_ms: 0, target_exposure: target, reference_price: price, purpose: OrderPurpose::Signal }
}

fn risk() -> RiskManager {
    RiskManager::new(RiskConfig { allow_short: true, ..RiskConfig::default() }, 10_000.0).unwrap()
}

proptest! {
    /// equity = cash + position value, and equity = initial + realized + unrealized − fees,
    /// after any sequence of target changes at any prices.
    #[test]
    fn equity_identities_hold(
        steps in prop::collection::vec((prop::sample::select(vec![-1.0, -0.5, 0.0, 0.3, 1.0]), 1.0f64..1_000.0), 1..40),
        fee_bps in 0.0f64..50.0,
        slippage_bps in 0.0f64..50.0,
    ) {
        let sim = simulator(fee_bps, slippage_bps);
        let risk = risk();
        let mut p = Portfolio::new(10_000.0);
        for (i, (target, price)) in steps.into_iter().enumerate() {
            if p.equity_at(price) <= 0.0 { break; }
            let approved = risk.check(order(i as u64, target, price), &p, sim.costs()).unwrap();
            sim.fill(approved, &mut p, price, i as i64).unwrap();
            p.update_from_bar(price, i as i64, sim.costs());
            let equity = p.equity();
            prop_assert!((equity - (p.cash + p.quantity * price)).abs() <= 1e-9 * equity.abs().max(1.0));
            let identity = p.initial_cash + p.realized_pnl + p.unrealized_pnl() - p.fees_paid - p.borrow_fees_paid;
            prop_assert!((equity - identity).abs() <= 1e-7 * equity.abs().max(1.0), "{} vs {}", equity, identity);
        }
    }

    /// A round trip at an unchanged price loses exactly the two fees and the slippage.
    #[test]
    fn round_trip_at_unchanged_price_loses_exactly_fees_and_slippage(
        price in 0.01f64..100_000.0,
        target in prop::sample::select(vec![-1.0, -0.25, 0.5, 1.0]),
        fee_bps in 0.0f64..100.0,
        slippage_bps in 0.0f64..100.0,
        cash in 100.0f64..1e7,
    ) {
        let sim = simulator(fee_bps, slippage_bps);
        let risk = risk();
        let mut p = Portfolio::new(cash);
        let mut cost = 0.0;
        for (id, t) in [(0, target), (1, 0.0)] {
            let approved = risk.check(order(id, t, price), &p, sim.costs()).unwrap();
            let FillOutcome::Filled { fill, .. } = sim.fill(approved, &mut p, price, id as i64).unwrap() else {
                return Err(TestCaseError::fail("no fill"));
            };
            cost += fill.fee + fill.slippage_cost();
        }
        prop_assert_eq!(p.quantity, 0.0);
        let loss = cash - p.cash;
        prop_assert!((loss - cost).abs() <= 1e-9 * cash, "loss {} vs fees + slippage {}", loss, cost);
    }

    /// A fee never raises equity: the same fill with a fee leaves equity lower by exactly the fee.
    #[test]
    fn a_fee_never_raises_equity(
        target in prop::sample::select(vec![-1.0, 0.5, 1.0]),
        price in 1.0f64..10_000.0,
        mark in 1.0f64..10_000.0,
        fee_bps in 0.0f64..100.0,
    ) {
        let with_fee = simulator(fee_bps, 0.0);
        let risk = risk();
        let mut p = Portfolio::new(10_000.0);
        let approved = risk.check(order(0, target, price), &p, with_fee.costs()).unwrap();
        let FillOutcome::Filled { fill, .. } = with_fee.fill(approved, &mut p, price, 0).unwrap() else {
            return Err(TestCaseError::fail("no fill"));
        };
        let mut no_fee = Portfolio::new(10_000.0);
        no_fee.update_from_fill(&rltrade_exec::Fill { fee: 0.0, ..fill });
        prop_assert!(fill.fee >= 0.0);
        prop_assert!(p.equity_at(mark) <= no_fee.equity_at(mark));
        prop_assert!((no_fee.equity_at(mark) - p.equity_at(mark) - fill.fee).abs() <= 1e-9 * 10_000.0);
    }
}
