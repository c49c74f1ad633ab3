"""Portfolio speed: replications of a 5-job, 3-pool, 2-site portfolio against the one-job seed scenario.

Target (issue "the lab's fleet"): 1,000 replications of the portfolio within 3x the time of the seed
scenario's. Prints wall seconds of each (the local backend, all cores), their ratio and the machine's load.

    python benchmarks/portfolio_speed.py [--replications 1000] [--breakdown 40]

``--breakdown N`` (in one process, after 60 replications that fill the caches): milliseconds per portfolio
replication over N more, how much of it goes to plans for chip counts not met before (layout searches), and
which job and strategy mode ask for them.
"""

from __future__ import annotations

import argparse
import collections
import copy
import os
import time
from pathlib import Path

import numpy as np
import yaml

from planner.loader import from_dict
from planner.sim.runner import run_scenario

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "scenarios" / "ascend-ramp-2024.yaml"


def portfolio(seed_doc: dict) -> dict:
    """The seed fleet plus a third pool at the Ascend site, its power ramp, and five jobs."""
    doc = copy.deepcopy(seed_doc)
    doc.pop("workload")
    doc.pop("expect", None)
    doc["name"] = "portfolio-5-jobs"
    doc["fleet"].append({"name": "ascend-910c", "chip": "ascend-910c", "site": "cn-north", "units": 2048,
                         "deliveries": [{"date": "2024-09-30", "units": 8192}]})
    doc["sites"] = [{"name": "cn-north", "pue": 1.3,
                     "power_mw": [{"date": "2024-03-01", "mw": 25}, {"date": "2024-10-01", "mw": 60},
                                  {"date": "2025-04-01", "mw": 140}]}]
    jobs = [("flagship", {"model": "deepseek-v3", "tokens": 14.8e12, "seq_len": 4096,
                          "global_batch_tokens": 62914560}),
            ("dense-405b", {"model": "llama3-405b", "tokens": 6.0e12, "seq_len": 8192,
                            "global_batch_tokens": 16777216}),
            ("dense-70b", {"model": "llama3-70b", "tokens": 2.0e12, "seq_len": 8192, "global_batch_tokens": 16777216}),
            ("ablation-8b", {"model": "llama3-8b", "tokens": 1.0e12, "seq_len": 8192, "global_batch_tokens": 4194304}),
            ("ablation-8b-long", {"model": "llama3-8b", "tokens": 0.5e12, "seq_len": 32768,
                                  "global_batch_tokens": 4194304})]
    doc["jobs"] = [{"name": n, "workload": w, "priority": i + 1} for i, (n, w) in enumerate(jobs)]
    return doc


def timed(doc: dict, n: int) -> float:
    """Wall seconds of ``n`` replications of a scenario document (local backend, all cores)."""
    s = from_dict(doc)
    t0 = time.perf_counter()
    run_scenario(s, replications=n, seed=1, cash_flow=False)
    return time.perf_counter() - t0


def breakdown(doc: dict, n: int, warm: int = 60) -> None:
    """Where a portfolio replication's time goes once the caches are warm: new plans against the rest."""
    from planner.sim.portfolio import portfolio_context, portfolio_replication
    from planner.strategy import base

    s = from_dict(doc)
    pctx = portfolio_context(s)
    seeds = np.random.SeedSequence(1).spawn(warm + n)
    for q in seeds[:warm]:
        portfolio_replication(pctx, q, replications=warm + n)
    new_s, by = [0.0], collections.Counter()
    plan, depth = base.Strategy.plan, [0]

    def counted(self, avail, size_for_failures=True):
        if depth[0] or (self.grid(avail), size_for_failures) in self._memo:
            return plan(self, avail, size_for_failures)
        depth[0] += 1
        t0 = time.perf_counter()
        try:
            return plan(self, avail, size_for_failures)
        finally:
            depth[0] -= 1
            new_s[0] += time.perf_counter() - t0
            by[(self.ctx.scenario.workload.model, self.ctx.scenario.workload.seq_len, self.mode.value)] += 1

    base.Strategy.plan = counted
    try:
        t0 = time.perf_counter()
        for q in seeds[warm:]:
            portfolio_replication(pctx, q, replications=warm + n)
        total = time.perf_counter() - t0
    finally:
        base.Strategy.plan = plan
    print(f"after {warm} replications: {1000 * total / n:.0f} ms per portfolio replication over {n}, of which "
          f"{1000 * new_s[0] / n:.0f} ms in {sum(by.values()) / n:.1f} plans for chip counts not met before")
    for (model, seq, mode), k in by.most_common(6):
        print(f"  {model} (sequence {seq:,}), {mode}: {k / n:.1f} new plans per replication")


def main() -> None:
    """Time the seed scenario and the portfolio; print both, their ratio and the load."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--replications", type=int, default=1000)
    ap.add_argument("--breakdown", type=int, default=0, metavar="N")
    a = ap.parse_args()
    seed_doc = yaml.safe_load(SEED.read_text())
    seed_doc["reliability"] = {"enabled": True}
    print(f"load before: {os.getloadavg()[0]:.2f} (1-min average) on {os.cpu_count()} cores")
    one = timed(seed_doc, a.replications)
    five = timed(portfolio(seed_doc), a.replications)
    print(f"{a.replications:,} replications: seed scenario {one:.1f} s, 5-job 3-pool 2-site portfolio {five:.1f} s, "
          f"ratio {five / one:.2f}x (target <= 3x)")
    if a.breakdown:
        breakdown(portfolio(seed_doc), a.breakdown)
    print(f"load after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
