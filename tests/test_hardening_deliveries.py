"""Deliveries from an XLSX sheet under attack: a zip bomb, blank rows, damaged files, odd names, library warnings.

Each test builds its workbook in tmp_path with openpyxl (then, to break it, rewrites one zip member) and goes
through `planner validate` or planner.deliveries_file.read_deliveries.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import warnings
import zipfile
from pathlib import Path

import openpyxl
import pytest
from conftest import one_error_line

from planner import deliveries_file
from planner.deliveries_file import read_deliveries
from planner.errors import ScenarioError

SHEET = "xl/worksheets/sheet1.xml"


def _book(rows: dict[int, tuple]) -> bytes:
    """An XLSX whose first sheet holds ``{row number: (A, B)}`` (the header is row 1)."""
    wb = openpyxl.Workbook()
    ws = wb.active
    for number, values in rows.items():
        for column, value in enumerate(values, start=1):
            ws.cell(row=number, column=column, value=value)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


PLAN = {1: ("date", "units"), 2: ("2025-01-10", 32), 3: ("2025-02-10", 64)}


def _rewrite(data: bytes, member: str, change) -> bytes:
    """``data`` with one zip member's bytes passed through ``change``."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            content = src.read(info.filename)
            dst.writestr(info.filename, change(content) if info.filename == member else content)
    return out.getvalue()


def _pool_file(make_scenario, name: str) -> Path:
    return make_scenario(fleet=[{"name": "h100", "chip": "h100-sxm", "units": 16, "deliveries": {"file": name}}])


def _validate(cli, make_scenario, tmp_path: Path, data: bytes, name: str = "d.xlsx"):
    (tmp_path / name).write_bytes(data)
    return cli("validate", _pool_file(make_scenario, name))


# ---------------------------------------------------------------- 1. a zip bomb is refused unread


def test_an_xlsx_that_unpacks_past_the_limit_is_refused_before_openpyxl_opens_it(cli, make_scenario, tmp_path,
                                                                                 monkeypatch):
    """A 1.5 MB file with a 1.5 GB cell took 3 GB of memory: only the packed size was capped.

    Here 4 MiB of 'A' in one inline-string cell (a few KB packed) against a limit lowered to 1 MiB.
    """
    bomb = _rewrite(_book(PLAN), SHEET, lambda xml: xml.replace(
        b'<c r="A3"', b'<c r="C2" t="inlineStr"><is><t>' + b"A" * (4 * 2**20) + b'</t></is></c><c r="A3"', 1))
    assert len(bomb) < 100_000
    monkeypatch.setattr(deliveries_file, "MAX_XLSX_UNPACKED_BYTES", 2**20, raising=False)
    opened = []
    monkeypatch.setattr(openpyxl, "load_workbook", lambda *a, **k: opened.append(a))
    line = one_error_line(_validate(cli, make_scenario, tmp_path, bomb))
    assert "d.xlsx" in line and "unpacks to 4.0 MiB" in line and "1 MiB" in line, line
    assert not opened  # refused from the zip's directory, nothing unpacked


def test_the_limits_are_sane_and_a_normal_sheet_is_under_them():
    assert 10 * 2**20 <= deliveries_file.MAX_XLSX_UNPACKED_BYTES <= 100 * 2**20
    assert deliveries_file.MAX_XLSX_ROW_NUMBER == 1_048_576  # Excel's last row: blank rows up to it are skipped
    assert deliveries_file.MAX_CELL_CHARS == 32_767
    rows = read_deliveries_from(_book(PLAN))
    assert rows == [{"date": "2025-01-10", "units": 32}, {"date": "2025-02-10", "units": 64}]


def test_a_cell_longer_than_excel_allows_is_refused_naming_it():
    """Written into the XML: openpyxl cuts a longer text when it writes one, another tool need not."""
    long_text = b"<t>" + b"x" * 40_000 + b"</t>"
    data = _rewrite(_book(PLAN), SHEET, lambda xml: xml.replace(b"<t>2025-02-10</t>", long_text))
    with pytest.raises(ScenarioError, match=r"row 3, column A: the cell holds 40,000 characters, more than 32,767"):
        read_deliveries_from(data)


def read_deliveries_from(data: bytes, folder: Path | None = None, name: str = "d.xlsx") -> list[dict]:
    """read_deliveries on ``data`` written to a file (in ``folder``, or a fresh temporary one)."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(folder or tmp) / name
        path.write_bytes(data)
        return read_deliveries(path, name)


# ---------------------------------------------------------------- 2. blank rows never cut deliveries off


def test_a_delivery_below_a_thousand_blank_rows_is_read_as_the_csv_reads_it(tmp_path):
    """Row 2 and row 1500 with blank rows between: only row 2 was read (the blank rows counted to the limit)."""
    xlsx = read_deliveries_from(_book({1: ("date", "units"), 2: ("2024-05-10", 32), 1500: ("2024-06-10", 64)}))
    (tmp_path / "d.csv").write_text("date,units\n2024-05-10,32\n" + "\n" * 1497 + "2024-06-10,64\n")
    want = [{"date": "2024-05-10", "units": 32}, {"date": "2024-06-10", "units": 64}]
    assert xlsx == want
    assert read_deliveries(tmp_path / "d.csv", "d.csv") == want


def test_a_scenario_reads_the_delivery_below_the_gap(make_scenario, tmp_path):
    from planner.loader import load_scenario

    (tmp_path / "d.xlsx").write_bytes(_book({1: ("date", "units"), 2: (dt.datetime(2025, 1, 10), 32),
                                             1500: (dt.datetime(2025, 2, 10), 64)}))
    s = load_scenario(_pool_file(make_scenario, "d.xlsx"))
    assert [(d.date, d.units) for d in s.fleet[0].deliveries] == [(dt.date(2025, 1, 10), 32),
                                                                  (dt.date(2025, 2, 10), 64)]


def test_a_sheet_whose_dimension_is_wrong_is_read_to_its_last_row():
    """The <dimension> says A1:B2 but row 3 holds a delivery: openpyxl would stop at row 2."""
    data = _rewrite(_book(PLAN), SHEET, lambda xml: xml.replace(b'<dimension ref="A1:B3"', b'<dimension ref="A1:B2"'))
    assert b'ref="A1:B2"' in zipfile.ZipFile(io.BytesIO(data)).read(SHEET)
    assert [r["units"] for r in read_deliveries_from(data)] == [32, 64]


def test_too_many_deliveries_between_blank_rows_are_refused_not_cut(monkeypatch):
    monkeypatch.setattr(deliveries_file, "MAX_ROWS", 3)
    rows = {1: ("date", "units"), **{2 + 10 * i: (f"2025-01-{10 + i}", 10 * (i + 1)) for i in range(5)}}
    with pytest.raises(ScenarioError, match=r"d.xlsx: row 32: more than 3 deliveries"):
        read_deliveries_from(_book(rows))


def test_a_row_past_the_last_row_a_sheet_may_have_is_refused(monkeypatch):
    """The scan is bounded: rows past the limit (Excel's last row, lowered here) are refused, not dropped."""
    monkeypatch.setattr(deliveries_file, "MAX_XLSX_ROW_NUMBER", 2_000, raising=False)
    with pytest.raises(ScenarioError, match=r"d.xlsx: the sheet has rows past row 2,000"):
        read_deliveries_from(_book({**PLAN, 2_500: ("2025-03-10", 96)}))


# ---------------------------------------------------------------- 3. a damaged workbook is one line, not a defect


@pytest.mark.parametrize("member", [SHEET, "xl/workbook.xml", "xl/styles.xml"])
def test_broken_xml_in_a_workbook_is_one_line_naming_the_file(cli, make_scenario, tmp_path, member):
    data = _rewrite(_book(PLAN), member, lambda xml: xml[: len(xml) // 2])
    line = one_error_line(_validate(cli, make_scenario, tmp_path, data))
    assert "d.xlsx" in line and "damaged XML" in line and "defect" not in line, line


def test_xml_broken_below_a_row_names_the_last_row_read(tmp_path):
    data = _rewrite(_book(PLAN), SHEET, lambda xml: xml[: xml.index(b'<row r="3"') + 20])
    with pytest.raises(ScenarioError, match=r"d.xlsx: after row 2: cannot read the sheet: damaged XML"):
        read_deliveries_from(data)


@pytest.mark.parametrize("cell, where", [
    (b'<c r="B2" t="n"><v>abc</v></c>', "after row 1"),  # a number that is not one
    (b'<c r="B2" t="s"><v>99</v></c>', "after row 1"),  # a shared string that is not there
    (b'<c r="B2" t="d"><v>soon</v></c>', "after row 1"),  # an ISO date that is not one
])
def test_a_cell_openpyxl_cannot_read_is_named_by_the_row_before_it(cli, make_scenario, tmp_path, cell, where):
    data = _rewrite(_book(PLAN), SHEET, lambda xml: xml.replace(b'<c r="B2" t="n"><v>32</v></c>', cell))
    line = one_error_line(_validate(cli, make_scenario, tmp_path, data))
    assert f"d.xlsx: {where}: cannot read the sheet" in line and "defect" not in line, line


def test_a_member_that_does_not_inflate_is_one_line(cli, make_scenario, tmp_path):
    data = bytearray(_book(PLAN))
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as z:
        info = z.getinfo(SHEET)
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    data[start:start + 8] = b"\xff" * 8  # the deflate stream's first bytes: zlib refuses them
    line = one_error_line(_validate(cli, make_scenario, tmp_path, bytes(data)))
    assert "d.xlsx: not a readable XLSX workbook" in line and "defect" not in line, line


def test_an_encrypted_member_is_one_line(cli, make_scenario, tmp_path):
    data = bytearray(_book(PLAN))
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as z:
        info = z.getinfo(SHEET)
    data[info.header_offset + 6] |= 1  # the local header's flags: encrypted
    central = data.index(b"PK\x01\x02")  # the central directory's entries: find the sheet's
    while data[central + 46:central + 46 + len(SHEET)] != SHEET.encode():
        central = data.index(b"PK\x01\x02", central + 4)
    data[central + 8] |= 1  # and the central directory's
    line = one_error_line(_validate(cli, make_scenario, tmp_path, bytes(data)))
    assert "d.xlsx" in line and "encrypted" in line and "defect" not in line, line


@pytest.mark.parametrize("name, why", [
    ("x\ud800.csv", "not valid Unicode"),  # a lone surrogate, as a JSON \ud800 escape gives it
    ("x\u0000.csv", "NUL"),
])
def test_a_deliveries_path_that_cannot_be_a_file_name_is_one_line(cli, make_scenario, name, why):
    data = make_scenario.data(fleet=[{"name": "h", "chip": "h100-sxm", "units": 16, "deliveries": {"file": name}}])
    path = make_scenario.text(json.dumps(data), "s.json")
    assert "\\ud800" in path.read_text() or "\\u0000" in path.read_text()
    line = one_error_line(cli("validate", path))
    assert "s.json: fleet[0].deliveries.file:" in line and why in line and "defect" not in line, line


# ---------------------------------------------------------------- 4. no library warning reaches the user


def test_a_sheet_with_excel_dropdowns_validates_without_a_warning(cli, make_scenario, tmp_path):
    """Data validation in an <extLst> (Excel's dropdowns): openpyxl warns it drops them; the user saw it."""
    ext = (b'<extLst><ext uri="{CCE6A557-97BC-4b89-ADB6-D9C93CAAB3DF}" '
           b'xmlns:x14="http://schemas.microsoft.com/office/spreadsheetml/2009/9/main">'
           b'<x14:dataValidations count="1" xmlns:xm="http://schemas.microsoft.com/office/excel/2006/main">'
           b'<x14:dataValidation type="list"><x14:formula1><xm:f>Lists!$A$1:$A$3</xm:f></x14:formula1>'
           b'<xm:sqref>C2:C10</xm:sqref></x14:dataValidation></x14:dataValidations></ext></extLst>')
    data = _rewrite(_book(PLAN), SHEET, lambda xml: xml.replace(b"</worksheet>", ext + b"</worksheet>"))
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        r = _validate(cli, make_scenario, tmp_path, data)
    assert r.exit_code == 0 and r.stderr == "", r
    assert [str(w.message) for w in seen] == []


def test_a_scenario_check_on_a_sheet_s_row_names_the_sheet_row_and_column(cli, make_scenario, tmp_path):
    """The pool holds 16 chips and the sheet's first delivery (row 3, after a blank row) reads 4 in all.

    The message named `fleet[0].deliveries[0].units`, a list no file has, and neither the sheet nor its row.
    """
    (tmp_path / "d.csv").write_text("date,units\n\n2025-03-01,4\n2025-04-01,32\n")
    line = one_error_line(cli("validate", _pool_file(make_scenario, "d.csv")))
    assert "fleet[0].deliveries.file: " in line and "d.csv: row 3, column units: 4 is cumulative" in line, line
    assert "deliveries[0]" not in line
