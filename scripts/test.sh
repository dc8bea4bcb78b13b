#!/usr/bin/env bash
# The test suite: every crate, release mode (later issues train networks in tests).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
cargo test --release --workspace "$@"
