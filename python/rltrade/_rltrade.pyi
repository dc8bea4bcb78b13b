"""Type stubs of the Rust extension ``rltrade._rltrade`` (pyo3). Use the package's
Python classes (``rltrade.TradingEnv``, ``rltrade.VecEnv``, ...) rather than these."""

import os
from typing import Any, Mapping, Optional, Union

import numpy as np
import numpy.typing as npt

_Path = Union[str, os.PathLike[str]]

class RawEnv:
    """The Rust ``TradingEnv``. Raises ``ValueError`` for bad settings, data or actions."""

    def __init__(
        self,
        config: Optional[_Path] = None,
        data: Optional[_Path] = None,
        split: str = "train",
        seed: int = 0,
        overrides: Optional[Mapping[str, Any]] = None,
    ) -> None: ...
    @property
    def obs_dim(self) -> int: ...
    @property
    def actions(self) -> list[float]: ...
    def observation_bounds(self) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]: ...
    def reset(self, seed: Optional[int] = None) -> tuple[npt.NDArray[np.float32], dict[str, Any]]: ...
    def step(self, action: int) -> tuple[npt.NDArray[np.float32], float, bool, bool, dict[str, Any]]: ...

class RawVecEnv:
    """The Rust ``VecEnv`` (same-step auto-reset); ``step_into`` releases the GIL."""

    def __init__(
        self,
        num_envs: int,
        config: Optional[_Path] = None,
        data: Optional[_Path] = None,
        split: str = "train",
        seed: int = 0,
        threads: int = 1,
        overrides: Optional[Mapping[str, Any]] = None,
    ) -> None: ...
    @property
    def num_envs(self) -> int: ...
    @property
    def obs_dim(self) -> int: ...
    @property
    def actions(self) -> list[float]: ...
    def observation_bounds(self) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]: ...
    def reset(self, copy: bool, seed: Optional[int] = None) -> npt.NDArray[np.float32]: ...
    def step(
        self, actions: npt.NDArray[np.int64], copy: bool
    ) -> tuple[
        npt.NDArray[np.float32],
        npt.NDArray[np.float64],
        npt.NDArray[np.bool_],
        npt.NDArray[np.bool_],
        Optional[tuple[npt.NDArray[np.float32], npt.NDArray[np.float64], npt.NDArray[np.int64]]],
    ]: ...
    def accounts(
        self,
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]: ...

class RawPolicy:
    """An exported policy run by ONNX Runtime."""

    def __init__(self, path: _Path) -> None: ...
    def card(self) -> dict[str, Any]: ...
    @property
    def obs_dim(self) -> int: ...
    @property
    def n_actions(self) -> int: ...
    def probs(self, obs: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]: ...
    def act(self, obs: npt.NDArray[np.float32]) -> npt.NDArray[np.int64]: ...

def reference_rollout(
    actions: list[int],
    seed: int,
    config: Optional[_Path] = None,
    data: Optional[_Path] = None,
    split: str = "train",
    overrides: Optional[Mapping[str, Any]] = None,
) -> tuple[npt.NDArray[np.float32], list[tuple[npt.NDArray[np.float32], float, bool, bool]]]: ...
def load_bars(path: _Path) -> dict[str, Any]: ...
def backtest(
    config: Optional[_Path] = None,
    data: Optional[_Path] = None,
    model: Optional[_Path] = None,
    overrides: Optional[Mapping[str, Any]] = None,
) -> dict[str, Any]: ...
def read_run(run_dir: _Path) -> list[dict[str, Any]]: ...
def compare(
    models: list[_Path],
    config: Optional[_Path] = None,
    data: Optional[_Path] = None,
    baselines: Optional[list[str]] = None,
    split: str = "test",
    fee_bps: Optional[float] = None,
    fee_levels: Optional[list[float]] = None,
    resamples: int = 10_000,
    block_len: Optional[float] = None,
    bootstrap_seed: int = 0,
    ledger: Optional[_Path] = None,
    out: Optional[_Path] = None,
    overrides: Optional[Mapping[str, Any]] = None,
) -> dict[str, Any]: ...
def read_ledger(path: _Path) -> list[dict[str, Any]]: ...
def resolve_config(config: Optional[_Path] = None, overrides: Optional[Mapping[str, Any]] = None) -> str: ...
