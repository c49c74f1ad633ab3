"""The interruption rules of the training job, as pure functions (hours; no clock, no state).

Between interruptions the job alternates ``tau`` hours of training with ``delta`` hours of blocking checkpoint
writes (a cycle of ``length = tau + delta``); ``pos`` is where it stands in its current cycle. A failure loses
the training since the last completed checkpoint; a planned stop writes a checkpoint first and loses nothing.
Both of the engine's paths (the loop's named steps and the fast loop through failures) apply these functions,
so they cannot drift apart (tests/test_engine_truth.py runs both on the same draws).
"""

from __future__ import annotations

import math


def pending_hours(pos_h: float, tau_h: float) -> float:
    """Training hours since the last completed checkpoint at cycle position ``pos_h`` (lost at a failure)."""
    return pos_h if pos_h < tau_h else tau_h


def advance(pos_h: float, elapsed_h: float, tau_h: float, length_h: float) -> tuple[int, float, float]:
    """The job trains on for ``elapsed_h`` hours from cycle position ``pos_h``.

    Returns (checkpoints completed, training hours those checkpoints save, the new cycle position). Each
    completed checkpoint saves its whole cycle's ``tau_h`` of training, also the part trained before
    ``pos_h`` (pending since an earlier stretch that ended without a stop, e.g. at a capacity step).
    """
    x = pos_h + elapsed_h
    done = int(x // length_h) if math.isfinite(length_h) else 0
    if not done:
        return 0, 0.0, x
    return done, done * tau_h, x - done * length_h


def hours_to_finish(tokens_left: float, tokens_per_h: float, pos_h: float, tau_h: float, length_h: float) -> float:
    """Hours from cycle position ``pos_h`` until the last tokens are trained.

    The writes of the checkpoints completed on the way count; the last, partial cycle writes none (the job
    stops with a final save). ``tokens_left`` counts from the last checkpoint: the training pending at
    ``pos_h`` is part of it.
    """
    if tokens_per_h <= 0:
        return math.inf
    train_h = max(tokens_left, 0.0) / tokens_per_h - pending_hours(pos_h, tau_h)  # training still to do
    if train_h <= 0:
        return 0.0
    # a rate so small (a goodput that underflows) that the work, or its count of cycles, never ends
    if not math.isfinite(train_h) or not math.isfinite(train_h / tau_h):
        return math.inf
    if not math.isfinite(tau_h):
        return train_h
    room_h = tau_h - pos_h  # training left in the current cycle (negative: it is writing)
    if train_h <= room_h:
        return train_h
    start_h = length_h - pos_h  # to the start of the next cycle
    rest_h = train_h - max(room_h, 0.0)
    full = math.ceil(rest_h / tau_h) - 1  # whole cycles before the last one (which ends the training)
    return start_h + full * length_h + (rest_h - full * tau_h)


def pick_part(weights: list[float], u: float) -> int:
    """The index a failure hits, for ``u`` uniform in [0, sum(weights)): parts in proportion to their failure rates."""
    k = 0
    while k < len(weights) - 1 and u >= weights[k]:
        u -= weights[k]
        k += 1
    return k


def manual_wait(u: float, e: float, share: float, mean_h: float) -> float:
    """Hours a failure waits for a manual intervention before its restart.

    ``u`` uniform in [0, 1): the failure needs one when ``u < share``; then ``e`` (a standard exponential) times
    ``mean_h`` is the wait, else none. The exponential is the distribution of most spread for a known mean: the
    only figure published for these waits (planner/perf/reliability.py).
    """
    return e * mean_h if u < share else 0.0
