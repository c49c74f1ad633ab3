"""Step time of a training layout, vectorized over candidate layouts. Pure numpy, no simpy.

All times in seconds, sizes in bytes, work in FLOP. Every array argument has one entry per candidate.
The step is a sum of named terms (``StepTerms``): ``planner estimate --explain`` prints them.
The system (chip, network, software stack) is a ``perf.system.System``: what the stack overlaps comes
from planner/data/stacks.yaml, how fast its kernels run from the cross-validated calibration.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import numpy as np

from ..arch import ModelArch
from ..catalog import Chip
from ..units import GB, GBPS_TO_BYTES, TB
from .memory import ShapeMemory, memory_at, shape_memory, usable_bytes
from .params import ParamCounts, attention_keys, attention_width, count_params
from .setup import TrainingSetup
from .system import System, as_system

ACT_BYTES = 2.0  # bf16 activations on the wire
# FlashAttention-2 forward+backward reaches up to 73% of the dense peak at long sequences (Dao 2023, fig. 4-6, S119);
# a share of the peak, not of the GEMM microbenchmark rate (no double derating); times the stack's kernel factor
# (standard 0.775, tuning.yaml) 0.56 of an H100's peak, where FlashAttention-3 runs forward+backward at about 0.59
# (Shah et al. 2024, arXiv:2407.08608, figs. 5-6: 648 and 561 TFLOP/s at head width 128) and FlashAttention-2 at 0.34
ATTENTION_PEAK_SHARE = 0.72
# ... and about 2/3 of that at 512 tokens (same figures): share(s) = max * s / (s + 256)
ATTENTION_HALF_SEQ = 256.0
# FlashAttention backward does 5 matmuls to the forward's 2 (+ the recomputed QK^T): 2.5x forward (Dao 2023, sec. 3.1)
ATTENTION_BWD_FACTOR = 2.5
# streaming kernels reach ~78-87% of the HBM peak (BabelStream copy/triad on H100 NVL: 3.06-3.30 of 3.9 TB/s;
# V100 copy: 785 of 900 GB/s)
HBM_EFFICIENCY = 0.80
# NCCL ring bus bandwidth over the link rate: H100 NVLink 370 of 450 GB/s (NVIDIA nccl-tests issue 212), A100 235
# of 300 (NCCL src/graph/tuning.cc), H800 160 of 200 (DeepSeek-V3 issue 28)
LINK_EFFICIENCY = 0.80
# per log2 step inside the scale-up domain: NCCL tuning.cc's NVLink ring step 3.4 us plus its 8.4 us base a
# collective; 8 A100s' small ring all-reduce took 33.7 us (NVIDIA nccl-tests issue 123): 3 steps of 10 us
SCALE_UP_LATENCY_S = 10e-6
# per hop on the data-centre network: NCCL tuning.cc's network step 14 us (ring and tree, simple protocol) plus
# its 8.4 us base a collective
SCALE_OUT_LATENCY_S = 25e-6
# an estimate, a hand count (no public profile found): ~15 kernels forward and ~30 backward (data and weight
# gradients) for a fused transformer layer
KERNELS_PER_LAYER = 45
# Optimizer step streams fp32 master, m, v and grads in, master, m, v and bf16 weights out (Adam)
OPTIMIZER_STEP_BYTES_PER_PARAM = 30.0
# Synchronous steps wait for the slowest of N chips: E[max] ~ mu * (1 + cv*sqrt(2 ln N)) (Gumbel bound for
# Gaussian jitter), cv = 1% per-chip step jitter (Llama 3, arXiv:2407.21783 sec. 3.3.4: S103)
STEP_JITTER_CV = 0.01
# gradients are reduced in fp32 (Megatron-LM default accumulate_allreduce_grads_in_fp32)
GRAD_COMM_BYTES = 4.0
WEIGHT_COMM_BYTES = 2.0  # bf16 weights all-gathered after the sharded optimizer step
# weights read forward and backward, fp32 gradient accumulate (read + write) in backward: 2 + 2 + 8 bytes
WEIGHT_PASS_BYTES_PER_PARAM = 12.0
# hidden communication still takes SMs and HBM bandwidth from the compute it overlaps
# (Jangda et al. 2022, CoCoNet, arXiv:2105.05720: 10-30% slowdown of overlapped GEMMs)
OVERLAP_INTERFERENCE = 0.2
GEMM_TILE_ROWS = 128  # GEMM row tile: a dimension of M rows runs ceil(M/128) tiles (S104, tile quantization)
# the busiest expert sets the pace: capacity factor 1.25 (GShard/Switch, S106), the default of moe.capacity_factor
MOE_IMBALANCE = 1.25
# dropless routing (capacity_factor null): the busiest expert's load over the mean of an auxiliary-loss-balanced
# router, 1 + MaxVio 0.72 (Wang et al. 2024, Table 1, 1B model, S122)
DROPLESS_IMBALANCE = 1.72
FP8_DISPATCH_BYTES = 1.0  # FP8 token dispatch, BF16 combine (DeepSeek-V3 sec. 3.3, S105)
# casting each linear layer's input to FP8: read bf16 (2 B) + write fp8 (1 B) per element, fwd and bwd (S107)
FP8_CAST_BYTES = 3.0


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
    recompute: np.ndarray  # index into layout.RECOMPUTE: 0 none, 1 selective, 2 full, 3 block, 4 mlp
    zero: np.ndarray

    def __len__(self) -> int:
        return int(self.tp.shape[0])

    @property
    def nbytes(self) -> int:
        """Memory of the columns [bytes]."""
        return sum(getattr(self, f.name).nbytes for f in fields(self))

    def take(self, idx: np.ndarray, dp: np.ndarray | None = None) -> Candidates:
        """The candidates at ``idx`` (with data-parallel degrees ``dp[idx]`` when given)."""
        cols = {f.name: getattr(self, f.name)[idx] for f in fields(self)}
        if dp is not None:
            cols["dp"] = dp[idx]
        return Candidates(**cols)


@dataclass
class StepTerms:
    """One optimizer step split into named parts [s]; they add up to the step time."""

    gemm: np.ndarray  # dense and expert matmuls (roofline against weight streaming, tile quantization)
    attention: np.ndarray  # attention scores and weighted values (and unfused score traffic)
    elementwise: np.ndarray  # norms, residuals, activations, rotary, FP8 casts, MoE permutation: HBM-bound
    overhead: np.ndarray  # kernel launches
    output_layer: np.ndarray  # logits GEMM and the loss on the last stage
    tp: np.ndarray  # tensor-parallel all-gathers and reduce-scatters left after overlap
    cp: np.ndarray  # context-parallel K/V exchange left after overlap
    ep: np.ndarray  # expert-parallel all-to-all left after overlap
    pp: np.ndarray  # pipeline sends, the bubble and stage imbalance
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
        """Real tokens trained per second (padding never counts)."""
        return self.tokens_per_step / self.step_time_s

    @property
    def nbytes(self) -> int:
        """Memory of the score arrays [bytes] (the parts are never kept)."""
        return sum(getattr(self, k).nbytes for k in _SCORE_ARRAYS)

    @staticmethod
    def empty(n: int) -> Scores:
        """Zeroed scores for ``n`` candidates (filled with ``put``)."""
        return Scores(np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64))

    def take(self, idx: np.ndarray) -> Scores:
        """The scores at ``idx`` (without the parts)."""
        return Scores(*(getattr(self, k)[idx] for k in _SCORE_ARRAYS))

    def put(self, idx: np.ndarray, other: Scores) -> None:
        """Write ``other``'s scores at ``idx``."""
        for k in _SCORE_ARRAYS:
            getattr(self, k)[idx] = getattr(other, k)


_SCORE_ARRAYS = ("memory_bytes", "step_time_s", "tokens_per_step", "micro_batches", "units_used")


@dataclass
class _Rates:
    """Sustained rates of one system [FLOP/s, bytes/s] and what its stack overlaps."""

    gemm: float  # linear layers at the training precision
    gemm_bf16: float  # attention core and the output layer stay in BF16 (FP16 when training in FP16)
    attention: float
    moe_eff: float  # the stack's MoE expert kernels against the best published ones
    hbm: float
    scale_up: float
    scale_out: float
    domain: int
    mesh: bool  # full-mesh scale-up: a group of n chips uses n-1 of the domain-1 links
    launch_s: float
    ov_dp: float
    ov_tp: float
    ov_pp: float
    ov_ep: float
    fused: bool
    balanced_stages: bool
    fp8: bool
    dispatchers: tuple = ("alltoall",)


@dataclass
class _Parts:
    """Per-micro-batch layer terms and per-step terms, kept for ``step_terms``."""

    layer: dict  # per layer and micro-batch: gemm, attention, elementwise, overhead, tp, cp, ep
    t_layer: np.ndarray
    t_head: np.ndarray
    stage_layers: np.ndarray
    head_on_pace: np.ndarray
    t_pace: np.ndarray
    t_p2p: np.ndarray
    t_mb: np.ndarray
    m: np.ndarray
    bubble: np.ndarray
    t_dp: np.ndarray
    t_opt: np.ndarray
    jitter: np.ndarray


def _rates(system: System, setup: TrainingSetup) -> _Rates:
    chip, st = system.chip, system.stack
    gemm_bf16 = system.gemm_flops("fp16" if setup.precision == "fp16" else "bf16")
    s = float(setup.seq_len)
    # FlashAttention is built of matmuls: never a larger share of the peak than the chip's GEMMs reach (an MI300X's
    # 0.6 read 0.72 here: attention ran faster than its GEMMs)
    share = min(ATTENTION_PEAK_SHARE, chip.matmul_efficiency)
    attention = system.peak_compute_flops() * share * s / (s + ATTENTION_HALF_SEQ)
    return _Rates(
        gemm=system.gemm_flops(setup.precision), gemm_bf16=gemm_bf16, attention=attention, moe_eff=st.moe_efficiency,
        hbm=chip.hbm_tbps * TB * HBM_EFFICIENCY,
        scale_up=chip.scale_up_gbyteps * GB * LINK_EFFICIENCY,
        scale_out=system.network_gbps * GBPS_TO_BYTES * LINK_EFFICIENCY,
        domain=chip.scale_up_domain, mesh=chip.scale_up_topology == "full_mesh", launch_s=st.launch_us * 1e-6,
        ov_dp=st.overlap_dp, ov_tp=st.overlap_tp, ov_pp=st.overlap_pp, ov_ep=st.overlap_ep,
        fused=system.fused_attention, balanced_stages=st.id != "basic",
        fp8=setup.precision == "fp8" and bool(chip.fp8_tflops), dispatchers=tuple(st.moe_dispatchers),
    )


def fastest_flops(system: System, setup: TrainingSetup) -> float:
    """The fastest sustained rate any term of a step runs at on one chip [FLOP/s].

    No layout trains a token faster than its model FLOPs at this rate: every compute term runs at one
    of these rates, recompute only adds FLOPs, and overlap hides communication, never compute.
    """
    r = _rates(system, setup)
    return max(r.gemm, r.gemm_bf16, r.attention)


def _up(r: _Rates, n):
    """Scale-up bandwidth one chip gets in a group of ``n`` peers [bytes/s] (full mesh: n-1 links of domain-1)."""
    if not r.mesh or r.domain <= 1:
        return r.scale_up
    return r.scale_up * np.clip((np.asarray(n, dtype=float) - 1) / (r.domain - 1), 1.0 / (r.domain - 1), 1.0)


def _exposed(t_comm, window, overlap):
    """Communication left on the critical path when ``overlap`` of it can hide behind ``window`` of compute.

    The hidden part still slows the compute it overlaps by OVERLAP_INTERFERENCE.
    """
    hidden = np.minimum(t_comm * overlap, window)
    return t_comm - hidden + OVERLAP_INTERFERENCE * hidden


def _ring(bytes_per_chip, n, bw_bytes_s, latency_s, passes):
    """Ring collective: each chip moves passes*(n-1)/n of the buffer (Thakur et al. 2005, ring all-gather)."""
    n = np.asarray(n, dtype=float)
    frac = np.where(n > 1, (n - 1) / n, 0.0)
    lat = np.where(n > 1, latency_s * np.log2(np.maximum(n, 2)), 0.0)
    return passes * (frac * bytes_per_chip / bw_bytes_s + lat)


def _hierarchical(bytes_per_chip, n, stride, r: _Rates, passes):
    """Two-level collective over ``n`` chips spaced ``stride`` apart in rank order.

    The k group members inside one scale-up domain reduce over the fast fabric; the 1/k shards then
    cross the g = n/k domains on the scale-out network (NCCL hierarchical/tree rings; Jiang et al. 2024 sec. 3.3).
    """
    n = np.asarray(n, dtype=float)
    k = np.clip(np.floor(r.domain / np.maximum(stride, 1)), 1.0, n)
    g = np.ceil(n / k)
    inner = _ring(bytes_per_chip, k, _up(r, k), SCALE_UP_LATENCY_S, passes)
    outer = _ring(bytes_per_chip / k, g, r.scale_out, SCALE_OUT_LATENCY_S, passes)
    return inner + outer


@dataclass
class Recompute:
    """A recompute policy per candidate: its code (layout.RECOMPUTE) and the share of layers recomputed whole.

    ``full``: 1 for full, the block share for block (the fewest whole layers per stage that make the layout fit,
    Megatron --recompute-num-layers, S120), 0 otherwise; ``mlp``: 1 where the MLP forward is recomputed.
    """

    code: np.ndarray
    full: np.ndarray
    mlp: np.ndarray

    def __ge__(self, other):
        return self.code >= other


def _code(rc):
    return rc.code if isinstance(rc, Recompute) else np.asarray(rc)


def full_share(rc):
    """Share of layers whose forward is recomputed whole: full 1, block its share (1/2 unless sized to fit)."""
    if isinstance(rc, Recompute):
        return rc.full
    return np.where(rc == 2, 1.0, np.where(rc == 3, 0.5, 0.0))


def mlp_share(rc):
    """1 where only the MLP forward is recomputed (the ``mlp`` policy), else 0."""
    return rc.mlp if isinstance(rc, Recompute) else np.where(np.asarray(rc) == 4, 1.0, 0.0)


def _gemm_passes(rc):
    return 3.0 + full_share(rc)  # fwd + 2x bwd (+ fwd again for recomputed layers)


def _tile_efficiency(rows):
    """Share of a GEMM's tiles doing useful work for M = ``rows`` (tile quantization, S104)."""
    rows = np.maximum(np.asarray(rows, dtype=float), 1.0)
    return rows / (np.ceil(rows / GEMM_TILE_ROWS) * GEMM_TILE_ROWS)


def _attention(arch: ModelArch, setup: TrainingSetup, r: _Rates, tok, tp, rc):
    """(core attention time, unfused score traffic time) per layer and micro-batch."""
    s = float(setup.seq_len)
    qk, v = attention_width(arch)
    if r.fused:
        # causal attention: FlashAttention skips the masked half (and, with a sliding window, the keys outside the
        # band: FlashAttention-2 window_size, S119); CP ranks each see s/cp queries x s keys
        fwd_attn = 2.0 * tok * attention_keys(arch, s, causal=True) / arch.layers * (qk + v) / tp
        attn_passes = 1.0 + ATTENTION_BWD_FACTOR + np.where(rc >= 1, 1.0, 0.0)  # selective/full redo the core
        return fwd_attn * attn_passes / r.attention, 0.0
    # unfused: batched GEMMs over the full s x s scores, then softmax, mask and dropout stream the scores
    # through HBM: ~11 bytes per score forward (write, read + write softmax, mask, dropout), 2x backward
    keys = attention_keys(arch, s) / arch.layers  # s, or the window's keys where the layers are windowed
    fwd_attn = 2.0 * tok * keys * (qk + v) / tp
    attn_passes = np.where(rc >= 1, 4.0, 3.0)
    return fwd_attn * attn_passes / r.gemm_bf16, tok * keys * arch.heads / tp * 11.0 * attn_passes / r.hbm


def expert_load(arch: ModelArch | None) -> float:
    """The busiest expert's load over the mean [-].

    Forced balance pads to the capacity factor, dropless routing carries the natural imbalance (S106, S122).
    """
    moe = arch.moe if arch is not None else None
    if moe is None:
        return MOE_IMBALANCE
    return float(moe.capacity_factor) if moe.capacity_factor is not None else DROPLESS_IMBALANCE


def _gemm(pc: ParamCounts, moe_share: float, r: _Rates, tok, tp, ep, rc, arch: ModelArch | None = None):
    """Dense and expert matmuls per layer and micro-batch, each bounded below by streaming its weights.

    Roofline per layer (Williams et al. 2009): experts that see few tokens are bound by HBM, not FLOPs;
    their grouped GEMMs waste part of each row tile (S104) and wait for the busiest expert (S106).
    """
    shared_p = pc.shared_experts * pc.expert_mlp
    dense_w = (pc.attention_per_layer + (1 - moe_share) * pc.dense_mlp_per_layer + moe_share * shared_p) / tp
    fwd_dense = 2.0 * tok * dense_w
    passes = _gemm_passes(rc)
    # the mlp policy runs the MLP's forward once more: 2 x tokens x MLP weights (S120)
    redo = mlp_share(rc)
    fwd_mlp = 2.0 * tok * ((1 - moe_share) * pc.dense_mlp_per_layer + moe_share * shared_p) / tp
    t = np.maximum((fwd_dense * passes + fwd_mlp * redo) / r.gemm, dense_w * WEIGHT_PASS_BYTES_PER_PARAM / r.hbm)
    if moe_share > 0:
        local_experts = max(pc.experts, 1) / ep
        rows = tok * pc.top_k * ep / max(pc.experts, 1)  # tokens each expert sees per micro-batch
        load = expert_load(arch) / _tile_efficiency(rows)  # the busiest expert, padded to whole row tiles
        fwd_expert = 2.0 * tok * pc.top_k * pc.expert_mlp / tp * load
        expert_w = local_experts * pc.expert_mlp / tp  # expert-TP = TP (Megatron-Core default)
        router = 2.0 * tok * pc.router_per_layer / tp
        # Roofline per expert GEMM with its activation operands (S104: a GEMM is memory-limited when its
        # arithmetic intensity 2MNK / bytes(MK + KN + MN) is below the chip's FLOP:byte ratio): fine-grained
        # experts split by TP have a small N or K, so the up-projection's input and the down-projection's
        # bf16 output stream through HBM at a rate comparable to the math. Forward and both backward GEMMs
        # (dgrad, wgrad) each move about the forward's operands (S104).
        t_math = fwd_expert * (passes + redo) / r.gemm
        t_weights = expert_w * WEIGHT_PASS_BYTES_PER_PARAM / r.hbm
        t_operands = (_expert_operand_bytes(arch, pc, r, tok, tp) * load * (passes + redo) / r.hbm if arch is not None
                      else 0.0)
        # the stack's MoE maturity (grouped GEMMs, fused permutation) scales the expert work (stacks.yaml, S116)
        t = t + moe_share * (np.maximum(np.maximum(t_math, t_operands), t_weights) / r.moe_eff
                             + router * passes / r.gemm_bf16)
    return t


def _expert_operand_bytes(arch: ModelArch, pc: ParamCounts, r: _Rates, tok, tp):
    """Activation bytes the routed experts' GEMMs read and write per layer and micro-batch, forward.

    Up-projection (gate and up fused when gated): reads the dispatched tokens (FP8 when training in FP8,
    S107) and writes bf16 outputs of width (mlp_matrices - 1) x f / tp; down-projection: reads the
    activated f / tp (FP8 or bf16) and writes bf16 hidden states. Rows: top_k copies of each token.
    """
    h = float(arch.hidden)
    f = float(arch.moe.expert_ffn_hidden) if arch.moe else 0.0
    in_b = FP8_DISPATCH_BYTES if r.fp8 else ACT_BYTES
    up = h * in_b + (arch.mlp_matrices - 1) * f / tp * ACT_BYTES
    down = f / tp * in_b + h * ACT_BYTES
    return tok * pc.top_k * (up + down)


def _elementwise(arch: ModelArch, pc: ParamCounts, moe_share: float, r: _Rates, tok, tp, rc):
    """Memory-bound norms, residuals, activation, rotary, FP8 casts and MoE permutation per layer and micro-batch."""
    h = float(arch.hidden)
    qk, v = attention_width(arch)
    f_eff = (1 - moe_share) * arch.ffn + moe_share * (pc.top_k + pc.shared_experts) * (
        arch.moe.expert_ffn_hidden if arch.moe else 0
    )
    mlp_bytes = (12.0 if arch.mlp == "gated" else 8.0) * f_eff / tp
    act_bytes = (48.0 * h + 8.0 * (qk + v) / 2) / tp + mlp_bytes
    if r.fp8:
        # inputs of QKV, projection, MLP up and down (S107)
        act_bytes = act_bytes + FP8_CAST_BYTES * (2.0 * h + v + f_eff) / tp
    if moe_share > 0:
        # token permutation before and unpermutation after the experts: read + write top_k copies (S105)
        act_bytes = act_bytes + moe_share * 2.0 * 2.0 * pc.top_k * h * ACT_BYTES / tp / r.moe_eff
    # backward streams ~2x the forward bytes; the mlp policy streams the MLP's forward bytes once more
    return tok * (act_bytes * _gemm_passes(rc) + mlp_bytes * mlp_share(rc)) / r.hbm


def _tensor_parallel(arch: ModelArch, r: _Rates, tok, tp, rc, t_compute):
    """Tensor-parallel collectives per layer and micro-batch, after what the stack overlaps with GEMMs.

    With sequence parallelism: 2 all-gathers + 2 reduce-scatters forward (Korthikanti et al. 2022 sec. 4.2.2);
    parallel blocks need half of them (PaLM sec. 2). Beyond the scale-up domain TP runs on the network.
    """
    inside = tp <= r.domain
    tp_bw = np.where(inside, _up(r, tp), r.scale_out)
    lat = np.where(inside, SCALE_UP_LATENCY_S, SCALE_OUT_LATENCY_S)
    n_coll = 2.0 if arch.parallel_block else 4.0
    tp_buf = tok * float(arch.hidden) * ACT_BYTES
    # forward, backward, recomputed forwards (the mlp policy redoes the MLP's half of the collectives)
    t = _ring(tp_buf, tp, tp_bw, lat, n_coll) * (2.0 + full_share(rc) + 0.5 * mlp_share(rc))
    return _exposed(t, t_compute, r.ov_tp)


def _context_parallel(arch: ModelArch, r: _Rates, tok, tp, cp, t_attn):
    """Context-parallel K/V exchange left after overlap with the attention compute.

    Ring attention passes the K,V chunks cp-1 times forward, K,V + grads backward (Liu et al. 2023; Megatron CP);
    K and V have kv_heads heads (GQA), each TP rank holding its share (at least one head).
    """
    if arch.mla is None:
        kv_width = 2.0 * arch.n_kv_heads * arch.d_head
        kv_rank = kv_width * np.maximum(arch.n_kv_heads / np.maximum(tp, 1), 1.0) / arch.n_kv_heads
    else:
        qk, v = attention_width(arch)
        kv_rank = (qk + v) / np.maximum(tp, 1)
    kv_chunk = tok * kv_rank * ACT_BYTES
    inside = tp * cp <= r.domain
    cp_bw = np.where(inside, _up(r, cp), r.scale_out)
    t_cp_comm = np.where(cp > 1, (cp - 1) * kv_chunk * 3.0 / cp_bw, 0.0)
    return np.maximum(0.0, t_cp_comm - t_attn)


def dispatch_bytes(arch: ModelArch, pc: ParamCounts, r: _Rates, tok, tp, ep, kind: str):
    """Bytes one chip sends per MoE layer and micro-batch, forward, dispatch + combine: (inside, across) nodes.

    alltoall (GShard, Lepikhin et al. 2020; Megatron-Core MoEAlltoAllTokenDispatcher, S121): each of the chip's
    tok/tp tokens sends its top_k copies to the experts' ranks, (ep-1)/ep of them off the chip, and the combine brings
    them back. Across g nodes a copy leaves its node (g-1)/g of the time; a model with node-limited routing sends one
    copy per destination node (at most ``node_limit``) and fans out over the fabric (DeepSeek-V3 sec. 3.2.2, S105:
    expected distinct nodes g(1-(1-1/g)^k)).
    allgather (Megatron-Core MoEAllGatherTokenDispatcher, S121): the hidden states are all-gathered over the
    n = tp x ep ranks, each keeps its experts' tokens, and the outputs are reduce-scattered back: a ring moves
    (n-1) x tok/tp tokens each way, whatever top_k (Thakur et al. 2005); across nodes the two-level ring sends the
    1/k-th shard of each node's k ranks over the network.
    """
    h = float(arch.hidden)
    k = float(pc.top_k)
    span = ep * tp
    g = np.maximum(span / r.domain, 1.0)
    dispatch_b = FP8_DISPATCH_BYTES if r.fp8 else ACT_BYTES
    per_token = dispatch_b + ACT_BYTES  # dispatch + combine
    tok_rank = tok / tp
    if kind == "allgather":
        n = span
        k_in = np.minimum(n, float(r.domain))  # ranks of the group inside one scale-up domain
        # across the g nodes first (each rank's shard to its peers: g-1 over the network), then inside the node
        # the k_in ranks gather the g-times larger buffers over the fabric
        inner = tok_rank * h * per_token * np.where(n > 1, (k_in - 1) * g, 0.0)
        outer = tok_rank * h * per_token * np.where(g > 1, (g - 1), 0.0)
        return np.where(ep > 1, inner, 0.0), np.where(ep > 1, outer, 0.0)
    remote = np.where(g > 1, (g - 1) / g, 0.0)
    limit = arch.moe.node_limit if arch.moe else None
    if limit:
        copies_out = np.minimum(g * (1 - (1 - 1 / g) ** k), float(limit)) * remote
    else:
        copies_out = k * remote
    intra = tok_rank * k * h * per_token * np.where(ep > 1, (ep - 1) / ep, 0.0) * np.where(g > 1, 1 / g, 1.0)
    inter = tok_rank * copies_out * h * per_token
    return np.where(ep > 1, intra, 0.0), np.where(ep > 1, inter, 0.0)


def _dispatch_time(arch, pc, r: _Rates, tok, tp, ep, kind: str):
    inside, across = dispatch_bytes(arch, pc, r, tok, tp, ep, kind)
    return inside / _up(r, np.minimum(ep * tp, r.domain)) + across / r.scale_out


def dispatcher_choice(arch: ModelArch, pc: ParamCounts, r: _Rates, tok, tp, ep):
    """(time of the faster dispatcher the stack has per layer and micro-batch, forward [s], whether it is allgather)."""
    times = np.array([np.broadcast_to(_dispatch_time(arch, pc, r, tok, tp, ep, kind), np.shape(ep))
                      for kind in r.dispatchers])
    pick = np.argmin(times, axis=0)
    return times.min(axis=0), np.asarray(r.dispatchers)[pick] == "allgather"


def _expert_parallel(arch: ModelArch, pc: ParamCounts, moe_share: float, r: _Rates, tok, tp, ep, rc, t_compute):
    """Token dispatch + combine, forward and backward, with the faster dispatcher the stack has, after overlap."""
    if moe_share == 0:
        return np.zeros_like(np.asarray(tok, dtype=float) * ep)
    t = dispatcher_choice(arch, pc, r, tok, tp, ep)[0]
    passes = 2.0 + full_share(rc)  # forward, backward (+ recomputed forward)
    t = np.where(ep > 1, t * passes, 0.0)
    return moe_share * _exposed(t, t_compute, r.ov_ep)


def _output_layer(arch: ModelArch, r: _Rates, tok, tp):
    """Logits GEMM (BF16) + cross entropy on the last stage."""
    head_gemm = 2.0 * tok * float(arch.hidden) * arch.vocab / tp * 3.0 / r.gemm_bf16
    head_elem = tok * arch.vocab / tp * (2 + 4 + 4) * 2 / r.hbm  # logits bf16, fp32 softmax, grads
    return head_gemm + head_elem


def _stages(L: int, pp, t_layer, t_head, balanced: bool):
    """(time per micro-batch of the slowest stage, layers on it, whether it holds the output layer).

    Megatron puts the output layer on the last stage. A balanced split gives that stage fewer layers
    (Llama 3 sec. 3.3.2, S103); a plain split gives every stage ceil(L/pp).
    """
    even = np.ceil(L / pp)
    last = (L - (pp - 1) * even).clip(min=0)  # the last stage's layers: what the others leave
    plain = np.maximum(even * t_layer, last * t_layer + t_head)
    single = L * t_layer + t_head
    # the slowest stage's layers: the last's when it (with the output layer) sets the pace (--explain split the
    # step as if it held ``even`` layers, 27 where it held 26, and balanced the difference with a negative pp term)
    best_head = plain > even * t_layer
    best, best_layers = plain, np.where(best_head, last, even)
    if balanced:
        x = (L * t_layer - (pp - 1) * t_head) / np.maximum(pp * t_layer, 1e-30)
        for n_last in (np.floor(x), np.ceil(x)):
            n_last = np.clip(n_last, 0, even)
            others = np.ceil((L - n_last) / np.maximum(pp - 1, 1))
            t = np.maximum(others * t_layer, n_last * t_layer + t_head)
            better = t < best
            best_head = np.where(better, others * t_layer < n_last * t_layer + t_head, best_head)
            best_layers = np.where(better, np.where(others * t_layer < n_last * t_layer + t_head, n_last, others),
                                   best_layers)
            best = np.minimum(best, t)
    one = pp <= 1
    return (np.where(one, single, best), np.where(one, float(L), best_layers), np.where(one, True, best_head))


@dataclass
class ShapeTerms:
    """What a layout's scores take from its shape alone (tp, pp, vp, cp, ep, micro-batch, recompute, ZeRO).

    Neither the data-parallel degree nor the global batch enters them, so a layout search scores each shape's
    terms once and only ``evaluate_on`` again when a chip count moves its degree. Block recompute is the
    exception: the share of layers it recomputes depends on the memory, so ``evaluate_on`` takes those shapes'
    paces at the layers their degree makes them recompute (``block``, a search's, keeps each once worked out;
    without it they are redone; here they hold the terms at no block share). The terms ``step_terms`` names
    (``parts``) are kept only when asked for: a search holds the others for tens of thousands of shapes.
    """

    r: _Rates
    pc: ParamCounts
    dense_params_rank: np.ndarray
    expert_params_rank: np.ndarray
    emb_p: np.ndarray
    memory: ShapeMemory  # at no block share
    stage_activations_all_block: np.ndarray | None  # ... what differs with every layer recomputed (block shapes)
    t_pace: np.ndarray
    t_mb: np.ndarray
    bubble: np.ndarray
    parts: dict | None  # layer (per layer and micro-batch), t_layer, t_head, stage_layers, head_on_pace, t_p2p
    row: np.ndarray  # each shape's row in the candidates ``shape_terms`` was given
    block: _BlockPaces | None  # the pace of block shapes per count of layers recomputed (shared, filled when asked)

    def take(self, idx: np.ndarray) -> ShapeTerms:
        """The terms of the shapes at ``idx``."""
        return _take(self, idx)


class _BlockPaces:
    """The slowest stage's pace (``t_pace``, ``t_mb``) of each block-recompute shape at k of its layers recomputed.

    Block recompute takes the fewest whole layers per stage that make a layout fit, k of ``layers_rank``, so a
    shape has ``layers_rank`` possible paces; each is worked out the first time it is asked for and kept for
    the searches after.
    """

    def __init__(self, arch: ModelArch, setup: TrainingSetup, r: _Rates, pc: ParamCounts, c: Candidates):
        self.arch, self.setup, self.r, self.pc, self.c = arch, setup, r, pc, c
        layers = np.where(c.recompute == 3, np.ceil(arch.layers / c.pp.astype(float)), 0.0).astype(np.int64)
        self.start = np.concatenate([[0], np.cumsum(layers)[:-1]])  # each shape's first pace in the flat arrays
        self.done = np.zeros(int(layers.sum()), dtype=bool)
        self.t_pace = np.zeros(len(self.done))
        self.t_mb = np.zeros(len(self.done))

    def paces(self, rows: np.ndarray, k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(t_pace, t_mb) of the shapes at ``rows`` with ``k`` layers per stage recomputed (floats, 1 to all)."""
        flat = self.start[rows] + k.astype(np.int64) - 1
        new = ~self.done[flat]
        if new.any():
            flat_new, first = np.unique(flat[new], return_index=True)
            at, ks = rows[new][first], k[new][first]
            layers_rank = np.ceil(self.arch.layers / self.c.pp[at].astype(float))
            share = ks / layers_rank  # as evaluate_on works it out: k / layers per stage
            rc = Recompute(code=self.c.recompute[at], full=share, mlp=np.zeros_like(share))
            lt = _layer_terms(self.arch, self.setup, self.r, self.pc, self.c.take(at), rc)
            self.t_pace[flat_new], self.t_mb[flat_new] = lt["t_pace"], lt["t_mb"]
            self.done[flat_new] = True
        return self.t_pace[flat], self.t_mb[flat]


def _take(obj, idx: np.ndarray):
    """``obj`` with every per-shape array (also inside its dataclasses and dicts) taken at ``idx``."""
    if isinstance(obj, np.ndarray):
        return obj[idx] if obj.ndim else obj
    if isinstance(obj, dict):
        return {k: _take(v, idx) for k, v in obj.items()}
    if isinstance(obj, ShapeMemory | ShapeTerms):
        return type(obj)(**{f.name: _take(getattr(obj, f.name), idx) for f in fields(obj)})
    return obj  # rates, parameter counts, scalars, the shared block paces


def _floats(c: Candidates, names: str) -> list[np.ndarray]:
    return [getattr(c, k).astype(float) for k in names.split()]


def _layer_terms(arch: ModelArch, setup: TrainingSetup, r: _Rates, pc: ParamCounts, c: Candidates, rc: Recompute):
    """One layer and one micro-batch, the output layer, the pace-setting stage and the pipeline's send and bubble."""
    L = arch.layers
    tp, pp, vp, cp, ep, mb = _floats(c, "tp pp vp cp ep mb")
    moe_share = pc.n_moe_layers / L
    tok = mb * float(setup.seq_len) / cp  # tokens of one micro-batch on one CP rank
    t_attn, t_scores = _attention(arch, setup, r, tok, tp, rc)
    t_gemm = _gemm(pc, moe_share, r, tok, tp, ep, rc, arch)
    layer = {
        "gemm": t_gemm,
        "attention": t_attn + t_scores,
        "elementwise": _elementwise(arch, pc, moe_share, r, tok, tp, rc),
        "tp": _tensor_parallel(arch, r, tok, tp, rc, t_gemm),
        "cp": _context_parallel(arch, r, tok, tp, cp, t_attn),
        "ep": _expert_parallel(arch, pc, moe_share, r, tok, tp, ep, rc, t_gemm + t_attn),
        "overhead": KERNELS_PER_LAYER * r.launch_s * (1.0 + full_share(rc) / 3.0 + mlp_share(rc) / 6.0),
    }
    layer = {k: np.broadcast_to(v, tp.shape) for k, v in layer.items()}
    t_layer = sum(layer.values())
    t_head = _output_layer(arch, r, tok, tp)
    t_pace, stage_layers, head_on_pace = _stages(L, pp, t_layer, t_head, r.balanced_stages)

    # --- pipeline: point-to-point activations between stages, bubble (Narayanan et al. 2021 eq. 1, 2) ---
    p2p_bytes = tok * float(arch.hidden) * ACT_BYTES / tp
    p2p_bw = np.where(tp * pp <= r.domain, _up(r, 2), r.scale_out)
    t_send = 2.0 * vp * (p2p_bytes / p2p_bw + SCALE_OUT_LATENCY_S)
    t_p2p = np.where(pp > 1, _exposed(t_send, t_pace, r.ov_pp), 0.0)
    t_mb = t_pace + t_p2p
    bubble = np.where(pp > 1, (pp - 1) / vp, 0.0)
    return dict(layer=layer, t_layer=t_layer, t_head=t_head, t_pace=t_pace, stage_layers=stage_layers,
                head_on_pace=head_on_pace, t_p2p=t_p2p, t_mb=t_mb, bubble=bubble)


def shape_terms(arch: ModelArch, system: System | Chip, setup: TrainingSetup, c: Candidates,
                parts: bool = False, block_paces: bool = False) -> ShapeTerms:
    """``ShapeTerms`` of every candidate (its ``dp`` is not read); ``parts`` for ``evaluate_on(keep_parts=True)``.

    ``block_paces``: keep each block-recompute shape's paces at every count of layers recomputed once asked
    (``_BlockPaces``: for terms scored at many degrees, as a layout search's; a single scoring redoes them).
    """
    system = as_system(system)
    pc = count_params(arch)
    r = _rates(system, setup)
    L = arch.layers
    s = float(setup.seq_len)
    tp, pp, vp, cp, ep, mb = _floats(c, "tp pp vp cp ep mb")
    moe_share = pc.n_moe_layers / L
    tok = mb * s / cp  # tokens of one micro-batch on one CP rank

    # --- parameters one chip holds ---
    layers_rank = np.ceil(L / pp)
    attn_p = pc.attention_per_layer / tp
    dense_mlp_p = pc.dense_mlp_per_layer / tp
    shared_p = pc.shared_experts * pc.expert_mlp / tp
    routed_total_p = pc.experts * pc.expert_mlp / ep / tp  # experts split by expert-TP = TP (Megatron-Core)
    dense_params_rank = (attn_p + dense_mlp_p * (1 - moe_share) + shared_p * moe_share) * layers_rank
    expert_params_rank = routed_total_p * moe_share * layers_rank
    # the first stage holds the input embedding, the last the output layer (a tied one: a copy of the embedding,
    # Megatron's shared word embeddings); one stage holds both
    emb_p = np.where(pp >= 2, max(pc.embedding, pc.output or pc.embedding), pc.embedding + pc.output) / tp
    params_chip = dense_params_rank + expert_params_rank + emb_p + pc.norms_per_layer * layers_rank

    # the allgather dispatcher holds the tokens of all tp x ep ranks, the all-to-all top_k copies of its own (S121)
    gathered = dispatcher_choice(arch, pc, r, tok, tp, ep)[1] if arch.moe else np.zeros(tp.shape, dtype=bool)
    dispatch_tokens = np.where(gathered, tok * ep, tok * pc.top_k / tp)

    def mem(share):
        return shape_memory(arch, c, s, tp, cp, mb, pp, vp, layers_rank, params_chip, expert_params_rank, moe_share,
                            tok, fused_attention=r.fused, fp8=r.fp8, block_share=share,
                            dispatch_tokens=dispatch_tokens)

    code = np.asarray(c.recompute)
    block = code == 3
    none = np.zeros_like(tp)
    rc = Recompute(code=code, full=np.where(code == 2, 1.0, none), mlp=np.where(code == 4, 1.0, 0.0))
    lt = _layer_terms(arch, setup, r, pc, c, rc)
    named = ("layer", "t_layer", "t_head", "stage_layers", "head_on_pace", "t_p2p")
    return ShapeTerms(r=r, pc=pc, dense_params_rank=dense_params_rank, expert_params_rank=expert_params_rank,
                      emb_p=emb_p, memory=mem(0.0),
                      stage_activations_all_block=mem(1.0).stage_activations if block.any() else None,
                      t_pace=lt["t_pace"], t_mb=lt["t_mb"], bubble=lt["bubble"],
                      parts={k: lt[k] for k in named} if parts else None, row=np.arange(len(tp)),
                      block=_BlockPaces(arch, setup, r, pc, c) if block_paces and block.any() else None)


def evaluate(arch: ModelArch, system: System | Chip, setup: TrainingSetup, c: Candidates,
             keep_parts: bool = False) -> Scores:
    """Memory per chip and step time for every candidate layout (``keep_parts`` for ``step_terms``)."""
    system = as_system(system)
    return evaluate_on(arch, system, setup, c, shape_terms(arch, system, setup, c, parts=keep_parts), keep_parts)


@dataclass
class _Memory:
    """What ``memory_on`` works out: memory per chip and what the step time needs of it."""

    bytes: np.ndarray
    m: np.ndarray  # micro-batches per replica per step
    dense_dp: np.ndarray
    exp_dp: np.ndarray
    block: np.ndarray  # the candidates that recompute by block
    k: np.ndarray  # ... their layers per stage recomputed
    share: np.ndarray  # ... and the share of their layers that is


def memory_on(arch: ModelArch, system: System | Chip, setup: TrainingSetup, c: Candidates,
              st: ShapeTerms) -> _Memory:
    """Memory per chip of candidates whose ``shape_terms`` are ``st`` (the first half of ``evaluate_on``)."""
    system = as_system(system)
    pp, cp, ep, dp, mb = _floats(c, "pp cp ep dp mb")
    dense_dp = dp * cp  # dense weights are replicated over DP and CP ranks
    exp_dp = np.maximum(dp * cp / ep, 1.0)  # expert weights over the expert-data-parallel group

    m = np.ceil(float(setup.global_batch_seqs) / (dp * mb))  # micro-batches per replica per step (padding paid)

    # --- memory; block recompute takes the fewest whole layers per stage that make the layout fit (S120) ---
    memory = memory_at(st.memory, c.zero, m, dense_dp, exp_dp)
    block = np.nonzero(np.asarray(c.recompute) == 3)[0]
    k = share = np.zeros(0)
    if len(block):
        # memory is linear in the share of fully recomputed layers
        m0 = memory[block]
        all_block = replace(_take(st.memory, block), stage_activations=st.stage_activations_all_block[block])
        m1 = memory_at(all_block, c.zero[block], m[block], dense_dp[block], exp_dp[block])
        cap = usable_bytes(system.chip.hbm_gib)
        layers_rank = np.ceil(arch.layers / pp[block])
        x = np.clip((m0 - cap) / np.maximum(m0 - m1, 1.0), 0.0, 1.0)
        k = np.maximum(np.ceil(x * layers_rank - 1e-9), 1.0)  # layers per stage recomputed
        share = k / layers_rank
        memory = memory.copy()
        memory[block] = m0 + share * (m1 - m0)
    return _Memory(memory, m, dense_dp, exp_dp, block, k, share)


def evaluate_on(arch: ModelArch, system: System | Chip, setup: TrainingSetup, c: Candidates, st: ShapeTerms,
                keep_parts: bool = False) -> Scores:
    """``evaluate`` of candidates whose ``shape_terms`` are ``st``: what their data-parallel degrees add."""
    system = as_system(system)
    r, pc = st.r, st.pc
    s = float(setup.seq_len)
    tp, pp, cp, ep, dp = _floats(c, "tp pp cp ep dp")
    mem = memory_on(arch, system, setup, c, st)
    memory, m, dense_dp, exp_dp, block = mem.bytes, mem.m, mem.dense_dp, mem.exp_dp, mem.block
    assert st.parts is not None or not keep_parts, "shape_terms(..., parts=True) keeps what the parts need"
    lt = dict(st.parts or {}, t_pace=st.t_pace, t_mb=st.t_mb, bubble=st.bubble)
    if len(block):
        if st.block is not None:  # the paces of each shape's k, worked out once
            t_pace_k, t_mb_k = st.block.paces(st.row[block], mem.k)
            lt = dict(lt, t_pace=_put(lt["t_pace"], block, t_pace_k), t_mb=_put(lt["t_mb"], block, t_mb_k))
        else:
            rc = Recompute(code=c.recompute[block], full=mem.share, mlp=np.zeros_like(mem.share))
            redo = _layer_terms(arch, setup, r, pc, c.take(block), rc)
            lt = {k: _put(v, block, redo[k]) for k, v in lt.items()}
    t_mb, bubble, t_pace = lt["t_mb"], lt["bubble"], lt["t_pace"]
    # fewer micro-batches than stages: one micro-batch still crosses every stage forward and back, so the step is at
    # least (pp + (m - 1) / vp) micro-batch times (its critical path); (pp - 1) / vp holds from m >= pp on
    # (Narayanan et al. 2021, sec. 2.2.2)
    vp = np.asarray(c.vp, dtype=float)
    bubble = np.where(pp > 1, np.maximum(bubble, pp - m + (m - 1) / vp), bubble)
    t_pipe = (m + bubble) * t_mb

    # --- data parallel: one reduce-scatter (grads) + one all-gather (weights) per step = an all-reduce ---
    stride = tp * cp
    t_rs = (_hierarchical((st.dense_params_rank + st.emb_p) * GRAD_COMM_BYTES, dense_dp, stride, r, 1.0)
            + _hierarchical(st.expert_params_rank * GRAD_COMM_BYTES, exp_dp, stride * ep, r, 1.0))
    t_ag = t_rs * (WEIGHT_COMM_BYTES / GRAD_COMM_BYTES)
    z = c.zero
    # ZeRO-2 reduce-scatters every micro-batch's gradients; ZeRO-3 also gathers the weights forward and backward
    # (Rajbhandari et al. 2020, sec. 5). Per-step collectives hide behind the last micro-batch's backward and the
    # next step's first forward; per-micro-batch ones behind every micro-batch.
    # ZeRO-0 all-reduces the fp32 gradients: reduce-scatter + all-gather of 4 bytes each (ring 2(n-1)/n x 4 N),
    # where ZeRO-1 all-gathers bf16 weights after the sharded step (S102: Megatron-Core distributed optimizer)
    t_dp_comm = np.where(z >= 3, m * (t_rs + 2 * t_ag), np.where(z == 2, m * t_rs + t_ag,
                                                                np.where(z == 1, t_rs + t_ag, 2 * t_rs)))
    window = t_pace * np.where(z >= 2, m, 1.0)
    t_dp = _exposed(t_dp_comm, window, r.ov_dp)

    # --- optimizer step: memory-bound over the chip's shard ---
    # (experts' states shard over the expert-data-parallel group, the rest over the dense one, as memory_at)
    expert = st.memory.expert_params_rank
    opt_shard = np.where(z >= 1, (st.memory.params_chip - expert) / dense_dp + expert / exp_dp,
                         st.memory.params_chip)
    t_opt = opt_shard * OPTIMIZER_STEP_BYTES_PER_PARAM / r.hbm

    units = tp * pp * cp * dp
    jitter = 1.0 + STEP_JITTER_CV * np.sqrt(2.0 * np.log(np.maximum(units, 2.0)))
    step = (t_pipe + t_dp + t_opt) * jitter

    parts = _Parts(lt["layer"], lt["t_layer"], lt["t_head"], lt["stage_layers"], lt["head_on_pace"], t_pace,
                   lt["t_p2p"], t_mb, m, bubble, t_dp, t_opt, jitter) if keep_parts else None
    real_tokens = np.full_like(tp, float(setup.global_batch_seqs) * s)
    return Scores(memory_bytes=memory, step_time_s=step, tokens_per_step=real_tokens, micro_batches=m,
                  units_used=units, parts=parts)


def _put(v, idx: np.ndarray, new):
    """A copy of ``v`` (an array, or a dict of arrays) with ``new`` written at ``idx``."""
    if isinstance(v, dict):
        return {k: _put(x, idx, new[k]) for k, x in v.items()}
    out = np.array(v, dtype=np.result_type(v, new))
    out[idx] = new
    return out


def step_terms(scores: Scores) -> StepTerms:
    """The step split into named terms that add up to ``step_time_s`` (needs ``evaluate(keep_parts=True)``)."""
    p = scores.parts
    assert p is not None, "evaluate(..., keep_parts=True) keeps what the terms are computed from"
    n_mb = p.m + p.bubble  # micro-batch slots the pipeline runs, bubble included
    per_step = {k: p.m * p.stage_layers * np.broadcast_to(v, p.m.shape) for k, v in p.layer.items()}
    head = np.where(p.head_on_pace, p.t_head, 0.0)
    work = p.stage_layers * p.t_layer + head
    # stage imbalance (the pace beyond its own work) and the bubble go to the pipeline term
    pp_term = n_mb * p.t_p2p + p.bubble * p.t_pace + p.m * (p.t_pace - work)
    base = dict(per_step, output_layer=p.m * head, pp=pp_term, dp=p.t_dp, optimizer=p.t_opt)
    busy = sum(base.values())
    return StepTerms(jitter=(p.jitter - 1.0) * busy, **base)
