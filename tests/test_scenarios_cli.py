"""Every scenario file in scenarios/ validates and estimates through the CLI."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCENARIOS = sorted((Path(__file__).resolve().parent.parent / "scenarios").glob("*.yaml"))


def _planner(*args):
    return subprocess.run([sys.executable, "-m", "planner.cli", *args], capture_output=True, text=True, timeout=120)


def test_there_are_scenarios():
    assert len(SCENARIOS) >= 3


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.name)
def test_scenario_validates_and_estimates(path):
    r = _planner("validate", str(path))
    assert r.returncode == 0, r.stderr
    r = _planner("estimate", str(path), "--json")
    assert r.returncode == 0, r.stderr
    est = json.loads(r.stdout)
    assert est["pools"], est
    for p in est["pools"]:
        q = p["parallelism"]
        assert q["tp"] * q["pp"] * q["dp"] * q["cp"] == p["units"] <= p["units_available"]
        assert 0 < p["mfu"] < 1
