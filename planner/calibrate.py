"""Predicted vs published figures for the calibration runs, in sample and cross-validated.

The cases (planner/data/calibration.yaml) are rows of ../reference with a figure the model can predict:
throughput configurations (MFU, tokens/s per chip, hardware TFLOP/s) through the layout search with the
published dimensions pinned, and whole runs (chip-hours) through the time simulation with failures.

One kind of constant is fitted: each software stack's kernel factor (how fast its kernels run against
the chip's microbenchmark, ``perf.system``). Everything else comes from sources. ``calibrate`` fits the
factors on every case (in sample); ``cross_validate`` refits them without each publication's cases
(grouped leave-one-source-out) and scores the held-out cases, beside a naive constant-MFU rule.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

import numpy as np

from .arch import ModelArch
from .bridge import layout_for
from .catalog import STACK_LEVELS, chips, models
from .perf.layout import Parallelism
from .perf.params import model_flops_per_token
from .perf.setup import training_setup
from .perf.system import system_for
from .yamlio import safe_load

KERNEL_GRID = (0.55, 0.65, 0.75, 0.85, 0.95, 1.05, 1.15)  # kernel factors scored; log-interpolated between
FINE_GRID = np.round(np.arange(0.55, 1.1501, 0.005), 4)
NAIVE_MFU = 0.35  # the constant rule: tokens/s = 35% x peak / FLOPs per token


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
    predicted: float  # in sample
    predicted_cv: float  # with the case's publication left out of the fit
    naive: float
    parallelism: dict
    sources: list[str] = field(default_factory=list)

    @property
    def error(self) -> float:
        """Signed relative error of the in-sample prediction."""
        return self.predicted / self.published - 1.0

    @property
    def error_cv(self) -> float:
        """Signed relative error of the cross-validated prediction."""
        return self.predicted_cv / self.published - 1.0

    @property
    def error_naive(self) -> float:
        """Signed relative error of the naive rule."""
        return self.naive / self.published - 1.0


@lru_cache(maxsize=1)
def cases() -> list[dict]:
    """The calibration cases shipped in planner/data/calibration.yaml."""
    return safe_load(resources.files("planner.data").joinpath("calibration.yaml").read_text(encoding="utf-8"))


def megatron_hw_flops_per_step(a: ModelArch, seq_len: int, batch_seqs: float) -> float:
    """FLOPs per iteration with full recompute (Narayanan et al. 2021, eq. 3): 96 B s l h^2 (1 + s/6h + V/16lh)."""
    h, n_layers = a.hidden, a.layers
    return 96.0 * batch_seqs * seq_len * n_layers * h * h * (1 + seq_len / (6 * h) + a.vocab / (16 * n_layers * h))


def _arch(case: dict) -> ModelArch:
    return models()[case["model"]].arch if "model" in case else ModelArch(**case["arch"])


def _setup(case: dict):
    return training_setup(_arch(case), case["seq_len"], case.get("global_batch_tokens"),
                          case.get("precision", "bf16"))


def _system(case: dict, kernel: float):
    return system_for(chips()[case["chip"]], case.get("stack"), case.get("network_gbps"),
                      case.get("fused_attention"), kernel=kernel)


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


def predict(case: dict, kernel: float) -> tuple[float, dict]:
    """The model's figure for one case at a kernel factor, and the layout it used."""
    if case["metric"] == "chip_hours":
        return _chip_hours_via_sim(case, kernel), {}
    arch, wl = _arch(case), _setup(case)
    r = layout_for(arch, _system(case, kernel), wl, case["units"], Parallelism(**case.get("parallelism", {})))
    metric = case["metric"]
    if metric == "mfu":
        value = r.mfu
    elif metric == "tokens_per_s_per_chip":
        value = r.tokens_per_s / r.units_used
    elif metric == "hw_tflops_per_chip":
        seqs = r.tokens_per_s * r.step_time_s / wl.seq_len
        value = megatron_hw_flops_per_step(arch, wl.seq_len, seqs) / r.step_time_s / r.units_used / 1e12
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
    return case["tokens"] / tokens_per_s_chip / 3600.0  # chip_hours


@dataclass
class _Table:
    """Each case's prediction at every grid kernel factor (log-interpolated on the fine grid)."""

    log_pred: np.ndarray  # cases x fine grid
    layouts: list[dict]

    def at(self, i: int, k: float) -> float:
        j = int(np.argmin(np.abs(FINE_GRID - k)))
        return float(math.exp(self.log_pred[i, j]))


def _table(all_cases: list[dict]) -> _Table:
    rows, layouts = [], []
    for case in all_cases:
        preds = []
        lay = {}
        for k in KERNEL_GRID:
            v, lay_k = predict(case, k)
            preds.append(math.log(v))
            if abs(k - 0.85) < 1e-9:
                lay = lay_k
        rows.append(np.interp(FINE_GRID, KERNEL_GRID, preds))
        layouts.append(lay)
    return _Table(np.array(rows), layouts)


def _fit(table: _Table, all_cases: list[dict], idx: list[int]) -> dict[str, float]:
    """Kernel factor per stack minimising the MAPE over the cases ``idx`` (pooled when a stack has none)."""
    logp = [float(math.log(all_cases[i]["published"])) for i in idx]

    def best(members: list[int]) -> float:
        sel = [idx.index(i) for i in members]
        err = np.abs(np.exp(table.log_pred[members] - np.array([logp[j] for j in sel])[:, None]) - 1.0)
        return float(FINE_GRID[int(np.argmin(err.mean(axis=0)))])

    pooled = best(idx)
    return {s: (best([i for i in idx if all_cases[i].get("stack") == s])
                if any(all_cases[i].get("stack") == s for i in idx) else pooled) for s in STACK_LEVELS}


@dataclass
class Calibration:
    """In-sample and cross-validated predictions of every case, the fitted factors and the error band."""

    rows: list[CalibrationRow]
    kernels: dict[str, float]

    @staticmethod
    def _mape(errors) -> float:
        return float(np.mean(np.abs(errors))) if len(errors) else float("nan")

    @property
    def mape_in_sample(self) -> float:
        """Mean absolute percentage error in sample [fraction]."""
        return self._mape([r.error for r in self.rows])

    @property
    def mape_cv(self) -> float:
        """Mean absolute percentage error cross-validated [fraction]."""
        return self._mape([r.error_cv for r in self.rows])

    @property
    def mape_naive(self) -> float:
        """Mean absolute percentage error of the naive rule [fraction]."""
        return self._mape([r.error_naive for r in self.rows])

    def throughput_ratios(self) -> np.ndarray:
        """Published / cross-validated predicted throughput per case (chip-hours inverted)."""
        out = []
        for r in self.rows:
            ratio = r.published / r.predicted_cv
            out.append(1.0 / ratio if r.metric == "chip_hours" else ratio)
        return np.array(out)


def calibrate(cv: bool = True) -> Calibration:
    """Fit the kernel factors on every case; with ``cv``, also refit without each publication's cases."""
    all_cases = cases()
    table = _table(all_cases)
    everyone = list(range(len(all_cases)))
    kernels = _fit(table, all_cases, everyone)
    groups = sorted({c.get("group", c["id"]) for c in all_cases})
    cv_pred = [0.0] * len(all_cases)
    if cv:
        for g in groups:
            held = [i for i in everyone if all_cases[i].get("group", all_cases[i]["id"]) == g]
            k_fold = _fit(table, all_cases, [i for i in everyone if i not in held])
            for i in held:
                cv_pred[i] = table.at(i, k_fold[all_cases[i].get("stack", "standard")])
    rows = []
    for i, c in enumerate(all_cases):
        k = kernels[c.get("stack", "standard")]
        pred = table.at(i, k)
        rows.append(CalibrationRow(
            id=c["id"], title=c["title"], chip=c["chip"], units=c["units"], metric=c["metric"],
            stack=c.get("stack", "standard"), group=c.get("group", c["id"]), published=float(c["published"]),
            predicted=pred, predicted_cv=cv_pred[i] if cv else pred, naive=naive(c),
            parallelism=table.layouts[i], sources=list(c.get("sources", [])),
        ))
    return Calibration(rows=rows, kernels=kernels)
