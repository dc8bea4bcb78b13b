#!/usr/bin/env bash
# Coverage-guided fuzzing of rltrade's parsers with AFL++ through cargo-afl (stable
# Rust; cargo-fuzz would need nightly). The targets are fuzz/src/bin/*.rs, their seed
# corpora fuzz/corpus/<target>/ (real files and the bad-input tests' shapes), and for
# config_toml also the shipped configs/*.toml.
#
#   bash scripts/fuzz.sh smoke [SECONDS]          every target for SECONDS (default 10)
#   bash scripts/fuzz.sh run TARGET SECONDS [EXECS] one target for SECONDS or until EXECS
#                                                 executions, into fuzz/out/TARGET-<time>
#   bash scripts/fuzz.sh list                     the targets
#
# Each run prints one line per target: executions, crashes, hangs, and the coverage
# reached (AFL++'s edges found out of the instrumented edges). Any crash or hang fails
# the script and names the input that caused it.
#
# Installs cargo-afl 0.18.2 (which builds AFL++ from the crate's own copy, with make and
# cc) into $HOME/.cache/rltrade/tools/afl, and builds the targets into
# $HOME/.cache/rltrade/target-fuzz (both reused across clones).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

CARGO_AFL_VERSION=0.18.2
tools="$HOME/.cache/rltrade/tools/afl"
export PATH="$tools/bin:$PATH"
export CARGO_TARGET_DIR="${RLTRADE_FUZZ_TARGET_DIR:-$HOME/.cache/rltrade/target-fuzz}"

targets() {
  for f in fuzz/src/bin/*.rs; do basename "$f" .rs; done
}

install_afl() {
  if ! cargo afl --version 2>/dev/null | grep -q "$CARGO_AFL_VERSION"; then
    echo "installing cargo-afl $CARGO_AFL_VERSION (builds AFL++, about 2 min once)" >&2
    cargo install --quiet --locked --force cargo-afl --version "$CARGO_AFL_VERSION" --root "$tools" >&2
  fi
  # the install builds AFL++ for this toolchain; for another toolchain it is built here
  # (`config --build` refuses, harmlessly, when it is built already)
  local out
  if ! out=$(cargo afl config --build 2>&1) && ! grep -q "already built" <<<"$out"; then
    echo "$out" >&2
    echo "cargo afl config --build failed: AFL++ could not be built (it needs make and cc)" >&2
    exit 1
  fi
}

build() {
  echo "building the fuzz targets (instrumented, release)" >&2
  cargo afl build --quiet --release --manifest-path fuzz/Cargo.toml --locked >&2
}

# fuzz TARGET SECONDS OUT [EXECS]: one afl-fuzz run; prints the target's line, returns 1 on a finding.
fuzz() {
  local target="$1" seconds="$2" out="$3" limits=(-V "$seconds")
  if [ -n "${4:-}" ]; then limits+=(-E "$4"); fi
  rm -rf "$out"
  mkdir -p "$out/seeds"
  cp "fuzz/corpus/$target"/* "$out/seeds/"
  if [ "$target" = config_toml ]; then cp configs/*.toml "$out/seeds/"; fi
  # no UI, no CPU pinning or governor checks (shared CI machines), crashes reported by
  # the process's abort signal whatever the kernel's core_pattern says; a hang is an
  # input that runs over 5 s (AFL's own limit, set from its first runs, would count a
  # moment's stall on a busy 2-core machine as one)
  AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_NO_AFFINITY=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 \
    cargo afl fuzz "${limits[@]}" -t 5000 -i "$out/seeds" -o "$out/afl" -- "$CARGO_TARGET_DIR/release/$target" \
    >"$out/afl.log" 2>&1 || { tail -20 "$out/afl.log" >&2; echo "$target: afl-fuzz failed (log: $out/afl.log)" >&2; return 1; }
  local stats="$out/afl/default/fuzzer_stats"
  value() { sed -n "s/^$1 *: *//p" "$stats"; }
  local execs crashes hangs edges total
  execs=$(value execs_done)
  crashes=$(value saved_crashes)
  hangs=$(value saved_hangs)
  edges=$(value edges_found)
  total=$(value total_edges)
  printf '%-16s %12s execs %4s crashes %4s hangs   %5s of %s edges (%s)   %s s, %s execs/s\n' \
    "$target" "$execs" "$crashes" "$hangs" "$edges" "$total" "$(value bitmap_cvg)" "$(value run_time)" "$(value execs_per_sec)"
  if [ "$crashes" != 0 ] || [ "$hangs" != 0 ]; then
    echo "$target: findings in $out/afl/default/crashes and $out/afl/default/hangs:" >&2
    ls "$out/afl/default/crashes" "$out/afl/default/hangs" >&2 || true
    return 1
  fi
}

case "${1:-}" in
  list)
    targets
    ;;
  smoke)
    seconds="${2:-10}"
    install_afl
    build
    work="$(mktemp -d)"
    failed=0
    for target in $(targets); do
      fuzz "$target" "$seconds" "$work/$target" || failed=1
    done
    if [ "$failed" = 0 ]; then rm -rf "$work"; else echo "findings kept in $work" >&2; exit 1; fi
    ;;
  run)
    target="${2:?usage: scripts/fuzz.sh run TARGET SECONDS [EXECS]}"
    seconds="${3:?usage: scripts/fuzz.sh run TARGET SECONDS [EXECS]}"
    [ -d "fuzz/corpus/$target" ] || { echo "no target $target (scripts/fuzz.sh list)" >&2; exit 2; }
    install_afl
    build
    fuzz "$target" "$seconds" "fuzz/out/$target-$(date -u +%Y%m%dT%H%M%SZ)" "${4:-}"
    ;;
  *)
    sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
