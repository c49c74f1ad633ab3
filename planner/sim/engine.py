"""The time simulation of one replication: supply, failures and repairs, and the elastic training job (SimPy).

The SimPy clock is in hours since the scenario start. The physics (layouts, step times) comes from
planner.perf through a LayoutPlanner, called once per re-plan, never per event.

Rules for interrupted work (stated, as Ciw states its preemption rules):
- failure: the job loses the work since its last checkpoint, the failed node goes to repair, and the
  job restarts (restart time grows with its size), on spare chips if there are any, else on a smaller layout;
- planned stop (maintenance, capacity about to leave, a re-plan to grow): the job checkpoints first and
  loses nothing, then pays the restart or re-plan overhead;
- checkpoints are not simulated one by one: between interruptions the job alternates tau hours of
  training with delta hours of blocking checkpoint writes, so its progress and the work lost at a
  failure follow in closed form.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

import numpy as np
import simpy

from .. import costs
from ..fmt import fmt_duration
from ..kinds import EventKind
from ..perf import reliability as rel
from ..results import Event
from ..scenario import Pool, Scenario
from ..strategy import Plan, Strategy
from ..strategy.base import pair
from ..units import HOURS_PER_DAY, SECONDS_PER_HOUR
from . import kernel, rules
from .kernel import Repairs
from .supply import Step

# interruptions (failures, maintenance stops, re-plans) one replication may simulate: a backstop behind
# planner/budget.py, which refuses settings estimated at more than a million events before a run starts
EVENT_BUDGET = 2_000_000
WAIT_RISES = 8  # the next hours at which known chips come that a first start weighs waiting for
WAIT_SPEEDUP = 2.0  # a bound on how much faster per chip a larger plan trains than a smaller (superlinear at most 2x)
# the compiled loop's state slots this module reads and writes most (planner/sim/kernel.py)
_F_T, _F_POS, _F_SAVED, _F_CARRY, _F_NEXT_MAINT = kernel.F_T, kernel.F_POS, kernel.F_SAVED, kernel.F_CARRY, \
    kernel.F_NEXT_MAINT
_F_RATE, _F_LIMIT, _F_NEXT_RECORD = kernel.F_RATE, kernel.F_LIMIT, kernel.F_NEXT_RECORD
_F_OUT = [kernel.F_T, kernel.F_POS, kernel.F_SAVED, kernel.F_FAIL_IN, kernel.F_NEXT_MAINT, kernel.F_HELD,
          kernel.F_KEPT, kernel.F_UNSAVED, kernel.F_LOST]
_I_EXP, _I_UNI, _I_EVENTS, _I_TOKENS = kernel.I_EXP, kernel.I_UNI, kernel.I_EVENTS, kernel.I_TOKENS
_I_OUT = [kernel.I_CHECKPOINTS, kernel.I_FAILURES, kernel.I_MAINTENANCE, kernel.I_EVENTS_LEFT, kernel.I_PENDING_RESTART]
# a move (sequential) is taken only when it saves twice what it costs (checkpoint transfer, downtime, restart):
# the finish it saves is an expectation, the cost is certain, and moving back and forth on small gains thrashes
MOVE_MARGIN = 2.0


class Draws:
    """Exponential and uniform draws from a seeded Generator, taken in blocks (one numpy call per block).

    Two streams spawned from the Generator: exponentials (the gaps between failures and the repair times,
    in the order the job asks for them) and uniforms (which part a failure hits). Each stream's numbers
    depend only on the seed, never on when a block is taken, so the compiled loop (planner/sim/kernel.py),
    which takes a block before it needs one, and the loop's named steps, which take one when they run out,
    see the same numbers.
    """

    BLOCK = 4096
    FIRST_BLOCK = 128  # most job runs draw a few dozen numbers: blocks start small and double up to BLOCK

    def __init__(self, rng: np.random.Generator):
        # the uniforms come from the same generator jumped 2^127 draws ahead: a stream of its own that never
        # overlaps the exponentials, made without touching any shared seed (Generator.spawn would count its
        # children on the SeedSequence, which the candidates of one replication share)
        self._exp_rng, self._uni_rng = rng, np.random.Generator(rng.bit_generator.jumped())
        self.exp = np.empty(0)  # the exponential block and the index of its next number
        self.exp_i = 0
        self.uni = np.empty(0)
        self.uni_i = 0
        self._exp_block = self._uni_block = self.FIRST_BLOCK

    def top_up(self, exponentials: int, uniforms: int) -> None:
        """At least that many numbers left in each block (what is left comes first).

        A Generator's numbers follow one another whatever the sizes of the calls that take them, so the block
        sizes change no number.
        """
        if len(self.exp) - self.exp_i < exponentials:
            n, self._exp_block = max(self._exp_block, exponentials), min(2 * self._exp_block, self.BLOCK)
            self.exp = np.concatenate([self.exp[self.exp_i:], self._exp_rng.standard_exponential(n)])
            self.exp_i = 0
        if len(self.uni) - self.uni_i < uniforms:
            n, self._uni_block = max(self._uni_block, uniforms), min(2 * self._uni_block, self.BLOCK)
            self.uni = np.concatenate([self.uni[self.uni_i:], self._uni_rng.random(n)])
            self.uni_i = 0

    def exponential(self, mean: float) -> float:
        """An exponential draw with the given mean."""
        if self.exp_i >= len(self.exp):
            self.top_up(1, 0)
        v = float(self.exp[self.exp_i])
        self.exp_i += 1
        return v * mean

    def random(self) -> float:
        """A uniform draw in [0, 1)."""
        if self.uni_i >= len(self.uni):
            self.top_up(0, 1)
        v = float(self.uni[self.uni_i])
        self.uni_i += 1
        return v


@dataclass
class Timeline:
    """A piecewise-constant quantity recorded at change points (hours)."""

    times: list[float] = field(default_factory=lambda: [0.0])
    values: list[float] = field(default_factory=lambda: [0.0])

    def most_before(self, until_h: float) -> float:
        """The largest value set at an hour before ``until_h`` (0 when none)."""
        return max((v for t, v in zip(self.times, self.values, strict=True) if t < until_h), default=0)

    def set(self, t: float, v: float) -> None:
        """The value is ``v`` from hour ``t`` on."""
        if t == self.times[-1]:
            self.values[-1] = v
        else:
            self.times.append(t)
            self.values.append(v)

    def extend(self, times: np.ndarray, values: np.ndarray) -> None:
        """``set`` at each of ``times`` (non-decreasing, from the last change on) in turn, at once.

        Of changes at one hour the last stands, as ``set`` one after another leaves it.
        """
        if not len(times):
            return
        last = np.append(times[1:] != times[:-1], True)
        t, v = times[last].tolist(), values[last].tolist()
        if t[0] == self.times[-1]:
            self.values[-1] = v[0]
            t, v = t[1:], v[1:]
        self.times.extend(t)
        self.values.extend(v)

    def at(self, ts: np.ndarray) -> np.ndarray:
        """The values at hours ``ts``."""
        idx = np.searchsorted(np.asarray(self.times), ts, side="right") - 1
        return np.asarray(self.values)[np.clip(idx, 0, None)]

    def integral(self, ts: np.ndarray) -> np.ndarray:
        """Integral from 0 to each t [value x hours]."""
        t = np.asarray(self.times)
        v = np.asarray(self.values)
        cum = np.concatenate([[0.0], np.cumsum(np.diff(t) * v[:-1])])
        idx = np.clip(np.searchsorted(t, ts, side="right") - 1, 0, None)
        return cum[idx] + (np.asarray(ts) - t[idx]) * v[idx]


# dated steps ahead weighed for a plan under replan_min_gain (``_pays_before_more``): a pool growing daily
# offers a faster plan within days when it offers one at all
LOOK_AHEAD_STEPS = 64

class PoolState:
    """Chips of one pool over time: usable (commissioned or rented, not reserved) and failed.

    Repairs are lazy: a failed node's return time goes to its row of the replication's ``Repairs`` and is
    settled whenever the pool is read or changed, so a repair costs no simulation event (the job sees
    returned chips at its next decision: a restart, a capacity step or a maintenance stop).
    """

    def __init__(self, env: simpy.Environment, pool: Pool, steps: list[Step], log, record: bool = True,
                 track: bool = False, repairs: Repairs | None = None, row: int = 0):
        self.env, self.pool, self.steps, self.log = env, pool, steps, log
        self.record = record  # keep an Event per repair (the tables need them; metrics do not)
        self.track = record or track  # keep the failed chips over time (the tables; the chips a job leaves to others)
        self.usable = 0
        self.failed = 0
        self.delivered = Timeline()
        self.in_service = Timeline()
        self.failed_tl = Timeline()
        self.changed = env.event()
        self.repairs = Repairs(1) if repairs is None else repairs  # (return time [h], units, repair hours)
        self.row = row
        self._step = 0  # index of the next capacity step
        self.repair_events: list[Event] = []

    def _settle(self, now: float | None = None) -> None:
        """Return the nodes whose repair is done by ``now`` (default: the clock)."""
        now = self.env.now if now is None else now
        if self.repairs.first[self.row] > now:
            return
        for t, units, took in self.repairs.pop_due(self.row, now):
            self.failed = self.failed - units if self.failed > units else 0
            if self.track:  # the schedule's failed chips (metrics do not need them)
                self.failed_tl.set(t, self.failed)
            if self.record:  # the events table
                self.repair_events.append(Event(t, self.pool.name, EventKind.REPAIR, int(units), f"after {took:.1f} h"))

    @property
    def available(self) -> int:
        """Usable chips that are not under repair."""
        self._settle()
        return max(0, self.usable - self.failed)

    def available_at(self, t: float) -> int:
        """Usable chips not under repair at hour ``t`` (at or after the clock, before the next capacity step)."""
        self._settle(t)
        n = self.usable - self.failed
        return n if n > 0 else 0

    def usable_falls_below(self, units: int) -> float:
        """The first hour ahead at which the pool's usable chips fall below ``units`` by its dated steps (inf: never).

        The steps are known ahead (a rental's end, a share the jobs before it take back, power): failures are not.
        """
        return self.falls_below_after(units, -math.inf)

    def rises_h(self, kinds: tuple[str, ...], before_h: float) -> list[float]:
        """The hours ahead, before ``before_h``, at which a dated step of one of ``kinds`` adds usable chips."""
        return [st.time_h for st in self.steps[self._step:]
                if st.kind in kinds and st.delta_units > 0 and st.time_h < before_h]

    def available_by(self, t: float) -> int:
        """Chips available once the dated steps up to hour ``t`` have come, those under repair now still out."""
        self._settle()
        return max(self.usable_by(t) - self.failed, 0)

    def falls_below_after(self, units: int, after_h: float) -> float:
        """The first hour from ``after_h`` at which dated steps bring the usable chips below ``units`` (inf: never).

        ``usable_falls_below`` from a later hour: a plan that starts on chips still to come. Chips already gone by
        ``after_h`` fall there: a rental that ended at the hour a plan would start on it counted as never leaving,
        and a job trained on 64 chips and re-planned twice where waiting for the rental finished 8 days sooner.
        """
        n, fell = self.usable, False  # ``fell``: steps at or before ``after_h`` brought the chips below ``units``
        for st in self.steps[self._step:]:
            if st.kind != EventKind.DELIVERY:
                if st.time_h > after_h and fell:
                    return after_h
                n += st.delta_units
                if n < units and st.time_h > after_h:
                    return st.time_h
                fell = n < units
        return after_h if fell else math.inf

    def usable_by(self, t: float) -> int:
        """Usable chips once the dated steps up to hour ``t`` (deliveries aside, as usable counts) have come."""
        return self.usable + sum(st.delta_units for st in self.steps[self._step:]
                                 if st.time_h <= t and st.kind != EventKind.DELIVERY)

    @property
    def next_step_h(self) -> float:
        """Hour of the next capacity step still to come (inf when none)."""
        return self.steps[self._step].time_h if self._step < len(self.steps) else math.inf

    def _notify(self) -> None:
        """Wake whoever waits on ``changed`` (a capacity step; repairs are settled lazily, without a wake-up)."""
        ev, self.changed = self.changed, self.env.event()
        ev.succeed()

    def supply(self):
        """Process: apply the dated capacity steps."""
        delivered = 0
        for s in self.steps:
            if s.time_h > self.env.now:
                yield self.env.timeout(s.time_h - self.env.now)
            self._settle()
            if s.kind == EventKind.DELIVERY:
                delivered += s.delta_units
                self.delivered.set(self.env.now, delivered)
            else:
                self.usable += s.delta_units
                if self.failed > self.usable:  # chips under repair that leave (a rental's end) are gone
                    self.failed = max(self.usable, 0)
                    if self.track:
                        self.failed_tl.set(self.env.now, self.failed)
                self.in_service.set(self.env.now, self.usable)
                self._notify()
            self._step += 1
            self.log(self.pool.name, s.kind, s.delta_units, s.detail)

    @property
    def next_return_h(self) -> float:
        """Hour the next repair comes back (inf when none is out)."""
        return float(self.repairs.first[self.row])

    def fail(self, units: int, repair_h: float, at: float | None = None) -> int:
        """A node fails (now, or at hour ``at``): its chips are out until repaired. Returns the chips taken out."""
        at = self.env.now if at is None else at
        avail = self.available_at(at)
        units = units if units < avail else avail
        self.failed += units
        if self.track:
            self.failed_tl.set(at, self.failed)
        self.repairs.push(self.row, at + repair_h, units, repair_h)
        return units

    def finish(self) -> None:
        """Settle the repairs due by the end of the run."""
        self._settle()


@dataclass
class JobStats:
    """What one job did, accumulated over its run."""

    finished: bool = False
    finish_h: float = math.nan
    tokens: float = 0.0
    held_chip_h: float = 0.0  # chip-hours the job held (training, checkpoints, lost work, restarts)
    kept_chip_h: float = 0.0  # chip-hours of training whose work was kept
    flops_chip_h: float = 0.0  # sum of mfu x kept chip-hours (for the chip-time weighted MFU)
    energy_kwh: float = 0.0
    failures: int = 0
    restarts: int = 0
    replans: int = 0
    checkpoints: int = 0
    maintenance: int = 0
    moves: int = 0
    link_bytes: float = 0.0  # bytes over inter-site links (gradients, weights, moved checkpoints)


@dataclass
class _Cycle:
    """The checkpoint cycle on the current layout: tau hours of training, then delta hours of writing."""

    tau: float
    delta: float
    mtbf_h: float

    @property
    def length(self) -> float:
        """Hours of one whole cycle."""
        return self.tau + self.delta


@dataclass
class _Stretch:
    """A plan's constants for the compiled loop (planner/sim/kernel.py)."""

    plan: Plan
    on: bool  # failures drawn (the cycle differs without them)
    fs: np.ndarray  # the float state with the plan's constants filled in
    arrays: tuple  # rows, part rows, part units, part node sizes, part failure weights, pool shares
    shares: list
    kwh_h: float  # energy per hour held


class TrainingJob:
    """The elastic training job over the pools a strategy uses.

    ``run`` is the SimPy process; each pass of its loop (re)plans when it must (the strategy turns the
    chips available in each pool into a ``Plan``), pays a pending restart, trains until the next event
    (finish, failure, maintenance, a capacity change or the horizon) and handles that event. A failure
    anywhere stops the whole job: a synchronous step needs every part; DiLoCo replicas are treated the
    same way (a conservative simplification: their restarts are not staggered).
    """

    # train through failures in plain arithmetic (_through_failures) between outside events; False takes every
    # failure through the named steps of the loop (the same rules: a test checks that both give the same run)
    FAST = True

    def __init__(self, env, scenario: Scenario, pools: dict[str, PoolState], strategy: Strategy, rng, log,
                 failures: bool = True, model_factor: float = 1.0, record: bool = True, expected: bool = False,
                 stop_h: float = math.inf):
        self.env, self.sc, self.rng, self.log = env, scenario, Draws(rng), log
        # no failures drawn, each plan trains at its expected goodput under failures instead (the strategy
        # pick compares strategies this way: failure-free runs would favour plans that fail more)
        self.expected = expected and not failures and scenario.reliability.enabled
        self._goodput: dict[int, float] = {}
        self.record = record  # log the many failure, restart and checkpoint events (the tables need them)
        self.pools = {name: pools[name] for name in strategy.pools}
        self.strategy = strategy
        r = scenario.reliability
        self.rel = r
        self.on = r.enabled and failures
        self.model_factor = model_factor  # the cost model's error drawn for this replication (1 = none)
        self._factors: dict[int, float] = {}  # the draw on each plan, capped at its chips' GEMM rate (``_factor``)
        # the share of training time between interruptions that trains: evaluation pauses, checkpoint and data
        # stalls, slow periods of published whole runs (planner/perf/wholerun.py, refit in `calibrate --cv`)
        self.productive = rel.productive_fraction() if (self.on or self.expected) else 1.0
        self.mtbf_chip_h = {n: strategy.ctx.failures(n).mtbf_chip_days * HOURS_PER_DAY for n in self.pools}
        self.kwh_per_chip_h = {n: costs.energy_kwh(scenario, ps.pool, 1.0)
                               for n, ps in self.pools.items()}
        self.node = {n: scenario.chip(ps.pool.chip).chips_per_node for n, ps in self.pools.items()}
        self.stats = JobStats()
        self.in_training = {n: Timeline() for n in self.pools}
        self.tokens_tl = Timeline()  # tokens safe in a checkpoint, recorded when they change
        self.pool_tokens = {n: 0.0 for n in self.pools}
        self.pool_tokens_tl = {n: Timeline() for n in self.pools}
        self.link_tl: dict[tuple[str, str], Timeline] = {}  # bytes/s per site pair over time
        self.link_moves: list[tuple[float, tuple[str, str], float]] = []  # (hour, site pair, bytes) of each move
        self.link_sent: dict[tuple[str, str], float] = {}  # bytes each site pair carried for training (``_send``)
        self.layouts: list[dict] = []
        self._open_layouts = 0  # the last rows of ``layouts`` that have no end yet (the current plan's parts)
        self.min_units = scenario.strategy.min_units_to_start or 0
        # ``stop_h``: an earlier end than the horizon (a candidate that cannot finish before it loses the pick)
        self.horizon_h = min(scenario.horizon_days * HOURS_PER_DAY, stop_h)
        self.target = scenario.workload.tokens
        self.maint_every_h = (r.maintenance_every_days or 0) * HOURS_PER_DAY if self.on else 0.0
        # the job's state between passes of the loop
        self.plan: Plan | None = None
        self.next_plan: Plan | None = None  # the plan a decided re-plan moves to
        self.must_plan = True
        self.pending_restart = True  # the first start pays the start-up like a restart
        self.pending_move_h = 0.0  # the wait for the checkpoint to reach the sites of a new plan (``handover``)
        self.manual_due_h = 0.0  # a failure's wait for a manual intervention, paid with its restart
        # chips of the plan left at a capacity step: the smaller plan it moves to pays ``replan_overhead_hours``
        # with its restart (a growth pays it on its own chips before it moves, ``_replan_overhead``)
        self.shrink_due = False
        self.pending_replan_h = 0.0
        self.waiting_since_h: float | None = None  # when training stopped for want of chips (a ``wait`` event)
        # the plan whose sites hold the job's last checkpoint: the last one the job restarted on in full (a plan
        # whose chips left before the checkpoint reached them never held it); None before the first start
        self.home: Plan | None = None
        self.pos = 0.0  # position in the current checkpoint cycle [h]
        self.saved = 0.0  # tokens safe in the last checkpoint
        self.next_maint = self.maint_every_h
        # training hours until the next failure, when already drawn (a failure-free stretch already tested
        # must not be tested again: drawing afresh from an earlier time would count failures twice)
        self.fail_in_h: float | None = None
        self.checked_avail: dict[str, int] = {}  # chips per pool on which no faster plan than the current exists
        self.events_left = EVENT_BUDGET
        self.limits: dict[str, tuple[int, str]] = {}  # what held plans below the chips in service (kind -> sentence)
        # the plan's limit sentences noted last (kind -> (chips left out, sentence)), from hour ``_noted_h``; each kind
        # keeps the sentence that left the most chip-hours out (``_note_limits``, ``_weigh_limits``)
        self._noted: dict[str, tuple[int, str, int]] = {}  # (kind -> (chips left out, sentence, id of its plan))
        self._noted_h = 0.0
        # (kind, plan id) -> [chip-hours left out, chips, sentence, hours held]
        self._left_out: dict[tuple[str, int], list] = {}
        self._stayed_at = math.inf  # the speed of the plan kept when a faster one was under replan_min_gain
        self._ceiling: tuple[tuple, Plan | None] = ((), None)  # (usable chips per pool, their plan)
        self._loop: kernel.Loop | None = None  # the compiled loop and its arrays (``_kernel_loop``)
        self._states = list(self.pools.values())
        self._first_wait = ""  # the last reason the first start waited for chips that come at a known hour
        self._wait_reason = ""  # why a shrink waits for chips that come at a known hour instead (``_log_wait``)
        self._mid_waits: list[tuple[float, float, str]] = []  # (from, to hours, why) it held no chip after it started
        # before the first start: [from hour, most chips available] while strategy.min_units_to_start, not the chips,
        # held the job (a layout fit them) (``_held_to_start``)
        self._start_held: list | None = None
        self._usable_at_adopt: dict[str, int] = {}
        self._at_h: float | None = None  # the hour decisions read while the compiled loop asks (``_clock``)
        self._wait_why = ""

    # -- capacity ------------------------------------------------------------------------------------
    def _avail(self) -> dict[str, int]:
        return {n: ps.available for n, ps in self.pools.items()}

    def _changed(self):
        """An event that fires when any pool's capacity steps."""
        evs = [ps.changed for ps in self.pools.values()]
        return evs[0] if len(evs) == 1 else self.env.any_of(evs)

    def _factor(self, plan: Plan) -> float:
        """This replication's model error on ``plan``: the draw, but never past the chips' sustained GEMM rate.

        The band is log-normal: about 1% of a 405B job's draws would train above 100% MFU. A plan runs at most
        at its chips' matmul microbenchmark share of the peak (``Context.gemm_share``); a plan the model itself
        puts above that keeps its own speed (the cap only trims the draw).
        """
        f = self._factors.get(id(plan))
        if f is None:
            f = self.model_factor
            if not isinstance(f, float | int):  # a draw read on the plan's own pools (replication.ModelDraw)
                f = f.on({n: plan.units_of(n) for n in self.strategy.pools})
            raw = sum(p.layout.tokens_per_s for p in plan.parts)
            if f > 1.0 and plan.mfu > 0 and raw > 0:
                # each part's utilization of what its chips run (MFU counts the causally masked scores too), at its
                # share of the plan's speed (``_record_layout``): a cap on the plan's whole let the part with the
                # larger share of an uneven batch split run past its chips' GEMM rate (0.877 MFU on H100s, 0.8)
                ctx = self.strategy.ctx
                used = max(p.layout.mfu * plan.tokens_per_s / raw / ctx.gemm_share((p,)) for p in plan.parts)
                if used > 0:
                    f = min(f, max(1.0, 1.0 / (used * ctx.executed_share)))
            self._factors[id(plan)] = f
        return f

    def _rate_h(self) -> float:
        rate = self.plan.tokens_per_s * self._factor(self.plan) * self.productive * SECONDS_PER_HOUR
        if self.expected:
            g = self._goodput.get(id(self.plan))
            if g is None:
                g = self._goodput[id(self.plan)] = self.strategy.ctx.expected_goodput(self.plan)
            rate *= g
        return rate

    # -- accounting ----------------------------------------------------------------------------------
    def _hold(self, hours: float) -> None:
        """The job held the plan's chips for ``hours`` (whatever it did with them)."""
        s = self.stats
        for part in self.plan.parts:
            s.held_chip_h += part.units * hours
            s.energy_kwh += self.kwh_per_chip_h[part.pool] * part.units * hours

    def _send(self, plan: Plan, train_h: float) -> None:
        """``train_h`` hours of training on ``plan`` sent their bytes between sites: kept or lost, both did.

        A step sends the same bytes however long it takes (gradients, or DiLoCo's weights every so many steps), so
        the rate scales with the drawn model error: a replication that trains at half the speed sends at half the
        rate. Restarts, stops and checkpoint writes send nothing. Also by site pair, for the traffic chart.
        """
        if not plan.link_bytes_per_s or train_h <= 0:
            return
        scale = self._factor(plan) * train_h * SECONDS_PER_HOUR
        for key, rate in plan.link_bytes_per_s.items():
            self.stats.link_bytes += rate * scale
            self.link_sent[key] = self.link_sent.get(key, 0.0) + rate * scale

    def _keep(self, train_h: float) -> float:
        """Training hours on the current plan are now safe in a checkpoint: count their chip-time as good.

        Returns the tokens they trained.
        """
        s, plan = self.stats, self.plan
        units = plan.units_used
        s.kept_chip_h += units * train_h
        s.flops_chip_h += units * train_h * plan.mfu * self._factor(plan)
        self._send(plan, train_h)
        tokens = train_h * self._rate_h()
        for part in plan.parts:
            self.pool_tokens[part.pool] += tokens * plan.share_of(part.pool)
        return tokens

    def _record_tokens(self, at: float | None = None, saved: float | None = None) -> None:
        """What is safe (``saved``, default the job's now) from hour ``at`` (default now) on; by pool for the tables."""
        now = self.env.now if at is None else at
        saved = self.saved if saved is None else saved
        self.tokens_tl.set(now, saved)
        if not self.record:  # the pools' shares by day are for the tables (replication 0) only
            return
        total = sum(self.pool_tokens.values())
        extra = saved - total  # kept on the current plan since the pools' counts were last brought up to date
        # a sum's rounding (a few ulps of the total) is no shortfall: each pool keeps what it had (never falls)
        capped = extra < -1e-9 * total
        for n, v in self.pool_tokens.items():
            if not capped:  # the plan's pools kept what is new, by their shares
                x = v + (extra * self.plan.share_of(n) if extra > 0 and self.plan is not None else 0.0)
            else:  # the last write is capped at the target: each pool's share of what is safe
                x = saved * v / total
            self.pool_tokens_tl[n].set(now, x)

    def _record_day_ends(self, start_h: float, end_h: float, cyc: _Cycle | None = None) -> None:
        """Record what is safe at the end of each day that ends in (``start_h``, ``end_h``] (kernel._day_ends).

        ``cyc``: the job trains through the stretch from its cycle position: the checkpoints completed by a
        day's end save their cycles (rules.advance), or, with no cycle (failures off: nothing is lost), all the
        training done. Without it, a stop: what is safe does not change.
        """
        day = start_h // HOURS_PER_DAY
        while True:
            b = day * 24.0 + 24.0 - kernel.DAY_END_H
            if b > end_h:
                return
            if b > start_h:
                v = self.saved
                if cyc is not None and math.isfinite(cyc.length):
                    done, kept_h, _pos = rules.advance(self.pos, b - start_h, cyc.tau, cyc.length)
                    if done:
                        v = self.saved + kept_h * self._rate_h()
                elif cyc is not None:  # no checkpoint cycle (failures off): nothing trained can be lost
                    v = self.saved + (self.pos + (b - start_h)) * self._rate_h()
                self._record_tokens(at=b, saved=v)
            day += 1.0

    def _set_training(self, plan: Plan | None) -> None:
        """The chips (and link rates) the job trains on from now: a change point only where they change.

        (Set again at every pass of the loop, they made an edge at every failure of the named steps and at none of
        the compiled loop's: what a portfolio's job leaves to the next, in stretches between changes, differed.)
        """
        now = self.env.now
        for n in self.pools:
            tl, units = self.in_training[n], plan.units_of(n) if plan else 0
            if tl.values[-1] != units:
                tl.set(now, units)
        keys = set(self.link_tl) | set(plan.link_bytes_per_s if plan else {})
        for k in keys:
            rate = plan.link_bytes_per_s.get(k, 0.0) * self._factor(plan) if plan else 0.0  # held hours: _tables
            tl = self.link_tl.setdefault(k, Timeline())
            if tl.values[-1] != rate:
                tl.set(now, rate)

    def _record_layout(self, plan: Plan, start_h: float) -> None:
        self._close_layout(start_h)
        raw = sum(p.layout.tokens_per_s for p in plan.parts)
        for part in plan.parts:
            r = part.layout
            # the part's share of what the plan trains: a sync plan waits on its slowest part and its link, and
            # DiLoCo pays its token efficiency (each layout alone would be faster than the plan lets it run)
            # at this replication's speed (the drawn model error), as the job trains on it
            tps = plan.tokens_per_s * self._factor(plan) * r.tokens_per_s / raw if raw else 0.0
            mfu = r.mfu * tps / r.tokens_per_s if r.tokens_per_s else 0.0
            self.layouts.append({"start_days": start_h / HOURS_PER_DAY, "end_days": None, "pool": part.pool,
                                 "mode": plan.mode, "units": r.units_used, **r.layout.as_dict(),
                                 "batch_seqs": part.batch_seqs, "tokens_per_s": tps, "mfu": mfu})
        self._open_layouts = len(plan.parts)

    def _close_layout(self, end_h: float) -> None:
        """End the current plan's rows (only the last ones are open: closing is linear in re-plans)."""
        for row in self.layouts[len(self.layouts) - self._open_layouts:]:
            row["end_days"] = end_h / HOURS_PER_DAY
        self._open_layouts = 0

    # -- decisions -----------------------------------------------------------------------------------
    def _clock(self) -> float:
        """The hour decisions are made at: SimPy's, or the failure's while the compiled loop asks (``_at_h``)."""
        return self.env.now if self._at_h is None else self._at_h

    def _restart_base_h(self, plan: Plan) -> float:
        """The automated restart of the job on ``plan`` [h], before the failures that strike it (drawn one by one)."""
        return self.strategy.ctx.base_restart_hours({p.pool: p.units for p in plan.parts})

    def _manual(self, plan: Plan) -> tuple[float, float]:
        """(share of failures that wait for a manual intervention, mean wait [h]) on ``plan``."""
        return self.strategy.ctx.manual_terms({p.pool: p.units for p in plan.parts})

    def _cycle(self) -> _Cycle:
        # independent failures: the job's failure rate is the sum of its chips' rates (Kokolis et al. 2024)
        rate = sum(part.units / self.mtbf_chip_h[part.pool] for part in self.plan.parts)
        mtbf_h = 1.0 / rate if rate else math.inf
        if not self.on:
            return _Cycle(math.inf, 0.0, mtbf_h)
        write_h = self.strategy.ctx.write_hours({p.pool: p.units for p in self.plan.parts})
        iv = self.rel.checkpoint_interval_hours
        tau = rel.young_daly_interval_hours(write_h, mtbf_h) if iv == "auto" else float(iv)
        return _Cycle(tau, write_h, mtbf_h)

    def _kept_rate_h(self, plan: Plan) -> float:
        """Tokens per hour the plan is expected to keep: its speed, under failures times its expected goodput."""
        rate = plan.tokens_per_s * self._factor(plan) * self.productive * SECONDS_PER_HOUR
        return rate * self.strategy.ctx.expected_goodput(plan) if self.on or self.expected else rate

    def _switch_h(self, plan: Plan) -> float:
        """Hours the checkpoint takes to reach ``plan``'s sites from where it is (``Strategy.handover``)."""
        home = self.home
        if home is None or plan is home or plan.pools == home.pools:  # (most re-plans: the same pools, no transfer)
            return 0.0
        return self.strategy.switch_hours(home, plan)

    def _switch_cost_h(self, plan: Plan) -> float:
        """A re-plan's own hours: its overhead and the restart (failures on), before any checkpoint transfer."""
        return self.sc.strategy.replan_overhead_hours + (
            self.strategy.ctx.stop_restart_hours({p.pool: p.units for p in plan.parts}) if self.on else 0.0)

    def _go_hours(self, plan: Plan, tokens_left: float) -> float:
        """Expected hours to finish on ``plan`` from now, a checkpoint transfer counted MOVE_MARGIN times more.

        When the transfer is to chips that leave at a known hour (a rental's end, a share taken back) before the job
        could finish there, it trains there only until then, and the checkpoint comes back to where it was: a
        transfer that lands after they left never trains at all (a one-day rental over a link that needs 32 h).
        """
        rate = self._kept_rate_h(plan)
        if rate <= 0:
            return math.inf
        move_h = self._switch_h(plan)
        # a switch to it pays the re-plan and the checkpoint's transfer first
        go_h = (self._switch_cost_h(plan) + move_h if plan is not self.plan else 0.0) + tokens_left / rate
        if not math.isfinite(go_h):
            return go_h
        if not move_h:
            return self._grow_hours(plan, go_h, rate, tokens_left)
        leave_h = self._leaves_at(plan) - self._clock()
        if go_h > leave_h:
            there_h = leave_h - self._switch_cost_h(plan) - move_h  # hours it trains there
            back = self.home if self.home is not None else self.plan
            back_rate = self._kept_rate_h(back) if back is not None else 0.0
            if there_h <= 0 or back_rate <= 0:
                return math.inf
            left = max(tokens_left - there_h * rate, 0.0)
            back_h = self._switch_cost_h(back) + self.strategy.switch_hours(plan, back)
            go_h = leave_h + back_h + left / back_rate
        return go_h + MOVE_MARGIN * move_h

    def _grow_hours(self, plan: Plan, go_h: float, rate: float, tokens_left: float) -> float:
        """``_go_hours`` of a re-plan in place onto chips that leave at a known hour before the job would finish.

        Site power that falls, a rental's end or a share taken back: the job trains on ``plan`` until then and
        re-plans back onto its current plan, paying both switches. A day of extra power paid two 10-hour re-plans
        for 14 hours on it, and the job finished later than with no extra power at all.
        """
        here = self.plan
        if here is None or plan is here:
            return go_h
        now = self._clock()
        leave_h = min(self.pools[p.pool].usable_falls_below(p.units) for p in plan.parts) - now
        if go_h <= leave_h or min(self.pools[p.pool].usable_falls_below(p.units) for p in here.parts) - now <= leave_h:
            return go_h  # (when the current plan loses chips then too, both pay a re-plan)
        there_h = leave_h - self._switch_cost_h(plan)  # hours it trains on ``plan``
        here_rate = self._kept_rate_h(here)
        if there_h <= 0 or here_rate <= 0:
            return math.inf
        left = max(tokens_left - there_h * rate, 0.0)
        return leave_h + self._switch_cost_h(here) + left / here_rate

    def _lasting(self, new: Plan, avail: dict[str, int]) -> Plan:
        """``new``, or the plan on the chips that stay when ``new``'s leave at a known hour, if that finishes first.

        Site power that falls, a rental's end, a share taken back: a plan that must shrink before it finishes pays
        a re-plan then. A job that started on two days of extra power finished later than with none. Weighed again
        on the plan that stays, until one keeps (each leaves fewer chips). A shrink owed now is paid by either.
        """
        now, left = self.env.now, max(self.target - self.saved, 0.0)
        owed_h = self.sc.strategy.replan_overhead_hours if self.shrink_due else 0.0
        for _ in range(len(self.pools) * 4):  # (a bound: each pass leaves a plan on fewer chips)
            leave_at = min(self.pools[p.pool].usable_falls_below(p.units) for p in new.parts)
            rate = self._kept_rate_h(new)
            there_h = leave_at - now - owed_h  # hours it would train on ``new``
            if not math.isfinite(leave_at) or leave_at >= self.horizon_h or rate <= 0 or rate * there_h >= left:
                return new
            stay = {n: min(avail[n], max(ps.usable_by(leave_at) - (ps.usable - avail[n]), 0))
                    for n, ps in self.pools.items()}
            low = self.strategy.plan(stay)
            low_rate = self._kept_rate_h(low) if low is not None else 0.0
            if low is None or low is new or low_rate <= 0:
                return new
            new_h = leave_at - now + self._switch_cost_h(low) + (left - rate * max(there_h, 0.0)) / low_rate
            if owed_h + left / low_rate > new_h:
                return new
            new = low
        return new

    def _waits_for_growth(self, new: Plan, avail: dict[str, int], pay_now_h: float = 0.0) -> str:
        """Why the job waits for chips that come at a known hour rather than train on ``new`` now, or "" to train.

        At the first start, and at a shrink (chips of its plan left at a known step: adopting ``new`` pays
        ``pay_now_h``, its re-plan, where a start after a wait pays only its restart, as a first start does).

        Known: site power, a share the jobs before it leave, a rental's start, owned chips commissioned as planned
        (a pool without ``delivery_risk``). Each of the next such hours
        (``WAIT_RISES``) is weighed: waiting for it against starting now and re-planning onto it then, each plan
        counted until its chips leave at a known hour (``_finish_from``). A job that started on 8 chips a day before
        power for 1,024 came finished later than one at a site with no power until then; one that waited for a day
        of power that then fell never finished.
        """
        now, left = self.env.now, max(self.target - self.saved, 0.0)
        kinds = (EventKind.POWER, EventKind.SHARE, EventKind.CLOUD_START)
        # owned chips commissioned as planned too, where the plan is followed exactly (no delivery_risk to draw)
        rises = sorted({t for ps in self.pools.values() for t in ps.rises_h(
            kinds + ((EventKind.COMMISSIONING,) if ps.pool.delivery_risk is None else ()), self.horizon_h) if t > now})
        rate = self._kept_rate_h(new)
        if not rises or rate <= 0:
            return ""
        new_leaves = min(self.pools[p.pool].falls_below_after(p.units, now) for p in new.parts)
        # a re-plan's hours, at most: waiting can pay only when the tokens ``new`` trains until a rise are fewer than
        # what the switch then costs the faster plan, which trains at most WAIT_SPEEDUP times ``new``'s rate per chip
        candidates = []
        for rise_at in rises[:WAIT_RISES]:
            then = {n: ps.available_by(rise_at) for n, ps in self.pools.items()}
            switch_h = self.sc.strategy.replan_overhead_hours + pay_now_h + (
                self.strategy.ctx.stop_restart_hours(then) if self.on else 0.0)
            scale = sum(then.values()) / max(new.units_used, 1) * WAIT_SPEEDUP
            # the hours ``new`` trains before the rise (or before its own chips leave): against the switch saved
            if min(rise_at, new_leaves) - now < switch_h * scale:
                candidates.append((rise_at, then, scale))  # (else no layout search: a month against an hour)
        if not candidates:
            return ""
        best_now = pay_now_h + self._finish_from(new, now + pay_now_h, left)  # train now, never re-plan
        # waiting for a rise takes at least the wait and the tokens at the most the larger plan can train: when no
        # rise can beat training now even without re-planning, none is searched
        if min(r - now + (left / (rate * scale) if scale > 0 else math.inf) for r, _then, scale in candidates) \
                >= best_now:
            return ""
        best_wait, waited_for = math.inf, None
        for rise_at, then, _scale in candidates:
            up = self.strategy.plan(then)
            if up is None or self._kept_rate_h(up) <= rate * (1 + self.sc.strategy.replan_min_gain):
                continue  # it would not re-plan onto them
            wait_h = rise_at - now + self._finish_from(up, rise_at, left)
            if wait_h < best_wait:
                best_wait, waited_for = wait_h, (rise_at, up)
            trained = rate * max(min(rise_at, new_leaves) - now - pay_now_h, 0.0)
            if trained >= left:
                continue
            # a job whose chips left before the rise waited meanwhile: it starts on ``up`` paying the restart only
            pay_h = self._switch_cost_h(up) if new_leaves >= rise_at else (
                self.strategy.ctx.stop_restart_hours({p.pool: p.units for p in up.parts}) if self.on else 0.0)
            best_now = min(best_now, rise_at - now + pay_h + self._finish_from(up, rise_at + pay_h, left - trained))
        if waited_for is None or not best_wait < best_now:
            return ""
        rise_at, up = waited_for
        return (f"a layout on {up.units_used:,} can start in {fmt_duration(rise_at - now)} (chips coming into "
                "service, site power, a rental's start, or chips the jobs before it leave), and training now would "
                "finish later")

    def _finish_from(self, plan: Plan, at_h: float, left: float) -> float:
        """Hours from ``at_h`` to train ``left`` tokens on ``plan``, its chips counted until they leave at a known hour.

        Then on the plan on the chips that stay, after a re-plan (inf when none fits them: the job would wait for
        chips no dated step brings back before it).
        """
        rate = self._kept_rate_h(plan)
        if rate <= 0:
            return math.inf
        leave = min(self.pools[p.pool].falls_below_after(p.units, at_h) for p in plan.parts)
        if at_h + left / rate <= leave:
            return left / rate
        stay = {n: max(ps.usable_by(leave) - ps.failed, 0) for n, ps in self.pools.items()}
        low = self.strategy.plan(stay)
        low_rate = self._kept_rate_h(low) if low is not None else 0.0
        if low_rate <= 0:
            return math.inf
        return leave - at_h + self._switch_cost_h(low) + (left - rate * (leave - at_h)) / low_rate

    def _leaves_at(self, plan: Plan) -> float:
        """The first hour ahead a pool of ``plan`` at a site the checkpoint must reach falls below the plan's chips.

        Dated capacity steps only (a rental's end, a share taken back): failures are not known ahead.
        """
        home = {self.strategy.ctx.site[p] for p in self.home.pools} if self.home is not None else set()
        return min((self.pools[p.pool].usable_falls_below(p.units) for p in plan.parts
                    if self.strategy.ctx.site[p.pool] not in home), default=math.inf)

    def _worth_changing(self, cand: Plan, tokens_left: float) -> bool:
        """Re-plan onto more chips (or move) when it pays.

        That is: faster by replan_min_gain, and still sooner to finish after the re-plan overhead, the
        restart and any move; a move (``sequential``) must also save MOVE_MARGIN times what it costs.
        """
        plan = self.plan
        if cand.tokens_per_s < plan.tokens_per_s * (1 + self.sc.strategy.replan_min_gain) and \
                not self._pays_before_more(cand, tokens_left):
            return False
        return self._pays(plan, cand, tokens_left)

    def _pays_before_more(self, cand: Plan, tokens_left: float) -> bool:
        """A plan under ``replan_min_gain``: whether it trains more by the next chips to come than staying would.

        The threshold waits for more chips so that one re-plan takes them all; it is worth its overhead only when
        they come soon. With none to come before the job would finish, or the next ones far enough off that the
        faster plan makes up for its re-plan before them, the job re-plans now: 832 chips of an order delivered five
        days early finished a job 3.5 days later when the rest of the order, the last chips to come, offered a plan
        9.98% faster (under the 10%) for 59 days; and a plan 8.3% faster waited 57 days for a next delivery.
        """
        now = self.env.now
        until = now + self._go_hours(cand, tokens_left)
        rises = sorted({st.time_h for ps in self._states for st in ps.steps[ps._step:]
                        if now < st.time_h < until and st.delta_units > 0 and st.kind != EventKind.DELIVERY})
        # the next of them that brings a plan faster than this one (one chip that no layout takes is no reason to
        # wait: it made a job with one more chip ordered finish 1.5 days later); a bounded look
        nxt = next((t for t in rises[:LOOK_AHEAD_STEPS] if self._faster_then(t, cand)), None)
        if nxt is None:
            return True
        cost_h = self._switch_cost_h(cand) + (1 + MOVE_MARGIN) * self._switch_h(cand)
        # by then: the faster plan's hours less its switch, against every hour on the plan it has
        return self._kept_rate_h(cand) * (nxt - now - cost_h) > self._kept_rate_h(self.plan) * (nxt - now)

    def _faster_then(self, t: float, cand: Plan) -> bool:
        """Whether the plan on the chips the dated steps bring by hour ``t`` trains faster than ``cand``."""
        alt = self.strategy.plan({n: ps.available_by(t) for n, ps in self.pools.items()})
        return alt is not None and alt.tokens_per_s > cand.tokens_per_s

    def _pays(self, here: Plan, cand: Plan, tokens_left: float) -> bool:
        """Whether switching to ``cand`` finishes sooner than training on ``here`` (a transfer: by a margin)."""
        return self._go_hours(cand, tokens_left) < self._go_hours(here, tokens_left)

    def _best_plan(self, avail: dict[str, int]) -> Plan | None:
        """The strategy's plan for ``avail``, unless sending the checkpoint to it does not pay.

        Then the plan among the same mode on fewer sites (``Strategy.alternatives``, where the job is among them)
        that finishes first, a transfer counted MOVE_MARGIN times (``_go_hours``): over a slow link to one site,
        a plan that adds another, well-linked site can still pay.
        """
        cand = self.strategy.plan(avail)
        if cand is None or not self._switch_h(cand):
            return cand
        left = max(self.target - self.saved, 0.0)
        here = self.strategy.plan_on(self.home.pools, avail)
        best, best_h = cand, self._go_hours(cand, left)
        for alt in (here, *self.strategy.alternatives(avail)):
            if alt is None or alt is best or any(avail[p.pool] < p.units for p in alt.parts):
                continue
            h = self._stay_hours(alt, avail, left) if alt is here else self._go_hours(alt, left)
            if h < best_h:
                best, best_h = alt, h
        return best

    def _stay_hours(self, here: Plan, avail: dict[str, int], tokens_left: float) -> float:
        """Expected hours to finish staying where the checkpoint is, its repairs counted.

        On ``here`` until the home pools' repairs bring back the chips of their plan with every repair back, then on
        that plan (after a re-plan). Weighed against a move: a node out for repair comes back in days, and a job that
        moved away for every failure and back again (``sequential`` on two near-equal pools) finished later than one
        that stayed.
        """
        stay = self._go_hours(here, tokens_left)
        home = self.home.pools
        full_avail = {**avail, **{p: self.pools[p].usable for p in home if p in self.pools}}
        full = self.strategy.plan_on(home, full_avail)
        rate, full_rate = self._kept_rate_h(here), self._kept_rate_h(full) if full is not None else 0.0
        if full is None or full_rate <= rate or rate <= 0:
            return stay
        # the hour enough of the home pools' repairs are back for it: the returns in time order, counted up
        need = full.units_used - sum(avail.get(p, 0) for p in home)
        # (repairs are picked up at the job's next decision, a restart or a capacity step: from their return on is
        # the soonest it could re-plan, and what it trains on ``here`` meanwhile pays ``here``'s own switch first)
        start_h = self._switch_cost_h(here) if here is not self.plan else 0.0
        rows = [(self.pools[p].repairs, self.pools[p].row) for p in home if p in self.pools]
        returns = sorted((float(r.t[row, i]), int(r.units[row, i])) for r, row in rows for i in range(int(r.n[row])))
        back_h, got = (0.0, 0) if need <= 0 else (math.inf, 0)
        for t, units in returns if need > 0 else ():
            got += units
            if got >= need:
                back_h = max(t - self._clock(), start_h)
                break
        trained = rate * max(back_h - start_h, 0.0)
        if not math.isfinite(back_h) or trained >= tokens_left:
            return stay
        return min(stay, back_h + self._switch_cost_h(full) + (tokens_left - trained) / full_rate)

    def _needs_plan(self) -> bool:
        return self.must_plan or self.plan is None or self._plan_short()

    def _plan_short(self) -> bool:
        """Whether chips the plan trains on are gone (a rental's end, a share taken back, repairs that lag)."""
        pools = self.pools
        return any(pools[p.pool].available < self.plan.units_of(p.pool) for p in self.plan.parts)

    def _choose_plan(self) -> Plan | None:
        """The plan to train on now, or None when too few chips are available (or it waits for chips to come).

        A job that waits for chips that come at a known hour weighs it again at each change: holding the decision to
        the hour it waited for finished later (a wait chosen against the first rises ahead missed a later one).
        """
        avail = self._avail()
        if sum(avail.values()) < self.min_units:
            new = None
        elif self.must_plan and self.next_plan is not None and all(
                avail[p.pool] >= p.units for p in self.next_plan.parts):
            new = self.next_plan  # the plan chosen when the change was decided
            if self._came_meanwhile():  # chips that came during the re-plan's overhead: the plan on them, if faster
                fresh = self._best_plan(avail)
                fresh = self._lasting(fresh, avail) if fresh is not None else None
                if fresh is not None and self._kept_rate_h(fresh) > self._kept_rate_h(new):  # (as jobs are sized)
                    new = fresh
        else:
            new = self._best_plan(avail)
            new = self._lasting(new, avail) if new is not None else None
        self.next_plan = None
        if new is not None and (self.plan is None or self.shrink_due or self.waiting_since_h is not None):
            # a first start, or one after a wait, pays nothing more now than a start after a (longer) wait; a shrink
            # pays its re-plan
            pay_now_h = self.sc.strategy.replan_overhead_hours if self.shrink_due else 0.0
            why = self._waits_for_growth(new, avail, pay_now_h)
            if why and self.plan is None:
                if not self._first_wait:  # (once: the hours it names count down at every wake-up)
                    self.log("", EventKind.WAIT, 0, f"does not start on {new.units_used:,} chips: {why}")
                    self._first_wait = why
                return None
            if why:
                if self.waiting_since_h is None:  # (the ``wait`` event about to be logged says it; none is, waiting)
                    self._wait_reason = f"{new.units_used:,} would train, but {why}"
                return None
        return new

    def _adopt(self, new: Plan) -> None:
        self._wait_reason = ""
        if self.plan is None:
            self.log("", EventKind.START, new.units_used, f"job starts on {new.units_used:,} chips ({new.mode})")
        else:
            # the checkpoint goes from where it is (``home``) to the new plan's sites: a transfer cut short by chips
            # that left is not carried on, the new plan's own counts
            hand = self.strategy.handover(self.home, new) if self.home is not None and new is not self.home else None
            self.pending_move_h = hand.hours if hand is not None else 0.0
            sent = ""
            if hand is not None and hand.hours:
                for a, b, nbytes in hand.sent:  # each checkpoint that crosses a link between sites
                    self.stats.link_bytes += nbytes
                    self.link_moves.append((self.env.now, pair(a, b), nbytes))
                if hand.moved:
                    self.stats.moves += 1
                    self.log("", EventKind.MOVE, new.units_used,
                             f"{'+'.join(self.home.pools)} -> {'+'.join(new.pools)}, {fmt_duration(hand.hours)} "
                             "to move the checkpoint and restart")
                else:
                    to = sorted({b for _a, b, _n in hand.sent})
                    sent = f", the checkpoint sent to {', '.join(to)} first ({fmt_duration(hand.hours)})"
            self.stats.replans += 1
            if self.shrink_due:  # a forced re-plan re-shards as a chosen one does
                self.pending_replan_h = self.sc.strategy.replan_overhead_hours
                sent += f", {fmt_duration(self.pending_replan_h)} to re-plan" if self.pending_replan_h else ""
            was = f"{self.plan.units_used:,}"
            if self.waiting_since_h is not None:  # it trained on none meanwhile (the ``wait`` event before)
                was = (f"0 (for {fmt_duration(self.env.now - self.waiting_since_h)}; "
                       f"{self.plan.units_used:,} before the wait)")
                self._end_wait(self.env.now)
            self.waiting_since_h = None
            self.log("", EventKind.REPLAN, new.units_used, f"{was} -> {new.units_used:,} chips{sent}")
            self.pending_restart = True
        self.shrink_due = False
        if "re-plan" in self.limits and new.tokens_per_s > self._stayed_at:  # it took (some of) those chips after all
            del self.limits["re-plan"]
        self.plan, self.must_plan = new, False
        self._note_limits(new)
        self.fail_in_h = None  # another plan fails at another rate: draw afresh (memoryless)
        self.checked_avail = self._avail()  # no faster plan exists on these chips or fewer
        self._usable_at_adopt = {n: ps.usable for n, ps in self.pools.items()}  # (``_came_meanwhile``)
        self._record_layout(new, self.env.now)

    def _note_limits(self, why: Plan) -> None:
        """Note the limit sentences of ``why`` (the plan for the chips available now): they hold until the next note.

        Each kind keeps the sentence that left the most chip-hours out: its chips left out times the hours it held
        (``_weigh_limits``). By chips alone, a plan held for a day of a 31-day run named what limited the run.
        Chips under repair are not left out by the plan: a plan shrunk by failures is not the layout's doing.
        """
        self._weigh_limits()
        gap = sum(ps.available for ps in self.pools.values()) - self.plan.units_used
        self._noted = {}
        for sentence in why.limits or self._grid_limit(why):
            kind = sentence.split(":", 1)[0]
            if gap > self._noted.get(kind, (-1, "", 0))[0]:
                self._noted[kind] = (gap, self._with_available(sentence), id(why))
        self._weigh_limits()  # (a run that ends at this hour keeps them: the first note of a kind counts at 0)

    def _weigh_limits(self) -> None:
        """The sentences noted last held until now: each kind keeps its plan's that left the most chip-hours out.

        A plan noted again (another capacity change it stays the best for) adds its hours to its own; its sentence is
        its latest.
        """
        now = self.env.now
        held_h = max(now - self._noted_h, 0.0)
        self._noted_h = now
        for kind, (gap, sentence, plan_id) in self._noted.items():
            w = self._left_out.setdefault((kind, plan_id), [0.0, gap, sentence, 0.0])
            w[0] += gap * held_h
            w[1], w[2] = gap, sentence
            w[3] += held_h
            best = max((v for (k, _p), v in self._left_out.items() if k == kind), key=lambda v: (v[0], v[1]))
            self.limits[kind] = (best[1], best[2])

    def _say_how_long_limits_held(self) -> None:
        """At the run's end: a kind that held the job's plans under half the time since its first start says so.

        (A plan on a one-day rental read as what limited a run that trained ten days more on the chips left.)
        """
        if not self.layouts:
            return
        span_h = self.env.now - self.layouts[0]["start_days"] * HOURS_PER_DAY
        held: dict[str, float] = {}
        for (kind, _p), v in self._left_out.items():
            held[kind] = held.get(kind, 0.0) + v[3]
        for kind, held_h in held.items():
            if span_h > 0 and held_h < 0.5 * span_h and kind in self.limits:
                gap, sentence = self.limits[kind]
                self.limits[kind] = (gap, f"{sentence} (it held the job's plans for {_span(held_h)} of the "
                                          f"{_span(span_h)} since the job first started)")

    def _end_wait(self, until_h: float) -> None:
        """A wait with no chip after the job first trained ends: ``limits`` says how long the job stood still.

        `training_days` is the time from the first start, so such a wait counts in it: a rental that ended 20 days
        before the owned chips came read as 63 training days (the job trained 43), and nothing said so.
        """
        self._mid_waits.append((self.waiting_since_h, until_h, self._wait_why))
        total_d = sum(b - a for a, b, _why in self._mid_waits) / HOURS_PER_DAY
        a, b, why = max(self._mid_waits, key=lambda w: w[1] - w[0])
        start = self.sc.start

        def day(hour: float) -> str:
            return (start + dt.timedelta(hours=hour)).isoformat()

        more = f"{len(self._mid_waits)} waits, the longest" if len(self._mid_waits) > 1 else "one wait"
        self.limits["wait"] = (0, (
            f"wait: the job held no chip for {total_d:.1f} days after it first trained ({more} from {day(a)} to "
            f"{day(b)}: {why}); its training_days count them"))

    def _grid_limit(self, why: Plan) -> tuple[str, ...]:
        """A plan that uses every chip of its grid counts, below the chips in service: the grid is what held it.

        Plans are made for grid counts of each pool's full size (``on_grid``): 1,152 H100s in service, of a pool
        that grows to 4,096 after the job ends, were planned as 1,148, and ``limits`` said nothing.
        """
        avail = self._avail()
        grid = dict(zip(self.strategy.pools, self.strategy.grid(avail), strict=True))
        short = [p for p in self.strategy.pools if grid[p] < avail.get(p, 0)]
        if why is not self.plan or not short or why.units_used < sum(grid.values()):
            return ()
        parts = ", ".join(f"{p}: {avail[p] - grid[p]:,} of {avail[p]:,} (planned on {grid[p]:,} of its "
                          f"{self.strategy.ctx.pools[p].usable_units:,} at full size)" for p in short)
        return (f"layout: the plan uses every chip of the grid counts it was made for, {why.units_used:,} chips; "
                f"plans are made for grid counts (each pool's full size over powers of 1.005, counts aligned to powers "
                f"of two, and the counts its dated steps bring), and chips in service above them wait for the next "
                f"count: {parts}",)

    def _with_available(self, sentence: str) -> str:
        """A plan's limit sentence with the chips available now beside the grid count it was planned on.

        Plans are made for grid counts at or below the chips available (``Strategy.grid``) and shared by every
        count on that level, so the sentence names the grid count ("uses 7,672 of 8,151 chips"); 8,184 were there.
        """
        avail = self._avail()
        n_avail = sum(avail.get(p, 0) for p in self.strategy.pools)
        n_grid = sum(self.strategy.grid(avail))
        if n_grid >= n_avail:
            return sentence
        for said, now in ((f" of {n_grid:,} chips (", f" of {n_avail:,} chips (planned on {n_grid:,}, a grid count; "),
                          (f" of {n_grid:,} chips:", f" of {n_avail:,} chips (planned on {n_grid:,}, a grid count):")):
            if said in sentence:
                return sentence.replace(said, now, 1)
        return sentence

    # -- steps of the loop (SimPy generators) --------------------------------------------------------
    def _log_wait(self) -> None:
        """The ``wait`` event: training stops, too few chips of the job's pools being left for any layout."""
        self.waiting_since_h = self.env.now
        avail = self._avail()
        n = sum(avail.get(p, 0) for p in self.strategy.pools)
        # the setting is the reason only where a layout would fit on the chips there (none there: too few for any)
        held = n < self.min_units and self.strategy.plan(avail, False) is not None
        why = (f"fewer than strategy.min_units_to_start ({self.min_units:,})" if held
               else self._wait_reason or "too few for any layout")
        self._wait_reason = ""
        self._wait_why = f"{n:,} chips of its pools available, {why}"  # (``_end_wait`` says it of the longest)
        self.log("", EventKind.WAIT, 0, f"training stops: {self._wait_why}; it waits for chips")

    def _held_to_start(self) -> None:
        """Before the first start: a ``wait`` event when ``strategy.min_units_to_start``, not the chips, holds the job.

        That is, fewer chips than the setting are available and a layout would fit them (none fits: too few for
        any layout, no setting's doing). Waiting 38 days with 256 chips idle said nothing (``_started_after_hold``).
        """
        avail = self._avail()
        n = sum(avail.values())
        if not self.min_units or not 0 < n < self.min_units or self.strategy.plan(avail, False) is None:
            return
        if self._start_held is None:
            self._start_held = [self.env.now, n]
            self.log("", EventKind.WAIT, 0, f"training waits to start: {n:,} chips of its pools available, fewer than "
                                            f"strategy.min_units_to_start ({self.min_units:,}); it waits for chips")
        else:
            self._start_held[1] = max(self._start_held[1], n)

    def _started_after_hold(self) -> None:
        """The first start after ``strategy.min_units_to_start`` held the job: ``limits`` say for how long."""
        t0, n = self._start_held
        start = self.sc.start
        a, b = (start + dt.timedelta(hours=h) for h in (t0, self.env.now))
        self.limits["start"] = (0, (
            f"wait: the job first trained {(self.env.now - t0) / HOURS_PER_DAY:.1f} days after a layout fit the chips "
            f"of its pools (from {a.isoformat()} to {b.isoformat()}, up to {n:,} chips available): fewer than "
            f"strategy.min_units_to_start ({self.min_units:,})"))

    def _wait_for_capacity(self):
        """Wait for chips: a capacity step, the next repair's return (repairs send no wake-up), or the horizon."""
        self._set_training(None)
        until = self.horizon_h
        back = min((ps.next_return_h for ps in self._states), default=math.inf)
        if self.env.now < back < until:
            until = back
        yield self._changed() | self.env.timeout(max(until - self.env.now, 1e-9))
        if self.maint_every_h and self.next_maint < self.env.now:
            # the maintenance cycle counts the job's time on chips: one that waited is not due the moment it starts
            self.next_maint = self.env.now + self.maint_every_h

    def _after_wait(self) -> None:
        """After a wait for chips: resume on the last plan if it fits and nothing better came, else choose afresh.

        Far more chips may have come than the last plan uses (it would otherwise train on them to its end); the
        plan chosen on them (on their grid count) may also be slower than the last one, which fits: that one
        stays. The job stopped, so either way it restarts (switching costs nothing more).
        """
        # a job that had to wait for chips starts again as it first started: it pays the restart, not a re-plan
        # (on the last layout or another, on the chips that came back or on others)
        self.shrink_due = False
        if self.plan is None or self._plan_short():
            self.must_plan = True
            return
        cand = self._best_plan(self._avail())
        score = self.strategy.ctx.score
        if cand is not None and cand is not self.plan and score(cand) > score(self.plan):
            self.must_plan, self.next_plan = True, cand

    def _hold_for(self, wait_h: float):
        """Hold the plan's chips for ``wait_h`` hours, or until chips of the plan leave; returns the hours held.

        A stop (a restart, a maintenance pause, a re-plan) trains nothing, but the job keeps its chips: a rental's
        end or a share taken back meanwhile ends the stop there, and the job re-plans on what is left (it never
        holds chips that are gone). Other capacity changes do not end it.
        """
        wait_h = min(wait_h, max(self.horizon_h - self.env.now, 0.0))  # the run ends at the horizon, stop or not
        if not wait_h or self._plan_short():  # (chips of the plan already gone: nothing to hold)
            return 0.0
        env, start, end_h = self.env, self.env.now, self.env.now + wait_h
        timer = env.timeout(wait_h)
        while True:
            yield timer | self._changed()
            if timer.processed:
                held = wait_h
                break
            if self._plan_short():  # chips of the plan left: the plan they leave is a forced re-plan too
                held = env.now - start
                self.shrink_due = True
                break
            timer = env.timeout(max(end_h - env.now, 0.0))
        self._hold(held)
        return held

    def _restart(self):
        """Detect, reschedule and reload before training resumes (the first start too); a move first.

        When chips of the plan leave meanwhile, the restart ends there with ``pending_restart`` set: the job
        re-plans on what is left and restarts on that plan (what is left of a move's or a manual intervention's
        wait comes first; the reload starts over).
        """
        self.pending_restart = False
        move_h, manual_h, replan_h = self.pending_move_h, self.manual_due_h, self.pending_replan_h
        self.pending_move_h = self.manual_due_h = self.pending_replan_h = 0.0
        wait = move_h + manual_h + replan_h
        held = yield from self._hold_for(wait)
        if held < wait:
            # the manual intervention's wait left comes with the next restart; the checkpoint never reached the
            # plan's sites (``home`` stays): the next plan's handover counts its own transfer
            self.manual_due_h = max(manual_h - held, 0.0)
            self.pending_restart = True
            return
        if self.on and not (yield from self._restart_through_failures()):
            self.pending_restart = True
            return
        self.home = self.plan

    def _restart_through_failures(self):
        """The automated restart, which the job's failures strike (each starts it over); whether it got through.

        The failure clock runs on through it (the carried gap, else a new draw): a failure before the restart is
        through sends its node to repair, waits for its manual intervention if it needs one and starts the restart
        over (kernel._restart_end; M (e^(R/M) - 1) on average, ``reliability.restart_under_failures``). False
        when chips of the plan left or the failures left too few (the job re-plans on what is left).
        """
        r_h = self._restart_base_h(self.plan)
        mtbf_h = self._cycle().mtbf_h
        while True:
            gap = self.rng.exponential(mtbf_h) if self.fail_in_h is None else self.fail_in_h
            self.fail_in_h = None
            if gap >= r_h:
                held = yield from self._hold_for(r_h)
                self.fail_in_h = gap - held  # training hours to the next failure
                return held >= r_h
            held = yield from self._hold_for(gap)
            if held < gap:
                self.fail_in_h = gap - held
                return False
            self.events_left -= 1
            self._strike(-1.0)
            if self._plan_short():
                return False
            manual_h, self.manual_due_h = self.manual_due_h, 0.0
            held = yield from self._hold_for(manual_h)
            if held < manual_h:
                self.manual_due_h = manual_h - held
                return False

    def _advance_cycles(self, elapsed: float, cyc: _Cycle, start_h: float) -> None:
        """Move through the checkpoint cycle from hour ``start_h``: completed checkpoints save the training before them.

        What is safe at the end of each day passed is recorded on the way.
        """
        self._record_day_ends(start_h, self.env.now, cyc)
        done, kept_h, self.pos = rules.advance(self.pos, elapsed, cyc.tau, cyc.length)
        if done:
            self.saved += self._keep(kept_h)
            self.stats.checkpoints += done
            self.log("", EventKind.CHECKPOINT, done,
                     f"{done} checkpoints every {cyc.tau * 60:.1f} min ({cyc.delta * 3600:.1f} s each)")

    def _failed_pool(self) -> str:
        """Which pool the failure hit: in proportion to its chips' failure rates."""
        parts = self.plan.parts
        if len(parts) == 1:
            return parts[0].pool
        w = [part.units / self.mtbf_chip_h[part.pool] for part in parts]
        return parts[rules.pick_part(w, self.rng.random() * sum(w))].pool

    def _on_failure(self, elapsed: float, pending_h: float) -> None:
        """The work since the last checkpoint is lost; the node goes to repair; the job restarts."""
        self._hold(elapsed)
        self._send(self.plan, pending_h)  # trained, then lost: its steps sent their bytes
        self._strike(pending_h * 60.0)
        self.pos, self.pending_restart = 0.0, True
        self._record_tokens()
        # the restart is a free moment to take back repaired chips (repairs are settled lazily)
        if not self._needs_plan():
            self._faster_plan(self.env.now)

    def _strike(self, lost_min: float) -> None:
        """A failure of the plan's chips: which pool, its node's repair, its manual intervention; the restart to come.

        Its draws in the compiled loop's order (kernel.stretch). ``lost_min``: the training it lost (-1: it struck
        a restart, which starts over).
        """
        s = self.stats
        s.failures += 1
        s.restarts += 1
        where = self._failed_pool()
        repair_h = self.rng.exponential(self.rel.repair_days * HOURS_PER_DAY) if self.rel.repair_days else 0.0
        share, mean_h = self._manual(self.plan)
        manual_h = 0.0
        if share > 0:
            u = self.rng.random()
            manual_h = rules.manual_wait(u, self.rng.exponential(1.0) if u < share else 0.0, share, mean_h)
        self.manual_due_h += manual_h
        self.pools[where].fail(self.node[where], repair_h)
        self.log(where, EventKind.FAILURE, self.node[where], failure_note(lost_min))
        self.log("", EventKind.RESTART, self.plan.units_used, restart_note(manual_h))

    def _can_grow(self) -> bool:
        """Whether the plan on every usable chip (repaired or not) is faster than the current plan."""
        usable = tuple(ps.usable for ps in self.pools.values())
        if usable != self._ceiling[0]:  # memoised until the next capacity step
            self._ceiling = (usable, self.strategy.plan({n: ps.usable for n, ps in self.pools.items()}))
        ceiling = self._ceiling[1]
        return ceiling is not None and ceiling.tokens_per_s > self.plan.tokens_per_s

    def _came_meanwhile(self) -> bool:
        """Whether dated steps brought some pool more usable chips since the plan was adopted (repairs aside)."""
        before = self._usable_at_adopt
        return any(ps.usable > before.get(n, 0) for n, ps in self.pools.items())

    def _faster_plan(self, t: float) -> bool:
        """At a restart (hour ``t``): move to a faster plan if returned repairs allow one; whether it does.

        Only chips beyond those already checked can allow one (fewer chips never train faster), so the
        strategy is asked only when some pool has more chips available than at the last check, and never
        when the plan is already as fast as the plan on every usable chip.
        """
        if not self._can_grow():
            return False  # no repair can make the job faster before the next capacity step
        checked = self.checked_avail
        avail = {n: ps.available_at(t) for n, ps in self.pools.items()}
        if all(v <= checked.get(n, 0) for n, v in avail.items()):
            return False
        grid = self.strategy.grid(avail)  # the plan depends on the grid counts only
        if all(g <= c for g, c in zip(grid, self.strategy.grid(checked), strict=True)):
            self.checked_avail = {n: max(v, checked.get(n, 0)) for n, v in avail.items()}
            return False
        cand = self._best_plan(avail)
        if cand is not None and cand is not self.plan and cand.tokens_per_s > self.plan.tokens_per_s and all(
                avail[p.pool] >= p.units for p in cand.parts):
            self.must_plan, self.next_plan, self.pending_restart = True, cand, True
            return True
        self.checked_avail = avail
        return False

    def _on_capacity_change(self, finished: bool, pending_h: float) -> bool:
        """Capacity changed mid-cycle: stop when chips leave, or when a new plan pays. Returns stop."""
        if self._needs_plan():
            # capacity leaves (rental ends or repairs lag): checkpoint, then shrink, paying the re-plan
            self.shrink_due = self.shrink_due or (self.plan is not None and not self.must_plan)
            return True
        if finished:
            return False
        cand = self._best_plan(self._avail())
        left = self.target - self.saved - pending_h * self._rate_h()
        if cand is not None and cand is not self.plan and self._worth_changing(cand, left):
            self.must_plan, self.next_plan = True, cand  # change at the next checkpoint
            return True
        if cand is not None and cand is not self.plan and cand.tokens_per_s > self.plan.tokens_per_s \
                and self._pays(self.plan, cand, left):
            self._below_min_gain(cand)
        elif cand is not None and cand is not self.plan and cand.tokens_per_s <= self.plan.tokens_per_s:
            # no faster plan on the chips that came: what holds the best one below them holds the job (280 chips
            # delivered to a job on 256, whose layout takes no more, read no limit at all)
            self._note_limits(cand)
        return False

    def _below_min_gain(self, cand: Plan) -> None:
        """Say that a faster plan that would pay was left for being under ``strategy.replan_min_gain``.

        The chips it would add stay idle until a restart re-plans for free (a failure's) or the gain reaches the
        threshold; the sentence goes when the job adopts any faster plan than the one it stayed on (``_adopt``).
        """
        if self.plan.tokens_per_s <= 0:  # (a plan that trains nothing is never kept for a threshold)
            return
        gain = cand.tokens_per_s / self.plan.tokens_per_s - 1.0
        gap = cand.units_used - self.plan.units_used
        # (9.97% read "10.0% faster ..., under strategy.replan_min_gain (10%)": a figure under it never reads as it)
        said = f"{gain:.1%}" if round(gain, 3) < self.sc.strategy.replan_min_gain else f"{gain:.2%}"
        if gap > self.limits.get("re-plan", (-1, ""))[0]:
            self.limits["re-plan"] = (gap, (
                f"re-plan: a plan on {cand.units_used:,} chips would train {said} faster than the one on "
                f"{self.plan.units_used:,}, under strategy.replan_min_gain ({self.sc.strategy.replan_min_gain:.0%}): "
                "the job did not stop to re-plan onto them, and no restart did it for free"))
            self._stayed_at = self.plan.tokens_per_s  # the plan the job stayed on: any faster one ends the claim

    def _checkpoint_and_stop(self, finished: bool, cyc: _Cycle, pending_h: float):
        """A planned stop writes a checkpoint first: nothing is lost.

        When chips of the plan have just left (a rental's end, a share the jobs before it take back: both dated
        ahead), the write took the last ``delta`` hours before they went, so the job holds no chip that is gone:
        those hours' training is not kept (their chip-time was held, and counts as lost).
        """
        if self.on and not finished and self._plan_short():
            cut = max(pending_h - cyc.delta, 0.0)  # the write took its last delta hours before they went
            self._send(self.plan, pending_h - cut)  # trained, not kept
            pending_h = cut
        self.saved = min(self.target, self.saved + self._keep(pending_h))
        self.pos = 0.0
        self._record_tokens()  # safe from now: a day that ends during the write reads it
        if self.on and not finished:
            # nothing held when the chips are gone; chips that leave during the write end it there
            yield from self._hold_for(cyc.delta)

    def _maintenance(self):
        self.next_maint = self.env.now + self.maint_every_h
        self.stats.maintenance += 1
        pause = self.rel.maintenance_minutes / 60.0
        start, units = self.env.now, self.plan.units_used
        held = yield from self._hold_for(pause)
        what = f"planned interruption of {self.rel.maintenance_minutes:g} min"
        if held < pause:  # chips of the plan left during the pause: it ended there, and the job re-plans
            what += f", cut short after {held * 60:.1f} min: chips of the plan left"
        self.log("", EventKind.MAINTENANCE, units, what, at=start)
        self.pending_restart = True
        # the restart after the pause is a free moment to take back repaired chips, as a failure's is
        if not self._needs_plan():
            self._faster_plan(self.env.now)

    def _replan_overhead(self):
        yield from self._hold_for(self.sc.strategy.replan_overhead_hours)

    def _through_failures(self) -> float:
        """Train through failures and maintenance stops without simulation events; the hour reached.

        Between two capacity steps (and before the finish and the horizon) only failures and planned
        maintenance happen, and each follows the same rules as in the main loop: at a failure the work
        since the last checkpoint is lost, the node goes to repair and the job restarts on its spare chips
        (or, as ``_on_failure`` does, on a faster plan that returned repairs allow); a maintenance stop
        checkpoints first, pauses and restarts. The compiled loop ``kernel.stretch`` applies them (thousands
        per replication); Python answers what only Python can (draws, room, the strategy at a growth check)
        and writes the state back as the main loop expects it. TrainingJob.FAST=False takes the named steps
        instead (the same rules: tests/test_engine_truth.py checks that both give the same run).
        """
        t0 = self.env.now
        plan = self.plan
        states = self._states
        repairs = states[0].repairs
        k = self._plan_consts(plan)
        loop = self._kernel_loop(len(repairs.n))
        fs = k.fs.copy()
        fs[_F_RATE] = self._rate_h()  # the plan's speed times this replication's model factor
        fs[_F_T], fs[_F_POS], fs[_F_SAVED], fs[_F_NEXT_RECORD] = t0, self.pos, self.saved, t0
        fs[kernel.F_NEXT_DAY] = t0 // HOURS_PER_DAY  # the first day whose end the stretch may pass
        fs[_F_CARRY] = math.nan if self.fail_in_h is None else self.fail_in_h
        fs[_F_NEXT_MAINT] = self.next_maint if self.maint_every_h else math.inf
        # a capacity step in any of the strategy's pools (not only the plan's) may change the plan
        fs[_F_LIMIT] = min(min(ps.next_step_h for ps in states), self.horizon_h)
        self.fail_in_h = None
        ist = self._ist
        ist[:] = self._ist0
        ist[kernel.I_EVENTS_LEFT] = self.events_left
        ist[kernel.I_CAN_GROW] = self._can_grow()  # usable chips do not change inside this stretch
        usable, failed, grow_at = self._usable, self._failed, self._grow_at_row
        for ps in states:
            usable[ps.row], failed[ps.row] = ps.usable, ps.failed
        self._grow_at(grow_at)
        self._put_checked()
        loop.fs = fs
        loop.rows, loop.part_row, loop.part_units, loop.part_node, loop.part_w, loop.part_share = k.arrays
        loop.spare = np.zeros(len(plan.parts), dtype=np.int64)
        loop.repairs(repairs)
        self._room_for_events(repairs)  # the loop's first settle may log every repair that came due
        draws = self.rng
        if draws.exp is not self._loop_exp or draws.uni is not self._loop_uni:
            loop.ex, loop.un = self._loop_exp, self._loop_uni = draws.exp, draws.uni
        manual = int(fs[kernel.F_MANUAL_SHARE] > 0)  # one more uniform (and maybe exponential) per failure
        need_uni = (1 if len(plan.parts) > 1 else 0) + manual
        while True:
            self._room_for_tokens(k.shares)
            ist[_I_EXP], ist[_I_UNI] = draws.exp_i, draws.uni_i
            status = loop.run()
            draws.exp_i, draws.uni_i = int(ist[_I_EXP]), int(ist[_I_UNI])
            if ist[_I_EVENTS]:
                for ps in states:
                    ps.failed = int(failed[ps.row])
                self._flush_events(self._ev_i, self._ev_f, int(ist[_I_EVENTS]), states, fs[kernel.F_TAU],
                                   fs[kernel.F_DELTA], plan.units_used)
                ist[_I_EVENTS] = 0
            if status == kernel.DRAWS:  # (a restart read ahead through its failures may need more)
                draws.top_up(max(2 + manual, int(ist[kernel.I_NEED_EXP])), max(need_uni, int(ist[kernel.I_NEED_UNI])))
                loop.ex, loop.un = self._loop_exp, self._loop_uni = draws.exp, draws.uni
                continue
            if ist[_I_TOKENS] and (self.record or ist[_I_TOKENS] >= len(self._tk)):  # else once, at the end
                self._flush_tokens(int(ist[_I_TOKENS]), k.shares)
                ist[_I_TOKENS] = 0
            if status == kernel.ROOM:
                if int(repairs.n[k.arrays[1]].max()) >= repairs.t.shape[1]:
                    repairs.grow()
                    loop.repairs(repairs)
                self._room_for_events(repairs)
                continue
            if status == kernel.RECORD:
                continue
            for ps in states:
                ps.failed = int(failed[ps.row])
            if status == kernel.DONE:
                break
            self.saved = float(fs[_F_SAVED])  # GROW: the strategy weighs a change on what is safe now
            self._take_checked()  # the loop may have raised the checks (kernel._no_faster_plan)
            # at the failure's (or the stop's) hour, as the named steps ask: SimPy's clock is still at the stretch's
            # start (read there, a sequential job's moves were timed from it, and it moved where the named steps did
            # not)
            self._at_h = float(fs[_F_T])
            try:
                faster = self._faster_plan(self._at_h)
            finally:
                self._at_h = None
            if faster:  # the main loop re-plans and restarts
                break
            self._grow_at(grow_at)
            self._put_checked()
        if ist[_I_TOKENS]:
            self._flush_tokens(int(ist[_I_TOKENS]), k.shares)
            ist[_I_TOKENS] = 0
        self._take_checked()  # the loop may have raised the checks (kernel._no_faster_plan)
        s = self.stats
        t, pos, saved, fail_in, next_maint, held_h, kept_h, unsaved, lost_h = fs[_F_OUT].tolist()
        self.saved, self.pos = saved, pos
        self.fail_in_h = None if math.isnan(fail_in) else fail_in
        self.manual_due_h += float(fs[kernel.F_MANUAL_DUE])  # a failure's wait the loop left to the restart
        if self.maint_every_h:
            self.next_maint = next_maint
        checkpoints, failures, maintenance, self.events_left, pending = ist[_I_OUT].tolist()
        if pending:
            self.pending_restart = True
        self._share_tokens(unsaved, k.shares)
        units = plan.units_used
        s.held_chip_h += units * held_h
        s.energy_kwh += k.kwh_h * held_h
        s.kept_chip_h += units * kept_h
        s.flops_chip_h += units * kept_h * plan.mfu * self._factor(plan)
        self._send(plan, kept_h + lost_h)  # the training kept and the training lost to failures
        s.checkpoints += checkpoints
        s.failures += failures
        s.restarts += failures
        s.maintenance += maintenance
        if t > self.env.now:
            self._record_tokens(at=t)
        return t

    def _plan_consts(self, plan: Plan) -> _Stretch:
        """What the compiled loop needs of a plan that does not change while a job trains on it.

        Memoised on the strategy (its plans are memoised too), so replications share it; the speed, which
        carries each replication's model factor, is set per stretch.
        """
        memo = self.strategy.loop_consts
        k = memo.get(id(plan))
        if k is not None and k.plan is plan and k.on == self.on:
            return k
        states = self._states
        cyc = self._cycle()
        weights = [p.units / self.mtbf_chip_h[p.pool] for p in plan.parts]
        fs = np.zeros(kernel.N_FLOAT)
        fs[kernel.F_TAU], fs[kernel.F_DELTA], fs[kernel.F_LENGTH] = cyc.tau, cyc.delta, cyc.length
        fs[kernel.F_MTBF], fs[kernel.F_RESTART] = cyc.mtbf_h, self._restart_base_h(plan)  # (its failures drawn)
        fs[kernel.F_MANUAL_SHARE], fs[kernel.F_MANUAL_MEAN] = self._manual(plan) if self.on else (0.0, 0.0)
        fs[kernel.F_TARGET] = self.target
        fs[kernel.F_REPAIR_MEAN] = self.rel.repair_days * HOURS_PER_DAY
        fs[kernel.F_MAINT_EVERY], fs[kernel.F_PAUSE] = self.maint_every_h, self.rel.maintenance_minutes / 60.0
        fs[kernel.F_TOTAL_W] = sum(weights)
        # a grid in whole servers (a portfolio's later jobs) is the strategy's alone to read: the loop asks it (-1)
        fs[kernel.F_GRID_RATIO] = -1.0 if self.strategy.ctx.grid_node else self.strategy.ctx.grid_ratio
        fs[kernel.F_HELD] = fs[kernel.F_KEPT] = fs[kernel.F_UNSAVED] = fs[kernel.F_LOST] = 0.0
        fs[kernel.F_NEXT_RETURN] = math.inf
        shares = [(p, plan.share_of(p)) for p in plan.pools]
        arrays = (np.array([ps.row for ps in states], dtype=np.int64),
                  np.array([self.pools[p.pool].row for p in plan.parts], dtype=np.int64),
                  np.array([p.units for p in plan.parts], dtype=np.int64),
                  np.array([self.node[p.pool] for p in plan.parts], dtype=np.int64),
                  np.array(weights), np.array([share for _name, share in shares]))
        k = _Stretch(plan, self.on, fs, arrays, shares, sum(self.kwh_per_chip_h[p.pool] * p.units for p in plan.parts))
        memo[id(plan)] = k
        return k

    def _kernel_loop(self, rows: int) -> kernel.Loop:
        """The job's compiled loop with its per-job arrays (made at the first stretch, reused after)."""
        if self._loop is None:
            self._loop = loop = kernel.Loop()
            self._track = any(ps.track for ps in self._states)
            self._usable = loop.usable = np.zeros(rows, dtype=np.int64)
            self._failed = loop.failed = np.zeros(rows, dtype=np.int64)
            self._grow_at_row = loop.grow_at = np.full(rows, np.inf)
            self._pool_tok = loop.pool_tok = np.zeros(max(len(self.strategy.pools), 1))
            self._tk = loop.tk = np.zeros((512, 2))
            logged = self.record or self._track
            self._ev_i = loop.ev_i = np.zeros((256 if logged else 1, 3), dtype=np.int64)
            self._ev_f = loop.ev_f = np.zeros((len(self._ev_i), 2))
            self._ist = loop.ist = np.zeros(kernel.N_INT, dtype=np.int64)
            self._ist0 = np.zeros(kernel.N_INT, dtype=np.int64)
            self._ist0[kernel.I_RECORD], self._ist0[kernel.I_TRACK] = self.record, self._track
            self._ist0[kernel.I_ENTRY] = 1
            self._loop_exp = self._loop_uni = None
            self._checked = loop.checked = np.zeros(rows, dtype=np.int64)
            full = np.zeros(rows, dtype=np.int64)
            for ps in self._states:
                full[ps.row] = self.strategy.full_units(ps.pool.name)
            loop.full = full
            lv = {ps.row: self.strategy.ctx.dated.get(ps.pool.name, ()) for ps in self._states}  # (``Strategy.grid``'s)
            levels = np.zeros((rows, max([1, *map(len, lv.values())])), dtype=np.int64)
            for row, v in lv.items():
                levels[row, :len(v)] = v
            loop.levels = levels
        return self._loop

    def _room_for_events(self, repairs: Repairs) -> None:
        """An event buffer (tables and tracked runs only) that holds every repair of every pool at once, and more.

        ``kernel.stretch`` asks for this much room before each interruption (ROOM).
        """
        need = repairs.t.shape[1] * len(self._states) + 8
        if (self.record or self._track) and need > len(self._ev_i):
            self._loop.ev_i = self._ev_i = np.zeros((2 * need, 3), dtype=np.int64)
            self._loop.ev_f = self._ev_f = np.zeros((len(self._ev_i), 2))

    def _room_for_tokens(self, shares: list) -> None:
        """Room in the token buffer for every row the stretch may still record before its limit (kernel.token_rows)."""
        fs, ist = self._loop.fs, self._ist
        need = kernel.token_rows(fs[_F_T], fs[_F_LIMIT])
        if int(ist[_I_TOKENS]) + need <= len(self._tk):
            return
        if ist[_I_TOKENS]:
            self._flush_tokens(int(ist[_I_TOKENS]), shares)
            ist[_I_TOKENS] = 0
        if need > len(self._tk):
            self._loop.tk = self._tk = np.zeros((2 * need, 2))

    def _put_checked(self) -> None:
        """The chips per pool on which no faster plan exists, for the compiled loop (it may raise them)."""
        checked = self._checked
        for name, v in self.checked_avail.items():
            checked[self.pools[name].row] = v

    def _take_checked(self) -> None:
        """The checks as the compiled loop left them."""
        checked = self._checked
        self.checked_avail = {name: int(checked[self.pools[name].row]) for name in self.checked_avail}

    def _grow_at(self, out: np.ndarray) -> None:
        """Per row of the strategy's pools, the chips at which a faster plan than the current one may exist."""
        for name, at in self.strategy.grow_thresholds(self.checked_avail).items():
            out[self.pools[name].row] = at

    def _flush_tokens(self, n: int, shares: list) -> None:
        """The safe tokens the compiled loop recorded (replication 0: with each pool's share of them)."""
        pool_tok, tk = self._pool_tok, self._tk
        if self.record:  # each row by pool: what the pools had kept before these rows, and the plan's shares since
            for t, saved in tk[:n].tolist():
                self._record_tokens(at=t, saved=saved)
            self.saved = float(tk[n - 1, 1])
        else:
            self.tokens_tl.extend(tk[:n, 0], tk[:n, 1])
        for j, (name, _share) in enumerate(shares):
            self.pool_tokens[name] += float(pool_tok[j])
        pool_tok[:] = 0.0

    def _flush_events(self, ev_i: np.ndarray, ev_f: np.ndarray, n: int, states: list, tau: float, delta: float,
                      units: int) -> None:
        """The events and failed-chip changes the compiled loop logged, in order."""
        if not self.record:  # a tracked run logs only its pools' failed chips: each pool's changes at once
            failed = ev_i[:n, 0] == kernel.E_FAILED
            rows, counts, times = ev_i[:n, 1], ev_i[:n, 2], ev_f[:n, 0]
            for ps in states:
                mine = failed & (rows == ps.row)
                if mine.any():
                    ps.failed_tl.extend(times[mine], counts[mine])
            return
        by_row = {ps.row: ps for ps in states}
        note = f"checkpoints every {tau * 60:.1f} min ({delta * 3600:.1f} s each)"
        maint = f"planned interruption of {self.rel.maintenance_minutes:g} min"
        log = self.log
        for (kind, row, count), (t, x) in zip(ev_i[:n].tolist(), ev_f[:n].tolist(), strict=True):
            if kind == kernel.E_FAILED:
                by_row[row].failed_tl.set(t, count)
            elif kind == kernel.E_CHECKPOINT:
                log("", EventKind.CHECKPOINT, count, f"{count} {note}", at=t)
            elif kind == kernel.E_MAINTENANCE:
                log("", EventKind.MAINTENANCE, units, maint, at=t)
            elif kind == kernel.E_FAILURE:
                log(by_row[row].pool.name, EventKind.FAILURE, count, failure_note(x), at=t)
            elif kind == kernel.E_RESTART:
                log("", EventKind.RESTART, units, restart_note(x), at=t)
            elif kind == kernel.E_REPAIR:
                ps = by_row[row]
                ps.repair_events.append(Event(t, ps.pool.name, EventKind.REPAIR, int(count), f"after {x:.1f} h"))

    def _share_tokens(self, tokens: float, shares: list) -> float:
        """Tokens kept by the current plan go to its pools by their shares; returns 0 (nothing left to share)."""
        for name, share in shares:
            self.pool_tokens[name] += tokens * share
        return 0.0

    # -- the process ---------------------------------------------------------------------------------
    def run(self):
        """The SimPy process of the job, until it finishes or reaches the horizon."""
        env, s = self.env, self.stats
        while self.saved < self.target:
            self.events_left -= 1
            if self.events_left <= 0:
                self.log("", EventKind.GIVE_UP, 0, f"stopped after {EVENT_BUDGET:,} interruptions (the event budget): "
                                           "failures or stops come too often for the job to finish")
                break
            if env.now >= self.horizon_h:
                if self.plan is not None and self.pos > 0:  # what trained since the last checkpoint counts
                    kept = self._keep(rules.pending_hours(self.pos, self._cycle().tau))
                    self.saved = min(self.target, self.saved + kept)
                    self.pos = 0.0
                self.log("", EventKind.GIVE_UP, 0, f"horizon of {self.sc.horizon_days:g} days reached")
                if self.waiting_since_h is not None:
                    self._end_wait(env.now)
                break
            if self._needs_plan():
                new = self._choose_plan()
                if new is None:  # not enough chips: wait for the supply
                    if self.plan is not None and self.waiting_since_h is None:
                        self._log_wait()
                    elif self.plan is None:
                        self._held_to_start()
                    self._close_layout(env.now)  # (its layout holds no chip while it waits: the table's rows end)
                    yield from self._wait_for_capacity()
                    self._after_wait()
                    continue
                if self.plan is None and self._start_held is not None:
                    self._started_after_hold()
                self._adopt(new)
            self._set_training(self.plan)
            if self.waiting_since_h is not None:  # back on the plan it trained on before the wait
                self._record_layout(self.plan, env.now)  # (a row of its own: the one before ended at the wait)
                self.log("", EventKind.RESTART, self.plan.units_used,
                         f"resumes on its last plan after {fmt_duration(self.env.now - self.waiting_since_h)} "
                         "without enough chips")
                self._end_wait(env.now)
                self.waiting_since_h = None
            if self.pending_restart:
                before = [ps.usable for ps in self._states]
                yield from self._restart()
                if self.pending_restart:  # chips of the plan left during it: re-plan on what is left first
                    continue
                # chips that came during it (a re-plan's overhead, a move): weighed now, as a step during training
                # is (their wake-up fired while the job held: 2,796 chips came in a 48-hour re-plan, and the job
                # trained on 1,260 of 4,096 for 77 days). Only those: chips that came at an earlier step were weighed
                # there (asked again after every later restart, the named steps re-planned where the loop did not)
                if any(ps.usable > b for ps, b in zip(self._states, before, strict=True)) \
                        and self._on_capacity_change(False, 0.0):
                    continue
            if self.on and self.FAST and not self.must_plan:
                reached = self._through_failures()
                if reached > env.now:
                    yield env.timeout(reached - env.now)
                    if self.pending_restart:
                        continue
            rate_h = self._rate_h()
            cyc = self._cycle()
            pending_h = rules.pending_hours(self.pos, cyc.tau)
            # never, on a plan expected to keep nothing (goodput 0)
            t_finish = rules.hours_to_finish(self.target - self.saved, rate_h, self.pos, cyc.tau, cyc.length)
            t_fail = math.inf
            if self.on:
                t_fail = self.rng.exponential(cyc.mtbf_h) if self.fail_in_h is None else self.fail_in_h
            t_maint = max(self.next_maint - env.now, 0.0) if self.maint_every_h else math.inf
            wait = min(t_finish, t_fail, t_maint, max(self.horizon_h - env.now, 0.0))
            start = env.now
            timer, changed = env.timeout(wait), self._changed()
            yield timer | changed
            elapsed = env.now - start
            failed = self.on and timer.processed and wait == t_fail
            # the failure still to come after an outside event (none when it fired: the next one is drawn
            # afresh; ``elapsed`` may fall a rounding step short of ``t_fail``, which is no time to the next)
            self.fail_in_h = t_fail - elapsed if self.on and not failed else None
            self._advance_cycles(elapsed, cyc, start)
            pending_h = rules.pending_hours(self.pos, cyc.tau)
            if failed:
                self._on_failure(elapsed, pending_h)
                continue
            self._hold(elapsed)
            # or what is left takes less time than the clock can tell from now (it would step by zero for ever)
            finished = (self.saved + pending_h * rate_h >= self.target * (1 - 1e-9)
                        or (timer.processed and wait == t_finish and start + wait == start))
            maintenance = timer.processed and wait == t_maint
            stop = finished or maintenance
            if not timer.processed:
                stop = self._on_capacity_change(finished, pending_h) or stop
            if stop:
                yield from self._checkpoint_and_stop(finished, cyc, pending_h)
            self._record_tokens()
            if finished:
                s.finished, s.finish_h = True, env.now
                self.log("", EventKind.FINISH, self.plan.units_used, f"{self.target:.3g} tokens trained")
                break
            if maintenance:
                yield from self._maintenance()
            elif self.must_plan:
                yield from self._replan_overhead()
            elif stop:
                self.pending_restart = True
        s.tokens = self.saved
        # the unproductive share of kept training time is not kept chip-time (goodput counts it lost)
        s.kept_chip_h *= self.productive
        s.flops_chip_h *= self.productive
        self._set_training(None)
        self._record_tokens()
        self._close_layout(env.now)
        self._weigh_limits()
        self._say_how_long_limits_held()


def _span(hours: float) -> str:
    """Hours as a limit sentence reads them: hours or minutes under two days, days above."""
    return fmt_duration(hours) if hours < 48 else f"{hours / HOURS_PER_DAY:,.1f} days"


def failure_note(lost_min: float) -> str:
    """What a failure says: the training it lost, or (``lost_min`` < 0) that it struck a restart."""
    if lost_min < 0:
        return "during the restart: it starts over (no training to lose)"
    return f"lost {lost_min:.1f} min of training"


def restart_note(manual_h: float) -> str:
    """What a restart after a failure says: the wait for a manual intervention, when it had one."""
    if manual_h > 0:
        return f"restart from the last checkpoint after {manual_h:.1f} h of manual intervention"
    return "restart from the last checkpoint"


def event_log(env: simpy.Environment, events: list[Event]):
    """A ``log(pool, kind, units, detail, at=None)`` callable that appends typed events (at ``at`` or now)."""
    def log(pool_name: str, kind: str, units: int, detail: str = "", at: float | None = None) -> None:
        events.append(Event(env.now if at is None else at, pool_name, kind, int(units), detail))

    return log
