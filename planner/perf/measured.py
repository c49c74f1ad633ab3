"""The lab's own measurements: a Bayesian update of a pool's throughput from its ``measured`` rows.

A pool's true tokens/s on a workload w is the model's prediction times exp(y_w), y_w normal a priori
(a log-normal factor) with the band of the workload on that pool (perf.band: its P10/P90 ratios). A
measured row i observes y_i = log(measured / predicted for the measured run on this pool) with
measurement noise ``MEASUREMENT_NOISE_LOG``.

Two parts of y_w, as the band is built (perf.band: the stated-stack band, then widened to span the
basic and optimized stacks when the pool does not state its stack):

- the pool's software: when the stack is not stated, which level the pool really runs is one unknown z
  common to every workload on the pool; workload w loads on it by how much the levels change w's step
  time on this pool (the cost model run at basic, standard and optimized: overlap of its collectives,
  fused attention, recompute, kernels). A pilot on one model tells where the pool is, and the target
  moves by its own loading: transfer by physics. Its share q_w of the band's log-variance is the stack
  spread's (sd (log o_w - log b_w) / 2z90) against the stated band's.
- the model's own error on w (share 1 - q_w), correlated between runs of the same model by the kernel

      rho(i, t) = c exp(-d(i, t) / l - u(i, t) / l_u),   d(i, t) = 1 - sum_p min(a_ip, a_tp)

  (1 for the same model, composition and layout; 0 between different models, ``OTHER_MODEL``), where a_w is the
  share of w's step time on each path (dense GEMM, MoE experts, attention, memory-bound work, network) on this
  pool: d is the share of step time the two spend on different paths (total variation), and u the L1 distance
  of the two runs' replicas in layout space [log2] (``layout_coords``: TP, PP, virtual stages, CP, EP,
  micro-batch, micro-batches per pipeline, sequence length): one model at another scale runs another
  per-replica step (bubble, exposed collectives) when its batch does not grow with its replicas, so its error
  is less the pilot's. c is the share of a run's own error another run can inform at all (1 - c stays the
  run's own whatever is measured). exp(-L1/l) is a positive-definite (Laplacian) kernel. The lengths l, l_u,
  c and one row's noise are refit inside the transfer validation (perf.transfer: leave one row out of each
  source, chip and stack of the calibration set, the kernel chosen by the held-out log score of the other
  sources); the shipped values are in planner/data/measured.yaml (``python benchmarks/measured_transfer.py
  --write``). The noise starts from the cited floor ``MEASUREMENT_NOISE_LOG``.

Rows and target are jointly normal; the posterior is the closed-form Gaussian conditional (Rasmussen &
Williams 2006, eq. 2.19): mu_t|y = mu_t + k^T (K + s_m^2 I)^-1 (y - mu), var_t|y = s_t^2 - k^T (K + s_m^2 I)^-1 k.
One row on the target's own workload gives the conjugate normal update
(mu_0/s_0^2 + y/s_m^2) / (1/s_0^2 + 1/s_m^2): it moves the prediction almost fully.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING

import numpy as np

from ..arch import ModelArch
from ..errors import InfeasiblePlanError, ScenarioError
from ..yamlio import safe_load
from .layout import RECOMPUTE, Layout, Parallelism
from .params import count_params
from .search import LayoutPlanner, LayoutResult, best_layout
from .setup import TrainingSetup, training_setup, workload_setup
from .steptime import MOE_IMBALANCE, Candidates, evaluate, step_terms
from .system import Z_P90, System

if TYPE_CHECKING:
    from ..scenario import Pool, Scenario

PATHS = ("gemm", "moe", "attention", "memory", "network")
# the step-time terms (perf.steptime.StepTerms) each path holds; ``gemm`` is split into dense and expert matmuls
# by their FLOPs (``expert_gemm_share``); jitter scales every term alike and is left out
_TERM_PATH = {"attention": "attention", "cp": "attention", "output_layer": "gemm", "ep": "moe",
              "elementwise": "memory", "overhead": "memory", "optimizer": "memory",
              "tp": "network", "pp": "network", "dp": "network"}
# run-to-run noise of one throughput measurement [log]: Llama 3's throughput varied 1-2% with the time of day
# (Dubey et al. 2024, sec. 3.3.4, S01); 2% taken as one standard deviation
MEASUREMENT_NOISE_LOG = 0.02
# a measurement this far from the model's prediction (x or /) is taken for a typo (tokens/s per pool, or of
# another model), not a slow pool: the cross-validated residuals span 0.8-1.25 (README "Accuracy")
MAX_RATIO = 5.0
# (other-model factor, path length, layout length [log2], noise sd [log], shared share); a 4-tuple has shared 1
Kernel = tuple[float, ...]
# rows of another model share no own error: in the calibration set, rows of different models from one source scatter
# as much as rows of different sources, and a fitted factor made held-out transfer worse (perf.transfer)
OTHER_MODEL = 0.0
SAME_WORKLOAD = 1e-9  # step compositions this close are one workload on one layout (the same steps, timed alike)


@lru_cache(maxsize=1)
def settings() -> dict:
    """The shipped workload kernel and how it was fitted (planner/data/measured.yaml)."""
    return safe_load(resources.files("planner.data").joinpath("measured.yaml").read_text(encoding="utf-8"))


def kernel_settings() -> Kernel:
    """(other-model factor, path length, layout length, noise sd [log], shared) (fitted, planner/data/measured.yaml)."""
    s = settings()
    return (OTHER_MODEL, float(s["length"]), float(s.get("length_layout", s.get("length_units", 1e9))),
            float(s["noise_sd_log"]), float(s.get("shared", 1.0)))


def kernel_shared(kernel: Kernel) -> float:
    """The share of a run's own error that another run of its model can inform (1 for a 4-tuple kernel)."""
    return float(kernel[4]) if len(kernel) > 4 else 1.0


# --- pure functions ---------------------------------------------------------------------------------------------

def lognormal_band(p10_ratio: float, p90_ratio: float) -> tuple[float, float]:
    """(mu, sigma) of log(true / predicted) whose P10 and P90 are the band's ratios."""
    lo, hi = math.log(p10_ratio), math.log(p90_ratio)
    return (lo + hi) / 2.0, max((hi - lo) / (2.0 * Z_P90), 1e-6)


def expert_gemm_share(arch: ModelArch) -> float:
    """Share of a layer's matmul FLOPs [fraction] that runs in routed experts (0 for a dense model).

    Per token and layer: attention projections, the dense MLP (dense layers), shared experts and top_k routed
    experts at the busiest expert's load (``MOE_IMBALANCE``, as perf.steptime times them).
    """
    pc = count_params(arch)
    if pc.n_moe_layers == 0:
        return 0.0
    moe = pc.n_moe_layers / (pc.n_moe_layers + pc.n_dense_layers)
    routed = moe * pc.top_k * pc.expert_mlp * MOE_IMBALANCE
    dense = pc.attention_per_layer + (1 - moe) * pc.dense_mlp_per_layer + moe * pc.shared_experts * pc.expert_mlp
    return routed / (routed + dense)


def path_shares(terms_s: Mapping[str, float], expert_share: float = 0.0) -> np.ndarray:
    """Share of a step's time on each of ``PATHS`` [fraction, sums to 1] from its named terms [s]."""
    out = dict.fromkeys(PATHS, 0.0)
    for name, seconds in terms_s.items():
        if name == "gemm":
            out["gemm"] += seconds * (1.0 - expert_share)
            out["moe"] += seconds * expert_share
        elif name in _TERM_PATH:
            out[_TERM_PATH[name]] += seconds
    a = np.array([max(out[p], 0.0) for p in PATHS])
    return a / a.sum() if a.sum() > 0 else np.full(len(PATHS), 1.0 / len(PATHS))


def overlap(a: np.ndarray, b: np.ndarray) -> float:
    """Share of step time two workloads spend on the same paths: sum_p min(a_p, b_p) (1 = same composition)."""
    return float(np.minimum(a, b).sum())


@dataclass(frozen=True)
class WorkloadPrior:
    """A workload's prior on one pool: log(true / predicted) ~ N(mu, sd^2), and what its error shares with others."""

    mu: float
    sd: float
    stack_share: float  # q: share of sd^2 from not knowing the pool's stack (0 when it is stated)
    shares: np.ndarray  # path shares (``PATHS``)
    model: str = ""  # what identifies the model trained (``model_key``)
    units: int = 1  # chips of the run
    # where the run's replica sits in layout space (``layout_coords``); empty: only its chip count is known
    coords: tuple[float, ...] = ()


def correlation(a: WorkloadPrior, b: WorkloadPrior, kernel: Kernel) -> float:
    """Prior correlation of two workloads' own errors on one pool (1 for the same model, scale and composition).

    ``kernel`` = (m, l, l_u, noise, c): c exp(-d / l - du / l_u) with d = 1 - overlap of their path shares and
    du their distance in layout space (``layout_distance``), times m when the two train different models. Two
    runs that differ at all share at most c of their own error: the rest (1 - c) is the run's own (its
    configuration, software build, cluster) and no other run informs it; the same run (same model, composition
    and layout) correlates fully.
    """
    other, length, length_units = kernel[:3]
    d = max(1.0 - overlap(a.shares, b.shares), 0.0)
    du = layout_distance(a, b)
    same = a.model == b.model
    if same and d < SAME_WORKLOAD and du < SAME_WORKLOAD:
        return 1.0
    return (1.0 if same else other) * kernel_shared(kernel) * math.exp(-d / length - du / length_units)


def layout_coords(layout: Layout, setup: TrainingSetup) -> tuple[float, ...]:
    """Where one model replica's step sits in layout space [log2].

    Its model-parallel degrees (TP, PP, virtual stages, CP, EP), its micro-batch, the micro-batches each pipeline
    runs per step (the bubble's share goes with pp / that count) and the sequence length.

    Two runs of one model with the same coordinates run the same per-replica step and differ only in how many
    replicas exchange gradients (the data-parallel collective, a path of their step shares): a batch ramp that
    grows the batch with the replicas stays put (Nemotron-4 340B's DP16/32 stages at 48 sequences per replica,
    S19); a fixed batch on more replicas moves (MegaScale's 175B at 256 vs 12,288 GPUs, S14).
    """
    micro = max(setup.global_batch_seqs / max(layout.dp * layout.micro_batch, 1), 1.0)
    return tuple(math.log2(max(float(x), 1.0)) for x in (layout.tp, layout.pp, layout.vp, layout.cp, layout.ep,
                                                          layout.micro_batch, micro, setup.seq_len))


def layout_distance(a: WorkloadPrior, b: WorkloadPrior) -> float:
    """L1 distance of two runs in layout space [log2] (``layout_coords``).

    |log2 of their chip ratio| when either run's layout is not known.
    """
    if a.coords and len(a.coords) == len(b.coords):
        return float(sum(abs(x - y) for x, y in zip(a.coords, b.coords, strict=True)))
    return abs(math.log2(max(a.units, 1) / max(b.units, 1)))


def covariance(a: WorkloadPrior, b: WorkloadPrior, kernel: Kernel) -> float:
    """Prior covariance of two workloads' log ratios on one pool (module docstring)."""
    stack = math.sqrt(a.stack_share * b.stack_share)
    own = math.sqrt((1.0 - a.stack_share) * (1.0 - b.stack_share)) * correlation(a, b, kernel)
    return a.sd * b.sd * (stack + own)


@dataclass(frozen=True)
class Posterior:
    """The target workload's log(true / predicted) after the rows: mean, sd, and each row's pull."""

    mu: float
    sd: float
    prior_mu: float
    prior_sd: float
    correlations: tuple[float, ...]  # each row's prior correlation with the target
    weights: tuple[float, ...]  # d mu / d y_i: how much of a row's surprise moves the target
    noise_sd: float = 0.0  # one run's own noise [log]: the band of what a run achieves adds it

    @property
    def factor(self) -> float:
        """The posterior median factor on the prediction, exp(mu)."""
        return math.exp(self.mu)

    def band(self) -> tuple[float, float]:
        """The P10 and P90 of what a run achieves, as ratios of the model's prediction (posterior and run noise)."""
        half = Z_P90 * math.sqrt(self.sd ** 2 + self.noise_sd ** 2)
        return math.exp(self.mu - half), math.exp(self.mu + half)


def posterior(target: WorkloadPrior, rows: Sequence[WorkloadPrior], y: Sequence[float],
              kernel: Kernel) -> Posterior:
    """The Gaussian conditional of the target's log ratio given the rows' observed log ratios ``y``.

    ``kernel`` = (other-model factor, path length, layout length, noise sd [log], shared) (``correlation``; noise:
    one row's).
    """
    noise_sd = kernel[3]
    n = len(y)
    if n == 0:
        return Posterior(target.mu, target.sd, target.mu, target.sd, (), ())  # the band as it was: no noise added
    cov = np.array([[covariance(rows[i], rows[j], kernel) for j in range(n)] for i in range(n)])
    cov += np.eye(n) * noise_sd ** 2
    k = np.array([covariance(r, target, kernel) for r in rows])
    w = np.linalg.solve(cov, k)  # K^-1 k (K symmetric)
    mu = target.mu + float(w @ (np.asarray(y, dtype=float) - np.array([r.mu for r in rows])))
    var = max(target.sd ** 2 - float(w @ k), 1e-12)
    rho = tuple(float(k[i] / (rows[i].sd * target.sd)) for i in range(n))
    return Posterior(mu, math.sqrt(var), target.mu, target.sd, rho, tuple(float(x) for x in w), noise_sd)


def workload_prior(stated: tuple[float, float], spread: tuple[float, float] | None, shares: np.ndarray,
                   model: str = "", units: int = 1, coords: tuple[float, ...] = ()) -> WorkloadPrior:
    """A workload's prior from its stated-stack band ratios (P10, P90) and its stack spread.

    ``spread``: when the pool does not state its stack, the (basic, optimized) / standard throughput ratios the
    band is widened by (perf.band.band_from); None otherwise.
    """
    m, s = lognormal_band(*stated)
    if spread is None:
        return WorkloadPrior(m, s, 0.0, shares, model, units, coords)
    lo, hi = math.log(min(spread[0], 1.0)), math.log(max(spread[1], 1.0))
    s_stack = (hi - lo) / (2.0 * Z_P90)
    q = s_stack ** 2 / (s_stack ** 2 + s ** 2) if s_stack > 0 else 0.0
    return WorkloadPrior(m + (lo + hi) / 2.0, s + s_stack, q, shares, model, units, coords)


def model_key(arch: ModelArch) -> str:
    """What identifies a model across runs: its architecture written out (presets and explicit ones alike)."""
    return arch.model_dump_json()


def pin_problem(arch: ModelArch, seq_len: int, pins: Parallelism) -> tuple[str, str] | None:
    """(field, why) of a pinned degree a measured run's model cannot take, or None."""
    if pins.tp and arch.heads % pins.tp:
        return "tp", f"tp={pins.tp} does not divide the {arch.heads} attention heads"
    if pins.pp and pins.pp > arch.layers:
        return "pp", f"pp={pins.pp} is more pipeline stages than the {arch.layers} layers"
    if pins.cp and seq_len % pins.cp:
        return "cp", f"cp={pins.cp} does not divide the sequence length {seq_len}"
    if pins.ep and pins.ep > 1 and (arch.moe is None or arch.moe.experts % pins.ep):
        return "ep", (f"ep={pins.ep} needs a mixture-of-experts model; this one is dense" if arch.moe is None
                      else f"ep={pins.ep} does not divide the {arch.moe.experts} experts")
    return None


# --- the cost model's view of one workload on one system ----------------------------------------------------------

def layout_terms(arch: ModelArch, system: System, setup: TrainingSetup, layout: Layout) -> dict[str, float]:
    """The step-time terms [s] of one layout (perf.steptime.step_terms)."""
    one = np.array([1])
    c = Candidates(tp=one * layout.tp, pp=one * layout.pp, vp=one * layout.vp, cp=one * layout.cp,
                   ep=one * layout.ep, dp=one * layout.dp, mb=one * layout.micro_batch,
                   recompute=one * RECOMPUTE.index(layout.recompute), zero=one * layout.zero)
    terms = step_terms(evaluate(arch, system, setup, c, keep_parts=True))
    return {n: float(getattr(terms, n)[0]) for n in terms.NAMES}


def workload_shares(arch: ModelArch, system: System, setup: TrainingSetup, layout: Layout) -> np.ndarray:
    """Path shares of a workload's step on its layout."""
    return path_shares(layout_terms(arch, system, setup, layout), expert_gemm_share(arch))


# --- a pool's fit --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class RowFit:
    """One measured row against the model: what was measured, predicted, and how it bears on the target."""

    model: str
    units: int
    seq_len: int
    measured: float  # tokens/s per chip
    predicted: float  # tokens/s per chip, the model's (no measurement)
    correlation: float
    weight: float
    layout: str

    @property
    def ratio(self) -> float:
        """Measured / predicted."""
        return self.measured / self.predicted


@dataclass(frozen=True)
class PoolFit:
    """A pool's efficiency fitted from its measured rows."""

    post: Posterior
    rows: tuple[RowFit, ...]
    target_shares: tuple[float, ...]
    kernel: Kernel  # (other-model factor, path length, layout length, noise sd, shared) (``correlation``)
    stack_share: float = 0.0  # share of the target's prior log-variance from the pool's unstated stack

    @property
    def efficiency(self) -> float:
        """Factor on the model's tokens/s for the scenario's workload on this pool (posterior median)."""
        return self.post.factor

    @property
    def n(self) -> int:
        """Number of measured rows."""
        return len(self.rows)

    def as_dict(self) -> dict:
        """The update as `planner estimate --explain` shows it."""
        p10, p90 = self.post.band()
        pm, ps = self.post.prior_mu, self.post.prior_sd
        prior = {"median": math.exp(pm), "p10": math.exp(pm - Z_P90 * ps), "p90": math.exp(pm + Z_P90 * ps)}
        names = ("other_model", "length", "length_layout", "noise_sd_log", "shared")
        return {"prior": prior, "kernel": dict(zip(names, tuple(self.kernel[:4]) + (kernel_shared(self.kernel),),
                                                   strict=True)),
                "stack_share": self.stack_share,
                "target_path_shares": dict(zip(PATHS, self.target_shares, strict=True)),
                "rows": [{"model": r.model, "units": r.units, "seq_len": r.seq_len, "layout": r.layout,
                          "measured_tokens_per_s_per_chip": r.measured, "predicted_tokens_per_s_per_chip": r.predicted,
                          "ratio": r.ratio, "correlation": r.correlation, "weight": r.weight} for r in self.rows],
                "posterior": {"efficiency": self.efficiency, "p10": p10, "p90": p90}}


def _row_name(row) -> str:
    return row.model if isinstance(row.model, str) else "custom"


def fit_pool(scenario: Scenario, pool: Pool, target_layout: Layout | None = None) -> PoolFit | None:
    """The pool's efficiency for the scenario's workload from its ``measured`` rows (None without rows).

    A row on which no layout fits, or that is more than ``MAX_RATIO`` off the model, is bad input
    (ScenarioError naming ``fleet[i].measured[j]``).
    """
    if not pool.measured:
        return None
    key = json.dumps({"w": scenario.workload.model_dump(mode="json"), "p": pool.model_dump(mode="json", by_alias=True),
                      "s": sorted(pool.model_fields_set), "c": [c.model_dump(mode="json") for c in scenario.chips],
                      "l": None if target_layout is None else target_layout.as_dict()}, sort_keys=True, default=str)
    if key not in _FITS:
        if len(_FITS) >= MAX_CACHED_FITS:
            _FITS.pop(next(iter(_FITS)))
        _FITS[key] = _fit(scenario, pool, target_layout)
    return _FITS[key]


_FITS: dict[str, PoolFit] = {}  # fits by the scenario's workload, the pool, custom chips and layout
MAX_CACHED_FITS = 64  # a sweep's points each fit once per process


def stack_stated(pool: Pool) -> bool:
    """Whether the pool states its software stack (left out: standard point estimate, band over the levels)."""
    return "stack" in pool.model_fields_set and pool.stack is not None


def _stated_band(chip_id: str, arch: ModelArch, precision: str, seq_len: int, stack: str | None) -> tuple[float, float]:
    """The band's (P10, P90) ratios before any widening for an unstated stack (perf.band, else the shipped one)."""
    from .band import band

    lo, hi, _ = band(chip_id, moe=arch.moe is not None, precision=precision, seq_len=seq_len, stack=stack)
    return lo, hi


def _spread(scenario: Scenario, pool: Pool, arch: ModelArch, setup: TrainingSetup,
            pin: Parallelism) -> tuple[float, float] | None:
    """(basic, optimized) / standard throughput of one run on the pool's chips: ``band.level_spread``.

    On the same chips as the band without measurements (the prior is that band), for the scenario's workload and
    for each measured run alike: the same workload loads on the stack as much wherever it was measured.
    """
    from .band import level_spread

    return level_spread(scenario.chip(pool.chip), arch, setup, pin, pool.network_gbps, pool.fused_attention,
                        pool.efficiency)


def _fit(scenario: Scenario, pool: Pool, target_layout: Layout | None) -> PoolFit:
    from .system import system_for

    # the pool's system and the workload's setup, as planner/bridge.py makes them (perf does not import it)
    system = system_for(scenario.chip(pool.chip), pool.stack, pool.network_gbps, pool.fused_attention,
                        pool.efficiency)
    index = next(i for i, p in enumerate(scenario.fleet) if p.name == pool.name)
    stack = pool.stack if stack_stated(pool) else None
    wl = scenario.workload
    setup = workload_setup(scenario)
    if target_layout is None:
        pin = pool.parallelism or Parallelism()
        target_layout = best_layout(wl.arch, system, setup, pool.usable_units, pin).layout
    target = workload_prior(
        _stated_band(pool.chip, wl.arch, wl.precision, wl.seq_len, stack),
        None if stack else _spread(scenario, pool, wl.arch, setup, pool.parallelism or Parallelism()),
        workload_shares(wl.arch, system, setup, target_layout), model_key(wl.arch), target_layout.units,
        layout_coords(target_layout, setup))
    ys, priors, rows = [], [], []
    for j, m in enumerate(pool.measured):
        where = f"fleet[{index}].measured[{j}]"
        arch, pin = m.arch, m.parallelism or Parallelism()
        m_setup = training_setup(arch, m.seq_len, m.global_batch_tokens, m.precision, system.fused_attention)
        try:
            r = best_layout(arch, system, m_setup, m.units, pin)
        except InfeasiblePlanError as exc:
            raise ScenarioError(f"no layout of this measured run fits the cost model: {exc}", field=where) from None
        predicted = r.tokens_per_s / r.units_used
        ratio = m.tokens_per_s_per_chip / predicted
        if not 1.0 / MAX_RATIO <= ratio <= MAX_RATIO:
            raise ScenarioError(f"{m.tokens_per_s_per_chip:,.4g} tokens/s per chip is {ratio:.3g} x the model's "
                                f"{predicted:,.4g} for this run: per chip, of this model? (accepted: within "
                                f"{MAX_RATIO:g} x)", field=f"{where}.tokens_per_s_per_chip")
        ys.append(math.log(ratio))
        priors.append(workload_prior(_stated_band(pool.chip, arch, m.precision, m.seq_len, stack),
                                     None if stack else _spread(scenario, pool, arch, m_setup, pin),
                                     workload_shares(arch, system, m_setup, r.layout), model_key(arch),
                                     r.units_used, layout_coords(r.layout, m_setup)))
        rows.append((m, predicted, r.layout.label()))
    kern = kernel_settings()
    post = posterior(target, priors, ys, kern)
    fits = tuple(RowFit(model=_row_name(m), units=m.units, seq_len=m.seq_len, measured=m.tokens_per_s_per_chip,
                        predicted=pred, correlation=rho, weight=w, layout=lay)
                 for (m, pred, lay), rho, w in zip(rows, post.correlations, post.weights, strict=True))
    return PoolFit(post=post, rows=fits, target_shares=tuple(float(x) for x in target.shares), kernel=kern,
                   stack_share=target.stack_share)


def band_basis(fit: PoolFit, prior_basis: str | None = None) -> str:
    """One sentence: what the pool's band rests on once it has measurements."""
    what = f"based on {fit.n} of your measurements on this pool (Bayesian update"
    return what + (f" of the prior band: {prior_basis.rstrip('.')})" if prior_basis else " of the model's band)")


def apply_to_estimate(scenario: Scenario, pool: Pool, row: dict, layout: Layout | None = None) -> dict:
    """A pool's `planner estimate` row with its measured rows folded in (the row unchanged without any).

    Scales tokens/s, MFU, step time and days by the fitted efficiency, puts the posterior band in
    ``tokens_per_s_p10``/``_p90`` and adds ``efficiency_fitted`` and ``band_basis``.
    """
    if not pool.measured:
        return row
    point = row["tokens_per_s"]
    fit = fit_pool(scenario, pool, layout)
    f = fit.efficiency
    p10, p90 = fit.post.band()
    out = dict(row)
    out.update(tokens_per_s=point * f, tokens_per_s_p10=point * p10, tokens_per_s_p90=point * p90,
               mfu=row["mfu"] * f, step_time_s=row["step_time_s"] / f,
               time_to_train_days=row["time_to_train_days"] / f, efficiency_fitted=f,
               band_basis=band_basis(fit, row.get("band_basis")))
    return out


# --- the simulation: every layout of a measured pool at the fitted efficiency --------------------------------------

class FittedPlanner(LayoutPlanner):
    """A pool's layout planner whose every result runs at the pool's fitted efficiency.

    The layout search itself is the model's (a uniform factor on tokens/s does not change which layout is
    fastest); tokens/s and MFU scale by the factor, the step time by its inverse.
    """

    efficiency: float = 1.0

    @classmethod
    def wrap(cls, planner: LayoutPlanner, efficiency: float) -> FittedPlanner:
        """The planner's state under this class (its caches shared), at ``efficiency``."""
        out = cls.__new__(cls)
        out.__dict__.update(planner.__dict__)
        out.efficiency = float(efficiency)
        return out

    def layout(self, units: int, batch_seqs: int | None = None) -> LayoutResult | None:  # noqa: D102
        r = super().layout(units, batch_seqs)
        if r is None:
            return None
        f = self.efficiency
        return replace(r, tokens_per_s=r.tokens_per_s * f, step_time_s=r.step_time_s / f, mfu=r.mfu * f)


def with_measurements(scenario: Scenario, planners: dict) -> dict:
    """Layout planners with each measured pool's at its fitted efficiency (others unchanged)."""
    out = dict(planners)
    for pool in scenario.fleet:
        planner = planners.get(pool.name)
        if planner is None or not pool.measured:
            continue
        full = planner.layout(pool.usable_units) or planner.layout(pool.planned_units)
        fit = fit_pool(scenario, pool, full.layout if full is not None else None)
        out[pool.name] = FittedPlanner.wrap(planner, fit.efficiency)
    return out


# --- reading a measurement from training logs -----------------------------------------------------------------------

_MEGATRON_MS = re.compile(r"elapsed time per iteration \(ms\):\s*([0-9.]+)")
_MEGATRON_BATCH = re.compile(r"global batch size:\s*([0-9]+)")
_TITAN_TPS = re.compile(r"\btps:\s*([0-9][0-9,]*\.?[0-9]*)")
WARMUP_STEPS = 3  # the first logged steps include compilation and warm-up; left out


def tokens_per_s_per_chip_from_log(lines, seq_len: int, units: int) -> float | None:
    """Median tokens/s per chip over the logged steps (the first ``WARMUP_STEPS`` left out), or None.

    Megatron-LM and MindSpeed print ``elapsed time per iteration (ms): T`` and ``global batch size: B`` per
    logged step: tokens/s per chip = B x seq_len / (T / 1000) / units. torchtitan prints ``tps: N``, already
    tokens per second per GPU.
    """
    per_chip = []
    for line in lines:
        tps = _TITAN_TPS.search(line)
        if tps:
            per_chip.append(float(tps.group(1).replace(",", "")))
            continue
        ms, batch = _MEGATRON_MS.search(line), _MEGATRON_BATCH.search(line)
        if ms and batch and float(ms.group(1)) > 0:
            per_chip.append(int(batch.group(1)) * seq_len / (float(ms.group(1)) / 1000.0) / max(units, 1))
    steady = per_chip[WARMUP_STEPS:] if len(per_chip) > WARMUP_STEPS else per_chip
    return float(np.median(steady)) if steady else None
