"""Findings of a hostile-input review: recursive YAML aliases, app settings at infinity, the app's delivery sheets."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import one_error_line
from test_entrypoint import _script

RECURSIVE = {
    "list": "name: x\nworkload: &a [*a]\n",
    "mapping": "name: x\nworkload: &w {model: llama3-8b, tokens: 1.0e11, seq_len: 4096, x: *w}\n",
    "deep": "name: x\nfleet:\n  - &p {name: a, chip: h100-sxm, units: 8, more: [{inner: *p}]}\n",
}


@pytest.mark.parametrize("text", RECURSIVE.values(), ids=RECURSIVE.keys())
def test_an_alias_inside_its_own_anchor_is_bad_input(tmp_path: Path, text: str):
    """`&a [*a]` made a value that contains itself: `validate` ran at 100% CPU for ever.

    The mapping form took gigabytes in seconds. It is refused at its line and column, exit 2. Run in a child
    process with a timeout, so that the old behaviour fails the test instead of hanging it.
    """
    path = tmp_path / "rec.yaml"
    path.write_text(text)
    r = subprocess.run([_script(), "validate", str(path)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2, r
    assert "Traceback" not in r.stderr
    assert "is inside the value its anchor names" in r.stderr, r.stderr


def test_a_recursive_alias_in_set_and_in_the_apps_reader(cli, tmp_path: Path):
    """The same through `--set` and through parse_bytes, which the app's upload reads with."""
    from planner.errors import ScenarioError
    from planner.loader import parse_bytes

    with pytest.raises(ScenarioError, match="is inside the value its anchor names"):
        parse_bytes(RECURSIVE["list"].encode(), "up.yaml")
    shared = parse_bytes(b"name: x\nfleet: [&p {name: a, chip: h100-sxm, units: 8}, *p]\n", "ok.yaml")
    assert shared["fleet"][0] == shared["fleet"][1]  # an alias to a finished value is still fine
    scenario = Path(__file__).resolve().parent.parent / "scenarios" / "mixed-one-site.yaml"
    r = cli("sweep", scenario, "--set", "fleet[0].units=&a [*a]", "--out", tmp_path / "o", "--replications", "1")
    assert "is inside the value its anchor names" in one_error_line(r)


@pytest.mark.parametrize("value", ["inf", "-inf", "nan", "Infinity"])
def test_app_settings_at_infinity_fall_back_to_their_default(monkeypatch: pytest.MonkeyPatch, value: str):
    """PLANNER_APP_MAX_RUNS=inf crashed the app at import (int(inf)); an infinite setting is not a setting."""
    import importlib.util

    monkeypatch.setenv("PLANNER_APP_MAX_RUNS", value)
    monkeypatch.setenv("PLANNER_APP_CACHE_ENTRIES", value)
    monkeypatch.setenv("PLANNER_APP_WAIT_S", value)
    spec = importlib.util.spec_from_file_location("app_inf", Path(__file__).resolve().parent.parent / "app.py")
    app = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "app_inf", app)  # dataclasses look their module up
    spec.loader.exec_module(app)
    assert 1 <= app.MAX_CONCURRENT_RUNS < 1_000 and 1 <= app.CACHE_MAX_ENTRIES < 1_000
    assert 0 < app.RUN_WAIT_S < float("inf")


def test_the_app_reads_a_folder_scenarios_delivery_sheet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A file of the app's folder with `deliveries: {file: d.csv}` beside it opens as the CLI reads it.

    `planner validate` took it; the app refused it ("give the scenario as a file").
    """
    from test_app import _errors, _no_traceback, _run_app

    folder = tmp_path / "scenarios"
    folder.mkdir()
    (folder / "d.csv").write_text("date,units\n2025-01-10,64\n2025-02-01,128\n")
    (folder / "ascend-ramp-2024.yaml").write_text(yaml.safe_dump({
        "name": "sheet", "start": "2025-01-01", "horizon_days": 60,
        "workload": {"model": "llama3-8b", "tokens": 1.0e11, "seq_len": 8192},
        "fleet": [{"name": "own", "chip": "h100-sxm", "deliveries": {"file": "d.csv"}}],
        "reliability": {"enabled": False}, "simulation": {"seed": 3, "replications": 1}}, sort_keys=False))
    monkeypatch.setenv("PLANNER_SCENARIO_DIR", str(folder))
    app = _run_app()
    _no_traceback(app)
    assert not [e for e in _errors(app) if "deliveries" in e], _errors(app)


def test_a_huge_app_cache_setting_is_capped(monkeypatch: pytest.MonkeyPatch):
    """PLANNER_APP_CACHE_MB=1e308 passed the finite check and overflowed once turned into bytes (int(inf))."""
    import importlib.util

    monkeypatch.setenv("PLANNER_APP_CACHE_MB", "1e308")
    spec = importlib.util.spec_from_file_location("app_big", Path(__file__).resolve().parent.parent / "app.py")
    app = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "app_big", app)
    spec.loader.exec_module(app)
    assert 0 < app.CACHE_MAX_BYTES <= 2**20 * 1e6


def test_validate_refuses_the_sweep_sections_sweep_refuses(make_scenario, cli):
    """A path named twice and a grid over 10,000 points passed `validate` and failed `sweep` (portfolio review)."""
    twice = make_scenario(sweep=[{"path": "fleet[0].units", "values": [8, 16]},
                                 {"path": "fleet[0].units", "values": [32]}])
    line = one_error_line(cli("validate", twice))
    assert "sweep[1].path" in line and "named twice" in line
    big = make_scenario(sweep=[{"path": "fleet[0].units", "values": list(range(8, 1008))},
                               {"path": "workload.tokens", "values": [1e11 + i for i in range(1000)]}])
    line = one_error_line(cli("validate", big))
    assert "sweep[1].values" in line and "1,000,000 points" in line


def test_a_job_that_never_trains_says_why(make_scenario, cli):
    """A job whose pool's chips all come after the horizon finished "never" with no reason given (review)."""
    import json

    path = make_scenario(
        workload=None, start="2024-03-01", horizon_days=120,
        fleet=[{"name": "p1", "chip": "h100-sxm", "units": 512},
               {"name": "p2", "chip": "a100-80gb", "units": 0, "deliveries": [{"date": "2024-09-01", "units": 256}]}],
        jobs=[{"name": "a", "workload": {"model": "llama3-8b", "tokens": 2.0e11, "seq_len": 4096}},
              {"name": "b", "priority": 2, "pools": ["p2"],
               "workload": {"model": "llama3-8b", "tokens": 1.0e11, "seq_len": 4096}}])
    out = path.parent / "out"
    r = cli("run", path, "--out", out)
    assert r.exit_code == 0, r
    jobs = {j["name"]: j for j in json.loads((out / "summary.json").read_text())["jobs"]}
    assert any(x.startswith("never trained: no chip of p2 was in service before the horizon")
               for x in jobs["b"]["limits"]), jobs["b"]
    assert "never trained" in r.stdout


def test_a_quick_run_that_needs_much_memory_says_so(make_scenario, cli, monkeypatch):
    """A run past LARGE_MEMORY_BYTES of layout tables says so, however quick.

    The memory was said only with a long run's note: an 11-job portfolio estimated at 46 s and 7.5 GB ran with no
    note (it took 3 GB).
    """
    from planner import budget

    est = budget.WorkEstimate(events_per_replication=10, main_field="x", seconds=5.0, memory_bytes=7.5e9)
    monkeypatch.setattr(budget, "run_estimate", lambda *a, **k: est)
    path = make_scenario()
    r = cli("run", path, "--out", path.parent / "out")
    assert r.exit_code == 0, r
    assert "note: up to about 7.5 GB of layout tables per process" in r.stderr


def test_a_quantile_of_the_finish_probability_is_refused(make_scenario, cli):
    """`expect` took a `quantile` on finish_probability, which nothing reads, and echoed it in summary.json."""
    path = make_scenario(expect=[{"metric": "finish_probability", "quantile": 0.9, "min": 0.5}])
    line = one_error_line(cli("validate", path))
    assert "expect[0]" in line and "has no quantile" in line
    ok = make_scenario(expect=[{"metric": "finish_probability", "min": 0.5}])
    assert cli("validate", ok).exit_code == 0
