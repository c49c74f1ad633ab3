"""Findings of a review of the report files against each other: each figure once, in the unit its name says."""

from __future__ import annotations

import json
import math
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

W = {"model": "llama3-8b", "seq_len": 8192, "global_batch_tokens": 4194304}
TWO_JOBS = dict(
    horizon_days=200,
    fleet=[{"name": "own", "chip": "h100-sxm", "site": "dc", "units": 64, "unit_price_usd": 30000,
            "deliveries": [{"date": "2025-01-03", "units": 128}]}],
    jobs=[{"name": "a", "priority": 1, "workload": {**W, "tokens": 4.0e11}},
          {"name": "b", "priority": 2, "workload": {**W, "tokens": 2.0e11}}],
    reliability={"enabled": False},
)


def test_a_portfolios_events_log_each_delivery_once(cli, make_scenario, tmp_path: Path):
    """Every job's run that spans a delivery logged it: the deliveries in events.csv added up to more than came.

    Review: the shipped portfolio's 10,000 chips of 2024-04-30 were there under both jobs (39,000 where 29,000 came).
    """
    r = cli("run", make_scenario(workload=None, **TWO_JOBS), "--out", tmp_path / "r")
    assert r.exit_code == 0, r
    ev = pd.read_csv(tmp_path / "r" / "events.csv")
    deliveries = ev[ev["event"] == "delivery"]
    # 64 on day 0, 64 on day 2, while job a trains (both jobs' runs span both)
    assert deliveries["units"].sum() == 128 and len(deliveries) == 2, deliveries
    assert set(ev["job"]) == {"a", "b"}  # each job's own events are still there


def test_replications_start_date_is_the_day_the_job_first_trained(cli, make_scenario, tmp_path: Path):
    """`start_date` was the scenario's start on every row, beside a `start_days` of 61."""
    doc = dict(fleet=[{"name": "own", "chip": "h100-sxm", "units": 0, "unit_price_usd": 30000,
                       "deliveries": [{"date": "2025-01-11", "units": 64}]}],
               reliability={"enabled": False})
    r = cli("run", make_scenario(**doc), "--out", tmp_path / "r", "--replications", "2")
    assert r.exit_code == 0, r
    reps = pd.read_csv(tmp_path / "r" / "replications.csv")
    start = pd.Timestamp(json.loads((tmp_path / "r" / "summary.json").read_text())["start"])
    for row in reps.itertuples():
        assert row.start_days >= 10
        assert pd.Timestamp(row.start_date) == start + pd.Timedelta(days=int(row.start_days)), row


def test_the_replication_statistics_leave_out_text_columns(cli, make_scenario, tmp_path: Path):
    """`mode` and `pool` were listed with count 0: text read as numbers, every one missing."""
    from planner.report.tables import replication_stats

    r = cli("run", make_scenario(reliability={"enabled": False}), "--out", tmp_path / "r", "--replications", "3")
    assert r.exit_code == 0, r
    stats = replication_stats(pd.read_csv(tmp_path / "r" / "replications.csv"))
    assert not set(stats["metric"]) & {"mode", "pool"}
    assert (stats["count"] == 3).all(), stats


def test_one_replications_power_wait_is_its_value_alone(cli, make_scenario, tmp_path: Path):
    """One replication: the summary sheet's rows hold the value alone; the power-wait row filled P10 and P90 too."""
    doc = dict(TWO_JOBS, sites=[{"name": "dc", "pue": 1.0, "power_mw": [{"date": "2025-01-01", "mw": 0.12}]}])
    r = cli("run", make_scenario(workload=None, **doc), "--out", tmp_path / "r")
    assert r.exit_code == 0, r
    ws = openpyxl.load_workbook(tmp_path / "r" / "report.xlsx")["summary"]
    row = next(r for r in ws.iter_rows(values_only=True) if r[0] == "chip-days waiting for site power")
    assert row[1] is None and row[3] is None and row[2] > 0, row


def test_a_delivery_shortfall_reads_as_a_share_in_the_workbook():
    """A shortfall of 0.062 showed as "0.1" (one decimal); it is a fraction, shown as a percent."""
    from planner.report.tables import _column_format

    assert _column_format("own.d0.shortfall", pd.Series([0.062])) == "pct"
    assert _column_format("model_factor", pd.Series([0.962])) == "num3"
    assert _column_format("a.model_factor", pd.Series([0.962])) == "num3"
    assert _column_format("own.d0.slip_days", pd.Series([3.5])) == "num1"


def test_training_time_is_at_least_what_replications_that_waited_long_allow():
    """Replications that waited long trained briefly by the horizon: the training time's P50 is only at least a value.

    Review: 29 of 40 finished; the others counted as training for ever, so P50 read 3.33 days as a known figure,
    where those replications may train for less than the finishers (with them at their point, 2.27).
    """
    from planner.stats import time_stat

    finished = [3.0, 3.2, 3.4, 3.6, 3.8]
    trained_to = [0.0] * 5 + [1.0, 1.5]  # five finished (no point needed), two stopped 1 and 1.5 days in
    times = finished + [None, None]
    value, low = time_stat(times, 0.5, trained_to)
    assert low and value == 3.2  # [1, 1.5, 3, 3.2, 3.4, 3.6, 3.8]: its middle
    assert time_stat(times, 0.5) == (3.6, False)  # without the points: the others as never
    # with every point beyond the finishes (time to train with one horizon) the quantile is known, as before
    assert time_stat(times, 0.5, 10.0) == (3.6, False)
    assert time_stat(times, 0.7, 10.0) == (pytest.approx(3.8 + 0.2 * (10.0 - 3.8)), True)  # the line to the horizon
    assert time_stat(times, 0.9, 10.0)[0] == math.inf  # beyond the finish probability: never


def test_mfu_says_how_many_replications_gave_it(cli, make_scenario, tmp_path: Path):
    """Replications that never trained have no MFU: its P10-P90 rested on a few of them, and nothing said so."""
    doc = dict(start="2024-03-01", horizon_days=135,
               workload={"model": "llama3-8b", "tokens": 1.0e12, "seq_len": 8192, "global_batch_tokens": 4.0e6},
               fleet=[{"name": "own", "chip": "h100-sxm", "units": 0, "commissioning_days": 21,
                       "deliveries": [{"date": "2024-06-01", "units": 1024}],
                       "delivery_risk": {"slip_days": {"dist": "uniform", "low": 0, "high": 120}}}],
               reliability={"enabled": False})
    r = cli("run", make_scenario(**doc), "--out", tmp_path / "r", "--replications", "12")
    assert r.exit_code == 0, r
    reps = pd.read_csv(tmp_path / "r" / "replications.csv")
    trained = int(reps["mfu"].notna().sum())
    assert 0 < trained < 12, reps["mfu"]
    s = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert s["counted"] == {"mfu": trained, "goodput": trained}
    assert f"of the {trained} of 12 replications that trained" in r.stdout
    full = dict(doc, fleet=[{**doc["fleet"][0], "delivery_risk": {"slip_days": {"dist": "uniform", "low": 0,
                                                                               "high": 1}}}])
    r = cli("run", make_scenario(**full), "--out", tmp_path / "f", "--replications", "3")
    assert "counted" not in json.loads((tmp_path / "f" / "summary.json").read_text())
