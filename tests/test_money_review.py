"""Spend of replications stopped by the horizon is marked as a lower bound wherever it is shown (money review)."""

from __future__ import annotations

import html as htmllib
import re

import openpyxl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

UNFINISHED = dict(
    name="unf", start="2024-01-01", horizon_days=10,
    workload={"model": "llama3-8b", "tokens": 6.0e11, "seq_len": 4096, "global_batch_tokens": 4194304},
    fleet=[{"name": "own", "chip": "h100-sxm", "units": 32, "deliveries": [{"date": "2024-01-06", "units": 64}],
            "commissioning_days": 2, "unit_price_usd": 87600}],
    costs={"amortization_years": 1, "energy_usd_per_kwh": 1.0, "pue": 1.0},
)


def _text(page: str) -> str:
    return htmllib.unescape(re.sub(r"<[^>]+>", " ", page))


def test_mean_spend_of_an_unfinished_run_is_at_least(make_scenario, cli):
    """The run does not finish in its 10 days: every mean spend shown is a lower bound and says so.

    Before, the terminal's P50 read "≥ $91.6 k" while the page's "Committed (mean)" and "Used by the job (mean)"
    cards, the spend-by-pool table, the workbook's spend table and the cash-flow note showed the bare figure.
    """
    path = make_scenario(**UNFINISHED)
    out = path.parent / "out"
    r = cli("run", path, "--out", out)
    assert r.exit_code == 0, r
    page = _text((out / "report.html").read_text())
    assert re.search(r"Committed \(mean\)\s+≥ \$", page), page[:2000]
    assert re.search(r"Used by the job \(mean\)\s+≥ \$", page)
    assert re.search(r"spend by pool\s+Means over the replications \(summary\.json costs\)\. Lower bounds, committed "
                     r"and used: 1 of 1 replications did not finish", page)
    assert "it did not finish: its spend runs to the horizon only" in page
    book = openpyxl.load_workbook(out / "report.xlsx")
    heads = [row[0] for ws in book for row in ws.iter_rows(values_only=True)
             if row and isinstance(row[0], str) and row[0].startswith("Spend")]
    assert heads and all("at least: 1 of 1 replications did not finish" in h for h in heads), heads


def test_a_finished_run_shows_no_marker(make_scenario, cli):
    """The same fleet with a horizon long enough: no "≥", no lower-bound note."""
    path = make_scenario(**{**UNFINISHED, "horizon_days": 60})
    out = path.parent / "out"
    assert cli("run", path, "--out", out).exit_code == 0
    page = _text((out / "report.html").read_text())
    assert re.search(r"Committed \(mean\)\s+\$", page)
    assert "Lower bounds" not in page and "did not finish" not in page


def test_workbook_formats_and_the_second_currency_of_expectations(make_scenario, cli):
    """Energy to the kWh, an expectation's value in its metric's format, sums in the second currency too.

    Before: 991 kWh read "1" MWh in the workbook, an expectation's cost was a plain number, and its bound and the
    cost row were in dollars only (the terminal, the page and the workbook).
    """
    path = make_scenario(
        name="cf", start="2024-01-21", horizon_days=90,
        workload={"model": "llama3-8b", "tokens": 1.2e12, "seq_len": 4096, "global_batch_tokens": 4194304},
        fleet=[{"name": "own", "chip": "h100-sxm", "units": 16, "unit_price_usd": 87600}],
        costs={"amortization_years": 1, "energy_usd_per_kwh": 1.0, "pue": 1.0},
        currency={"code": "EUR", "per_usd": 0.5},
        expect=[{"metric": "cost_usd", "max": 100000}, {"metric": "energy_mwh", "max": 100}])
    out = path.parent / "out"
    r = cli("run", path, "--out", out)
    assert r.exit_code == 1, r  # the cost check fails
    assert "≤ $100 k (EUR 50 k)" in r.stdout
    assert "(EUR 50 k)" in _text((out / "report.html").read_text())
    sheet = openpyxl.load_workbook(out / "report.xlsx").worksheets[0]
    rows = {row[0].value: row for row in sheet.iter_rows() if isinstance(row[0].value, str)}
    assert rows["Energy [MWh]"][2].number_format == "#,##0.000"
    assert rows["Cost committed [EUR]"][2].number_format == '"EUR "#,##0'
    assert rows["Cost committed [EUR]"][2].value == pytest.approx(rows["Cost committed [USD]"][2].value * 0.5)
    cost = rows["cost_usd p50"]
    assert cost[1].number_format == "$#,##0" and cost[2].value == "max $100 k (EUR 50 k)"
    assert rows["energy_mwh p50"][1].number_format == "#,##0.000"


def test_the_inputs_say_the_replications_and_seed_the_run_used(make_scenario, cli):
    """`--replications 3 --seed 9` on a file of 1 replication, seed 3: the workbook's inputs said 1 and 3."""
    path = make_scenario()
    out = path.parent / "out"
    assert cli("run", path, "--out", out, "--replications", "3", "--seed", "9").exit_code == 0
    sheet = openpyxl.load_workbook(out / "report.xlsx")["inputs"]
    cells = {row[1]: row[2] for row in sheet.iter_rows(values_only=True) if row and isinstance(row[1], str)}
    assert str(cells.get("simulation.replications")) == "3" and str(cells.get("simulation.seed")) == "9", cells


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(times=st.lists(st.floats(0.0, 20_000.0), min_size=1, max_size=5, unique=True),
       period_h=st.floats(1.0, 20_000.0))
def test_the_write_off_share_ends_each_tranche_at_its_own_end(times, period_h):
    """(t + P) - P is not t in floating point: 7,723 of 10,000 fractional times read the share 1 past their end."""
    from planner.costs import writing_off

    times = sorted(times)
    units = list(range(1, len(times) + 1))  # cumulative: one more chip a tranche
    at, share = writing_off((tuple(times), tuple(units)), period_h)
    for t_end, got in zip(at, share, strict=True):
        delivered = sum(1 for t in times if t <= t_end)
        done = sum(1 for t in times if t + period_h <= t_end)
        assert got == pytest.approx((delivered - done) / delivered if delivered else 1.0, abs=1e-12)


def test_a_one_month_write_off_bills_no_more_than_the_chips(cli, make_scenario, tmp_path):
    """Written off over 0.08333334 years, the schedule's last cost read $19.9 M for $15.4 M of chips."""
    import json

    import pandas as pd

    fleet = [{"name": "own", "chip": "h100-sxm", "units": 256, "deliveries": [{"date": "2025-01-20", "units": 512}],
              "commissioning_days": 0}]
    path = make_scenario(fleet=fleet, costs={"amortization_years": 0.08333334}, horizon_days=200,
                         workload={"model": "llama3-8b", "tokens": 2e13}, reliability={"enabled": False})
    assert cli("run", path, "--replications", "1", "--out", tmp_path / "o").exit_code in (0, 1)
    costs = json.loads((tmp_path / "o" / "summary.json").read_text())["costs"]
    schedule = pd.read_csv(tmp_path / "o" / "schedule.csv")
    assert costs["idle_usd"] > 0  # the chips delivered on day 19 sat idle in their first write-off month
    assert schedule["cost_usd"].max() <= costs["committed_usd"] * (1 + 1e-9)


_OWN = {"name": "own", "chip": "h100-sxm", "units": 256}


@pytest.mark.parametrize(("case", "bound", "mark"), [
    ("unpriced", "at_least", "idle ≥ "),  # an unpriced reservation's idle read $0.00 and the fleet's as exact
    ("horizon", "neither_bound", "idle ~ "),  # owned chips' write-off grows with a run the horizon stopped
    ("reserved", "at_most", "idle ≤ "),  # a reservation's window is exact, the use grows
    ("owned", "at_least", "idle ≥ "),  # owned chips' idle only grows with the run (it read "neither")
    ("on_demand", None, "idle $0")])  # billed as held: no idle at all (it read "~ $0 (neither bound)")
def test_idle_spend_says_how_it_stands_to_the_truth(cli, make_scenario, tmp_path, case, bound, mark):
    import json

    rent = {"name": "rent", "chip": "h100-sxm",
            "cloud": {"units": 512, "from": "2025-01-01", "until": "2025-06-30"}}
    if case == "unpriced":
        fleet, horizon = [_OWN, rent], 200
    elif case == "owned":
        fleet, horizon = [_OWN], 10
    elif case == "on_demand":
        rent["cloud"].update(price_per_chip_hour_usd=4.0, billing="on_demand")
        fleet, horizon = [rent], 10
    else:
        rent["cloud"]["price_per_chip_hour_usd"] = 4.0
        fleet, horizon = ([_OWN, rent] if case == "horizon" else [rent]), 10
    path = make_scenario(fleet=fleet, horizon_days=horizon, workload={"model": "llama3-8b", "tokens": 1e13},
                         reliability={"enabled": False})
    assert cli("run", path, "--replications", "1", "--out", tmp_path / "o").exit_code in (0, 1)
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert bound is None or "idle_usd" in (summary.get(bound) or {}).get("costs", [])
    others = {"at_least", "at_most", "neither_bound"} - {bound}
    assert all("idle_usd" not in (summary.get(k) or {}).get("costs", []) for k in others)
    assert mark in (tmp_path / "o" / "report.html").read_text()


def test_a_cost_pick_beside_an_unpriced_pool_says_it_looks_cheaper(cli, make_scenario):
    """An on-demand rental with no price: the cost pick took it as free, and nothing said so."""
    fleet = [_OWN, {"name": "rent", "chip": "h100-sxm", "cloud": {"units": 512, "from": "2025-01-01",
                                                                   "until": "2025-06-30", "billing": "on_demand"}}]
    r = cli("compare", make_scenario(fleet=fleet, strategy={"mode": "auto", "objective": "cost"}))
    assert r.exit_code == 0, r
    assert "strategy.objective: cost picks the mode by the spend that is known, and rent has no price" in r.stderr
    priced = [_OWN, {**fleet[1], "cloud": {**fleet[1]["cloud"], "price_per_chip_hour_usd": 2.0}}]
    r = cli("compare", make_scenario(fleet=priced, strategy={"mode": "auto", "objective": "cost"}))
    assert "cost picks the mode" not in r.stderr


def test_the_sweep_page_s_table_marks_lower_bounds(cli, make_scenario, tmp_path):
    """The page's table printed "$925,755" where the command line and the charts print "≥ $925,755"."""
    path = make_scenario(fleet=[_OWN], horizon_days=5, workload={"model": "llama3-8b", "tokens": 1e13},
                         reliability={"enabled": False})
    r = cli("sweep", path, "--set", "fleet[0].units=128,256", "--replications", "1", "--out", tmp_path / "sw")
    assert r.exit_code == 0, r
    page = (tmp_path / "sw" / "sweep.html").read_text()
    table = page[page.index("Every point"):]
    assert re.search(r"<td>≥ \$[0-9,]+</td>", table), "a lower bound in the table is marked"


def test_the_sensitivity_page_s_table_marks_lower_bounds(cli, make_scenario, tmp_path):
    """The page's table printed "$33,280" where the command line printed "≥ $33.3 k"."""
    path = make_scenario(fleet=[_OWN], horizon_days=5, workload={"model": "llama3-8b", "tokens": 1e13},
                         reliability={"enabled": False})
    r = cli("sensitivity", path, "--replications", "1", "--out", tmp_path / "se")
    assert r.exit_code == 0, r
    page = (tmp_path / "se" / "sensitivity.html").read_text()
    assert re.search(r"<td>≥ \$[0-9,]+</td>", page[page.rindex("<table"):])
