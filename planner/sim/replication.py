"""One replication: draw the supply, pick the strategy, simulate the job over time, price it, tabulate it.

The supply of every pool is drawn once per replication. When the scenario's mode allows several
strategies (``auto``, or ``single`` with several pools), each is first run without failures (cheap:
only capacity changes are events), the best by the objective is kept, and that one is simulated with
failures. ``compare`` runs every mode's best strategy fully, for the strategy table.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import simpy

from .. import costs, plan
from ..kinds import EventKind, Mode
from ..metrics import GROWING_KEYS
from ..perf import reliability as rel
from ..perf.band import blend, largest_pool, peak_shares, pool_quantiles, pool_weights
from ..perf.system import ErrorBand
from ..results import Event
from ..scenario import Scenario
from ..stats import NEVER
from ..strategy import Context, Strategy, options
from ..strategy.modes import MODES
from ..units import HOURS_PER_DAY, SECONDS_PER_HOUR, TB
from .engine import EVENT_BUDGET, PoolState, Timeline, TrainingJob, event_log
from .kernel import DAY_END_H, Repairs
from .power import Wait, apply_power, dated_levels, waited_chip_days
from .supply import Step, delivered_since, rented_steps, supply_steps

if TYPE_CHECKING:
    import pandas as pd

PICK_MEMO = 1024  # strategy picks kept per context (one per distinct supply drawn)
# candidates whose expected finish (failures at their expected goodput) is within 5% of the best one's are run
# with the replication's failures before one is picked: one replication's failures move a finish by more than
# that, so closer calls than that are the run's to decide
PICK_MARGIN = 0.05


@dataclass
class Run:
    """The job under one strategy, with every pool's supply."""

    strategy: Strategy
    states: dict[str, PoolState]
    job: TrainingJob
    events: list[Event]
    end_h: float
    scenario: Scenario
    # per pool: the rented chips the job could count as its own (``Supply.rented``), and those in service
    rented: dict = field(default_factory=dict)
    fleet_rented: dict = field(default_factory=dict)

    @functools.cached_property
    def pool_costs(self) -> list:
        """costs.PoolCost of every pool: committed, used, idle (worked out when read: a pick's losers never are)."""
        return fleet_costs(self.scenario, self.strategy, self.states, self.job, self.end_h, self.rented)

    @functools.cached_property
    def cost_usd(self) -> float:
        """Committed spend of the whole fleet to the run's end [USD]."""
        return sum(c.committed_usd for c in self.pool_costs)

    @property
    def finished(self) -> bool:
        """Whether the job trained all its tokens within the horizon."""
        return self.job.stats.finished


@dataclass
class ReplicationOutput:
    """One replication's metrics, and its tables when asked for."""

    metrics: dict  # finished, time_to_train_days, cost_usd, energy_mwh, mfu, goodput, chip_hours, mode, pool, ...
    tokens_by_day: np.ndarray | None = None  # cumulative tokens trained at the end of each day (all pools)
    schedule: pd.DataFrame | None = None
    events: pd.DataFrame | None = None
    layouts: pd.DataFrame | None = None
    links: pd.DataFrame | None = None
    # a portfolio's fleet: usable chips in service by day and pool (date, pool, units_in_service), power applied
    in_service: pd.DataFrame | None = None


_BANDS: dict[tuple, tuple[Scenario, ErrorBand]] = {}  # the band of each scenario a process simulates (by identity)


def band_weights(scenario: Scenario, ctx: Context | None) -> list | None:
    """(pool, share) of the peak FLOP-hours the expected run trains on each pool: what the band weighs.

    The expected run is the one the pick rests on: the shortlist's first strategy, without failures, on the nominal
    model and the supply without delivery risk. A pool it never trains on weighs nothing: a pool 64 times the size of
    the one that trained, arriving after the horizon, set the band a run drew from (its P90 2.57 days, where the pool
    that trained gives 7.17). None (no context, one pool, or an expected run that trains nowhere): the planned peak
    FLOP/s of every pool (``perf.band.pool_weights``). Computed once per context (``Context.band_weights``).
    """
    if ctx is None or len(scenario.fleet) < 2:
        return None
    if ctx.band_weights is None:
        ctx.band_weights = _expected_weights(scenario, ctx)
    pools = {p.name: p for p in scenario.fleet}
    return [(pools[name], w) for name, w in ctx.band_weights] or None


def _expected_weights(scenario: Scenario, ctx: Context) -> tuple[tuple[str, float], ...]:
    candidates, _why = options(ctx, scenario.strategy.mode)
    if not candidates:
        return ()
    nominal = scenario.model_copy(update={"fleet": [p.model_copy(update={"delivery_risk": None})
                                                    for p in scenario.fleet]})
    steps = draw_supply(nominal, np.random.SeedSequence(0))  # (nothing is drawn)
    seed = np.random.SeedSequence(0)  # (no failure is drawn either)
    (pick, *_rest) = shortlist(scenario, candidates, steps, seed)
    run = simulate(scenario, pick, steps, np.random.default_rng(seed), failures=False, record=False, expected=True)
    return run_weights(scenario, run)


def run_weights(scenario: Scenario, run: Run) -> tuple[tuple[str, float], ...]:
    """(pool name, share) of the peak FLOP-hours ``run`` trains on each pool (``band_weights``); () if none."""
    return tuple((p.name, w) for p, w in peak_shares(scenario, trained_chip_h(run)))


def trained_chip_h(run: Run) -> dict[str, float]:
    """Chip-hours the run trained on each pool of its strategy (pool name -> chip-hours)."""
    return {p.name: costs.step_integral(*held, 0.0, run.end_h) for p in run.scenario.fleet
            if (held := _training(run.strategy, run.job, p.name)) is not None}


def run_band(scenario: Scenario, ctx: Context | None = None) -> ErrorBand:
    """The band a replication draws its model error from.

    Each pool's conditional band (perf/band.py), or, for a pool with ``measured`` rows, their posterior around
    the fitted efficiency (perf/measured.py: the pool's layouts already run at that efficiency, so the draw is
    the posterior's spread about it, not the prior's); weighted by the peak FLOP-hours the expected run trains on
    each (``band_weights``; without a context, by the pools' planned peak FLOP/s), in log (``blend``).
    """
    parts = band_weights(scenario, ctx)
    key = (id(scenario), None if parts is None else tuple((p.name, w) for p, w in parts))
    hit = _BANDS.get(key)
    if hit is not None and hit[0] is scenario:
        return hit[1]
    edges, mids = [], []
    for pool, weight in pool_weights(scenario) if parts is None else parts:
        one = pool_band(scenario, pool)
        edges.append((weight, one.p10, one.p90))
        mids.append((weight, one.median, one.median))
    p10, p90 = blend(edges)
    p50 = blend(mids)[0]  # (the median moves with the edges: the same quantile of every pool's band)
    band = ErrorBand(p10=p10, p90=p90, p50=p50)
    if len(_BANDS) > 64:
        _BANDS.clear()
    _BANDS[key] = (scenario, band)
    return band


def pool_band(scenario: Scenario, pool) -> ErrorBand:
    """One pool's band (perf/band.py), or, with ``measured`` rows, their posterior around the fitted efficiency."""
    key = (id(scenario), pool.name)
    hit = _POOL_BANDS.get(key)
    if hit is not None and hit[0] is scenario:
        return hit[1]
    lo, mid, hi, _basis = pool_quantiles(scenario, pool)
    if pool.measured:
        from ..perf.measured import fit_pool

        fit = fit_pool(scenario, pool)
        if fit is not None:
            p10, p90 = fit.post.band()
            lo, hi = p10 / fit.efficiency, p90 / fit.efficiency
            mid = math.sqrt(lo * hi)  # the posterior is a log-normal
    band = ErrorBand(p10=lo, p90=hi, p50=mid)
    if len(_POOL_BANDS) > 256:
        _POOL_BANDS.clear()
    _POOL_BANDS[key] = (scenario, band)
    return band


_POOL_BANDS: dict[tuple, tuple[Scenario, ErrorBand]] = {}  # each pool's band, per scenario (by identity)


@dataclass(frozen=True)
class ModelDraw:
    """A replication's draw of the cost model's error on several pools, read on the pools each plan trains on.

    ``z`` is the draw (a standard normal); a plan's factor is that quantile of each of its pools' bands, weighed in
    log by the plan's peak BF16 FLOP/s on each pool (``blend``): the band conditional on the chips it trains on.
    One factor for the whole run, weighed by the expected run's pools, moved a replication that trained only on
    owned A100s to the H100 band of a 6-chip rental it never used (P90 122 to 154 days), and broke common random
    numbers between a sweep's points. ``whole``: the factor at ``z`` on the run's band (``run_band``), for a run
    that trained nowhere.
    """

    z: float
    bands: dict  # pool name -> ErrorBand (``pool_band``)
    peak_tflops: dict  # pool name -> its chip's peak BF16 TFLOP/s
    whole: float

    def on(self, units: dict) -> float:
        """The factor of a plan (or run) with ``units`` chips (or chip-hours) on each pool."""
        used = {n: u * self.peak_tflops[n] for n, u in units.items() if u > 0}
        if not used:
            return self.whole
        if len(used) == 1:  # one pool: its band's factor, to the last bit (as a scenario of that pool alone draws)
            return self.bands[next(iter(used))].at(self.z)
        total = sum(used.values())
        return math.exp(sum(w * math.log(max(self.bands[n].at(self.z), 1e-12)) for n, w in used.items()) / total)

    def of_run(self, run: Run) -> float:
        """The factor the run trained at: its plans' pools weighed by the chip-hours it trained on each."""
        return self.on(trained_chip_h(run))


def band_statement(scenario: Scenario, replications: int, ctx: Context | None = None) -> dict:
    """What the run's model-error band is and rests on: summary.json ``model_band``.

    ``p10``/``p90``: the throughput ratios of ``run_band``; ``basis``: the sentence of perf.band (and the pools'
    measurements); ``pool``: the pool it weighs most (without a context, the largest pool); ``measurements``: the
    measured rows of the pools the band weighs; ``drawn``: whether replications draw from it.
    """
    from ..perf.band import scenario_band

    band = run_band(scenario, ctx)
    parts = band_weights(scenario, ctx)
    pool = largest_pool(scenario) if parts is None else max(parts, key=lambda pw: pw[1])[0]
    basis = scenario_band(scenario, parts)[2]
    measured = [(p.name, len(p.measured)) for p, _w in (pool_weights(scenario) if parts is None else parts)
                if p.measured]
    if measured:
        rows = " and ".join(f"{n} of your measurements on pool {name}" for name, n in measured)
        basis = f"based on {rows} (Bayesian update of: {basis})"
    setting = scenario.simulation.model_error
    drawn = setting == "on" or (setting == "auto" and replications > 1)
    # ``per_plan``: with several pools a replication's draw is read on the pools each plan trains on (``ModelDraw``),
    # so this band (weighed as the expected run trains) is the run's as expected, not every replication's
    return {"p10": band.p10, "p50": band.median, "p90": band.p90, "pool": pool.name, "basis": basis,
            "measurements": sum(n for _name, n in measured), "drawn": drawn, "per_plan": len(scenario.fleet) > 1}


def model_factor(scenario: Scenario, replications: int, rng: np.random.Generator,
                 ctx: Context | None = None) -> float | ModelDraw:
    """This replication's draw of the cost model's error (1 when off; README "the band").

    Conditional on the workload and the pools it trains on: with one pool, that pool's band's factor; with more, a
    ``ModelDraw`` each plan reads on its own pools (the same draw, the same quantile of each pool's band).
    """
    setting = scenario.simulation.model_error
    if setting == "off" or (setting == "auto" and replications <= 1):
        return 1.0
    band = run_band(scenario, ctx)
    z = float(rng.standard_normal())
    if len(scenario.fleet) < 2:
        return band.at(z)
    return ModelDraw(z, {p.name: pool_band(scenario, p) for p in scenario.fleet},
                     {p.name: scenario.chip(p.chip).bf16_tflops for p in scenario.fleet}, band.at(z))


def factor_of(factor: float | ModelDraw, run: Run) -> float:
    """The model factor a run trained at (a replication's ``model_factor``)."""
    return factor if isinstance(factor, float | int) else factor.of_run(run)


EVENT_INSTANT_H = 1e-9  # events this close (3.6 µs) are at one instant: kept in the order they were logged


def _event_order(e: Event) -> tuple[float, bool]:
    """Events by time; at one instant a job's checkpoints first (the row counts those made before it), then as logged.

    The compiled loop logs its stretch's checkpoints as the stretch ends, before the outside event that ended it;
    the named steps after it (a share of chips and the checkpoints before it came in either order at day 3). And
    the loop logs at its own hour, a rounding step from SimPy's clock: a failure it logged sorted after the re-plan
    the main loop made for it at the clock's hour, 4e-15 h earlier.
    """
    return round(e.time_h / EVENT_INSTANT_H) * EVENT_INSTANT_H, e.kind != EventKind.CHECKPOINT


def simulate(scenario: Scenario, strategy: Strategy, steps: dict[str, list[Step]], rng: np.random.Generator,
             failures: bool = True, factor: float = 1.0, record: bool = True, expected: bool = False,
             track: bool = False, stop_h: float = math.inf) -> Run:
    """The job under ``strategy`` over the drawn supply of every pool.

    ``record=False`` keeps only the metrics and timelines: the per-failure events are not logged.
    ``expected`` (with ``failures=False``): no failure is drawn, every plan trains at its expected goodput
    under the scenario's failures (how strategies are compared for the pick). ``stop_h``: the run ends there
    unfinished if it has not finished before (the pick's later candidates: one that cannot finish first loses).
    """
    if strategy.ctx.levels is None:  # the counts the pools' dated steps bring, planned on as grid counts are
        strategy.ctx.set_levels(dated_levels(strategy.ctx.scenario))
    env = simpy.Environment()
    events: list[Event] = []
    log = event_log(env, events)
    states = {}
    repairs = Repairs(len(scenario.fleet))  # every pool's nodes under repair, one row each
    for row, pool in enumerate(scenario.fleet):
        states[pool.name] = PoolState(env, pool, steps[pool.name], log, record=record, track=track,
                                      repairs=repairs, row=row)
        env.process(states[pool.name].supply())
    job = TrainingJob(env, scenario, states, strategy, rng, log, failures=failures, model_factor=factor,
                      record=record, expected=expected, stop_h=stop_h)
    env.run(until=env.process(job.run()))
    for state in states.values():
        state.finish()
        events.extend(state.repair_events)
    events.sort(key=_event_order)
    end_h = job.stats.finish_h if job.stats.finished else job.horizon_h
    rented = (steps.rented if isinstance(steps, Supply) and steps.rented is not None
              else {p.name: rented_steps(p, steps[p.name]) for p in scenario.fleet})
    fleet_rented = steps.fleet_rented if isinstance(steps, Supply) and steps.fleet_rented is not None else rented
    return Run(strategy, states, job, events, end_h, scenario, rented, fleet_rented)


def _training(strategy: Strategy, job: TrainingJob, name: str):
    return (job.in_training[name].times, job.in_training[name].values) if name in strategy.pools else None


def fleet_costs(scenario: Scenario, strategy: Strategy, states: dict[str, PoolState], job: TrainingJob,
                end_h: float, rented: dict) -> list:
    """Committed, used and idle spend of every pool of the fleet (README "Costs": planner/costs.py).

    ``rented``: per pool, the rented chips the job could hold over time (``Supply.rented``).
    """
    return [costs.pool_cost(scenario, st.pool, delivered_since(st.steps), _training(strategy, job, name), end_h,
                            rented.get(name))
            for name, st in states.items()]


def cost_timeline(scenario: Scenario, run: Run, name: str, used: bool = False) -> Timeline:
    """Committed spend rate of one pool over time [USD/h] (costs.pool_cost hour by hour), for the schedule.

    ``used``: the spend on the chips the job holds instead (a portfolio's job: its ``cost_usd``), owned chips at
    their amortization and energy, rented ones (counted first) at their price.
    """
    st = run.states[name]
    pool = st.pool
    training = _training(run.strategy, run.job, name)
    capex_h = costs.capex_usd_per_chip_hour(scenario, pool) * (1.0 - pool.reserved_fraction)
    price = pool.cloud.price_per_chip_hour_usd if pool.cloud else 0.0
    kw_usd = costs.energy_usd_per_chip_hour(scenario, pool)
    mine = run.rented.get(name)  # the rented chips the job could hold (a slipped start; the jobs before it)
    contract = plan.cloud_window_hours(scenario.start, pool.cloud) if pool.cloud else ()
    # the share of the pool's chips still written off, each from its real arrival (before the start too)
    writing_off = costs.writing_off(delivered_since(st.steps), costs.write_off_hours(scenario))
    times = set(st.delivered.times) | ({0.0, *contract, *(mine[0] if mine else ())} if pool.cloud else set())
    times |= set(writing_off[0])  # (a tranche's write-off ends: it costs nothing more)
    if training is not None:
        times |= set(training[0])
    ts = np.array(sorted(x for x in times if 0 <= x < math.inf))
    share = costs.step_at(writing_off, ts)
    owned = np.asarray(st.delivered.at(ts), dtype=float) * share * capex_h
    rented_now = costs.step_at(mine, ts) if mine is not None else np.zeros_like(ts)
    busy = run.job.in_training[name].at(ts) if training is not None else np.zeros_like(ts)
    rented_used = np.minimum(busy, rented_now)
    # a reservation bills its contracted window, there or not; by the hour, only the hours rented and trained on
    reserved = np.asarray(plan.rented_at(scenario.start, pool.cloud, ts), dtype=float)
    # (the share not held back by reserved_fraction, as costs.reserved_cloud_usd)
    cloud = rented_used * price if costs.on_demand(pool) else reserved * (1.0 - pool.reserved_fraction) * price
    values = owned + cloud + (busy - rented_used) * kw_usd
    if used:
        # the owned chips it holds, at the amortization in the share of the pool's chips still written off
        values = ((busy - rented_used) * (costs.capex_usd_per_chip_hour(scenario, pool) * share + kw_usd)
                  + rented_used * price)
    rate = Timeline()
    for t, v in zip(ts, values, strict=True):
        rate.set(float(t), float(v))
    return rate


def _better(scenario: Scenario, a: Run, b: Run) -> bool:
    """Whether run ``a`` beats ``b`` by the objective (finishing first; then time or cost)."""
    return _order(scenario, a) < _order(scenario, b)


def draw_supply(scenario: Scenario, seed: np.random.SeedSequence,
                cache: dict[str, list[Step]] | None = None) -> dict[str, list[Step]]:
    """Every pool's capacity steps for one replication (read-only lists).

    A pool without ``delivery_risk`` draws nothing: its steps are the same in every replication and are kept
    in ``cache`` (one list per pool, shared by the replications of a context).
    """
    out = {}
    for p, s in zip(scenario.fleet, seed.spawn(len(scenario.fleet)), strict=True):
        if p.delivery_risk is None and cache is not None:
            if p.name not in cache:
                cache[p.name] = supply_steps(scenario, p, np.random.default_rng(s))
            out[p.name] = cache[p.name]
        else:
            out[p.name] = supply_steps(scenario, p, np.random.default_rng(s))
    # the rental's chips from its own steps (site power may merge them into others)
    rented = {p.name: rented_steps(p, out[p.name]) for p in scenario.fleet}
    if not scenario.sites:
        return Supply(out, rented=rented)
    powered, waited = apply_power(scenario, out)  # chips wait for their site's power (planner/sim/power.py)
    return Supply(powered, waited, rented, raw=out)


class Supply(dict):
    """Each pool's capacity steps (pool name -> list of Step), and when its chips waited for site power.

    ``rented``: per pool, the rented chips a job on these steps could count as its own (``supply.rented_steps``:
    those in service; in a portfolio, less what the jobs before it hold); ``fleet_rented``: those in service
    (the same unless a portfolio's job). None: read from the steps. ``raw``: with site power, the steps before it
    was applied (a portfolio applies it again when a job ends, planner/sim/portfolio.py).
    """

    def __init__(self, steps: dict, waits: dict[str, list[Wait]] | None = None, rented: dict | None = None,
                 fleet_rented: dict | None = None, raw: dict | None = None):
        super().__init__(steps)
        self.waits = waits or {}
        self.rented = rented
        self.fleet_rented = fleet_rented
        self.raw = raw

    def waited_chip_days(self, until_h: float = math.inf) -> float:
        """Chip-days the fleet's chips waited for power before ``until_h`` (the run's end)."""
        return sum(waited_chip_days(w, until_h) for w in self.waits.values())


def steps_key(steps: dict[str, list[Step]]) -> tuple:
    """A hashable form of every pool's capacity steps (replications that draw the same supply share it)."""
    return tuple((p, tuple((x.time_h, x.kind, x.delta_units) for x in v)) for p, v in sorted(steps.items()))


def best_run(scenario: Scenario, candidates: list[Strategy], steps, job_seed: np.random.SeedSequence,
             factor: float, failures: bool = True, record: bool = True, track: bool = False,
             rank_steps: dict | None = None) -> Run:
    """Pick among the candidates by the time each finishes, then simulate the pick.

    First, cheap runs that draw no failure rank the candidates (``shortlist``, on ``rank_steps``, else on
    ``steps``). Then the candidates whose expected finish comes within PICK_MARGIN of the first one's (or that
    the first cannot beat because it never finishes) are simulated on ``steps`` with this replication's failures
    and model error, and the one that finishes first is kept: two pools close in expectation are told apart by
    the run itself, never by the expectation alone. ``failures=False`` returns the pick's run without failures.
    """
    short = shortlist(scenario, candidates, rank_steps if rank_steps is not None else steps, job_seed)
    by_time = scenario.strategy.objective != "cost"
    best = None
    for c in short:
        # a later candidate that has not finished by the time the best one did cannot be picked (finishing
        # first decides): its run stops there, with the same events up to it
        stop_h = best.end_h if by_time and best is not None and best.finished else math.inf
        r = simulate(scenario, c, steps, np.random.default_rng(job_seed), failures=failures, factor=factor,
                     record=record, track=track, stop_h=stop_h)
        if best is None or _better(scenario, r, best):
            best = r
    if best is not None and not best.finished and ran_dry(best):
        # the pick ran out of chips before it finished in this replication (a rental that ended before a slower drawn
        # model got there), where it was expected to finish: an operator sees the speed within days and picks again.
        # The others run on the same draws, and the one that does best is kept (one left waiting on an ended rental
        # while an owned pool sat idle read "never")
        for c in candidates:
            if c in short:
                continue
            r = simulate(scenario, c, steps, np.random.default_rng(job_seed), failures=failures, factor=factor,
                         record=record, track=track)
            if _better(scenario, r, best):
                best = r
    return best


def shortlist(scenario: Scenario, candidates: list[Strategy], steps, job_seed: np.random.SeedSequence) -> list:
    """The candidates close enough in expectation that failures may decide between them, the first first.

    Runs that draw no failure rank them: each trains every plan at its expected goodput under the scenario's
    failures (perf.reliability.expected_goodput, as the plans are sized), so a strategy that fails more (a
    failure anywhere stops a multi-pool job) is not preferred for its failure-free speed. They use the nominal
    cost model: the planner picks before it knows the model's error a replication draws. The ranking depends
    only on the steps, so replications on the same steps (every replication of a plan without delivery risk)
    reuse it; a ranking run still unfinished at the margin past the earliest finish so far stops there. A
    candidate whose failure-free run trains on exactly the layouts of one already listed is left out.
    """
    if len(candidates) <= 1:
        return candidates[:1]
    by_time = scenario.strategy.objective != "cost"
    memo = candidates[0].ctx.memo
    key = (tuple(c.label for c in candidates), steps_key(steps))
    if key in memo:
        return memo[key]
    ranked, best_h = [], math.inf
    for c in candidates:
        # a run still unfinished at PICK_MARGIN past the earliest finish so far can be neither the first
        # nor close to it (``_close``): it stops there (the shortlist is the same, the work less)
        stop_h = best_h * (1 + PICK_MARGIN) if by_time else math.inf
        r = simulate(scenario, c, steps, np.random.default_rng(job_seed), failures=False, factor=1.0,
                     record=False, expected=True, stop_h=stop_h)
        ranked.append((r, c))
        if r.finished:
            best_h = min(best_h, r.end_h)
    ranked.sort(key=lambda rc: _order(scenario, rc[0]))
    first = ranked[0][0]
    short, seen = [], set()
    for r, c in ranked:
        if not (r is first or _close(scenario, r, first)):
            continue
        # a candidate whose failure-free run trains on exactly the layouts of one already listed (e.g.
        # a multi-pool mode that came down to one pool) runs as that one does: it is not run again
        sig = _signature(r)
        if sig not in seen:
            seen.add(sig)
            short.append(c)
    if len(memo) >= PICK_MEMO:  # supplies drawn with delivery risk rarely repeat: keep memory flat
        memo.pop(next(iter(memo)))
    memo[key] = short
    return short


def _signature(r: Run) -> tuple:
    """What a failure-free run trained on, in order: when, where, on how many chips, in which layout."""
    return (round(r.end_h, 6), tuple((round(row["start_days"], 6), row["pool"], row["units"],
                                      tuple(sorted((k, str(v)) for k, v in row.items() if k not in (
                                          "start_days", "end_days", "pool", "units", "mode"))))
                                     for row in r.job.layouts))


def _order(scenario: Scenario, r: Run) -> tuple:
    """Sort key of a run by the objective: finished first; then time (or cost); unfinished by tokens trained.

    By cost, runs of the same spend to the cent go by time: reservations commit the same whatever trains on them,
    and 16 rented H100s were picked, 15 times slower, over 256 beside them for coming first in the file.
    """
    done = r.finished
    if scenario.strategy.objective == "cost":
        return (not done, round(r.cost_usd, 2), r.end_h) if done else (True, -r.job.stats.tokens, 0.0)
    return (not done, r.end_h if done else -r.job.stats.tokens)


def _close(scenario: Scenario, r: Run, first: Run) -> bool:
    """Whether a candidate's expected run is close enough to the first's that failures may reverse them."""
    if not first.finished or not r.finished:
        return not first.finished  # the first never finishes: a run with failures may still tell them apart
    a, b = _order(scenario, first)[1], _order(scenario, r)[1]
    if scenario.strategy.objective != "cost":
        # the margin is on the time the failures act on: from the first training day, not from day 0 (a job
        # that waits 80 days and trains for one would find every candidate within 5%)
        t0 = min(_first_start_days(first), _first_start_days(r)) * HOURS_PER_DAY
        if math.isfinite(t0):
            a, b = a - t0, b - t0
    return b <= a * (1 + PICK_MARGIN)


def run_replication(scenario: Scenario, ctx: Context, seed: np.random.SeedSequence, tables: bool = False,
                    replications: int = 1, curve: bool = False) -> ReplicationOutput:
    """Simulate one replication.

    ``tables`` also builds the daily schedule, events, layouts and link traffic; ``curve`` (or ``tables``)
    gives the tokens trained by day.
    """
    supply_seed, job_seed, model_seed = seed.spawn(3)
    steps = draw_supply(scenario, supply_seed, ctx.supply)
    factor = model_factor(scenario, replications, np.random.default_rng(model_seed), ctx)
    candidates, _why = options(ctx, scenario.strategy.mode)
    run = best_run(scenario, candidates, steps, job_seed, factor, record=tables)
    out = ReplicationOutput(outcome_row(run, factor))
    if scenario.sites:
        out.metrics["power_wait_chip_days"] = steps.waited_chip_days(run.end_h)  # to the job's end
        if tables:  # (replication 0's limits are the run's)
            out.metrics["limits"] = out.metrics["limits"] + power_limit(run, steps.waits)
    if tables or curve:
        out.tokens_by_day = tokens_by_day(run)
    if tables:
        out.schedule, out.events, out.layouts, out.links = _tables(scenario, run)
    return out


def outcome_row(run: Run, factor: float | ModelDraw = 1.0) -> dict:
    """The metrics of one run."""
    st = run.job.stats
    return {
        "finished": bool(st.finished),
        "time_to_train_days": st.finish_h / HOURS_PER_DAY if st.finished else math.nan,
        "cost_usd": run.cost_usd,  # committed spend of the whole fleet (planner/costs.py)
        "used_usd": sum(c.used_usd for c in run.pool_costs),
        "pool_costs": [c.as_dict() for c in run.pool_costs],
        "energy_mwh": st.energy_kwh / 1000.0,
        # a run that never held a chip earned no MFU or goodput (0/0): NaN, which the quantiles leave out, not 0
        "mfu": st.flops_chip_h / st.kept_chip_h if st.kept_chip_h else (0.0 if st.held_chip_h else math.nan),
        "goodput": st.kept_chip_h / st.held_chip_h if st.held_chip_h else math.nan,
        "chip_hours": st.held_chip_h,
        "mode": run.strategy.mode,
        "pool": " + ".join(used_pools(run)),  # the pools the job trained on, not all the strategy could use
        "note": mode_note(run),
        "limits": [sentence for _gap, sentence in run.job.limits.values()] + never_trained(run) + idle_pools(run)
        + (ran_dry(run) or cut_short(run)) + under_repair(run),
        "failures": st.failures,
        "replans": st.replans,
        "checkpoints": st.checkpoints,
        "moves": st.moves,
        "link_tb": st.link_bytes / TB,
        "model_factor": factor_of(factor, run),
        "start_days": _first_start_days(run),
    }


def never_trained(run: Run) -> list[str]:
    """Why a run that held no chip never trained: no chip of its pools in service, or none a layout fits (else [])."""
    st = run.job.stats
    if st.held_chip_h or st.finished:
        return []
    pools = [ps for name, ps in run.states.items() if name in run.strategy.pools]
    horizon_h = run.scenario.horizon_days * HOURS_PER_DAY
    # chips that came at the horizon itself (a portfolio's job handed a share as the run ends) were never there
    most = int(max((ps.in_service.most_before(horizon_h) for ps in pools), default=0))
    names = " + ".join(ps.pool.name for ps in pools)
    # planned chips, but none left for training once the reserved share is held back (1, or 0.99 of 64)
    held = [ps.pool.name for ps in pools if ps.pool.planned_units
            and plan.usable(ps.pool.planned_units, ps.pool.reserved_fraction) == 0]
    if most <= 0 and held:  # in service, but every chip held back for other work
        return [f"never trained: every chip of {' + '.join(held)} is held back for other work (reserved_fraction)"
                + (", and no chip of the others was in service before the horizon" if len(held) < len(pools) else "")]
    if most <= 0:
        return [f"never trained: no chip of {names} was in service before the horizon (deliveries after it, or no "
                "site power for them)"]
    need = run.job.min_units
    ts = np.array(sorted({t for ps in pools for t in ps.in_service.times if t < horizon_h}), dtype=float)
    together = int(max(sum(ps.in_service.at(ts) for ps in pools))) if len(ts) else 0  # at once, all its pools
    if need and together < need:
        return [f"never trained: {names} had at most {together:,} chips in service at once, fewer than "
                f"strategy.min_units_to_start ({need:,})"]
    return [f"never trained: {names} had at most {most:,} chips in service, and no layout of the job fits them"]


def idle_pools(run: Run) -> list[str]:
    """The job's pools outside its strategy that had chips in service before it ended, and why none trained there.

    A strategy on fewer pools than the job may use (``single``, picked by ``auto`` or pinned) left 512 idle H100s
    unnamed while a pool beside them trained alone for 19 days, and a pool too small for any layout (memory) was
    named only by ``estimate``; ``sync`` and ``sequential`` said which pool never trained. [] when the job never
    trained (``never_trained`` says why) or every pool is the strategy's.
    """
    if not run.job.stats.held_chip_h:
        return []
    ctx, out = run.strategy.ctx, []
    for name, ps in run.states.items():
        if name in run.strategy.pools:
            continue
        most = int(ps.in_service.most_before(run.end_h))
        if most <= 0:
            continue
        if not ctx.feasible(name):
            why = "no layout of the job fits its chips (`planner estimate` says why)"
        elif run.scenario.strategy.mode == Mode.AUTO:
            why = (f"auto picked {run.strategy.label}, first by the objective ({run.scenario.strategy.objective}) "
                   "without it (`planner compare` has every mode)")
        else:
            why = f"the scenario pins strategy.mode {run.scenario.strategy.mode}"
        out.append(f"strategy: {name} never trained (up to {most:,} chips in service): {why}")
    return out


def ran_dry(run: Run) -> list[str]:
    """Why a job that trained did not finish, when its pools had no chip for it from some day to the horizon.

    E.g. a rental that ended with part of the tokens trained: the layout a limit sentence names is then not what
    stopped it. [] when it finished, never trained (``never_trained``), or had chips until the horizon.
    """
    st = run.job.stats
    if st.finished or not st.held_chip_h:
        return []
    horizon_h = run.scenario.horizon_days * HOURS_PER_DAY
    last_h = 0.0  # the hour from which no pool of the strategy had a chip in service, to the horizon
    for ps in (s for name, s in run.states.items() if name in run.strategy.pools):
        tl = ps.in_service
        for k in range(len(tl.values) - 1, -1, -1):
            if tl.times[k] < horizon_h and tl.values[k] > 0:
                last_h = max(last_h, tl.times[k + 1] if k + 1 < len(tl.times) else math.inf)
                break
    if not last_h < horizon_h:
        return []
    day = run.scenario.start + dt.timedelta(days=math.floor(last_h / HOURS_PER_DAY))
    names = " + ".join(run.strategy.pools)
    # rounded down (an unfinished job never reads 100%)
    share = min(math.floor(100 * run.job.saved / run.job.target), 99) if run.job.target else 0
    return [f"capacity: no chip of {names} was there for the job from {day} to the horizon; it had trained "
            f"{share}% of its tokens by then"]


def cut_short(run: Run) -> list[str]:
    """What stopped a job that trained, had chips to the end and did not finish: the horizon, or the event budget.

    [] when it finished or never trained (``never_trained``); a job whose chips went first: ``ran_dry``. A job
    stopped by the horizon said nothing at all.
    """
    st = run.job.stats
    if st.finished or not st.held_chip_h:
        return []
    share = min(math.floor(100 * run.job.saved / run.job.target), 99) if run.job.target else 0  # (never 100%)
    if run.job.events_left <= 0:
        return [f"interruptions: the job stopped after {EVENT_BUDGET:,} of them (the event budget) with {share}% of "
                "its tokens trained: failures or stops came too often for it to finish"]
    return [f"horizon: the run ended at horizon_days ({run.scenario.horizon_days:g}) with {share}% of the job's "
            "tokens trained"]


REPAIR_LIMIT_SHARE = rel.REPAIR_LIMIT_SHARE


def under_repair(run: Run) -> list[str]:
    """How many of its pools' chips were under repair while the job trained there, when that held it well below them.

    The plans shrink to the chips left when nodes fail often against the repair time: no layout or sizing limit says
    so. Time averages over the hours the job held chips on each pool (``sequential``: the pool it was on); [] under
    REPAIR_LIMIT_SHARE, or when the failed chips were not kept over time (a replication without tables: replication
    0 states the limits).
    """
    st = run.job.stats
    pools = [ps for name, ps in run.states.items() if name in run.strategy.pools and name in run.job.in_training]
    t0, t1 = _first_start_days(run) * HOURS_PER_DAY, run.end_h
    if not st.failures or not st.held_chip_h or not pools or not all(ps.track for ps in pools) \
            or not (math.isfinite(t0) and t1 > t0):
        return []
    trains = [run.job.in_training[ps.pool.name] for ps in pools]
    ts = np.array(sorted({t for ps, tr in zip(pools, trains, strict=True) for tl in (ps.failed_tl, ps.in_service, tr)
                          for t in tl.times if t0 < t < t1} | {t0}), dtype=float)
    width = np.diff(np.append(ts, t1))
    units = [tr.at(ts) for tr in trains]
    f = [ps.failed_tl.at(ts) * (u > 0) for ps, u in zip(pools, units, strict=True)]  # where the job held chips
    failed = float(np.sum(sum(f) * width))
    service = float(np.sum(sum(ps.in_service.at(ts) * (u > 0) for ps, u in zip(pools, units, strict=True)) * width))
    held = float(np.sum(sum(units) * width))
    hours = float(np.sum(width * (sum(units) > 0)))  # the hours it held chips on any of them
    most = int(sum(f).max())
    if service <= 0 or hours <= 0 or failed < REPAIR_LIMIT_SHARE * service:
        return []
    per_h = 1.0 / hours
    return [f"failures: {failed * per_h:,.0f} of the {service * per_h:,.0f} chips in service ({failed / service:.0%}) "
            f"were under repair on average while the job trained (up to {most:,}): at this failure rate and repair "
            f"time the job held {held / (t1 - t0):,.0f} on average"]


def used_pools(run: Run) -> tuple[str, ...]:
    """The strategy's pools the job trained on: those that kept tokens (else held a layout for some time).

    A pool whose layout lasted only through a restart, or whose work a failure always lost, trained nothing;
    none when the job never held a chip (its limits say why), all of the strategy's pools when it held some and
    none of them kept a token or held a layout for a while.
    """
    kept = {p for p, tokens in run.job.pool_tokens.items() if tokens > 0}
    trained = kept or {row["pool"] for row in run.job.layouts if row["units"] > 0
                       and (row["end_days"] is None or row["end_days"] > row["start_days"])}
    used = tuple(p for p in run.strategy.pools if p in trained)
    return used or (run.strategy.pools if run.job.stats.held_chip_h else ())


def mode_note(run: Run) -> str:
    """What a reader of the strategy row should know: moves, and a mode that came down to fewer pools."""
    notes = []
    if run.strategy.mode == Mode.SEQUENTIAL or run.job.stats.moves:  # (sync and diloco move when a site alone wins)
        notes.append(f"{run.job.stats.moves} move{'' if run.job.stats.moves == 1 else 's'}")
    used = used_pools(run)
    idle = [p for p in run.strategy.pools if p not in used]
    if used and idle and len(run.strategy.pools) > 1:  # (a job that never trained: its limits say why)
        notes.append(f"{run.strategy.mode} came down to {' + '.join(used)} alone: {', '.join(idle)} never trained")
    return "; ".join(notes)


POWER_LIMIT_GAIN = 0.01  # a plan on the chips that waited for power keeping this much more or more: a limit, said


def power_limit(run: Run, waits: dict[str, list[Wait]], from_h: float = 0.0) -> list[str]:
    """Chips of the job's pools that waited for site power while it trained, when a layout on them too was faster.

    Read where the most of them waited at once; [] when none waited then, or a layout on them would not be faster
    (the job's layout takes no more). Site power was named only in ``power_wait_chip_days``: a job trained on 192 of
    512 delivered chips for four days and its limits said nothing. Also (``_power_before``) chips that waited for
    power before the job first trained, from ``from_h`` (the hour it may first take chips), when they would have
    let it start.
    """
    pools = [n for n in run.strategy.pools if waits.get(n)]
    t0, t1 = _first_start_days(run) * HOURS_PER_DAY, run.end_h
    if not pools or not (math.isfinite(t0) and t1 > t0):
        return []
    return _power_before(run, waits, pools, max(from_h, 0.0), t0) + _power_while(run, waits, pools, t0, t1)


def can_start(run: Run, avail: dict[str, int]) -> bool:
    """Whether the chips ``avail`` could start the run's job: ``min_units_to_start`` of them, and a layout fits.

    What the wait sentences ask: fewer chips never start the job, powered or handed on or not.
    """
    return (sum(avail.values()) >= (run.scenario.strategy.min_units_to_start or 0)
            and run.strategy.plan(avail) is not None)


def _power_before(run: Run, waits: dict[str, list[Wait]], pools: list[str], lo: float, t0: float) -> list[str]:
    """The sentence for chips that waited for power before the job's first start, when they let a layout fit.

    A job that waited ten days for its site's power said nothing of it but ``power_wait_chip_days``.
    """
    spans = [(n, w, max(w.from_h, lo), min(w.to_h, t0)) for n in pools for w in waits[n]]
    spans = [x for x in spans if x[3] > x[2]]
    if not spans:
        return []
    starts_h = sorted({x[2] for x in spans})
    have = {t: {n: int(ps.in_service.at(np.array([t]))[0]) for n, ps in run.states.items()
                if n in run.strategy.pools} for t in starts_h}
    waiting = {t: {n: sum(w.units for m, w, a, b in spans if m == n and a <= t < b) for n in pools}
               for t in starts_h}
    fits = [t for t in starts_h if not can_start(run, have[t])
            and can_start(run, {n: have[t][n] + waiting[t].get(n, 0) for n in have[t]})]
    if not fits:
        return []
    first = fits[0]
    held = [(n, w, a, b) for n, w, a, b in spans if b > first]
    chip_days = sum(w.units * (b - max(a, first)) for _n, w, a, b in held) / HOURS_PER_DAY
    most = max(sum(waiting[t].values()) for t in fits)
    names = " + ".join(n for n in pools if any(waiting[t].get(n) for t in fits))
    start = run.scenario.start
    return [f"power: the job first trained on {_date(start, t0 / HOURS_PER_DAY)}; from "
            f"{_date(start, math.floor(first / HOURS_PER_DAY))}, up to {most:,} delivered chips of {names} waited for "
            f"site power that would have let it start ({chip_days:,.0f} chip-days before its start)"]


def _power_while(run: Run, waits: dict[str, list[Wait]], pools: list[str], t0: float, t1: float) -> list[str]:
    """``power_limit``'s sentence for chips that waited while the job trained."""
    # the hours it held chips (a job with none while the power was out did not train "while" they waited)
    trains = [run.job.in_training[n] for n in run.strategy.pools if n in run.job.in_training]
    ts = sorted({t for tl in trains for t in tl.times if t0 <= t < t1} | {t0})
    held = [sum(float(tl.at(np.array([t]))[0]) for tl in trains) > 0 for t in ts]
    training = [(a, b) for a, b, on in zip(ts, [*ts[1:], t1], held, strict=True) if on and b > a]
    spans = [(n, w, max(w.from_h, a), min(w.to_h, b)) for n in pools for w in waits[n] for a, b in training]
    spans = [x for x in spans if x[3] > x[2]]
    if not spans:
        return []

    def waiting_at(t: float) -> dict[str, int]:
        return {n: sum(w.units for m, w, lo, hi in spans if m == n and lo <= t < hi) for n in pools}

    peak_h = max((lo for _n, _w, lo, _hi in spans), key=lambda t: sum(waiting_at(t).values()))
    waiting = waiting_at(peak_h)
    have = {n: int(ps.in_service.at(np.array([peak_h]))[0]) for n, ps in run.states.items()
            if n in run.strategy.pools}
    now, more = run.strategy.plan(have), run.strategy.plan({n: have[n] + waiting.get(n, 0) for n in have})
    # kept tokens/s (speed x expected goodput, what the plans are sized by): a faster layout on more chips that
    # fail more often keeps less, and read "4% faster" where powering the chips finished the job later (review)
    kept = run.strategy.ctx.score
    if more is None or (now is not None and kept(more) <= kept(now) * (1 + POWER_LIMIT_GAIN)):
        return []
    failures = run.scenario.reliability.enabled
    gain = ("one that fits" if now is None else f"{kept(more) / kept(now) - 1:.0%} "
            + ("more kept tokens/s (failures counted)" if failures else "faster"))
    chip_days = sum(w.units * (hi - lo) for _n, w, lo, hi in spans) / HOURS_PER_DAY
    first = min(lo for _n, _w, lo, _hi in spans) / HOURS_PER_DAY
    last = max(hi for _n, _w, _lo, hi in spans) / HOURS_PER_DAY
    names = " + ".join(n for n in pools if waiting.get(n))
    start = run.scenario.start
    return [f"power: up to {sum(waiting.values()):,} delivered chips of {names} waited for site power while the job "
            f"trained ({_date(start, math.floor(first))} to {_date(start, math.floor(last - 1e-9))}, {chip_days:,.0f} "
            f"chip-days); a layout on them too {'would keep' if failures and now is not None else 'was'} {gain}"]


def _first_start_days(run: Run) -> float:
    rows = run.job.layouts
    return rows[0]["start_days"] if rows else math.nan


def compare(scenario: Scenario, ctx: Context, seed: int, failures: bool = True) -> list[dict]:
    """Every mode side by side (one replication, the same draws): its best strategy, or why it cannot run.

    ``failures=False`` runs without failures (what the report's table shows next to a Monte Carlo run). A
    portfolio's jobs: planner/sim/portfolio.portfolio_compare (each on what the jobs before it leave).
    """
    root = np.random.SeedSequence(seed).spawn(1)[0]
    supply_seed, job_seed, model_seed = root.spawn(3)
    # with failures, replication 0's own draw of the model's error (as `planner run --replications 1`: 1 unless
    # simulation.model_error is on); without, the nominal model the strategy choice rests on
    factor = model_factor(scenario, 1, np.random.default_rng(model_seed), ctx) if failures else 1.0
    return compare_on(scenario, ctx, draw_supply(scenario, supply_seed, ctx.supply), job_seed, factor, failures)


def compare_on(scenario: Scenario, ctx: Context, steps, job_seed: np.random.SeedSequence, factor: float,
               failures: bool = True, rank_steps: dict | None = None,
               more_limits: Callable[[Run], list[str]] | None = None) -> list[dict]:
    """``compare``'s rows on given capacity steps, failure stream and model factor.

    A portfolio's job: the steps the jobs before it leave, its candidates ranked on ``rank_steps`` as `planner run`
    ranks them, and ``more_limits(run)`` the sentences `run` adds to the job's limits (a link the jobs before it
    share: ``portfolio.shared_links``).
    """
    pinned = Mode(scenario.strategy.mode)
    auto_candidates, _ = options(ctx, "auto")
    auto = (best_run(scenario, auto_candidates, steps, job_seed, factor, failures, rank_steps=rank_steps)
            if auto_candidates else None)
    rows = []
    for mode in MODES:
        cands, why = options(ctx, mode)
        if not cands:
            rows.append({"mode": mode, "possible": False, "why": why.get(mode, ""), "auto": False, "run": False})
            continue
        run = best_run(scenario, cands, steps, job_seed, factor, failures, rank_steps=rank_steps)
        full = run.strategy.full_plan()
        row = {"mode": mode, "possible": True, "why": "", **outcome_row(run, factor)}
        if more_limits is not None:
            row["limits"] = row["limits"] + more_limits(run)
        # a mode that does not finish within the horizon: "never", as summary.json, sweep.csv and solve write it
        row["finish_date"] = (scenario.start + dt.timedelta(days=row["time_to_train_days"])).isoformat() \
            if row["finished"] else NEVER
        # a run stopped by the horizon spent to it only: its spend, energy and chip-hours are at least these; owned
        # chips with no price leave their write-off out of the spend, which is then at least its figure too
        row["at_least"] = [k for k in GROWING_KEYS if (not row["finished"] and (
            k != "cost_usd" or costs.committed_grows(scenario))) or (k == "cost_usd" and costs.unpriced(scenario))]
        # the speed the run kept (its tokens over its hours from the first start): the full plan's steady state
        # (``full_tokens_per_s``) read 2.7 M tokens/s for a run that finished before half its chips came
        trained_h = run.end_h - row["start_days"] * HOURS_PER_DAY if math.isfinite(row["start_days"]) else 0.0
        row["tokens_per_s"] = run.job.saved / (trained_h * SECONDS_PER_HOUR) if trained_h > 0 else 0.0
        row["full_tokens_per_s"] = full.tokens_per_s if full else 0.0
        days = max(run.end_h / HOURS_PER_DAY, 1e-9)
        row["link_tb_per_day"] = row["link_tb"] / days
        row["auto"] = bool(auto is not None and auto.strategy.label == run.strategy.label)
        # the mode `planner run` trains: the scenario's (a job's) own when it names one, else auto's pick
        row["run"] = row["auto"] if pinned == Mode.AUTO else mode == pinned
        rows.append(row)
    return rows


def _date(start: dt.date, days: float) -> str:
    return (start + dt.timedelta(days=days)).isoformat()


def _day_ends(end_h: float, horizon_h: float = math.inf) -> tuple[np.ndarray, np.ndarray]:
    """Day numbers 0 to the run's last day and the hour each day's state is read (its end, or the run's).

    The last day is the one the run ends in (a run that ends on a day's first hour ends in that day): no row for a
    day after the end. A run stopped by the horizon (``horizon_h``, at a midnight) ends on the horizon's last day,
    read at the horizon: the day after it is not the plan's (a 10-day horizon has days 0 to 9).
    """
    last = int(math.floor(end_h / HOURS_PER_DAY))
    if last > 0 and last * HOURS_PER_DAY >= horizon_h:
        last -= 1
    days = np.arange(0, last + 1)
    t = np.minimum(days * HOURS_PER_DAY + HOURS_PER_DAY - DAY_END_H, end_h)
    t[-1] = end_h
    return days, t


def chips_read_at(t: np.ndarray, end_h: float) -> np.ndarray:
    """The hours each day's chips are read (``_day_ends``' ``t``): the last day's just before the run's end.

    As a day's are read just before midnight: at the end itself the job has let its chips go (a job that trains for
    half a day showed 0 chips in training), and a rental that ends at the horizon is gone (the fleet showed 0 chips
    on its last day of service).
    """
    ts = t.copy()
    if len(ts) and ts[-1] == end_h:
        ts[-1] = max(end_h - DAY_END_H, 0.0)
    return ts


def tokens_by_day(run: Run) -> np.ndarray:
    """Cumulative tokens trained (safe in a checkpoint) at the end of each day, over the pools the job used.

    The same numbers as the schedule's ``tokens_trained`` summed by day, without building the tables.
    """
    _days, t = _day_ends(run.end_h, run.scenario.horizon_days * HOURS_PER_DAY)
    return run.job.tokens_tl.at(t)  # what is safe in a checkpoint, all pools (their shares add up to it)


def _tables(scenario: Scenario, run: Run, job_spend: bool = False, handed_on: dict[str, Timeline] | None = None,
            from_h: float = -math.inf):
    """The run's schedule, events, layouts and links tables (``job_spend``: cost_usd is the job's, cost_timeline).

    A portfolio's job (planner/sim/portfolio.py): ``handed_on``, per pool, the chips it left to the jobs after it,
    and ``from_h``, the hour it may first take chips: its rows' chips in service are those it held (none before
    ``from_h``), so the jobs' rows add up to no more than the pool's.
    """
    import pandas as pd  # here, not at import: the workers of a run never need it
    end_h = run.end_h
    horizon_h = scenario.horizon_days * HOURS_PER_DAY
    days, t = _day_ends(end_h, horizon_h)  # state at the end of each day
    ts = chips_read_at(t, end_h)
    dates = [_date(scenario.start, int(d)) for d in days]
    # spend so far is an integral (no jump at an instant): each day's is read at its midnight, to the cent
    t_spend = np.minimum((days + 1) * HOURS_PER_DAY, end_h)
    job = run.job
    used = set(run.strategy.pools)
    frames = []
    for name, state in run.states.items():
        rented = run.fleet_rented.get(name)  # the rented chips in service (a slipped start), from its window
        cloud = next((p.cloud for p in scenario.fleet if p.name == name), None)
        started = rented is not None and (tuple(rented[1]) != (0,) or any(
            e.kind == EventKind.CLOUD_START and e.pool == name for e in run.events))  # (else it never came)
        # rented, as owned chips are delivered: the reserved share held back counts too (a share that rounds to no
        # usable chip still rents them)
        rented = (costs.step_at((rented[0], [cloud.units] + [0] * (len(rented[0]) - 1)), ts)
                  if started and cloud is not None else np.zeros_like(ts))
        mine = name in used
        in_service = state.in_service.at(ts)
        if handed_on is not None:
            if name in handed_on:
                in_service = in_service - handed_on[name].at(ts)
            in_service = np.where(ts < from_h, 0.0, np.maximum(in_service, 0.0))
        frames.append(pd.DataFrame({
            "date": dates,
            "day": days,
            "pool": name,
            "units_delivered": state.delivered.at(ts).astype(int) + rented.astype(int),
            "units_in_service": in_service.astype(int),
            "units_in_training": job.in_training[name].at(ts).astype(int) if mine else 0,
            "units_failed": state.failed_tl.at(ts).astype(int),
            "tokens_trained": job.pool_tokens_tl[name].at(t) if mine else 0.0,
            # committed spend so far: a pool the job skipped still costs its owner
            "cost_usd": cost_timeline(scenario, run, name, used=job_spend).integral(t_spend),
        }))
    events = [e for e in run.events if e.time_h <= end_h + 1e-9]
    events.sort(key=_event_order)
    # an event at the horizon (its stop) is on the horizon's last day, as the schedule's last row (``_day_ends``)
    last_h = horizon_h - DAY_END_H
    ev = pd.DataFrame({
        "time_days": [e.time_h / HOURS_PER_DAY for e in events],
        "date": [_date(scenario.start, min(e.time_h, last_h) / HOURS_PER_DAY) for e in events],
        "pool": [e.pool for e in events],
        "event": [e.kind for e in events],
        "units": [e.units for e in events],
        "detail": [e.detail for e in events],
    })
    link_rows = []
    for a, b in sorted(set(job.link_tl) | {key for _h, key, _b in job.link_moves}):
        tl = job.link_tl.get((a, b))
        per_day = (np.diff(np.concatenate([[0.0], tl.integral(t)])) * SECONDS_PER_HOUR  # bytes/s x h -> bytes
                   if tl is not None else np.zeros(len(t)))
        # the link carried what the training sent (kept or lost: TrainingJob._send), not what every held hour at
        # its rate would have (restarts, stops and checkpoint writes send nothing): that, spread over the days by
        # the hours a plan using the link held its chips
        held = float(per_day.sum())
        if held > 0:
            per_day *= job.link_sent.get((a, b), 0.0) / held
        for at_h, key, nbytes in job.link_moves:  # a move's checkpoint crosses on its day
            if key == (a, b) and at_h <= end_h:
                per_day[min(int(np.searchsorted(t, at_h, side="left")), len(t) - 1)] += nbytes
        for d, v in zip(dates, per_day, strict=True):
            link_rows.append({"date": d, "link": f"{a} - {b}", "tb": v / TB})
    links = pd.DataFrame(link_rows, columns=["date", "link", "tb"])
    return pd.concat(frames, ignore_index=True), ev, pd.DataFrame(job.layouts), links
