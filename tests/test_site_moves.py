"""Multi-pool modes that change sites pay for the checkpoint, and DiLoCo trains on its fastest set of sites.

- ``sync`` trains on the fastest of its pool sets (tests/test_sync_subsets.py), so it may leave one site for
  another: the checkpoint crosses the link first, as ``sequential``'s moves do (it was free: 0.5 h and 0 bytes
  where the checkpoint needs 126 h over 0.1 Gbit/s);
- a plan that adds a site sends that site the checkpoint before it trains there;
- ``diloco`` with one site much faster than the other trained slower than that site alone, and more chips
  finished later: it now weighs every set of its sites.
"""

from __future__ import annotations

import copy

import pytest

from planner import api
from planner.bridge import layout_planners
from planner.loader import from_dict
from planner.perf.reliability import CHECKPOINT_BYTES_PER_PARAM
from planner.perf.steptime import LINK_EFFICIENCY
from planner.strategy import Context, options

TB = 1e12


def _move_doc(mode: str, gbps: float = 0.1) -> dict:
    """2,048 H100s at one site; from day 10, 8,192 rented at another, over a slow link."""
    return {"name": "move", "start": "2025-01-01", "horizon_days": 400,
            "workload": {"model": "llama3-405b", "tokens": 2.0e12, "seq_len": 8192, "global_batch_tokens": 16777216},
            "fleet": [{"name": "cn", "chip": "h100-sxm", "site": "cn", "units": 2048},
                      {"name": "us", "chip": "h100-sxm", "site": "us",
                       "cloud": {"units": 8192, "from": "2025-01-11", "until": "2025-12-31",
                                 "price_per_chip_hour_usd": 2.0}}],
            "links": [{"sites": ["cn", "us"], "gbps": gbps}],
            "strategy": {"mode": mode}, "reliability": {"enabled": False},
            "simulation": {"seed": 1, "replications": 1, "model_error": "off"}}


def _checkpoint_bytes(doc: dict) -> float:
    s = from_dict(doc)
    return Context(s, layout_planners(s)).params * CHECKPOINT_BYTES_PER_PARAM


@pytest.mark.parametrize("mode", ["sync", "sequential"])
def test_leaving_a_site_sends_the_checkpoint_over_the_link(mode):
    """Both modes make the same move (cn alone, then us alone): the same bytes, the same wait, one move."""
    doc = _move_doc(mode)
    res = api.simulate(from_dict(doc))
    rep = res.replications.iloc[0]
    assert rep["moves"] == 1
    assert rep["link_tb"] * TB == pytest.approx(_checkpoint_bytes(doc), rel=1e-9)
    moves = res.events[res.events["event"] == "move"]
    assert len(moves) == 1 and "cn -> us" in moves["detail"].iloc[0]
    # the checkpoint's crossing at 0.1 Gbit/s (LINK_EFFICIENCY of it) is over 100 hours, and the finish waits
    hours = _checkpoint_bytes(doc) / (0.1e9 / 8 * LINK_EFFICIENCY) / 3600
    assert hours > 100
    assert f"{hours + doc['strategy'].get('migration_downtime_hours', 2.0):.1f} h" in moves["detail"].iloc[0]


def test_sync_and_sequential_making_the_same_move_finish_together():
    """The move was free for sync: it finished 6.6 days before sequential on the same trajectory."""
    days = {m: api.simulate(from_dict(_move_doc(m))).summary.metrics["time_to_train_days"].p50
            for m in ("sync", "sequential")}
    assert days["sync"] == pytest.approx(days["sequential"], rel=1e-9)


def test_a_move_that_does_not_pay_is_not_made():
    """Over a link too slow to send the checkpoint in time, sync stays at its site (as sequential would)."""
    doc = _move_doc("sync", gbps=0.001)
    res = api.simulate(from_dict(doc))
    rep = res.replications.iloc[0]
    assert rep["moves"] == 0 and rep["link_tb"] == 0 and rep["pool"] == "cn"


def _diloco_doc(cn_units: int, gbps: float = 1.0, delivered: int | None = None) -> dict:
    cn = {"name": "cn", "chip": "h100-sxm", "site": "cn", "units": cn_units}
    if delivered is not None:
        cn["deliveries"] = [{"date": "2025-01-10", "units": delivered}]
    return {"name": "dl", "start": "2025-01-01", "horizon_days": 400,
            "workload": {"model": "llama3-70b", "tokens": 4.0e12, "seq_len": 8192, "global_batch_tokens": 16777216},
            "fleet": [cn, {"name": "us", "chip": "h100-sxm", "site": "us", "units": 1024}],
            "links": [{"sites": ["cn", "us"], "gbps": gbps}],
            "strategy": {"mode": "diloco"}, "reliability": {"enabled": False},
            "simulation": {"seed": 1, "replications": 1, "model_error": "off"}}


def test_diloco_is_never_slower_than_one_of_its_sites_alone():
    """4,096 H100s beside 1,024 over 1 Gbit/s: 1.49M tokens/s for both sites, 3.49M for the larger alone."""
    s = from_dict(_diloco_doc(4096))
    ctx = Context(s, layout_planners(s))
    (diloco,) = options(ctx, "diloco")[0]
    full = {p: ctx.pools[p].usable_units for p in ctx.pools}
    for site_pools in (("cn",), ("us",)):
        (alone,) = [c for c in options(ctx, "single")[0] if c.pools == site_pools]
        assert diloco.plan(full, size_for_failures=False).tokens_per_s >= alone.plan(
            full, size_for_failures=False).tokens_per_s * (1 - 1e-9)


def test_diloco_more_chips_never_finish_later():
    """At day 0 (it went 24.0, 31.0, 34.6 days) and delivered on day 9 (24.0 days whatever the delivery)."""
    at_start = [api.simulate(from_dict(_diloco_doc(u))).summary.metrics["time_to_train_days"].p50
                for u in (1024, 4096, 8192)]
    assert at_start[0] > at_start[1] > at_start[2]
    delivered = [api.simulate(from_dict(_diloco_doc(1024, delivered=u))).summary.metrics["time_to_train_days"].p50
                 for u in (1024, 4096, 8192)]
    assert delivered[0] > delivered[1] > delivered[2]


def test_a_plan_that_adds_a_site_sends_it_the_checkpoint():
    """Sync on cn alone, then on cn and us together once us comes: us first receives the checkpoint (no move)."""
    doc = copy.deepcopy(_move_doc("sync", gbps=400))
    doc["fleet"][1]["cloud"]["units"] = 2048  # as many as cn: both together beat either alone
    res = api.simulate(from_dict(doc))
    rep = res.replications.iloc[0]
    assert rep["pool"] == "cn + us" and rep["moves"] == 0
    sends = res.events[res.events["event"] == "move"]
    assert len(sends) == 1 and "send the checkpoint to us" in sends["detail"].iloc[0]
    assert rep["link_tb"] * TB > _checkpoint_bytes(doc)  # the checkpoint, and the gradients every step after
