"""planner: chip-supply-aware compute capacity planner and simulator for large-model training.

The public API (imported lazily, so that ``planner --help`` starts fast):

- ``load_scenario(path)`` -> ``Scenario``; ``from_dict(mapping, name)`` for a mapping
- ``estimate(scenario)`` -> the steady-state answer (``planner estimate --json``)
- ``simulate(scenario, replications=None, seed=None, ...)`` -> ``RunResult``
- ``write_report(result, folder)`` -> the report folder
- errors: ``PlannerError`` (exit code 2 or 3), ``ScenarioError``, ``InfeasiblePlanError``, ``ReportError``
"""

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("planner")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+local"

_EXPORTS = {
    "load_scenario": "planner.loader",
    "from_dict": "planner.loader",
    "Scenario": "planner.scenario",
    "estimate": "planner.api",
    "simulate": "planner.api",
    "RunResult": "planner.results",
    "write_report": "planner.report.writer",
    "PlannerError": "planner.errors",
    "ScenarioError": "planner.errors",
    "InfeasiblePlanError": "planner.errors",
    "ReportError": "planner.errors",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'planner' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
