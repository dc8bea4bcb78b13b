#!/usr/bin/env bash
# Builds cargo-deny (pinned) from crates.io into a cache outside the clone, once per
# machine (about 3 minutes on 2 cores), and prints the binary's path.
# Used by scripts/test.sh for `cargo deny check bans licenses sources` (deny.toml).
set -euo pipefail
version=0.20.2
root="${RLTRADE_TOOLS_DIR:-$HOME/.cache/rltrade/tools}/cargo-deny-$version"
bin="$root/bin/cargo-deny"
if [[ ! -x "$bin" ]]; then
  echo "installing cargo-deny $version into $root (once per machine)" >&2
  # its own target folder, so it never shares a lock with the project's build
  CARGO_TARGET_DIR="$root/target" cargo install --quiet --locked --root "$root" "cargo-deny@$version" >&2
  rm -rf "$root/target"
fi
echo "$bin"
