"""What the cost model knows about where a job runs: the chip, its network, the software stack.

A ``System`` is the chip class plus what a user knows about their cluster (``network_gbps``, the
stack's maturity, fused attention, an efficiency factor). The stack levels (planner/data/stacks.yaml)
say what each level overlaps and supports; how fast its kernels run against the chip's
microbenchmark (``kernel``) and the model's error band come from ``planner calibrate`` under
cross-validation (planner/data/tuning.yaml, written by ``python benchmarks/calibration.py --write``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np

from ..catalog import Chip, Stack, stacks
from ..yamlio import safe_load

DEFAULT_STACK = "standard"
# the most of the chip's own matmul microbenchmark (catalog matmul_efficiency of the peak) a training step's GEMMs run
# at, whatever the stack and the user's efficiency: the microbenchmark is the rate the chip sustains (an efficiency of
# 2 trained a 70B job at 124% MFU)
MAX_KERNEL_SHARE = 1.0
Z_P90 = 1.2815515655446004  # standard normal quantile at 0.9


@lru_cache(maxsize=1)
def tuning() -> dict:
    """Fitted kernel factors per stack and the cross-validated error band (planner/data/tuning.yaml)."""
    return safe_load(resources.files("planner.data").joinpath("tuning.yaml").read_text(encoding="utf-8"))


@dataclass(frozen=True)
class ErrorBand:
    """The model's cross-validated error as published/predicted throughput ratios at P10 and P90."""

    p10: float
    p90: float
    p50: float | None = None  # the band's median when it is not the edges' geometric mean (a mixture's)

    @property
    def sigma(self) -> float:
        """Log-normal spread that puts P10 and P90 at the band's edges."""
        return (math.log(self.p90) - math.log(self.p10)) / (2 * Z_P90)

    @property
    def median(self) -> float:
        """The band's median ratio (``p50``, else the geometric mean of its edges)."""
        return math.sqrt(self.p10 * self.p90) if self.p50 is None else self.p50

    def draw(self, rng: np.random.Generator) -> float:
        """One throughput factor: P10, P50 and P90 where the band puts them (a log-normal on either side of P50).

        With the median at the edges' geometric mean this is the log-normal fitted to the band, draw for draw.
        """
        return self.at(rng.standard_normal())

    def at(self, z: float) -> float:
        """The throughput factor of the standard normal draw ``z`` (``draw``'s, for a draw already made)."""
        mid = self.median
        edge = self.p10 if z < 0 else self.p90
        return float(mid * math.exp(abs(math.log(edge / mid)) / Z_P90 * z))


@dataclass(frozen=True)
class System:
    """A chip class on a cluster network under a software stack."""

    chip: Chip
    stack: Stack
    network_gbps: float  # scale-out bandwidth per chip [Gbit/s]
    fused_attention: bool
    kernel: float  # the stack's kernel speed against the chip's microbenchmark (fitted, tuning.yaml)
    efficiency: float = 1.0  # the user's own factor on compute rates
    fp8_vs_bf16: float = 1.0  # FP8 GEMM share of the FP8 peak over the BF16 share (fitted, tuning.yaml)

    @property
    def id(self) -> str:
        """The chip id (what reports show)."""
        return self.chip.id

    @property
    def kernel_share(self) -> float:
        """The stack's kernels times the user's factor, never past the chip's microbenchmark (MAX_KERNEL_SHARE)."""
        return min(self.kernel * self.efficiency, MAX_KERNEL_SHARE)

    def gemm_flops(self, precision: str) -> float:
        """Sustained large-GEMM rate in training [FLOP/s]."""
        return self.chip.gemm_flops(precision, self.fp8_vs_bf16) * self.kernel_share

    def peak_compute_flops(self) -> float:
        """The chip's dense BF16/FP16 peak under the stack's kernels and the user's factor [FLOP/s]."""
        return self.chip.peak_flops("bf16") * self.kernel_share


def system_for(chip: Chip, stack: str | None = None, network_gbps: float | None = None,
               fused_attention: bool | None = None, efficiency: float = 1.0,
               kernel: float | None = None, fp8_vs_bf16: float | None = None) -> System:
    """A system from a chip and what the user knows; unset settings take the documented defaults."""
    st = stacks()[stack or DEFAULT_STACK]
    k = float(tuning()["kernel"][st.id]) if kernel is None else kernel
    f8 = float(tuning().get("fp8_vs_bf16", 1.0)) if fp8_vs_bf16 is None else fp8_vs_bf16
    return System(chip=chip, stack=st, network_gbps=float(network_gbps or chip.scale_out_gbps),
                  fused_attention=st.fused_attention if fused_attention is None else bool(fused_attention),
                  kernel=k, efficiency=efficiency, fp8_vs_bf16=f8)


def as_system(x: Chip | System) -> System:
    """A ``System`` as given, or a chip on its catalog network under the default stack."""
    return x if isinstance(x, System) else system_for(x)
