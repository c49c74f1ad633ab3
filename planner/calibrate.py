"""Predicted vs published throughput for the calibration runs shipped in planner/data/calibration.yaml."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from .arch import ModelArch
from .bridge import layout_for
from .catalog import chips, models
from .perf.layout import Parallelism
from .perf.setup import training_setup
from .yamlio import safe_load


@dataclass(frozen=True)
class CalibrationRow:
    """One published figure and the model's prediction of it."""

    id: str
    title: str
    chip: str
    units: int
    metric: str
    published: float
    predicted: float
    parallelism: dict
    sources: list[str]

    @property
    def error(self) -> float:
        """Signed relative error of the prediction."""
        return self.predicted / self.published - 1.0


@lru_cache(maxsize=1)
def cases() -> list[dict]:
    """The calibration cases shipped in planner/data/calibration.yaml."""
    return safe_load(resources.files("planner.data").joinpath("calibration.yaml").read_text(encoding="utf-8"))


def megatron_hw_flops_per_step(a: ModelArch, seq_len: int, batch_seqs: float) -> float:
    """FLOPs per iteration with full recompute (Narayanan et al. 2021, eq. 3): 96 B s l h^2 (1 + s/6h + V/16lh)."""
    h, n_layers = a.hidden, a.layers
    return 96.0 * batch_seqs * seq_len * n_layers * h * h * (1 + seq_len / (6 * h) + a.vocab / (16 * n_layers * h))


def predict(case: dict) -> CalibrationRow:
    """The model's prediction for one calibration case, on its published layout pins."""
    arch = models()[case["model"]].arch if "model" in case else ModelArch(**case["arch"])
    chip = chips()[case["chip"]]
    wl = training_setup(arch, case["seq_len"], case.get("global_batch_tokens"), case.get("precision", "bf16"),
                        case.get("flash_attention", True))
    r = layout_for(arch, chip, wl, case["units"], Parallelism(**case.get("parallelism", {})))
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
    return CalibrationRow(
        id=case["id"], title=case["title"], chip=chip.id, units=case["units"], metric=metric,
        published=float(case["published"]), predicted=float(value), parallelism=r.layout.as_dict(),
        sources=list(case.get("sources", [])),
    )


def calibrate() -> tuple[list[CalibrationRow], float]:
    """Every case's prediction and the mean absolute percentage error [fraction]."""
    rows = [predict(c) for c in cases()]
    mape = sum(abs(r.error) for r in rows) / len(rows)
    return rows, mape
