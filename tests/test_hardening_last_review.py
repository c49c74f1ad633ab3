"""Hostile inputs and contract gaps from the last reviews: each refused with one clear message, exit 2.

- an `expect` with its min above its max passed `validate` and failed the run with exit 1, as if the plan missed;
- an empty value inside `--set a=1,,2` was dropped (a smaller grid, silently);
- a file's `sweep:` section passed `validate`; `planner sweep` then named the edit's field (`fleet[9]`), or a
  type's name (`sweep[0].values[0].float`), not the section's;
- a field path took Arabic-Indic digits as a list index (`fleet[٠]`);
- indexing a section read "no such item (the list has 0)";
- a limit's message quoted Python's `datetime.date(2025, 3, 1)` for a date written in the file.
"""

from __future__ import annotations

import datetime as dt

import pytest
from conftest import one_error_line

POOL = {"name": "p0", "chip": "h100-sxm", "units": 512}


def _sweep_error(cli, make_scenario, setting: str) -> str:
    """The error line of `planner sweep` on one pool with ``--set SETTING`` (and no report folder left)."""
    line = one_error_line(cli("sweep", make_scenario(fleet=[POOL]), "--set", setting, "--workers", "1",
                              "--out", str(make_scenario.folder / "o")))
    assert not (make_scenario.folder / "o").exists()
    return line


def test_an_expectation_no_value_can_pass_is_bad_input(cli, make_scenario):
    path = make_scenario(fleet=[POOL], expect=[{"metric": "mfu", "min": 0.9, "max": 0.1}])
    line = one_error_line(cli("validate", path))
    assert "expect[0]: min 0.9 is above max 0.1: no value can pass the check" in line
    assert "expect[0]" in one_error_line(cli("run", path, "--out", str(make_scenario.folder / "o")))


@pytest.mark.parametrize("values", ["256,,1024", "256,1024,", ",256"])
def test_an_empty_value_in_a_set_list_is_refused(cli, make_scenario, values):
    assert "is empty (write v1,v2,...)" in _sweep_error(cli, make_scenario, f"fleet[0].units={values}")


@pytest.mark.parametrize(("sweep", "field", "reason"), [
    ([{"path": "fleet[9].units", "values": [1, 2]}], "sweep[0].path", "fleet[9]: no such item (the list has 1)"),
    ([{"path": "fleet[0].units", "values": [256, -5]}], "sweep[0].values[1]", "fleet[0].units: "),
    ([{"path": "fleet[0].units", "values": [[1, 2]]}], "sweep[0].values", "value 1 is a list"),
    ([{"path": "fleet[0].units", "values": [256, {"a": 1}]}], "sweep[0].values", "value 2 is a mapping"),
    ([{"path": "fleet[0].units", "values": [256, None]}], "sweep[0].values", "value 2 is empty (null)"),
])
def test_validate_refuses_the_sweep_section_that_sweep_would(cli, make_scenario, sweep, field, reason):
    path = make_scenario(fleet=[POOL], sweep=sweep)
    for args in (("validate", path), ("sweep", path, "--workers", "1", "--out", str(make_scenario.folder / "o"))):
        line = one_error_line(cli(*args))
        assert f": {field}: " in line and reason in line and ".float" not in line, line


@pytest.mark.parametrize("path", ["fleet[\u0660].units", "fleet[\u0661].units", "fleet[\uff10].units"])
def test_a_field_path_index_is_ascii_digits(cli, make_scenario, path):
    assert "is not a field path" in _sweep_error(cli, make_scenario, f"{path}=256")
    line = one_error_line(cli("validate", make_scenario(fleet=[POOL], sweep=[{"path": path, "values": [1]}])))
    assert "sweep[0].path" in line


@pytest.mark.parametrize(("path", "said"), [("workload[0]", "workload is not a list"),
                                            ("fleet[0][0].units", "fleet[0] is not a list")])
def test_indexing_a_section_says_it_is_not_a_list(cli, make_scenario, path, said):
    line = _sweep_error(cli, make_scenario, f"{path}=1")
    assert said in line and "the list has 0" not in line


def test_a_limit_quotes_dates_as_the_file_writes_them(cli, make_scenario):
    steps = [{"date": dt.date(2025, 1, 1) + dt.timedelta(days=i), "mw": 3} for i in range(1_500)]
    path = make_scenario(fleet=[POOL], sites=[{"name": "default", "pue": 1.2, "power_mw": steps}])
    line = one_error_line(cli("validate", path))
    assert "sites[0].power_mw" in line and "{date: 2025-01-01, mw: 3}" in line and "datetime" not in line


def test_compare_json_says_never_for_a_mode_that_does_not_finish(cli, make_scenario):
    """As summary.json, sweep.csv and solve write it (review of the contract: compare wrote null)."""
    path = make_scenario(horizon_days=5, workload={"model": "llama3-70b", "tokens": 2e12, "seq_len": 8192},
                         fleet=[{"chip": "h100-sxm", "units": 256}])
    r = cli("compare", path, "--json")
    assert r.exit_code == 0, r
    modes = [m for m in r.json()["modes"] if m["possible"]]
    assert modes and all(m["finish_date"] == "never" and not m["finished"] for m in modes)


def test_a_sweep_section_takes_dates_as_a_date_field_does(cli, make_scenario):
    """YAML reads 2025-02-01 as a date: a sweep over a rental's end takes it (it was "values[0].float: ...")."""
    rent = {"name": "r", "chip": "h100-sxm", "site": "b",
            "cloud": {"units": 64, "from": "2025-01-01", "until": "2025-03-01", "price_per_chip_hour_usd": 2.0}}
    path = make_scenario(fleet=[POOL, rent], links=[{"sites": ["default", "b"], "gbps": 100}],
                         sweep=[{"path": "fleet[1].cloud.until", "values": [dt.date(2025, 2, 1), dt.date(2025, 4, 1)]}])
    assert cli("validate", path).exit_code == 0
