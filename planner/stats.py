"""Summary statistics over replications: the one place P10/P50/P90 are computed."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

QUANTILES = (0.1, 0.5, 0.9)


def quantiles(values: Iterable[float]) -> dict:
    """Mean, p10, p50 and p90 of the finite values (None for all when there are none).

    Quantiles interpolate linearly between order statistics (numpy's default, type 7).
    """
    v = np.asarray([x for x in values if x is not None and x == x], dtype=float)
    if v.size == 0:
        return {"mean": None, **{f"p{round(q * 100)}": None for q in QUANTILES}}
    return {"mean": float(v.mean()), **{f"p{round(q * 100)}": float(np.quantile(v, q)) for q in QUANTILES}}


def quantile_at(values: Iterable[float], q: float) -> float:
    """The ``q`` quantile as an observed value (inverse of the empirical CDF), for pass/fail checks."""
    return float(np.quantile(np.asarray(list(values), dtype=float), q, method="inverted_cdf"))


def quantile_rows(grid, qs: Iterable[float] = QUANTILES):
    """Quantiles down each column of a 2-D array (one row per replication): an array of len(qs) rows."""
    return np.quantile(np.asarray(grid, dtype=float), list(qs), axis=0)
