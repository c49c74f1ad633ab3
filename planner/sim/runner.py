"""Replications of a scenario (local or on a Dask cluster) and their summary (summary.json, docs/formats.md)."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable

import numpy as np
import pandas as pd

from .. import __version__, plan
from ..bridge import layout_planners
from ..metrics import DISTRIBUTION_KEYS
from ..results import RunResult
from ..scenario import Scenario
from ..stats import quantile_at, quantiles
from .replication import ReplicationOutput, run_replication


def _one(args) -> dict:
    scenario, planners, seed = args
    return run_replication(scenario, planners, seed).metrics


def summarize(scenario: Scenario, seed: int, rows: list[dict]) -> dict:
    """summary.json (docs/formats.md) from the replications' metrics."""
    n = len(rows)
    metrics = {m: quantiles([r[m] for r in rows]) for m in DISTRIBUTION_KEYS}
    metrics["finish_probability"] = sum(r["finished"] for r in rows) / n
    metrics = {k: metrics[k] for k in ("time_to_train_days", "finish_probability", *DISTRIBUTION_KEYS[1:])}
    expectations = []
    for e in scenario.expect:
        if e.metric == "finish_probability":
            value = metrics["finish_probability"]
        else:
            vals = np.asarray([r[e.metric] for r in rows], dtype=float)
            if e.metric == "time_to_train_days":
                vals = np.where(np.isnan(vals), math.inf, vals)  # an unfinished run never meets a deadline
            value = quantile_at(vals, 0.5 if e.quantile is None else e.quantile)
        ok = (e.max is None or value <= e.max) and (e.min is None or value >= e.min)
        item = {"metric": e.metric, "quantile": e.quantile, "max": e.max, "min": e.min,
                "value": value if math.isfinite(value) else None, "passed": bool(ok)}
        expectations.append({k: v for k, v in item.items() if v is not None or k in ("value", "passed")})
    return {"scenario": scenario.name, "planner_version": __version__, "seed": seed, "replications": n,
            "metrics": metrics, "expectations": expectations, "start": scenario.start.isoformat(),
            "finish_date": finish_dates(scenario.start, metrics["time_to_train_days"]),
            "strategy": strategy_used(rows), "costs": summarize_costs(rows)}


def finish_dates(start: dt.date, time_to_train: dict) -> dict:
    """summary.json ``finish_date``: the calendar day of start + the p10, p50 and p90 time to train (None: never)."""
    out = {}
    for q in ("p10", "p50", "p90"):
        days = time_to_train.get(q)
        ok = days is not None and math.isfinite(days)
        out[q] = (start + dt.timedelta(days=math.floor(days))).isoformat() if ok else None
    return out


def strategy_used(rows: list[dict]) -> dict:
    """summary.json ``strategy``: how the pools were combined and which pools the job used, most often first."""
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["pool"]] = counts.get(r["pool"], 0) + 1
    return {"mode": "single", "pools": sorted(counts, key=lambda p: -counts[p])}


def summarize_costs(rows: list[dict]) -> dict:
    """summary.json ``costs``: committed, used and idle spend, means over the replications, and per pool.

    Means, not medians, so that idle = committed - used holds for the totals as for each replication.
    """
    n = len(rows)
    pools: dict[str, dict[str, float]] = {}
    for r in rows:
        for c in r.get("pool_costs") or []:
            acc = pools.setdefault(c["pool"], {"committed_usd": 0.0, "used_usd": 0.0, "idle_usd": 0.0})
            for k in acc:
                acc[k] += c[k] / n
    committed = sum(r["cost_usd"] for r in rows) / n
    used = sum(r.get("used_usd", 0.0) for r in rows) / n
    return {"committed_usd": committed, "used_usd": used, "idle_usd": max(committed - used, 0.0),
            "pools": [{"pool": k, **v} for k, v in pools.items()]}


def delivery_plan(scenario: Scenario) -> pd.DataFrame:
    """The planned cumulative units by date per pool (owned deliveries and the cloud window)."""
    rows = [row for p in scenario.fleet for row in plan.plan_rows(scenario.start, p)]
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
    planners = layout_planners(scenario)
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
    reps = pd.DataFrame([{"replication": i, **{k: r[k] for k in ("finished", *DISTRIBUTION_KEYS)}, "pool": r["pool"],
                          "failures": r["failures"]} for i, r in enumerate(rows)])
    return RunResult(
        scenario_name=scenario.name,
        summary=summarize(scenario, seed, rows),
        start=scenario.start,
        schedule=first.schedule,
        events=first.events,
        plan=delivery_plan(scenario),
        layouts=first.layouts,
        replications=reps,
        inputs=scenario.model_dump(mode="json", by_alias=True, exclude_none=True),
    )
