"""Flat result records of a simulated run: what the reports, the CLI, the app and notebooks read.

Every table is a pandas DataFrame with the columns listed here (units in the names).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .kinds import EventKind
from .metrics import DISTRIBUTION_KEYS
from .perf.layout import LAYOUT_FIELDS
from .summary import Summary

if TYPE_CHECKING:  # pandas loads on first use: `planner estimate` never needs it
    import pandas as pd

SCHEDULE_COLUMNS = [
    "date",  # ISO date string, one row per day and pool
    "day",  # int, days since scenario start
    "pool",  # pool name
    "units_delivered",  # cumulative units delivered (owned) or rented (cloud) by that day
    "units_in_service",  # commissioned or rented, not held back (reserved_fraction); units_failed of them are under
    # repair (a portfolio job's row: the chips it held)
    "units_in_training",  # used by the training job's layout
    "units_failed",  # out of service for repair
    "tokens_trained",  # cumulative tokens trained (kept) by the job on this pool
    "cost_usd",  # cumulative cost of this pool (cloud rent, amortized capex, energy)
]
EVENT_KINDS = tuple(k.value for k in EventKind)  # supply (delivery .. cloud_end), then the job's
EVENT_COLUMNS = [
    "time_days",  # float, days since scenario start
    "date",  # ISO date string
    "pool",  # pool name, or "" for job-wide events
    "event",  # one of EVENT_KINDS
    "units",  # units involved (chips delivered, failed, in the new layout ...)
    "detail",  # free text
]
# the delivery plan: cumulative units by date, and what of them is left for training (reserved_fraction held back)
PLAN_COLUMNS = ["date", "pool", "planned_units", "usable_units"]
LAYOUT_COLUMNS = ["start_days", "end_days", "pool", "mode", "units", *LAYOUT_FIELDS, "batch_seqs", "tokens_per_s",
                  "mfu"]
REPLICATION_COLUMNS = ["replication", "finished", *DISTRIBUTION_KEYS, "mode", "pool", "failures", "moves", "link_tb",
                       "model_factor", "start_days"]
LINK_COLUMNS = ["date", "link", "tb"]  # terabytes over each inter-site link per day
# money by month, pool and kind (purchase, reservation, on_demand, energy), planner/cashflow.py
CASHFLOW_COLUMNS = ["month", "pool", "kind", "committed_usd", "paid_usd"]


@dataclass(frozen=True)
class Event:
    """One thing that happened in a replication, at ``time_h`` hours since the start."""

    time_h: float
    pool: str  # "" for job-wide events
    kind: str  # one of EVENT_KINDS
    units: int
    detail: str = ""


def _frame(columns) -> pd.DataFrame:
    """An empty table with these columns."""
    import pandas as pd

    return pd.DataFrame(columns=list(columns))


@dataclass
class RunResult:
    """A whole `planner run`: the summary.json figures plus the tables of the first replication."""

    scenario_name: str
    summary: Summary  # summary.json (docs/formats.md); summary.to_json() is the file's content
    start: dt.date | None = None  # day 0 of the run
    schedule: pd.DataFrame = field(default_factory=lambda: _frame(SCHEDULE_COLUMNS))
    events: pd.DataFrame = field(default_factory=lambda: _frame(EVENT_COLUMNS))
    plan: pd.DataFrame = field(default_factory=lambda: _frame(PLAN_COLUMNS))
    layouts: pd.DataFrame = field(default_factory=lambda: _frame(LAYOUT_COLUMNS))
    replications: pd.DataFrame = field(default_factory=lambda: _frame(REPLICATION_COLUMNS))
    links: pd.DataFrame = field(default_factory=lambda: _frame(LINK_COLUMNS))
    compare: list[dict] = field(default_factory=list)  # every mode side by side (``planner compare``)
    # day, date, tokens_p10/p50/p90 (cumulative tokens trained over the sampled replications), tokens_target
    tokens_fan: pd.DataFrame = field(default_factory=lambda: _frame(()))
    inputs: dict[str, Any] = field(default_factory=dict)  # the scenario as run (its JSON form), echoed by reports
    # month x pool x kind money of one replication (planner/cashflow.py), and which replication it is
    cashflow: pd.DataFrame = field(default_factory=lambda: _frame(CASHFLOW_COLUMNS))
    cashflow_note: str = ""
    # a portfolio's fleet by day and pool: usable chips in service, site power applied (the site-power chart's)
    fleet_in_service: pd.DataFrame = field(default_factory=lambda: _frame(("date", "pool", "units_in_service")))
