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

from ..perf.params import count_params
from ..perf.search import LayoutResult, LayoutPlanner
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
        if t == self.times[-1]:
            self.values[-1] = v
        else:
            self.times.append(t)
            self.values.append(v)

    def at(self, ts: np.ndarray) -> np.ndarray:
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


class TrainingJob:
    """The elastic training job on one pool (the seam where the mixing strategies plug in their capacity)."""

    def __init__(self, env, scenario: Scenario, pool: PoolState, planner: LayoutPlanner, rng, log):
        self.env, self.sc, self.pool, self.planner, self.rng, self.log = env, scenario, pool, planner, rng, log
        r = scenario.reliability
        self.rel = r
        chip = scenario.chip(pool.pool.chip)
        self.mtbf_chip_days = pool.pool.mtbf_chip_days or r.mtbf_chip_days or chip.mtbf_chip_days
        self.node = chip.chips_per_node
        self.tdp_kw = chip.tdp_w / 1000.0
        self.params = count_params(scenario.workload.arch).total
        self.write_h = rel.checkpoint_write_hours(self.params, r.storage_gbyteps, r.checkpoint_write_s)
        self.stats = JobStats()
        self.in_training = Timeline()
        self.tokens_tl = Timeline()  # tokens safe in a checkpoint, recorded when they change
        self.layouts: list[dict] = []
        strategy = scenario.strategy
        self.min_units = max(planner.min_units, strategy.min_units_to_start or 0)
        self.horizon_h = scenario.horizon_days * HOURS_PER_DAY
        self._next: LayoutResult | None = None  # the layout a decided re-plan moves to

    # -- helpers -------------------------------------------------------------------------------------
    def _interval_h(self, mtbf_h: float) -> float:
        iv = self.rel.checkpoint_interval_hours
        return rel.young_daly_interval_hours(self.write_h, mtbf_h) if iv == "auto" else float(iv)

    def _hold(self, units: int, hours: float) -> None:
        """The job held ``units`` chips for ``hours`` (whatever it did with them)."""
        s = self.stats
        s.held_chip_h += units * hours
        s.energy_kwh += units * hours * self.tdp_kw * self.sc.costs.pue

    def _keep(self, train_h: float, plan: LayoutResult) -> float:
        """Training hours on ``plan`` are now safe in a checkpoint: count their chip-time as good. Returns tokens."""
        s = self.stats
        s.kept_chip_h += plan.units_used * train_h
        s.flops_chip_h += plan.units_used * train_h * plan.mfu
        return train_h * plan.tokens_per_s * SECONDS_PER_HOUR

    def _worth_growing(self, plan: LayoutResult, cand: LayoutResult, tokens_left: float, on: bool) -> bool:
        """Re-plan onto more chips when it is faster by replan_min_gain and still finishes sooner after
        paying the re-plan overhead and the restart."""
        st = self.sc.strategy
        if cand.tokens_per_s < plan.tokens_per_s * (1 + st.replan_min_gain):
            return False
        cost_h = st.replan_overhead_hours + (self._restart_h(cand.units_used) if on else 0.0)
        now_h = tokens_left / (plan.tokens_per_s * SECONDS_PER_HOUR)
        return cost_h + tokens_left / (cand.tokens_per_s * SECONDS_PER_HOUR) < now_h

    def _restart_h(self, units: int) -> float:
        return rel.restart_hours(units, self.rel.restart_base_minutes, self.rel.restart_minutes_per_1000_chips)

    def _record_layout(self, r: LayoutResult, start_h: float) -> None:
        if self.layouts and self.layouts[-1]["end_days"] is None:
            self.layouts[-1]["end_days"] = start_h / HOURS_PER_DAY
        lay = r.layout
        self.layouts.append({
            "start_days": start_h / HOURS_PER_DAY, "end_days": None, "pool": self.pool.pool.name,
            "units": r.units_used, "tp": lay.tp, "pp": lay.pp, "dp": lay.dp, "cp": lay.cp, "ep": lay.ep,
            "micro_batch": lay.micro_batch, "recompute": lay.recompute, "tokens_per_s": r.tokens_per_s,
            "mfu": r.mfu,
        })

    # -- the process ---------------------------------------------------------------------------------
    def run(self):
        env, s, sc = self.env, self.stats, self.sc
        target = sc.workload.tokens
        on = self.rel.enabled
        maint_every_h = (self.rel.maintenance_every_days or 0) * HOURS_PER_DAY if on else 0.0
        next_maint = maint_every_h
        plan: LayoutResult | None = None
        must_plan, pending_restart = True, True  # the first start pays the start-up like a restart
        pos = 0.0  # position in the current checkpoint cycle [h]: training for tau, then writing for delta
        saved = 0.0  # tokens safe in the last checkpoint
        while saved < target:
            if env.now >= self.horizon_h:
                self.log("", "give_up", 0, f"horizon of {sc.horizon_days:g} days reached")
                break
            if must_plan or plan is None or self.pool.available < plan.units_used:
                avail = self.pool.available
                if avail < self.min_units:
                    new = None
                elif plan is not None and not must_plan:
                    new = self.planner.resize(plan, avail)  # shrink around failed or departed chips
                elif must_plan and self._next is not None and self._next.units_used <= avail:
                    new = self._next  # the layout chosen when growing was decided
                else:
                    new = self.planner.layout(avail)
                self._next = None
                if new is None:  # not enough chips: wait for the supply
                    self.in_training.set(env.now, 0)
                    yield self.pool.changed | env.timeout(max(self.horizon_h - env.now, 1e-9))
                    continue
                if plan is None:
                    self.log("", "start", new.units_used, f"job starts on {new.units_used:,} chips")
                else:
                    s.replans += 1
                    self.log("", "replan", new.units_used, f"{plan.units_used:,} -> {new.units_used:,} chips")
                    pending_restart = True
                plan, must_plan = new, False
                self._record_layout(plan, env.now)
            units, rate_h = plan.units_used, plan.tokens_per_s * SECONDS_PER_HOUR
            self.in_training.set(env.now, units)
            if pending_restart:
                pending_restart = False
                if on:
                    r_h = self._restart_h(units)
                    yield env.timeout(r_h)
                    self._hold(units, r_h)
            mtbf_h = rel.job_mtbf_hours(self.mtbf_chip_days, units)
            tau = self._interval_h(mtbf_h) if on else math.inf
            delta = self.write_h if on else 0.0
            cycle = tau + delta
            pending_h = min(pos, tau)
            need_h = max(target - saved, 0.0) / rate_h - pending_h  # training hours still to do
            t_finish = need_h * (cycle / tau) if on else need_h
            t_fail = self.rng.exponential(mtbf_h) if on else math.inf
            t_maint = max(next_maint - env.now, 0.0) if maint_every_h else math.inf
            wait = min(t_finish, t_fail, t_maint, max(self.horizon_h - env.now, 0.0))
            start = env.now
            timer = env.timeout(wait)
            changed = self.pool.changed
            yield timer | changed
            elapsed = env.now - start
            # advance the checkpoint cycle: completed checkpoints save the training done before them
            x = pos + elapsed
            done = int(x // cycle) if on else 0
            if done:
                saved += self._keep((tau - pending_h) + (done - 1) * tau, plan)
                s.checkpoints += done
                self.log("", "checkpoint", done, f"{done} checkpoints every {tau * 60:.1f} min ({delta * 3600:.1f} s each)")
            pos = x - done * cycle if on else x
            pending_h = min(pos, tau)
            failed = on and timer.processed and wait == t_fail
            if failed:
                # the work since the last checkpoint is lost; the node goes to repair
                self._hold(units, elapsed)
                s.failures += 1
                repair_h = self.rng.exponential(self.rel.repair_days * HOURS_PER_DAY) if self.rel.repair_days else 0.0
                self.pool.fail(self.node, repair_h)
                self.log(self.pool.pool.name, "failure", self.node, f"lost {pending_h * 60:.1f} min of training")
                self.log("", "restart", units, "restart from the last checkpoint")
                s.restarts += 1
                pos, pending_restart = 0.0, True
                self.tokens_tl.set(env.now, saved)
                continue
            self._hold(units, elapsed)
            finished = saved + pending_h * rate_h >= target * (1 - 1e-9)
            stop = finished or (timer.processed and wait == t_maint)
            if not timer.processed:
                avail = self.pool.available
                if avail < units:
                    stop = True  # capacity leaves (rental ends or repairs lag): checkpoint, then shrink
                elif not finished:
                    # more chips: new deliveries may change the best layout, returning repairs only its dp
                    cand = self.planner.layout(avail) if changed.value == "supply" else self.planner.resize(plan, avail)
                    if cand is not None and self._worth_growing(plan, cand, target - saved - pending_h * rate_h, on):
                        stop = must_plan = True  # grow at the next checkpoint
                        self._next = cand
            if stop:
                # a planned stop writes a checkpoint first: nothing is lost
                saved = min(target, saved + self._keep(pending_h, plan))
                pos = 0.0
                if on and not finished:
                    yield env.timeout(delta)
                    self._hold(units, delta)
            self.tokens_tl.set(env.now, saved)
            if finished:
                s.finished, s.finish_h = True, env.now
                self.log("", "finish", units, f"{target:.3g} tokens trained")
                break
            if timer.processed and wait == t_maint:
                next_maint = env.now + maint_every_h
                s.maintenance += 1
                pause = self.rel.maintenance_minutes / 60.0
                self.log("", "maintenance", units, f"planned interruption of {self.rel.maintenance_minutes:g} min")
                yield env.timeout(pause)
                self._hold(units, pause)
                pending_restart = True
            elif must_plan:
                over = sc.strategy.replan_overhead_hours
                yield env.timeout(over)
                self._hold(units, over)
            elif stop:
                pending_restart = True
        s.tokens = saved
        self.in_training.set(env.now, 0)
        if self.layouts and self.layouts[-1]["end_days"] is None:
            self.layouts[-1]["end_days"] = env.now / HOURS_PER_DAY
