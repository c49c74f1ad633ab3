"""compare's rows: the speed a mode's run kept, beside its full plan's steady state (found by a review)."""

from __future__ import annotations

import pytest
from conftest import ROOT


def test_a_compare_row_s_speed_is_the_one_its_run_kept(cli):
    """The diloco row read 2.7 M tokens/s (all 11,712 Ascend chips) for a run done before any came."""
    r = cli("compare", str(ROOT / "scenarios" / "mixed-two-sites.yaml"), "--json")
    assert r.exit_code == 0, r
    tokens = 8e12  # the scenario's workload
    for row in (m for m in r.json()["modes"] if m["possible"] and m["finished"]):
        trained_s = (row["time_to_train_days"] - row["start_days"]) * 86400
        assert row["tokens_per_s"] * trained_s == pytest.approx(tokens, rel=1e-6), row["mode"]
        assert row["tokens_per_s"] <= row["full_tokens_per_s"] * (1 + 1e-9)
    diloco = next(m for m in r.json()["modes"] if m["mode"] == "diloco")
    assert diloco["tokens_per_s"] < 0.6 * diloco["full_tokens_per_s"]


def test_an_estimate_counts_the_chips_repairs_keep_out(cli, make_scenario):
    """A pool failing every 20 chip-days with 3-day repairs keeps 55% under repair: estimate sized the job on all."""
    fleet = [{"name": "rent", "chip": "h100-sxm", "units": 256, "mtbf_chip_days": 20}]
    r = cli("estimate", make_scenario(fleet=fleet, reliability={"enabled": True, "repair_days": 3}), "--json")
    assert r.exit_code == 0, r
    (pool,) = r.json()["pools"]
    share = 60 / (60 + 72)  # a node of 8 fails every 20 x 24 / 8 = 60 h and is out 72 h
    assert pool["job_in_service_units"] == int(256 * share)
    assert pool["job_units"] <= pool["job_in_service_units"]
    assert any(w.startswith(f"failures: about {256 - int(256 * share)} of the 256 chips (55%) are under repair")
               for w in pool["limited_by"])
    assert r.json()["combined"]["note"].startswith("failure-free: rent keeps 5% or more of its chips under repair")


def test_an_estimate_with_ordinary_failures_sizes_on_every_chip(cli, make_scenario):
    r = cli("estimate", make_scenario(reliability={"enabled": True}), "--json")
    assert r.exit_code == 0, r
    assert all("job_in_service_units" not in p for p in r.json()["pools"]) and "note" not in r.json()["combined"]
