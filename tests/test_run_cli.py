"""`planner run` end to end: exit codes, the five report files, and every shipped scenario."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

SCENARIOS = sorted((Path(__file__).resolve().parent.parent / "scenarios").glob("*.yaml"))
REPORT = ("summary.json", "schedule.csv", "events.csv", "report.html", "report.xlsx")


def _run(*args, timeout=180):
    return subprocess.run([sys.executable, "-m", "planner.cli", "run", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout)


def _small(tmp_path: Path, expect: list[dict], name="small") -> Path:
    data = {
        "name": name,
        "start": "2025-01-01",
        "horizon_days": 60,
        "workload": {"model": "llama3-8b", "tokens": 1.0e11, "seq_len": 8192},
        "fleet": [{"name": "h100", "chip": "h100-sxm", "units": 64}],
        "reliability": {"enabled": True},
        "simulation": {"seed": 3, "replications": 2},
        "expect": expect,
    }
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _check_report(out: Path) -> dict:
    for f in REPORT:
        assert (out / f).is_file() and (out / f).stat().st_size > 0, f
    summary = json.loads((out / "summary.json").read_text())
    assert {"scenario", "planner_version", "seed", "replications", "metrics", "expectations"} <= set(summary)
    sched = pd.read_csv(out / "schedule.csv")
    assert len(sched) > 0
    events = pd.read_csv(out / "events.csv")
    assert "finish" in set(events["event"]) or summary["metrics"]["finish_probability"] < 1
    assert "<html" in (out / "report.html").read_text(encoding="utf-8").lower()
    return summary


def test_run_passing_expect_exits_0_and_writes_the_report(tmp_path):
    path = _small(tmp_path, [{"metric": "time_to_train_days", "quantile": 0.9, "max": 30},
                             {"metric": "finish_probability", "min": 1}])
    out = tmp_path / "out"
    r = _run(path, "--out", out)
    assert r.returncode == 0, r.stdout + r.stderr
    summary = _check_report(out)
    assert summary["replications"] == 2 and summary["seed"] == 3
    assert all(e["passed"] for e in summary["expectations"])


def test_run_failing_expect_exits_1_and_still_writes_the_report(tmp_path):
    path = _small(tmp_path, [{"metric": "time_to_train_days", "quantile": 0.9, "max": 1}])
    out = tmp_path / "out"
    r = _run(path, "--out", out)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "Traceback" not in r.stderr
    summary = _check_report(out)
    (e,) = summary["expectations"]
    assert e["passed"] is False and e["value"] > 1


def test_run_bad_file_exits_2_without_traceback_or_output(tmp_path):
    path = _small(tmp_path, [], name="bad")
    data = yaml.safe_load(path.read_text())
    data["fleet"][0]["deliveries"] = [{"date": "2025-02-30", "units": 128}]
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    out = tmp_path / "out"
    r = _run(path, "--out", out)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "Traceback" not in r.stderr + r.stdout
    assert "bad.yaml" in r.stderr and "fleet[0].deliveries[0].date" in r.stderr, r.stderr
    assert not out.exists()


def test_run_unreadable_yaml_exits_2(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("name: [unclosed\nworkload: {")
    out = tmp_path / "out"
    r = _run(path, "--out", out)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "Traceback" not in r.stderr + r.stdout
    assert "broken.yaml" in r.stderr
    assert not out.exists()


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.name)
def test_every_shipped_scenario_runs(path, tmp_path):
    out = tmp_path / path.stem
    r = _run(path, "--out", out, "--replications", "2")
    assert r.returncode in (0, 1), r.stdout + r.stderr
    assert "Traceback" not in r.stderr
    summary = _check_report(out)
    assert summary["replications"] == 2
    assert (r.returncode == 0) == all(e["passed"] for e in summary["expectations"])
