"""The one bridge from a scenario's pool to the cost model's inputs (model, chip, training setup, pin).

``planner estimate``, the simulation's layout planners and the calibration all go through here.
"""

from __future__ import annotations

from .arch import ModelArch
from .catalog import Chip
from .errors import InfeasiblePlanError
from .perf.layout import Parallelism
from .perf.search import SHAPE_TABLE_BYTES, LayoutPlanner, LayoutResult, best_layout
from .perf.setup import TrainingSetup, workload_setup
from .perf.system import System, system_for
from .scenario import Pool, Scenario


def setup_of(scenario: Scenario) -> TrainingSetup:
    """The scenario's workload as the cost model's training setup.

    A batch the workload leaves out is the lab's own, when a pool measured this model (perf.measured), else
    the default by model size.
    """
    return workload_setup(scenario)


def pin_of(pool: Pool) -> Parallelism:
    """The layout dimensions a pool fixes (none: all searched)."""
    return pool.parallelism or Parallelism()


def pool_system(scenario: Scenario, pool: Pool) -> System:
    """The pool's chip on its network under its software stack."""
    return system_for(scenario.chip(pool.chip), pool.stack, pool.network_gbps, pool.fused_attention,
                      pool.efficiency)


def layout_for(arch: ModelArch, chip: Chip | System, setup: TrainingSetup, units: int, pin: Parallelism,
               pool_name: str | None = None) -> LayoutResult:
    """Best layout on at most ``units`` chips; an InfeasiblePlanError names the pool."""
    try:
        return best_layout(arch, chip, setup, units, pin)
    except InfeasiblePlanError as exc:
        if pool_name is None:
            raise
        raise InfeasiblePlanError(f"pool {pool_name!r}: {exc}", needed_gib=exc.needed_gib,
                                  available_gib=exc.available_gib) from None


def pool_layout(scenario: Scenario, pool: Pool, units: int | None = None) -> LayoutResult:
    """Best layout of a pool's chips (its usable planned size unless ``units`` is given)."""
    n = pool.usable_units if units is None else units
    return layout_for(scenario.workload.arch, pool_system(scenario, pool), setup_of(scenario), n, pin_of(pool),
                      pool.name)


def layout_planners(scenario: Scenario) -> dict[str, LayoutPlanner | None]:
    """One layout planner per pool (None where nothing fits even at the pool's full size).

    Raises InfeasiblePlanError, naming every pool, when no pool fits at all.
    """
    setup = setup_of(scenario)
    planners, errors = {}, []
    for pool in scenario.fleet:
        try:
            planners[pool.name] = LayoutPlanner(scenario.workload.arch, pool_system(scenario, pool), setup,
                                                pool.planned_units, pin_of(pool),
                                                table_bytes=SHAPE_TABLE_BYTES // len(scenario.fleet))
        except InfeasiblePlanError as exc:
            planners[pool.name] = None
            errors.append(f"pool {pool.name!r}: {exc}")
    if all(p is None for p in planners.values()):
        raise InfeasiblePlanError("; ".join(errors))
    from .perf.measured import with_measurements

    return with_measurements(scenario, planners)  # a pool with measured rows runs at its fitted efficiency
