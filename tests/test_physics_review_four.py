"""Findings of a fourth physics review.

MFU above 1, a layout said to fit that cannot, a negative pipeline term, FP16's MFU denominator, and tensor-parallel
groups across NVL72 racks.
"""

from __future__ import annotations

import math

import pytest

from planner import api
from planner.budget import notes
from planner.catalog import chips, models
from planner.loader import from_dict
from planner.perf.params import count_params, model_flops_per_token
from planner.perf.search import tp_options


def _pool(doc: dict) -> dict:
    return api.estimate(from_dict(doc))["pools"][0]


def _doc(workload: dict, pool: dict) -> dict:
    return {"name": "x", "workload": workload, "fleet": [{"name": "p", **pool}]}


@pytest.mark.parametrize("chip", ["h20", "h100-sxm", "tpu-v5p", "ascend-910b"])
@pytest.mark.parametrize("efficiency", [1.5, 2.0])
def test_no_efficiency_trains_past_the_chip_s_matmul_microbenchmark(chip, efficiency):
    """efficiency: 2 (the format's most) trained a 70B job on H20s at 124% MFU."""
    wl = {"model": "llama3-70b", "tokens": 1e12, "seq_len": 4096, "global_batch_tokens": 16e6}
    pool = {"chip": chip, "units": 1024, "stack": "optimized", "efficiency": efficiency}
    p = _pool(_doc(wl, pool))
    c = chips()[chip]
    # the model FLOPs per second never pass the chips' sustained GEMM rate (its matmul microbenchmark), the PaLM
    # count of the causally masked scores aside: 6 x the parameters a token touches at most
    dense = 6 * count_params(models()["llama3-70b"].arch).active_matmul_per_token
    assert p["tokens_per_s"] * dense <= p["units"] * c.gemm_flops("bf16") * (1 + 1e-9)
    assert p["mfu"] < 1
    (note,) = [n for n in notes(from_dict(_doc(wl, pool))) if "efficiency" in n]
    assert "held at it" in note


def test_an_efficiency_the_cap_leaves_alone_still_scales_the_speed():
    wl = {"model": "llama3-8b", "tokens": 1e11, "seq_len": 4096, "global_batch_tokens": 4e6}
    base = _pool(_doc(wl, {"chip": "h100-sxm", "units": 64}))
    more = _pool(_doc(wl, {"chip": "h100-sxm", "units": 64, "efficiency": 1.1}))
    assert more["tokens_per_s"] > base["tokens_per_s"]
    assert not [n for n in notes(from_dict(_doc(wl, {"chip": "h100-sxm", "units": 64, "efficiency": 1.1})))
                if "efficiency" in n]


def test_full_recompute_with_unfused_attention_counts_the_rebuilt_layer_s_scores():
    """Rebuilding a layer in its backward rebuilds its s^2 scores when attention is unfused: 64 GiB at 32K tokens.

    TP1 with full recompute was said to fit in 44.7 GiB on an 80 GB H100 (the scores alone are 64 GiB).
    """
    wl = {"model": "llama3-8b", "tokens": 1e11, "seq_len": 32768, "global_batch_tokens": 2097152}
    pin = {"tp": 1, "pp": 1, "recompute": "full", "micro_batch": 1}
    fused = _pool(_doc(wl, {"chip": "h100-sxm", "units": 64, "stack": "basic", "fused_attention": True,
                            "parallelism": pin}))
    arch = models()["llama3-8b"].arch
    scores_gib = arch.heads * 32768 ** 2 * 2 / 2 ** 30  # one layer's bf16 softmax output, one sequence
    assert scores_gib == pytest.approx(64.0)
    from planner.errors import PlannerError

    with pytest.raises(PlannerError, match="GiB per chip"):  # it needs fused's figure plus the scores: no fit
        _pool(_doc(wl, {"chip": "h100-sxm", "units": 64, "stack": "basic", "fused_attention": False,
                        "parallelism": pin}))
    assert fused["memory_per_chip_gib"] + scores_gib > 70.2


def test_the_explained_step_s_terms_are_never_negative_and_add_up():
    """TP4 PP3 on 80 layers: 27/27/26, the last stage with the output layer sets the pace.

    The split counted 27 of its layers and a pp term of -0.27 s.
    """
    doc = _doc({"model": "llama3-70b", "tokens": 1e12, "seq_len": 4096, "global_batch_tokens": 16e6},
               {"chip": "h100-sxm", "units": 1024, "stack": "optimized", "parallelism": {"tp": 4, "pp": 3}})
    (ex,) = api.explain(from_dict(doc))
    assert all(v >= 0 for v in ex["terms_s"].values()), ex["terms_s"]
    assert sum(ex["terms_s"].values()) == pytest.approx(ex["step_time_s"], rel=1e-9)


def test_fp16_mfu_is_of_the_bf16_peak():
    """The contract's MFU divides by the BF16 peak (FP8's in FP8): FP16 on Ascend ran 10% faster at a lower MFU."""
    wl = {"model": "llama3-70b", "tokens": 1e12, "seq_len": 4096, "global_batch_tokens": 8388608}
    pool = {"chip": "ascend-910b-280t", "units": 1024,
            "parallelism": {"tp": 8, "pp": 4, "micro_batch": 1, "recompute": "selective", "vp": 1, "zero": 1}}
    bf16 = _pool(_doc(wl, pool))
    fp16 = _pool(_doc({**wl, "precision": "fp16"}, pool))
    c = chips()["ascend-910b-280t"]
    flops = model_flops_per_token(models()["llama3-70b"].arch, 4096)
    for p in (bf16, fp16):
        assert p["mfu"] == pytest.approx(flops * p["tokens_per_s"] / (p["units"] * c.bf16_tflops * 1e12), rel=1e-9)
    assert fp16["tokens_per_s"] > bf16["tokens_per_s"] and fp16["mfu"] > bf16["mfu"]


def test_tensor_parallel_groups_tile_the_scale_up_domain():
    """TP16 or TP64 on NVL72 (72 chips a rack) leaves a group across two racks, timed as if inside one."""
    from planner.perf.search import TILE_GROUPS

    gb200 = chips()["gb200"]
    assert gb200.scale_up_domain == 72
    for name in ("llama3-405b", "deepseek-v3", "gpt3-175b"):
        for t in tp_options(models()[name].arch, gb200):
            assert 72 % t == 0, (name, t)
    # a pod-wide domain holds hundreds of groups: TP12 on a TPU v4 pod (PaLM's) stays on offer
    tpu = chips()["tpu-v4"]
    assert 12 in tp_options(models()["palm-540b"].arch, tpu) and tpu.scale_up_domain // 12 >= TILE_GROUPS
    doc = _doc({"model": "llama3-405b", "tokens": 1e12, "seq_len": 8192, "global_batch_tokens": 16e6},
               {"chip": "gb200", "units": 720, "parallelism": {"tp": 64}})
    assert any("parallelism.tp: 64 does not divide gb200's scale-up domain of 72" in n for n in notes(from_dict(doc)))
    assert math.isfinite(_pool(doc)["tokens_per_s"])
