"""When a finish meets a deadline date: by the end of that day, wherever a date is a deadline.

A finish at ``t`` days since the start has the calendar date ``start + floor(t)`` (day 0 is the start date, so
0.5 days is still the start date: planner.sim.runner.finish_date). A deadline date ``D`` is met when the finish
date is ``D`` or earlier, that is when ``t < (D - start).days + 1``: a finish at day 120.008 on the deadline's
date meets it; one at 00:00 of the day after does not.
"""

from __future__ import annotations

import datetime as dt
import math


def deadline_end_days(start: dt.date, deadline: dt.date) -> float:
    """The first instant after the deadline's day, in days since the start (a finish must come before it)."""
    return float((deadline - start).days + 1)


def meets_deadline(finish_days: float | None, start: dt.date, deadline: dt.date) -> bool:
    """Whether a finish ``finish_days`` after the start comes by the end of the ``deadline`` date (never: no)."""
    if finish_days is None or not math.isfinite(finish_days):
        return False
    return finish_days < deadline_end_days(start, deadline)


def past_horizon(start: dt.date, deadline: dt.date, horizon_days: float) -> bool:
    """Whether the horizon ends before the deadline's day does: a run unfinished at the horizon may still meet it."""
    return deadline_end_days(start, deadline) > horizon_days
