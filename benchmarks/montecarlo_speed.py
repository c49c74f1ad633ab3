"""Monte Carlo speed: replications per second of the 2024 Ascend ramp (failures on) for 1 and N workers.

Target (issue 10): 1,000 replications in under 20 s wall on a 2-core machine, local backend, and a
per-replication cost (and memory) that stays flat as the count grows. Also checks that every worker
count gives the same summary. Run: python benchmarks/montecarlo_speed.py [--replications 100,1000,10000]
[--workers 1,2] (each count runs with each worker count).
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

from planner import api
from planner.loader import load_scenario
from planner.sim.parallel import default_workers

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    """Time api.simulate for each worker count and print replications/s."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--replications", default="100", help="comma-separated replication counts")
    ap.add_argument("--workers", default=f"1,{default_workers()}")
    ap.add_argument("--scenario", default=str(ROOT / "scenarios" / "ascend-ramp-2024.yaml"))
    args = ap.parse_args()
    s = load_scenario(args.scenario)
    for n in [int(x) for x in args.replications.split(",")]:
        _time_count(s, n, [int(x) for x in args.workers.split(",")])


def _time_count(s, n: int, workers: list[int]) -> None:
    summaries = {}
    for w in workers:
        t0 = time.perf_counter()
        r = api.simulate(s, replications=n, workers=w)
        wall = time.perf_counter() - t0
        summaries[w] = r.summary
        rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        child_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(f"{n} replications, {w} worker(s): {wall:.1f} s wall, "
              f"{n / wall:.1f} replications/s, {1000 * wall / n:.0f} ms each, "
              f"peak RSS {rss_mib:.0f} MiB (largest worker {child_mib:.0f} MiB); "
              f"p10/p50/p90 {r.summary.metrics['time_to_train_days'].p10:.1f}/"
              f"{r.summary.metrics['time_to_train_days'].p50:.1f}/"
              f"{r.summary.metrics['time_to_train_days'].p90:.1f} days")
    same = all(v == next(iter(summaries.values())) for v in summaries.values())
    print(f"identical summary.json for worker counts {sorted(summaries)}: {same}")
    print(f"1,000 replications would take about {1000 / (n / wall):.0f} s with "
          f"{max(summaries)} worker(s) (target < 20 s)")


if __name__ == "__main__":
    main()
