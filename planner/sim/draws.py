"""What one replication drew, re-derived from its seed: delivery slips and shortfalls, first capacity.

A replication splits its seed into supply, job and model streams (``seed.spawn(3)``) and seeds pool i's
supply from ``supply.spawn(len(fleet))[i]`` (planner/sim/replication.py). The supply stream is replayed
here from a fresh copy of the seed, so the replication itself is not touched and the numbers are exactly
the ones it used.
"""

from __future__ import annotations

import numpy as np

from ..kinds import EventKind
from ..scenario import Scenario
from ..units import HOURS_PER_DAY
from .power import apply_power
from .supply import supply_draws, supply_steps

CAPACITY_KINDS = (EventKind.COMMISSIONING, EventKind.CLOUD_START, EventKind.POWER)


def fresh(seed: np.random.SeedSequence) -> np.random.SeedSequence:
    """The same seed with no children spawned yet (spawning changes a SeedSequence)."""
    return np.random.SeedSequence(seed.entropy, spawn_key=seed.spawn_key, pool_size=seed.pool_size)


def _supply_rng(seed: np.random.SeedSequence, n_pools: int, i: int) -> np.random.Generator:
    return np.random.default_rng(fresh(seed).spawn(3)[0].spawn(n_pools)[i])


def replication_draws(scenario: Scenario, seeds: list[np.random.SeedSequence]) -> list[dict]:
    """Flat columns of each replication's supply draws, one dict per seed.

    ``<pool>.d<j>.slip_days`` and ``<pool>.d<j>.shortfall`` for every planned delivery j of a pool with
    ``delivery_risk``; ``<pool>.cloud.slip_days``: how late a rental with a slip distribution started;
    ``<pool>.first_capacity_days``: the day the pool first has usable chips (owned chips commissioned and
    powered at their site, or the rental's start). A pool without ``delivery_risk`` draws nothing: without site
    power, its column is the same in every replication and is worked out once.
    """
    n = len(scenario.fleet)
    fixed = {} if scenario.sites else {
        p.name: _first_capacity_days(supply_steps(scenario, p, np.random.default_rng(0)))
        for p in scenario.fleet if p.delivery_risk is None}
    rows = []
    for seed in seeds:
        out: dict = {}
        steps = {}
        for i, pool in enumerate(scenario.fleet):
            if pool.name in fixed:
                continue
            steps[pool.name] = supply_steps(scenario, pool, _supply_rng(seed, n, i))
            if pool.delivery_risk is None:
                continue
            tranches, rental_slip = supply_draws(pool, _supply_rng(seed, n, i))
            for j, (slip, short) in enumerate(tranches):
                out[f"{pool.name}.d{j}.slip_days"] = slip
                out[f"{pool.name}.d{j}.shortfall"] = short
            if pool.cloud is not None and pool.delivery_risk.slip_days is not None:
                out[f"{pool.name}.cloud.slip_days"] = rental_slip
        if scenario.sites:  # chips wait for their site's power (planner/sim/power.py), as the replication's did
            steps, _waited = apply_power(scenario, steps)
        for pool in scenario.fleet:
            first = fixed[pool.name] if pool.name in fixed else _first_capacity_days(steps[pool.name])
            out[f"{pool.name}.first_capacity_days"] = first
        rows.append(out)
    return rows


def _first_capacity_days(steps) -> float:
    """The day a pool first has usable chips, from its capacity steps."""
    first = next((s.time_h for s in steps if s.kind in CAPACITY_KINDS and s.delta_units > 0), None)
    return first / HOURS_PER_DAY if first is not None else float("nan")
