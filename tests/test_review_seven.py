"""Findings of this round's reviews of the money, the Monte Carlo's figures and the fleet's power.

Each test reproduces a review's case and fails on the code before its fix.
"""

from __future__ import annotations

import csv
import json


def _summary(out) -> dict:
    return json.loads((out / "summary.json").read_text())


# ---------------------------------------------------------------- money


def test_a_cost_pick_of_equal_spend_takes_the_faster_plan_whatever_the_file_order(cli, make_scenario, tmp_path):
    """Reservations commit the same whatever trains on them: 16 H100s, 15 times slower, were picked for coming first."""
    slow = {"name": "slow", "chip": "h100-sxm", "site": "dc",
            "cloud": {"units": 16, "from": "2025-01-01", "until": "2025-06-01", "price_per_chip_hour_usd": 1.0}}
    fast = {"name": "fast", "chip": "h100-sxm", "site": "dc",
            "cloud": {"units": 256, "from": "2025-01-01", "until": "2025-06-01", "price_per_chip_hour_usd": 1.0}}
    days = []
    for fleet in ([slow, fast], [fast, slow]):
        path = make_scenario(fleet=fleet, horizon_days=200, workload={"tokens": 3.0e11},
                             strategy={"mode": "auto", "objective": "cost"})
        out = tmp_path / f"o{len(days)}"
        assert cli("run", path, "--out", out).exit_code == 0
        s = _summary(out)
        assert s["costs"]["committed_usd"] == 985_728.0  # (16 + 256) chips x 3,624 h x $1, either way
        days.append(s["metrics"]["time_to_train_days"]["p50"])
    assert days[0] == days[1] < 2.0, days


def test_a_budget_on_a_reservation_fails_for_a_plan_that_never_trains_the_model(cli, make_scenario, tmp_path):
    """A rental ending on day 5 commits $61,440 whatever happens; the model is 46% trained: no budget is met."""
    fleet = [{"name": "rent", "chip": "h100-sxm", "site": "us",
              "cloud": {"units": 256, "from": "2025-01-01", "until": "2025-01-06", "price_per_chip_hour_usd": 2.0}}]
    path = make_scenario(fleet=fleet, workload={"tokens": 2.0e12},
                         expect=[{"metric": "cost_usd", "quantile": 0.5, "max": 100000}])
    out = tmp_path / "o"
    r = cli("run", path, "--out", out)
    assert r.exit_code == 1, r
    s = _summary(out)
    assert s["metrics"]["finish_probability"] == 0
    (e,) = s["expectations"]
    assert e["passed"] is False
    assert s["costs"]["committed_usd"] == 61_440.0  # the commitment itself stays exact (256 x 120 h x $2)


def test_a_delivery_dated_on_the_start_day_is_paid_as_one_a_little_later(cli, make_scenario, tmp_path):
    """128 chips at $30,000 delivered on day 0 were never paid; 15 minutes later they were paid in full."""
    pool = {"name": "own", "chip": "h100-sxm", "site": "dc", "units": 0, "commissioning_days": 0,
            "unit_price_usd": 30000, "deliveries": [{"date": "2025-01-01", "units": 128}]}
    paid = []
    for risk in (None, {"slip_days": {"dist": "fixed", "value": 0.01}}):
        p = dict(pool, **({"delivery_risk": risk} if risk else {}))
        path = make_scenario(fleet=[p], workload={"tokens": 3.0e11}, horizon_days=100)
        out = tmp_path / f"o{len(paid)}"
        assert cli("run", path, "--out", out).exit_code == 0
        rows = list(csv.DictReader((out / "cashflow.csv").open()))
        paid.append(sum(float(r["paid_usd"]) for r in rows if r["month"].startswith("2025-01")
                        and r["kind"] == "purchase"))
    assert paid == [3_840_000.0, 3_840_000.0]


def test_chips_on_hand_at_the_start_are_still_not_a_purchase(cli, make_scenario, tmp_path):
    pool = {"name": "own", "chip": "h100-sxm", "site": "dc", "units": 128, "unit_price_usd": 30000}
    out = tmp_path / "o"
    assert cli("run", make_scenario(fleet=[pool]), "--out", out).exit_code == 0
    rows = list(csv.DictReader((out / "cashflow.csv").open()))
    assert sum(float(r["paid_usd"]) for r in rows if r["kind"] == "purchase") == 0.0
