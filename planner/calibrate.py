"""Predicted vs published figures for the calibration runs, in sample and cross-validated, on two paths.

The cases are rows of ../reference with a figure the model can predict (planner/data/calibration.yaml) and
rows added from other public sources, each with its source (planner/data/calibration_extra.csv): throughput
configurations (MFU, tokens/s per chip, hardware TFLOP/s) and whole runs (chip-hours, through the time
simulation with failures).

Two paths are scored:
- as published: the layout dimensions the source publishes are pinned, the stack is the one it describes;
- the default path, as a user gets it: nothing pinned (the layout searched over what the stack offers), the
  stack as the row's owner would state it.

Fitted constants (``FITTED``): each stack's kernel factor and the FP8/BF16 GEMM share ratio. ``calibrate``
fits them on every case (in sample, on the published path); under cross-validation they are refit without
each publication's cases (grouped leave-one-source-out) and the held-out cases are scored on both paths,
beside a naive constant-MFU rule. Every other constant cites its source (``CITED``). The P10-P90 band of
``perf.band`` is checked out of fold: each case's band is computed from the default-path residuals of the
other publications only.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

import numpy as np

from .arch import ModelArch
from .bridge import layout_for
from .catalog import STACK_LEVELS, chips, models
from .perf import band as bandmod
from .perf.layout import Parallelism
from .perf.params import model_flops_per_token
from .perf.setup import training_setup
from .perf.system import system_for, tuning
from .yamlio import safe_load

KERNEL_GRID = (0.55, 0.65, 0.75, 0.85, 0.95, 1.05, 1.15)  # kernel factors scored; log-interpolated between
FINE_GRID = np.round(np.arange(0.55, 1.1501, 0.005), 4)
FP8_GRID = (0.6, 0.75, 0.9, 1.05)  # FP8/BF16 GEMM share ratios scored for FP8 cases; log-interpolated between
FP8_FINE = np.round(np.arange(0.6, 1.0501, 0.01), 4)
NAIVE_MFU = 0.35  # the constant rule: tokens/s = 35% x peak / FLOPs per token
FIT_ROUNDS = 3  # coordinate descent: kernels given the FP8 ratio, then the ratio given the kernels

# What the cross-validation refits inside every fold, and the constants that cite a source instead.
FITTED = (
    ("kernel.basic", "kernel factor of the basic stack against the chip's GEMM microbenchmark"),
    ("kernel.standard", "kernel factor of the standard stack"),
    ("kernel.optimized", "kernel factor of the optimized stack"),
    ("fp8_vs_bf16", "FP8 GEMM share of the FP8 peak over the BF16 share of the BF16 peak"),
    ("band", "P10-P90 band: shrunk per-category mean and variance of default-path log residuals, the quantile "
             "multiplier k and prior strength nu0 refit on each fold's publications (perf/band.py)"),
)
CITED = (
    ("matmul_efficiency", "per chip: BF16 GEMM microbenchmark share of the peak (chips.yaml; S100, S95)"),
    ("ATTENTION_PEAK_SHARE, ATTENTION_HALF_SEQ", "FlashAttention-2 rate by sequence length (S119)"),
    ("ATTENTION_BWD_FACTOR", "FlashAttention backward 2.5x forward (Dao 2023 sec. 3.1)"),
    ("HBM_EFFICIENCY", "streaming kernels at 80% of HBM peak (vendor microbenchmarks)"),
    ("LINK_EFFICIENCY", "NCCL/HCCL bus bandwidth 80% of link peak (nccl-tests)"),
    ("SCALE_UP_LATENCY_S, SCALE_OUT_LATENCY_S", "collective step latencies (nccl-tests)"),
    ("OVERLAP_INTERFERENCE", "overlapped communication slows compute 20% (CoCoNet, Jangda et al. 2022)"),
    ("MOE_IMBALANCE", "capacity factor 1.25 (GShard/Switch, S106)"),
    ("GEMM_TILE_ROWS", "128-row GEMM tiles (S104)"),
    ("STEP_JITTER_CV", "1% per-chip step jitter (Llama 3 sec. 3.3.4, S103)"),
    ("overlap_dp/tp/pp/ep, launch_us", "per stack (stacks.yaml: PyTorch DDP, Megatron-Core, MegaScale, DeepSeek-V3)"),
    ("moe_efficiency", "per stack: MegaScale-MoE 1.65-1.88x over Megatron-LM (stacks.yaml, S116)"),
    ("zero, recompute, interleaved, context_parallel, expert_parallel", "what each stack offers (stacks.yaml)"),
    ("bytes per parameter, activations", "Megatron 18 B/param (S102), Korthikanti et al. 2022"),
    ("RUNTIME_RESERVED_BYTES, ALLOCATOR_FRAGMENTATION", "2 GiB runtime, 10% fragmentation (S108)"),
)
LONG_CONTEXT_TOKENS = bandmod.LONG_CONTEXT_TOKENS


@dataclass(frozen=True)
class CalibrationRow:
    """One published figure, the model's predictions of it and the naive rule's."""

    id: str
    title: str
    chip: str
    units: int
    metric: str
    stack: str
    group: str
    published: float
    predicted: float  # in sample, as published
    predicted_cv: float  # with the case's publication left out of the fit, as published
    naive: float
    parallelism: dict
    sources: list[str] = field(default_factory=list)
    predicted_default_cv: float = float("nan")  # out of fold, on the default path
    parallelism_default: dict = field(default_factory=dict)
    band_p10: float = float("nan")  # the case's P10-P90 band (throughput ratios), out of fold
    band_p90: float = float("nan")
    categories: tuple[str, ...] = ()
    precision: str = "bf16"

    @property
    def error(self) -> float:
        """Signed relative error of the in-sample prediction."""
        return self.predicted / self.published - 1.0

    @property
    def error_cv(self) -> float:
        """Signed relative error of the cross-validated prediction."""
        return self.predicted_cv / self.published - 1.0

    @property
    def error_default_cv(self) -> float:
        """Signed relative error of the cross-validated default-path prediction."""
        return self.predicted_default_cv / self.published - 1.0

    @property
    def error_naive(self) -> float:
        """Signed relative error of the naive rule."""
        return self.naive / self.published - 1.0

    def throughput_ratio(self, predicted: float) -> float:
        """Published / predicted throughput (chip-hours inverted)."""
        r = self.published / predicted
        return 1.0 / r if self.metric == "chip_hours" else r

    @property
    def band_covers(self) -> bool:
        """Whether the published figure falls inside the case's out-of-fold P10-P90 band."""
        return self.band_p10 <= self.throughput_ratio(self.predicted_default_cv) <= self.band_p90


def _extra_cases() -> list[dict]:
    """Rows added from public sources (planner/data/calibration_extra.csv), each with its source."""
    text = resources.files("planner.data").joinpath("calibration_extra.csv").read_text(encoding="utf-8")
    out = []
    for row in csv.DictReader(text.splitlines()):
        case = {"id": row["id"], "title": row["title"], "chip": row["chip"], "units": int(row["units"]),
                "seq_len": int(row["seq_len"]), "metric": row["metric"], "published": float(row["published"]),
                "stack": row["stack"], "group": row["group"], "precision": row["precision"] or "bf16",
                "source": row["source"], "sources": [row["group"]]}
        if row["model"]:
            case["model"] = row["model"]
        else:
            case["arch"] = json.loads(row["arch"])
        if row["global_batch_tokens"]:
            case["global_batch_tokens"] = float(row["global_batch_tokens"])
        if row.get("network_gbps"):  # the publication's scale-out bandwidth per chip, where it states one
            case["network_gbps"] = float(row["network_gbps"])
        pin = json.loads(row["parallelism"] or "{}")
        if pin:
            case["parallelism"] = pin
        out.append(case)
    return out


@lru_cache(maxsize=1)
def cases() -> list[dict]:
    """Every calibration case: planner/data/calibration.yaml, then planner/data/calibration_extra.csv."""
    base = safe_load(resources.files("planner.data").joinpath("calibration.yaml").read_text(encoding="utf-8"))
    return list(base) + _extra_cases()


def megatron_hw_flops_per_step(a: ModelArch, seq_len: int, batch_seqs: float) -> float:
    """FLOPs per iteration with full recompute (Narayanan et al. 2021, eq. 3): 96 B s l h^2 (1 + s/6h + V/16lh)."""
    h, n_layers = a.hidden, a.layers
    return 96.0 * batch_seqs * seq_len * n_layers * h * h * (1 + seq_len / (6 * h) + a.vocab / (16 * n_layers * h))


def _arch(case: dict) -> ModelArch:
    return models()[case["model"]].arch if "model" in case else ModelArch(**case["arch"])


def _setup(case: dict):
    return training_setup(_arch(case), case["seq_len"], case.get("global_batch_tokens"),
                          case.get("precision", "bf16"))


def _system(case: dict, kernel: float, fp8: float):
    return system_for(chips()[case["chip"]], case.get("stack"), case.get("network_gbps"),
                      case.get("fused_attention"), kernel=kernel, fp8_vs_bf16=fp8)


def categories_of(case: dict) -> tuple[str, ...]:
    """The categories a case falls in (chip family, MoE or dense, precision, long context, stack)."""
    arch = _arch(case)
    return bandmod.categories(case["chip"], moe=arch.moe is not None, precision=case.get("precision", "bf16"),
                              seq_len=case["seq_len"], stack=case.get("stack", "standard"))


def _chip_hours_via_sim(case: dict, kernel: float) -> float:
    from .scenario import Scenario
    from .sim.runner import run_scenario

    base = float(system_for(chips()[case["chip"]], case.get("stack")).kernel)
    workload = {"model": case.get("model") or case["arch"], "tokens": case["tokens"], "seq_len": case["seq_len"],
                "global_batch_tokens": case.get("global_batch_tokens"), "precision": case.get("precision", "bf16")}
    scenario = Scenario.model_validate({
        "name": case["id"], "start": "2023-01-01", "horizon_days": 3650, "workload": workload,
        # the kernel factor under test, expressed as the pool's efficiency against the shipped one
        "fleet": [{"name": "pool", "chip": case["chip"], "units": case["units"], "stack": case.get("stack"),
                   "efficiency": kernel / base}],
        "reliability": {"enabled": True}, "simulation": {"seed": 0, "replications": 1},
    })
    result = run_scenario(scenario, replications=1, seed=0)
    return float(result.summary.metrics["chip_hours"].p50)


def predict(case: dict, kernel: float, default_path: bool = False, fp8: float | None = None) -> tuple[float, dict]:
    """The model's figure for one case at a kernel factor (and FP8 ratio), and the layout it used.

    ``default_path``: nothing pinned, the layout searched over what the stated stack offers.
    """
    if case["metric"] == "chip_hours":
        return _chip_hours_via_sim(case, kernel), {}
    fp8 = float(tuning().get("fp8_vs_bf16", 1.0)) if fp8 is None else fp8
    arch, wl = _arch(case), _setup(case)
    pin = Parallelism() if default_path else Parallelism(**case.get("parallelism", {}))
    r = layout_for(arch, _system(case, kernel, fp8), wl, case["units"], pin)
    metric = case["metric"]
    if metric == "mfu":
        value = r.mfu
    elif metric == "tokens_per_s_per_chip":
        value = r.tokens_per_s / r.units_used
    elif metric == "hw_tflops_per_chip":
        seqs = r.tokens_per_s * r.step_time_s / wl.seq_len
        value = megatron_hw_flops_per_step(arch, wl.seq_len, seqs) / r.step_time_s / r.units_used / 1e12
    elif metric == "model_tflops_per_chip":  # tokens/s per chip x model FLOPs per token (PaLM, params.py)
        value = r.tokens_per_s / r.units_used * model_flops_per_token(arch, wl.seq_len) / 1e12
    else:
        raise AssertionError(f"unknown calibration metric {metric!r}")
    return float(value), r.layout.as_dict()


def naive(case: dict) -> float:
    """The constant rule's figure: 35% of the dense peak on model FLOPs."""
    arch, wl = _arch(case), _setup(case)
    peak = chips()[case["chip"]].peak_flops(wl.precision)
    tokens_per_s_chip = NAIVE_MFU * peak / model_flops_per_token(arch, wl.seq_len)
    metric = case["metric"]
    if metric == "mfu":
        return NAIVE_MFU
    if metric == "tokens_per_s_per_chip":
        return tokens_per_s_chip
    if metric == "hw_tflops_per_chip":
        return megatron_hw_flops_per_step(arch, wl.seq_len, 1.0) / wl.seq_len * tokens_per_s_chip / 1e12
    if metric == "model_tflops_per_chip":
        return NAIVE_MFU * peak / 1e12
    return case["tokens"] / tokens_per_s_chip / 3600.0  # chip_hours


def _is_fp8(case: dict) -> bool:
    return case.get("precision", "bf16") == "fp8" and bool(chips()[case["chip"]].fp8_tflops)


@dataclass
class _Table:
    """Each case's log prediction over (fine kernel grid x fine FP8 grid), on one path."""

    log_pred: np.ndarray  # cases x kernel fine grid x fp8 fine grid
    layouts: list[dict]

    def at(self, i: int, k: float, f: float) -> float:
        return float(math.exp(self.log_pred[i, _k_index(k), _f_index(f)]))


def _k_index(k: float) -> int:
    return int(np.argmin(np.abs(FINE_GRID - k)))


def _f_index(f: float) -> int:
    return int(np.argmin(np.abs(FP8_FINE - f)))


def _table(all_cases: list[dict], default_path: bool) -> _Table:
    rows, layouts = [], []
    for case in all_cases:
        fp8s = FP8_GRID if _is_fp8(case) else (1.0,)
        grid = np.zeros((len(KERNEL_GRID), len(fp8s)))
        lay = {}
        for a, k in enumerate(KERNEL_GRID):
            for b, f in enumerate(fp8s):
                v, lay_k = predict(case, k, default_path=default_path, fp8=f)
                grid[a, b] = math.log(v)
                if abs(k - 0.85) < 1e-9 and b == len(fp8s) // 2:
                    lay = lay_k
        # interpolate over the kernel axis, then the FP8 axis (constant when the case is not FP8)
        along_k = np.array([np.interp(FINE_GRID, KERNEL_GRID, grid[:, b]) for b in range(len(fp8s))]).T
        if len(fp8s) > 1:
            full = np.array([np.interp(FP8_FINE, fp8s, along_k[j]) for j in range(len(FINE_GRID))])
        else:
            full = np.repeat(along_k, len(FP8_FINE), axis=1)
        rows.append(full)
        layouts.append(lay)
    return _Table(np.array(rows), layouts)


def _fit(table: _Table, all_cases: list[dict], idx: list[int], start_fp8: float) -> tuple[dict[str, float], float]:
    """Kernel factor per stack and the FP8 ratio minimising the MAPE over the cases ``idx`` (published path)."""
    logp = np.array([math.log(all_cases[i]["published"]) for i in range(len(all_cases))])

    fp8 = start_fp8
    kernels: dict[str, float] = {}
    fp8_cases = [i for i in idx if _is_fp8(all_cases[i])]
    for _ in range(FIT_ROUNDS):
        fj = _f_index(fp8)
        pooled = float(FINE_GRID[int(np.argmin(np.abs(np.exp(table.log_pred[idx][:, :, fj]
                                                              - logp[idx][:, None]) - 1.0).mean(axis=0)))])
        kernels = {}
        for s in STACK_LEVELS:
            members = [i for i in idx if all_cases[i].get("stack", "standard") == s]
            if not members:
                kernels[s] = pooled
                continue
            err = np.abs(np.exp(table.log_pred[members][:, :, fj] - logp[members][:, None]) - 1.0).mean(axis=0)
            kernels[s] = float(FINE_GRID[int(np.argmin(err))])
        if fp8_cases:
            err = np.zeros(len(FP8_FINE))
            for i in fp8_cases:
                kj = _k_index(kernels[all_cases[i].get("stack", "standard")])
                err += np.abs(np.exp(table.log_pred[i, kj, :] - logp[i]) - 1.0)
            fp8 = float(FP8_FINE[int(np.argmin(err))])
    return kernels, fp8


@dataclass
class Calibration:
    """In-sample and cross-validated predictions of every case, the fitted constants and the band check."""

    rows: list[CalibrationRow]
    kernels: dict[str, float]
    fp8_vs_bf16: float = 1.0
    band_stats: dict = field(default_factory=dict)

    @staticmethod
    def _mape(errors) -> float:
        return float(np.mean(np.abs(errors))) if len(errors) else float("nan")

    @property
    def mape_in_sample(self) -> float:
        """Mean absolute percentage error in sample [fraction]."""
        return self._mape([r.error for r in self.rows])

    @property
    def mape_cv(self) -> float:
        """Mean absolute percentage error cross-validated, as published [fraction]."""
        return self._mape([r.error_cv for r in self.rows])

    @property
    def mape_default_cv(self) -> float:
        """Mean absolute percentage error cross-validated on the default path [fraction]."""
        return self._mape([r.error_default_cv for r in self.rows])

    @property
    def mape_naive(self) -> float:
        """Mean absolute percentage error of the naive rule [fraction]."""
        return self._mape([r.error_naive for r in self.rows])

    def throughput_ratios(self) -> np.ndarray:
        """Published / cross-validated predicted throughput per case, as published (chip-hours inverted)."""
        return np.array([r.throughput_ratio(r.predicted_cv) for r in self.rows])

    def default_ratios(self) -> np.ndarray:
        """Published / cross-validated default-path predicted throughput per case (chip-hours inverted)."""
        return np.array([r.throughput_ratio(r.predicted_default_cv) for r in self.rows])

    def categories(self) -> list[dict]:
        """Per category: cases, MAPE in sample / cross-validated on both paths, and the band's coverage."""
        names: list[str] = ["all"]
        for r in self.rows:
            for c in r.categories:
                if c not in names:
                    names.append(c)
        out = []
        for name in names:
            members = [r for r in self.rows if name == "all" or name in r.categories]
            out.append({
                "name": name, "n": len(members),
                "mape_in_sample": 100 * self._mape([r.error for r in members]),
                "mape_cv": 100 * self._mape([r.error_cv for r in members]),
                "mape_default_cv": 100 * self._mape([r.error_default_cv for r in members]),
                "band_coverage": float(np.mean([r.band_covers for r in members])),
            })
        return out

    def constants(self) -> list[dict]:
        """Every fitted constant (refit in CV) with its shipped value, then the constants that cite a source."""
        values = {f"kernel.{k}": v for k, v in self.kernels.items()} | {"fp8_vs_bf16": self.fp8_vs_bf16}
        out = [{"name": n, "what": w, "basis": "refit in CV", "value": values.get(n)} for n, w in FITTED]
        out += [{"name": n, "what": "", "basis": w, "value": None} for n, w in CITED]
        return out


def _group(case: dict) -> str:
    return case.get("group", case["id"])


def calibrate(cv: bool = True) -> Calibration:
    """Fit the constants on every case; with ``cv``, refit without each publication's cases and score both paths."""
    all_cases = cases()
    start_fp8 = 1.0  # the fit starts from FP8 GEMMs at the BF16 share, never from the shipped value
    pinned = _table(all_cases, default_path=False)
    everyone = list(range(len(all_cases)))
    kernels, fp8 = _fit(pinned, all_cases, everyone, start_fp8)
    cats = [categories_of(c) for c in all_cases]
    n = len(all_cases)
    cv_pred, dcv_pred = [0.0] * n, [float("nan")] * n
    default = _table(all_cases, default_path=True) if cv else None
    if cv:
        for g in sorted({_group(c) for c in all_cases}):
            held = [i for i in everyone if _group(all_cases[i]) == g]
            k_fold, f_fold = _fit(pinned, all_cases, [i for i in everyone if i not in held], start_fp8)
            for i in held:
                k = k_fold[all_cases[i].get("stack", "standard")]
                cv_pred[i] = pinned.at(i, k, f_fold)
                dcv_pred[i] = default.at(i, k, f_fold)
    rows = []
    for i, c in enumerate(all_cases):
        pred = pinned.at(i, kernels[c.get("stack", "standard")], fp8)
        rows.append(CalibrationRow(
            id=c["id"], title=c["title"], chip=c["chip"], units=c["units"], metric=c["metric"],
            stack=c.get("stack", "standard"), group=_group(c), published=float(c["published"]),
            predicted=pred, predicted_cv=cv_pred[i] if cv else pred, naive=naive(c),
            parallelism=pinned.layouts[i],
            sources=list(c.get("sources", [])) + ([c["source"]] if "source" in c else []),
            predicted_default_cv=dcv_pred[i], parallelism_default=default.layouts[i] if default else {},
            categories=cats[i], precision=c.get("precision", "bf16"),
        ))
    stats: dict = {}
    if cv:
        # each case's band from the default-path residuals of the other publications only (out of fold)
        logr = np.log([r.throughput_ratio(r.predicted_default_cv) for r in rows])
        fold_cache: dict = {}
        for i, r in enumerate(rows):
            # the band's multiplier and prior strength are refit on the other publications only (nested folds)
            others = [j for j in everyone if rows[j].group != r.group]
            fold_stats = fold_cache.get(r.group)
            if fold_stats is None:
                fold_stats = fold_cache[r.group] = bandmod.residual_stats(
                    [rows[j].categories for j in others], logr[others], groups=[rows[j].group for j in others])
            lo, hi, _ = bandmod.band_from(fold_stats, r.categories, stack_stated=True)
            rows[i] = _with_band(r, lo, hi)
        stats = bandmod.residual_stats([r.categories for r in rows], logr, groups=[r.group for r in rows])
    return Calibration(rows=rows, kernels=kernels, fp8_vs_bf16=fp8, band_stats=stats)


def _with_band(r: CalibrationRow, lo: float, hi: float) -> CalibrationRow:
    from dataclasses import replace

    return replace(r, band_p10=lo, band_p90=hi)
