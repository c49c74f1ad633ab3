"""The interface every strategy mode implements, and what they share: sites, links and per-pool layouts.

A ``Strategy`` turns the chips available in each pool right now into a ``Plan``: which pools train, on
which layout, at what useful tokens/s, and what crosses the links. The time simulation asks for a plan
whenever capacity changes; ``planner estimate`` and ``planner compare`` ask at the pools' full size.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field, replace
from functools import cached_property

from ..fmt import fmt_duration
from ..perf import reliability
from ..perf.params import count_params, executed_flops_per_token, model_flops_per_token
from ..perf.search import LayoutPlanner, LayoutResult
from ..perf.steptime import LINK_EFFICIENCY, fastest_flops
from ..scenario import Scenario
from ..units import GBPS_TO_BYTES, HOURS_PER_DAY, SECONDS_PER_HOUR

# gradients and DiLoCo pseudo-gradients cross sites in bf16 (Douillard et al. 2025, Streaming DiLoCo, sec. 3)
CROSS_SITE_BYTES_PER_PARAM = 2.0
# plans are made for chip counts on a geometric grid below each pool's full size (at most 0.5% of the chips
# left out while a few nodes are in repair), so the layouts of nearby counts are searched once
GRID_RATIO = 1.005
# aligned grid counts: 2^ALIGNED_BITS an octave (1,024, 1,280, 1,536, 1,792, 2,048, ...): the counts of whole servers
# that data-parallel degrees of a 2^k-sequence batch fill; a finer alignment (16 an octave) gave the seed's job
# 4x the re-plans at its restarts (50 a replication, each a layout search) for the same finish
ALIGNED_BITS = 2
# the job-size search steps down by 10%: kept tokens/s is flat near its peak (Daly's goodput is smooth in the job's
# MTBF), so a size within 10% of the best one loses well under 1% (tests/test_mixing.py checks a finer search)
SIZE_RATIO = 0.9
MAX_SIZE_STEPS = 200  # 0.9^200 = 7e-10: below one chip of any pool the scenario format allows
# chips a layout may leave out before it counts as a limit (the 0.5% plan grid leaves a node or two in repair out)
LAYOUT_LIMIT_SHARE = 1.0
# sets of sites weighed whole up to this many sites (2^5 - 1 = 31 sets): diloco's fastest set, and the plans on fewer
# sites a job takes when a transfer does not pay; beyond it, every site and each alone
SUBSET_SITES = 5
SIZE_GAIN = 0.001  # a smaller job must keep 0.1% more kept tokens/s to be taken (layout rounding noise)
# a job on up to this many pools weighs every set of them left out (2^n - 2 sets); on more, its DROP_WORST_MAX worst
DROP_POOLS_MAX = 4
DROP_WORST_MAX = 8
# pools cut alone (``_size_each_pool``): the POOL_CUT_MAX with the most chips (64 pools cut one by one took 353 s a
# replication, where 8 s before)
POOL_CUT_MAX = 8
# one pool cut alone (size_job): its levels POOL_COARSE apart down to POOL_SIZE_FLOOR of its chips (a deeper cut is
# near the mode on the other pools alone, which the engine weighs as alternatives and auto as other modes), then
# POOL_FINE apart around the best when it keeps within SIZE_MISS_DROP of the best so far (a layout's replicas step
# its speed: 1,953 sequences over 131 Ascend replicas is 15 micro-batches each, over 123 it is 16, a 5% window)
POOL_COARSE = 0.9
POOL_FINE = 0.97
POOL_SIZE_FLOOR = 0.5
SIZE_MISS_DROP = 0.01
# a smaller job's speed per chip may exceed the full plan's by this much beyond filling its pipeline bubble (fewer
# data-parallel replicas: less gradient traffic, a larger optimizer shard amortised over more micro-batches); the
# search skips sizes that cannot beat the best even so. Refit-free: a test checks the search against a fine one.
SIZE_EFFICIENCY_GAIN = 0.25
GOODPUT_MEMO = 1 << 15  # expected goodputs kept per context (a few MB)


def aligned_bits(ratio: float) -> int:
    """Aligned grid counts per octave, as a power of two: 4, and never more than the geometric ones (``on_grid``)."""
    return max(0, min(ALIGNED_BITS, int(math.log2(math.log(2.0) / math.log(ratio)))))


def aligned_step(units: int, bits: int) -> int:
    """The spacing of aligned grid counts in the octave of ``units``: 2^(floor(log2 units) - bits), at least 1."""
    return 1 << max(int(units).bit_length() - 1 - bits, 0)


@functools.lru_cache(maxsize=1 << 16)  # pure, and asked at each growth check of every replication
def on_grid(units: int, full: int, ratio: float = GRID_RATIO) -> int:
    """The largest grid count at or below ``units`` (``full`` itself when all chips are there).

    The grid counts are the pool's full size divided by powers of ``ratio``, and the counts aligned to powers of
    two (2^ALIGNED_BITS an octave: 1,024, 1,280, 1,536, 1,792, 2,048, ...). Layouts fit the aligned counts (whole
    servers, data-parallel degrees that divide a batch of 2^k sequences): 1,024 chips of a pool planned at 1,120
    are planned as 1,024, not as the geometric 1,023 (on which the fastest layout of llama3-8b took 824 chips).
    """
    if units >= full or units <= 0:
        return min(units, full) if units > 0 else 0
    k = math.ceil(math.log(full / units) / math.log(ratio))
    geometric = min(units, int(full / ratio**k)) if k > 0 else units
    step = aligned_step(units, aligned_bits(ratio))
    return max(geometric, units - units % step)


def _level_k(full: int, ratio: float, k: int, node: int) -> int:
    """The k-th geometric level of ``on_levels``: ``full / ratio^k`` truncated, then rounded down to whole servers."""
    g = int(full / ratio**k)
    return g - g % node


def _geometric_level(units: int, full: int, ratio: float, node: int) -> int:
    """The largest ``_level_k`` (k >= 1) at or below ``units``."""
    k = max(1, math.floor(math.log(full / max(units, 1)) / math.log(ratio)) - 1)
    while (g := _level_k(full, ratio, k, node)) > units:
        k += 1
    return g


@functools.lru_cache(maxsize=1 << 16)
def on_levels(units: int, full: int, ratio: float = GRID_RATIO, node: int = 0) -> int:
    """The grid of a portfolio's shared pools: ``on_grid``'s counts in whole servers of ``node`` chips (0: ``on_grid``).

    The levels are ``full``, ``full / ratio^k`` truncated and rounded down to whole servers, and the aligned counts
    (``on_grid``'s); a count's level is the largest level at or below it. Each level is its own level, so what a
    later job is handed (planner/sim/portfolio.share_level) is what it plans on: ``on_grid`` rounded such a count
    down once more (688 of 1,024 at 1.05, 693 in whole servers, to 660; 89 to 85).
    """
    if node <= 0 or units >= full or units <= 0:
        return on_grid(units, full, ratio)
    top = full - full % node  # the pool in whole servers (a pool of 138 chips, 8 a server: 136) is a level too
    if units >= top:
        return top
    step = max(aligned_step(units, aligned_bits(ratio)), node)
    aligned = units - units % step  # (a power of two at least ``node``: whole servers)
    return max(_geometric_level(units, full, ratio, node), aligned - aligned % node)


def at_level(grid_count: int, units: int, levels: tuple[int, ...]) -> int:
    """``grid_count`` (of ``units``), or the largest of ``levels`` at or below ``units`` when that is more.

    ``levels``: sorted, the usable chips a pool's dated steps bring (``Context.dated``, planner/sim/power.py
    ``dated_levels``): plans are made on them exactly, as on the grid counts. On the grid alone, 700 chips in
    service of a pool whose last 8 chips came long after the job planned on 697, and the job finished 3.3% later
    than with no such delivery.
    """
    if levels:
        i = bisect.bisect_right(levels, units)
        if i and levels[i - 1] > grid_count:
            return levels[i - 1]
    return grid_count


def level_above(threshold: float, units: int, levels: tuple[int, ...]) -> float:
    """``threshold`` (``levels_above`` of ``units``), or the first of ``levels`` above ``units`` when sooner."""
    i = bisect.bisect_right(levels, units)
    return min(threshold, levels[i]) if i < len(levels) else threshold


@functools.lru_cache(maxsize=1 << 16)
def levels_above(units: int, full: int, ratio: float = GRID_RATIO, node: int = 0) -> float:
    """``grid_above`` of ``on_levels``: the fewest chips whose level exceeds that of ``units``."""
    if node <= 0:
        return grid_above(units, full, ratio)
    if units >= full:
        return math.inf
    level = on_levels(units, full, ratio, node)
    top = full - full % node
    nxt, k = (top if level < top else full), 1
    while (g := _level_k(full, ratio, k, node)) > level:  # the geometric levels from the top down: the last above
        nxt, k = g, k + 1
    step = max(aligned_step(max(level, 1), aligned_bits(ratio)), node)
    nxt = min(nxt, (level // step + 1) * step)  # the next aligned count (the next power of two is one)
    return max(nxt, units + 1)


@functools.lru_cache(maxsize=1 << 16)
def grid_above(units: int, full: int, ratio: float = GRID_RATIO) -> float:
    """At most the fewest chips whose grid count exceeds that of ``units`` (inf when ``units`` is on the top).

    A lower bound, cheap to compute: no count below it plans on a larger grid count than ``units`` does (a
    count's grid count never exceeds the count), so a job that checked ``units`` need not look again before
    a pool reaches it.
    """
    g = on_grid(units, full, ratio)
    if g >= full:
        return math.inf
    if g <= 0:
        return 1
    step = aligned_step(g, aligned_bits(ratio))
    aligned = (g // step + 1) * step  # the next aligned count (in g's octave, or the next power of two)
    j = math.ceil(math.log(full / g) / math.log(ratio)) + 1  # full / ratio**j < g
    while j > 0:
        j -= 1
        v = int(full / ratio**j) if j else full
        if v > g:
            return min(v, aligned)
    return min(full, aligned)


@dataclass(frozen=True)
class Part:
    """One pool's share of a plan."""

    pool: str
    site: str
    layout: LayoutResult
    batch_seqs: int  # sequences of the global batch this pool trains per step

    @property
    def units(self) -> int:
        """Chips this part uses."""
        return self.layout.units_used


@dataclass(frozen=True)
class Plan:
    """What trains now: the parts, the useful tokens/s, and the bytes each link carries."""

    mode: str
    parts: tuple[Part, ...]
    tokens_per_s: float  # useful tokens per second (after any exposed link time and token efficiency)
    mfu: float  # model FLOPs / (chips used x their dense peaks)
    link_bytes_per_s: dict = field(default_factory=dict)  # (site, site) -> average bytes/s over the link
    detail: str = ""
    # what holds the plan below the chips it was offered, in plain sentences with the numbers that decide it
    limits: tuple[str, ...] = ()

    @cached_property
    def units_used(self) -> int:
        """Chips the plan uses in all pools."""
        return sum(p.units for p in self.parts)

    @cached_property
    def pools(self) -> tuple[str, ...]:
        """The pools that train."""
        return tuple(p.pool for p in self.parts)

    @cached_property
    def _units(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for p in self.parts:
            out[p.pool] = out.get(p.pool, 0) + p.units
        return out

    @cached_property
    def _shares(self) -> dict[str, float]:
        total = sum(p.layout.tokens_per_s for p in self.parts)
        out: dict[str, float] = {}
        for p in self.parts:
            out[p.pool] = out.get(p.pool, 0.0) + (p.layout.tokens_per_s / total if total else 0.0)
        return out

    def units_of(self, pool: str) -> int:
        """Chips the plan uses in one pool."""
        return self._units.get(pool, 0)

    def share_of(self, pool: str) -> float:
        """The pool's share of the tokens trained (by its raw speed)."""
        return self._shares.get(pool, 0.0)


def pair(a: str, b: str) -> tuple[str, str]:
    """A site pair in a stable order."""
    return (a, b) if a <= b else (b, a)


def subsets(items) -> list[tuple]:
    """The sets of ``items`` weighed: all of them first, then fewer (every set up to SUBSET_SITES items, else each)."""
    items = tuple(items)
    if len(items) > SUBSET_SITES:
        return [items] + [(x,) for x in items]
    return [c for k in range(len(items), 0, -1) for c in itertools.combinations(items, k)]


@dataclass(frozen=True)
class Handover:
    """What a change of plan costs beyond a re-plan (``Strategy.handover``).

    ``hours``: the wait before the new plan trains; ``moved``: the job left every site it trained at;
    ``sent``: (from site, to site, bytes) of each checkpoint that crossed a link.
    """

    hours: float
    moved: bool
    sent: tuple[tuple[str, str, float], ...]


class Context:
    """What every strategy of one scenario shares: layout planners per pool, sites, links, model size."""

    def __init__(self, scenario: Scenario, planners: dict[str, LayoutPlanner | None]):
        self.scenario = scenario
        self.planners = planners
        self.grid_ratio = GRID_RATIO  # the plan grid (a portfolio's later jobs plan on a coarser one)
        # chips per server of the pools whose grid is in whole servers (``on_levels``: a later job's shared pools)
        self.grid_node: dict[str, int] = {}
        self.pools = {p.name: p for p in scenario.fleet}
        self.site = {p.name: p.site for p in scenario.fleet}
        self.links = {pair(*lk.sites): lk for lk in scenario.links}
        self.params = count_params(scenario.workload.arch).total
        self.flops_per_token = model_flops_per_token(scenario.workload.arch, scenario.workload.seq_len)
        # what a token's step runs of those model FLOPs (the causal mask's half of the scores is skipped): the caps
        # on speed (``fastest_tokens_per_s``, a drawn model error) are of the FLOPs run, not of PaLM's count
        self.executed_share = executed_flops_per_token(scenario.workload.arch,
                                                       scenario.workload.seq_len) / self.flops_per_token
        self.seq_len = scenario.workload.seq_len
        self.precision = scenario.workload.precision
        self.supply: dict = {}  # capacity steps of each pool without delivery risk (the same in every replication)
        # per pool, the usable chips its dated steps bring (``at_level``): set by the simulation, which knows the
        # supply (planner/sim/power.dated_levels, ``set_levels``); None until then (a plan at the pools' full size
        # needs none). ``dated``: those plans are made on, per pool (none on a grid of whole servers)
        self.levels: dict[str, tuple[int, ...]] | None = None
        self.dated: dict[str, tuple[int, ...]] = {}
        self.memo: dict = {}  # what replications may share (the strategy each drawn supply picks; bounded)
        # (pool, share) of the peak FLOP-hours the expected run trains on each: what the model-error band weighs
        # (planner/sim/replication.band_weights; () when it trains nowhere, None until asked)
        self.band_weights: tuple | None = None
        self.strategies: dict[str, tuple] = {}  # per mode: its strategies (modes.options), shared by replications
        self._fastest: dict[str, float] = {}
        self._failures: dict[str, reliability.PoolFailures] = {}
        self._goodput: dict[tuple, float] = {}  # goodput_at per chips per pool (job sizing asks the same sizes often)
        self._terms: dict[tuple, tuple] = {}  # failure_terms per chips per pool, for goodput_at
        self._restarts: dict[tuple, float] = {}  # restart_hours per chips per pool (every restart asks)
        any_planner = next((p for p in planners.values() if p is not None), None)
        self.batch_seqs = any_planner.wl.global_batch_seqs if any_planner else 1

    def set_levels(self, levels: dict[str, tuple[int, ...]]) -> None:
        """Set the pools' dated levels (``levels``) and those their plans are made on (``dated``).

        A pool on a grid of whole servers (``grid_node``, set when the context is made) has none.
        """
        self.levels = levels
        self.dated = {p: () if self.grid_node.get(p) else v for p, v in levels.items()}

    def feasible(self, pool: str) -> bool:
        """Whether some layout of the pool fits at its full size."""
        return self.planners.get(pool) is not None

    def fastest_tokens_per_s(self, pool: str) -> float:
        """Tokens/s one chip of the pool could train at most: its fastest compute rate, nothing else."""
        if pool not in self._fastest:
            planner = self.planners.get(pool)
            rate = fastest_flops(planner.system, planner.wl) if planner is not None else 0.0
            self._fastest[pool] = rate / (self.flops_per_token * self.executed_share)
        return self._fastest[pool]

    def peak_flops(self, pool: str) -> float:
        """The dense peak of one chip of the pool that MFU divides by [FLOP/s] (``Chip.mfu_peak_flops``)."""
        return self.scenario.chip(self.pools[pool].chip).mfu_peak_flops(self.precision)

    def vendor(self, pool: str) -> str:
        """The pool's chip vendor."""
        return self.scenario.chip(self.pools[pool].chip).vendor

    def network_bytes_s(self, pool: str) -> float:
        """Scale-out bandwidth of one chip of the pool [bytes/s]."""
        p = self.pools[pool]
        gbps = p.network_gbps or self.scenario.chip(p.chip).scale_out_gbps
        return gbps * GBPS_TO_BYTES * LINK_EFFICIENCY

    def link(self, site_a: str, site_b: str):
        """The link between two sites, or None."""
        return self.links.get(pair(site_a, site_b))

    def between(self, a: Part, b: Part) -> tuple[float, float] | None:
        """(bandwidth [bytes/s], latency [s]) between two parts, or None when their sites have no link.

        Parts at one site share the data-centre network: every chip of the smaller side sends at once.
        """
        if a.site == b.site:
            bw = min(a.units * self.network_bytes_s(a.pool), b.units * self.network_bytes_s(b.pool))
            return bw, 25e-6
        lk = self.link(a.site, b.site)
        if lk is None:
            return None
        return lk.gbps * GBPS_TO_BYTES * LINK_EFFICIENCY, lk.latency_ms / 1000.0

    def failures(self, pool: str) -> reliability.PoolFailures:
        """The pool's failure figures (its own when set, else the reliability section's)."""
        if pool not in self._failures:
            self._failures[pool] = reliability.pool_failures(self.scenario, self.pools[pool], self.params)
        return self._failures[pool]

    def restart_hours(self, units: dict[str, int]) -> float:
        """Restart of a job on ``units`` chips per pool [h]: its slowest pool's restart at the job's size.

        With failures on, the failures of the job's chips that strike it start it over (its expected length,
        ``reliability.restart_under_failures``).
        """
        key = tuple(units.items())
        hit = self._restarts.get(key)
        if hit is not None:
            return hit
        r = self.base_restart_hours(units)
        if self.scenario.reliability.enabled:
            r = reliability.restart_under_failures(r, self.job_mtbf_hours(units))
        if len(self._restarts) >= GOODPUT_MEMO:  # bounded, as the goodput memo
            self._restarts.pop(next(iter(self._restarts)))
        self._restarts[key] = r
        return r

    def base_restart_hours(self, units: dict[str, int]) -> float:
        """The automated restart of a job on ``units`` chips per pool [h], before failures strike it.

        Its slowest pool's, at the job's size (the engine draws the failures that strike it).
        """
        n = sum(units.values())
        return max((reliability.restart_hours(n, f.restart_base_minutes, f.restart_minutes_per_1000_chips)
                    for p, u in units.items() if u > 0 for f in (self.failures(p),)), default=0.0)

    def manual_terms(self, units: dict[str, int]) -> tuple[float, float]:
        """(share of failures that wait for a manual intervention, mean wait [h]) of a job on ``units`` per pool.

        The pools' largest of each, as the restart is its slowest pool's.
        """
        used = [self.failures(p) for p, u in units.items() if u > 0]
        return max((f.manual_share for f in used), default=0.0), max((f.manual_hours for f in used), default=0.0)

    def failure_restart_hours(self, units: dict[str, int]) -> float:
        """Mean downtime of a restart after a failure [h]: ``restart_hours`` plus the manual interventions' share."""
        return reliability.expected_restart_hours(self.restart_hours(units), *self.manual_terms(units),
                                                  self.job_mtbf_hours(units))

    def stop_restart_hours(self, units: dict[str, int]) -> float:
        """Mean downtime of a restart that follows no failure (a re-plan's) [h]: its failures' manual waits counted."""
        return reliability.expected_restart_hours(self.restart_hours(units), *self.manual_terms(units),
                                                  self.job_mtbf_hours(units), after_failure=False)

    def write_hours(self, units: dict[str, int]) -> float:
        """One blocking checkpoint write of a job on ``units`` chips per pool [h]: its slowest pool's."""
        return max((self.failures(p).write_h for p, u in units.items() if u > 0), default=0.0)

    def job_mtbf_hours(self, units: dict[str, int]) -> float:
        """Mean time between failures of a job on ``units`` chips per pool [h] (inf with none).

        Each pool's chips fail independently at its own rate (Kokolis et al. 2024): the job's rate is their sum.
        """
        rate = sum(n / (self.failures(name).mtbf_chip_days * HOURS_PER_DAY) for name, n in units.items() if n > 0)
        return 1.0 / rate if rate > 0 else math.inf

    def failure_terms(self, units: dict[str, int]) -> tuple[float, float, float, float]:
        """(job MTBF [h], checkpoint write [h], compute between checkpoints [h], mean restart after a failure [h]).

        On ``units`` per pool. Each pool's chips fail independently at its own rate (Kokolis et al. 2024): the job's
        rate is their sum. The restart counts the manual interventions' mean wait (``failure_restart_hours``).
        """
        m = self.job_mtbf_hours(units)
        write_h = self.write_hours(units)
        iv = self.scenario.reliability.checkpoint_interval_hours
        tau = reliability.young_daly_interval_hours(write_h, m) if iv == "auto" else float(iv)
        return m, write_h, tau, self.failure_restart_hours(units)

    def goodput_at(self, units: dict[str, int], train_h: float = math.inf) -> float:
        """Expected share of held time that trains kept work on ``units`` chips per pool, under failures.

        ``reliability.expected_goodput`` (exact for the rules the engine applies event by event). ``train_h``: the
        job's whole training at most [h] (a job shorter than its checkpoint interval has one cycle: its training).
        """
        if not self.scenario.reliability.enabled or sum(units.values()) <= 0:
            return 1.0
        chips = tuple(units.items())
        terms = self._terms.get(chips)
        if terms is None:
            if len(self._terms) >= GOODPUT_MEMO:  # bounded: supplies drawn with delivery risk rarely repeat
                self._terms.pop(next(iter(self._terms)))
            terms = self._terms[chips] = self.failure_terms(units)
        key = (chips, train_h) if train_h < terms[2] else chips  # (the training cuts the cycle only when shorter)
        g = self._goodput.get(key)
        if g is None:
            if len(self._goodput) >= GOODPUT_MEMO:
                self._goodput.pop(next(iter(self._goodput)))
            g = self._goodput[key] = reliability.expected_goodput(*terms, train_h)
        return g

    def train_hours(self, tokens_per_s: float) -> float:
        """Hours the whole job trains at ``tokens_per_s`` (inf at 0)."""
        tokens = self.scenario.workload.tokens
        return tokens / tokens_per_s / SECONDS_PER_HOUR if tokens_per_s > 0 else math.inf

    def expected_goodput(self, plan: Plan) -> float:
        """``goodput_at`` the plan's chips, for the job's training at the plan's speed."""
        units: dict[str, int] = {}
        for p in plan.parts:
            units[p.pool] = units.get(p.pool, 0) + p.units
        return self.goodput_at(units, self.train_hours(plan.tokens_per_s))

    def score(self, plan: Plan) -> float:
        """Kept tokens per second expected of a plan: its speed times its expected goodput under failures."""
        return plan.tokens_per_s * self.expected_goodput(plan)

    def layout_limit(self, offered: dict[str, int], plan: Plan, too_small: tuple[str, ...] = ()) -> str:
        """Why the fastest layout leaves chips out: the batch and the parallel degrees that must divide it.

        ``too_small``: pools offered chips on which no layout fits (each named with the fewest that fit).
        """
        n = sum(offered.values())
        lays = ", ".join(f"{p.pool}: {p.layout.layout.label()}" for p in plan.parts)
        experts = " and a multiple of the expert-parallel degree" if self.scenario.workload.arch.moe else ""
        why = [w for part in plan.parts if (w := self._pinned(part, offered.get(part.pool, 0))
                                            or self._rounding(part, offered.get(part.pool, 0)))]
        why += [f"{p}: no layout fits on its {offered[p]:,} chips" + (
            f" (the fewest that fit: {self.planners[p].min_units:,})" if self.planners.get(p) is not None else "")
            for p in too_small]
        if why:  # what the numbers say of each part that leaves chips out
            return (f"layout: the fastest layout that fits uses {plan.units_used:,} of {n:,} chips ({lays}): "
                    + "; ".join(why))
        return (f"layout: the fastest layout that fits uses {plan.units_used:,} of {n:,} chips ({lays}); the "
                f"degrees a layout may take leave the rest out: data-parallel replicas at most the global batch of "
                f"{self.batch_seqs:,} sequences{experts}, the other degrees dividing the model and the chips per node")

    def _pinned(self, part: Part, offered: int) -> str:
        """A part held below its pool's chips by the degrees the scenario pins there ("" when none is pinned).

        A pool's ``parallelism`` with dp 2 held a 70B job to 128 of 512 chips, and the sentence blamed the batch. (The
        pool by name: a portfolio job's fleet is a part of the file's, so an index would name another pool.)
        """
        pin = self.pools[part.pool].parallelism
        degrees = {k: v for k in ("tp", "pp", "dp", "cp", "ep") if (v := getattr(pin, k, None)) is not None}
        if not degrees or offered <= part.units:
            return ""
        return (f"{part.pool}: its parallelism pins {', '.join(f'{k} {v}' for k, v in degrees.items())}, so its "
                f"layout takes {part.units:,} of its {offered:,} chips")

    @staticmethod
    def _rounding(part: Part, offered: int) -> str:
        """Why a part leaves chips of its pool out, when its numbers say it plainly ("" otherwise).

        More replicas of its shape that would still run as many micro-batches each buy nothing (1,953 sequences over
        123 or 128 replicas of 1: 16 each); chips short of one more replica cannot hold one.
        """
        lay = part.layout.layout
        mp, mb, b = lay.tp * lay.pp * lay.cp, lay.micro_batch, part.batch_seqs
        if offered <= part.units or mp <= 0 or mb <= 0:
            return ""
        room = min(offered // mp, b // mb)  # replicas of this shape the chips and the batch allow
        now = math.ceil(b / (lay.dp * mb))
        if room > lay.dp and math.ceil(b / (room * mb)) == now:
            cap = (f"all its {offered:,} chips allow" if offered // mp <= b // mb else
                   f"the most the batch allows, a micro-batch of {mb} each")
            idle = ""
            if lay.pp > now:  # fewer micro-batches than stages: one still crosses them all (perf.steptime)
                vp = max(lay.vp, 1)
                idle = (f"; {now} micro-batches for {lay.pp} pipeline stages leave it idle "
                        f"{lay.pp - now + (now - 1) / vp:.1f} micro-batch times a step")
            return (f"{part.pool}: {b:,} sequences a step over {lay.dp:,} replicas is {now} micro-batches of {mb} "
                    f"each, and over {room:,} ({cap}) still {now}: more replicas would not step faster{idle}")
        if offered - part.units < mp:
            return (f"{part.pool}: one more replica would take {mp:,} chips (TP{lay.tp} x PP{lay.pp} x CP{lay.cp}), "
                    f"more than the {offered - part.units:,} left of the {offered:,} it was planned on")
        return ""

    def pools_limit(self, offered: dict[str, int], plan: Plan, left: tuple[str, ...], every: Plan | None) -> str:
        """Why the plan leaves whole pools out: on every pool the mode would train slower (or not at all)."""
        n = sum(offered.values())
        out = ", ".join(f"{p} ({offered[p]:,} chips)" for p in left)
        why = f" ({every.detail})" if every is not None and every.detail else ""
        trains = every is not None and every.tokens_per_s > 0
        slower = (f"on every pool it would train {every.tokens_per_s:,.0f} tokens/s{why}, against "
                  f"{plan.tokens_per_s:,.0f} on {' + '.join(plan.pools)}" if trains
                  else "no plan over every pool trains")
        return (f"strategy: {plan.mode} trains on {' + '.join(plan.pools)}, {plan.units_used:,} of {n:,} chips, and "
                f"leaves {out} out: {slower}")

    def failure_limit(self, offered: dict[str, int], chosen: Plan, full: Plan | None) -> str:
        """Why the job takes ``chosen.units_used`` of the chips offered: failures against restarts, in numbers."""
        n_all = sum(offered.values())
        whole = {p.pool: p.units for p in full.parts} if full is not None else offered
        m_all, write_h, tau_all, r_all = self.failure_terms(whole)
        g_all = self.expected_goodput(full) if full is not None else self.goodput_at(whole)
        g_job = self.expected_goodput(chosen)
        m_job, _w, _t, r_job = self.failure_terms({p.pool: p.units for p in chosen.parts})
        kept_all = f" ({full.tokens_per_s * g_all:,.0f} kept tokens/s)" if full is not None else ""
        d = fmt_duration
        never = reliability.RESTART_CAP_HOURS  # a restart that a failure always cuts short: said so, not its hours
        restart_all = (f"a restart of {d(r_all)} on average (failures during it included)" if r_all < never
                       else "a restart that never ends (a failure always comes before it can)")
        restarts_job = f"restarts in {d(r_job)}" if r_job < never else "never gets through a restart"
        return (f"failures: the job trains on {chosen.units_used:,} of {n_all:,} chips: on {sum(whole.values()):,} "
                f"it would fail every {d(m_all)} against {restart_all} and checkpoint writes of {d(write_h)} every "
                f"{d(tau_all)}, keeping {g_all:.0%} of its time{kept_all}; on {chosen.units_used:,} "
                f"it fails every {d(m_job)}, {restarts_job} and keeps {g_job:.0%} "
                f"({chosen.tokens_per_s * g_job:,.0f} kept tokens/s). Chip MTBF, restart and checkpoint times are "
                "inputs: set them from your own logs")

    def mfu(self, tokens_per_s: float, parts: tuple[Part, ...]) -> float:
        """Model FLOPs achieved over the parts' dense peaks."""
        peak = sum(p.units * self.peak_flops(p.pool) for p in parts)
        return self.flops_per_token * tokens_per_s / peak if peak else 0.0

    def gemm_share(self, parts: tuple[Part, ...]) -> float:
        """The most MFU the parts' chips could reach: their sustained GEMM rate over their dense peaks.

        A training step's model FLOPs run no faster than the chip's matmul microbenchmark (catalog
        ``matmul_efficiency``, ``Chip.gemm_flops``): a drawn model error never takes a plan past it.
        """
        peak = sum(p.units * self.peak_flops(p.pool) for p in parts)
        gemm = sum(p.units * self.scenario.chip(self.pools[p.pool].chip).gemm_flops(self.precision) for p in parts)
        return gemm / peak if peak else 0.0


def kept_chips(ctx: Context, size: dict[str, int], fastest: float) -> float:
    """The most chip-time a job on ``size`` keeps under failures: its chips x their expected goodput.

    Its layouts train no faster than ``fastest`` tokens/s a chip: no shorter than at that rate (the bound on their
    goodput, which a shorter job only raises).
    """
    chips = sum(size.values())
    return chips * ctx.goodput_at(size, ctx.train_hours(fastest * chips))


class _Sizes:
    """The job sizes ``size_job`` searches, from the largest down, made and scored only as far as it asks.

    Size k: each pool's chips offered times SIZE_RATIO^(k+1), rounded down to its plan grid (a size's layouts are
    those of grid counts, searched once whatever was offered; ``on_grid``'s own function: its cache is for the
    growth checks, and each plan is sized once); repeats dropped. ``kept[k]``: the most chip-time any layout on it
    keeps under failures (chips x expected goodput, the job's training no shorter than at the fastest compute
    rate: a shorter job cut below its checkpoint interval keeps more).
    """

    def __init__(self, offered: dict[str, int], full: dict[str, int], ctx: Context, fastest: float):
        self.offered, self.full, self.ctx = offered, full, ctx
        self.fastest = fastest  # the fastest compute rate of any pool offered [tokens/s per chip]
        self.total = sum(offered.values())
        self.size: list[dict[str, int]] = []
        self.share: list[float] = []
        self.kept: list[float] = []
        self._share, self._steps = SIZE_RATIO, 0

    def has(self, i: int) -> bool:
        """Whether size ``i`` exists (made now if needed)."""
        while len(self.size) <= i and self._more():
            pass
        return i < len(self.size)

    def _more(self) -> bool:
        """Make the next size; False when none is left (below one chip, or MAX_SIZE_STEPS taken)."""
        while self._steps < MAX_SIZE_STEPS:
            share = self._share
            if max(self.offered.values(), default=0) * share < 1:
                self._steps = MAX_SIZE_STEPS
                break
            self._share *= SIZE_RATIO
            self._steps += 1
            ratio = self.ctx.grid_ratio
            size = {p: on_grid.__wrapped__(int(u * share), self.full[p], ratio) for p, u in self.offered.items()}
            if not self.size or size != self.size[-1]:
                self.size.append(size)
                self.share.append(share)
                self.kept.append(kept_chips(self.ctx, size, self.fastest))
                return True
        return False

    def could_win(self, i: int, speed: _SpeedBound, beat: float) -> bool:
        """Whether the speed bound x the kept chip-time of size ``i`` or of a smaller one exceeds ``beat``.

        The most kept at that size or below bounds any layout on it (a layout may use fewer chips, at a higher
        goodput). Kept chip-time is at most the chips (goodput <= 1), size j has at most ``total x share_j``
        chips, which only falls, and the bound on their speed times their chips only falls with them
        (``_SpeedBound.on_at_most``): the scan stops at the first size whose chips alone cannot exceed ``beat``,
        with the same answer as the maximum over every smaller size.
        """
        j = i
        while self.has(j):
            chips = sum(self.size[j].values())
            if speed.per_chip(chips) * self.kept[j] > beat:
                return True
            if speed.on_at_most(self.total * self.share[j]) * (1 + 1e-9) <= beat:
                return False
            j += 1
        return False


class _SpeedBound:
    """An upper bound on the speed per chip of a job smaller than the full plan, by its chips.

    The fastest compute rate of any pool (``Context.fastest_tokens_per_s``), and the full plan's speed per chip
    with the pipeline bubble it could fill at that size lifted, SIZE_EFFICIENCY_GAIN more for the rest. The same
    shape on x of the full plan's U chips has U/x times the micro-batches per replica (the batch is the same), so
    a part's step (m + b) t_mb becomes at best (m U/x) t_mb for U/x times the tokens per chip: its speed per chip
    rises at most by (m + b) / m, b the full plan's bubble as perf.steptime counts it ((pp - 1) / vp, Narayanan et
    al. 2021 eq. 2, and more when it runs fewer micro-batches than stages), at the part where that is largest.
    No bubble is assumed of the smaller job: its best shape may pipeline less or interleave more than the full
    plan's (a million H100s plan TP8 PP32 with one micro-batch per replica, 31 of 32 micro-batch times idle, where
    20,864 of them train on PP16x8 with 16 each), so the lift is (m + b) / m from the first size down.
    """

    def __init__(self, fastest: float, full: Plan | None):
        self.fastest = fastest
        self.base = 0.0
        self.mb: list[tuple[float, float]] = []
        self.units = 0
        if full is not None and full.units_used:
            self.base = full.tokens_per_s / full.units_used * (1 + SIZE_EFFICIENCY_GAIN)
            self.units = full.units_used
            for p in full.parts:
                m, lay = float(max(p.layout.micro_batches, 1)), p.layout.layout
                vp = max(lay.vp, 1)
                full_bubble = max((lay.pp - 1) / vp, lay.pp - m + (m - 1) / vp) if lay.pp > 1 else 0.0
                self.mb.append((m, full_bubble))

    def _lift(self, chips: float) -> float:
        # the same at every size: per_chip(n) x n then rises with n, so ``on_at_most`` is the bound at ``chips``
        return max((m + b) / m for m, b in self.mb)

    def per_chip(self, chips: float) -> float:
        """The bound on the speed per chip of a job on ``chips`` chips."""
        if not self.units:
            return self.fastest
        return min(self.fastest, self.base * self._lift(chips))

    def on_at_most(self, chips: float) -> float:
        """The most ``per_chip(n) x n`` for any n up to ``chips`` (it rises with n: ``per_chip`` does not change)."""
        return self.per_chip(chips) * chips


class Strategy(ABC):
    """One way to train on a set of pools. ``plan`` is memoised on the available chips."""

    mode: str = ""

    def __init__(self, ctx: Context, pools: tuple[str, ...]):
        self.ctx = ctx
        self.pools = tuple(p for p in pools if ctx.feasible(p))
        self._memo: dict[tuple, Plan | None] = {}
        # what the engine's compiled loop needs of each plan, kept here beside the plans (sim/engine.py)
        self.loop_consts: dict[int, object] = {}
        self._full = {p: ctx.pools[p].usable_units for p in self.pools}
        self._staying: dict[tuple[str, ...], Strategy] = {}  # the same mode on fewer sites (``plan_on``)
        self._handovers: dict[tuple, Handover] = {}

    @property
    def label(self) -> str:
        """e.g. ``sync: ascend-cn + azure-h100``."""
        return f"{self.mode}: {' + '.join(self.pools)}"

    def grid(self, avail: dict[str, int]) -> tuple[int, ...]:
        """The grid counts the plan for ``avail`` depends on (one per pool of the strategy; ``at_level``)."""
        ratio, nodes, dated = self.ctx.grid_ratio, self.ctx.grid_node, self.ctx.dated
        return tuple(at_level(on_levels(n, self._full[p], ratio, nodes.get(p, 0)), n, dated.get(p, ()))
                     for p in self.pools for n in (avail.get(p, 0),))

    def plan(self, avail: dict[str, int], size_for_failures: bool = True) -> Plan | None:
        """The plan for the chips available in each pool now (None: too few chips anywhere).

        With failures on (and ``size_for_failures``), the job may take fewer chips than it has: the job size
        is searched (``size_job``) for the most kept tokens per hour after checkpoints, lost work and
        restarts (``expected_goodput``). The steady-state estimate asks without it: no time axis, no failures.
        """
        grid = self.grid(avail)
        key = (grid, size_for_failures)
        if key not in self._memo:
            self._memo[key] = self._planned(dict(zip(self.pools, grid, strict=True)), size_for_failures)
        return self._memo[key]

    def _undropped(self, avail: dict[str, int]) -> Plan | None:
        """``plan`` sized for failures without leaving pools out (``size_job``'s drops weigh these), memoised apart."""
        grid = self.grid(avail)
        key = (grid, True, "undropped")
        if key not in self._memo:
            self._memo[key] = self._planned(dict(zip(self.pools, grid, strict=True)), True, drops=False)
        return self._memo[key]

    def _planned(self, offered: dict[str, int], size_for_failures: bool, drops: bool = True) -> Plan | None:
        """The plan on the chips ``offered`` (grid counts), its limit said, sized for failures when asked."""
        best = self._plan(offered)
        if best is not None and best.units_used < LAYOUT_LIMIT_SHARE * sum(offered.values()):
            left = tuple(p for p in self.pools if offered.get(p, 0) > 0 and p not in best.pools)
            # a pool too small for any layout is left out by its size; one the mode could train on, by the mode
            # (on every pool it trains slower), not by the layout
            chosen = tuple(p for p in left if self._layout(p, offered[p]) is not None)
            every = self.everywhere(offered) if chosen else None
            best = replace(best, limits=(self.ctx.pools_limit(offered, best, chosen, every) if chosen
                                         else self.ctx.layout_limit(offered, best, left),))
        if size_for_failures and self.ctx.scenario.reliability.enabled:
            best = self.size_job(offered, best, drops)
        return best

    def size_job(self, offered: dict[str, int], full: Plan | None, drops: bool = True) -> Plan | None:
        """The job size with the most expected kept tokens per second, searched down from every chip offered.

        Sizes step down by SIZE_RATIO (each pool by the same share, rounded down to its plan grid). Kept
        tokens/s = speed x goodput rises and then falls as the job grows (more chips, but failures come more
        often and restarts take longer). A size is searched only when it could beat the best so far: its kept
        chip-time at the full plan's speed per chip, with the pipeline bubble that size could fill lifted and up to
        SIZE_EFFICIENCY_GAIN faster still, and never above the fastest compute rate of any of its pools
        (``_SpeedBound``). The bubble matters: a large job whose data-parallel degree the batch caps trains one
        micro-batch per replica and idles pp - 1 micro-batch times per step in its pipeline bubble, where a
        smaller job's replicas fill it with more micro-batches each. The bound of a size counts the most any size
        at or below it could keep (a layout may leave chips out), so it never grows as sizes shrink: the search
        stops at the first size that cannot win. A huge pool is thus sized, never
        refused, whenever some smaller job trains, and layout rounding that dips one size below its neighbours does
        not end the search.
        """
        ctx = self.ctx
        best, score = full, (ctx.score(full) if full is not None else 0.0)
        fastest = max((ctx.fastest_tokens_per_s(p) for p in offered), default=0.0)
        speed = _SpeedBound(fastest, full)
        sizes = _Sizes(offered, self._full, ctx, fastest)
        at = offered  # the chips offered that gave ``best``
        i = 0
        while sizes.has(i):
            if not sizes.could_win(i, speed, score * (1 + SIZE_GAIN)):
                break  # no layout on this size or a smaller one can beat the best
            fewer = sizes.size[i]
            i += 1
            alt = self._plan(fewer)
            alt_score = ctx.score(alt) if alt is not None else 0.0
            if alt_score > score * (1 + SIZE_GAIN):
                best, score, at = alt, alt_score, fewer
        having = [p for p in self.pools if offered.get(p, 0) > 0]
        if drops and len(having) > 1:  # pools left out: the others alone, sized (a plan on every pool can be faster
            # and keep less: 17,920 Ascend chips synced beside 4,897 H100s outran the H100s alone and kept 8% less)
            for alt in self._without_pools(offered, having, score):
                alt_score = ctx.score(alt)
                if alt_score > score * (1 + SIZE_GAIN):
                    best, score = alt, alt_score
                    at = {p: sum(x.units for x in alt.parts if x.pool == p) for p in self.pools}
        if len(having) > 1:
            best, score = self._size_each_pool(at, best, score, fastest)
        if best is None or best is full:
            return best
        return replace(best, limits=(ctx.failure_limit(offered, best, full),))

    def _without_pools(self, offered: dict[str, int], having: list[str], score: float) -> list[Plan]:
        """Plans with pools left out, each sized without leaving more out (``_undropped``), in a fixed order.

        Up to DROP_POOLS_MAX pools with chips: every proper subset of them. More: the k pools whose chips keep least
        as a job alone left out, k = 1 ... DROP_WORST_MAX (a subset's 2^n plans would not end; a fifth pool offered
        switched the search off, and a sync job kept an unreliable pool of 4,096 chips it had left out with four
        pools: 70 days where 11).
        """
        if len(having) <= DROP_POOLS_MAX:  # (the first subset is every pool: the plan already weighed)
            left_out = [set(having) - set(keep) for keep in subsets(having)[1:]]
        else:
            # the k pools that keep least as a job alone (its expected goodput on them) left out, k = 1 ... at most
            # DROP_WORST_MAX (one at a time stopped where only two left out together keep more: a sync job's restart
            # is its slowest pool's)
            alone = sorted(having, key=lambda p: self.ctx.goodput_at({p: offered[p]}))  # (stable: the pools' order)
            left_out = [set(alone[:k]) for k in range(1, min(len(having) - 1, DROP_WORST_MAX) + 1)]
        plans = (self._undropped({p: (0 if p in gone else offered.get(p, 0)) for p in self.pools}) for gone in left_out)
        return [alt for alt in plans if alt is not None]

    def _size_each_pool(self, at: dict[str, int], best: Plan | None, score: float,
                        fastest: float) -> tuple[Plan | None, float]:
        """From the best size ``at``, each pool's chips cut alone (``_cut_pool``): the size that keeps the most.

        The sizes of ``size_job`` take the same share of every pool; on pools of unequal speed per chip the best
        size may take fewer of one pool alone: a 405B job on 8,150 H100s and 23,200 Ascend chips took 30,848 chips,
        where 8,064 and 16,768 keep 3% more tokens/s (the Ascend replicas a batch of 1,953 sequences steps little
        faster on), and 6,308 more powered Ascend chips finished it later.
        """
        largest = sorted((p for p in self.pools if at.get(p, 0) > 0), key=lambda p: -at[p])[:POOL_CUT_MAX]
        for pool in (p for p in self.pools if p in largest):
            if at.get(pool, 0) > 0:
                tried = self._cut_pool(at, pool, score, fastest)
                top = max(tried.values(), key=lambda t: t[0], default=None)
                if top is not None and top[0] > score * (1 + SIZE_GAIN):
                    score, best, at = top
        return best, score

    def _cut_pool(self, at: dict[str, int], pool: str, score: float,
                  fastest: float) -> dict[int, tuple[float, Plan | None, dict[str, int]]]:
        """Sizes with fewer chips of ``pool`` alone, down to POOL_SIZE_FLOOR of ``at``'s: count -> (kept, plan, size).

        The counts are the pool's own levels (its full size x POOL_COARSE^k, then POOL_FINE^j between the coarse
        levels next to the best one when it keeps within SIZE_MISS_DROP of ``score``: a replica count's window can
        be narrower than a coarse step), the same whatever the other pools have, so their layouts are searched once.
        A size whose chips at the fastest compute rate of any pool keep no more than ``score`` is not planned.
        """
        ctx, ratio, full, now = self.ctx, self.ctx.grid_ratio, self._full[pool], at[pool]
        floor = now * POOL_SIZE_FLOOR
        tried: dict[int, tuple[float, Plan | None, dict[str, int]]] = {}

        def trial(level: float) -> float | None:
            """Kept tokens/s at the pool's count nearest ``level`` (None: a count not new, or outside the range)."""
            size = {**at, pool: on_grid.__wrapped__(int(level), full, ratio)}
            if not 0 < size[pool] < now or size[pool] in tried:
                return None
            # no layout on these chips keeps more than all of them at the fastest rate, kept as goodput allows
            if fastest * kept_chips(ctx, size, fastest) <= score * (1 + SIZE_GAIN):
                tried[size[pool]] = (0.0, None, size)
                return 0.0
            alt = self._plan(size)
            tried[size[pool]] = (ctx.score(alt) if alt is not None else 0.0, alt, size)
            return tried[size[pool]][0]

        coarse = [c for k in range(1, MAX_SIZE_STEPS) if floor <= (c := full * POOL_COARSE ** k) < now]
        top = score
        for c in coarse:
            kept = trial(c)
            if kept is not None and kept < top * (1 - SIZE_MISS_DROP):
                break  # fewer of this pool keeps clearly less than the best: fewer still rarely wins
            top = max(top, kept or 0.0)
        if tried and max(t[0] for t in tried.values()) >= score * (1 - SIZE_MISS_DROP):
            top = max(tried, key=lambda n: tried[n][0])  # near the best: the counts between its coarse neighbours
            hi = min((c for c in coarse if c > top), default=now)
            lo = max((c for c in coarse if c < top), default=floor)
            for k in range(1, MAX_SIZE_STEPS):
                level = full * POOL_FINE ** k
                if level <= lo:
                    break
                if level < hi:
                    trial(level)
        return tried

    def everywhere(self, avail: dict[str, int]) -> Plan | None:
        """The mode's plan on every pool it has chips of, when it may leave some out (None: it never does)."""
        return None

    def full_units(self, pool: str) -> int:
        """The pool's chips at its largest (the top of its plan grid)."""
        return self._full[pool]

    def grow_thresholds(self, checked: dict[str, int]) -> dict[str, float]:
        """Per pool, chips below which no faster plan than the one checked on ``checked`` can exist."""
        ratio, nodes, dated = self.ctx.grid_ratio, self.ctx.grid_node, self.ctx.dated
        return {p: level_above(levels_above(n, self._full[p], ratio, nodes.get(p, 0)), n, dated.get(p, ()))
                for p in self.pools for n in (checked.get(p, 0),)}

    def plan_on(self, pools: tuple[str, ...], avail: dict[str, int]) -> Plan | None:
        """The plan that keeps the job where it is: on the strategy's pools at the sites of ``pools``.

        No checkpoint crosses a link to train there (``handover``). The same mode on those pools alone, sized for
        failures as the whole strategy's plans are; the strategy's own plan when they are all its pools.
        """
        sites = {self.ctx.site[p] for p in pools}
        return self._on(tuple(p for p in self.pools if self.ctx.site[p] in sites)).plan(avail)

    def _on(self, pools: tuple[str, ...]) -> Strategy:
        """The same mode on ``pools`` alone (this strategy when they are all its pools), made once."""
        if pools == self.pools:
            return self
        sub = self._staying.get(pools)
        if sub is None:
            sub = self._staying[pools] = type(self)(self.ctx, pools)
        return sub

    def alternatives(self, avail: dict[str, int]) -> list[Plan]:
        """The plans a job may take instead of ``plan(avail)`` when sending it the checkpoint does not pay.

        The same mode on each set of fewer of its sites (up to SUBSET_SITES sites: 2^k - 2 sets); the engine
        keeps the one that finishes first, the transfer counted (sim/engine.py ``_best_plan``).
        """
        sites = sorted({self.ctx.site[p] for p in self.pools})
        if not 1 < len(sites) <= SUBSET_SITES:
            return []
        out = []
        for chosen in subsets(sites)[1:]:  # (the first is every site: the strategy's own plan)
            pl = self._on(tuple(p for p in self.pools if self.ctx.site[p] in chosen)).plan(avail)
            if pl is not None:
                out.append(pl)
        return out

    def full_plan(self) -> Plan | None:
        """The plan at every pool's usable planned size (steady state)."""
        return self.plan({p: self.ctx.pools[p].usable_units for p in self.pools}, size_for_failures=False)

    def switch_hours(self, old: Plan | None, new: Plan) -> float:
        """Extra hours to change from one plan to another, beyond a re-plan (``handover``)."""
        if old is None or old is new:
            return 0.0
        return self.handover(old, new).hours

    def handover(self, old: Plan, new: Plan) -> Handover:
        """What changing from ``old`` to ``new`` sends over the links, and whether it moves the job.

        A plan that trains at a site where the old one did not restarts there from the checkpoint, which first
        crosses the link from the site the job trained at with the fastest link to it (CHECKPOINT_BYTES_PER_PARAM
        per parameter: the new replicas need the optimizer state as well as the weights); the slowest crossing
        sets the wait. A plan at none of the old one's sites moves the job, which also pays the migration
        downtime (as ``sequential``'s moves do). At the sites it trained at, the checkpoint is on the site's
        storage: nothing more than a re-plan.
        """
        key = (old.pools, new.pools)
        hit = self._handovers.get(key)
        if hit is None:
            hit = self._handovers[key] = self._handover(old, new)
        return hit

    def _handover(self, old: Plan, new: Plan) -> Handover:
        site = self.ctx.site
        before = sorted({site[p] for p in old.pools})
        after = sorted({site[p] for p in new.pools})
        nbytes = self.ctx.params * reliability.CHECKPOINT_BYTES_PER_PARAM
        hours, sent = 0.0, []
        for b in after:
            if b in before:
                continue
            links = [(lk.gbps, a) for a in before if (lk := self.ctx.link(a, b)) is not None]
            if not links:
                return Handover(math.inf, True, ())
            gbps, a = max(links)
            hours = max(hours, nbytes / (gbps * GBPS_TO_BYTES * LINK_EFFICIENCY) / SECONDS_PER_HOUR)
            sent.append((a, b, nbytes))
        moved = not set(before) & set(after)
        if moved:
            hours += self.ctx.scenario.strategy.migration_downtime_hours
        return Handover(hours, moved, tuple(sent))

    @abstractmethod
    def _plan(self, avail: dict[str, int]) -> Plan | None: ...

    def _layout(self, pool: str, units: int, batch_seqs: int | None = None) -> LayoutResult | None:
        planner = self.ctx.planners.get(pool)
        if planner is None or units < planner.min_units:
            return None
        return planner.layout(units, batch_seqs)
