"""Replications on a Dask cluster: a scheduler address, or a local cluster of ``workers`` processes."""

from __future__ import annotations

from collections.abc import Callable

from ..errors import PlannerError

CONNECT_TIMEOUT_S = 10


def connect(scheduler: str, client_class: Callable):
    """A Dask client of ``scheduler``, or a PlannerError naming the address (unreachable, malformed)."""
    shown = scheduler if len(scheduler) <= 80 else scheduler[:80] + "…"
    try:
        return client_class(scheduler, timeout=CONNECT_TIMEOUT_S)
    except (OSError, TimeoutError, ValueError, TypeError) as exc:
        why = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise PlannerError(f"--scheduler {shown}: cannot reach a Dask scheduler there ({why})") from None


def map_dask(fn: Callable, items: list, scheduler: str | None = None, workers: int | None = None,
             progress: Callable[[int, int], None] | None = None, total: int | None = None) -> list:
    """``[fn(x) for x in items]`` on Dask, in the order of ``items`` (results are seeded per item)."""
    from dask.distributed import Client, LocalCluster, as_completed

    cluster = None
    if scheduler:
        client = connect(scheduler, Client)
    else:
        cluster = LocalCluster(n_workers=workers or 2, threads_per_worker=1, processes=True,
                               dashboard_address=None)
        client = Client(cluster)
    try:
        futures = client.map(fn, items, pure=False)
        done = 1
        for _ in as_completed(futures):
            done += 1
            if progress:
                progress(done, total or len(items) + 1)
        return client.gather(futures)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
