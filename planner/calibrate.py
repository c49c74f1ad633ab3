"""Predicted vs published throughput for the calibration runs shipped in planner/data/calibration.yaml."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from .yamlio import safe_load

from .arch import ModelArch
from .catalog import chips, models
from .perf.search import Pin, best_layout, resolve_workload

METRICS = ("mfu", "tokens_per_s_per_chip", "hw_tflops_per_chip")


@dataclass(frozen=True)
class CalibrationRow:
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
    return safe_load(resources.files("planner.data").joinpath("calibration.yaml").read_text(encoding="utf-8"))


def megatron_hw_flops_per_step(a: ModelArch, seq_len: int, batch_seqs: float) -> float:
    """FLOPs per iteration with full recompute (Narayanan et al. 2021, eq. 3): 96 B s l h^2 (1 + s/6h + V/16lh)."""
    h, l = a.hidden, a.layers
    return 96.0 * batch_seqs * seq_len * l * h * h * (1 + seq_len / (6 * h) + a.vocab / (16 * l * h))


def predict(case: dict) -> CalibrationRow:
    arch = models()[case["model"]].arch if "model" in case else ModelArch(**case["arch"])
    chip = chips()[case["chip"]]
    wl = resolve_workload(arch, case["seq_len"], case.get("global_batch_tokens"), case.get("precision", "bf16"),
                          case.get("flash_attention", True))
    r = best_layout(arch, chip, wl, case["units"], Pin(**case.get("parallelism", {})))
    metric = case["metric"]
    if metric == "mfu":
        value = r.mfu
    elif metric == "tokens_per_s_per_chip":
        value = r.tokens_per_s / r.units_used
    elif metric == "hw_tflops_per_chip":
        seqs = r.tokens_per_s * r.step_time_s / wl.seq_len
        value = megatron_hw_flops_per_step(arch, wl.seq_len, seqs) / r.step_time_s / r.units_used / 1e12
    else:  # pragma: no cover - the shipped file only uses the three metrics
        raise AssertionError(metric)
    return CalibrationRow(
        id=case["id"], title=case["title"], chip=chip.id, units=case["units"], metric=metric,
        published=float(case["published"]), predicted=float(value), parallelism=r.layout.contract_dict(),
        sources=list(case.get("sources", [])),
    )


def calibrate() -> tuple[list[CalibrationRow], float]:
    """Every case's prediction and the mean absolute percentage error [fraction]."""
    rows = [predict(c) for c in cases()]
    mape = sum(abs(r.error) for r in rows) / len(rows)
    return rows, mape
