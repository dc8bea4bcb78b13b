//! Checkpoints load back, and corrupt or mismatched ones are refused with a clear error.

use std::fs;

use rltrade_agent::checkpoint::load_checkpoint;
use rltrade_agent::trading_run::{TrainingEnv, TrainingRun, run_training};
use rltrade_agent::train::Control;
use rltrade_config::ppo::PpoConfig;

fn trained_run(dir: &std::path::Path) -> std::path::PathBuf {
    let run = TrainingRun {
        env: TrainingEnv::CartPole,
        ppo: PpoConfig {
            n_envs: 2,
            n_steps: 64,
            batch_size: 64,
            n_epochs: 1,
            total_steps: 256,
            ..PpoConfig::default()
        },
        seed: 1,
        validation_every: 1,
        run_dir: dir.join("run"),
        config_toml: String::new(),
        provenance: serde_json::json!({}),
        resume: false,
        warm_start: None,
    };
    run_training(&run, |_| Control::Continue).unwrap();
    dir.join("run/checkpoints/last")
}

#[test]
fn a_checkpoint_loads_and_bad_ones_name_the_problem() {
    let tmp = tempfile::tempdir().unwrap();
    let last = trained_run(tmp.path());
    let device = rltrade_agent::training_device();
    let (_, state) = load_checkpoint(&last, &device).unwrap();
    assert_eq!((state.update, state.global_step, state.obs_dim, state.n_actions), (2, 256, 4, 2));

    let copy = |name: &str| {
        let dir = tmp.path().join(name);
        fs::create_dir_all(&dir).unwrap();
        for f in ["model.bpk", "optimizer.bpk", "resume.cbor", "state.json"] {
            fs::copy(last.join(f), dir.join(f)).unwrap();
        }
        dir
    };
    let err = |dir: &std::path::Path| load_checkpoint(dir, &device).unwrap_err().to_string();

    let corrupt_state = copy("corrupt-state");
    fs::write(corrupt_state.join("state.json"), "{ not json").unwrap();
    assert!(err(&corrupt_state).contains("state.json is corrupt"), "{}", err(&corrupt_state));

    let truncated = copy("truncated-model");
    let bytes = fs::read(truncated.join("model.bpk")).unwrap();
    fs::write(truncated.join("model.bpk"), &bytes[..bytes.len() / 2]).unwrap();
    assert!(err(&truncated).contains("model.bpk is corrupt: its SHA-256 is"), "{}", err(&truncated));

    let no_optimizer = copy("no-optimizer");
    fs::remove_file(no_optimizer.join("optimizer.bpk")).unwrap();
    assert!(err(&no_optimizer).contains("optimizer.bpk is missing"), "{}", err(&no_optimizer));

    let mismatched = copy("mismatched");
    let text = fs::read_to_string(mismatched.join("state.json")).unwrap().replace("\"obs_dim\": 4", "\"obs_dim\": 7");
    fs::write(mismatched.join("state.json"), text).unwrap();
    assert!(err(&mismatched).contains("of another shape"), "{}", err(&mismatched));

    let missing = tmp.path().join("nothing-here");
    assert!(err(&missing).contains("cannot read state.json"), "{}", err(&missing));
}
