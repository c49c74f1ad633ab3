"""Bounded work: the simulated events a scenario implies, computed up front from the file alone.

A scenario under which the job can never progress (each pool fails far more often than it can
restart and write a checkpoint), or that implies more than ``MAX_EVENTS_PER_REPLICATION`` events, is refused
with the field to change (exit 2) before anything runs. ``run_estimate`` gives the expected events
and seconds of a run, for a warning when it is long.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import ScenarioError
from .perf import reliability as rel
from .perf.params import count_params
from .scenario import Scenario
from .units import HOURS_PER_DAY

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
LONG_RUN_S = 60.0  # warn above this


@dataclass(frozen=True)
class WorkEstimate:
    """Expected events of one replication, the field that drives most of them, and the run's seconds."""

    events_per_replication: float
    main_field: str
    seconds: float


def _pool_mtbf(s: Scenario, i: int) -> tuple[float, str]:
    p = s.fleet[i]
    if p.mtbf_chip_days is not None:
        return p.mtbf_chip_days, f"fleet[{i}].mtbf_chip_days"
    if s.reliability.mtbf_chip_days is not None:
        return s.reliability.mtbf_chip_days, "reliability.mtbf_chip_days"
    return s.chip(p.chip).mtbf_chip_days, f"fleet[{i}].mtbf_chip_days (default: chip {p.chip})"


def job_units(s: Scenario, i: int) -> int:
    """The chips of pool ``i`` a job would train on under failures: the size that keeps the most chip-time.

    The engine sizes each plan for failures (planner/strategy/base.py, ``size_job``), so a huge pool is never
    run, nor counted here, at a size whose failures outpace its restarts. 0 when no size keeps any work.
    """
    r = s.reliability
    units = s.fleet[i].planned_units
    if not r.enabled:
        return units
    write_h = rel.checkpoint_write_hours(count_params(s.workload.arch).total, r.storage_gbyteps, r.checkpoint_write_s)
    mtbf_chip_days, _ = _pool_mtbf(s, i)
    iv = None if r.checkpoint_interval_hours == "auto" else float(r.checkpoint_interval_hours)
    return rel.best_job_units(units, lambda n: rel.goodput_on(n, mtbf_chip_days, write_h, iv, r.restart_base_minutes,
                                                              r.restart_minutes_per_1000_chips))


def check_progress(s: Scenario) -> None:
    """Refuse a pool on which no job, however small, keeps work: failures before a restart and a checkpoint."""
    r = s.reliability
    if not r.enabled:
        return
    write_h = rel.checkpoint_write_hours(count_params(s.workload.arch).total, r.storage_gbyteps, r.checkpoint_write_s)
    for i, p in enumerate(s.fleet):
        if job_units(s, i) > 0:
            continue
        units = max(1, s.chip(p.chip).chips_per_node)  # the smallest job: one node
        mtbf_chip_days, field = _pool_mtbf(s, i)
        mtbf_h = rel.job_mtbf_hours(mtbf_chip_days, units)
        restart_h = rel.restart_hours(units, r.restart_base_minutes, r.restart_minutes_per_1000_chips)
        raise ScenarioError(
            f"even {units:,} chips at {mtbf_chip_days:g} chip-days between failures fail every {mtbf_h * 60:.3g} min "
            f"on average, too often for a restart ({restart_h * 60:.3g} min) plus a checkpoint write "
            f"({write_h * 60:.3g} min): the job would never progress", field=field)


def run_estimate(s: Scenario, replications: int | None = None) -> WorkEstimate:
    """Expected events per replication over the whole horizon (an upper bound: the job may finish sooner)."""
    r = s.reliability
    horizon_h = s.horizon_days * HOURS_PER_DAY
    events = 10.0 + 2 * sum(len(p.deliveries) + 1 for p in s.fleet)
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
    reps = replications or s.simulation.replications
    seconds = reps * (SECONDS_PER_REPLICATION + events * SECONDS_PER_EVENT) + events * SECONDS_PER_REPORTED_EVENT
    return WorkEstimate(events, main_field, seconds)


def check_work(s: Scenario, path: str | None = None) -> WorkEstimate:
    """Refuse scenarios that can never progress or imply too many events; the estimate otherwise."""
    try:
        check_progress(s)
    except ScenarioError as exc:
        raise ScenarioError(exc.reason, path=path, field=exc.field) from None
    est = run_estimate(s)
    if est.events_per_replication > MAX_EVENTS_PER_REPLICATION:
        raise ScenarioError(
            f"the run would simulate about {est.events_per_replication:,.0f} events per replication over "
            f"horizon_days={s.horizon_days:g}, more than the budget of {MAX_EVENTS_PER_REPLICATION:,}; "
            "raise this interval or shorten the horizon", path=path, field=est.main_field)
    return est


def check_time(s: Scenario, replications: int, max_seconds: float, path: str | None = None) -> WorkEstimate:
    """Refuse a run whose estimated seconds exceed ``max_seconds`` (the app's cap on the time a run may take)."""
    est = run_estimate(s, replications)
    if est.seconds > max_seconds:
        raise ScenarioError(
            f"{replications:,} replication(s) of up to {est.events_per_replication:,.0f} events each would take "
            f"about {est.seconds / 60:,.1f} min, more than the {max_seconds:,.0f} s a run may take here; lower the "
            "replications, or use `planner run`", path=path, field="simulation.replications")
    return est


def notes(s: Scenario) -> list[str]:
    """Things the file allows but the user should know (printed as notes, never refused)."""
    out = []
    w = s.workload
    if w.global_batch_tokens is not None and w.global_batch_tokens % w.seq_len:
        seqs = w.global_batch_tokens / w.seq_len
        out.append(f"workload.global_batch_tokens: {w.global_batch_tokens:,.0f} tokens is {seqs:,.2f} sequences of "
                   f"{w.seq_len:,}; a step trains whole sequences")
    return out
