"""Committed, used and idle spend (planner.costs): known answers and the invariants a budget holder relies on."""

from __future__ import annotations

import datetime as dt

import pytest

from planner import api, costs
from planner.units import HOURS_PER_DAY, HOURS_PER_YEAR

PRICE = 10.0  # USD per chip-hour
OWNED_PRICE = 30_000.0  # USD per chip


def _fleet(billing: str = "reserved") -> list[dict]:
    return [
        {"name": "idle-owned", "chip": "ascend-910b", "units": 16, "unit_price_usd": OWNED_PRICE},
        {"name": "cloud", "chip": "h100-sxm",
         "cloud": {"units": 64, "from": "2025-01-01", "until": "2025-03-02", "price_per_chip_hour_usd": PRICE,
                   "billing": billing}},
    ]


def test_step_integral_known_answer():
    assert costs.step_integral([0, 10, 20], [1, 3, 0], 0, 30) == pytest.approx(10 + 30)
    assert costs.step_integral([0, 10, 20], [1, 3, 0], 5, 15) == pytest.approx(5 + 15)
    assert costs.step_integral([0], [2], 3, 3) == 0.0


def test_idle_order_and_whole_reservation_are_committed(make_scenario):
    sc = make_scenario.scenario(fleet=_fleet(), strategy={"mode": "single", "objective": "time"})
    result = api.simulate(sc)
    c = result.summary.costs
    by_pool = {p.pool: p for p in c.pools}
    days = result.summary.metrics["time_to_train_days"].p50
    job_pool = result.summary.strategy.pools[0]
    window_h = (dt.date(2025, 3, 2) - dt.date(2025, 1, 1)).days * HOURS_PER_DAY
    # the reservation is committed for its whole window, whatever the job does
    reserved = 64 * window_h * PRICE
    # the owned order is amortized from delivery (day 0) to the job's end, used or not
    owned = 16 * OWNED_PRICE / (4.0 * HOURS_PER_YEAR) * days * HOURS_PER_DAY
    assert job_pool == "cloud"  # 64 H100 beat 16 Ascend 910B
    assert by_pool["idle-owned"].committed_usd == pytest.approx(owned, rel=1e-6)
    assert by_pool["idle-owned"].used_usd == 0.0
    assert by_pool["cloud"].committed_usd == pytest.approx(reserved, rel=1e-9)
    chip_hours = result.summary.metrics["chip_hours"].p50  # what the job held
    assert by_pool["cloud"].used_usd == pytest.approx(chip_hours * PRICE, rel=1e-6)
    assert c.committed_usd == pytest.approx(sum(p.committed_usd for p in c.pools))
    assert c.idle_usd == pytest.approx(c.committed_usd - c.used_usd)
    assert 0 < c.used_usd <= c.committed_usd
    assert result.summary.metrics["cost_usd"].mean == pytest.approx(c.committed_usd)


def test_on_demand_commits_only_what_the_job_rents(make_scenario):
    fleet = [_fleet("on_demand")[1]]
    sc = make_scenario.scenario(fleet=fleet)
    c = api.simulate(sc).summary.costs
    assert c.committed_usd == pytest.approx(c.used_usd)
    assert c.idle_usd == pytest.approx(0.0, abs=1e-6)
    reserved = api.simulate(make_scenario.scenario(fleet=[_fleet("reserved")[1]])).summary.costs
    assert reserved.used_usd == pytest.approx(c.used_usd)
    assert reserved.committed_usd > c.committed_usd


def test_objective_cost_weighs_committed_spend(make_scenario):
    sc = make_scenario.scenario(fleet=_fleet(), strategy={"mode": "single", "objective": "cost"})
    s = api.simulate(sc).summary
    assert s.costs.committed_usd == pytest.approx(s.metrics["cost_usd"].mean)


def test_billing_is_validated(make_scenario, cli):
    path = make_scenario({"fleet": [{**_fleet()[1], "cloud": {**_fleet()[1]["cloud"], "billing": "monthly"}}]})
    r = cli("validate", path)
    assert r.exit_code == 2
    assert "fleet[0].cloud.billing" in r.stderr
