"""The compiled loop (planner/sim/kernel.py): the same numbers compiled and as Python, and it is compiled."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from planner.bridge import layout_planners
from planner.loader import load_scenario
from planner.sim import engine, kernel
from planner.sim.draws import fresh
from planner.sim.replication import run_replication
from planner.strategy import Context

ROOT = Path(__file__).resolve().parent.parent


def _as_python():
    """planner/sim/kernel.py loaded from its source: the pure-Python mode of the same code."""
    spec = importlib.util.spec_from_file_location("kernel_as_python", ROOT / "planner" / "sim" / "kernel.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_the_installed_loop_is_compiled():
    """`pip install -e .` builds the C extension; without it every run is several times slower (it still runs)."""
    assert kernel.COMPILED, "planner/sim/kernel.py is not compiled: run `pip install -e .`"


@pytest.mark.parametrize("name", ["ascend-ramp-2024", "mixed-two-sites"])
def test_compiled_and_python_loops_give_the_same_run(name, monkeypatch):
    s = load_scenario(ROOT / "scenarios" / f"{name}.yaml")
    seeds = np.random.SeedSequence(11).spawn(3)
    compiled = [run_replication(s, Context(s, layout_planners(s)), fresh(q), replications=3).metrics for q in seeds]
    python = _as_python()
    assert not python.COMPILED
    monkeypatch.setattr(engine, "kernel", python)
    as_python = [run_replication(s, Context(s, layout_planners(s)), fresh(q), replications=3).metrics
                 for q in seeds]
    assert compiled == as_python
    assert sum(m["failures"] for m in compiled) > 100  # the loop ran through many failures
