"""Replications of a scenario (local or on a Dask cluster) and their summary (summary.json, docs/formats.md)."""

from __future__ import annotations

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
from ..strategy import Context
from .replication import ReplicationOutput, compare, run_replication


def _one(args) -> dict:
    scenario, ctx, seed, n = args
    return run_replication(scenario, ctx, seed, replications=n).metrics


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
    modes = pd.Series([r["mode"] for r in rows]).value_counts()
    pools = pd.Series([r["pool"] for r in rows]).value_counts()
    strategy = {"mode": str(modes.index[0]), "pools": str(pools.index[0]).split(" + "),
                "setting": scenario.strategy.mode,
                "choices": {f"{m}: {p}": int(c) for (m, p), c in
                            pd.Series(list(zip([r["mode"] for r in rows], [r["pool"] for r in rows],
                                               strict=True))).value_counts().items()}}
    return {"scenario": scenario.name, "planner_version": __version__, "seed": seed, "replications": n,
            "start": scenario.start.isoformat(), "strategy": strategy,
            "metrics": metrics, "expectations": expectations}


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
    ctx = Context(scenario, layout_planners(scenario))
    seeds = np.random.SeedSequence(seed).spawn(n)
    first: ReplicationOutput = run_replication(scenario, ctx, seeds[0], tables=True, replications=n)
    rows = [first.metrics]
    if progress:
        progress(1, n)
    rest = [(scenario, ctx, s, n) for s in seeds[1:]]
    if rest and backend == "dask":
        from .dask_backend import map_dask

        rows.extend(map_dask(_one, rest, scheduler=scheduler, workers=workers, progress=progress, total=n))
    else:
        for k, args in enumerate(rest, start=2):
            rows.append(_one(args))
            if progress:
                progress(k, n)
    reps = pd.DataFrame([{"replication": i, **{k: r[k] for k in ("finished", *DISTRIBUTION_KEYS)}, "mode": r["mode"],
                          "pool": r["pool"], "failures": r["failures"], "moves": r["moves"], "link_tb": r["link_tb"],
                          "model_factor": r["model_factor"], "start_days": r["start_days"]}
                         for i, r in enumerate(rows)])
    return RunResult(
        scenario_name=scenario.name,
        summary=summarize(scenario, seed, rows),
        start=scenario.start,
        schedule=first.schedule,
        events=first.events,
        plan=delivery_plan(scenario),
        layouts=first.layouts,
        replications=reps,
        links=first.links,
        # every mode side by side without failures: cheap, and what the strategy choice rests on
        compare=compare(scenario, ctx, seed, failures=False) if len(scenario.fleet) > 1 else [],
    )
