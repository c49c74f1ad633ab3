"""`planner run` end to end: exit codes, the five report files, and every shipped scenario."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from planner.results import EVENT_COLUMNS, EVENT_KINDS, SCHEDULE_COLUMNS

SHIPPED_SCENARIOS = sorted((Path(__file__).resolve().parent.parent / "scenarios").glob("*.yaml"))
REPORT = ("summary.json", "schedule.csv", "events.csv", "report.html", "report.xlsx")

# two replications with failures on, so that the replications differ
SMALL = {"reliability": {"enabled": True}, "simulation": {"seed": 3, "replications": 2}}


def _check_report(out: Path) -> dict:
    for f in REPORT:
        assert (out / f).is_file() and (out / f).stat().st_size > 0, f
    summary = json.loads((out / "summary.json").read_text())
    assert {"scenario", "planner_version", "seed", "replications", "metrics", "expectations"} <= set(summary)
    sched = pd.read_csv(out / "schedule.csv")
    assert len(sched) > 0
    jobs = ["job"] if summary.get("jobs") else []  # a portfolio's tables say which job a row is of
    assert list(sched.columns) == SCHEDULE_COLUMNS + jobs
    events = pd.read_csv(out / "events.csv", keep_default_na=False)
    assert list(events.columns) == EVENT_COLUMNS + jobs
    assert set(events["event"]) <= set(EVENT_KINDS), set(events["event"]) - set(EVENT_KINDS)
    assert "finish" in set(events["event"]) or summary["metrics"]["finish_probability"] < 1
    assert "<html" in (out / "report.html").read_text(encoding="utf-8").lower()
    return summary


def test_run_passing_expect_exits_0_and_writes_the_report(cli, make_scenario, tmp_path):
    path = make_scenario(SMALL, expect=[{"metric": "time_to_train_days", "quantile": 0.9, "max": 30},
                                        {"metric": "finish_probability", "min": 1}])
    out = tmp_path / "out"
    r = cli("run", path, "--out", out)
    assert r.exit_code == 0, r
    summary = _check_report(out)
    assert summary["replications"] == 2 and summary["seed"] == 3
    assert all(e["passed"] for e in summary["expectations"])
    assert f"report: {out}" in r.stdout
    assert "pass" in r.stdout and "FAIL" not in r.stdout


def test_run_failing_expect_exits_1_and_still_writes_the_report(cli, make_scenario, tmp_path):
    path = make_scenario(SMALL, expect=[{"metric": "time_to_train_days", "quantile": 0.9, "max": 1}])
    out = tmp_path / "out"
    r = cli("run", path, "--out", out)
    assert r.exit_code == 1, r
    assert "Traceback" not in r.stderr
    summary = _check_report(out)
    (e,) = summary["expectations"]
    assert e["passed"] is False and e["value"] > 1
    assert "FAIL" in r.stdout


def test_run_options_override_the_scenario(cli, make_scenario, tmp_path):
    path = make_scenario(SMALL)  # the file says seed 3, two replications
    r = cli("run", path, "--out", tmp_path / "a", "--replications", "3", "--seed", "9")
    assert r.exit_code == 0, r
    summary = _check_report(tmp_path / "a")
    assert (summary["replications"], summary["seed"]) == (3, 9)
    assert all(summary["metrics"]["time_to_train_days"][q] > 0 for q in ("p10", "p50", "p90"))


def test_run_bad_file_exits_2_without_traceback_or_output(cli, make_scenario, tmp_path):
    data = make_scenario.data(SMALL)
    data["fleet"][0]["deliveries"] = [{"date": "2025-02-30", "units": 128}]
    path = make_scenario.text(yaml.safe_dump(data, sort_keys=False), "bad.yaml")
    out = tmp_path / "out"
    r = cli("run", path, "--out", out)
    assert r.exit_code == 2, r
    assert "Traceback" not in r.stderr + r.stdout
    assert "bad.yaml" in r.stderr and "fleet[0].deliveries[0].date" in r.stderr, r.stderr
    assert not out.exists()


def test_run_unreadable_yaml_exits_2(cli, make_scenario, tmp_path):
    path = make_scenario.text("name: [unclosed\nworkload: {", "broken.yaml")
    out = tmp_path / "out"
    r = cli("run", path, "--out", out)
    assert r.exit_code == 2, r
    assert "Traceback" not in r.stderr + r.stdout
    assert "broken.yaml" in r.stderr
    assert not out.exists()


def test_run_bad_backend_exits_2(cli, make_scenario, tmp_path):
    out = tmp_path / "out"
    r = cli("run", make_scenario(), "--out", out, "--backend", "spark")
    assert r.exit_code == 2, r
    assert "--backend" in r.stderr and "spark" in r.stderr
    assert not out.exists()


@pytest.mark.parametrize("option", [["--replications", "0"], ["--seed", "-1"], ["--workers", "x"]],
                         ids=["replications", "seed", "workers"])
def test_run_bad_option_is_a_usage_error(cli, make_scenario, tmp_path, option):
    out = tmp_path / "out"
    r = cli("run", make_scenario(), "--out", out, *option)
    assert r.exit_code == 2, r
    assert option[0] in r.stderr and "planner run --help" in r.stderr and len(r.stderr.splitlines()) == 1
    assert "Traceback" not in r.stderr + r.stdout
    assert not out.exists()


def test_run_into_a_folder_of_other_files_exits_2_and_keeps_them(cli, make_scenario, tmp_path):
    out = tmp_path / "precious"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    r = cli("run", make_scenario(), "--out", out)
    assert r.exit_code == 2, r
    assert "notes.txt" in r.stderr and "Traceback" not in r.stderr
    assert [p.name for p in out.iterdir()] == ["notes.txt"]


def test_run_nothing_fits_exits_2(cli, make_scenario, tmp_path):
    """The contract gives `run` 0, 1 and 2: a scenario on which no layout fits is input it cannot run (was 3)."""
    path = make_scenario(workload={"model": "llama3-405b"}, fleet=[{"name": "h100", "chip": "h100-sxm", "units": 8}])
    out = tmp_path / "out"
    r = cli("run", path, "--out", out)
    assert r.exit_code == 2, r
    assert "GiB" in r.stderr and "Traceback" not in r.stderr
    assert not out.exists()


@pytest.mark.slow
@pytest.mark.parametrize("path", SHIPPED_SCENARIOS, ids=lambda p: p.name)
def test_every_shipped_scenario_runs(cli, path, tmp_path):
    out = tmp_path / path.stem
    r = cli("run", path, "--out", out, "--replications", "2")
    assert r.exit_code in (0, 1), r
    assert "Traceback" not in r.stderr
    summary = _check_report(out)
    assert summary["replications"] == 2
    assert (r.exit_code == 0) == all(e["passed"] for e in summary["expectations"])
