"""Numbers are numbers and switches are true or false: pydantic's lax reading is refused (planner/validation.py).

Pydantic reads the text "5_12" as 512, " 512 " as 512, Arabic-Indic digits as their value and ``true`` as 1;
``1`` and "yes" as true. A scenario that says so has a slip in it: the field is named, exit 2. Text that is a
number plainly written ("15.0e12", which PyYAML's YAML 1.1 leaves as text) is read as that number.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from conftest import one_error_line
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.loader import from_dict, load_scenario
from planner.validation import plain_value

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("value", ["5_12", " 512 ", "512\x00", "\u0661\u0662", "0x200", "512 chips", "", "1" * 41])
def test_text_that_is_no_plain_number_is_refused_for_a_number(cli, make_scenario, value):
    path = make_scenario({"fleet": [{"name": "h100", "chip": "h100-sxm", "units": value}]})
    line = one_error_line(cli("run", str(path)))
    assert f"{path}: fleet[0].units: must be a number" in line, line


@pytest.mark.parametrize("field,value", [("fleet[0].units", True), ("simulation.replications", True),
                                         ("workload.tokens", False), ("horizon_days", True)])
def test_a_boolean_is_no_number(cli, make_scenario, field, value):
    overrides = {"fleet": [{"name": "h100", "chip": "h100-sxm", "units": value}]} if field.startswith("fleet") else {
        "simulation": {"seed": 3, "replications": value}} if field.startswith("simulation") else {
        "workload": {"model": "llama3-8b", "tokens": value, "seq_len": 8192}} if field.startswith("workload") else {
        "horizon_days": value}
    line = one_error_line(cli("run", str(make_scenario(overrides))))
    assert f"{field}: must be a number, not true or false (got {str(value).lower()})" in line, line


@pytest.mark.parametrize("value", [1, 0, "yes", "true", 1.0])
def test_a_switch_is_true_or_false(cli, make_scenario, value):
    line = one_error_line(cli("validate", str(make_scenario({"reliability": {"enabled": value}}))))
    assert "reliability.enabled: must be true or false" in line, line


def test_a_number_written_as_text_plainly_is_that_number(make_scenario):
    text = make_scenario.scenario({"workload": {"model": "llama3-8b", "tokens": "1.0e11", "seq_len": "8192"},
                                   "fleet": [{"name": "h100", "chip": "h100-sxm", "units": "64"}]})
    assert text == make_scenario.scenario()


@pytest.mark.parametrize("path", sorted((ROOT / "scenarios").glob("*.yaml")), ids=lambda p: p.name)
def test_a_shipped_scenario_read_by_pyyaml_is_the_same_scenario(path):
    # PyYAML (YAML 1.1) reads 15.0e12 as text; a script that loads a scenario with it and calls from_dict gets the
    # scenario the CLI runs
    plain = yaml.safe_load(path.read_text())
    assert from_dict(plain, str(path)) == load_scenario(path)


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=-10**30, max_value=10**30) | st.floats(allow_nan=False, allow_infinity=False))
def test_plain_number_text_reads_as_its_number(x):
    assert plain_value("number", repr(x)) == x
    assert plain_value("number", x) == x


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=12))
def test_text_is_a_number_only_when_python_reads_it_as_one_plainly(text):
    try:
        got = plain_value("number", text)
    except ValueError:
        return
    # accepted: ASCII digits, a sign, a point, an exponent; float() reads it alike
    assert text.isascii() and "_" not in text and text == text.strip()
    assert got == float(text)


def test_each_item_of_a_list_of_numbers_is_named():
    with pytest.raises(ValueError, match=r"must be a number"):
        plain_value(("list", "number"), [1, 2, "3_0"])
    assert plain_value(("list", "number"), [1, "2.5"]) == [1, 2.5]
