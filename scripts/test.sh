#!/usr/bin/env bash
# Installs what the tests need (Debian chromium for the browser test included) and runs the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v chromium >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq chromium >/dev/null
fi
python3 -m pip install -q -e '.[dev]'
python3 -m pytest tests -q -p no:cacheprovider -n 2
