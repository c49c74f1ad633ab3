"""Restart times after a failure: the automated restart, and the failures that wait for people first.

The defaults come from published runs (planner/perf/reliability.py): 3 of Llama 3 405B's 419 unexpected
interruptions needed significant manual intervention (S01); BLOOM's CUDA crash cost about 7.3 h (S08). The wait
is drawn exponential with that mean. These tests hold the engine to that distribution, the analytic terms to its
mean, and a pool's own figures to precedence over the reliability section's.
"""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest
from conftest import one_error_line

from planner import api
from planner.bridge import layout_planners
from planner.loader import from_dict
from planner.perf import reliability as rel
from planner.scenario import Reliability
from planner.sim import rules
from planner.strategy import Context


def _scenario(share: float, hours: float, *, mtbf: float = 100.0, tokens: float = 3e12, pool=None) -> object:
    """One H100 pool whose job fails about every 2.3 h (1,024 chips at ``mtbf`` chip-days)."""
    return from_dict({
        "name": "restarts", "start": "2025-01-01", "horizon_days": 3000,
        "workload": {"model": "llama3-8b", "tokens": tokens, "seq_len": 8192},
        "fleet": [{"name": "p", "chip": "h100-sxm", "units": 1024, **(pool or {})}],
        "reliability": {"enabled": True, "mtbf_chip_days": mtbf, "repair_days": 0, "maintenance_every_days": None,
                        "manual_intervention_share": share, "manual_intervention_hours": hours},
        "simulation": {"seed": 3, "replications": 1}}, "restarts.yaml")


def _waits(res) -> list[float]:
    """Each failure's wait for a manual intervention [h] (0: none), from the restart events of replication 0."""
    ev = res.events[res.events["event"] == "restart"]
    out = []
    for detail in ev["detail"]:
        m = re.search(r"after ([0-9.]+) h of manual intervention", detail)
        out.append(float(m.group(1)) if m else 0.0)
    return out


def test_the_wait_in_closed_form():
    assert rules.manual_wait(0.1, 2.0, 0.25, 3.0) == pytest.approx(6.0)
    assert rules.manual_wait(0.25, 2.0, 0.25, 3.0) == 0.0  # u < share: exactly the share waits
    assert rules.manual_wait(0.9, 2.0, 0.25, 3.0) == 0.0
    assert rules.manual_wait(0.0, 2.0, 0.0, 3.0) == 0.0  # no share: never


def test_the_defaults_are_the_published_figures():
    assert rel.MANUAL_INTERVENTION_SHARE == pytest.approx(3 / 419)  # Llama 3, S01
    assert rel.MANUAL_INTERVENTION_HOURS == pytest.approx(7.3)  # BLOOM, S08
    r = Reliability()
    assert (r.manual_intervention_share, r.manual_intervention_hours) == (rel.MANUAL_INTERVENTION_SHARE, 7.3)
    # the expected goodput counts their mean: 3.1 min per failure on top of the automated restart, for the failure
    # and for each failure that strikes its restart (1 + R/M of them in all: here 3.3 min)
    s = _scenario(r.manual_intervention_share, r.manual_intervention_hours)
    ctx = Context(s, layout_planners(s))
    r_h, m_h = ctx.restart_hours({"p": 1024}), ctx.job_mtbf_hours({"p": 1024})
    extra_min = (ctx.failure_restart_hours({"p": 1024}) - r_h) * 60
    assert extra_min == pytest.approx(3 / 419 * 7.3 * 60 * (1 + r_h / m_h)) and 3.2 < extra_min < 3.3


def test_the_engine_draws_the_waits_from_the_distribution():
    """A quarter of the failures wait, exponentially with a 3 h mean: share, mean and tail within 4 standard errors."""
    share, mean_h = 0.25, 3.0
    waits = _waits(api.simulate(_scenario(share, mean_h, tokens=3e13), replications=1))
    n = len(waits)
    manual = [w for w in waits if w > 0]
    k = len(manual)
    assert n > 400, n
    assert abs(k / n - share) <= 4 * math.sqrt(share * (1 - share) / n), (k, n)
    # the exponential: mean m with standard error m / sqrt(k); P(X > 2m) = e^-2 (a fixed wait would give 0)
    assert abs(np.mean(manual) - mean_h) <= 4 * mean_h / math.sqrt(k), np.mean(manual)
    tail = np.mean([w > 2 * mean_h for w in manual])
    p = math.exp(-2)
    assert abs(tail - p) <= 4 * math.sqrt(p * (1 - p) / k), tail
    assert min(manual) < 0.5 * mean_h  # short waits too: not a constant


def test_without_a_share_no_failure_waits():
    waits = _waits(api.simulate(_scenario(0.0, 7.3), replications=1))
    assert waits and not any(waits)


def test_the_waits_are_paid_as_downtime():
    """Every failure waits 1 h on average: the run is longer by each failure's wait, not by its restart alone.

    The failure clock runs while the job trains and restarts, so a run's hours are its training (with writes and
    lost work), a restart per failure in training, R = M (e^(R0/M) - 1) on average with the failures that strike
    it (1 + R/M failures in all per failure in training), and every failure's wait: with and without the wait,
    what is left after the restarts is the same training.
    """
    runs = {}
    for share in (0.0, 1.0):
        s = _scenario(share, 1.0, tokens=1e13)
        ctx = Context(s, layout_planners(s))
        res = api.simulate(s, replications=6, seed=1)
        assert len(res.layouts) == 1  # one plan throughout (no repair, no capacity step)
        units = {"p": int(res.layouts["units"].iloc[0])}
        r = res.replications
        r_h, m_h = ctx.restart_hours(units), ctx.job_mtbf_hours(units)
        # per failure (in training or in a restart): the restart's share, R / (1 + R/M)
        runs[share] = (float(r["training_days"].mean()) * 24, float(r["failures"].mean()), r_h / (1 + r_h / m_h))
        # the analytic terms count the mean wait (job sizing and the pick rank on them)
        assert ctx.failure_terms(units)[3] == pytest.approx(r_h + share * 1.0 * (1 + r_h / m_h))
    (t0, f0, r0), (t1, f1, r1) = runs[0.0], runs[1.0]
    assert t1 - f1 * (r1 + 1.0) == pytest.approx(t0 - f0 * r0, rel=0.01), runs
    assert abs((t1 - f1 * r1) - (t0 - f0 * r0)) > 0.2 * t0  # unpaid waits would fail the first assertion


def test_a_pool_sets_its_own_share_and_wait():
    s = _scenario(0.5, 2.0, pool={"manual_intervention_share": 0.1, "manual_intervention_hours": 4.0})
    ctx = Context(s, layout_planners(s))
    assert ctx.manual_terms({"p": 1024}) == (pytest.approx(0.1), pytest.approx(4.0))
    r_h, m_h = ctx.restart_hours({"p": 1024}), ctx.job_mtbf_hours({"p": 1024})
    assert ctx.failure_restart_hours({"p": 1024}) == pytest.approx(r_h + 0.4 * (1 + r_h / m_h))
    assert ctx.manual_terms({"p": 0}) == (0.0, 0.0)


def test_a_longer_wait_never_finishes_sooner():
    """The same draws with a longer mean wait: every wait scales up, the finish never comes sooner."""
    days = [api.simulate(_scenario(0.3, h, tokens=1e12), replications=1).summary.metrics["time_to_train_days"].p50
            for h in (0.5, 2.0, 8.0)]
    assert days[0] < days[1] < days[2], days


@pytest.mark.parametrize("where", ["reliability", "pool"])
def test_waits_far_longer_than_the_mtbf_crawl_and_the_run_says_so(cli, make_scenario, tmp_path, where):
    """Every failure waiting 10,000 h on average against a job MTBF of 30 h: the run goes on, and never finishes.

    Each failure costs its wait, so the job keeps about 30 / 10,030 of its time (expected_goodput): it crawls.
    """
    wait = {"manual_intervention_share": 1, "manual_intervention_hours": 10_000}
    section = {"enabled": True, "mtbf_chip_days": 10, **(wait if where == "reliability" else {})}
    pool = {"name": "h100", "chip": "h100-sxm", "units": 64, **(wait if where == "pool" else {})}
    path = make_scenario(reliability=section, fleet=[pool])
    out = tmp_path / "out"
    r = cli("run", path, "--out", out)
    assert r.exit_code == 0, r
    m = json.loads((out / "summary.json").read_text())["metrics"]
    assert m["finish_probability"] == 0.0 and m["goodput"]["p50"] < 0.05, m


def test_an_empty_pool_with_failures_on_is_not_refused(cli, make_scenario):
    """A rental of 0 chips (``cloud: {units: 0}``: nothing rented, on purpose) has no job to fail: it runs."""
    rent = {"name": "rent", "chip": "h100-sxm",
            "cloud": {"units": 0, "from": "2025-01-01", "until": "2025-03-01", "price_per_chip_hour_usd": 2}}
    path = make_scenario(reliability={"enabled": True},
                         fleet=[{"name": "h100", "chip": "h100-sxm", "units": 64}, rent])
    r = cli("validate", path)
    assert r.exit_code == 0, r


@pytest.mark.parametrize("extra,what", [({"repair_days": 3}, "under 1% of its smallest job"),
                                        ({"repair_days": 0, "checkpoint_write_s": 86_400}, "no checkpoint is ever")])
def test_a_pool_that_never_keeps_work_is_refused_by_name(cli, make_scenario, tmp_path, extra, what):
    """A chip failing every 9 s: refused, with the field named, and nothing written.

    Its nodes wait for repairs far longer than they last (the pool keeps 0.0003 chips in service), or, repaired at
    once, fail 10,000 times within one day-long checkpoint write (e^10000 overflows: no cycle is ever kept).
    """
    path = make_scenario(reliability={"enabled": True, "mtbf_chip_days": 1e-4, **extra})
    out = tmp_path / "out"
    line = one_error_line(cli("run", path, "--out", out))
    assert "reliability.mtbf_chip_days" in line and what in line and "never progress" in line, line
    assert not out.exists()


def test_a_single_chip_in_service_most_of_the_time_is_not_refused(cli, make_scenario):
    """One rented chip, in service 99.9% of the time between repairs: the job can train on it.

    It was refused ("under one chip in service on average"), and ``solve``'s own hint ``--min 1`` led there.
    """
    rent = {"name": "rent", "chip": "h100-sxm",
            "cloud": {"units": 1, "from": "2025-01-01", "until": "2025-03-01", "price_per_chip_hour_usd": 2}}
    path = make_scenario(reliability={"enabled": True, "repair_days": 3},
                         fleet=[{"name": "h100", "chip": "h100-sxm", "units": 64}, rent])
    r = cli("validate", path)
    assert r.exit_code == 0, r.output


@pytest.mark.parametrize("name", ["manual_intervention_share", "manual_intervention_hours", "restart_base_minutes",
                                  "restart_minutes_per_1000_chips", "checkpoint_write_s"])
def test_a_pools_failure_setting_with_failures_off_is_refused_as_not_read(cli, make_scenario, name):
    """As a pool's MTBF is: with reliability.enabled false nothing reads it, so it is not silently accepted."""
    path = make_scenario(reliability={"enabled": False},
                         fleet=[{"name": "h100", "chip": "h100-sxm", "units": 64, name: 0.5}])
    line = one_error_line(cli("validate", path))
    assert f"fleet[0].{name}" in line and "is not read" in line, line


def test_pool_failure_settings_change_the_run_only_with_failures_on(make_scenario):
    """What the refusal rests on: each pool failure setting moves a run with failures on (so it is read there)."""
    from planner.sim.runner import run_scenario

    base = {"name": "h100", "chip": "h100-sxm", "units": 512}
    tweaks = {"restart_base_minutes": 600.0, "restart_minutes_per_1000_chips": 6000.0, "checkpoint_write_s": 3000.0,
              "mtbf_chip_days": 50.0}
    days = {}
    for name, value in [("", None), *tweaks.items()]:
        pool = {**base, name: value} if name else base
        s = make_scenario.scenario(fleet=[pool], reliability={"enabled": True})
        days[name] = float(run_scenario(s, replications=1, seed=3, cash_flow=False).replications[
            "time_to_train_days"].iloc[0])
    assert all(days[n] != days[""] for n in tweaks), days


def _rental_ends(replan_h: float) -> dict:
    """512 H100s in sync for two days, then the rental's 256 leave: the job must move to the 256 it owns."""
    return {"name": "shrink", "start": "2025-01-01", "horizon_days": 200,
            "workload": {"model": "llama3-8b", "tokens": 3e12, "seq_len": 8192, "global_batch_tokens": 4194304},
            "fleet": [{"name": "own", "chip": "h100-sxm", "site": "dc1", "units": 256},
                      {"name": "rent", "chip": "h100-sxm", "site": "dc1",
                       "cloud": {"units": 256, "from": "2025-01-01", "until": "2025-01-03",
                                 "price_per_chip_hour_usd": 2.0}}],
            "strategy": {"mode": "sync", "replan_overhead_hours": replan_h},
            "reliability": {"enabled": False}, "simulation": {"seed": 3, "replications": 1, "model_error": "off"}}


def test_a_job_cut_down_by_a_capacity_step_pays_the_re_plan_as_a_growing_one_does():
    """Chips of the plan leave (a rental's end, a share taken back): the move to fewer chips re-shards too.

    Before, growing paid ``replan_overhead_hours`` and shrinking paid nothing, so a job cut down by a rental's
    end (or preempted by a job before it) lost no time to the change. Without failures, the one forced re-plan
    costs exactly the overhead.
    """
    from planner.sim.replication import run_replication
    from planner.sim.runner import _one

    out = {}
    for h in (0.0, 24.0):
        s = from_dict(_rental_ends(h))
        _s, ctx, _n = _one((s, 1))
        out[h] = run_replication(s, ctx, np.random.SeedSequence(0), tables=True)
    assert out[24.0].metrics["time_to_train_days"] - out[0.0].metrics["time_to_train_days"] == pytest.approx(1.0)
    ev = out[24.0].events
    assert ev[ev.event == "re-plan"].detail.tolist() == ["512 -> 256 chips, 24 h to re-plan"]


def test_no_plan_is_chosen_on_chips_that_leave_before_its_re_plan_is_over():
    """Two rentals end a day apart, and a re-plan takes 48 h: the job re-plans once, onto its own chips.

    It re-planned onto the second rental when the first ended, the second ended 24 h into that re-plan, and it
    re-planned again. A plan chosen afresh now weighs the chips that leave: the job starts on the chips that stay
    past the first end.
    """
    from planner.sim.replication import run_replication
    from planner.sim.runner import _one

    doc = _rental_ends(48.0)
    doc["fleet"][0]["units"] = 128
    doc["fleet"].append({**doc["fleet"][1], "name": "rent2",
                         "cloud": {**doc["fleet"][1]["cloud"], "until": "2025-01-04"}})
    s = from_dict(doc)
    _s, ctx, _n = _one((s, 1))
    ev = run_replication(s, ctx, np.random.SeedSequence(0), tables=True).events
    replans = ev[ev.event == "re-plan"]
    assert replans.time_days.tolist() == [3.0]
    assert replans.detail.iloc[0].endswith("-> 128 chips, 48 h to re-plan")


def test_a_start_after_a_wait_for_chips_pays_the_restart_only():
    """The first rental ends with no chip left: the job waits, then starts on the second as it first started.

    Found by review: the re-plan owed when the first rental ended was charged on the start after the wait.
    """
    from planner.sim.replication import run_replication
    from planner.sim.runner import _one

    doc = _rental_ends(24.0)
    doc["fleet"] = [{**doc["fleet"][1], "name": "r1", "cloud": {**doc["fleet"][1]["cloud"], "until": "2025-01-02"}},
                    {**doc["fleet"][1], "name": "r2", "cloud": {**doc["fleet"][1]["cloud"], "from": "2025-01-03",
                                                                "until": "2025-03-01"}}]
    days = {}
    for h in (0.0, 24.0):
        doc["strategy"]["replan_overhead_hours"] = h
        s = from_dict(doc)
        _s, ctx, _n = _one((s, 1))
        out = run_replication(s, ctx, np.random.SeedSequence(0), tables=True)
        days[h] = out.metrics["time_to_train_days"]
        assert not any("to re-plan" in d for d in out.events.detail)
    assert days[24.0] == days[0.0]


def test_events_spell_their_kinds_as_the_contract_does():
    """events.csv's contract: "delivery, commissioning, failure, repair, checkpoint, restart, re-plan, finish".

    The re-plan event was written `replan`: a script that looks for the contract's name found none.
    """
    from planner.kinds import EventKind

    contract = {"delivery", "commissioning", "failure", "repair", "checkpoint", "restart", "re-plan", "finish"}
    assert contract <= {k.value for k in EventKind}
