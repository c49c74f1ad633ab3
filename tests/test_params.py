"""Parameter counts of every preset vs the published figures, and the closed-form training FLOPs."""

from __future__ import annotations

import pytest

from planner.arch import ModelArch
from planner.catalog import models
from planner.perf.params import attention_width, count_params, model_flops_per_token, training_flops

PRESETS = sorted(models())
SEQS = (2048, 4096, 8192, 32768)


def test_catalog_is_not_empty():
    assert {"gpt3-175b", "llama3-405b", "deepseek-v3"} <= set(PRESETS)


@pytest.mark.parametrize("mid", PRESETS)
def test_total_params_match_published(mid):
    m = models()[mid]
    counted = count_params(m.arch).total / 1e9
    assert counted == pytest.approx(m.params_b, rel=0.01), f"{mid}: counted {counted:.3f}B vs published {m.params_b}B"


@pytest.mark.parametrize("mid", [k for k in PRESETS if models()[k].active_params_b is not None])
def test_active_params_match_published(mid):
    m = models()[mid]
    active = m.active_params_b
    counted = count_params(m.arch).active / 1e9
    # a published "37B" stands for [36.5, 37.5): allow that rounding interval plus 1%
    half_unit = 0.5 if float(active).is_integer() else 0.05
    assert abs(counted - active) <= half_unit + 0.01 * active, (
        f"{mid}: counted {counted:.3f}B active vs published {active}B")


def test_some_preset_has_active_params():
    assert any(models()[k].active_params_b is not None for k in PRESETS)


@pytest.mark.parametrize("mid", [k for k in PRESETS if models()[k].arch.moe is None])
def test_dense_active_equals_total(mid):
    c = count_params(models()[mid].arch)
    assert c.active == c.total


@pytest.mark.parametrize("mid", [k for k in PRESETS if models()[k].arch.moe is not None])
def test_moe_active_below_total(mid):
    c = count_params(models()[mid].arch)
    assert 0 < c.active < c.total


@pytest.mark.parametrize("seq", SEQS)
@pytest.mark.parametrize("mid", PRESETS)
def test_model_flops_closed_form(mid, seq):
    a = models()[mid].arch
    qk, v = attention_width(a)
    expected = 6 * count_params(a).active_matmul_per_token + 6 * a.layers * seq * (qk + v)
    assert model_flops_per_token(a, seq) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("seq", SEQS)
@pytest.mark.parametrize("mid", [k for k in PRESETS if models()[k].arch.moe is None])
def test_dense_training_flops_near_6ND(mid, seq):
    a = models()[mid].arch
    D = 1.0e12
    n = count_params(a).active_matmul_per_token
    total = training_flops(a, seq, D)
    assert total == model_flops_per_token(a, seq) * D
    base = 6.0 * n * D
    upper = base * (1.0 + 12.0 * a.layers * a.hidden * seq / (6.0 * n))
    assert base * (1 - 1e-12) <= total <= upper * (1 + 1e-12)
    # the matmul parameter count is within 1% of all parameters less the input embedding
    c = count_params(a)
    assert n == pytest.approx(c.total - (c.embedding if c.output else 0), rel=0.01)


def test_gpt3_175b_hand_count():
    a = models()["gpt3-175b"].arch
    h, L, V, f = 12288, 96, 50257, 49152
    assert (a.layers, a.hidden, a.vocab, a.ffn) == (L, h, V, f)
    assert a.tied_embeddings
    n_matmul = L * (4 * h * h + 2 * h * f) + V * h  # tied: the output projection reuses the embedding
    c = count_params(a)
    assert c.active_matmul_per_token == n_matmul
    s = 2048
    assert model_flops_per_token(a, s) == pytest.approx(6 * n_matmul + 12 * L * h * s, rel=1e-12)
    # total: matmuls + embedding once + 2 norms per layer + final norm (no biases)
    assert c.total == n_matmul + 2 * h * L + h
    assert c.total / 1e9 == pytest.approx(174.6, rel=0.001)


def test_untied_output_counts_twice():
    kw = dict(layers=2, hidden=64, heads=4, vocab=1000, mlp="plain")
    tied = count_params(ModelArch(tied_embeddings=True, **kw))
    untied = count_params(ModelArch(tied_embeddings=False, **kw))
    assert untied.total - tied.total == 1000 * 64
    assert untied.active_matmul_per_token == tied.active_matmul_per_token


def test_gqa_shrinks_attention():
    mha = count_params(ModelArch(layers=1, hidden=512, heads=8, vocab=10))
    gqa = count_params(ModelArch(layers=1, hidden=512, heads=8, kv_heads=2, vocab=10))
    assert mha.attention_per_layer == 4 * 512 * 512
    assert gqa.attention_per_layer == 2 * 512 * 512 + 2 * 512 * 128
