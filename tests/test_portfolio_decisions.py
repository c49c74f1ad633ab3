"""Decisions on a portfolio name the job they are about, and a job's answer never depends on the jobs after it."""

from __future__ import annotations

import copy
import datetime as dt

import pytest
from conftest import one_error_line
from test_portfolio import JOBS, _doc

from planner.decide.solve import solve, up_to
from planner.loader import from_dict
from planner.sim.runner import run_scenario
from planner.yamlio import safe_load

# a third pool of 8 H100s and a 405B job that may use only it: no layout of it fits there
BIG = {"name": "big", "workload": {"model": "llama3-405b", "tokens": 1.0e12, "seq_len": 8192}, "priority": 9,
       "pools": ["tiny"]}


def _with_big(jobs=JOBS) -> dict:
    doc = _doc([*copy.deepcopy(jobs), BIG])
    doc["fleet"].append({"name": "tiny", "chip": "h100-sxm", "site": "dc1", "units": 8})
    return doc


@pytest.mark.parametrize("command", ["run", "compare", "estimate"])
def test_a_job_no_layout_fits_is_named_with_its_field(cli, make_scenario, command):
    path = make_scenario.text(__import__("json").dumps(_with_big()), "big.json")
    line = one_error_line(cli(command, str(path), *(["--out", str(path.parent / "o")] if command == "run" else [])),
                          code=2 if command == "run" else 3)
    assert "job 'big' (jobs[3]): pool 'tiny': needs" in line, line


def test_no_chips_at_all_is_not_blamed_on_pins():
    from planner.bridge import layout_planners

    doc = _doc(JOBS[:1])
    doc["fleet"][1]["cloud"]["units"] = 0
    doc["jobs"][0]["pools"] = ["cloud"]
    from planner.sim.portfolio import job_scenario

    s = from_dict(doc)
    with pytest.raises(Exception, match="no chips of a100-80gb to train on") as err:
        layout_planners(job_scenario(s, s.jobs[0]))
    assert "pins" not in str(err.value)


def test_up_to_a_job_gives_that_job_and_the_jobs_before_it_the_same_figures():
    s = from_dict(_doc(JOBS))
    full = run_scenario(s, replications=3, seed=5, cash_flow=False).replications
    for name, before in (("a", ["a"]), ("b", ["a", "b"])):
        cut = up_to(s, name)
        assert [j.name for j in cut.jobs] == before
        part = run_scenario(cut, replications=3, seed=5, cash_flow=False).replications
        for j in before:
            assert list(part[f"{j}.time_to_train_days"]) == list(full[f"{j}.time_to_train_days"])


def test_solve_for_a_job_is_not_stopped_by_a_later_job_that_cannot_train():
    """A job after the one named that fits nowhere changes neither its answer nor any of its evaluations."""
    s = from_dict(_with_big())
    deadline = dt.date(2025, 10, 1)
    alone = solve(from_dict(_doc(JOBS)), "fleet[1].cloud.units", deadline, job="a", low=0, high=64,
                  replications=2, seed=1, workers=1)
    got = solve(s, "fleet[1].cloud.units", deadline, job="a", low=0, high=64, replications=2, seed=1, workers=1)
    assert alone["found"] and got["found"] and got["value"] == alone["value"]
    assert got["evaluations"] == alone["evaluations"]


def test_solve_for_a_job_reports_that_jobs_cost():
    s = from_dict(_doc(JOBS))
    got = solve(s, "fleet[1].cloud.units", dt.date(2025, 10, 1), job="b", low=0, high=64, replications=2, seed=1,
                workers=1)
    assert got["found"] and got["job"] == "b"
    from planner.edits import set_values

    run = run_scenario(set_values(s, {"fleet[1].cloud.units": got["value"]}), replications=2, seed=1,
                       cash_flow=False)
    jobs = {j.name: j.summary.metrics["cost_usd"].p50 for j in run.summary.jobs}
    assert got["cost_usd"] == pytest.approx(jobs["b"]) and jobs["b"] != pytest.approx(run.summary.metrics[
        "cost_usd"].p50)


def test_expectations_come_back_in_the_order_the_file_lists_them():
    doc = _doc(JOBS[:2])
    doc["expect"] = [{"metric": "time_to_train_days", "max": 1e4, "job": "b"},
                     {"metric": "cost_usd", "max": 1e12},
                     {"metric": "goodput", "min": 0.0, "job": "a"},
                     {"metric": "time_to_train_days", "max": 1e4}]
    checks = run_scenario(from_dict(doc), replications=1, cash_flow=False).summary.expectations
    assert [(c.metric, c.job) for c in checks] == [("time_to_train_days", "b"), ("cost_usd", None),
                                                   ("goodput", "a"), ("time_to_train_days", None)]


def test_a_number_with_a_leading_zero_is_decimal_and_octal_is_written_0o(make_scenario):
    # YAML 1.1 read `mw: 020` as sixteen; here a leading zero is text, which a number field reads as decimal and an
    # id keeps as written (`name: 08`)
    assert safe_load("a: 020\nb: 0o20\nc: -007\nd: 08\ne: 8_192") == {"a": "020", "b": 16, "c": "-007", "d": "08",
                                                                        "e": 8192}
    from planner.loader import load_scenario

    path = make_scenario.text("name: z\nworkload: {model: llama3-8b, tokens: 1.0e11, seq_len: 8192}\n"
                              "fleet: [{name: 08, chip: h100-sxm, units: 020, site: 09}]\n")
    pool = load_scenario(path).fleet[0]
    assert (pool.name, pool.units, pool.site) == ("08", 20, "09")


def test_a_portfolios_used_spend_is_the_jobs_and_money_axes_write_billions_as_b():
    from planner.decide.present import axis_format
    from planner.report.headline import finish_items

    one = run_scenario(from_dict(_doc(JOBS[:2])), replications=1, cash_flow=False).summary
    assert "Used by the jobs (mean)" in [h.label for h in finish_items(one)]
    assert axis_format("cost_usd_p50") == {"tickprefix": "$", "exponentformat": "B"}  # $1.07B, not SI's $1.07G


def test_compare_draws_what_run_draws_for_a_portfolios_job(make_scenario, cli):
    """`compare` on `jobs:` ran each job with the root seed's stream; `run` gives job k a stream of its own.

    So even the first job, which has its pools alone, differed (83.51 d against 83.59 d on the shipped portfolio).
    The auto row of a one-job portfolio is now what `run --replications 1` gives, to the last digit.
    """
    import json

    path = make_scenario(
        workload=None, reliability={"enabled": True, "mtbf_chip_days": 50},
        fleet=[{"name": "a", "chip": "h100-sxm", "units": 64}, {"name": "b", "chip": "h100-sxm", "units": 32}],
        jobs=[{"name": "only", "workload": {"model": "llama3-8b", "tokens": 3.0e11, "seq_len": 8192}}])
    r = cli("compare", path, "--json")
    assert r.exit_code == 0, r
    auto = next(m for m in r.json()["modes"] if m.get("auto"))
    out = path.parent / "out"
    assert cli("run", path, "--replications", "1", "--out", out).exit_code == 0
    s = json.loads((out / "summary.json").read_text())
    assert auto["time_to_train_days"] == s["metrics"]["time_to_train_days"]["p50"]
    assert auto["failures"] > 0  # (failures drawn: the streams matter)


def test_a_later_jobs_compare_row_is_what_run_gives_it(make_scenario, cli):
    """The second job's auto row in `compare` is `run --replications 1`'s figure for that job, to the last digit.

    App review: compare ran each job as if it had its pools alone, so the dense run's auto row read 215.7 days where
    `run` gave it 218.0 (it trains on what the flagship leaves it, in the flagship's levels).
    """
    import json

    w = {"model": "llama3-8b", "seq_len": 8192}
    path = make_scenario(
        workload=None, reliability={"enabled": True, "mtbf_chip_days": 200}, horizon_days=120,
        fleet=[{"name": "a", "chip": "h100-sxm", "units": 256}, {"name": "b", "chip": "h100-sxm", "units": 128}],
        jobs=[{"name": "first", "priority": 1, "workload": {**w, "tokens": 4.0e11}},
              {"name": "second", "priority": 2, "workload": {**w, "tokens": 6.0e11}}])
    r = cli("compare", path, "--json")
    assert r.exit_code == 0, r
    autos = {m["job"]: m for m in r.json()["modes"] if m.get("auto")}
    out = path.parent / "out"
    assert cli("run", path, "--replications", "1", "--out", out).exit_code == 0
    s = json.loads((out / "summary.json").read_text())
    for j in s["jobs"]:
        assert autos[j["name"]]["time_to_train_days"] == j["metrics"]["time_to_train_days"]["p50"], j["name"]


def test_a_portfolio_sweep_has_each_jobs_own_columns(cli, tmp_path):
    """A portfolio's sweep showed only the time until its last job finished: the flagship's deadline was nowhere."""
    import pandas as pd
    from conftest import ROOT

    r = cli("sweep", ROOT / "scenarios" / "ascend-portfolio-2024.yaml", "--set", "sites[0].power_mw[0].mw=10,40",
            "--replications", "2", "--out", tmp_path / "sw")
    assert r.exit_code == 0, r
    assert "each job's time to train" in r.stderr
    table = pd.read_csv(tmp_path / "sw" / "sweep.csv")
    for job in ("flagship-moe", "dense-405b"):
        for col in ("time_to_train_days_p50", "finish_date_p50", "finish_probability", "deadline_probability"):
            assert f"job {job}: {col}" in table.columns, (job, col)
    # the portfolio's time is its last job's: never shorter than either job's own
    assert (table["time_to_train_days_p50"] >= table["job flagship-moe: time_to_train_days_p50"]).all()
    assert (table["job flagship-moe: time_to_train_days_p50"] < table["job dense-405b: time_to_train_days_p50"]).all()


def test_a_jobs_deadline_share_past_the_horizon_is_a_marked_lower_bound():
    """A deadline after the horizon: the share is not known, only at least the share that met it by then."""
    from planner.decide.points import point_row
    from planner.summary import JobSummary, Summary

    row = point_row(Summary(jobs=(
        JobSummary(name="a", priority=1, summary=Summary(), deadline="2026-01-01", deadline_probability=None,
                   deadline_at_least=0.4),
        JobSummary(name="b", priority=2, summary=Summary(), deadline="2026-01-01", deadline_probability=0.9))))
    assert row["job a: deadline_probability"] == 0.4 and row["job b: deadline_probability"] == 0.9
    assert row["at_least"].split(", ") == ["job a: deadline_probability"]


def test_a_sweep_point_no_layout_of_one_job_fits_names_that_job_never(cli, make_scenario, tmp_path):
    """A review: the point's portfolio columns read 0 and never, and the job's own were left empty."""
    import pandas as pd
    import yaml

    doc = {"name": "s5", "start": "2025-01-01", "horizon_days": 200,
           "jobs": [{"name": "a", "workload": {"model": "llama3-8b", "tokens": 1.0e11, "seq_len": 8192,
                                               "global_batch_tokens": 2097152}},
                    {"name": "c", "workload": {"model": "llama3-405b", "tokens": 1.0e11, "seq_len": 8192,
                                               "global_batch_tokens": 2097152}, "pools": ["tiny"]}],
           "fleet": [{"name": "big", "chip": "h100-sxm", "site": "dc1", "units": 1024},
                     {"name": "tiny", "chip": "h100-sxm", "site": "dc1", "units": 8}],
           "reliability": {"enabled": False}}
    r = cli("sweep", make_scenario.text(yaml.safe_dump(doc), "s5.yaml"), "--set", "fleet[1].units=8,256",
            "--replications", "1", "--out", tmp_path / "sw")
    assert r.exit_code == 0, r
    rows = pd.read_csv(tmp_path / "sw" / "sweep.csv").to_dict("records")
    bad = next(x for x in rows if str(x["note"]).startswith("no layout fits: job 'c'"))
    assert bad["job c: finish_probability"] == 0.0
    assert bad["job c: finish_date_p50"] == "never" and bad["job c: finish_date_p90"] == "never"
    assert pd.isna(bad["job a: finish_probability"])  # the point did not run: job a's figures are not known
    good = next(x for x in rows if x is not bad)
    assert good["job c: finish_probability"] == 1.0


def test_a_job_s_strategy_fields_can_be_swept_when_the_job_leaves_strategy_out():
    """A job without a `strategy:` trains by the scenario's: its strategy fields are those, and can be swept.

    A review: `--set jobs[0].strategy.mode=single` said "jobs[0].strategy: not set in this scenario" (and
    `strategy.mode` of a file without `strategy:` could be swept).
    """
    from planner import edits

    doc = _doc(JOBS)
    doc["strategy"] = {"mode": "auto", "objective": "cost", "replan_min_gain": 0.2}
    s = from_dict(doc)
    assert s.jobs[0].strategy is None
    assert edits.value_of(s, "jobs[0].strategy.mode") == "auto"
    assert edits.value_of(s, "jobs[0].strategy.replan_min_gain") == 0.2
    single = edits.set_values(s, {"jobs[0].strategy.mode": "single"})
    mine = single.jobs[0].strategy
    # the job's own section starts as the scenario's: only the mode moved
    assert (mine.mode, mine.objective, mine.replan_min_gain) == ("single", "cost", 0.2)
    assert single.strategy == s.strategy and single.jobs[1].strategy == s.jobs[1].strategy
