"""Step time of a training layout, vectorized over candidate layouts. Pure numpy, no simpy.

All times in seconds, sizes in bytes, work in FLOP. Every array argument has one entry per candidate.
The step is a sum of named terms (``StepTerms``): ``planner estimate --explain`` prints them.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from ..arch import ModelArch
from ..catalog import Chip
from ..units import GB, GBPS_TO_BYTES, TB
from .memory import memory_per_chip
from .params import ParamCounts, attention_width, count_params
from .setup import TrainingSetup

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
# Gaussian jitter), with cv the per-step jitter of one chip (thermal and clock variation, Llama 3 sec. 3.3.4)
STEP_JITTER_CV = 0.02
# DP collectives are partly hidden behind compute by the frameworks' overlap
DP_OVERLAP_MICROBATCHES = 1.0
# gradients are reduced in fp32 (Megatron-LM default accumulate_allreduce_grads_in_fp32)
GRAD_COMM_BYTES = 4.0
WEIGHT_COMM_BYTES = 2.0  # bf16 weights all-gathered after the sharded optimizer step
# weights read forward and backward, fp32 gradient accumulate (read + write) in backward: 2 + 2 + 8 bytes
WEIGHT_PASS_BYTES_PER_PARAM = 12.0


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
    recompute: np.ndarray  # index into layout.RECOMPUTE: 0 none, 1 selective, 2 full
    zero: np.ndarray

    def __len__(self) -> int:
        return int(self.tp.shape[0])


@dataclass
class StepTerms:
    """One optimizer step split into named parts [s]; they add up to the step time."""

    gemm: np.ndarray  # dense and expert matmuls (roofline against weight streaming)
    attention: np.ndarray  # attention scores and weighted values (and unfused score traffic)
    elementwise: np.ndarray  # norms, residuals, activations, rotary: HBM-bound
    overhead: np.ndarray  # kernel launches
    output_layer: np.ndarray  # logits GEMM and the loss on the last stage
    tp: np.ndarray  # tensor-parallel all-gathers and reduce-scatters
    cp: np.ndarray  # context-parallel K/V exchange left after overlap
    ep: np.ndarray  # expert-parallel all-to-all
    pp: np.ndarray  # pipeline sends and the bubble
    dp: np.ndarray  # data-parallel gradient and weight collectives left after overlap
    optimizer: np.ndarray  # the optimizer step
    jitter: np.ndarray  # waiting for the slowest chip

    NAMES = ("gemm", "attention", "elementwise", "overhead", "output_layer", "tp", "cp", "ep", "pp", "dp",
             "optimizer", "jitter")

    @property
    def total(self) -> np.ndarray:
        """The step time [s]."""
        return sum(getattr(self, f.name) for f in fields(self))


@dataclass
class Scores:
    """Per-candidate results (numpy arrays)."""

    memory_bytes: np.ndarray
    step_time_s: np.ndarray
    tokens_per_step: np.ndarray
    micro_batches: np.ndarray
    units_used: np.ndarray
    parts: _Parts | None = None  # what the named terms are computed from (see ``step_terms``)

    @property
    def tokens_per_s(self) -> np.ndarray:
        """Real tokens trained per second."""
        return self.tokens_per_step / self.step_time_s


@dataclass
class _Rates:
    """Sustained rates of one chip class [FLOP/s, bytes/s]."""

    gemm: float
    attention: float
    hbm: float
    scale_up: float
    scale_out: float
    domain: int


@dataclass
class _Parts:
    """Per-micro-batch layer terms and per-step terms, kept for ``step_terms``."""

    layer: dict  # per layer and micro-batch: gemm, attention, elementwise, overhead, tp, cp, ep
    t_layer: np.ndarray
    t_head: np.ndarray
    layers_rank: np.ndarray
    pp: np.ndarray
    t_p2p: np.ndarray
    t_mb: np.ndarray
    m: np.ndarray
    bubble: np.ndarray
    t_dp: np.ndarray
    t_opt: np.ndarray
    jitter: np.ndarray
    L: int


def _rates(chip: Chip, setup: TrainingSetup) -> _Rates:
    gemm = chip.peak_flops(setup.precision) * chip.matmul_efficiency
    return _Rates(
        gemm=gemm,
        attention=gemm * ATTENTION_VS_GEMM,
        hbm=chip.hbm_tbps * TB * HBM_EFFICIENCY,
        scale_up=chip.scale_up_gbyteps * GB * LINK_EFFICIENCY,
        scale_out=chip.scale_out_gbps * GBPS_TO_BYTES * LINK_EFFICIENCY,
        domain=chip.scale_up_domain,
    )


def _collective_time(bytes_per_chip, n, bw_bytes_s, latency_s, passes):
    """Ring collective: each chip moves passes*(n-1)/n of the buffer (Thakur et al. 2005, ring all-gather)."""
    n = np.asarray(n, dtype=float)
    frac = np.where(n > 1, (n - 1) / n, 0.0)
    lat = np.where(n > 1, latency_s * np.log2(np.maximum(n, 2)), 0.0)
    return passes * (frac * bytes_per_chip / bw_bytes_s + lat)


def _gemm_passes(rc):
    return np.where(rc == 2, 4.0, 3.0)  # fwd + 2x bwd (+ fwd again for full recompute)


def _attention(arch: ModelArch, setup: TrainingSetup, r: _Rates, tok, tp, rc):
    """(core attention time, unfused score traffic time) per layer and micro-batch."""
    s = float(setup.seq_len)
    qk, v = attention_width(arch)
    if setup.flash_attention:
        # causal attention: FlashAttention skips the masked half; CP ranks each see s/cp queries x s keys
        fwd_attn = 2.0 * tok * s * (qk + v) * 0.5 / tp
        attn_passes = 1.0 + ATTENTION_BWD_FACTOR + np.where(rc >= 1, 1.0, 0.0)  # selective/full redo the core
        return fwd_attn * attn_passes / r.attention, 0.0
    # unfused: batched GEMMs over the full s x s scores, then softmax, mask and dropout stream the scores
    # through HBM: ~11 bytes per score forward (write, read + write softmax, mask, dropout), 2x backward
    fwd_attn = 2.0 * tok * s * (qk + v) / tp
    attn_passes = np.where(rc >= 1, 4.0, 3.0)
    return fwd_attn * attn_passes / r.gemm, tok * s * arch.heads / tp * 11.0 * attn_passes / r.hbm


def _gemm(pc: ParamCounts, moe_share: float, r: _Rates, tok, tp, ep, rc):
    """Dense and expert matmuls per layer and micro-batch, each bounded below by streaming its weights.

    Roofline per layer (Williams et al. 2009): experts that see few tokens (tokens per expert =
    tokens * top_k / experts) are bound by HBM, not by FLOPs.
    """
    active_mlp = (1 - moe_share) * pc.dense_mlp_per_layer + moe_share * (
        (pc.top_k + pc.shared_experts) * pc.expert_mlp + pc.router_per_layer
    )
    fwd_gemm = 2.0 * tok * (pc.attention_per_layer + active_mlp) / tp
    shared_p = pc.shared_experts * pc.expert_mlp / tp
    dense_w = (pc.attention_per_layer + (1 - moe_share) * pc.dense_mlp_per_layer) / tp + moe_share * shared_p
    expert_w = moe_share * (pc.experts * pc.expert_mlp / ep)  # experts live on EP ranks (expert TP 1)
    fwd_dense = fwd_gemm - moe_share * 2.0 * tok * pc.top_k * pc.expert_mlp / tp
    fwd_expert = fwd_gemm - fwd_dense
    passes = _gemm_passes(rc)
    return np.maximum(fwd_dense * passes / r.gemm, dense_w * WEIGHT_PASS_BYTES_PER_PARAM / r.hbm) + np.maximum(
        fwd_expert * passes / r.gemm, expert_w * WEIGHT_PASS_BYTES_PER_PARAM / r.hbm
    )


def _elementwise(arch: ModelArch, pc: ParamCounts, moe_share: float, r: _Rates, tok, tp, rc):
    """Memory-bound norms, residuals, activation and rotary per layer and micro-batch [bytes per token, fwd]."""
    h = float(arch.hidden)
    qk, v = attention_width(arch)
    f_eff = (1 - moe_share) * arch.ffn + moe_share * (pc.top_k + pc.shared_experts) * (
        arch.moe.expert_ffn_hidden if arch.moe else 0
    )
    act_bytes = (48.0 * h + (12.0 if arch.mlp == "gated" else 8.0) * f_eff + 8.0 * (qk + v) / 2) / tp
    return tok * act_bytes * _gemm_passes(rc) / r.hbm  # backward streams ~2x the forward bytes


def _tensor_parallel(arch: ModelArch, r: _Rates, tok, tp, rc):
    """Tensor-parallel collectives per layer and micro-batch.

    With sequence parallelism: 2 all-gathers + 2 reduce-scatters forward (Korthikanti et al. 2022 sec. 4.2.2);
    parallel blocks need half of them (PaLM sec. 2).
    """
    tp_bw = np.where(tp <= r.domain, r.scale_up, r.scale_out)
    n_coll = 2.0 if arch.parallel_block else 4.0
    tp_buf = tok * float(arch.hidden) * ACT_BYTES
    return _collective_time(tp_buf, tp, tp_bw, SCALE_UP_LATENCY_S, n_coll) * np.where(rc == 2, 3.0, 2.0)


def _context_parallel(arch: ModelArch, r: _Rates, tok, tp, cp, t_attn):
    """Context-parallel K/V exchange left after overlap with the attention compute.

    Ring attention passes K,V chunks cp-1 times forward, K,V + grads backward (Liu et al. 2023; Megatron CP).
    """
    qk, v = attention_width(arch)
    kv_chunk = tok * (qk + v) / 2 * ACT_BYTES / np.maximum(tp, 1) * 2
    cp_bw = np.where(tp * cp <= r.domain, r.scale_up, r.scale_out)
    t_cp_comm = np.where(cp > 1, (cp - 1) * kv_chunk * 3.0 / cp_bw, 0.0)
    return np.maximum(0.0, t_cp_comm - t_attn)


def _expert_parallel(arch: ModelArch, pc: ParamCounts, moe_share: float, r: _Rates, tok, tp, ep, rc):
    """All-to-all dispatch + combine, forward and backward (GShard, Lepikhin et al. 2020)."""
    ep_bw = np.where(ep * tp <= r.domain, r.scale_up, r.scale_out)
    a2a_bytes = tok / tp * pc.top_k * float(arch.hidden) * ACT_BYTES * np.where(ep > 1, (ep - 1) / ep, 0.0)
    return moe_share * np.where(ep > 1, a2a_bytes * np.where(rc == 2, 6.0, 4.0) / ep_bw, 0.0)


def _output_layer(arch: ModelArch, r: _Rates, tok, tp):
    """Logits GEMM + cross entropy on the last stage."""
    head_gemm = 2.0 * tok * float(arch.hidden) * arch.vocab / tp * 3.0 / r.gemm
    head_elem = tok * arch.vocab / tp * (2 + 4 + 4) * 2 / r.hbm  # logits bf16, fp32 softmax, grads
    return head_gemm + head_elem


def _data_parallel(c: Candidates, r: _Rates, m, t_mb, dense_params_rank, expert_params_rank, emb_p, dense_dp,
                   exp_dp, tp, pp, cp, dp):
    """Gradient reduce-scatter + weight all-gather per step, and what of it the micro-batches cannot hide."""
    dp_bw = np.where(tp * pp * cp * dp <= r.domain, r.scale_up, r.scale_out)
    # one reduce-scatter (grads) and one all-gather (weights) per step: the volume of an all-reduce
    t_rs = _collective_time((dense_params_rank + emb_p) * GRAD_COMM_BYTES, dense_dp, dp_bw, SCALE_OUT_LATENCY_S,
                            1.0) + _collective_time(expert_params_rank * GRAD_COMM_BYTES, exp_dp, dp_bw,
                                                    SCALE_OUT_LATENCY_S, 1.0)
    t_ag = t_rs * (WEIGHT_COMM_BYTES / GRAD_COMM_BYTES)
    # ZeRO-2 shards the gradients, so every micro-batch reduce-scatters its own (no local accumulation);
    # ZeRO-3 also gathers the weights for every micro-batch forward and backward (Rajbhandari et al. 2020, sec. 5)
    z = c.zero
    t_dp = np.where(z >= 3, m * (t_rs + 2 * t_ag), np.where(z == 2, m * t_rs + t_ag, t_rs + t_ag))
    # per-micro-batch collectives hide behind every micro-batch; per-step ones behind the last one only
    window = DP_OVERLAP_MICROBATCHES * t_mb * np.where(z >= 2, m, 1.0)
    return np.maximum(0.0, t_dp - window)


def evaluate(arch: ModelArch, chip: Chip, setup: TrainingSetup, c: Candidates, keep_parts: bool = False) -> Scores:
    """Memory per chip and step time for every candidate layout (``keep_parts`` for ``step_terms``)."""
    pc = count_params(arch)
    r = _rates(chip, setup)
    L = arch.layers
    s = float(setup.seq_len)
    tp, pp, vp, cp, ep, dp, mb = (getattr(c, k).astype(float) for k in ("tp", "pp", "vp", "cp", "ep", "dp", "mb"))
    rc = c.recompute
    moe_share = pc.n_moe_layers / L
    layers_rank = np.ceil(L / pp)  # the slowest rank sets the pace
    tok = mb * s / cp  # tokens of one micro-batch on one CP rank

    # --- one layer, one micro-batch ---
    t_attn, t_scores = _attention(arch, setup, r, tok, tp, rc)
    layer = {
        "gemm": _gemm(pc, moe_share, r, tok, tp, ep, rc),
        "attention": t_attn + t_scores,
        "elementwise": _elementwise(arch, pc, moe_share, r, tok, tp, rc),
        "tp": _tensor_parallel(arch, r, tok, tp, rc),
        "cp": _context_parallel(arch, r, tok, tp, cp, t_attn),
        "ep": _expert_parallel(arch, pc, moe_share, r, tok, tp, ep, rc),
        "overhead": KERNELS_PER_LAYER * KERNEL_OVERHEAD_S,
    }
    t_layer = (layer["gemm"] + t_attn + t_scores + layer["elementwise"] + layer["tp"] + layer["cp"] + layer["ep"]
               + layer["overhead"])
    t_head = _output_layer(arch, r, tok, tp)
    # the slowest rank: either the one with ceil(L/pp) layers, or the share of all work incl. the head
    t_rank = np.maximum(layers_rank * t_layer, (L * t_layer + t_head) / pp)

    # --- pipeline: point-to-point activations between stages, bubble (Narayanan et al. 2021 eq. 1, 2) ---
    p2p_bytes = tok * float(arch.hidden) * ACT_BYTES / tp
    t_p2p = np.where(pp > 1, 2.0 * vp * (p2p_bytes / r.scale_out + SCALE_OUT_LATENCY_S), 0.0)
    t_mb = t_rank + t_p2p
    m = np.ceil(float(setup.global_batch_seqs) / (dp * mb))  # micro-batches per replica per step
    bubble = np.where(pp > 1, (pp - 1) / vp, 0.0)
    t_pipe = (m + bubble) * t_mb

    # --- parameters one chip holds, and the groups that share them ---
    attn_p = pc.attention_per_layer / tp
    dense_mlp_p = pc.dense_mlp_per_layer / tp
    shared_p = pc.shared_experts * pc.expert_mlp / tp
    routed_total_p = pc.experts * pc.expert_mlp / ep
    dense_params_rank = (attn_p + dense_mlp_p * (1 - moe_share) + shared_p * moe_share) * layers_rank
    expert_params_rank = routed_total_p * moe_share * layers_rank
    emb_p = (pc.embedding + pc.output) / tp / np.minimum(pp, 2)
    params_chip = dense_params_rank + expert_params_rank + emb_p + pc.norms_per_layer * layers_rank
    dense_dp = dp * cp  # dense weights are replicated over DP and CP ranks
    exp_dp = np.maximum(dp * cp / ep, 1.0)  # expert weights over the expert-data-parallel group

    t_dp = _data_parallel(c, r, m, t_mb, dense_params_rank, expert_params_rank, emb_p, dense_dp, exp_dp,
                          tp, pp, cp, dp)
    # --- optimizer step: memory-bound over the chip's shard ---
    opt_shard = np.where(c.zero >= 1, params_chip / dense_dp, params_chip)
    t_opt = opt_shard * OPTIMIZER_STEP_BYTES_PER_PARAM / r.hbm

    units = tp * pp * cp * dp
    jitter = 1.0 + STEP_JITTER_CV * np.sqrt(2.0 * np.log(np.maximum(units, 2.0)))
    step = (t_pipe + t_dp + t_opt) * jitter

    memory = memory_per_chip(arch, c, s, tp, cp, mb, pp, vp, m, layers_rank, params_chip, expert_params_rank,
                             dense_dp, exp_dp, moe_share, tok)
    parts = _Parts(layer, t_layer, t_head, layers_rank, pp, t_p2p, t_mb, m, bubble, t_dp, t_opt, jitter,
                   L) if keep_parts else None
    return Scores(memory_bytes=memory, step_time_s=step, tokens_per_step=m * mb * dp * s, micro_batches=m,
                  units_used=units, parts=parts)


def step_terms(scores: Scores) -> StepTerms:
    """The step split into named terms that add up to ``step_time_s`` (needs ``evaluate(keep_parts=True)``)."""
    p = scores.parts
    assert p is not None, "evaluate(..., keep_parts=True) keeps what the terms are computed from"
    # layers the pace-setting rank runs per micro-batch, and its share of the output layer
    by_layers = p.layers_rank * p.t_layer >= (p.L * p.t_layer + p.t_head) / p.pp
    layers = np.where(by_layers, p.layers_rank, p.L / p.pp)
    head = np.where(by_layers, 0.0, p.t_head / p.pp)
    per_step = {k: p.m * layers * np.broadcast_to(v, p.m.shape) for k, v in p.layer.items()}
    base = dict(per_step, output_layer=p.m * head, pp=p.m * p.t_p2p + p.bubble * p.t_mb, dp=p.t_dp,
                optimizer=p.t_opt)
    busy = sum(base.values())
    return StepTerms(jitter=(p.jitter - 1.0) * busy, **base)
