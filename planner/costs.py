"""Costs and energy: the one place prices, amortization, power and PUE turn into dollars and MWh.

- Cloud chips cost their hourly price; a reservation is committed for its whole window unless the pool
  says ``billing: on_demand``; the price includes power.
- Owned chips cost their purchase price straight-line over ``costs.amortization_years`` from delivery (and
  nothing more once written off), plus the energy of the chips in training at TDP x PUE x the price per kWh.
- Energy counts every chip the job holds (owned or rented): TDP x PUE x hours.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from . import plan
from .scenario import Pool, Scenario
from .units import HOURS_PER_DAY, HOURS_PER_YEAR

Steps = tuple[Sequence[float], Sequence[float]]  # a step function: (times [h], values), 0 before the first time


def known_unit_price_usd(scenario: Scenario, pool: Pool) -> float | None:
    """Purchase price of one of the pool's chips: the pool's, the scenario's for the chip id, the catalog's; None."""
    chip = scenario.chip(pool.chip)
    # a price given as 0 (chips already written off, or donated) is a price: only a missing one falls through
    for price in (pool.unit_price_usd, scenario.costs.unit_price_usd.get(pool.chip), chip.unit_price_usd):
        if price is not None:
            return price
    return None


def unit_price_usd(scenario: Scenario, pool: Pool) -> float:
    """Purchase price of one of the pool's chips (``known_unit_price_usd``); 0 when none is known (``unpriced``)."""
    price = known_unit_price_usd(scenario, pool)
    return 0.0 if price is None else price


def unpriced(scenario: Scenario) -> tuple[str, ...]:
    """The pools with chips of no known price: the spend leaves their write-off or their rental out.

    Owned chips with no purchase price, or a rental that does not state ``price_per_chip_hour_usd`` (a stated 0 is
    free capacity, e.g. credits). Their committed and used spend, and ``cost_usd``, are then known only as at least
    the figures given (Summary.at_least), never as the figures.
    """
    return tuple(p.name for p in scenario.fleet
                 if (plan.owned_planned(p) > 0 and known_unit_price_usd(scenario, p) is None)
                 or (p.cloud is not None and p.cloud.units > 0 and p.cloud.stated_price_usd is None
                     and not (after_plan(scenario, p) and plan.owned_planned(p) == 0)))  # (not the plan's cost)


def idle_bound(scenario: Scenario, unfinished: bool) -> str:
    """How the fleet's mean idle spend (committed - used) stands to the truth: "", "at least", "at most", "neither".

    Pools with no price leave their idle out (at least). With replications stopped by the horizon: owned chips' idle
    only grows with the run (at least), a reservation's shrinks as the job uses more of its window (at most), and
    on-demand chips are billed as held (no idle). Pools of both kinds make it neither.
    """
    free = set(unpriced(scenario))
    kinds = set()
    for p in scenario.fleet:
        if p.name in free:
            kinds.add("at least")
        elif unfinished:
            if plan.owned_planned(p) > 0:
                kinds.add("at least")
            if p.cloud is not None and p.cloud.units > 0 and not on_demand(p):
                kinds.add("at most")
    return "" if not kinds else kinds.pop() if len(kinds) == 1 else "neither"


def committed_grows(scenario: Scenario) -> bool:
    """Whether the committed spend grows with the job's end: owned chips (their write-off, their energy), on demand.

    A fleet of reservations alone commits their whole windows, however long the job runs.
    """
    return any(plan.owned_planned(p) > 0 or on_demand(p) for p in scenario.fleet)


def capex_usd_per_chip_hour(scenario: Scenario, pool: Pool) -> float:
    """Straight-line amortization of one owned chip [USD/h], while it is written off (``write_off_hours``)."""
    return unit_price_usd(scenario, pool) / write_off_hours(scenario)


def write_off_hours(scenario: Scenario) -> float:
    """Hours from a chip's delivery to the end of its straight-line write-off: it costs nothing more after."""
    return scenario.costs.amortization_years * HOURS_PER_YEAR


def pue(scenario: Scenario, pool: Pool) -> float:
    """The PUE of the pool's site: its ``sites:`` entry's when it has one, else ``costs.pue``."""
    site = next((s for s in scenario.sites if s.name == pool.site), None)
    return site.pue if site is not None else scenario.costs.pue


def chip_kw(scenario: Scenario, pool: Pool) -> float:
    """Power one chip of the pool draws at the meter in training [kW]: TDP x its site's PUE."""
    return scenario.chip(pool.chip).tdp_w / 1000.0 * pue(scenario, pool)


def energy_kwh(scenario: Scenario, pool: Pool, chip_hours: float) -> float:
    """Energy of ``chip_hours`` of training on the pool at TDP x its site's PUE [kWh]."""
    return chip_hours * chip_kw(scenario, pool)


def energy_usd_per_chip_hour(scenario: Scenario, pool: Pool) -> float:
    """Electricity cost of one owned chip of the pool in training [USD/h]."""
    return chip_kw(scenario, pool) * scenario.costs.energy_usd_per_kwh


# ---------------------------------------------------------------- committed, used and idle
#
# What a budget holder defends (README, "Costs"):
# - committed: owned chips from their delivery to the job's end, amortized straight-line over
#   ``costs.amortization_years`` (the share not reserved for other work); a cloud reservation for its whole
#   window (``billing: on_demand``: only what the job rents); and the energy the job draws.
# - used: the chip-hours the job holds, priced the same way (owned: amortization + energy; cloud: the hourly rate).
# - idle: committed - used.


@dataclass(frozen=True)
class PoolCost:
    """Committed and used spend of one pool over a run [USD]."""

    pool: str
    committed_usd: float
    used_usd: float

    @property
    def idle_usd(self) -> float:
        """Committed but not used by the job."""
        return max(self.committed_usd - self.used_usd, 0.0)

    def as_dict(self) -> dict:
        """The summary.json record."""
        return {"pool": self.pool, "committed_usd": self.committed_usd, "used_usd": self.used_usd,
                "idle_usd": self.idle_usd}


def step_integral(times: Sequence[float], values: Sequence[float], t0_h: float, t1_h: float) -> float:
    """Integral over ``[t0_h, t1_h]`` of a step function that is ``values[i]`` from ``times[i]`` on [value x h]."""
    if t1_h <= t0_h or not len(times):
        return 0.0
    t = np.asarray(times, dtype=float)
    v = np.asarray(values, dtype=float)
    ends = np.append(t[1:], np.inf)
    lo, hi = np.maximum(t, t0_h), np.minimum(ends, t1_h)
    return float(np.sum(np.clip(hi - lo, 0.0, None) * v))


def on_demand(pool: Pool) -> bool:
    """The pool's rental is billed by the hour the job holds it, not reserved for its window."""
    return pool.cloud is not None and pool.cloud.billing == "on_demand"


def owned_committed_usd(scenario: Scenario, pool: Pool, delivered: Steps, end_h: float) -> float:
    """Owned chips from delivery to ``end_h`` or their write-off's end: amortized capex of the share kept [USD].

    A chip delivered at t is written off over [t, t + P): its chip-hours to ``end_h`` are min(end - t, P), so the
    pool's are the delivered chips' integral to ``end_h`` less their integral to ``end_h - P``; a run longer than
    the write-off never charges more than the price.
    """
    period = write_off_hours(scenario)
    # (a delivery before the start, at its real time < 0, is charged only the rest of its write-off from hour 0)
    chip_h = step_integral(*delivered, 0.0, end_h) - step_integral(*delivered, -period, end_h - period)
    return chip_h * (1.0 - pool.reserved_fraction) * capex_usd_per_chip_hour(scenario, pool)


def writing_off(delivered: Steps, period_h: float) -> Steps:
    """The share of the delivered chips still being written off, over time (1 before any delivery).

    Chips delivered at t are written off until t + ``period_h``: the share at t is (D(t) - D(t - P)) / D(t).
    """
    t = np.asarray(delivered[0], dtype=float)
    ends = t + period_h
    times = np.unique(np.concatenate(([0.0], t, ends)))
    # D(t - P) read at the write-offs' own end times: (t + P) - P is not t in floating point (a one-month period
    # after a delivery at a fractional hour read the share 1 past its end, and the schedule billed 129% of the price)
    d_now, d_done = step_at(delivered, times), step_at((tuple(ends.tolist()), delivered[1]), times)
    share = np.divide(d_now - d_done, d_now, out=np.ones_like(d_now), where=d_now > 0)
    return tuple(times.tolist()), tuple(np.clip(share, 0.0, 1.0).tolist())


def after_plan(scenario: Scenario, pool: Pool) -> bool:
    """Whether the pool's rental window begins at or after the horizon.

    It is then no more the plan's than one that ended before the start (a reservation for 2030 beside a 100-day
    plan of 2025 read as $175 M committed).
    """
    if pool.cloud is None:
        return False
    t0, _t1 = plan.cloud_window_hours(scenario.start, pool.cloud)
    return t0 >= scenario.horizon_days * HOURS_PER_DAY


def reserved_cloud_usd(scenario: Scenario, pool: Pool, from_h: float = 0.0, to_h: float = np.inf,
                       whole: bool = False) -> float:
    """A cloud reservation from the scenario's start to the end of its window, or the part in ``[from_h, to_h)`` [USD].

    The share not held back by ``reserved_fraction`` (the job's committed spend); ``whole``: every reserved chip,
    the provider's bill (the cash flow's ``paid``).

    0 when billed on demand or when there is no cloud. The contracted window (``cloud.from`` to ``cloud.until``)
    is billed even when the rental's start slips (``delivery_risk``): capacity paid for and not yet there is idle.
    The part of the window before the start was paid before the plan begins: it is not the plan's cost (as owned
    chips there by day 0 are counted from day 0). A reservation of 2024 for a plan that starts in 2025 counted
    twelve months of 2024 as idle spend, 90% of its committed cost. A window that begins at or after the horizon
    is not the plan's either (``after_plan``).
    """
    if pool.cloud is None or on_demand(pool) or after_plan(scenario, pool):
        return 0.0
    t0, t1 = plan.cloud_window_hours(scenario.start, pool.cloud)
    hours = max(0.0, min(t1, to_h) - max(t0, from_h, 0.0))
    # the share not held back by reserved_fraction, as owned chips' (owned_committed_usd): the other work pays the rest
    share = 1.0 if whole else 1.0 - pool.reserved_fraction
    return pool.cloud.units * share * hours * pool.cloud.price_per_chip_hour_usd


def step_at(steps: Steps, t_h) -> np.ndarray:
    """The values of a step function at hours ``t_h`` (0 before its first time)."""
    times = np.asarray(steps[0], dtype=float)
    values = np.concatenate(([0.0], np.asarray(steps[1], dtype=float)))
    return values[np.searchsorted(times, np.asarray(t_h, dtype=float), side="right")]


def contract_rented(scenario: Scenario, pool: Pool) -> Steps | None:
    """The rented chips a job may train on over the contracted window (the share not held back); None: no cloud."""
    if pool.cloud is None:
        return None
    t0, t1 = plan.cloud_window_hours(scenario.start, pool.cloud)
    return (t0, t1), (plan.usable(pool.cloud.units, pool.reserved_fraction), 0)


def job_chip_hours(scenario: Scenario, pool: Pool, training: Steps, end_h: float,
                   rented: Steps | None = None, weight: Steps | None = None) -> tuple[float, float]:
    """(owned, rented) chip-hours the job held on the pool up to ``end_h``; rented chips are counted first.

    ``rented``: the rented chips the job could hold over time (those in service, the share not held back, less
    what the jobs before it in a portfolio hold: sim/supply.py rented_steps); else the contract's window.
    ``weight``: the owned chip-hours are weighted by this step function (``writing_off``: those still written off).
    """
    if rented is None:
        rented = contract_rented(scenario, pool)
    times = {float(t) for t in training[0] if t < end_h} | {0.0}
    if rented is not None:
        times |= {float(t) for t in rented[0] if 0 < t < end_h}
    if weight is not None:
        times |= {float(t) for t in weight[0] if 0 < t < end_h}
    t = np.asarray(sorted(times))
    units = step_at(training, t)
    held = np.minimum(units, step_at(rented, t)) if rented is not None else np.zeros_like(units)
    owned = units - held if weight is None else (units - held) * step_at(weight, t)
    return step_integral(t, owned, 0.0, end_h), step_integral(t, held, 0.0, end_h)


def pool_cost(scenario: Scenario, pool: Pool, delivered: Steps, training: Steps | None, end_h: float,
              rented: Steps | None = None) -> PoolCost:
    """Committed and used spend of one pool if the job ends at ``end_h`` (``training`` None: it ran elsewhere).

    ``rented``: the rented chips the job could hold over time (``job_chip_hours``).
    """
    owned_h, rented_h = job_chip_hours(scenario, pool, training, end_h, rented) if training else (0.0, 0.0)
    price = pool.cloud.price_per_chip_hour_usd if pool.cloud else 0.0
    energy = owned_h * energy_usd_per_chip_hour(scenario, pool)  # cloud prices include power
    # the owned chip-hours it held, each at the amortization while the pool's chips are still written off
    period = write_off_hours(scenario)
    ends = (min(delivered[0]) + period) if len(delivered[0]) else np.inf  # the first tranche's write-off ends
    capex_h = (job_chip_hours(scenario, pool, training, end_h, rented, writing_off(delivered, period))[0]
               if training and ends < end_h else owned_h)
    used = capex_h * capex_usd_per_chip_hour(scenario, pool) + rented_h * price + energy
    committed = owned_committed_usd(scenario, pool, delivered, end_h) + energy
    committed += rented_h * price if on_demand(pool) else reserved_cloud_usd(scenario, pool)
    return PoolCost(pool.name, committed, min(used, committed))
