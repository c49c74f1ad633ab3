"""Summary statistics over replications: the one place P10/P50/P90 are computed.

One definition everywhere (summary.json, the report, sweeps, goal seek and ``expect``): numpy's default
quantile (linear between order statistics, type 7). Time to train counts a replication that did not finish as
never (inf): a quantile beyond the finish probability is never (None in JSON, "never" as a date).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

QUANTILES = (0.1, 0.5, 0.9)
NEVER = "never"  # a finish date beyond the finish probability (docs/formats.md)


def quantiles(values: Iterable[float]) -> dict:
    """Mean, p10, p50 and p90 of the finite values (None for all when there are none).

    Quantiles interpolate linearly between order statistics (numpy's default, type 7).
    """
    v = np.asarray([x for x in values if x is not None and x == x], dtype=float)
    if v.size == 0:
        return {"mean": None, **{f"p{round(q * 100)}": None for q in QUANTILES}}
    return {"mean": float(v.mean()), **{f"p{round(q * 100)}": float(np.quantile(v, q)) for q in QUANTILES}}


def quantile_at(values: Iterable[float], q: float) -> float:
    """The ``q`` quantile of the finite values (NaN when there are none), as in ``quantiles``."""
    v = np.asarray([x for x in values if x is not None and x == x], dtype=float)
    return float(np.quantile(v, q)) if v.size else math.nan


def time_quantile(times: Iterable[float | None], q: float, censor_days: float | Iterable[float] | None = None) -> float:
    """The ``q`` quantile of time to train, a replication that did not finish (None or NaN) counting as never (inf).

    ``time_stat``'s value: what it is only at least, where it is (``censor_days`` given), is that least.
    """
    return time_stat(times, q, censor_days)[0]


def time_stat(times: Iterable[float | None], q: float,
              censor_days: float | Iterable[float] | None = None) -> tuple[float, bool]:
    """(the ``q`` quantile of time to train, whether it is known only as a lower bound).

    Linear between order statistics as ``quantiles``, a replication that did not finish counting as never (inf):
    beyond the finish probability (k of n finished, q > k / n) the quantile is never (the contract's rule). Up to
    it, a quantile on the line from the last finish to a replication that did not finish depends on when that one
    would have finished, which no run says. ``censor_days`` (one number, or one per replication: where each one
    that did not finish had got to when the run stopped, e.g. the horizon) gives the least it can be: the quantile
    with each of them at its point instead, returned with True whenever it differs from the quantile with them as
    never (with one horizon for all, the line taken to it; with points below some finishes, e.g. the training time
    of replications that waited long, a quantile that read as a time is also only at least a lower one).
    Without it such a quantile is never (an `expect` or a deadline cannot count it as met).
    Twenty replications, 18 finished, the last in 232.3 days, a horizon of 240: P90 is at least 233.1 days
    (it read 232.3, below the 233.8 the same replications give with a horizon they all reach).
    """
    raw = [None if (t is None or t != t) else float(t) for t in times]
    v = np.sort(np.asarray([math.inf if t is None else t for t in raw], dtype=float))
    if not v.size:
        return math.inf, False
    upper = _linear(v, q)
    finished = int(np.isfinite(v).sum())
    if censor_days is None or not finished or q > finished / len(v) or finished == len(v):
        return upper, False  # a time, or never (beyond the finish probability)
    cut = [censor_days] * len(raw) if isinstance(censor_days, (int, float)) else list(censor_days)
    # each one that did not finish at the least it can be: where it had got to (never below nothing)
    low = np.sort(np.asarray([max(float(c), 0.0) if t is None else t for t, c in zip(raw, cut, strict=True)]))
    lower = _linear(low, q)
    # the same whichever it is between those: known. Else at least ``lower`` (an unfinished replication's point
    # may lie below finished ones: one that waited long trained briefly by the horizon, so its training time may
    # be shorter than the finishers' and the quantile with it taken as never is more than the data says)
    return (upper, False) if lower == upper else (lower, True)


def _linear(v: np.ndarray, q: float) -> float:
    """The quantile of sorted ``v`` as numpy's default (type 7); inf beyond an infinite order statistic."""
    pos = q * (len(v) - 1)
    lo, hi = int(math.floor(pos)), int(math.ceil(pos))
    if lo == hi or v[lo] == v[hi]:
        return float(v[lo])
    if math.isinf(v[hi]):
        return math.inf
    return float(v[lo] + (v[hi] - v[lo]) * (pos - lo))


def beyond_unfinished(values: Iterable[float], finished: Iterable[bool]) -> list[float]:
    """``values`` with those of replications that did not finish as never (NaN: ``time_quantile`` counts it inf).

    A growing figure (cost, energy, chip-hours) of such a replication ran to the horizon only: counted as beyond
    every other, its quantiles are the most they could be (an ``expect`` max checks that one; ``lower_bounds``).
    """
    return [v if done else math.nan for v, done in zip(values, finished, strict=True)]


def lower_bounds(values: Iterable[float], finished: Iterable[bool]) -> tuple[str, ...]:
    """Which of mean, p10, p50 and p90 of a growing figure are lower bounds only, not the figure.

    A replication that did not finish has spent (cost, energy, chip-hours) up to the horizon only: its whole run's
    figure is at least that. So each quantile is at least the one of the figures as they are; it is known when it
    comes out the same with those replications counted as beyond every other (else only "at least" is known). The
    mean is a lower bound whenever one did not finish.
    """
    values, finished = list(values), list(finished)
    if all(finished):
        return ()
    beyond = beyond_unfinished(values, finished)
    out = ["mean"]
    for q in QUANTILES:
        # both by the same interpolation (numpy's may differ from it in the last bit)
        if time_quantile(beyond, q) != time_quantile(values, q):
            out.append(f"p{round(q * 100)}")
    return tuple(out)


def time_quantiles(times: Iterable[float | None], censor_days: float | Iterable[float] | None = None) -> dict:
    """Mean of the finished replications and p10/p50/p90 counting the others as never (None beyond them).

    ``censor_days``: a quantile known only as at least a value is that value (``time_stat``; ``time_bounds``).
    """
    times = list(times)
    finite = [t for t in times if t is not None and t == t and math.isfinite(t)]
    out = {"mean": float(np.mean(finite)) if finite else None}
    for q in QUANTILES:
        v = time_quantile(times, q, censor_days)
        out[f"p{round(q * 100)}"] = v if math.isfinite(v) else None
    return out


def time_bounds(times: Iterable[float | None], censor_days: float | Iterable[float]) -> tuple[str, ...]:
    """Which of p10, p50 and p90 of ``time_quantiles(times, censor_days)`` are known only as lower bounds."""
    times = list(times)
    return tuple(f"p{round(q * 100)}" for q in QUANTILES if time_stat(times, q, censor_days)[1])


def quantile_rows(grid, qs: Iterable[float] = QUANTILES):
    """Quantiles down each column of a 2-D array (one row per replication): an array of len(qs) rows."""
    return np.quantile(np.asarray(grid, dtype=float), list(qs), axis=0)
