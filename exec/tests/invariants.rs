//! Property tests of the accounting invariants of `rltrade-exec`.

use proptest::prelude::*;
use rltrade_exec::{
    Account, Bar, ExecutionConfig, FillOutcome, FillSimulator, FillSource, OrderPurpose, Portfolio, ProtectConfig,
    RiskConfig, RiskManager, TargetOrder, TradingState,
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

/// One random bar after a close of `previous`: the open gaps by `gap`, the close moves by
/// `change`, and the high and low reach beyond both by `reach`.
fn bar(i: usize, previous: f64, (gap, change, reach): (f64, f64, f64)) -> Bar {
    let open = previous * gap;
    let close = open * change;
    Bar {
        time_ms: i as i64 * HOUR_MS,
        open,
        high: open.max(close) * (1.0 + reach),
        low: open.min(close) * (1.0 - reach),
        close,
        volume: 1.0,
    }
}

const HOUR_MS: i64 = 3_600_000;

fn limits() -> impl Strategy<Value = RiskConfig> {
    (
        (0.2f64..1.0, prop::option::of(prop::sample::select(vec![500.0, 3_000.0, 8_000.0]))),
        (prop::option::of(prop::sample::select(vec![0.02, 0.1, 0.3])), prop::option::of(0.01f64..0.1)),
        (any::<bool>(), any::<bool>(), 0u64..4, 0u64..4, 1u64..10),
    )
        .prop_map(
            |(
                (max_exposure, max_order_notional),
                (max_drawdown, daily_loss_limit),
                (allow_short, flatten_on_halt, cooldown_bars, max_orders, max_orders_window_bars),
            )| RiskConfig {
                max_exposure,
                max_order_notional,
                max_drawdown,
                daily_loss_limit,
                allow_short,
                flatten_on_halt,
                cooldown_bars,
                max_orders,
                max_orders_window_bars,
                ..RiskConfig::default()
            },
        )
}

fn protection() -> impl Strategy<Value = ProtectConfig> {
    (
        prop::sample::select(vec![0.0, 0.02, 0.05]),
        prop::sample::select(vec![0.0, 0.03, 0.1]),
        prop::sample::select(vec![0.0, 0.04]),
        prop::sample::select(vec![0u64, 5]),
    )
        .prop_map(|(stop_loss, take_profit, trailing_stop, max_holding_bars)| ProtectConfig {
            stop_loss,
            take_profit,
            trailing_stop,
            max_holding_bars,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// The whole per-bar sequence (`Account::step_bar`, then `Account::decide`) over random
    /// bars, random targets, random limits and protective orders:
    /// - equity is cash plus the position's value, and changes only by realized and
    ///   unrealized PnL, fees and borrow fees;
    /// - no limit is exceeded: an approved order's |target| is within `max_exposure`, its
    ///   notional within `max_order_notional`, never short when shorts are off, never an
    ///   addition while REDUCING, nothing at all while HALTED or killed; a fill lands on its
    ///   approved target up to its own fee and slippage; a drawdown past `max_drawdown`
    ///   halts;
    /// - a refused order changes nothing but the request it answers, the refusal count and
    ///   the order id it took.
    #[test]
    fn limits_hold_and_refusals_change_nothing(
        limits in limits(),
        protect in protection(),
        moves in prop::collection::vec(((0.97f64..1.03, 0.9f64..1.1, 0.0f64..0.04), prop::option::of(prop::sample::select(vec![-1.5, -1.0, -0.4, 0.0, 0.3, 0.7, 1.0, 2.0]))), 1..120),
        fee_bps in 0.0f64..30.0,
        slippage_bps in 0.0f64..30.0,
        kill_at in prop::option::of(0usize..120),
    ) {
        let sim = simulator(fee_bps, slippage_bps);
        let max_exposure = limits.max_exposure;
        let mut account = Account::new(10_000.0, limits.clone(), protect, true).unwrap();
        let mut close = 1_000.0;
        account.start(close, 0, &sim);
        for (i, (shape, target)) in moves.into_iter().enumerate() {
            let bar = bar(i, close, shape);
            close = bar.close;
            let pending = account.pending.map(|o| o.order().target_exposure);
            let held = account.portfolio.exposure_at(bar.open);
            let step = account.step_bar(&bar, HOUR_MS, &sim, FillSource::Simulator).unwrap();
            let p = &account.portfolio;
            if let (Some(FillOutcome::Filled { fill, .. }), Some(target), None) = (step.fill, pending, step.protective) {
                // sized on the equity at the open and the slipped price, a fill lands on its
                // approved target up to its own costs on what it trades
                let exposure = p.exposure_at(fill.price);
                let costs = 2.0 * (fee_bps + slippage_bps) / 1e4 * (target.abs() + held.abs());
                prop_assert!((exposure - target).abs() <= costs + 1e-9, "bar {i}: {exposure} held after a fill to {target}");
            }
            prop_assert!(limits.allow_short || p.quantity >= 0.0, "bar {i}: short {} with shorts off", p.quantity);
            let equity = p.equity();
            prop_assert!((equity - (p.cash + p.quantity * close)).abs() <= 1e-9 * equity.abs().max(1.0));
            let identity = p.initial_cash + p.realized_pnl + p.unrealized_pnl() - p.fees_paid - p.borrow_fees_paid;
            prop_assert!((equity - identity).abs() <= 1e-7 * equity.abs().max(1.0), "bar {i}: {equity} vs {identity}");
            if let Some(limit) = limits.max_drawdown {
                if 1.0 - equity / account.risk.peak_equity() > limit + 1e-12 {
                    prop_assert_eq!(account.risk.state(), TradingState::Halted, "bar {}: drawdown past {}", i, limit);
                }
            }

            if kill_at == Some(i) {
                account.risk.engage_kill_switch();
            }
            let state = account.risk.effective_state();
            let current = account.portfolio.exposure_at(close);
            let before = account.clone();
            let decision = account.decide(target, bar.time_ms, close, &sim);
            match decision.signal {
                Some(Ok(approved)) => {
                    let t = approved.order().target_exposure;
                    prop_assert!(state != TradingState::Halted, "bar {i}: approved {t} while halted or killed");
                    prop_assert!(t.abs() <= max_exposure + 1e-12, "bar {i}: approved {t}, limit {max_exposure}");
                    prop_assert!(limits.allow_short || t >= 0.0, "bar {i}: approved short {t}");
                    if state == TradingState::Reducing {
                        prop_assert!(t == 0.0 || (t.signum() == current.signum() && t.abs() <= current.abs() + 1e-9), "bar {i}: {t} from {current} while reducing");
                    }
                    if let Some(limit) = limits.max_order_notional {
                        let p = &before.portfolio;
                        let notional = (t * p.equity_at(close) / (1.0 + fee_bps / 1e4) - p.quantity * close).abs();
                        prop_assert!(notional <= limit * (1.0 + 1e-12), "bar {i}: notional {notional}, limit {limit}");
                    }
                }
                Some(Err(_)) if decision.liquidation.is_none() => {
                    let mut expected = before;
                    expected.requested_target = target.unwrap();
                    expected.risk_refusals += 1;
                    // the refused request keeps its order id (the journal records it)
                    expected.next_order_id += 1;
                    prop_assert_eq!(&account, &expected, "bar {}: a refusal changed the account", i);
                }
                Some(Err(_)) => {}
                None if decision.liquidation.is_none() => prop_assert_eq!(&account, &before, "bar {}: no order, yet a change", i),
                None => {}
            }
        }
    }
}
