"""Activation and model-state memory vs Korthikanti et al. 2022 (arXiv:2205.05198) and ZeRO."""

from __future__ import annotations

import numpy as np
import pytest

from planner.arch import ModelArch
from planner.perf.memory import activation_bytes_per_layer, state_bytes_per_param

A = ModelArch(layers=96, hidden=12288, heads=96, mlp="plain", ffn_hidden=4 * 12288, vocab=50257, dropout=True)
S, B, H, HEADS = 2048, 1, 12288, 96


def korthikanti(recompute: int, t: int, s: int = S, b: int = B) -> float:
    if recompute == 0:
        return s * b * H * (34 + 5 * HEADS * s / H) / t
    if recompute == 1:
        return 34 * s * b * H / t
    return 2 * s * b * H / t


@pytest.mark.parametrize("recompute", [0, 1, 2])
@pytest.mark.parametrize("tp", [1, 8])
def test_activation_matches_korthikanti(tp, recompute):
    got = float(activation_bytes_per_layer(A, seq=S, micro_batch=B, tp=tp, cp=1, recompute=recompute,
                                         fused_attention=False))
    assert got == pytest.approx(korthikanti(recompute, tp), rel=1e-9)


def test_activation_vectorized_and_scales_with_batch():
    rc = np.array([0, 1, 2, 0, 1, 2])
    tp = np.array([1, 1, 1, 8, 8, 8])
    got = activation_bytes_per_layer(A, seq=S, micro_batch=4, tp=tp, cp=1, recompute=rc, fused_attention=False)
    want = [korthikanti(r, t, b=4) for r, t in zip(rc, tp, strict=True)]
    np.testing.assert_allclose(got, want, rtol=1e-9)


def test_context_parallel_splits_sequence():
    got = float(activation_bytes_per_layer(A, seq=2 * S, micro_batch=1, tp=8, cp=2, recompute=1))
    assert got == pytest.approx(korthikanti(1, 8), rel=1e-9)


def test_no_dropout_is_smaller():
    nodrop = A.model_copy(update={"dropout": False})
    for r in (0, 1):
        assert float(activation_bytes_per_layer(nodrop, S, 1, 1, 1, r, fused_attention=False)) < korthikanti(r, 1)


@pytest.mark.parametrize("dp", [1, 2, 8, 64, 1024])
def test_state_bytes_per_param(dp):
    # Megatron: bf16 weights 2, fp32 main grads 4, fp32 master + Adam m, v 12 = 18 (6 + 12/d sharded)
    assert float(state_bytes_per_param(0, dp)) == pytest.approx(18.0, rel=1e-12)
    assert float(state_bytes_per_param(1, dp)) == pytest.approx(6 + 12 / dp, rel=1e-12)
    assert float(state_bytes_per_param(2, dp)) == pytest.approx(2 + 16 / dp, rel=1e-12)
    assert float(state_bytes_per_param(3, dp)) == pytest.approx(18 / dp, rel=1e-12)


def test_state_bytes_per_param_arrays():
    zero = np.array([0, 1, 2, 3, 0, 1, 2, 3])
    dp = np.array([4, 4, 4, 4, 32, 32, 32, 32])
    want = [18, 6 + 12 / 4, 2 + 16 / 4, 18 / 4, 18, 6 + 12 / 32, 2 + 16 / 32, 18 / 32]
    np.testing.assert_allclose(state_bytes_per_param(zero, dp), want, rtol=1e-12)


def test_fused_attention_never_stores_the_scores():
    fused = float(activation_bytes_per_layer(A, seq=S, micro_batch=1, tp=1, cp=1, recompute=0))
    assert fused == pytest.approx(korthikanti(1, 1), rel=1e-9)  # the selective-recompute size: no a*s^2 term
    assert fused < korthikanti(0, 1)


def test_fp8_keeps_linear_inputs_in_one_byte():
    bf16 = float(activation_bytes_per_layer(A, seq=S, micro_batch=1, tp=1, cp=1, recompute=1))
    fp8 = float(activation_bytes_per_layer(A, seq=S, micro_batch=1, tp=1, cp=1, recompute=1, fp8=True))
    assert fp8 < bf16
    # block recompute lies halfway between selective and full
    sel = bf16
    full = float(activation_bytes_per_layer(A, seq=S, micro_batch=1, tp=1, cp=1, recompute=2))
    block = float(activation_bytes_per_layer(A, seq=S, micro_batch=1, tp=1, cp=1, recompute=3))
    assert block == pytest.approx((sel + full) / 2, rel=1e-12)
