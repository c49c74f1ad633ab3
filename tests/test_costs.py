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


@pytest.mark.parametrize("slip_days", [10, 40])
def test_a_rental_whose_start_slipped_bills_no_hour_before_it_came(slip_days):
    """64 owned H100s and 64 rented by the hour for 30 days from day 0, the rental slipped; the job is done in about 6.

    The job trained on owned chips only: no rental hour is billed, its energy is counted, and the schedule shows the
    64 owned chips delivered (before: all 9,203 chip-hours billed as rented, owned energy left out, 128 delivered).
    Slipped 40 days, past the end of its window, the rental never comes: the same (before, its contract's window
    was read instead, and the owned chips were billed as rented).
    """
    import numpy as np

    from planner import costs
    from planner.bridge import layout_planners
    from planner.loader import from_dict
    from planner.sim.replication import _tables, best_run, draw_supply
    from planner.strategy import Context, options

    s = from_dict({"name": "slip", "start": "2025-01-01", "horizon_days": 60,
                   "workload": {"model": "llama3-8b", "tokens": 3e11, "seq_len": 8192},
                   "fleet": [{"name": "c", "chip": "h100-sxm", "units": 64,
                              "cloud": {"units": 64, "from": "2025-01-01", "until": "2025-01-31",
                                        "price_per_chip_hour_usd": 2.0, "billing": "on_demand"},
                              "delivery_risk": {"slip_days": {"dist": "fixed", "value": slip_days}}}]})
    ctx = Context(s, layout_planners(s))
    supply, job, _ = np.random.SeedSequence(0).spawn(3)
    run = best_run(s, options(ctx, "single")[0], draw_supply(s, supply), job, 1.0)
    assert run.finished and run.end_h < 10 * 24
    pool = s.fleet[0]
    held = run.job.stats.held_chip_h
    want = (costs.capex_usd_per_chip_hour(s, pool) * 64 * run.end_h  # every owned chip, from day 0 to the end
            + held * costs.energy_usd_per_chip_hour(s, pool))  # the energy of the owned chips trained on
    (cost,) = run.pool_costs
    assert cost.committed_usd == pytest.approx(want, rel=1e-6)
    schedule = _tables(s, run)[0]
    assert (schedule["units_delivered"] == 64).all()


def test_rented_chips_counted_first_are_the_share_not_held_back():
    """64 owned and 64 rented by the hour, a quarter held back: at most 48 of the job's chips are rented.

    94 chips for 100 h: 48 x 100 rented chip-hours and 46 x 100 owned (before: 64 x 100 rented, 30 x 100 owned,
    so the rental was billed for chips held back and the owned chips' energy was left out).
    """
    from planner.loader import from_dict

    s = from_dict({"name": "held-back", "start": "2025-01-01", "horizon_days": 60,
                   "workload": {"model": "llama3-8b", "tokens": 3e11, "seq_len": 8192},
                   "fleet": [{"name": "c", "chip": "h100-sxm", "units": 64, "reserved_fraction": 0.25,
                              "cloud": {"units": 64, "from": "2025-01-01", "until": "2025-01-31",
                                        "price_per_chip_hour_usd": 2.0, "billing": "on_demand"}}]})
    owned_h, rented_h = costs.job_chip_hours(s, s.fleet[0], ((0.0, 100.0), (94, 0)), 100.0)
    assert (owned_h, rented_h) == (pytest.approx(46 * 100), pytest.approx(48 * 100))


@pytest.mark.parametrize("where", ["pool", "costs"])
def test_a_price_of_zero_is_a_price(where):
    """Owned chips priced at 0 (written off, donated) cost nothing to hold: the catalog's price is not read instead."""
    from planner.loader import from_dict
    from planner.report.headline import owned_price

    d = {"name": "free", "start": "2025-01-01", "horizon_days": 60,
         "workload": {"model": "llama3-8b", "tokens": 3e11, "seq_len": 8192},
         "fleet": [{"name": "c", "chip": "h100-sxm", "units": 64}]}
    if where == "pool":
        d["fleet"][0]["unit_price_usd"] = 0
    else:
        d["costs"] = {"unit_price_usd": {"h100-sxm": 0}}
    s = from_dict(d)
    assert costs.unit_price_usd(s, s.fleet[0]) == 0.0
    assert costs.capex_usd_per_chip_hour(s, s.fleet[0]) == 0.0
    assert owned_price(d, d["fleet"][0])[0] == 0.0  # what the report says the price is


def test_a_reservation_that_began_before_the_start_is_billed_from_the_start(make_scenario):
    """256 H100s reserved from 2024-01-01 to 2025-02-01 for a plan that starts on 2025-01-01: January 2025 alone.

    The twelve months of 2024 were counted as the plan's idle spend ($4.82 M of $4.88 M committed), and
    cashflow.csv had a row for each; owned chips there by day 0 are counted from day 0 too.
    """
    s = make_scenario.scenario(
        start="2025-01-01", horizon_days=100,
        workload={"model": "llama3-8b", "tokens": 1e12, "seq_len": 8192, "global_batch_tokens": 4194304},
        fleet=[{"name": "cl", "chip": "h100-sxm",
                "cloud": {"units": 256, "from": "2024-01-01", "until": "2025-02-01", "price_per_chip_hour_usd": 2.0}}],
        reliability={"enabled": False}, simulation={"seed": 1, "replications": 1, "model_error": "off"})
    res = api.simulate(s)
    january = 256 * 31 * 24 * 2.0
    assert res.summary.costs.committed_usd == pytest.approx(january)
    assert costs.reserved_cloud_usd(s, s.fleet[0]) == pytest.approx(january)
    flow = res.cashflow
    assert list(flow["month"]) == ["2025-01"] and flow["committed_usd"].sum() == pytest.approx(january)


def test_owned_chips_cost_nothing_once_written_off():
    """Straight-line write-off: a chip delivered at t is charged over [t, t + P) and never beyond its price.

    8 chips at $30,000 from day 0 and 8 more at day 100, written off over one year; a run of 500 days. Committed:
    8 x $30,000 (fully written off) + 8 x $30,000 x 400 d / 365 d (the second tranche's write-off runs to day
    465). Before, every chip was charged to the job's end: 8 x 30,000 x 500/365 + 8 x 30,000 x 400/365.
    """
    from planner.loader import from_dict

    s = from_dict({"name": "w", "start": "2025-01-01", "horizon_days": 900, "costs": {"amortization_years": 1},
                   "workload": {"model": "llama3-8b", "tokens": 3e11, "seq_len": 8192},
                   "fleet": [{"name": "own", "chip": "h100-sxm", "units": 8, "unit_price_usd": OWNED_PRICE}]})
    pool, year_h = s.fleet[0], HOURS_PER_YEAR
    delivered = ((0.0, 0.0, 100 * HOURS_PER_DAY), (0.0, 8.0, 16.0))
    end_h = 500 * HOURS_PER_DAY
    want = 8 * OWNED_PRICE + 8 * OWNED_PRICE * min((end_h - 100 * HOURS_PER_DAY) / year_h, 1.0)
    assert costs.owned_committed_usd(s, pool, delivered, end_h) == pytest.approx(want, rel=1e-9)
    # never above the price of the chips, however long the run; the same as before within the write-off
    assert costs.owned_committed_usd(s, pool, delivered, 10 * year_h) == pytest.approx(16 * OWNED_PRICE)
    short = 200 * HOURS_PER_DAY
    assert costs.owned_committed_usd(s, pool, delivered, short) == pytest.approx(
        costs.capex_usd_per_chip_hour(s, pool) * costs.step_integral(*delivered, 0.0, short))
    # the job on all 16 chips throughout: it used what was committed (no idle spend), energy aside
    cost = costs.pool_cost(s, pool, delivered, ((0.0, 100 * HOURS_PER_DAY), (8.0, 16.0)), end_h)
    energy = costs.energy_usd_per_chip_hour(s, pool) * (8 * 100 + 16 * 400) * HOURS_PER_DAY
    assert cost.committed_usd == pytest.approx(want + energy, rel=1e-9)
    assert cost.used_usd == pytest.approx(cost.committed_usd, rel=1e-9)


def test_a_run_past_the_write_off_is_charged_the_price_at_most(make_scenario, cli):
    """The whole run (summary, schedule.csv, cashflow.csv) is charged the price at most.

    8 chips at $30,000 written off over a year: a run of about 436 days without energy costs commits $240,000,
    not 436/365 of it.
    """
    import csv
    import json

    path = make_scenario(name="amort", horizon_days=800,
                           workload={"model": "llama3-8b", "tokens": 3.0e12, "seq_len": 4096,
                                     "global_batch_tokens": 4194304},
                           fleet=[{"name": "own", "chip": "h100-sxm", "units": 8, "unit_price_usd": OWNED_PRICE}],
                           costs={"amortization_years": 1, "energy_usd_per_kwh": 0.0, "pue": 1.0},
                           reliability={"enabled": False}, simulation={"seed": 1, "replications": 1})
    out = path.parent / "out"
    r = cli("run", path, "--out", out)
    assert r.exit_code == 0, r
    s = json.loads((out / "summary.json").read_text())
    assert s["metrics"]["time_to_train_days"]["p50"] > 400
    assert s["costs"]["committed_usd"] == pytest.approx(8 * OWNED_PRICE)
    rows = list(csv.DictReader((out / "schedule.csv").open()))
    assert float(rows[-1]["cost_usd"]) == pytest.approx(8 * OWNED_PRICE)
    flows = list(csv.DictReader((out / "cashflow.csv").open()))
    assert sum(float(r["committed_usd"]) for r in flows) == pytest.approx(8 * OWNED_PRICE)


def test_chips_delivered_before_the_start_are_charged_the_rest_of_their_write_off(make_scenario, cli):
    """A delivery before the start counts from when it came.

    Chips bought in 2020 and written off over a year cost the 2025 plan nothing, chips of 2024-07-01 only the 181
    days of write-off left on 2025-01-01. Before, the simulation's move of those deliveries to hour 0 restarted
    their write-off there.
    """
    import json

    from planner.sim.supply import Step, delivered_since

    path = make_scenario(name="pre", start="2025-01-01", horizon_days=400,
                         workload={"model": "llama3-8b", "tokens": 1.0e12, "seq_len": 4096,
                                   "global_batch_tokens": 4194304},
                         fleet=[{"name": "own", "chip": "h100-sxm", "units": 0, "unit_price_usd": OWNED_PRICE,
                                 "deliveries": [{"date": "2020-01-01", "units": 8},
                                                {"date": "2024-07-01", "units": 16}]}],
                         costs={"amortization_years": 1, "energy_usd_per_kwh": 0.0, "pue": 1.0},
                         reliability={"enabled": False}, simulation={"seed": 1, "replications": 1})
    out = path.parent / "out"
    assert cli("run", path, "--out", out).exit_code == 0
    s = json.loads((out / "summary.json").read_text())
    days = s["metrics"]["time_to_train_days"]["p50"]
    assert days < 181
    assert s["costs"]["committed_usd"] == pytest.approx(8 * OWNED_PRICE * days * HOURS_PER_DAY / HOURS_PER_YEAR)
    # the steps keep the real arrival; the write-off of a chip delivered P + 10 h before the start has ended
    sc = make_scenario.scenario(costs={"amortization_years": 1})
    steps = [Step(0.0, "delivery", 8, since_h=-(HOURS_PER_YEAR + 10)), Step(0.0, "delivery", 4, since_h=-10.0)]
    delivered = delivered_since(steps)
    assert delivered == ([-(HOURS_PER_YEAR + 10), -10.0], [8.0, 12.0])
    end_h = 100.0
    assert costs.owned_committed_usd(sc, sc.fleet[0], delivered, end_h) == pytest.approx(
        costs.capex_usd_per_chip_hour(sc, sc.fleet[0]) * 4 * end_h)
