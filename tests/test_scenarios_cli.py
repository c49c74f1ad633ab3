"""Every scenario file in scenarios/ validates and estimates through the CLI."""

from pathlib import Path

import pytest

from planner import api
from planner.loader import load_scenario

SCENARIOS = sorted((Path(__file__).resolve().parent.parent / "scenarios").glob("*.yaml"))


def test_there_are_scenarios():
    assert len(SCENARIOS) >= 3


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.name)
def test_scenario_validates_and_estimates(cli, path):
    r = cli("validate", path)
    assert r.exit_code == 0, r
    s = load_scenario(path)
    assert f"ok {path}: {s.name} ({len(s.fleet)} pools)" in r.stdout
    r = cli("estimate", path, "--json")
    assert r.exit_code == 0, r
    est = r.json()
    assert est["scenario"] == s.name
    assert est["pools"], est
    assert {p["pool"] for p in est["pools"]} <= {p.name for p in s.fleet}
    assert len(est["pools"]) + len(est["infeasible"]) == len(s.fleet)
    for p in est["pools"]:
        q = p["parallelism"]
        assert q["tp"] * q["pp"] * q["dp"] * q["cp"] == p["units"] <= p["units_available"]
        assert 0 < p["mfu"] < 1
    # the CLI prints exactly what the API answers (but for the search's wall time)
    direct = api.estimate(s)
    for answer in (est, direct):
        answer["search"].pop("seconds")
    assert est == direct
