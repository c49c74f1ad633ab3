"""Why a portfolio's job never trained is said as it was: the jobs before it, its start_after (fleet review)."""

from __future__ import annotations

import json

import pytest

JOB = {"model": "llama3-8b", "tokens": 1.0e11, "seq_len": 4096, "global_batch_tokens": 4194304}


def _limits(cli, path) -> list[str]:
    out = path.parent / "out"
    r = cli("run", path, "--out", out)
    assert r.exit_code == 0, r
    s = json.loads((out / "summary.json").read_text())
    return next(j for j in s["jobs"] if j["name"] == "b")["limits"] if s.get("jobs") else s["limits"]


def test_a_job_the_jobs_before_it_starve_is_not_told_no_layout_fits(cli, make_scenario):
    """Job a holds all 64 chips to the 3-day horizon: b never trains because of a, not for want of a layout.

    Review: b read "h had at most 64 chips in service, and no layout of the job fits them", counting the chips a
    handed on at the horizon itself; the same b trains on those 64 chips in under two days.
    """
    path = make_scenario(horizon_days=3, workload=None, fleet=[{"name": "h", "chip": "h100-sxm", "units": 64}],
                         jobs=[{"name": "a", "priority": 1, "workload": {**JOB, "tokens": 2.0e11}},
                               {"name": "b", "priority": 2, "workload": JOB}])
    limits = _limits(cli, path)
    assert any("the jobs before it held every chip of h until the horizon (up to 64 in service)" in x
               for x in limits), limits
    assert not any("no layout" in x for x in limits)


def test_a_rental_that_ends_before_the_jobs_start_after_is_named(cli, make_scenario):
    """Job b may use only a rental that ends on Jan 10 and may start on Jan 15: said so, not "no chip in service"."""
    path = make_scenario(
        horizon_days=40, workload=None,
        fleet=[{"name": "own", "chip": "h100-sxm", "units": 64},
               {"name": "rent", "chip": "h100-sxm", "site": "c",
                "cloud": {"units": 64, "from": "2025-01-01", "until": "2025-01-10", "price_per_chip_hour_usd": 2.0}}],
        jobs=[{"name": "a", "priority": 1, "pools": ["own"], "workload": JOB},
              {"name": "b", "priority": 2, "pools": ["rent"], "start_after": "2025-01-15", "workload": JOB}])
    limits = _limits(cli, path)
    assert any("rent had chips in service only before its start_after (2025-01-15), up to 64" in x
               for x in limits), limits


def test_each_replication_says_how_long_its_chips_waited_for_power(cli, make_scenario):
    """replications.csv carries power_wait_chip_days with `sites:`; summary.json's quantiles are of that column."""
    import pandas as pd

    from planner.stats import quantile_at

    path = make_scenario(
        horizon_days=30, workload=None,
        fleet=[{"name": "h", "chip": "h100-sxm", "site": "s", "units": 64,
                "deliveries": [{"date": "2025-01-05", "units": 256}], "delivery_risk": {"slip_days": {
                    "dist": "uniform", "low": 0, "high": 10}}}],
        sites=[{"name": "s", "pue": 1.0, "power_mw": [{"date": "2025-01-01", "mw": 0.3},
                                                       {"date": "2025-01-20", "mw": 1.0}]}],
        jobs=[{"name": "a", "priority": 1, "workload": {**JOB, "tokens": 5.0e11}}],
        simulation={"seed": 1, "replications": 8})
    out = path.parent / "out"
    assert cli("run", path, "--out", out).exit_code == 0
    reps = pd.read_csv(out / "replications.csv")
    waits = reps["power_wait_chip_days"].tolist()
    assert len(set(waits)) > 1 and max(waits) > 0
    s = json.loads((out / "summary.json").read_text())["power_wait_chip_days"]
    assert s["p50"] == pytest.approx(quantile_at(waits, 0.5))


def test_the_tokens_charts_finish_line_is_the_last_jobs_finish():
    """A portfolio finishes when its last job does: the chart's line, not the first job's finish (app review)."""
    import pandas as pd

    from planner.report.charts import finish_date

    ev = pd.DataFrame({"date": ["2024-06-03", "2024-12-10", "2024-07-01"], "event": ["finish", "finish", "share"],
                       "job": ["flagship", "dense", "dense"]})
    assert finish_date(ev) == pd.Timestamp("2024-12-10")
    unfinished = pd.DataFrame({"date": ["2024-06-03", "2024-07-01"], "event": ["finish", "share"],
                               "job": ["flagship", "dense"]})
    assert finish_date(unfinished) is None  # the portfolio never finished
    one = pd.DataFrame({"date": ["2024-06-03"], "event": ["finish"]})
    assert finish_date(one) == pd.Timestamp("2024-06-03")


def test_no_change_is_shown_against_a_used_spend_known_only_as_at_least():
    """A run stopped by the horizon used at least what it shows: no B - A on it, even when its commitment is fixed.

    App review: a whole-window reservation's committed spend is exact, but the used spend of a run that never
    finished read "≥ $165 M" with a green "↓ -$556 M".
    """
    from planner.summary import Costs, Summary
    from planner.whatif import ab_rows, deltas

    base = Summary(replications=3, costs=Costs(committed_usd=900.0, used_usd=721.0, idle_usd=179.0))
    cut = Summary(replications=3, unfinished=3, costs=Costs(committed_usd=950.0, used_usd=165.0, idle_usd=785.0))
    d = deltas(cut, base)
    assert d["used_usd"] is None and d["committed_usd"] is not None
    rows = {r["figure"]: r for r in ab_rows(base, cut)}
    assert rows["spend used (mean)"]["B"].startswith("≥ ") and rows["spend used (mean)"]["B - A"].startswith("n/a")
    assert not rows["spend committed (mean)"]["B"].startswith("≥ ")
    # the commitment exact and the use at least its figure: idle is at most its figure, as on the run's page
    idle = rows["spend idle (mean)"]
    assert idle["B"].startswith("≤ ") and not idle["A"].startswith(("≤", "≥")) and idle["B - A"] == "n/a (a bound)"
    assert cut.idle_at_most() and not base.idle_at_most()
