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

import math
from dataclasses import dataclass, field

import numpy as np
import simpy

from .. import costs
from ..perf.params import count_params
from ..perf.search import LayoutPlanner, LayoutResult
from ..results import Event
from ..scenario import Pool, Scenario
from ..units import HOURS_PER_DAY, SECONDS_PER_HOUR
from . import reliability as rel
from .supply import Step


@dataclass
class Timeline:
    """A piecewise-constant quantity recorded at change points (hours)."""

    times: list[float] = field(default_factory=lambda: [0.0])
    values: list[float] = field(default_factory=lambda: [0.0])

    def set(self, t: float, v: float) -> None:
        """The value is ``v`` from hour ``t`` on."""
        if t == self.times[-1]:
            self.values[-1] = v
        else:
            self.times.append(t)
            self.values.append(v)

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


class PoolState:
    """Chips of one pool over time: usable (commissioned or rented, not reserved) and failed."""

    def __init__(self, env: simpy.Environment, pool: Pool, steps: list[Step], log):
        self.env, self.pool, self.steps, self.log = env, pool, steps, log
        self.usable = 0
        self.failed = 0
        self.delivered = Timeline()
        self.in_service = Timeline()
        self.failed_tl = Timeline()
        self.changed = env.event()

    @property
    def available(self) -> int:
        """Usable chips that are not under repair."""
        return max(0, self.usable - self.failed)

    def _notify(self, kind: str) -> None:
        """Wake whoever waits on ``changed``; its value says why: "supply" or "repair"."""
        ev, self.changed = self.changed, self.env.event()
        ev.succeed(kind)

    def supply(self):
        """Process: apply the dated capacity steps."""
        delivered = 0
        for s in self.steps:
            if s.time_h > self.env.now:
                yield self.env.timeout(s.time_h - self.env.now)
            if s.kind == "delivery":
                delivered += s.delta_units
                self.delivered.set(self.env.now, delivered)
            else:
                self.usable += s.delta_units
                self.failed = min(self.failed, self.usable)
                self.in_service.set(self.env.now, self.usable)
                self._notify("supply")
            self.log(self.pool.name, s.kind, s.delta_units, s.detail)

    def fail(self, units: int, repair_h: float):
        """A node fails: its chips are out until repaired."""
        units = min(units, self.available)
        self.failed += units
        self.failed_tl.set(self.env.now, self.failed)
        self.env.process(self._repair(units, repair_h))

    def _repair(self, units: int, repair_h: float):
        yield self.env.timeout(repair_h)
        self.failed = max(0, self.failed - units)
        self.failed_tl.set(self.env.now, self.failed)
        self.log(self.pool.name, "repair", units, f"after {repair_h:.1f} h")
        self._notify("repair")


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


class TrainingJob:
    """The elastic training job on one pool (the seam where the mixing strategies plug in their capacity).

    ``run`` is the SimPy process; each pass of its loop (re)chooses a layout when it must, pays a
    pending restart, trains until the next event (finish, failure, maintenance, a capacity change or
    the horizon) and handles that event.
    """

    def __init__(self, env, scenario: Scenario, pool: PoolState, planner: LayoutPlanner, rng, log):
        self.env, self.sc, self.pool, self.planner, self.rng, self.log = env, scenario, pool, planner, rng, log
        r = scenario.reliability
        self.rel = r
        self.on = r.enabled
        self.chip = scenario.chip(pool.pool.chip)
        self.mtbf_chip_days = pool.pool.mtbf_chip_days or r.mtbf_chip_days or self.chip.mtbf_chip_days
        self.node = self.chip.chips_per_node
        self.params = count_params(scenario.workload.arch).total
        self.write_h = rel.checkpoint_write_hours(self.params, r.storage_gbyteps, r.checkpoint_write_s)
        self.stats = JobStats()
        self.in_training = Timeline()
        self.tokens_tl = Timeline()  # tokens safe in a checkpoint, recorded when they change
        self.layouts: list[dict] = []
        self.min_units = max(planner.min_units, scenario.strategy.min_units_to_start or 0)
        self.horizon_h = scenario.horizon_days * HOURS_PER_DAY
        self.target = scenario.workload.tokens
        self.maint_every_h = (r.maintenance_every_days or 0) * HOURS_PER_DAY if self.on else 0.0
        # the job's state between passes of the loop
        self.plan: LayoutResult | None = None
        self.next_plan: LayoutResult | None = None  # the layout a decided re-plan moves to
        self.must_plan = True
        self.pending_restart = True  # the first start pays the start-up like a restart
        self.pos = 0.0  # position in the current checkpoint cycle [h]
        self.saved = 0.0  # tokens safe in the last checkpoint
        self.next_maint = self.maint_every_h

    # -- accounting ----------------------------------------------------------------------------------
    def _hold(self, units: int, hours: float) -> None:
        """The job held ``units`` chips for ``hours`` (whatever it did with them)."""
        s = self.stats
        s.held_chip_h += units * hours
        s.energy_kwh += costs.energy_kwh(self.sc, self.chip, units * hours)

    def _keep(self, train_h: float) -> float:
        """Training hours on the current layout are now safe in a checkpoint: count their chip-time as good.

        Returns the tokens they trained.
        """
        s, plan = self.stats, self.plan
        s.kept_chip_h += plan.units_used * train_h
        s.flops_chip_h += plan.units_used * train_h * plan.mfu
        return train_h * plan.tokens_per_s * SECONDS_PER_HOUR

    def _record_layout(self, r: LayoutResult, start_h: float) -> None:
        self._close_layout(start_h)
        self.layouts.append({"start_days": start_h / HOURS_PER_DAY, "end_days": None, "pool": self.pool.pool.name,
                             "units": r.units_used, **r.layout.as_dict(), "tokens_per_s": r.tokens_per_s,
                             "mfu": r.mfu})

    def _close_layout(self, end_h: float) -> None:
        if self.layouts and self.layouts[-1]["end_days"] is None:
            self.layouts[-1]["end_days"] = end_h / HOURS_PER_DAY

    # -- decisions -----------------------------------------------------------------------------------
    def _restart_h(self, units: int) -> float:
        return rel.restart_hours(units, self.rel.restart_base_minutes, self.rel.restart_minutes_per_1000_chips)

    def _cycle(self, units: int) -> _Cycle:
        mtbf_h = rel.job_mtbf_hours(self.mtbf_chip_days, units)
        if not self.on:
            return _Cycle(math.inf, 0.0, mtbf_h)
        iv = self.rel.checkpoint_interval_hours
        tau = rel.young_daly_interval_hours(self.write_h, mtbf_h) if iv == "auto" else float(iv)
        return _Cycle(tau, self.write_h, mtbf_h)

    def _worth_growing(self, cand: LayoutResult, tokens_left: float) -> bool:
        """Re-plan onto more chips when it pays.

        That is: faster by replan_min_gain, and still sooner to finish after the re-plan overhead and the restart.
        """
        st, plan = self.sc.strategy, self.plan
        if cand.tokens_per_s < plan.tokens_per_s * (1 + st.replan_min_gain):
            return False
        cost_h = st.replan_overhead_hours + (self._restart_h(cand.units_used) if self.on else 0.0)
        now_h = tokens_left / (plan.tokens_per_s * SECONDS_PER_HOUR)
        return cost_h + tokens_left / (cand.tokens_per_s * SECONDS_PER_HOUR) < now_h

    def _needs_layout(self) -> bool:
        return self.must_plan or self.plan is None or self.pool.available < self.plan.units_used

    def _choose_layout(self) -> LayoutResult | None:
        """The layout to train on now, or None when too few chips are available."""
        avail = self.pool.available
        if avail < self.min_units:
            new = None
        elif self.plan is not None and not self.must_plan:
            new = self.planner.resize(self.plan, avail)  # shrink around failed or departed chips
        elif self.must_plan and self.next_plan is not None and self.next_plan.units_used <= avail:
            new = self.next_plan  # the layout chosen when growing was decided
        else:
            new = self.planner.layout(avail)
        self.next_plan = None
        return new

    def _adopt(self, new: LayoutResult) -> None:
        if self.plan is None:
            self.log("", "start", new.units_used, f"job starts on {new.units_used:,} chips")
        else:
            self.stats.replans += 1
            self.log("", "replan", new.units_used, f"{self.plan.units_used:,} -> {new.units_used:,} chips")
            self.pending_restart = True
        self.plan, self.must_plan = new, False
        self._record_layout(new, self.env.now)

    # -- steps of the loop (SimPy generators) --------------------------------------------------------
    def _wait_for_capacity(self):
        self.in_training.set(self.env.now, 0)
        yield self.pool.changed | self.env.timeout(max(self.horizon_h - self.env.now, 1e-9))

    def _restart(self, units: int):
        """Detect, reschedule and reload before training resumes (the first start too)."""
        self.pending_restart = False
        if self.on:
            r_h = self._restart_h(units)
            yield self.env.timeout(r_h)
            self._hold(units, r_h)

    def _advance_cycles(self, elapsed: float, cyc: _Cycle, pending_h: float) -> None:
        """Move through the checkpoint cycle: completed checkpoints save the training done before them."""
        x = self.pos + elapsed
        done = int(x // cyc.length) if self.on else 0
        if done:
            self.saved += self._keep((cyc.tau - pending_h) + (done - 1) * cyc.tau)
            self.stats.checkpoints += done
            self.log("", "checkpoint", done,
                     f"{done} checkpoints every {cyc.tau * 60:.1f} min ({cyc.delta * 3600:.1f} s each)")
        self.pos = x - done * cyc.length if self.on else x

    def _on_failure(self, units: int, elapsed: float, pending_h: float) -> None:
        """The work since the last checkpoint is lost; the node goes to repair; the job restarts."""
        s = self.stats
        self._hold(units, elapsed)
        s.failures += 1
        repair_h = self.rng.exponential(self.rel.repair_days * HOURS_PER_DAY) if self.rel.repair_days else 0.0
        self.pool.fail(self.node, repair_h)
        self.log(self.pool.pool.name, "failure", self.node, f"lost {pending_h * 60:.1f} min of training")
        self.log("", "restart", units, "restart from the last checkpoint")
        s.restarts += 1
        self.pos, self.pending_restart = 0.0, True
        self.tokens_tl.set(self.env.now, self.saved)

    def _on_capacity_change(self, units: int, finished: bool, why: str, pending_h: float, rate_h: float) -> bool:
        """Capacity changed mid-cycle: stop when chips leave, or when growing onto new ones pays. Returns stop."""
        avail = self.pool.available
        if avail < units:
            return True  # capacity leaves (rental ends or repairs lag): checkpoint, then shrink
        if finished:
            return False
        # more chips: new deliveries may change the best layout, returning repairs only its dp
        cand = self.planner.layout(avail) if why == "supply" else self.planner.resize(self.plan, avail)
        if cand is not None and self._worth_growing(cand, self.target - self.saved - pending_h * rate_h):
            self.must_plan, self.next_plan = True, cand  # grow at the next checkpoint
            return True
        return False

    def _checkpoint_and_stop(self, units: int, finished: bool, cyc: _Cycle, pending_h: float):
        """A planned stop writes a checkpoint first: nothing is lost."""
        self.saved = min(self.target, self.saved + self._keep(pending_h))
        self.pos = 0.0
        if self.on and not finished:
            yield self.env.timeout(cyc.delta)
            self._hold(units, cyc.delta)

    def _maintenance(self, units: int):
        self.next_maint = self.env.now + self.maint_every_h
        self.stats.maintenance += 1
        pause = self.rel.maintenance_minutes / 60.0
        self.log("", "maintenance", units, f"planned interruption of {self.rel.maintenance_minutes:g} min")
        yield self.env.timeout(pause)
        self._hold(units, pause)
        self.pending_restart = True

    def _replan_overhead(self, units: int):
        over = self.sc.strategy.replan_overhead_hours
        yield self.env.timeout(over)
        self._hold(units, over)

    # -- the process ---------------------------------------------------------------------------------
    def run(self):
        """The SimPy process of the job, until it finishes or reaches the horizon."""
        env, s = self.env, self.stats
        while self.saved < self.target:
            if env.now >= self.horizon_h:
                self.log("", "give_up", 0, f"horizon of {self.sc.horizon_days:g} days reached")
                break
            if self._needs_layout():
                new = self._choose_layout()
                if new is None:  # not enough chips: wait for the supply
                    yield from self._wait_for_capacity()
                    continue
                self._adopt(new)
            units, rate_h = self.plan.units_used, self.plan.tokens_per_s * SECONDS_PER_HOUR
            self.in_training.set(env.now, units)
            if self.pending_restart:
                yield from self._restart(units)
            cyc = self._cycle(units)
            pending_h = min(self.pos, cyc.tau)
            need_h = max(self.target - self.saved, 0.0) / rate_h - pending_h  # training hours still to do
            t_finish = need_h * (cyc.length / cyc.tau) if self.on else need_h
            t_fail = self.rng.exponential(cyc.mtbf_h) if self.on else math.inf
            t_maint = max(self.next_maint - env.now, 0.0) if self.maint_every_h else math.inf
            wait = min(t_finish, t_fail, t_maint, max(self.horizon_h - env.now, 0.0))
            start = env.now
            timer, changed = env.timeout(wait), self.pool.changed
            yield timer | changed
            elapsed = env.now - start
            self._advance_cycles(elapsed, cyc, pending_h)
            pending_h = min(self.pos, cyc.tau)
            if self.on and timer.processed and wait == t_fail:
                self._on_failure(units, elapsed, pending_h)
                continue
            self._hold(units, elapsed)
            finished = self.saved + pending_h * rate_h >= self.target * (1 - 1e-9)
            maintenance = timer.processed and wait == t_maint
            stop = finished or maintenance
            if not timer.processed:
                stop = self._on_capacity_change(units, finished, changed.value, pending_h, rate_h) or stop
            if stop:
                yield from self._checkpoint_and_stop(units, finished, cyc, pending_h)
            self.tokens_tl.set(env.now, self.saved)
            if finished:
                s.finished, s.finish_h = True, env.now
                self.log("", "finish", units, f"{self.target:.3g} tokens trained")
                break
            if maintenance:
                yield from self._maintenance(units)
            elif self.must_plan:
                yield from self._replan_overhead(units)
            elif stop:
                self.pending_restart = True
        s.tokens = self.saved
        self.in_training.set(env.now, 0)
        self._close_layout(env.now)


def event_log(env: simpy.Environment, events: list[Event]):
    """A ``log(pool, kind, units, detail)`` callable that appends typed events at the current time."""
    def log(pool_name: str, kind: str, units: int, detail: str = "") -> None:
        events.append(Event(env.now, pool_name, kind, int(units), detail))

    return log
