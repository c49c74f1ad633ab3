"""`limited_by` is empty only when the job uses every usable chip (contract): no share of a pool is left out unsaid."""

from __future__ import annotations

import pytest

W405 = {"model": "llama3-405b", "tokens": 1.0e12, "seq_len": 8192, "global_batch_tokens": 16777216}


@pytest.mark.parametrize("units", [9000, 8200, 100000])
@pytest.mark.parametrize("failures", [False, True])
def test_chips_a_layout_leaves_out_are_said(cli, make_scenario, units, failures):
    """Review: 9,000 H100s for a 405B job: the layout used 8,960 and ``limited_by`` was [] (up to 1% went unsaid).

    A replica takes 128 chips (TP8 x PP16), so none of these counts is used whole.
    """
    path = make_scenario(workload=W405, fleet=[{"name": "p", "chip": "h100-sxm", "units": units}],
                         reliability={"enabled": failures})
    r = cli("estimate", path, "--json")
    assert r.exit_code == 0, r
    (pool,) = r.json()["pools"]
    assert pool["job_units"] < pool["units_available"]
    assert pool["limited_by"], pool
    assert any(f"of {pool['units_available']:,}" in x for x in pool["limited_by"]), pool["limited_by"]


def test_a_pool_used_whole_says_nothing(cli, make_scenario):
    """8,192 chips: 64 replicas of 128, every chip trains, and nothing is said."""
    path = make_scenario(workload=W405, fleet=[{"name": "p", "chip": "h100-sxm", "units": 8192}])
    (pool,) = cli("estimate", path, "--json").json()["pools"]
    assert pool["job_units"] == pool["units_available"] == 8192 and pool["limited_by"] == [], pool
