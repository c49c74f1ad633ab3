"""Parameter counts and FLOPs per token from the architecture. Pure functions, no simpy."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from ..arch import ModelArch


@dataclass(frozen=True)
class ParamCounts:
    """Parameter counts [parameters] split the way the cost model needs them."""

    attention_per_layer: int  # Q, K, V, O projections (MLA: low-rank factors) of one layer
    dense_mlp_per_layer: int  # one dense MLP (the MLP of a dense layer)
    expert_mlp: int  # one routed or shared expert's MLP
    router_per_layer: int  # MoE gate
    norms_per_layer: int  # two RMS/LayerNorm weight vectors
    embedding: int  # input embedding table
    output: int  # output projection (0 when tied)
    n_dense_layers: int  # layers with a dense MLP
    n_moe_layers: int  # layers with a MoE MLP
    experts: int  # routed experts per MoE layer
    top_k: int
    shared_experts: int

    @property
    def moe_layer_total(self) -> int:
        """Parameters of one MoE feed-forward: every expert and the router."""
        return (self.experts + self.shared_experts) * self.expert_mlp + self.router_per_layer

    @property
    def moe_layer_active(self) -> int:
        """Parameters of one MoE feed-forward that a token touches."""
        return (self.top_k + self.shared_experts) * self.expert_mlp + self.router_per_layer

    @property
    def layer_dense_total(self) -> int:
        """Parameters of one dense layer."""
        return self.attention_per_layer + self.dense_mlp_per_layer + self.norms_per_layer

    @property
    def total(self) -> int:
        """All parameters [parameters]."""
        body = self.n_dense_layers * self.layer_dense_total + self.n_moe_layers * (
            self.attention_per_layer + self.norms_per_layer + self.moe_layer_total
        )
        return body + self.embedding + self.output + self.norms_per_layer // 2  # + final norm

    @property
    def active(self) -> int:
        """Parameters one token touches [parameters]."""
        body = self.n_dense_layers * self.layer_dense_total + self.n_moe_layers * (
            self.attention_per_layer + self.norms_per_layer + self.moe_layer_active
        )
        return body + self.embedding + self.output + self.norms_per_layer // 2

    @property
    def active_matmul_per_token(self) -> int:
        """Parameters used in matmuls per token (excludes embedding lookup and norms) [parameters]."""
        body = self.n_dense_layers * (self.attention_per_layer + self.dense_mlp_per_layer) + self.n_moe_layers * (
            self.attention_per_layer + self.moe_layer_active
        )
        return body + (self.output if self.output else self.embedding)


def attention_params(a: ModelArch) -> int:
    """Q/K/V/O weights of one layer [parameters]; GQA shrinks K and V, MLA uses low-rank factors."""
    h = a.hidden
    if a.mla is not None:
        m = a.mla
        qk = m.qk_nope_head_dim + m.qk_rope_head_dim
        # DeepSeek-V2 (arXiv:2405.04434) sec. 2.1: W_DQ, W_UQ (or full W_Q), W_DKV (+ shared rope key), W_UK/W_UV, W_O
        q = (h * m.q_lora_rank + m.q_lora_rank * a.heads * qk + m.q_lora_rank) if m.q_lora_rank else h * a.heads * qk
        kv = h * (m.kv_lora_rank + m.qk_rope_head_dim) + m.kv_lora_rank + m.kv_lora_rank * a.heads * (
            m.qk_nope_head_dim + m.v_head_dim
        )
        return q + kv + a.heads * m.v_head_dim * h
    q_dim = a.heads * a.d_head
    kv_dim = a.n_kv_heads * a.d_head
    return h * q_dim + 2 * h * kv_dim + q_dim * h  # Ainslie et al. 2023 (GQA): K, V have kv_heads heads


def mlp_params(a: ModelArch, ffn: int) -> int:
    """One MLP [parameters]: three matrices when gated (SwiGLU, Shazeer 2020), two when plain."""
    return a.mlp_matrices * a.hidden * ffn


def count_params(a: ModelArch) -> ParamCounts:
    """Parameter counts of an architecture (biases ignored, as in Llama-style models)."""
    moe = a.moe
    n_dense = a.layers if moe is None else moe.dense_layers
    return ParamCounts(
        attention_per_layer=attention_params(a),
        dense_mlp_per_layer=mlp_params(a, a.ffn),
        expert_mlp=mlp_params(a, moe.expert_ffn_hidden) if moe else 0,
        router_per_layer=(moe.experts * a.hidden) if moe else 0,
        norms_per_layer=2 * a.hidden,
        embedding=a.vocab * a.hidden,
        output=0 if a.tied_embeddings else a.vocab * a.hidden,
        n_dense_layers=n_dense,
        n_moe_layers=a.layers - n_dense,
        experts=moe.experts if moe else 0,
        top_k=moe.top_k if moe else 0,
        shared_experts=moe.shared_experts if moe else 0,
    )


def attention_width(a: ModelArch) -> tuple[int, int]:
    """(query-key width, value width) summed over heads [elements]."""
    if a.mla is not None:
        m = a.mla
        return a.heads * (m.qk_nope_head_dim + m.qk_rope_head_dim), a.heads * m.v_head_dim
    return a.heads * a.d_head, a.heads * a.d_head


def attention_keys(a: ModelArch, seq_len: int, causal: bool = False) -> float:
    """Keys one query attends to, summed over the layers [-].

    Full attention: seq_len per layer (PaLM's non-causal count) or seq_len/2 under the causal mask (the masked
    half FlashAttention skips). A windowed layer (sliding window w plus the sink tokens; Beltagy et al. 2020,
    Longformer; Jiang et al.
    2023, Mistral 7B; Xiao et al. 2023, StreamingLLM) attends to min(seq_len, w + sinks) keys without the mask, and
    on average to the band's w + sinks - (w + sinks)^2 / (2 seq_len) keys under it (when w + sinks < seq_len).
    """
    s = float(seq_len)
    n_win = a.windowed_layers
    full = (a.layers - n_win) * (s if not causal else 0.5 * s)
    if not n_win:
        return full
    w = min(float(a.sliding_window + a.attention_sinks), s)
    per = w if not causal else w - w * w / (2.0 * s)  # s/2 when the window spans the sequence
    return full + n_win * per


def attention_flops_per_token(a: ModelArch, seq_len: int) -> float:
    """Model FLOPs of attention scores and weighted values per token, forward + backward [FLOP].

    PaLM (Chowdhery et al. 2022, appendix B): 6N + 12*L*H*Q*T per token, i.e. 12*L*h*s for
    qk width = v width = h. Counted without the causal mask, as PaLM does; a windowed layer counts the
    min(s, window + sinks) keys each query can see, also without the mask (``attention_keys``).
    """
    qk, v = attention_width(a)
    return 6.0 * attention_keys(a, seq_len) * (qk + v)


def model_flops_per_token(a: ModelArch, seq_len: int) -> float:
    """Model FLOPs per trained token [FLOP]: 6*N_active (Kaplan et al. 2020) plus the attention term (PaLM).

    N counts the matmul parameters a token touches (the embedding lookup is no matmul; a tied
    output projection still is).
    """
    return 6.0 * count_params(a).active_matmul_per_token + attention_flops_per_token(a, seq_len)


def executed_flops_per_token(a: ModelArch, seq_len: int) -> float:
    """The FLOPs a token's training runs, forward + backward: as ``model_flops_per_token`` with the causal mask.

    FlashAttention skips the masked half of the scores (``attention_keys(causal=True)``): at 8K tokens a 405B
    model runs 4% fewer FLOPs than PaLM's count, an 8B model 11%, and at 128K 41% fewer. A chip's utilization of what it
    runs is MFU x this over the model count.
    """
    qk, v = attention_width(a)
    return 6.0 * count_params(a).active_matmul_per_token + 6.0 * attention_keys(a, seq_len, causal=True) * (qk + v)


def training_flops(a: ModelArch, seq_len: int, tokens: float) -> float:
    """Model FLOPs to train on ``tokens`` tokens [FLOP]."""
    return model_flops_per_token(a, seq_len) * tokens


# Llama 3 shape rule (Dubey et al. 2024, "The Llama 3 Herd of Models", table 3): head width 128, 8 key-value
# heads, SwiGLU FFN 3.5x the hidden size, hidden about 128x the layers (8B: 32 x 4096), vocabulary 128,256
SIZE_HEAD_DIM = 128
SIZE_KV_HEADS = 8
SIZE_FFN_RATIO = 3.5
SIZE_ASPECT = 128  # hidden / layers
SIZE_VOCAB = 128_256
MIN_SIZE_PARAMS, MAX_SIZE_PARAMS = 1e8, 1e13
_MAX_HIDDEN = 262_144  # ModelArch's bound on hidden
SIZE_TOLERANCE = 0.02  # among shapes this close to the asked size, the one nearest the aspect ratio wins


def _dense_arch(layers: int, heads: int) -> ModelArch:
    hidden = heads * SIZE_HEAD_DIM
    kv = SIZE_KV_HEADS if heads % SIZE_KV_HEADS == 0 else heads
    ffn = max(256, int(round(SIZE_FFN_RATIO * hidden / 256)) * 256)
    return ModelArch(layers=layers, hidden=hidden, heads=heads, kv_heads=kv, ffn_hidden=ffn, vocab=SIZE_VOCAB)


@lru_cache(maxsize=64)
def dense_arch_for_params(params: float) -> ModelArch:
    """A dense Llama-3-shaped architecture with about ``params`` parameters (the Llama 3 shape rule above).

    Every (layers, heads) pair is scored; shapes within SIZE_TOLERANCE of the size keep the one whose
    hidden/layers is nearest SIZE_ASPECT, otherwise the nearest size wins. 8.03e9 gives Llama 3 8B's shape.
    """
    if not MIN_SIZE_PARAMS <= params <= MAX_SIZE_PARAMS:
        raise ValueError(f"{params:g} parameters is outside {MIN_SIZE_PARAMS:g} .. {MAX_SIZE_PARAMS:g}")
    best, best_key = None, None
    for layers in range(1, 1001):
        # solve L*(2 h^2 + 2 h kv + 3 h ffn) + 2 V h = N for h, then try the neighbouring head counts
        per_h2 = layers * (2 + 3 * SIZE_FFN_RATIO)
        lin = 2 * SIZE_VOCAB + layers * 2 * SIZE_KV_HEADS * SIZE_HEAD_DIM
        h = (-lin + (lin * lin + 4 * per_h2 * params) ** 0.5) / (2 * per_h2)
        guess = h / SIZE_HEAD_DIM
        if guess >= SIZE_KV_HEADS:  # whole groups of query heads per key-value head
            near = {SIZE_KV_HEADS * int(guess // SIZE_KV_HEADS), SIZE_KV_HEADS * (int(guess // SIZE_KV_HEADS) + 1)}
        else:
            near = {max(1, int(guess)), int(guess) + 1}
        for heads in sorted(near):
            if heads * SIZE_HEAD_DIM > _MAX_HIDDEN:
                continue
            arch = _dense_arch(layers, heads)
            miss = abs(count_params(arch).total / params - 1)
            aspect = abs(arch.hidden / layers / SIZE_ASPECT - 1)
            key = (miss > SIZE_TOLERANCE, aspect if miss <= SIZE_TOLERANCE else miss, miss)
            if best_key is None or key < best_key:
                best, best_key = arch, key
    return best
