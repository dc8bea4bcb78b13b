#!/usr/bin/env bash
# The test suite: every crate, release mode (later issues train networks in tests).
# TensorBoard's Python reader (into .tools/py) lets a test read the event files back.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
bash scripts/install_tensorboard.sh
export PYTHONPATH="$PWD/.tools/py${PYTHONPATH:+:$PYTHONPATH}"
cargo test --release --workspace "$@"
