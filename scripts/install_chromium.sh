#!/usr/bin/env bash
# Installs Debian's Chromium and ChromeDriver (packages chromium, chromium-driver) for
# the dashboard's browser tests (tests/dashboard_browser.rs), once per machine.
set -euo pipefail
if [[ -x /usr/bin/chromium && -x /usr/bin/chromedriver ]]; then
  exit 0
fi
sudo=""
if [[ "$(id -u)" != 0 ]]; then
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq >&2
$sudo apt-get install -y -qq --no-install-recommends chromium chromium-driver >&2
