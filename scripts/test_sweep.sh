#!/usr/bin/env bash
# The sweep's tests on a real Ray cluster (python/tests_ray): a head and one worker node
# that the tests start and stop, inside a network namespace holding only the loopback
# interface and a PID namespace of their own (unshare needs root or user namespaces).
# Arguments go to pytest. Needs the venv of scripts/install_python.sh and the built
# rltrade (RLTRADE_BIN, default the release build of scripts/env.sh's target dir).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh >/dev/null
export RLTRADE_BIN="${RLTRADE_BIN:-$CARGO_TARGET_DIR/release/rltrade}"
python="$PWD/.venv/bin/python"
if ! command -v ip >/dev/null; then
  # `ip link set lo up` inside the namespace (Debian's iproute2)
  sudo=""
  [[ "$(id -u)" == 0 ]] || sudo="sudo"
  $sudo apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends iproute2 >&2
fi
if ! unshare --net --pid --fork --mount-proc true 2>/dev/null; then
  echo "error: unshare --net --pid cannot make the namespaces the Ray tests run in (needs root, or user namespaces)" >&2
  exit 1
fi
# a HOME of their own: Ray keeps state in ~/.ray (an auth token a local `ray.init` left
# there makes `ray start --address` fail to join a head that does not use one)
home="$(mktemp -d)"
trap 'rm -rf "$home"' EXIT
unshare --net --pid --fork --mount-proc \
  env -u PYTHONPATH HOME="$home" bash -c 'ip link set lo up && exec "$0" -m pytest -q python/tests_ray "$@"' "$python" "$@"
