"""Sweeps, sensitivity and goal seek: through the CLI and the API, on small scenarios with known answers."""

from __future__ import annotations

import datetime as dt
import json
import math

import pandas as pd
import pytest
from conftest import one_error_line

from planner import api
from planner.decide.points import finish_quantile_days
from planner.decide.solve import solve
from planner.decide.sweep import parse_set, sweep
from planner.edits import set_values
from planner.errors import ScenarioError

TWO_POOLS = {"fleet": [{"name": "h100", "chip": "h100-sxm", "units": 64},
                       {"name": "rent", "chip": "h100-sxm",
                        "cloud": {"units": 64, "from": "2025-01-01", "until": "2025-03-01",
                                  "price_per_chip_hour_usd": 10.0}}]}


def test_parse_set_reads_yaml_values_and_checks_the_path():
    assert parse_set("fleet[1].cloud.units=0, 4096,8192") == ("fleet[1].cloud.units", [0, 4096, 8192])
    assert parse_set("workload.tokens=1e11,2.5e11")[1] == [1e11, 2.5e11]
    with pytest.raises(ScenarioError):
        parse_set("fleet[1].cloud.units")
    with pytest.raises(ScenarioError):
        parse_set("fleet[x]=1")


def test_sweep_grid_rows_match_single_runs(make_scenario):
    sc = make_scenario.scenario(TWO_POOLS)
    axes = [("fleet[0].units", [32, 64]), ("workload.tokens", [5e10, 1e11])]
    table = sweep(sc, axes, replications=2, seed=3, workers=2)
    assert len(table) == 4 and list(table["fleet[0].units"]) == [32, 32, 64, 64]
    one = api.simulate(set_values(sc, {"fleet[0].units": 32, "workload.tokens": 1e11}), replications=2, seed=3)
    assert table.loc[1, "time_to_train_days_p50"] == one.summary.metrics["time_to_train_days"].p50
    # more tokens never finish sooner
    t = table["time_to_train_days_p50"].values
    assert t[1] >= t[0] and t[3] >= t[2]


def test_sweep_cli_writes_parquet_csv_html(cli, make_scenario, tmp_path):
    path = make_scenario(TWO_POOLS)
    r = cli("sweep", path, "--set", "fleet[1].cloud.units=0,64,128", "--set", "fleet[0].units=32,64", "--out",
            tmp_path / "sw")
    assert r.exit_code == 0, r
    pq = pd.read_parquet(tmp_path / "sw" / "sweep.parquet")
    csv = pd.read_csv(tmp_path / "sw" / "sweep.csv")
    assert len(pq) == len(csv) == 6
    assert "plotly" in (tmp_path / "sw" / "sweep.html").read_text().lower()
    # renting 0 units removes the rental: never sooner than renting 128
    t = csv.set_index(["fleet[1].cloud.units", "fleet[0].units"])["time_to_train_days_p50"]
    assert t[(0, 32)] >= t[(128, 32)]


def test_sweep_section_in_the_file_is_read(cli, make_scenario, tmp_path):
    path = make_scenario(TWO_POOLS, sweep=[{"path": "fleet[0].units", "values": [16, 32, 64]}])
    r = cli("sweep", path, "--out", tmp_path / "sw")
    assert r.exit_code == 0, r
    assert list(pd.read_csv(tmp_path / "sw" / "sweep.csv")["fleet[0].units"]) == [16, 32, 64]


@pytest.mark.parametrize("args, words", [
    (["--set", "fleet[5].units=1,2"], "fleet[5]"),
    (["--set", "fleet[0].nope=1,2"], "fleet[0]"),
    (["--set", "fleet[0].units=-5"], "fleet[0].units"),
    ([], "--set"),
])
def test_sweep_bad_input_is_exit_2_naming_the_field(cli, make_scenario, tmp_path, args, words):
    path = make_scenario(TWO_POOLS)
    r = cli("sweep", path, *args, "--out", tmp_path / "sw")
    assert r.exit_code == 2, r
    assert words in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "sw" / "sweep.csv").exists()


def test_a_field_left_at_its_default_can_be_swept_and_solved_for(cli, make_scenario, tmp_path):
    """A sweep or goal seek may name a field the file leaves at its default.

    Review: `--set reliability.mtbf_chip_days=...` on a file with `reliability: {enabled: true}`, or
    `workload.global_batch_tokens` on one that does not write it, exited 2 ("not set in this scenario").
    """
    path = make_scenario(TWO_POOLS, reliability={"enabled": True})
    r = cli("sweep", path, "--set", "workload.global_batch_tokens=2e6,4e6", "--set",
            "reliability.mtbf_chip_days=500,5000", "--replications", "1", "--out", tmp_path / "sw")
    assert r.exit_code == 0, r
    csv = pd.read_csv(tmp_path / "sw" / "sweep.csv")
    assert list(csv["reliability.mtbf_chip_days"]) == [500, 5000, 500, 5000] and csv["note"].isna().all()
    r = cli("solve", path, "--deadline", "2025-03-01", "--vary", "fleet[0].reserved_fraction", "--min", "0", "--max",
            "0.5", "--replications", "2", "--json")
    assert r.exit_code in (0, 1) and "not set" not in r.stderr, r
    r = cli("solve", path, "--deadline", "2025-03-01", "--vary", "reliability.mtbf_chip_days", "--replications", "2")
    assert "give --max" in one_error_line(r)  # no default of its own (the catalog's): the range is needed
    r = cli("sweep", path, "--set", "workload.nope=1,2", "--out", tmp_path / "sw2")
    assert "workload.nope" in one_error_line(r)


def test_finish_quantile_counts_unfinished_as_never():
    assert finish_quantile_days([1, 2, 3, 4, 5], 0.5) == 3
    assert finish_quantile_days([1, 2, 3, 4, float("nan")], 0.5) == 3
    assert finish_quantile_days([1, 2, 3, 4, float("nan")], 0.9) == float("inf")


def _p90_days(sc, units):
    r = api.simulate(set_values(sc, {"fleet[0].units": units}), replications=8, seed=5)
    return finish_quantile_days(list(r.replications["time_to_train_days"]), 0.9)


def test_solve_answer_meets_the_deadline_and_one_below_does_not(make_scenario):
    sc = make_scenario.scenario(reliability={"enabled": True, "mtbf_chip_days": 200}, workload={"tokens": 1e11})
    # met by the end of the deadline's day (planner/deadline.py): a finish before day 10
    deadline = dt.date(2025, 1, 1) + dt.timedelta(days=9)
    res = solve(sc, "fleet[0].units", deadline, quantile=0.9, low=16, high=256, replications=8, seed=5)
    v = res["value"]
    assert res["found"] and 16 < v < 256
    # ``monotone`` states what the evaluations show, never an assumption: the P90 of 8 replications need not fall
    # with every chip added (with these draws 40 chips finish 2.7% later than 39)
    days = [e["time_to_train_days"] for e in sorted(res["evaluations"], key=lambda e: e["value"])]
    assert res["monotone"] == all(b <= a * 1.01 for a, b in zip(days, days[1:], strict=False))
    assert _p90_days(sc, v) < 10 <= _p90_days(sc, v - 1)  # by the end of the deadline's day (planner/deadline.py)
    assert res["finish_date"] <= deadline.isoformat() and res["cost_usd"] > 0
    assert [e["value"] for e in res["evaluations"]].count(v - 1) == 1  # the bisection itself saw v - 1 miss
    # common random numbers: the same call gives the same answer (one end of the bracket suffices to show it)
    again = solve(sc, "fleet[0].units", deadline, quantile=0.9, low=v - 1, high=v, replications=8, seed=5)
    assert again["value"] == v and again["evaluations"] == [e for e in res["evaluations"] if e["value"] in (v - 1, v)]


def test_solve_cli_json_and_exit_1_when_none_in_range(cli, make_scenario):
    path = make_scenario(workload={"tokens": 2e11})
    ok = cli("solve", path, "--deadline", "2025-01-21", "--vary", "fleet[0].units", "--min", "8", "--max", "512",
             "--replications", "2", "--json")
    assert ok.exit_code == 0, ok
    out = ok.json()
    assert isinstance(out["value"], int) and out["finish_date"] <= "2025-01-21" and out["cost_usd"] > 0
    none = cli("solve", path, "--deadline", "2025-01-02", "--vary", "fleet[0].units", "--min", "8", "--max", "16",
               "--replications", "2")
    assert none.exit_code == 1, none
    bad = cli("solve", path, "--deadline", "someday", "--vary", "fleet[0].units")
    assert bad.exit_code == 2 and "--deadline" in bad.stderr
    bad = cli("solve", path, "--deadline", "2025-02-01", "--vary", "fleet[0].chip")
    assert bad.exit_code == 2 and "fleet[0].chip" in bad.stderr
    # a deadline before the start is refused at once (no run, no note on how long the search may take)
    early = cli("solve", path, "--deadline", "2024-12-31", "--vary", "fleet[0].units")
    assert early.exit_code == 2 and "--deadline: 2024-12-31 is before the scenario's start" in early.stderr, early
    assert "runs x" not in early.stderr


def test_sensitivity_cli_writes_a_tornado(cli, make_scenario, tmp_path):
    path = make_scenario(TWO_POOLS, reliability={"enabled": True, "mtbf_chip_days": 200},
                         fleet=[{"name": "own", "chip": "h100-sxm", "units": 32, "unit_price_usd": 25000,
                                 "deliveries": [{"date": "2025-01-10", "units": 64}]},
                                TWO_POOLS["fleet"][1]])
    r = cli("sensitivity", path, "--out", tmp_path / "se", "--replications", "2")
    assert r.exit_code == 0, r
    t = pd.read_csv(tmp_path / "se" / "sensitivity.csv").set_index("input")
    assert {"delivery slip", "delivery shortfall", "cloud units", "MTBF", "efficiency", "price"} <= set(t.index)
    # a price swing moves the cost, not the date; a late delivery never finishes sooner
    assert t.loc["price", "time_to_train_days_p50_swing"] == pytest.approx(0, abs=1e-9)
    assert t.loc["price", "cost_usd_p50_high"] > t.loc["price", "cost_usd_p50_low"]
    assert t.loc["delivery slip", "time_to_train_days_p50_high"] >= t.loc["delivery slip", "time_to_train_days_p50_low"]
    assert "plotly" in (tmp_path / "se" / "sensitivity.html").read_text().lower()


def test_solve_on_the_seed_scenario_finds_the_rental_that_meets_a_deadline():
    """The seed question: how many H100 to rent so that the ramp finishes by a deadline at P90 (20 replications).

    The deadline is one the Ascend order alone misses at P90 and the file's rental meets (read from two runs, so
    the test follows the cost model); the answer meets it and one unit fewer does not.
    """
    from pathlib import Path

    from planner import api
    from planner.edits import set_values
    from planner.loader import load_scenario

    sc = load_scenario(Path(__file__).resolve().parents[1] / "scenarios" / "ascend-ramp-2024.yaml")
    rented = sc.fleet[1].cloud.units

    def p90_days(units: int) -> float:
        s = set_values(sc, {"fleet[1].cloud.units": units})
        return api.simulate(s, replications=20, seed=sc.simulation.seed).summary.metrics["time_to_train_days"].p90

    alone, with_rental = p90_days(0), p90_days(rented)
    assert with_rental is not None and (alone is None or alone > with_rental + 2)
    cut = math.floor(with_rental) + 1 if alone is None else math.floor((alone + with_rental) / 2)
    deadline = sc.start + dt.timedelta(days=cut)
    res = solve(sc, "fleet[1].cloud.units", deadline, quantile=0.9, low=0, high=rented, replications=20)
    v = res["value"]
    seen = {e["value"]: e for e in res["evaluations"]}
    assert res["found"] and 0 < v <= rented
    # monotone says what the evaluated points did: false only when a larger value finished later (20 replications
    # of a ramp with model error: P90 moves by steps, e.g. 3,235 rented H100 finishing 1.4 d after 3,134)
    pts = sorted(res["evaluations"], key=lambda e: e["value"])
    days = [math.inf if e["time_to_train_days"] is None else e["time_to_train_days"] for e in pts]
    later = any(b > a * 1.01 for a, b in zip(days, days[1:], strict=False) if math.isfinite(a)) or any(
        a["meets"] and not b["meets"] for a, b in zip(pts, pts[1:], strict=False))
    assert res["monotone"] is not later
    assert seen[v]["meets"] and not seen[v - 1]["meets"] and not seen[0]["meets"]
    limit = (deadline - sc.start).days + 1  # by the end of the deadline's day (planner/deadline.py)
    assert res["time_to_train_days"] < limit
    assert seen[v - 1]["time_to_train_days"] is None or limit <= seen[v - 1]["time_to_train_days"]


def test_a_round_splits_the_bracket_into_equal_parts():
    from planner.decide.solve import round_values

    assert round_values(0, 10, 1, True) == [5]  # one value: the bisection's midpoint
    assert round_values(0, 9, 2, True) == [3, 6] and round_values(10, 20, 3, True) == [12, 15, 17]
    assert round_values(0, 2, 2, True) == [1]  # values that fall on an end or on each other count once
    assert round_values(4, 5, 2, True) == []
    assert round_values(0.0, 1.0, 2, False) == pytest.approx([1 / 3, 2 / 3])


def test_solve_gives_the_same_answer_from_the_same_values_on_any_number_of_workers(make_scenario):
    """Here 130 chips meet the deadline, 131 miss it and 132 meet it (two replications, failures on).

    One worker bisected and answered 132; two evaluated thirds and answered 130: the answer followed --workers.
    Every round now evaluates the same two values, in parallel where there are workers.
    """
    from planner.decide.solve import planned_points

    sc = make_scenario.scenario(reliability={"enabled": True, "mtbf_chip_days": 200}, workload={"tokens": 3e11})
    deadline = dt.date(2025, 1, 1) + dt.timedelta(days=9)  # by the end of that day: a finish before day 10
    runs = {}
    for w in (1, 2):
        ticks = []
        res = solve(sc, "fleet[0].units", deadline, low=8, high=1024, replications=2, seed=5, workers=w,
                    progress=lambda k, _n, ticks=ticks: ticks.append(k))
        runs[w] = (res["value"], res["monotone"], res["evaluations"])
        # the time estimate counts both ends and every value the search may evaluate
        assert len(planned_points(sc, "fleet[0].units", 8, 1024)) >= len(res["evaluations"])
    assert runs[1] == runs[2] and 8 < runs[1][0] < 1024


def test_memory_stays_flat_over_the_evaluations_of_a_goal_seek(make_scenario):
    """Each evaluation's run is freed before the next: the traced peak does not climb from one to the next.

    In one process (one worker), the way a 40-evaluation goal seek on one core runs; before, each evaluation
    left its context behind in reference cycles (~16 MiB a point on the seed scenario).
    """
    import tracemalloc

    sc = make_scenario.scenario(reliability={"enabled": True, "mtbf_chip_days": 200}, workload={"tokens": 3e11},
                                horizon_days=400)
    peaks, current = [], []

    def after_each(_k, _n):
        now, peak = tracemalloc.get_traced_memory()
        peaks.append(peak)
        current.append(now)
        tracemalloc.reset_peak()

    tracemalloc.start()
    try:
        res = solve(sc, "fleet[0].units", dt.date(2025, 1, 31), low=8, high=1024, replications=2, seed=5, workers=1,
                    progress=after_each)
    finally:
        tracemalloc.stop()
    mib = 2 ** 20
    assert res["found"] and len(peaks) >= 8, (res, peaks)
    shown = f"peaks {[round(p / mib, 2) for p in peaks]} MiB, after each {[round(c / mib, 2) for c in current]} MiB"
    # a point's own peak depends on its value (the conditional band searches the layouts of each stack level at
    # the point's chip count, holding each shape's terms): the last points peak no higher than the points before
    # them by more than one such search, never by what a kept context would hold (~16 MiB a point)
    assert max(peaks[-4:]) - max(peaks[:-4]) < 1.5 * mib, shown
    # what stays after each point: no context is kept (~16 MiB a point); the bounded caches of pure functions
    # (functools.lru_cache of the plan grid and sizes) keep about 10 KiB a point, 0.1 MiB over a dozen points
    assert max(current[3:]) - current[2] < 0.5 * mib, shown


def test_an_input_that_decides_whether_the_job_finishes_ranks_first_without_a_made_up_swing():
    """Base and low never finish (p50), high does: the swing is no number, and the row ranks first.

    Before, its swing was the other sides' spread (0.0) and the tornado swung from a base of 0.
    """
    from planner.decide import sensitivity as sens

    def row(days, cost):
        return {"time_to_train_days_p50": days, "cost_usd_p50": cost, "finish_date_p50": None, "note": ""}

    inputs = [sens.Input("cloud units", "x0.5", "x1.5", None, None), sens.Input("price", "x0.75", "x1.25", None, None)]
    results = [row(None, 10.0), row(None, 8.0), row(507.9, 12.0), row(None, 7.5), row(None, 12.5)]
    real = (sens.inputs, sens.points, sens.run_points, sens.all_infeasible, sens.result_row)
    try:
        sens.inputs, sens.points = (lambda s, src: inputs), (lambda s, ins: [None] * 5)
        sens.run_points = lambda *a, **k: results
        sens.all_infeasible, sens.result_row = (lambda r: None), (lambda r: r)
        t = sens.sensitivity(None)
    finally:
        sens.inputs, sens.points, sens.run_points, sens.all_infeasible, sens.result_row = real
    assert list(t["input"]) == ["cloud units", "price"] and bool(t.loc[0, "decides_finish"])
    assert t["time_to_train_days_p50_swing"].isna().all()
    assert t.loc[1, "cost_usd_p50_swing"] == pytest.approx(5.0)
    figs = sens.tornado_figures(t)
    assert "never finishes" in figs["time_to_train_days_p50"].layout.title.text
    assert not figs["time_to_train_days_p50"].data


def test_sensitivity_marks_a_figure_known_only_as_a_lower_bound_and_claims_no_swing_on_it(cli, tmp_path):
    """A sensitivity figure known only as a lower bound reads "≥", and no swing is taken against it.

    App review: half the rented H100s never finish by a 120-day horizon; their cost to the horizon read "$882 M"
    beside exact figures, and the swing was taken against it.
    """
    from conftest import SHIPPED_SCENARIOS

    src = next(p for p in SHIPPED_SCENARIOS if p.name == "all-cloud-h100.yaml")
    path = tmp_path / "ac120.yaml"
    # billed by the hour: the spend grows with the run (a reservation commits its whole window, a figure however
    # long the job runs)
    path.write_text(src.read_text().replace("horizon_days: 365", "horizon_days: 120")
                    .replace("price_per_chip_hour_usd: 8.60}", "price_per_chip_hour_usd: 8.60, billing: on_demand}"))
    r = cli("sensitivity", path, "--replications", "1", "--out", tmp_path / "s")
    assert r.exit_code == 0, r
    table = pd.read_csv(tmp_path / "s" / "sensitivity.csv").set_index("input")
    cloud = table.loc["cloud units"]
    assert cloud["cost_usd_p50_at_least"] == "low" and math.isnan(cloud["cost_usd_p50_swing"])
    assert math.isnan(cloud["time_to_train_days_p50_low"])  # never: no number at all
    row = next(line for line in r.stdout.splitlines() if "cloud units" in line)
    assert "≥ $" in row and "never" in row


@pytest.mark.parametrize("flag, value", [("--min", "nan"), ("--max", "inf"), ("--min", "-inf")])
def test_solve_refuses_an_end_that_is_no_finite_number(cli, make_scenario, flag, value):
    """Hostile review: `--min nan` was told to "give a larger --min"."""
    path = make_scenario(TWO_POOLS)
    line = one_error_line(cli("solve", path, "--deadline", "2025-03-01", "--vary", "fleet[0].units", flag, value))
    assert f"{flag} must be a finite number" in line


def test_the_tornado_marks_a_base_known_only_as_a_lower_bound():
    """Review: the tornado's title read "(base 300.0)" where the base was only at least that."""
    from planner.decide.sensitivity import tornado_figures

    row = {"input": "x", "low": "x0.5", "high": "x1.5"}
    for m, base in (("time_to_train_days_p50", 300.0), ("cost_usd_p50", 1e9)):
        row.update({f"{m}_base": base, f"{m}_low": base * 1.1, f"{m}_high": base * 0.9, f"{m}_at_least": "base, low",
                    f"{m}_swing": None})
    figs = tornado_figures(pd.DataFrame([row]))
    assert "(base ≥ 300.0" in figs["time_to_train_days_p50"].layout.title.text
    assert "(base ≥ $" in figs["cost_usd_p50"].layout.title.text


def test_a_path_past_a_value_is_no_field():
    """Review: `fleet[0].cloud.units.x` read "not set in this scenario", though cloud.units is set."""
    from conftest import SHIPPED_SCENARIOS

    from planner.edits import value_of
    from planner.loader import load_scenario

    s = load_scenario(next(p for p in SHIPPED_SCENARIOS if p.name == "all-cloud-h100.yaml"))
    with pytest.raises(ScenarioError, match="no such field") as err:
        value_of(s, "fleet[0].cloud.units.x")
    assert err.value.field == "fleet[0].cloud.units.x"


def test_a_field_name_on_a_list_is_one_clear_error(cli, make_scenario, tmp_path):
    """`--set fleet.x=1` (a name where the list wants an index) raised a TypeError inside value_of."""
    line = one_error_line(cli("sweep", make_scenario(TWO_POOLS), "--set", "fleet.x=1", "--out", tmp_path / "sw"))
    assert "fleet.x" in line and "TypeError" not in line


def test_the_sweep_heatmap_keeps_never_and_bounds_and_never_averages_further_axes():
    """A point that never finishes reads "never", a lower bound "≥", and a third axis gets heatmaps of its own.

    Review: the heatmap's pivot (a mean) dropped a column whose points never finished, showed a lower bound as the
    figure, and averaged a third axis, so a cell read 69.6 days where one of its two points never finished.
    """
    import re

    from planner.decide.sweep import sweep_html

    table = pd.DataFrame({
        "fleet[0].cloud.units": [64, 128, 64, 128], "fleet[0].efficiency": [1.0] * 4,
        "horizon_days": [43, 43, 120, 120],
        "time_to_train_days_p50": [40.4, 21.4, 41.9, 21.4], "time_to_train_days_p90": [None, 36.0, 69.6, 36.0],
        "cost_usd_p50": [1.68e6, 3.36e6, 1.68e6, 3.36e6], "finish_probability": [0.5, 1.0, 1.0, 1.0],
        "at_least": ["time_to_train_days_p50, cost_usd_p50", "", "", ""]})
    axes = [("fleet[0].cloud.units", [64, 128]), ("fleet[0].efficiency", [1.0]), ("horizon_days", [43, 120])]
    page = sweep_html(table, axes, "t")
    texts = [json.loads(m) for m in re.findall(r'"text":(\[\[.*?\]\])', page)]
    assert [["never", "36.0"]] in texts and [["69.6", "36.0"]] in texts  # p90 at horizon 43, then 120
    assert [["≥ 40.4", "21.4"]] in texts and [["≥ $1.68 M", "$3.36 M"]] in texts
    assert "at horizon_days = 43" in page and "at horizon_days = 120" in page
    one = sweep_html(table.iloc[:2], axes[:1], "t")  # one axis: the line's labels say the same
    labels = [json.loads(m) for m in re.findall(r'"text":(\[[^\[\]]*\])', one)]
    assert ["≥ 40.4", "21.4"] in labels and ["never", "36.0"] in labels


_RENT = {"name": "h100", "chip": "h100-sxm", "site": "dc1",
         "cloud": {"units": 32, "from": "2025-01-01", "until": "2026-01-01", "price_per_chip_hour_usd": 3.0}}


def test_compare_marks_what_a_mode_stopped_by_the_horizon_spent_as_at_least(cli, make_scenario):
    """A mode the horizon stops: energy and chip-hours at least (≥), a whole-window reservation exactly.

    Review: compare showed the spend and energy of an unfinished mode as figures, where `run` marks them ≥; and a
    reservation commits its whole window, so its cost is no lower bound (run marked it ≥).
    """
    path = make_scenario(horizon_days=30, workload={"model": "llama3-8b", "tokens": 1.0e12, "seq_len": 8192},
                         fleet=[_RENT], reliability={"enabled": True})
    r = cli("compare", path, "--json")
    assert r.exit_code == 0, r
    single = next(m for m in json.loads(r.stdout)["modes"] if m["mode"] == "single")
    assert not single["finished"] and single["at_least"] == ["energy_mwh", "chip_hours"]
    assert single["cost_usd"] == pytest.approx(32 * 365 * 24 * 3.0)  # the whole window, fixed
    table = cli("compare", path).stdout
    assert "≥" in table and "≥ $" not in table
    out = path.parent / "out"
    assert cli("run", path, "--out", out).exit_code == 0
    s = json.loads((out / "summary.json").read_text())
    assert "cost_usd" not in s["at_least"] and "energy_mwh" in s["at_least"]
    owned = make_scenario(horizon_days=30, workload={"model": "llama3-8b", "tokens": 1.0e12, "seq_len": 8192},
                          fleet=[{"name": "own", "chip": "h100-sxm", "site": "dc1", "units": 32}])
    mode = json.loads(cli("compare", owned, "--json").stdout)["modes"][0]
    assert mode["at_least"] == ["cost_usd", "energy_mwh", "chip_hours"]  # owned chips: their write-off grows


def test_compare_draws_the_model_error_as_run_does(cli, make_scenario):
    """With `model_error: on`, compare's auto row is replication 0 of `run` (the same draws, the same factor)."""
    path = make_scenario(workload={"model": "llama3-8b", "tokens": 1.0e12, "seq_len": 8192},
                         fleet=[{**_RENT, "cloud": {**_RENT["cloud"], "units": 256}}], horizon_days=120,
                         reliability={"enabled": True}, simulation={"seed": 42, "replications": 1, "model_error": "on"})
    auto = next(m for m in json.loads(cli("compare", path, "--json").stdout)["modes"] if m["auto"])
    out = path.parent / "out"
    assert cli("run", path, "--out", out).exit_code == 0
    s = json.loads((out / "summary.json").read_text())
    assert auto["model_factor"] != 1.0
    assert auto["time_to_train_days"] == pytest.approx(s["metrics"]["time_to_train_days"]["p50"])


def test_solve_evaluations_all_carry_the_bound_keys_and_a_zero_needs_a_max(cli, make_scenario):
    """An evaluation where no layout fits has time_at_least and cost_at_least too; a file's 0 asks for --max."""
    path = make_scenario(workload={"model": "llama3-8b", "tokens": 1.0e12, "seq_len": 8192},
                         fleet=[{**_RENT, "cloud": {**_RENT["cloud"], "units": 64}}], horizon_days=120)
    r = cli("solve", path, "--deadline", "2025-02-01", "--vary", "fleet[0].cloud.units", "--min", "1", "--max", "64",
            "--replications", "4", "--json")
    assert r.exit_code in (0, 1), r
    evals = json.loads(r.stdout)["evaluations"]
    assert all("time_at_least" in e and "cost_at_least" in e for e in evals)
    zero = make_scenario(workload={"model": "llama3-8b", "tokens": 1.0e12, "seq_len": 8192},
                         fleet=[{**_RENT, "cloud": {**_RENT["cloud"], "units": 64}},
                                {**_RENT, "name": "more", "cloud": {**_RENT["cloud"], "units": 0}}])
    r = cli("solve", zero, "--deadline", "2025-02-01", "--vary", "fleet[1].cloud.units", "--replications", "4")
    assert r.exit_code == 2 and "give --max" in one_error_line(r)
