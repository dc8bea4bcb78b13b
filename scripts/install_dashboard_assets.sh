#!/usr/bin/env bash
# Installs the dashboard's third-party assets from the npm registry into
# serve/dashboard/node_modules (git-ignored): TradingView's lightweight-charts at the
# version pinned in serve/dashboard/package-lock.json (Apache-2.0). serve/build.rs
# bundles its standalone build into the binary, so nothing is fetched at run time.
set -euo pipefail
cd "$(dirname "$0")/../serve/dashboard"
bundle=node_modules/lightweight-charts/dist/lightweight-charts.standalone.production.js
version="$(sed -n 's/.*"lightweight-charts": "\(.*\)".*/\1/p' package.json)"
if [[ -f "$bundle" ]] && grep -q "Lightweight Charts™ v$version" "$bundle"; then
  exit 0
fi
if ! command -v npm >/dev/null; then
  echo "install_dashboard_assets.sh: npm not found; install Node.js (Debian: apt-get install nodejs npm)" >&2
  exit 1
fi
npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >&2
