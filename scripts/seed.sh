#!/usr/bin/env bash
# Installs planner and runs the seed scenario headless: headline figures on the terminal, report folder written.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install -q -e .
planner estimate scenarios/ascend-ramp-2024.yaml
