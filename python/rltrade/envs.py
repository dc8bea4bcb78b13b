"""The trading environment as gymnasium classes: :class:`TradingEnv` (one env) and
:class:`VecEnv` (N envs stepped as a batch in Rust, with the GIL released).

Both run rltrade's Rust ``TradingEnv``: the execution and risk code of the backtest
and the live daemon, so an agent trained here pays exactly the fees, slippage and
risk refusals it will meet when it trades.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Mapping, Optional, Union

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from . import _rltrade

PathLike = Union[str, "os.PathLike[str]"]

#: A reward written in Python: receives the step's info and returns the reward.
RewardFn = Callable[[Mapping[str, Any]], float]


class TradingEnv(gym.Env):
    """One trading environment over historical OHLCV bars (gymnasium API).

    Args:
        config: an rltrade TOML config (``configs/btc_1h_ppo.toml``); ``None`` for the
            defaults.
        data: the bars' CSV, replacing ``data.path``.
        split: ``"train"``, ``"validation"``, ``"test"`` or ``"all"``.
        seed: seeds the episode starts (``reset(seed=...)`` re-seeds).
        overrides: config keys to set, e.g. ``{"env.window": 16, "execution.fee_bps": 5}``.
        reward_fn: optional reward written in Python, called with the step's info (it
            replaces the Rust reward; costs one Python call per step).

    Observation: ``Box`` float32 ``[obs_dim]``: ``window`` rows of normalized
    features (clipped to ``±features.clip``, oldest first), then exposure (fraction
    of equity, signed), the open position's unrealized return (fraction) and
    ``ln(1 + bars in position)``.

    Action: ``Discrete(len(env.actions))``; action ``i`` asks for the target exposure
    ``env.actions[i]`` (a fraction of equity), filled at the next bar's open.

    Reward, ``terminated`` (ruin), ``truncated`` (episode length or end of the split)
    and the info keys (``index``, ``time_ms``, ``equity``, ``cash``, ``position``,
    ``exposure``, ``fill``, ``no_fill``, ``refusal``, ``state_change``,
    ``exit_reason``) are the Rust env's.

    Raises:
        ValueError: an unknown key or a wrong type in ``overrides`` (naming the key),
            a setting out of range, a data file error (file and line), an action out
            of range.
    """

    metadata = {"render_modes": []}

    def __init__(
        self,
        config: Optional[PathLike] = None,
        data: Optional[PathLike] = None,
        split: str = "train",
        seed: Optional[int] = None,
        overrides: Optional[Mapping[str, Any]] = None,
        reward_fn: Optional[RewardFn] = None,
    ) -> None:
        super().__init__()
        self._raw = _rltrade.RawEnv(config, data, split, 0 if seed is None else int(seed), dict(overrides or {}))
        low, high = self._raw.observation_bounds()
        self.observation_space = spaces.Box(low=low, high=high, dtype=np.float32)
        self.action_space = spaces.Discrete(len(self._raw.actions))
        self.actions: list = self._raw.actions
        self._reward_fn = reward_fn

    def reset(self, *, seed: Optional[int] = None, options: Optional[dict] = None):
        """Starts an episode at a random bar of the split; ``seed`` re-seeds first.

        Returns:
            ``(observation, info)``.
        """
        super().reset(seed=seed)
        return self._raw.reset(None if seed is None else int(seed))

    def step(self, action):
        """Takes ``action`` at this bar's close; it fills at the next bar's open.

        Returns:
            ``(observation, reward, terminated, truncated, info)``.

        Raises:
            ValueError: ``action`` is not an index of ``actions``.
        """
        if type(action) is not int:
            action = _action_index(action)
        if self._reward_fn is None:
            return self._raw.step(action)
        obs, _, terminated, truncated, info = self._raw.step(action)
        return obs, float(self._reward_fn(info)), terminated, truncated, info


def _action_index(action) -> int:
    """``action`` as a Python int: an int, a numpy integer or a 0-d integer array."""
    if isinstance(action, (int, np.integer)) and not isinstance(action, bool):
        return int(action)
    value = np.asarray(action)
    if value.shape != () or not np.issubdtype(value.dtype, np.integer):
        raise ValueError(f"action {action!r} is not an integer index")
    return int(value)


class VecEnv(VectorEnv):
    """``num_envs`` trading environments stepped as one batch in Rust
    (``gymnasium.vector.VectorEnv``), with the GIL released during each step.

    Auto-reset is same-step (``metadata["autoreset_mode"]`` is
    ``AutoresetMode.SAME_STEP``, as Stable-Baselines3 does it): when an episode ends,
    ``obs`` holds the next episode's first observation and the last one is in
    ``infos["final_obs"]`` (masked by ``infos["_final_obs"]``). Env ``i`` draws its
    episodes from stream ``i`` of the generator seeded with ``seed``, so results do
    not depend on ``threads``.

    Args:
        num_envs: how many envs.
        config, data, split, seed, overrides: as :class:`TradingEnv`.
        threads: threads stepping the batch (blocks of envs); 1 steps on the caller's.
        copy: ``True`` (default) returns fresh arrays each step; ``False`` returns
            views into buffers this object owns and overwrites at the next step
            (faster; copy what you keep).
        reward_fn: optional reward written in Python, called once per batch with
            ``{"reward", "terminated", "truncated", "equity", "position",
            "exposure"}`` (numpy arrays ``[num_envs]``; the account figures are read
            after the auto-reset) and returning ``[num_envs]`` rewards. It costs one
            Python call and three small arrays per batch.

    ``infos`` holds ``episode_return`` and ``episode_length`` where an episode ended
    (masked by ``_episode_return``), and ``final_obs``; the per-step infos of
    :class:`TradingEnv` (equity, fill, ...) are not gathered for a batch, and there is
    no ``final_info``. Rewards have float32 precision (the Rust batch's, as the PPO
    trainer uses them) in float64 arrays; ``episode_return`` sums the Rust rewards,
    also with a ``reward_fn``. With ``copy=False`` the arrays are this object's own:
    read them from one thread, before the next step.
    """

    metadata = {"autoreset_mode": AutoresetMode.SAME_STEP}

    def __init__(
        self,
        num_envs: int,
        config: Optional[PathLike] = None,
        data: Optional[PathLike] = None,
        split: str = "train",
        seed: Optional[int] = None,
        overrides: Optional[Mapping[str, Any]] = None,
        threads: int = 1,
        copy: bool = True,
        reward_fn: Optional[Callable[[Mapping[str, np.ndarray]], np.ndarray]] = None,
    ) -> None:
        self._raw = _rltrade.RawVecEnv(
            int(num_envs), config, data, split, 0 if seed is None else int(seed), int(threads), dict(overrides or {})
        )
        self.num_envs = self._raw.num_envs
        low, high = self._raw.observation_bounds()
        self.single_observation_space = spaces.Box(low=low, high=high, dtype=np.float32)
        self.single_action_space = spaces.Discrete(len(self._raw.actions))
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self.actions: list = self._raw.actions
        self._copy = bool(copy)
        self._reward_fn = reward_fn

    def reset(self, *, seed: Optional[int] = None, options: Optional[dict] = None):
        """Resets every env; ``seed`` (one int) re-seeds each env's generator first
        (env ``i`` keeps stream ``i``).

        Returns:
            ``(obs [num_envs, obs_dim], infos)``.

        Raises:
            ValueError: ``seed`` is not an int (per-env seed lists are not taken: the
                envs' streams already differ).
        """
        if seed is not None and not isinstance(seed, (int, np.integer)):
            raise ValueError(f"seed must be one int (each env keeps its own stream), not {seed!r}")
        return self._raw.reset(self._copy, None if seed is None else int(seed)), {}

    def step(self, actions):
        """Steps env ``i`` with ``actions[i]`` (integers, ``[num_envs]``).

        Returns:
            ``(obs, rewards, terminations, truncations, infos)``.

        Raises:
            ValueError: actions of the wrong shape, not integers, or out of range
                (nothing is stepped).
        """
        if not (isinstance(actions, np.ndarray) and actions.dtype == np.int64 and actions.flags.c_contiguous):
            given = np.asarray(actions)
            if given.dtype == np.bool_ or not np.issubdtype(given.dtype, np.integer):
                raise ValueError(f"actions must be integers, got dtype {given.dtype}")
            actions = np.ascontiguousarray(given, dtype=np.int64)
        if actions.shape != (self.num_envs,):
            raise ValueError(f"actions must have shape ({self.num_envs},), got {actions.shape}")
        obs, rewards, terminated, truncated, finished = self._raw.step(actions, self._copy)
        if self._reward_fn is not None:
            equity, position, exposure = self._raw.accounts()
            batch = {
                "reward": rewards, "terminated": terminated, "truncated": truncated,
                "equity": equity, "position": position, "exposure": exposure,
            }
            rewards = np.asarray(self._reward_fn(batch), dtype=np.float64)
        infos: dict = {}
        if finished is not None:
            final_obs_rows, episode_return, episode_length = finished
            done = terminated | truncated
            final_obs = np.empty(self.num_envs, dtype=object)
            for i in np.flatnonzero(done):
                final_obs[i] = final_obs_rows[i]
            infos = {
                "final_obs": final_obs,
                "_final_obs": done,
                "episode_return": np.where(done, episode_return, 0.0),
                "_episode_return": done,
                "episode_length": np.where(done, episode_length, 0),
                "_episode_length": done,
            }
        return obs, rewards, terminated, truncated, infos
