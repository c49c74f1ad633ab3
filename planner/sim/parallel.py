"""The local backend: replications in a process pool sized to the cores (``--workers N``).

Each worker receives the scenario and its layout planners once (pool initializer) and then only
seeds, so what crosses a process boundary per replication is a SeedSequence and a dict of metrics.
Results come back in the order of the seeds, so they do not depend on the number of workers.
"""

from __future__ import annotations

import ctypes
import gc
import multiprocessing
import os
import signal
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

_CONTEXT: Any = None  # the shared argument of the mapped function, set in each worker
STOP_WAIT_S = 2.0  # how long ``stop`` waits for a terminated worker before it kills it


def default_workers() -> int:
    """The cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _die_with_parent(parent: int) -> None:
    """A worker's signals: it ends with the run, quietly, however the run ends.

    The run (planner/cli.py) turns SIGTERM into a clean stop of its own; a forked worker inherits that handler
    and, stopped while it waited on the pool's pipe, printed a traceback or lived on, holding the caller's output
    pipe open (`timeout ... planner sweep | tee` never ended). So a worker takes SIGTERM's default (it ends),
    leaves Ctrl-C to the run (which stops the pool), and asks Linux to end it when the run ends (prctl
    PR_SET_PDEATHSIG), whatever signal ended the run.
    """
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if hasattr(signal, "SIGHUP") and signal.getsignal(signal.SIGHUP) is not signal.SIG_IGN:
        signal.signal(signal.SIGHUP, signal.SIG_DFL)  # (the run's clean stop of a closed terminal is the run's)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # pragma: no cover - not Linux: the pool's own shutdown still applies
        pass
    if os.getppid() != parent:  # the run ended before the call above: end now
        os._exit(1)


PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _init(context: Any, parent: int) -> None:
    global _CONTEXT
    _die_with_parent(parent)
    _CONTEXT = context
    # what the worker inherited (forked) or received stays for its lifetime: keep the collector off it, so
    # that a collection (planner/decide/points.py collects after each point) scans only the worker's own
    # objects and does not touch, and copy, every page shared with the parent
    gc.freeze()


def _call(args: tuple[Callable, Any]) -> Any:
    fn, item = args
    return fn(_CONTEXT, item)


def _chunks(n: int, workers: int) -> int:
    """Items per task: a few tasks per worker keeps the pool busy and the progress bar moving."""
    return max(1, min(32, n // (workers * 8) or 1))


class Results(list):
    """The mapped results, in order; ``meanwhile``: what the caller's own function gave."""

    meanwhile: Any = None


def map_local(fn: Callable[[Any, Any], Any], context: Any, items: Sequence, workers: int | None = None,
              progress: Callable[[int], None] | None = None, meanwhile: Callable[[], Any] | None = None) -> Results:
    """``[fn(context, x) for x in items]`` in a process pool of ``workers`` (default: the cores), in order.

    ``progress(k)`` is called with the number of items done so far. One worker, or one item, runs
    in this process. ``meanwhile()`` runs in this process once the workers have their items (a serial
    piece of work that would otherwise wait for them, or they for it); its result is ``.meanwhile``.
    """
    # never more processes than cores: more only adds memory (32 on 2 cores: 3.9 GB), not speed
    workers = default_workers() if workers is None else max(1, min(workers, os.cpu_count() or 1))
    workers = min(workers, len(items))
    out = Results()
    if workers <= 1:
        if meanwhile is not None:
            out.meanwhile = meanwhile()
        for k, x in enumerate(items, start=1):
            out.append(fn(context, x))
            if progress:
                progress(k)
        return out
    # fork shares the imported modules with the workers (no second start-up); spawn where there is no fork
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    ctx = multiprocessing.get_context(method)
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init,
                               initargs=(context, os.getpid()))  # (the run's id: a spawned worker cannot know it)
    try:
        results = pool.map(_call, [(fn, x) for x in items], chunksize=_chunks(len(items), workers))
        if meanwhile is not None:
            out.meanwhile = meanwhile()
        for k, r in enumerate(results, start=1):
            out.append(r)
            if progress:
                progress(k)
        # inside: a SIGTERM while the pool shut down left its manager thread running, and the exit hook that wakes
        # it wrote to its pipe as it closed ("Exception ignored ... Traceback" on a stopped sweep)
        pool.shutdown()
    except BaseException:  # stopped (Ctrl-C, SIGTERM) or failed: the workers stop now, not after their items
        stop(pool)
        raise
    return out


def stop(pool: ProcessPoolExecutor) -> None:
    """End a pool's workers at once (``shutdown`` alone waits for the items they hold).

    Never waits on the pool itself: a worker terminated while it held the pool's call queue left the others
    blocked on its lock for ever, and ``shutdown(wait=True)`` with them (a SIGTERM hung a run, 1 in 80). The
    workers are terminated, the pool told to stop, then each worker joined for at most STOP_WAIT_S and killed
    if it is still there.
    """
    procs = list((getattr(pool, "_processes", None) or {}).values())  # (no public way before Python 3.14)
    for p in procs:
        if p.is_alive():
            p.terminate()
    pool.shutdown(wait=False, cancel_futures=True)
    for p in procs + [q for q in (getattr(pool, "_processes", None) or {}).values() if q not in procs]:
        p.join(STOP_WAIT_S)
        if p.is_alive():
            p.kill()
            p.join(STOP_WAIT_S)
    # the pool's manager thread closes its wake-up pipe as it ends; the interpreter's exit hook writes to that pipe
    # unlocked (CPython 3.11), and a close between its check and its write printed "Exception ignored ...
    # Traceback" on a stopped sweep's stderr (1 full suite in 4): it is let end first, for at most STOP_WAIT_S
    manager = getattr(pool, "_executor_manager_thread", None)  # (no public way, as ``_processes``)
    if manager is not None and manager.is_alive():
        manager.join(STOP_WAIT_S)
    # still there (a loaded machine: the race came back, 1 suite in 5): the exit hook is told the pipe is closed, so it
    # never writes to it; the thread was woken by ``shutdown`` already and ends by itself (its pipe left to the exit)
    wakeup = getattr(pool, "_executor_manager_thread_wakeup", None)
    if wakeup is not None and manager is not None and manager.is_alive():
        wakeup._closed = True
