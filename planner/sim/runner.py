"""Replications of a scenario (local or on a Dask cluster) and the summary the contract fixes."""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
import pandas as pd

from .. import __version__
from ..errors import InfeasiblePlanError
from ..perf.search import LayoutPlanner, resolve_workload
from ..results import RunResult
from ..scenario import Scenario
from .replication import ReplicationOutput, run_replication

METRICS = ("time_to_train_days", "cost_usd", "energy_mwh", "mfu", "goodput", "chip_hours")


def build_planners(scenario: Scenario) -> dict[str, LayoutPlanner | None]:
    """One layout planner per pool (None where nothing fits even at the pool's full size)."""
    wl = scenario.workload
    workload = resolve_workload(wl.arch, wl.seq_len, wl.global_batch_tokens, wl.precision)
    from ..api import pool_pin

    planners, errors = {}, []
    for pool in scenario.fleet:
        try:
            planners[pool.name] = LayoutPlanner(wl.arch, scenario.chip(pool.chip), workload, pool.planned_units,
                                               pool_pin(pool))
        except InfeasiblePlanError as exc:
            planners[pool.name] = None
            errors.append(f"pool {pool.name!r}: {exc}")
    if all(p is None for p in planners.values()):
        raise InfeasiblePlanError("; ".join(errors))
    return planners


def _one(args) -> dict:
    scenario, planners, seed = args
    return run_replication(scenario, planners, seed).metrics


def _quantiles(values: list[float]) -> dict:
    v = np.asarray([x for x in values if x == x], dtype=float)
    if v.size == 0:
        return {"mean": None, "p10": None, "p50": None, "p90": None}
    return {"mean": float(v.mean()), "p10": float(np.quantile(v, 0.1)), "p50": float(np.quantile(v, 0.5)),
            "p90": float(np.quantile(v, 0.9))}


def summarize(scenario: Scenario, seed: int, rows: list[dict]) -> dict:
    """The contract's summary.json from the replications' metrics."""
    n = len(rows)
    metrics = {m: _quantiles([r[m] for r in rows]) for m in METRICS}
    metrics["finish_probability"] = sum(r["finished"] for r in rows) / n
    metrics = {k: metrics[k] for k in ("time_to_train_days", "finish_probability", *METRICS[1:])}
    expectations = []
    for e in scenario.expect:
        if e.metric == "finish_probability":
            value = metrics["finish_probability"]
        else:
            vals = np.asarray([r[e.metric] for r in rows], dtype=float)
            if e.metric == "time_to_train_days":
                vals = np.where(np.isnan(vals), math.inf, vals)  # an unfinished run never meets a deadline
            q = 0.5 if e.quantile is None else e.quantile
            value = float(np.quantile(vals, q, method="inverted_cdf"))
        ok = (e.max is None or value <= e.max) and (e.min is None or value >= e.min)
        item = {"metric": e.metric, "quantile": e.quantile, "max": e.max, "min": e.min,
                "value": value if math.isfinite(value) else None, "passed": bool(ok)}
        expectations.append({k: v for k, v in item.items() if v is not None or k in ("value", "passed")})
    return {"scenario": scenario.name, "planner_version": __version__, "seed": seed, "replications": n,
            "metrics": metrics, "expectations": expectations}


def delivery_plan(scenario: Scenario) -> pd.DataFrame:
    """The planned cumulative units by date per pool (owned deliveries and the cloud window)."""
    rows = []
    for p in scenario.fleet:
        if p.units:
            rows.append((scenario.start.isoformat(), p.name, p.units))
        for d in p.deliveries:
            rows.append((d.date.isoformat(), p.name, d.units))
        if p.cloud:
            owned = max([p.units] + [d.units for d in p.deliveries])
            rows.append((p.cloud.from_.isoformat(), p.name, owned + p.cloud.units))
            rows.append((p.cloud.until.isoformat(), p.name, owned))
    return pd.DataFrame(rows, columns=["date", "pool", "planned_units"])


def run_scenario(scenario: Scenario, replications: int | None = None, seed: int | None = None,
                 backend: str = "local", scheduler: str | None = None, workers: int | None = None,
                 progress: Callable[[int, int], None] | None = None) -> RunResult:
    """Simulate a scenario: replication 0 also gives the tables; every replication gives its metrics.

    Replication i draws from SeedSequence(seed).spawn(n)[i], so results do not depend on the backend
    or the number of workers.
    """
    n = replications or scenario.simulation.replications
    seed = scenario.simulation.seed if seed is None else seed
    planners = build_planners(scenario)
    seeds = np.random.SeedSequence(seed).spawn(n)
    first: ReplicationOutput = run_replication(scenario, planners, seeds[0], tables=True)
    rows = [first.metrics]
    if progress:
        progress(1, n)
    rest = [(scenario, planners, s) for s in seeds[1:]]
    if rest and backend == "dask":
        from .dask_backend import map_dask

        rows.extend(map_dask(_one, rest, scheduler=scheduler, workers=workers, progress=progress, total=n))
    else:
        for k, args in enumerate(rest, start=2):
            rows.append(_one(args))
            if progress:
                progress(k, n)
    reps = pd.DataFrame([{"replication": i, **{k: r[k] for k in ("finished", *METRICS)}, "pool": r["pool"],
                          "failures": r["failures"]} for i, r in enumerate(rows)])
    return RunResult(
        scenario_name=scenario.name,
        summary=summarize(scenario, seed, rows),
        schedule=first.schedule,
        events=first.events,
        plan=delivery_plan(scenario),
        layouts=first.layouts,
        replications=reps,
    )
