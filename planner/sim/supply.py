"""Supply: a pool's delivery plan and cloud window become dated capacity steps. Pure functions.

Times are hours since the scenario start. Random slips and shortfalls come from the generator passed in;
with no ``delivery_risk`` the plan is followed exactly and the generator is not touched.

A rental slips too: with ``delivery_risk.slip_days`` on a pool with ``cloud``, the rented chips come into
service that many days after ``cloud.from`` (drawn after the tranches, so the tranches' draws do not change);
the rental still ends on ``cloud.until`` and a reservation still bills its contracted window (planner/costs.py):
capacity paid for and not yet there is idle spend.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..fmt import fmt_chip_hour_price
from ..kinds import EventKind
from ..plan import cloud_window_hours, hours_since, usable
from ..scenario import MAX_DRAW, Distribution, Pool, Scenario
from ..units import HOURS_PER_DAY


@dataclass(frozen=True)
class Step:
    """A change of a pool's capacity at ``time_h``."""

    time_h: float
    kind: str  # delivery | commissioning | cloud_start | cloud_end
    delta_units: int  # change of chips delivered (delivery) or of usable chips (the others)
    detail: str = ""
    # a delivery there before the plan: when it came (< 0, its write-off began then; 0: the pool's ``units``, on hand
    # at the start); None: one dated on or after the start, bought during the plan
    since_h: float | None = None


def draw(dist: Distribution | None, rng: np.random.Generator) -> float:
    """One draw of a scenario distribution (0 when none is set)."""
    if dist is None:
        return 0.0
    if dist.dist == "fixed":
        return float(dist.value)
    if dist.dist == "uniform":
        return float(rng.uniform(dist.low, dist.high))
    if dist.dist == "triangular":
        if dist.low == dist.high:
            return float(dist.low)
        return float(rng.triangular(dist.low, dist.mode, dist.high))
    if dist.dist == "normal":
        return float(rng.normal(dist.mean, dist.sd))
    # lognormal with the given mean and standard deviation of the variable itself
    var = dist.sd**2
    sigma2 = math.log(1 + var / dist.mean**2)
    return float(rng.lognormal(math.log(dist.mean) - sigma2 / 2, math.sqrt(sigma2)))


def tranche_draws(pool: Pool, rng: np.random.Generator) -> list[tuple[float, float]]:
    """(slip [days], shortfall [share]) of each planned delivery, drawn in order; zeros without ``delivery_risk``."""
    risk = pool.delivery_risk
    out = []
    for _ in pool.deliveries:
        slip_days, short = 0.0, 0.0
        if risk is not None:
            slip_days = min(max(0.0, draw(risk.slip_days, rng)), MAX_DRAW)  # (a normal's tail: at most a century)
            short = min(1.0, max(0.0, draw(risk.shortfall_fraction, rng)))
        out.append((slip_days, short))
    return out


def cloud_slip_days(pool: Pool, rng: np.random.Generator) -> float:
    """Days the rental's start slips past ``cloud.from`` [days]; 0 without a cloud or without a slip distribution.

    Draw it after :func:`tranche_draws` from the same generator (the order ``supply_steps`` uses).
    """
    risk = pool.delivery_risk
    if pool.cloud is None or risk is None or risk.slip_days is None:
        return 0.0
    return min(max(0.0, draw(risk.slip_days, rng)), MAX_DRAW)


def supply_draws(pool: Pool, rng: np.random.Generator) -> tuple[list[tuple[float, float]], float]:
    """Every draw of one pool's supply, in order: each tranche's (slip [days], shortfall), then the rental's slip."""
    tranches = tranche_draws(pool, rng)
    return tranches, cloud_slip_days(pool, rng)


def supply_steps(scenario: Scenario, pool: Pool, rng: np.random.Generator) -> list[Step]:
    """Dated capacity steps of one pool, sorted by time. Usable chips exclude the reserved share."""
    steps: list[Step] = []
    tranches, rental_slip_days = supply_draws(pool, rng)
    reserved = pool.reserved_fraction
    commission_h = pool.commissioning_days * HOURS_PER_DAY
    if pool.units:
        steps.append(Step(0.0, EventKind.DELIVERY, pool.units, "in service on day 0", since_h=0.0))
        steps.append(Step(0.0, EventKind.COMMISSIONING, usable(pool.units, reserved), "in service on day 0"))
    delivered, in_use = pool.units, usable(pool.units, reserved)
    cap = pool.ordered_units if pool.ordered_units is not None else None
    planned_prev = pool.units
    for d, (slip_days, short) in zip(pool.deliveries, tranches, strict=True):
        tranche = max(0, d.units - planned_prev)  # a shortfall is lost, not made up by the next tranche
        planned_prev = d.units
        got = int(round(tranche * (1.0 - short)))
        if cap is not None:
            got = min(got, cap - delivered)
        if got <= 0:
            continue
        arrives_h = hours_since(scenario.start, d.date) + slip_days * HOURS_PER_DAY
        t = max(0.0, arrives_h)
        delivered += got
        new_usable = usable(delivered, reserved)
        note = f"{got:,} chips (plan {tranche:,})" + (f", slipped {slip_days:.0f} d" if slip_days >= 0.5 else "")
        steps.append(Step(t, EventKind.DELIVERY, got, note, since_h=arrives_h if arrives_h < 0 else None))
        # commissioned from the day they arrived, also before the start (chips delivered early are ready sooner)
        steps.append(Step(max(0.0, arrives_h + commission_h), EventKind.COMMISSIONING, new_usable - in_use,
                          f"{new_usable - in_use:,} usable"))
        in_use = new_usable
    if pool.cloud is not None:
        c = pool.cloud
        t0, t1 = cloud_window_hours(scenario.start, c)
        t0 = max(0.0, t0 + rental_slip_days * HOURS_PER_DAY)
        rented = usable(c.units, reserved)  # the reserved share holds back rented chips too (as plans are sized)
        if t1 > t0:
            late = f", slipped {rental_slip_days:.0f} d" if rental_slip_days >= 0.5 else ""
            held = f", {c.units - rented:,} held back" if rented < c.units else ""
            steps.append(Step(t0, EventKind.CLOUD_START, rented,
                              f"{c.units:,} rented at {fmt_chip_hour_price(c.stated_price_usd)}{late}{held}"))
            steps.append(Step(t1, EventKind.CLOUD_END, -rented, "rental ends"))
    steps.sort(key=lambda s: (s.time_h, s.kind != EventKind.DELIVERY))
    return steps


def not_before(steps: list[Step], from_h: float, horizon_h: float) -> list[Step]:
    """``steps`` with nothing usable before ``from_h`` (a job's start_after): what came earlier comes then."""
    if from_h <= 0:
        return steps
    before = sum(s.delta_units for s in steps if s.kind != EventKind.DELIVERY and s.time_h < from_h)
    out = [s for s in steps if s.kind == EventKind.DELIVERY]
    if before and from_h <= horizon_h:
        out.append(Step(from_h, EventKind.SHARE, before, f"{before:,} chips from the job's start date"))
    out.extend(s for s in steps if s.kind != EventKind.DELIVERY and s.time_h >= from_h)
    return sorted(out, key=lambda s: (s.time_h, s.kind != EventKind.DELIVERY))


def rented_steps(pool: Pool, steps: list[Step]) -> tuple[tuple[float, ...], tuple[int, ...]] | None:
    """The pool's rented chips in service over time (times [h], units; 0 before the first), from its steps.

    The chips are those the rental puts in service (the share not held back); the start is the drawn one
    (``delivery_risk.slip_days`` moves it): chips not yet there are neither trained on nor billed by the hour,
    while a reservation still bills its contracted window (planner/costs.py). A rental whose start slipped past
    its end never comes: none. None when the pool rents nothing.
    """
    if pool.cloud is None:
        return None
    t0 = next((s.time_h for s in steps if s.kind == EventKind.CLOUD_START), None)
    if t0 is None:
        return (0.0,), (0,)
    units = next(s.delta_units for s in steps if s.kind == EventKind.CLOUD_START)
    t1 = next((s.time_h for s in steps if s.kind == EventKind.CLOUD_END), None)
    return ((t0,), (units,)) if t1 is None else ((t0, t1), (units, 0))


def delivered_since(steps: list[Step]) -> tuple[list[float], list[float]]:
    """Owned chips delivered over time (times [h], cumulative units) from a pool's steps, each at its real arrival.

    A delivery before the start counts from when it came (``Step.since_h``, before hour 0), not from the start the
    simulation moves it to: its straight-line write-off began then (planner/costs.py). 0 before the first.
    """
    arrivals = sorted((s.since_h if s.since_h is not None else s.time_h, s.delta_units)
                      for s in steps if s.kind == EventKind.DELIVERY)
    t, v, n = [], [], 0
    for when, units in arrivals:
        n += units
        t.append(float(when))
        v.append(float(n))
    return t, v
