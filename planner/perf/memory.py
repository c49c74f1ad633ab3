"""Memory per chip for a parallel layout [bytes]. Pure numpy functions: every argument may be an array."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..arch import ModelArch
from ..units import GIB

# Bytes per parameter for mixed-precision Adam as Megatron keeps them: bf16 weights, fp32 main gradients,
# fp32 master weights + Adam m + v: 2 + 4 + 12 = 18 (Megatron-Core distributed optimizer docs, S102)
WEIGHT_BYTES = 2.0
GRAD_BYTES = 4.0
OPTIMIZER_BYTES = 12.0
RUNTIME_RESERVED_BYTES = 2.0 * GIB  # runtime context and communicator buffers per device (S108)
ALLOCATOR_FRAGMENTATION = 0.10  # caching-allocator fragmentation of what remains (S108)


def state_bytes_per_param(zero, dp):
    """Weights + gradients + optimizer bytes per parameter held by one chip (ZeRO eq. in sec. 5.1).

    stage 0: 2 + 4 (fp32 gradients) + 12; stage 1 shards the optimizer over DP; stage 2 also the gradients;
    stage 3 also the weights.
    """
    zero = np.asarray(zero)
    dp = np.asarray(dp, dtype=float)
    w = np.where(zero >= 3, WEIGHT_BYTES / dp, WEIGHT_BYTES)
    g = np.where(zero >= 2, GRAD_BYTES / dp, GRAD_BYTES)
    o = np.where(zero >= 1, OPTIMIZER_BYTES / dp, OPTIMIZER_BYTES)
    return w + g + o


def usable_bytes(hbm_gib: float) -> float:
    """Device memory a layout may fill [bytes]: less the runtime's reserve and allocator fragmentation (S108)."""
    return max(hbm_gib * GIB - RUNTIME_RESERVED_BYTES, 0.0) * (1.0 - ALLOCATOR_FRAGMENTATION)


def activation_bytes_per_layer(a: ModelArch, seq, micro_batch, tp, cp, recompute, *, dense_mlp=True,
                               fused_attention=True, fp8=False, block_share=0.5):
    """Activations one transformer layer keeps for one micro-batch on one chip [bytes].

    Korthikanti et al. 2022 (arXiv:2205.05198), eqs. 1-6, generalised to GQA/MLA widths and gated MLPs,
    with sequence parallelism (everything divided by tp) and context parallelism (sequence divided by cp):
      none:      s*b*h*(34 + 5*a*s/h) / t   for MHA, 4h plain MLP, with dropout (their setting)
      selective: s*b*h*34 / t               (attention core recomputed: no s^2 terms)
      full:      2*s*b*h / t                (only the layer input is kept)
      block:     a share ``block_share`` of the layers full, the others selective (Megatron --recompute-method
                 block --recompute-num-layers N: N of a stage's layers recompute whole, S120)
      mlp:       selective, and the MLP keeps only its input (Megatron-Core recompute_modules [core_attn, mlp],
                 S120; MaxText remat_policy save_dot_except_mlp: attention projections saved, the MLP recomputed)
    Fused attention (FlashAttention) never stores the a*s^2 scores (Dao et al. 2022, sec. 3.1).
    """
    s = np.asarray(seq, dtype=float) / np.asarray(cp, dtype=float)
    b = np.asarray(micro_batch, dtype=float)
    t = np.asarray(tp, dtype=float)
    h = float(a.hidden)
    if a.mla is None:
        q_width, kv_width = float(a.heads * a.d_head), float(a.n_kv_heads * a.d_head)
    else:
        ml = a.mla
        q_width = float(a.heads * (ml.qk_nope_head_dim + ml.qk_rope_head_dim))
        kv_width = float(a.heads * (ml.qk_nope_head_dim + ml.qk_rope_head_dim + ml.v_head_dim) / 2)
    drop = 1.0 if a.dropout else 0.0
    # attention block: QKV input 2sbh, Q 2sb*q, K and V 2sb*kv each, projection input 2sbh, dropout mask sbh
    attn_linear = 2 * h + 2 * q_width + 4 * kv_width + 2 * h + drop * h
    # s^2 part: softmax output 2as^2b, dropout mask as^2b, dropout output 2as^2b (per unit s*b: a*s*(2+3*drop))
    # a windowed layer's unfused scores span its window and sinks: min(s, w + sinks) keys per query (layer mean)
    s_keys = s
    if a.sliding_window is not None:
        win = a.windowed_layers / a.layers
        s_keys = s * (1 - win) + np.minimum(s, a.sliding_window + a.attention_sinks) * win
    attn_quadratic = 0.0 if fused_attention else a.heads * s_keys * (2.0 + 3.0 * drop)
    if dense_mlp:
        f = float(a.ffn)
        n_act = 1.0
    else:
        moe = a.moe
        f = float(moe.expert_ffn_hidden)
        n_act = float(moe.top_k + moe.shared_experts)  # each token's activations in each expert it visits
    if a.mlp == "gated":
        # input 2sbh; gate and up outputs 2sbf each; activation output 2sbf
        mlp = 2 * h + n_act * 6 * f
    else:
        # input 2sbh; GeLU input 2sbf; GeLU output 2sbf (f = 4h gives Korthikanti's 2h + 16h)
        mlp = 2 * h + n_act * 4 * f
    if not dense_mlp:
        # routed experts, by the same rule (each linear layer keeps its input, each product its operands):
        # the up-projections' input is the permuted tokens, top_k copies of 2sbh, and the weighted combine keeps
        # the top_k expert outputs (2sbh each) for the gradient of the routing probabilities (GShard sec. 2.2,
        # S106; Megatron-Core token dispatcher); the shared experts read the layer input already counted
        mlp = mlp + 2 * float(a.moe.top_k) * 2 * h
    mlp = mlp + drop * h
    norms = 4 * h  # two LayerNorm inputs, 2sbh each
    linear = attn_linear + mlp + norms  # = 34h for the Korthikanti setting
    # MLP recomputed: it keeps its input (2sbh) and its dropout mask; the attention block and the norms as before
    mlp_only = attn_linear + 2 * h + drop * h + norms
    if fp8:
        # FP8 linear layers keep their inputs in FP8 for the backward (1 byte, not 2: Transformer Engine, S107):
        # QKV, projection and MLP inputs, and the MLP down-projection input
        linear = linear - (3 * h + n_act * f)
        mlp_only = mlp_only - 2 * h  # QKV and projection inputs (the MLP's are rebuilt)
    rc = np.asarray(recompute)
    kept = np.where((rc == 1) | (rc == 3), linear, linear + attn_quadratic)
    x = np.asarray(block_share, dtype=float)
    # block: a share x of the layers keep only their input, the others keep what selective keeps
    per_token = np.where(rc == 2, 2 * h, np.where(rc == 3, x * (2 * h) + (1 - x) * kept,
                                                  np.where(rc == 4, mlp_only, kept)))
    return s * b * per_token / t


def pipeline_in_flight(pp, vp):
    """Micro-batches whose activations the first stage holds, in units of its own layers' worth.

    1F1B: the first stage holds pp micro-batches of L/pp layers = L layers of one micro-batch
    (Korthikanti et al. 2022, sec. 4.2.3); interleaving adds a factor 1 + (pp-1)/(pp*v) (their eq. 5 note).
    Returned as a multiplier on (layers per stage x activations per layer and micro-batch).
    """
    pp = np.asarray(pp, dtype=float)
    vp = np.asarray(vp, dtype=float)
    return pp * (1.0 + np.where(vp > 1, (pp - 1) / (pp * vp), 0.0))


@dataclass
class ShapeMemory:
    """The bytes of a layout that its shape alone decides, whatever its data-parallel degree and batch.

    Bytes one chip holds (``memory_at``): model state, in-flight activations, logits, recompute work. The first
    pipeline stage holds the most in-flight activations; the fp32 logits sit on the last one.
    """

    params_chip: np.ndarray
    expert_params_rank: np.ndarray
    stage_activations: np.ndarray  # the worst stage's layers x one micro-batch's activations per layer
    in_flight_most: np.ndarray  # micro-batches in flight on the first stage (``pipeline_in_flight``)
    in_flight_per_micro_batch: np.ndarray  # ... and per micro-batch the replica runs, when it runs fewer
    logits: np.ndarray
    work: np.ndarray
    gathered: np.ndarray
    dispatch: np.ndarray | float


def shape_memory(arch: ModelArch, c, seq, tp, cp, mb, pp, vp, layers_rank, params_chip, expert_params_rank,
                 moe_share, tok, fused_attention=True, fp8=False, block_share=0.5, dispatch_tokens=None) -> ShapeMemory:
    """``ShapeMemory`` of candidate layouts: what their shape (all but the data-parallel degree) decides."""
    L = arch.layers
    rc = c.recompute
    act_dense = activation_bytes_per_layer(arch, seq, mb, tp, cp, rc, dense_mlp=True, fused_attention=fused_attention,
                                           fp8=fp8, block_share=block_share)
    act_moe = (activation_bytes_per_layer(arch, seq, mb, tp, cp, rc, dense_mlp=False, fused_attention=fused_attention,
                                          fp8=fp8, block_share=block_share) if arch.moe else act_dense)
    act_layer = (1 - moe_share) * act_dense + moe_share * act_moe
    # when pp does not divide L, the short stage goes first, where most micro-batches are in flight
    # (Llama 3 sec. 3.3.2 removes layers from the first stage for this reason); stage k holds pp-k of them
    first_layers = np.maximum(L - (pp - 1) * layers_rank, 1.0)
    second = np.where(pp > 1, (pp - 1) / pp, 0.0) * layers_rank
    worst_stage_layers = np.maximum(first_layers, second)
    # fp32 logits for the loss (Korthikanti et al. 2022 sec. 4.3: 4*s*b*v/t bytes)
    logits = tok * arch.vocab * 4.0 / tp
    # full recompute rebuilds one layer's activations during its backward, its unfused attention scores too (the a*s^2
    # terms: 64 GiB a chip for an 8B model at 32K tokens, which code 1's kept activations leave out)
    one_layer = activation_bytes_per_layer(arch, seq, mb, tp, cp, 0, fused_attention=fused_attention)
    kept_selective = activation_bytes_per_layer(arch, seq, mb, tp, cp, 1, fused_attention=fused_attention)
    # selective rebuilds one layer's attention core (its scores, when unfused) ...
    one_core = one_layer - kept_selective
    # ... and the MLP policy one layer's MLP activations too (what selective keeps beyond what it keeps), one after
    # the other in the layer's backward
    one_mlp = kept_selective - activation_bytes_per_layer(arch, seq, mb, tp, cp, 4, fused_attention=fused_attention)
    work = np.where((rc == 2) | (rc == 3), one_layer,
                    np.where(rc == 4, np.maximum(one_mlp, one_core), np.where(rc == 1, one_core, 0.0)))
    # ZeRO-3 gathers the next layer's weights while one runs: two layers of bf16 weights (Rajbhandari et al. 2020)
    layer_params = (params_chip - expert_params_rank) / np.maximum(layers_rank, 1)
    gathered = np.where(c.zero >= 3, 2.0 * layer_params * WEIGHT_BYTES, 0.0)
    # MoE dispatch and combine buffers, twice: top_k copies of the chip's tokens (all-to-all, S105), or the
    # tokens of every tp x ep rank (allgather dispatcher, S121): ``dispatch_tokens``
    dispatch = 0.0
    if arch.moe:
        n_tok = tok * arch.moe.top_k / tp if dispatch_tokens is None else dispatch_tokens
        dispatch = moe_share * 2.0 * n_tok * arch.hidden * 2.0
    return ShapeMemory(params_chip, expert_params_rank, worst_stage_layers * act_layer, pipeline_in_flight(pp, vp),
                       np.where(vp > 1, 1.0 + (pp - 1) / (pp * vp), 1.0), logits, work, gathered, dispatch)


def memory_at(shape: ShapeMemory, zero, m, dense_dp, exp_dp):
    """Bytes one chip holds for layouts of ``shape`` with ``m`` micro-batches per step and these replica groups."""
    sbpp_dense = state_bytes_per_param(zero, np.where(zero >= 1, dense_dp, 1))
    sbpp_exp = state_bytes_per_param(zero, np.where(zero >= 1, exp_dp, 1))
    state = (shape.params_chip - shape.expert_params_rank) * sbpp_dense + shape.expert_params_rank * sbpp_exp
    # never more micro-batches in flight than the replica runs per step
    in_flight = np.minimum(shape.in_flight_most, m * shape.in_flight_per_micro_batch)
    act = shape.stage_activations * in_flight
    return state + act + shape.logits + shape.work + shape.gathered + shape.dispatch
