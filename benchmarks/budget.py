"""The work estimate of planner/budget.py against a measured run: events estimated vs simulated, seconds per event.

Prints the figures behind ``SECONDS_PER_EVENT`` (simulation plus report, per estimated event). Target: the
estimate is an upper bound of the events (ratio >= 1) and the predicted seconds are within 3x of the measured.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from planner.api import simulate
from planner.budget import SECONDS_PER_EVENT, run_estimate
from planner.loader import from_dict
from planner.report import write_report

SCENARIO = {
    "name": "maintenance-storm",
    "horizon_days": 365,
    "workload": {"model": "llama3-8b", "tokens": 1.0e14, "seq_len": 8192},
    "fleet": [{"name": "h", "chip": "h100-sxm", "units": 64}],
    "reliability": {"maintenance_every_days": 0.0417, "maintenance_minutes": 1},
}


def main() -> None:
    """Run the scenario once and print estimated vs simulated events and seconds."""
    s = from_dict(SCENARIO, "benchmark")
    est = run_estimate(s, 1)
    t0 = time.perf_counter()
    result = simulate(s, replications=1)
    with tempfile.TemporaryDirectory() as tmp:
        write_report(result, Path(tmp) / "r")
    seconds = time.perf_counter() - t0
    events = len(result.events) if result.events is not None else 0
    print(f"events estimated {est.events_per_replication:,.0f}, simulated {events:,} "
          f"(ratio {est.events_per_replication / max(events, 1):.2f})")
    print(f"seconds measured {seconds:.1f}, predicted {est.seconds:.1f}; "
          f"per estimated event {seconds / est.events_per_replication:.2e} (SECONDS_PER_EVENT {SECONDS_PER_EVENT:.1e})")


if __name__ == "__main__":
    main()
