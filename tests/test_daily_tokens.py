"""The tokens trained by day (schedule.csv, the progress chart, the fan): what was safe at each day's end.

Before, the engine recorded what was safe only at failures (at most once a day) and at stops: a day's figure was
what was safe at its first failure, or days earlier. A job on 64 chips with one failure showed 0 tokens on its
first two days and then a jump; on the seed scenario, day 81 showed 12.1 B tokens of the 34.6 B safe by its end.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import both_paths
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.loader import from_dict
from planner.sim import replication as rep
from planner.units import HOURS_PER_DAY


def _doc(units: int = 64, tokens: float = 2e11, reliability: dict | None = None, mode: str = "auto") -> dict:
    return {"name": "daily", "start": "2025-01-01", "horizon_days": 400,
            "workload": {"model": "llama3-8b", "tokens": tokens, "seq_len": 8192},
            "fleet": [{"name": "a", "chip": "h100-sxm", "site": "x", "units": units},
                      {"name": "b", "chip": "a100-80gb", "site": "x", "units": 0,
                       "deliveries": [{"date": "2025-01-06", "units": units}]}],
            "strategy": {"mode": mode},
            "reliability": reliability if reliability is not None else {"enabled": True}}


def _runs(doc: dict, seed: int = 3) -> list:
    """The pick's run on the same draws: compiled loop and named steps, each without and with the tables."""
    return both_paths(from_dict(doc), seed, records=(False, True))


def test_without_failures_every_whole_day_trains_the_same_tokens():
    """Closed form: failures off, one plan on fixed chips, nothing lost: each whole day adds rate x 24 h."""
    doc = _doc(units=64, tokens=2e11, reliability={"enabled": False}, mode="single")
    doc["fleet"] = doc["fleet"][:1]
    run = _runs(doc)[0]
    assert run.finished and run.job.stats.replans == 0
    days = rep.tokens_by_day(run)
    start_h = run.job.layouts[0]["start_days"] * HOURS_PER_DAY
    rate_h = run.job.stats.tokens / (run.end_h - start_h)  # one plan, no stop: the run's own speed
    whole = np.diff(days)[:-1]  # the last day ends at the finish
    assert len(whole) >= 3
    assert whole == pytest.approx(np.full(len(whole), rate_h * HOURS_PER_DAY), rel=1e-9)
    assert days[0] == pytest.approx(rate_h * (HOURS_PER_DAY - start_h), rel=1e-6)
    assert days[-1] == pytest.approx(2e11, rel=1e-12)


def test_a_job_with_rare_failures_shows_what_was_safe_each_day():
    """Its first days are not 0, and each day adds about a day's kept tokens: no staircase."""
    run = _runs(_doc(units=64, tokens=2e11))[0]
    days = rep.tokens_by_day(run)
    assert run.job.stats.failures <= 3 and len(days) >= 4
    assert days[0] > 0 and days[1] > days[0]
    per_day = np.diff(days)[:-1]
    assert per_day.min() > 0.5 * np.median(per_day)


@settings(max_examples=10, deadline=None, derandomize=True, database=None)
@given(units=st.integers(64, 2048), mtbf=st.sampled_from([30.0, 300.0, 3000.0]),
       repair=st.sampled_from([0.0, 3.0]), maint=st.sampled_from([None, 0.5]),
       mode=st.sampled_from(["single", "sequential", "sync"]), manual=st.sampled_from([0.0, 0.3]))
def test_both_paths_record_the_same_days(units, mtbf, repair, maint, mode, manual):
    """The compiled loop and the named steps (with and without the tables) give every day the same figure.

    The two compute a day's end independently (kernel._day_ends, TrainingJob._record_day_ends). The figures
    never fall, the last is the run's tokens, and the pools' figures add up to the day's.
    """
    rel = {"enabled": True, "mtbf_chip_days": mtbf, "repair_days": repair, "maintenance_every_days": maint,
           "manual_intervention_share": manual, "manual_intervention_hours": 2.0}
    runs = _runs(_doc(units=units, tokens=2e12, reliability=rel, mode=mode), seed=units)
    first = rep.tokens_by_day(runs[0])
    for r in runs[1:]:
        assert rep.tokens_by_day(r) == pytest.approx(first, rel=1e-9, abs=1.0)
    assert np.all(np.diff(first) >= -1e-6 * max(first[-1], 1.0))
    assert first[-1] == pytest.approx(runs[0].job.stats.tokens, rel=1e-12)
    for r in runs[1::2]:  # with the tables: by pool
        _days, t = rep._day_ends(r.end_h)
        by_pool = sum(r.job.pool_tokens_tl[n].at(t) for n in r.job.pool_tokens_tl)
        assert by_pool == pytest.approx(rep.tokens_by_day(r), rel=1e-9, abs=1.0)
        for tl in r.job.pool_tokens_tl.values():  # a pool's figure never falls, not even by a rounding step
            assert np.all(np.diff(tl.at(t)) >= 0.0)


def test_the_records_are_in_time_order_and_end_at_the_runs_tokens():
    """Day ends, failures and stops recorded by both the loop and Python come in time order (a lookup needs it)."""
    run = _runs(_doc(units=512, tokens=2e12))[0]
    tl = run.job.tokens_tl
    assert all(b >= a for a, b in zip(tl.times, tl.times[1:], strict=False))  # records in time order
    assert math.isclose(tl.values[-1], run.job.stats.tokens)
