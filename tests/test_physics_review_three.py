"""Findings of a physics review: a pipeline with fewer micro-batches than stages, and TP past the KV heads."""

from __future__ import annotations

import numpy as np
import pytest

from planner.catalog import chips, models
from planner.perf.search import best_layout, tp_options
from planner.perf.setup import training_setup
from planner.perf.steptime import Candidates, evaluate

H100 = chips()["h100-sxm"]


def one(**kw) -> Candidates:
    d = dict(tp=1, pp=1, vp=1, cp=1, ep=1, dp=1, mb=1, recompute=1, zero=1) | kw
    return Candidates(**{k: np.array([v]) for k, v in d.items()})


@pytest.mark.parametrize("dp, vp", [(122, 8), (122, 1), (8, 8), (8, 1), (40, 4)])
def test_a_pipeline_runs_at_least_its_critical_path(dp, vp):
    """The step runs max(m + (pp - 1) / vp, pp + (m - 1) / vp) micro-batch times (closed forms).

    Review: TP8 PP16x8 on 122 replicas runs 4 micro-batches each; the model counted 4 + 15/8 = 5.9 micro-batch
    times, under the 16 one micro-batch takes to cross the stages forward and back (2.7x too fast). From m >= pp on
    the interleaved bubble (pp - 1) / vp (Narayanan et al. 2021, eq. 2) is the larger, and unchanged.
    """
    arch = models()["llama3-405b"].arch
    wl = training_setup(arch, 8192, 4.0e6, "bf16")  # 488 sequences
    sc = evaluate(arch, H100, wl, one(tp=8, pp=16, vp=vp, dp=dp, mb=1), keep_parts=True)
    p = sc.parts
    m = float(p.m[0])
    assert m == np.ceil(488 / dp)
    want = max(m + 15 / vp, 16 + (m - 1) / vp)
    assert float(p.m[0] + p.bubble[0]) == pytest.approx(want, rel=1e-12)


def test_more_replicas_never_step_a_short_batch_faster_than_its_critical_path():
    """The best 405B layout on 16,384 H100 at a 4M-token batch: no faster than its pipeline's critical path allows.

    Its tokens per step over the step time is below the batch over (pp) micro-batch times of its own shape.
    """
    arch = models()["llama3-405b"].arch
    wl = training_setup(arch, 8192, 4.0e6, "bf16")
    r = best_layout(arch, H100, wl, 16384)
    lay = r.layout
    m = int(np.ceil(488 / (lay.dp * lay.micro_batch)))
    if m < lay.pp:
        # the step is at least pp micro-batch times of the pace-setting stage: MFU far below a full pipeline's
        assert r.mfu < 0.2, (lay, r.mfu)


def test_tensor_parallel_may_exceed_the_kv_heads_by_copying_them():
    """PaLM 540B (one KV head) trained on TP12 (S10): the search may take TP past the KV heads.

    TP was held to 1 (it had to divide the KV heads), so the search fell to a 3-stage pipeline with one micro-batch
    per replica.
    """
    palm = models()["palm-540b"].arch
    assert palm.n_kv_heads == 1 and {4, 8, 12, 16} <= set(tp_options(palm, chips()["tpu-v4"]))
    llama = models()["llama3-70b"].arch  # 64 heads, 8 KV heads: inside an 8-chip node as before
    assert tp_options(llama, H100) == [1, 2, 4, 8]


def test_attention_never_runs_faster_than_the_chips_gemms():
    """FlashAttention is built of matmuls: on an MI300X (GEMMs at 0.6 of the peak) it ran at 0.72."""
    from planner.perf.steptime import _rates
    from planner.perf.system import system_for

    arch = models()["llama3-8b"].arch
    wl = training_setup(arch, 131072, 4.0e6, "bf16")
    for chip in chips():
        r = _rates(system_for(chips()[chip], "standard"), wl)
        assert r.attention <= r.gemm_bf16 * (1 + 1e-9), chip


def test_the_caps_on_speed_are_of_the_flops_a_chip_runs():
    """The drawn model error was capped at the GEMM share over MFU, MFU counting the causally masked scores too.

    An 8B model at 128K on MI300X: its plan's MFU (0.71 of the peak, PaLM's count) is above its GEMM share (0.6),
    so every draw above 1 was cut to 1, where it runs 41% fewer FLOPs than counted. The fastest speed a chip could
    train at, a bound of the job-size search, was below what the model itself predicts.
    """
    from planner.bridge import layout_planners
    from planner.loader import from_dict
    from planner.perf.params import executed_flops_per_token, model_flops_per_token
    from planner.strategy import Context

    arch = models()["llama3-8b"].arch
    assert executed_flops_per_token(arch, 131072) == pytest.approx(0.59 * model_flops_per_token(arch, 131072),
                                                                   abs=0.01 * model_flops_per_token(arch, 131072))
    doc = {"name": "lc", "start": "2025-01-01", "horizon_days": 400,
           "workload": {"model": "llama3-8b", "tokens": 1e11, "seq_len": 131072, "global_batch_tokens": 4194304},
           "fleet": [{"name": "h", "chip": "h100-sxm", "units": 64}], "reliability": {"enabled": False}}
    s = from_dict(doc)
    ctx = Context(s, layout_planners(s))
    plan = layout_planners(s)["h"].layout(64)
    per_chip = plan.tokens_per_s / plan.units_used
    assert ctx.fastest_tokens_per_s("h") >= per_chip, (ctx.fastest_tokens_per_s("h"), per_chip)
