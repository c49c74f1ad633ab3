"""Smoke tests of the installed `planner` console script, in real subprocesses.

Everything else drives the CLI in process (tests/conftest.py); these few check that the script is
installed, starts, and prints and exits exactly as the in-process runner says it does.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import planner

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "scenarios" / "all-cloud-h100.yaml"


def _script() -> str:
    """The console script next to this interpreter (not a pyenv shim), else the one on PATH."""
    local = Path(sys.executable).with_name("planner")
    found = str(local) if local.is_file() else shutil.which("planner")
    assert found, "the `planner` console script is not installed (pip install -e .)"
    return found


def planner_script(*args: object, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([_script(), *map(str, args)], capture_output=True, text=True, timeout=120, cwd=cwd)


def test_help_lists_the_commands():
    r = planner_script("--help")
    assert r.returncode == 0, r.stderr
    for command in ("run", "estimate", "validate", "schema", "catalog", "calibrate"):
        assert command in r.stdout, command
    assert not r.stderr


def test_version():
    r = planner_script("--version")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"planner {planner.__version__}"


def test_validate_a_shipped_scenario():
    r = planner_script("validate", SHIPPED)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"ok {SHIPPED}: all-cloud-h100 ")
    assert all(line.startswith("note: ") for line in r.stderr.splitlines())  # notes only (its batch is 1953.1 seqs)


def test_bad_input_exits_2_with_one_line_like_the_in_process_runner(cli, make_scenario):
    path = make_scenario(fleet=[{"name": "a", "chip": "h100-sxm", "units": 64,
                                 "deliveries": [{"date": "2025-03-01", "units": 512},
                                                {"date": "2025-06-01", "units": 256}]}])
    r = planner_script("validate", path)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr + r.stdout
    assert not r.stdout
    lines = r.stderr.splitlines()
    assert len(lines) == 1, r.stderr
    assert str(path) in lines[0] and "fleet[0].deliveries[1].units" in lines[0]
    inproc = cli("validate", path)
    assert (inproc.exit_code, inproc.stdout, inproc.stderr) == (r.returncode, r.stdout, r.stderr)


def test_estimate_json_of_a_shipped_scenario_matches_the_in_process_runner(cli):
    r = planner_script("estimate", SHIPPED, "--json")
    assert r.returncode == 0, r.stderr
    answer = json.loads(r.stdout)
    assert answer["scenario"] == "all-cloud-h100"
    (pool,) = answer["pools"]
    assert pool["chip"] == "h100-sxm" and 0 < pool["mfu"] < 1
    inproc = cli("estimate", SHIPPED, "--json")
    assert inproc.exit_code == 0, inproc
    same = inproc.json()
    for a in (answer, same):
        assert a["search"].pop("seconds") >= 0
    assert answer == same

