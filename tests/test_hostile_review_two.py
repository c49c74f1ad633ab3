"""Findings of a second hostile-input review.

Swept values that are not numbers, outputs that cannot encode a name, a byte-order mark, a sheet that is a link, a
pool held back whole, deliveries dated before the start.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from conftest import one_error_line
from test_entrypoint import _script


@pytest.mark.parametrize(("axis", "shown"), [("reliability.enabled=true,false", ["true", "false"]),
                                             ("expect=[]", ["[]"]),
                                             ("reliability={enabled: false}", ['{"enabled": false}'])])
def test_a_sweep_over_values_that_are_not_numbers_prints_its_table(cli, make_scenario, tmp_path: Path, axis: str,
                                                                   shown: list[str]):
    """A swept bool (or list, or mapping) crashed the table after the sweep's files were written.

    The table's `"≥ " + cell` met it: exit 2, "a defect of planner". The values now read as the file writes them.
    """
    r = cli("sweep", make_scenario(), "--set", axis, "--replications", "1", "--out", tmp_path / "sw")
    assert r.exit_code == 0, r
    assert "defect" not in r.stderr
    for text in shown:
        assert text in r.stdout, r


@pytest.mark.parametrize("encoding", ["cp1252", "ascii"])
def test_an_output_that_cannot_encode_a_name_writes_it_escaped(make_scenario, tmp_path: Path, encoding: str):
    r"""A pool named in Chinese, stdout in cp1252 (Windows, redirected): "unexpected UnicodeEncodeError", exit 2.

    The report was written and the expect result lost. Now the name is written \uXXXX, as stderr already did.
    """
    path = make_scenario(fleet=[{"name": "昇腾-cn", "chip": "h100-sxm", "units": 64}])
    env = {**os.environ, "PYTHONIOENCODING": encoding}
    r = subprocess.run([_script(), "run", str(path), "--out", str(tmp_path / "r")], capture_output=True, text=True,
                       timeout=300, env=env, encoding="utf-8")
    assert r.returncode == 0, r.stderr
    assert "defect" not in r.stderr and "Traceback" not in r.stderr
    assert "\\u6607\\u817e-cn" in r.stdout
    e = subprocess.run([_script(), "estimate", str(path), "--json"], capture_output=True, text=True, timeout=300,
                       env=env, encoding="utf-8")
    assert e.returncode == 0, e.stderr
    assert json.loads(e.stdout)["pools"][0]["pool"] == "昇腾-cn"  # JSON's own escape reads back as the name


def test_a_json_file_with_a_byte_order_mark_is_read(cli, make_scenario, tmp_path: Path):
    """Notepad and PowerShell 5 write UTF-8 with a BOM: the JSON file was refused ("Unexpected UTF-8 BOM")."""
    plain = make_scenario(filename="s.json")
    marked = tmp_path / "bom.json"
    marked.write_bytes(b"\xef\xbb\xbf" + plain.read_bytes())
    r = cli("validate", marked)
    assert r.exit_code == 0, r


def test_a_deliveries_sheet_that_links_to_another_kind_of_file_is_refused(cli, make_scenario, tmp_path: Path):
    """`evil.csv` linking to a text file was read, and the error quoted its first line ("found: api_key=...")."""
    secret = tmp_path / "keys.txt"
    secret.write_text("api_key=sk-live-123456789abcdef\n")
    (tmp_path / "evil.csv").symlink_to(secret)
    path = make_scenario(fleet=[{"name": "h100", "chip": "h100-sxm", "units": 0, "deliveries": {"file": "evil.csv"}}])
    line = one_error_line(cli("validate", path))
    assert "fleet[0].deliveries.file" in line and "not a .csv sheet" in line
    assert "sk-live" not in line
    good = tmp_path / "plan.csv"
    good.write_text("date,units\n2025-01-05,64\n")
    (tmp_path / "link.csv").symlink_to(good)  # a link to a sheet is still a sheet
    ok = make_scenario(fleet=[{"name": "h100", "chip": "h100-sxm", "units": 0, "deliveries": {"file": "link.csv"}}])
    assert cli("validate", ok).exit_code == 0


@pytest.mark.parametrize("fraction", [1.0, 0.99])
def test_a_pool_held_back_whole_says_so(cli, make_scenario, tmp_path: Path, fraction: float):
    """reserved_fraction 1: "no chip of p was in service before the horizon", where 64 were, all held back.

    0.99 of 64 leaves none for training either.
    """
    path = make_scenario(fleet=[{"name": "p", "chip": "h100-sxm", "units": 64, "reserved_fraction": fraction}])
    r = cli("run", path, "--out", tmp_path / "r")
    assert r.exit_code == 0, r
    limits = json.loads((tmp_path / "r" / "summary.json").read_text())["limits"]
    assert any("every chip of p is held back for other work" in x for x in limits), limits
    assert not any("was in service" in x for x in limits), limits


def test_deliveries_dated_before_the_start_are_noted(cli, make_scenario):
    """`units: 0` and a delivery of 1,000 in 2020 for a plan from 2025: every chip from day 0, and nothing said."""
    path = make_scenario(fleet=[{"name": "h100", "chip": "h100-sxm", "units": 0, "ordered_units": 1000,
                                 "deliveries": [{"date": "2020-01-01", "units": 1000}]}])
    r = cli("validate", path)
    assert r.exit_code == 0, r
    assert "fleet[0].deliveries[0]: 2020-01-01 is before the plan's start (2025-01-01)" in r.stderr, r
    assert "starts with 1,000 units delivered, not the 0 of fleet[0].units" in r.stderr
    later = make_scenario(fleet=[{"name": "h100", "chip": "h100-sxm", "units": 0,
                                  "deliveries": [{"date": "2025-02-01", "units": 64}]}])
    assert "before the plan's start" not in cli("validate", later).stderr
