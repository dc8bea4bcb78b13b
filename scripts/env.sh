# Sourced by the other scripts: shared settings for building rltrade.
# Reuse one cargo target directory outside the clone, so a fresh clone (CI) does not
# rebuild every dependency; set CARGO_TARGET_DIR yourself to put it elsewhere.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/rltrade/target}"
mkdir -p "$CARGO_TARGET_DIR"
# The ONNX Runtime library (PyPI wheel onnxruntime==1.31.1), installed into .ort/ on first use.
if [[ -z "${ORT_DYLIB_PATH:-}" ]]; then
  ORT_DYLIB_PATH="$(bash "$(dirname "${BASH_SOURCE[0]}")/install_ort.sh")"
  export ORT_DYLIB_PATH
fi
