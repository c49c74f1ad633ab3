"""``deliveries: {file: ...}``: a pool's delivery plan read from a CSV or XLSX sheet, as procurement keeps it.

The sheet has a header row with the columns ``date`` and ``units`` (cumulative units delivered by that date;
other columns are left alone) and one delivery per row. The path is relative to the scenario file. Every
problem is one ScenarioError naming the sheet, the row (as a spreadsheet numbers it: the header is row 1)
and the column.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .errors import ScenarioError
from .perf.layout import MAX_UNITS
from .yamlio import clip

MAX_SHEET_BYTES = 5 * 1024 * 1024  # a delivery plan is a few hundred rows; larger files are refused unread
MAX_ROWS = 1_000  # the scenario's own bound on deliveries per pool (planner.scenario.MAX_DELIVERIES)
COLUMNS = ("date", "units")
SUFFIXES = (".csv", ".xlsx")
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_THOUSANDS = re.compile(r"^\d{1,3}(,\d{3})+$")  # 30,000 as a spreadsheet writes it


def _date(value: Any) -> dt.date:
    """A cell as a date: an ISO text (2024-07-31) or a spreadsheet date."""
    if isinstance(value, dt.datetime):
        if value.time() != dt.time(0):
            raise ValueError(f"{value.isoformat()} has a time of day; give the date only")
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = str(value).strip()
    if not _ISO.match(text):
        raise ValueError(f"{clip(text)!r} is not a date written YYYY-MM-DD")
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{clip(text)!r} is not a calendar date") from None


def _units(value: Any) -> int:
    """A cell as a whole number of chips (``30000``, ``30,000``, or a spreadsheet number without a fraction)."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a number of chips")
    if isinstance(value, (int, float)):
        x = value
    else:
        text = str(value).strip()
        if _THOUSANDS.match(text):
            text = text.replace(",", "")
        try:
            x = float(text)
        except ValueError:
            raise ValueError(f"{clip(text)!r} is not a number of chips") from None
    if x != x or x in (float("inf"), float("-inf")) or x != int(x):
        raise ValueError(f"{x!r} is not a whole number of chips")
    n = int(x)
    if not 0 <= n <= MAX_UNITS:
        raise ValueError(f"{n:,} is outside 0 to {MAX_UNITS:,}")
    return n


def _csv_rows(data: bytes) -> list[list[Any]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValueError("the file is not UTF-8 text") from None
    try:
        return [row for row in csv.reader(io.StringIO(text, newline=""))]
    except csv.Error as exc:
        raise ValueError(f"not valid CSV: {clip(exc, 200)}") from None


def _xlsx_rows(data: bytes) -> list[list[Any]]:
    import zipfile

    import openpyxl

    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise ValueError(f"not a readable XLSX workbook: {clip(exc, 200)}") from None
    try:
        sheet = book.worksheets[0]
        rows = []
        for row in sheet.iter_rows(values_only=True):
            rows.append(list(row))
            if len(rows) > MAX_ROWS + 1:
                break
        return rows
    finally:
        book.close()


def parse_rows(rows: list[list[Any]], name: str) -> list[dict[str, Any]]:
    """Sheet rows (the header first) -> ``[{date: ISO date, units: int}]``, checked row by row.

    ``name`` is the file as the user wrote it, for the messages. Empty rows are skipped; dates must rise and
    units must not fall (they are cumulative).
    """
    def fail(row: int | None, column: str | None, why: str) -> ScenarioError:
        where = ", ".join(w for w in (f"row {row}" if row else "", f"column {column}" if column else "") if w)
        return ScenarioError(f"{where}: {why}" if where else why, path=name)

    header_at = next((i for i, r in enumerate(rows) if any(str(c).strip() for c in r if c is not None)), None)
    if header_at is None:
        raise fail(None, None, "the file is empty: give a header row with the columns date and units")
    header = [str(c).strip().lower() if c is not None else "" for c in rows[header_at]]
    where = {}
    for col in COLUMNS:
        if col not in header:
            raise fail(header_at + 1, col, f"no {col!r} column in the header row (found: "
                                           f"{', '.join(clip(h, 40) for h in header if h) or 'nothing'})")
        if header.count(col) > 1:
            raise fail(header_at + 1, col, f"the header names {col!r} twice")
        where[col] = header.index(col)
    out: list[dict[str, Any]] = []
    last_date, last_units = None, 0
    for i, row in enumerate(rows[header_at + 1:], start=header_at + 2):
        cells = {col: (row[j] if j < len(row) else None) for col, j in where.items()}
        if all(v is None or str(v).strip() == "" for v in row):
            continue
        values = {}
        for col, read in (("date", _date), ("units", _units)):
            v = cells[col]
            if v is None or str(v).strip() == "":
                raise fail(i, col, "empty cell")
            try:
                values[col] = read(v)
            except ValueError as exc:
                raise fail(i, col, str(exc)) from None
        if last_date is not None and values["date"] <= last_date:
            raise fail(i, "date", f"{values['date']} must be after the previous row's date ({last_date})")
        if values["units"] < last_units:
            raise fail(i, "units", f"{values['units']:,} is cumulative and must not fall below the previous row's "
                                   f"{last_units:,}")
        last_date, last_units = values["date"], values["units"]
        out.append({"date": values["date"].isoformat(), "units": values["units"]})
        if len(out) > MAX_ROWS:
            raise fail(i, None, f"more than {MAX_ROWS:,} deliveries")
    if not out:
        raise fail(None, None, "no delivery rows under the header")
    return out


def read_deliveries(path: Path, name: str) -> list[dict[str, Any]]:
    """One delivery sheet (CSV or XLSX by its suffix) -> ``[{date, units}]``; ScenarioError naming it when bad."""
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise ScenarioError(f"a deliveries file is .csv or .xlsx, not {clip(suffix or 'without a suffix')!r}",
                            path=name)
    try:
        st = path.stat()
    except OSError as exc:
        raise ScenarioError("no such file" if isinstance(exc, FileNotFoundError) else
                            f"cannot read the file: {exc.strerror or exc}", path=name) from None
    if not stat.S_ISREG(st.st_mode):
        raise ScenarioError("is not a regular file", path=name)
    if st.st_size > MAX_SHEET_BYTES:
        raise ScenarioError(f"file is larger than {MAX_SHEET_BYTES // 1024 // 1024} MiB", path=name)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ScenarioError(f"cannot read the file: {exc.strerror or exc}", path=name) from None
    try:
        rows = _csv_rows(data) if suffix == ".csv" else _xlsx_rows(data)
    except ValueError as exc:
        raise ScenarioError(str(exc), path=name) from None
    return parse_rows(rows, name)


def resolve(data: Any, base: Path, scenario_name: str) -> Any:
    """The scenario mapping with every ``fleet[i].deliveries: {file: ...}`` read into a list (a copy when any is).

    ``base`` is the scenario file's folder; a file's errors name the file as joined to it.
    """
    fleet = data.get("fleet") if isinstance(data, Mapping) else None
    if not isinstance(fleet, list) or not any(isinstance(p, Mapping) and isinstance(p.get("deliveries"), Mapping)
                                              and "file" in p["deliveries"] for p in fleet):
        return data
    out = dict(data)
    out["fleet"] = []
    for i, pool in enumerate(fleet):
        ref = pool.get("deliveries") if isinstance(pool, Mapping) else None
        if isinstance(ref, Mapping) and "file" in ref:
            field = f"fleet[{i}].deliveries"
            extra = [k for k in ref if k != "file"]
            if extra:
                raise ScenarioError("unknown key (not part of the scenario format)", path=scenario_name,
                                    field=f"{field}.{clip(str(extra[0]), 40)}")
            rel = ref["file"]
            if not isinstance(rel, str) or not rel.strip():
                raise ScenarioError("give the file's path as text, relative to the scenario file",
                                    path=scenario_name, field=f"{field}.file")
            target = base / rel
            pool = {**pool, "deliveries": read_deliveries(target, str(target))}
        out["fleet"].append(pool)
    return out
