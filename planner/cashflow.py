"""Month-by-month money of one replication: ``cashflow.csv`` and the report's cash-flow sheet and chart.

Pure functions over what a replication gives each pool (its delivered chips and the job's chips in training
as step functions of hours since the start, and its dated deliveries), priced with planner/costs.py, so the
committed column adds up to the replication's committed spend (summary.json ``costs.committed_usd``).

One row per month, pool and kind:

- ``purchase``: owned chips. committed = straight-line amortization of the share not reserved, from delivery
  to the job's end or the write-off's (costs.owned_committed_usd); paid = the purchase price of the chips delivered
  in the month
  (every delivered chip, the reserved share too; chips there by day 0, delivered before the
  start too, were bought before it).
- ``reservation``: a reserved rental, month by month over its contracted window to the end of its term, from the
  scenario's start at the earliest (costs.reserved_cloud_usd); committed = the share not reserved, paid = the
  provider's monthly bill for every reserved chip (the held-back share too, as purchases are paid in full).
- ``on_demand``: the rented chip-hours the job held in the month at the hourly price; paid = committed.
- ``energy``: owned chips in training at TDP x PUE x the price per kWh (rental prices include power);
  paid = committed.

Months are calendar months (``YYYY-MM``); a month with neither committed nor paid money has no row.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from . import costs, plan
from .results import CASHFLOW_COLUMNS
from .scenario import LAST_DAY, Currency, Pool, Scenario

if TYPE_CHECKING:
    import pandas as pd

KINDS = ("purchase", "reservation", "on_demand", "energy")


@dataclass(frozen=True)
class PoolSupply:
    """What one replication gave a pool.

    ``delivered``: owned chips delivered, a step function (times [h], cumulative units); ``training``: the
    job's chips in training on the pool (times [h], units), None when the job ran elsewhere;
    ``purchases``: (time [h], units) of each delivery bought during the plan (day 0's chips left out).
    """

    delivered: tuple[Sequence[float], Sequence[float]]
    training: tuple[Sequence[float], Sequence[float]] | None
    purchases: tuple[tuple[float, int], ...] = ()
    rented: costs.Steps | None = None  # the rented chips in service over time (a slipped start), else the contract's


def month_start(day: dt.date) -> dt.date:
    """The first day of ``day``'s month."""
    return day.replace(day=1)


def next_month(day: dt.date) -> dt.date:
    """The first day of the month after ``day``'s."""
    return (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def months(start: dt.date, first_h: float, last_h: float) -> list[tuple[dt.date, float, float]]:
    """Calendar months covering hours ``[first_h, last_h]`` since ``start``: (first day, from [h], to [h])."""
    day = month_start(start + dt.timedelta(hours=float(first_h)))
    out = []
    while True:
        end = next_month(day)
        t0, t1 = plan.hours_since(start, day), plan.hours_since(start, end)
        out.append((day, t0, t1))
        if t1 > last_h:  # a month is [t0, t1): money at t1 (a delivery on the 1st) is the next month's
            return out
        day = end


def _cumulative(scenario: Scenario, pool: Pool, use: PoolSupply, end_h: float, t_h: float) -> dict[str, float]:
    """Committed spend of the pool from hour 0 to ``t_h`` (at most the job's end) by kind [USD].

    As planner/costs.py prices the whole run; reservations are not here (they run on their own window).
    """
    t = min(max(t_h, 0.0), end_h)
    owned_h, rented_h = (costs.job_chip_hours(scenario, pool, use.training, t, use.rented) if use.training
                         else (0.0, 0.0))
    price = pool.cloud.price_per_chip_hour_usd if pool.cloud else 0.0
    return {
        "purchase": costs.owned_committed_usd(scenario, pool, use.delivered, t),
        "on_demand": rented_h * price if costs.on_demand(pool) else 0.0,
        "energy": owned_h * costs.energy_usd_per_chip_hour(scenario, pool),
    }


def kinds(pool: Pool) -> tuple[str, ...]:
    """The kinds of money a pool moves, in KINDS' order: one cashflow.csv row each per month at most."""
    owned = bool(pool.units or pool.deliveries)
    rented = pool.cloud is not None
    return tuple(k for k, on in (("purchase", owned), ("reservation", rented and not costs.on_demand(pool)),
                                 ("on_demand", rented and costs.on_demand(pool)), ("energy", owned)) if on)


def _span(scenario: Scenario, pools: Sequence[Pool], supply: Mapping[str, PoolSupply], end_h: float):
    """The first and last hour any money moves: day 0 to the job's end, rentals' windows, purchases.

    Nothing before day 0 is the plan's: a reservation that began before it is billed from it (costs.reserved_cloud_usd).
    """
    first, last = 0.0, end_h
    for p in pools:
        if p.cloud is not None and not costs.on_demand(p) and not costs.after_plan(scenario, p):
            _t0, t1 = plan.cloud_window_hours(scenario.start, p.cloud)
            last = max(last, t1)
        for t, _units in supply[p.name].purchases:
            last = max(last, t)
    # the calendar's last month (a delivery slipped past it is paid beyond what a report can date)
    last = min(last, plan.hours_since(scenario.start, LAST_DAY.replace(day=1)))
    return first, max(last, first)


def pool_cashflow(scenario: Scenario, pool: Pool, use: PoolSupply, end_h: float,
                  calendar: Sequence[tuple[dt.date, float, float]]) -> list[dict]:
    """The rows of one pool over ``calendar`` (months as :func:`months` gives them) [USD]."""
    pool_kinds = kinds(pool)
    price = costs.unit_price_usd(scenario, pool)
    bought = np.array([t for t, _ in use.purchases], dtype=float)
    units = np.array([u for _, u in use.purchases], dtype=float)
    rows = []
    before = _cumulative(scenario, pool, use, end_h, calendar[0][1]) if calendar else {}
    for day, t0, t1 in calendar:
        after = _cumulative(scenario, pool, use, end_h, t1)
        for kind in pool_kinds:
            if kind == "reservation":
                committed = costs.reserved_cloud_usd(scenario, pool, t0, t1)
                # the provider bills every reserved chip, the held-back share too (as purchases are paid in full)
                paid = costs.reserved_cloud_usd(scenario, pool, t0, t1, whole=True)
            elif kind == "purchase":
                committed = after[kind] - before[kind]
                # a delivery at the first hour of a month is that month's: [t0, t1)
                paid = float(units[(bought >= t0) & (bought < t1)].sum()) * price if len(bought) else 0.0
            else:
                committed = paid = after[kind] - before[kind]
            if committed or paid:
                rows.append({"month": day.strftime("%Y-%m"), "pool": pool.name, "kind": kind,
                             "committed_usd": committed, "paid_usd": paid})
        before = after
    return rows


def cashflow(scenario: Scenario, supply: Mapping[str, PoolSupply], end_h: float) -> pd.DataFrame:
    """``cashflow.csv``: one row per month, pool and kind (module docstring) for one replication [USD]."""
    import pandas as pd  # here, not at import: the workers of a run never need it
    pools = [p for p in scenario.fleet if p.name in supply]
    if not pools:
        return pd.DataFrame(columns=CASHFLOW_COLUMNS)
    first, last = _span(scenario, pools, supply, end_h)
    calendar = months(scenario.start, first, last)
    rows = [row for p in pools for row in pool_cashflow(scenario, p, supply[p.name], end_h, calendar)]
    out = pd.DataFrame(rows, columns=CASHFLOW_COLUMNS)
    order = {k: i for i, k in enumerate(KINDS)}
    pool_order = {p.name: i for i, p in enumerate(pools)}
    out = out.sort_values(["month", "pool", "kind"], key=lambda c: c.map(order) if c.name == "kind"
                          else c.map(pool_order) if c.name == "pool" else c, kind="stable")
    return out.reset_index(drop=True)


def currency_columns(code: str) -> tuple[str, str]:
    """The cash-flow columns in another currency: ``committed_cny``, ``paid_cny``."""
    return f"committed_{code.lower()}", f"paid_{code.lower()}"


_MONEY_KEY = re.compile(r"(?:cost|used|committed|idle|paid)_usd(?:_[a-z0-9_]+)?")  # cost_usd_p50, used_usd, ...


def in_currency(row: Mapping, currency: Currency | Mapping | None) -> dict:
    """``row`` with each sum in USD also in ``currency``, right after it: ``cost_usd_p50`` -> ``cost_cny_p50``.

    A sum is a number under one of planner's money keys (``_MONEY_KEY``: ``cost_usd``, ``used_usd``, ``committed_usd``,
    ``idle_usd``, ``paid_usd`` and their statistics), never a user's name that holds ``_usd``; a list of such keys (an
    ``at_least``) names the other currency's keys too, and a list of rows (``pool_costs``) has each row's sums in it
    too. Unchanged without a currency.
    """
    if currency is None:
        return dict(row)
    code = (currency["code"] if isinstance(currency, Mapping) else currency.code).lower()
    rate = float(currency["per_usd"] if isinstance(currency, Mapping) else currency.per_usd)

    def other(key: str) -> str:
        return key.replace("_usd", f"_{code}", 1)

    out: dict = {}
    for k, v in row.items():
        if isinstance(v, list) and v and all(isinstance(x, str) for x in v):
            v = [y for x in v for y in ([x, other(x)] if _MONEY_KEY.fullmatch(x) else [x])]
        elif isinstance(v, list) and v and all(isinstance(x, Mapping) for x in v):
            v = [in_currency(x, currency) for x in v]
        out[k] = v
        if isinstance(k, str) and _MONEY_KEY.fullmatch(k) and (
                v is None or (isinstance(v, int | float) and not isinstance(v, bool))):
            out[other(k)] = None if v is None else v * rate
    return out


def with_currency(table: pd.DataFrame, currency: Currency | Mapping | None) -> pd.DataFrame:
    """``table`` with ``committed_<code>`` and ``paid_<code>`` after the USD columns (unchanged without one)."""
    if currency is None:
        return table
    code = currency["code"] if isinstance(currency, Mapping) else currency.code
    rate = float(currency["per_usd"] if isinstance(currency, Mapping) else currency.per_usd)
    committed, paid = currency_columns(code)
    out = table.copy()
    out[committed] = out["committed_usd"] * rate
    out[paid] = out["paid_usd"] * rate
    return out


def monthly_totals(table: pd.DataFrame) -> pd.DataFrame:
    """Committed and paid spend per month over every pool and kind, with the running committed total [USD]."""
    import pandas as pd  # here, not at import: the workers of a run never need it
    if table is None or table.empty:
        return pd.DataFrame(columns=["month", "committed_usd", "paid_usd", "committed_to_date_usd"])
    out = table.groupby("month", sort=True)[["committed_usd", "paid_usd"]].sum().reset_index()
    out["committed_to_date_usd"] = out["committed_usd"].cumsum()
    return out
