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


def time_quantile(times: Iterable[float | None], q: float, up_to_share: bool = True) -> float:
    """The ``q`` quantile of time to train, a replication that did not finish (None or NaN) counting as never (inf).

    Linear between order statistics as ``quantiles``. Between the last finish and the first never, it is never
    only beyond the finish probability (the share finished, k of n): up to it, it is the last finish (the
    empirical quantile, where a line to infinity has no value). Two replications, one finished in 324 days: P10
    and P50 are 324 days, P90 never (before, all three were never though half the replications finished).
    ``up_to_share=False``: never on that whole line, for the most a growing figure's quantile could be
    (``beyond_unfinished``: an unfinished replication's whole-run cost is unknown, and the line to it has no top).
    """
    v = np.sort(np.asarray([math.inf if (t is None or t != t) else t for t in times], dtype=float))
    if not v.size:
        return math.inf
    pos = q * (len(v) - 1)
    lo, hi = int(math.floor(pos)), int(math.ceil(pos))
    if lo == hi or v[lo] == v[hi]:
        return float(v[lo])
    if math.isinf(v[hi]):
        finished = int(np.isfinite(v).sum())
        return float(v[lo]) if up_to_share and math.isfinite(v[lo]) and q <= finished / len(v) else math.inf
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
        if time_quantile(beyond, q, up_to_share=False) != time_quantile(values, q):
            out.append(f"p{round(q * 100)}")
    return tuple(out)


def time_quantiles(times: Iterable[float | None]) -> dict:
    """Mean of the finished replications and p10/p50/p90 counting the others as never (None beyond them)."""
    times = list(times)
    finite = [t for t in times if t is not None and t == t and math.isfinite(t)]
    out = {"mean": float(np.mean(finite)) if finite else None}
    for q in QUANTILES:
        v = time_quantile(times, q)
        out[f"p{round(q * 100)}"] = v if math.isfinite(v) else None
    return out


def quantile_rows(grid, qs: Iterable[float] = QUANTILES):
    """Quantiles down each column of a 2-D array (one row per replication): an array of len(qs) rows."""
    return np.quantile(np.asarray(grid, dtype=float), list(qs), axis=0)
