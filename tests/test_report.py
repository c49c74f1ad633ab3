"""The report folder: files, formats, and atomic replacement."""

from __future__ import annotations

import datetime as dt
import html
import json
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest
from openpyxl import load_workbook

from planner.errors import PlannerError
from planner.ownership import MARKER
from planner.perf.layout import LAYOUT_FIELDS
from planner.report import REPORT_FILES, ReportError, charts, headline, headline_items, tables, write_report
from planner.results import (
    EVENT_COLUMNS,
    LAYOUT_COLUMNS,
    PLAN_COLUMNS,
    REPLICATION_COLUMNS,
    SCHEDULE_COLUMNS,
    RunResult,
)
from planner.summary import Summary

START = dt.date(2025, 1, 1)
POOLS = ("owned-a", "cloud-b")


def _date(day: float) -> str:
    return (START + dt.timedelta(days=int(day))).isoformat()


def make_result(name: str = "tiny <two-pool> & co", days: int = 6) -> RunResult:
    """A small hand-made run: two pools over a few days, a failure, a re-plan, a finish, two replications."""
    schedule = []
    for day in range(days):
        for i, pool in enumerate(POOLS):
            in_service = 64 + 32 * min(day, 2) if i == 0 else 128
            schedule.append(
                {
                    "date": _date(day), "day": day, "pool": pool,
                    "units_delivered": in_service, "units_in_service": in_service - (8 if day == 3 and i == 0 else 0),
                    "units_in_training": in_service - 8 * (day == 3), "units_failed": 8 if day == 3 and i == 0 else 0,
                    "tokens_trained": 1.0e9 * day * (i + 1), "cost_usd": 1000.0 * day * (2 if i else 1),
                }
            )
    events = [
        (0.0, "owned-a", "delivery", 64, "first tranche"),
        (0.0, "cloud-b", "cloud_start", 128, ""),
        (0.1, "", "start", 192, "tp=4 pp=2"),
        (2.0, "owned-a", "re-plan", 256, "capacity +33%"),
        (3.25, "owned-a", "failure", 8, "node 12 <gpu>"),
        (3.3, "owned-a", "restart", 248, "from checkpoint"),
        (4.0, "", "maintenance", 0, "planned"),
        (5.5, "", "finish", 0, "done"),
    ]
    events = [
        {"time_days": t, "date": _date(t), "pool": p, "event": e, "units": u, "detail": d} for t, p, e, u, d in events
    ]
    plan = [
        {"date": _date(0), "pool": "owned-a", "planned_units": 64, "usable_units": 64},
        {"date": _date(2), "pool": "owned-a", "planned_units": 128, "usable_units": 128},
        {"date": _date(0), "pool": "cloud-b", "planned_units": 128, "usable_units": 128},
    ]
    layouts = [
        {"start_days": 0.1, "end_days": 2.0, "pool": "owned-a", "mode": "sync", "batch_seqs": 256, "units": 64,
         "tp": 4, "pp": 2, "dp": 8, "cp": 1,
         "ep": 1, "micro_batch": 1, "recompute": "selective", "vp": 1, "zero": 1, "tokens_per_s": 1.2e5,
         "mfu": 0.41},
        {"start_days": 2.0, "end_days": 5.5, "pool": "owned-a", "mode": "sync", "batch_seqs": 256, "units": 128,
         "tp": 4, "pp": 2, "dp": 16, "cp": 1,
         "ep": 1, "micro_batch": 2, "recompute": "none", "vp": 2, "zero": 1, "tokens_per_s": 2.3e5, "mfu": 0.40},
        {"start_days": 0.1, "end_days": 5.5, "pool": "cloud-b", "mode": "sync", "batch_seqs": 256, "units": 128,
         "tp": 8, "pp": 1, "dp": 16, "cp": 1,
         "ep": 1, "micro_batch": 1, "recompute": "selective", "vp": 1, "zero": 3, "tokens_per_s": 3.0e5,
         "mfu": 0.45},
    ]
    replications = [
        {"replication": 0, "finished": True, "time_to_train_days": 5.5, "cost_usd": 15000.0, "energy_mwh": 12.5,
         "mfu": 0.42, "goodput": 0.93, "chip_hours": 40000.0, "mode": "sync", "pool": "owned-a + cloud-b",
         "failures": 3, "moves": 0, "link_tb": 0.0, "model_factor": 1.0, "start_days": 0.1},
        {"replication": 1, "finished": True, "time_to_train_days": 6.25, "cost_usd": 17000.0, "energy_mwh": 13.1,
         "mfu": 0.41, "goodput": 0.90, "chip_hours": 43000.0, "mode": "sync", "pool": "owned-a + cloud-b",
         "failures": 4, "moves": 0, "link_tb": 0.0, "model_factor": 1.0, "start_days": 0.1},
    ]

    def stats(a: float, b: float) -> dict:
        return {"mean": (a + b) / 2, "p10": a, "p50": (a + b) / 2, "p90": b}

    summary = {
        "scenario": name,
        "planner_version": "0.1.0",
        "seed": 42,
        "replications": 2,
        "metrics": {
            "time_to_train_days": stats(5.5, 6.25),
            "finish_probability": 1.0,
            "cost_usd": stats(15000.0, 17000.0),
            "energy_mwh": stats(12.5, 13.1),
            "mfu": stats(0.41, 0.42),
            "goodput": stats(0.90, 0.93),
            "chip_hours": stats(40000.0, 43000.0),
        },
        "expectations": [
            {"metric": "time_to_train_days", "quantile": 0.9, "max": 7.0, "value": 6.175, "passed": True},
            {"metric": "goodput", "quantile": 0.5, "min": 0.95, "value": 0.915, "passed": False},
        ],
    }
    return RunResult(
        scenario_name=name,
        summary=Summary.from_json(summary),  # written as summary.json's mapping: read at the boundary
        start=START,
        schedule=pd.DataFrame(schedule, columns=SCHEDULE_COLUMNS),
        events=pd.DataFrame(events, columns=EVENT_COLUMNS),
        plan=pd.DataFrame(plan, columns=PLAN_COLUMNS),
        layouts=pd.DataFrame(layouts, columns=LAYOUT_COLUMNS),
        replications=pd.DataFrame(replications, columns=REPLICATION_COLUMNS),
    )


def _leftovers(parent: Path, name: str) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith(f".{name}."))


# ---------------------------------------------------------------- files


def test_hand_made_result_fills_every_column() -> None:
    result = make_result()
    for frame in (result.schedule, result.events, result.plan, result.layouts, result.replications):
        assert not frame.empty and not frame.isna().any().any(), frame.columns[frame.isna().any()].tolist()
    assert {"vp", "zero"} <= set(LAYOUT_COLUMNS)


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> tuple[RunResult, Path]:
    """make_result() written once for the tests that only read the report (writing one takes ~0.4 s)."""
    result = make_result()
    target = tmp_path_factory.mktemp("report") / "out"
    out = write_report(result, target)
    assert out == target
    return result, out


def test_all_files_written(written: tuple[RunResult, Path]) -> None:
    _, out = written
    assert sorted(p.name for p in out.iterdir()) == sorted((*REPORT_FILES, MARKER))  # planner's marker: issue 17
    assert all((out / f).stat().st_size > 0 for f in REPORT_FILES)
    assert _leftovers(out.parent, "out") == []
    assert [p.name for p in out.parent.iterdir()] == ["out"]


def test_summary_json_round_trips(written: tuple[RunResult, Path]) -> None:
    result, out = written
    text = (out / "summary.json").read_text(encoding="utf-8")
    assert json.loads(text) == result.summary.to_json()
    assert text.startswith('{\n  "scenario"')  # indent=2, keys in the contract's order


def test_summary_json_plain_numbers(tmp_path: Path) -> None:
    result = make_result()
    s = result.summary
    result.summary = replace(s, seed=np.int64(42), finish_probability=np.float64(0.5),
                             metrics={**s.metrics, "mfu": replace(s.metrics["mfu"], p90=float("nan"))})
    out = write_report(result, tmp_path / "out")
    data = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert data["seed"] == 42 and isinstance(data["seed"], int)
    assert data["metrics"]["finish_probability"] == 0.5
    assert data["metrics"]["mfu"]["p90"] is None  # strict JSON: no NaN literal


def test_csv_columns(written: tuple[RunResult, Path]) -> None:
    result, out = written
    schedule = pd.read_csv(out / "schedule.csv")
    assert list(schedule.columns) == SCHEDULE_COLUMNS
    assert len(schedule) == len(result.schedule)
    events = pd.read_csv(out / "events.csv", keep_default_na=False)
    assert list(events.columns) == EVENT_COLUMNS
    assert list(events["event"]) == list(result.events["event"])


def test_html_is_self_contained(written: tuple[RunResult, Path]) -> None:
    _, out = written
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "plotly" in page.lower()
    assert not re.search(r"<script[^>]*\ssrc\s*=\s*[\"']?https?:", page, re.I)
    assert "<script src=http" not in page.replace('"', "").replace("'", "")
    assert not re.search(r"<link[^>]*href\s*=\s*[\"']?https?:", page, re.I)
    # capacity, tokens, contribution, cost, timeline, interruptions, fan, finish CDF, cost histogram, replications
    assert page.count("Plotly.newPlot") == 10
    assert len(re.findall(r"<script[^>]*>", page)) == 1 + 10  # plotly.js once, then one per figure
    # the scenario name is escaped, never raw markup
    assert "tiny &lt;two-pool&gt; &amp; co" in page and "<two-pool>" not in page
    assert "node 12 &lt;gpu&gt;" in page
    for label in ("Time to train", "Finish probability", "Cost", "Energy", "MFU", "Goodput", "Chip-hours"):
        assert label in page
    assert "PASS" in page and "FAIL" in page


def test_xlsx_sheets(written: tuple[RunResult, Path]) -> None:
    _, out = written
    book = load_workbook(out / "report.xlsx", read_only=True)
    assert len(book.sheetnames) >= 2
    assert book.sheetnames[:6] == ["summary", "schedule", "events", "plan", "layouts", "replications"]
    rows = {r[0]: r[1:] for r in load_workbook(out / "report.xlsx")["summary"].iter_rows(values_only=True) if r[0]}
    assert rows["Time to train [days]"][1] == pytest.approx(5.875)
    assert rows["Answer"][:3] == ("P10", "P50", "P90")
    full = load_workbook(out / "report.xlsx")
    schedule_ws = full["schedule"]
    assert schedule_ws.auto_filter.ref and schedule_ws["A2"].number_format == "yyyy-mm-dd"
    assert schedule_ws["A2"].is_date
    assert schedule_ws["I2"].number_format.startswith("$")  # cost_usd as currency
    assert full["summary"]._charts  # a chart on the summary sheet
    schedule = pd.read_excel(out / "report.xlsx", sheet_name="schedule")
    assert list(schedule.columns) == SCHEDULE_COLUMNS and len(schedule) == 12
    layouts = pd.read_excel(out / "report.xlsx", sheet_name="layouts")
    assert list(layouts.columns) == ["start_date", "end_date", *LAYOUT_COLUMNS]
    assert list(layouts["zero"]) == [1, 1, 3] and list(layouts["vp"]) == [1, 2, 1]


def test_empty_result(tmp_path: Path) -> None:
    """A run with no rows at all (say the job never started) still gives a full report."""
    result = RunResult(scenario_name="empty",
                       summary=Summary.from_json({"scenario": "empty", "metrics": {}, "expectations": []}))
    out = write_report(result, tmp_path / "out")
    assert sorted(p.name for p in out.iterdir()) == sorted((*REPORT_FILES, MARKER))
    assert list(pd.read_csv(out / "schedule.csv").columns) == SCHEDULE_COLUMNS
    assert "no data" in (out / "report.html").read_text(encoding="utf-8")


# ---------------------------------------------------------------- atomicity


def _boom(*args, **kwargs):
    raise RuntimeError("disk on fire")


@pytest.mark.parametrize("target", ["planner.report.tables.write_xlsx", "planner.report.html.write_html"])
def test_failure_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, target: str) -> None:
    monkeypatch.setattr(target, _boom)
    with pytest.raises(RuntimeError, match="disk on fire"):
        write_report(make_result(), tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert list(tmp_path.iterdir()) == []


def test_failure_keeps_previous_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = make_result("first run")
    write_report(first, tmp_path / "out")
    before = {f: (tmp_path / "out" / f).read_bytes() for f in REPORT_FILES}
    monkeypatch.setattr("planner.report.tables.write_csv", _boom)
    with pytest.raises(RuntimeError):
        write_report(make_result("second run"), tmp_path / "out")
    assert {f: (tmp_path / "out" / f).read_bytes() for f in REPORT_FILES} == before
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_replaces_previous_report(tmp_path: Path) -> None:
    write_report(make_result("first run"), tmp_path / "out")
    write_report(make_result("second run"), tmp_path / "out")
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["scenario"] == "second run"
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_creates_missing_parents(tmp_path: Path) -> None:
    out = write_report(make_result(), tmp_path / "a" / "b" / "out")
    assert (out / "report.html").is_file()


def test_refuses_to_replace_other_files(tmp_path: Path) -> None:
    target = tmp_path / "precious"
    target.mkdir()
    (target / "thesis.tex").write_text("do not delete")
    with pytest.raises(ReportError, match="thesis.tex") as info:
        write_report(make_result(), target)
    assert isinstance(info.value, PlannerError)
    assert (target / "thesis.tex").read_text() == "do not delete"
    assert [p.name for p in tmp_path.iterdir()] == ["precious"]
    (tmp_path / "afile").write_text("x")
    with pytest.raises(ReportError):
        write_report(make_result(), tmp_path / "afile")


# ---------------------------------------------------------------- charts and headline


def test_charts_cope_with_empty_frames() -> None:
    empty = RunResult(scenario_name="e", summary=Summary())
    for fig in (
        charts.capacity_figure(empty.schedule, empty.plan),
        charts.tokens_figure(empty.schedule, empty.events),
        charts.cost_figure(empty.schedule),
        charts.timeline_figure(empty.layouts, empty.events),
        charts.replications_figure(empty.replications),
        charts.capacity_figure(None),
    ):
        assert isinstance(fig, go.Figure)
        assert any("no data" in (a.text or "") for a in fig.layout.annotations)
    assert set(charts.result_figures(empty)) == {"capacity", "tokens", "contribution", "cost", "timeline",
                                                 "interruptions"}


def test_a_run_that_trained_nothing_says_so_on_its_charts() -> None:
    """Nothing trained, nothing committed: the tokens and committed-spend charts drew an empty -1 to 1 axis."""
    import pandas as pd

    days = pd.DataFrame({"date": ["2025-01-01", "2025-01-02"], "day": [0, 1], "pool": ["p", "p"],
                         "tokens_trained": [0.0, 0.0], "cost_usd": [0.0, 0.0]})
    cash = pd.DataFrame({"month": ["2034-04"], "pool": ["p"], "kind": ["purchase"], "committed_usd": [0.0],
                         "paid_usd": [3.86e8]})
    for fig, said in ((charts.tokens_figure(days), "no tokens trained"), (charts.cost_figure(days, cash),
                                                                           "nothing committed")):
        assert any(said in (a.text or "") for a in fig.layout.annotations), said
    trained = days.assign(tokens_trained=[0.0, 1e9])
    assert not any("no tokens" in (a.text or "") for a in charts.tokens_figure(trained).layout.annotations)


def test_figure_builders_build_what_result_figures_draws() -> None:
    """The app draws each chart as soon as it is built: the builders give result_figures' charts, in order."""
    for result in (make_result(), RunResult(scenario_name="e", summary=Summary())):
        want = charts.result_figures(result)
        got = {k: build() for k, build in charts.result_figure_builders(result).items()}
        assert list(got) == list(want)
        assert all(got[k].to_json() == want[k].to_json() for k in want)


def test_charts_content() -> None:
    result = make_result()
    cap = charts.capacity_figure(result.schedule, result.plan)
    names = [t.name for t in cap.data]
    assert names == ["owned-a", "cloud-b", "owned-a (plan)", "cloud-b (plan, stacked on owned-a)"]
    plan_a, plan_b = cap.data[2], cap.data[3]
    assert plan_a.line.dash == "dash" and plan_a.line.shape == "hv"
    assert list(plan_a.y) == [64, 128, 128]  # last planned level carried to the end of the run
    assert list(plan_b.y) == [64 + 128, 128 + 128, 128 + 128]  # the plan lines stack like the areas

    tokens = charts.tokens_figure(result.schedule, result.events)
    assert [t.stackgroup for t in tokens.data] == ["one", "one"]
    assert [a + b for a, b in zip(tokens.data[0].y, tokens.data[1].y, strict=True)] == [3.0e9 * d for d in range(6)]
    assert any("finish 2025-01-06" in (a.text or "") for a in tokens.layout.annotations)

    cost = charts.cost_figure(result.schedule)
    assert [t.stackgroup for t in cost.data] == ["one", "one"]

    assert result.start == START
    timeline = charts.timeline_figure(result.layouts, result.events, start=result.start)
    kinds = {t.name for t in timeline.data if t.type == "scatter"}
    assert kinds == {"failure", "restart", "maintenance", "re-plan"}
    bars = [t for t in timeline.data if t.type == "bar"]
    assert {t.name for t in bars} == {"owned-a", "cloud-b"}
    for field in ("tp", "recompute", "vp", "zero"):
        assert field in bars[0].hovertemplate, field
    assert timeline.layout.xaxis.type == "date"
    # bars start at the run's start date plus their start_days; the failure sits on day 3.25
    assert pd.Timestamp(bars[0].base[0]) == pd.Timestamp("2025-01-01") + pd.Timedelta(days=0.1)
    failure = next(t for t in timeline.data if t.name == "failure")
    assert pd.Timestamp(failure.x[0]) == pd.Timestamp("2025-01-01") + pd.Timedelta(days=3.25)
    # the hover data carries vp and zero of each layout
    cloud = next(t for t in bars if t.name == "cloud-b")
    row = list(cloud.customdata[0])
    hover_fields = ["start_days", "end_days", "units", *LAYOUT_FIELDS, "tokens_per_s", "mfu"]
    assert row[hover_fields.index("zero")] == 3 and row[hover_fields.index("vp")] == 1
    # without a start date the axis counts days
    plain = charts.timeline_figure(result.layouts, result.events)
    assert plain.layout.xaxis.type != "date"
    assert next(t for t in plain.data if t.name == "failure").x[0] == pytest.approx(3.25)
    # result_figures draws the same calendar timeline from the result's start
    figures = charts.result_figures(result)
    assert list(figures) == ["capacity", "tokens", "contribution", "cost", "timeline", "interruptions", "fan",
                             "finish_cdf", "cost_histogram", "replications"]
    assert figures["timeline"].layout.xaxis.type == "date"

    hist = charts.replications_figure(result.replications)
    assert hist.data[0].type == "histogram" and len(hist.data[0].x) == 2
    one = charts.replications_figure(result.replications.head(1))
    assert any("no data" in (a.text or "") for a in one.layout.annotations)


def test_headline_items() -> None:
    items = {h.key: h for h in headline_items(make_result().summary)}
    assert items["time_to_train_days"].value == "5.9 d"
    assert "p10 5.5 d" in items["time_to_train_days"].detail
    assert items["finish_probability"].value == "100.0 %"
    assert items["cost_usd"].value == "$16 k"
    assert headline_items(Summary())[0].value == "never"  # no replication finished: time to train is never


def test_many_interruptions_are_counted_per_week() -> None:
    """600 failures over 60 days: weekly stacked bars, not 600 markers merged into a band."""
    events = pd.DataFrame([{"time_days": i * 0.1, "date": _date(int(i * 0.1)), "pool": "owned-a", "event": "failure",
                            "units": 8, "detail": ""} for i in range(600)])
    weekly = charts.interruptions_per_week(events, START)
    assert weekly["count"].sum() == 600
    assert (pd.to_datetime(weekly["week"]).dt.day_of_week == 0).all()  # weeks start on Monday
    fig = charts.interruptions_figure(events, START)
    assert fig.layout.barmode == "stack" and sum(sum(t.y) for t in fig.data) == 600
    timeline = charts.timeline_figure(None, events, start=START)
    assert not [t for t in timeline.data if t.type == "scatter"]  # no marker band


def test_report_states_inputs_and_answer_in_words(written: tuple[RunResult, Path]) -> None:
    result, out = written
    page = (out / "report.html").read_text(encoding="utf-8")
    sentence = headline.answer_sentence(result.summary, result.inputs)
    assert html.escape(sentence) in page
    assert "e+0" not in page.split("<h2>Layouts</h2>")[1].split("<footer>")[0]  # tables read as numbers, not 1.2e+05


def test_cells_for_people() -> None:
    assert tables.fmt_cell("cost_usd", 1354120.4) == "$1,354,120"
    assert tables.fmt_cell("tokens_per_s", 1354120.0) == "1,354,120"
    assert tables.fmt_cell("mfu", 0.4123) == "41.2 %"
    assert tables.fmt_cell("units", 8192) == "8,192"
    out = tables.with_dates(pd.DataFrame({"start_days": [0.5], "end_days": [31.0]}), START)
    assert list(out.iloc[0][:2]) == ["2025-01-01", "2025-02-01"]


@pytest.mark.parametrize("fork_server", [True, False])
def test_a_writer_with_threads_forks_the_workbook_from_its_fork_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                      fork_server: bool) -> None:
    """After a local Dask cluster (its threads stay), the CLI's workbook comes from the fork server: the same bytes.

    Without the CLI's say-so (the app, a notebook) a process with threads writes it in order.
    """
    import planner.report.writer as writer
    from planner.sim.dask_backend import fork_server_started, start_fork_server

    result = make_result()
    write_report(result, tmp_path / "plain")
    start_fork_server()
    assert fork_server_started()
    monkeypatch.setattr(writer.threading, "active_count", lambda: 2)
    started = []
    real_start = writer._start_xlsx
    monkeypatch.setattr(writer, "_start_xlsx", lambda *a: started.append(real_start(*a)) or started[-1])
    write_report(result, tmp_path / "served", fork_server=fork_server)
    if fork_server:
        assert started[0] is not None and started[0]._popen.__module__.endswith("popen_forkserver")
        assert started[0].exitcode == 0
    else:
        assert started == [None]
    for f in REPORT_FILES:
        assert (tmp_path / "served" / f).read_bytes() == (tmp_path / "plain" / f).read_bytes(), f


def test_a_result_the_fork_server_cannot_take_is_written_in_order(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The fork server's child gets the result pickled: when it cannot be, the workbook is written here."""
    import planner.report.writer as writer
    from planner.sim.dask_backend import start_fork_server

    start_fork_server()
    monkeypatch.setattr(writer.threading, "active_count", lambda: 2)
    odd = make_result()
    monkeypatch.setattr(type(odd), "__reduce_ex__", lambda self, proto: (_ for _ in ()).throw(TypeError("no")))
    assert writer._start_xlsx(odd, tmp_path / "x.xlsx", fork_server=True) is None
    write_report(odd, tmp_path / "out", fork_server=True)
    assert (tmp_path / "out" / "report.xlsx").stat().st_size > 0


@pytest.mark.parametrize("fail_in", [None, "child", "parent"])
def test_workbook_written_beside_the_rest_is_the_same(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       fail_in: str | None) -> None:
    """A single-threaded writer forks for report.xlsx: the same bytes; a failure either side leaves nothing."""
    import planner.report.writer as writer

    result = make_result()
    write_report(result, tmp_path / "plain")  # test workers have threads: written in order
    monkeypatch.setattr(writer.threading, "active_count", lambda: 1)
    started = []
    real_start = writer._start_xlsx
    monkeypatch.setattr(writer, "_start_xlsx", lambda *a: started.append(real_start(*a)) or started[-1])
    if fail_in == "child":  # the forked writer fails: the parent writes the workbook itself
        monkeypatch.setattr(writer, "_xlsx_child", lambda *a: (_ for _ in ()).throw(RuntimeError("child")))
    if fail_in == "parent":
        monkeypatch.setattr("planner.report.html.write_html", _boom)
        with pytest.raises(RuntimeError, match="disk on fire"):
            write_report(result, tmp_path / "forked")
        assert [p.name for p in tmp_path.iterdir()] == ["plain"]
        return
    write_report(result, tmp_path / "forked")
    assert started and started[0] is not None
    for f in REPORT_FILES:
        assert (tmp_path / "forked" / f).read_bytes() == (tmp_path / "plain" / f).read_bytes(), f


# ---------------------------------------------------------------- never counts in every quantile a reader sees


def _mostly_unfinished() -> pd.DataFrame:
    """Ten replications, three finished (days 300, 320, 340), two never started."""
    t = [300.0, 320.0, 340.0] + [np.nan] * 7
    start = [10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, np.nan, np.nan]
    return pd.DataFrame({"replication": range(10), "finished": [True] * 3 + [False] * 7,
                         "time_to_train_days": t, "start_days": start, "cost_usd": np.linspace(1, 10, 10)})


def test_replication_stats_count_a_replication_that_never_finished_as_never():
    stats = tables.replication_stats(_mostly_unfinished()).set_index("metric")
    ttt = stats.loc["time_to_train_days"]
    assert ttt["count"] == 10 and ttt["p10"] == pytest.approx(318.0)  # 300 + 0.9 x (320 - 300)
    assert ttt["never"] == 7 and stats.loc["start_days", "never"] == 2  # the mean and min are of the others
    assert ttt["p50"] == "never" and ttt["p90"] == "never" and ttt["max"] == "never"
    assert ttt["mean"] == pytest.approx(320.0) and ttt["min"] == 300.0
    assert stats.loc["start_days", "p90"] == "never" and stats.loc["start_days", "p50"] == pytest.approx(55.0)
    assert stats.loc["cost_usd", "p50"] == pytest.approx(5.5)  # other metrics: every value
    shown = tables.for_people(stats.reset_index())
    assert (shown.loc[shown["metric"] == "time_to_train_days", "p50"] == "never").all()


def test_finish_date_chart_draws_no_quantile_line_beyond_the_finishes():
    fig = charts.replications_figure(_mostly_unfinished(), dt.date(2025, 1, 1))
    notes = [a.text for a in fig.layout.annotations]
    assert notes == ["P10 2025-11-15"]  # day 318 (the P10 over all ten), not the finished runs' own P10
    assert "P50, P90 never: 7 of 10 never finish" in fig.layout.title.text


def test_training_and_waiting_days_count_never_as_summary_time_to_train_does():
    from planner.loader import load_scenario
    from planner.sim.runner import dates_summary

    s = load_scenario(Path(__file__).resolve().parent.parent / "scenarios" / "ascend-ramp-2024.yaml")
    reps = _mostly_unfinished().assign(training_days=lambda d: d["time_to_train_days"] - d["start_days"],
                                       waiting_days=lambda d: d["start_days"], pool="p")
    out = dates_summary(s, reps)
    # two never started: they count as training for ever, as time to train counts them as never; five started and
    # stopped at the horizon, 820-860 days in, beyond every finish: P10 is known
    assert out["training_days"].p50 is None and out["training_days"].p10 == pytest.approx(299.0)
    assert out["at_least"]["training_days"] == ("mean",)  # (the mean is of the replications that finished)
    assert out["waiting_days"].p90 is None and out["waiting_days"].p50 == pytest.approx(55.0)
    assert tables.fmt_cell("time_to_train_days_p50", float("nan")) == "never"
    assert tables.fmt_cell("mfu_p50", 0.142) == "14.2 %"


@pytest.mark.parametrize(("value", "usd", "si"), [
    (999_600, "$1 M", "1 MWh"), (999.6, "$1 k", "1 kWh"), (999_499, "$999 k", "999 kWh"), (1234, "$1.23 k", "1.23 kWh"),
    (42, "$42", "42 Wh"), (5e15, "$5,000 T", "5 PWh")])
def test_sums_just_under_a_suffix_round_up_to_it_never_to_an_exponent(value, usd, si):
    from planner.fmt import fmt_si, fmt_usd, fmt_usd_and

    assert fmt_usd(value) == usd and fmt_si(value, "Wh") == si  # before: "$1e+03 k", "1e+03 MWh"
    assert fmt_usd_and(140_800_000, "CNY", 7.1) == "$141 M (CNY 1 B)"  # before: "(CNY 1e+03 M)"
    assert fmt_usd(float("nan")) == "—" and fmt_si(float("inf"), "Wh") == "—"  # no number, no "$nan"


def test_the_workbook_summary_says_never_where_a_time_to_train_never_came(tmp_path: Path):
    """The workbook's summary sheet says never where summary.json's time to train quantile is null.

    The slip scenario on a 400-day horizon: the slowest replications do not finish, so P90 is never (the cell was
    blank).
    """
    from planner import api
    from planner.loader import load_scenario

    s = load_scenario(Path(__file__).resolve().parents[1] / "scenarios" / "ascend-ramp-slip.yaml")
    s = s.model_copy(update={"horizon_days": 400})
    result = api.simulate(s, replications=10, seed=42)
    assert result.summary.metrics["time_to_train_days"].p90 is None
    rows = {r[0]: r[1:4] for r in tables.summary_sheet_rows(result)}
    label = next(k for k in rows if k.startswith("Time to train"))
    assert rows[label][2] == "never"
    write_report(result, tmp_path / "r")
    ws = load_workbook(tmp_path / "r" / "report.xlsx")["summary"]
    cells = {row[0].value: [c.value for c in row[1:4]] for row in ws.iter_rows() if row[0].value}
    assert cells[label][2] == "never"


def test_the_note_says_which_replication_the_cost_chart_shows() -> None:
    """With a cash flow, the cost chart is its replication (the one nearest the mean), not replication 0."""
    from planner import api
    from planner.loader import load_scenario
    from planner.report.html import detail_note

    root = Path(__file__).resolve().parents[1]
    result = api.simulate(load_scenario(root / "scenarios" / "ascend-ramp-slip.yaml"), replications=3)
    note = html.unescape(detail_note(result))
    assert "progress and timeline charts show replication 0" in note and "cost chart is the cash flow's" in note
    assert "cost and timeline charts show replication 0" not in note


def test_training_days_say_never_when_no_replication_finished() -> None:
    """No replication finishes: the headline's training days say never (the row was left out)."""
    from planner import api
    from planner.loader import from_dict

    s = from_dict({"name": "never", "start": "2025-01-01", "horizon_days": 3,
                   "workload": {"model": "llama3-8b", "tokens": 2e12, "seq_len": 8192},
                   "fleet": [{"name": "h100", "chip": "h100-sxm", "units": 64}],
                   "simulation": {"seed": 1, "replications": 2}})
    items = {h.key: h.value for h in headline_items(api.simulate(s).summary)}
    assert items["time_to_train_days"] == "never" and items["training_days"] == "never"


def test_the_capacity_plan_lines_leave_out_the_reserved_share() -> None:
    """The chips in service leave out a pool's reserved_fraction; the plan they are drawn against does too.

    The seed reserves 20% of its Ascend deliveries: on-time deliveries looked 20% short of a plan of every chip.
    """
    from planner.loader import load_scenario
    from planner.report.charts import capacity_figure
    from planner.sim.runner import delivery_plan

    s = load_scenario(Path(__file__).resolve().parents[1] / "scenarios" / "ascend-ramp-2024.yaml")
    plan = delivery_plan(s)
    ascend = plan[plan["pool"] == "ascend-cn"]
    assert (ascend["usable_units"] == (ascend["planned_units"] * 0.8).astype(int)).all()
    schedule = pd.DataFrame({"date": ["2024-03-01", "2025-06-01"] * 2, "pool": ["ascend-cn"] * 2 + ["azure-h100"] * 2,
                             "units_in_service": [0, 100, 0, 100]})
    fig = capacity_figure(schedule, plan)
    line = next(tr for tr in fig.data if tr.name.startswith("ascend-cn (plan"))
    assert max(line.y) == ascend["usable_units"].max() < ascend["planned_units"].max()
    assert "less reserved" in fig.layout.title.text
