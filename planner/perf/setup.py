"""What the cost model needs to know about the training run besides the model and the chip."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..arch import ModelArch
from .params import count_params

if TYPE_CHECKING:
    from ..scenario import Scenario


@dataclass(frozen=True)
class TrainingSetup:
    """Resolved training settings: sequence, batch, precision, and whether attention is fused."""

    seq_len: int  # [tokens]
    global_batch_seqs: int  # sequences per optimizer step
    precision: str  # bf16 | fp8
    flash_attention: bool = True  # fused attention (Dao et al. 2022); False: scores materialised in HBM


def default_global_batch_tokens(arch: ModelArch) -> float:
    """Tokens per step when the scenario does not say: 4M below 100B active parameters, 16M above.

    Llama 2 trained every size at 4M tokens (Touvron et al. 2023); Llama 3 405B at 16M (Dubey et al. 2024, sec. 3.4).
    """
    return 16.0e6 if count_params(arch).active >= 100e9 else 4.0e6


def training_setup(arch: ModelArch, seq_len: int, global_batch_tokens: float | None, precision: str,
                   flash_attention: bool = True) -> TrainingSetup:
    """The setup of a run: the global batch in whole sequences (the default by model size when not given)."""
    gbt = global_batch_tokens if global_batch_tokens else default_global_batch_tokens(arch)
    return TrainingSetup(seq_len=seq_len, global_batch_seqs=max(1, int(round(gbt / seq_len))), precision=precision,
                         flash_attention=flash_attention)


def measured_batch_tokens(scenario: Scenario) -> float | None:
    """The batch [tokens] of the lab's own run of the scenario's model, for a workload that leaves it out.

    The default by model size is a guess (perf.setup); a measured row of the same model, sequence length and
    precision on any pool says what batch the lab trains it with (the row on the most chips; the first of
    equals). None when no row qualifies.
    """
    wl = scenario.workload
    best = None
    for pool in scenario.fleet:
        for m in pool.measured:
            if (m.global_batch_tokens and m.seq_len == wl.seq_len and m.precision == wl.precision
                    and m.arch == wl.arch and (best is None or m.units > best.units)):
                best = m
    return None if best is None else best.global_batch_tokens


def workload_setup(scenario: Scenario) -> TrainingSetup:
    """The scenario's workload as a training setup (a batch it leaves out: the lab's measured one, else the default)."""
    wl = scenario.workload
    return training_setup(wl.arch, wl.seq_len, wl.global_batch_tokens or measured_batch_tokens(scenario),
                          wl.precision)
