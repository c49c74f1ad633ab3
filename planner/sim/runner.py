"""Replications of a scenario (local or on a Dask cluster) and their summary (summary.json, docs/formats.md)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from .. import __version__, plan
from .. import costs as costs_of
from ..bridge import layout_planners
from ..errors import InfeasiblePlanError
from ..metrics import DISTRIBUTION_KEYS, GROWING_KEYS
from ..results import PLAN_COLUMNS, RunResult
from ..scenario import Scenario
from ..stats import (
    NEVER,
    QUANTILES,
    beyond_unfinished,
    lower_bounds,
    quantile_at,
    quantile_rows,
    quantiles,
    time_bounds,
    time_quantiles,
    time_stat,
)
from ..strategy import Context, options
from ..summary import (
    UNTRAINED,
    Costs,
    CurrencyRate,
    ExpectationResult,
    FinishDates,
    PoolCosts,
    Stat,
    StrategyChoice,
    Summary,
)
from .draws import fresh, replication_draws
from .money import portfolio_cashflow, run_cashflow
from .replication import ReplicationOutput, band_statement, compare, run_replication

if TYPE_CHECKING:
    import pandas as pd

FAN_SAMPLE = 100  # the first replications also return their daily tokens trained, for the fan chart


def _one(recipe: tuple[Scenario, int]) -> tuple:
    """The context of _one_seed as a Dask worker builds it, once, from (scenario, n).

    The scenario, its Context (the layout planners are built on the worker, not shipped) and n.
    """
    scenario, n = recipe
    return scenario, Context(scenario, layout_planners(scenario)), n


def _one_portfolio(recipe: tuple[Scenario, int]) -> tuple:
    """``_one`` for a scenario with ``jobs:``: the jobs' Contexts (planner/sim/portfolio.py)."""
    from .portfolio import portfolio_context

    scenario, n = recipe
    return scenario, portfolio_context(scenario), n


def portfolio_that_trains(scenario: Scenario):
    """The portfolio's context, when every job can train on its pools (else InfeasiblePlanError, saying why)."""
    from .portfolio import portfolio_context

    ctx = portfolio_context(scenario)
    for job, job_ctx, js in zip(ctx.jobs, ctx.contexts, ctx.scenarios, strict=True):
        candidates, why = options(job_ctx, js.strategy.mode)
        if not candidates:
            raise InfeasiblePlanError(f"job {job.name!r}: no strategy mode can train: "
                                      + "; ".join(f"{m}: {w}" for m, w in why.items()))
    return ctx


def replicate(scenario: Scenario, ctx, seed: np.random.SeedSequence, n: int, tables: bool = False,
              curve: bool = False) -> ReplicationOutput:
    """One replication: of the one job (``ctx`` a Context), or of every job of a portfolio (a PortfolioContext)."""
    if scenario.jobs:
        from .portfolio import portfolio_replication

        return portfolio_replication(ctx, seed, tables=tables, replications=n, curve=curve)
    return run_replication(scenario, ctx, seed, tables=tables, replications=n, curve=curve)


def _one_seed(context, item) -> dict:
    """One replication's metrics (the function both backends map over (index, seed) pairs).

    The first FAN_SAMPLE replications also give ``tokens_by_day``: cumulative tokens trained at the end
    of each day (all pools), for the fan chart; memory stays flat however many replications run.
    """
    scenario, ctx, n = context
    i, seed = item
    if i >= FAN_SAMPLE:
        return replicate(scenario, ctx, seed, n).metrics
    out = replicate(scenario, ctx, seed, n, curve=True)
    return {**out.metrics, "tokens_by_day": out.tokens_by_day}


def tokens_fan(scenario: Scenario, rows: list[dict]) -> pd.DataFrame:
    """P10/P50/P90 of cumulative tokens trained by day over the replications that kept their curve."""
    import pandas as pd  # here, not at import: the workers of a run never need it
    curves = [r["tokens_by_day"] for r in rows if r.get("tokens_by_day") is not None]
    cols = ["day", "date", "tokens_p10", "tokens_p50", "tokens_p90", "tokens_target", "replications"]
    if not curves:
        return pd.DataFrame(columns=cols)
    days = max(len(c) for c in curves)
    # a curve ends when its replication does; after that its tokens stay where they were
    grid = np.vstack([np.concatenate([c, np.full(days - len(c), c[-1])]) for c in curves])
    q = quantile_rows(grid, (0.1, 0.5, 0.9))
    return pd.DataFrame({
        "day": np.arange(days), "date": [(scenario.start + dt.timedelta(days=int(d))).isoformat() for d in range(days)],
        "tokens_p10": q[0], "tokens_p50": q[1], "tokens_p90": q[2],
        "tokens_target": sum(w.tokens for _where, w in scenario.workloads()),
        "replications": len(curves)})


def finish_date(start: dt.date, days: float | None) -> str | None:
    """The calendar date of ``days`` after day 0 (day 0 is ``start``; 0.5 days is still ``start``)."""
    if days is None or not math.isfinite(days):
        return None
    return (start + dt.timedelta(days=math.floor(days))).isoformat()


def replication_table(scenario: Scenario, seed: int, seeds: list[np.random.SeedSequence],
                      rows: list[dict]) -> pd.DataFrame:
    """replications.csv: a row per replication with its seed, its draws, the pool used, dates and metrics."""
    import pandas as pd  # here, not at import: the workers of a run never need it
    out = []
    for i, (ss, r, draws) in enumerate(zip(seeds, rows, replication_draws(scenario, seeds), strict=True)):
        waiting = r["start_days"]  # the day the job first trained: days spent waiting for capacity
        ttt = r["time_to_train_days"]
        out.append({
            "replication": i, **{k: r[k] for k in ("finished", *DISTRIBUTION_KEYS)},
            "seed": seed, "spawn_key": ".".join(str(k) for k in ss.spawn_key),
            # (a portfolio's mode and pool: its first trained job's pair; every pool a job trained on: pools_trained)
            "mode": r["mode"], "pool": r.get("mode_pool", r["pool"]),
            **({"pools_trained": r["pool"]} if "mode_pool" in r else {}),
            "failures": r["failures"], "replans": r.get("replans"),
            "checkpoints": r.get("checkpoints"), "moves": r["moves"], "link_tb": r["link_tb"],
            "model_factor": r["model_factor"], "start_days": waiting,
            # the day the job first trained (start_days), as finish_date is the day it finished: it was the scenario's
            # start on every row
            "start_date": finish_date(scenario.start, waiting), "finish_date": finish_date(scenario.start, ttt),
            "waiting_days": waiting, "training_days": ttt - waiting if r["finished"] else math.nan,
            # a portfolio: each job's own time to train (its finish, as `solve --job` reads it) and its own draw of the
            # cost model's error (``model_factor`` is the first job's)
            **{f"{name}.{k}": j[k] for name, j in (r.get("jobs") or {}).items()
               for k in ("time_to_train_days", "model_factor")},
            # with site power: the chip-days its delivered chips waited for power (summary.json's quantiles of it)
            **({"power_wait_chip_days": r.get("power_wait_chip_days", 0.0)} if scenario.sites else {}),
            **draws,
        })
    return pd.DataFrame(out)


def dates_summary(scenario: Scenario, reps: pd.DataFrame) -> dict:
    """The Summary fields `start`, `finish_date` {p10, p50, p90}, training and waiting days and pools used."""
    horizon = float(scenario.horizon_days)
    ttt = time_quantiles(reps["time_to_train_days"], horizon)
    # where a replication that did not finish had got to at the horizon: training since its start, and waiting to the
    # horizon if it never started. One that never started counts as training for ever, as time to train counts it as
    # never (at 0 days every quantile below it read "at least 0")
    waiting = [float(w) for w in reps["waiting_days"]]
    trained_to = [max(horizon - w, 0.0) if w == w else math.inf for w in waiting]
    # their means are of the replications that finished (that started): with others, at least those (a mean waiting of
    # 21.1 days over the 33 of 40 that started, where the 7 others waited 30 days or more, read as the mean)
    bounds = {k: b for k, values, cut in (("training_days", reps["training_days"], trained_to),
                                          ("waiting_days", waiting, horizon))
              if (b := (("mean",) if any(v != v for v in values) else ()) + time_bounds(values, cut))}
    return {
        "start": scenario.start.isoformat(),
        # a quantile beyond the finish probability is never (docs/formats.md); one known only as at least a time
        # is that time (``Summary.at_least``: the finish date is then at the earliest that one)
        "finish_date": FinishDates(**{k: finish_date(scenario.start, ttt[k]) or NEVER for k in ("p10", "p50", "p90")}),
        # a replication that never finishes trains for ever, and one that never starts waits for ever: quantiles
        # beyond them are never, as time to train's (the mean is of the others)
        "training_days": Stat.from_json(time_quantiles(reps["training_days"], trained_to)),
        "waiting_days": Stat.from_json(time_quantiles(waiting, horizon)),
        "pools_used": dict(sorted(Counter(p or UNTRAINED for p in reps.get("pools_trained", reps["pool"])).items())),
        "at_least": bounds,
    }


def summarize(scenario: Scenario, seed: int, rows: list[dict], dates: dict | None = None,
              costs: Costs | None = None, spend_grows: bool | None = None) -> Summary:
    """summary.json (docs/formats.md) from the replications' metrics, with ``dates_summary`` and the costs.

    ``spend_grows``: whether ``cost_usd`` grows with the run's end (default: the committed spend,
    ``costs.committed_grows``; a portfolio's job's, its used spend, always does): only then is the spend of a run
    stopped by the horizon a lower bound.
    """
    grows = costs_of.committed_grows(scenario) if spend_grows is None else spend_grows
    import pandas as pd  # here, not at import: the workers of a run never need it
    n = len(rows)
    # in DISTRIBUTION_KEYS' order, time to train first; it counts an unfinished replication as never
    horizon = float(scenario.horizon_days)  # where a replication that did not finish had got to
    metrics = {m: Stat.from_json(time_quantiles([r[m] for r in rows], horizon) if m == "time_to_train_days"
                                 else quantiles([r[m] for r in rows])) for m in DISTRIBUTION_KEYS}
    done = [bool(r["finished"]) for r in rows]
    finish_probability = sum(done) / n
    unpriced = costs_of.unpriced(scenario)  # owned chips of no known price: their write-off is not in the spend
    expectations = []
    for e in scenario.expect:
        low = high = False  # the value is known only as a lower (upper) bound
        if e.metric == "finish_probability":
            value = finish_probability
        else:
            q = 0.5 if e.quantile is None else e.quantile
            vals = [r[e.metric] for r in rows]
            # an unfinished run never meets a deadline (the same quantile as summary.json's); and its spend (energy,
            # chip-hours) so far is less than its whole run's, so it meets no upper bound either (else a short
            # horizon would pass a budget check). A commitment that does not grow with the run is no exception: it
            # is what the plan costs, not what training the model costs (a rental ending before the job finished
            # passed a budget on 46% of the model trained)
            as_never = e.metric == "time_to_train_days" or (e.max is not None and e.metric in GROWING_KEYS)
            if as_never:
                vals = beyond_unfinished(vals, done)
            # (a time known only as at least a value is that value; a growing figure's most has no top past the
            # last finish)
            value, low = (time_stat(vals, q, horizon if e.metric == "time_to_train_days" else None) if as_never
                          else (quantile_at(vals, q), False))
            # a spend so counted is the most its quantile can be: the replications stopped by the horizon would have
            # spent more, by how much no run says (summary.json's own quantile is the least, ``at_least``)
            high = (as_never and e.metric != "time_to_train_days" and math.isfinite(value)
                    and value != quantile_at([r[e.metric] for r in rows], q))
            low = low or (e.metric == "cost_usd" and bool(unpriced))
        # a quantile that never came (null in summary.json) fails a maximum and meets a minimum (a run that never
        # finishes takes at least any time); one known only as at least a value meets no maximum (it may be beyond it)
        ok = (not math.isnan(value) and (e.max is None or (math.isfinite(value) and value <= e.max and not low))
              and (e.min is None or value >= e.min))
        # the quantile checked is written out, also the default P50 (`expect` without one)
        expectations.append(ExpectationResult(metric=e.metric, max=e.max, min=e.min,
                                              quantile=(0.5 if e.quantile is None else e.quantile)
                                              if e.metric != "finish_probability" else e.quantile,
                                              value=value if math.isfinite(value) else None, passed=bool(ok),
                                              at_least=bool(low and math.isfinite(value)),
                                              at_most=bool(high and not low)))
    # the most common (mode, pools) pair, as one replication ran it (a mode and pools counted apart may pair
    # a mode with pools it never ran on); ties go to the pair met first
    # (a portfolio's pair is its first trained job's: ``mode_pool``; its ``pool`` is every job's)
    pairs = pd.Series(list(zip([r["mode"] for r in rows], [r.get("mode_pool", r["pool"]) for r in rows],
                               strict=True))).value_counts()
    mode, pool = pairs.index[0]
    strategy = StrategyChoice(mode=str(mode), pools=tuple(p for p in str(pool).split(" + ") if p),
                              setting=scenario.strategy.mode,
                              choices={f"{m}: {p or UNTRAINED}": int(c) for (m, p), c in pairs.items()})
    dates = {"start": scenario.start.isoformat(), **(dates or {})}
    day_bounds = dates.pop("at_least", {})  # training and waiting days known only as at least a value
    bounds = {m: b for m in GROWING_KEYS if (grows or m != "cost_usd") and (b := lower_bounds([r[m] for r in rows],
                                                                                              done))}
    if unpriced:  # every figure of the spend leaves out a write-off: each is at least what it says
        bounds["cost_usd"] = ("mean", *(f"p{round(q * 100)}" for q in QUANTILES))
    return Summary(scenario=scenario.name, planner_version=__version__, seed=seed, replications=n,
                   strategy=strategy, metrics=metrics, finish_probability=finish_probability,
                   expectations=tuple(expectations), unfinished=n - sum(done),
                   at_least={**bounds,
                             **({"time_to_train_days": b} if (b := time_bounds([r["time_to_train_days"] for r in rows],
                                                                                horizon)) else {}),
                             **day_bounds},
                   # what held the job below the chips in service in replication 0 (the one the tables show)
                   limits=tuple(rows[0].get("limits") or []), **dates, costs=costs, unpriced_pools=unpriced,
                   counted=counted_of(rows), idle_state=costs_of.idle_bound(scenario, n > sum(done)))


def counted_of(rows: list[dict]) -> dict[str, int]:
    """The figures fewer than every replication gave, and how many gave each.

    A replication that never trained has no MFU or goodput: their quantiles are of the others, and the reports say
    of how many.
    """
    out = {}
    for m in DISTRIBUTION_KEYS:
        if m == "time_to_train_days":  # counts the others as never (stats.time_quantiles)
            continue
        k = sum(1 for r in rows if r[m] is not None and r[m] == r[m] and math.isfinite(r[m]))
        if k < len(rows):
            out[m] = k
    return out


def _with_jobs(scenario: Scenario, pctx, seed: int, rows: list[dict], summary: Summary) -> Summary:
    """The portfolio's summary with each job's own (``jobs``) and the expectations that name a job."""
    import pandas as pd  # here, not at import: the workers of a run never need it

    from ..deadline import meets_deadline, past_horizon
    from ..summary import JobSummary

    jobs: list[JobSummary] = []
    # the checks in the order the file lists them (a CI script pairs expectations[i] with expect[i])
    checks = [c if e.job is None else None for c, e in zip(summary.expectations, scenario.expect, strict=True)]
    for job, js in zip(pctx.jobs, pctx.scenarios, strict=True):
        job_rows = [{**r["jobs"][job.name], "cost_usd": r["jobs"][job.name]["used_usd"]} for r in rows]
        js = js.model_copy(update={"expect": [e for e in scenario.expect if e.job == job.name]})
        reps = pd.DataFrame({
            "time_to_train_days": [r["time_to_train_days"] for r in job_rows],
            "training_days": [r["time_to_train_days"] - r["start_days"] if r["finished"] else math.nan
                              for r in job_rows],
            "waiting_days": [r["start_days"] for r in job_rows], "pool": [r["pool"] for r in job_rows]})
        one = summarize(js, seed, job_rows, dates_summary(js, reps), summarize_costs(job_rows), spend_grows=True)
        where = [i for i, e in enumerate(scenario.expect) if e.job == job.name]
        for i, e in zip(where, one.expectations, strict=True):
            checks[i] = dataclasses.replace(e, job=job.name)
        met = at_least = None
        if job.deadline is not None:
            met = sum(1 for r in job_rows if r["finished"] and meets_deadline(
                r["time_to_train_days"], scenario.start, job.deadline)) / len(job_rows)
            # a replication unfinished at a horizon before the deadline may still meet it: the share is unknown
            if past_horizon(scenario.start, job.deadline, scenario.horizon_days) and not all(r["finished"]
                                                                                               for r in job_rows):
                met, at_least = None, met
        jobs.append(JobSummary(job.name, job.priority, one, job.deadline.isoformat() if job.deadline else None, met,
                               at_least))
    return dataclasses.replace(summary, jobs=tuple(jobs), expectations=tuple(c for c in checks if c is not None))


def summarize_costs(rows: list[dict]) -> Costs:
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
    return Costs(committed_usd=committed, used_usd=used, idle_usd=max(committed - used, 0.0),
                 pools=tuple(PoolCosts(pool=k, **v) for k, v in pools.items()))


def delivery_plan(scenario: Scenario) -> pd.DataFrame:
    """The planned cumulative units by date per pool (owned deliveries and the cloud window).

    ``usable_units``: what of them the plan leaves for training, the pool's ``reserved_fraction`` held back (what
    the chips in service are counted against).
    """
    import pandas as pd  # here, not at import: the workers of a run never need it
    rows = [(*row, plan.usable(row[2], p.reserved_fraction))
            for p in scenario.fleet for row in plan.plan_rows(scenario.start, p)]
    return pd.DataFrame(rows, columns=PLAN_COLUMNS)


def _unstated_prices_left_out(scenario: Scenario) -> dict:
    """The scenario as run, in JSON; a rental's price the file does not state stays out (not a price of $0)."""
    inputs = scenario.model_dump(mode="json", by_alias=True, exclude_none=True)
    for pool, out in zip(scenario.fleet, inputs.get("fleet") or [], strict=False):
        if pool.cloud is not None and pool.cloud.stated_price_usd is None:
            (out.get("cloud") or {}).pop("price_per_chip_hour_usd", None)
    return inputs


def _ran(inputs: dict, seed: int, replications: int) -> dict:
    """The scenario's inputs with the seed and replications the run used (`--seed`, `--replications` may differ)."""
    inputs.setdefault("simulation", {}).update(seed=seed, replications=replications)
    return inputs


def run_scenario(scenario: Scenario, replications: int | None = None, seed: int | None = None,
                 backend: str = "local", scheduler: str | None = None, workers: int | None = None,
                 progress: Callable[[int, int], None] | None = None, cash_flow: bool = True,
                 meanwhile: Callable[[], object] | None = None) -> RunResult:
    """Simulate a scenario: replication 0 also gives the tables; every replication gives its metrics.

    ``cash_flow``: also price one representative replication month by month (planner/sim/money.py: one more
    replication's work) and state the model band in words (``model_band``); the points of a sweep, a
    sensitivity or a goal seek read only the summary and skip both.

    Replication i draws from SeedSequence(seed).spawn(n)[i], so results do not depend on the backend
    or the number of workers.
    """
    n = replications or scenario.simulation.replications
    seed = scenario.simulation.seed if seed is None else seed
    if scenario.jobs:
        ctx = portfolio_that_trains(scenario)
    else:
        ctx = Context(scenario, layout_planners(scenario))
        candidates, why = options(ctx, scenario.strategy.mode)
        if not candidates:  # e.g. sync with one pool too small for any layout: nothing fits (exit 3, as estimate)
            raise InfeasiblePlanError("no strategy mode can train: "
                                      + "; ".join(f"{m}: {w}" for m, w in why.items()))
    seeds = np.random.SeedSequence(seed).spawn(n)

    modes: list[dict] = []

    def first_replication() -> ReplicationOutput:
        out = replicate(scenario, ctx, seeds[0], n, tables=True)
        if progress:
            progress(1, n)
        if len(scenario.fleet) > 1 and not scenario.jobs:
            # every mode side by side without failures: cheap, and what the strategy choice rests on
            modes.extend(compare(scenario, ctx, seed, failures=False))
        if meanwhile is not None:  # the caller's own work, while the workers take the other replications
            meanwhile()
        return out

    rest = [(scenario, ctx, s, n) for s in seeds[1:]]
    first: ReplicationOutput | None = None
    rows: list[dict] = []
    if rest:
        # the strategy pick and the layouts it searches are made once, here, before the workers start: forked (or
        # sent with the Context to a local Dask cluster), they get them (each would otherwise repeat them);
        # replication 0's tables run beside the workers
        replicate(scenario, ctx, fresh(seeds[0]), n)  # a copy: spawning children changes a SeedSequence
    if rest and backend == "dask":
        from .dask_backend import Shared, map_dask, scenario_key

        # the Context crosses once per local worker; a scheduler's workers build it once from the scenario
        shared = Shared(_one_portfolio if scenario.jobs else _one, (scenario, n), f"{scenario_key(scenario)}/{n}",
                        ready=(scenario, ctx, n))
        done = map_dask(_one_seed, list(enumerate(seeds[1:], start=1)), scheduler=scheduler, workers=workers,
                        progress=progress, total=n, shared=shared, meanwhile=first_replication)
        first = done.meanwhile
        rows.extend(done)
    elif rest:
        from .parallel import map_local

        done = map_local(_one_seed, (scenario, ctx, n), list(enumerate(seeds[1:], start=1)), workers=workers,
                         progress=(lambda k: progress(k + 1, n)) if progress else None, meanwhile=first_replication)
        first = done.meanwhile
        rows.extend(done)
    if first is None:
        first = first_replication()
    rows.insert(0, {**first.metrics, "tokens_by_day": first.tokens_by_day})
    fan = tokens_fan(scenario, rows)
    reps = replication_table(scenario, seed, seeds, rows)
    summary = summarize(scenario, seed, rows, dates_summary(scenario, reps), summarize_costs(rows))
    if scenario.jobs:
        summary = _with_jobs(scenario, ctx, seed, rows, summary)
    if cash_flow:  # what a report says (the points of a sweep, a sensitivity or a goal seek skip it)
        # a portfolio: each job draws from its own band (its workload, its largest pool); the one stated is the
        # first job's (it gets chips first), with every job's listed
        bands = [band_statement(js, n, c) for js, c in (zip(ctx.scenarios, ctx.contexts, strict=True)
                                                        if scenario.jobs else [(scenario, ctx)])]
        band = dict(bands[0])
        if scenario.jobs:
            band["job"] = ctx.jobs[0].name
            band["jobs"] = [{"job": j.name, "p10": b["p10"], "p90": b["p90"], "pool": b["pool"]}
                            for j, b in zip(ctx.jobs, bands, strict=True)]
        summary = dataclasses.replace(summary, model_band=band)
    if scenario.sites:
        waits = [r.get("power_wait_chip_days", 0.0) for r in rows]
        summary = dataclasses.replace(summary, power_wait_chip_days=Stat.from_json(quantiles(waits)))
        # a run stopped by the horizon counted its chips' wait to the horizon only: at least that (as spend)
        if waited := lower_bounds(waits, [bool(r["finished"]) for r in rows]):
            summary = dataclasses.replace(summary, at_least={**summary.at_least, "power_wait_chip_days": waited})
    if scenario.currency is not None:
        summary = dataclasses.replace(summary, currency=CurrencyRate(scenario.currency.code,
                                                                    scenario.currency.per_usd))
    cash, cash_note = None, ""
    if cash_flow:
        costs = [r["cost_usd"] for r in rows]
        done = [bool(r["finished"]) for r in rows]
        cash, cash_note = (portfolio_cashflow(scenario, ctx, seeds, costs, done) if scenario.jobs
                           else run_cashflow(scenario, seeds, costs, ctx, done))
    return RunResult(
        scenario_name=scenario.name,
        summary=summary,
        start=scenario.start,
        schedule=first.schedule,
        events=first.events,
        plan=delivery_plan(scenario),
        layouts=first.layouts,
        replications=reps,
        links=first.links,
        compare=modes,
        tokens_fan=fan,
        inputs=_ran(_unstated_prices_left_out(scenario), seed, n),
        **({"cashflow": cash, "cashflow_note": cash_note} if cash is not None else {}),
        **({"fleet_in_service": first.in_service} if first.in_service is not None else {}),
    )
