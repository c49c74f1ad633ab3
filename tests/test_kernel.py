"""The compiled loop (planner/sim/kernel.py): the same numbers compiled and as Python, and it is compiled."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


def test_a_repair_table_that_fills_grows_and_both_paths_agree(monkeypatch):
    """Hundreds of nodes out at once: the compiled loop asks for room, the table doubles, nothing is lost."""
    from planner.loader import from_dict
    from planner.sim import replication as rep
    from planner.strategy import options

    doc = {"name": "long-repairs", "start": "2025-01-01", "horizon_days": 400,
           "workload": {"model": "llama3-8b", "tokens": 3e14, "seq_len": 8192},
           "fleet": [{"name": "a", "chip": "h100-sxm", "site": "x", "units": 16384},
                     {"name": "b", "chip": "a100-80gb", "site": "x", "units": 2048}],
           "strategy": {"mode": "sync"},
           "reliability": {"enabled": True, "mtbf_chip_days": 2000, "repair_days": 20},
           "simulation": {"seed": 1, "replications": 1}}
    s = from_dict(doc)
    grows = []
    real = kernel.Repairs.grow
    monkeypatch.setattr(kernel.Repairs, "grow", lambda self: (grows.append(self.t.shape[1]), real(self)))
    rows = []
    for fast in (True, False):
        monkeypatch.setattr(engine.TrainingJob, "FAST", fast)
        ctx = Context(s, layout_planners(s))
        supply, job, _ = np.random.SeedSequence(0).spawn(3)
        run = rep.best_run(s, options(ctx, "sync")[0], rep.draw_supply(s, supply), job, 1.0)
        rows.append(rep.outcome_row(run))
    assert grows and min(grows) == 64  # the table started at 64 nodes per pool and had to grow
    fast, steps = rows
    assert fast["failures"] == steps["failures"] > 500
    assert fast["checkpoints"] == steps["checkpoints"]
    assert fast["chip_hours"] == pytest.approx(steps["chip_hours"], rel=1e-9)


def test_the_loops_arithmetic_is_its_twins():
    """The compiled loop carries its own copies of rules.py's and the plan grid's arithmetic: the same answers.

    (Compiled, these are C functions; the module loaded as Python exposes them, and the compiled module gives
    the same runs as that one, above.)
    """
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from planner.sim import rules
    from planner.strategy.base import grid_above, on_grid

    k = _as_python()
    hours = st.floats(0.0, 1e4, allow_nan=False)

    @settings(max_examples=300, deadline=None, derandomize=True, database=None)
    @given(units=st.integers(-5, 300_000), full=st.integers(1, 300_000),
           ratio=st.sampled_from([1.005, 1.05, 1.25]))
    def grids(units, full, ratio):
        assert k._on_grid(units, full, ratio) == on_grid(units, full, ratio)
        if units >= 0:
            assert k._grid_above(units, full, ratio) == grid_above(units, full, ratio)

    @settings(max_examples=300, deadline=None, derandomize=True, database=None)
    @given(left=st.floats(0.0, 1e15, allow_nan=False), rate=st.floats(0.0, 1e12, allow_nan=False),
           pos=hours, tau=st.floats(1e-3, 100.0), delta=st.floats(0.0, 1.0))
    def finish(left, rate, pos, tau, delta):
        assert k._pending(pos, tau) == rules.pending_hours(pos, tau)
        assert k._hours_to_finish(left, rate, pos, tau, tau + delta) == rules.hours_to_finish(
            left, rate, pos, tau, tau + delta)

    grids()
    finish()
    # a positive rate too small for the work ever to end (a goodput that underflows): never, not an overflow
    assert rules.hours_to_finish(4.0, 2.2e-308, 0.0, 1.0, 1.0) == math.inf == k._hours_to_finish(4.0, 2.2e-308, 0.0,
                                                                                                  1.0, 1.0)


@settings(max_examples=60, deadline=None, derandomize=True, database=None)
@given(asks=st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3), st.integers(0, 300), st.integers(0, 300)),
                     max_size=40))
def test_draws_are_the_generators_numbers_whatever_the_blocks(asks):
    """Blocks start small and grow: the numbers the job reads are still the stream's, in order."""
    d = engine.Draws(np.random.default_rng(11))
    got_exp, got_uni = [], []
    for need_e, need_u, take_e, take_u in asks:
        d.top_up(need_e, need_u)
        got_exp += [d.exponential(1.0) for _ in range(take_e)]
        got_uni += [d.random() for _ in range(take_u)]
    ref = np.random.default_rng(11)
    uni = np.random.Generator(ref.bit_generator.jumped())
    assert got_exp == ref.standard_exponential(len(got_exp)).tolist()
    assert got_uni == uni.random(len(got_uni)).tolist()
