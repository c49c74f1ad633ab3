"""The test harness of conftest.py: the in-process CLI runner behaves like the console script, the scenario factory."""

from __future__ import annotations

import json
import sys

import pytest
import yaml

import planner.calibrate
from planner import cli as planner_cli
from planner.errors import InfeasiblePlanError


def _main(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, *args: str) -> tuple[int, str, str]:
    """Run ``planner.cli.main()`` (what the console script calls) in process; (exit code, stdout, stderr)."""
    monkeypatch.setattr(sys, "argv", ["planner", *args])
    with pytest.raises(SystemExit) as info:
        planner_cli.main()
    out, err = capsys.readouterr()
    return info.value.code, out, err


def test_an_escaping_planner_error_is_reported_like_main(cli, monkeypatch, capsys):
    def boom(**_):
        raise InfeasiblePlanError("nothing fits: 99 GiB needed, 80 GiB available")

    monkeypatch.setattr(planner.calibrate, "calibrate", boom)
    r = cli("calibrate")
    assert r.exit_code == 3, r
    assert r.stderr == "error: nothing fits: 99 GiB needed, 80 GiB available\n"
    assert "Traceback" not in r.stderr and not r.stdout
    assert r.exception is None  # the command's guard printed it: the same line as main()
    code, out, err = _main(monkeypatch, capsys, "calibrate")
    assert (code, out, err) == (r.exit_code, r.stdout, r.stderr)


def test_an_internal_error_is_one_line_unless_debugging(cli, monkeypatch):
    def broken(**_):
        raise RuntimeError("internal")

    monkeypatch.setattr(planner.calibrate, "calibrate", broken)
    r = cli("calibrate", "--json")
    assert r.exit_code == 2, r
    assert "Traceback" not in r.stderr and len(r.stderr.splitlines()) == 1
    assert "unexpected RuntimeError: internal" in r.stderr and "defect" in r.stderr
    r = cli("calibrate", "--json", env={"PLANNER_DEBUG": "1"})
    assert r.exit_code == 1, r
    assert "Traceback" in r.stderr and "RuntimeError: internal" in r.stderr
    assert isinstance(r.exception, RuntimeError)


def test_exit_codes_and_streams_are_separate(cli, make_scenario, tmp_path):
    ok = cli("validate", make_scenario())
    assert (ok.exit_code, ok.stderr, ok.exception) == (0, "", None)
    assert ok.stdout.startswith("ok ")
    failing = cli("run", make_scenario(expect=[{"metric": "time_to_train_days", "max": 0.01}]), "--out", tmp_path / "o")
    assert failing.exit_code == 1 and failing.exception is None, failing  # a clean exit 1, not an error
    assert "FAIL" in failing.stdout and not failing.stderr.strip()
    with pytest.raises(ValueError):
        cli("validate", make_scenario()).json()  # stdout is not JSON


def test_scenario_factory_default_and_overrides(make_scenario):
    s = make_scenario.scenario()
    assert (s.workload.model, s.fleet[0].chip, s.fleet[0].units) == ("llama3-8b", "h100-sxm", 64)
    assert not s.reliability.enabled and s.horizon_days <= 90
    t = make_scenario.scenario({"workload": {"tokens": 5e11}}, reliability=None, fleet=[
        {"name": "a", "chip": "a100-80gb", "units": 8}, {"name": "b", "chip": "h100-sxm", "units": 16}])
    assert t.workload.tokens == 5e11 and t.workload.model == "llama3-8b"  # mappings merge
    assert [p.name for p in t.fleet] == ["a", "b"]  # lists replace
    assert t.reliability.enabled  # None removed the section: the default applies
    first, second = make_scenario(), make_scenario(name="other")
    assert first != second and first.read_text() != second.read_text()
    assert yaml.safe_load(second.read_text())["name"] == "other"
    assert json.loads(make_scenario(filename="s.json").read_text())["name"] == "small"
