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
import itertools

import pytest

from planner import api
from planner.bridge import layout_planners
from planner.fmt import fmt_duration
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
    assert f"{fmt_duration(hours + 2.0)} to move the checkpoint" in moves["detail"].iloc[0]


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
    sends = res.events[res.events["detail"].str.contains("the checkpoint sent to us first", na=False)]
    assert len(sends) == 1 and (res.events["event"] == "move").sum() == 0
    assert rep["link_tb"] * TB > _checkpoint_bytes(doc)  # the checkpoint, and the gradients every step after


def _two(a: dict, b: dict, gbps: float, **strategy) -> dict:
    return {"name": "two", "start": "2025-01-01", "horizon_days": 400,
            "workload": {"model": "llama3-70b", "tokens": 2.0e12, "seq_len": 8192},
            "fleet": [{"name": "a", "chip": "h100-sxm", "site": "sa", **a},
                      {"name": "b", "chip": "h100-sxm", "site": "sb", **b}],
            "links": [{"sites": ["sa", "sb"], "gbps": gbps}], "strategy": strategy,
            "reliability": {"enabled": False}, "simulation": {"seed": 1, "replications": 1, "model_error": "off"}}


@pytest.mark.parametrize("mode", ["sync", "diloco", "sequential", "auto"])
def test_no_move_to_chips_that_leave_before_the_checkpoint_lands(mode):
    """A one-day rental of 4,096 H100s over 0.1 Gbit/s (the checkpoint needs 32 h): the job stays where it is.

    It moved (and came back, paying a second move and the first one's unfinished wait): more rented chips
    finished later, 48.6 / 48.6 / 51.3 days for 64 / 512 / 4,096.
    """
    days = []
    for units in (64, 512, 4096):
        rent = {"cloud": {"units": units, "from": "2025-01-06", "until": "2025-01-07", "price_per_chip_hour_usd": 3.0}}
        res = api.simulate(from_dict(_two({"units": 512}, rent, 0.1, mode=mode, migration_downtime_hours=5)))
        rep = res.replications.iloc[0]
        assert rep["moves"] == 0 and rep["link_tb"] == 0, (units, rep)
        days.append(res.summary.metrics["time_to_train_days"].p50)
    assert days[0] >= days[1] >= days[2]


def test_diloco_a_faster_site_never_slows_the_rounds():
    """1,024 H100s at each site over 2 Gbit/s: 1,152 at one site trained slower (22.25 days against 20.85)."""
    days = [api.simulate(from_dict(_two({"units": u}, {"units": 1024}, 2, mode="diloco")))
            .summary.metrics["time_to_train_days"].p50 for u in (1024, 1152, 1280, 2048)]
    assert all(x >= y - 1e-9 for x, y in itertools.pairwise(days))


def test_a_site_the_checkpoint_cannot_reach_in_time_does_not_stop_one_it_can():
    """A diloco job on a; b comes on day 5 over 100 Gbit/s, c on day 4 over 0.1 Gbit/s from a: the job adds b.

    With c in the fleet the job weighed only a + b + c (whose transfer to c does not pay) against staying on a,
    and stayed: 9.18 days against 7.15 without c.
    """
    def doc(with_c: bool) -> dict:
        d = _two({"units": 1024}, {"cloud": {"units": 1024, "from": "2025-01-06", "until": "2025-12-31",
                                             "price_per_chip_hour_usd": 3.0}}, 100, mode="diloco",
                 sync_every_steps=10000)
        d["workload"]["tokens"] = 7.0e11
        if with_c:
            d["fleet"].append({"name": "c", "chip": "h100-sxm", "site": "sc",
                               "cloud": {"units": 1024, "from": "2025-01-05", "until": "2025-12-31",
                                         "price_per_chip_hour_usd": 3.0}})
            d["links"] += [{"sites": ["sa", "sc"], "gbps": 0.1}, {"sites": ["sb", "sc"], "gbps": 100}]
        return d

    without, with_c = (api.simulate(from_dict(doc(c))) for c in (False, True))
    days = [r.summary.metrics["time_to_train_days"].p50 for r in (without, with_c)]
    assert days[1] <= days[0] * (1 + 1e-9)
    assert with_c.replications.iloc[0]["pool"] == "a + b"


def test_a_checkpoint_sent_to_a_new_site_is_no_move():
    """events.csv's move rows are the moves replications.csv counts; a send to a site added is in the re-plan."""
    res = api.simulate(from_dict(_two({"units": 1024}, {"cloud": {"units": 1024, "from": "2025-01-20",
                                                                  "until": "2025-12-31",
                                                                  "price_per_chip_hour_usd": 3.0}}, 100,
                                      mode="diloco")))
    rep, events = res.replications.iloc[0], res.events
    assert rep["pool"] == "a + b" and rep["moves"] == 0 and (events["event"] == "move").sum() == 0
    sent = events[events["detail"].str.contains("the checkpoint sent to sb first", na=False)]
    assert len(sent) == 1 and sent["event"].iloc[0] == "re-plan" and " min)" in sent["detail"].iloc[0]
