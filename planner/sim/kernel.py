"""The training job between outside events, compiled: failures, repairs and maintenance stops.

Between two capacity steps only failures and planned maintenance happen, thousands of them in a
replication of a large job, and each follows the rules of ``planner/sim/rules.py``: at a failure the
work since the last checkpoint is lost, the node goes to repair and the job restarts on its spare
chips; a maintenance stop checkpoints first, pauses and restarts. ``stretch`` applies them one after
another in compiled code and returns to Python only where Python must decide:

- ``DONE``: the stretch ended (the job finishes first, a restart would cross the outside event, too few
  chips are left, or the interruption budget is spent); the main loop of ``TrainingJob`` goes on;
- ``DRAWS``: fewer draws are left than one more interruption needs (Python appends a block and calls
  again: nothing of that interruption was taken yet);
- ``ROOM``: a repair table or an output buffer is full (Python makes room and calls again);
- ``GROW``: repairs came back and lifted a pool above its last check onto a higher plan grid count, so a
  faster plan may exist (Python asks the strategy at the failure's or the stop's hour: ``TrainingJob._faster_plan``;
  the loop itself gives that method's first answers, when no pool is above its check or none is on a higher grid
  count); when none exists, Python calls again and the restart is paid where the loop left off;
- ``RECORD``: the job recorded its safe tokens (replication 0 keeps each pool's share by day: Python).

The safe tokens are also recorded at the end of every day the stretch passes (``DAY_END_H`` before the next
day begins), in closed form from the checkpoint cycle: a day's figure is what was safe at its end, not at its
last failure (``_day_ends``; the loop's named steps record the same, ``TrainingJob._record_day_ends``).

The state travels in two arrays (indices below) and the repair tables of ``Repairs``; draws come from
two streams of blocks (exponential: gaps, repairs, then manual interventions; uniform: which part a failure
hits, then whether it needs a manual intervention), so the order in which Python refills them never changes
a number. A failure that needs a manual intervention (``F_MANUAL_SHARE`` of them) waits an exponential time
(mean ``F_MANUAL_MEAN``) before its restart: ``F_MANUAL_DUE`` holds that wait until a restart pays it.
The same rules run through the loop's named steps (``TrainingJob.FAST = False``); tests/test_engine_truth.py
checks both give the same run.

The module is Cython in pure-Python mode: ``pip install`` compiles it (setup.py) into C, ahead of time, so
a run pays no compilation; where no compiler was at hand the same code runs as Python (``COMPILED`` says
which), slower and with the same numbers.
"""

from __future__ import annotations

import math

import cython
import numpy as np
from cython.cimports.libc.math import ceil, log, pow  # C's in compiled code, Python's math as Python

COMPILED = cython.compiled  # whether this module runs as compiled C (else as Python: same numbers, slower)

# status
DONE, DRAWS, ROOM, GROW, RECORD = 0, 1, 2, 3, 4
ALIGNED_BITS = 2  # planner.strategy.base.ALIGNED_BITS (the kernel imports nothing of the package)

# float state (F_*)
F_T, F_POS, F_SAVED, F_CARRY, F_NEXT_MAINT, F_HELD, F_KEPT, F_UNSAVED, F_NEXT_RECORD, F_NEXT_RETURN, \
    F_FAIL_IN, F_TAU, F_DELTA, F_LENGTH, F_MTBF, F_RESTART, F_RATE, F_TARGET, F_LIMIT, F_REPAIR_MEAN, \
    F_MAINT_EVERY, F_PAUSE, F_TOTAL_W, F_GRID_RATIO, F_MANUAL_SHARE, F_MANUAL_MEAN, F_MANUAL_DUE, F_NEXT_DAY, \
    F_LOST = range(29)
N_FLOAT = 29
# a day's state is read this many hours before the next day begins (planner.sim.replication._day_ends)
DAY_END_H = 1e-6
# int state (I_*)
I_EXP, I_UNI, I_CHECKPOINTS, I_FAILURES, I_MAINTENANCE, I_EVENTS_LEFT, I_PENDING_RESTART, I_RECORD, \
    I_TRACK, I_CAN_GROW, I_RESUME, I_ENTRY, I_EVENTS, I_TOKENS, I_GROW, I_RESTARTING, I_NEED_EXP, \
    I_NEED_UNI = range(18)
N_INT = 18

# what the event buffer holds (kind, pool row, units; time, value)
E_CHECKPOINT, E_MAINTENANCE, E_FAILURE, E_RESTART, E_REPAIR, E_FAILED = range(6)


class Repairs:
    """The nodes under repair of every pool of one replication: (return hour, units, repair hours) per row.

    Rows are unsorted; ``first`` is each row's earliest return (inf when none is out).
    """

    def __init__(self, rows: int, capacity: int = 64):
        self.t = np.zeros((rows, capacity))
        self.units = np.zeros((rows, capacity), dtype=np.int64)
        self.took = np.zeros((rows, capacity))
        self.n = np.zeros(rows, dtype=np.int64)
        self.first = np.full(rows, math.inf)

    def grow(self) -> None:
        """Twice the room in every row."""
        cap = self.t.shape[1]
        self.t = np.concatenate([self.t, np.zeros_like(self.t)], axis=1)
        self.units = np.concatenate([self.units, np.zeros_like(self.units)], axis=1)
        self.took = np.concatenate([self.took, np.zeros_like(self.took)], axis=1)
        assert self.t.shape[1] == 2 * cap

    def push(self, row: int, t: float, units: int, took: float) -> None:
        """A node of ``units`` chips is out until hour ``t`` (``took`` hours of repair)."""
        k = int(self.n[row])
        if k == self.t.shape[1]:
            self.grow()
        self.t[row, k], self.units[row, k], self.took[row, k] = t, units, took
        self.n[row] = k + 1
        if t < self.first[row]:
            self.first[row] = t

    def pop_due(self, row: int, now: float) -> list[tuple[float, int, float]]:
        """The repairs of ``row`` done by ``now``, in time order; they leave the table."""
        k = int(self.n[row])
        ts = self.t[row, :k]
        due = ts <= now
        idx = np.flatnonzero(due)
        idx = idx[np.argsort(ts[idx], kind="stable")]
        out = [(float(self.t[row, i]), int(self.units[row, i]), float(self.took[row, i])) for i in idx]
        keep = np.flatnonzero(~due)
        m = len(keep)
        self.t[row, :m], self.units[row, :m], self.took[row, :m] = ts[keep], self.units[row, keep], self.took[row, keep]
        self.n[row] = m
        self.first[row] = float(self.t[row, :m].min()) if m else math.inf
        return out


INF = math.inf


@cython.cfunc
@cython.inline
def _pending(pos: cython.double, tau: cython.double) -> cython.double:
    return pos if pos < tau else tau


@cython.cfunc
def _aligned_step(units: cython.longlong, ratio: cython.double) -> cython.longlong:
    """planner.strategy.base.aligned_step at ``aligned_bits(ratio)``, compiled."""
    per_octave: cython.double = log(2.0) / log(ratio)
    bits: cython.longlong = 0
    while bits < ALIGNED_BITS and pow(2.0, bits + 1) <= per_octave:
        bits += 1
    top: cython.longlong = 0  # floor(log2 units)
    while (cython.cast(cython.longlong, 1) << (top + 1)) <= units:
        top += 1
    return cython.cast(cython.longlong, 1) << (top - bits) if top > bits else 1


@cython.cfunc
def _on_grid(units: cython.longlong, full: cython.longlong, ratio: cython.double) -> cython.longlong:
    """planner.strategy.base.on_grid, compiled: the largest grid count at or below ``units``."""
    if units >= full or units <= 0:
        return min(units, full) if units > 0 else 0
    k: cython.double = ceil(log(cython.cast(cython.double, full) / units) / log(ratio))
    geometric: cython.longlong = units
    if k > 0:
        geometric = min(units, cython.cast(cython.longlong, full / pow(ratio, k)))
    step: cython.longlong = _aligned_step(units, ratio)
    return max(geometric, units - units % step)


@cython.cfunc
def _grid_above(units: cython.longlong, full: cython.longlong, ratio: cython.double) -> cython.double:
    """planner.strategy.base.grid_above, compiled: the chips below which no higher grid count exists."""
    g: cython.longlong = _on_grid(units, full, ratio)
    v: cython.longlong
    if g >= full:
        return INF
    if g <= 0:
        return 1.0
    step: cython.longlong = _aligned_step(g, ratio)
    aligned: cython.longlong = (g // step + 1) * step
    j: cython.double = ceil(log(cython.cast(cython.double, full) / g) / log(ratio)) + 1
    while j > 0:
        j -= 1
        v = cython.cast(cython.longlong, full / pow(ratio, j)) if j else full
        if v > g:
            return min(v, aligned)
    return min(full, aligned)


@cython.cfunc
@cython.boundscheck(False)
@cython.wraparound(False)
def _level(units: cython.longlong, r: cython.Py_ssize_t, full: cython.longlong[:], ratio: cython.double,
           levels: cython.longlong[:, :]) -> cython.longlong:
    """planner.strategy.base.at_level of the grid count, compiled (``levels``: a row per pool, 0 past its last)."""
    g: cython.longlong = _on_grid(units, full[r], ratio)
    k: cython.Py_ssize_t
    e: cython.longlong
    for k in range(levels.shape[1]):
        e = levels[r, k]
        if e > units or e <= 0:
            break
        if e > g:
            g = e
    return g


@cython.cfunc
@cython.boundscheck(False)
@cython.wraparound(False)
def _level_above(units: cython.longlong, r: cython.Py_ssize_t, full: cython.longlong[:], ratio: cython.double,
                 levels: cython.longlong[:, :]) -> cython.double:
    """planner.strategy.base.level_above of ``_grid_above``, compiled."""
    a: cython.double = _grid_above(units, full[r], ratio)
    k: cython.Py_ssize_t
    e: cython.longlong
    for k in range(levels.shape[1]):
        e = levels[r, k]
        if e <= 0:
            break
        if e > units:
            return min(a, cython.cast(cython.double, e))
    return a


@cython.cfunc
def _no_faster_plan(rows: cython.longlong[:], usable: cython.longlong[:], failed: cython.longlong[:],
                    checked: cython.longlong[:], full: cython.longlong[:], grow_at: cython.double[:],
                    ratio: cython.double, levels: cython.longlong[:, :]) -> cython.bint:
    """TrainingJob._faster_plan's first answers: no pool above its last check, or none on a higher grid count.

    In the second case the checks rise to the chips available and the growth thresholds with them, as there.
    False: only the strategy can tell (Python).
    """
    a: cython.Py_ssize_t
    r: cython.Py_ssize_t
    av: cython.longlong
    above: cython.bint = False
    for a in range(rows.shape[0]):
        r = rows[a]
        av = usable[r] - failed[r]
        if av > checked[r]:
            above = True
    if not above:
        return True
    if ratio <= 0:  # a grid of whole-server levels (a portfolio's later job): the strategy alone reads it
        return False
    for a in range(rows.shape[0]):
        r = rows[a]
        av = max(usable[r] - failed[r], 0)
        if _level(av, r, full, ratio, levels) > _level(checked[r], r, full, ratio, levels):
            return False
    for a in range(rows.shape[0]):
        r = rows[a]
        av = max(usable[r] - failed[r], 0)
        if av > checked[r]:
            checked[r] = av
        grow_at[r] = _level_above(checked[r], r, full, ratio, levels)
    return True


@cython.cfunc
@cython.cdivision(False)
def _hours_to_finish(tokens_left: cython.double, rate: cython.double, pos: cython.double, tau: cython.double,
                     length: cython.double) -> cython.double:
    # rules.hours_to_finish, compiled
    inf: cython.double = INF
    if rate <= 0:
        return inf
    train_h: cython.double = max(tokens_left, 0.0) / rate - _pending(pos, tau)
    if train_h <= 0:
        return 0.0
    cycles: cython.double = train_h / tau
    if train_h - train_h != 0 or cycles - cycles != 0:  # the work, or its count of cycles, never ends (as rules)
        return inf
    if tau - tau != 0:  # not finite
        return train_h
    room_h: cython.double = tau - pos
    if train_h <= room_h:
        return train_h
    start_h: cython.double = length - pos
    rest_h: cython.double = train_h - max(room_h, 0.0)
    full: cython.double = -((-(rest_h / tau)) // 1.0) - 1.0  # ceil(rest_h / tau) - 1
    return start_h + full * length + (rest_h - full * tau)


@cython.ccall
def token_rows(t: cython.double, limit: cython.double) -> cython.Py_ssize_t:
    """The most rows of safe tokens a stretch from hour ``t`` may still record before hour ``limit`` (finite).

    A row at each day's end and at most one at a failure a day, with room to spare; the loop asks for this much
    room before each interruption (``ROOM``), and Python makes it before each call (TrainingJob._room_for_tokens).
    """
    return 2 * cython.cast(cython.Py_ssize_t, (limit - t) / 24.0) + 6


@cython.cfunc
@cython.boundscheck(False)
@cython.wraparound(False)
@cython.cdivision(False)
def _day_ends(tk: cython.double[:, :], ist: cython.longlong[:], i_tokens: cython.Py_ssize_t, day: cython.double,
              t_from: cython.double, t_to: cython.double, saved: cython.double, training: cython.bint,
              pos: cython.double, tau: cython.double, length: cython.double, rate_h: cython.double) -> cython.double:
    """Record the safe tokens at the end of each day that ends in (``t_from``, ``t_to``]; returns the next day.

    ``day``: the first day whose end may not be recorded yet. While ``training`` (from cycle position ``pos``
    at ``t_from``), the checkpoints completed by a day's end save their cycles (rules.advance), or, with no
    checkpoint cycle (failures off: nothing is lost), all the training done; else (a stop) what is safe does not
    change.
    """
    b: cython.double
    x: cython.double
    v: cython.double
    done: cython.longlong
    n: cython.Py_ssize_t
    eps: cython.double = DAY_END_H
    while True:
        b = day * 24.0 + 24.0 - eps
        if b > t_to:
            return day
        if b > t_from:
            v = saved
            if training and length - length == 0:
                x = pos + (b - t_from)
                done = cython.cast(cython.longlong, x // length)
                if done:
                    v = saved + (done * tau) * rate_h
            elif training:  # no checkpoint cycle (failures off): nothing trained can be lost
                v = saved + (pos + (b - t_from)) * rate_h
            n = ist[i_tokens]
            if n >= tk.shape[0]:  # never: Python makes room for every day to the stretch's limit (token_rows)
                return day
            tk[n, 0] = b
            tk[n, 1] = v
            ist[i_tokens] = n + 1
        day += 1.0


@cython.cfunc
@cython.boundscheck(False)
@cython.wraparound(False)
def _restart_end(t: cython.double, carry: cython.double, r_h: cython.double, mtbf_h: cython.double,
                 ex: cython.double[:], ei: cython.Py_ssize_t, un: cython.double[:], ui: cython.Py_ssize_t,
                 hit_one: cython.bint, repair_on: cython.bint, manual_share: cython.double,
                 manual_mean_h: cython.double, limit: cython.double, ist: cython.longlong[:]) -> cython.double:
    """The hour a restart that starts at ``t`` ends, with the failures that strike it; read ahead, no draw taken.

    Read no further than ``limit`` (an hour at or past it: the restart crosses the outside event, and the loop leaves
    the failure to the named steps).

    The failure clock runs through an automated restart of ``r_h`` hours: the next failure comes after the carried
    gap (``carry``; nan: the next exponential), and one that comes before the restart is through starts it over,
    after its own manual intervention's wait (its draws in the order the loop takes them: which part, its repair,
    whether it waits and how long). With failures of mean M this averages M (e^(r/M) - 1) plus the waits
    (``reliability.restart_under_failures``). NaN when the draws run short: ``ist[I_NEED_EXP]``, ``ist[I_NEED_UNI]``
    then say how many from ``ei`` and ``ui`` would do for the next look.
    """
    e: cython.Py_ssize_t = ei
    u: cython.Py_ssize_t = ui
    gap: cython.double
    manual_on: cython.bint = manual_share > 0
    while True:
        if t >= limit:
            return t
        if carry != carry:
            if e >= ex.shape[0]:
                break
            gap = ex[e] * mtbf_h
            e += 1
        else:
            gap = carry
            carry = math.nan
        if gap >= r_h:
            return t + r_h
        if e + repair_on + manual_on > ex.shape[0] or u + (not hit_one) + manual_on > un.shape[0]:
            break
        t += gap
        if not hit_one:
            u += 1
        if repair_on:
            e += 1
        if manual_on:
            u += 1
            if un[u - 1] < manual_share:
                t += ex[e] * manual_mean_h
                e += 1
    ist[I_NEED_EXP] = e - ei + 3
    ist[I_NEED_UNI] = u - ui + 2
    return math.nan


@cython.cfunc
def _emit(ev_i: cython.longlong[:, :], ev_f: cython.double[:, :], ist: cython.longlong[:], slot: cython.Py_ssize_t,
          kind: cython.longlong, row: cython.longlong, units: cython.longlong, t: cython.double,
          x: cython.double) -> cython.void:
    # ``slot``: I_EVENTS (the indices are Python constants: read once per call of ``stretch``, passed down)
    k: cython.Py_ssize_t = ist[slot]
    ev_i[k, 0] = kind
    ev_i[k, 1] = row
    ev_i[k, 2] = units
    ev_f[k, 0] = t
    ev_f[k, 1] = x
    ist[slot] = k + 1


@cython.cfunc
@cython.boundscheck(False)
@cython.wraparound(False)
def _settle_row(r: cython.Py_ssize_t, now: cython.double, rt: cython.double[:, :], ru: cython.longlong[:, :],
                rtook: cython.double[:, :], rn: cython.longlong[:], rfirst: cython.double[:],
                failed: cython.longlong[:], ist: cython.longlong[:], ev_i: cython.longlong[:, :],
                ev_f: cython.double[:, :], record: cython.bint, track: cython.bint,
                i_events: cython.Py_ssize_t) -> cython.void:
    """Return the repairs of row ``r`` done by ``now`` (in time order when they are logged)."""
    i: cython.Py_ssize_t
    j: cython.Py_ssize_t
    n: cython.Py_ssize_t
    last: cython.Py_ssize_t
    units: cython.longlong
    first: cython.double
    while rn[r] > 0 and rfirst[r] <= now:
        n = rn[r]
        if record or track:  # the earliest first: the events and the failed-chips timeline are in time order
            j = 0
            for i in range(1, n):
                if rt[r, i] < rt[r, j]:
                    j = i
            units = ru[r, j]
            failed[r] = failed[r] - units if failed[r] > units else 0
            if track:
                _emit(ev_i, ev_f, ist, i_events, E_FAILED, r, failed[r], rt[r, j], 0.0)
            if record:
                _emit(ev_i, ev_f, ist, i_events, E_REPAIR, r, units, rt[r, j], rtook[r, j])
            last = n - 1
            rt[r, j] = rt[r, last]
            ru[r, j] = ru[r, last]
            rtook[r, j] = rtook[r, last]
            rn[r] = last
        else:  # every due repair at once (the count is the same in any order)
            i = 0
            while i < rn[r]:
                if rt[r, i] <= now:
                    units = ru[r, i]
                    failed[r] = failed[r] - units if failed[r] > units else 0
                    last = rn[r] - 1
                    rt[r, i] = rt[r, last]
                    ru[r, i] = ru[r, last]
                    rtook[r, i] = rtook[r, last]
                    rn[r] = last
                else:
                    i += 1
        first = INF
        for i in range(rn[r]):
            if rt[r, i] < first:
                first = rt[r, i]
        rfirst[r] = first


@cython.cfunc
@cython.boundscheck(False)
@cython.wraparound(False)
def _settle(now: cython.double, rows: cython.longlong[:], part_row: cython.longlong[:],
            part_units: cython.longlong[:], spare: cython.longlong[:], grow_at: cython.double[:],
            usable: cython.longlong[:], failed: cython.longlong[:], rt: cython.double[:, :],
            ru: cython.longlong[:, :], rtook: cython.double[:, :], rn: cython.longlong[:], rfirst: cython.double[:],
            ist: cython.longlong[:], ev_i: cython.longlong[:, :], ev_f: cython.double[:, :], record: cython.bint,
            track: cython.bint, can_grow: cython.bint, i_events: cython.Py_ssize_t,
            i_grow: cython.Py_ssize_t) -> cython.double:
    """Settle every row of the strategy's pools by ``now``.

    Returns the hour the next repair comes back; fills each part's spare chips and ``ist[I_GROW]`` (whether a
    pool may grow).
    """
    back: cython.double = INF
    a: cython.Py_ssize_t
    r: cython.Py_ssize_t
    j: cython.Py_ssize_t
    for a in range(rows.shape[0]):
        r = rows[a]
        if rn[r] > 0 and rfirst[r] <= now:
            _settle_row(r, now, rt, ru, rtook, rn, rfirst, failed, ist, ev_i, ev_f, record, track, i_events)
        if rfirst[r] < back:
            back = rfirst[r]
    for j in range(part_row.shape[0]):
        r = part_row[j]
        spare[j] = usable[r] - failed[r] - part_units[j]
    ist[i_grow] = 0
    if can_grow:
        for a in range(rows.shape[0]):
            r = rows[a]
            if usable[r] - failed[r] >= grow_at[r]:
                ist[i_grow] = 1
                break
    return back


@cython.ccall
@cython.boundscheck(False)
@cython.wraparound(False)
@cython.cdivision(False)
def stretch(fs: cython.double[:], ist: cython.longlong[:], ex: cython.double[:], un: cython.double[:],
            rows: cython.longlong[:], part_row: cython.longlong[:], part_units: cython.longlong[:],
            part_node: cython.longlong[:], part_w: cython.double[:], part_share: cython.double[:],
            spare: cython.longlong[:], grow_at: cython.double[:], usable: cython.longlong[:],
            failed: cython.longlong[:], pool_tok: cython.double[:], rt: cython.double[:, :],
            ru: cython.longlong[:, :], rtook: cython.double[:, :], rn: cython.longlong[:], rfirst: cython.double[:],
            ev_i: cython.longlong[:, :], ev_f: cython.double[:, :], tk: cython.double[:, :],
            checked: cython.longlong[:], full: cython.longlong[:], levels: cython.longlong[:, :]) -> cython.int:
    """Train through failures and maintenance stops from ``fs[F_T]``; see the module's docstring."""
    tau: cython.double = fs[F_TAU]
    delta: cython.double = fs[F_DELTA]
    length: cython.double = fs[F_LENGTH]
    mtbf_h: cython.double = fs[F_MTBF]
    r_h: cython.double = fs[F_RESTART]
    rate_h: cython.double = fs[F_RATE]
    target: cython.double = fs[F_TARGET]
    limit: cython.double = fs[F_LIMIT]
    repair_mean_h: cython.double = fs[F_REPAIR_MEAN]
    maint_every_h: cython.double = fs[F_MAINT_EVERY]
    pause_h: cython.double = fs[F_PAUSE]
    total_w: cython.double = fs[F_TOTAL_W]
    grid_ratio: cython.double = fs[F_GRID_RATIO]
    manual_share: cython.double = fs[F_MANUAL_SHARE]
    manual_mean_h: cython.double = fs[F_MANUAL_MEAN]
    manual_due: cython.double = fs[F_MANUAL_DUE]
    manual_on: cython.bint = manual_share > 0
    manual_h: cython.double
    t: cython.double = fs[F_T]
    pos: cython.double = fs[F_POS]
    saved: cython.double = fs[F_SAVED]
    carry: cython.double = fs[F_CARRY]
    next_maint: cython.double = fs[F_NEXT_MAINT]
    held_h: cython.double = fs[F_HELD]
    kept_h: cython.double = fs[F_KEPT]
    lost_h: cython.double = fs[F_LOST]  # training hours lost to failures (trained, never kept)
    unsaved: cython.double = fs[F_UNSAVED]
    next_record: cython.double = fs[F_NEXT_RECORD]
    day: cython.double = fs[F_NEXT_DAY]
    next_return: cython.double = fs[F_NEXT_RETURN]
    ei: cython.Py_ssize_t = ist[I_EXP]
    ui: cython.Py_ssize_t = ist[I_UNI]
    checkpoints: cython.longlong = ist[I_CHECKPOINTS]
    failures: cython.longlong = ist[I_FAILURES]
    maintenance: cython.longlong = ist[I_MAINTENANCE]
    events_left: cython.longlong = ist[I_EVENTS_LEFT]
    record: cython.bint = ist[I_RECORD] != 0
    track: cython.bint = ist[I_TRACK] != 0
    can_grow: cython.bint = ist[I_CAN_GROW] != 0
    i_events: cython.Py_ssize_t = I_EVENTS  # the slots the loop touches, typed once (module constants are Python's)
    i_tokens: cython.Py_ssize_t = I_TOKENS
    i_grow: cython.Py_ssize_t = I_GROW
    n_parts: cython.Py_ssize_t = part_row.shape[0]
    hit_one: cython.bint = n_parts == 1
    n_ex: cython.Py_ssize_t = ex.shape[0]
    n_un: cython.Py_ssize_t = un.shape[0]
    cap: cython.Py_ssize_t = rt.shape[1]
    room: cython.Py_ssize_t = ev_i.shape[0]
    length_finite: cython.bint = length - length == 0
    status: cython.int = DONE
    fail_in: cython.double = math.nan
    gap: cython.double
    to_maint: cython.double
    need_h: cython.double
    x: cython.double
    train_h: cython.double
    u: cython.double
    repair_h: cython.double
    done: cython.longlong
    lost: cython.longlong
    node: cython.longlong
    units_k: cython.longlong
    k: cython.Py_ssize_t
    j: cython.Py_ssize_t
    r: cython.Py_ssize_t
    slot: cython.Py_ssize_t
    n_tk: cython.Py_ssize_t
    no_room: cython.bint
    grow: cython.bint
    recorded: cython.bint
    t_stop: cython.double
    if ist[I_ENTRY] != 0:  # the repairs done by now are back before the first interruption (growth is not asked)
        ist[I_ENTRY] = 0
        next_return = _settle(t, rows, part_row, part_units, spare, grow_at, usable, failed, rt, ru, rtook, rn,
                              rfirst, ist, ev_i, ev_f, record, track, can_grow, i_events, i_grow)
    restarting: cython.bint = ist[I_RESTARTING] != 0  # inside a restart (failures strike it: ``_restart_end``)
    in_restart: cython.bint
    waits: cython.bint
    end_h: cython.double
    if ist[I_RESUME] != 0:  # no faster plan at the last restart's check: the restart is paid, the loop goes on
        ist[I_RESUME] = 0
        restarting = True
    while events_left > 0 or restarting:
        # what one more interruption may need: draws, a repair slot in every row, room for its events
        if ei + 2 + manual_on > n_ex or ui + (not hit_one) + manual_on > n_un:
            ist[I_NEED_EXP], ist[I_NEED_UNI] = 2 + manual_on, (not hit_one) + manual_on
            status = DRAWS
            break
        no_room = False
        for j in range(n_parts):
            if rn[part_row[j]] >= cap:
                no_room = True
        if no_room or ((record or track) and ist[i_events] + cap * rows.shape[0] + 8 > room) \
                or ist[i_tokens] + token_rows(t, limit) > tk.shape[0]:
            status = ROOM
            break
        if restarting:
            # one attempt of the restart: a manual intervention's wait first, then the automated restart, which a
            # failure of the job's chips (the clock runs on: the carried gap, else a new one) starts over
            if manual_due != 0.0:
                day = _day_ends(tk, ist, i_tokens, day, t, t + manual_due, saved, False, pos, tau, length, rate_h)
                held_h += manual_due
                t += manual_due
                manual_due = 0.0
            if carry != carry:
                gap = ex[ei] * mtbf_h
                ei += 1
            else:
                gap = carry
                carry = math.nan
            if gap >= r_h:
                day = _day_ends(tk, ist, i_tokens, day, t, t + r_h, saved, False, pos, tau, length, rate_h)
                held_h += r_h
                t += r_h
                carry = gap - r_h  # training hours to the next failure
                restarting = False
                continue
            day = _day_ends(tk, ist, i_tokens, day, t, t + gap, saved, False, pos, tau, length, rate_h)
            held_h += gap
            t += gap
            events_left -= 1
            in_restart = True
            manual_h = 0.0
            if manual_on and un[ui + (not hit_one)] < manual_share:
                manual_h = ex[ei + (repair_mean_h != 0)] * manual_mean_h
        else:
            events_left -= 1
            in_restart = False
            if carry != carry:  # nan: no failure drawn yet
                gap = ex[ei] * mtbf_h
                ei += 1
            else:
                gap = carry
                carry = math.nan
            to_maint = next_maint - t if next_maint > t else 0.0
            # the finish needs at least its training hours (writes only add): the exact time only when close
            need_h = ((target - saved) / rate_h if rate_h > 0 else INF) - _pending(pos, tau)
            if need_h <= gap and need_h <= to_maint and _hours_to_finish(
                    target - saved, rate_h, pos, tau, length) <= min(gap, to_maint):
                fail_in = gap  # the job finishes first: the main loop ends it
                break
            if to_maint < gap:
                # planned maintenance: checkpoint (nothing lost), pause, restart; the failure still to come is the
                # rest of the gap (training hours: none pass during the stop); stop before one whose restart, with
                # the failures that strike it, would cross the outside event
                end_h = _restart_end(t + to_maint + delta + pause_h + manual_due, gap - to_maint, r_h, mtbf_h, ex, ei,
                                     un, ui, hit_one, repair_mean_h != 0, manual_share, manual_mean_h, limit, ist)
                if end_h != end_h:  # too few draws to read the restart through: nothing of it is taken yet
                    events_left += 1
                    carry = gap
                    status = DRAWS
                    break
                if end_h >= limit:
                    fail_in = gap
                    break
                carry = gap - to_maint
                day = _day_ends(tk, ist, i_tokens, day, t, t + to_maint, saved, True, pos, tau, length, rate_h)
                t += to_maint
                x = pos + to_maint  # rules.advance
                done = cython.cast(cython.longlong, x // length) if length_finite else 0
                train_h = 0.0
                if done:
                    train_h = done * tau
                    pos = x - done * length
                    checkpoints += done
                    if record:
                        _emit(ev_i, ev_f, ist, i_events, E_CHECKPOINT, -1, done, t, 0.0)
                else:
                    pos = x
                train_h += _pending(pos, tau)  # the stop's checkpoint saves what is pending
                kept_h += train_h
                unsaved += train_h * rate_h
                saved += train_h * rate_h
                pos = 0.0
                held_h += to_maint + delta + pause_h
                t_stop = t
                t += delta
                next_maint = t + maint_every_h
                maintenance += 1
                if record:
                    _emit(ev_i, ev_f, ist, i_events, E_MAINTENANCE, -1, 0, t, 0.0)
                t += pause_h
                day = _day_ends(tk, ist, i_tokens, day, t_stop, t, saved, False, pos, tau, length, rate_h)
                # the restart after the pause is a free moment to take back repaired chips, as a failure's is
                if t >= next_return:
                    next_return = _settle(t, rows, part_row, part_units, spare, grow_at, usable, failed, rt, ru,
                                          rtook, rn, rfirst, ist, ev_i, ev_f, record, track, can_grow, i_events,
                                          i_grow)
                # a pool above its growth threshold: repairs settled now, or before the stretch (at its entry, or by
                # the main loop while it held a stop): the named steps ask at every restart, and so does the loop
                grow = ist[i_grow] != 0
                if grow and not _no_faster_plan(rows, usable, failed, checked, full, grow_at, grid_ratio, levels):
                    fail_in = carry  # the failure still to come, kept whether the job re-plans or resumes
                    ist[I_RESUME] = 1  # Python asks the strategy; the restart is paid when the loop resumes
                    status = GROW
                    break
                if grow:
                    ist[i_grow] = 0  # no faster plan on these chips: none before more come back (a settle asks again)
                restarting = True
                continue
            # a failure: stop before one whose restart (a manual intervention's wait, then the restart with the
            # failures that strike it) would cross the outside event; its draws are read here and taken below, in
            # the order the loop's named steps take them
            manual_h = 0.0
            waits = manual_on and un[ui + (not hit_one)] < manual_share
            if waits:
                manual_h = ex[ei + (repair_mean_h != 0)] * manual_mean_h
            end_h = _restart_end(t + gap + (manual_due + manual_h), math.nan, r_h, mtbf_h, ex,
                                 ei + (repair_mean_h != 0) + waits, un, ui + (not hit_one) + manual_on,
                                 hit_one, repair_mean_h != 0, manual_share, manual_mean_h, limit, ist)
            if end_h != end_h:  # too few draws to read the restart through: nothing of this failure is taken yet
                ist[I_NEED_EXP] += (repair_mean_h != 0) + waits
                ist[I_NEED_UNI] += (not hit_one) + manual_on
                events_left += 1
                carry = gap
                status = DRAWS
                break
            if end_h >= limit:
                fail_in = gap
                break
            day = _day_ends(tk, ist, i_tokens, day, t, t + gap, saved, True, pos, tau, length, rate_h)
            t += gap
            x = pos + gap  # rules.advance
            done = cython.cast(cython.longlong, x // length) if length_finite else 0
            if done:
                train_h = done * tau
                pos = x - done * length
                checkpoints += done
                kept_h += train_h
                unsaved += train_h * rate_h
                saved += train_h * rate_h
                if record:
                    _emit(ev_i, ev_f, ist, i_events, E_CHECKPOINT, -1, done, t, 0.0)
            else:
                pos = x
            held_h += gap
        # the failure (in training, or striking a restart): its part, its repair, its manual intervention
        failures += 1
        k = 0
        if not hit_one:  # rules.pick_part
            u = un[ui] * total_w
            ui += 1
            while k < n_parts - 1 and u >= part_w[k]:
                u -= part_w[k]
                k += 1
        repair_h = 0.0
        if repair_mean_h != 0:
            repair_h = ex[ei] * repair_mean_h
            ei += 1
        if manual_on:  # rules.manual_wait: the uniform, then (a manual intervention) its wait
            ui += 1
            if un[ui - 1] < manual_share:
                ei += 1
            manual_due += manual_h
        if t >= next_return:  # repairs came back since the last look: take them into account
            next_return = _settle(t, rows, part_row, part_units, spare, grow_at, usable, failed, rt, ru, rtook, rn,
                                  rfirst, ist, ev_i, ev_f, record, track, can_grow, i_events, i_grow)
        grow = ist[i_grow] != 0  # (as at a maintenance restart)
        r = part_row[k]
        node = part_node[k]
        units_k = part_units[k]
        lost = node if node <= spare[k] + units_k else max(spare[k] + units_k, 0)
        failed[r] += lost
        slot = rn[r]
        rt[r, slot] = t + repair_h
        ru[r, slot] = lost
        rtook[r, slot] = repair_h
        rn[r] = slot + 1
        if t + repair_h < rfirst[r]:
            rfirst[r] = t + repair_h
        if track:
            _emit(ev_i, ev_f, ist, i_events, E_FAILED, r, failed[r], t, 0.0)
        spare[k] -= lost
        if t + repair_h < next_return:
            next_return = t + repair_h
        if spare[k] < 0 and next_return <= t:  # a repair of no time (repair_days: 0) is back at once, as Python has it
            next_return = _settle(t, rows, part_row, part_units, spare, grow_at, usable, failed, rt, ru, rtook, rn,
                                  rfirst, ist, ev_i, ev_f, record, track, can_grow, i_events, i_grow)
        if record:  # (a failure that strikes a restart loses no training: -1 says so)
            _emit(ev_i, ev_f, ist, i_events, E_FAILURE, r, node, t, -1.0 if in_restart else _pending(pos, tau) * 60.0)
            _emit(ev_i, ev_f, ist, i_events, E_RESTART, -1, 0, t, manual_h)
        restarting = False
        if in_restart:
            if spare[k] < 0:
                ist[I_PENDING_RESTART] = 1  # too few chips left: the main loop re-plans and restarts
                break
            restarting = True  # the restart starts over (after this failure's manual intervention, if any)
            continue
        lost_h += _pending(pos, tau)
        pos = 0.0
        recorded = False
        if t >= next_record:  # the safe tokens, at most once per simulated day; each pool's share of them
            for j in range(part_share.shape[0]):
                pool_tok[j] += unsaved * part_share[j]
            unsaved = 0.0
            n_tk = ist[i_tokens]
            tk[n_tk, 0] = t
            tk[n_tk, 1] = saved
            ist[i_tokens] = n_tk + 1
            next_record = ((t / 24.0) // 1.0 + 1.0) * 24.0
            recorded = True
        if spare[k] < 0:
            ist[I_PENDING_RESTART] = 1  # too few chips left: the main loop re-plans and restarts
            break
        if grow and not _no_faster_plan(rows, usable, failed, checked, full, grow_at, grid_ratio, levels):
            ist[I_RESUME] = 1  # Python asks the strategy; the restart is paid when the loop resumes
            status = GROW
            break
        if grow:
            ist[i_grow] = 0
        restarting = True
        if recorded and record:
            status = RECORD
            break
    ist[I_RESTARTING] = restarting
    fs[F_T] = t
    fs[F_POS] = pos
    fs[F_SAVED] = saved
    fs[F_CARRY] = carry
    fs[F_NEXT_MAINT] = next_maint
    fs[F_HELD] = held_h
    fs[F_KEPT] = kept_h
    fs[F_LOST] = lost_h
    fs[F_UNSAVED] = unsaved
    fs[F_NEXT_RECORD] = next_record
    fs[F_NEXT_DAY] = day
    fs[F_NEXT_RETURN] = next_return
    fs[F_FAIL_IN] = fail_in
    fs[F_MANUAL_DUE] = manual_due
    ist[I_EXP] = ei
    ist[I_UNI] = ui
    ist[I_CHECKPOINTS] = checkpoints
    ist[I_FAILURES] = failures
    ist[I_MAINTENANCE] = maintenance
    ist[I_EVENTS_LEFT] = events_left
    return status


@cython.cclass
class Loop:
    """The arrays ``stretch`` works on, held once per job (a call then unpacks none of them).

    Python sets an attribute again whenever it replaces the array behind it (a new block of draws, a larger
    repair table, the next stretch's plan).
    """

    fs = cython.declare(cython.double[:], visibility="public")
    ist = cython.declare(cython.longlong[:], visibility="public")
    ex = cython.declare(cython.double[:], visibility="public")
    un = cython.declare(cython.double[:], visibility="public")
    rows = cython.declare(cython.longlong[:], visibility="public")
    part_row = cython.declare(cython.longlong[:], visibility="public")
    part_units = cython.declare(cython.longlong[:], visibility="public")
    part_node = cython.declare(cython.longlong[:], visibility="public")
    part_w = cython.declare(cython.double[:], visibility="public")
    part_share = cython.declare(cython.double[:], visibility="public")
    spare = cython.declare(cython.longlong[:], visibility="public")
    grow_at = cython.declare(cython.double[:], visibility="public")
    usable = cython.declare(cython.longlong[:], visibility="public")
    failed = cython.declare(cython.longlong[:], visibility="public")
    pool_tok = cython.declare(cython.double[:], visibility="public")
    rt = cython.declare(cython.double[:, :], visibility="public")
    ru = cython.declare(cython.longlong[:, :], visibility="public")
    rtook = cython.declare(cython.double[:, :], visibility="public")
    rn = cython.declare(cython.longlong[:], visibility="public")
    rfirst = cython.declare(cython.double[:], visibility="public")
    ev_i = cython.declare(cython.longlong[:, :], visibility="public")
    ev_f = cython.declare(cython.double[:, :], visibility="public")
    tk = cython.declare(cython.double[:, :], visibility="public")
    checked = cython.declare(cython.longlong[:], visibility="public")
    full = cython.declare(cython.longlong[:], visibility="public")
    levels = cython.declare(cython.longlong[:, :], visibility="public")  # per row, the pool's dated levels (0: none)

    def repairs(self, table: Repairs) -> None:
        """Work on ``table`` (again: after it grew, or after Python added a repair that made it grow)."""
        self.rt, self.ru, self.rtook, self.rn, self.rfirst = table.t, table.units, table.took, table.n, table.first

    def run(self) -> int:
        """``stretch`` on the arrays held; its status."""
        return stretch(self.fs, self.ist, self.ex, self.un, self.rows, self.part_row, self.part_units,
                       self.part_node, self.part_w, self.part_share, self.spare, self.grow_at, self.usable,
                       self.failed, self.pool_tok, self.rt, self.ru, self.rtook, self.rn, self.rfirst, self.ev_i,
                       self.ev_f, self.tk, self.checked, self.full, self.levels)

