#!/usr/bin/env bash
# Installs what the tests need (Debian chromium for the browser test included), lints, and runs the whole suite.
# Playwright drives Debian's /usr/bin/chromium; `playwright install` is never needed.
# Extra arguments go to pytest, e.g. `bash scripts/test.sh --durations=15` or `bash scripts/test.sh -k estimate`.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v chromium >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq chromium >/dev/null
fi
python3 -m pip install -q -e '.[dev]'
# an editable install builds only the compiled loop (planner/sim/kernel.py), and with PYTHONDONTWRITEBYTECODE set every `planner` call would compile
# the package again (a third of a second per command): compile it once, as pip does for a regular install
python3 -m compileall -q planner
python3 -m ruff check planner app.py benchmarks tests
# Only the pytest plugins the suite uses (xdist, hypothesis). Auto-loaded ones (anyio, benchmark, ...) are not
# needed, and pytest would also assertion-rewrite their whole packages (hypothesis included) in the controller
# and in every worker on each run: seconds of start-up when bytecode is not cached (PYTHONDONTWRITEBYTECODE).
PYTEST_DISABLE_PLUGIN_AUTOLOAD=1 python3 -m pytest -p xdist.plugin -p _hypothesis_pytestplugin \
  tests -q -p no:cacheprovider -n 2 "$@"
