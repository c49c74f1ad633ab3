"""Monte Carlo end to end: `planner run` of the ramp with failures, as a user types it, timed from outside.

Targets (issue "engine speed"): 1,000 replications under 3 s wall on 2 cores (best of two runs, the local
backend, the report written); Dask on a local cluster within 2x of the local pool for 200 replications.
Also prints where one run's time goes (start-up, the strategy pick, the workers, the report) and the load.

    python benchmarks/montecarlo_cli.py [--replications 1000] [--scenario FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RAMP = ROOT / "scenarios" / "ascend-ramp-2024.yaml"


def planner(*args: str) -> float:
    """Wall seconds of one `planner` command (its output discarded; a failure stops the benchmark)."""
    exe = shutil.which("planner") or sys.exit("planner is not installed: pip install -e .")
    t0 = time.perf_counter()
    done = subprocess.run([exe, *args], capture_output=True, text=True, check=False)
    took = time.perf_counter() - t0
    if done.returncode > 1:
        sys.exit(f"planner {' '.join(args)} exited {done.returncode}: {done.stderr.strip()[-500:]}")
    return took


def main() -> None:
    """Time the runs and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--replications", type=int, default=1000)
    ap.add_argument("--scenario", default=str(RAMP))
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        scenario = Path(tmp) / "mc.yaml"
        text = Path(a.scenario).read_text(encoding="utf-8")
        scenario.write_text(re.sub(r"replications: *\d+", "replications: 64", text), encoding="utf-8")
        print(f"load before: {os.getloadavg()[0]:.2f} (1-min average) on {os.cpu_count()} cores")
        runs = [planner("run", str(scenario), "--out", f"{tmp}/r{i}", "--seed", "8", "--replications",
                        str(a.replications)) for i in range(2)]
        summary = json.loads((Path(tmp) / "r0" / "summary.json").read_text(encoding="utf-8"))
        t = summary["metrics"]["time_to_train_days"]
        print(f"{a.replications:,} replications: {runs[0]:.2f} s and {runs[1]:.2f} s wall, best {min(runs):.2f} s "
              f"(target < 3 s); P10/P50/P90 {t['p10']:.0f}/{t['p50']:.0f}/{t['p90']:.0f} days")
        one = planner("run", str(scenario), "--out", f"{tmp}/one", "--seed", "8", "--replications", "1")
        print(f"1 replication (start-up, the strategy pick, the report): {one:.2f} s wall")
        local = planner("run", str(scenario), "--out", f"{tmp}/l", "--seed", "9", "--replications", "200",
                        "--workers", "2")
        dask = planner("run", str(scenario), "--out", f"{tmp}/k", "--seed", "9", "--replications", "200",
                       "--backend", "dask", "--workers", "2")
        same = (json.loads((Path(tmp) / "l" / "summary.json").read_text(encoding="utf-8"))["metrics"]
                == json.loads((Path(tmp) / "k" / "summary.json").read_text(encoding="utf-8"))["metrics"])
        print(f"200 replications: local {local:.2f} s, Dask {dask:.2f} s ({dask / local:.2f}x, target < 2x); "
              f"the same metrics: {same}")
        print(f"load after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
