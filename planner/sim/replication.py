"""One replication: simulate the job on each pool, keep the pool the strategy picks, price it, tabulate it."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import simpy

from .. import costs, plan
from ..perf.search import LayoutPlanner
from ..results import SUPPLY_EVENTS, Event
from ..scenario import Pool, Scenario
from ..units import HOURS_PER_DAY
from .engine import JobStats, PoolState, Timeline, TrainingJob, event_log
from .supply import supply_steps


@dataclass
class PoolRun:
    """The job simulated on one pool."""

    pool: Pool
    state: PoolState
    job: TrainingJob | None
    events: list[Event]
    end_h: float

    @property
    def stats(self) -> JobStats:
        """The job's figures (empty when nothing fitted on the pool)."""
        return self.job.stats if self.job else JobStats()


@dataclass
class ReplicationOutput:
    """One replication's metrics, and its tables when asked for."""

    metrics: dict  # finished, time_to_train_days, cost_usd, energy_mwh, mfu, goodput, chip_hours
    schedule: pd.DataFrame | None = None
    events: pd.DataFrame | None = None
    layouts: pd.DataFrame | None = None


def simulate_pool(scenario: Scenario, pool: Pool, planner: LayoutPlanner | None, rng: np.random.Generator) -> PoolRun:
    """The training job alone on one pool."""
    env = simpy.Environment()
    events: list[Event] = []
    log = event_log(env, events)
    supply_rng, job_rng = rng.spawn(2)
    state = PoolState(env, pool, supply_steps(scenario, pool, supply_rng), log)
    env.process(state.supply())
    job = None
    if planner is not None:
        job = TrainingJob(env, scenario, state, planner, job_rng, log)
        env.run(until=env.process(job.run()))
    horizon_h = scenario.horizon_days * HOURS_PER_DAY
    end_h = job.stats.finish_h if job and job.stats.finished else horizon_h
    return PoolRun(pool, state, job, events, end_h)


def _cost_timeline(scenario: Scenario, run: PoolRun, job_here: bool) -> Timeline:
    """Committed spend rate of a pool over time [USD/h] (costs.pool_cost, hour by hour), for the schedule."""
    pool = run.pool
    job = run.job if job_here else None
    capex_h = costs.capex_usd_per_chip_hour(scenario, pool) * (1.0 - pool.reserved_fraction)
    price = pool.cloud.price_per_chip_hour_usd if pool.cloud else 0.0
    kw_usd = costs.energy_usd_per_chip_hour(scenario, scenario.chip(pool.chip))
    times = set(run.state.delivered.times) | ({0.0, *plan.cloud_window_hours(scenario.start, pool.cloud)}
                                              if pool.cloud else set())
    if job is not None:
        times |= set(job.in_training.times)
    rate = Timeline()
    for t in sorted(x for x in times if x >= 0):
        ts = np.array([t])
        owned = float(run.state.delivered.at(ts)[0]) * capex_h
        rented_now = plan.rented_at(scenario.start, pool.cloud, t)
        training = float(job.in_training.at(ts)[0]) if job is not None else 0.0
        rented_used = min(training, rented_now)
        cloud = rented_used * price if costs.on_demand(pool) else rented_now * price
        rate.set(t, owned + cloud + (training - rented_used) * kw_usd)
    return rate


def fleet_costs(scenario: Scenario, runs: list[PoolRun], chosen: int) -> list[costs.PoolCost]:
    """Committed, used and idle spend of every pool when the job runs on ``runs[chosen]``."""
    end_h = runs[chosen].end_h
    return [costs.pool_cost(scenario, r.pool, (r.state.delivered.times, r.state.delivered.values),
                            (r.job.in_training.times, r.job.in_training.values) if i == chosen and r.job else None,
                            end_h)
            for i, r in enumerate(runs)]


def _pick(scenario: Scenario, runs: list[PoolRun], totals: list[float]) -> int:
    """`single` mode: the pool that finishes soonest (objective cost: the least committed spend that finishes)."""
    def key(i: int):
        r = runs[i]
        done = r.stats.finished
        main = totals[i] if scenario.strategy.objective == "cost" else r.end_h
        return (not done, main if done else -r.stats.tokens, i)

    return min(range(len(runs)), key=key)


def run_replication(scenario: Scenario, planners: dict[str, LayoutPlanner | None], seed: np.random.SeedSequence,
                    tables: bool = False) -> ReplicationOutput:
    """Simulate one replication. ``tables`` also builds the daily schedule, events and layouts."""
    rngs = [np.random.default_rng(s) for s in seed.spawn(len(scenario.fleet))]
    runs = [simulate_pool(scenario, p, planners[p.name], g) for p, g in zip(scenario.fleet, rngs, strict=True)]
    # the whole fleet priced as if the job ran on each pool; the strategy then keeps one
    priced = [fleet_costs(scenario, runs, i) for i in range(len(runs))]
    totals = [sum(c.committed_usd for c in fleet) for fleet in priced]
    best = _pick(scenario, runs, totals)
    chosen = runs[best]
    st = chosen.stats
    pool_costs = priced[best]
    metrics = {
        "finished": bool(st.finished),
        "time_to_train_days": st.finish_h / HOURS_PER_DAY if st.finished else math.nan,
        "cost_usd": totals[best],
        "used_usd": sum(c.used_usd for c in pool_costs),
        "pool_costs": [c.as_dict() for c in pool_costs],
        "energy_mwh": st.energy_kwh / 1000.0,
        "mfu": st.flops_chip_h / st.kept_chip_h if st.kept_chip_h else 0.0,
        "goodput": st.kept_chip_h / st.held_chip_h if st.held_chip_h else 0.0,
        "chip_hours": st.held_chip_h,
        "pool": chosen.pool.name,
        "failures": st.failures,
        "replans": st.replans,
        "checkpoints": st.checkpoints,
    }
    out = ReplicationOutput(metrics)
    if tables:
        out.schedule, out.events, out.layouts = _tables(scenario, runs, best)
    return out


def _date(start: dt.date, days: float) -> str:
    return (start + dt.timedelta(days=days)).isoformat()


def _tables(scenario: Scenario, runs: list[PoolRun], best: int):
    end_h = runs[best].end_h
    days = np.arange(0, int(math.ceil(end_h / HOURS_PER_DAY)) + 1)
    t = np.minimum(days * HOURS_PER_DAY + HOURS_PER_DAY - 1e-6, end_h)  # state at the end of each day
    dates = [_date(scenario.start, int(d)) for d in days]
    frames, events, layouts = [], [], []
    for i, r in enumerate(runs):
        chosen = i == best
        rate = _cost_timeline(scenario, r, chosen)  # committed spend; a pool the job skipped still costs its owner
        rented = plan.rented_at(scenario.start, r.pool.cloud, t)
        job = r.job if chosen else None
        frames.append(pd.DataFrame({
            "date": dates,
            "day": days,
            "pool": r.pool.name,
            "units_delivered": r.state.delivered.at(t).astype(int) + rented.astype(int),
            "units_in_service": r.state.in_service.at(t).astype(int),
            "units_in_training": job.in_training.at(t).astype(int) if job else 0,
            "units_failed": r.state.failed_tl.at(t).astype(int),
            "tokens_trained": job.tokens_tl.at(t) if job else 0.0,
            "cost_usd": rate.integral(t),
        }))
        # supply events of every pool; job events of the chosen one only
        events.extend(replace(e, pool=e.pool or r.pool.name) for e in r.events
                      if (chosen or e.kind in SUPPLY_EVENTS) and e.time_h <= end_h + 1e-9)
        if job:
            layouts.extend(job.layouts)
    events.sort(key=lambda e: e.time_h)
    ev = pd.DataFrame({
        "time_days": [e.time_h / HOURS_PER_DAY for e in events],
        "date": [_date(scenario.start, e.time_h / HOURS_PER_DAY) for e in events],
        "pool": [e.pool for e in events],
        "event": [e.kind for e in events],
        "units": [e.units for e in events],
        "detail": [e.detail for e in events],
    })
    return pd.concat(frames, ignore_index=True), ev, pd.DataFrame(layouts)
