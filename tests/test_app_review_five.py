"""Findings of the fifth review of the app (A/B, compare and solve, the tornado, the delivery grid).

- a tornado swing past a field's limit (a rental price of 9,000 x1.25) raised a traceback on every rerun;
- the tornado's title lost the "≥" of a base known only as a lower bound;
- another upload under the same name kept the last file's edits;
- the delivery grid's errors named rows in date order, and a fractional unit count was cut to a whole one.
"""

from __future__ import annotations

import datetime as dt

import plotly.graph_objects as go
import pytest

from planner import whatif
from planner.decide import sensitivity as sens
from planner.errors import ScenarioError
from planner.loader import from_dict
from tests.test_app import SMALL, _load_app


def _with(**cloud) -> dict:
    return {**SMALL, "fleet": [SMALL["fleet"][0], {**SMALL["fleet"][1], "cloud": {**SMALL["fleet"][1]["cloud"],
                                                                                 **cloud}}]}


def test_sensitivity_swings_stop_at_the_formats_limits():
    s = from_dict({**_with(price_per_chip_hour_usd=9000.0, units=7_000_000), "reliability": {
        "enabled": True, "mtbf_chip_days": 6e6}})
    ins = {i.name: i for i in sens.inputs(s)}  # (raised "less than or equal to 10000 (got 11250.0)")
    price = ins["price"]
    assert price.high.fleet[1].cloud.price_per_chip_hour_usd == 10_000 and price.high_label.endswith(sens.CAPPED)
    assert price.low.fleet[1].cloud.price_per_chip_hour_usd == pytest.approx(6750.0)
    units = ins["cloud units"]
    assert units.high.fleet[1].cloud.units == 10_000_000 and units.high_label.endswith(sens.CAPPED)
    mtbf = ins["MTBF"]
    assert {p.mtbf_chip_days for p in mtbf.high.fleet} == {1e7} and mtbf.high_label.endswith(sens.CAPPED)
    # at the lowest efficiency the format takes, x0.8 is held there (it exited 2: "greater than or equal to 0.01")
    low = {i.name: i for i in sens.inputs(from_dict({**SMALL, "fleet": [{**SMALL["fleet"][0], "efficiency": 0.01},
                                                                      SMALL["fleet"][1]]}))}["efficiency"]
    assert low.low.fleet[0].efficiency == 0.01 and low.low_label.endswith(sens.CAPPED)
    assert not low.high_label.endswith(sens.CAPPED)
    # a one-unit rental x0.5 keeps one unit (none would drop the pool, and sync would refuse the point)
    one = {i.name: i for i in sens.inputs(from_dict({**_with(units=1), "strategy": {"mode": "sync"}}))}
    assert one["cloud units"].low.fleet[1].cloud.units == 1 and one["cloud units"].low_label.endswith(sens.CAPPED)
    plain = {i.name: i for i in sens.inputs(from_dict(SMALL))}
    assert not any(i.high_label.endswith(sens.CAPPED) for i in plain.values())


def test_the_tornado_title_keeps_a_lower_bound_mark():
    import pandas as pd

    app = _load_app()
    table = pd.DataFrame({"time_to_train_days_p50_base": [224.9], "cost_usd_p50_base": [4.26e8]})
    fig = go.Figure().update_layout(title="Time to train p50 [days]: each input at its low and high value "
                                          "(base ≥ 224.9)")
    assert "(base ≥ 224.9 d)" in app.tornado_readable("time_to_train_days_p50", fig, table).layout.title.text
    fig = go.Figure().update_layout(title="Cost p50 [USD]: each input (base $426 M)")
    assert "(base $426 M)" in app.tornado_readable("cost_usd_p50", fig, table).layout.title.text


def test_another_file_under_the_same_name_is_another_file():
    app = _load_app()
    a = app.file_key("plan.yaml", {"name": "a", "fleet": [{"units": 5000}]})
    assert a == app.file_key("plan.yaml", {"name": "a", "fleet": [{"units": 5000}]})  # the same content
    assert a != app.file_key("plan.yaml", {"name": "a", "fleet": [{"units": 20000}]})
    assert a != app.file_key("other.yaml", {"name": "a", "fleet": [{"units": 5000}]})
    # before validation a key may be a number or null (the validator says so): no TypeError from sorting them
    from planner.loader import parse_bytes

    odd = parse_bytes(b"name: x\n1: y\nnull: 2\nfleet: []\n", "a.yaml")
    assert app.file_key("a.yaml", odd) == app.file_key("a.yaml", odd)


def test_the_delivery_grid_names_its_own_rows():
    s = from_dict({**SMALL, "fleet": [{**SMALL["fleet"][0], "deliveries": []}, SMALL["fleet"][1]]})
    rows = [{"date": dt.date(2025, 1, 10), "units": 600}, {"date": None, "units": None},
            {"date": dt.date(2025, 3, 1), "units": 100}, {"date": dt.date(2025, 2, 1), "units": 290}]
    with pytest.raises(ScenarioError) as err:
        whatif.set_deliveries(s, 0, rows)
    # in date order the 290 of grid row 3 is the second delivery; it is grid row 3 that falls below row 0's 600
    assert err.value.field == "fleet[0].deliveries[3].units" and "290" in err.value.reason
    rows[3]["units"] = 700.5
    with pytest.raises(ScenarioError, match="whole number") as err:
        whatif.set_deliveries(s, 0, rows)
    assert err.value.field == "fleet[0].deliveries[3].units"
    good = whatif.set_deliveries(s, 0, [rows[0], {"date": dt.date(2025, 2, 1), "units": 700}])
    assert [d.units for d in good.fleet[0].deliveries] == [600, 700]


def test_the_ab_table_of_a_portfolio_has_each_jobs_finish_and_deadline():
    from planner import api, edits
    from tests.test_app import PORTFOLIO

    s = from_dict(PORTFOLIO)
    a = api.simulate(s, replications=2).summary
    late = edits.set_values(s, {"fleet[0].deliveries[0].date": "2025-02-10"})
    b = api.simulate(late, replications=2).summary
    rows = {r["figure"]: r for r in whatif.ab_rows(a, b)}
    for job in a.jobs:
        row = rows[f"job {job.name}: finish date P50"]
        assert row["A"] == job.summary.finish_date.p50
    big = rows["job big-run: meets its deadline (2025-02-15)"]
    assert big["A"].endswith("%") and big["B"].endswith("%")
    assert not any(k.startswith("job ") for k in (r["figure"] for r in whatif.ab_rows(
        api.simulate(from_dict(SMALL)).summary, api.simulate(from_dict(SMALL)).summary)))


def test_a_delivery_slip_past_the_calendar_is_held_at_its_last_day():
    """A delivery on 2262-04-05 moved 90 days later failed the sensitivity, naming 2262-07-04 (never in the file)."""
    doc = {"name": "late", "start": "2262-03-01", "horizon_days": 30,
           "workload": {"model": "llama3-8b", "tokens": 1e12, "seq_len": 4096},
           "fleet": [{"name": "p1", "chip": "h100-sxm", "units": 0,
                      "deliveries": [{"date": "2262-04-05", "units": 64}]},
                     {"name": "p2", "chip": "h100-sxm", "cloud": {"units": 8, "from": "2262-03-01",
                                                                   "until": "2262-04-09",
                                                                   "price_per_chip_hour_usd": 2}}]}
    slip = {i.name: i for i in sens.inputs(from_dict(doc))}["delivery slip"]
    assert slip.high.fleet[0].deliveries[0].date == dt.date(2262, 4, 10) and slip.high_label.endswith(sens.CAPPED)
    assert slip.low.fleet[0].deliveries[0].date == dt.date(2262, 3, 6) and not slip.low_label.endswith(sens.CAPPED)
