"""Engine speed: milliseconds per replication by pools, tranches and failure rate.

Also where one replication's time goes (the failure loop against the rest). Prints the machine's load.

    python benchmarks/engine_speed.py [--replications 20]

Targets (issue "engine speed"): 16 pools cost at most 4x of 4 pools per replication; 1,000 replications of
the seed ramp under 3 s wall on 2 cores (../shared/checks/40-montecarlo; see montecarlo_speed.py).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import time

import numpy as np

from planner.bridge import layout_planners
from planner.loader import from_dict
from planner.sim.engine import TrainingJob
from planner.sim.replication import run_replication
from planner.strategy import Context


def pools_scenario(n: int, risk: bool, tranches: int = 2, mtbf: float | None = None) -> dict:
    """``n`` pools at two linked sites, each with ``tranches`` deliveries (slipping when ``risk``)."""
    fleet = []
    for i in range(n):
        deliveries = [{"date": (dt.date(2025, 2, 1) + dt.timedelta(days=300 * j // tranches)).isoformat(),
                       "units": 512 * (j + 2)} for j in range(tranches)]
        pool = {"name": f"p{i}", "chip": ["h100-sxm", "a100-80gb", "h800", "ascend-910b"][i % 4], "site": f"s{i % 2}",
                "units": 512, "deliveries": deliveries}
        if risk:
            pool["delivery_risk"] = {"slip_days": {"dist": "uniform", "low": 0, "high": 60}}
        fleet.append(pool)
    rel = {"enabled": True} if mtbf is None else {"enabled": True, "mtbf_chip_days": mtbf}
    return {"name": f"pools{n}", "start": "2025-01-01", "horizon_days": 700,
            "workload": {"model": "llama3-70b", "tokens": 3e12, "seq_len": 8192},
            "fleet": fleet, "links": [{"sites": ["s0", "s1"], "gbps": 400, "latency_ms": 20}],
            "strategy": {"mode": "auto"}, "reliability": rel, "simulation": {"seed": 1, "replications": 1}}


def per_replication(doc: dict, n: int) -> tuple[float, float, float, float]:
    """(first replication [s], ms per later replication, share of it in the failure loop, failures each)."""
    s = from_dict(doc)
    ctx = Context(s, layout_planners(s))
    seeds = np.random.SeedSequence(1).spawn(n + 1)
    t0 = time.perf_counter()
    run_replication(s, ctx, seeds[0], replications=n)
    first = time.perf_counter() - t0
    loop = [0.0]
    inner = TrainingJob._through_failures

    def timed(job):
        t = time.perf_counter()
        try:
            return inner(job)
        finally:
            loop[0] += time.perf_counter() - t

    TrainingJob._through_failures = timed
    failures = 0
    try:
        t0 = time.perf_counter()
        for seed in seeds[1:]:
            failures += run_replication(s, ctx, seed, replications=n).metrics["failures"]
        rest = time.perf_counter() - t0
    finally:
        TrainingJob._through_failures = inner
    return first, rest / n * 1000, loop[0] / rest if rest else 0.0, failures / n


def main() -> None:
    """Print the figures."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--replications", type=int, default=20)
    n = ap.parse_args().replications
    print(f"{n} replications each after the first; load {os.getloadavg()[0]:.2f}")
    print(f"{'case':<34}{'first s':>9}{'ms/rep':>9}{'loop':>7}{'failures':>10}")
    base = {}
    for pools in (4, 8, 16):
        for risk in (False, True):
            first, ms, loop, fails = per_replication(pools_scenario(pools, risk), n)
            base.setdefault(risk, ms)
            print(f"{f'{pools} pools' + (', delivery risk' if risk else ''):<34}{first:>9.2f}{ms:>9.1f}"
                  f"{loop:>7.0%}{fails:>10.0f}  ({ms / base[risk]:.1f}x of 4 pools)")
    for tranches in (2, 20, 100):
        first, ms, loop, fails = per_replication(pools_scenario(2, True, tranches), n)
        print(f"{f'2 pools, {tranches} tranches':<34}{first:>9.2f}{ms:>9.1f}{loop:>7.0%}{fails:>10.0f}")
    for mtbf in (20_000.0, 2_000.0, 200.0):
        first, ms, loop, fails = per_replication(pools_scenario(2, False, mtbf=mtbf), n)
        print(f"{f'2 pools, MTBF {mtbf:,.0f} chip-days':<34}{first:>9.2f}{ms:>9.1f}{loop:>7.0%}{fails:>10.0f}"
              f"  ({ms * 1000 / max(fails, 1):.1f} us per failure)")
    print(f"load {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
