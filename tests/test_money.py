"""Money: the cash flow by month, pool and kind, and the second currency.

Also the workbook as a finance team reads it, every input echoed, settings nothing reads refused, deliveries
from a sheet, and the deadline's day.
"""

from __future__ import annotations

import datetime as dt
import math
import re

import numpy as np
import openpyxl
import pandas as pd
import pytest
from conftest import one_error_line

from planner import api
from planner.cashflow import PoolSupply, cashflow, months, with_currency
from planner.deadline import deadline_end_days, meets_deadline
from planner.loader import from_dict
from planner.summary import Summary

START = dt.date(2025, 1, 1)
CLOUD = {"name": "rent", "chip": "h100-sxm", "site": "cloud-east",
         "cloud": {"units": 64, "from": "2025-01-15", "until": "2025-03-15", "price_per_chip_hour_usd": 2.0}}
OWNED = {"name": "own", "chip": "h100-sxm", "site": "dc", "units": 32, "unit_price_usd": 35_040,
         "deliveries": [{"date": "2025-02-01", "units": 64}], "reserved_fraction": 0.5, "commissioning_days": 3}
TWO = {"fleet": [OWNED, CLOUD], "links": [{"sites": ["dc", "cloud-east"], "gbps": 400}],
       "strategy": {"mode": "single"}, "horizon_days": 120, "workload": {"tokens": 5e10}}


# ---------------------------------------------------------------- closed forms (pure functions)


def test_a_reservation_is_billed_month_by_month_to_the_end_of_its_term_whatever_the_job_does():
    s = from_dict({"name": "r", "start": "2025-01-01", "workload": {"model": "llama3-8b", "tokens": 1e10,
                                                                    "seq_len": 4096}, "fleet": [CLOUD]})
    # the job ends on day 10, before the rental even starts: the reservation still runs Jan 15 - Mar 15
    table = cashflow(s, {"rent": PoolSupply(([0.0], [0.0]), None)}, end_h=240.0)
    res = table[table["kind"] == "reservation"].set_index("month")
    per_day = 64 * 24 * 2.0  # units x hours x $/chip-h
    assert res["committed_usd"].to_dict() == pytest.approx({"2025-01": 17 * per_day, "2025-02": 28 * per_day,
                                                            "2025-03": 14 * per_day})
    assert (res["paid_usd"] == res["committed_usd"]).all()  # billed monthly
    assert table["committed_usd"].sum() == pytest.approx(59 * per_day)


def test_owned_chips_are_amortized_to_the_jobs_end_and_paid_when_delivered():
    s = from_dict({"name": "o", "start": "2025-01-01", "workload": {"model": "llama3-8b", "tokens": 1e10,
                                                                    "seq_len": 4096}, "fleet": [OWNED]})
    # $35,040 over 4 years of 8,760 h is $1 per chip-hour; half the pool is reserved for other work
    delivered = ([0.0, 31 * 24.0], [32, 64])
    end_h = 59 * 24.0  # the job ends on 2025-03-01
    supply = PoolSupply(delivered, None, purchases=((31 * 24.0, 32),))
    t = cashflow(s, {"own": supply}, end_h).set_index(["month", "kind"])
    assert t.loc[("2025-01", "purchase"), "committed_usd"] == pytest.approx(32 * 744 * 0.5)
    assert t.loc[("2025-02", "purchase"), "committed_usd"] == pytest.approx(64 * 672 * 0.5)
    assert t.loc[("2025-01", "purchase"), "paid_usd"] == 0  # day 0's chips were bought before the plan
    assert t.loc[("2025-02", "purchase"), "paid_usd"] == pytest.approx(32 * 35_040)  # every delivered chip
    assert ("2025-03", "purchase") not in t.index  # nothing committed after the job's end, nothing bought


def test_a_delivery_on_the_first_of_the_month_after_the_end_is_paid_that_month():
    """Chips delivered at 00:00 on 1 March, after a job that ended in February: paid in March (the row was lost)."""
    s = from_dict({"name": "o", "start": "2025-01-01", "workload": {"model": "llama3-8b", "tokens": 1e10,
                                                                    "seq_len": 4096}, "fleet": [OWNED]})
    march_h = 59 * 24.0
    supply = PoolSupply(([0.0, march_h], [32, 64]), None, purchases=((march_h, 32),))
    t = cashflow(s, {"own": supply}, end_h=40 * 24.0).set_index(["month", "kind"])
    assert t.loc[("2025-03", "purchase"), "paid_usd"] == pytest.approx(32 * 35_040)
    assert [m[0] for m in months(START, 0.0, march_h)][-1] == dt.date(2025, 3, 1)


@pytest.mark.parametrize("date", ["2024-12-10", "2025-02-01"])
def test_chips_delivered_before_the_start_were_bought_before_it(date):
    """A delivery dated before the start is in service on day 0: bought before the plan, as day 0's chips are.

    Before, its price was paid in the start month. One dated during the plan is paid in its month.
    """
    from planner.sim.money import purchases
    from planner.sim.supply import supply_steps

    s = from_dict({"name": "o", "start": "2025-01-01", "workload": {"model": "llama3-8b", "tokens": 1e10,
                                                                    "seq_len": 4096},
                   "fleet": [{**OWNED, "deliveries": [{"date": date, "units": 64}]}]})
    bought = purchases(supply_steps(s, s.fleet[0], np.random.default_rng(0)))
    assert bought == (() if date < "2025-01-01" else ((31 * 24.0, 32),))


def test_months_cover_the_span_and_the_currency_columns_follow_the_rate():
    cal = months(START, -24.0, 40 * 24.0)
    assert [m[0] for m in cal] == [dt.date(2024, 12, 1), dt.date(2025, 1, 1), dt.date(2025, 2, 1)]
    assert cal[1][1:] == (0.0, 31 * 24.0)
    t = pd.DataFrame({"month": ["2025-01"], "pool": ["a"], "kind": ["energy"], "committed_usd": [10.0],
                      "paid_usd": [4.0]})
    out = with_currency(t, {"code": "CNY", "per_usd": 7.1})
    assert out["committed_cny"].iloc[0] == pytest.approx(71.0) and out["paid_cny"].iloc[0] == pytest.approx(28.4)


# ---------------------------------------------------------------- a run's cash flow


def test_cashflow_adds_up_to_the_committed_spend(make_scenario):
    s = make_scenario.scenario(TWO, currency={"code": "CNY", "per_usd": 7.1})
    r = api.simulate(s)
    table = r.cashflow
    assert {"purchase", "reservation", "energy"} <= set(table["kind"])
    assert table["committed_usd"].sum() == pytest.approx(r.summary.costs.committed_usd, rel=1e-9)
    # the reservation runs to the end of its term, past the job's end
    assert table[table["kind"] == "reservation"]["month"].max() == "2025-03"
    per_pool = table.groupby("pool")["committed_usd"].sum()
    for p in r.summary.costs.pools:
        assert per_pool.get(p.pool, 0.0) == pytest.approx(p.committed_usd, rel=1e-9)
    assert r.summary.currency.code == "CNY" and r.summary.to_json()["currency"] == {"code": "CNY", "per_usd": 7.1}
    assert Summary.from_json(r.summary.to_json()).currency == r.summary.currency


def test_with_several_replications_the_cashflow_is_the_one_nearest_the_mean(make_scenario):
    risky = {**OWNED, "delivery_risk": {"slip_days": {"dist": "uniform", "low": 0, "high": 40}}}
    s = make_scenario.scenario(TWO, fleet=[risky, CLOUD], strategy={"mode": "single"})
    r = api.simulate(s, replications=5)
    costs = r.replications["cost_usd"].to_numpy()
    k = int(np.argmin(np.abs(costs - costs.mean())))
    assert r.cashflow["committed_usd"].sum() == pytest.approx(costs[k], rel=1e-6)
    assert f"replication {k} of 5" in r.cashflow_note


def test_a_rental_slips_with_delivery_risk_and_still_bills_its_term(make_scenario):
    base = make_scenario.scenario(fleet=[{**CLOUD, "cloud": {**CLOUD["cloud"], "from": "2025-01-01"}}],
                                  horizon_days=120)
    late = make_scenario.scenario(fleet=[{**CLOUD, "cloud": {**CLOUD["cloud"], "from": "2025-01-01"},
                                          "delivery_risk": {"slip_days": {"dist": "fixed", "value": 10}}}],
                                  horizon_days=120)
    a, b = api.simulate(base), api.simulate(late)
    ta, tb = a.summary.value("time_to_train_days"), b.summary.value("time_to_train_days")
    assert tb == pytest.approx(ta + 10, abs=0.01)
    start = b.events[b.events["event"] == "cloud_start"]
    assert start["time_days"].iloc[0] == pytest.approx(10) and "slipped 10 d" in start["detail"].iloc[0]
    assert b.summary.costs.committed_usd == pytest.approx(a.summary.costs.committed_usd)  # the contracted window
    assert b.replications["rent.cloud.slip_days"].iloc[0] == 10


# ---------------------------------------------------------------- the report


@pytest.fixture(scope="module")
def report(module_scenarios, tmp_path_factory):
    from conftest import Cli

    risky = {**OWNED, "delivery_risk": {"slip_days": {"dist": "triangular", "low": 0, "mode": 5, "high": 20},
                                        "shortfall_fraction": {"dist": "uniform", "low": 0, "high": 0.1}},
             "name": "own <b>&"}
    path = module_scenarios(TWO, fleet=[risky, CLOUD], currency={"code": "CNY", "per_usd": 7.1},
                            costs={"unit_price_usd": {"h100-sxm": 30000}})
    out = tmp_path_factory.mktemp("money") / "out"
    r = Cli()("run", path, "--out", out)
    assert r.exit_code == 0, r
    return out, r


def test_cashflow_csv_has_the_contract_columns_and_the_currency(report):
    out, _ = report
    t = pd.read_csv(out / "cashflow.csv")
    assert list(t.columns) == ["month", "pool", "kind", "committed_usd", "paid_usd", "committed_cny", "paid_cny"]
    assert list(t["committed_cny"]) == pytest.approx(list(t["committed_usd"] * 7.1))
    assert all(re.fullmatch(r"\d{4}-\d{2}", m) for m in t["month"])


def test_the_workbook_is_formatted_as_money_and_dates(report):
    out, _ = report
    wb = openpyxl.load_workbook(out / "report.xlsx")
    assert "cash flow" in wb.sheetnames and "inputs" in wb.sheetnames
    cf = wb["cash flow"]
    head = [c.value for c in cf[1]]
    assert head == ["month", "pool", "kind", "committed_usd", "paid_usd", "committed_cny", "paid_cny"]
    assert isinstance(cf["A2"].value, dt.datetime) and cf["A2"].number_format == "yyyy-mm"
    assert cf["D2"].number_format.startswith("$") and "CNY" in cf["F2"].number_format
    assert cf.freeze_panes == "A2" and cf.column_dimensions["D"].width >= 12
    for ws in wb.worksheets:
        if ws.title != "summary":
            assert ws.freeze_panes is not None, ws.title
        for row in ws.iter_rows(min_row=2, max_row=min(ws.max_row, 300)):
            for c in row:
                if isinstance(c.value, str):
                    assert not re.fullmatch(r"\d{4}-\d{2}-\d{2}", c.value), (ws.title, c.coordinate)
                header = str(ws.cell(1, c.column).value).lower()
                if isinstance(c.value, (int, float)) and not isinstance(c.value, bool) and abs(c.value) >= 1e4 \
                        and header.endswith("_cny"):  # (a strategy's cost_cny: the scenario's currency)
                    assert "CNY" in c.number_format, (ws.title, c.coordinate, c.number_format)
                elif isinstance(c.value, (int, float)) and not isinstance(c.value, bool) and abs(c.value) >= 1e4 \
                        and ("usd" in header or "cost" in header):
                    assert "$" in c.number_format, (ws.title, c.coordinate, c.number_format)
    summary = wb["summary"]
    labels = [summary.cell(r, 1).value for r in range(1, summary.max_row + 1)]
    assert any(str(v).startswith("Spend in CNY") for v in labels)


def test_the_page_echoes_every_input_and_shows_the_currency(report):
    out, r = report
    page = (out / "report.html").read_text(encoding="utf-8")
    for text in ("triangular (low 0, mode 5, high 20) days", "uniform (low 0, high 0.1)", "50 % reserved",
                 "3 days from delivery to service", "400 Gbit/s", "reliability.repair_days",
                 "$35 k per chip (the pool", "written off straight-line over 4 years",
                 "CNY at 7.1 per USD", "Cash flow by month", "chart-cashflow"):
        assert text in page, text
    assert "own &lt;b&gt;&amp;" in page and "own <b>&" not in page  # scenario text escaped
    assert "CNY" in r.stdout  # the CLI's headline


# ---------------------------------------------------------------- settings nothing reads are refused


@pytest.mark.parametrize("overrides, field", [
    ({"fleet": [{**CLOUD, "commissioning_days": 5}]}, "fleet[0].commissioning_days"),
    ({"fleet": [{**CLOUD, "delivery_risk": {"shortfall_fraction": {"dist": "fixed", "value": 0.1}}}]},
     "fleet[0].delivery_risk.shortfall_fraction"),
    ({"fleet": [{"name": "h100", "chip": "h100-sxm", "units": 64, "mtbf_chip_days": 100}]},
     "fleet[0].mtbf_chip_days"),
    ({"reliability": {"enabled": False, "mtbf_chip_days": 100}}, "reliability.mtbf_chip_days"),
    ({"costs": {"unit_price_usd": {"b200": 40000}}}, "costs.unit_price_usd.b200"),
    ({"currency": {"code": "cny", "per_usd": 7.1}}, "currency.code"),
    ({"currency": {"code": "CNY", "per_usd": 0}}, "currency.per_usd"),
    ({"currency": {"code": "USD", "per_usd": 1}}, "currency.code"),
    ({"fleet": [{"name": "h", "chip": "h100-sxm", "units": 8, "ordered_units": 16,
                 "deliveries": [{"date": "2025-02-01", "units": 32}]}]}, "fleet[0]"),
])
def test_a_setting_nothing_reads_is_refused_in_one_line(cli, make_scenario, overrides, field):
    line = one_error_line(cli("validate", make_scenario(overrides)))
    assert f": {field}" in line, line


def test_rented_unit_prices_and_owned_chip_prices_still_validate(make_scenario):
    s = make_scenario.scenario(TWO, costs={"unit_price_usd": {"h100-sxm": 30000}})
    assert s.costs.unit_price_usd == {"h100-sxm": 30000}


def test_shipped_scenarios_still_validate(cli):
    from conftest import SHIPPED_SCENARIOS

    r = cli("validate", *SHIPPED_SCENARIOS)
    assert r.exit_code == 0, r


# ---------------------------------------------------------------- deliveries from a sheet


def _pool_file(make_scenario, name: str):
    return make_scenario(fleet=[{"name": "h100", "chip": "h100-sxm", "units": 64, "deliveries": {"file": name}}])


def test_deliveries_from_csv_and_xlsx_equal_the_list(make_scenario, tmp_path):
    from planner.loader import load_scenario

    (tmp_path / "d.csv").write_text("date,units,supplier\n2025-01-10,128,x\n\n2025-02-01,\"1,024\",y\n")
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["Date", "Units"])
    ws.append([dt.datetime(2025, 1, 10), 128])
    ws.append([dt.datetime(2025, 2, 1), 1024.0])
    wb.save(tmp_path / "d.xlsx")
    want = [(dt.date(2025, 1, 10), 128), (dt.date(2025, 2, 1), 1024)]
    for name in ("d.csv", "d.xlsx"):
        s = load_scenario(_pool_file(make_scenario, name))
        assert [(d.date, d.units) for d in s.fleet[0].deliveries] == want


@pytest.mark.parametrize("text, where", [
    ("date,count\n2025-01-10,128\n", "row 1, column units"),
    ("date,units\n2025-01-10,128\n2025-13-01,256\n", "row 3, column date"),
    ("date,units\n2025-01-10,128\n2025-02-01,64\n", "row 3, column units"),
    ("date,units\n2025-01-10,12.5\n", "row 2, column units"),
    ("date,units\n2025-01-10,\n", "row 2, column units"),
    ("date,units\n2025-02-10,128\n2025-01-01,256\n", "row 3, column date"),
])
def test_a_bad_deliveries_sheet_names_its_file_row_and_column(cli, make_scenario, tmp_path, text, where):
    (tmp_path / "bad.csv").write_text(text)
    line = one_error_line(cli("validate", _pool_file(make_scenario, "bad.csv")))
    assert "bad.csv" in line and where in line, line


def test_a_missing_or_foreign_deliveries_file_is_one_line(cli, make_scenario, tmp_path):
    assert "no such file" in one_error_line(cli("validate", _pool_file(make_scenario, "none.csv")))
    (tmp_path / "d.txt").write_text("date,units\n")
    assert ".csv or .xlsx" in one_error_line(cli("validate", _pool_file(make_scenario, "d.txt")))
    (tmp_path / "broken.xlsx").write_bytes(b"not a zip")
    assert "broken.xlsx" in one_error_line(cli("validate", _pool_file(make_scenario, "broken.xlsx")))


def test_a_deliveries_file_without_a_scenario_file_is_refused(make_scenario):
    from planner.errors import ScenarioError

    with pytest.raises(ScenarioError, match="fleet\\[0\\].deliveries"):
        make_scenario.scenario(fleet=[{"name": "h", "chip": "h100-sxm", "units": 8, "deliveries": {"file": "d.csv"}}])


def test_the_schema_offers_a_deliveries_file(cli):
    import json

    schema = json.loads(cli("schema").stdout)
    pool = schema["$defs"]["Pool"]["properties"]["deliveries"]
    assert any(opt.get("required") == ["file"] for opt in pool["anyOf"])


# ---------------------------------------------------------------- the deadline's day, and numbers for people


def test_a_finish_during_the_deadlines_day_meets_it():
    deadline = START + dt.timedelta(days=120)
    assert deadline_end_days(START, deadline) == 121
    assert meets_deadline(120.008, START, deadline) and meets_deadline(120.999, START, deadline)
    assert not meets_deadline(121.0, START, deadline) and not meets_deadline(None, START, deadline)
    assert not meets_deadline(math.inf, START, deadline)


def test_sweep_and_sensitivity_pages_print_money_with_separators():
    from planner.decide.sensitivity import tornado_html
    from planner.decide.sweep import sweep_html

    table = pd.DataFrame({"fleet[1].cloud.units": [0, 4096], "time_to_train_days_p50": [300.0, 200.0],
                          "time_to_train_days_p90": [320.0, 210.0], "cost_usd_p50": [1.555e8, 5.868e8],
                          "finish_probability": [1.0, 1.0]})
    page = sweep_html(table, [("fleet[1].cloud.units", [0, 4096])], "t")
    assert "$155,500,000" in page and "e+08" not in page
    sens = pd.DataFrame({"input": ["price"], "low": ["x0.75"], "high": ["x1.25"], "note": [""],
                         **{f"{m}_{k}": [v] for m, (b, lo, hi) in
                            {"time_to_train_days_p50": (200.0, 200.0, 200.0),
                             "cost_usd_p50": (5.868e8, 4.4e8, 7.3e8)}.items()
                            for k, v in (("base", b), ("low", lo), ("high", hi), ("swing", hi - lo))}})
    page = tornado_html(sens, "t")
    assert "$586,800,000" in page and "e+08" not in page
