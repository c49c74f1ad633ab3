#!/usr/bin/env bash
# Installs planner and runs the seed scenario (the 2024 Ascend ramp) headless:
# prints the headline figures and writes the report folder reports/ascend-ramp-2024/.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install -q -e .
planner run scenarios/ascend-ramp-2024.yaml --out reports/ascend-ramp-2024
