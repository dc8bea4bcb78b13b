#!/usr/bin/env bash
# Two sweep trials side by side against the same two one after the other
# (python/bench/bench_sweep.py), in a loopback-only network namespace with its own PID
# namespace and HOME (as scripts/test_sweep.sh). Needs root or user namespaces, the venv
# of scripts/install_python.sh and the release build. Arguments go to the script.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh >/dev/null
bin="${RLTRADE_BIN:-$CARGO_TARGET_DIR/release/rltrade}"
home="$(mktemp -d)"
trap 'rm -rf "$home"' EXIT
unshare --net --pid --fork --mount-proc env -u PYTHONPATH HOME="$home" \
  bash -c 'ip link set lo up && exec "$0" python/bench/bench_sweep.py --rltrade-bin "$1" "${@:2}"' \
  "$PWD/.venv/bin/python" "$bin" "$@"
