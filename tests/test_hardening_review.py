"""Hostile inputs from a review: each one clear message (file, field, what is wrong), bounded work, no crash.

- a delivery sheet of blank lines was held whole as a list (941 MB, 6.8 s for 5 MiB) and read again for every
  pool naming it: 64 pools ran past two minutes;
- a sheet's error named the sheet alone (not the scenario or the field), and a date past the calendar in a sheet
  was blamed on the scenario's ``fleet[0].deliveries[1].date``, a list the file does not hold;
- a key holding a lone surrogate (legal JSON) ended in "unexpected UnicodeEncodeError ... a defect";
- a key that is not text read as a list index (``[1]``) or a Python repr;
- every pool keeps its own layout tables: 12 pools of a 3.6-million-layout grid took 6 GB, 64 would take ~29;
- ``--set 'fleet=[]'`` blamed a rental; a solve's end of 1e308 printed 309 digits; a path with a newline split
  the output line.
"""

from __future__ import annotations

import json

import pytest
from conftest import one_error_line

from planner import deliveries_file
from planner.loader import load_scenario

POOL = {"name": "p", "chip": "h100-sxm", "units": 0}


def _sheet_pools(n: int, sheet: str) -> list[dict]:
    return [{**POOL, "name": f"p{i}", "deliveries": {"file": sheet}} for i in range(n)]


def test_blank_lines_are_skipped_as_read_and_a_shared_sheet_is_read_once(make_scenario, tmp_path, monkeypatch):
    (tmp_path / "blank.csv").write_text("date,units\n" + "\n" * 200_000 + "2025-04-01,8\n", encoding="utf-8")
    rows = deliveries_file._csv_rows((tmp_path / "blank.csv").read_bytes())
    assert rows == [(1, ["date", "units"]), (200_002, ["2025-04-01", "8"])]  # numbered as lines are
    calls = []
    real = deliveries_file.read_deliveries
    monkeypatch.setattr(deliveries_file, "read_deliveries", lambda *a: calls.append(a) or real(*a))
    s = load_scenario(make_scenario(fleet=_sheet_pools(16, "blank.csv")))
    assert len(calls) == 1 and all(p.deliveries[0].units == 8 for p in s.fleet)


def test_a_csv_stops_reading_past_the_rows_a_plan_may_have():
    data = ("date,units\n" + "".join(f"2025-01-{1 + i % 28:02d},{i}\n" for i in range(5_000))).encode()
    assert len(deliveries_file._csv_rows(data)) == deliveries_file.MAX_ROWS + 2


@pytest.mark.parametrize(("sheet", "text", "says"), [
    ("far.csv", "date,units\n2025-04-01,10\n9999-12-31,20\n",
     "far.csv: row 3, column date: must not be after 2262-04-10"),
    ("gone.csv", None, "gone.csv: no such file"),
    ("passwd", "root:x:0:0", "passwd: a deliveries file is .csv or .xlsx"),
])
def test_a_sheets_error_names_the_scenario_the_field_and_the_row(cli, make_scenario, tmp_path, sheet, text, says):
    if text is not None:
        (tmp_path / sheet).write_text(text, encoding="utf-8")
    path = make_scenario(fleet=[POOL, *_sheet_pools(1, sheet)])
    line = one_error_line(cli("validate", path))
    assert line.startswith(f"error: {path}: fleet[1].deliveries.file: ") and says in line, line


@pytest.mark.parametrize(("key", "field"), [("costs.unit_price_usd", "costs.unit_price_usd"), ("top", "")])
def test_a_lone_surrogate_in_a_key_is_one_clear_line(cli, make_scenario, key, field):
    data = make_scenario.data()
    if key == "top":
        data["x\ud800"] = 1
    else:
        data["costs"] = {"unit_price_usd": {"h100\ud800": 5}}
    text = json.dumps(data)  # JSON writes the lone surrogate as \ud800, which it may
    assert "\\ud800" in text
    line = one_error_line(cli("validate", make_scenario.text(text, "s.json")))
    where = f"{field}: " if field else ""
    assert f"s.json: {where}key " in line and "lone surrogate" in line and "defect" not in line, line


@pytest.mark.parametrize(("key", "shown"), [("true", "true (a boolean)"), ("1", "1 (a number)"), ("null", "null"),
                                            ("2025-01-01", "2025-01-01 (a date)")])
def test_a_key_that_is_not_text_is_named_as_written(cli, make_scenario, key, shown):
    path = make_scenario()
    path.write_text(path.read_text(encoding="utf-8") + f"{key}: 1\n", encoding="utf-8")
    line = one_error_line(cli("validate", path))
    assert f"key {shown} at the top level: keys must be text" in line, line


def test_many_pools_of_huge_layout_grids_are_refused_by_their_memory(cli, make_scenario):
    arch = {"layers": 60, "hidden": 65536, "heads": 512, "vocab": 4194304,
            "moe": {"experts": 65536, "top_k": 64, "expert_ffn_hidden": 65536}}
    chip = {"bf16_tflops": 100000, "hbm_gib": 16384, "hbm_tbps": 1000, "scale_up_domain": 65536,
            "scale_up_gbyteps": 100000, "scale_out_gbps": 100000, "tdp_w": 1000, "chips_per_node": 1024}
    chips = [{"id": f"big{i}", **chip} for i in range(3)]
    path = make_scenario(workload={"model": arch, "tokens": 1e15, "seq_len": 131072},
                         chips=chips, fleet=[{"name": f"p{i}", "chip": f"big{i}", "units": 10_000_000}
                                             for i in range(3)])
    line = one_error_line(cli("validate", path))
    assert ": fleet: 3 pool(s) would keep up to about" in line and "GB of layout tables" in line, line


def test_an_edit_that_empties_the_fleet_says_so(cli, make_scenario, tmp_path):
    line = one_error_line(cli("sweep", make_scenario(), "--set", "fleet=[]", "--out", tmp_path / "sw"))
    assert "fleet: the fleet is empty" in line and "rental" not in line, line


def test_a_huge_end_of_a_search_is_shown_short(cli, make_scenario):
    path = make_scenario(fleet=[{**POOL, "units": 64}])
    line = one_error_line(cli("solve", path, "--deadline", "2025-12-01", "--vary", "fleet[0].units",
                              "--min", "1e308", "--max", "1.7e308"))
    assert "--min 1e+308" in line and "give a smaller --min" in line and len(line) < 600, line


def test_a_path_with_a_newline_stays_on_its_line(cli, make_scenario, tmp_path):
    path = make_scenario(filename="a\nb.yaml")
    r = cli("validate", path)
    assert r.exit_code == 0 and len(r.stdout.strip().splitlines()) == 1, r


def test_a_deadline_is_written_as_a_scenarios_dates_are(cli, make_scenario):
    path = make_scenario(fleet=[{**POOL, "units": 64}])
    for deadline in ("20251201", "2025-W48-1"):  # what date.fromisoformat alone also reads
        line = one_error_line(cli("solve", path, "--deadline", deadline, "--vary", "fleet[0].units"))
        assert f"--deadline {deadline!r} is not a date (YYYY-MM-DD)" in line, line


def test_a_date_with_a_line_break_says_so(cli, make_scenario):
    line = one_error_line(cli("validate", make_scenario(start="2025-03-01\n")))
    assert "start: a date is written YYYY-MM-DD, without spaces or line breaks around it" in line, line


def test_a_scheduler_that_one_replication_never_uses_is_named(cli, make_scenario, tmp_path):
    r = cli("run", make_scenario(), "--backend", "dask", "--scheduler", "tcp://127.0.0.1:1", "--replications", "1",
            "--out", tmp_path / "out")
    assert r.exit_code == 0 and "the Dask scheduler tcp://127.0.0.1:1 is not used" in r.stderr, r
