"""Two jobs of a portfolio that exchange over one inter-site link at the same time: the later one says so.

The engine times each job on the whole link (it times one job at a time); a lower-priority job whose exchanges
overlap a higher one's on a link they together keep busy is timed optimistically, and its limits must say so.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from planner.loader import from_dict
from planner.perf.steptime import LINK_EFFICIENCY
from planner.sim.portfolio import LINK_SHARED_SHARE, portfolio_context, portfolio_replication
from planner.units import GBPS_TO_BYTES


def _doc(gbps: float) -> dict:
    job = {"workload": {"model": "llama3-8b", "tokens": 2.0e12, "seq_len": 8192}, "strategy": {"mode": "diloco"}}
    return {"name": "shared-link", "start": "2025-01-01", "horizon_days": 200,
            "jobs": [{"name": "first", "priority": 1, **job}, {"name": "second", "priority": 2, **job}],
            "fleet": [{"name": "a", "chip": "h100-sxm", "site": "s1", "units": 512},
                      {"name": "b", "chip": "h100-sxm", "site": "s2", "units": 512}],
            "links": [{"sites": ["s1", "s2"], "gbps": gbps, "latency_ms": 10}],
            "reliability": {"enabled": False}, "simulation": {"seed": 1, "replications": 1}}


def _one(gbps: float):
    pctx = portfolio_context(from_dict(_doc(gbps)))
    return portfolio_replication(pctx, np.random.SeedSequence(1), keep=True)


def _link_limits(out, job: str) -> list[str]:
    return [x for x in out.metrics["jobs"][job]["limits"] if x.startswith("link:")]


def test_overlapping_exchanges_over_a_slow_link_are_named_on_the_later_job():
    out = _one(1.0)
    first, second = out.runs
    assert not _link_limits(out, "first")  # the higher priority job is served first: nothing before it
    (sentence,) = _link_limits(out, "second")
    assert "while first did" in sentence and "s1 - s2" in sentence and "finishes later than shown" in sentence
    # the peak share it names is the two jobs' rates at an hour both sent, over what the link carries
    peak = int(re.search(r"up to (\d+)% of the 1 Gbit/s", sentence).group(1))
    key = ("s1", "s2")
    ts = np.array(sorted(set(first.job.link_tl[key].times) | set(second.job.link_tl[key].times)))
    a, b = first.job.link_tl[key].at(ts), second.job.link_tl[key].at(ts)
    both = (a > 0) & (b > 0)
    assert both.any()
    assert peak == pytest.approx(100 * ((a + b)[both] / (GBPS_TO_BYTES * LINK_EFFICIENCY)).max(), abs=0.5)
    assert peak > 100 and ", more than it can" in sentence


def test_a_link_the_two_keep_mostly_idle_adds_no_limit():
    out = _one(400.0)
    first, second = out.runs
    key = ("s1", "s2")
    # both sent over the link, at once, and yet kept well under LINK_SHARED_SHARE of it busy
    assert first.job.link_tl[key].values and max(second.job.link_tl[key].values) > 0
    assert not _link_limits(out, "second")
    carried = 400 * GBPS_TO_BYTES * LINK_EFFICIENCY
    assert (max(first.job.link_tl[key].values) + max(second.job.link_tl[key].values)) / carried < LINK_SHARED_SHARE


def test_compare_s_picked_row_carries_the_link_sentence_run_gives():
    """A review: `run` named the shared link in the later job's limits, and compare's row of the same mode did not."""
    from planner import api

    s = from_dict(_doc(1.0))
    rows = api.compare(s)
    (picked,) = [r for r in rows if r.get("job") == "second" and r.get("run")]
    run = api.simulate(s, replications=1).summary
    (mine,) = [j for j in run.jobs if j.name == "second"]
    said = [x for x in mine.summary.limits if x.startswith("link:")]
    assert said and [x for x in picked["limits"] if x.startswith("link:")] == said
    assert not [x for r in rows if r.get("job") == "first" for x in r.get("limits", []) if x.startswith("link:")]
