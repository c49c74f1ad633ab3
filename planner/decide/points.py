"""Simulate many edited scenarios (points), each a Monte Carlo run, on the local pool or on Dask."""

from __future__ import annotations

import gc
import math
from collections.abc import Callable, Sequence

from ..budget import check_points
from ..cashflow import in_currency
from ..errors import InfeasiblePlanError
from ..metrics import DISTRIBUTION_KEYS
from ..scenario import Scenario
from ..sim.runner import run_scenario
from ..stats import NEVER, time_quantile
from ..summary import QUANTILE_KEYS, Summary

NO_LAYOUT = "no layout fits"  # the start of an infeasible point's note


def _point(context: tuple[int | None, int | None], scenario: Scenario) -> dict:
    """One point: its summary and the per-replication finish times and costs.

    A point where no parallel layout fits (InfeasiblePlanError) is not an error of the whole sweep: it comes
    back with ``summary`` None, ``infeasible`` the reason, and every replication unfinished (never).
    """
    replications, seed = context
    try:
        r = run_scenario(scenario, replications=replications, seed=seed, workers=1, cash_flow=False)
    except InfeasiblePlanError as exc:
        n = replications or scenario.simulation.replications
        return {"summary": None, "infeasible": str(exc), "infeasible_job": exc.job, "replications": n,
                "time_to_train_days": [math.inf] * n, "cost_usd": []}
    reps = r.replications
    out = {"summary": r.summary, "infeasible": None, "replications": r.summary.replications,
           "time_to_train_days": [float(x) for x in reps["time_to_train_days"]],
           "cost_usd": [float(x) for x in reps["cost_usd"]],
           # a portfolio: each job's times to train (`solve --job`)
           "jobs_time_to_train_days": {j.name: [float(x) for x in reps[f"{j.name}.time_to_train_days"]]
                                       for j in r.summary.jobs}}
    # the run's context (layout planners and their grids, strategies, the engine's processes) sits in
    # reference cycles that only a full collection frees: free it now, so that memory stays flat from one
    # point to the next (a goal seek evaluates up to 40 in one process; without this 8-25 MiB of RSS stayed
    # per point of the seed scenario)
    del r, reps
    gc.collect()
    return out


def _point_args(args: tuple) -> dict:
    scenario, replications, seed = args
    return _point((replications, seed), scenario)


def run_points(scenarios: Sequence[Scenario], replications: int | None = None, seed: int | None = None,
               backend: str = "local", scheduler: str | None = None, workers: int | None = None,
               progress: Callable[[int, int], None] | None = None, source: str | None = None,
               labels: Sequence[str] | None = None) -> list[dict]:
    """Each scenario simulated with the same replications and root seed, in order.

    Points run in parallel (one process per point); each point's replications run in that process,
    so a point gives exactly what ``planner run`` gives for it. Every point is first held to the work
    bound of ``planner run`` (planner/budget.py): one over it is refused, named by ``labels`` (its inputs),
    before any point runs.
    """
    check_points(scenarios, source, labels)
    n = len(scenarios)
    if backend == "dask":
        from ..sim.dask_backend import map_dask

        out = map_dask(_point_args, [(s, replications, seed) for s in scenarios], scheduler=scheduler,
                       workers=workers, progress=(lambda k, _t: progress(k - 1, n)) if progress else None,
                       total=n + 1)
        return out
    from ..sim.parallel import map_local

    return map_local(_point, (replications, seed), list(scenarios), workers=workers,
                     progress=(lambda k: progress(k, n)) if progress else None)


def finish_quantile_days(times: Sequence[float], q: float) -> float:
    """The ``q`` quantile of time to train [days], unfinished replications counting as never: stats.time_quantile."""
    return time_quantile(times, q)


def infeasible_note(reason: str) -> str:
    """The ``note`` of a point where no layout fits: ``no layout fits: <why>``."""
    return f"{NO_LAYOUT}: {reason}"


def all_infeasible(results: Sequence[dict]) -> InfeasiblePlanError | None:
    """The error to end with when no point could train at all, or None when one could.

    `planner sweep` and `sensitivity` exit 2 on it, `solve` 1 (the contract's codes).
    """
    if not results or any(r.get("infeasible") is None for r in results):
        return None
    reasons = list(dict.fromkeys(r["infeasible"] for r in results))
    return InfeasiblePlanError(f"no point can train: {reasons[0]}"
                               + (f" (and {len(reasons) - 1} other reason(s))" if len(reasons) > 1 else ""))


def result_row(result: dict) -> dict:
    """The row of one point of :func:`run_points`, with a ``note`` (empty when the point trained).

    :func:`point_row`, or for a point where no layout fits: finish probability 0, the dates ``never`` and
    the note ``no layout fits: <why>``, and so for the job of a portfolio no layout fits (its columns); its other
    figures are missing (the other jobs' too: the point did not run).
    """
    if result.get("infeasible") is None:
        return {**point_row(result["summary"]), "note": ""}
    job = {}
    if result.get("infeasible_job"):
        who = f"job {result['infeasible_job']}: "
        job = {f"{who}finish_probability": 0.0, **{f"{who}finish_date_{q}": NEVER for q in ("p50", "p90")}}
    return {"finish_probability": 0.0, **{f"finish_date_{q}": NEVER for q in QUANTILE_KEYS}, **job,
            "note": infeasible_note(result["infeasible"])}


def point_row(summary: Summary) -> dict:
    """A flat row of a point's figures: each metric's mean/p10/p50/p90, finish probability and dates."""
    row = {}
    for m in DISTRIBUTION_KEYS:
        stat = summary.stat(m)
        for k, v in stat.items() if stat is not None else ():
            row[f"{m}_{k}"] = v
    row["finish_probability"] = summary.finish_probability
    for k, v in summary.finish_date.items() if summary.finish_date is not None else ():
        row[f"finish_date_{k}"] = v
    # the figures known only as lower bounds (summary.json ``at_least``: replications stopped by the horizon)
    bounds = ([f"{m}_{q}" for m in DISTRIBUTION_KEYS for q in ("mean", *QUANTILE_KEYS) if summary.bound(m, q)]
              + [f"finish_date_{q}" for q in QUANTILE_KEYS if summary.bound("time_to_train_days", q)])
    # the mean time to train counts the replications that finished (summary.json's, as the contract has it): with
    # some unfinished, the mean over every replication is at least it (theirs run past the horizon), and a row
    # read on its own says so (a mean of 303.5 days beside a P10 of at least 322 read as the run's mean)
    times = summary.stat("time_to_train_days")
    if summary.unfinished and times is not None and times.mean is not None and "time_to_train_days_mean" not in bounds:
        bounds.insert(0, "time_to_train_days_mean")
    for job in summary.jobs:  # a portfolio: the figures above are until its last job finishes; each job's own here
        js, who = job.summary, f"job {job.name}: "
        times = js.stat("time_to_train_days")
        for q in ("p50", "p90"):
            row[f"{who}time_to_train_days_{q}"] = times.at(q) if times is not None else None
            row[f"{who}finish_date_{q}"] = getattr(js.finish_date, q) if js.finish_date is not None else None
            bounds += [f"{who}{k}_{q}" for k in ("time_to_train_days", "finish_date")
                       if js.bound("time_to_train_days", q)]
        row[f"{who}finish_probability"] = js.finish_probability
        if job.deadline is not None:  # unknown when the horizon ends first: at least the share that met it by then
            known = job.deadline_probability
            row[f"{who}deadline_probability"] = known if known is not None else job.deadline_at_least
            if known is None and job.deadline_at_least is not None:
                bounds.append(f"{who}deadline_probability")
    # the sums also in the scenario's currency, when it has one (README "Costs"): cost_usd_p50 -> cost_cny_p50
    rate = getattr(summary, "currency", None)
    row["at_least"] = ", ".join(in_currency({"at_least": bounds}, rate)["at_least"])
    return in_currency(row, rate)
