#!/usr/bin/env bash
# Installs planner and runs the seed scenario (the 2024 Ascend ramp) headless:
# prints the headline figures and writes the report folder reports/ascend-ramp-2024/.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install -q -e .
# an editable install builds only the compiled loop (planner/sim/kernel.py), and with PYTHONDONTWRITEBYTECODE set every `planner` call would compile
# the package again (a third of a second per command): compile it once, as pip does for a regular install
python3 -m compileall -q planner
planner run scenarios/ascend-ramp-2024.yaml --out reports/ascend-ramp-2024
