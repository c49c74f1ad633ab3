"""One replication: simulate the job on each pool, keep the pool the strategy picks, price it, tabulate it."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import simpy

from ..perf.search import LayoutPlanner
from ..scenario import Pool, Scenario
from ..units import HOURS_PER_DAY, HOURS_PER_YEAR
from .engine import JobStats, PoolState, Timeline, TrainingJob
from .supply import hours_since_start, supply_steps


@dataclass
class PoolRun:
    """The job simulated on one pool."""

    pool: Pool
    state: PoolState
    job: TrainingJob | None
    events: list[tuple]
    end_h: float

    @property
    def stats(self) -> JobStats:
        return self.job.stats if self.job else JobStats()


@dataclass
class ReplicationOutput:
    metrics: dict  # finished, time_to_train_days, cost_usd, energy_mwh, mfu, goodput, chip_hours
    schedule: pd.DataFrame | None = None
    events: pd.DataFrame | None = None
    layouts: pd.DataFrame | None = None


def simulate_pool(scenario: Scenario, pool: Pool, planner: LayoutPlanner | None, rng: np.random.Generator) -> PoolRun:
    """The training job alone on one pool."""
    env = simpy.Environment()
    events: list[tuple] = []

    def log(pool_name: str, kind: str, units: int, detail: str = "") -> None:
        events.append((env.now, pool_name, kind, int(units), detail))

    supply_rng, job_rng = rng.spawn(2)
    steps = supply_steps(scenario, pool, supply_rng)
    state = PoolState(env, pool, steps, log)
    env.process(state.supply())
    job = None
    if planner is not None:
        job = TrainingJob(env, scenario, state, planner, job_rng, log)
        proc = env.process(job.run())
        env.run(until=proc)
    horizon_h = scenario.horizon_days * HOURS_PER_DAY
    end_h = job.stats.finish_h if job and job.stats.finished else horizon_h
    return PoolRun(pool, state, job, events, end_h)


def _cost_timelines(scenario: Scenario, run: PoolRun) -> tuple[Timeline, Timeline]:
    """(cost rate [USD/h], energy-cost rate [USD/h]) of a pool over time, were the job to run on it."""
    rate = Timeline()
    pool = run.pool
    chip = scenario.chip(pool.chip)
    costs = scenario.costs
    price = pool.unit_price_usd or costs.unit_price_usd.get(pool.chip) or chip.unit_price_usd or 0.0
    capex_per_chip_h = price / (costs.amortization_years * HOURS_PER_YEAR)
    cloud_units = pool.cloud.units if pool.cloud else 0
    # owned usable chips = usable minus rented; straight-line amortization while the job owns them (sec. costs)
    ts = sorted(set(run.state.in_service.times))
    cloud_rate = pool.cloud.price_per_chip_hour_usd if pool.cloud else 0.0
    start_h = hours_since_start(scenario, pool.cloud.from_) if pool.cloud else math.inf
    stop_h = hours_since_start(scenario, pool.cloud.until) if pool.cloud else -math.inf
    for t in ts:
        usable = float(run.state.in_service.at(np.array([t]))[0])
        rented = cloud_units if start_h <= t < stop_h else 0
        rate.set(t, (usable - rented) * capex_per_chip_h + rented * cloud_rate)
    # energy of owned chips in training; cloud prices include power
    energy = Timeline()
    kw = chip.tdp_w / 1000.0 * costs.pue * costs.energy_usd_per_kwh
    if run.job is not None:
        for t, v in zip(run.job.in_training.times, run.job.in_training.values):
            rented = cloud_units if start_h <= t < stop_h else 0
            energy.set(t, max(v - rented, 0) * kw)
    return rate, energy


def _pick(scenario: Scenario, runs: list[PoolRun], costs: list[float]) -> int:
    """`single` mode: the pool that finishes soonest (objective cost: the cheapest that finishes)."""
    def key(i: int):
        r = runs[i]
        done = r.stats.finished
        main = costs[i] if scenario.strategy.objective == "cost" else r.end_h
        return (not done, main if done else -r.stats.tokens, i)

    return min(range(len(runs)), key=key)


def run_replication(scenario: Scenario, planners: dict[str, LayoutPlanner | None], seed: np.random.SeedSequence,
                    tables: bool = False) -> ReplicationOutput:
    """Simulate one replication. ``tables`` also builds the daily schedule, events and layouts."""
    rngs = [np.random.default_rng(s) for s in seed.spawn(len(scenario.fleet))]
    runs = [simulate_pool(scenario, p, planners[p.name], g) for p, g in zip(scenario.fleet, rngs)]
    # each pool priced as if the job ran there; the strategy then keeps one
    priced = [_cost_timelines(scenario, r) for r in runs]
    totals = [float(rate.integral(np.array([r.end_h]))[0] + energy.integral(np.array([r.end_h]))[0])
              for r, (rate, energy) in zip(runs, priced)]
    best = _pick(scenario, runs, totals)
    chosen = runs[best]
    st = chosen.stats
    metrics = {
        "finished": bool(st.finished),
        "time_to_train_days": st.finish_h / HOURS_PER_DAY if st.finished else math.nan,
        "cost_usd": totals[best],
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
        out.schedule, out.events, out.layouts = _tables(scenario, runs, best, priced)
    return out


def _tables(scenario: Scenario, runs: list[PoolRun], best: int, priced: list[tuple[Timeline, Timeline]]):
    end_h = runs[best].end_h
    days = np.arange(0, int(math.ceil(end_h / HOURS_PER_DAY)) + 1)
    t = np.minimum(days * HOURS_PER_DAY + HOURS_PER_DAY - 1e-6, end_h)  # state at the end of each day
    dates = [(scenario.start + dt.timedelta(days=int(d))).isoformat() for d in days]
    frames, events, layouts = [], [], []
    for i, r in enumerate(runs):
        chosen = i == best
        rate, energy = priced[i] if chosen else (Timeline(), Timeline())  # pools the job skipped cost it nothing
        cloud = r.pool.cloud
        rented = np.zeros_like(t)
        if cloud:
            on_rent = (t >= hours_since_start(scenario, cloud.from_)) & (t < hours_since_start(scenario, cloud.until))
            rented = np.where(on_rent, cloud.units, 0)
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
            "cost_usd": rate.integral(t) + energy.integral(t),
        }))
        # supply events of every pool; job events of the chosen one only
        for (th, pool, kind, units, detail) in r.events:
            if chosen or kind in ("delivery", "commissioning", "cloud_start", "cloud_end"):
                if th <= end_h + 1e-9:
                    events.append((th, pool or r.pool.name, kind, units, detail))
        if job:
            layouts.extend(job.layouts)
    ev = pd.DataFrame(sorted(events, key=lambda e: e[0]), columns=["time_h", "pool", "event", "units", "detail"])
    ev.insert(0, "time_days", ev.pop("time_h") / HOURS_PER_DAY)
    ev.insert(1, "date", [(scenario.start + dt.timedelta(days=float(d))).isoformat() for d in ev["time_days"]])
    return pd.concat(frames, ignore_index=True), ev, pd.DataFrame(layouts)
