"""More physics: recompute policies, MoE dispatchers, sliding windows, instance networks, simpler layouts.

Also routing balance, and the preference for the simpler of two layouts the model cannot tell apart.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.arch import ModelArch
from planner.catalog import chips, instances, models
from planner.errors import InfeasiblePlanError
from planner.perf import search as S
from planner.perf.layout import RECOMPUTE
from planner.perf.memory import activation_bytes_per_layer, usable_bytes
from planner.perf.params import attention_keys, attention_width, count_params, model_flops_per_token
from planner.perf.setup import training_setup
from planner.perf.steptime import (
    DROPLESS_IMBALANCE,
    MOE_IMBALANCE,
    Candidates,
    _rates,
    dispatch_bytes,
    dispatcher_choice,
    evaluate,
    expert_load,
    step_terms,
)
from planner.perf.system import system_for
from planner.scenario import Scenario

H100 = chips()["h100-sxm"]
MLP, BLOCK, FULL, SELECTIVE, NONE = (RECOMPUTE.index(r) for r in ("mlp", "block", "full", "selective", "none"))


def one(**kw) -> Candidates:
    d = dict(tp=1, pp=1, vp=1, cp=1, ep=1, dp=1, mb=1, recompute=1, zero=1) | kw
    return Candidates(**{k: np.array([v]) for k, v in d.items()})


# --- recompute policies: memory in closed form (Korthikanti et al. 2022 widths, no dropout, MHA) -----------------

PLAIN = ModelArch(layers=4, hidden=1024, heads=8, vocab=1000, mlp="plain")  # f = 4h
GATED = ModelArch(layers=4, hidden=1024, heads=8, vocab=1000, ffn_hidden=2816)


@pytest.mark.parametrize("a", [PLAIN, GATED])
def test_recompute_memory_closed_forms(a):
    s, b, t, h = 2048, 2, 2, a.hidden
    f = a.ffn
    mlp_inner = (6 if a.mlp == "gated" else 4) * f
    selective = 10 * h + (2 * h + mlp_inner) + 4 * h  # attention 10h, MLP input + inner, two norm inputs
    mlp_policy = 10 * h + 2 * h + 4 * h  # the MLP keeps only its input
    unit = s * b / t
    got = {rc: float(activation_bytes_per_layer(a, s, b, t, 1, RECOMPUTE.index(rc))) for rc in RECOMPUTE}
    assert got["selective"] == pytest.approx(unit * selective)
    assert got["none"] == pytest.approx(unit * selective)  # fused attention: no s^2 scores either way
    assert got["full"] == pytest.approx(unit * 2 * h)
    assert got["mlp"] == pytest.approx(unit * mlp_policy)
    for x in (0.25, 0.5, 1.0):  # block: x of the layers keep their input, the others what selective keeps
        blk = float(activation_bytes_per_layer(a, s, b, t, 1, BLOCK, block_share=x))
        assert blk == pytest.approx(unit * (x * 2 * h + (1 - x) * selective))
    assert got["full"] < got["mlp"] < got["selective"]


def test_recompute_flops_closed_forms():
    a = models()["llama3-70b"].arch
    w = training_setup(a, 8192, 16e6, "bf16")
    big = H100.model_copy(update={"hbm_gib": 100_000})  # everything fits: block recomputes one layer per stage
    pp = 4
    gemm = {rc: float(step_terms(evaluate(a, big, w, one(tp=8, pp=pp, dp=1, recompute=rc), keep_parts=True)).gemm[0])
            for rc in (SELECTIVE, FULL, BLOCK, MLP)}
    # full adds one forward of every GEMM (3 -> 4 passes); block adds it on 1 of the stage's L/pp layers
    per_pass = gemm[FULL] - gemm[SELECTIVE]
    assert per_pass == pytest.approx(gemm[SELECTIVE] / 3, rel=1e-9)
    layers_rank = -(-a.layers // pp)
    assert gemm[BLOCK] - gemm[SELECTIVE] == pytest.approx(per_pass / layers_rank, rel=1e-9)
    # the mlp policy adds one forward of the MLP GEMMs: 2 x tokens x MLP weights / tp, per layer and micro-batch
    pc = count_params(a)
    r = _rates(system_for(H100), w)
    sc = evaluate(a, big, w, one(tp=8, pp=pp, dp=1, recompute=MLP), keep_parts=True)
    per_layer_extra = 2.0 * 8192 * pc.dense_mlp_per_layer / 8 / r.gemm
    extra = float(sc.parts.layer["gemm"][0]) - float(evaluate(a, big, w, one(tp=8, pp=pp, dp=1, recompute=SELECTIVE),
                                                              keep_parts=True).parts.layer["gemm"][0])
    assert extra == pytest.approx(per_layer_extra, rel=1e-9)
    assert gemm[SELECTIVE] < gemm[MLP] < gemm[FULL]


def test_block_recomputes_the_fewest_layers_that_fit():
    a = models()["llama3-70b"].arch
    w = training_setup(a, 8192, 16e6, "bf16")
    c = one(tp=8, pp=4, dp=1, recompute=BLOCK, mb=1)
    shares = []
    for gib in (60.0, 70.0, 80.0, 96.0, 141.0):
        chip = H100.model_copy(update={"hbm_gib": gib})
        sc = evaluate(a, chip, w, c, keep_parts=True)
        full = evaluate(a, chip, w, one(tp=8, pp=4, dp=1, recompute=FULL, mb=1))
        if float(full.memory_bytes[0]) > usable_bytes(gib):
            continue
        assert float(sc.memory_bytes[0]) <= usable_bytes(gib) * (1 + 1e-9)  # sized to fit
        shares.append(float(step_terms(sc).gemm[0]))
    assert len(shares) >= 3
    assert all(x >= y - 1e-12 for x, y in zip(shares, shares[1:], strict=False))  # more memory: fewer layers recomputed


def test_stacks_offer_the_recompute_policies():
    from planner.catalog import stacks

    st = stacks()
    for level in ("standard", "optimized"):
        assert {"block", "mlp"} <= set(st[level].recompute)
    assert "mlp" not in st["basic"].recompute


# --- MoE dispatchers and routing balance -----------------------------------------------------------------------


def test_dispatcher_traffic_closed_forms():
    a = models()["deepseek-v3"].arch
    pc = count_params(a)
    w = training_setup(a, 4096, 15e6, "bf16")
    r = _rates(system_for(H100, "standard"), w)
    h, k, tok = a.hidden, pc.top_k, 4096.0
    per_token = 2.0 + 2.0  # bf16 dispatch + bf16 combine
    for tp, ep in ((1, 2), (1, 8), (2, 4)):
        tpa, epa = np.array([float(tp)]), np.array([float(ep)])
        a2a_in, a2a_out = dispatch_bytes(a, pc, r, tok, tpa, epa, "alltoall")
        ag_in, ag_out = dispatch_bytes(a, pc, r, tok, tpa, epa, "allgather")
        assert float(a2a_out[0]) == 0 and float(ag_out[0]) == 0  # inside one node
        assert float(a2a_in[0]) == pytest.approx(tok / tp * k * h * per_token * (ep - 1) / ep)
        assert float(ag_in[0]) == pytest.approx(tok / tp * h * per_token * (tp * ep - 1))
    # top_k 8 over 2 ranks: all-to-all sends 4 copies, allgather 1: the stack's faster one is allgather
    t, gathered = dispatcher_choice(a, pc, r, tok, np.array([1.0]), np.array([2.0]))
    assert bool(gathered[0])
    # across nodes: 64 ranks over 8 nodes, all-to-all crosses the network, allgather sends 7 shards
    a2a_in, a2a_out = dispatch_bytes(a, pc, r, tok, np.array([1.0]), np.array([64.0]), "alltoall")
    ag_in, ag_out = dispatch_bytes(a, pc, r, tok, np.array([1.0]), np.array([64.0]), "allgather")
    assert float(ag_out[0]) == pytest.approx(tok * h * per_token * 7)
    g = 8.0
    nodes = g * (1 - (1 - 1 / g) ** k)  # node-limited routing: one copy per distinct node, at most 4
    assert float(a2a_out[0]) == pytest.approx(tok * min(nodes, 4) * (g - 1) / g * h * per_token)


def test_basic_stack_has_only_all_to_all():
    a = models()["deepseek-v3"].arch
    pc = count_params(a)
    w = training_setup(a, 4096, 15e6, "bf16")
    r = _rates(system_for(H100, "basic"), w)
    _t, gathered = dispatcher_choice(a, pc, r, 4096.0, np.array([1.0]), np.array([2.0]))
    assert not bool(gathered[0])


def test_forced_vs_natural_routing_balance():
    base = models()["deepseek-v3"].arch
    dropless = base.model_copy(update={"moe": base.moe.model_copy(update={"capacity_factor": None})})
    forced = base.model_copy(update={"moe": base.moe.model_copy(update={"capacity_factor": 1.0})})
    assert expert_load(base) == MOE_IMBALANCE == 1.25
    assert expert_load(dropless) == DROPLESS_IMBALANCE
    assert expert_load(forced) == 1.0
    w = training_setup(base, 4096, 15e6, "bf16")
    c = one(tp=8, pp=16, ep=8, dp=8, recompute=SELECTIVE)
    t = [float(step_terms(evaluate(x, H100, w, c, keep_parts=True)).gemm[0]) for x in (forced, base, dropless)]
    assert t[0] < t[1] < t[2]


# --- sliding-window attention and sinks ------------------------------------------------------------------------


def test_sliding_window_flops_closed_forms():
    a = models()["llama3-8b"].arch
    s, wdw = 32768, 4096
    qk, v = attention_width(a)
    n = count_params(a).active_matmul_per_token
    full = model_flops_per_token(a, s)
    assert full == pytest.approx(6 * n + 6 * a.layers * s * (qk + v))
    win = a.model_copy(update={"sliding_window": wdw})
    assert model_flops_per_token(win, s) == pytest.approx(6 * n + 6 * a.layers * wdw * (qk + v))
    # every 4th layer global, 4 sink tokens
    mixed = a.model_copy(update={"sliding_window": wdw, "global_attention_every": 4, "attention_sinks": 4})
    n_global = a.layers // 4
    keys = n_global * s + (a.layers - n_global) * (wdw + 4)
    assert attention_keys(mixed, s) == keys
    assert model_flops_per_token(mixed, s) == pytest.approx(6 * n + 6 * keys * (qk + v))
    # causal keys per windowed query: w - w^2 / 2s; a window longer than the sequence is full attention
    assert attention_keys(win, s, causal=True) == pytest.approx(a.layers * (wdw - wdw**2 / (2 * s)))
    assert attention_keys(a.model_copy(update={"sliding_window": 10 * s}), s) == attention_keys(a, s)
    # MFU keeps the contract's definition: model FLOPs (with the windowed attention term) over peak
    w = training_setup(win, s, 16e6, "bf16")
    r = best_layout_or_none(win, w, 256)
    assert r.mfu == pytest.approx(model_flops_per_token(win, s) * r.tokens_per_s / (r.units_used * 989.5e12))
    sc_full = evaluate(a, H100, training_setup(a, s, 16e6, "bf16"), one(cp=4, dp=1), keep_parts=True)
    sc_win = evaluate(win, H100, w, one(cp=4, dp=1), keep_parts=True)
    assert float(sc_win.parts.layer["attention"][0]) < 0.3 * float(sc_full.parts.layer["attention"][0])


def best_layout_or_none(a, w, units):
    return S.best_layout(a, H100, w, units)


def test_sliding_window_schema():
    with pytest.raises(ValueError):
        ModelArch(layers=4, hidden=1024, heads=8, vocab=1000, global_attention_every=2)
    m = ModelArch(layers=6, hidden=1024, heads=8, vocab=1000, sliding_window=512, global_attention_every=6)
    assert m.windowed_layers == 5


# --- cloud instance networks -----------------------------------------------------------------------------------


def test_instances_give_a_pool_its_network():
    inst = instances()
    assert inst["p5.48xlarge"].gbps_per_chip == 400
    assert inst["Standard_ND96isr_H100_v5"].gbps_per_chip == 400
    assert inst["a3-megagpu-8g"].gbps_per_chip == 200
    assert inst["a3-highgpu-8g"].gbps_per_chip == 100
    assert all(i.sources for i in inst.values())
    doc = {"name": "x", "workload": {"model": "llama3-8b", "tokens": 1e12, "seq_len": 8192},
           "fleet": [{"name": "p", "chip": "h100-sxm", "units": 64, "instance": "a3-megagpu-8g"}]}
    assert Scenario.model_validate(doc).fleet[0].network_gbps == 200
    doc["fleet"][0]["network_gbps"] = 50  # what the owner states wins
    assert Scenario.model_validate(doc).fleet[0].network_gbps == 50
    doc["fleet"][0].pop("network_gbps")
    doc["fleet"][0]["chip"] = "a100-80gb"
    with pytest.raises(ValueError, match="carries h100-sxm"):
        Scenario.model_validate(doc)
    doc["fleet"][0]["instance"] = "no-such-box"
    with pytest.raises(ValueError, match="unknown instance"):
        Scenario.model_validate(doc)


# --- the simpler layout within the model's tolerance ------------------------------------------------------------


def test_simpler_layout_preferred_within_tolerance():
    a = models()["llama3-70b"].arch
    w = training_setup(a, 8192, 16e6, "bf16")
    sysm = system_for(H100, "standard")
    r = S.best_layout(a, sysm, w, 256)
    c = S.build_candidates(a, sysm, w, 256)
    sc = evaluate(a, sysm, w, c)
    fits = sc.memory_bytes <= S.usable_hbm_bytes(H100)
    i = S._best_index(sc, fits)
    fastest = float(sc.tokens_per_s[i])
    assert r.preference and "faster on paper" in r.preference and "simpler one is shown" in r.preference
    assert r.layout.vp == 1 and int(c.vp[i]) > 1  # the fastest interleaves, the one shown does not
    assert fastest * (1 - S.SIMPLER_TOLERANCE) <= r.tokens_per_s < fastest
    # the fastest on fewer chips never beats what is shown
    assert S.best_layout(a, sysm, w, 255).tokens_per_s <= r.tokens_per_s * (1 + 1e-12)


def test_fastest_kept_when_it_is_already_the_simplest():
    a = models()["llama3-8b"].arch
    w = training_setup(a, 8192, 4e6, "bf16")
    r = S.best_layout(a, system_for(H100, "standard"), w, 64)
    assert r.preference == ""


def test_complexity_orders_exotic_features():
    base = one()
    cx = lambda **kw: float(S.complexity(one(**kw))[0])  # noqa: E731
    assert cx() == 0
    assert cx(vp=2) > 0 and cx(zero=3) > cx(zero=2) > cx() and cx(cp=2) > 0 and cx(ep=8) > cx(ep=2) > 0
    assert cx(recompute=FULL) > cx(recompute=MLP) > cx(recompute=SELECTIVE) == cx(recompute=NONE)
    assert len(base) == 1


@settings(max_examples=12, deadline=None, derandomize=True, database=None)
@given(mid=st.sampled_from(["llama3-70b", "llama2-70b"]), n=st.integers(64, 700), extra=st.integers(1, 300),
       stack=st.sampled_from(["standard", "optimized"]))
def test_more_chips_never_slower_with_the_preference(mid, n, extra, stack):
    a = models()[mid].arch
    w = training_setup(a, 4096, 4e6, "bf16")
    sysm = system_for(H100, stack)
    try:
        r1 = S.best_layout(a, sysm, w, n)
    except InfeasiblePlanError:
        return
    r2 = S.best_layout(a, sysm, w, n + extra)
    assert r2.tokens_per_s >= r1.tokens_per_s * (1 - 1e-9), (n, extra, r1.layout, r2.layout)


# --- physics review: closed forms the step and memory terms must meet -------------------------------------------


def test_amd_instinct_boards_are_full_meshes():
    """An 8-GPU MI300X board links each GPU to each peer (reference chips.csv C30: "Infinity Fabric (XGMI) full mesh").

    It was modelled with a switch: a TP2 group got all 7 links (448 GB/s) instead of one (64 GB/s), and Llama 3 70B
    on 64 MI300X came out 16.7% faster than the full mesh gives, on a different layout.
    """
    from planner.perf.steptime import _up

    for cid in ("mi300x", "mi325x", "mi355x"):
        chip = chips()[cid]
        assert chip.scale_up_topology == "full_mesh", cid
    r = _rates(system_for(chips()["mi300x"]), training_setup(models()["llama3-70b"].arch, 8192, 16e6, "bf16"))
    assert float(_up(r, 2)) == pytest.approx(r.scale_up / 7)
    assert float(_up(r, 8)) == pytest.approx(r.scale_up)


def test_optimizer_step_shards_experts_over_the_expert_data_parallel_group():
    """ZeRO-1's optimizer step streams the chip's shard: dense states over dp x cp, expert states over dp x cp / ep.

    As memory holds them. The step used the dense group for both: DeepSeek-V3 at EP64 on 2,048 chips (expert group
    of 2) read 20x too few expert states.
    """
    from planner.perf.steptime import HBM_EFFICIENCY, OPTIMIZER_STEP_BYTES_PER_PARAM, shape_terms

    a = models()["deepseek-v3"].arch
    h800 = chips()["h800"]
    w = training_setup(a, 4096, 62914560, "bf16")
    c = one(tp=1, pp=16, ep=64, dp=128, recompute=SELECTIVE, zero=1)
    st_ = shape_terms(a, h800, w, c)
    params, expert = float(st_.memory.params_chip[0]), float(st_.memory.expert_params_rank[0])
    assert 0 < expert < params  # an MoE stage holds expert and dense parameters
    hbm = h800.hbm_tbps * 1e12 * HBM_EFFICIENCY
    want = ((params - expert) / 128 + expert / 2) * OPTIMIZER_STEP_BYTES_PER_PARAM / hbm
    got = float(step_terms(evaluate(a, h800, w, c, keep_parts=True)).optimizer[0])
    assert got == pytest.approx(want, rel=1e-6)


def test_zero0_all_reduces_fp32_gradients():
    """ZeRO-0 all-reduces fp32 gradients: 2 x 4 bytes a parameter through the ring, more than ZeRO-1's 4 + 2.

    ZeRO-1 reduce-scatters the gradients and all-gathers bf16 weights; ZeRO-0 was charged the same.
    """
    a = models()["llama3-8b"].arch
    w = training_setup(a, 8192, 4194304, "bf16")
    big = H100.model_copy(update={"hbm_gib": 100_000})
    ev = {z: evaluate(a, big, w, one(tp=1, pp=1, dp=64, recompute=SELECTIVE, zero=z), keep_parts=True) for z in (0, 1)}
    # nothing hides it: the exposed share is the same function of each, so compare what the collectives take
    comm = {z: float(ev[z].parts.t_dp[0]) for z in (0, 1)}
    assert comm[0] > comm[1]


def test_a_tied_embedding_is_held_whole_on_the_first_and_the_last_stage():
    """A tied embedding: with a pipeline, the first stage holds the embedding and the last a copy.

    GPT-3 ties its output layer to the input embedding (Megatron's shared word embeddings): a chip holds all of its
    shard, not half.
    """
    from planner.perf.params import count_params as _count
    from planner.perf.steptime import shape_terms

    a = models()["gpt3-175b"].arch
    assert a.tied_embeddings
    w = training_setup(a, 2048, 3.2e6, "bf16")
    pc = _count(a)
    for pp in (1, 2, 8):
        st_ = shape_terms(a, H100, w, one(tp=8, pp=pp, dp=1))
        layers_rank = -(-a.layers // pp)
        body = float(st_.memory.params_chip[0]) - a.vocab * a.hidden / 8
        assert body == pytest.approx(layers_rank * (pc.attention_per_layer + pc.dense_mlp_per_layer) / 8
                                     + pc.norms_per_layer * layers_rank, rel=1e-6)
