//! The same seed and config on the same machine give identical weights and metrics.

use rltrade_agent::cartpole::CartPoleVecEnv;
use rltrade_agent::mlp::ActorCriticWeights;
use rltrade_agent::train::{Control, SeedPurpose, derive_seed, train};
use rltrade_config::ppo::PpoConfig;

fn run(seed: u64) -> (ActorCriticWeights, Vec<String>) {
    let config = PpoConfig {
        n_envs: 4,
        n_steps: 64,
        batch_size: 64,
        n_epochs: 3,
        total_steps: 4 * 64 * 3,
        ..PpoConfig::default()
    };
    let mut env = CartPoleVecEnv::new(config.n_envs, derive_seed(seed, SeedPurpose::Env));
    let mut log = Vec::new();
    let (_, weights, _) = train(&mut env, &config, seed, |u| {
        log.push(format!("{} {:?} {:?}", u.global_step, u.stats, u.episodes));
        Ok(Control::Continue)
    })
    .unwrap();
    (weights, log)
}

#[test]
fn same_seed_same_weights_and_stats_other_seed_differs() {
    let (a, log_a) = run(3);
    let (b, log_b) = run(3);
    assert_eq!(a, b, "weights differ between two runs of seed 3");
    assert_eq!(log_a, log_b);
    let (c, _) = run(4);
    assert_ne!(a, c);
}
