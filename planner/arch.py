"""Model architecture: the pydantic description shared by scenario files and the preset catalog."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field, model_validator

from .validation import PlainValues, field_error

_MAX_LAYERS = 1_000
_MAX_HIDDEN = 262_144
_MAX_VOCAB = 4_194_304


class MoE(PlainValues):
    """Mixture-of-experts feed-forward: routed experts, shared experts, leading dense layers."""

    model_config = ConfigDict(extra="forbid")

    experts: int = Field(ge=1, le=65_536, description="routed experts per MoE layer")
    top_k: int = Field(ge=1, le=1_024, description="routed experts each token visits")
    shared_experts: int = Field(0, ge=0, le=64, description="experts every token visits")
    expert_ffn_hidden: int = Field(ge=1, le=_MAX_HIDDEN, description="hidden size of one expert's MLP")
    dense_layers: int = Field(0, ge=0, le=_MAX_LAYERS, description="leading layers with a dense MLP")
    node_limit: int | None = Field(
        None, ge=1, le=1_024, description="node-limited routing: each token visits experts on at most this many "
                                          "nodes and crosses the network once per node (DeepSeek-V3: 4)")
    capacity_factor: float | None = Field(
        1.25, ge=1.0, le=64.0, description="forced balance: each expert takes at most this many times the mean load, "
                                           "the rest is dropped and buffers are padded to it (GShard, Switch); null: "
                                           "dropless, the busiest expert carries the router's natural imbalance")

    @model_validator(mode="after")
    def _check(self) -> MoE:
        if self.top_k > self.experts:
            raise field_error("top_k", f"top_k ({self.top_k}) must not exceed experts ({self.experts})")
        return self


class MLA(PlainValues):
    """Multi-head latent attention (DeepSeek-V2/V3): low-rank query and key-value projections."""

    model_config = ConfigDict(extra="forbid")

    q_lora_rank: int = Field(ge=0, le=_MAX_HIDDEN, description="0 means a full-rank query projection")
    kv_lora_rank: int = Field(ge=1, le=_MAX_HIDDEN)
    qk_nope_head_dim: int = Field(ge=1, le=4_096)
    qk_rope_head_dim: int = Field(ge=0, le=4_096)
    v_head_dim: int = Field(ge=1, le=4_096)


class ModelArch(PlainValues):
    """A decoder-only transformer, enough to count parameters, FLOPs, bytes and activations."""

    model_config = ConfigDict(extra="forbid")

    layers: int = Field(ge=1, le=_MAX_LAYERS)
    hidden: int = Field(ge=1, le=_MAX_HIDDEN)
    heads: int = Field(ge=1, le=4_096)
    kv_heads: int | None = Field(None, ge=1, le=4_096, description="defaults to heads (no GQA)")
    head_dim: int | None = Field(None, ge=1, le=4_096, description="defaults to hidden / heads")
    ffn_hidden: int | None = Field(
        None, ge=1, le=4 * _MAX_HIDDEN, description="defaults to 8/3*hidden (gated) or 4*hidden (plain)"
    )
    mlp: Literal["gated", "plain"] = "gated"
    vocab: int = Field(ge=1, le=_MAX_VOCAB)
    tied_embeddings: bool = False
    moe: MoE | None = None
    mla: MLA | None = None
    parallel_block: bool = Field(False, description="attention and MLP side by side (GPT-J/PaLM style)")
    dropout: bool = Field(False, description="dropout masks are stored (Korthikanti et al. 2022 setting)")
    sliding_window: int | None = Field(
        None, ge=1, le=16_777_216, description="sliding-window attention: each query attends to at most this many "
                                               "preceding tokens (Mistral 7B: 4096); none: full attention")
    global_attention_every: int | None = Field(
        None, ge=1, le=_MAX_LAYERS, description="with sliding_window: every n-th layer keeps full attention (Gemma 2: "
                                                "2, Gemma 3: 6); none: every layer is windowed")
    attention_sinks: int = Field(
        0, ge=0, le=65_536, description="sink tokens every windowed query also attends to (StreamingLLM: 4; a learned "
                                        "per-head sink logit as in gpt-oss adds no keys: 0)")

    @model_validator(mode="after")
    def _check(self) -> ModelArch:
        if self.head_dim is None and self.hidden % self.heads:
            raise field_error("heads", f"heads ({self.heads}) must divide hidden ({self.hidden})")
        kv = self.kv_heads if self.kv_heads is not None else self.heads
        if kv > self.heads or self.heads % kv:
            raise field_error("kv_heads", f"kv_heads ({kv}) must divide heads ({self.heads})")
        if self.global_attention_every is not None and self.sliding_window is None:
            raise field_error("global_attention_every", "needs sliding_window (the layers in between are windowed)")
        if self.moe is not None and self.moe.dense_layers > self.layers:
            raise field_error("moe.dense_layers",
                              f"moe.dense_layers ({self.moe.dense_layers}) exceeds layers ({self.layers})")
        return self

    @property
    def windowed_layers(self) -> int:
        """Layers with sliding-window attention (every layer but each ``global_attention_every``-th)."""
        if self.sliding_window is None:
            return 0
        if self.global_attention_every is None:
            return self.layers
        return self.layers - self.layers // self.global_attention_every

    # Derived sizes, resolved once so the cost model never re-applies defaults.
    @property
    def n_kv_heads(self) -> int:
        """Key-value heads (the query heads without GQA)."""
        return self.kv_heads if self.kv_heads is not None else self.heads

    @property
    def d_head(self) -> int:
        """Width of one attention head."""
        return self.head_dim if self.head_dim is not None else self.hidden // self.heads

    @property
    def ffn(self) -> int:
        """Hidden size of the dense MLP (the default by MLP kind when not given)."""
        if self.ffn_hidden is not None:
            return self.ffn_hidden
        # defaults: SwiGLU keeps 2/3 of 4h per matrix (Shazeer 2020), GELU MLP is 4h (Vaswani et al. 2017)
        return int(8 * self.hidden / 3) if self.mlp == "gated" else 4 * self.hidden

    @property
    def mlp_matrices(self) -> int:
        """Weight matrices of one MLP: three when gated, two when plain."""
        return 3 if self.mlp == "gated" else 2
