"""Findings of this round's reviews and the items the last round left open.

Each test reproduces a case and fails on the code before its fix, unless its docstring says otherwise.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import both_paths

from planner import api
from planner.bridge import layout_planners
from planner.loader import from_dict
from planner.perf import reliability as rel
from planner.results import EventKind
from planner.sim.replication import draw_supply, outcome_row, simulate
from planner.strategy import Context, Single

# ---------------------------------------------------------------- failures that strike a restart


def _restarting(units: int = 1024, mtbf: float = 100.0, restart_min: float = 30.0, **rel_extra):
    """One H100 pool whose job fails about every 2.3 h and restarts in 30 min: a failure in 5 strikes a restart."""
    return from_dict({
        "name": "restarts", "start": "2025-01-01", "horizon_days": 3000,
        "workload": {"model": "llama3-8b", "tokens": 2e12, "seq_len": 8192},
        "fleet": [{"name": "p", "chip": "h100-sxm", "units": units}],
        "reliability": {"enabled": True, "mtbf_chip_days": mtbf, "restart_base_minutes": restart_min,
                        "restart_minutes_per_1000_chips": 0, "repair_days": 0, "maintenance_every_days": None,
                        "manual_intervention_share": 0, **rel_extra},
        "simulation": {"seed": 3, "replications": 1}}, "restarts.yaml")


def _runs(sc, n: int = 12):
    ctx = Context(sc, layout_planners(sc))
    for q in np.random.SeedSequence(5).spawn(n):
        supply_seed, job_seed, _ = q.spawn(3)
        yield simulate(sc, Single(ctx, ("p",)), draw_supply(sc, supply_seed), np.random.default_rng(job_seed))


def test_failures_strike_restarts_and_are_drawn_one_by_one():
    """The engine folded a restart's failures into its expected length: none was drawn, no node went to repair.

    A job on 16,384 H100s at 300 chip-days restarting in 10 min drew 819 failures where its chips have about
    1,820 over the run, and kept 3.2% of its chips under repair where 7% are. Now each failure that comes before
    the restart is through is an event of its own ("during the restart"): a failure in training brings
    e^(R/M) - 1 more on average, so a share 1 - e^(-R/M) of all failures strike a restart.
    """
    sc = _restarting()
    during = total = 0
    r_h = m_h = 0.0
    for run in _runs(sc, 16):
        failures = [e for e in run.events if e.kind == EventKind.FAILURE]
        total += len(failures)
        during += sum("during the restart" in e.detail for e in failures)
        r_h = run.job._restart_base_h(run.job.plan)
        m_h = run.job._cycle().mtbf_h
        assert run.job.stats.failures == len(failures)
    share = 1.0 - math.exp(-r_h / m_h)
    assert total > 500 and 0.15 < share < 0.25
    # a binomial share: 4 standard deviations
    assert abs(during / total - share) < 4 * math.sqrt(share * (1 - share) / total), (during, total, share)


@pytest.mark.parametrize("manual", [0.0, 0.5])
@pytest.mark.parametrize("maint", [None, 0.25])
def test_both_paths_agree_where_failures_outpace_restarts(manual, maint):
    """Restarts of 45 min against a job MTBF of about 37 min: chains of failures, read ahead by the compiled loop.

    Two pools of a sync plan (which part a failure hits is drawn), manual interventions, maintenance stops and
    repairs: the compiled loop and the named steps give the same run on the same draws.
    """
    d = {"name": "chains", "start": "2025-01-01", "horizon_days": 400,
         "workload": {"model": "llama3-8b", "tokens": 3e11, "seq_len": 8192},
         "fleet": [{"name": "a", "chip": "h100-sxm", "site": "x", "units": 128},
                   {"name": "b", "chip": "h100-sxm", "site": "x", "units": 128}],
         "strategy": {"mode": "sync"},
         "reliability": {"enabled": True, "mtbf_chip_days": 10.0, "restart_base_minutes": 45,
                         "restart_minutes_per_1000_chips": 0, "repair_days": 0.2, "maintenance_every_days": maint,
                         "manual_intervention_share": manual, "manual_intervention_hours": 0.5},
         "simulation": {"seed": 1, "replications": 1}}
    runs = both_paths(from_dict(d), seed=4)
    fast, steps = (outcome_row(r) for r in runs)
    for k in ("failures", "checkpoints", "replans", "finished", "pool"):
        assert fast[k] == steps[k], k
    for k in ("time_to_train_days", "goodput", "chip_hours"):
        assert fast[k] == pytest.approx(steps[k], rel=1e-6), k
    assert fast["pool"] == "a + b" and fast["failures"] > 40
    during = [[e.time_h for e in r.events if e.kind == EventKind.FAILURE and "during the restart" in e.detail]
              for r in runs]
    assert len(during[0]) > 10 and during[0] == pytest.approx(during[1], rel=1e-9)


def test_the_engine_keeps_what_the_closed_form_expects_with_waits_in_long_restarts():
    """Every failure, in training or in a restart, may wait for people: the closed form counts 1 + R/M waits each.

    A job MTBF of 1.9 h against 30-min restarts, half the failures waiting 30 min: the engine's goodput (0.679) is
    the closed form's (0.681) within 2%; with one wait per failure in training the closed form says 0.699, 3% high,
    and plans would be sized and ranked on it. (The closed form follows the engine: this holds before the change.)
    """
    sc = from_dict({
        "name": "waits", "start": "2025-01-01", "horizon_days": 3000,
        "workload": {"model": "llama3-8b", "tokens": 3e11, "seq_len": 8192},
        "fleet": [{"name": "p", "chip": "h100-sxm", "units": 64, "mtbf_chip_days": 5, "restart_base_minutes": 30,
                   "restart_minutes_per_1000_chips": 0, "manual_intervention_share": 0.5,
                   "manual_intervention_hours": 0.5}],
        "reliability": {"enabled": True, "repair_days": 0, "maintenance_every_days": None},
        "simulation": {"seed": 1, "replications": 1}}, "waits.yaml")
    res = api.simulate(sc, replications=8, seed=1)
    units = int(res.layouts["units"].iloc[0])
    terms = Context(sc, layout_planners(sc)).failure_terms({"p": units})
    engine = res.summary.metrics["goodput"].mean / rel.productive_fraction()
    assert engine == pytest.approx(rel.expected_goodput(*terms), rel=0.02)


# ---------------------------------------------------------------- what limited the run, weighed by the time it held


def _burst(own_units: int, tokens: float) -> dict:
    """A job on 4,096 rented H100s for its first day, then on its own pool; failures size plans below their chips."""
    return {"name": "brief-plan", "start": "2025-01-01", "horizon_days": 200,
            "workload": {"model": "llama3-8b", "tokens": tokens, "seq_len": 8192},
            "fleet": [{"name": "own", "chip": "h100-sxm", "site": "x", "units": own_units},
                      {"name": "burst", "chip": "h100-sxm", "site": "x",
                       "cloud": {"units": 4096, "from": "2025-01-01", "until": "2025-01-02",
                                 "price_per_chip_hour_usd": 2.0}}],
            "strategy": {"mode": "sync"},
            "reliability": {"enabled": True, "mtbf_chip_days": 20, "repair_days": 0.5},
            "simulation": {"seed": 1, "replications": 1}}


def _limits(cli, make_scenario, tmp_path, doc: dict) -> list[str]:
    import json

    import yaml

    out = tmp_path / "o"
    assert cli("run", make_scenario.text(yaml.safe_dump(doc), "b.yaml"), "--out", out).exit_code == 0
    return json.loads((out / "summary.json").read_text())["limits"]


def test_the_limit_named_is_the_plan_that_left_most_chip_hours_out(cli, make_scenario, tmp_path):
    """Two plans held below their chips by failures: 1,952 of 6,040 for the rental's day, 1,304 of 1,880 for 13.7 days.

    The limit named the first (it left the most chips out, for a day); the second left more chip-hours out.
    """
    failures = [x for x in _limits(cli, make_scenario, tmp_path, _burst(2048, 8.0e12))
                if x.startswith("failures: the job trains on")]
    assert len(failures) == 1 and failures[0].startswith("failures: the job trains on 1,304 of 1,880 chips"), failures
    assert "it held the job's plans for" not in failures[0]  # (it held for most of the run)


def test_a_limit_that_held_briefly_says_for_how_long(cli, make_scenario, tmp_path):
    """The only plan failures held below its chips was the rental's, for its one day of a 10.7-day run: it says so."""
    limits = _limits(cli, make_scenario, tmp_path, _burst(512, 3.0e12))
    failures = next(x for x in limits if x.startswith("failures: the job trains on 1,952 of 4,608 chips"))
    assert failures.endswith("(it held the job's plans for 24 h of the 10.7 days since the job first started)")
    layout = next(x for x in limits if x.startswith("layout:"))
    assert "it held the job's plans" not in layout  # (layouts held the job's plans on its own pool: the rest)


# ---------------------------------------------------------------- the compiled loop and the named steps, once more


def _fz(fleet: list, mode: str, horizon: float, tokens: float, **reliability) -> dict:
    return {"name": "fz", "start": "2025-01-01", "horizon_days": horizon,
            "workload": {"model": "llama3-8b", "tokens": tokens, "seq_len": 8192}, "fleet": fleet,
            "strategy": {"mode": mode}, "reliability": {"enabled": True, **reliability},
            "simulation": {"seed": 1, "replications": 1}}


_H100_RENTAL = {"name": "b", "chip": "h100-sxm", "site": "x",
                "cloud": {"units": 128, "from": "2025-01-02", "until": "2025-06-19", "price_per_chip_hour_usd": 2.0}}
_A100_RENTAL = {"name": "b", "chip": "a100-80gb", "site": "x",
                "cloud": {"units": 64, "from": "2025-01-06", "until": "2025-04-15", "price_per_chip_hour_usd": 2.0}}
_DELIVERED = {"name": "b", "chip": "h100-sxm", "site": "x", "units": 0,
              "deliveries": [{"date": "2025-01-14", "units": 128}, {"date": "2025-02-10", "units": 256},
                             {"date": "2025-05-17", "units": 384}]}


@pytest.mark.parametrize("doc,seed", [
    # repairs came back at a failure: the loop asked the strategy with the clock of its stretch's start (hour 359.25
    # where the failure was at 363.18), and the sequential job moved where the named steps did not: 258 failures
    # and 19.09 days against 271 and 19.70
    (_fz([{"name": "a", "chip": "h100-sxm", "site": "x", "units": 128}, _H100_RENTAL], "sequential", 30, 5e11,
         mtbf_chip_days=3.0, restart_base_minutes=5, restart_minutes_per_1000_chips=2, repair_days=1.0,
         maintenance_every_days=0.5, manual_intervention_share=1.0, manual_intervention_hours=0.5), 117),
    # chips that came at an earlier step were weighed again after every restart of the named steps, never after
    # the loop's: 328 failures and 83.2 days against 228 and 56.0
    (_fz([{"name": "a", "chip": "h100-sxm", "site": "x", "units": 64}, _A100_RENTAL], "sequential", 120, 5e11,
         mtbf_chip_days=3.0, restart_base_minutes=30, restart_minutes_per_1000_chips=2, repair_days=0.1,
         maintenance_every_days=3.0, manual_intervention_share=1.0, manual_intervention_hours=4.0), 3176),
    # a repair of no time (repair_days: 0) was back at once for the named steps, not for the loop, which re-planned
    # onto fewer chips: 94 failures against 100
    (_fz([{"name": "a", "chip": "h100-sxm", "site": "x", "units": 128}, _DELIVERED], "sync", 400, 2e12,
         mtbf_chip_days=30.0, restart_base_minutes=30, restart_minutes_per_1000_chips=2, repair_days=0,
         maintenance_every_days=0.5, manual_intervention_share=0.3, manual_intervention_hours=0.5), 1143),
], ids=["growth-asked-at-its-hour", "chips-weighed-once", "repair-of-no-time"])
def test_the_compiled_loop_and_the_named_steps_agree_on_the_review_s_cases(doc, seed):
    fast, steps = (outcome_row(r) for r in both_paths(from_dict(doc), seed=seed))
    for k in ("failures", "checkpoints", "replans", "moves", "finished", "pool"):
        assert fast[k] == steps[k], k
    for k in ("time_to_train_days", "goodput", "chip_hours"):
        assert fast[k] == pytest.approx(steps[k], rel=1e-6), k


def test_a_restart_that_follows_no_failure_counts_the_waits_of_the_failures_that_strike_it():
    """A re-plan's restart (and a maintenance stop's) is struck by R/M failures on average, each of which may wait.

    The cost of a re-plan counted the restart alone: at half the failures waiting 4 h and R/M = 1 it left out 3.4 h of
    a 1.7-h restart. A failure's restart counts one wait more: its own.
    """
    s = _restarting(units=1024, mtbf=10.0, restart_min=30.0, manual_intervention_share=0.5,
                    manual_intervention_hours=4.0)
    ctx = Context(s, layout_planners(s))
    units = {"p": 1024}
    r_h, m_h = ctx.restart_hours(units), ctx.job_mtbf_hours(units)
    assert ctx.stop_restart_hours(units) == pytest.approx(r_h + 0.5 * 4.0 * r_h / m_h)
    assert ctx.failure_restart_hours(units) - ctx.stop_restart_hours(units) == pytest.approx(0.5 * 4.0)


def test_a_portfolio_leaves_the_same_chips_to_its_next_job_on_both_paths():
    """What a job leaves to the next is read between the changes of its chips in training (and of its failed chips).

    The named steps set its chips in training again at every failure (an edge each time, the same count), the
    compiled loop only when it stopped: the stretches differed, and so did the chips the second job was handed (on
    the named steps it started on 24 H100s on day 45 for a day; on the compiled loop it never started).
    """
    from planner.sim.engine import TrainingJob

    wl = {"seq_len": 8192}
    doc = {"name": "nt", "start": "2024-03-01", "horizon_days": 60,
           "fleet": [{"name": "h100", "chip": "h100-sxm", "site": "s1",
                      "cloud": {"units": 1024, "from": "2024-03-01", "until": "2025-06-30",
                                "price_per_chip_hour_usd": 2.0}}],
           "reliability": {"enabled": True}, "simulation": {"seed": 1, "replications": 1},
           "jobs": [{"name": "big", "priority": 1,
                     "workload": {**wl, "model": "llama3-405b", "tokens": 15.0e12, "global_batch_tokens": 16.0e6}},
                    {"name": "small", "priority": 2, "strategy": {"mode": "single"},
                     "workload": {**wl, "model": "llama3-70b", "tokens": 1.0e12, "global_batch_tokens": 4194304}}]}
    shares = []
    for fast in (True, False):
        TrainingJob.FAST = fast
        try:
            res = api.simulate(from_dict(doc), replications=1, seed=1)
        finally:
            TrainingJob.FAST = True
        ev = res.events[res.events["job"] == "small"]
        shares.append(ev[["time_days", "event", "units"]].values.tolist())
    assert shares[0] == shares[1]
