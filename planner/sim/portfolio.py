"""Several jobs sharing one fleet (``jobs:``): chips go to jobs in priority order.

The policy (README, "Several jobs"):
- jobs are served in priority order (a lower number first; ties in the order written);
- each job trains as the engine trains one job (planner/sim/engine.py) on the chips the jobs before it leave:
  in every pool, the chips in service minus the chips those jobs train on and the chips of theirs under repair;
- what a job leaves is given to the next one a day at a time, at the least it leaves over that day: a job
  never trains on chips a job before it holds at any moment, so the chips in training never exceed the chips
  in service (a job before it that grows, or whose failed node takes a spare, preempts it: the engine then
  checkpoints and shrinks it, and it resumes from its checkpoint when chips come back);
- a job whose shared pools every job before it finished with by its first day trains on them as a job alone
  (``_alone``);
- a job takes no chips before its ``start_after`` date and only from its ``pools``;
- chips of a job under repair when it finishes count as back in service from then on.

Adding a job of a lower priority therefore never changes the jobs before it (they run first, on the same
draws), and more chips or power never leave a job fewer chips.

Each replication draws one supply for the fleet (with its site power, planner/sim/power.py); job k draws its
failures and its model error from streams of its own (``SeedSequence.spawn``), and its candidate modes are
ranked on steps that depend on the fleet's supply alone (``ranking_steps``), so the same seed gives the same
portfolio on every backend and in any order of the replications.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from .. import costs
from ..bridge import layout_planners
from ..errors import InfeasiblePlanError
from ..kinds import EventKind
from ..perf.steptime import LINK_EFFICIENCY
from ..plan import hours_since
from ..scenario import Job, Scenario
from ..strategy import Context, options
from ..strategy.base import on_levels, pair
from ..units import GBPS_TO_BYTES, HOURS_PER_DAY
from .engine import Timeline
from .power import apply_power
from .replication import (
    ReplicationOutput,
    Run,
    Supply,
    _date,
    _day_ends,
    _first_start_days,
    _tables,
    best_run,
    can_start,
    chips_read_at,
    compare_on,
    draw_supply,
    model_factor,
    outcome_row,
    power_limit,
    run_weights,
    shortlist,
    simulate,
    steps_key,
    tokens_by_day,
)
from .supply import Step, delivered_since, not_before

if TYPE_CHECKING:
    import pandas as pd


def ordered_jobs(scenario: Scenario) -> list[Job]:
    """The jobs in the order they get chips: by priority, then as written (``Scenario.ordered_jobs``)."""
    return scenario.ordered_jobs()


def job_scenario(scenario: Scenario, job: Job) -> Scenario:
    """The scenario one job sees: its workload, its pools (and the links and power of their sites), its strategy."""
    fleet = [p for p in scenario.fleet if job.pools is None or p.name in job.pools]
    sites = {p.site for p in fleet}
    links = [lk for lk in scenario.links if set(lk.sites) <= sites] if len(fleet) > 1 else []
    # its sites' power: a portfolio's replications power the whole fleet once and hand each job its share; a job
    # run alone (`planner compare`) is powered as if its pools had their sites to themselves
    powered = [s for s in scenario.sites if s.name in sites]
    return scenario.model_copy(update={
        "workload": job.workload, "jobs": [], "fleet": fleet, "links": links, "sites": powered,
        "strategy": job.strategy or scenario.strategy, "expect": [], "sweep": []})


@dataclass
class PortfolioContext:
    """What every replication of a portfolio shares: the jobs in order, their scenarios and their Contexts."""

    scenario: Scenario
    jobs: list[Job]
    scenarios: list[Scenario]
    contexts: list[Context]
    supply: dict  # the fleet's supply steps of pools without delivery risk (draw_supply's cache)
    ranking: dict = field(default_factory=dict)  # each job's ranking steps per fleet supply (``ranking_steps``)
    # per job, a Context on a job alone's plan grid (None: the job's own is one): a later job whose shared pools the
    # jobs before it have all let go of by its first day trains on them as a job alone does (``_alone``)
    alone: list = field(default_factory=list)
    weighed: bool = False  # whether the jobs' bands are weighed on the portfolio's expected run (``weigh_bands``)


def portfolio_context(scenario: Scenario) -> PortfolioContext:
    """The jobs' scenarios and Contexts (layout planners per job: each job has its own model)."""
    jobs = ordered_jobs(scenario)
    scenarios = [job_scenario(scenario, j) for j in jobs]
    contexts = [Context(s, job_planners(scenario, j, s)) for j, s in zip(jobs, scenarios, strict=True)]
    alone: list = [None] * len(jobs)
    for k, ctx in enumerate(contexts[1:], start=1):
        # a job that shares a pool with a job before it is handed chips there in SHARE_LEVEL_RATIO levels: it plans
        # on that grid too (a finer one would search layouts for counts their own repairs make, which no
        # replication repeats); one whose pools no job before it may use plans as a job alone does
        mine = {p.name for p in scenarios[k].fleet}
        if any(mine & {p.name for p in earlier.fleet} for earlier in scenarios[:k]):
            ctx.grid_ratio = SHARE_LEVEL_RATIO
            # ... in whole servers, as its shares are (``share_level``): it plans on exactly the level it is handed
            ctx.grid_node = {p.name: scenario.chip(p.chip).chips_per_node for p in scenarios[k].fleet}
            alone[k] = Context(scenarios[k], ctx.planners)  # (the same layout planners: their searches are shared)
    return PortfolioContext(scenario, jobs, scenarios, contexts, {}, alone=alone)


def _first_hour(pctx: PortfolioContext, k: int) -> float:
    """The hour job ``k`` may first take chips: its ``start_after`` day's, else the start (may be negative)."""
    sc = pctx.scenario
    return hours_since(sc.start, pctx.jobs[k].first_day(sc.start))


def _alone(pctx: PortfolioContext, k: int, runs: list[Run]) -> bool:
    """Whether every job before job ``k`` that may use a pool of its own finished and handed it on by its first day.

    Such a job has those pools to itself from its start: it is given the fleet's chips as they are (not the 5%
    share levels that follow the jobs before it) and plans on a job alone's grid, as a job alone does (on the
    levels a job alone on 8,000 of 80,000 planned Ascend chips trained on 7,680).
    """
    if pctx.alone[k] is None:
        return False
    from_h = _first_hour(pctx, k)
    mine = {p.name for p in pctx.scenarios[k].fleet}
    return all(run.job.stats.finished and math.ceil(run.end_h / HOURS_PER_DAY) * HOURS_PER_DAY <= from_h
               for run, js in zip(runs, pctx.scenarios, strict=False) if mine & {p.name for p in js.fleet})


def job_planners(scenario: Scenario, job: Job, js: Scenario) -> dict:
    """A job's layout planners (``layout_planners``); a job whose pools none fit is refused by name and field."""
    try:
        return layout_planners(js)
    except InfeasiblePlanError as exc:
        raise job_error(scenario, job, exc) from None


def job_error(scenario: Scenario, job: Job, exc: InfeasiblePlanError) -> InfeasiblePlanError:
    """``exc`` named by the job it is about and its field (``job 'dense' (jobs[1]): pool 'h100': ...``)."""
    return InfeasiblePlanError(f"job {job.name!r} (jobs[{scenario.jobs.index(job)}]): {exc}",
                               needed_gib=exc.needed_gib, available_gib=exc.available_gib, job=job.name)


def _in_service(steps: list[Step]) -> Timeline:
    """Usable chips over time from a pool's capacity steps (the job's run stops at its end; the supply does not)."""
    tl, n = Timeline(), 0
    for s in steps:
        if s.kind != EventKind.DELIVERY:
            n += s.delta_units
            tl.set(s.time_h, n)
    return tl


def _left_over(run: Run, name: str, steps: list[Step], horizon_h: float) -> Timeline:
    """Chips of pool ``name`` in service that the job neither trains on nor may have under repair, over time.

    ``steps``: the pool's capacity steps the job was given (its chips in service, also after it ends).
    Between two changes of its chips in service or in training, the job keeps back the most of its chips
    under repair at once in that stretch (so the chips it leaves change when its plan or the supply does,
    not at each failure and repair).
    """
    st = run.states[name]
    in_service = _in_service(steps)
    training = run.job.in_training.get(name)
    end_h = run.end_h
    edges = set(in_service.times) | set(training.times if training else [])
    ts = np.array(sorted(t for t in edges if t <= horizon_h))
    busy = training.at(ts) if training else np.zeros_like(ts)
    # the most chips under repair in each stretch [ts[i], ts[i+1]): at its start and at every change inside it
    ft = np.asarray(st.failed_tl.times, dtype=float)
    fv = np.asarray(st.failed_tl.values, dtype=float)
    fv = np.where(ft < end_h, fv, 0.0)
    worst = st.failed_tl.at(ts)
    worst = np.where(ts < end_h, worst, 0.0)
    if len(ft):
        seg = np.searchsorted(ts, ft, side="right") - 1
        inside = seg >= 0
        np.maximum.at(worst, seg[inside], fv[inside])
    left = Timeline()
    left.extend(ts, np.maximum(in_service.at(ts) - busy - worst, 0.0))
    return left


# what a job leaves is handed on in levels 5% apart below the pool's planned size (rounded down): the next
# job re-plans when a level changes, not at every failure and repair of the jobs before it
SHARE_LEVEL_RATIO = 1.05


def share_level(units: float, full: int, node: int = 1) -> int:
    """The largest level at or below ``units`` (``full``, ``full / 1.05``, ...; 0 below 1), in whole servers.

    The levels are the plan grid of the jobs after the first (``on_grid`` at SHARE_LEVEL_RATIO). Below ``full``,
    the level is rounded down to whole servers of ``node`` chips: a scheduler gives a training job whole servers
    (Slurm's exclusive nodes, a Kubernetes pod per server), so the chips a job leaves on a server it trains on
    are not another job's.
    """
    if units >= full:
        return int(units)
    return on_levels(int(units), full, SHARE_LEVEL_RATIO, node) if units >= 1 else 0


def _daily_least(tl: Timeline, starts: np.ndarray) -> np.ndarray:
    """The least value of ``tl`` over each day from ``starts``: at its start, lowered by each change inside it."""
    least = tl.at(starts)
    times, values = np.asarray(tl.times, dtype=float), np.asarray(tl.values, dtype=float)
    inside = (times >= 0.0) & (times < len(starts) * HOURS_PER_DAY)
    np.minimum.at(least, (times[inside] // HOURS_PER_DAY).astype(np.int64), values[inside])
    return least


def fleet_kinds(steps: list[Step]) -> dict[tuple[int, int], str]:
    """(day, +1 or -1) -> the kind of the pool's capacity steps that day that add (or take) chips, when one kind.

    A share that rises (falls) only as the pool's chips come into (leave) service that day is logged as what
    brought them: ``commissioning``, ``power``, ``cloud_start`` (``cloud_end``), not ``share``.
    """
    seen: dict[tuple[int, int], set] = {}
    for st in steps:
        if st.kind != EventKind.DELIVERY and st.delta_units and st.time_h >= 0:
            seen.setdefault((int(st.time_h // HOURS_PER_DAY), 1 if st.delta_units > 0 else -1), set()).add(st.kind)
    return {k: next(iter(v)) for k, v in seen.items() if len(v) == 1}


def daily_share(left: Timeline, horizon_h: float, from_h: float = 0.0, full: int | None = None,
                node: int = 1, service: Timeline | None = None,
                kinds: dict[tuple[int, int], str] | None = None) -> list[Step]:
    """Capacity steps giving, each day, the least of ``left`` over that day (none before ``from_h``'s day).

    ``full`` (the pool's planned usable chips): the share is rounded down to ``share_level`` (whole nodes of
    ``node`` chips). ``service``: the chips in service the share was taken from; a share that falls as they do
    (a rental's end, a delivery's power) says so, not that the jobs before took the chips back. ``kinds``
    (``fleet_kinds``): a change that is only the pool's chips coming or going takes the kind of what moved them.
    """
    kinds = kinds or {}
    n_days = int(math.ceil(horizon_h / HOURS_PER_DAY)) + 1
    starts = np.arange(n_days) * HOURS_PER_DAY
    least = _daily_least(left, starts)
    least[starts < math.floor(from_h / HOURS_PER_DAY) * HOURS_PER_DAY] = 0.0
    v = least.astype(np.int64)
    if full is not None:  # the least left repeats for days on end: each distinct value is levelled once
        values, where = np.unique(v, return_inverse=True)
        v = np.array([share_level(x, full, node) for x in values.tolist()], dtype=np.int64)[where]
    before = np.concatenate(([0], v[:-1]))
    gone = np.zeros(n_days, dtype=np.int64)  # chips that left service from one day to the next
    came = np.zeros(n_days, dtype=np.int64)  # ... and that came into service (a delivery, power, a rental)
    if service is not None and (v != before).any():
        served = _daily_least(service, starts).astype(np.int64)
        gone[1:] = np.maximum(served[:-1] - served[1:], 0)
        came[1:] = np.maximum(served[1:] - served[:-1], 0)  # (day 0's chips are the start's: the jobs before chose)
    raw = least.astype(np.int64)  # before the levels: what the jobs before left, chip by chip
    steps = []
    for d in np.nonzero(v != before)[0].tolist():
        delta = int(v[d] - before[d])
        kind = EventKind.SHARE
        if delta > 0 and came[d] >= delta:  # the pool's new chips, not chips the jobs before let go
            what = f"{delta:,} more chips: {int(came[d]):,} of the pool came into service"
            kind = kinds.get((d, 1), kind)
        elif delta > 0 and came[d]:
            # the rest: chips the jobs before let go, else the share's level in whole servers
            new, let_go = int(came[d]), min(max(int(raw[d] - raw[d - 1]) - int(came[d]), 0), delta - int(came[d]))
            parts = [f"{new:,} came into service", f"{let_go:,} left by the jobs before this one" if let_go else "",
                     f"{delta - new - let_go:,} to the share's level in whole servers" if delta - new - let_go else ""]
            what = f"{delta:,} more chips: " + ", ".join(x for x in parts if x)
            if not let_go:  # the pool's new chips and the share's level: what brought them
                kind = kinds.get((d, 1), kind)
        elif delta > 0:
            what = f"{delta:,} chips left by the jobs before this one"
        elif gone[d] >= -delta:
            what = f"{-delta:,} chips fewer: {gone[d]:,} chips of the pool left service"
            kind = kinds.get((d, -1), kind)
        else:
            # the rest of the fall: chips the jobs before took back, else the level's rounding (whole servers)
            took = min(max(int(raw[d - 1] - raw[d]) - int(gone[d]), 0), -delta - int(gone[d])) if d else 0
            parts = [f"{gone[d]:,} left service" if gone[d] > 0 else "",
                     f"the jobs before this one took back {took:,}" if took else "",
                     f"{-delta - gone[d] - took:,} to the share's level in whole servers"
                     if -delta - gone[d] - took else ""]
            what = (f"{-delta:,} chips taken back by the jobs before this one" if not gone[d] and took == -delta
                    else f"{-delta:,} chips fewer: " + ", ".join(x for x in parts if x))
        steps.append(Step(float(starts[d]), kind, delta, what))
    return steps


def sum_training(runs: list[Run], name: str) -> tuple[list[float], list[float]] | None:
    """Every job's chips in training on pool ``name``, added up (times [h], units); None when none trained there."""
    lines = [r.job.in_training[name] for r in runs if name in r.job.in_training]
    if not lines:
        return None
    ts = sorted({t for tl in lines for t in tl.times})
    arr = np.array(ts)
    total = sum(tl.at(arr) for tl in lines)
    return ts, [float(x) for x in total]


def _lead(rows: list[dict]) -> dict:
    """The row of the portfolio's first job (by priority) that held chips, else its first job's.

    The portfolio's mode and pools are that job's, as it ran them: the jobs' modes joined to every job's pools
    paired ``single`` with two pools no job ran it on (each job's own are in summary.json ``jobs``).
    """
    return next((r for r in rows if r["chip_hours"]), rows[0])


def _portfolio_row(pctx: PortfolioContext, supply, runs: list[Run], rows: list[dict]) -> dict:
    """The portfolio's metrics: every job finished, by the last one's finish; fleet costs to the last end."""
    sc = pctx.scenario
    end_h = max(r.end_h for r in runs)
    pool_costs = []
    for pool in sc.fleet:
        training = sum_training(runs, pool.name)
        pool_costs.append(costs.pool_cost(sc, pool, delivered_since(supply[pool.name]), training, end_h,
                                          supply.rented[pool.name]))
    held = sum(r["chip_hours"] for r in rows)
    trained = [r for r in rows if r["chip_hours"]]  # a job that held no chip has no goodput or MFU (NaN)
    kept = sum(r["goodput"] * r["chip_hours"] for r in trained)
    finished = all(r["finished"] for r in rows)
    lead = _lead(rows)
    return {
        "finished": finished,
        "time_to_train_days": max(r["time_to_train_days"] for r in rows) if finished else math.nan,
        "cost_usd": sum(c.committed_usd for c in pool_costs),
        "used_usd": sum(c.used_usd for c in pool_costs),
        "pool_costs": [c.as_dict() for c in pool_costs],
        "energy_mwh": sum(r["energy_mwh"] for r in rows),
        "mfu": (sum(r["mfu"] * r["goodput"] * r["chip_hours"] for r in trained) / kept) if kept else (
            0.0 if held else math.nan),
        "goodput": kept / held if held else math.nan,
        "chip_hours": held,
        # a contract mode and the pools a job ran it on (each job's own are in summary.json ``jobs``): the strategy's
        # pair; ``pool`` is every pool a job trained on (``pools_used``, the answer sentence)
        "mode": lead["mode"],
        "mode_pool": lead["pool"],
        "pool": " + ".join(p.name for p in sc.fleet if any(p.name in r["pool"].split(" + ") for r in rows)),
        "note": "",
        "limits": [f"{j.name}: {x}" for j, r in zip(pctx.jobs, rows, strict=True) for x in r["limits"]],
        "failures": sum(r["failures"] for r in rows),
        "replans": sum(r["replans"] for r in rows),
        "checkpoints": sum(r["checkpoints"] for r in rows),
        "moves": sum(r["moves"] for r in rows),
        "link_tb": sum(r["link_tb"] for r in rows),
        "model_factor": rows[0]["model_factor"],
        # the first job's start (NaN only when none started: min() would depend on the jobs' order around a NaN)
        "start_days": min((r["start_days"] for r in rows if not math.isnan(r["start_days"])), default=math.nan),
    }


def _from_then(before: list[Step], after: list[Step], at_h: float) -> list[Step]:
    """A pool's capacity steps: ``before``'s until hour ``at_h``, ``after``'s from then (one step joins the levels).

    The deliveries are the fleet's, the same in both.
    """
    def level(steps: list[Step]) -> int:
        return sum(x.delta_units for x in steps if x.kind != EventKind.DELIVERY and x.time_h < at_h)

    out = [x for x in after if x.kind == EventKind.DELIVERY]
    out += [x for x in before if x.kind != EventKind.DELIVERY and x.time_h < at_h]
    jump = level(after) - level(before)
    if jump:
        out.append(Step(at_h, EventKind.SHARE, jump, f"{abs(jump):,} chips {'more' if jump > 0 else 'fewer'}: the "
                                                     "jobs before this one let the pool go"))
    out += [x for x in after if x.kind != EventKind.DELIVERY and x.time_h >= at_h]
    return sorted(out, key=lambda x: (x.time_h, x.kind != EventKind.DELIVERY))


def _rented_from_then(before: costs.Steps | None, after: costs.Steps | None, at_h: float) -> costs.Steps | None:
    """``_from_then`` of the rented chips a job may count as its own (a step function; None: the pool rents none)."""
    if before is None or after is None:
        return after
    ts = sorted({t for t in before[0] if t < at_h} | {at_h} | {t for t in after[0] if t > at_h})
    return tuple(ts), tuple(float(costs.step_at(before if t < at_h else after, t)) for t in ts)


def _never_trained(pctx: PortfolioContext, k: int, supply: Supply, left: Supply, horizon_h: float) -> list[str]:
    """Why job ``k`` held no chip, when the fleet had chips of its pools: the jobs before it, or its start_after.

    [] when the fleet had none of them either (replication.never_trained says so), or when the job was left
    all there was (no layout fits them, or too few to start: never_trained says that too).
    """
    sc, job, js = pctx.scenario, pctx.jobs[k], pctx.scenarios[k]
    from_h = max(_first_hour(pctx, k), 0.0)
    names = " + ".join(p.name for p in js.fleet)

    def most(steps, lo: float) -> int:  # the most chips in service in [lo, horizon)
        tl = _in_service(steps)
        ts = [lo] + [t for t in tl.times if lo < t < horizon_h]
        return int(max(tl.at(np.asarray(ts, dtype=float)), default=0)) if lo < horizon_h else 0

    fleet = max((most(supply[p.name], from_h) for p in js.fleet), default=0)
    ever = max((most(supply[p.name], 0.0) for p in js.fleet), default=0)
    given = max((most(left[p.name], from_h) for p in js.fleet), default=0)
    if fleet == 0 and ever > 0 and from_h > 0:
        return [f"never trained: {names} had chips in service only before its start_after "
                f"({job.first_day(sc.start).isoformat()}), up to {ever:,}"]
    if fleet > 0 and given == 0:
        dry_h = max((_none_from(_in_service(supply[p.name]), from_h) for p in js.fleet), default=from_h)
        if dry_h < horizon_h:  # (the fleet's chips went: "until the horizon" blamed the jobs for power that fell)
            day = sc.start + dt.timedelta(days=math.floor(dry_h / HOURS_PER_DAY))
            return [f"never trained: the jobs before it held every chip of {names} while any was in service (up to "
                    f"{fleet:,}), and from {day.isoformat()} to the horizon none was (site power, or a rental's end)"]
        return [f"never trained: the jobs before it held every chip of {names} until the horizon (up to {fleet:,} "
                "in service)"]
    if 0 < given < fleet and not js.strategy.min_units_to_start:  # ("h100 had at most 16 chips in service" read
        # as the fleet's: the jobs before it held the rest; a minimum to start is replication.never_trained's to say)
        one = len(js.fleet) == 1
        return [f"never trained: the jobs before it left it at most {given:,} chips of {'' if one else 'any of '}"
                f"{names} (up to {fleet:,} in service), and no layout of the job fits them"]
    return []


def _held_back(pctx: PortfolioContext, k: int, supply: Supply, steps: Supply, run: Run,
               before: list[Run] = ()) -> list[str]:
    """Why job ``k`` first trained later than it could: the jobs before it held the chips of its pools ([] if not).

    From the first hour the fleet had chips of its pools in service on which the job could start (a layout fits, and
    ``min_units_to_start``), while the chips it was given (``steps``) could start it on none, until they could. A job
    held three days by the one before it, missing its deadline, had no limit to say so. ``before``: the runs of
    the jobs before it; when the last of them ended in that time, the sentence says its chips came at the next
    midnight (the hours after its end were the hand-over's, not a job's).
    """
    t0 = _first_start_days(run) * HOURS_PER_DAY
    from_h = max(_first_hour(pctx, k), 0.0)
    if not (math.isfinite(t0) and t0 > from_h):
        return []
    names = run.strategy.pools
    fleet = {n: _in_service(supply[n]) for n in names}
    given = {n: _in_service(steps[n]) for n in names}

    def starts(tl: dict, t: float) -> tuple[bool, int]:
        """Whether the chips of ``tl`` at hour ``t`` can start the job, and how many there are."""
        have = {n: int(tl[n].at(np.array([t]))[0]) for n in names}
        return can_start(run, have), sum(have.values())

    held = None
    for t in sorted({from_h} | {t for tl in (*fleet.values(), *given.values()) for t in tl.times if from_h < t < t0}):
        if held is None:
            could, units = starts(fleet, t)
            if could and not starts(given, t)[0]:
                held = (t, units)
        elif starts(given, t)[0]:
            return _held_sentence(pctx, names, held, t, t0, before)
    return _held_sentence(pctx, names, held, t0, t0, before) if held is not None else []


def _held_sentence(pctx: PortfolioContext, names, held: tuple[float, int], until: float, t0: float,
                   before: list[Run] = ()) -> list[str]:
    """``_held_back``'s sentence: held from ``held`` (hour, chips in service) until ``until`` (first start ``t0``)."""
    start = pctx.scenario.start
    (t, units), last = held, until == t0
    end = (f"its first start on {_date(start, t0 / HOURS_PER_DAY)}" if last
           else f"{_date(start, math.floor(until / HOURS_PER_DAY))} (it first started on "
                f"{_date(start, t0 / HOURS_PER_DAY)})")
    ended = max((r.end_h for r in before if set(r.strategy.pools) & set(names)), default=math.inf)  # (on its pools)
    handed = (f"; the last of them ended on {_date(start, ended / HOURS_PER_DAY)} and its chips came to this job at "
              "the next midnight, as a job's chips are handed on" if t <= ended < until else "")
    return [f"wait: the jobs before it held the chips of {' + '.join(names)} it could train on from "
            f"{_date(start, math.floor(t / HOURS_PER_DAY))} until {end} ({(until - t) / HOURS_PER_DAY:.1f} days; "
            f"{units:,} in service then{handed})"]


def _own_waits(pctx: PortfolioContext, k: int, waits: dict) -> dict:
    """The power waits of the pools no job before job ``k`` may use: power for the others would go to that job first.

    A later job's sentence said "85% faster" of chips of a pool the first job shares, which its own limit claimed.
    """
    before = {p.name for j in range(k) for p in pctx.scenarios[j].fleet}
    return {n: w for n, w in waits.items() if n not in before}


def _none_from(tl: Timeline, lo_h: float) -> float:
    """The hour from which ``tl`` stays at 0 (at or after ``lo_h``; inf when it ends above 0)."""
    if not tl.values or tl.values[-1] > 0:
        return math.inf
    k = len(tl.values) - 1
    while k > 0 and tl.values[k - 1] <= 0:
        k -= 1
    return max(tl.times[k], lo_h)


# the share of a link two jobs' exchanges together take, from which the later one is said to be timed optimistically:
# at half a link's time busy, an exchange that finds it in use waits on average half an exchange's time (M/D/1
# queue, Pollaczek-Khinchine mean wait rho / (2 (1 - rho)) service times)
LINK_SHARED_SHARE = 0.5


def shared_links(pctx: PortfolioContext, k: int, runs: list[Run], run: Run) -> list[str]:
    """Where job ``k`` sent over an inter-site link at the same time as jobs before it did, at a busy share.

    Each job's plans are timed on the whole link (the engine times one job); the jobs before it hold chips, not
    the link, so a later job whose exchanges overlap theirs trains slower than its run shows. One sentence per link
    whose combined rate reached LINK_SHARED_SHARE of what it carries (the link's Gbit/s at the collectives'
    efficiency), with the jobs, the days and the peak share ([] when none did).
    """
    sc = pctx.scenario
    job = pctx.jobs[k].name
    out = []
    for lk in sc.links:
        key = pair(*lk.sites)
        mine = run.job.link_tl.get(key)
        theirs = [(pctx.jobs[j].name, r.job.link_tl[key]) for j, r in enumerate(runs) if key in r.job.link_tl]
        if mine is None or not theirs:
            continue
        ts = np.array(sorted(set(mine.times).union(*(tl.times for _n, tl in theirs))), dtype=float)
        own = mine.at(ts)
        rates = {n: tl.at(ts) for n, tl in theirs}
        others = sum(rates.values())
        both = (own > 0) & (others > 0)
        if not both.any():
            continue
        carried_bytes_s = lk.gbps * GBPS_TO_BYTES * LINK_EFFICIENCY
        share = (own + others)[both] / carried_bytes_s
        if share.max() < LINK_SHARED_SHARE:
            continue
        ends = np.append(ts[1:], run.end_h)
        first_h, last_h = ts[both][0], min(ends[both][-1], run.end_h)
        names = ", ".join(n for n, v in rates.items() if (v[both] > 0).any())
        peak = share.max()
        out.append(f"link: {job} exchanged over {key[0]} - {key[1]} while {names} did "
                   f"({_date(sc.start, first_h / HOURS_PER_DAY)} to {_date(sc.start, last_h / HOURS_PER_DAY)}), "
                   f"together up to {peak:.0%} of the {lk.gbps:g} Gbit/s it carries"
                   + (", more than it can" if peak > 1 else "")
                   + f"; each job is timed as if it had the link alone, so {job} "
                   + ("finishes later than shown" if peak > 1 else "may finish later than shown (its exchanges wait "
                      "for theirs)"))
    return out


def _job_steps(pctx: PortfolioContext, k: int, left: Supply, supply: Supply, horizon_h: float) -> Supply:
    """The capacity steps job ``k`` trains on: what the jobs before it leave, nothing before its first day.

    With, per pool, the rented chips the jobs before it do not hold (the job counts those as rented first) and
    the fleet's rented chips in service (``Supply.rented``, ``Supply.fleet_rented``).
    """
    js, from_h = pctx.scenarios[k], _first_hour(pctx, k)
    return Supply({p.name: left[p.name] if k == 0 and from_h <= 0 else not_before(left[p.name], from_h, horizon_h)
                   for p in js.fleet},
                  rented={p.name: left.rented[p.name] for p in js.fleet},
                  fleet_rented={p.name: supply.rented[p.name] for p in js.fleet})


def rented_left(rented: costs.Steps | None, training: Timeline | None) -> costs.Steps | None:
    """The rented chips a job leaves to the next: those it could count as rented less those it trains on."""
    if rented is None or training is None:
        return rented
    t = np.array(sorted(set(rented[0]) | set(training.times)), dtype=float)
    return tuple(t.tolist()), tuple(np.maximum(costs.step_at(rented, t) - training.at(t), 0.0).tolist())


def _hand_on(pctx: PortfolioContext, k: int, run: Run, left: Supply, supply, horizon_h: float) -> Supply:
    """What the jobs after job ``k`` may take, per pool: what it could take minus what it took, in whole nodes.

    And the rented chips it leaves them (``rented_left``).
    """
    sc, js, ctx = pctx.scenario, pctx.scenarios[k], pctx.contexts[k]
    out = Supply(left, rented={name: rented_left(r, run.job.in_training.get(name))
                               for name, r in left.rented.items()})
    for p in js.fleet:
        full = ctx.pools[p.name].usable_units
        # what this job could take (before its start_after too), minus what it took, in whole nodes
        share = daily_share(_left_over(run, p.name, left[p.name], horizon_h), horizon_h, full=full,
                            node=sc.chip(p.chip).chips_per_node, service=_in_service(supply[p.name]),
                            kinds=fleet_kinds(supply[p.name]))
        # the fleet's deliveries stay on every job's steps (its schedule shows them; they move no chip)
        delivered = [x for x in supply[p.name] if x.kind == EventKind.DELIVERY]
        out[p.name] = sorted(delivered + share, key=lambda x: (x.time_h, x.kind != EventKind.DELIVERY))
    return out


def _after_job(pctx: PortfolioContext, k: int, run: Run, left: Supply, supply: Supply, horizon_h: float,
               ended: dict[str, float]) -> tuple[Supply, Supply]:
    """What the jobs after job ``k`` may take (``_hand_on``), and the fleet's supply once job ``k`` has ended.

    With site power, a job that finished hands its pools' power on: from the midnight after its end its pools rank
    after those of the jobs still training (``power.power_order``). The fleet's power is applied again with it
    ended (``ended``, job name -> hour, grows), and the chips in service each pool gains from then on (or loses:
    the ended job's own pools) are added to what the next jobs may take.
    """
    left = _hand_on(pctx, k, run, left, supply, horizon_h)
    sc = pctx.scenario
    if not sc.sites or supply.raw is None or not run.job.stats.finished:
        return left, supply
    name = pctx.jobs[k].name
    # its power is handed on at the next midnight, as its chips are (``daily_share``): what a job leaves reaches the
    # next jobs a day at a time, so no day's rows show chips in training beyond what the site powers
    ended[name] = math.ceil(run.end_h / HOURS_PER_DAY - 1e-9) * HOURS_PER_DAY
    powered, waited = apply_power(sc, supply.raw, ended)
    after = Supply(powered, waited, supply.rented, raw=supply.raw)
    for pool in sc.fleet:
        p = pool.name
        if powered[p] is supply[p]:  # (a pool at a site without power: the same steps)
            continue
        was, now, mine = _in_service(supply[p]), _in_service(powered[p]), _in_service(left[p])
        ts = np.array(sorted(set(was.times) | set(now.times) | set(mine.times)), dtype=float)
        if not len(ts):
            continue
        gained = now.at(ts) - was.at(ts)
        if not gained.any():
            continue
        share = mine.at(ts)
        fix = np.maximum(share + gained, 0.0) - share  # what the next jobs may take, never below none
        change = np.diff(np.concatenate(([0.0], fix))).astype(np.int64)
        left[p] = _with_changes(left[p], dict(zip(ts[change != 0].tolist(), change[change != 0].tolist(),
                                                  strict=True)), name, powered[p])
    return left, after


def _with_changes(steps: list[Step], changes: dict[float, int], ended: str, fleet: list[Step]) -> list[Step]:
    """A pool's steps with ``changes`` (hour -> chips) added; one net step at an hour that had steps already.

    One step per hour: a share taken back and the power handed on at the same hour, applied one after the
    other, would take the pool's chips below none for a moment (and its chips under repair with them). A net step
    the fleet's own steps (``fleet``, the pool's with the power handed on) make at that hour says what they say
    (e.g. "site power falls": no job before this one trains any more).
    """
    said = {(s.time_h, s.delta_units): s for s in fleet if s.kind != EventKind.DELIVERY}
    out, at = [], {}
    for s in steps:
        if s.kind == EventKind.DELIVERY:
            out.append(s)
        else:
            at.setdefault(s.time_h, []).append(s)
    for t in sorted(set(at) | set(changes)):
        own, d = at.get(t, []), changes.get(t, 0)
        if not d:
            out.extend(own)
        elif not own:
            out.append(Step(t, EventKind.POWER, d, f"power for {d:,} more chips, left by {ended} when it ended"
                            if d > 0 else f"{-d:,} chips out of service: their power goes to a job that trains"))
        elif net := sum(s.delta_units for s in own) + d:
            why = said.get((t, net))
            out.append(Step(t, why.kind, net, why.detail) if why is not None else Step(
                t, EventKind.SHARE, net, f"{net:,} more chips: left by the jobs before this one, with the site's "
                "power" if net > 0 else f"{-net:,} chips fewer: taken back by the jobs before this one, or their power "
                "gone to a job that trains"))
    return sorted(out, key=lambda x: (x.time_h, x.kind != EventKind.DELIVERY))


RANKING_MEMO = 256  # fleet supplies whose ranking steps a context keeps (each a few jobs' steps)
# the runs in expectation draw nothing: their generator's seed is never read (a fixed one, not a replication's)
RANKING_SEED = np.random.SeedSequence(0)


def ranking_steps(pctx: PortfolioContext, supply) -> list[dict]:
    """The steps each job's modes are ranked on (``replication.shortlist``): a function of the fleet's supply.

    What the jobs before it leave when each trains its first-ranked mode in expectation (no failure drawn, as
    the ranking runs train): the planner picks a job's candidate modes before it knows the failures of the jobs
    before it, as it picks before it knows the model's error. So no replication's pick depends on another's (the
    same seed gives the same portfolio whichever replications a process ran before), and replications that draw
    the same supply share the ranking. The candidates it keeps then run on the share this replication leaves.
    """
    key = steps_key(supply)
    hit = pctx.ranking.get(key)
    if hit is not None:
        return hit
    out = expected_runs(pctx, supply, last=False)[0]
    if len(pctx.ranking) >= RANKING_MEMO:
        pctx.ranking.pop(next(iter(pctx.ranking)))
    pctx.ranking[key] = out
    return out


def expected_runs(pctx: PortfolioContext, supply, last: bool = True) -> tuple[list[Supply], list[Run | None]]:
    """Each job's steps and its run in expectation, in priority order, each on what the expected runs before it leave.

    A job's run in expectation is its first-ranked mode's, with no failure drawn and every plan at its expected
    goodput, on the nominal model (``shortlist``). The last job's run only with ``last`` (the ranking needs its
    steps alone); None for a job no mode can train (the replication says why).
    """
    horizon_h = pctx.scenario.horizon_days * HOURS_PER_DAY
    left = Supply(supply, rented=supply.rented)
    steps_out, runs, ended = [], [], {}
    final = len(pctx.jobs) - 1
    for k, (js, ctx) in enumerate(zip(pctx.scenarios, pctx.contexts, strict=True)):
        steps = _job_steps(pctx, k, left, supply, horizon_h)
        steps_out.append(steps)
        candidates, _why = options(ctx, js.strategy.mode)
        if (k == final and not last) or not candidates:
            runs.append(None)
            continue
        first = shortlist(js, candidates, steps, RANKING_SEED)[0]
        run = simulate(js, first, steps, np.random.default_rng(RANKING_SEED), failures=False, factor=1.0,
                       record=False, expected=True)
        runs.append(run)
        if k < final:
            left, supply = _after_job(pctx, k, run, left, supply, horizon_h, ended)
    return steps_out, runs


def weigh_bands(pctx: PortfolioContext) -> None:
    """Weigh each job's model-error band by the pools its run in the portfolio's expected run trains on.

    The portfolio's expected run: every job's run in expectation (``expected_runs``) on the supply without delivery
    risk, each on what the jobs before it leave. Weighed on its own run alone, a job that trains on the A100s the
    first job leaves it was given a band 96% the H100s' the first job holds (its statement, and the factor of a run
    that trains nowhere: each plan reads the draw on its own pools). Once per context, before any draw; a job on
    one pool keeps that pool's band.
    """
    if pctx.weighed:
        return
    sc = pctx.scenario
    nominal = sc.model_copy(update={"fleet": [p.model_copy(update={"delivery_risk": None}) for p in sc.fleet]})
    _steps, runs = expected_runs(pctx, draw_supply(nominal, np.random.SeedSequence(0)))  # (nothing is drawn)
    for js, ctx, run in zip(pctx.scenarios, pctx.contexts, runs, strict=True):
        if len(js.fleet) > 1:
            ctx.band_weights = run_weights(js, run) if run is not None else ()
    pctx.weighed = True


def portfolio_replication(pctx: PortfolioContext, seed: np.random.SeedSequence, tables: bool = False,
                          replications: int = 1, curve: bool = False, keep: bool = False,
                          each_job: Callable | None = None) -> ReplicationOutput:
    """One replication of every job, in priority order, each on what the jobs before it leave.

    ``keep``: the output also carries ``runs`` (each job's Run) and ``supply`` (the fleet's steps), for the
    month-by-month pricing of the portfolio (planner/sim/money.py). ``each_job(k, ctx, steps, job_seed,
    factor, rank_steps, runs)``: called with what job ``k`` trains on and the runs of the jobs before it, before its
    run (``portfolio_compare``).
    """
    sc = pctx.scenario
    horizon_h = sc.horizon_days * HOURS_PER_DAY
    weigh_bands(pctx)  # (before any job's draw of the model's error)
    supply_seed, job_seed, model_seed = seed.spawn(3)
    supply = draw_supply(sc, supply_seed, pctx.supply)
    ranked_on = ranking_steps(pctx, supply)
    left = Supply(supply, rented=supply.rented)  # what the next job may take, per pool
    ended: dict[str, float] = {}  # the jobs that finished, and when (their pools then hand their power on)
    job_seeds = job_seed.spawn(len(pctx.jobs))
    runs, rows, outs = [], [], []
    last = len(pctx.jobs) - 1
    for k, (job, js, ctx) in enumerate(zip(pctx.jobs, pctx.scenarios, pctx.contexts, strict=True)):
        given = left
        if k and _alone(pctx, k, runs):  # the jobs before it let its pools go: the fleet's chips, a job alone's grid
            mine = [p.name for p in js.fleet]
            given = Supply({**left, **{p: supply[p] for p in mine}},
                           rented={**left.rented, **{p: supply.rented[p] for p in mine}})
            # what the jobs after it may take: its own pools only (a job before it may still train on another), and
            # from its first hour (before it, what the jobs before it left, as before)
            from_h = _first_hour(pctx, k)
            left = Supply({**left, **{p: _from_then(left[p], supply[p], from_h) for p in mine}},
                          rented={**left.rented, **{p: _rented_from_then(left.rented[p], supply.rented[p], from_h)
                                                    for p in mine}})
            ctx = pctx.alone[k]
        steps = _job_steps(pctx, k, given, supply, horizon_h)
        # one draw of the model's error per replication, shared by every job (the same standard normal on each job's
        # own band): a model fast for one job on these chips is fast for the next; drawn apart, four identical jobs'
        # errors averaged out and the portfolio's P10-P90 came out narrower than one job's of the same work
        factor = model_factor(js, replications, np.random.default_rng(model_seed), pctx.contexts[k])
        candidates, _why = options(ctx, js.strategy.mode)
        if not candidates:
            raise InfeasiblePlanError(f"job {job.name!r}: no strategy mode can train on its pools")
        if each_job is not None:
            each_job(k, ctx, steps, job_seeds[k], factor, ranked_on[k], list(runs))
        run = best_run(js, candidates, steps, job_seeds[k], factor, record=tables, track=k < last,
                       rank_steps=ranked_on[k])
        row = outcome_row(run, factor)
        if not run.job.stats.held_chip_h and not run.job.stats.finished:
            row["limits"] = _never_trained(pctx, k, supply, left, horizon_h) or row["limits"]
        if k:
            row["limits"] = (row["limits"] + _held_back(pctx, k, supply, steps, run, runs)
                             + shared_links(pctx, k, runs, run))
        if tables and sc.sites:  # (replication 0's limits are the run's)
            row["limits"] = row["limits"] + power_limit(run, _own_waits(pctx, k, supply.waits),
                                                        from_h=_first_hour(pctx, k))
        runs.append(run)
        rows.append(row)
        out = ReplicationOutput(row)
        if tables or curve:
            out.tokens_by_day = tokens_by_day(run)
        outs.append(out)
        if k < last:
            left, supply = _after_job(pctx, k, run, left, supply, horizon_h, ended)
        if tables:
            # each job's rows carry the spend on the chips it trained on (its cost_usd): the jobs' rows add up; its
            # chips in service are those it held, not those it was handed and left to the jobs after it
            handed_on = {p.name: _in_service(left[p.name]) for p in js.fleet} if k < last else {}
            out.schedule, out.events, out.layouts, out.links = _tables(js, run, job_spend=True, handed_on=handed_on,
                                                                       from_h=_first_hour(pctx, k))
    metrics = _portfolio_row(pctx, supply, runs, rows)
    metrics["jobs"] = {j.name: r for j, r in zip(pctx.jobs, rows, strict=True)}
    if sc.sites:
        metrics["power_wait_chip_days"] = supply.waited_chip_days(max(r.end_h for r in runs))  # to the last end
    result = ReplicationOutput(metrics)
    if keep:
        result.runs, result.supply = runs, supply
    if tables or curve:
        days = max(len(o.tokens_by_day) for o in outs)
        result.tokens_by_day = sum(np.concatenate([o.tokens_by_day, np.full(days - len(o.tokens_by_day),
                                                                               o.tokens_by_day[-1])]) for o in outs)
    if tables:
        result.in_service = fleet_in_service(sc, supply, max(r.end_h for r in runs))
        result.schedule = _stack([o.schedule for o in outs], pctx.jobs)
        result.events = _fleet_facts_once(_stack([o.events for o in outs], pctx.jobs))
        result.layouts = _stack([o.layouts for o in outs], pctx.jobs)
        result.links = _stack([o.links for o in outs], pctx.jobs)
    return result


def portfolio_compare(pctx: PortfolioContext, seed: int) -> list[dict]:
    """Every job's strategy modes side by side (``compare``), each on what the jobs before it leave.

    Replication 0 of `planner run` (the same supply, failures and model error): the jobs before a job train as
    run trains them, and each of its modes runs on the chips they leave it; the mode run picks is marked, and its
    row is run's figures for that job.
    """
    rows: list[dict] = []

    def each_job(k: int, ctx: Context, steps, job_seed, factor: float, rank_steps, before: list[Run]) -> None:
        js = pctx.scenarios[k]
        # the link sentence `run` gives the job (``shared_links``): each mode's run against the jobs before it
        links = (lambda run: shared_links(pctx, k, before, run)) if k else None
        for r in compare_on(js, ctx, steps, job_seed, factor, rank_steps=rank_steps, more_limits=links):
            if r["possible"]:
                # a job's cost is its spend on the chips it trained on, as `run` gives it per job
                # (runner._with_jobs) and `solve --job` seeks on: the pools' whole commitment is the portfolio's, the
                # same for every mode.
                # It grows while the job trains: at least its figure when the horizon stopped it
                grows = bool(not r["finished"] or costs.unpriced(js))
                # a job picked by cost ranks its modes on the pools' commitment (``_order``): kept, so the pick shows
                r = {**r, "cost_usd": r["used_usd"], "committed_usd": r["cost_usd"],
                     "at_least": [x for x in r["at_least"] if x != "cost_usd"] + ["cost_usd"] * grows
                     + ["committed_usd"] * ("cost_usd" in r["at_least"])}
            rows.append({"job": pctx.jobs[k].name, "objective": js.strategy.objective, **r})

    portfolio_replication(pctx, np.random.SeedSequence(seed).spawn(1)[0], each_job=each_job)
    return rows


def fleet_in_service(sc: Scenario, supply, end_h: float) -> pd.DataFrame:
    """The fleet's usable chips in service (its site power applied) at the end of each day to ``end_h``, per pool.

    What the site-power chart plots: a job's schedule rows show the share it was left, not the fleet's chips.
    """
    import pandas as pd

    days, t = _day_ends(end_h, sc.horizon_days * HOURS_PER_DAY)
    t = chips_read_at(t, end_h)  # (the last day's just before the end, as a job's schedule reads it)
    dates = [_date(sc.start, int(d)) for d in days]
    return pd.concat([pd.DataFrame({"date": dates, "pool": p.name,
                                    "units_in_service": _in_service(supply[p.name]).at(t).astype(int)})
                      for p in sc.fleet], ignore_index=True)


# what happens to a pool whoever trains on it: each job's run that spans it logs it, the fleet's events once
_FLEET_FACTS = (EventKind.DELIVERY.value, EventKind.CLOUD_START.value, EventKind.CLOUD_END.value)


def _fleet_facts_once(events: pd.DataFrame | None) -> pd.DataFrame | None:
    """The stacked events with each delivery and rental start or end once, under the first job that logged it.

    Every job's run that spans a delivery logs it: the dense run's events repeated the flagship's 10,000 chips of
    2024-04-30, so the deliveries added up to 39,000 where 29,000 came.
    """
    if events is None or events.empty:
        return events
    fact = events["event"].isin(_FLEET_FACTS)
    again = fact & events.duplicated(["time_days", "pool", "event", "units", "detail"])
    return events[~again].reset_index(drop=True)


def _stack(frames: list, jobs: list[Job]) -> pd.DataFrame | None:
    """One table of the jobs' tables, with a ``job`` column first."""
    import pandas as pd  # here, not at import: the workers of a run never need it
    parts = [f.assign(job=j.name) for f, j in zip(frames, jobs, strict=True) if f is not None]
    if not parts:
        return None
    out = pd.concat(parts, ignore_index=True)
    return out[["job", *[c for c in out.columns if c != "job"]]]
