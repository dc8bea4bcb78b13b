#!/usr/bin/env bash
# The Python package `rltrade` (python/, pyo3 + maturin) in the project's virtual
# environment .venv/, with the pinned packages its tests use; prints the venv's python.
# Only the registries are reached: PyPI (numpy, gymnasium, pandas, pytest, onnxruntime,
# ray[tune] and optuna for `rltrade sweep`, and maturin, the build backend) and
# crates.io (pyo3, numpy). ray, optuna and pandas are pinned together: ray 2.60's Tune
# reads results with pandas, and its Optuna searcher is tested against optuna 5.
set -euo pipefail
cd "$(dirname "$0")/.."
# the venv's own packages only: scripts/test.sh puts .tools/py (TensorBoard's, numpy
# among them) on PYTHONPATH, and pip would take those as already installed
unset PYTHONPATH
source scripts/env.sh >/dev/null
venv="$PWD/.venv"
if [[ ! -x "$venv/bin/python" ]]; then
  python3 -m venv "$venv" >&2
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
  numpy==2.4.6 gymnasium==1.4.0 pandas==3.1.1 pytest==9.2.0 onnxruntime==1.31.1 \
  "ray[tune]==2.60.0" optuna==5.1.0 >&2
# the wheel is rebuilt when the Rust or Python sources changed (maturin reuses the
# cargo target directory of scripts/env.sh)
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check ./python >&2
echo "$venv/bin/python"
