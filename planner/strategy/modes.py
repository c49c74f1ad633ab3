"""The strategy modes: single, sync, diloco, sequential; ``options`` lists what a scenario's mode may run.

Formulas (README "Mixing pools"):
- single: one pool, its best layout.
- sync: one data-parallel job; pool i trains b_i of the B sequences, b_i proportional to its speed r_i, so
  all finish a step together; step = max_i(b_i s / r_i) + exposed cross-pool all-reduce of the bf16
  gradients (ring over the pools: 2 (S-1)/S x 2 N bytes over the slowest pair), hidden behind the last
  micro-batch's backward as far as it can be; x cross_vendor_efficiency when vendors differ.
- diloco: one replica per site trains on its own; every H inner steps the replicas average their weights
  (bf16 pseudo-gradients, ring over the sites); the exchange streams behind the next inner steps, and a
  replica done with H steps before it lands waits for it; tokens count at the DiLoCo token efficiency.
- sequential: train on the pool that is fastest now; move when another pool becomes faster, paying the
  checkpoint transfer and the migration downtime.
"""

from __future__ import annotations

import math

from ..kinds import Mode
from ..perf.reliability import CHECKPOINT_BYTES_PER_PARAM
from ..perf.search import LayoutResult
from ..units import SECONDS_PER_HOUR
from .base import CROSS_SITE_BYTES_PER_PARAM, Context, Handover, Part, Plan, Strategy, pair, subsets

MODES = (Mode.SINGLE, Mode.SYNC, Mode.DILOCO, Mode.SEQUENTIAL)
# gradient exchange hides behind the last micro-batch's backward (2/3 of it), as the DP overlap does
BACKWARD_SHARE = 2.0 / 3.0
SYNC_OVERLAP = 0.8  # share of that window a current framework overlaps (Megatron-Core overlap_grad_reduce)
SPLIT_ITERATIONS = 2  # batch-split refinements (each re-lays out the pools at their new shares)
BATCH_QUANTUM = 32  # batch shares in 1/32nds of the global batch, so layouts can be reused
# a subset is skipped when its pools' speeds alone, added, fall this far short of the best plan so far (a pool on
# a share of the batch runs at most about its speed on the whole batch; the slack covers layouts a share allows)
SUBSET_BOUND_SLACK = 1.05


def diloco_token_efficiency(replicas: int) -> float:
    """Useful share of tokens with M DiLoCo replicas: 1 - 0.02 log2(M).

    Charles et al. 2025 (arXiv:2503.09799, S109): DiLoCo's loss gap to data parallelism grows by about 1-2%
    of tokens per doubling of replicas; M = 1 matches data parallelism.
    """
    return max(0.5, 1.0 - 0.02 * math.log2(max(replicas, 1)))


class Single(Strategy):
    """One pool trains; the others stay idle."""

    mode = Mode.SINGLE

    def _plan(self, avail):
        (pool,) = self.pools
        lay = self._layout(pool, avail[pool])
        if lay is None:
            return None
        part = Part(pool, self.ctx.site[pool], lay, self.ctx.batch_seqs)
        return Plan(self.mode, (part,), lay.tokens_per_s, lay.mfu)


def _split(strategy: Strategy, avail: dict[str, int], batch: int,
           pools: tuple[str, ...] | None = None) -> tuple[Part, ...]:
    """Lay out every pool with chips (of ``pools``, default the strategy's) at a share of ``batch`` by its speed."""
    ctx = strategy.ctx
    first = {p: strategy._layout(p, avail[p]) for p in (strategy.pools if pools is None else pools)}
    live = [p for p, lay in first.items() if lay is not None]
    if not live:
        return ()
    rates = {p: first[p].tokens_per_s for p in live}
    q = max(1, batch // BATCH_QUANTUM)
    parts: dict[str, Part] = {}
    for _ in range(SPLIT_ITERATIONS):
        total = sum(rates.values())
        shares = {p: max(q, int(round(batch * rates[p] / total / q)) * q) for p in live}
        # the rounding may miss the batch: the fastest pool takes the difference
        fastest = max(live, key=lambda p: rates[p])
        shares[fastest] = max(1, shares[fastest] + batch - sum(shares.values()))
        for p in live:
            lay = strategy._layout(p, avail[p], shares[p])
            if lay is None:
                # no layout of this pool takes its share (ZeRO sharded over fewer replicas no longer fits): a split
                # that left it out counted its sequences as trained (458 of 488 a step); the others split the batch
                return _split(strategy, avail, batch, tuple(x for x in live if x != p))
            parts[p] = Part(p, ctx.site[p], lay, shares[p])
            rates[p] = lay.tokens_per_s
    _balance(strategy, avail, parts, q)
    return tuple(parts[p] for p in live if p in parts)


def _seconds(part: Part) -> float:
    """A part's time for its share of the batch (the step waits for the slowest)."""
    return part.batch_seqs / part.layout.tokens_per_s if part.layout.tokens_per_s > 0 else math.inf


def _balance(strategy: Strategy, avail: dict[str, int], parts: dict[str, Part], q: int, moves: int = 4) -> None:
    """Move a quantum of the batch from the slowest part to the fastest while that shortens the step.

    The shares are rounded to quanta and laid out again, so the split by speed can leave one pool the step's
    laggard: 256 A100s beside H100s took 45 sequences and set a step 19% longer than 224 did.
    """
    ctx = strategy.ctx
    for _ in range(moves):
        if len(parts) < 2:
            return
        slow = max(parts.values(), key=_seconds)
        fast = min(parts.values(), key=_seconds)
        if slow is fast or slow.batch_seqs <= q:
            return
        a = strategy._layout(slow.pool, avail[slow.pool], slow.batch_seqs - q)
        b = strategy._layout(fast.pool, avail[fast.pool], fast.batch_seqs + q)
        if a is None or b is None:
            return
        new_slow = Part(slow.pool, ctx.site[slow.pool], a, slow.batch_seqs - q)
        new_fast = Part(fast.pool, ctx.site[fast.pool], b, fast.batch_seqs + q)
        before = max(_seconds(p) for p in parts.values())
        trial = {**parts, slow.pool: new_slow, fast.pool: new_fast}
        if max(_seconds(p) for p in trial.values()) >= before * (1 - 1e-9):
            return
        parts.update(trial)


def _ring_seconds(ctx: Context, parts: tuple[Part, ...], nbytes: float,
                  between_sites_only: bool = False) -> tuple[float, dict]:
    """All-reduce of ``nbytes`` over the parts (one ring): seconds, and bytes per link it crosses.

    Each hop sends ``per_hop`` bytes one way, and its time is computed on them; a link's traffic is its busier
    direction (README: one direction, the one its time is computed on). Two sites: both hops cross the one link,
    one each way; three or more: each link between neighbours carries one hop (it was counted at half).
    ``between_sites_only``: the hops inside a site are left out (their time depends on the chips each part uses),
    so the seconds are at most the ring's (``Sync._bound``).
    """
    s = len(parts)
    if s < 2:
        return 0.0, {}
    per_hop = 2.0 * (s - 1) / s * nbytes
    worst, lat, sent = 0.0, 0.0, {}
    ordered = sorted(parts, key=lambda p: (p.site, p.pool))
    for a, b in zip(ordered, ordered[1:] + ordered[:1], strict=True):
        if a is b or (between_sites_only and a.site == b.site):
            continue
        bw = ctx.between(a, b)
        if bw is None:
            return math.inf, {}
        worst = max(worst, per_hop / bw[0])
        lat = max(lat, bw[1])
        if a.site != b.site:
            sent[(a.site, b.site)] = sent.get((a.site, b.site), 0.0) + per_hop
    traffic: dict = {}
    for (a, b), nbytes_one_way in sent.items():
        key = pair(a, b)
        traffic[key] = max(traffic.get(key, 0.0), nbytes_one_way)
    return worst + 2.0 * (s - 1) * lat, traffic


class Sync(Strategy):
    """One synchronous data-parallel job over the pools, the batch split by speed.

    It trains on the fastest of: every pool, each site's pools (clear of the links between sites), each pool
    alone. A pool whose link to the others, or whose share of the step, slows every step more than its chips add
    is left out (over a 100 Gbit/s link, 512 Ascend chips beside 2,048 H100s made the step seven times slower
    than the H100s alone). Not every subset: each is a layout search per share of the batch, on every new count.
    """

    mode = Mode.SYNC

    def _plan(self, avail):
        first = {p: self._layout(p, avail[p]) for p in self.pools}  # each pool alone on the whole batch
        live = tuple(p for p, lay in first.items() if lay is not None)
        subsets = [live]  # every pool; then each site's pools, clear of the links; then each pool alone
        sites: dict[str, list[str]] = {}
        for p in live:
            sites.setdefault(self.ctx.site[p], []).append(p)
        if len(sites) > 1:
            subsets += [tuple(ps) for ps in sites.values() if len(ps) > 1]
        if len(live) > 1:
            subsets += [(p,) for p in live]  # (its layout on the whole batch is the one already searched)
        alone = {p: first[p].tokens_per_s for p in live}
        plans: dict[tuple[str, ...], Plan | None] = {}

        def fastest(subs: list[tuple[str, ...]]) -> Plan | None:
            best = None
            for sub in subs:  # every pool first: a subset replaces it only when strictly faster
                if best is not None and sum(alone[p] for p in sub) * SUBSET_BOUND_SLACK <= best.tokens_per_s:
                    continue  # its pools together, each at its speed alone, cannot beat the best so far
                if sub not in plans:
                    plans[sub] = self._plan_on(avail, sub)
                pl = plans[sub]
                if pl is not None and (best is None or pl.tokens_per_s > best.tokens_per_s * (1 + 1e-9)):
                    best = pl
            return best

        if len(live) == 2 and len(sites) == 2:
            # two pools at two sites: their all-reduce over the link bounds their speed together, and when either
            # alone beats that bound they are never laid out together (each share of the batch is a layout search;
            # the shortlist of a 405B ramp spent two thirds of its time on sync over a 400 Gbit/s link that only
            # slowed the step). Only plans within 1e-9 of each other could differ. (With more pools a split that
            # leaves one out is a set no other subset weighs, and each subset laid out first costs more than the
            # bound saves where every pool together is fastest.)
            rest = fastest(subsets[1:])
            if rest is not None and rest.tokens_per_s > self._bound(live, first) * (1 + 1e-9):
                return rest
        return fastest(subsets)

    def _bound(self, pools: tuple[str, ...], alone: dict[str, LayoutResult]) -> float:
        """A speed [tokens/s] sync over ``pools`` never exceeds (``alone``: each pool's layout on the whole batch).

        ``_plan_on``'s step is its compute plus what the all-reduce does not hide behind the last micro-batch (at
        most SYNC_OVERLAP x BACKWARD_SHARE of it, and a micro-batch takes at most the compute): at least the ring's
        hops between sites, whose time no layout changes. (A bound on the compute too would need each pool's
        speed on any share of the batch: a share that divides evenly over the replicas ran 2.7% faster than the
        whole batch, more than SUBSET_BOUND_SLACK allows.)
        """
        ctx = self.ctx
        where = tuple(Part(p, ctx.site[p], alone[p], 0) for p in pools)
        t_x = _ring_seconds(ctx, where, ctx.params * CROSS_SITE_BYTES_PER_PARAM, between_sites_only=True)[0]
        tps = ctx.batch_seqs * ctx.seq_len / t_x if t_x > 0 else math.inf
        if len({ctx.vendor(p) for p in pools}) > 1:
            tps *= ctx.scenario.strategy.cross_vendor_efficiency
        return tps

    def everywhere(self, avail):
        """The synchronous job over every pool with a layout (what ``_plan`` weighs first)."""
        live = tuple(p for p in self.pools if self._layout(p, avail.get(p, 0)) is not None)
        return self._plan_on(avail, live) if live else None

    def _plan_on(self, avail, pools: tuple[str, ...]):
        ctx = self.ctx
        parts = _split(self, avail, ctx.batch_seqs, pools)
        if not parts:
            return None
        tokens = ctx.batch_seqs * ctx.seq_len
        compute = max(p.batch_seqs * ctx.seq_len / p.layout.tokens_per_s for p in parts)
        t_x, traffic = _ring_seconds(ctx, parts, ctx.params * CROSS_SITE_BYTES_PER_PARAM)
        last_mb = min(p.layout.step_time_s / max(p.layout.micro_batches, 1) for p in parts)
        exposed = max(0.0, t_x - SYNC_OVERLAP * BACKWARD_SHARE * last_mb)
        step = compute + exposed
        tps = tokens / step
        if len({ctx.vendor(p.pool) for p in parts}) > 1:
            tps *= ctx.scenario.strategy.cross_vendor_efficiency
        return Plan(self.mode, parts, tps, ctx.mfu(tps, parts),
                    {k: v / step for k, v in traffic.items()},
                    f"step {step:.2f} s, {exposed:.2f} s of it waiting on the cross-pool all-reduce")


class DiLoCo(Strategy):
    """One replica per site (its pools in sync); sites average weights every ``sync_every_steps`` steps.

    It trains on the fastest set of its sites: every site first, then fewer (``base.subsets``: every set up to
    SUBSET_SITES sites, beyond that each site alone); fewer replace all only when strictly faster. A set of
    sites is cheap to weigh: each site's replica is laid out once, whatever set it joins. Over a slow link the
    replicas together, held to H inner steps a round by the exchange, may train slower than one site alone.

    A round ends when the fastest replica has run H inner steps or when the exchange lands, whichever is later; a
    replica done with its H steps before then waits, the others train on. (The whole round once waited for the
    exchange: then a faster site, which shortens the round, left every replica waiting longer, and 1,152 H100s
    beside 1,024 over 2 Gbit/s trained slower than 1,024 did.)
    """

    mode = Mode.DILOCO

    def __init__(self, ctx: Context, pools: tuple[str, ...]):
        super().__init__(ctx, pools)
        by_site: dict[str, list[str]] = {}
        for p in self.pools:
            by_site.setdefault(ctx.site[p], []).append(p)
        self._sites = [Sync(ctx, tuple(ps)) for _site, ps in sorted(by_site.items())]

    def _plan(self, avail):
        replicas = []
        for sub in self._sites:
            pl = sub.plan(avail, size_for_failures=False)  # the DiLoCo plan as a whole is sized
            if pl is not None:
                replicas.append(pl)
        if not replicas:
            return None
        best, best_tps = None, 0.0
        for group in subsets(range(len(replicas))):  # every replica first; a Plan is made for the fastest set only
            tps = self._round(replicas, group)[0]
            if best is None or tps > best_tps * (1 + 1e-9):
                best, best_tps = group, tps
        return self._combine([replicas[i] for i in best])

    def everywhere(self, avail):
        """Every site's replica together (what ``_plan`` weighs first)."""
        replicas = [pl for sub in self._sites if (pl := sub.plan(avail, size_for_failures=False)) is not None]
        return self._combine(replicas) if replicas else None

    def _round(self, replicas: list[Plan], group: tuple[int, ...]) -> tuple[float, float, float, dict, float, bool]:
        """The replicas together: tokens/s, round [s], exchange [s], bytes per link, efficiency, exchange-paced.

        Exchange-paced: the exchange sets the round (replicas done with their H steps wait for it).

        Each replica runs its own inner steps; the outer step comes when the fastest has run H of them, or when the
        last exchange lands if later (it streams behind the inner steps); a replica that has run H inner steps
        before then waits for it, the others train on: each trains at most H steps a round. One replica is data
        parallelism: no DiLoCo token penalty (a set efficiency included).
        """
        ctx = self.ctx
        chosen = [replicas[i] for i in group]
        m = len(chosen)
        if m == 1:
            return chosen[0].tokens_per_s, 0.0, 0.0, {}, 1.0, False
        eff = ctx.scenario.strategy.diloco_token_efficiency
        eff = diloco_token_efficiency(m) if eff is None else eff
        quota = ctx.scenario.strategy.sync_every_steps * ctx.batch_seqs * ctx.seq_len  # tokens in H inner steps
        t_x, traffic = _ring_seconds(ctx, tuple(r.parts[0] for r in chosen), ctx.params * CROSS_SITE_BYTES_PER_PARAM)
        h_steps_s = quota / max(r.tokens_per_s for r in chosen)
        period = max(h_steps_s, t_x)
        tps = eff * sum(min(r.tokens_per_s * period, quota) for r in chosen) / period
        return tps, period, t_x, traffic, eff, t_x > h_steps_s

    def _combine(self, replicas: list[Plan]) -> Plan:
        """The DiLoCo plan of these sites' replicas (one replica is data parallelism: local training)."""
        ctx = self.ctx
        m = len(replicas)
        parts = tuple(p for r in replicas for p in r.parts)
        tps, period, t_x, traffic, eff, paced = self._round(replicas, tuple(range(m)))
        if m == 1:
            return Plan(self.mode, parts, tps, ctx.mfu(tps, parts), dict(replicas[0].link_bytes_per_s),
                        "one site trains: local training only")
        links = {k: v / period for k, v in traffic.items()}
        for r in replicas:
            for k, v in r.link_bytes_per_s.items():
                links[k] = links.get(k, 0.0) + v
        h = ctx.scenario.strategy.sync_every_steps
        waits = (f"the exchange takes {t_x:.0f} s: replicas done with their {h} inner steps sooner wait for it"
                 if paced else "the exchange hidden")
        return Plan(self.mode, parts, tps, ctx.mfu(tps, parts), links,
                    f"{m} replicas, outer step every {period:.0f} s ({waits}), token efficiency {eff:.3f}")


class Sequential(Strategy):
    """Train on the pool that keeps the most tokens per hour now; move when another pool would finish sooner.

    Each pool's plan is that of ``single`` on it (sized for failures); the pick compares their expected kept
    tokens/s (speed x goodput under failures). Whether a move pays is the job's call (it knows the tokens
    left): ``TrainingJob`` stays on ``plan_on`` its current pool unless moving finishes sooner by a margin.
    """

    mode = Mode.SEQUENTIAL

    def __init__(self, ctx: Context, pools: tuple[str, ...]):
        super().__init__(ctx, pools)
        self._subs = {p: Single(ctx, (p,)) for p in self.pools}
        self._as_mine: dict[int, Plan] = {}  # one sequential Plan per single Plan (the job tells plans by identity)

    def _mine(self, pl: Plan | None) -> Plan | None:
        if pl is None:
            return None
        if id(pl) not in self._as_mine:
            self._as_mine[id(pl)] = Plan(self.mode, pl.parts, pl.tokens_per_s, pl.mfu, dict(pl.link_bytes_per_s),
                                         pl.detail, pl.limits)
        return self._as_mine[id(pl)]

    def plan(self, avail, size_for_failures=True):
        """The best pool's plan now (each pool sized for failures as ``single`` sizes it)."""
        best, best_score = None, -1.0
        for sub in self._subs.values():
            pl = sub.plan(avail, size_for_failures)
            if pl is None:
                continue
            score = self.ctx.score(pl) if size_for_failures else pl.tokens_per_s
            if score > best_score:
                best, best_score = pl, score
        return self._mine(best)

    def plan_on(self, pools: tuple[str, ...], avail) -> Plan | None:
        """The plan on the given pool alone (where the job is now)."""
        (pool,) = pools
        return self._mine(self._subs[pool].plan(avail)) if pool in self._subs else None

    def alternatives(self, avail) -> list[Plan]:
        """Each pool's plan: a move to the best pool that does not pay may still pay to another."""
        return [pl for pl in (self._mine(sub.plan(avail)) for sub in self._subs.values()) if pl is not None]

    def _plan(self, avail):
        return self.plan(avail, size_for_failures=False)

    def handover(self, old, new):
        """A move to another pool: the checkpoint crosses to it (within a site, its network), then the downtime."""
        if old.pools == new.pools:
            return Handover(0.0, False, ())
        a, b = old.parts[0], new.parts[0]
        bw = self.ctx.between(a, b)
        if bw is None:
            return Handover(math.inf, True, ())
        nbytes = self.ctx.params * CHECKPOINT_BYTES_PER_PARAM
        hours = nbytes / bw[0] / SECONDS_PER_HOUR + self.ctx.scenario.strategy.migration_downtime_hours
        return Handover(hours, True, ((a.site, b.site, nbytes),) if a.site != b.site else ())


def _linked(ctx: Context, pools: tuple[str, ...]) -> str | None:
    """Why the pools' sites cannot share a job (a missing link), or None."""
    sites = sorted({ctx.site[p] for p in pools})
    for i, a in enumerate(sites):
        for b in sites[i + 1:]:
            if ctx.link(a, b) is None:
                return f"no link between sites {a!r} and {b!r}"
    return None


def options(ctx: Context, mode: str) -> tuple[list[Strategy], dict[str, str]]:
    """The strategies a mode may run on this scenario, and why the modes that cannot run cannot.

    Built once per context: every replication then shares the strategies and their memoised plans (a plan
    depends on the chips available alone, so what earlier replications asked changes no answer).
    """
    if mode not in ctx.strategies:
        ctx.strategies[mode] = _options(ctx, mode)
    out, why = ctx.strategies[mode]
    return list(out), dict(why)


def _options(ctx: Context, mode: str) -> tuple[list[Strategy], dict[str, str]]:
    feasible = tuple(p for p in ctx.pools if ctx.feasible(p))
    out: list[Strategy] = []
    why: dict[str, str] = {}
    wanted = MODES if mode == Mode.AUTO else (Mode(mode),)
    for m in wanted:
        if m == Mode.SINGLE:
            out.extend(Single(ctx, (p,)) for p in feasible)
            if not feasible:
                why[m] = "no pool has a layout that fits"
            continue
        if len(feasible) < 2:
            why[m] = "needs at least two pools with a layout that fits"
            continue
        sites = {ctx.site[p] for p in feasible}
        if m == Mode.DILOCO and len(sites) < 2:
            why[m] = "needs pools at two or more sites: one replica per site"
            continue
        missing = _linked(ctx, feasible)
        if missing and m in (Mode.SYNC, Mode.DILOCO):
            why[m] = missing
            continue
        if missing and m == Mode.SEQUENTIAL:
            why[m] = f"a move needs a link: {missing}"
            continue
        out.append({Mode.SYNC: Sync, Mode.DILOCO: DiLoCo, Mode.SEQUENTIAL: Sequential}[m](ctx, feasible))
    return out, why
