"""One entry point for every front end: the CLI, the Streamlit app and the notebooks call these functions."""

from __future__ import annotations

import time
from collections.abc import Callable

from .bridge import pool_layout, pool_system, setup_of
from .errors import InfeasiblePlanError
from .fmt import num
from .perf.band import pool_band
from .perf.measured import apply_to_estimate
from .perf.system import ErrorBand
from .results import RunResult
from .scenario import MAX_HORIZON_DAYS, Scenario
from .units import SECONDS_PER_DAY

SITE_POWER_NOTE = ("the estimate lays out each pool at its full planned size; the site power of `sites:` is not "
                   "applied (`planner run` applies it over time)")


def _time_note(days: float | None) -> str | None:
    """What a time to train beyond the longest horizon a scenario may set says (None: within it, or none)."""
    if num(days) is None or num(days) <= MAX_HORIZON_DAYS:
        return None
    return (f"{num(days):,.0f} days is beyond the longest horizon a scenario may set ({MAX_HORIZON_DAYS:,} days): "
            "`planner run` would not finish it")


def estimate_notes(scenario: Scenario) -> list[str]:
    """What a steady-state estimate leaves out of this scenario (the CLI and the app say it beside the answer)."""
    return [SITE_POWER_NOTE] if scenario.sites else []  # a steady state has no time axis: the power ramp is the run's


def estimate(scenario: Scenario) -> dict:
    """Steady-state answer per pool at its full planned size: `planner estimate --json` (docs/formats.md).

    Raises InfeasiblePlanError when no pool has a layout that fits, and ScenarioError over the work bound of
    `planner run` (planner/budget.py: a layout search too large to hold).
    """
    from .budget import check_work
    from .strategy.modes import Single

    if scenario.jobs:
        return _jobs_estimate(scenario)
    check_work(scenario)
    t0 = time.perf_counter()
    pools, evaluated, errors = [], 0, []
    pool_bands = {pool.name: pool_band(scenario, pool) for pool in scenario.fleet}
    for pool in scenario.fleet:
        try:
            r = pool_layout(scenario, pool)
        except InfeasiblePlanError as exc:
            errors.append(exc)
            continue
        evaluated += r.layouts_evaluated
        pools.append({
            "pool": pool.name,
            "chip": pool.chip,
            "units": r.units_used,
            "units_available": r.units_available,
            "mfu": r.mfu,
            "tokens_per_s": r.tokens_per_s,
            # the model's conditional cross-validated error band (planner/perf/band.py, README "Accuracy")
            "tokens_per_s_p10": r.tokens_per_s * pool_bands[pool.name][0],
            "tokens_per_s_p90": r.tokens_per_s * pool_bands[pool.name][1],
            "band_basis": pool_bands[pool.name][2],
            "step_time_s": r.step_time_s,
            "time_to_train_days": scenario.workload.tokens / r.tokens_per_s / SECONDS_PER_DAY,
            "memory_per_chip_gib": r.memory_per_chip_gib,
            "parallelism": r.layout.as_dict(),
            "site": pool.site,
            "stack": pool.stack,
        })
        pools[-1] = apply_to_estimate(scenario, pool, pools[-1], r.layout)  # the pool's measured rows, if any
    if not pools:
        raise errors[0] if len(errors) == 1 else InfeasiblePlanError("; ".join(str(e) for e in errors))
    ctx = _context(scenario)
    for p in pools:
        p.update(_job_size(ctx, Single, p["pool"], p["units"]))
        # the share of the peak the chips run: MFU counts the attention scores without the causal mask (PaLM's
        # count), which FlashAttention skips, so a long sequence's MFU can pass 100% where the chips cannot
        p["mfu_executed"] = p["mfu"] * ctx.executed_share
        if note := _time_note(p["time_to_train_days"]):  # (609,000 years read as an ordinary figure)
            p["time_note"] = note
        if p["mfu"] > 1.0:
            p["mfu_note"] = (f"MFU {p['mfu']:.1%} counts the attention scores without the causal mask (PaLM's count); "
                             f"the chips run {p['mfu_executed']:.1%} of their peak")
    both = combined(scenario, ctx=ctx)
    if note := _time_note(both.get("time_to_train_days")):  # (as each pool's)
        both["time_note"] = note
    held = [p["pool"] for p in pools if "job_in_service_units" in p]
    if held:  # the combined figures are failure-free: a pool that keeps many chips under repair trains far below them
        one = len(held) == 1
        both["note"] = (f"failure-free: {' and '.join(held)} keep{'s' if one else ''} 5% or more of "
                        f"{'its' if one else 'their'} chips under repair at a time (above); `planner compare` and "
                        "`run` count them")
    return {
        "scenario": scenario.name,
        "pools": pools,
        "combined": both,
        "infeasible": [str(e) for e in errors],
        "search": {"layouts_evaluated": evaluated, "seconds": time.perf_counter() - t0},
    }


def _jobs_estimate(scenario: Scenario) -> dict:
    """A portfolio's steady state: each job as if alone on its pools (``jobs``).

    ``pools`` and ``combined`` are the first job's (the one that gets chips first), so a script that reads one
    job still reads them.
    """
    from .sim.portfolio import job_error, job_scenario, ordered_jobs

    per = []
    for job in ordered_jobs(scenario):
        try:
            per.append((job, estimate(job_scenario(scenario, job))))
        except InfeasiblePlanError as exc:  # named by the job (as `run` and `compare` name it)
            raise job_error(scenario, job, exc) from None
    first = per[0][1]
    return {**first, "scenario": scenario.name,
            "jobs": [{"job": job.name, "priority": job.priority, "pools": e["pools"], "combined": e["combined"],
                      "infeasible": e["infeasible"]} for job, e in per],
            "search": {"layouts_evaluated": sum(e["search"]["layouts_evaluated"] for _j, e in per),
                       "seconds": sum(e["search"]["seconds"] for _j, e in per)}}


def _job_size(ctx, single, name: str, units: int) -> dict:
    """``job_units``, ``limited_by`` and the job's kept speed and days on one pool (docs/formats.md).

    ``job_in_service_units``: the chips in service on average, when repairs keep 5% or more out (the job is sized on
    them); left out otherwise.

    ``job_units``: the chips a job on the pool alone trains on at its full size, sized for failures as the
    simulation sizes it; ``limited_by``: why that is fewer than the pool's usable chips (empty when not);
    ``job_kept_tokens_per_s``: that job's tokens/s times its expected goodput under failures (``Context.score``),
    and ``job_time_to_train_days`` the workload's tokens at it: what the speed and days figures, failure-free at the
    pool's full size, are not (a 405B job held to 31,360 of 80,000 chips showed the 77,824-chip layout's 8.1 days).
    """
    from .perf import reliability as rel

    strategy = single(ctx, (name,))
    usable = ctx.pools[name].usable_units
    share = _in_service_share(ctx, name)
    # the chips in service on average: nodes out for repair are not there to train on (the simulation's plans shrink
    # to the chips left); a pool that failed every 20 chip-days with 3-day repairs kept 55% of its chips under repair.
    # Below REPAIR_LIMIT_SHARE they are the failures' ordinary cost, which the expected goodput counts
    there = max(int(usable * share), 1) if 1.0 - share >= rel.REPAIR_LIMIT_SHARE else usable
    plan = strategy.plan({name: there}) if ctx.feasible(name) else None
    if plan is None and there < usable and ctx.feasible(name):  # the chips repairs leave fit no layout
        return {"job_units": 0, "limited_by": [
            f"failures: about {usable - there:,} of the {usable:,} chips ({1 - share:.0%}) are under repair at a time "
            f"(a node fails every {_node_mtbf_text(ctx, name)} and is out {ctx.scenario.reliability.repair_days:g} "
            f"days), and no layout fits the {there:,} left"], "job_in_service_units": there}
    if plan is None:
        return {"job_units": units, "limited_by": []}
    kept = ctx.score(plan)
    days = ctx.scenario.workload.tokens / kept / SECONDS_PER_DAY if kept > 0 else None
    limits = list(plan.limits)
    if there < usable:
        limits.append(f"failures: about {usable - there:,} of the {usable:,} chips ({1 - share:.0%}) are under "
                      f"repair at a time (a node fails every {_node_mtbf_text(ctx, name)} and is out "
                      f"{ctx.scenario.reliability.repair_days:g} days): the job trains on the rest")
    return {"job_units": plan.units_used, "limited_by": limits, "job_kept_tokens_per_s": kept,
            "job_time_to_train_days": days, **({"job_in_service_units": there} if there < usable else {})}


def _in_service_share(ctx, name: str) -> float:
    """The share of pool ``name``'s chips in service on average under its failures and repairs (1 without them)."""
    from .perf import reliability as rel

    r = ctx.scenario.reliability
    if not r.enabled or not r.repair_days:
        return 1.0
    node = ctx.scenario.chip(ctx.pools[name].chip).chips_per_node
    return rel.in_service_share(ctx.failures(name).mtbf_chip_days, node, r.repair_days)


def _node_mtbf_text(ctx, name: str) -> str:
    from .fmt import fmt_duration
    from .perf import reliability as rel

    node = ctx.scenario.chip(ctx.pools[name].chip).chips_per_node
    return fmt_duration(rel.job_mtbf_hours(ctx.failures(name).mtbf_chip_days, node))


def _context(scenario: Scenario):
    from .bridge import layout_planners
    from .strategy import Context

    return Context(scenario, layout_planners(scenario))


def combined(scenario: Scenario, band=None, ctx=None) -> dict:
    """The steady-state answer of the scenario's mode (auto: the best mode) at the pools' full size.

    Also every possible mode's figures (``modes``) and why the others are not possible (``impossible``). ``band``:
    the P10-P90 to state; by default the band of the pools the answer trains on, weighted by their peak FLOP/s in
    it (a pool it leaves idle set the band: 4,096 idle chips of another stack narrowed a 64-chip answer's P10 from
    0.31x to 0.81x).
    """
    from .perf.band import peak_shares, scenario_band
    from .strategy import MODES, options

    ctx = ctx or _context(scenario)
    tokens = scenario.workload.tokens
    rows, best = [], None
    for mode in MODES:
        cands, why = options(ctx, mode)
        plans = [(c, c.full_plan()) for c in cands]
        plans = [(c, p) for c, p in plans if p is not None]
        if not plans:
            rows.append({"mode": mode, "possible": False, "why": why.get(mode, "no layout fits")})
            continue
        c, pl = max(plans, key=lambda cp: cp[1].tokens_per_s)
        row = {"mode": mode, "possible": True, "pools": list(pl.pools), "tokens_per_s": pl.tokens_per_s,
               "time_to_train_days": tokens / pl.tokens_per_s / SECONDS_PER_DAY, "mfu": pl.mfu,
               "split": {p.pool: {"units": p.units, "batch_seqs": p.batch_seqs, "share": pl.share_of(p.pool)}
                         for p in pl.parts},
               "link_tb_per_day": sum(pl.link_bytes_per_s.values()) * SECONDS_PER_DAY / 1e12, "detail": pl.detail}
        rows.append(row)
        allowed = scenario.strategy.mode in ("auto", mode)
        if allowed and (best is None or row["tokens_per_s"] > best["tokens_per_s"]):
            best = row
    if best is None:
        raise InfeasiblePlanError("no strategy mode can train: " +
                                  "; ".join(f"{r['mode']}: {r['why']}" for r in rows if not r["possible"]))
    if band is None:
        parts = peak_shares(scenario, {name: part["units"] for name, part in best["split"].items()}) or None
        band = ErrorBand(*scenario_band(scenario, parts)[:2])
    return {"mode": best["mode"], "pools": best["pools"], "tokens_per_s": best["tokens_per_s"],
            "tokens_per_s_p10": best["tokens_per_s"] * band.p10, "tokens_per_s_p90": best["tokens_per_s"] * band.p90,
            "time_to_train_days": best["time_to_train_days"], "split": best["split"], "modes": rows}


def compare(scenario: Scenario, seed: int | None = None) -> list[dict]:
    """Every strategy mode side by side through the time simulation (one replication, the same draws)."""
    from .budget import check_work
    from .sim.replication import compare as run_compare

    check_work(scenario)  # the work bound of `planner run` (planner/budget.py)
    seed = scenario.simulation.seed if seed is None else seed
    if scenario.jobs:  # each job's modes on what the jobs before it leave, as `planner run`'s replication 0
        from .sim.portfolio import portfolio_compare, portfolio_context

        return portfolio_compare(portfolio_context(scenario), seed)
    return run_compare(scenario, _context(scenario), seed)


def explain(scenario: Scenario, pool_name: str | None = None) -> list[dict]:
    """Each pool's best layout with its step time split into named terms [s] (`planner estimate --explain`)."""
    import numpy as np

    from .perf.layout import RECOMPUTE
    from .perf.steptime import Candidates, evaluate, step_terms

    out = []
    for pool in scenario.fleet:
        if pool_name is not None and pool.name != pool_name:
            continue
        try:
            r = pool_layout(scenario, pool)
        except InfeasiblePlanError as exc:
            out.append({"pool": pool.name, "error": str(exc)})
            continue
        lay = r.layout
        one = np.array([1])
        c = Candidates(tp=one * lay.tp, pp=one * lay.pp, vp=one * lay.vp, cp=one * lay.cp, ep=one * lay.ep,
                       dp=one * lay.dp, mb=one * lay.micro_batch, recompute=one * RECOMPUTE.index(lay.recompute),
                       zero=one * lay.zero)
        sc = evaluate(scenario.workload.arch, pool_system(scenario, pool), setup_of(scenario), c, keep_parts=True)
        terms = step_terms(sc)
        out.append({"pool": pool.name, "chip": pool.chip, "stack": pool.stack, "layout": lay.label(),
                    "step_time_s": float(sc.step_time_s[0]),
                    "terms_s": {n: float(getattr(terms, n)[0]) for n in terms.NAMES}})
        if r.preference:  # a simpler layout within the model's layout-to-layout tolerance is shown (perf.search)
            out[-1]["preference"] = r.preference
        if pool.measured:  # the Bayesian update from the pool's own rows (perf.measured)
            from .perf.measured import fit_pool

            out[-1]["measured"] = fit_pool(scenario, pool, lay).as_dict()
    return out


def simulate(scenario: Scenario, replications: int | None = None, seed: int | None = None,
             backend: str = "local", scheduler: str | None = None, workers: int | None = None,
             progress: Callable[[int, int], None] | None = None,
             meanwhile: Callable[[], object] | None = None) -> RunResult:
    """Simulate the scenario over time: a RunResult with the summary.json figures and the tables.

    Held to the work bound first (planner/budget.py): what `planner run` refuses is refused here (ScenarioError).
    ``meanwhile()`` runs in this process while worker processes simulate (e.g. loading what comes next).
    """
    from .budget import check_work
    from .sim.runner import run_scenario

    check_work(scenario)
    if backend == "dask" and not scheduler and (replications or scenario.simulation.replications) > 1:
        from .sim.dask_backend import start_fork_server

        start_fork_server()  # the local cluster's workers fork from it: it starts while replication 0 runs
    return run_scenario(scenario, replications=replications, seed=seed, backend=backend, scheduler=scheduler,
                        workers=workers, progress=progress, meanwhile=meanwhile)


run_scenario = simulate  # the name the app and notebooks used first
