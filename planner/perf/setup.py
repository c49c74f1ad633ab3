"""What the cost model needs to know about the training run besides the model and the chip."""

from __future__ import annotations

from dataclasses import dataclass

from ..arch import ModelArch
from .params import count_params


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
