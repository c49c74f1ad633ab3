"""The model's conditional P10-P90 throughput band: what the published figure may be, given the prediction.

Pure functions over the cross-validated default-path residuals of the calibration cases (published /
predicted throughput, in log), grouped by category (chip family, MoE or dense, precision, long context,
stack). A hierarchical model in log space:

- centre: the overall residual mean moved towards each of the run's categories' means by how much evidence
  the category has (empirical-Bayes shrinkage: weight n / (n + s^2/tau^2), tau^2 the spread between category
  means);
- spread: a shared residual variance, and per category its own variance shrunk toward the shared one by the
  category's cases (a scaled-inverse-chi-square prior worth ``nu0`` cases: v = (nu0 s0^2 + (n-1) s^2) /
  (nu0 + n - 1)); a run takes the largest variance among its categories, plus what the shrinkage of its
  categories' means leaves unexplained ((1 - weight) tau^2 each; a category with fewer than two cases uses
  tau2_unseen, the largest category contrast seen, in place of tau^2, and one without cases adds it whole);
- MoE on a stack stated as ``optimized``: the lower edge also spans Megatron-class MoE layers (MegaScale-MoE
  trains 1.65-1.88x faster than Megatron-LM, S116), and the MoE cases' mean does not move the centre;
- a stack stated as ``basic``: the lower edge also spans Megatron-DeepSpeed (1.29x slower than Megatron-LM on the
  same 530B layout, S13 and S127), as the calibration's basic cases are the fast end;
- width: P10/P90 = centre -/+ k x spread, with k calibrated so that, leaving out each publication in turn
  (``groups``) inside the cases given, 80% of the held-out residuals fall inside; ``nu0`` is chosen on
  the same held-out residuals by the interval score (Gneiting and Raftery 2007, sec. 6.2). Both are refit
  whenever the statistics are, so the calibration's outer folds never see the case they score.

When the stack is not stated the prediction is the standard stack's, and the band spans what ``basic``..
``optimized`` give for the workload: the three levels taken as equally likely, P10 and P90 of the mixture of
the three bands centred on each level's throughput against standard, basic's share split between its fast and
slow ends (without that spread at hand, the variance of the stack categories' mean residuals is added).

``band(...)`` is the entry point for one pool and workload: it returns ``(p10_ratio, p90_ratio, basis)``
where the ratios multiply the predicted throughput and ``basis`` is one sentence saying what the band
rests on. ``band_from`` is the same from explicit residual statistics (the calibration's folds use it).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from ..stats import quantile_at

LONG_CONTEXT_TOKENS = 32_768  # sequences from 32K tokens are long context (Llama 3's long-context stages, S103)
P_LO, P_HI = 0.1, 0.9
# prior strength (in cases) of the shared variance over a category's own: chosen by held-out interval score
NU0_GRID = (1.0, 2.0, 4.0, 8.0, 16.0)
K_DEFAULT = 1.2815515655446004  # the normal quantile at P90, when too few cases to calibrate k
MIN_CASES_TO_CALIBRATE = 8
MIN_CASES_PER_QUANTILE = 5  # a category's own 80% quantile counts from five held-out cases (one beyond it)
MOE_MATURITY_SPREAD = 1.88  # MegaScale-MoE over Megatron-LM MoE training throughput, the top of 1.65-1.88x (S116)
# the 2021-22 stacks `basic` names ran the same 530B layout (TP8 PP35 on DGX A100) at 163 TFLOP/s per GPU in
# Megatron-LM (S13, table 1) and at 126 in Megatron-DeepSpeed's MT-NLG (S127, sec. 2.4): 163 / 126. The `basic`
# calibration cases are Megatron-LM's and BLOOM's, the fast end; the band's lower edge spans the slow end
BASIC_MATURITY_SPREAD = 163.0 / 126.0

_FAMILIES = (
    ("ascend", "Ascend"), ("tpu", "TPU"), ("mi", "AMD Instinct"),
    ("a100", "NVIDIA Ampere"), ("a800", "NVIDIA Ampere"), ("v100", "NVIDIA Volta"),
    ("h100", "NVIDIA Hopper"), ("h800", "NVIDIA Hopper"), ("h200", "NVIDIA Hopper"), ("h20", "NVIDIA Hopper"),
    ("b200", "NVIDIA Blackwell"), ("gb200", "NVIDIA Blackwell"), ("b300", "NVIDIA Blackwell"),
    ("gb300", "NVIDIA Blackwell"),
)


def chip_family(chip_id: str) -> str:
    """The chip family of a catalog id (``other`` for ids the calibration does not know)."""
    for prefix, name in _FAMILIES:
        if chip_id.startswith(prefix):
            return name
    return "other"


def categories(chip_id: str, *, moe: bool, precision: str, seq_len: int, stack: str | None) -> tuple[str, ...]:
    """The categories of a run.

    ``chip:<family>``, ``moe``/``dense``, ``fp8``/``bf16``, ``long-context``, ``stack:<level>``.

    ``stack=None`` (not stated) leaves the stack category out.
    """
    out = [f"chip:{chip_family(chip_id)}", "moe" if moe else "dense", "fp8" if precision == "fp8" else "bf16"]
    if seq_len >= LONG_CONTEXT_TOKENS:
        out.append("long-context")
    if stack:
        out.append(f"stack:{stack}")
    return tuple(out)


def _moments(cats: Sequence[Sequence[str]], x: np.ndarray, groups: Sequence | None = None) -> dict:
    """Count, mean and standard deviation of the log residuals overall and per category, and tau^2.

    tau^2 is the variance of the category means around the overall mean beyond what their sampling
    error explains (method of moments, floored at a tenth of the overall variance). Each category also counts
    its publications (``groups``; each case its own when not given): its fourth entry.
    """
    out: dict = {"all": _summ(x)}
    names = sorted({c for cs in cats for c in cs})
    for name in names:
        sel = np.array([name in cs for cs in cats], dtype=bool)
        publications = len({groups[i] for i in np.nonzero(sel)[0]}) if groups is not None else int(sel.sum())
        out[name] = [*_summ(x[sel]), publications]
    n0, m0, s0 = out["all"]
    devs = [(m - m0) ** 2 - s0 ** 2 / n for name, (n, m, _s, *_g) in out.items() if name != "all" and n >= 2]
    out["tau2"] = float(max(np.mean(devs) if devs else 0.0, 0.1 * s0 ** 2))
    # a category without cases may be as far off as the farthest one seen: the largest squared contrast of a
    # category's mean against the other cases' beyond its sampling error (never below tau^2)
    contrasts = []
    for name in names:
        sel = np.array([name in cs for cs in cats], dtype=bool)
        n, rest = int(sel.sum()), int((~sel).sum())
        if n >= 2 and rest >= 2:
            d = float(x[sel].mean() - x[~sel].mean())
            contrasts.append(d * d - s0 ** 2 * (1 / n + 1 / rest))
    out["tau2_unseen"] = float(max(max(contrasts, default=0.0), out["tau2"]))
    return out


def residual_stats(cats: Sequence[Sequence[str]], log_ratios: Sequence[float],
                   groups: Sequence[str] | None = None) -> dict:
    """The band's statistics from log residuals.

    Moments overall and per category, tau^2, and the calibrated quantile multiplier ``k`` and prior strength
    ``nu0``.

    ``k`` and ``nu0`` come from these cases alone, leaving out each of ``groups`` in turn (each case its own
    group when not given): the held-out residuals standardised by the band of the rest, ``k`` their 80%
    quantile, ``nu0`` the grid value with the lowest mean interval score at its ``k``.
    """
    x = np.asarray(log_ratios, dtype=float)
    cats = [tuple(c) for c in cats]
    groups = list(groups) if groups is not None else list(range(len(x)))
    out = _moments(cats, x, groups)
    out["k"], out["nu0"] = _calibrate(cats, x, groups)
    return out


def _calibrate(cats: list, x: np.ndarray, groups: list) -> tuple[float, float]:
    """(k, nu0) so that P10-P90 bands cover 80% of held-out residuals (leave one group out)."""
    uniq = sorted(set(groups), key=str)
    if len(x) < MIN_CASES_TO_CALIBRATE or len(uniq) < 3:
        return K_DEFAULT, 4.0
    folds = []
    for g in uniq:
        train = [i for i in range(len(x)) if groups[i] != g]
        held = [i for i in range(len(x)) if groups[i] == g]
        folds.append((_moments([cats[i] for i in train], x[train], [groups[i] for i in train]), held))
    target = P_HI - P_LO
    best = None
    for nu0 in NU0_GRID:
        z, sd, who = [], [], []
        for st, held in folds:
            for i in held:
                c, v = _centre_var(st, cats[i], nu0)
                z.append((x[i] - c) / math.sqrt(v))
                sd.append(math.sqrt(v))
                who.append(cats[i])
        z, sd = np.abs(np.array(z)), np.array(sd)
        # the 80% quantile overall and within every category with enough cases to have one (conditional
        # coverage: a category the model knows worse must not be left below 80% by the others)
        k = quantile_at(z, target)
        for name in sorted({c for cs in who for c in cs}):
            sel = np.array([name in cs for cs in who], dtype=bool)
            if sel.sum() >= MIN_CASES_PER_QUANTILE:
                k = max(k, quantile_at(z[sel], target))
        # interval score of the central 80% interval (Gneiting and Raftery 2007, eq. 43), in log units
        alpha = 1.0 - target
        score = float(np.mean(2 * k * sd + (2 / alpha) * np.maximum(z - k, 0.0) * sd))
        if best is None or score < best[0] - 1e-12:
            best = (score, k, nu0)
    return best[1], best[2]


def _summ(x: np.ndarray) -> list:
    n = int(len(x))
    if n == 0:
        return [0, 0.0, 0.0]
    return [n, float(x.mean()), float(x.std(ddof=1)) if n > 1 else 0.0]


def _centre_var(stats: dict, cats: Sequence[str], nu0: float) -> tuple[float, float]:
    """(centre, variance) of a run's log residual in ``cats`` under the hierarchical model (module doc)."""
    n0, m0, s0 = stats["all"]
    tau2 = float(stats.get("tau2", 0.0))
    var0 = max(s0 ** 2, 1e-6)
    mean, own, unexplained = m0, var0, 0.0
    # MoE on an optimized stack: the lower edge spans MoE maturity (band_from); the MoE cases' mean, which
    # holds that same shortfall, does not move the centre as well
    maturity = _maturity_edge(cats)
    for c in cats:
        n, m, s, *rest = stats.get(c, [0, 0.0, 0.0])
        if n == 0 or tau2 <= 0:
            unexplained += float(stats.get("tau2_unseen", tau2))
            continue
        # the evidence is the publications, not the cases: five rows of one paper share its setup, so they tell
        # its offset once (the `basic` stack's five cases are all Megatron-LM 2021's)
        g = int(rest[0]) if rest else n
        w = g / (g + var0 / tau2)
        if not (maturity and c == "moe"):
            mean += w * (m - m0)
        # a category of one case, or of one publication, has no spread of its own across setups: what its mean
        # leaves open is as for an unseen one
        unexplained += (1 - w) * (tau2 if g >= 2 else float(stats.get("tau2_unseen", tau2)))
        if n >= 2 and g >= 2:
            own = max(own, (nu0 * var0 + (n - 1) * s ** 2) / (nu0 + n - 1))
    return mean, own + unexplained


def _mixture_edges(mean: float, half: float, offsets: list[float],
                   weights: list[float] | None = None) -> tuple[float, float]:
    """P10 and P90 ratios of a mixture of log-normal bands centred at ``mean + offset`` (``_mixture_quantiles``)."""
    lo, _mid, hi = _mixture_quantiles(mean, half, offsets, weights)
    return lo, hi


def _mixture_quantiles(mean: float, half: float, offsets: list[float],
                       weights: list[float] | None = None) -> tuple[float, float, float]:
    """P10, P50 and P90 ratios of a mixture of log-normal bands centred at ``mean + offset``.

    Weighted (default: equally), each band with its P10-P90 half-width ``half`` (in log).
    """
    from statistics import NormalDist

    nd = NormalDist()
    sd = max(half / nd.inv_cdf(P_HI), 1e-9)
    w = [1.0] * len(offsets) if weights is None else [max(float(x), 0.0) for x in weights]
    total = sum(w) or 1.0

    def cdf(y: float) -> float:
        return sum(wi * nd.cdf((y - mean - o) / sd) for o, wi in zip(offsets, w, strict=True)) / total

    def quantile(p: float) -> float:
        a, b = mean + min(offsets) - 10 * sd, mean + max(offsets) + 10 * sd
        for _ in range(80):
            mid = 0.5 * (a + b)
            a, b = (mid, b) if cdf(mid) < p else (a, mid)
        return 0.5 * (a + b)

    return math.exp(quantile(P_LO)), math.exp(quantile(0.5)), math.exp(quantile(P_HI))


def _maturity_edge(cats: Sequence[str]) -> bool:
    """Whether the band's lower edge spans MoE maturity: a MoE run on a stack stated as optimized."""
    return "moe" in cats and "stack:optimized" in cats


def _stack_variance(stats: dict, stack_spread: tuple[float, float] | None) -> float:
    """Variance a stack left unstated adds: basic, standard and optimized equally likely around standard."""
    if stack_spread is not None:
        lo, hi = (max(float(v), 1e-6) for v in stack_spread)
        return (math.log(lo) ** 2 + math.log(hi) ** 2) / 3.0
    # no spread computed: the spread of the stack categories' mean residuals
    m0 = stats["all"][1]
    means = [stats[c][1] - m0 for c in ("stack:basic", "stack:standard", "stack:optimized") if stats.get(c, [0])[0]]
    return float(np.mean(np.square(means))) if means else float(stats.get("tau2", 0.0))


def band_from(stats: dict, cats: Sequence[str], stack_stated: bool = True,
              stack_spread: tuple[float, float] | None = None) -> tuple[float, float, str]:
    """(P10 ratio, P90 ratio, basis sentence) for a run in ``cats`` from residual statistics ``stats``."""
    lo, _mid, hi, basis = band_quantiles(stats, cats, stack_stated, stack_spread)
    return lo, hi, basis


def band_quantiles(stats: dict, cats: Sequence[str], stack_stated: bool = True,
                   stack_spread: tuple[float, float] | None = None) -> tuple[float, float, float, str]:
    """(P10, P50, P90 ratios, basis sentence) for a run in ``cats``: ``band_from`` with the band's median.

    The median is the log-normal's (the edges' geometric mean), or, when the stack is not stated, the mixture's
    over the levels: with `basic` far below the others (no fused attention at a long sequence: a third of the
    speed), the edges' geometric mean sat at 0.6x, a speed no level runs at, and a replication's draw centred there.
    """
    n0 = stats["all"][0]
    k = float(stats.get("k", K_DEFAULT))
    nu0 = float(stats.get("nu0", 4.0))
    mean, var = _centre_var(stats, cats, nu0)
    half = k * math.sqrt(var)
    if not stack_stated and stack_spread is not None:
        # basic, standard and optimized equally likely: the P10 and P90 of the mixture of the three bands, basic's
        # third split between its fast end (as calibrated) and its slow end (BASIC_MATURITY_SPREAD slower)
        basic, optimized = (math.log(max(float(v), 1e-6)) for v in stack_spread)
        lo, mid, hi = _mixture_quantiles(mean, half, [basic, basic - math.log(BASIC_MATURITY_SPREAD), optimized, 0.0],
                                         [0.5, 0.5, 1.0, 1.0])
    else:
        if not stack_stated:
            half = k * math.sqrt(var + _stack_variance(stats, None))
        lo, hi = math.exp(mean - half), math.exp(mean + half)
        mid = None
    if _maturity_edge(cats):
        # a stack tuned for dense training may run Megatron-class MoE layers: MegaScale-MoE trains 1.65-1.88x
        # faster than Megatron-LM (S116), and the `optimized` point estimate assumes the faster class
        lo /= MOE_MATURITY_SPREAD
    if "stack:basic" in cats:  # a 2021-22 stack: down to Megatron-DeepSpeed's pipeline engine (BASIC_MATURITY_SPREAD)
        lo /= BASIC_MATURITY_SPREAD
    counts = [(c, int(stats.get(c, [0])[0])) for c in cats]
    return lo, (math.sqrt(lo * hi) if mid is None else mid), hi, _basis(n0, counts, stack_stated)


def _label(c: str) -> str:
    if c.startswith("chip:"):
        return f"on {c[5:]}"
    if c.startswith("stack:"):
        return f"on {'an' if c[6:7] in 'aeiou' else 'a'} {c[6:]} stack"
    return {"moe": "MoE", "dense": "dense", "fp8": "FP8", "bf16": "BF16/FP16", "long-context": "long-context"}.get(c, c)


def _basis(n0: int, counts: list[tuple[str, int]], stack_stated: bool) -> str:
    # name the thinnest categories first: they are what widens the band
    thin = sorted(counts, key=lambda cn: cn[1])[:3]
    parts = ", ".join(f"{n} {_label(c)}" for c, n in thin)
    text = f"cross-validated residuals of {n0} published runs ({parts})"
    if any(c == "moe" for c, _ in counts) and any(c == "stack:optimized" for c, _ in counts):
        text += "; MoE on an optimized stack: down to Megatron-class MoE kernels (1.88x, MegaScale-MoE)"
    if any(c == "stack:basic" for c, _ in counts):
        text += "; a basic stack: down to Megatron-DeepSpeed's (1.29x slower than Megatron-LM on MT-NLG's layout)"
    return text + ("; stack not stated: spans basic to optimized" if not stack_stated else "")


@lru_cache(maxsize=1)
def shipped_stats() -> dict:
    """The residual statistics written by the calibration (planner/data/tuning.yaml ``band``)."""
    from .system import tuning

    b = tuning()["band"]
    out = {"all": list(b["all"]), "tau2": float(b["tau2"]), "k": float(b.get("k", K_DEFAULT)),
           "nu0": float(b.get("nu0", 4.0)), "tau2_unseen": float(b.get("tau2_unseen", b["tau2"]))}
    out.update({k: list(v) for k, v in b.get("categories", {}).items()})
    return out


def band(chip_id: str, *, moe: bool, precision: str, seq_len: int, stack: str | None,
         stack_spread: tuple[float, float] | None = None) -> tuple[float, float, str]:
    """(P10 ratio, P90 ratio, basis sentence) for a pool of ``chip_id`` training a workload.

    ``stack`` is what the pool states (None: not stated; the prediction is then the standard stack's, and
    ``stack_spread`` = (basic/standard, optimized/standard) throughput ratios widens the band to span them).
    The ratios multiply the predicted tokens/s. Shipped residuals only: no layout search here.
    """
    lo, _mid, hi, basis = band_with_median(chip_id, moe=moe, precision=precision, seq_len=seq_len, stack=stack,
                                           stack_spread=stack_spread)
    return lo, hi, basis


def band_with_median(chip_id: str, *, moe: bool, precision: str, seq_len: int, stack: str | None,
                     stack_spread: tuple[float, float] | None = None) -> tuple[float, float, float, str]:
    """``band`` with the band's median: (P10, P50, P90 ratios, basis) (``band_quantiles``)."""
    cats = categories(chip_id, moe=moe, precision=precision, seq_len=seq_len, stack=stack)
    return band_quantiles(shipped_stats(), cats, stack_stated=stack is not None, stack_spread=stack_spread)


def overall_band() -> tuple[float, float, str]:
    """The band over every calibration case, whatever the run."""
    return band_from(shipped_stats(), ())


_SPREAD_CACHE: dict = {}
# the stack levels are compared on this many chips, whatever the pool's size: the median scale of the calibration
# cases (planner/data/calibration.yaml, calibration_extra.csv: 8 to 16,384 chips). At the pool's own size the
# band would widen with every chip added (a 2021 stack falls far behind at tens of thousands of chips, where no
# calibration case ran one), and more chips would finish later: one draw per replication applies to every plan
SPREAD_UNITS = 1024


def stack_spread(scenario, pool) -> tuple[float, float] | None:
    """(basic, optimized) throughput against the standard stack, for a pool's chip and workload (``level_spread``)."""
    from .layout import Parallelism
    from .setup import workload_setup

    wl = scenario.workload
    key = (wl.model_dump_json(), pool.chip, pool.network_gbps, pool.fused_attention,
           pool.parallelism.model_dump_json() if pool.parallelism else "")
    if key not in _SPREAD_CACHE:
        if len(_SPREAD_CACHE) >= 256:  # a long-lived process (the app) sees many workloads: memory stays bounded
            _SPREAD_CACHE.clear()
        _SPREAD_CACHE[key] = level_spread(scenario.chip(pool.chip), wl.arch, workload_setup(scenario),
                                          pool.parallelism or Parallelism(), pool.network_gbps, pool.fused_attention)
    return _SPREAD_CACHE[key]


def level_spread(chip, arch, setup, pin, network_gbps: float | None = None, fused_attention: bool | None = None,
                 efficiency: float = 1.0) -> tuple[float, float] | None:
    """(basic, optimized) / standard throughput of one run on ``chip`` (layouts searched); None if standard fits not.

    On ``SPREAD_UNITS`` chips, not the pool's: the spread does not change as chips come or go. The band of a pool
    (``stack_spread``) and the prior of its measurements (perf/measured.py) take it alike.
    """
    from ..errors import InfeasiblePlanError
    from .search import best_layout
    from .system import system_for

    rates = {}
    for level in ("basic", "standard", "optimized"):
        try:
            sysm = system_for(chip, level, network_gbps, fused_attention, efficiency)
            rates[level] = best_layout(arch, sysm, setup, SPREAD_UNITS, pin).tokens_per_s
        except InfeasiblePlanError:  # a level where nothing fits says nothing about the spread
            rates[level] = None
    std = rates["standard"]
    return None if not std else ((rates["basic"] or std) / std, (rates["optimized"] or std) / std)


def pool_band(scenario, pool) -> tuple[float, float, str]:
    """(P10 ratio, P90 ratio, basis) of one pool of a scenario."""
    lo, _mid, hi, basis = pool_quantiles(scenario, pool)
    return lo, hi, basis


def pool_quantiles(scenario, pool) -> tuple[float, float, float, str]:
    """(P10, P50, P90 ratios, basis) of one pool of a scenario (``band_quantiles``)."""
    wl = scenario.workload
    stated = "stack" in pool.model_fields_set  # left out: the standard point estimate, the band spans the levels
    spread = None if stated else stack_spread(scenario, pool)
    return band_with_median(pool.chip, moe=wl.arch.moe is not None, precision=wl.precision, seq_len=wl.seq_len,
                            stack=pool.stack if stated else None, stack_spread=spread)


def scenario_band(scenario, parts: list | None = None) -> tuple[float, float, str]:
    """The band of a scenario: each pool's band weighted by its share of the fleet's planned peak FLOP/s (``blend``).

    One draw per replication applies to the whole job. The band of the largest pool alone switched whole when
    another pool grew past it: renting 1% more H100s moved a run's P90 by 10%. ``parts``: (pool, share) to weigh
    instead, the shares of the peak FLOP-hours the expected run trains on each (planner/sim/replication.py).
    """
    by = "planned peak FLOP/s" if parts is None else "the peak FLOP-hours the expected run trains on each"
    parts = pool_weights(scenario) if parts is None else parts
    bands = [(w, pool_band(scenario, pool)) for pool, w in parts]
    lo, hi = blend([(w, b[0], b[1]) for w, b in bands])
    basis = max(bands, key=lambda wb: wb[0])[1][2]
    if len(parts) > 1:
        basis += f"; pools weighted by {by}: " + ", ".join(f"{p.name} {w:.0%}" for p, w in parts)
    return lo, hi, basis


def pool_weights(scenario) -> list:
    """(pool, share) of each pool with chips: its share of the fleet's planned peak FLOP/s (BF16)."""
    return peak_shares(scenario, {p.name: p.planned_units for p in scenario.fleet}) or [(largest_pool(scenario), 1.0)]


def peak_shares(scenario, amounts) -> list:
    """(pool, share) of each pool's ``amounts`` (chips, or chip-hours) times its chip's peak BF16 FLOP/s.

    In fleet order, pools with none left out; [] when no pool has any.
    """
    flops = [(p, amounts.get(p.name, 0) * scenario.chip(p.chip).bf16_tflops) for p in scenario.fleet]
    total = sum(f for _p, f in flops)
    return [(p, f / total) for p, f in flops if f > 0] if total > 0 else []


def blend(edges: Sequence[tuple[float, float, float]]) -> tuple[float, float]:
    """(P10, P90) of bands given as (weight, P10, P90), weighted in log.

    The job's speed is its pools' speeds together: an error shared by every pool in proportion to its share
    (one draw, the same quantile of each pool's band) moves the job's log speed by the weighted mean of theirs.
    """
    total = sum(w for w, _lo, _hi in edges) or 1.0
    lo = sum(w * math.log(max(x, 1e-12)) for w, x, _hi in edges) / total
    hi = sum(w * math.log(max(x, 1e-12)) for w, _lo, x in edges) / total
    return math.exp(lo), math.exp(hi)


def largest_pool(scenario):
    """The pool with the most peak FLOP/s at its planned size (the one ``model_band`` names)."""
    return max(scenario.fleet, key=lambda p: p.planned_units * scenario.chip(p.chip).bf16_tflops)


def error_band(scenario=None):
    """The model's P10-P90 band as an ErrorBand.

    Over every calibration case, or conditional on a scenario's workload and pools (the band of its largest
    pool by peak FLOP/s, ``scenario_band``).
    """
    from .system import ErrorBand

    p10, p90, _ = overall_band() if scenario is None else scenario_band(scenario)
    return ErrorBand(p10=p10, p90=p90)
