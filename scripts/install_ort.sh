#!/usr/bin/env bash
# Installs the ONNX Runtime shared library that rltrade loads at run time (ort's
# `load-dynamic`): the one inside the PyPI wheel onnxruntime==1.31.1, into the
# git-ignored .ort/ folder of the project. Idempotent; prints the library's path.
# Nothing is downloaded from anywhere but PyPI.
set -euo pipefail
cd "$(dirname "$0")/.."
version=1.31.1
lib=".ort/onnxruntime/capi/libonnxruntime.so.$version"
if [[ ! -f "$lib" ]]; then
  python3 -m pip install --quiet --disable-pip-version-check --no-deps --no-compile --root-user-action=ignore \
    --target .ort "onnxruntime==$version" >&2
fi
if [[ ! -f "$lib" ]]; then
  echo "install_ort.sh: $lib is missing after installing onnxruntime==$version from PyPI" >&2
  exit 1
fi
echo "$PWD/$lib"
