//! Gymnasium semantics of `TradingEnv` and `VecEnv`: next-open fills, observations,
//! episode ends, risk halts, no look-ahead, thread-count independence.

mod common;

use std::sync::Arc;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rltrade_env::features::FeatureConfig;
use rltrade_env::trading_env::POSITION_FEATURES;
use rltrade_env::{
    Bar, BarSeries, EnvConfig, MarketData, SplitConfig, SplitName, TradingEnv, TradingSetup, VecEnv, VecStepBuffers,
};
use rltrade_exec::{ExecutionConfig, ProtectConfig, RiskConfig, Side, TradingState};

fn env(data: &Arc<MarketData>, split: SplitName) -> TradingEnv {
    TradingEnv::new(
        &TradingSetup {
            data: Arc::clone(data),
            env: EnvConfig::default(),
            execution: ExecutionConfig::default(),
            risk: RiskConfig::default(),
            protect: ProtectConfig::default(),
        },
        split,
        7,
    )
    .unwrap()
}

#[test]
fn action_at_close_fills_at_next_open_with_costs() {
    let data = common::market(common::synthetic(2_000, 1));
    let mut env = env(&data, SplitName::All);
    let mut obs = vec![0.0; env.obs_dim()];
    env.reset_at(500, 600, true, &mut obs).unwrap();
    let step = env.step(1).unwrap();
    let bars = &data.series.bars;
    let fill = step.info.fill.expect("a fill at bar 501's open");
    assert_eq!(fill.side, Side::Buy);
    assert_eq!(fill.time_ms, bars[501].time_ms);
    assert_eq!(fill.reference_price, bars[501].open);
    assert!((fill.price - bars[501].open * 1.0005).abs() < 1e-9);
    let expected_qty = 10_000.0 / (bars[501].open * 1.0005 * 1.001);
    assert!((fill.quantity - expected_qty).abs() < 1e-9);
    assert!((step.info.equity - expected_qty * bars[501].close).abs() < 1e-6, "all-in: equity is the position");
    assert!((step.reward - (step.info.equity / 10_000.0).ln()).abs() < 1e-12);
    // holding the target sends no new order
    let step = env.step(1).unwrap();
    assert!(step.info.fill.is_none());
    assert_eq!(step.info.index, 502);
}

#[test]
fn observation_is_the_feature_window_then_position_state() {
    let data = common::market(common::synthetic(2_000, 2));
    let mut env = env(&data, SplitName::All);
    let n = data.n_features;
    assert_eq!(env.obs_dim(), 32 * n + POSITION_FEATURES);
    let mut obs = vec![0.0; env.obs_dim()];
    env.reset_at(300, 400, false, &mut obs).unwrap();
    assert_eq!(&obs[..32 * n], &data.features[(300 - 31) * n..301 * n]);
    assert_eq!(&obs[32 * n..], &[0.0, 0.0, 0.0]);
    let step = env.step(1).unwrap();
    let state = &step.observation[32 * n..];
    assert!((state[0] as f64 - step.info.exposure).abs() < 1e-6);
    assert!(state[0] > 0.99 && state[0] <= 1.0, "all-in long: {state:?}");
    assert_eq!(state[2], 1.0f32.ln_1p(), "one bar in position");
}

#[test]
fn episodes_truncate_at_the_limit_and_terminate_on_ruin() {
    let data = common::market(common::synthetic(3_000, 3));
    let config = EnvConfig { max_episode_steps: 50, ..EnvConfig::default() };
    let mut env = TradingEnv::new(
        &TradingSetup {
            data: Arc::clone(&data),
            env: config,
            execution: ExecutionConfig::default(),
            risk: RiskConfig::default(),
            protect: ProtectConfig::default(),
        },
        SplitName::Train,
        1,
    )
    .unwrap();
    let (_, info) = env.reset(Some(3));
    let start = info.index;
    assert!(start + 1 >= data.splits.train.start && start < data.splits.train.end);
    for i in 1..=50 {
        let step = env.step(i % 2).unwrap();
        assert_eq!(step.truncated, i == 50, "step {i}");
        assert!(!step.terminated);
    }
    // A crash to 10% terminates a long episode (ruin at 50% of the cash). With 1,200 bars
    // the train split (bars 0..840) leaves no full episode after bar 126 than an episode, so every episode starts
    // at the first full observation (bar 126) and runs into the crash at bar 300.
    let mut bars: Vec<Bar> = common::synthetic(1_200, 4).bars;
    for bar in &mut bars[300..] {
        for p in [&mut bar.open, &mut bar.high, &mut bar.low, &mut bar.close] {
            *p *= 0.1;
        }
    }
    let data = common::market(BarSeries::from_bars("CRASH", bars));
    let mut env = self::env(&data, SplitName::Train);
    let (_, info) = env.reset(Some(0));
    assert_eq!(info.index, data.first_observation_index());
    let ended = (0..300).map(|_| env.step(1).unwrap()).find(|s| s.terminated || s.truncated);
    assert!(ended.is_some_and(|s| s.terminated && !s.truncated && s.info.index == 300));
}

#[test]
fn reset_with_a_seed_is_reproducible() {
    let data = common::market(common::synthetic(3_000, 5));
    let mut a = env(&data, SplitName::Train);
    let mut b = env(&data, SplitName::Train);
    let (obs_a, info_a) = a.reset(Some(42));
    a.reset(None);
    let (obs_b, info_b) = b.reset(Some(42));
    assert_eq!((obs_a, info_a.index), (obs_b, info_b.index));
    let (_, again) = a.reset(Some(42));
    assert_eq!(again.index, info_a.index);
}

#[test]
fn drawdown_halt_flattens_and_refuses_orders() {
    let mut bars: Vec<Bar> = common::synthetic(1_200, 6).bars;
    for bar in &mut bars[401..] {
        for p in [&mut bar.open, &mut bar.high, &mut bar.low, &mut bar.close] {
            *p *= 0.7;
        }
    }
    let data = common::market(BarSeries::from_bars("DROP", bars));
    let risk = RiskConfig { max_drawdown: Some(0.2), ..RiskConfig::default() };
    let mut env = TradingEnv::new(
        &TradingSetup {
            data: Arc::clone(&data),
            env: EnvConfig::default(),
            execution: ExecutionConfig::default(),
            risk,
            protect: ProtectConfig::default(),
        },
        SplitName::All,
        0,
    )
    .unwrap();
    let mut obs = vec![0.0; env.obs_dim()];
    env.reset_at(395, 450, true, &mut obs).unwrap();
    let mut halted_at = None;
    let mut liquidated = false;
    let mut refusals = Vec::new();
    for i in 0..20 {
        // after the halt, ask for flat and then long again: the long request is refused once
        let action = if (12..14).contains(&i) { 0 } else { 1 };
        let step = env.step(action).unwrap();
        if step.info.state_change.is_some_and(|c| c.to == TradingState::Halted) {
            halted_at = Some(step.info.index);
        }
        if halted_at.is_some_and(|h| step.info.index == h + 1) {
            liquidated = step.info.fill.is_some_and(|f| f.side == Side::Sell) && step.info.position == 0.0;
        }
        refusals.extend(step.info.refusal);
    }
    assert_eq!(halted_at, Some(401));
    assert!(liquidated, "flatten on halt sells at the next open");
    assert_eq!(refusals.len(), 2, "one refusal per request while halted (flat, then long): {refusals:?}");
    assert!(refusals.iter().all(|r| matches!(r, rltrade_exec::RefusalReason::Halted { .. })));
    assert_eq!(env.risk_refusals(), 2);
    assert_eq!(env.portfolio().quantity, 0.0);
}

#[test]
fn short_actions_need_permission() {
    let data = common::market(common::synthetic(2_000, 7));
    let config = EnvConfig { actions: vec![-1.0, 0.0, 1.0], ..EnvConfig::default() };
    let err = TradingEnv::new(
        &TradingSetup {
            data: Arc::clone(&data),
            env: config.clone(),
            execution: ExecutionConfig::default(),
            risk: RiskConfig::default(),
            protect: ProtectConfig::default(),
        },
        SplitName::All,
        0,
    )
    .unwrap_err();
    assert!(err.to_string().contains("risk.allow_short"), "{err}");
    let risk = RiskConfig { allow_short: true, ..RiskConfig::default() };
    let mut env = TradingEnv::new(
        &TradingSetup {
            data,
            env: config,
            execution: ExecutionConfig::default(),
            risk,
            protect: ProtectConfig::default(),
        },
        SplitName::All,
        0,
    )
    .unwrap();
    env.reset(Some(1));
    let step = env.step(0).unwrap();
    assert!(step.info.position < 0.0);
    assert!(env.step(9).unwrap_err().to_string().contains("action 9 is out of range"));
}

/// Steps one env over `start..=end` with actions drawn from the observation (so an
/// observation change would change the actions) and records everything.
fn trace(data: Arc<MarketData>, start: usize, end: usize) -> Vec<(Vec<f32>, usize, Option<rltrade_exec::Fill>, f64)> {
    let mut env = env(&data, SplitName::All);
    let mut obs = vec![0.0; env.obs_dim()];
    env.reset_at(start, end, true, &mut obs).unwrap();
    let mut out = Vec::new();
    let choose = |obs: &[f32]| (obs.iter().map(|x| x.to_bits() as u64).sum::<u64>() % 2) as usize;
    while env.index() < end {
        let action = choose(&obs);
        let step = env.step(action).unwrap();
        out.push((obs.clone(), action, step.info.fill, step.info.equity));
        obs = step.observation;
    }
    // the observation at t itself and the action decided on it
    out.push((obs.clone(), choose(&obs), None, env.portfolio().equity()));
    out
}

#[test]
fn changing_future_bars_changes_nothing_up_to_t() {
    let series = common::btc_1h();
    let original = common::market(series.clone());
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let start = original.splits.validation.start;
    for _ in 0..6 {
        let t = rng.random_range(start + 10..series.len() - 2);
        let mut bars = series.bars.clone();
        for bar in &mut bars[t + 1..] {
            let scale = rng.random_range(0.2..5.0);
            *bar = Bar {
                time_ms: bar.time_ms,
                open: bar.open * scale,
                high: bar.high * scale * 1.5,
                low: bar.low * scale * 0.5,
                close: bar.close * scale,
                volume: rng.random_range(0.0..1e6),
            };
        }
        let changed = Arc::new(
            MarketData::new(
                BarSeries { bars, ..series.clone() },
                &FeatureConfig::default(),
                &SplitConfig::default(),
                &EnvConfig::default(),
                0,
                Some(original.normalization.clone()),
            )
            .unwrap(),
        );
        let a = trace(Arc::clone(&original), start, t);
        let b = trace(changed, start, t);
        assert_eq!(a.len(), t - start + 1);
        assert_eq!(a, b, "observations, actions, fills or equity up to bar {t} changed");
    }
}

#[test]
fn normalization_uses_train_only() {
    let series = common::btc_1h();
    let original = common::market(series.clone());
    let mut bars = series.bars.clone();
    for bar in &mut bars[original.splits.train.end..] {
        bar.volume *= 100.0;
        bar.high *= 1.5;
    }
    let changed = common::market(BarSeries { bars, ..series });
    assert_eq!(original.normalization, changed.normalization);
}

fn run_vec(threads: usize, n_envs: usize) -> VecStepBuffers {
    let data = common::market(common::synthetic(4_000, 8));
    let config = EnvConfig { max_episode_steps: 100, ..EnvConfig::default() };
    let mut venv = VecEnv::new(
        &TradingSetup {
            data,
            env: config.clone(),
            execution: ExecutionConfig::default(),
            risk: RiskConfig::default(),
            protect: ProtectConfig::default(),
        },
        SplitName::Train,
        n_envs,
        99,
        threads,
    )
    .unwrap();
    let mut out = VecStepBuffers::new(n_envs, venv.obs_dim());
    venv.reset(&mut out.obs).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let mut actions = vec![0usize; n_envs];
    let mut checksum = VecStepBuffers::new(n_envs, venv.obs_dim());
    for _ in 0..1_000 {
        actions.iter_mut().for_each(|a| *a = rng.random_range(0..2));
        venv.step(&actions, &mut out).unwrap();
        for i in 0..n_envs {
            checksum.rewards[i] += out.rewards[i];
            checksum.episode_return[i] += out.episode_return[i];
            checksum.terminated[i] |= out.terminated[i];
            checksum.truncated[i] |= out.truncated[i];
        }
    }
    checksum.obs = out.obs;
    checksum.final_obs = out.final_obs;
    checksum
}

#[test]
fn vec_env_results_do_not_depend_on_the_thread_count() {
    let one = run_vec(1, 8);
    assert!(one.truncated.iter().all(|&t| t), "every env auto-reset at least once");
    assert_eq!(one, run_vec(2, 8));
    assert_eq!(run_vec(1, 5), run_vec(2, 5));
}

#[test]
fn vec_env_rejects_bad_buffers() {
    let data = common::market(common::synthetic(2_000, 9));
    let mut venv = VecEnv::new(
        &TradingSetup {
            data,
            env: EnvConfig::default(),
            execution: ExecutionConfig::default(),
            risk: RiskConfig::default(),
            protect: ProtectConfig::default(),
        },
        SplitName::Train,
        4,
        0,
        1,
    )
    .unwrap();
    let mut out = VecStepBuffers::new(4, venv.obs_dim());
    let err = venv.step(&[0, 1, 0], &mut out).unwrap_err();
    assert_eq!(err.to_string(), "buffer `actions` has length 3, expected 4");
    // a bad action anywhere refuses the whole batch before any env moves
    venv.reset(&mut out.obs).unwrap();
    let before: Vec<usize> = venv.envs().map(|e| e.index()).collect();
    let err = venv.step(&[0, 1, 5, 0], &mut out).unwrap_err();
    assert_eq!(err.to_string(), "action 5 is out of range: the action list has 2 entries");
    assert_eq!(venv.envs().map(|e| e.index()).collect::<Vec<_>>(), before);
}

#[test]
fn kill_switch_flattens_and_refuses_until_released() {
    let data = common::market(common::synthetic(2_000, 10));
    let mut env = env(&data, SplitName::All);
    let mut obs = vec![0.0; env.obs_dim()];
    env.reset_at(500, 600, true, &mut obs).unwrap();
    assert!(env.step(1).unwrap().info.position > 0.0);
    env.risk_mut().engage_kill_switch();
    let step = env.step(1).unwrap();
    assert!(step.info.fill.is_some_and(|f| f.side == Side::Sell), "the kill switch flattens at the next open");
    assert_eq!(step.info.position, 0.0);
    let step = env.step(0).unwrap();
    assert!(matches!(step.info.refusal, Some(rltrade_exec::RefusalReason::KillSwitch)));
    env.risk_mut().release_kill_switch();
    let step = env.step(1).unwrap();
    assert!(step.info.refusal.is_none() && step.info.position > 0.0);
}

/// Steps `venv` with `n` seeded random actions, returning every output.
fn trace_vec(venv: &mut VecEnv, actions_seed: u64, n: usize) -> Vec<VecStepBuffers> {
    let mut rng = ChaCha8Rng::seed_from_u64(actions_seed);
    let mut out = VecStepBuffers::new(venv.n_envs(), venv.obs_dim());
    let mut actions = vec![0usize; venv.n_envs()];
    (0..n)
        .map(|_| {
            actions.iter_mut().for_each(|a| *a = rng.random_range(0..2));
            venv.step(&actions, &mut out).unwrap();
            out.clone()
        })
        .collect()
}

#[test]
fn vec_env_state_restores_the_same_future_and_refuses_what_does_not_fit() {
    let data = common::market(common::synthetic(4_000, 11));
    let config = EnvConfig { max_episode_steps: 100, ..EnvConfig::default() };
    let risk = RiskConfig { max_drawdown: Some(0.05), ..RiskConfig::default() };
    let make = |n_envs: usize, seed: u64, risk: &RiskConfig| {
        VecEnv::new(
            &TradingSetup {
                data: Arc::clone(&data),
                env: config.clone(),
                execution: ExecutionConfig::default(),
                risk: risk.clone(),
                protect: ProtectConfig::default(),
            },
            SplitName::Train,
            n_envs,
            seed,
            1,
        )
        .unwrap()
    };
    let mut a = make(4, 3, &risk);
    let mut obs = vec![0.0; 4 * a.obs_dim()];
    a.reset(&mut obs).unwrap();
    trace_vec(&mut a, 1, 150);
    let state = a.state();
    assert_eq!(state.n_envs(), 4);
    let expected = trace_vec(&mut a, 2, 300);
    assert!(expected.iter().any(|o| o.truncated.iter().any(|&t| t)), "episodes end, so the generators are used");

    // another seed and a fresh reset: only the restored state decides the future
    let mut b = make(4, 77, &risk);
    b.reset(&mut obs).unwrap();
    b.restore(&state).unwrap();
    assert_eq!(trace_vec(&mut b, 2, 300), expected);

    let err = make(3, 3, &risk).restore(&state).unwrap_err().to_string();
    assert!(err.contains("holds 4 envs, this VecEnv has 3"), "{err}");
    let mut other_limits = make(4, 3, &RiskConfig::default());
    let err = other_limits.restore(&state).unwrap_err().to_string();
    assert!(err.contains("env 0: it was saved with other risk limits"), "{err}");
}
