"""Failure, checkpoint and restart arithmetic. Pure functions; times in hours unless the name says otherwise."""

from __future__ import annotations

import math

from ..units import GB, HOURS_PER_DAY, SECONDS_PER_HOUR
from .memory import OPTIMIZER_BYTES, WEIGHT_BYTES

# bf16 weights + fp32 master, m, v: 14 B/param (BLOOM 176B wrote 2.3 TB, Le Scao et al. 2022; 176e9 x 14 = 2.46 TB)
CHECKPOINT_BYTES_PER_PARAM = WEIGHT_BYTES + OPTIMIZER_BYTES


def job_mtbf_hours(mtbf_chip_days: float, units: int) -> float:
    """Mean time between interruptions of a job on ``units`` chips [h].

    M_job = M_chip / N for independent failures (Kokolis et al. 2024, arXiv:2410.21680, project job MTTF this way).
    """
    return mtbf_chip_days * HOURS_PER_DAY / max(units, 1)


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
