"""`planner estimate` gives the job's own kept speed and days beside the failure-free figures of the full pool.

A review: the Estimate showed "units the job uses 40,960, limited by failures" beside the 77,824-chip layout's
21.1 M tokens/s and 8.1 days; the job on 40,960 chips keeps 8.17 M tokens/s.
"""

from __future__ import annotations

import pytest

from planner import api
from planner.loader import load_scenario
from tests.conftest import ROOT
from tests.test_app import _load_app


@pytest.mark.parametrize("name", ["ascend-ramp-2024.yaml", "mixed-two-sites.yaml", "all-cloud-h100.yaml"])
def test_the_job_keeps_no_more_than_the_failure_free_full_pool(name):
    s = load_scenario(ROOT / "scenarios" / name)
    for p in api.estimate(s)["pools"]:
        assert 0 < p["job_kept_tokens_per_s"] <= p["tokens_per_s"] * (1 + 1e-9)
        assert p["job_time_to_train_days"] == pytest.approx(s.workload.tokens / p["job_kept_tokens_per_s"] / 86400)
        assert p["job_time_to_train_days"] >= p["time_to_train_days"] * (1 - 1e-9)


def test_with_failures_off_the_job_keeps_its_full_speed():
    s = load_scenario(ROOT / "scenarios" / "all-cloud-h100.yaml")
    from planner import edits

    off = edits.set_values(s, {"reliability.enabled": False})
    for p in api.estimate(off)["pools"]:
        assert p["job_units"] == p["units"]
        assert p["job_kept_tokens_per_s"] == pytest.approx(p["tokens_per_s"], rel=1e-9)


def test_the_seed_s_ascend_pool_is_held_by_failures_and_says_what_it_keeps(cli):
    r = cli("estimate", ROOT / "scenarios" / "ascend-ramp-2024.yaml")
    (line,) = [x for x in r.stdout.splitlines() if x.startswith("ascend-cn: job on")]
    assert "kept tokens/s" in line and "days; limited by failures" in line
    frame = _load_app().estimate_pools_frame(api.estimate(load_scenario(ROOT / "scenarios" / "ascend-ramp-2024.yaml")))
    assert {"kept tokens/s (the job, failures counted)", "time to train (the job, failures counted)"} <= set(frame)
