"""Goal seek: memory per evaluation and wall time (`planner solve`, planner/decide/solve.py).

Target (issue 16): memory flat over the evaluations (each point's run is freed before the next; before, about
16 MiB stayed per evaluation, ~1 GB at the 40-evaluation limit), and on two cores two values evaluated at once
(the bracket split in thirds) with the same answer as the bisection on one.

1. ``--points`` evaluations one after the other in this process (one worker), RSS after each, and the growth
   per evaluation between the 5th and the last.
2. The goal seek of the seed question (rented H100 to finish the ramp by 2025-03-01 at P90) for each
   ``--workers`` count: answer, evaluations, rounds, wall time, RSS after each round (this process) and the
   largest worker process.

Run: python benchmarks/solve_memory.py [--points 30] [--workers 1,2] [--replications 20] [--scenario FILE]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import time
from pathlib import Path

from planner.decide.points import run_points
from planner.decide.solve import solve
from planner.edits import set_values
from planner.loader import load_scenario
from planner.sim.parallel import default_workers

ROOT = Path(__file__).resolve().parent.parent
VARY = "fleet[1].cloud.units"
MIB = 2 ** 20


def rss_mib() -> float:
    """This process's resident memory now [MiB] (Linux), else its peak."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / MIB
    except OSError:  # pragma: no cover - not Linux
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def children_peak_mib() -> float:
    """The largest resident memory any finished worker process reached [MiB]."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def evaluations_in_process(s, points: int, replications: int) -> None:
    """``points`` evaluations in this process, one at a time, with RSS after each."""
    print(f"{points} evaluations in one process ({replications} replications each), RSS after each:")
    rss = []
    t0 = time.perf_counter()
    for i in range(points):
        units = 1024 + (31 * 1024 * i) // max(1, points - 1)
        run_points([set_values(s, {VARY: units})], replications=replications, seed=1, workers=1)
        rss.append(rss_mib())
        print(f"  {i + 1:3d}  {VARY}={units:6d}  RSS {rss[-1]:7.1f} MiB", flush=True)
    wall = time.perf_counter() - t0
    if points > 5:
        growth = (rss[-1] - rss[4]) / (points - 5)
        print(f"  RSS after 5: {rss[4]:.1f} MiB, after {points}: {rss[-1]:.1f} MiB: {growth:+.2f} MiB per evaluation "
              f"(target: about 0); {wall:.1f} s wall, {wall / points:.2f} s per evaluation")


def goal_seek(s, workers: int, replications: int) -> dict:
    """The seed question's goal seek with ``workers`` values evaluated at once."""
    rounds = []
    t0 = time.perf_counter()

    def tick(k, _n):
        rounds.append((k, rss_mib(), time.perf_counter() - t0))

    res = solve(s, VARY, dt.date(2025, 3, 1), quantile=0.9, low=0, high=32768, replications=replications, seed=1,
                workers=workers, progress=tick)
    wall = time.perf_counter() - t0
    print(f"goal seek, {workers} worker(s): {VARY} = {res['value']} (p90 finish {res['finish_date']}), "
          f"{len(res['evaluations'])} evaluations in {len(rounds)} rounds, {wall:.1f} s wall")
    for i, (k, rss, at) in enumerate(rounds):
        print(f"  round {i:2d}: {k:3d} evaluated, RSS {rss:7.1f} MiB, at {at:5.1f} s")
    if workers > 1:
        print(f"  largest worker process so far: {children_peak_mib():.0f} MiB")
    return {"value": res["value"], "wall": wall}


def main() -> None:
    """Evaluations in one process, then the goal seek for each worker count."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--points", type=int, default=30, help="evaluations in one process (0: skip)")
    ap.add_argument("--workers", default=f"1,{min(2, default_workers())}", help="comma-separated worker counts")
    ap.add_argument("--replications", type=int, default=20)
    ap.add_argument("--scenario", default=str(ROOT / "scenarios" / "ascend-ramp-2024.yaml"))
    args = ap.parse_args()
    s = load_scenario(args.scenario)
    load = os.getloadavg()
    print(f"{os.cpu_count()} cores, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; RSS at start "
          f"{rss_mib():.1f} MiB")
    if args.points:
        evaluations_in_process(s, args.points, args.replications)
    answers = {w: goal_seek(s, w, args.replications) for w in dict.fromkeys(int(x) for x in args.workers.split(","))}
    if len({a["value"] for a in answers.values()}) > 1:
        print("the answers differ between worker counts:", {w: a["value"] for w, a in answers.items()})


if __name__ == "__main__":
    main()
