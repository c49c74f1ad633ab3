"""What held a job, said in its limits: site power, the horizon, power that went (found by a review of portfolios)."""

from __future__ import annotations

import json

import yaml
from conftest import one_error_line

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
    doc = _waiting_for_power()
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


def test_min_units_to_start_counts_only_the_chips_a_job_can_train_on(cli, make_scenario):
    """250 passed on 256 chips with a fifth reserved (204 to train on), and the job's limit then blamed memory."""
    fleet = [{"name": "h", "chip": "h100-sxm", "units": 256, "reserved_fraction": 0.2}]
    line = one_error_line(cli("validate", make_scenario(fleet=fleet, strategy={"min_units_to_start": 250})))
    assert "strategy.min_units_to_start: 250 is more chips than the fleet can train on (204: less the " in line
    two = [{"name": "a", "chip": "h100-sxm", "units": 256}, {"name": "b", "chip": "h100-sxm", "units": 256}]
    line = one_error_line(cli("validate", make_scenario(fleet=two, strategy={"mode": "single",
                                                                              "min_units_to_start": 300})))
    assert "300 is more chips than the fleet can train on (256: one pool's in mode 'single')" in line
    auto = make_scenario(fleet=two, strategy={"mode": "auto", "min_units_to_start": 300})
    assert cli("validate", auto).exit_code == 0


def test_a_job_held_by_min_units_to_start_says_so(cli, make_scenario, tmp_path):
    """Half of a 256-chip delivery came, under a start threshold of 200: "no layout fits" was not why."""
    fleet = [{"name": "h", "chip": "h100-sxm", "units": 0, "deliveries": [{"date": "2025-01-05", "units": 256}],
              "delivery_risk": {"shortfall_fraction": {"dist": "fixed", "value": 0.5}}}]
    path = make_scenario(fleet=fleet, strategy={"min_units_to_start": 200}, horizon_days=60)
    assert cli("run", path, "--replications", "1", "--out", str(tmp_path / "o")).exit_code in (0, 1)
    limits = json.loads((tmp_path / "o" / "summary.json").read_text())["limits"]
    assert limits == ["never trained: h had at most 128 chips in service at once, fewer than "
                      "strategy.min_units_to_start (200)"]


def test_an_expect_minimum_on_a_quantile_that_never_came_holds(cli, make_scenario, tmp_path):
    """A run that never finishes takes at least a day: `min: 1` on a never P95 failed; a maximum still fails."""
    fleet = [{"name": "h", "chip": "h100-sxm", "units": 8}]
    expect = [{"metric": "time_to_train_days", "quantile": 0.95, "min": 1},
              {"metric": "time_to_train_days", "quantile": 0.95, "max": 1000}]
    path = make_scenario(fleet=fleet, horizon_days=5, expect=expect)
    r = cli("run", path, "--replications", "1", "--out", str(tmp_path / "o"))
    assert r.exit_code == 1, r
    checks = json.loads((tmp_path / "o" / "summary.json").read_text())["expectations"]
    assert [(c["value"], c["passed"]) for c in checks] == [(None, True), (None, False)]


def test_chips_waiting_while_the_job_had_none_are_not_said_to_wait_while_it_trained(cli, make_scenario, tmp_path):
    """Power fell to none on day 3: the power sentence said the chips waited "while the job trained" to the horizon."""
    sites = [{"name": "dc1", "pue": 1.0, "power_mw": [{"date": "2025-01-01", "mw": 1.31},
                                                      {"date": "2025-01-04", "mw": 0.0},
                                                      {"date": "2025-04-11", "mw": 1.31}]}]
    path = make_scenario(fleet=[{"name": "own", "chip": "h100-sxm", "site": "dc1", "units": 1024}], sites=sites,
                         workload={"model": "llama3-8b", "tokens": 1e13}, reliability={"enabled": False},
                         horizon_days=60)
    assert cli("run", path, "--replications", "1", "--out", str(tmp_path / "o")).exit_code in (0, 1)
    limits = json.loads((tmp_path / "o" / "summary.json").read_text())["limits"]
    assert not any(x.startswith("power:") for x in limits), limits
    assert any(x.startswith("capacity: no chip of own was there for the job from 2025-01-04") for x in limits)


def test_chips_waiting_for_power_under_failures_are_weighed_by_what_they_keep(cli, make_scenario, tmp_path):
    """With failures on, the power limit weighs kept tokens/s (speed x expected goodput), as the job is sized.

    Review: it compared failure-free speeds, "a layout on them too was 4% faster", where powering those chips made
    a 405B job finish later (tests/test_size_each_pool.py).
    """
    doc = _waiting_for_power()
    doc["reliability"] = {"enabled": True}
    jobs = _jobs(cli, make_scenario, doc, tmp_path)
    (sentence,) = [x for x in jobs["B"]["limits"] if x.startswith("power:")]
    assert "a layout on them too would keep" in sentence and "more kept tokens/s (failures counted)" in sentence


def _waiting_for_power() -> dict:
    """B trains on p2 from Jan 3 beside A on p1; 0.9 MW at the site runs fewer chips than the two pools hold."""
    return _doc([{"name": "A", "priority": 1, "pools": ["p1"], "workload": {**W, "tokens": 2e12}},
                 {"name": "B", "priority": 2, "pools": ["p2"], "start_after": "2025-01-03",
                  "workload": {**W, "tokens": 1e12}}],
                [{"name": "p2", "chip": "h100-sxm", "site": "s1", "units": 512},
                 {"name": "p1", "chip": "h100-sxm", "site": "s1", "units": 512}],
                [("2025-01-01", 0.9)])
