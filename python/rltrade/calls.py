"""Thin calls into rltrade's Rust crates: bars through the CSV loader, backtests,
comparisons, exported policies and a training run's metrics. Nothing here computes anything of its
own; results come back as dicts, numpy arrays and pandas DataFrames."""

from __future__ import annotations

import os
from typing import Any, Mapping, Optional, Sequence, Union

import numpy as np
import pandas as pd

from . import _rltrade

PathLike = Union[str, "os.PathLike[str]"]


def load_bars(path: PathLike) -> pd.DataFrame:
    """Loads a CSV of OHLCV bars with rltrade's loader (the checks of ``rltrade data
    check``: sorted, unique, finite, high >= low, ...).

    Returns:
        A DataFrame indexed by ``time_ms`` (int64, bar open time, ms since epoch UTC)
        with ``open``, ``high``, ``low``, ``close`` (quote currency) and ``volume``
        (base units); ``attrs["symbol"]`` and ``attrs["interval_ms"]``.

    Raises:
        ValueError: the file's first error, naming the file, line and field.
    """
    raw = _rltrade.load_bars(os.fspath(path))
    frame = pd.DataFrame({k: raw[k] for k in ("open", "high", "low", "close", "volume")}, index=raw["time_ms"])
    frame.index.name = "time_ms"
    frame.attrs["symbol"] = raw["symbol"]
    frame.attrs["interval_ms"] = raw["interval_ms"]
    return frame


def backtest(
    config: Optional[PathLike] = None,
    data: Optional[PathLike] = None,
    strategy: Optional[str] = None,
    model: Optional[PathLike] = None,
    split: Optional[str] = None,
    fast: Optional[int] = None,
    slow: Optional[int] = None,
    overrides: Optional[Mapping[str, Any]] = None,
) -> dict:
    """Backtests one strategy as ``rltrade backtest`` does: the MA crossover
    (``strategy="ma-crossover"``, ``fast``/``slow`` bars), buy-and-hold
    (``"buy-and-hold"``) or an exported model (``model=DIR``; its model card then
    sets the window, features and splits), on ``split`` (default ``test``), with the
    config's fees, slippage and risk limits.

    Returns:
        The result as a dict: ``metrics`` (total return, Sharpe, drawdown, turnover,
        ... as fractions), ``trades``, ``window``, ``risk_refusals``, and ``equity``: a
        DataFrame of the equity curve (one row per close).

    Raises:
        ValueError: a bad setting or override (naming it), a data error (file and
            line), a model that does not fit the data.
    """
    keys = dict(overrides or {})
    for key, value in (("strategy", strategy), ("split", split), ("fast", fast), ("slow", slow)):
        if value is not None:
            keys[f"backtest.{key}"] = value
    if model is not None:
        keys.setdefault("backtest.strategy", "model")
    result = _rltrade.backtest(config, data, None if model is None else os.fspath(model), keys)
    result["equity"] = pd.DataFrame(result.pop("equity_curve"))
    return result


def compare(
    models: Sequence[PathLike],
    config: Optional[PathLike] = None,
    data: Optional[PathLike] = None,
    baselines: Optional[Sequence[str]] = None,
    split: str = "test",
    fee_bps: Optional[float] = None,
    fee_levels: Optional[Sequence[float]] = None,
    resamples: int = 10_000,
    block_len: Optional[float] = None,
    bootstrap_seed: int = 0,
    ledger: Optional[PathLike] = None,
    out: Optional[PathLike] = None,
    overrides: Optional[Mapping[str, Any]] = None,
) -> dict:
    """Compares exported RL policies with baselines out of sample, after costs, as
    ``rltrade compare`` does: seeds of one configuration form one arm; every arm is
    backtested on ``split`` at the main fee and the ``fee_levels``; the stationary
    bootstrap gives 95 % intervals and paired differences; the verdicts are deflated
    for the trials of the trial ledger (``ledger``, or the ``trials.jsonl`` beside the
    models' runs). ``report.md``, ``equity.png``/``.svg``, ``equity.csv`` and
    ``compare.json`` are written into ``out`` (default ``<first run>/compare/``).

    Args:
        baselines: ``"buy-and-hold"``, ``"ma:FAST:SLOW"``, ``"ma:auto"``; default
            buy-and-hold, ma:50:200 and ma:auto.
        fee_bps: the main fee (bps of notional); default ``execution.fee_bps``.

    Returns:
        ``compare.json`` as a dict (``arms``, ``differences`` with their ``verdict``,
        ``fee_sensitivity``, ``trials``, ``pbo``, the window and costs), plus
        ``equity``: the arms' equity curves as a DataFrame (``equity.csv``).

    Raises:
        ValueError: a bad baseline or setting (naming it), a model that cannot be loaded
            or does not fit the data, a data error (file and line), a malformed ledger.
    """
    result = _rltrade.compare(
        [os.fspath(m) for m in models], config, data, list(baselines) if baselines is not None else None, split,
        fee_bps, list(fee_levels) if fee_levels is not None else None, int(resamples), block_len,
        int(bootstrap_seed), None if ledger is None else os.fspath(ledger), None if out is None else os.fspath(out),
        dict(overrides or {}),
    )
    result["equity"] = pd.read_csv(result["equity_csv_path"])
    return result


def read_run(run_dir: PathLike) -> pd.DataFrame:
    """A training run's ``metrics.jsonl`` (one row per update or validation, in file
    order) as a DataFrame.

    Raises:
        ValueError: a malformed line, naming the file and line.
        OSError: the file cannot be read.
    """
    return pd.DataFrame(_rltrade.read_run(os.fspath(run_dir)))


class Policy:
    """An exported policy (ONNX + model card), run by ONNX Runtime.

    Attributes:
        card: the model card (dict): name, obs_dim, window, actions, features,
            normalization, training settings.
    """

    def __init__(self, raw: "_rltrade.RawPolicy") -> None:
        self._raw = raw
        self.card: dict = raw.card()
        self.obs_dim: int = raw.obs_dim
        self.n_actions: int = raw.n_actions

    def probs(self, obs: np.ndarray) -> np.ndarray:
        """Action probabilities of ``obs`` (float32 ``[obs_dim]`` or
        ``[batch, obs_dim]``): ``[n_actions]`` or ``[batch, n_actions]``."""
        batch = np.ascontiguousarray(np.atleast_2d(obs), dtype=np.float32)
        out = self._raw.probs(batch)
        return out[0] if np.ndim(obs) == 1 else out

    def act(self, obs: np.ndarray):
        """The greedy action(s) of ``obs`` (ties to the lowest index, as the daemon):
        an int for ``[obs_dim]``, int64 ``[batch]`` for ``[batch, obs_dim]``."""
        batch = np.ascontiguousarray(np.atleast_2d(obs), dtype=np.float32)
        out = self._raw.act(batch)
        return int(out[0]) if np.ndim(obs) == 1 else out


def load_policy(path: PathLike) -> Policy:
    """Loads an exported policy (an export folder, or a run folder holding one),
    checked against its model card.

    The ONNX Runtime library comes from ``ORT_DYLIB_PATH``; when that is unset and the
    ``onnxruntime`` wheel (1.31.1) is installed, its library is used.

    Raises:
        ValueError: a missing or corrupt export, an ONNX file that does not match its
            card, a missing ONNX Runtime library (with how to fix it).
    """
    if not os.environ.get("ORT_DYLIB_PATH"):
        try:
            import onnxruntime  # noqa: F401

            capi = os.path.join(os.path.dirname(onnxruntime.__file__), "capi")
            found = [f for f in sorted(os.listdir(capi)) if f.startswith("libonnxruntime.so")]
            if found:
                os.environ["ORT_DYLIB_PATH"] = os.path.join(capi, found[-1])
        except ImportError:
            pass
    return Policy(_rltrade.RawPolicy(os.fspath(path)))
