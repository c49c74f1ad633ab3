"""Validation of the lab's own measurements (planner/perf/measured.py) by transfer inside the calibration set.

For each source with several rows on one chip and stack, each row is held out and predicted from the others
given as measurements. Everything fitted is refit without the held-out row's source: each row's prior (the
conditional band, perf.band, from the other sources' cross-validated residuals) and the kernel's lengths and
noise (``fit_kernel``: the held-out log score of the other sources' rows).
"""

from __future__ import annotations

import math

import numpy as np

from .arch import ModelArch
from .perf.layout import Parallelism
from .perf.measured import (
    MEASUREMENT_NOISE_LOG,
    OTHER_MODEL,
    Kernel,
    WorkloadPrior,
    layout_coords,
    lognormal_band,
    model_key,
    posterior,
    workload_shares,
)
from .perf.search import best_layout
from .perf.setup import training_setup

# the kernel's candidates, refit per fold (``correlation``): the path length l, the layout length l_u [log2, the
# L1 distance of measured.layout_coords] (1e9: layout alone does not decorrelate one model's rows), the noise of
# one row [log] from the cited floor up,
# and the share c of a run's own error that another run of its model informs (1: all of it).
# Fixed, not fitted: rows of another model share no own error (measured.OTHER_MODEL)
LENGTH_GRID = (0.05, 0.1, 0.2, 0.5)
LAYOUT_LENGTH_GRID = (2.0, 4.0, 8.0, 16.0, 1e9)
NOISE_GRID = (MEASUREMENT_NOISE_LOG, 2 * MEASUREMENT_NOISE_LOG)
SHARED_GRID = (1.0, 0.9, 0.8, 0.7, 0.6, 0.5)
ALPHA = 0.2  # the P10-P90 band is the central 1 - ALPHA interval


def _case_arch(case: dict) -> ModelArch:
    from .catalog import models

    return models()[case["model"]].arch if "model" in case else ModelArch(**case["arch"])


def _case_shares(case: dict) -> tuple[np.ndarray, tuple[float, ...]]:
    """Path shares and layout coordinates of a calibration case on its published (pinned) layout.

    The dimensions the source does not publish are searched.
    """
    from .catalog import chips
    from .perf.system import system_for

    arch = _case_arch(case)
    system = system_for(chips()[case["chip"]], case.get("stack"), case.get("network_gbps"),
                        case.get("fused_attention"))
    setup = training_setup(arch, case["seq_len"], case.get("global_batch_tokens"), case.get("precision", "bf16"))
    r = best_layout(arch, system, setup, case["units"], Parallelism(**case.get("parallelism", {})))
    return workload_shares(arch, system, setup, r.layout), layout_coords(r.layout, setup)


def _case_categories(case: dict) -> tuple[str, ...]:
    """The band's categories of a calibration case (perf.band), its stack as the source states it."""
    from .perf.band import categories

    arch = _case_arch(case)
    return categories(case["chip"], moe=arch.moe is not None, precision=case.get("precision", "bf16"),
                      seq_len=case["seq_len"], stack=case.get("stack", "standard"))


def fold_priors(items: list[dict], train: list[int]) -> list[WorkloadPrior]:
    """Every case's prior from the residuals of the ``train`` cases only.

    The conditional band (perf.band) its categories give, as a pool's prior is built (stack stated: the source
    says it).
    """
    from .perf.band import band_from, residual_stats

    stats = residual_stats([items[i]["cats"] for i in train], [items[i]["y"] for i in train],
                           groups=[items[i]["pool"][0] for i in train])
    out = []
    for it in items:
        lo, hi, _ = band_from(stats, it["cats"])
        mu, sd = lognormal_band(lo, hi)
        out.append(WorkloadPrior(mu, sd, 0.0, it["shares"], it["model"], it["units"], it["coords"]))
    return out


def interval_score(y: float, lo: float, hi: float, alpha: float = ALPHA) -> float:
    """Interval score of a central (1 - alpha) interval (Gneiting & Raftery 2007, eq. 43); lower is better.

    Its width plus 2/alpha times how far the truth falls outside: a proper score.
    """
    return (hi - lo) + 2.0 / alpha * (max(lo - y, 0.0) + max(y - hi, 0.0))


def _pool_parts(items: list[dict], idx: list[int], priors: list[WorkloadPrior]) -> dict:
    """What the kernel needs of one pool's rows, computed once: path distances, scale distances, same model/run."""
    from .perf.measured import SAME_WORKLOAD, layout_distance, overlap

    p = [priors[i] for i in idx]
    n = len(p)
    d = np.array([[max(1.0 - overlap(a.shares, b.shares), 0.0) for b in p] for a in p])
    du = np.array([[layout_distance(a, b) for b in p] for a in p])
    same = np.array([[a.model == b.model for b in p] for a in p], dtype=bool)
    run = same & (d < SAME_WORKLOAD) & (du < SAME_WORKLOAD)
    return {"mu": np.array([x.mu for x in p]), "sd": np.array([x.sd for x in p]),
            "q": np.array([x.stack_share for x in p]), "y": np.array([items[i]["y"] for i in idx]),
            "d": d, "du": du, "same": same, "run": run | np.eye(n, dtype=bool)}


def _loo_score(parts: dict, kernel: Kernel) -> float:
    """Summed log score of each row's predictive distribution given the others of its pool (as ``posterior``).

    The leave-one-out predictive log probability, the usual criterion for a Gaussian process's hyperparameters
    (Rasmussen & Williams 2006, sec. 5.4.2): the whole distribution is scored, not only its P10-P90 edges, since
    the time simulation draws from all of it.
    """
    from .perf.measured import kernel_shared

    other, length, length_units, noise = kernel[:4]
    corr = np.where(parts["same"], 1.0, other) * kernel_shared(kernel) * np.exp(
        -parts["d"] / length - parts["du"] / length_units)
    corr = np.where(parts["run"], 1.0, corr)
    q, sd = parts["q"], parts["sd"]
    cov = np.outer(sd, sd) * (np.sqrt(np.outer(q, q)) + np.sqrt(np.outer(1 - q, 1 - q)) * corr)
    n = len(sd)
    total = 0.0
    for i in range(n):
        o = [j for j in range(n) if j != i]
        k = cov[o, i]
        w = np.linalg.solve(cov[np.ix_(o, o)] + np.eye(n - 1) * noise ** 2, k)
        mu = parts["mu"][i] + float(w @ (parts["y"][o] - parts["mu"][o]))
        var = max(sd[i] ** 2 - float(w @ k), 1e-12)
        total += log_score(float(parts["y"][i]), mu, math.sqrt(var + noise ** 2))
    return total


def log_score(y: float, mu: float, sd: float) -> float:
    """Negative log predictive density of ``y`` under N(mu, sd^2) (the logarithmic score); lower is better."""
    return 0.5 * ((y - mu) / sd) ** 2 + math.log(sd) + 0.5 * math.log(2.0 * math.pi)


def loo_score(items: list[dict], pools: dict, priors: list[WorkloadPrior], kernel: Kernel) -> float:
    """Summed log score of each row given the others of its pool (leave one row out, ``_loo_score``)."""
    return sum(_loo_score(_pool_parts(items, idx, priors), kernel) for idx in pools.values())


def kernel_grid() -> list[Kernel]:
    """Every candidate kernel (other-model factor, path length, scale length, noise, shared)."""
    return [(OTHER_MODEL, length, lu, noise, c) for length in LENGTH_GRID for lu in LAYOUT_LENGTH_GRID
            for noise in NOISE_GRID for c in SHARED_GRID]


def fit_kernel(items: list[dict], pools: dict, priors: list[WorkloadPrior]) -> Kernel:
    """The kernel whose held-out rows score best (``loo_score``; ties: the least transfer)."""
    parts = [_pool_parts(items, idx, priors) for idx in pools.values()]
    return min(kernel_grid(), key=lambda k: (round(sum(_loo_score(p, k) for p in parts), 9),
                                             k[1], k[2], -k[3], k[4]))


def _items(cal) -> list[dict]:
    """The calibration's throughput cases with what the transfer needs (whole runs are perf.wholerun's)."""
    from .calibrate import cases

    by_id = {c["id"]: c for c in cases()}
    items = []
    for r in cal.rows:
        if r.metric == "chip_hours":
            continue
        case = by_id[r.id]
        # every throughput metric (MFU, tokens/s, hardware TFLOP/s) is proportional to tokens/s on one workload
        shares, coords = _case_shares(case)
        items.append({"id": r.id, "pool": (r.group, r.chip, r.stack), "published": r.published,
                      "predicted": r.predicted_cv, "y": math.log(r.published / r.predicted_cv),
                      "shares": shares, "coords": coords, "model": model_key(_case_arch(case)), "units": r.units,
                      "cats": _case_categories(case)})
    return items


def transfer_validation(calibration=None) -> dict:
    """MAPE [%] and P10-P90 coverage [fraction] of held-out rows predicted from their source's other rows.

    Each row of a source (same chip and stack) of the calibration set is held out; the others are given as
    measurements.

    Everything fitted is refit without the held-out row's source: the priors (the conditional band from the
    other sources' cross-validated log residuals) and the kernel (``fit_kernel`` on the other sources' rows).
    Predictions start from the calibration's cross-validated ones (each source left out of the kernel factors).
    """
    from .calibrate import calibrate

    cal = calibration if calibration is not None else calibrate(cv=True)
    items = _items(cal)
    pools: dict = {}
    for i, it in enumerate(items):
        pools.setdefault(it["pool"], []).append(i)
    pools = {k: v for k, v in pools.items() if len(v) >= 2}
    out, kernels = [], []
    for key, idx in sorted(pools.items()):
        rest = [i for i, it in enumerate(items) if it["pool"][0] != key[0]]
        priors = fold_priors(items, rest)
        train = {k: v for k, v in pools.items() if k[0] != key[0]}
        kern = fit_kernel(items, train, priors)
        kernels.append(kern)
        for i in idx:
            others = [j for j in idx if j != i]
            post = posterior(priors[i], [priors[j] for j in others], [items[j]["y"] for j in others], kern)
            lo, hi = post.band()
            it = items[i]
            pred = it["predicted"] * post.factor
            out.append({"id": it["id"], "source": key[0], "chip": key[1], "stack": key[2],
                        "measurements": [items[j]["id"] for j in others], "published": it["published"],
                        "predicted_cv": it["predicted"], "predicted": pred, "error": pred / it["published"] - 1.0,
                        "error_without": it["predicted"] / it["published"] - 1.0,
                        "p10": it["predicted"] * lo, "p90": it["predicted"] * hi,
                        "covered": bool(it["predicted"] * lo <= it["published"] <= it["predicted"] * hi),
                        "kernel": list(kern), "correlations": [round(x, 3) for x in post.correlations]})
    n = len(out)

    def mean(x) -> float:
        return float(np.mean(x)) if n else float("nan")

    return {"n": n, "mape": 100.0 * mean([abs(c["error"]) for c in out]),
            "mape_without": 100.0 * mean([abs(c["error_without"]) for c in out]),
            "coverage": mean([c["covered"] for c in out]), "kernel_folds": [list(k) for k in kernels],
            "kernel_all": list(fit_kernel(items, pools, fold_priors(items, list(range(len(items)))))),
            "cases": out}


def transfer_summary(calibration=None) -> dict:
    """``planner calibrate --cv --json`` ``transfer``: MAPE [%], P10-P90 coverage, n, and each held-out row."""
    t = transfer_validation(calibration)
    return {"mape": t["mape"], "coverage": t["coverage"], "n": t["n"], "mape_model_only": t["mape_without"],
            "length_per_fold": [k[1] for k in t["kernel_folds"]],
            "cases": [{k: c[k] for k in ("id", "source", "chip", "stack", "published", "predicted", "p10", "p90",
                                         "error", "covered", "measurements")} for c in t["cases"]]}
