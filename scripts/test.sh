#!/usr/bin/env bash
# The test suite: the dependency policy (cargo deny, deny.toml), then every crate in
# release mode (tests train networks). TensorBoard's Python reader (into .tools/py)
# lets a test read the event files back; lightweight-charts (npm, bundled into the
# binary) and Debian's Chromium with ChromeDriver let the dashboard's tests run in a
# real browser. The Python package is built into .venv and its pytest suite runs, then
# the sweep's tests on a local Ray cluster (scripts/test_sweep.sh). Last,
# every fuzz target runs as a 10 s smoke (scripts/fuzz.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
bash scripts/install_tensorboard.sh
bash scripts/install_dashboard_assets.sh
bash scripts/install_chromium.sh
cargo_deny="$(bash scripts/install_cargo_deny.sh)"
"$cargo_deny" check bans licenses sources
export PYTHONPATH="$PWD/.tools/py${PYTHONPATH:+:$PYTHONPATH}"
cargo test --release --workspace "$@"
# the Python package (python/, pyo3 + maturin) built into .venv, and its tests (pytest);
# they train and export one small model with the binary just built
python="$(bash scripts/install_python.sh)"
# (without the PYTHONPATH of .tools/py, whose packages would shadow the venv's pinned ones)
RLTRADE_BIN="$CARGO_TARGET_DIR/release/rltrade" env -u PYTHONPATH "$python" -m pytest -q python/tests
# `rltrade sweep` on a real two-node Ray cluster on loopback, inside network and PID
# namespaces of its own (about 1 minute)
RLTRADE_BIN="$CARGO_TARGET_DIR/release/rltrade" bash scripts/test_sweep.sh
# every fuzz target for 10 s from its seed corpus (AFL++ through cargo-afl): fails on a crash or hang
bash scripts/fuzz.sh smoke 10
