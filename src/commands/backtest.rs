//! `rltrade backtest`: a baseline strategy over one evaluation window, through the
//! same environment and execution code as training.

use std::process::ExitCode;

use anyhow::Context;
use rltrade_env::MarketData;
use rltrade_env::backtest::BacktestResult;
use rltrade_env::bar::{format_interval, format_time_ms};
use rltrade_eval::backtest::{ConfiguredBacktest, backtest_configured};
use rltrade_exec::TradeSide;
use serde_json::{Value, json};

use crate::cli::BacktestArgs;
use crate::config::{Config, Strategy};
use crate::output::{csv_number, pct, print_json, ratio, table, write_csv_atomically};

/// Resolves config and flags, runs the backtest, prints and writes the results.
///
/// # Errors
/// Bad config or data, too little warm-up history, unwritable output files.
pub fn run(args: &BacktestArgs) -> anyhow::Result<ExitCode> {
    let mut config = Config::load(args.config.as_deref())?;
    apply_overrides(&mut config, args);
    config.validate()?;

    if config.backtest.strategy == Strategy::Model && args.model.is_none() {
        anyhow::bail!("--strategy model needs --model DIR");
    }
    let model = args.model.as_deref().filter(|_| config.backtest.strategy == Strategy::Model);
    // without --data and --config, the data the model was trained on
    let data_from_card = args.data.is_none() && args.config.is_none();
    let ConfiguredBacktest { config, data, result } = backtest_configured(config, model, data_from_card)?;
    tracing::info!("{}", result.summary());

    if let Some(out) = &args.equity_out {
        write_equity_csv(out, &result)?;
        tracing::info!("equity curve written to {}", out.display());
    }
    if let Some(out) = &args.trades_out {
        write_trades_csv(out, &result)?;
        tracing::info!("trades written to {}", out.display());
    }
    let report = report_json(&config, &data, &result)?;
    if args.json {
        print_json(&report)?;
    } else {
        print_table(&config, &data, &result);
    }
    Ok(ExitCode::SUCCESS)
}

fn apply_overrides(config: &mut Config, args: &BacktestArgs) {
    if let Some(v) = &args.data {
        config.data.path.clone_from(v);
    }
    if let Some(v) = args.strategy {
        config.backtest.strategy = v;
    }
    if let Some(v) = args.fast {
        config.backtest.fast = v;
    }
    if let Some(v) = args.slow {
        config.backtest.slow = v;
    }
    if let Some(v) = args.fee_bps {
        config.execution.fee_bps = v;
    }
    if let Some(v) = args.slippage_bps {
        config.execution.slippage_bps = v;
    }
    if let Some(v) = args.cash {
        config.execution.initial_cash = v;
    }
    if let Some(v) = args.split {
        config.backtest.split = v;
    }
    if let Some(v) = args.stop_loss {
        config.protect.stop_loss = v;
    }
    if let Some(v) = args.take_profit {
        config.protect.take_profit = v;
    }
    if let Some(v) = args.trailing_stop {
        config.protect.trailing_stop = v;
    }
    if let Some(v) = args.max_holding_bars {
        config.protect.max_holding_bars = v;
    }
    if let Some(v) = args.max_var_95 {
        config.risk.max_var_95 = v;
    }
    if let Some(v) = args.var_lookback {
        config.risk.var_lookback = v;
    }
    if args.allow_short {
        config.risk.allow_short = true;
        if !config.env.actions.contains(&-1.0) {
            config.env.actions.insert(0, -1.0);
        }
    }
}

/// The backtest JSON: the metrics, `risk_refusals`, `var_scaled_entries` (entries the
/// VaR limit scaled down), `exit_reasons` (closed trades by reason), and provenance
/// (data file and its SHA-256, window times in ms, costs, cash, protective orders, the
/// VaR limit, strategy parameters).
fn report_json(config: &Config, data: &MarketData, result: &BacktestResult) -> anyhow::Result<Value> {
    let mut object = serde_json::to_value(&result.metrics)?;
    let map = object.as_object_mut().context("metrics serialize to an object")?;
    let series = &data.series;
    let extra = json!({
        "strategy": result.strategy,
        "risk_refusals": result.risk_refusals,
        "var_scaled_entries": result.var_scaled_entries,
        "exit_reasons": result.exit_reasons,
        "protect": config.protect,
        "data_file": config.data.path.display().to_string(),
        "data_sha256": series.sha256,
        "symbol": series.symbol,
        "interval": format_interval(series.interval_ms),
        "interval_ms": series.interval_ms,
        "split": result.window.split,
        "first_bar_ms": result.first_bar_ms,
        "last_bar_ms": result.last_bar_ms,
        "fee_bps": config.execution.fee_bps,
        "slippage_bps": config.execution.slippage_bps,
        "cash": config.execution.initial_cash,
        "allow_short": config.risk.allow_short,
        "max_var_95": config.risk.max_var_95,
        "var_lookback": config.risk.var_lookback,
        "fast": matches!(config.backtest.strategy, Strategy::MaCrossover).then_some(config.backtest.fast),
        "slow": matches!(config.backtest.strategy, Strategy::MaCrossover).then_some(config.backtest.slow),
    });
    if let Value::Object(extra) = extra {
        map.extend(extra);
    }
    Ok(object)
}

fn print_table(config: &Config, data: &MarketData, result: &BacktestResult) {
    let m = &result.metrics;
    let series = &data.series;
    println!(
        "{} on {} {} ({}), {} split: {} → {} ({} bars)",
        result.strategy,
        series.symbol,
        format_interval(series.interval_ms),
        config.data.path.display(),
        result.window.split,
        format_time_ms(result.first_bar_ms),
        format_time_ms(result.last_bar_ms),
        m.bars
    );
    println!(
        "fee {} bps, slippage {} bps, cash {:.2}; data sha256 {}",
        config.execution.fee_bps, config.execution.slippage_bps, config.execution.initial_cash, series.sha256
    );
    let mut t = table(&["metric", "value"]);
    let rows: Vec<(&str, String)> = vec![
        ("final equity", format!("{:.2}", m.final_equity)),
        ("total return", pct(m.total_return)),
        ("CAGR", m.cagr.map_or_else(|| "— (under 30 days)".into(), pct)),
        ("volatility (ann.)", pct(m.volatility)),
        ("Sharpe", ratio(m.sharpe)),
        ("Sortino", ratio(m.sortino)),
        ("max drawdown", pct(m.max_drawdown)),
        ("Calmar", ratio(m.calmar)),
        ("VaR / ES 95% (1 bar, loss)", format!("{} / {}", pct(m.var_95), pct(m.es_95))),
        ("VaR / ES 99% (1 bar, loss)", format!("{} / {}", pct(m.var_99), pct(m.es_99))),
        ("trades (closed)", m.num_trades.to_string()),
        ("win rate", m.win_rate.map_or_else(|| "—".into(), pct)),
        ("exposure", pct(m.exposure)),
        ("turnover", format!("{:.2}x", m.turnover)),
        ("fees paid", format!("{:.2}", m.fees_paid)),
        ("risk refusals", result.risk_refusals.to_string()),
        ("VaR-scaled entries", result.var_scaled_entries.to_string()),
        ("exits (stop / tp / trail / time / signal / risk)", {
            let e = &result.exit_reasons;
            format!(
                "{} / {} / {} / {} / {} / {}",
                e.stop_loss, e.take_profit, e.trailing_stop, e.max_holding, e.signal, e.risk_liquidation
            )
        }),
    ];
    for (name, value) in rows {
        t.add_row(vec![name.to_string(), value]);
    }
    println!("{t}");
}

fn write_equity_csv(path: &std::path::Path, result: &BacktestResult) -> anyhow::Result<()> {
    write_csv_atomically(
        path,
        &["timestamp", "equity", "cash", "position"],
        result
            .equity_curve
            .iter()
            .map(|p| vec![format_time_ms(p.time_ms), p.equity.to_string(), p.cash.to_string(), p.position.to_string()]),
    )
}

fn write_trades_csv(path: &std::path::Path, result: &BacktestResult) -> anyhow::Result<()> {
    write_csv_atomically(
        path,
        &["entry_time", "exit_time", "side", "quantity", "entry_price", "exit_price", "fees", "pnl", "exit_reason"],
        result.trades.iter().map(|t| {
            vec![
                format_time_ms(t.entry_time_ms),
                t.exit_time_ms.map(format_time_ms).unwrap_or_default(),
                match t.side {
                    TradeSide::Long => "long".into(),
                    TradeSide::Short => "short".into(),
                },
                csv_number(t.quantity),
                csv_number(t.entry_price),
                t.exit_price.map(csv_number).unwrap_or_default(),
                csv_number(t.fees),
                csv_number(t.pnl),
                t.exit_reason.map(|r| r.name().to_string()).unwrap_or_default(),
            ]
        }),
    )
}
