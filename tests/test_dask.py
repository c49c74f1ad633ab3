"""Replications on a local Dask cluster give exactly the local backend's summary (same seed)."""

from __future__ import annotations

import pytest

from planner import api


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


@pytest.mark.slow  # starts a local Dask cluster of two worker processes; part of the normal suite
def test_dask_backend_matches_local(make_scenario, monkeypatch, forkserver_workers):
    import planner.sim.dask_backend as dask_backend

    calls = []
    real = dask_backend.map_dask

    def spy(fn, items, **kwargs):
        calls.append((len(items), kwargs.get("workers")))
        return real(fn, items, **kwargs)

    monkeypatch.setattr(dask_backend, "map_dask", spy)
    # failures on, so that every replication draws something different
    sc = make_scenario.scenario(reliability={"enabled": True, "mtbf_chip_days": 100},
                                fleet=[{"name": "h100", "chip": "h100-sxm", "units": 256}], workload={"tokens": 3e11})
    local = api.simulate(sc, replications=4, seed=5)
    assert calls == []
    dask = api.simulate(sc, replications=4, seed=5, backend="dask", workers=2)
    assert calls == [(3, 2)]  # replication 0 runs here (it also gives the tables), the other three on Dask
    assert dask.summary == local.summary
    assert dask.replications.equals(local.replications)
    assert local.summary["replications"] == 4
    assert local.replications["time_to_train_days"].nunique() == 4, local.replications
    assert (local.replications["failures"] > 0).all()


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
