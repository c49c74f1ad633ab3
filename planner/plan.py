"""The delivery plan of a pool, read one way everywhere: planned units, usable units, the cloud window.

Pure functions over the scenario's pool records (``scenario.Pool``, ``scenario.Cloud``); times are
hours since the scenario start, dates are ``datetime.date``.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import TYPE_CHECKING

import numpy as np

from .units import HOURS_PER_DAY

if TYPE_CHECKING:  # pragma: no cover
    from .scenario import Cloud, Pool


def usable(units: int, reserved_fraction: float) -> int:
    """Chips left for training once the reserved share is held back (rounded down)."""
    return int(math.floor(units * (1.0 - reserved_fraction) + 1e-9))


def owned_planned(pool: Pool) -> int:
    """Owned chips once every planned delivery has arrived."""
    return max([pool.units] + [d.units for d in pool.deliveries])


def planned_units(pool: Pool) -> int:
    """Full planned size: owned units after all deliveries, plus the cloud allotment."""
    return owned_planned(pool) + (pool.cloud.units if pool.cloud else 0)


def hours_since(start: dt.date, day: dt.date) -> float:
    """Hours from ``start`` to ``day`` (negative before it)."""
    return (day - start).days * HOURS_PER_DAY


def cloud_window_hours(start: dt.date, cloud: Cloud) -> tuple[float, float]:
    """(first hour, first hour after) of a rental, counted from the scenario start."""
    return hours_since(start, cloud.from_), hours_since(start, cloud.until)


def rented_at(start: dt.date, cloud: Cloud | None, t_h):
    """Rented chips at hours ``t_h`` (a number or an array): the contract's allotment inside ``[from, until)``."""
    if cloud is None:
        return np.zeros_like(np.asarray(t_h, dtype=float)) if np.ndim(t_h) else 0
    t0, t1 = cloud_window_hours(start, cloud)
    t = np.asarray(t_h, dtype=float)
    on = (t >= t0) & (t < t1)
    return np.where(on, cloud.units, 0) if np.ndim(t_h) else (cloud.units if bool(on) else 0)


def plan_rows(start: dt.date, pool: Pool) -> list[tuple[str, str, int]]:
    """The plan as (ISO date, pool, planned cumulative units) rows: owned deliveries and the cloud window."""
    rows = []
    if pool.units:
        rows.append((start.isoformat(), pool.name, pool.units))
    for d in pool.deliveries:
        rows.append((d.date.isoformat(), pool.name, d.units))
    if pool.cloud:
        owned = owned_planned(pool)
        rows.append((pool.cloud.from_.isoformat(), pool.name, owned + pool.cloud.units))
        rows.append((pool.cloud.until.isoformat(), pool.name, owned))
    return rows
