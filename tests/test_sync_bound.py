"""``sync`` leaves every pool together unsearched when its bound says the other subsets beat it.

The bound (``Sync._bound``) must never fall below the speed of the plan it stands for, and a plan chosen with it
must be the plan chosen by laying out every subset (the order of ``Sync._plan``: every pool first, a later subset
replacing it only when faster by 1e-9). Checked over fleets at two and three sites, links from 1 to 1,600 Gbit/s,
vendors mixed, micro-batches pinned or not, and pool sizes from a few servers to thousands of chips.
"""

from __future__ import annotations

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from planner.bridge import layout_planners
from planner.errors import InfeasiblePlanError
from planner.loader import from_dict
from planner.strategy import Context
from planner.strategy.modes import SUBSET_BOUND_SLACK, Sync

CHIPS = ("h100-sxm", "ascend-910b", "a100-80gb")
MODELS = (("llama3-8b", 8192, 4.0e6), ("llama3-70b", 8192, 16.0e6), ("llama3-405b", 8192, 16.0e6))


def _every_subset(sync: Sync, avail: dict[str, int]):
    """``Sync._plan`` as it was: every subset laid out in order, a later one replacing only when strictly faster."""
    first = {p: sync._layout(p, avail[p]) for p in sync.pools}
    live = tuple(p for p, lay in first.items() if lay is not None)
    subsets = [live]
    sites: dict[str, list[str]] = {}
    for p in live:
        sites.setdefault(sync.ctx.site[p], []).append(p)
    if len(sites) > 1:
        subsets += [tuple(ps) for ps in sites.values() if len(ps) > 1]
    if len(live) > 1:
        subsets += [(p,) for p in live]
    alone = {p: first[p].tokens_per_s for p in live}
    best = None
    for sub in subsets:
        if best is not None and sum(alone[p] for p in sub) * SUBSET_BOUND_SLACK <= best.tokens_per_s:
            continue
        pl = sync._plan_on(avail, sub)
        if pl is not None and (best is None or pl.tokens_per_s > best.tokens_per_s * (1 + 1e-9)):
            best = pl
    return best, live, first


@st.composite
def fleets(draw):
    model, seq, batch = draw(st.sampled_from(MODELS))
    n_sites = draw(st.integers(2, 3))
    pools = []
    for i in range(draw(st.integers(2, 4))):
        site = f"s{i % n_sites}" if i < n_sites else f"s{draw(st.integers(0, n_sites - 1))}"
        pool = {"name": f"p{i}", "chip": draw(st.sampled_from(CHIPS)), "site": site,
                "units": 8 * draw(st.integers(4, 1024))}
        if mb := draw(st.sampled_from([None, None, None, 1, 4, 32])):  # a pinned micro-batch may exceed a share
            pool["parallelism"] = {"micro_batch": mb}
        pools.append(pool)
    sites = sorted({p["site"] for p in pools})
    links = [{"sites": [a, b], "gbps": draw(st.sampled_from([1, 10, 100, 400, 1600])),
              "latency_ms": draw(st.sampled_from([1, 40, 200]))}
             for i, a in enumerate(sites) for b in sites[i + 1:]]
    return {"name": "bound", "start": "2025-01-01",
            "workload": {"model": model, "tokens": 1e12, "seq_len": seq, "global_batch_tokens": batch},
            "fleet": pools, "links": links, "reliability": {"enabled": False},
            "strategy": {"mode": "sync",
                         "cross_vendor_efficiency": draw(st.sampled_from([1.0, 0.9, 0.5]))}}


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=fleets(), data=st.data())
def test_bound_holds_and_the_plan_is_the_one_every_subset_gives(doc, data):
    s = from_dict(doc)
    try:
        ctx = Context(s, layout_planners(s))
    except InfeasiblePlanError:  # no pool can hold the model
        assume(False)
    pools = tuple(p.name for p in s.fleet)
    avail = {p["name"]: data.draw(st.integers(0, p["units"])) for p in doc["fleet"]}
    got = Sync(ctx, pools)._plan(avail)
    want, live, first = _every_subset(Sync(ctx, pools), avail)
    if len(live) > 1:
        every = Sync(ctx, pools)._plan_on(avail, live)
        if every is not None:
            assert Sync(ctx, pools)._bound(live, first) >= every.tokens_per_s * (1 - 1e-12)
    if want is None:
        assert got is None
    else:
        assert got is not None
        assert got.tokens_per_s == want.tokens_per_s
        assert [(p.pool, p.units, p.batch_seqs) for p in got.parts] == [(p.pool, p.units, p.batch_seqs)
                                                                       for p in want.parts]


def test_the_ramp_across_a_400_gbit_link_is_not_laid_out_together():
    """The seed's pools over 400 Gbit/s: every pool together is bounded below the H100s alone (never searched)."""
    doc = {"name": "ramp", "start": "2024-03-01",
           "workload": {"model": "llama3-405b", "tokens": 15e12, "seq_len": 8192, "global_batch_tokens": 16e6},
           "fleet": [{"name": "ascend-cn", "chip": "ascend-910b", "site": "cn-north", "units": 24000},
                     {"name": "azure-h100", "chip": "h100-sxm", "site": "azure-east-asia", "units": 8192}],
           "links": [{"sites": ["cn-north", "azure-east-asia"], "gbps": 400, "latency_ms": 40}],
           "reliability": {"enabled": False}, "strategy": {"mode": "sync"}}
    s = from_dict(doc)
    ctx = Context(s, layout_planners(s))
    sync = Sync(ctx, ("ascend-cn", "azure-h100"))
    calls = []
    plan_on = sync._plan_on
    sync._plan_on = lambda avail, pools: calls.append(pools) or plan_on(avail, pools)
    pl = sync._plan({"ascend-cn": 24000, "azure-h100": 8192})
    assert [p.pool for p in pl.parts] == ["azure-h100"]
    assert ("ascend-cn", "azure-h100") not in calls
