"""Findings of a fifth engine review: chips that came mid-run and no layout could use were idle without a word."""

from __future__ import annotations

import pytest

from planner import api
from planner.loader import from_dict

S15 = {"name": "s15", "start": "2025-01-01", "horizon_days": 200,
       "workload": {"model": "llama3-8b", "tokens": 3.0e12, "seq_len": 8192, "global_batch_tokens": 4194304},
       "fleet": [{"name": "own", "chip": "h100-sxm", "site": "a", "units": 256,
                  "deliveries": [{"date": "2025-01-03", "units": 280}], "unit_price_usd": 40000}],
       "reliability": {"enabled": False}, "simulation": {"seed": 3, "replications": 1}}


def test_chips_delivered_that_no_layout_takes_are_named_with_what_held_the_job():
    """256 chips on day 0, 280 from day 2: the layout takes no more, and `limits` was empty.

    512 sequences over 128 replicas are 4 micro-batches each, as over 140: the job trains on 256 for 13.5 of its 15.5
    days.
    """
    result = api.simulate(from_dict(S15), replications=1)
    (layout,) = [x for x in result.summary.limits if x.startswith("layout:")]
    assert "uses 256 of 280 chips" in layout
    est = api.estimate(from_dict(S15))["pools"][0]
    assert est["units"] == 256 and any(x.startswith("layout:") and "256 of 280" in x for x in est["limited_by"])
    # the run itself is as before: 3e12 tokens on the 256 chips' layout
    assert result.summary.metrics["time_to_train_days"].p50 == pytest.approx(3.0e12 / est["tokens_per_s"] / 86400,
                                                                             rel=1e-3)
    sched = result.schedule
    late = sched[sched["day"] >= 3]
    assert (late["units_in_service"] == 280).all() and (late["units_in_training"] == 256).all()


def test_a_job_that_takes_the_chips_that_came_says_no_such_thing():
    doc = {**S15, "fleet": [{**S15["fleet"][0], "deliveries": [{"date": "2025-01-03", "units": 384}]}]}
    result = api.simulate(from_dict(doc), replications=1)
    assert not any("of 384 chips" in x for x in result.summary.limits), result.summary.limits
