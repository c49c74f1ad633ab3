"""Layout search: score every candidate parallel layout with numpy at once and keep the fastest that fits."""

from __future__ import annotations

import functools
import hashlib
import math
import time
from dataclasses import dataclass, replace

import numpy as np

from ..arch import ModelArch
from ..catalog import Chip
from ..errors import InfeasiblePlanError
from ..units import GIB
from .layout import RECOMPUTE, Layout, Parallelism
from .memory import usable_bytes
from .params import model_flops_per_token
from .setup import TrainingSetup
from .steptime import STEP_JITTER_CV, Candidates, Scores, ShapeTerms, evaluate, evaluate_on, memory_on, shape_terms
from .system import System, as_system

MICRO_BATCHES = (1, 2, 4, 8, 16)
VIRTUAL_STAGES = (1, 2, 3, 4, 6, 8)
CP_DEGREES = (1, 2, 4, 8, 16, 32, 64)
# context parallelism only for long sequences: 8K tokens per rank at most split (Llama 3 long-context stage, S103)
MIN_TOKENS_PER_CP_RANK = 8192
# ZeRO-0 moves more bytes than ZeRO-1 (an fp32 all-reduce, against a reduce-scatter and a bf16 all-gather) with
# more memory and a slower unsharded optimizer step: it never wins, so the search skips it unless a pool pins it
SEARCHED_ZERO_STAGES = (1, 2, 3)
MAX_PP = 256
# Two layouts whose predicted speeds differ by less than this are treated as equally fast, and the simpler one is
# shown: twice the 1% per-step jitter Llama 3 budgets for one synchronous job (sec. 3.3.4, S103), and a fifth of the
# model's cross-validated error (about 10%, README "Accuracy"), so the model cannot tell such layouts apart.
SIMPLER_TOLERANCE = 0.02


@dataclass(frozen=True)
class LayoutResult:
    """The best layout for a number of chips and its figures."""

    layout: Layout
    units_available: int
    units_used: int
    tokens_per_s: float
    step_time_s: float
    mfu: float
    memory_per_chip_gib: float
    micro_batches: int
    layouts_evaluated: int
    search_seconds: float
    # set when a simpler layout within SIMPLER_TOLERANCE of the fastest is shown instead: what the faster one uses
    preference: str = ""


TILE_GROUPS = 16  # tensor-parallel groups a scale-up domain holds from which one that does not tile it is offered


def _divisors_up_to(n: int, cap: int) -> list[int]:
    return [d for d in range(1, min(n, cap) + 1) if n % d == 0]


def tp_options(arch: ModelArch, chip: Chip) -> list[int]:
    """Tensor-parallel degrees that tile the scale-up domain (at most 64) and split whole query groups.

    A degree that does not divide the domain leaves groups across two domains, timed as if inside one (TP64 on
    NVL72's 72 chips: the eleventh group of 720 chips spans two racks, its collectives on the network): not offered,
    unless the domain holds TILE_GROUPS of them or more (a TPU pod of 4,096 chips holds 341 groups of 12: the
    leftover is a few chips a pod).

    TP divides the heads, and the KV heads (Megatron), or is a multiple of them: each rank then holds a copy of its
    K/V head (PaLM trained its one-KV-head attention on TP12, S10; the copies' share of the QKV projection, small
    beside the rest of a layer, is left out of the step time).
    """
    kv = arch.n_kv_heads if arch.mla is None else arch.heads
    return [t for t in _divisors_up_to(arch.heads, min(chip.scale_up_domain, 64))
            if (t & (t - 1) == 0 or t % 4 == 0) and (kv % t == 0 or t % kv == 0)
            and (chip.scale_up_domain % t == 0 or chip.scale_up_domain // t >= TILE_GROUPS)]


def pp_options(layers: int) -> list[int]:
    """Pipeline degrees worth scoring.

    For each count of layers on the slowest rank, ceil(L/pp): the fewest stages (smallest bubble, fewest
    chips per replica) and the most (spreads the output layer thinnest).
    """
    by_rank: dict[int, list[int]] = {}
    for pp in range(1, min(layers, MAX_PP) + 1):
        by_rank.setdefault(-(-layers // pp), []).append(pp)
    return sorted({v for group in by_rank.values() for v in (group[0], group[-1])})


def build_candidates(arch: ModelArch, system: System | Chip, wl: TrainingSetup, units: int,
                     pin: Parallelism = Parallelism()) -> Candidates:
    """Every layout worth scoring for ``units`` chips (dp: the fewest replicas for the most the batch allows).

    The stack decides which recompute modes, ZeRO stages and interleaving exist (planner/data/stacks.yaml).
    """
    shapes = layout_shapes(arch, system, wl, pin)
    dp, ok = shapes_on(shapes, units, wl, pin)
    return shapes.take(np.nonzero(ok)[0], dp)


def shapes_on(shapes: Candidates, units: int, wl: TrainingSetup, pin: Parallelism = Parallelism()):
    """The data-parallel degree of every shape on ``units`` chips, and which shapes are candidates there."""
    dp, ok = _fill_dp(shapes.tp, shapes.pp, shapes.cp, shapes.ep, shapes.mb, units, wl, pin)
    return dp, ok & (shapes.tp * shapes.pp * shapes.cp <= units)


def shape_axes(arch: ModelArch, system: System | Chip, wl: TrainingSetup,
               pin: Parallelism = Parallelism()) -> dict[str, list[int]]:
    """The options of each layout dimension the search combines; their product is the grid it builds at once.

    Keys: tp, pp, vp, cp, ep, micro_batch, recompute (indices into RECOMPUTE), zero. A pinned dimension has
    one option.
    """
    system = as_system(system)
    st = system.stack
    tps = [pin.tp] if pin.tp else tp_options(arch, system.chip)
    pps = [pin.pp] if pin.pp else pp_options(arch.layers)
    vps = [pin.vp] if pin.vp else (list(VIRTUAL_STAGES) if st.interleaved else [1])
    cps = [pin.cp] if pin.cp else [c for c in CP_DEGREES if c == 1 or (
        st.context_parallel and wl.seq_len % (2 * c) == 0 and wl.seq_len // c >= MIN_TOKENS_PER_CP_RANK)]
    if arch.moe:
        experts = arch.moe.experts
        eps = [pin.ep] if pin.ep else [e for e in _divisors_up_to(experts, experts) if e & (e - 1) == 0
                                       and (e == 1 or st.expert_parallel)]
    else:
        eps = [1]
    mbs = [pin.micro_batch] if pin.micro_batch else [m for m in MICRO_BATCHES if m <= wl.global_batch_seqs]
    rcs = [RECOMPUTE.index(pin.recompute)] if pin.recompute else [RECOMPUTE.index(r) for r in st.recompute]
    zs = [pin.zero] if pin.zero is not None else [z for z in SEARCHED_ZERO_STAGES if z in st.zero] or [min(st.zero)]
    return {"tp": tps, "pp": pps, "vp": vps, "cp": cps, "ep": eps, "micro_batch": mbs, "recompute": rcs, "zero": zs}


def grid_size(axes: dict[str, list[int]]) -> int:
    """Layouts in the grid of ``shape_axes`` (before the interleaving filter): what one search holds at once."""
    return math.prod(len(v) for v in axes.values())


def layout_shapes(arch: ModelArch, system: System | Chip, wl: TrainingSetup,
                  pin: Parallelism = Parallelism()) -> Candidates:
    """Every layout shape worth scoring, whatever the chip count (``dp`` left at 0: ``shapes_on`` fills it)."""
    L = arch.layers
    grid = np.array(np.meshgrid(*shape_axes(arch, system, wl, pin).values(), indexing="ij")).reshape(8, -1)
    tp, pp, vp, cp, ep, mb, rc, z = grid
    layers_rank = -(-L // pp)
    ok = (vp == 1) | ((pp > 1) & (layers_rank % vp == 0) & (layers_rank >= vp))
    idx = np.nonzero(ok)[0]
    return Candidates(tp=tp[idx], pp=pp[idx], vp=vp[idx], cp=cp[idx], ep=ep[idx], dp=np.zeros_like(tp[idx]),
                      mb=mb[idx], recompute=rc[idx], zero=z[idx])


def _fill_dp(tp, pp, cp, ep, mb, units: int, wl: TrainingSetup, pin: Parallelism):
    """Data-parallel replicas (a multiple of ep), and which candidates are valid.

    The most replicas the chips and the batch allow, then the fewest that need as few micro-batches
    per step: the same speed on fewer chips, and no padded micro-batches bought with extra chips.
    """
    if pin.dp:
        dp = np.full_like(tp, pin.dp)
    else:
        B = wl.global_batch_seqs
        dp = np.minimum(units // np.maximum(tp * pp * cp, 1), np.maximum(B // mb, 1))
        dp = (dp // ep) * ep  # expert-parallel ranks are carved out of the data-parallel ranks
        m = -(-B // np.maximum(dp * mb, 1))
        fewest = -(-B // np.maximum(m * mb, 1))
        fewest = -(-fewest // ep) * ep
        dp = np.where(dp >= 1, np.minimum(dp, fewest), dp)
    ok = (dp >= 1) & (tp * pp * cp * dp <= units) & (dp % ep == 0)
    return dp, ok


def usable_hbm_bytes(chip: Chip) -> float:
    """Device memory a layout may fill [bytes] (``memory.usable_bytes``)."""
    return usable_bytes(chip.hbm_gib)


def _result(arch, chip, wl, cands: Candidates, sc, i: int, units: int, evaluated: int, t0: float,
            preference: str = "") -> LayoutResult:
    layout = Layout(
        tp=int(cands.tp[i]), pp=int(cands.pp[i]), dp=int(cands.dp[i]), cp=int(cands.cp[i]), ep=int(cands.ep[i]),
        vp=int(cands.vp[i]), micro_batch=int(cands.mb[i]), recompute=RECOMPUTE[int(cands.recompute[i])],
        zero=int(cands.zero[i]),
    )
    rate = float(sc.tokens_per_s[i])
    used = int(sc.units_used[i])
    mfu = model_flops_per_token(arch, wl.seq_len) * rate / (used * chip.mfu_peak_flops(wl.precision))
    return LayoutResult(
        layout=layout, units_available=units, units_used=used, tokens_per_s=rate,
        step_time_s=float(sc.step_time_s[i]), mfu=float(mfu), memory_per_chip_gib=float(sc.memory_bytes[i] / GIB),
        micro_batches=int(sc.micro_batches[i]), layouts_evaluated=evaluated, search_seconds=time.perf_counter() - t0,
        preference=preference,
    )


def _best_index(sc, fits) -> int:
    """Fastest fitting candidate; among those within 0.1% of it, the fewest chips, then the least memory."""
    tps = np.where(fits, sc.tokens_per_s, -np.inf)
    near = np.nonzero(tps >= tps.max() * 0.999)[0]
    order = np.lexsort((sc.memory_bytes[near], sc.units_used[near], -tps[near]))
    return int(near[order[0]])


# how exotic each feature is for a practitioner (0: what a Megatron-Core/NeMo recipe does by default): interleaving,
# ZeRO stages above the distributed optimizer (ZeRO-1), context parallelism, expert parallelism (per doubling),
# recompute beyond selective (NeMo/Megatron-Bridge guidance: selective first, full only when it does not fit, S120)
_RECOMPUTE_EXOTIC = {"none": 0.0, "selective": 0.0, "mlp": 0.5, "block": 1.0, "full": 1.0}


def complexity(c: Candidates) -> np.ndarray:
    """How many exotic features each candidate layout uses (lower: simpler to run)."""
    rc = np.array([_RECOMPUTE_EXOTIC.get(r, 1.0) for r in RECOMPUTE])[c.recompute]
    return ((c.vp > 1) * 1.0 + np.maximum(c.zero - 1, 0) * 1.0 + (c.cp > 1) * 1.0
            + np.log2(np.maximum(c.ep, 1)) * 0.25 + rc)


def _features(c: Candidates, i: int, other: Candidates, j: int) -> list[str]:
    """The exotic features candidate ``i`` of ``c`` uses beyond candidate ``j`` of ``other``."""
    out = []
    if c.vp[i] > 1 and c.vp[i] != other.vp[j]:
        out.append(f"interleaving x{int(c.vp[i])}")
    if c.zero[i] > max(other.zero[j], 1):
        out.append(f"ZeRO-{int(c.zero[i])}")
    if c.cp[i] > other.cp[j]:
        out.append(f"context parallelism {int(c.cp[i])}")
    if c.ep[i] > other.ep[j]:
        out.append(f"expert parallelism {int(c.ep[i])}")
    ra, rb = RECOMPUTE[int(c.recompute[i])], RECOMPUTE[int(other.recompute[j])]
    if _RECOMPUTE_EXOTIC.get(ra, 1.0) > _RECOMPUTE_EXOTIC.get(rb, 1.0):
        out.append(f"{ra} recompute")
    return out or ["a different layout"]


def _prefer_simpler(arch, system, wl, pin, cands: Candidates, sc, fits, i: int, terms: ShapeTerms | None = None,
                    rows: np.ndarray | None = None):
    """The simplest layout whose speed is within SIMPLER_TOLERANCE of the fastest, keeping more chips never slower.

    The choice is made among the layouts on ``k`` chips that need at most the memory ``m`` of the fastest layout
    (``k`` chips and ``m`` bytes: what the fastest layout uses), so it is the same on any pool size and any chip
    memory on which that layout is the fastest; and it is never slower than the fastest layout on ``k - 1`` chips
    nor than the fastest that needs less than ``m``, so more chips or more memory never give a slower layout.
    Layouts are re-scored at ``k`` and ``k - 1`` chips
    only for the shapes within the tolerance on the pool's own count (a shape on fewer chips is never faster).
    Returns (candidates, scores, index, note); the note says what the faster layout uses, empty when the fastest
    is already the simplest. ``terms``: ``shape_terms`` holding the candidates' at ``rows``, when known.
    """
    best = float(sc.tokens_per_s[i])
    near = np.nonzero(fits & (sc.tokens_per_s >= best * (1 - SIMPLER_TOLERANCE)))[0]
    cx = complexity(cands)
    if len(near) <= 1 or cx[near].min() >= cx[i]:
        return cands, sc, i, ""
    shapes = cands.take(near)
    near_terms = terms.take(rows[near]) if terms is not None else shape_terms(arch, system, wl, shapes)
    k = int(sc.units_used[i])
    cap = usable_hbm_bytes(system.chip)
    dk, okk = shapes_on(shapes, k, wl, pin)
    idx = np.nonzero(okk)[0]
    if not len(idx):
        return cands, sc, i, ""
    ck = shapes.take(idx, dk)
    sk = evaluate_on(arch, system, wl, ck, near_terms.take(idx))
    rk = np.where(sk.memory_bytes <= cap, sk.tokens_per_s, -np.inf)
    top = int(np.argmax(rk))
    need = float(sk.memory_bytes[top])  # what the fastest layout needs
    rk = np.where(sk.memory_bytes <= need, rk, -np.inf)
    below = rk[sk.memory_bytes < need]
    floor = max(float(below.max()), 0.0) if len(below) else 0.0  # the fastest on less memory
    if k > 1:
        d1, ok1 = shapes_on(shapes, k - 1, wl, pin)
        idx1 = np.nonzero(ok1)[0]
        if len(idx1):
            s1 = evaluate_on(arch, system, wl, shapes.take(idx1, d1), near_terms.take(idx1))
            r1 = np.where(s1.memory_bytes <= cap, s1.tokens_per_s, -np.inf)
            floor = max(float(r1.max()), floor)
    threshold = max(float(rk.max()) * (1 - SIMPLER_TOLERANCE), floor)
    ok = rk >= threshold
    if not ok.any():
        return cands, sc, i, ""
    ckx = complexity(ck)
    order = np.lexsort((sk.memory_bytes, -rk, np.where(ok, ckx, np.inf)))
    j = int(order[0])
    if ckx[j] >= cx[i]:
        return cands, sc, i, ""
    gain = best / float(rk[j]) - 1.0
    if gain < 5e-4:  # as fast (within _best_index's 0.1% tie): simpler, nothing to say
        return ck, sk, j, ""
    note = (f"a layout {gain:.1%} faster on paper uses {' and '.join(_features(cands, i, ck, j))}; the simpler one is "
            f"shown (within the model's {SIMPLER_TOLERANCE:.0%} layout-to-layout tolerance)")
    return ck, sk, j, note


def _infeasible(chip: Chip, sc, units: int) -> InfeasiblePlanError:
    need = float(sc.memory_bytes.min()) / GIB if len(sc.memory_bytes) else float("inf")
    return InfeasiblePlanError(
        f"needs {need:.1f} GiB per chip in the leanest layout, {chip.id} has {chip.hbm_gib:g} GiB "
        f"({usable_hbm_bytes(chip) / GIB:.1f} usable) on {units:,} chip{'' if units == 1 else 's'}",
        needed_gib=need, available_gib=chip.hbm_gib,
    )


def best_layout(arch: ModelArch, system: System | Chip, wl: TrainingSetup, units: int,
                pin: Parallelism = Parallelism()) -> LayoutResult:
    """Fastest layout on at most ``units`` chips that fits in memory, or InfeasiblePlanError."""
    t0 = time.perf_counter()
    system = as_system(system)
    chip = system.chip
    if units < 1:
        raise InfeasiblePlanError(f"no chips of {chip.id} to train on")
    cands = build_candidates(arch, system, wl, units, pin)
    if len(cands) == 0:
        raise InfeasiblePlanError(f"no parallel layout of {units} {chip.id} chips matches the pinned dimensions")
    sc = evaluate(arch, system, wl, cands)
    fits = sc.memory_bytes <= usable_hbm_bytes(chip)
    if not fits.any():
        raise _infeasible(chip, sc, units)
    ck, sk, j, note = _prefer_simpler(arch, system, wl, pin, cands, sc, fits, _best_index(sc, fits))
    return _result(arch, chip, wl, ck, sk, j, units, len(cands), t0, note)


# batch shares whose shape scores a planner keeps: the multi-pool modes and the jobs of a portfolio lay a pool out
# at up to 32 shares (strategy/modes.py BATCH_QUANTUM) and a few sizes each; fewer tables re-built the same shares
# over and over (a 5-job portfolio: 8 tables per pool, 494 re-builds in 40 replications; 64: 40% less time)
SHAPE_TABLES = 64
# ... beyond the first SHAPE_TABLES_KEPT, only within a scenario's bytes of tables shared by its pools (1-3 MB a
# table for dense models to 70B, 12-24 MB for DeepSeek-V3's grid): a fleet of many pools keeps what it kept before
SHAPE_TABLES_KEPT = 8
SHAPE_TABLE_BYTES = 192 << 20
BOUND_BLOCK = 256  # shapes the bounded search scores first (numpy's per-call cost against wasted scores)
BOUND_SLACK = 1e-9  # the speed bound is raised by this share so that rounding never puts it under the exact speed


@dataclass
class _ShapeTable:
    """Every layout shape for one batch share, with its scores at the data-parallel degree last seen."""

    shapes: Candidates
    dp: np.ndarray  # the degree each shape was scored at (0: not yet)
    scores: Scores  # at that degree
    keys: _DegreeKeys  # what the shapes' degrees depend on
    terms: ShapeTerms  # of every shape of the planner at this batch's micro-batch options (shared by the tables)
    index: np.ndarray  # each shape's row in ``terms``
    t_mb: np.ndarray  # each shape's micro-batch time on its slowest stage [s] (``ShapeTerms``, no block share)
    bubble: np.ndarray  # ... and its pipeline bubble [micro-batch slots]

    @functools.cached_property
    def nbytes(self) -> int:
        """Memory the table holds [bytes] (its arrays never change size)."""
        return (self.shapes.nbytes + self.dp.nbytes + self.scores.nbytes + self.keys.nbytes + self.index.nbytes
                + self.t_mb.nbytes + self.bubble.nbytes)

    def bound(self, idx: np.ndarray, group_dp: np.ndarray, batch_seqs: int) -> np.ndarray:
        """At least the sequences per second of the shapes at ``idx``, never less (``group_dp``: each group's degree).

        Their step without the data-parallel and optimizer terms, which are never negative: the micro-batches
        and the bubble at the slowest stage's pace, times the wait for the slowest chip (steptime.evaluate_on; the
        bubble here is the least, (pp - 1) / vp: fewer micro-batches than stages only add to it there).
        Block recompute only adds work to a micro-batch, so its terms at no block share bound it too. What
        depends on the degree is worked out per group of shapes (``_DegreeKeys``), what depends on the shape
        per shape.
        """
        keys = self.keys
        d = np.maximum(group_dp, 1).astype(float)  # (a group with no replica has no candidate in ``idx``)
        m = np.ceil(float(batch_seqs) / (d * keys.mb))
        jitter = 1.0 + STEP_JITTER_CV * np.sqrt(2.0 * np.log(np.maximum(keys.mp * d, 2.0)))
        g = keys.inverse[idx]
        return float(batch_seqs) / ((m[g] + self.bubble[idx]) * self.t_mb[idx] * jitter[g]) * (1.0 + BOUND_SLACK)


@dataclass
class _DegreeKeys:
    """Shapes grouped by what their data-parallel degree depends on: model-parallel chips, ep and micro-batch.

    A grid of tens of thousands of shapes has a few hundred such groups; ``on`` works out each group's degree
    once (``shapes_on``'s answer, for every shape).
    """

    mp: np.ndarray  # tp x pp x cp of each group
    ep: np.ndarray
    mb: np.ndarray
    count: np.ndarray  # shapes in each group
    inverse: np.ndarray  # each shape's group

    @staticmethod
    def of(c: Candidates) -> _DegreeKeys:
        """The groups of ``c``'s shapes."""
        mp = (c.tp * c.pp * c.cp).astype(np.int64)
        ep, mb = c.ep.astype(np.int64), c.mb.astype(np.int64)
        e, m = int(ep.max(initial=0)) + 1, int(mb.max(initial=0)) + 1
        uniq, inverse = np.unique((mp * e + ep) * m + mb, return_inverse=True)  # one integer per group
        inverse = inverse.reshape(-1).astype(np.int32)
        return _DegreeKeys(uniq // (e * m), uniq // m % e, uniq % m, np.bincount(inverse, minlength=len(uniq)),
                           inverse)

    @property
    def nbytes(self) -> int:
        return self.mp.nbytes + self.ep.nbytes + self.mb.nbytes + self.count.nbytes + self.inverse.nbytes

    def groups_on(self, units: int, wl: TrainingSetup, pin: Parallelism) -> tuple[np.ndarray, np.ndarray]:
        """Each group's degree on ``units`` chips, and whether its shapes are candidates there."""
        dp, ok = _fill_dp(self.mp, 1, 1, self.ep, self.mb, units, wl, pin)
        return dp, ok & (self.mp <= units)

    def per_shape(self, group_dp: np.ndarray, group_ok: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``groups_on``'s answer for every shape (each takes its group's)."""
        return group_dp[self.inverse], group_ok[self.inverse]

    def on(self, units: int, wl: TrainingSetup, pin: Parallelism) -> tuple[np.ndarray, np.ndarray]:
        """``shapes_on`` for every shape: its degree on ``units`` chips, and whether it is a candidate."""
        return self.per_shape(*self.groups_on(units, wl, pin))


class LayoutPlanner:
    """Layouts over time for the simulation, called per re-plan, never per event.

    - ``layout(units)``: the exact search on at most ``units`` chips, cached (it depends on ``units``
      alone, so replications agree on every worker);
    - ``min_units``: the fewest chips on which some layout fits.
    """

    def __init__(self, arch: ModelArch, system: System | Chip, wl: TrainingSetup, max_units: int,
                 pin: Parallelism = Parallelism(), table_bytes: int = SHAPE_TABLE_BYTES):
        self.system = as_system(system)
        self.table_bytes = table_bytes  # what its shape tables may hold beyond the first SHAPE_TABLES_KEPT
        chip = self.system.chip
        self.arch, self.chip, self.wl, self.pin = arch, chip, wl, pin
        self._cache: dict[tuple[int, int], LayoutResult | None] = {}
        # per batch share, the answers by what they depend on: each group's degree and whether it is a candidate
        # (``_search``): counts that give every group the same degree get the same layout
        self._by_degrees: dict[tuple[int, bytes], LayoutResult | None] = {}
        self._tables: dict[int, _ShapeTable] = {}  # per batch share: every shape's last scores (``_search``)
        self._every: _DegreeKeys | None = None  # every shape at the whole batch (a share's are a subset of it)
        # every shape and its ``shape_terms``, per micro-batch options (a share of the batch may offer fewer)
        self._shape_sets: dict[tuple, tuple[Candidates, ShapeTerms]] = {}
        if max_units < 1:  # (the lean search below would blame pins a scenario may not have)
            raise InfeasiblePlanError(f"no chips of {chip.id} to train on")
        self.min_units = self._leanest(max_units)
        if self.layout(max_units) is None:
            raise InfeasiblePlanError(f"no layout of {max_units} {chip.id} chips fits")

    def _leanest(self, max_units: int) -> int:
        """Fewest chips on which some layout fits (full recompute, ZeRO-3, one micro-batch)."""
        p = self.pin
        full = "full" if "full" in self.system.stack.recompute else None
        lean = Parallelism(tp=p.tp, pp=p.pp, cp=p.cp, ep=p.ep, vp=p.vp, micro_batch=p.micro_batch or 1,
                           recompute=p.recompute or full, zero=(3 if 3 in self.system.stack.zero else None)
                           if p.zero is None else p.zero, dp=p.dp)
        best = None
        dps = [p.dp] if p.dp else [2**k for k in range(0, int(math.log2(max(max_units, 1))) + 1)]
        for dp in dps:
            c = build_candidates(self.arch, self.system, self.wl, max_units, lean.model_copy(update={"dp": dp}))
            if len(c) == 0:
                continue
            sc = evaluate(self.arch, self.system, self.wl, c)
            fits = sc.memory_bytes <= usable_hbm_bytes(self.chip)
            if fits.any():
                u = int(np.where(fits, sc.units_used, np.inf).min())
                best = u if best is None else min(best, u)
        if best is None:
            c = build_candidates(self.arch, self.system, self.wl, max_units, lean)
            if len(c) == 0:
                raise InfeasiblePlanError(f"no parallel layout of {max_units} {self.chip.id} chips matches the pins")
            # the need stated as `estimate` states it (best_layout): the least memory of every layout, not of the
            # lean ones only (another recompute or ZeRO choice may need less: 855.4 GiB against 856.9)
            every = build_candidates(self.arch, self.system, self.wl, max_units, p)  # the lean ones among them
            raise _infeasible(self.chip, evaluate(self.arch, self.system, self.wl, every), max_units)
        return best

    def _setup(self, batch_seqs: int | None) -> TrainingSetup:
        if batch_seqs is None or batch_seqs == self.wl.global_batch_seqs:
            return self.wl
        return replace(self.wl, global_batch_seqs=max(1, int(batch_seqs)))

    def layout(self, units: int, batch_seqs: int | None = None) -> LayoutResult | None:
        """Fastest layout on at most ``units`` chips (for a share ``batch_seqs`` of the batch); None when none fits."""
        if units < self.min_units:
            return None
        b = batch_seqs if batch_seqs is not None else self.wl.global_batch_seqs
        key = (units, b)
        if key not in self._cache:
            # the search covers every layout on at most ``units`` chips, so the answer depends on ``units``
            # alone, never on which counts were asked before (replications on any worker agree)
            self._cache[key] = self._search(units, b)
        return self._cache[key]

    def _shape_set(self, wl: TrainingSetup) -> tuple[Candidates, ShapeTerms]:
        """Every layout shape at ``wl``'s batch and their ``shape_terms`` (the batch only bounds the micro-batch)."""
        key = tuple(shape_axes(self.arch, self.system, wl, self.pin)["micro_batch"])
        if key not in self._shape_sets:
            shapes = layout_shapes(self.arch, self.system, wl, self.pin)
            self._shape_sets[key] = shapes, shape_terms(self.arch, self.system, wl, shapes, block_paces=True)
        return self._shape_sets[key]

    def _fitting_shapes(self, wl: TrainingSetup) -> tuple[Candidates, ShapeTerms, np.ndarray]:
        """The shapes that fit in memory at some chip count (the rest can never be picked).

        A chip's memory never grows with the data-parallel degree (ZeRO shards the state over more
        replicas; fewer micro-batches are in flight), so a shape that does not fit at the most replicas
        the batch allows (one micro-batch each) fits nowhere. Returns them, the terms of ``_shape_set`` and their
        rows there.
        """
        shapes, terms = self._shape_set(wl)
        if self.pin.dp or not len(shapes):
            return shapes, terms, np.arange(len(shapes))
        most = np.maximum(wl.global_batch_seqs // shapes.mb, 1)
        most = np.maximum((most // shapes.ep) * shapes.ep, shapes.ep)
        widest = replace(shapes, dp=most)
        memory = memory_on(self.arch, self.system, wl, widest, terms).bytes
        keep = np.nonzero(memory <= usable_hbm_bytes(self.chip))[0]
        return shapes.take(keep), terms, keep

    def _evaluated(self, units: int, wl: TrainingSetup) -> int:
        """How many layouts ``best_layout`` scores on ``units`` chips at ``wl``'s batch (what it reports).

        A share of the batch changes only the micro-batch sizes on offer (those up to it; a pinned one stays):
        its grid is the whole batch's without the larger micro-batches (``layout_shapes``).
        """
        if self._every is None:
            self._every = _DegreeKeys.of(layout_shapes(self.arch, self.system, self.wl, self.pin))
        e = self._every
        ok = e.groups_on(units, wl, self.pin)[1]
        if not self.pin.micro_batch:
            ok &= e.mb <= wl.global_batch_seqs
        return int(e.count[ok].sum())

    def _search(self, units: int, b: int) -> LayoutResult | None:
        """``best_layout(units)`` for a batch share of ``b`` sequences, scoring only what changed and could win.

        Every shape's score depends on the shape and its data-parallel degree alone: the scores of the last
        degree seen are kept per shape, and a shape is scored again only when its degree differs. Its terms that
        no degree changes (``steptime.shape_terms``) are worked out once per shape. A bound on each shape's speed
        (``_ShapeTable.bound``) leaves unscored the shapes that can be neither the fastest nor within
        SIMPLER_TOLERANCE of it. The candidates that can matter, their order and the pick are those of
        ``best_layout``, so the answer is the same, bit for bit, whatever was asked before
        (tests/test_search.py).
        """
        t0 = time.perf_counter()
        wl = self._setup(b)
        tab = self._tables.pop(b, None)
        if tab is None:
            shapes, terms, rows = self._fitting_shapes(wl)
            tab = _ShapeTable(shapes, np.zeros(len(shapes), dtype=shapes.tp.dtype), Scores.empty(len(shapes)),
                              _DegreeKeys.of(shapes), terms, rows, terms.t_mb[rows], terms.bubble[rows])
        self._tables[b] = tab  # most recently used last
        held = sum(t.nbytes for t in self._tables.values())
        while len(self._tables) > SHAPE_TABLES or (len(self._tables) > SHAPE_TABLES_KEPT
                                                    and held > self.table_bytes):
            held -= self._tables.pop(next(iter(self._tables))).nbytes
        group_dp, group_ok = tab.keys.groups_on(units, wl, self.pin)
        # the search reads ``units`` only through the groups' degrees and candidacy: another count that gives them
        # the same has the same answer, but for the count it was asked on and the layouts it counts
        degrees = (b, hashlib.blake2b(group_dp.tobytes() + group_ok.tobytes(), digest_size=16).digest())
        if degrees in self._by_degrees:
            same = self._by_degrees[degrees]
            return None if same is None else replace(same, units_available=units,
                                                    layouts_evaluated=self._evaluated(units, wl),
                                                    search_seconds=time.perf_counter() - t0)
        self._by_degrees[degrees] = found = self._scored(units, b, wl, tab, group_dp, group_ok, t0)
        return found

    def _scored(self, units: int, b: int, wl: TrainingSetup, tab: _ShapeTable, group_dp: np.ndarray,
                group_ok: np.ndarray, t0: float) -> LayoutResult | None:
        """``_search``'s branch and bound on the groups' degrees ``group_dp`` (candidates: ``group_ok``)."""
        dp, ok = tab.keys.per_shape(group_dp, group_ok)  # the groups' degrees for the bound, each shape's for the rest
        evaluated = self._evaluated(units, wl)
        idx = np.nonzero(ok)[0]
        if not len(idx):
            return None
        # branch and bound: the shapes of the highest bounds on their speed are scored first, then every shape whose
        # bound is within SIMPLER_TOLERANCE of the fastest fitting layout so far; the others can be neither the
        # fastest nor near it (what ``_best_index`` and ``_prefer_simpler`` read), so the answer is the same
        bound = tab.bound(idx, group_dp, b) * float(wl.seq_len)
        cap = usable_hbm_bytes(self.chip)
        best, left = -np.inf, np.ones(len(idx), dtype=bool)
        while True:
            take = np.nonzero(left & ~(bound < best * (1 - SIMPLER_TOLERANCE)))[0]
            if not len(take):
                break
            if best == -np.inf and len(take) > BOUND_BLOCK:  # nothing known yet: the most promising block first
                take = take[np.argpartition(-bound[take], BOUND_BLOCK - 1)[:BOUND_BLOCK]]
            left[take] = False
            rows = idx[take]
            stale = rows[dp[rows] != tab.dp[rows]]
            if len(stale):
                tab.scores.put(stale, evaluate_on(self.arch, self.system, wl, tab.shapes.take(stale, dp),
                                                  tab.terms.take(tab.index[stale])))
                tab.dp[stale] = dp[stale]
            fit = rows[tab.scores.memory_bytes[rows] <= cap]
            if len(fit):
                best = max(best, float((tab.scores.tokens_per_step[fit] / tab.scores.step_time_s[fit]).max()))
        idx = idx[~left]  # in the order of the exhaustive search (its ties break the same way)
        cands, sc = tab.shapes.take(idx, dp), tab.scores.take(idx)
        fits = sc.memory_bytes <= cap
        if not fits.any():
            return None
        ck, sk, j, note = _prefer_simpler(self.arch, self.system, wl, self.pin, cands, sc, fits, _best_index(sc, fits),
                                          tab.terms, tab.index[idx])
        return _result(self.arch, self.chip, wl, ck, sk, j, units, evaluated, t0, note)
