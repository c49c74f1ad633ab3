"""The names the engine, the tables and the reports share: strategy modes, event kinds, output files.

Both are str enums: each member is its own string, so it reads and writes as the plain word in JSON, CSV and
the scenario format.
"""

from __future__ import annotations

from enum import StrEnum


class Mode(StrEnum):
    """How the pools train one model together (docs/formats.md, ``strategy.mode``)."""

    AUTO = "auto"
    SINGLE = "single"
    SYNC = "sync"
    DILOCO = "diloco"
    SEQUENTIAL = "sequential"


MULTI_POOL_MODES = (Mode.SYNC, Mode.DILOCO, Mode.SEQUENTIAL)  # modes that need two or more pools


class EventKind(StrEnum):
    """What happened, in events.csv's ``event`` column."""

    DELIVERY = "delivery"
    COMMISSIONING = "commissioning"
    CLOUD_START = "cloud_start"
    CLOUD_END = "cloud_end"
    SHARE = "share"  # chips left to a job by the jobs before it in priority (planner/sim/portfolio.py)
    POWER = "power"  # chips come into or go out of service with their site's power (planner/sim/power.py)
    START = "start"
    WAIT = "wait"  # training stops: too few chips of the job's pools for any layout (it waits for chips)
    REPLAN = "re-plan"  # (the contract's spelling; before 2026-12 events.csv wrote `replan`)
    MOVE = "move"
    CHECKPOINT = "checkpoint"
    FAILURE = "failure"
    REPAIR = "repair"
    RESTART = "restart"
    MAINTENANCE = "maintenance"
    FINISH = "finish"
    GIVE_UP = "give_up"


# the files each command writes into its output folder (planner/ownership.py: a folder of that kind holds only them)
OUTPUT_FILES: dict[str, tuple[str, ...]] = {
    "report": ("summary.json", "schedule.csv", "events.csv", "replications.csv", "cashflow.csv", "report.html",
               "report.xlsx"),
    "sweep": ("sweep.parquet", "sweep.csv", "sweep.html"),
    "sensitivity": ("sensitivity.csv", "sensitivity.html"),
}
