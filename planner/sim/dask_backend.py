"""Replications on a Dask cluster: a scheduler address, or a local cluster of ``workers`` processes.

What every task of one map shares (a scenario's Context with its layout planners: ~20 MiB once the first
replication has filled its caches) does not travel with every task. A :class:`Shared` names it by a key and
says how to build it from a small recipe (the scenario, a few KiB). On the local cluster the ready context
crosses once per worker (scattered, broadcast), caches warm; on a scheduler's cluster only the recipe
travels and each worker process builds the context once and keeps it (the last ``KEEP_BUILT`` keys) for the
tasks and runs that follow. Tasks carry their items, several per task, so the per-task overhead stays small.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from ..errors import PlannerError
from .parallel import Results, _chunks

CONNECT_TIMEOUT_S = 10
KEEP_BUILT = 2  # contexts a worker process keeps (a long-lived remote worker serves many runs)


@dataclass(frozen=True)
class Shared:
    """What every task of a map shares, built on each worker once: ``build(recipe)``, cached under ``key``.

    ``build`` is a module-level function (pickled by name) and ``recipe`` small and picklable; equal keys
    must mean equal contexts (:func:`scenario_key` with whatever else the recipe holds).
    """

    build: Callable[[Any], Any]
    recipe: Any
    key: str
    ready: Any = None  # the built context when the caller has it: sent as is to the local cluster's workers


def scenario_key(scenario) -> str:
    """A short stable name of a scenario's content: the SHA-256 of its canonical JSON."""
    from ..whatif import canonical_json

    return hashlib.sha256(canonical_json(scenario).encode("utf-8")).hexdigest()


_BUILT: OrderedDict[str, Any] = OrderedDict()  # in each worker process: key -> built context
_BUILD_LOCK = threading.Lock()  # a worker with several threads still builds a context once
_BUILDS = [0]  # contexts this process has built (read by tests through Client.run)


def builds() -> int:
    """How many shared contexts this process has built."""
    return _BUILDS[0]


def built(shared: Shared) -> Any:
    """``shared``'s context: kept under its key from its first use in this process (``ready``, else built)."""
    with _BUILD_LOCK:
        if shared.key in _BUILT:
            _BUILT.move_to_end(shared.key)
            return _BUILT[shared.key]
        if shared.ready is not None:
            value = shared.ready
        else:
            value = shared.build(shared.recipe)
            _BUILDS[0] += 1
        _BUILT[shared.key] = value
        while len(_BUILT) > KEEP_BUILT:
            _BUILT.popitem(last=False)
        return value


def _run_batch(batch: list, fn: Callable, shared: Shared | None = None) -> list:
    """One task: ``fn`` over a batch of items (with the worker's shared context first when there is one)."""
    if shared is None:
        return [fn(x) for x in batch]
    context = built(shared)
    return [fn(context, x) for x in batch]


def connect(scheduler: str, client_class: Callable):
    """A Dask client of ``scheduler``, or a PlannerError naming the address (unreachable, malformed)."""
    shown = scheduler if len(scheduler) <= 80 else scheduler[:80] + "…"
    try:
        return client_class(scheduler, timeout=CONNECT_TIMEOUT_S)
    except (OSError, TimeoutError, ValueError, TypeError) as exc:
        why = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise PlannerError(f"--scheduler {shown}: cannot reach a Dask scheduler there ({why})") from None


# what the local cluster's workers import before they start (and the report's workbook writer, which forks from
# the same server when the CLI's process has Dask's threads: planner/report/writer.py)
PRELOAD = ("distributed", "planner.sim.runner", "planner.report.tables")
_SERVER_STARTED = [False]  # whether this process started the fork server with PRELOAD


def fork_server_started() -> bool:
    """Whether ``start_fork_server`` ran in this process (a fork server with ``PRELOAD`` imported is at hand)."""
    return _SERVER_STARTED[0]


def _fork_server() -> dict:
    """Dask settings that fork the local workers from one server which has imported ``PRELOAD`` once.

    Spawned workers (Dask's default) each start a fresh interpreter that imports distributed and then the
    simulation (about 1 s of CPU apiece, on a machine whose cores the replications need). A fork server is a
    fresh single-threaded process, so forking from it is as safe as spawning. Where there is none: spawn.
    """
    import multiprocessing

    import dask

    if "forkserver" not in multiprocessing.get_all_start_methods():  # pragma: no cover - not POSIX
        return {}
    from distributed.utils import get_mp_context

    config = {"distributed.worker.multiprocessing-method": "forkserver"}
    with dask.config.set(config):
        # distributed sets its own preload on first use: let it, then add the simulation (the server reads
        # the list when it starts, once per process)
        get_mp_context().set_forkserver_preload(list(PRELOAD))
    return config


def start_fork_server() -> None:
    """Start the local cluster's fork server now, in the background, with ``PRELOAD``.

    It imports ``PRELOAD`` while this process does other work (loading the scenario, replication 0); the
    cluster started after that forks its workers at once. Plain multiprocessing: this process need not import
    Dask for it (the server's preload list is read when it starts; distributed's own, set later, is not).
    """
    import multiprocessing
    from multiprocessing import forkserver

    if "forkserver" not in multiprocessing.get_all_start_methods():  # pragma: no cover - not POSIX
        return
    multiprocessing.get_context("forkserver").set_forkserver_preload(list(PRELOAD))
    try:
        forkserver.ensure_running()
    except OSError:  # no process to spare now: the cluster starts its own server (or says why) when it starts
        return
    _SERVER_STARTED[0] = True


@contextmanager
def client_of(scheduler: str | None = None, workers: int | None = None) -> Iterator:
    """A Dask client of ``scheduler``, or of a local cluster of ``workers`` processes, closed on exit.

    The local cluster starts cheaply: one thread per worker process, quiet logs, and its HTTP server on a free
    port (``dashboard_address=None`` means distributed's default, 8787: a second cluster, a notebook's or a parallel
    test's, made it warn that the port was taken). It listens on 127.0.0.1 only, as the app does: ":0" opened the
    scheduler's unauthenticated HTTP server on every interface for the length of a run.
    """
    import dask
    from dask.distributed import Client, LocalCluster

    cluster = None
    if scheduler:
        client = connect(scheduler, Client)
    else:
        with dask.config.set(_fork_server()):
            cluster = LocalCluster(n_workers=workers or 2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                   dashboard_address="127.0.0.1:0", silence_logs=logging.ERROR)
        client = Client(cluster)
    try:
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def tasks(items: list, slots: int, shared: Shared | None = None) -> list[list]:
    """The items in batches, one batch per task.

    A few tasks per worker slot when the items share a context (replications: milliseconds each),
    one item per task otherwise (sweep points: a whole run each).
    """
    size = _chunks(len(items), max(1, slots)) if shared is not None else 1
    return [items[i:i + size] for i in range(0, len(items), size)]


def map_dask(fn: Callable, items: list, scheduler: str | None = None, workers: int | None = None,
             progress: Callable[[int, int], None] | None = None, total: int | None = None,
             shared: Shared | None = None, meanwhile: Callable[[], Any] | None = None) -> Results:
    """``[fn(x) for x in items]`` on Dask, in the order of ``items`` (results are seeded per item).

    With ``shared``: ``[fn(context, x) for x in items]``, ``context`` sent (local cluster) or built (a
    scheduler's cluster) once per worker process, items batched several per task.
    ``progress(k, total)`` counts one item already done before the map (replication 0).
    ``meanwhile()`` runs in this process once the tasks are submitted; its result is ``.meanwhile``.
    """
    from dask.distributed import as_completed

    items = list(items)
    with client_of(scheduler, workers) as client:
        slots = sum(client.nthreads().values()) or workers or 2
        batches = tasks(items, slots, shared)
        if shared is None:
            arg = None
        elif scheduler:  # a cluster's workers (other machines): a few KiB of recipe in each task, built there once
            arg = dataclasses.replace(shared, ready=None)
        else:  # this machine's workers: the context as it is, once per worker
            arg = client.scatter(shared, broadcast=True, hash=False)
        futures = client.map(_run_batch, batches, fn=fn, shared=arg, pure=False)
        sizes = {f.key: len(b) for f, b in zip(futures, batches, strict=True)}
        out = Results()
        if meanwhile is not None:
            out.meanwhile = meanwhile()
        done = 1
        for f in as_completed(futures):
            done += sizes[f.key]
            if progress:
                progress(done, total or len(items) + 1)
        out.extend(r for batch in client.gather(futures) for r in batch)
        return out
