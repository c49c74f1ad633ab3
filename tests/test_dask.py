"""Replications on a local Dask cluster give exactly the local backend's summary (same seed).

What crosses to the workers: the scenario's context once per worker (sent ready to the local cluster's
workers, built once by a scheduler's workers and kept across runs), then tasks of a few replications that
carry only their (index, seed) pairs.
"""

from __future__ import annotations

import pickle
from collections import OrderedDict

import pytest

from planner import api
from planner.sim import dask_backend

TASK_BYTES = 16 * 1024  # a task carries seeds (and at most the scenario), never the context (1.3 MB here)


@pytest.fixture
def forkserver_workers(tmp_path):
    """Dask worker processes forked from one server that has imported distributed and the simulation once.

    Spawned workers (Dask's default) each start a fresh interpreter and import both (~2 s of CPU apiece).
    A fork server is a fresh single-threaded process, so forking from it is as safe as spawning.
    """
    import multiprocessing

    import dask
    import distributed  # noqa: F401  (its config defaults must exist before dask.config.set restores them)

    multiprocessing.get_context("forkserver").set_forkserver_preload(["distributed", "planner.sim.runner"])
    with dask.config.set({"distributed.worker.multiprocessing-method": "forkserver",
                          "temporary-directory": str(tmp_path)}):  # the workers' scratch space, not /tmp
        yield


@pytest.fixture
def shipped(monkeypatch):
    """What the Dask client sends: the pickled size of each task's own arguments, and what it scatters."""
    import distributed

    sent = {"task_bytes": [], "scattered": []}
    real_map, real_scatter = distributed.Client.map, distributed.Client.scatter

    def spy_map(self, func, *iterables, **kwargs):
        own = {k: v for k, v in kwargs.items() if not isinstance(v, distributed.Future)}  # futures: a key each
        sent["task_bytes"].extend(len(pickle.dumps((func, args, own))) for args in zip(*iterables, strict=True))
        return real_map(self, func, *iterables, **kwargs)

    def spy_scatter(self, data, *args, **kwargs):
        sent["scattered"].append(type(data).__name__)
        return real_scatter(self, data, *args, **kwargs)

    monkeypatch.setattr(distributed.Client, "map", spy_map)
    monkeypatch.setattr(distributed.Client, "scatter", spy_scatter)
    return sent


def _failing_scenario(make_scenario):
    # failures on, so that every replication draws something different
    return make_scenario.scenario(reliability={"enabled": True, "mtbf_chip_days": 100},
                                  fleet=[{"name": "h100", "chip": "h100-sxm", "units": 256}],
                                  workload={"tokens": 3e11})


@pytest.mark.slow  # starts a local Dask cluster of two worker processes; part of the normal suite
def test_dask_backend_matches_local(make_scenario, monkeypatch, forkserver_workers, shipped):
    import planner.sim.dask_backend as dask_backend

    calls = []
    real = dask_backend.map_dask

    def spy(fn, items, **kwargs):
        calls.append((len(items), kwargs.get("workers")))
        return real(fn, items, **kwargs)

    monkeypatch.setattr(dask_backend, "map_dask", spy)
    sc = _failing_scenario(make_scenario)
    local = api.simulate(sc, replications=4, seed=5)
    assert calls == []
    dask = api.simulate(sc, replications=4, seed=5, backend="dask", workers=2)
    assert calls == [(3, 2)]  # replication 0 runs here (it also gives the tables), the other three on Dask
    assert dask.summary == local.summary
    assert dask.replications.equals(local.replications)
    # replication 0's tables (made here while the workers run the rest) are those of the local run
    assert dask.schedule.equals(local.schedule) and dask.events.equals(local.events)
    assert local.summary.replications == 4
    assert local.replications["time_to_train_days"].nunique() == 4, local.replications
    assert (local.replications["failures"] > 0).all()
    # the context crossed once (scattered to every worker), not with each task
    assert shipped["scattered"] == ["Shared"]
    assert shipped["task_bytes"] and max(shipped["task_bytes"]) < TASK_BYTES, shipped


@pytest.mark.slow  # one local Dask cluster of two worker processes, reached by its address
def test_a_schedulers_workers_build_the_context_once_and_keep_it(make_scenario, forkserver_workers, shipped):
    from dask.distributed import Client, LocalCluster

    sc = _failing_scenario(make_scenario)
    local = api.simulate(sc, replications=40, seed=5)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster, \
            Client(cluster) as client:
        for _ in range(2):  # the second run finds the context its workers built in the first
            remote = api.simulate(sc, replications=40, seed=5, backend="dask", scheduler=cluster.scheduler_address)
            assert remote.summary == local.summary
            assert remote.replications.equals(local.replications)
        built = client.run(dask_backend.builds)
    assert len(built) == 2 and set(built.values()) <= {0, 1} and sum(built.values()) >= 1, built
    # only the scenario travels to a scheduler's workers, a few KiB in each task, and 39 replications make
    # a few tasks of several replications each
    assert shipped["scattered"] == []
    assert 4 <= len(shipped["task_bytes"]) <= 2 * 20 and max(shipped["task_bytes"]) < TASK_BYTES, shipped


def _build(recipe):
    return {"built from": recipe}


def _plus(context, x):
    return (context["built from"], x)


def test_a_worker_builds_each_shared_context_once_and_keeps_the_last_few(monkeypatch):
    monkeypatch.setattr(dask_backend, "_BUILT", OrderedDict())
    monkeypatch.setattr(dask_backend, "_BUILDS", [0])
    a, b, c = (dask_backend.Shared(_build, r, f"key-{r}") for r in "abc")
    assert dask_backend._run_batch([1, 2], _plus, a) == [("a", 1), ("a", 2)]
    assert dask_backend._run_batch([3], _plus, a) == [("a", 3)] and dask_backend.builds() == 1
    dask_backend._run_batch([1], _plus, b)
    dask_backend._run_batch([1], _plus, c)  # the third key pushes out the least recently used
    assert dask_backend.builds() == 3 and list(dask_backend._BUILT) == ["key-b", "key-c"]
    ready = dask_backend.Shared(_build, "d", "key-d", ready={"built from": "sent"})
    assert dask_backend._run_batch([1], _plus, ready) == [("sent", 1)] and dask_backend.builds() == 3
    assert dask_backend._run_batch([7], str) == ["7"]  # no shared context: fn(x)


def test_replications_go_several_to_a_task_and_points_one_each():
    items = list(range(1, 200))
    shared = dask_backend.Shared(_build, None, "k")
    batches = dask_backend.tasks(items, 2, shared)
    assert [x for b in batches for x in b] == items and 8 <= len(batches) <= 40
    assert dask_backend.tasks(items, 64, shared) == [[x] for x in items]  # many workers: one each
    assert dask_backend.tasks(["p1", "p2"], 2) == [["p1"], ["p2"]]


def test_the_key_names_the_scenario_content(make_scenario):
    one, same, other = (make_scenario.scenario(workload={"tokens": t}) for t in (1e11, 1e11, 2e11))
    assert dask_backend.scenario_key(one) == dask_backend.scenario_key(same) != dask_backend.scenario_key(other)


@pytest.mark.slow  # one local Dask cluster of two worker processes
def test_sweep_3x3_with_100_replications_on_dask_matches_local(make_scenario, forkserver_workers):
    from planner.decide.sweep import sweep

    sc = make_scenario.scenario(reliability={"enabled": True, "mtbf_chip_days": 50},
                                fleet=[{"name": "h100", "chip": "h100-sxm", "units": 64}], workload={"tokens": 2e10})
    axes = [("fleet[0].units", [32, 48, 64]), ("reliability.mtbf_chip_days", [20, 50, 200])]
    dask = sweep(sc, axes, replications=100, seed=2, backend="dask", workers=2)
    assert len(dask) == 9 and (dask["replications"] == 100).all()
    local = sweep(sc, axes, replications=100, seed=2, workers=2)
    assert dask.equals(local)
    assert dask["time_to_train_days_p10"].lt(dask["time_to_train_days_p90"]).all()  # failures make a spread
