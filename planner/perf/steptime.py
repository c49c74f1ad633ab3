"""Step time of a training layout, vectorized over candidate layouts. Pure numpy, no simpy.

All times in seconds, sizes in bytes, work in FLOP. Every array argument has one entry per candidate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..arch import ModelArch
from ..catalog import Chip
from .memory import (
    activation_bytes_per_layer,
    pipeline_in_flight,
    state_bytes_per_param,
)
from .params import attention_width, count_params

ACT_BYTES = 2.0  # bf16 activations on the wire
# FlashAttention-2 reaches 50-73% of the A100 peak vs ~90% for plain GEMMs (Dao 2023, arXiv:2307.08691, fig. 4-6)
ATTENTION_VS_GEMM = 0.72
# FlashAttention backward does 5 matmuls to the forward's 2 (+ the recomputed QK^T): 2.5x forward (Dao 2023, sec. 3.1)
ATTENTION_BWD_FACTOR = 2.5
HBM_EFFICIENCY = 0.80  # streaming kernels reach ~80% of the HBM peak (STREAM-like copy, vendor microbenchmarks)
LINK_EFFICIENCY = 0.80  # NCCL/HCCL bus bandwidth vs link peak for large messages (nccl-tests, ring algorithm)
SCALE_UP_LATENCY_S = 10e-6  # per collective inside the scale-up domain
SCALE_OUT_LATENCY_S = 25e-6  # per ring/tree hop on the data-centre network
KERNEL_OVERHEAD_S = 4e-6  # launch + sync per kernel (CUDA/CANN launch latency)
KERNELS_PER_LAYER = 45  # ~15 kernels forward, ~30 backward for a fused transformer layer
# Optimizer step streams fp32 master, m, v and grads in, master, m, v and bf16 weights out (Adam)
OPTIMIZER_STEP_BYTES_PER_PARAM = 30.0
# Synchronous steps wait for the slowest of N chips: E[max] ~ mu * (1 + cv*sqrt(2 ln N)) (Gumbel bound for
# Gaussian jitter); cv = 1% per-step jitter of one chip (thermal and clock variation, Llama 3 sec. 3.3.4)
STEP_JITTER_CV = 0.02
# MoE all-to-all and the DP collectives are partly hidden behind compute by the frameworks' overlap
DP_OVERLAP_MICROBATCHES = 1.0
# gradients are reduced in fp32 (Megatron-LM default accumulate_allreduce_grads_in_fp32)
GRAD_COMM_BYTES = 4.0
WEIGHT_COMM_BYTES = 2.0  # bf16 weights all-gathered after the sharded optimizer step  # grad reduce-scatter hides behind the backward of the last micro-batch


@dataclass(frozen=True)
class Workload:
    """Resolved training settings the cost model needs."""

    seq_len: int
    global_batch_seqs: int
    precision: str  # bf16 | fp8
    flash_attention: bool = True  # fused attention (Dao et al. 2022); False: scores materialised in HBM


@dataclass
class Candidates:
    """Columns of candidate layouts (numpy int arrays, one entry per candidate)."""

    tp: np.ndarray
    pp: np.ndarray
    vp: np.ndarray
    cp: np.ndarray
    ep: np.ndarray
    dp: np.ndarray
    mb: np.ndarray
    recompute: np.ndarray  # 0 none, 1 selective, 2 full
    zero: np.ndarray

    def __len__(self) -> int:
        return int(self.tp.shape[0])

    def take(self, idx) -> "Candidates":
        return Candidates(**{k: getattr(self, k)[idx] for k in self.__dataclass_fields__})


@dataclass
class Scores:
    """Per-candidate results (numpy arrays)."""

    memory_bytes: np.ndarray
    step_time_s: np.ndarray
    tokens_per_step: np.ndarray
    micro_batches: np.ndarray
    units_used: np.ndarray

    @property
    def tokens_per_s(self) -> np.ndarray:
        return self.tokens_per_step / self.step_time_s


def _collective_time(bytes_per_chip, n, bw_bytes_s, latency_s, passes):
    """Ring collective: each chip moves passes*(n-1)/n of the buffer (Thakur et al. 2005, ring all-gather)."""
    n = np.asarray(n, dtype=float)
    frac = np.where(n > 1, (n - 1) / n, 0.0)
    lat = np.where(n > 1, latency_s * np.log2(np.maximum(n, 2)), 0.0)
    return passes * (frac * bytes_per_chip / bw_bytes_s + lat)


def evaluate(arch: ModelArch, chip: Chip, wl: Workload, c: Candidates) -> Scores:
    """Memory per chip and step time for every candidate layout."""
    pc = count_params(arch)
    L = arch.layers
    h = float(arch.hidden)
    s = float(wl.seq_len)
    tp = c.tp.astype(float)
    pp = c.pp.astype(float)
    vp = c.vp.astype(float)
    cp = c.cp.astype(float)
    ep = c.ep.astype(float)
    dp = c.dp.astype(float)
    mb = c.mb.astype(float)
    rc = c.recompute

    peak = chip.peak_flops(wl.precision)
    gemm_rate = peak * chip.matmul_efficiency
    attn_rate = gemm_rate * ATTENTION_VS_GEMM
    hbm = chip.hbm_tbps * 1e12 * HBM_EFFICIENCY
    up_bw = chip.scale_up_gbyteps * 1e9 * LINK_EFFICIENCY
    out_bw = chip.scale_out_gbps * 1e9 / 8 * LINK_EFFICIENCY
    domain = chip.scale_up_domain

    # --- layers per pipeline rank (the slowest rank sets the pace) ---
    n_moe = pc.n_moe_layers
    moe_share = n_moe / L
    layers_rank = np.ceil(L / pp)

    # --- matmul parameters per chip per layer ---
    attn_p = pc.attention_per_layer / tp
    dense_mlp_p = pc.dense_mlp_per_layer / tp
    # experts live on EP ranks (expert tensor parallelism 1); shared experts are tensor-parallel like a dense MLP
    routed_total_p = pc.experts * pc.expert_mlp / ep
    shared_p = pc.shared_experts * pc.expert_mlp / tp

    # --- tokens per micro-batch per chip (tensor and context parallel split the tokens' work) ---
    tok = mb * s / cp  # tokens of one micro-batch on one CP rank

    # --- compute per layer, one micro-batch, forward [FLOP] ---
    active_mlp = (1 - moe_share) * pc.dense_mlp_per_layer + moe_share * (
        (pc.top_k + pc.shared_experts) * pc.expert_mlp + pc.router_per_layer
    )
    fwd_gemm = 2.0 * tok * (pc.attention_per_layer + active_mlp) / tp
    qk, v = attention_width(arch)
    gemm_passes = np.where(rc == 2, 4.0, 3.0)  # fwd + 2x bwd (+ fwd again for full recompute)
    if wl.flash_attention:
        # causal attention: FlashAttention skips the masked half; CP ranks each see s/cp queries x s keys
        fwd_attn = 2.0 * tok * s * (qk + v) * 0.5 / tp
        attn_passes = 1.0 + ATTENTION_BWD_FACTOR + np.where(rc >= 1, 1.0, 0.0)  # selective/full redo the core
        t_attn = fwd_attn * attn_passes / attn_rate
        t_scores = 0.0
    else:
        # unfused: batched GEMMs over the full s x s scores, then softmax, mask and dropout stream the scores
        # through HBM: ~11 bytes per score forward (write, read + write softmax, mask, dropout), 2x backward
        fwd_attn = 2.0 * tok * s * (qk + v) / tp
        attn_passes = np.where(rc >= 1, 4.0, 3.0)
        t_attn = fwd_attn * attn_passes / gemm_rate
        t_scores = tok * s * arch.heads / tp * 11.0 * attn_passes / hbm
    # roofline per layer (Williams et al. 2009): a GEMM streams its weights at least once per pass; experts
    # that see few tokens (tokens per expert = tokens * top_k / experts) are bound by HBM, not by FLOPs
    dense_w = (pc.attention_per_layer + (1 - moe_share) * pc.dense_mlp_per_layer) / tp + moe_share * shared_p
    expert_w = moe_share * routed_total_p
    fwd_dense = fwd_gemm - moe_share * 2.0 * tok * pc.top_k * pc.expert_mlp / tp
    fwd_expert = fwd_gemm - fwd_dense
    # weights read forward and backward, fp32 gradient accumulate (read + write) in backward: 2 + 2 + 8 bytes
    w_bytes_per_param = 12.0
    t_gemm = np.maximum(fwd_dense * gemm_passes / gemm_rate, dense_w * w_bytes_per_param / hbm) + np.maximum(
        fwd_expert * gemm_passes / gemm_rate, expert_w * w_bytes_per_param / hbm
    )

    # --- memory-bound elementwise work: norms, residuals, activation, rotary [bytes per token, forward] ---
    f_eff = (1 - moe_share) * arch.ffn + moe_share * (pc.top_k + pc.shared_experts) * (
        arch.moe.expert_ffn_hidden if arch.moe else 0
    )
    act_bytes = (48.0 * h + (12.0 if arch.mlp == "gated" else 8.0) * f_eff + 8.0 * (qk + v) / 2) / tp
    t_elem = tok * act_bytes * gemm_passes / hbm  # backward streams ~2x the forward bytes

    # --- tensor parallel collectives: with sequence parallelism 2 all-gathers + 2 reduce-scatters forward ---
    # (Korthikanti et al. 2022 sec. 4.2.2); parallel blocks need half of them (PaLM sec. 2)
    tp_bw = np.where(tp <= domain, up_bw, out_bw)
    n_coll = 2.0 if arch.parallel_block else 4.0
    tp_buf = tok * h * ACT_BYTES
    t_tp = _collective_time(tp_buf, tp, tp_bw, SCALE_UP_LATENCY_S, n_coll) * np.where(rc == 2, 3.0, 2.0)

    # --- context parallel: ring attention passes K,V chunks cp-1 times forward, K,V + grads backward ---
    # (Liu et al. 2023 ring attention; Megatron CP), overlapped with the attention compute
    kv_chunk = tok * (qk + v) / 2 * ACT_BYTES / np.maximum(tp, 1) * 2
    cp_bw = np.where(tp * cp <= domain, up_bw, out_bw)
    t_cp_comm = np.where(cp > 1, (cp - 1) * kv_chunk * 3.0 / cp_bw, 0.0)
    t_cp = np.maximum(0.0, t_cp_comm - t_attn)

    # --- expert parallel all-to-all: dispatch + combine, forward and backward (GShard, Lepikhin et al. 2020) ---
    ep_bw = np.where(ep * tp <= domain, up_bw, out_bw)
    a2a_bytes = tok / tp * pc.top_k * h * ACT_BYTES * np.where(ep > 1, (ep - 1) / ep, 0.0)
    t_ep = moe_share * np.where(ep > 1, a2a_bytes * np.where(rc == 2, 6.0, 4.0) / ep_bw, 0.0)

    overhead = KERNELS_PER_LAYER * KERNEL_OVERHEAD_S
    t_layer = t_gemm + t_attn + t_scores + t_elem + t_tp + t_cp + t_ep + overhead

    # --- embedding and output layer on the first/last stage: logits GEMM + cross entropy ---
    head_gemm = 2.0 * tok * h * arch.vocab / tp * 3.0 / gemm_rate
    head_elem = tok * arch.vocab / tp * (2 + 4 + 4) * 2 / hbm  # logits bf16, fp32 softmax, grads
    t_head = head_gemm + head_elem
    # the slowest rank: either the one with ceil(L/pp) layers, or the share of all work incl. the head
    t_rank = np.maximum(layers_rank * t_layer, (L * t_layer + t_head) / pp)

    # --- pipeline: point-to-point activations between stages, bubble (Narayanan et al. 2021 eq. 1, 2) ---
    p2p_bytes = tok * h * ACT_BYTES / tp
    t_p2p = np.where(pp > 1, 2.0 * vp * (p2p_bytes / out_bw + SCALE_OUT_LATENCY_S), 0.0)
    t_mb = t_rank + t_p2p
    gb = float(wl.global_batch_seqs)
    m = np.ceil(gb / (dp * mb))  # micro-batches per replica per step
    bubble = np.where(pp > 1, (pp - 1) / vp, 0.0)
    t_pipe = (m + bubble) * t_mb

    # --- data parallel gradient reduce-scatter + parameter all-gather on the scale-out network ---
    dense_params_rank = (attn_p + dense_mlp_p * (1 - moe_share) + shared_p * moe_share) * layers_rank
    expert_params_rank = routed_total_p * moe_share * layers_rank
    emb_p = (pc.embedding + pc.output) / tp / np.minimum(pp, 2)
    params_chip = dense_params_rank + expert_params_rank + emb_p + pc.norms_per_layer * layers_rank
    dp_bw = np.where(tp * pp * cp * dp <= domain, up_bw, out_bw)
    dense_dp = dp * cp  # dense weights are replicated over DP and CP ranks
    exp_dp = np.maximum(dp * cp / ep, 1.0)  # expert weights over the expert-data-parallel group
    grad_bytes = GRAD_COMM_BYTES
    # one reduce-scatter (grads) and one all-gather (weights) per step: the volume of an all-reduce
    t_rs = _collective_time((dense_params_rank + emb_p) * grad_bytes, dense_dp, dp_bw, SCALE_OUT_LATENCY_S, 1.0) + \
        _collective_time(expert_params_rank * grad_bytes, exp_dp, dp_bw, SCALE_OUT_LATENCY_S, 1.0)
    t_ag = t_rs * (WEIGHT_COMM_BYTES / grad_bytes)
    # ZeRO-2 shards the gradients, so every micro-batch reduce-scatters its own (no local accumulation);
    # ZeRO-3 also gathers the weights for every micro-batch forward and backward (Rajbhandari et al. 2020, sec. 5)
    z = c.zero
    t_dp = np.where(z >= 3, m * (t_rs + 2 * t_ag), np.where(z == 2, m * t_rs + t_ag, t_rs + t_ag))
    # per-micro-batch collectives hide behind every micro-batch; per-step ones behind the last one only
    window = DP_OVERLAP_MICROBATCHES * t_mb * np.where(z >= 2, m, 1.0)
    t_dp_exposed = np.maximum(0.0, t_dp - window)

    # --- optimizer step: memory-bound over the chip's shard ---
    opt_shard = np.where(c.zero >= 1, params_chip / dense_dp, params_chip)
    t_opt = opt_shard * OPTIMIZER_STEP_BYTES_PER_PARAM / hbm

    units = tp * pp * cp * dp
    jitter = 1.0 + STEP_JITTER_CV * np.sqrt(2.0 * np.log(np.maximum(units, 2.0)))
    step = (t_pipe + t_dp_exposed + t_opt) * jitter

    # --- memory per chip: the first stage holds the most in-flight activations; logits sit on the last ---
    sbpp_dense = state_bytes_per_param(c.zero, np.where(c.zero >= 1, dense_dp, 1))
    sbpp_exp = state_bytes_per_param(c.zero, np.where(c.zero >= 1, exp_dp, 1))
    state = (params_chip - expert_params_rank) * sbpp_dense + expert_params_rank * sbpp_exp
    act_dense = activation_bytes_per_layer(arch, s, mb, tp, cp, rc, dense_mlp=True)
    act_moe = activation_bytes_per_layer(arch, s, mb, tp, cp, rc, dense_mlp=False) if arch.moe else act_dense
    act_layer = (1 - moe_share) * act_dense + moe_share * act_moe
    # never more micro-batches in flight than the replica runs per step
    in_flight = np.minimum(pipeline_in_flight(pp, vp), m * np.where(vp > 1, 1.0 + (pp - 1) / (pp * vp), 1.0))
    # when pp does not divide L, the short stage goes first, where most micro-batches are in flight
    # (Llama 3 sec. 3.3.2 removes layers from the first stage for this reason); stage k holds pp-k of them
    first_layers = np.maximum(L - (pp - 1) * layers_rank, 1.0)
    second = np.where(pp > 1, (pp - 1) / pp, 0.0) * layers_rank
    worst_stage_layers = np.maximum(first_layers, second)
    act = worst_stage_layers * act_layer * in_flight
    # fp32 logits for the loss (Korthikanti et al. 2022 sec. 4.3: 4*s*b*v/t bytes)
    logits = tok * arch.vocab * 4.0 / tp
    # full recompute rebuilds one layer's activations during its backward
    work = np.where(rc == 2, activation_bytes_per_layer(arch, s, mb, tp, cp, 1), 0.0)
    memory = state + act + logits + work

    return Scores(
        memory_bytes=memory,
        step_time_s=step,
        tokens_per_step=m * mb * dp * s,
        micro_batches=m,
        units_used=units,
    )
