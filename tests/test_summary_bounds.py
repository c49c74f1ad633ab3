"""summary.json marks every figure that is only a bound, as the reports do.

Finish dates, the costs section, and an `expect` value on a spend that counts replications stopped by the horizon
as beyond every budget.
"""

from __future__ import annotations

import yaml

from planner.report.headline import expectation_rows
from planner.summary import Summary

QS = ("p10", "p50", "p90")


def _short(**extra) -> dict:
    """A job the horizon stops in 4 of 40 replications: its P90 lies between a finished run and one stopped."""
    return {"name": "short", "start": "2024-03-01", "horizon_days": 80,
            "workload": {"model": "llama3-8b", "tokens": 5.0e12, "seq_len": 8192},
            "fleet": [{"name": "h", "chip": "h100-sxm", "units": 256}],
            "reliability": {"enabled": True}, "simulation": {"seed": 7, "replications": 40},
            "expect": [{"metric": "energy_mwh", "quantile": 0.1, "max": 1.0e9}], **extra}


def _run(cli, make_scenario, tmp_path, doc: dict, name: str) -> tuple[dict, str]:
    out = tmp_path / f"out-{name}"
    r = cli("run", make_scenario.text(yaml.safe_dump(doc), f"{name}.yaml"), "--out", out)
    assert r.exit_code == 0, r.stderr
    return __import__("json").loads((out / "summary.json").read_text()), r.stdout


def test_finish_dates_and_the_costs_section_follow_the_bounds_of_their_figures(cli, make_scenario, tmp_path):
    s, _ = _run(cli, make_scenario, tmp_path, _short(), "short")
    bounds = s["at_least"]
    assert s["unfinished_replications"] > 0
    time_bounds = set(bounds.get("time_to_train_days", ()))
    dated = {q for q in QS if s["finish_date"][q] != "never"}
    assert set(bounds.get("finish_date", ())) == time_bounds & dated
    assert bounds.get("finish_date"), "the case must have a dated bound to check"
    committed = "mean" in bounds.get("cost_usd", ())
    assert set(bounds["costs"]) - {"idle_usd"} == ({"committed_usd"} if committed else set()) | {"used_usd"}
    # idle = committed - used of owned chips alone: it only grows with the run, so at least its figure
    assert "idle_usd" in bounds["costs"] and "at_most" not in s and "neither_bound" not in s
    (energy,) = s["expectations"]  # its P10 comes before any replication stopped by the horizon: a figure
    assert energy["passed"] and "value_at_most" not in energy and "value_at_least" not in energy
    # read back and written again: the same file (the derived entries are not read as figures of their own)
    assert Summary.from_json(s).to_json() == s


def _two_jobs() -> dict:
    """Two jobs on one pool; the second, started once the first leaves chips, often stopped by the horizon."""
    job = {"model": "llama3-8b", "seq_len": 8192}
    return {"name": "two", "start": "2024-03-01", "horizon_days": 40,
            "jobs": [{"name": "big", "priority": 1, "workload": {**job, "tokens": 3.0e12}},
                     {"name": "small", "priority": 2, "workload": {**job, "tokens": 1.0e12}}],
            "fleet": [{"name": "h", "chip": "h100-sxm", "units": 256}],
            "reliability": {"enabled": True}, "simulation": {"seed": 3, "replications": 40},
            "expect": [{"metric": "cost_usd", "quantile": 0.5, "max": 1.0e9, "job": "small"}]}


def test_an_expect_on_a_spend_counting_unfinished_replications_beyond_every_budget_is_marked_at_most(
        cli, make_scenario, tmp_path):
    s, stdout = _run(cli, make_scenario, tmp_path, _two_jobs(), "expect")
    (cost,) = s["expectations"]
    small = next(j for j in s["jobs"] if j["name"] == "small")
    assert "p50" in small["at_least"]["cost_usd"]  # the job's own P50: the least it can be
    assert cost["passed"] and cost.get("value_at_most") is True and "value_at_least" not in cost
    assert cost["value"] > small["metrics"]["cost_usd"]["p50"]  # the most it can be, above the least
    assert "costs" not in small["at_least"]  # a job has no costs section
    assert set(small["at_least"].get("finish_date", ())) <= set(small["at_least"].get("time_to_train_days", ()))
    rows = expectation_rows(Summary.from_json(s))
    assert rows[0]["value"].startswith("≤ ")
    assert any("≤ $" in line and "pass" in line for line in stdout.splitlines() if "cost_usd p50" in line)


def test_a_run_where_every_replication_finishes_marks_nothing(cli, make_scenario, tmp_path):
    s, _ = _run(cli, make_scenario, tmp_path, _short(horizon_days=400), "long")
    assert "at_least" not in s and "at_most" not in s
    assert all("value_at_most" not in e and "value_at_least" not in e for e in s["expectations"])
