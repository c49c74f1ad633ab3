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
    """Stopped by the horizon on a reservation: used is at least its figure, committed is exact, idle at most its.

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
    # the commitment exact, the use at least its figure: idle is at most its (review: it read as a figure)
    assert all(h.endswith("; idle at most)") for h in heads), heads
    page = (out / "report.html").read_text()
    assert "Idle is then at most its figure." in page and "idle ≤ $" in page


def test_the_cash_flow_pays_the_whole_reservation_and_commits_the_share_left_for_training(make_scenario, cli):
    """Half of 1,024 rented chips held back: committed is 512 x 1,440 h x $10, paid the provider's bill for all 1,024.

    Review: paid left the held-back half out, while the same pool's purchases are paid in full.
    """
    s = from_dict(RENTED)
    assert costs.reserved_cloud_usd(s, s.fleet[0], whole=True) == pytest.approx(1024 * 60 * 24 * 10.0)
    path = make_scenario(**RENTED)
    out = path.parent / "out"
    assert cli("run", path, "--out", out).exit_code == 0
    rows = pd.read_csv(out / "cashflow.csv")
    assert set(rows["kind"]) == {"reservation"}
    assert rows["committed_usd"].sum() == pytest.approx(512 * 60 * 24 * 10.0)
    assert rows["paid_usd"].sum() == pytest.approx(1024 * 60 * 24 * 10.0)
    jan = rows[rows["month"] == "2025-01"].iloc[0]
    assert jan["paid_usd"] == pytest.approx(1024 * 31 * 24 * 10.0)


def test_a_rental_with_no_price_makes_every_spend_a_lower_bound(make_scenario, cli):
    """A rental that states no price was free: '$0 committed', no mark, and a budget check passed on it.

    It is now named in unpriced_pools, every spend is at least its figure, and a maximum on cost fails.
    A stated price of 0 (credits) stays free and exact.
    """
    pool = {k: v for k, v in RENTED["fleet"][0].items() if k != "reserved_fraction"}
    cloud = {k: v for k, v in pool["cloud"].items() if k != "price_per_chip_hour_usd"}
    doc = {**RENTED, "fleet": [{**pool, "cloud": cloud}], "expect": [{"metric": "cost_usd", "max": 1.0}]}
    assert costs.unpriced(from_dict(doc)) == ("rent",)
    path = make_scenario(**doc)
    out = path.parent / "out"
    r = cli("run", path, "--out", out)
    assert r.exit_code == 1, r
    s = json.loads((out / "summary.json").read_text())
    assert s["unpriced_pools"] == ["rent"] and "p50" in s["at_least"]["cost_usd"]
    assert "cloud.price_per_chip_hour_usd" in r.stdout
    free = {**doc, "fleet": [{**pool, "cloud": {**cloud, "price_per_chip_hour_usd": 0}}]}
    assert costs.unpriced(from_dict(free)) == ()


def test_every_shipped_rental_is_billed_as_its_reference_price_is_sold():
    """A reservation commits its whole window: its price must be a reserved rate, an on-demand bill a pay-as-you-go one.

    Review: four shipped scenarios reserved H100s for the whole window at Azure's pay-as-you-go list price (P01,
    12.29), 43% above the 1-year reserved rate (P02, 8.60), so their committed spend was 43% high.
    """
    from conftest import ROOT

    # Azure ND96isr H100 v5 per chip-hour (reference prices.csv P01, P02, P03)
    terms = {12.29: "pay-as-you-go", 8.60: "1-year reserved", 6.76: "3-year reserved"}
    checked = 0
    for path in sorted((ROOT / "scenarios").glob("*.yaml")):
        for pool in yaml.safe_load(path.read_text())["fleet"]:
            cloud = pool.get("cloud")
            if not cloud or pool["chip"] != "h100-sxm" or not pool["site"].startswith("azure"):
                continue
            term = terms.get(float(cloud["price_per_chip_hour_usd"]))
            assert term is not None, (path.name, cloud)
            reserved = cloud.get("billing", "reserved") == "reserved"
            assert ("reserved" in term) == reserved, (path.name, term, cloud)
            checked += 1
    assert checked >= 5  # the seed, its slip, the portfolio, all-cloud and mixed-two-sites
