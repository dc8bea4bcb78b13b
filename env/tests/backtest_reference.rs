//! The backtest against independent reference computations: a plain loop with the
//! textbook conventions (decide at close, fill at next open, fee on both sides, all-in
//! sizing) must give the same equity curve as the runner.

mod common;

use std::sync::Arc;

use rltrade_env::TradingSetup;

use rltrade_env::backtest::{evaluation_window, run_backtest};
use rltrade_env::baselines::{BuyAndHold, MaCrossover};
use rltrade_env::{BarSeries, EnvConfig, Policy, SplitName};
use rltrade_exec::{ExecutionConfig, ProtectConfig, RiskConfig};

fn setup(data: Arc<rltrade_env::MarketData>) -> TradingSetup {
    TradingSetup {
        data,
        env: EnvConfig::default(),
        execution: ExecutionConfig::default(),
        risk: RiskConfig::default(),
        protect: ProtectConfig::default(),
    }
}

fn mean(x: &[f64]) -> f64 {
    x.iter().sum::<f64>() / x.len() as f64
}

/// Long-only MA crossover over the window `start..` (first decision at the close of
/// bar max(start − 1, slow)), written from the definition with no shared code. Returns
/// the equity at each close of the window, the round trips and the buy signals.
fn reference_ma(closes: &[f64], opens: &[f64], fast: usize, slow: usize, start: usize) -> (Vec<f64>, usize, usize) {
    let (fee, slip) = (0.001, 0.0005);
    let (mut cash, mut qty) = (10_000.0, 0.0);
    let mut pending: Option<bool> = None; // Some(true) = go long, Some(false) = go flat
    let mut long = false;
    let mut equity = Vec::new();
    let (mut round_trips, mut buys) = (0, 0);
    for t in start.max(slow + 1) - 1..closes.len() {
        if let Some(buy) = pending.take() {
            if buy {
                let price = opens[t] * (1.0 + slip);
                qty = cash / (price * (1.0 + fee));
                cash -= qty * price * (1.0 + fee);
            } else {
                let price = opens[t] * (1.0 - slip);
                cash += qty * price * (1.0 - fee);
                qty = 0.0;
                round_trips += 1;
            }
        }
        if t >= start {
            equity.push(cash + qty * closes[t]);
        }
        if t + 1 == closes.len() {
            break;
        }
        let sma = |i: usize, n: usize| mean(&closes[i + 1 - n..=i]);
        let (f0, s0, f1, s1) = (sma(t - 1, fast), sma(t - 1, slow), sma(t, fast), sma(t, slow));
        if f0 < s0 && f1 > s1 && !long {
            long = true;
            buys += 1;
            pending = Some(true);
        } else if f0 > s0 && f1 < s1 && long {
            long = false;
            pending = Some(false);
        }
    }
    (equity, round_trips, buys)
}

#[test]
fn ma_crossover_on_btc_1h_matches_a_reference_loop() {
    let data = common::market(common::btc_1h());
    let bars = &data.series.bars;
    let closes: Vec<f64> = bars.iter().map(|b| b.close).collect();
    let opens: Vec<f64> = bars.iter().map(|b| b.open).collect();
    let mut policy = MaCrossover::new(50, 200, &[0.0, 1.0], false).unwrap();
    let window = evaluation_window(&data, SplitName::All, &[(policy.name(), policy.warmup())]).unwrap();
    assert_eq!((window.start, window.end), (200, bars.len() - 1), "the MA crossover first decides at index slow");
    let result = run_backtest(&setup(Arc::clone(&data)), window, &mut policy).unwrap();
    let (expected, round_trips, _) = reference_ma(&closes, &opens, 50, 200, 200);
    assert_eq!(result.equity_curve.len(), expected.len());
    assert_eq!(result.metrics.bars, bars.len() - 200);
    for (i, (got, want)) in result.equity_curve.iter().zip(&expected).enumerate() {
        assert!((got.equity - want).abs() <= 1e-9 * want, "bar {}: {} vs {}", 200 + i, got.equity, want);
    }
    assert_eq!(result.metrics.num_trades, round_trips);
    assert!(round_trips > 50, "the 1h MA crossover trades often: {round_trips}");
    assert_eq!(result.risk_refusals, 0, "default limits never bind");
    let fills = result.metrics.num_fills as usize;
    assert!(fills == 2 * round_trips || fills == 2 * round_trips + 1);
}

#[test]
fn ma_crossover_on_the_test_split_ignores_crosses_before_the_window() {
    let data = common::market(common::btc_1h());
    let bars = &data.series.bars;
    let closes: Vec<f64> = bars.iter().map(|b| b.close).collect();
    let opens: Vec<f64> = bars.iter().map(|b| b.open).collect();
    let mut policy = MaCrossover::new(50, 200, &[0.0, 1.0], false).unwrap();
    let window = evaluation_window(&data, SplitName::Test, &[(policy.name(), policy.warmup())]).unwrap();
    let result = run_backtest(&setup(Arc::clone(&data)), window, &mut policy).unwrap();
    let (expected, round_trips, _) = reference_ma(&closes, &opens, 50, 200, window.start);
    assert_eq!(result.equity_curve.len(), expected.len());
    for (got, want) in result.equity_curve.iter().zip(&expected) {
        assert!((got.equity - want).abs() <= 1e-9 * want, "{} vs {}", got.equity, want);
    }
    assert_eq!(result.metrics.num_trades, round_trips);
    // the last cross before the window is up: the window still starts flat
    assert_eq!(result.equity_curve[0].position, 0.0);
}

#[test]
fn buy_and_hold_on_the_test_split() {
    let data = common::market(common::btc_1h());
    let bars = &data.series.bars;
    let mut policy = BuyAndHold::new(&[0.0, 1.0]).unwrap();
    let window = evaluation_window(&data, SplitName::Test, &[(policy.name(), policy.warmup())]).unwrap();
    let test = data.splits.test.clone();
    assert_eq!((window.start, window.end), (test.start, test.end - 1));
    let result = run_backtest(&setup(Arc::clone(&data)), window, &mut policy).unwrap();
    let qty = 10_000.0 / (bars[test.start].open * 1.0005 * 1.001);
    let expected = qty * bars[test.end - 1].close;
    assert!((result.metrics.final_equity - expected).abs() < 1e-9 * expected);
    assert_eq!(result.metrics.bars, test.len());
    assert_eq!(result.trades.len(), 1, "one open trade");
    assert_eq!(result.trades[0].exit_time_ms, None);
    assert_eq!(result.metrics.num_trades, 0);
    assert_eq!(result.metrics.win_rate, None);
    assert!((result.metrics.exposure - 1.0).abs() < 1e-12, "in the market from the first bar");
    assert_eq!(result.first_bar_ms, bars[test.start].time_ms);
}

#[test]
fn buy_and_hold_over_all_bars_starts_at_bar_zero() {
    let data = common::market(common::synthetic(2_000, 1));
    let mut policy = BuyAndHold::new(&[0.0, 1.0]).unwrap();
    let window = evaluation_window(&data, SplitName::All, &[(policy.name(), policy.warmup())]).unwrap();
    assert_eq!(window.start, 0);
    let result = run_backtest(&setup(Arc::clone(&data)), window, &mut policy).unwrap();
    assert_eq!(result.metrics.bars, 2_000);
    assert_eq!(result.equity_curve[0].equity, 10_000.0, "bar 0 closes before any fill");
    assert!(result.equity_curve[1].position > 0.0);
}

#[test]
fn compared_arms_share_one_window() {
    let data = common::market(common::synthetic(3_000, 2));
    let arms =
        [("buy-and-hold".to_string(), rltrade_env::Warmup::Bars(0)), ("ma".into(), rltrade_env::Warmup::Bars(200))];
    let window = evaluation_window(&data, SplitName::All, &arms).unwrap();
    assert_eq!(window.start, 200);
}

#[test]
fn too_little_history_says_how_many_bars_are_missing() {
    let data = common::market(common::synthetic(1_200, 3));
    let policy = MaCrossover::new(50, 1_000, &[0.0, 1.0], false).unwrap();
    let err = evaluation_window(&data, SplitName::Validation, &[(policy.name(), policy.warmup())]).unwrap_err();
    let start = data.splits.validation.start;
    assert_eq!(
        err.to_string(),
        format!(
            "ma:50:1000 needs 1001 bars of history before the validation window, but only {start} exist: {} bars are missing (use an earlier split or `--split all`)",
            1_001 - start
        )
    );
}

#[test]
fn configured_limits_apply_and_refusals_are_counted() {
    let data = common::market(common::btc_1h());
    let mut policy = MaCrossover::new(50, 200, &[0.0, 1.0], false).unwrap();
    let window = evaluation_window(&data, SplitName::All, &[(policy.name(), policy.warmup())]).unwrap();
    let mut setup = setup(data);
    setup.risk = RiskConfig { max_order_notional: Some(5_000.0), ..RiskConfig::default() };
    let result = run_backtest(&setup, window, &mut policy).unwrap();
    let bars = &setup.data.series.bars;
    let closes: Vec<f64> = bars.iter().map(|b| b.close).collect();
    let opens: Vec<f64> = bars.iter().map(|b| b.open).collect();
    let (_, _, buys) = reference_ma(&closes, &opens, 50, 200, 200);
    assert_eq!(result.risk_refusals as usize, buys, "one refusal per buy signal");
    assert_eq!(result.metrics.num_fills, 0, "every all-in order of 10,000 is above the limit");

    setup.risk = RiskConfig { kill_switch: true, ..RiskConfig::default() };
    let mut policy = BuyAndHold::new(&[0.0, 1.0]).unwrap();
    let result = run_backtest(&setup, window, &mut policy).unwrap();
    assert_eq!((result.risk_refusals, result.metrics.num_fills), (1, 0), "the kill switch refuses the one order");
}

/// Regression (issue 19): equity that overflowed to NaN was reported as a success with
/// `final_equity: null`. Cash is bounded (`execution.initial_cash` <= 1e12, checked by
/// the trader), but prices spanning hundreds of orders of magnitude still overflow the
/// quantity: the backtest is then an error naming the strategy, the bar and the cash.
#[test]
fn equity_that_overflows_is_an_error_naming_the_bar_and_the_cash() {
    let mut too_much = setup(common::market(common::synthetic(2_000, 1)));
    too_much.execution.initial_cash = 1e308;
    let mut policy = BuyAndHold::new(&[0.0, 1.0]).unwrap();
    let window = evaluation_window(&too_much.data, SplitName::All, &[(policy.name(), policy.warmup())]).unwrap();
    let err = run_backtest(&too_much, window, &mut policy).unwrap_err().to_string();
    assert!(err.contains("execution.initial_cash") && err.contains("1e12"), "{err}");

    // a series whose prices start at 1e-300: 1e12 of cash buys an infinite quantity
    let mut series = common::synthetic(2_000, 1);
    for bar in &mut series.bars {
        for price in [&mut bar.open, &mut bar.high, &mut bar.low, &mut bar.close] {
            *price *= 1e-302;
        }
    }
    let data = common::market(BarSeries::from_bars("TINY", series.bars));
    let mut setup = setup(data);
    setup.execution.initial_cash = 1e12;
    let window = evaluation_window(&setup.data, SplitName::All, &[(policy.name(), policy.warmup())]).unwrap();
    let err = run_backtest(&setup, window, &mut policy).unwrap_err();
    assert!(matches!(err, rltrade_env::Error::NonFiniteEquity { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("buy-and-hold") && text.contains("execution.initial_cash") && text.contains("not finite"),
        "{text}"
    );
}
