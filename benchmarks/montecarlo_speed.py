"""Monte Carlo speed: replications per second of the 2024 Ascend ramp (failures on) for 1 and N workers.

Target (issue 10): 1,000 replications in under 20 s wall on a 2-core machine, local backend, and a
per-replication cost that stays flat as the count grows. Also checks that every worker count gives
the same summary. Run: python benchmarks/montecarlo_speed.py [--replications N] [--workers 1,2]
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
    ap.add_argument("--replications", type=int, default=100)
    ap.add_argument("--workers", default=f"1,{default_workers()}")
    ap.add_argument("--scenario", default=str(ROOT / "scenarios" / "ascend-ramp-2024.yaml"))
    args = ap.parse_args()
    s = load_scenario(args.scenario)
    summaries = {}
    for w in [int(x) for x in args.workers.split(",")]:
        t0 = time.perf_counter()
        r = api.simulate(s, replications=args.replications, workers=w)
        wall = time.perf_counter() - t0
        summaries[w] = r.summary
        rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"{args.replications} replications, {w} worker(s): {wall:.1f} s wall, "
              f"{args.replications / wall:.1f} replications/s, {1000 * wall / args.replications:.0f} ms each, "
              f"peak RSS of this process {rss_mib:.0f} MiB; "
              f"p10/p50/p90 {r.summary['metrics']['time_to_train_days']['p10']:.1f}/"
              f"{r.summary['metrics']['time_to_train_days']['p50']:.1f}/"
              f"{r.summary['metrics']['time_to_train_days']['p90']:.1f} days")
    same = all(v == next(iter(summaries.values())) for v in summaries.values())
    print(f"identical summary.json for worker counts {sorted(summaries)}: {same}")
    print(f"1,000 replications would take about {1000 / (args.replications / wall):.0f} s with "
          f"{max(summaries)} worker(s) (target < 20 s)")


if __name__ == "__main__":
    main()
