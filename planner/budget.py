"""Bounded work: what a scenario costs to run, counted up front from the file alone.

What is counted, per replication unless said otherwise:

- events: failures, restarts, checkpoints and maintenance stops over the whole horizon;
- the layout grid: the candidate layouts one layout search holds in memory at once, per pool (the product of
  the options of each parallel dimension, planner/perf/search.py ``shape_axes``);
- capacity steps: every change of a pool's chips (a delivery, day 0's units, a rental's start and end). Each
  one re-plans the strategies that use the pool (``strategy_evaluations``) and re-scores the pool's layout
  grid (``replan_layouts`` = steps x grid, summed over the pools): what a fleet of many pools with many
  tranches spends its time on;
- schedule rows: pools x days of the horizon, once per run (schedule.csv, and the report's charts, whose
  report.html grows with them).

``check_work`` refuses (exit 2, naming the field that drives it) what could never progress or is far over a
limit; ``run_estimate`` gives the counts and the seconds of a run for the note printed when it is long, and
``points_estimate`` the same for the many runs of a sweep, a sensitivity or a goal seek.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass

from .cashflow import kinds
from .costs import after_plan, unpriced
from .deadline import past_horizon
from .errors import ScenarioError
from .fmt import fmt_duration
from .perf import reliability as rel
from .perf.params import count_params
from .perf.search import TILE_GROUPS
from .perf.system import MAX_KERNEL_SHARE, tuning
from .scenario import Scenario
from .units import GB, HOURS_PER_DAY

MAX_EVENTS_PER_REPLICATION = 1_000_000
EVENTS_PER_FAILURE = 4  # failure, restart, repair, checkpoint lines (planner/sim/engine.py)
EVENTS_PER_MAINTENANCE = 3  # maintenance, checkpoint, restart
# per estimated event: a simulated failure costs about 18 us in a replication that keeps only its metrics (the
# seed scenario: 1,000 failures in 18 ms) and counts as 4 events, and the bound over the whole horizon counts
# several times the events a run simulates (the seed scenario: 187,000 against 4,000)
SECONDS_PER_EVENT = 1.0e-6
SECONDS_PER_REPLICATION = 0.02  # layout search and bookkeeping of one replication, without events
# per estimated event, once: replication 0 keeps its tables and the report writes them (a failure storm of 844,000
# events: 6.7 s more to simulate with tables, 8 s to write the CSV, HTML and capped XLSX; the bound said 0.9 s)
SECONDS_PER_REPORTED_EVENT = 1.5e-5
TABLES_SHARE = 0.45  # of that, keeping the tables (6.7 of 14.7 s): what a sweep point pays, writing no report
LONG_RUN_S = 60.0  # warn above this
MAX_MEASURED_SECONDS = 900.0  # fitting a pool's `measured` rows: a layout search per row (``measured_seconds``)

# the layout grid: an architecture at its field maximums (1,000 layers, 65,536 experts, 4,194,304-token
# sequences) on a chip with a 64-wide scale-up domain is 24.9 million candidates: `planner estimate` peaked at
# 6.3 GB and took 38 s on this machine (2 cores), i.e. 253 B and 1.5 us per candidate
BYTES_PER_GRID_LAYOUT = 260.0
SECONDS_PER_GRID_LAYOUT = 1.6e-6
# 4 million candidates: about 1 GB at the bytes above; DeepSeek-V3 at 128K tokens on a 72-chip scale-up domain,
# the largest grid of the presets, is 2.4 million
MAX_LAYOUT_GRID = 4_000_000
# capacity steps: a step re-scores the pool's layout grid for each strategy re-planned; measured on 20,160-layout
# (llama3-8b on H100) to 272,160-layout (DeepSeek-V3) grids, per step and grid layout: 0.9e-7 s for 1 pool,
# 1.0-1.7e-7 for 4, 1.7-2.5e-7 for 8, 3.8-5.4e-7 for 16, 3.0-4.2e-7 for 32, 4.1-4.7e-7 for 64 (64 x 400 tranches:
# 214 s): 1.2e-7 x sqrt(pools up to 16) bounds them within 2.5x (the multi-pool modes' batch shares stop churning
# new layout tables at about 16 pools)
SECONDS_PER_REPLAN_LAYOUT = 1.2e-7
REPLAN_POOLS_SATURATE = 16
# re-planned layouts of one replication: 2e10 is about 2.7 h at 4.8e-7 s (64 x 400 tranches on 20,160-layout grids
# is 5.2e8: a 4 min bound), far over anything a file of 1 MiB asks on a preset model, and still what a grid of
# millions of layouts with thousands of tranches reaches
MAX_REPLAN_LAYOUTS = 2.0e10
# memory: each pool keeps SHAPE_TABLES_KEPT tables, and more within its share of SHAPE_TABLE_BYTES (perf/search.py),
# of the layouts that fit: 15 numbers of 8 bytes per layout (9 layout columns, its degree, 5 scores) and its group
# of data-parallel degree (4 bytes), counted as 8; an upper bound (64 x 400 tranches of
# llama3-8b: 1.2 GB counted, 0.6-1.0 GB measured; 8 pools of DeepSeek-V3: 2.1 GB counted, 0.65 GB measured)
BYTES_PER_KEPT_LAYOUT = 128.0
LARGE_MEMORY_BYTES = 1.0e9  # the note names the memory above this
MANY_STEPS = 100  # a pool with this many capacity steps is named for its deliveries (the shipped ones have <= 6)
MULTI_POOL_MODES = 3  # sync, diloco, sequential: what `auto` re-plans next to the pool's own `single` strategy
# schedule rows: report.html holds 150 B per row (the stacked charts of every pool by day; 8 pools x 3,651 days:
# 9.3 MB, 1 pool x 31 days: 4.8 MB, which is plotly.js inline) and writing a row takes 100-150 us (same runs)
HTML_BYTES_PER_SCHEDULE_ROW = 160.0
REPORT_BASE_BYTES = 4.9e6  # report.html with no rows: plotly.js and the page (measured 4.84 MB)
SECONDS_PER_SCHEDULE_ROW = 1.5e-4
# 500,000 rows: report.html about 85 MB and a minute of writing (64 pools x 20 years fit; a 2 KB file of 48 pools
# over a century wrote a 269 MB report.html)
MAX_SCHEDULE_ROWS = 500_000
_HORIZON_DRIVES_ROWS_DAYS = MAX_SCHEDULE_ROWS / 64  # longer horizons than 64 pools could have: name the horizon
# every pool (and a portfolio's every job) keeps its own layout tables: their sum is bounded, at the counted upper
# bound (0.3-0.8x of it measured: 3 pools of a 3.6-million-layout grid counted 12.1 GB, measured 3.1 GB; 12 pools
# measured 6.0 GB, 64 would reach about 29 GB), so that a run stays within a machine's memory
MAX_RUN_MEMORY_BYTES = 8.0e9


@dataclass(frozen=True)
class WorkEstimate:
    """What a run costs: its counts, the field that drives most of its time, and its seconds on one core."""

    events_per_replication: float
    main_field: str
    seconds: float
    layout_grid: int = 0  # the largest layout grid of one pool: candidates one search holds at once
    capacity_steps: int = 0  # chip count changes of every pool over the horizon, per replication
    strategy_evaluations: int = 0  # strategies re-planned over the capacity steps, per replication
    replan_layouts: float = 0.0  # capacity steps x the pool's layout grid, summed over the pools
    schedule_rows: int = 0  # pools x days of the horizon (schedule.csv, the report's charts), once per run
    report_bytes: float = 0.0  # report.html, from the schedule rows
    memory_bytes: float = 0.0  # the layout search's peak and the layout tables the pools keep (an upper bound)
    once_seconds: float = 0.0  # the part of ``seconds`` paid once per run, whatever the replications
    fit_seconds: float = 0.0  # of that, fitting the pools' ``measured`` rows (``measured_seconds``)
    runs: int = 1  # runs estimated together (the points of a sweep)


@dataclass(frozen=True)
class _Grid:
    size: int
    axes: dict[str, int]
    pool: int
    field: str


def _pool_mtbf(s: Scenario, i: int) -> tuple[float, str]:
    p = s.fleet[i]
    if p.mtbf_chip_days is not None:
        return p.mtbf_chip_days, f"fleet[{i}].mtbf_chip_days"
    if s.reliability.mtbf_chip_days is not None:
        return s.reliability.mtbf_chip_days, "reliability.mtbf_chip_days"
    custom = next((k for k, c in enumerate(s.chips) if c.id == p.chip), None)
    if custom is not None:  # a custom chip's own figure: the field that sets it
        return s.chips[custom].mtbf_chip_days, f"chips[{custom}].mtbf_chip_days"
    return s.chip(p.chip).mtbf_chip_days, f"fleet[{i}].mtbf_chip_days (default: chip {p.chip})"


def _interval_h(s: Scenario) -> float | None:
    """The checkpoint interval the scenario sets [h] (None: Young/Daly's)."""
    iv = s.reliability.checkpoint_interval_hours
    return None if iv == "auto" else float(iv)


def job_units(s: Scenario, i: int) -> int:
    """The chips of pool ``i`` a job would train on under failures: the size that keeps the most chip-time.

    The engine sizes each plan for failures (planner/strategy/base.py, ``size_job``), so a huge pool is never
    run, nor counted here, at a size whose failures outpace its restarts. 0 when no size keeps any work.
    """
    r = s.reliability
    units = s.fleet[i].planned_units
    if not r.enabled:
        return units
    f = rel.pool_failures(s, s.fleet[i], count_params(s.workload.arch).total)
    iv = _interval_h(s)
    return rel.best_job_units(units, lambda n: rel.goodput_on(
        n, f.mtbf_chip_days, f.write_h, iv, f.restart_base_minutes, f.restart_minutes_per_1000_chips, f.manual_share,
        f.manual_hours))


# a pool whose chips in service average less than this share of its smallest job is refused: the job would sit
# waiting for repairs (a single chip in service 99.9% of the time was refused, under one chip on average)
MIN_JOB_IN_SERVICE = 0.01


def check_progress(s: Scenario) -> None:
    """Refuse a pool on which no job, however small, keeps work.

    Two ways, both as the engine runs (planner/sim/engine.py): the failed nodes come back so slowly that the pool
    keeps less than one chip in service on average (every failure takes its node out for ``repair_days``: each
    node trains for its MTBF, then waits for its repair, so N chips keep N x M / (M + repair) in service), or even
    one node fails so often against its checkpoint cycle that no cycle is ever kept (``rel.expected_goodput``).
    A pool of fewer chips than a node is its own smallest job.
    """
    if not s.reliability.enabled:
        return
    params = count_params(s.workload.arch).total
    for i, p in enumerate(s.fleet):
        if not p.planned_units:
            continue  # nothing owned or rented (``cloud: {units: 0}``): no job trains there to fail
        f = rel.pool_failures(s, p, params)
        # the smallest job: one node, or the whole pool when it has fewer chips than a node
        units = max(1, min(s.chip(p.chip).chips_per_node, p.planned_units))
        mtbf_h = rel.job_mtbf_hours(f.mtbf_chip_days, units)
        _mtbf, field = _pool_mtbf(s, i)
        in_service = p.planned_units * rel.in_service_share(f.mtbf_chip_days, units, s.reliability.repair_days)
        if in_service < MIN_JOB_IN_SERVICE * units:
            raise ScenarioError(
                f"a node of {units:,} chips at {f.mtbf_chip_days:g} chip-days between failures fails every "
                f"{fmt_duration(mtbf_h)} on average and is repaired in {s.reliability.repair_days:g} days: of the "
                f"pool's {p.planned_units:,} chips, {in_service:.2g} stay in service on average, under "
                f"{MIN_JOB_IN_SERVICE:.0%} of its smallest job ({units:,} chips): the job would never progress",
                field=field)
        if job_units(s, i) > 0:
            continue
        if f.write_h > 1.0 and mtbf_h >= 1.0:  # failures under hours apart, a write of hours: the write is what is off
            field = (f"fleet[{i}].checkpoint_write_s" if p.checkpoint_write_s is not None else
                     "reliability.checkpoint_write_s" if s.reliability.checkpoint_write_s is not None else
                     "reliability.storage_gbyteps")
        raise ScenarioError(
            f"even {units:,} chips at {f.mtbf_chip_days:g} chip-days between failures fail every "
            f"{fmt_duration(mtbf_h)} on average, far too often for a checkpoint write ({fmt_duration(f.write_h)}): no "
            "checkpoint is ever kept, so the job would never progress", field=field)


# ---------------------------------------------------------------- the counts


def _grid_field(s: Scenario, i: int, axes: dict[str, int]) -> str:
    """The field behind the widest searched dimension of pool ``i``'s grid (what to change to shrink it)."""
    explicit = not isinstance(s.workload.model, str)
    by_axis = {"pp": "workload.model.layers" if explicit else "workload.model",
               "ep": "workload.model.moe.experts" if explicit else "workload.model",
               "tp": "workload.model.heads" if explicit else "workload.model",
               "cp": "workload.seq_len"}
    axis = max(by_axis, key=lambda a: axes[a])
    return by_axis[axis] if axes[axis] > 1 else f"fleet[{i}].stack"


def layout_grids(s: Scenario) -> list[_Grid]:
    """Each pool's layout grid: its size, the options of each dimension, and the field that drives it."""
    from .bridge import pin_of, pool_system, setup_of
    from .perf.search import grid_size, shape_axes

    setup = setup_of(s)
    out = []
    for i, p in enumerate(s.fleet):
        axes = shape_axes(s.workload.arch, pool_system(s, p), setup, pin_of(p))
        counts = {k: len(v) for k, v in axes.items()}
        out.append(_Grid(grid_size(axes), counts, i, _grid_field(s, i, counts)))
    return out


def measured_seconds(s: Scenario) -> tuple[float, str]:
    """Seconds to fit the pools' ``measured`` rows, each a layout search of its own run, and the costliest pool's field.

    (An upper bound at SECONDS_PER_GRID_LAYOUT: 300 rows of DeepSeek-V3 at 128K tokens, 1.13 million layouts
    each, counted 540 s and took about 200 s.)
    """
    from .bridge import pool_system
    from .perf.layout import Parallelism
    from .perf.search import grid_size, shape_axes
    from .perf.setup import training_setup

    total, worst, field = 0.0, 0.0, ""
    for i, p in enumerate(s.fleet):
        if not p.measured:
            continue
        system = pool_system(s, p)
        layouts = sum(grid_size(shape_axes(m.arch, system, training_setup(m.arch, m.seq_len, m.global_batch_tokens,
                                                                        m.precision, system.fused_attention),
                                           m.parallelism or Parallelism())) for m in p.measured)
        seconds = layouts * SECONDS_PER_GRID_LAYOUT
        total += seconds
        if seconds > worst:
            worst, field = seconds, f"fleet[{i}].measured"
    return total, field


def power_steps(s: Scenario, pool) -> int:
    """Steps of the pool's site power (``sites:``): each may move the chips the site powers, and so the pool's."""
    return sum(len(site.power_mw) for site in s.sites if site.name == pool.site)


def capacity_steps(s: Scenario) -> list[int]:
    """Changes of each pool's chips over the horizon.

    Day 0's units, each delivery, a rental's start and end, and each step of its site's power (1,000 daily
    steps of 16 pools' site ran 11 times the estimate, with no note: review).
    """
    return [(1 if p.units else 0) + len(p.deliveries) + (2 if p.cloud is not None else 0) + power_steps(s, p)
            for p in s.fleet]


def strategies_per_step(s: Scenario) -> int:
    """Strategies one capacity step of a pool re-plans: its own single strategy and the multi-pool modes."""
    multi = len(s.fleet) > 1
    mode = s.strategy.mode
    if mode == "auto":
        return 1 + (MULTI_POOL_MODES if multi else 0)
    return 1


def _replan_field(steps: list[int], grids: list[_Grid], s: Scenario | None = None) -> tuple[int, str]:
    """The pool that re-plans the most layouts, and its field.

    Its deliveries, or its site's power steps, when it has many; else its grid's.
    """
    i = max(range(len(grids)), key=lambda k: steps[k] * grids[k].size)
    if steps[i] < MANY_STEPS:
        return i, grids[i].field
    if s is not None and power_steps(s, s.fleet[i]) > len(s.fleet[i].deliveries):
        k = next(k for k, site in enumerate(s.sites) if site.name == s.fleet[i].site)
        return i, f"sites[{k}].power_mw"
    return i, f"fleet[{i}].deliveries"


def schedule_rows(s: Scenario) -> int:
    """Rows of schedule.csv: one per pool and day (days 0 to the end of the horizon)."""
    return len(s.fleet) * (math.ceil(s.horizon_days) + 1)


def cashflow_rows(s: Scenario) -> tuple[int, str]:
    """Rows of cashflow.csv at most (a month per pool and kind of money), and the field that spans the most months.

    Months run from the start (or a reservation's start) to the horizon's end, a reservation's end or the last
    planned delivery, whichever is last (planner/cashflow.py).
    """
    total, field, most = 0, "horizon_days", 0
    end = s.start + dt.timedelta(days=math.ceil(s.horizon_days))
    for i, p in enumerate(s.fleet):
        first, last, why = s.start, end, "horizon_days"
        if p.cloud is not None and p.cloud.billing != "on_demand":
            first = min(first, p.cloud.from_)
            if p.cloud.until > last:
                last, why = p.cloud.until, f"fleet[{i}].cloud.until"
        if p.deliveries and p.deliveries[-1].date > last:
            last, why = p.deliveries[-1].date, f"fleet[{i}].deliveries"
        months = (last.year - first.year) * 12 + last.month - first.month + 1
        total += months * len(kinds(p))
        if months > most:
            most, field = months, why
    return total, field


def _events(s: Scenario) -> tuple[float, str, float]:
    """Expected events per replication over the whole horizon, the field behind most, and their count."""
    r = s.reliability
    horizon_h = s.horizon_days * HOURS_PER_DAY
    events = 10.0 + 2 * sum(len(p.deliveries) + 1 + power_steps(s, p) for p in s.fleet)
    main_field, main = "horizon_days", 0.0
    if r.enabled:
        for i in range(len(s.fleet)):
            mtbf_chip_days, field = _pool_mtbf(s, i)
            n = EVENTS_PER_FAILURE * horizon_h / rel.job_mtbf_hours(mtbf_chip_days, max(job_units(s, i), 1))
            events += n
            if n > main:
                main_field, main = field.split(" ")[0], n
        if r.maintenance_every_days:
            n = EVENTS_PER_MAINTENANCE * s.horizon_days / r.maintenance_every_days
            events += n
            if n > main:
                main_field, main = "reliability.maintenance_every_days", n
    return events, main_field, main


def replan_seconds(replan_layouts: float, pools: int) -> float:
    """Seconds to re-score ``replan_layouts`` layouts over the capacity steps of a fleet of ``pools`` pools."""
    return replan_layouts * SECONDS_PER_REPLAN_LAYOUT * math.sqrt(min(pools, REPLAN_POOLS_SATURATE))


def _job_scenarios(s: Scenario) -> list[Scenario]:
    """The scenario each job of a portfolio sees (planner/sim/portfolio.py), in priority order."""
    from .sim.portfolio import job_scenario, ordered_jobs

    return [job_scenario(s, j) for j in ordered_jobs(s)]


def _jobs_estimate(ests: list[WorkEstimate]) -> WorkEstimate:
    """A portfolio's work: its jobs run one after the other in every replication, so their counts add up."""
    top = max(ests, key=lambda e: e.seconds)
    return dataclasses.replace(
        top, events_per_replication=sum(e.events_per_replication for e in ests), seconds=sum(e.seconds for e in ests),
        capacity_steps=sum(e.capacity_steps for e in ests),
        strategy_evaluations=sum(e.strategy_evaluations for e in ests),
        replan_layouts=sum(e.replan_layouts for e in ests), schedule_rows=sum(e.schedule_rows for e in ests),
        report_bytes=REPORT_BASE_BYTES + sum(e.schedule_rows for e in ests) * HTML_BYTES_PER_SCHEDULE_ROW,
        memory_bytes=sum(e.memory_bytes for e in ests), once_seconds=sum(e.once_seconds for e in ests),
        fit_seconds=sum(e.fit_seconds for e in ests))


def run_estimate(s: Scenario, replications: int | None = None, report: bool = True) -> WorkEstimate:
    """The counts of a run and its seconds on one core (an upper bound: the job may finish sooner).

    ``report=False``: a run that keeps its tables but writes no report (a point of a sweep).
    """
    if s.jobs:
        reps = replications or s.simulation.replications
        return _jobs_estimate([run_estimate(js, reps, report) for js in _job_scenarios(s)])
    return _estimate(s, layout_grids(s), replications, report)


def _estimate(s: Scenario, grids: list[_Grid], replications: int | None, report: bool,
              fit_s: float | None = None) -> WorkEstimate:
    from .perf.search import SHAPE_TABLE_BYTES, SHAPE_TABLES, SHAPE_TABLES_KEPT

    events, main_field, main = _events(s)
    steps = capacity_steps(s)
    replan = float(sum(n * g.size for n, g in zip(steps, grids, strict=True)))
    replan_s = replan_seconds(replan, len(s.fleet))
    if replan_s > main * SECONDS_PER_EVENT:  # the time goes into re-planning more than into events
        main_field = _replan_field(steps, grids, s)[1]
    rows = schedule_rows(s)
    # the multi-pool modes lay pools out at many batch shares: up to SHAPE_TABLES tables a pool
    tables = SHAPE_TABLES if len(s.fleet) > 1 and s.strategy.mode != "single" else 1
    # a pool keeps SHAPE_TABLES_KEPT tables, and more up to its share of SHAPE_TABLE_BYTES
    share = SHAPE_TABLE_BYTES / len(grids)
    kept = sum(g.size * BYTES_PER_KEPT_LAYOUT * min(tables, SHAPE_TABLES_KEPT)
               + min(g.size * BYTES_PER_KEPT_LAYOUT * max(tables - SHAPE_TABLES_KEPT, 0), share) for g in grids)
    memory = max(g.size for g in grids) * BYTES_PER_GRID_LAYOUT + kept
    reps = replications or s.simulation.replications
    # every replication draws its own deliveries under delivery risk, and re-plans them; without it the
    # replications share replication 0's plans
    risky = any(p.delivery_risk is not None for p in s.fleet)
    per_rep = SECONDS_PER_REPLICATION + events * SECONDS_PER_EVENT + (replan_s if risky else 0.0)
    fit_s = measured_seconds(s)[0] if fit_s is None else fit_s  # (``check_work`` has it already)
    setup_s = sum(g.size for g in grids) * SECONDS_PER_GRID_LAYOUT + fit_s
    once = events * SECONDS_PER_REPORTED_EVENT * (1.0 if report else TABLES_SHARE) + setup_s + \
        (0.0 if risky else replan_s) + (rows * SECONDS_PER_SCHEDULE_ROW if report else 0.0)
    return WorkEstimate(
        events_per_replication=events, main_field=main_field, seconds=reps * per_rep + once,
        layout_grid=max(g.size for g in grids), capacity_steps=sum(steps),
        strategy_evaluations=sum(steps) * strategies_per_step(s), replan_layouts=replan, schedule_rows=rows,
        report_bytes=REPORT_BASE_BYTES + rows * HTML_BYTES_PER_SCHEDULE_ROW, memory_bytes=memory,
        once_seconds=once, fit_seconds=fit_s)


def points_estimate(scenarios: Sequence[Scenario], replications: int | None = None) -> WorkEstimate:
    """Many runs without reports (the points of a sweep, a sensitivity or a goal seek): their seconds added."""
    ests = [run_estimate(p, replications, report=False) for p in scenarios]
    top = max(ests, key=lambda e: e.seconds)
    return WorkEstimate(
        events_per_replication=max(e.events_per_replication for e in ests), main_field=top.main_field,
        seconds=sum(e.seconds for e in ests), layout_grid=max(e.layout_grid for e in ests),
        capacity_steps=max(e.capacity_steps for e in ests),
        strategy_evaluations=max(e.strategy_evaluations for e in ests),
        replan_layouts=max(e.replan_layouts for e in ests), schedule_rows=max(e.schedule_rows for e in ests),
        report_bytes=0.0, memory_bytes=max(e.memory_bytes for e in ests),
        once_seconds=sum(e.once_seconds for e in ests), fit_seconds=sum(e.fit_seconds for e in ests), runs=len(ests))


# ---------------------------------------------------------------- the limits


def _check_grids(s: Scenario) -> list[_Grid]:
    grids = layout_grids(s)
    g = max(grids, key=lambda x: x.size)
    if g.size > MAX_LAYOUT_GRID:
        shown = " x ".join(f"{k.replace('_', '-')} {n}" for k, n in g.axes.items())
        pool = s.fleet[g.pool].name
        raise ScenarioError(
            f"the layout search of pool {pool!r} would hold {g.size:,} candidate layouts at once ({shown}), about "
            f"{g.size * BYTES_PER_GRID_LAYOUT / GB:,.1f} GB, more than the {MAX_LAYOUT_GRID:,} it may; shrink this "
            f"dimension or pin it in fleet[{g.pool}].parallelism", field=g.field)
    return grids


def _check_replans(s: Scenario, grids: list[_Grid]) -> None:
    steps = capacity_steps(s)
    total = sum(n * g.size for n, g in zip(steps, grids, strict=True))
    if total > MAX_REPLAN_LAYOUTS:
        i, field = _replan_field(steps, grids, s)
        raise ScenarioError(
            f"{sum(steps):,} capacity steps over {len(s.fleet)} pool(s) would re-score {total:,.3g} layouts per "
            f"replication (pool {s.fleet[i].name!r}: {steps[i]:,} steps x {grids[i].size:,} layouts), about "
            f"{replan_seconds(total, len(s.fleet)) / 3600:,.1f} h, more than the budget of {MAX_REPLAN_LAYOUTS:.0e}; "
            "merge tranches or pools, or shrink the layout search", field=field)


def _check_rows(s: Scenario) -> None:
    cash, field = cashflow_rows(s)
    if cash > MAX_SCHEDULE_ROWS:
        raise ScenarioError(
            f"the cash flow would have up to {cash:,} rows (a month per pool and kind of money, to the last date "
            f"money moves), more than the {MAX_SCHEDULE_ROWS:,} rows a report holds; give an earlier end",
            field=field)
    rows = schedule_rows(s)
    if rows > MAX_SCHEDULE_ROWS:
        field = "horizon_days" if s.horizon_days > _HORIZON_DRIVES_ROWS_DAYS else "fleet"
        html = REPORT_BASE_BYTES + rows * HTML_BYTES_PER_SCHEDULE_ROW
        raise ScenarioError(
            f"{len(s.fleet)} pool(s) x {math.ceil(s.horizon_days) + 1:,} days make {rows:,} schedule rows and a "
            f"report.html of about {html / 1e6:,.0f} MB, more than the {MAX_SCHEDULE_ROWS:,} rows a report holds; "
            "shorten horizon_days or merge pools", field=field)


def _check_portfolio(s: Scenario, est: WorkEstimate, path: str | None) -> None:
    """A portfolio's jobs run one after another in every replication: their work adds up, and so do the limits.

    Each job within the limits one job has is not enough: the sums of events, re-scored layouts and schedule
    rows are held to the same limits, and the layout tables the jobs keep to MAX_RUN_MEMORY_BYTES.
    """
    jobs = f"{len(s.jobs)} jobs over {len(s.fleet)} pool(s)"
    over = [
        (est.events_per_replication > MAX_EVENTS_PER_REPLICATION,
         f"{jobs} would simulate about {est.events_per_replication:,.0f} events per replication over "
         f"horizon_days={s.horizon_days:g}, more than the budget of {MAX_EVENTS_PER_REPLICATION:,}"),
        (est.replan_layouts > MAX_REPLAN_LAYOUTS,
         f"{jobs} would re-score {est.replan_layouts:,.3g} layouts per replication, more than the budget of "
         f"{MAX_REPLAN_LAYOUTS:.0e}"),
        (est.schedule_rows > MAX_SCHEDULE_ROWS,
         f"{jobs} x {math.ceil(s.horizon_days) + 1:,} days make {est.schedule_rows:,} schedule rows, more than the "
         f"{MAX_SCHEDULE_ROWS:,} rows a report holds"),
        (est.memory_bytes > MAX_RUN_MEMORY_BYTES,
         f"{jobs} would keep up to about {est.memory_bytes / GB:,.1f} GB of layout tables (each job its own), more "
         f"than the {MAX_RUN_MEMORY_BYTES / GB:,.0f} GB a run may"),
    ]
    for is_over, why in over:
        if is_over:
            raise ScenarioError(f"{why}; fewer jobs, pools or days", path=path, field="jobs")


def check_work(s: Scenario, path: str | None = None) -> WorkEstimate:
    """Refuse scenarios that can never progress or are far over a limit of work; the estimate otherwise."""
    if s.jobs:
        est = _jobs_estimate([check_work(js, path) for js in _job_scenarios(s)])
        _check_portfolio(s, est, path)
        return est
    try:
        check_progress(s)
        grids = _check_grids(s)
        _check_replans(s, grids)
        _check_rows(s)
        fit_s, fit_field = measured_seconds(s)
        if fit_s > MAX_MEASURED_SECONDS:
            raise ScenarioError(
                f"fitting the measured rows would search about {fit_s / SECONDS_PER_GRID_LAYOUT:,.0f} layouts "
                f"(about {fit_s / 60:,.0f} min), more than the budget of {MAX_MEASURED_SECONDS / 60:,.0f} min; keep "
                "the rows nearest this workload (each row is a layout search of its own run)", field=fit_field)
        events, field, _main = _events(s)
        if events > MAX_EVENTS_PER_REPLICATION:
            raise ScenarioError(
                f"the run would simulate about {events:,.0f} events per replication over "
                f"horizon_days={s.horizon_days:g}, more than the budget of {MAX_EVENTS_PER_REPLICATION:,}; "
                "raise this interval or shorten the horizon", field=field)
    except ScenarioError as exc:
        raise ScenarioError(exc.reason, path=path, field=exc.field) from None
    est = _estimate(s, grids, None, True, fit_s)
    if est.memory_bytes > MAX_RUN_MEMORY_BYTES:  # each pool keeps its own tables: many huge grids add up
        g = max(grids, key=lambda x: x.size)
        raise ScenarioError(
            f"{len(s.fleet)} pool(s) would keep up to about {est.memory_bytes / GB:,.1f} GB of layout tables (each "
            f"pool its own; pool {s.fleet[g.pool].name!r}'s search holds {g.size:,} layouts), more than the "
            f"{MAX_RUN_MEMORY_BYTES / GB:,.0f} GB a run may; fewer pools, or pin the layout in "
            f"fleet[{g.pool}].parallelism", path=path, field="fleet")
    return est


def check_points(scenarios: Sequence[Scenario], path: str | None = None,
                 labels: Sequence[str] | None = None) -> None:
    """``check_work`` of every point of a sweep, a sensitivity or a goal seek, before any runs; names the point."""
    for k, p in enumerate(scenarios):
        try:
            check_work(p)
        except ScenarioError as exc:
            which = labels[k] if labels is not None else f"{k}"
            raise ScenarioError(f"point {which}: {exc.reason}", path=path, field=exc.field) from None


def check_time(s: Scenario, replications: int, max_seconds: float, path: str | None = None) -> WorkEstimate:
    """Refuse a run whose estimated seconds exceed ``max_seconds`` (the app's cap on the time a run may take)."""
    est = run_estimate(s, replications)
    if est.seconds > max_seconds:
        raise ScenarioError(
            f"{replications:,} replication(s) of up to {est.events_per_replication:,.0f} events each would take "
            f"about {est.seconds / 60:,.1f} min, more than the {max_seconds:,.0f} s a run may take here; lower the "
            "replications, or use `planner run`", path=path, field="simulation.replications")
    return est


def describe(est: WorkEstimate, replications: int) -> str:
    """What a long estimate counts, in a few words: the runs, replications, events, capacity steps and rows."""
    runs = f"{est.runs:,} runs x " if est.runs > 1 else ""
    parts = [f"{runs}{replications:,} replication(s) of up to {est.events_per_replication:,.0f} events each"]
    if est.capacity_steps >= MANY_STEPS:
        parts.append(f"{est.capacity_steps:,} capacity steps ({est.strategy_evaluations:,} strategy re-plans over "
                     f"layout grids of up to {est.layout_grid:,} layouts)")
    if est.schedule_rows * SECONDS_PER_SCHEDULE_ROW >= LONG_RUN_S / 10:
        parts.append(f"{est.schedule_rows:,} schedule rows")
    if est.memory_bytes >= LARGE_MEMORY_BYTES:
        parts.append(f"up to about {est.memory_bytes / GB:,.1f} GB of layout tables per process")
    if est.fit_seconds >= LONG_RUN_S / 10:
        parts.append(f"fitting the measured rows (about {fmt_duration(est.fit_seconds / 3600)})")
    return ", ".join(parts)


def notes(s: Scenario) -> list[str]:
    """Things the file allows but the user should know (printed as notes, never refused)."""
    out = []
    for where, w in s.workloads():
        if w.global_batch_tokens is not None and w.global_batch_tokens % w.seq_len:
            seqs = w.global_batch_tokens / w.seq_len
            out.append(f"{where}.global_batch_tokens: {w.global_batch_tokens:,.0f} tokens is {seqs:,.2f} sequences "
                       f"of {w.seq_len:,}; a step trains whole sequences")
    end_day = s.start + dt.timedelta(days=math.floor(s.horizon_days))  # (the day the horizon ends in)
    for i, p in enumerate(s.fleet):
        c = p.cloud
        if c is not None and c.units and (c.until <= s.start or after_plan(s, p)):  # (neither is the plan's cost)
            out.append(f"fleet[{i}].cloud: the rental from {c.from_} until {c.until} lies outside the plan's "
                       f"{s.start} to {end_day}: it never provides chips and its price is not the plan's cost "
                       "(`planner estimate` still counts its chips: it has no time axis)")
    for i, p in enumerate(s.fleet):
        early = [(j, d) for j, d in enumerate(p.deliveries) if d.date < s.start and d.units > p.units]
        if early:  # the units in service on day 0 are then more than `units` says
            j, d = early[-1]
            out.append(f"fleet[{i}].deliveries[{j}]: {d.date} is before the plan's start ({s.start}): the pool "
                       f"starts with {d.units:,} units delivered, not the {p.units:,} of "
                       f"fleet[{i}].units")
    for i, p in enumerate(s.fleet):
        tp, domain = (p.parallelism.tp if p.parallelism else None), s.chip(p.chip).scale_up_domain
        if tp and tp <= domain and domain % tp and domain // tp < TILE_GROUPS:  # (search.tp_options offers none such)
            out.append(f"fleet[{i}].parallelism.tp: {tp} does not divide {p.chip}'s scale-up domain of {domain} chips: "
                       "a group that spans two domains is timed as if inside one (optimistic)")
    for i, p in enumerate(s.fleet):
        k = float(tuning()["kernel"][p.stack])
        if k * p.efficiency > MAX_KERNEL_SHARE:  # (perf/system.py System.kernel_share)
            out.append(f"fleet[{i}].efficiency: {p.efficiency:g} x the {p.stack} stack's kernel factor {k:g} would run "
                       "GEMMs faster than the chip's own matmul microbenchmark: held at it (from "
                       f"{MAX_KERNEL_SHARE / k:.2f} up, every efficiency trains alike)")
    priced_by = [(f"jobs[{i}].strategy.objective" if job.strategy is not None and job.strategy.objective == "cost"
                  else "strategy.objective", job.pools) for i, job in enumerate(s.jobs)
                 if (job.strategy or s.strategy).objective == "cost"] if s.jobs else (
        [("strategy.objective", None)] if s.strategy.objective == "cost" else [])
    free = unpriced(s)
    said = set()
    for where, pools in priced_by:
        names = [n for n in free if pools is None or n in pools]
        if names and (where, tuple(names)) not in said:  # (once: jobs that share the scenario's strategy)
            said.add((where, tuple(names)))
            # the pick compares spends that leave these pools' price out: a mode on them looks cheaper
            out.append(f"{where}: cost picks the mode by the spend that is known, and {', '.join(names)} "
                       f"{'has' if len(names) == 1 else 'have'} no price: a mode that trains on "
                       f"{'it' if len(names) == 1 else 'them'} looks cheaper than it is (set unit_price_usd or "
                       "cloud.price_per_chip_hour_usd)")
    interval_h = _interval_h(s)
    writes = [("reliability.checkpoint_write_s", s.reliability.checkpoint_write_s)] + [
        (f"fleet[{i}].checkpoint_write_s", p.checkpoint_write_s) for i, p in enumerate(s.fleet)]
    for where, write_s in writes:
        if s.reliability.enabled and interval_h is not None and write_s is not None and write_s >= interval_h * 3600:
            # each cycle trains the interval, then writes: the job writes at least as long as it trains, and a
            # failure in the write loses the cycle (a 1 s interval beside a day-long write never finished)
            out.append(f"{where}: a checkpoint write of {fmt_duration(write_s / 3600)} is no shorter than the "
                       f"checkpoint interval ({fmt_duration(interval_h)}, reliability.checkpoint_interval_hours): "
                       "the job spends at least as long writing checkpoints as training (leave the interval at auto)")
    for i, job in enumerate(s.jobs):
        if job.deadline is not None and past_horizon(s.start, job.deadline, s.horizon_days):
            out.append(f"jobs[{i}].deadline: {job.deadline} ends after the horizon does ({end_day}); a replication "
                       "that has not finished by then may still meet it, so the share that meets it is then known "
                       "only as a lower bound (raise horizon_days to know it)")
    return out
