#!/usr/bin/env bash
# Steps per second from Python: rltrade.TradingEnv and VecEnv(64) against gym-anytrading
# (window 32), alone and through gymnasium's SyncVectorEnv(8), side by side in one run
# (python/bench/bench_env.py). Installs the package and gym-anytrading into .venv first.
set -euo pipefail
cd "$(dirname "$0")/.."
python="$(bash scripts/install_python.sh)"
"$python" -m pip install --quiet --disable-pip-version-check gym-anytrading==2.0.0 >&2
"$python" python/bench/bench_env.py "$@"
