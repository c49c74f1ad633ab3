"""Job sizing weighs fewer chips of one pool alone: more chips offered never plan a job that keeps less.

Review: a 405B job on 8,150 H100s (Azure) and Ascend 910Bs behind site power. With 6,308 more Ascend chips
powered, sizing (which took the same share of every pool) planned 30,848 chips, keeping 3% fewer tokens/s than
the 24,832 it planned with fewer chips powered; at 30 MW the job finished later than at 20 MW in 10 of 10
replications (1.1 to 5.2 days), and `solve` and `sweep` passed that on.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from planner.bridge import layout_planners
from planner.loader import from_dict
from planner.strategy import Context, options

DOC = {
    "name": "power-sizing", "start": "2024-06-01", "horizon_days": 900,
    "workload": {"model": "llama3-405b", "tokens": 15.0e12, "seq_len": 8192, "global_batch_tokens": 16.0e6},
    "fleet": [{"name": "ascend-cn", "chip": "ascend-910b", "site": "cn-north", "units": 0,
               "deliveries": [{"date": "2024-06-01", "units": 10000}, {"date": "2024-07-31", "units": 29000}],
               "commissioning_days": 21, "reserved_fraction": 0.2},
              {"name": "azure-h100", "chip": "h100-sxm", "site": "azure-east-asia",
               "cloud": {"units": 8192, "from": "2024-05-01", "until": "2025-06-30",
                         "price_per_chip_hour_usd": 8.60}}],
    "links": [{"sites": ["cn-north", "azure-east-asia"], "gbps": 400, "latency_ms": 40}],
    "sites": [{"name": "cn-north", "pue": 1.3, "power_mw": [{"date": "2024-06-01", "mw": 20}]}],
    "reliability": {"enabled": True},
    "simulation": {"seed": 42, "replications": 1},
}


@pytest.fixture(scope="module")
def ctx() -> Context:
    s = from_dict(DOC)
    return Context(s, layout_planners(s))


@pytest.mark.parametrize("mode", ["diloco", "sync"])
def test_more_ascend_chips_never_plan_a_job_that_keeps_less(ctx, mode):
    """From 16,000 to 23,200 Ascend chips beside 8,150 H100s: the planned job's kept tokens/s never falls."""
    st = options(ctx, mode)[0][0]
    scores = [ctx.score(st.plan({"ascend-cn": a, "azure-h100": 8150})) for a in range(16000, 23300, 400)]
    assert all(b >= a * (1 - 1e-3) for a, b in zip(scores, scores[1:], strict=False)), scores


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_more_chips_of_either_pool_never_plan_less_kept(ctx, seed):
    """Random pairs of offers, the second with at least as many chips of each pool: DiLoCo keeps no less.

    (Before, 16 of 180 such pairs planned a job that kept less, by up to 11%.)
    """
    rng = np.random.default_rng(seed)
    st = options(ctx, "diloco")[0][0]
    for _ in range(60):
        a, b = int(rng.integers(2000, 23200)), int(rng.integers(500, 8192))
        more = {"ascend-cn": min(a + int(rng.integers(0, 4000)), 23200),
                "azure-h100": min(b + int(rng.integers(0, 800)) * int(rng.integers(0, 2)), 8192)}
        fewer = st.plan({"ascend-cn": a, "azure-h100": b})
        if fewer is None:
            continue
        assert ctx.score(st.plan(more)) >= ctx.score(fewer) * (1 - 1e-3), (a, b, more)


def test_a_sync_plan_that_outruns_a_pool_alone_but_keeps_less_is_not_taken(ctx):
    """17,920 Ascend chips synced beside 4,897 H100s: faster than the H100s alone, and 8% fewer kept tokens/s."""
    st = options(ctx, "sync")[0][0]
    offered = dict(zip(st.pools, st.grid({"ascend-cn": 18861, "azure-h100": 4897}), strict=True))
    plan = st.plan(offered)
    alone = st.plan({**offered, "ascend-cn": 0})
    assert ctx.score(plan) >= ctx.score(alone) * (1 - 1e-9)
    assert {p.pool for p in plan.parts} == {"azure-h100"}


def test_more_site_power_does_not_finish_the_job_later(cli, make_scenario, tmp_path):
    """The review's scenario at 20 and 30 MW, three replications each (the same seeds): not later on average.

    A replication draws its failures on the chips it holds, so a job of another size meets other failures: one may
    finish a little later (1.1 of 260 days in one of these three, which takes chips powered during a re-plan's
    overhead); before, all three did, by 1.1 to 5.2 days (the mean 1.3% later).
    """
    days = {}
    for mw in (20, 30):
        doc = json.loads(json.dumps(DOC))
        doc["sites"][0]["power_mw"][0]["mw"] = mw
        path = make_scenario.text(json.dumps(doc), f"p{mw}.json")
        out = tmp_path / f"o{mw}"
        r = cli("run", path, "--out", out, "--replications", "3")
        assert r.exit_code == 0, r
        days[mw] = pd.read_csv(out / "replications.csv")["time_to_train_days"].to_numpy()
    assert days[30].mean() <= days[20].mean() * 1.001 and (days[30] <= days[20] * 1.005).all(), days


def _five(extra_units: int | None) -> dict:
    """A sync job on H100 pools at one site; p0 is large and unreliable (a failure every 7 minutes on 4,096 chips)."""
    fleet = [{"name": "p0", "chip": "h100-sxm", "site": "s0", "units": 4096, "mtbf_chip_days": 20,
              "restart_base_minutes": 60}]
    fleet += [{"name": f"p{k}", "chip": "h100-sxm", "site": "s0", "units": 1024} for k in (1, 2, 3)]
    if extra_units is not None:
        fleet.append({"name": "p4", "chip": "h100-sxm", "site": "s0", "units": extra_units})
    return {"workload": {"model": "llama3-70b", "tokens": 2.0e12, "seq_len": 8192}, "horizon_days": 400,
            "fleet": fleet, "strategy": {"mode": "sync"}, "reliability": {"enabled": True},
            "simulation": {"seed": 1, "replications": 1}}


@pytest.mark.parametrize("extra", [8, 1024])
def test_a_fifth_pool_offered_never_switches_off_leaving_pools_out(cli, make_scenario, tmp_path, extra):
    """A fifth pool offered, of any size: the job still leaves the unreliable p0 out.

    Review: with four pools the job left p0 out (11.2 days); a fifth pool switched the search for pools to leave
    out off (at most 4 pools), and the job kept p0: 70.4 days, goodput 49%.
    """
    days = {}
    for name, doc in (("four", _five(None)), ("five", _five(extra))):
        out = tmp_path / name
        r = cli("run", make_scenario(**doc), "--out", out)
        assert r.exit_code == 0, r
        s = json.loads((out / "summary.json").read_text())
        days[name] = s["metrics"]["time_to_train_days"]["p50"]
        assert "p0" not in s["strategy"]["pools"], s["strategy"]
    assert days["five"] <= days["four"] * 1.001, days


def test_pools_that_only_pay_to_leave_out_together_are_left_out_on_a_large_fleet(cli, make_scenario, tmp_path):
    """Five pools, two with 10-hour restarts: leaving out either alone gains nothing, both together do.

    A sync job's restart is its slowest pool's. Review: one pool at a time stopped at once, and the job kept both:
    51.5 days (goodput 27%) where four pools gave 14.7.
    """
    slow = {"restart_base_minutes": 600}
    fleet = [{"name": f"p{k}", "chip": "h100-sxm", "site": "s0", "units": 1024, **(slow if k < 2 else {})}
             for k in range(4)] + [{"name": "p4", "chip": "h100-sxm", "site": "s0", "units": 64}]
    path = make_scenario(workload={"model": "llama3-70b", "tokens": 2.0e12, "seq_len": 8192}, horizon_days=400,
                         fleet=fleet, strategy={"mode": "sync"},
                         reliability={"enabled": True, "mtbf_chip_days": 1200.0})
    out = tmp_path / "out"
    assert cli("run", path, "--out", out).exit_code == 0
    s = json.loads((out / "summary.json").read_text())
    assert not {"p0", "p1"} & set(s["strategy"]["pools"]), s["strategy"]
    assert s["metrics"]["time_to_train_days"]["p50"] < 20
