"""Simulation speed: one replication of the 2024 Ascend ramp (100,000 chips, two years, failures on).

Target: under 0.2 s per replication in-process. The layout planners are built once per scenario
(shared by all replications) and reported separately. Events scale with tranches and failures.
Run: python benchmarks/simulation_speed.py [--replications N]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from planner.bridge import layout_planners
from planner.loader import load_scenario
from planner.sim.replication import run_replication

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    """Time the replications and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--replications", type=int, default=10)
    ap.add_argument("--scenario", default=str(ROOT / "scenarios" / "ascend-ramp-2024.yaml"))
    args = ap.parse_args()
    s = load_scenario(args.scenario)
    t0 = time.perf_counter()
    planners = layout_planners(s)
    setup = time.perf_counter() - t0
    seeds = np.random.SeedSequence(s.simulation.seed).spawn(args.replications)
    times, failures = [], []
    for sd in seeds:
        t = time.perf_counter()
        m = run_replication(s, planners, sd).metrics
        times.append(time.perf_counter() - t)
        failures.append(m["failures"])
    t = time.perf_counter()
    run_replication(s, planners, seeds[0], tables=True)
    tables = time.perf_counter() - t
    times.sort()
    print(f"{s.name}: layout planners built once in {setup:.3f} s")
    print(f"  one replication: median {times[len(times) // 2]:.3f} s, worst {times[-1]:.3f} s "
          f"over {args.replications} (job failures per replication ~{int(np.median(failures))})")
    print(f"  replication with daily tables and events: {tables:.3f} s")


if __name__ == "__main__":
    main()
