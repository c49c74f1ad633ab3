"""Prices a run cannot know, rentals held back for other work, and what the price swing moves (money review)."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml

from planner import costs
from planner.decide import sensitivity
from planner.loader import from_dict

OWNED = dict(
    name="own", start="2025-01-01", horizon_days=365,
    workload={"model": "llama3-8b", "tokens": 2.0e11, "seq_len": 8192},
    fleet=[{"name": "own", "chip": "h100-sxm", "site": "dc", "units": 256}],
    reliability={"enabled": False},
)
RENTED = dict(
    name="rent", start="2025-01-01", horizon_days=365,
    workload={"model": "llama3-8b", "tokens": 2.0e12, "seq_len": 8192},
    fleet=[{"name": "rent", "chip": "h100-sxm", "site": "az", "reserved_fraction": 0.5,
            "cloud": {"units": 1024, "from": "2025-01-01", "until": "2025-03-02", "price_per_chip_hour_usd": 10.0}}],
    reliability={"enabled": False},
)
CUSTOM = {"id": "own-asic", "name": "an ASIC of our own", "vendor": "us", "bf16_tflops": 900, "hbm_gib": 96,
          "hbm_tbps": 3.0, "scale_up_domain": 8, "scale_up_gbyteps": 400, "scale_out_gbps": 400,
          "chips_per_node": 8, "tdp_w": 700, "matmul_efficiency": 0.7, "mtbf_chip_days": 2000}


def _unpriced(make_scenario, **extra):
    doc = {**OWNED, "chips": [CUSTOM], **extra}
    doc["fleet"] = [{**OWNED["fleet"][0], "chip": "own-asic"}]
    return make_scenario(**doc)


def test_owned_chips_with_no_price_make_every_spend_a_lower_bound(make_scenario, cli):
    """A custom chip with no purchase price: the spend leaves its write-off out, and every output says so.

    Before, the run charged its owned chips nothing (energy only), marked nothing, and an `expect` maximum on
    cost_usd passed on that figure.
    """
    path = _unpriced(make_scenario, expect=[{"metric": "cost_usd", "max": 1.0e9}])
    out = path.parent / "out"
    r = cli("run", path, "--out", out)
    assert r.exit_code == 1, r  # the maximum cannot be checked against a figure that leaves the price out
    s = json.loads((out / "summary.json").read_text())
    assert s["unpriced_pools"] == ["own"]
    assert s["at_least"]["cost_usd"] == ["mean", "p10", "p50", "p90"]
    e = s["expectations"][0]
    assert e["value_at_least"] is True and e["passed"] is False
    assert "no purchase price" in r.stdout and "≥ $" in r.stdout
    assert "no purchase price" in (out / "report.html").read_text()


def test_a_price_given_removes_the_bound(make_scenario, cli):
    """The same chip with a price in `costs.unit_price_usd`: no bound, no note, and the check passes."""
    path = _unpriced(make_scenario, costs={"unit_price_usd": {"own-asic": 20000}},
                     expect=[{"metric": "cost_usd", "max": 1.0e9}])
    out = path.parent / "out"
    r = cli("run", path, "--out", out)
    assert r.exit_code == 0, r
    s = json.loads((out / "summary.json").read_text())
    assert "unpriced_pools" not in s and "cost_usd" not in s.get("at_least", {})
    assert "no purchase price" not in r.stdout


def test_a_rental_with_nothing_owned_is_never_unpriced():
    """Only owned chips have a purchase price: a pool that only rents is priced by the hour."""
    assert costs.unpriced(from_dict(RENTED)) == ()
    doc = {**OWNED, "chips": [CUSTOM]}
    doc["fleet"] = [{**OWNED["fleet"][0], "chip": "own-asic"}]
    assert costs.unpriced(from_dict(doc)) == ("own",)


def test_a_rental_held_back_commits_only_the_share_left_for_training(make_scenario, cli):
    """1,024 chips for 60 days at $10, half held back for other work: the plan commits 512 x 1,440 h x $10.

    Owned chips have always been committed for the share not held back; a rental was committed whole, so the
    held-back half showed as the plan's idle spend.
    """
    s = from_dict(RENTED)
    assert costs.reserved_cloud_usd(s, s.fleet[0]) == pytest.approx(512 * 60 * 24 * 10.0)
    path = make_scenario(**RENTED)
    out = path.parent / "out"
    assert cli("run", path, "--out", out).exit_code == 0
    c = json.loads((out / "summary.json").read_text())["costs"]
    assert c["committed_usd"] == pytest.approx(512 * 60 * 24 * 10.0)
    assert 0 < c["used_usd"] <= c["committed_usd"]
    # the schedule accrues the same rate: 512 chips at $10 an hour (the job trains for days)
    sched = pd.read_csv(out / "schedule.csv")
    first = sched.sort_values("day").iloc[0]
    assert first["cost_usd"] == pytest.approx(512 * 24 * 10.0, rel=1e-6)


def test_the_price_swing_moves_electricity_too():
    """Owned chips buy their power: the price swing scales the price per kWh with the chips' and rentals'."""
    s = from_dict({**OWNED, "costs": {"energy_usd_per_kwh": 0.1}})
    price = next(i for i in sensitivity.inputs(s) if i.name == "price")
    assert price.low.costs.energy_usd_per_kwh == pytest.approx(0.075)
    assert price.high.costs.energy_usd_per_kwh == pytest.approx(0.125)
    rented = next(i for i in sensitivity.inputs(from_dict(RENTED)) if i.name == "price")
    assert rented.low.costs.energy_usd_per_kwh == from_dict(RENTED).costs.energy_usd_per_kwh  # nothing owned


def test_the_shipped_azure_rental_is_priced_as_the_reference_says():
    """mixed-two-sites rents H100 SXM on Azure for 11 months: the 1-year reserved rate (reference P02, 8.60)."""
    from conftest import ROOT

    doc = yaml.safe_load((ROOT / "scenarios" / "mixed-two-sites.yaml").read_text())
    cloud = next(p["cloud"] for p in doc["fleet"] if p.get("cloud"))
    assert cloud["price_per_chip_hour_usd"] == 8.60


def test_compare_marks_the_spend_of_unpriced_chips_as_at_least(cli, make_scenario):
    """Compare's rows (which the report's strategies sheet reads) mark the spend of unpriced owned chips as at least.

    Review: the summary marked it, compare's rows and the strategies sheet did not.
    """
    doc = {**OWNED, "chips": [CUSTOM]}
    doc["fleet"] = [{**OWNED["fleet"][0], "chip": "own-asic"},
                    {"name": "h", "chip": "h100-sxm", "site": "dc", "units": 128}]
    path = make_scenario(**doc)
    rows = json.loads(cli("compare", path, "--json").stdout)["modes"]
    assert all("cost_usd" in (m.get("at_least") or []) for m in rows if m["possible"])


def test_only_the_used_spend_is_at_least_beside_a_whole_window_reservation(cli, make_scenario):
    """Stopped by the horizon on a reservation: used is at least its figure, committed is exact, idle is neither.

    Review: the workbook's and the page's spend tables said "at least" over all three columns.
    """
    path = make_scenario(**{**RENTED, "horizon_days": 3})
    out = path.parent / "out"
    assert cli("run", path, "--out", out).exit_code == 0
    import openpyxl

    heads = [row[0] for ws in openpyxl.load_workbook(out / "report.xlsx") for row in ws.iter_rows(values_only=True)
             if row and isinstance(row[0], str) and row[0].startswith("Spend")]
    assert heads and all("; used at least:" in h for h in heads), heads
    assert "Lower bounds, used: " in (out / "report.html").read_text()
