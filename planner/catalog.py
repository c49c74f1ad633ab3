"""Built-in catalogs of chip classes and model presets, each figure with its source ids."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from .arch import ModelArch
from .units import TFLOPS
from .validation import PlainValues, Visible
from .yamlio import safe_load

MIN_TFLOPS = 0.1  # a chip's peak at least [TFLOP/s]


class Chip(PlainValues):
    """One accelerator class. Peaks are dense (no sparsity); bandwidths are per chip, one direction."""

    model_config = ConfigDict(extra="forbid")

    id: Visible = Field(min_length=1, max_length=64)
    name: str = Field("", max_length=200)
    vendor: str = Field("", max_length=200)
    # lower bounds far below any accelerator's (a T4 has 65 TFLOP/s, 0.3 TB/s): 1e-305 TFLOP/s passed `validate`
    # and then broke the layout search (every step time overflowed); slower parts finish "never", which they would
    bf16_tflops: float = Field(ge=MIN_TFLOPS, le=1e5, description="dense BF16 peak [TFLOP/s]")
    fp16_tflops: float | None = Field(None, ge=MIN_TFLOPS, le=1e5, description="dense FP16 peak [TFLOP/s]")
    fp8_tflops: float | None = Field(None, ge=MIN_TFLOPS, le=1e5,
                                     description="dense FP8 peak [TFLOP/s]; none if unsupported")
    hbm_gib: float = Field(ge=0.1, le=16_384, description="device memory [GiB]")
    hbm_tbps: float = Field(ge=0.01, le=1_000, description="device memory bandwidth [TB/s]")
    scale_up_domain: int = Field(ge=1, le=65_536, description="chips joined by the scale-up fabric")
    scale_up_gbyteps: float = Field(ge=0.1, le=1e5, description="scale-up bandwidth per chip, one direction [GB/s]")
    scale_out_gbps: float = Field(ge=0.1, le=1e5, description="scale-out network per chip [Gbit/s]")
    scale_up_topology: Literal["switch", "full_mesh"] = Field(
        "switch", description="switch: every chip reaches any peer at full bandwidth (NVSwitch, UB); full_mesh: one "
                              "link per peer (HCCS), so a group of n chips gets (n-1)/(domain-1) of it")
    chips_per_node: int = Field(8, ge=1, le=1_024)
    tdp_w: float = Field(ge=1, le=1e5, description="board power [W]")
    matmul_efficiency: float = Field(
        0.75, ge=0.01, le=1, description="share of the dense peak that GEMMs sustain in training on this chip"
    )
    fp8_matmul_efficiency: float | None = Field(
        None, ge=0.01, le=1,
        description="share of the dense FP8 peak that FP8 GEMMs sustain (default: matmul_efficiency)"
    )
    mtbf_chip_days: float = Field(2_111.0, gt=0, le=1e7, description="mean chip-days between job interruptions")
    unit_price_usd: float | None = Field(None, gt=0, le=1e7, description="purchase price per chip incl. server share")
    sources: list[Annotated[str, Field(max_length=1000)]] = Field(default_factory=list, max_length=50)
    notes: str = Field("", max_length=4000)

    def peak_flops(self, precision: str) -> float:
        """Dense peak [FLOP/s] for the training precision; FP8 (FP16) falls back to BF16 where unsupported."""
        if precision == "fp8" and self.fp8_tflops:
            return self.fp8_tflops * TFLOPS
        if precision == "fp16" and self.fp16_tflops:
            return self.fp16_tflops * TFLOPS
        return self.bf16_tflops * TFLOPS

    def mfu_peak_flops(self, precision: str) -> float:
        """The peak MFU divides by [FLOP/s]: the dense BF16 peak, the FP8 peak when training in FP8 (the contract).

        FP16 training runs on the FP16 peak (``peak_flops``; above BF16 on Ascend) but its MFU is of the BF16 peak,
        as every other run's: an FP16 run 10% faster read a lower MFU.
        """
        return self.peak_flops("fp8" if precision == "fp8" else "bf16")

    def gemm_flops(self, precision: str, fp8_vs_bf16: float = 1.0) -> float:
        """Sustained GEMM rate [FLOP/s] of the chip alone (microbenchmark share of the peak).

        FP8 GEMMs reach ``fp8_matmul_efficiency`` of the FP8 peak when the catalog gives it, else the BF16
        share times ``fp8_vs_bf16`` (how much lower FP8 GEMMs land than BF16 ones, fitted under cross-validation).
        """
        if precision == "fp8" and self.fp8_tflops:
            share = self.fp8_matmul_efficiency or self.matmul_efficiency * fp8_vs_bf16
            return self.fp8_tflops * TFLOPS * share
        return self.peak_flops(precision) * self.matmul_efficiency


class Stack(BaseModel):
    """A software-stack maturity level (planner/data/stacks.yaml): what it overlaps and supports."""

    model_config = ConfigDict(extra="forbid")

    id: str
    description: str = ""
    overlap_dp: float = Field(ge=0, le=1)
    overlap_tp: float = Field(ge=0, le=1)
    overlap_pp: float = Field(ge=0, le=1)
    overlap_ep: float = Field(ge=0, le=1)
    launch_us: float = Field(ge=0, le=1000, description="launch and sync per kernel [us]")
    recompute: list[str]
    zero: list[int]
    interleaved: bool
    context_parallel: bool = Field(True, description="whether the stack has context parallelism")
    expert_parallel: bool = Field(True, description="whether the stack places experts on different chips (EP)")
    moe_efficiency: float = Field(1.0, gt=0, le=1, description="MoE expert kernels against the best published stack")
    moe_dispatchers: list[Literal["alltoall", "allgather"]] = Field(
        default_factory=lambda: ["alltoall"], description="MoE token dispatchers the stack has (the faster is used)")
    fused_attention: bool
    sources: list[str] = Field(default_factory=list)


class Instance(BaseModel):
    """A cloud GPU instance type: its chips and the scale-out network they share (planner/data/instances.yaml)."""

    model_config = ConfigDict(extra="forbid")

    id: str
    provider: str
    chip: str
    chips: int = Field(ge=1, le=1_024)
    network_gbps: float = Field(gt=0, le=1e6, description="GPU-to-GPU scale-out network of one instance [Gbit/s]")
    sources: list[str] = Field(default_factory=list)

    @property
    def gbps_per_chip(self) -> float:
        """Scale-out network per chip [Gbit/s]."""
        return self.network_gbps / self.chips


class ModelPreset(BaseModel):
    """A published architecture with its published parameter counts."""

    model_config = ConfigDict(extra="forbid")

    id: str
    name: str
    arch: ModelArch
    params_b: float = Field(description="published total parameters [billions]")
    active_params_b: float | None = Field(None, description="published active parameters [billions]")
    seq_len: int | None = None
    sources: list[str] = Field(default_factory=list)
    notes: str = ""


def _load_yaml(name: str):
    return safe_load(resources.files("planner.data").joinpath(name).read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def chips() -> dict[str, Chip]:
    """All built-in chip classes by id."""
    return {c["id"]: Chip(**c) for c in _load_yaml("chips.yaml")}


@lru_cache(maxsize=1)
def models() -> dict[str, ModelPreset]:
    """All built-in model presets by id."""
    return {m["id"]: ModelPreset(**m) for m in _load_yaml("models.yaml")}


@lru_cache(maxsize=1)
def instances() -> dict[str, Instance]:
    """Cloud GPU instance types by id, with their scale-out network (planner/data/instances.yaml)."""
    return {c["id"]: Instance(**c) for c in _load_yaml("instances.yaml")}


@lru_cache(maxsize=1)
def stacks() -> dict[str, Stack]:
    """Software-stack levels by id (basic, standard, optimized)."""
    return {c["id"]: Stack(**c) for c in _load_yaml("stacks.yaml")}


STACK_LEVELS = ("basic", "standard", "optimized")


@lru_cache(maxsize=1)
def sources() -> dict[str, str]:
    """Source id -> citation."""
    return dict(_load_yaml("sources.yaml"))
