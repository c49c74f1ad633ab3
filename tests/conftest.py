"""Shared test infrastructure: an in-process `planner` CLI runner and a scenario-file factory.

The runner calls the Typer app in this process (no interpreter start-up per call) and gives the same
exit codes and the same stdout/stderr text as the console script; tests/test_entrypoint.py checks
that against the installed `planner` script.
"""

from __future__ import annotations

import copy
import itertools
import json
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

ROOT = Path(__file__).resolve().parent.parent
SHIPPED_SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))

# The small default scenario of `make_scenario`: one pool of 64 H100 training Llama 3 8B on 1e11 tokens,
# reliability off (deterministic), two months of horizon. A run takes a few milliseconds.
DEFAULT_SCENARIO: dict[str, Any] = {
    "name": "small",
    "start": "2025-01-01",
    "horizon_days": 60,
    "workload": {"model": "llama3-8b", "tokens": 1.0e11, "seq_len": 8192},
    "fleet": [{"name": "h100", "chip": "h100-sxm", "units": 64}],
    "reliability": {"enabled": False},
    "simulation": {"seed": 3, "replications": 1},
}


# ---------------------------------------------------------------- parallel runs


def pytest_configure(config: pytest.Config) -> None:
    """Under ``-n N`` keep the tests marked ``xdist_group`` on one worker (xdist's ``loadgroup``).

    The browser tests share one Streamlit server and one page (tests/test_app_browser.py); the plain
    ``load`` distribution would split them over the workers and start a server on each. Tests without
    the mark are distributed one by one, as under ``load``.
    """
    if getattr(config.option, "dist", None) == "load":  # the controller: schedule by group
        config.option.dist = "loadgroup"
    workerinput = getattr(config, "workerinput", None)
    if workerinput and workerinput.get("planner_loadgroup"):  # a worker: name the groups in the test ids
        config.option.loadgroup = True


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node) -> None:
    """Tell each xdist worker that the controller schedules by group."""
    node.workerinput["planner_loadgroup"] = node.config.getvalue("dist") == "loadgroup"


# ---------------------------------------------------------------- the CLI, in process


@dataclass
class CliResult:
    """What one `planner ...` call gave: its exit code and its two output streams."""

    args: tuple[str, ...]
    exit_code: int
    stdout: str
    stderr: str
    exception: BaseException | None = None  # an error that was not a clean exit, as the runner caught it

    def json(self) -> Any:
        """Stdout parsed as JSON."""
        return json.loads(self.stdout)

    def __repr__(self) -> str:  # shown by pytest when an assertion on the result fails
        return (f"CliResult(planner {' '.join(self.args)} -> exit {self.exit_code}\n"
                f"--- stdout ---\n{self.stdout}--- stderr ---\n{self.stderr})")


class Cli:
    """``cli("estimate", path, "--json")`` runs ``planner estimate PATH --json`` in this process.

    Built on ``typer.testing.CliRunner`` invoking ``planner.cli.app``. Click >= 8.2 always captures
    stderr apart from stdout (the ``mix_stderr`` switch is gone), so both streams come back separately.
    ``planner.cli.main()`` (the console script) wraps ``app()``: a PlannerError escaping a command
    becomes ``error: <message>`` on stderr and its exit code, without a traceback. The runner does the
    same here; any other exception gives exit 1 and its traceback on stderr, as the script would.
    """

    def __init__(self) -> None:
        self._runner = CliRunner()

    def __call__(self, *args: Any, env: Mapping[str, str | None] | None = None) -> CliResult:
        from planner.cli import app
        from planner.errors import PlannerError

        argv = tuple(str(a) for a in args)
        r = self._runner.invoke(app, list(argv), env=env, catch_exceptions=True, prog_name="planner")
        exit_code, stderr, exc = r.exit_code, r.stderr, r.exception
        if isinstance(exc, SystemExit):  # a clean exit with a nonzero code, not an error
            exc = None
        elif isinstance(exc, PlannerError):
            stderr += f"error: {exc}\n"
            exit_code = exc.exit_code
        elif exc is not None:
            stderr += "".join(traceback.format_exception(exc))
            exit_code = 1
        return CliResult(argv, exit_code, r.stdout, stderr, exc)


@pytest.fixture(scope="session")
def cli() -> Cli:
    """The in-process `planner` command line."""
    return Cli()


# ---------------------------------------------------------------- scenario files


def merged(base: Mapping[str, Any], overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    """``base`` with ``overrides`` merged in: mappings merge key by key, anything else replaces, None deletes."""
    out = copy.deepcopy(dict(base))
    for key, value in (overrides or {}).items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merged(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


class ScenarioFactory:
    """Writes scenario files into one folder: the small default merged with overrides, or raw text."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def data(self, overrides: Mapping[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
        """The scenario mapping: DEFAULT_SCENARIO, then ``overrides``, then keyword ``fields`` merged in."""
        return merged(merged(DEFAULT_SCENARIO, overrides), fields)

    def __call__(self, overrides: Mapping[str, Any] | None = None, *, filename: str | None = None,
                 **fields: Any) -> Path:
        """Write the merged scenario as YAML (JSON when ``filename`` ends in .json); return its path.

        Without a ``filename`` each call writes a new file (scenario.yaml, scenario-2.yaml, ...).
        """
        if filename is None:
            filename = "scenario.yaml"
            for n in itertools.count(2):
                if not (self.folder / filename).exists():
                    break
                filename = f"scenario-{n}.yaml"
        data = self.data(overrides, **fields)
        text = json.dumps(data) if filename.endswith(".json") else yaml.safe_dump(data, sort_keys=False)
        return self.text(text, filename)

    def text(self, text: str, filename: str = "scenario.yaml") -> Path:
        """Write ``text`` as it is (for files that must be broken in a precise way)."""
        path = self.folder / filename
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    def scenario(self, overrides: Mapping[str, Any] | None = None, **fields: Any):
        """The merged scenario validated by ``planner.loader.from_dict`` (a ``Scenario``)."""
        from planner.loader import from_dict

        return from_dict(self.data(overrides, **fields), "<test scenario>")


@pytest.fixture
def make_scenario(tmp_path: Path) -> ScenarioFactory:
    """``make_scenario({"fleet": [...]})`` -> a YAML file in tmp_path; ``make_scenario.scenario(...)`` -> Scenario."""
    return ScenarioFactory(tmp_path)


@pytest.fixture(scope="module")
def module_scenarios(tmp_path_factory: pytest.TempPathFactory) -> ScenarioFactory:
    """A ScenarioFactory for module-scoped fixtures (its own temporary folder)."""
    return ScenarioFactory(tmp_path_factory.mktemp("scenarios"))


MAX_MESSAGE_BYTES = 2_000  # an error's whole output (issue: hardening)


def one_error_line(r: CliResult, code: int = 2) -> str:
    """The `error:` line of a failed call; asserts the exit code, no traceback, one line (notes aside), short output."""
    assert r.exit_code == code, r
    assert "Traceback" not in r.stderr + r.stdout, r
    lines = [x for x in r.stderr.splitlines() if not x.startswith("note: ")]
    assert len(lines) == 1 and lines[0].startswith("error: "), r
    assert len((r.stderr + r.stdout).encode()) <= MAX_MESSAGE_BYTES, len((r.stderr + r.stdout).encode())
    return lines[0]


def both_paths(scenario, seed: int = 0, records: tuple[bool, ...] = (True,)) -> list:
    """One replication's pick on the same draws: the compiled loop, then the named steps (``TrainingJob.FAST``).

    Each path once per ``records`` value (with or without the tables), in that order.
    """
    import numpy as np

    from planner.bridge import layout_planners
    from planner.sim import replication as rep
    from planner.sim.engine import TrainingJob
    from planner.strategy import Context, options

    ctx = Context(scenario, layout_planners(scenario))
    supply, job, _ = np.random.SeedSequence(seed).spawn(3)
    steps = rep.draw_supply(scenario, supply)
    cands, _why = options(ctx, scenario.strategy.mode)
    runs = []
    for fast in (True, False):
        for record in records:
            TrainingJob.FAST = fast
            try:
                runs.append(rep.best_run(scenario, cands, steps, job, 1.0, record=record))
            finally:
                TrainingJob.FAST = True
    return runs
