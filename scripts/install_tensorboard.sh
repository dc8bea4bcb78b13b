#!/usr/bin/env bash
# Installs TensorBoard's Python package into .tools/py (git-ignored), for
# scripts/check_tensorboard.py and the test that runs it. Only its event-file reader is
# used, so only what the reader imports is installed, every version pinned.
# Use it with PYTHONPATH=.tools/py.
set -euo pipefail
cd "$(dirname "$0")/.."
target=.tools/py
stamp="$target/.installed-tensorboard-2.20.0"
if [[ -f "$stamp" ]]; then
  exit 0
fi
rm -rf "$target"
python3 -m pip install --quiet --disable-pip-version-check --no-deps --target "$target" \
  tensorboard==2.20.0 protobuf==7.36.2 numpy==2.4.6 absl-py==2.5.1 packaging==26.3
touch "$stamp"
