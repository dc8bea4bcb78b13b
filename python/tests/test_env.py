"""The gymnasium environment: gymnasium's own checker, the same trajectory as the Rust
env step by step, the vector env's batch semantics, Python rewards, and clear errors
for bad overrides, actions and data."""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from gymnasium.vector import AutoresetMode

import rltrade
from rltrade import _rltrade

from conftest import CONFIG, DATA

# short episodes, so that resets happen inside the tests
SHORT = {"env.max_episode_steps": 50}


def test_the_env_passes_gymnasiums_checker_without_a_warning():
    env = gym.make("rltrade/Trading-v0", config=CONFIG, data=DATA, seed=3)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env.unwrapped)
    assert [str(w.message) for w in caught] == []
    assert env.observation_space.dtype == np.float32
    assert env.observation_space.shape == (32 * 8 + 3,)
    assert env.action_space == gym.spaces.Discrete(2)


def test_the_same_seed_gives_the_rust_envs_trajectory_step_by_step():
    actions = np.random.default_rng(11).integers(0, 2, size=400).tolist()
    first, steps = _rltrade.reference_rollout(actions, 5, CONFIG, DATA, "train", SHORT)
    env = rltrade.TradingEnv(config=CONFIG, data=DATA, seed=5, overrides=SHORT)
    obs, _ = env.reset(seed=5)
    np.testing.assert_array_equal(obs, first)
    ends = 0
    for action, (r_obs, r_reward, r_terminated, r_truncated) in zip(actions, steps):
        obs, reward, terminated, truncated, info = env.step(action)
        np.testing.assert_array_equal(obs, r_obs)
        assert (reward, terminated, truncated) == (r_reward, r_terminated, r_truncated)
        assert obs.dtype == np.float32 and isinstance(info["equity"], float)
        if terminated or truncated:
            ends += 1
            env.reset()
    assert ends >= 7, "episodes of 50 steps ended and restarted"


def test_info_carries_the_fill_and_the_account():
    env = rltrade.TradingEnv(config=CONFIG, data=DATA, seed=1)
    env.reset(seed=1)
    _, _, _, _, info = env.step(1)
    assert set(info) == {"index", "time_ms", "equity", "cash", "position", "exposure", "fill", "no_fill",
                         "refusal", "state_change", "exit_reason"}
    assert info["fill"]["side"] == "buy" and info["fill"]["fee"] > 0
    assert info["exposure"] == pytest.approx(1.0, abs=0.05) and info["cash"] == pytest.approx(0.0, abs=1e-6)


def test_overrides_set_keys_and_bad_ones_name_the_key():
    env = rltrade.TradingEnv(config=CONFIG, data=DATA, overrides={"env.window": 16, "execution.fee_bps": 5})
    assert env.observation_space.shape == (16 * 8 + 3,)
    with pytest.raises(ValueError, match=r"overrides\[`env.windw`\]: unknown field `windw`"):
        rltrade.TradingEnv(config=CONFIG, data=DATA, overrides={"env.windw": 16})
    with pytest.raises(ValueError, match=r"overrides\[`env.window`\]: .*invalid type: string"):
        rltrade.TradingEnv(config=CONFIG, data=DATA, overrides={"env.window": "sixteen"})
    with pytest.raises(ValueError, match=r"overrides\[`nosuch.key`\]: unknown field `nosuch`"):
        rltrade.TradingEnv(config=CONFIG, data=DATA, overrides={"nosuch.key": 1})
    with pytest.raises(ValueError, match=r"env.window"):
        rltrade.TradingEnv(config=CONFIG, data=DATA, overrides={"env.window": 0})
    with pytest.raises(ValueError, match=r"split: "):
        rltrade.TradingEnv(config=CONFIG, data=DATA, split="tset")
    with pytest.raises(ValueError, match=r"overrides\[`env.window`\]: .* does not fit a 64-bit integer"):
        rltrade.TradingEnv(config=CONFIG, data=DATA, overrides={"env.window": 2**70})
    numpy_scalars = rltrade.TradingEnv(config=CONFIG, data=DATA, overrides={"env.window": np.int64(8),
                                                                            "execution.fee_bps": np.float32(4.0)})
    assert numpy_scalars.observation_space.shape == (8 * 8 + 3,)


def test_a_bad_config_file_names_its_file_line_and_key(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[env]\nwindow = 16\nwindw = 3\n")
    with pytest.raises(ValueError) as error:
        rltrade.TradingEnv(config=bad, data=DATA)
    text = str(error.value)
    assert "bad.toml" in text and "line 3" in text and "windw" in text, text


def test_an_action_out_of_range_raises_and_steps_nothing():
    env = rltrade.TradingEnv(config=CONFIG, data=DATA, seed=2)
    env.reset(seed=2)
    for bad in (2, -1, 1.5, "1", [0]):
        with pytest.raises(ValueError):
            env.step(bad)
    with pytest.raises(ValueError):
        env.step(2**63)
    # nothing was stepped: the next step is a fresh env's first
    twin = rltrade.TradingEnv(config=CONFIG, data=DATA, seed=2)
    twin.reset(seed=2)
    np.testing.assert_array_equal(env.step(1)[0], twin.step(1)[0])

    vec = rltrade.VecEnv(4, config=CONFIG, data=DATA, seed=2)
    vec.reset(seed=2)
    with pytest.raises(ValueError, match=r"actions\[2\] = 7 is out of range"):
        vec.step(np.array([0, 1, 7, 0]))
    with pytest.raises(ValueError, match=r"shape \(4,\)"):
        vec.step(np.array([0, 1, 0]))
    with pytest.raises(ValueError, match="integers"):
        vec.step(np.array([0.0, 1.7, 0.0, 1.0]))
    with pytest.raises(ValueError, match="integers"):
        vec.step(np.array([True, False, True, False]))
    with pytest.raises(ValueError, match="one int"):
        vec.reset(seed=[1, 2, 3, 4])
    twin = rltrade.VecEnv(4, config=CONFIG, data=DATA, seed=2)
    twin.reset(seed=2)
    np.testing.assert_array_equal(vec.step(np.ones(4, dtype=np.int64))[0], twin.step(np.ones(4, dtype=np.int64))[0])


def test_data_errors_name_the_file_and_line(tmp_path):
    lines = DATA.read_text().splitlines()
    bad = tmp_path / "bad_1h.csv"
    broken = lines[5].split(",")
    broken[4] = "NaN"
    bad.write_text("\n".join(lines[:5] + [",".join(broken)] + lines[6:200]) + "\n")
    with pytest.raises(ValueError) as error:
        rltrade.TradingEnv(data=bad)
    assert "bad_1h.csv" in str(error.value) and "line 6" in str(error.value), str(error.value)
    with pytest.raises(ValueError, match="line 6"):
        rltrade.load_bars(bad)
    with pytest.raises(ValueError, match="missing.csv"):
        rltrade.TradingEnv(data=tmp_path / "missing.csv")


def test_the_vector_env_declares_same_step_autoreset_and_returns_fresh_arrays():
    vec = rltrade.VecEnv(8, config=CONFIG, data=DATA, seed=4, overrides=SHORT)
    assert vec.metadata["autoreset_mode"] == AutoresetMode.SAME_STEP
    assert vec.observation_space.shape == (8, 259) and vec.single_action_space == gym.spaces.Discrete(2)
    obs, _ = vec.reset(seed=4)
    assert obs.shape == (8, 259) and obs.dtype == np.float32
    rng = np.random.default_rng(0)
    seen_final = False
    previous = obs
    for _ in range(120):
        obs, rewards, terminated, truncated, infos = vec.step(rng.integers(0, 2, size=8))
        assert obs is not previous and not np.shares_memory(obs, previous), "fresh arrays by default"
        assert rewards.dtype == np.float64 and terminated.dtype == np.bool_
        if (terminated | truncated).any():
            seen_final = True
            done = terminated | truncated
            assert (infos["_final_obs"] == done).all()
            for i in np.flatnonzero(done):
                assert infos["final_obs"][i].shape == (259,)
                assert infos["episode_length"][i] == 50
        previous = obs
    assert seen_final
    views = rltrade.VecEnv(8, config=CONFIG, data=DATA, seed=4, copy=False)
    first, _ = views.reset(seed=4)
    second, *_ = views.step(np.zeros(8, dtype=np.int64))
    assert second is first, "copy=False returns the env's own buffer"


def test_the_vector_env_does_not_depend_on_threads_and_reseeds():
    runs = []
    for threads in (1, 2):
        vec = rltrade.VecEnv(6, config=CONFIG, data=DATA, seed=9, threads=threads, overrides=SHORT)
        obs, _ = vec.reset(seed=9)
        rng = np.random.default_rng(3)
        trace = [obs]
        for _ in range(80):
            trace.append(vec.step(rng.integers(0, 2, size=6))[0])
        runs.append(np.stack(trace))
    np.testing.assert_array_equal(runs[0], runs[1])
    vec = rltrade.VecEnv(6, config=CONFIG, data=DATA, seed=1)
    a, _ = vec.reset(seed=21)
    b, _ = vec.reset(seed=21)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a[0], a[1]), "each env keeps its own stream"


def test_a_python_reward_replaces_the_rust_one_once_per_step_or_batch():
    calls = []

    def equity_change(info):
        calls.append(info)
        return info["equity"] / 10_000.0 - 1.0

    env = rltrade.TradingEnv(config=CONFIG, data=DATA, seed=1, reward_fn=equity_change)
    env.reset(seed=1)
    _, reward, _, _, info = env.step(1)
    assert reward == pytest.approx(info["equity"] / 10_000.0 - 1.0) and len(calls) == 1

    batches = []

    def batch_reward(batch):
        batches.append(batch)
        return -batch["exposure"]

    vec = rltrade.VecEnv(5, config=CONFIG, data=DATA, seed=1, reward_fn=batch_reward)
    vec.reset(seed=1)
    _, rewards, *_ = vec.step(np.ones(5, dtype=np.int64))
    assert len(batches) == 1 and rewards.shape == (5,)
    assert set(batches[0]) == {"reward", "terminated", "truncated", "equity", "position", "exposure"}
    np.testing.assert_allclose(rewards, -batches[0]["exposure"])
