"""The parallel layout: a user's (partial) pin and the resolved layout record.

One home for the concept. ``Parallelism`` is what a scenario may fix (unset fields are searched);
``Layout`` is a complete layout as the search, the simulation, the reports and the CLI show it.
Recompute is named by its string everywhere; the vectorized search alone codes it as an index into
``RECOMPUTE``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Literal

from pydantic import ConfigDict, Field

from ..validation import PlainValues

# activation recompute; index = code in the vectorized search. block: the fewest whole layers per pipeline stage that
# make the layout fit recompute fully, the others selectively (Megatron --recompute-granularity full
# --recompute-method block --recompute-num-layers N); mlp: selective and the MLP recomputed, attention kept
# (Megatron-Core recompute_modules [core_attn, mlp]; MaxText remat_policy save_dot_except_mlp)
RECOMPUTE = ("none", "selective", "full", "block", "mlp")
MAX_DEGREE = 1024  # tp, pp, cp
MAX_UNITS = 10_000_000  # chips in one pool


class Parallelism(PlainValues):
    """A (partial) pin of the parallel layout; unset fields are searched."""

    model_config = ConfigDict(extra="forbid")

    tp: int | None = Field(None, ge=1, le=MAX_DEGREE, description="tensor-parallel degree")
    pp: int | None = Field(None, ge=1, le=MAX_DEGREE, description="pipeline stages")
    dp: int | None = Field(None, ge=1, le=MAX_UNITS, description="data-parallel replicas")
    cp: int | None = Field(None, ge=1, le=MAX_DEGREE, description="context-parallel degree")
    ep: int | None = Field(None, ge=1, le=65_536, description="expert-parallel degree")
    vp: int | None = Field(None, ge=1, le=64, description="interleaved virtual stages per pipeline rank")
    micro_batch: int | None = Field(None, ge=1, le=4096, description="sequences per micro-batch")
    recompute: Literal["none", "selective", "full", "block", "mlp"] | None = None
    zero: Literal[0, 1, 2, 3] | None = Field(None, description="ZeRO stage (distributed optimizer)")


@dataclass(frozen=True)
class Layout:
    """A complete parallel layout."""

    tp: int
    pp: int
    dp: int
    cp: int
    ep: int
    micro_batch: int
    recompute: str
    vp: int
    zero: int

    @property
    def units(self) -> int:
        """Chips the layout uses: tp x pp x cp x dp (experts are carved out of the data-parallel ranks)."""
        return self.tp * self.pp * self.cp * self.dp

    def as_dict(self) -> dict:
        """The ``parallelism`` object of `planner estimate --json` (docs/formats.md)."""
        return {name: getattr(self, name) for name in LAYOUT_FIELDS}  # flat fields: no deep copy

    def label(self) -> str:
        """A compact one-line form, e.g. ``TP8 PP16x1 DP64 CP1 EP1 mb1 selective Z1``."""
        return (f"TP{self.tp} PP{self.pp}x{self.vp} DP{self.dp} CP{self.cp} EP{self.ep} "
                f"mb{self.micro_batch} {self.recompute} Z{self.zero}")


LAYOUT_FIELDS = tuple(f.name for f in fields(Layout))
