# Sourced by the other scripts: shared settings for building rltrade.
# Reuse one cargo target directory outside the clone, so a fresh clone (CI) does not
# rebuild every dependency; set CARGO_TARGET_DIR yourself to put it elsewhere.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/rltrade/target}"
mkdir -p "$CARGO_TARGET_DIR"
