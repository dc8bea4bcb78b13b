//! The PPO sanity check: CartPole-v1 reaches a mean return ≥ 475 over the last 20
//! episodes within 200,000 steps for at least 4 of seeds 1–5.

use rltrade_agent::cartpole::CartPoleVecEnv;
use rltrade_agent::train::{Control, SeedPurpose, derive_seed, mean_last, train};
use rltrade_config::ppo::PpoConfig;

/// CartPole hyperparameters of the RL Baselines3 Zoo (`hyperparams/ppo.yml`, CartPole-v1).
pub fn cartpole_config() -> PpoConfig {
    PpoConfig {
        n_envs: 8,
        n_steps: 32,
        batch_size: 256,
        gae_lambda: 0.8,
        gamma: 0.98,
        n_epochs: 20,
        ent_coef: 0.0,
        learning_rate: 1e-3,
        anneal_lr: true,
        clip_range: 0.2,
        total_steps: 200_000,
        ..PpoConfig::default()
    }
}

/// Trains one seed; returns the step at which the last-20 mean first reached 475.
fn solve(seed: u64) -> Option<u64> {
    let config = cartpole_config();
    let mut env = CartPoleVecEnv::new(config.n_envs, derive_seed(seed, SeedPurpose::Env));
    let mut returns = Vec::new();
    let mut solved_at = None;
    train(&mut env, &config, seed, |log| {
        returns.extend(log.episodes.iter().map(|e| e.0));
        if returns.len() >= 20 && mean_last(&returns, 20).is_some_and(|m| m >= 475.0) {
            solved_at = Some(log.global_step);
            return Ok(Control::Stop);
        }
        Ok(Control::Continue)
    })
    .unwrap();
    eprintln!("seed {seed}: solved at {solved_at:?}, last-20 mean {:?}", mean_last(&returns, 20));
    solved_at
}

#[test]
fn ppo_solves_cartpole_for_4_of_5_seeds_within_200k_steps() {
    let solved: Vec<Option<u64>> = (1..=5).map(solve).collect();
    let count = solved.iter().filter(|s| s.is_some()).count();
    assert!(count >= 4, "solved {count} of 5 seeds: {solved:?}");
}
