"""Site power: the chips in service at a site never draw more than its power. Pure functions.

A site (``sites:``) has ``power_mw`` steps over time (none before the first date) and a PUE. A chip in service
takes its server's nameplate power (``SERVER_POWER_PER_TDP`` x its catalog TDP) times the PUE; a pool that
holds back a reserved share (``reserved_fraction``, e.g. for
inference) powers those chips too, so each usable chip costs ``tdp x pue / (1 - reserved)`` of the site's power.
Pools at one site take power in the order of the jobs that may use them (``power_order``: the pools of the job that
gets chips first come first while it trains, a pool no job names comes last), then by peak FLOP/s per watt; chips
delivered and commissioned beyond the power wait until there is power for them (and go out of service, latest first,
when power falls).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ..kinds import EventKind
from ..perf.memory import state_bytes_per_param, usable_bytes
from ..perf.params import count_params
from ..plan import hours_since
from ..scenario import Scenario, Site
from ..units import HOURS_PER_DAY
from .supply import Step, supply_steps

# a server's nameplate power per accelerator over the accelerator's TDP: NVIDIA DGX H100 datasheet, 10.2 kW max
# for 8 x 700 W GPUs (CPUs, memory, NICs, fans, power conversion); sites are provisioned for nameplate power,
# while energy (planner/costs.py) counts the average draw at TDP
SERVER_POWER_PER_TDP = 10_200 / (8 * 700)
MAX_LEVELS = 1024  # dated levels kept per pool (``dated_levels``: a delivery plan of 1,000 tranches at most)


def watts_per_usable_chip(scenario: Scenario, pool_name: str, site: Site) -> float:
    """Site power one usable chip of the pool needs [W]: its server share x PUE, with the reserved share's chips."""
    pool = next(p for p in scenario.fleet if p.name == pool_name)
    server_w = scenario.chip(pool.chip).tdp_w * SERVER_POWER_PER_TDP
    return server_w * site.pue / max(1.0 - pool.reserved_fraction, 1e-9)


def _flops_per_watt(scenario: Scenario, pool_name: str) -> float:
    """Peak BF16 TFLOP/s of a usable chip of the pool per watt of its site's power (``watts_per_usable_chip``)."""
    pool = next(p for p in scenario.fleet if p.name == pool_name)
    site = next(s for s in scenario.sites if s.name == pool.site)
    return scenario.chip(pool.chip).bf16_tflops / watts_per_usable_chip(scenario, pool_name, site)


def _holds(scenario: Scenario, pool_name: str, workloads: list) -> bool:
    """Whether one of ``workloads`` can hold its model's training state on the pool's usable chips at all.

    Weights, gradients and optimizer state (``memory.state_bytes_per_param`` at ZeRO-3 over every chip), activations
    aside: a pool that cannot takes no site power ahead of one that can (64 H100s too small for a 405B model took
    the power first and 81 A100s that trained it waited; it never finished). It is asked for the job the pool's rank
    comes from (``power_order``): a later job that fits the pool gives it no power ahead of the earlier job's.
    """
    pool = next(p for p in scenario.fleet if p.name == pool_name)
    room = pool.usable_units * usable_bytes(scenario.chip(pool.chip).hbm_gib)
    return any(count_params(w.arch).total * float(state_bytes_per_param(3, 1)) <= room for w in workloads)


def power_order(scenario: Scenario, names: list[str], at_h: float = math.inf,
                ended: Mapping[str, float] | None = None) -> list[str]:
    """A site's pools in the order they take its power at hour ``at_h``: by the first job that may use each.

    Jobs get chips in priority order, then as written (``Scenario.ordered_jobs``); a pool goes before another
    when an earlier job may use it, so a priority-1 job whose pool is written second is not left without power
    by a later job's pool written first. A job that is not training (its ``start_after`` is after ``at_h``, or it
    ended by then: ``ended``, job name -> hour) ranks its pools after those of the jobs that are: its pools hold no
    power a running job's could use. A pool no job names comes last. Ties (every pool of a one-job scenario,
    pools that the same jobs may use) go by peak BF16 FLOP/s per watt of the site's power, the most first (a pool
    that cannot hold the training state of the job it is ranked by goes last, ``_holds``), then by fleet order: in
    fleet order, an A100 pool written first took a site's power and left the 512 H100s beside it dark (5.9 days
    where the H100s first took 3.7; 256 more A100s finished the job 0.75 days later). Adding a later job moves no
    pool before one that an earlier job uses, nor reorders the pools an earlier job ranks (a later job's fit is not
    asked), so it never takes power from an earlier job while that one trains.
    """
    ended = ended or {}
    jobs = scenario.ordered_jobs()
    idle = {k for k, job in enumerate(jobs) if hours_since(scenario.start, job.first_day(scenario.start)) > at_h
            or ended.get(job.name, math.inf) <= at_h}

    def tie(i: int, n: str, workloads: list) -> tuple:
        return (not _holds(scenario, n, workloads), -_flops_per_watt(scenario, n), i)

    loads = [j.workload for j in jobs] if jobs else [scenario.workload]
    rank = {n: (2, 0, tie(i, n, loads)) for i, n in enumerate(names)}
    for k, job in enumerate(jobs):
        for i, n in enumerate(names):
            if (job.pools is None or n in job.pools) and (int(k in idle), k) < rank[n][:2]:
                rank[n] = (int(k in idle), k, tie(i, n, [job.workload]))  # weighed for the job it is ranked by
    return sorted(names, key=rank.__getitem__)


def _job_starts_h(scenario: Scenario) -> set[float]:
    """The hours the jobs start (their ``start_after``): the power order may change there."""
    return {max(0.0, hours_since(scenario.start, job.first_day(scenario.start))) for job in scenario.jobs}


def _power_at(site: Site, start, t_h: float) -> float:
    """The site's power at hour ``t_h`` [W] (0 before its first step)."""
    w = 0.0
    for step in site.power_mw:
        if hours_since(start, step.date) <= t_h:
            w = step.mw * 1e6
        else:
            break
    return w


def _usable_at(steps: list[Step], t_h: float) -> int:
    return sum(s.delta_units for s in steps if s.kind != EventKind.DELIVERY and s.time_h <= t_h)


@dataclass(frozen=True)
class Wait:
    """Usable chips of a pool that wait for site power from ``from_h`` to ``to_h`` [h since the start]."""

    from_h: float
    to_h: float
    units: int


def waited_chip_days(waits: list[Wait], until_h: float = math.inf) -> float:
    """Chip-days the chips of ``waits`` waited for power before ``until_h`` (a run's end: later waits cost no time)."""
    return sum(w.units * max(min(w.to_h, until_h) - w.from_h, 0.0) for w in waits) / HOURS_PER_DAY


def apply_power(scenario: Scenario, steps: dict[str, list[Step]], ended: Mapping[str, float] | None = None,
                ) -> tuple[dict[str, list[Step]], dict[str, list[Wait]]]:
    """Every pool's capacity steps with its site's power applied, and when and how many of its chips waited.

    Pools at a site without ``sites:`` power are returned as they are (no wait). ``ended``: the jobs of a
    portfolio that have ended, and when (job name -> hour): from then on their pools rank after the others'.
    """
    ended = ended or {}
    out = dict(steps)
    waited: dict[str, list[Wait]] = {name: [] for name in steps}
    horizon_h = scenario.horizon_days * HOURS_PER_DAY
    starts = _job_starts_h(scenario)
    changes = sorted(starts | set(ended.values()))  # the power order may change there (``power_order``)
    for site in scenario.sites:
        names = [p.name for p in scenario.fleet if p.site == site.name and p.name in steps]
        if not names:
            continue
        per_chip_w = {n: watts_per_usable_chip(scenario, n, site) for n in names}
        times = {0.0}
        for n in names:
            times.update(s.time_h for s in steps[n] if s.kind != EventKind.DELIVERY)
        times.update(max(0.0, hours_since(scenario.start, p.date)) for p in site.power_mw)
        times.update(changes)  # a job that starts takes power first from then on, and one that ends hands it on
        times = sorted(t for t in times if t <= horizon_h)
        allowed_prev = {n: 0 for n in names}
        new = {n: [s for s in steps[n] if s.kind == EventKind.DELIVERY] for n in names}
        orders: dict[int, list[str]] = {}  # by the number of the jobs' starts and ends passed
        prev_w = 0.0
        for k, t in enumerate(times):
            left_w = site_w = _power_at(site, scenario.start, t)
            t_next = times[k + 1] if k + 1 < len(times) else horizon_h
            passed = sum(1 for c in changes if c <= t)
            if passed not in orders:
                orders[passed] = power_order(scenario, names, t, ended)
            for n in orders[passed]:
                usable = max(_usable_at(steps[n], t), 0)
                allowed = min(usable, int(math.floor(left_w / per_chip_w[n] + 1e-9)))
                left_w -= allowed * per_chip_w[n]
                if usable > allowed and t_next > t:
                    waited[n].append(Wait(t, t_next, usable - allowed))
                delta = allowed - allowed_prev[n]
                if delta:
                    own = [s for s in steps[n] if s.kind != EventKind.DELIVERY and s.time_h == t]
                    wait = usable - allowed
                    note = f"{wait:,} usable chips wait for site power" if wait else ""
                    if own:
                        detail = "; ".join(x for x in (own[0].detail, note) if x)
                        new[n].append(Step(t, own[0].kind, delta, detail))
                    else:
                        what = (f"power for {delta:,} more chips" if delta > 0
                                else f"site power falls: {-delta:,} chips out of service" if site_w < prev_w
                                else f"{-delta:,} chips out of service: their power goes first to the pools of a "
                                     "job that trains")
                        new[n].append(Step(t, EventKind.POWER, delta, "; ".join(x for x in (what, note) if x)))
                    allowed_prev[n] = allowed
            prev_w = site_w
        for n in names:
            out[n] = sorted(new[n], key=lambda s: (s.time_h, s.kind != EventKind.DELIVERY))
    return out, waited


def dated_levels(scenario: Scenario) -> dict[str, tuple[int, ...]]:
    """Per pool, the usable chips its dated steps bring over time, below its full size (sorted; at most MAX_LEVELS).

    The supply without delivery risk, site power applied: the counts a pool sits at for days or months, which the
    plan grid of its full size misses by up to 0.5% (and a layout on those few chips fewer ran 3-12% slower).
    """
    rng = np.random.default_rng(0)  # (nothing is drawn without delivery risk)
    steps = {p.name: supply_steps(scenario, p.model_copy(update={"delivery_risk": None}), rng)
             for p in scenario.fleet}
    if scenario.sites:
        steps = apply_power(scenario, steps)[0]
    out = {}
    for p in scenario.fleet:
        full, n, seen = p.usable_units, 0, set()
        for st in steps[p.name]:
            if st.kind != EventKind.DELIVERY:
                n += st.delta_units
                if 0 < n < full:
                    seen.add(n)
        out[p.name] = tuple(sorted(seen))[-MAX_LEVELS:]
    return out
