"""Failure, checkpoint and restart arithmetic. Pure functions; times in hours unless the name says otherwise."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING

from ..units import GB, HOURS_PER_DAY, SECONDS_PER_HOUR
from .memory import OPTIMIZER_BYTES, WEIGHT_BYTES

if TYPE_CHECKING:
    from ..scenario import Pool, Scenario

# bf16 weights + fp32 master, m, v: 14 B/param (BLOOM 176B wrote 2.3 TB, Le Scao et al. 2022; 176e9 x 14 = 2.46 TB)
CHECKPOINT_BYTES_PER_PARAM = WEIGHT_BYTES + OPTIMIZER_BYTES
# Job-level interruptions beyond the catalog's chip MTBF. That MTBF (54 d x 16,384 / 419, Llama 3, S01) already
# counts every unexpected interruption of the Llama 3 405B run: hardware (78%) and software bugs, network switches
# and cables, NCCL watchdog timeouts, dependencies (Table 5). It leaves out restarts of human origin: code or data
# adjustments ended 17.3% of job-ending events over 778,135 jobs in 3 months (ByteRobust, arXiv:2509.16293, S68).
HUMAN_INTERRUPTION_SHARE = 0.173
# Those restarts are not added to the failures: the simulation's planned stops (reliability.maintenance_every_days,
# calibrated to Llama 3's 47 planned interruptions in 54 days: firmware upgrades and operator-initiated
# configuration or dataset updates, S01) already are the human-origin restarts; adding them again would count
# them twice (the 405B run would see 462 failures in 54 days against the 419 published)
HUMAN_SHARE_FOLDED = 0.0
# The automated restart (reliability.restart_base_minutes + restart_minutes_per_1000_chips x chips / 1,000, scenario
# defaults 5 min + 0.5 min per 1,000 chips: 10 min at 10,000 chips): health checks run every 5 min (Kokolis et al.,
# S67); MegaScale detects and diagnoses a fault in under 10 min and re-forms >10,000 GPUs' communicators in under
# 30 s (S14); ByteRobust's failover at 10,000 GPUs "often took more than 10 minutes" without warm standbys (S68).
# Some failures need people before that restart. Share: 3 of the 419 unexpected interruptions of Llama 3 405B
# needed significant manual intervention, the rest were handled by automation (S01) = 0.72%.
MANUAL_INTERVENTION_SHARE = 3 / 419
# Wait for one: a CUDA crash of BLOOM 176B cost about 7.3 h before training resumed (S08, Le Scao et al. 2022).
# That is the one duration published; the wait is drawn as an exponential of that mean (the distribution of most
# spread for a known mean), so a run sees a few long stops at random, not a fixed tax.
MANUAL_INTERVENTION_HOURS = 7.3


# e^x overflows a float past x = 709.78: a cycle that long against the job's MTBF keeps nothing
MAX_EXPONENT = 700.0


def job_mtbf_hours(mtbf_chip_days: float, units: int) -> float:
    """Mean time between interruptions of a job on ``units`` chips [h].

    M_job = M_chip / N for independent failures (Kokolis et al. 2024, arXiv:2410.21680, project job MTTF this way).
    """
    return mtbf_chip_days * HOURS_PER_DAY / max(units, 1)


# chips under repair below this share of those in service are the failures' ordinary cost (goodput says it); above,
# they hold the job well below its pool and a limit says how far (at 3 days to repair, a node MTBF under about 57 days)
REPAIR_LIMIT_SHARE = 0.05


def in_service_share(mtbf_chip_days: float, chips_per_node: int, repair_days: float) -> float:
    """The share of a pool's chips in service on average when each failure takes its node out for ``repair_days``.

    Each node trains for its MTBF, then waits for its repair (an alternating renewal process): M / (M + repair).
    """
    node_h = job_mtbf_hours(mtbf_chip_days, chips_per_node)
    repair_h = repair_days * HOURS_PER_DAY
    return node_h / (node_h + repair_h) if node_h + repair_h > 0 else 1.0


def checkpoint_write_hours(params: float, storage_gbyteps: float, override_s: float | None = None) -> float:
    """Blocking time to write one checkpoint [h]: state bytes / storage bandwidth, unless given."""
    if override_s is not None:
        return override_s / SECONDS_PER_HOUR
    return params * CHECKPOINT_BYTES_PER_PARAM / (storage_gbyteps * GB) / SECONDS_PER_HOUR


def young_daly_interval_hours(write_h: float, mtbf_h: float) -> float:
    """Compute time between checkpoints [h], Daly 2006 eq. 20 (higher-order Young 1974).

    tau = sqrt(2 d M) (1 + sqrt(d/(2M))/3 + d/(18M)) - d for d < 2M, else M.
    """
    d, m = max(write_h, 1e-9), mtbf_h
    if d >= 2 * m:
        return m
    x = d / (2 * m)
    return math.sqrt(2 * d * m) * (1 + math.sqrt(x) / 3 + x / 9) - d


def restart_hours(units: int, base_minutes: float, minutes_per_1000_chips: float) -> float:
    """Detect, reschedule, re-initialise communicators and reload [h]; grows with the job size."""
    return (base_minutes + minutes_per_1000_chips * units / 1000.0) / 60.0


# a restart that long [h] never ends within any horizon (a job whose restart is many times its MTBF): kept finite
RESTART_CAP_HOURS = 1e7


def restart_under_failures(restart_h: float, mtbf_h: float) -> float:
    """Expected time to get through a restart of ``restart_h`` when the job's failures strike it too [h].

    A failure during the restart (detect, reschedule, re-form the communicators, reload) starts it over: with
    failures exponential of mean M the expected time to complete a restart of length R is M (e^(R/M) - 1)
    (renewal; the restart term of Daly 2006 eq. 10), with e^(R/M) - 1 failures in it. The engine draws them one by
    one (each sends its node to repair: TrainingJob._restart_through_failures, kernel._restart_end), so its restarts
    average this, and the kept cycle costs M e^(R/M) (e^(c/M) - 1) on average, Daly's eq. 10
    (``expected_goodput``). At 16,384 H100s (R/M = 0.07) it adds 4% to a restart; at
    50,000 (R/M = 0.55) 33%, and the job sizes itself smaller: before, no failure struck a restart and 50,000-chip
    jobs trained 11% faster than Daly's model allows (review).
    """
    if restart_h <= 0 or not math.isfinite(mtbf_h) or mtbf_h <= 0:
        return restart_h
    x = restart_h / mtbf_h
    if x > math.log(RESTART_CAP_HOURS / mtbf_h + 1.0):
        return RESTART_CAP_HOURS
    return mtbf_h * math.expm1(x)


def expected_restart_hours(restart_h: float, manual_share: float, manual_hours: float,
                           mtbf_h: float = math.inf, after_failure: bool = True) -> float:
    """Mean downtime of a restart [h]: the automated restart plus the share of its failures that waits for people.

    ``restart_h``: the restart with the failures that strike it (``restart_under_failures``: restart_h / M of them on
    average, e^(R0/M) - 1); each of them may wait for people, and so may the failure it follows (``after_failure``;
    a re-plan's or a maintenance stop's restart follows none): e^(R0/M) waits after a failure.
    """
    count = restart_h / mtbf_h if math.isfinite(mtbf_h) and mtbf_h > 0 else 0.0
    return restart_h + manual_share * manual_hours * (count + (1.0 if after_failure else 0.0))


def expected_goodput(mtbf_h: float, write_h: float, tau_h: float, restart_h: float, train_h: float = math.inf) -> float:
    """Expected share of held time that trains kept work, under failures (exact for the engine's rules).

    A cycle of c = tau + delta (training, then a blocking checkpoint write) is kept only when no failure comes
    in it; a failure loses the cycle so far and costs a restart R (planner/sim/rules.py). With failures
    exponential of mean M the expected time to keep one cycle is then (M + R)(e^(c/M) - 1) (renewal), so
    g = tau / ((M + R)(e^(c/M) - 1)): exact for the engine's rules, and what its runs average
    (tests/test_simulation.py). ``restart_h`` is the restart with the failures that strike it folded in
    (``restart_under_failures``: M (e^(R0/M) - 1) for an automated restart R0), so this is Daly 2006 eq. 10,
    M e^(R0/M) (e^(c/M) - 1) per kept cycle; to first order, Daly's tau/c x (1 - (R0 + c/2)/M). ``train_h``: the
    job's whole training [h]; a job shorter than tau writes no checkpoint, and its final save ends its one cycle.
    """
    if train_h < tau_h:
        tau_h, write_h = train_h, 0.0
    if not math.isfinite(mtbf_h):
        return 1.0
    x = (tau_h + write_h) / mtbf_h
    if x <= 0.0:  # no cycle at all (nothing left to train): the form's limit as the cycle shrinks to nothing
        return mtbf_h / (mtbf_h + restart_h) if mtbf_h + restart_h > 0 else 1.0
    if x > MAX_EXPONENT:  # a cycle so long against M that e^(c/M) overflows: no cycle is ever kept
        return 0.0
    return tau_h / ((mtbf_h + restart_h) * math.expm1(x))


def goodput_on(units: int, mtbf_chip_days: float, write_h: float, interval_h: float | None, restart_base_minutes: float,
               restart_minutes_per_1000_chips: float, manual_share: float = 0.0, manual_hours: float = 0.0) -> float:
    """``expected_goodput`` of a job on ``units`` chips of one kind (``interval_h`` None: Young/Daly's interval)."""
    m = job_mtbf_hours(mtbf_chip_days, units)
    tau = young_daly_interval_hours(write_h, m) if interval_h is None else interval_h
    r = restart_under_failures(restart_hours(units, restart_base_minutes, restart_minutes_per_1000_chips), m)
    return expected_goodput(m, write_h, tau, expected_restart_hours(r, manual_share, manual_hours, m))


def best_job_units(max_units: int, goodput_of, ratio: float = 0.9) -> int:
    """The job size up to ``max_units`` with the most kept chip-time, units x goodput_of(units) (0: none keeps any).

    An upper bound for what a layout search can give (every chip at one rate): the engine sizes real plans;
    the up-front work bound (planner/budget.py) uses this to count the failures of the job that would run.
    """
    best, best_kept, n = 0, 0.0, float(max_units)
    while n >= 1:
        kept = int(n) * goodput_of(int(n))
        if kept > best_kept:
            best, best_kept = int(n), kept
        n *= ratio
    return best


def with_job_interruptions(mtbf_chip_days: float, human_share: float = HUMAN_INTERRUPTION_SHARE) -> float:
    """Chip-days between interruptions of any origin [chip-days]: M x (1 - share).

    ``human_share`` of all interruptions are of human origin (they remove no chip); ``mtbf_chip_days`` counts
    the others.
    """
    return mtbf_chip_days * (1.0 - human_share)


@dataclass(frozen=True)
class PoolFailures:
    """What fails and what a failure costs on one pool: the pool's own figures, else the reliability section's.

    ``mtbf_chip_days`` is what the engine draws interruptions from: with the catalog's MTBF it includes job-level
    interruptions that remove no chip (software, network and human origin; ``with_job_interruptions``), which the
    engine treats as chip failures (a restart and the work since the checkpoint; the chip's repair is extra).
    ``productive_fraction`` is the share of the remaining time spent training: evaluation pauses, checkpoint stalls
    and slow periods take the rest (perf.wholerun, refit on published whole runs; the engine reads the shipped
    value itself). ``manual_share`` of the failures wait ``manual_hours`` on average (drawn exponential) for people
    before the automated restart (``Context.restart_hours``).
    """

    mtbf_chip_days: float
    restart_base_minutes: float
    restart_minutes_per_1000_chips: float
    write_h: float  # one blocking checkpoint write [h]
    job_interruption_share: float = 0.0  # share of the interruptions in mtbf_chip_days that remove no chip
    productive_fraction: float = 1.0  # evaluations, checkpoint stalls, slow periods (perf.wholerun)
    manual_share: float = 0.0  # share of failures that wait for a manual intervention before the restart
    manual_hours: float = 0.0  # mean of that wait [h] (drawn exponential)


def pool_failures(scenario: Scenario, pool: Pool, params: float) -> PoolFailures:
    """``PoolFailures`` of a pool.

    Its own MTBF, restart and checkpoint write when set (a lab's logs), else the scenario's reliability settings,
    else the chip's catalog MTBF with the job-level interruptions it leaves out (``with_job_interruptions``) and the
    state size over the storage bandwidth. An MTBF the scenario gives counts every interruption, as a lab's logs do.
    """
    r = scenario.reliability
    write_s = r.checkpoint_write_s if pool.checkpoint_write_s is None else pool.checkpoint_write_s
    given = pool.mtbf_chip_days or r.mtbf_chip_days
    human = 0.0 if given else HUMAN_SHARE_FOLDED
    return PoolFailures(
        mtbf_chip_days=given or with_job_interruptions(scenario.chip(pool.chip).mtbf_chip_days, human),
        job_interruption_share=human, productive_fraction=productive_fraction(),
        restart_base_minutes=r.restart_base_minutes if pool.restart_base_minutes is None else pool.restart_base_minutes,
        restart_minutes_per_1000_chips=(r.restart_minutes_per_1000_chips if pool.restart_minutes_per_1000_chips is None
                                        else pool.restart_minutes_per_1000_chips),
        manual_share=(r.manual_intervention_share if pool.manual_intervention_share is None
                      else pool.manual_intervention_share),
        manual_hours=(r.manual_intervention_hours if pool.manual_intervention_hours is None
                      else pool.manual_intervention_hours),
        write_h=checkpoint_write_hours(params, r.storage_gbyteps, write_s))


@lru_cache(maxsize=1)
def wholerun_settings() -> dict:
    """The shipped productive fraction and how it was fitted (planner/data/wholerun.yaml; perf.wholerun refits it)."""
    from ..yamlio import safe_load

    return safe_load(resources.files("planner.data").joinpath("wholerun.yaml").read_text(encoding="utf-8"))


def productive_fraction() -> float:
    """Share of a run's time between interruptions that trains.

    Evaluation pauses, checkpoint and data stalls, slow periods of published whole runs take the rest (fitted
    by perf.wholerun, refit in `calibrate --cv`).
    """
    return float(wholerun_settings()["productive_fraction"])
