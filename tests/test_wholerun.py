"""Whole-run goodput (planner/perf/wholerun.py) and job-level interruptions (planner/perf/reliability.py)."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from planner.perf import reliability as rel
from planner.perf import wholerun as W


def test_predicted_chip_hours():
    # 1,000 chips at 1e6 tokens/s in all, goodput 0.8: 3.6e9 tokens take 4,500 s = 1.25 h -> 1,250 chip-hours
    assert W.predicted_chip_hours(1000, 3.6e9, 1.0e6, 0.8) == pytest.approx(1250.0)


def test_fit_productive_fraction():
    # log(predicted at 1 / published) of 0.1 and 0.3: the runs are slower than predicted -> exp(mean) > 1 clipped
    assert W.fit_productive_fraction([0.1, 0.3]) == 1.0
    assert W.fit_productive_fraction([-0.1, -0.3]) == pytest.approx(math.exp(-0.2))
    assert W.fit_productive_fraction([]) == 1.0


def test_failure_goodput_falls_with_scale_and_maintenance():
    args = dict(mtbf_chip_days=2111.0, params=70e9, restart_base_minutes=5.0, restart_minutes_per_1000_chips=0.5,
                storage_gbyteps=2000.0, maintenance_minutes=10.0)
    small = W.failure_goodput(512, maintenance_every_days=None, **args)
    big = W.failure_goodput(16384, maintenance_every_days=None, **args)
    assert 0.97 < small < 1.0 and big < small
    with_stops = W.failure_goodput(512, maintenance_every_days=1.15, **args)
    # the stop's restart as every restart: with the failures that strike it (Daly 2006 eq. 10's restart term)
    restart = rel.restart_under_failures(rel.restart_hours(512, 5.0, 0.5), rel.job_mtbf_hours(2111.0, 512))
    assert restart > rel.restart_hours(512, 5.0, 0.5)
    assert with_stops == pytest.approx(small * (1 - (10 / 60 + restart) / (1.15 * 24)))


def test_a_restart_is_longer_by_the_failures_that_strike_it():
    """M (e^(R/M) - 1): the mean time to get through a restart of R when failures of mean M start it over.

    Checked by drawing it: each attempt lasts until the restart's end or a failure, whichever comes first.
    """
    import numpy as np

    rng = np.random.default_rng(3)
    for r_h, m_h in ((0.22, 3.1), (1.0, 1.8), (0.5, 0.5)):
        total = 0.0
        for _ in range(20_000):
            while (gap := rng.exponential(m_h)) < r_h:
                total += gap
            total += r_h
        assert total / 20_000 == pytest.approx(rel.restart_under_failures(r_h, m_h), rel=0.03)
    assert rel.restart_under_failures(0.2, math.inf) == 0.2 and rel.restart_under_failures(0.0, 1.0) == 0.0
    assert rel.restart_under_failures(100.0, 0.1) == rel.RESTART_CAP_HOURS


def test_job_interruptions_fold_into_the_catalog_mtbf(make_scenario):
    s = make_scenario.scenario(reliability={"enabled": True})
    f = rel.pool_failures(s, s.fleet[0], 8e9)
    catalog = s.chip("h100-sxm").mtbf_chip_days
    # human-origin restarts are the planned stops (maintenance), not extra failures: the catalog MTBF as it is
    assert f.mtbf_chip_days == pytest.approx(catalog * (1 - rel.HUMAN_SHARE_FOLDED))
    assert f.job_interruption_share == rel.HUMAN_SHARE_FOLDED
    given = make_scenario.scenario(reliability={"enabled": True, "mtbf_chip_days": 3000})
    assert rel.pool_failures(given, given.fleet[0], 8e9).mtbf_chip_days == 3000  # a lab's logs count them all


def test_shipped_whole_runs():
    runs = W.whole_runs()
    published = [r for r in runs if r.tier == "published"]
    assert len(published) >= 8 and len({r.group for r in published}) >= 4
    assert all(r.source and r.units > 0 and r.published_chip_hours > 0 for r in published)
    assert {r.tier for r in runs} <= {"published", "assumed", "excluded"}
    assert all(r.notes for r in runs if r.tier == "excluded")


def _run(id_, group, tier="published"):
    base = W.whole_runs()[0]
    # the trainer's speed published as the model's (1,000 tokens/s per chip): the time lost is seen apart from it
    return replace(base, id=id_, group=group, tier=tier, units=100, tokens=3.6e9, published_chip_hours=1000.0,
                   trainer_tokens_per_s_per_chip=1000.0, hours_basis="wall")


def test_scoring_refits_the_fraction_without_the_source():
    # at fraction 1 every run is predicted at 100 chips x 3.6e11 / (1e5 x g) / 3600 = 1000 / g chip-hours
    runs = (_run("a1", "A"), _run("a2", "A"), _run("b", "B"), _run("c", "C"),
            replace(_run("x", "X", "assumed"), trainer_tokens_per_s_per_chip=None))  # x: no goodput observed
    goodput = {"a1": 1.0, "a2": 1.0, "b": 1.0 / 0.9, "c": 1.0 / 0.8, "x": 1.0}  # b, c: 0.9, 0.8 of published
    terms = {k: {"tokens_per_s": 1e5, "units_used": 100, "failure_goodput": g, "layout": "-"}
             for k, g in goodput.items()}
    s = W.score_whole_runs(runs, terms)
    by = {c["id"]: c for c in s["cases"]}
    assert s["n"] == 4 and s["n_assumed"] == 1
    # held out A: the fraction from B and C only, sqrt(0.9 x 0.8); A's runs then come out long
    assert by["a1"]["productive_fraction_cv"] == pytest.approx(math.sqrt(0.72))
    assert by["a1"]["error_cv"] == pytest.approx(1 / math.sqrt(0.72) - 1)
    # held out C: from A, A and B, 0.9 ** (1/3); C predicted short
    assert by["c"]["error_cv"] == pytest.approx(0.8 / 0.9 ** (1 / 3) - 1)
    errs = [1 / math.sqrt(0.72) - 1] * 2 + [abs(0.9 / 0.8 ** (1 / 3) - 1), abs(0.8 / 0.9 ** (1 / 3) - 1)]
    assert s["mape_cv"] == pytest.approx(100 * sum(errs) / 4)
    assert by["x"]["productive_fraction_cv"] == s["productive_fraction"]
    # runs faster than predicted never push the fraction above 1
    fast = {k: {**t, "failure_goodput": 0.5} for k, t in terms.items()}
    assert W.score_whole_runs(runs, fast)["productive_fraction"] == 1.0


def test_trainer_basis_figures_carry_no_goodput():
    """A figure computed from the trainer's speed (LLaMA-1: 380 tokens/s/GPU -> 21 days) counts no goodput.

    It is predicted at goodput 1 and does not move the fraction.
    """
    runs = (_run("a", "A"), replace(_run("t", "T"), hours_basis="trainer", trainer_tokens_per_s_per_chip=None))
    terms = {k: {"tokens_per_s": 1e5, "units_used": 100, "failure_goodput": 0.8, "layout": "-"} for k in ("a", "t")}
    by = {c["id"]: c for c in W.score_whole_runs(runs, terms)["cases"]}
    assert by["t"]["error_cv"] == pytest.approx(0.0)  # 1,000 chip-hours: no goodput in the figure
    assert by["t"]["whole_run_goodput_cv"] == 1.0


def test_shipped_fraction_is_a_share():
    assert 0.5 < W.productive_fraction() <= 1.0
