"""Findings of a contract review: pins no pool can hold, planner's own labels in sensitivity.csv, exit codes in help."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from conftest import one_error_line


def test_pins_that_need_more_chips_than_the_pool_has_are_bad_input(cli, make_scenario):
    """Pins of TP 8 x PP 4 x DP 1,000 on 4,096 chips passed validate.

    Estimate then said exit 3 "no parallel layout ... matches the pinned dimensions" and run exit 2, neither naming
    the field nor the 32,000 chips the pins need.
    """
    path = make_scenario(fleet=[{"name": "h100", "chip": "h100-sxm", "units": 4096,
                                 "parallelism": {"tp": 8, "pp": 4, "dp": 1000}}])
    for command in ("validate", "estimate", "run"):
        line = one_error_line(cli(command, path))
        assert "fleet[0].parallelism" in line and "need at least 32,000 chips" in line and "4,096" in line, line
    fits = make_scenario(fleet=[{"name": "h100", "chip": "h100-sxm", "units": 64,
                                 "parallelism": {"tp": 8, "dp": 8}}])
    assert cli("validate", fits).exit_code == 0


def test_sensitivity_csv_keeps_planners_own_labels_as_written(cli, tmp_path: Path):
    """The slip row's `low` was "'-30 d": the formula guard's apostrophe on a label planner wrote itself."""
    ramp = Path(__file__).resolve().parent.parent / "scenarios" / "ascend-ramp-2024.yaml"
    r = cli("sensitivity", ramp, "--replications", "1", "--out", tmp_path / "s")
    assert r.exit_code == 0, r
    with (tmp_path / "s" / "sensitivity.csv").open(newline="") as f:
        rows = {row["input"]: row for row in csv.DictReader(f)}
    assert (rows["delivery slip"]["low"], rows["delivery slip"]["high"]) == ("30 d early", "90 d late")
    assert not any(v.startswith("'") for row in rows.values() for v in row.values() if v)


def test_a_sweep_point_with_too_few_chips_for_the_pins_is_a_row_not_an_error(cli, make_scenario, tmp_path: Path):
    """The file's pins fit its 64 rented chips; the point at 32 is a row where no layout fits, not exit 2."""
    path = make_scenario(fleet=[{"name": "h100", "chip": "h100-sxm", "parallelism": {"tp": 8, "dp": 8},
                                 "cloud": {"units": 64, "from": "2025-01-01", "until": "2025-12-31",
                                           "price_per_chip_hour_usd": 2.0}}])
    r = cli("sweep", path, "--set", "fleet[0].cloud.units=32,64", "--replications", "1", "--out", tmp_path / "sw")
    assert r.exit_code == 0, r
    rows = [line for line in r.stdout.splitlines() if line.strip().startswith("│")]
    assert len(rows) == 2 and "never" in rows[0] and "never" not in rows[1], r.stdout


@pytest.mark.parametrize(("command", "codes"), [("estimate", "3 when no layout"), ("run", "1 when one fails"),
                                                ("compare", "3 when no mode"), ("sweep", "2 on bad input"),
                                                ("sensitivity", "2 on bad input"), ("validate", "2 at the first")])
def test_help_states_the_exit_codes(cli, command: str, codes: str):
    """estimate, compare, sweep and sensitivity said nothing of their exit codes in --help."""
    r = cli(command, "--help", env={"COLUMNS": "400"})
    assert r.exit_code == 0
    assert codes in " ".join(r.stdout.split()), r


def test_compare_marks_the_mode_a_job_pins(cli, tmp_path: Path):
    """A job pinned to sequential: compare marked only auto's diloco, 31 days sooner than what run trains."""
    import yaml

    doc = yaml.safe_load((Path(__file__).resolve().parent.parent / "scenarios" / "mixed-one-site.yaml").read_text())
    doc["strategy"] = {"mode": "single"}
    path = tmp_path / "pinned.yaml"
    path.write_text(yaml.safe_dump(doc))
    r = cli("compare", path, "--json")
    assert r.exit_code == 0, r
    rows = {m["mode"]: m for m in r.json()["modes"]}
    assert rows["single"]["run"] is True
    assert sum(bool(m["run"]) for m in rows.values()) == 1
    assert rows["single"]["auto"] is False  # (auto picks sync on these two pools)
    assert "single (pinned)" in cli("compare", path).stdout
    doc["strategy"] = {"mode": "auto"}
    path.write_text(yaml.safe_dump(doc))
    auto_rows = cli("compare", path, "--json").json()["modes"]
    assert [m["run"] for m in auto_rows] == [m["auto"] for m in auto_rows]
