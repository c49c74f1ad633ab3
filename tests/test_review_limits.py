"""What held a job, said in its limits: site power, the horizon, power that went (found by a review of portfolios)."""

from __future__ import annotations

import json

import yaml

W = {"model": "llama3-8b", "seq_len": 8192, "global_batch_tokens": 4194304}


def _doc(jobs, fleet, power, horizon_days=90) -> dict:
    return {"name": "limits", "start": "2025-01-01", "horizon_days": horizon_days, "jobs": jobs, "fleet": fleet,
            "sites": [{"name": "s1", "pue": 1.0, "power_mw": [{"date": d, "mw": mw} for d, mw in power]}],
            "reliability": {"enabled": False}, "simulation": {"seed": 1, "replications": 1}}


def _jobs(cli, make_scenario, doc, tmp_path) -> dict:
    out = tmp_path / "out"
    r = cli("run", make_scenario.text(yaml.safe_dump(doc), "limits.yaml"), "--out", str(out), "--replications", "1")
    assert r.exit_code == 0, r
    return {j["name"]: j for j in json.loads((out / "summary.json").read_text())["jobs"]}


def test_power_that_goes_is_not_blamed_on_the_jobs_before(cli, make_scenario, tmp_path):
    """The site's power fell to 0 on day 2: B's limit said the jobs before it held every chip until the horizon."""
    doc = _doc([{"name": "A", "priority": 1, "workload": {**W, "tokens": 2e12}},
                {"name": "B", "priority": 2, "workload": {**W, "tokens": 1e12}}],
               [{"name": "h", "chip": "h100-sxm", "site": "s1", "units": 1024}],
               [("2025-01-01", 1.31), ("2025-01-03", 0.0)], horizon_days=120)
    jobs = _jobs(cli, make_scenario, doc, tmp_path)
    (sentence,) = [x for x in jobs["B"]["limits"] if x.startswith("never trained")]
    assert "until the horizon" not in sentence
    assert "while any was in service (up to 1,024), and from 2025-01-03 to the horizon none was" in sentence


def test_chips_waiting_for_power_while_a_job_trains_are_a_limit(cli, make_scenario, tmp_path):
    """B trained on 192 of 512 delivered chips for four days, the rest waiting for power: nothing said so."""
    doc = _doc([{"name": "A", "priority": 1, "pools": ["p1"], "workload": {**W, "tokens": 2e12}},
                {"name": "B", "priority": 2, "pools": ["p2"], "start_after": "2025-01-03",
                 "workload": {**W, "tokens": 1e12}}],
               [{"name": "p2", "chip": "h100-sxm", "site": "s1", "units": 512},
                {"name": "p1", "chip": "h100-sxm", "site": "s1", "units": 512}],
               [("2025-01-01", 0.9)])
    jobs = _jobs(cli, make_scenario, doc, tmp_path)
    (sentence,) = [x for x in jobs["B"]["limits"] if x.startswith("power:")]
    assert "delivered chips of p2 waited for site power while the job trained (2025-01-03 to" in sentence
    assert "a layout on them too was" in sentence
    assert jobs["A"]["limits"] == [] or not any(x.startswith("power:") for x in jobs["A"]["limits"])
    assert all(isinstance(j["limits"], list) for j in jobs.values())  # the key is there, empty or not


def test_a_job_the_horizon_stops_says_so(cli, make_scenario, tmp_path):
    doc = _doc([{"name": "A", "priority": 1, "workload": {**W, "tokens": 1e12}},
                {"name": "B", "priority": 2, "start_after": "2025-01-03", "workload": {**W, "tokens": 2e12}}],
               [{"name": "h", "chip": "h100-sxm", "site": "s1", "units": 512}], [("2025-01-01", 2.0)], horizon_days=7)
    jobs = _jobs(cli, make_scenario, doc, tmp_path)
    assert jobs["A"]["limits"] == [] or all(not x.startswith("horizon") for x in jobs["A"]["limits"])
    (sentence,) = [x for x in jobs["B"]["limits"] if x.startswith("horizon:")]
    assert sentence.startswith("horizon: the run ended at horizon_days (7) with ")
    assert "% of the job's tokens trained" in sentence


def test_a_single_job_the_horizon_stops_says_so(cli, make_scenario, tmp_path):
    r = cli("run", make_scenario(horizon_days=3, workload={"model": "llama3-8b", "tokens": 1e13}), "--replications",
            "1", "--out", str(tmp_path / "one"))
    assert r.exit_code in (0, 1), r
    limits = json.loads((tmp_path / "one" / "summary.json").read_text())["limits"]
    assert any(x.startswith("horizon: the run ended at horizon_days (3)") for x in limits), limits
