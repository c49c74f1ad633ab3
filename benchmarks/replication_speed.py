"""One replication's cost: milliseconds per replication of a scenario (default: the seed scenario).

The layout planners and the strategy context are built once and shared, as `planner run` does; the
first replication (which fills the layout caches and picks the strategy) is timed apart.
Target: 1,000 replications of the seed scenario under 20 s on two cores (issue: risk), i.e. about
40 ms per replication per core.

Run: python benchmarks/replication_speed.py [--replications N] [--scenario FILE]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from planner.bridge import layout_planners
from planner.loader import load_scenario
from planner.sim.replication import run_replication
from planner.strategy import Context

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    """Time the replications and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--replications", type=int, default=30)
    ap.add_argument("--scenario", default=str(ROOT / "scenarios" / "ascend-ramp-2024.yaml"))
    args = ap.parse_args()
    s = load_scenario(args.scenario)
    t0 = time.perf_counter()
    ctx = Context(s, layout_planners(s))
    seeds = np.random.SeedSequence(s.simulation.seed).spawn(args.replications + 1)
    first = run_replication(s, ctx, seeds[0], replications=args.replications + 1)
    t1 = time.perf_counter()
    failures = []
    for q in seeds[1:]:
        failures.append(run_replication(s, ctx, q, replications=args.replications + 1).metrics["failures"])
    t2 = time.perf_counter()
    print(f"{s.name}: set-up + first replication {t1 - t0:.2f} s ({first.metrics['mode']}: {first.metrics['pool']})")
    print(f"  {(t2 - t1) / args.replications * 1000:.1f} ms per replication over {args.replications} "
          f"({np.mean(failures):.0f} failures each on average)")


if __name__ == "__main__":
    main()
