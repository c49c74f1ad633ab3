"""The report of a portfolio (`jobs:`) and of powered sites (`sites:`): first screen, charts, workbook, terminal."""

from __future__ import annotations

import dataclasses
import datetime as dt
import html
import re
from pathlib import Path

import pandas as pd
import pytest
import yaml
from openpyxl import load_workbook

from planner import api
from planner.loader import from_dict
from planner.report import charts, headline, tables, write_report
from planner.report.html import render_html
from planner.summary import FinishDates, JobSummary, Stat, Summary

FLAG = "<b>flag</b> & co"  # a job name with markup: shown as written, never as markup
# the first job trains past the delivery of 2025-01-20, the second starts while it trains
SMALL = {"model": "llama3-8b", "tokens": 1.0e13, "seq_len": 8192, "global_batch_tokens": 4194304.0}
TINY = {"model": "llama3-8b", "tokens": 2.0e12, "seq_len": 8192, "global_batch_tokens": 4194304.0}


def _doc(jobs: list[dict] | None, power_mw: float | None = 0.3) -> dict:
    """Two pools on two sites; dc1's power (0.3 MW: about 196 H100s) is below the 512 chips delivered there."""
    doc = {"name": "portfolio <report>", "start": "2025-01-01", "horizon_days": 200,
           "fleet": [{"name": "own", "chip": "h100-sxm", "site": "dc1", "units": 256,
                      "deliveries": [{"date": "2025-01-20", "units": 512}]},
                     {"name": "cloud", "chip": "a100-80gb", "site": "dc2",
                      "cloud": {"units": 256, "from": "2025-01-01", "until": "2025-09-01",
                                "price_per_chip_hour_usd": 2.0}}],
           "links": [{"sites": ["dc1", "dc2"], "gbps": 100}],
           "reliability": {"enabled": False},
           "simulation": {"seed": 3, "replications": 3}}
    if jobs is None:
        doc["workload"] = SMALL
    else:
        doc["jobs"] = jobs
    if power_mw is not None:
        doc["sites"] = [{"name": "dc1", "pue": 1.2, "power_mw": [{"date": "2025-01-01", "mw": power_mw}]}]
    return doc


JOBS = [{"name": "second", "workload": TINY, "priority": 2, "start_after": "2025-01-10", "deadline": "2025-01-15"},
        {"name": FLAG, "workload": SMALL, "priority": 1, "deadline": "2025-06-30"}]


def _report(doc: dict, folder: Path):
    result = api.simulate(from_dict(doc))
    return result, write_report(result, folder)


@pytest.fixture(scope="module")
def portfolio(tmp_path_factory: pytest.TempPathFactory):
    result, folder = _report(_doc(JOBS), tmp_path_factory.mktemp("portfolio") / "r")
    return result, folder, (folder / "report.html").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def single(tmp_path_factory: pytest.TempPathFactory):
    result, folder = _report(_doc(None, power_mw=None), tmp_path_factory.mktemp("single") / "r")
    return result, folder, (folder / "report.html").read_text(encoding="utf-8")


def _first_screen(page: str) -> str:
    """The page up to the headline cards: what a reader sees first."""
    return page[:page.index('<div class="cards">')]


# ---------------------------------------------------------------- the page


def test_first_screen_names_every_job_escaped_in_priority_order(portfolio) -> None:
    result, _folder, page = portfolio
    first = _first_screen(page)
    assert FLAG not in page and "<b>flag</b>" not in page  # never as markup
    table = re.search(r'<table id="jobs">.*?</table>', first, re.S)
    assert table, "no jobs table on the first screen"
    rows = re.findall(r"<tr><td>(.*?)</td>", table.group(0))
    assert rows == [html.escape(FLAG), "second"]  # priority 1 first, whatever the file's order
    for job in result.summary.jobs:
        assert f"<li>{html.escape(headline.job_sentence(job, 200.0))}</li>" in first
        p50 = job.summary.finish_date.p50
        assert p50 in table.group(0)
    for job in result.summary.jobs:
        assert html.escape(f"{job.deadline} ({job.deadline_probability * 100:.1f} %)") in table.group(0)


def test_first_screen_has_the_gantt_and_chips_by_job_charts(portfolio) -> None:
    _result, _folder, page = portfolio
    first = _first_screen(page)
    for div in ("chart-jobs-timeline", "chart-jobs-chips"):
        assert f'id="{div}"' in first
    assert "Chips in training by job" in first and "P10-P90 finish band" in first


def test_power_wait_sentence_and_chart(portfolio) -> None:
    result, _folder, page = portfolio
    waited = result.summary.power_wait_chip_days
    assert waited is not None and waited.p50 > 0
    first = _first_screen(page)
    sentence = re.search(r'<p class="limit" id="power-wait">(.*?)</p>', first)
    assert sentence and f"{waited.p50:,.0f} chip-days for site power" in sentence.group(1)
    assert 'id="chart-site-power"' in first


def test_gantt_bars_band_and_deadline() -> None:
    """A bar from the first training day to P50, the P10-P90 band (to the horizon when P90 is never), deadlines."""
    job = lambda name, prio, fd, waiting, deadline, p: JobSummary(  # noqa: E731
        name, prio, Summary(finish_date=fd, waiting_days=Stat(waiting, waiting, waiting, waiting)), deadline, p)
    s = Summary(jobs=(job("b<i>", 2, FinishDates("2025-03-01", "2025-04-01", "never"), 30.0, "2025-05-01", 0.6),
                      job("a", 1, FinishDates("2025-02-01", "2025-02-10", "2025-02-20"), 0.0, None, None)))
    fig = charts.job_timeline_figure(s, start="2025-01-01", horizon_days=365)
    bars = [t for t in fig.data if t.mode == "lines"]
    assert [t.y[0] for t in bars] == ["a", html.escape("b<i>")]  # priority order, names escaped
    assert [pd.Timestamp(x) for x in bars[1].x] == [pd.Timestamp("2025-01-31"), pd.Timestamp("2025-04-01")]
    band = [t for t in fig.data if t.mode == "lines+markers" and t.y[0] == html.escape("b<i>")][0]
    assert pd.Timestamp(band.x[1]) == pd.Timestamp("2026-01-01")  # P90 never: the band runs to the horizon
    notes = [a.text for a in fig.layout.annotations]
    assert notes == ["deadline 2025-05-01: 60.0 %"]


def test_chips_by_job_sums_the_schedule(portfolio) -> None:
    result, _folder, _page = portfolio
    fig = charts.chips_by_job_figure(result.schedule, [FLAG, "second"])
    assert [t.name for t in fig.data] == [html.escape(FLAG), "second"]
    assert all(t.stackgroup == "one" for t in fig.data)
    want = result.schedule.groupby("job")["units_in_training"].sum()
    assert sum(fig.data[0].y) == want[FLAG] and sum(fig.data[1].y) == want["second"]
    assert want.sum() > 0


def test_site_power_table_caps_chips_in_service(portfolio) -> None:
    result, _folder, _page = portfolio
    power = charts.site_power_table(result.schedule, result.inputs)
    assert set(power["site"]) == {"dc1"}  # dc2 has no sites: entry
    assert (power["in_service"] <= power["power_allows"]).all()
    assert power["delivered_usable"].max() == 512 and power["power_allows"].max() < 512


def test_site_power_chart_shows_the_fleets_chips_in_service_not_a_jobs_share(portfolio) -> None:
    """dc1's chips in service are the fleet's (what the power runs, once the chips are there), every day.

    Before, the chart took the largest job row of a day: after the first job ended, that was the second job's
    share, rounded down to its levels, below what the power ran (the shipped portfolio: 408 of 850 days).
    """
    result, _folder, _page = portfolio
    power = charts.site_power_table(result.schedule, result.inputs, result.fleet_in_service)
    assert len(power) and (power["in_service"] <= power["power_allows"]).all()
    own = result.fleet_in_service[result.fleet_in_service["pool"] == "own"].set_index("date")["units_in_service"]
    shown = power.assign(date=pd.to_datetime(power["date"]).dt.strftime("%Y-%m-%d")).set_index("date")["in_service"]
    assert (shown == own.reindex(shown.index)).all()
    # the power binds from the delivery on: the fleet runs all it can, whichever job holds the chips
    late = power[pd.to_datetime(power["date"]) >= pd.Timestamp("2025-01-21")]
    assert len(late) and (late["in_service"] == late["power_allows"]).all()


def test_the_capacity_chart_stacks_the_fleets_chips_in_service(portfolio) -> None:
    """The capacity chart's areas are the fleet's chips in service per pool, whatever the jobs' shares.

    Before, it summed every job's rows (each job's share and the first job's view of the fleet): 959 chips shown of
    the 823 a site's power ran, 584 of a 512-chip rental.
    """
    result, _folder, _page = portfolio
    fig = charts.capacity_figure(result.schedule, result.plan, result.fleet_in_service)
    areas = {t.name: pd.Series(list(t.y), index=pd.to_datetime(list(t.x)))
             for t in fig.data if getattr(t, "stackgroup", None)}
    fleet = result.fleet_in_service.assign(date=pd.to_datetime(result.fleet_in_service["date"]))
    for pool, rows in fleet.groupby("pool"):
        want = rows.set_index("date")["units_in_service"].astype(float)
        assert (areas[pool].reindex(want.index) == want).all(), pool
    assert max(areas["cloud"]) <= 256  # the rental's chips, once (the jobs' shares added up to more)


def test_tokens_by_month_and_by_pool_add_every_jobs_tokens(portfolio) -> None:
    """The month table and the token charts count every job's tokens, finished ones too.

    Before, the month table took each pool's day-to-day change across the jobs' interleaved rows (they cancelled
    out: 15 T of the shipped portfolio's 29.8 T), and the charts dropped a job's tokens after its last row.
    """
    result, _folder, _page = portfolio
    jobs = {j.name: j for j in result.summary.jobs}
    trained = sum(result.schedule[result.schedule["job"] == n].groupby("pool")["tokens_trained"].max().sum()
                  for n in jobs)
    assert charts.monthly_tokens(result.schedule)["total"].sum() == pytest.approx(trained, rel=1e-9)
    fig = charts.tokens_figure(result.schedule)
    last = sum(t.y[-1] for t in fig.data if getattr(t, "stackgroup", None))
    assert last == pytest.approx(trained, rel=1e-9)


# ---------------------------------------------------------------- the workbook


def test_workbook_holds_the_pages_tables_of_a_run_on_several_pools(portfolio) -> None:
    """The contract's "the same tables, one sheet each": tokens by month was on the page only (so were the modes)."""
    result, folder, page = portfolio
    wb = load_workbook(folder / "report.xlsx")
    assert "Tokens by pool, month by month" in page and "tokens by month" in wb.sheetnames
    sheet = pd.read_excel(folder / "report.xlsx", sheet_name="tokens by month")
    want = charts.monthly_tokens(result.schedule)
    assert list(sheet.columns) == list(want.columns)
    assert sheet["total"].to_numpy() == pytest.approx(want["total"].to_numpy(), rel=1e-12)


def test_workbook_has_the_strategy_modes_of_a_one_job_run_on_several_pools(single) -> None:
    result, folder, page = single
    assert result.compare and "<h2>Strategies</h2>" in page
    modes = pd.read_excel(folder / "report.xlsx", sheet_name="strategies")
    assert list(modes["mode"]) == [r["mode"] for r in result.compare]
    possible = [r for r in result.compare if r["possible"] and r["finished"]]
    got = modes.set_index("mode").loc[[r["mode"] for r in possible], "time_to_train_days"].to_numpy()
    assert got == pytest.approx([r["time_to_train_days"] for r in possible], rel=1e-12)
    # compared with no failure drawn: each row says so, beside the summary sheet's times, which have them (review)
    assert set(modes.loc[modes["possible"], "failures"]) == {tables.STRATEGY_BASIS}


def test_workbook_has_a_jobs_sheet_with_real_dates(portfolio) -> None:
    result, folder, _page = portfolio
    wb = load_workbook(folder / "report.xlsx")
    assert wb.sheetnames[:2] == ["summary", "jobs"]
    ws = wb["jobs"]
    header = [c.value for c in ws[1]]
    assert header[:6] == ["job", "priority", "first_training_date", "finish_p10_date", "finish_p50_date",
                          "finish_p90_date"]
    col = {name: i for i, name in enumerate(header)}
    rows = list(ws.iter_rows(min_row=2, values_only=True))
    assert [r[0] for r in rows] == [FLAG, "second"]  # the name as text, as written
    for job, row in zip(headline.ordered_jobs(result.summary), rows, strict=True):
        assert isinstance(row[col["finish_p50_date"]], dt.datetime)
        assert row[col["finish_p50_date"]].date().isoformat() == job.summary.finish_date.p50
        assert isinstance(row[col["deadline_date"]], dt.datetime)
        assert row[col["deadline_probability"]] == pytest.approx(job.deadline_probability)
    cost = ws.cell(row=2, column=col["cost_usd_p50"] + 1)
    assert isinstance(cost.value, float) and cost.number_format == "$#,##0"
    assert ws.cell(row=2, column=col["finish_p50_date"] + 1).number_format == "yyyy-mm-dd"
    assert ws.freeze_panes == "B2" and ws.column_dimensions["E"].width >= 11


def test_workbook_capacity_is_the_fleets_and_a_jobs_check_is_named(tmp_path: Path) -> None:
    """The workbook's capacity is the fleet's, and a job's check is named.

    The capacity sheet holds the fleet's chips in service (it summed the jobs' shares: 1,136 of a 1,024-chip
    pool); the summary sheet names the job a check is on (it showed a job's P90 as the portfolio's).
    """
    doc = _doc(JOBS)
    doc["expect"] = [{"metric": "time_to_train_days", "quantile": 0.9, "max": 899, "job": "second"}]
    result, folder = _report(doc, tmp_path / "r")
    wb = load_workbook(folder / "report.xlsx")
    rows = list(wb["capacity"].iter_rows(values_only=True))
    header, body = rows[0], rows[1:]
    fleet = result.fleet_in_service.pivot_table(index="date", columns="pool", values="units_in_service")
    for j, pool in enumerate(header[1:], start=1):
        got = [r[j] for r in body]
        assert got == [int(v) for v in fleet[pool].tolist()], pool
    labels = [r[0] for r in wb["summary"].iter_rows(values_only=True)]
    assert "second: time_to_train_days p90" in labels


def test_jobs_table_never_for_unfinished_quantiles() -> None:
    job = JobSummary("j", 1, Summary(finish_date=FinishDates("2025-02-01", "never", "never"),
                                     metrics={"time_to_train_days": Stat(40.0, 31.0, None, None)}))
    table = tables.jobs_table(Summary(start="2025-01-01", jobs=(job,)))
    assert table.loc[0, "finish_p50_date"] == "never" and pd.isna(table.loc[0, "time_to_train_days_p50"])


# ---------------------------------------------------------------- the terminal


def test_cli_headline_has_a_line_per_job(cli, make_scenario, tmp_path: Path) -> None:
    doc = _doc([{"name": "first", "workload": TINY, "deadline": "2025-06-30"},
                {"name": "late", "workload": TINY, "priority": 2}])
    path = make_scenario.text(yaml.safe_dump(doc, sort_keys=False))
    r = cli("run", str(path), "--out", str(tmp_path / "r"), "--replications", "2")
    assert r.exit_code == 0, r
    lines = r.stdout.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("job first (priority 1): finish 20"))
    assert "deadline 2025-06-30 met in " in lines[first]
    assert lines[first + 1].startswith("job late (priority 2): finish ")
    assert "deadline" not in lines[first + 1]
    assert any("chip-days for site power" in line for line in lines)


# ---------------------------------------------------------------- one job: as before


def test_single_job_report_has_no_jobs_section(single) -> None:
    result, folder, page = single
    assert not result.summary.jobs
    for marker in ('id="jobs"', "chart-jobs-", "Jobs, in priority order", 'id="power-wait"', "chart-site-power"):
        assert marker not in page
    assert page.index('<p class="answer">') < page.index("<details open><summary>Inputs")
    assert charts.portfolio_figures(result) == {}
    assert "jobs" not in load_workbook(folder / "report.xlsx").sheetnames


def test_single_job_on_a_powered_site_shows_the_wait(tmp_path: Path) -> None:
    result = api.simulate(from_dict(_doc(None)))
    page = render_html(result)
    assert 'id="power-wait"' in _first_screen(page) and 'id="chart-site-power"' in page
    assert 'id="jobs"' not in page and "chart-jobs-" not in page


def test_a_jobs_deadline_is_not_drawn_on_the_portfolios_risk_charts() -> None:
    """The finish CDF and the fan are the portfolio's: a check on one job is not their deadline line.

    Before, they drew job a's deadline with the share of the portfolio's runs that met it (20%; job a's: 60%).
    """
    from planner.summary import ExpectationResult

    job_check = ExpectationResult(metric="time_to_train_days", quantile=0.5, max=8.0, min=None, value=7.3,
                                  passed=True, job="a")
    whole = ExpectationResult(metric="time_to_train_days", quantile=0.9, max=30.0, min=None, value=20.0,
                              passed=True)
    summary = Summary.from_json({"scenario": "x", "planner_version": "0", "seed": 1, "replications": 1,
                                 "start": "2025-01-01", "metrics": {}, "expectations": []})
    summary = dataclasses.replace(summary, expectations=(job_check, whole))
    assert [days for _label, days in charts.deadlines(summary, "2025-01-01")] == [30.0]


def test_a_links_traffic_adds_the_jobs_day_by_day() -> None:
    """One line per link, in date order, each day the jobs' traffic added.

    Before, it joined the jobs' series into one line that ran back in time.
    """
    links = pd.DataFrame({"job": ["a", "a", "b", "b"], "date": ["2025-01-01", "2025-01-02", "2025-01-01", "2025-01-02"],
                          "link": ["x-y"] * 4, "tb": [1.0, 2.0, 10.0, 20.0]})
    (trace,) = charts.link_figure(links).data
    assert list(trace.y) == [11.0, 22.0] and list(pd.to_datetime(trace.x)) == sorted(pd.to_datetime(trace.x))


def test_the_band_says_whose_it_is_and_every_jobs_own(portfolio) -> None:
    """A portfolio's stated band is its first job's, and each job draws from its own.

    It said "each replication draws its speed from it" of the first job's band alone, while a 405B job drew from
    0.21-1.19x, not 0.44-1.43x.
    """
    from planner.report.headline import band_sentence
    from planner.sim.portfolio import ordered_jobs, portfolio_context
    from planner.sim.replication import band_statement

    result, _folder, _page = portfolio
    b = result.summary.model_band
    pctx = portfolio_context(from_dict(_doc(JOBS)))
    assert b["job"] == FLAG == ordered_jobs(pctx.scenario)[0].name
    assert [j["job"] for j in b["jobs"]] == [FLAG, "second"]
    for j, js, ctx in zip(b["jobs"], pctx.scenarios, pctx.contexts, strict=True):
        own = band_statement(js, 3, ctx)
        assert (j["p10"], j["p90"], j["pool"]) == (own["p10"], own["p90"], own["pool"])
    words = band_sentence(result.summary)
    assert f"(job {FLAG}, pool " in words and "each job's speed from the job's own band" in words
    assert all(f"{j['job']} {j['p10']:.2f}-{j['p90']:.2f}x" in words for j in b["jobs"])


def test_site_power_runs_to_the_last_jobs_end_as_the_power_wait_counts(tmp_path: Path) -> None:
    """The powered site's table runs to the last job's end, the days the power wait counts.

    It ran to the last job on its pools: a job elsewhere that trained on left it short (day 377 of 400).
    """
    jobs = [{"name": "elsewhere", "workload": {**SMALL, "tokens": 1.0e15}, "priority": 1, "pools": ["cloud"]},
            {"name": "here", "workload": TINY, "priority": 2, "pools": ["own"]}]
    result = api.simulate(from_dict(_doc(jobs)))
    ends = result.schedule.groupby("job")["day"].max()
    assert ends["here"] < ends["elsewhere"]  # the job at the powered site ends first
    table = charts.site_power_table(result.schedule, result.inputs, result.fleet_in_service)
    assert str(table["date"].max())[:10] == result.fleet_in_service["date"].max()
    owned = from_dict(_doc(jobs)).fleet[0]
    assert table["delivered_usable"].iloc[-1] == owned.planned_units  # the deliveries carried on


def test_replications_carry_each_jobs_own_model_error(portfolio) -> None:
    """``model_factor`` is the first job's draw; each job's own is ``<job>.model_factor`` (it was nowhere)."""
    result, folder, _page = portfolio
    reps = pd.read_csv(folder / "replications.csv")
    assert {f"{FLAG}.model_factor", "second.model_factor"} <= set(reps.columns)
    assert (reps[f"{FLAG}.model_factor"] == reps["model_factor"]).all()  # the first job gets chips first
    # one draw of the model's error per replication, on each job's own band: the jobs' factors rank alike (engine
    # review: drawn apart, identical jobs' errors averaged out and the portfolio's band came out too narrow)
    assert reps["second.model_factor"].nunique() > 1
    assert (reps[f"{FLAG}.model_factor"].rank() == reps["second.model_factor"].rank()).all()


def test_identical_jobs_share_the_models_error_and_the_portfolio_band_is_one_jobs():
    from planner.sim.runner import run_scenario

    # (jobs of weeks: the next job takes the chips a job leaves from the next day on, which a job of hours hides)
    w = {"model": "llama3-8b", "seq_len": 8192, "global_batch_tokens": 4194304, "tokens": 1e12}
    base = {"name": "four", "start": "2025-01-01", "horizon_days": 400,
            "fleet": [{"name": "a", "chip": "h100-sxm", "units": 256}],
            "reliability": {"enabled": False}, "simulation": {"seed": 5, "replications": 12, "model_error": "on"}}
    four = run_scenario(from_dict({**base, "jobs": [{"name": f"j{i}", "priority": i + 1, "workload": w}
                                                    for i in range(4)]}), cash_flow=False, workers=1)
    reps = four.replications
    factors = reps[[f"j{i}.model_factor" for i in range(4)]].to_numpy()
    assert (factors == factors[:, :1]).all() and len(set(factors[:, 0])) == 12
    one = run_scenario(from_dict({**base, "workload": {**w, "tokens": 4e12}}), cash_flow=False, workers=1)
    t4, t1 = (r.summary.stat("time_to_train_days") for r in (four, one))
    # the same work under the same draw of the error: the spread is one job's, not a quarter of it averaged away
    assert t4.p90 / t4.p10 == pytest.approx(t1.p90 / t1.p10, rel=0.1)


def test_the_jobs_table_marks_a_job_spend_known_only_as_a_lower_bound():
    """A job that never finishes within the horizon: its chip-hours and spend so far are lower bounds (≥).

    Found by review: summary.json's per-job ``at_least`` named them, but the report's jobs table and the jobs sheet
    showed plain P50s.
    """
    from planner.sim.runner import run_scenario

    w = {"model": "llama3-8b", "seq_len": 8192, "global_batch_tokens": 4194304}
    s = from_dict({"name": "long", "start": "2025-01-01", "horizon_days": 9,
                   "jobs": [{"name": "short", "priority": 1, "workload": {**w, "tokens": 2e11}},
                            {"name": "endless", "priority": 2, "workload": {**w, "tokens": 3e14}}],
                   "fleet": [{"name": "a", "chip": "h100-sxm", "units": 512}],
                   "reliability": {"enabled": False}, "simulation": {"seed": 3, "replications": 2}})
    summary = run_scenario(s, cash_flow=False, workers=1).summary
    rows = {r["job"]: r for r in headline.job_rows(summary)}
    assert rows["endless"]["used spend (P50)"].startswith("≥ ") and rows["endless"]["chip-hours (P50)"].startswith("≥ ")
    assert not rows["short"]["used spend (P50)"].startswith("≥")
    table = tables.jobs_table(summary).set_index("job")
    assert table.loc["endless", "lower_bounds"] == "chip_hours_p50, cost_usd_p50, energy_mwh_p50"
    assert table.loc["short", "lower_bounds"] == ""


def test_a_portfolios_strategy_mode_is_one_the_contract_names(portfolio) -> None:
    """summary.json `strategy.mode` of a portfolio was "portfolio", a mode the contract does not name (review)."""
    from planner.kinds import Mode
    from planner.sim.portfolio import _lead

    result, _folder, _page = portfolio
    assert result.summary.strategy.mode in {m.value for m in Mode}
    own = {j.summary.strategy.mode for j in result.summary.jobs}
    assert len(own) > 1 or result.summary.strategy.mode == own.pop()
    # jobs of different modes: the first job's, a mode a job ran (it read "auto", which none did: review)
    rows = [{"mode": "x", "chip_hours": 0}, {"mode": "sync", "chip_hours": 1.0}, {"mode": "single", "chip_hours": 1.0}]
    assert _lead(rows)["mode"] == "sync" and _lead(rows[2:])["mode"] == "single"


def test_the_job_timeline_marks_a_finish_known_only_as_the_earliest_it_can_be() -> None:
    """A job's P90 on the line to replications stopped by the horizon: its hover reads "≥ date", the band is dotted."""
    import dataclasses

    from planner.summary import FinishDates, JobSummary, Stat, Summary

    one = Summary(scenario="j", replications=20, finish_probability=0.9, start="2025-01-01",
                  metrics={"time_to_train_days": Stat(mean=50.0, p10=40.0, p50=50.0, p90=70.0)},
                  finish_date=FinishDates("2025-02-10", "2025-02-20", "2025-03-12"),
                  waiting_days=Stat(mean=1.0, p10=1.0, p50=1.0, p90=1.0), unfinished=2,
                  at_least={"time_to_train_days": ("p90",)})
    whole = dataclasses.replace(one, jobs=(JobSummary("a", 1, one),))
    fig = charts.job_timeline_figure(whole, None, "2025-01-01", 80)
    band = next(t for t in fig.data if t.name.endswith("finish P10-P90"))
    assert "P90 ≥ 2025-03-12" in band.hovertemplate and band.line.dash == "dot"
    exact = dataclasses.replace(whole, jobs=(JobSummary("a", 1, dataclasses.replace(one, at_least={})),))
    band = next(t for t in charts.job_timeline_figure(exact, None, "2025-01-01", 80).data
                if t.name.endswith("finish P10-P90"))
    assert "P90 2025-03-12" in band.hovertemplate and band.line.dash == "solid"


def test_a_job_whose_p50_never_came_is_drawn_dotted_to_the_horizon_and_says_so() -> None:
    """App review: a job with P10, P50 and P90 all never drew a solid bar to the horizon, read as a finish there."""
    import dataclasses

    from planner.summary import FinishDates, JobSummary, Stat, Summary

    never = Summary(scenario="j", replications=5, finish_probability=0.0, start="2025-01-01",
                    metrics={"time_to_train_days": Stat(mean=None, p10=None, p50=None, p90=None)},
                    finish_date=FinishDates("never", "never", "never"),
                    waiting_days=Stat(mean=0.0, p10=0.0, p50=0.0, p90=0.0), unfinished=5)
    done = dataclasses.replace(never, finish_probability=1.0, unfinished=0,
                               metrics={"time_to_train_days": Stat(mean=50.0, p10=40.0, p50=50.0, p90=70.0)},
                               finish_date=FinishDates("2025-02-10", "2025-02-20", "2025-03-12"))
    whole = dataclasses.replace(never, jobs=(JobSummary("a", 1, done), JobSummary("b", 2, never)))
    fig = charts.job_timeline_figure(whole, None, "2025-01-01", 80)
    bars = {t.name: t for t in fig.data if t.line is not None and t.line.width == 22}
    assert bars["a"].line.dash == "solid" and bars["b"].line.dash == "dot"
    assert "trained to the horizon" in bars["b"].hovertemplate
    assert any("P50 never" in a.text for a in fig.layout.annotations)
