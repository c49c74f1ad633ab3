"""``deliveries: {file: ...}``: a pool's delivery plan read from a CSV or XLSX sheet, as procurement keeps it.

The sheet has a header row with the columns ``date`` and ``units`` (cumulative units delivered by that date;
other columns are left alone) and one delivery per row. The path is relative to the scenario file. Every
problem is one ScenarioError naming the sheet, the row (as a spreadsheet numbers it: the header is row 1)
and the column.

An XLSX is a zip of XML: it is refused unread when it unpacks to more than MAX_XLSX_UNPACKED_BYTES (a zip
bomb packs gigabytes into a few MB), blank rows are skipped wherever they are (a delivery below a gap is
read), the first MAX_XLSX_COLUMNS columns are read, and a damaged file is one message, not a crash.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import re
import stat
import warnings
import zipfile
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .errors import ScenarioError
from .perf.layout import MAX_UNITS
from .validation import did_you_mean
from .yamlio import clip

MAX_SHEET_BYTES = 5 * 1024 * 1024  # a delivery plan is a few hundred rows; larger files are refused unread
MAX_ROWS = 1_000  # the scenario's own bound on deliveries per pool (planner.scenario.MAX_DELIVERIES)
MAX_XLSX_UNPACKED_BYTES = 50 * 1024 * 1024  # the XLSX's members unpacked, all together (a zip bomb is refused)
MAX_XLSX_ROW_NUMBER = 1_048_576  # Excel's last row: blank rows are skipped, but never past this one
MAX_XLSX_COLUMNS = 256  # columns A to IV are read (Excel 2003's width); date and units must be among them
MAX_CELL_CHARS = 32_767  # Excel's own limit on a cell's text
COLUMNS = ("date", "units")
SUFFIXES = (".csv", ".xlsx")
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_THOUSANDS = re.compile(r"^[0-9]{1,3}(,[0-9]{3})+(\.[0-9]*)?$")  # 30,000 (or 30,000.0) as a spreadsheet writes it
# a number as a sheet writes one, in ASCII digits: 30000, 30000.0, 3e4 (float() also reads "１０００", "١٢" and 1_000,
# which the scenario file refuses)
_PLAIN_NUMBER = re.compile(r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$")


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


def _in_calendar(day: dt.date) -> dt.date:
    """The scenario's own bounds on a date (planner.scenario), checked here to name the sheet's row."""
    from .scenario import _in_calendar as check

    return check(day)


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
        if not _PLAIN_NUMBER.match(text):
            raise ValueError(f"{clip(text)!r} is not a number of chips (write it in the digits 0-9, e.g. 30000 or "
                             "30,000)")
        x = float(text)
    shown = clip(str(value).strip(), 40)  # what the cell holds, cut (1e300 spelled out ran to 300 digits)
    if x != x or x in (float("inf"), float("-inf")):
        raise ValueError(f"{shown!r} is not a whole number of chips")
    if not 0 <= x <= MAX_UNITS:
        raise ValueError(f"{shown} is outside 0 to {MAX_UNITS:,}")
    if x != int(x):
        raise ValueError(f"{shown!r} is not a whole number of chips")
    return int(x)


def _blank(row: list[Any] | tuple[Any, ...]) -> bool:
    """True when no cell of the row holds anything but spaces."""
    return row.count(None) == len(row) or all(v is None or str(v).strip() == "" for v in row)


def _csv_rows(data: bytes) -> list[tuple[int, list[Any]]]:
    """The CSV's non-blank rows, numbered from 1 as lines are (blank ones count); stops after MAX_ROWS + 2.

    Blank rows are skipped as they are read, never kept: 5 MiB of empty lines took 6.8 s and 941 MB as a list.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValueError("the file is not UTF-8 text") from None
    out: list[tuple[int, list[Any]]] = []
    try:
        for number, row in enumerate(csv.reader(io.StringIO(text, newline="")), start=1):
            if not row or _blank(row):
                continue
            out.append((number, row))
            if len(out) > MAX_ROWS + 1:  # the header and one delivery too many: parse_rows refuses it
                break
    except csv.Error as exc:
        raise ValueError(f"not valid CSV: {clip(exc, 200)}") from None
    return out


# what openpyxl, zipfile, zlib and the XML parser raise on a damaged or hostile workbook (ParseError is a
# SyntaxError; an encrypted member is a RuntimeError, as is a RecursionError)
_UNREADABLE = (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, SyntaxError, ValueError, TypeError, KeyError,
               IndexError, AttributeError, OSError, EOFError, NotImplementedError, OverflowError, RuntimeError)


def _check_archive(data: bytes) -> None:
    """Refuse an XLSX whose members unpack to more than MAX_XLSX_UNPACKED_BYTES, before anything is unpacked.

    The sizes are the zip's central directory's; zipfile never unpacks a member past its stated size (it stops
    there and the CRC check fails), so the sum bounds what openpyxl can read.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except _UNREADABLE as exc:
        raise ValueError(f"not a readable XLSX workbook: {_reason(exc)}") from None
    if any(m.flag_bits & 0x1 for m in members):
        raise ValueError("the workbook is encrypted: save it without a password")
    unpacked = sum(m.file_size for m in members)
    if unpacked > MAX_XLSX_UNPACKED_BYTES:
        raise ValueError(f"the workbook unpacks to {unpacked / 2**20:,.1f} MiB, more than the "
                         f"{MAX_XLSX_UNPACKED_BYTES / 2**20:,.0f} MiB a delivery sheet may (refused unread)")


def _where(row: int, column: int) -> str:
    """``row 3, column B: `` for a message."""
    from openpyxl.utils import get_column_letter

    try:
        letter = get_column_letter(column)
    except ValueError:  # past the last column a spreadsheet can have
        letter = f"{column:,}"
    return f"row {row:,}, column {letter}: "


def _reason(exc: BaseException) -> str:
    """What went wrong, for a message (openpyxl wraps the XML's error in its own; the cause says more)."""
    cause = exc.__cause__ if isinstance(exc.__cause__, _UNREADABLE) else exc
    text = clip(_one_line(cause), 200)
    return f"damaged XML ({text})" if isinstance(cause, SyntaxError) else text


def _one_line(exc: BaseException) -> str:
    """An exception's text on one line (openpyxl's messages run over several)."""
    return " ".join(str(exc).split()) or type(exc).__name__


def _sheet_rows(sheet: Any) -> list[tuple[int, list[Any]]]:
    """The first sheet's non-blank rows, numbered as the spreadsheet numbers them; stops after MAX_ROWS + 2.

    The sheet's ``<dimension>`` is not trusted (a wrong one would cut rows off): the rows are read to the last
    one there. Blank rows are skipped without counting; a row past Excel's last is refused.
    """
    out: list[tuple[int, list[Any]]] = []
    sheet.reset_dimensions()
    rows = iter(sheet.iter_rows(max_col=MAX_XLSX_COLUMNS, values_only=True))
    for number in range(1, MAX_XLSX_ROW_NUMBER + 2):
        try:
            row = next(rows, None)
        except _UNREADABLE as exc:  # (the row it could not read is the next one with cells)
            where = f"after row {number - 1:,}: " if number > 1 else ""
            raise ValueError(f"{where}cannot read the sheet: {_reason(exc)}") from None
        if row is None:
            break
        if number > MAX_XLSX_ROW_NUMBER:
            raise ValueError(f"the sheet has rows past row {MAX_XLSX_ROW_NUMBER:,} (Excel's last row)")
        if _blank(row):
            continue
        for j, v in enumerate(row, start=1):
            if isinstance(v, str) and len(v) > MAX_CELL_CHARS:
                raise ValueError(f"{_where(number, j)}the cell holds {len(v):,} characters, more than "
                                 f"{MAX_CELL_CHARS:,} (Excel's limit)")
        out.append((number, list(row)))
        if len(out) > MAX_ROWS + 1:  # the header and one delivery too many: parse_rows refuses it
            break
    return out


def _xlsx_rows(data: bytes) -> list[tuple[int, list[Any]]]:
    """The first sheet's non-blank rows, numbered; ValueError naming what is wrong when it cannot be read."""
    import openpyxl

    _check_archive(data)
    with warnings.catch_warnings():  # openpyxl warns of parts it drops (data validation, ...): we read values only
        warnings.filterwarnings("ignore", category=UserWarning, module="openpyxl")
        try:
            book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except _UNREADABLE as exc:
            raise ValueError(f"not a readable XLSX workbook: {_reason(exc)}") from None
        try:
            if not book.worksheets:
                raise ValueError("the workbook has no worksheet")
            return _sheet_rows(book.worksheets[0])
        finally:
            book.close()


def parse_rows(rows: list[tuple[int, list[Any]]], name: str, numbers: list[int] | None = None) -> list[dict[str, Any]]:
    """Numbered sheet rows (the header first) -> ``[{date: ISO date, units: int}]``, checked row by row.

    ``rows`` are ``(row number, cells)``, numbered as a spreadsheet numbers them (for the messages); ``name``
    is the file as the user wrote it. Empty rows are skipped; dates must rise and units must not fall (they
    are cumulative). ``numbers`` (when given) receives each delivery's row number.
    """
    def fail(row: int | None, column: str | None, why: str) -> ScenarioError:
        where = ", ".join(w for w in (f"row {row}" if row else "", f"column {column}" if column else "") if w)
        return ScenarioError(f"{where}: {why}" if where else why, path=name)

    filled = [(number, row) for number, row in rows if not _blank(row)]
    if not filled:
        raise fail(None, None, "the file is empty: give a header row with the columns date and units")
    header_row = filled[0][0]
    header = [str(c).strip().lower() if c is not None else "" for c in filled[0][1]]
    where = {}
    for col in COLUMNS:
        if col not in header:
            raise fail(header_row, col, f"no {col!r} column in the header row (found: "
                                        f"{', '.join(clip(h, 40) for h in header if h) or 'nothing'})")
        if header.count(col) > 1:
            raise fail(header_row, col, f"the header names {col!r} twice")
        where[col] = header.index(col)
    out: list[dict[str, Any]] = []
    last_date, last_units = None, 0
    for i, row in filled[1:]:
        cells = {col: (row[j] if j < len(row) else None) for col, j in where.items()}
        values = {}
        for col, read in (("date", lambda v: _in_calendar(_date(v))), ("units", _units)):
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
        if numbers is not None:
            numbers.append(i)
        if len(out) > MAX_ROWS:
            raise fail(i, None, f"more than {MAX_ROWS:,} deliveries")
    if not out:
        raise fail(None, None, "no delivery rows under the header")
    return out


def _name_problem(name: str) -> str | None:
    """Why ``name`` cannot name a file on this system (a NUL, a character the file system cannot encode), or None."""
    if "\0" in name:
        return "a NUL character"
    try:
        os.fsencode(name)
    except UnicodeError:
        return "a character that is not valid Unicode (a lone surrogate)"
    return None


def _quoted(name: str) -> str:
    """``name`` quoted for a message, whatever it holds (a NUL or a lone surrogate is written as its escape)."""
    return repr(clip(name))


def read_deliveries(path: Path, name: str, numbers: list[int] | None = None) -> list[dict[str, Any]]:
    """One delivery sheet (CSV or XLSX by its suffix) -> ``[{date, units}]``; ScenarioError naming it when bad.

    ``numbers`` (when given) receives each delivery's row number (``parse_rows``).
    """
    problem = _name_problem(str(path))
    if problem:
        raise ScenarioError(f"{_quoted(str(path))} cannot be a file's name: it holds {problem}")
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise ScenarioError(f"a deliveries file is .csv or .xlsx, not {clip(suffix or 'without a suffix')!r}",
                            path=name)
    try:
        st = path.stat()
        target = path.resolve().suffix.lower()  # a link is read as what it points to: a sheet, too
    except (OSError, RuntimeError) as exc:  # (RuntimeError: a link loop, before Python 3.13)
        raise ScenarioError("no such file" if isinstance(exc, FileNotFoundError) else
                            f"cannot read the file: {getattr(exc, 'strerror', None) or exc}", path=name) from None
    if target != suffix:
        raise ScenarioError(f"a link to a file that is not a {suffix} sheet ({clip(target or 'no suffix')!r}): a "
                            "deliveries file is .csv or .xlsx", path=name)
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
    return parse_rows(rows, name, numbers)


_SHEET_FIELD = re.compile(r"fleet\[(\d+)\]\.deliveries\[(\d+)\](?:\.(\w+))?$")


def sheet_error(exc: ScenarioError, origins: dict) -> ScenarioError:
    """A scenario check on a delivery read from a sheet, said of the sheet: its file, row and column.

    The checks across the pool (the first row below the pool's ``units``, a delivery past the horizon) named
    ``fleet[0].deliveries[0].units``, a list the file does not have, and neither the sheet nor its row.
    """
    m = _SHEET_FIELD.match(exc.field or "")
    if m is None or int(m.group(1)) not in origins:
        return exc
    target, numbers = origins[int(m.group(1))]
    j = int(m.group(2))
    where = ", ".join(w for w in (f"row {numbers[j]}" if j < len(numbers) else "",
                                  f"column {m.group(3)}" if m.group(3) else "") if w)
    return ScenarioError(f"{clip(str(target), 200)}: {where + ': ' if where else ''}{exc.reason}", path=exc.path,
                         field=f"fleet[{m.group(1)}].deliveries.file")


def files_named(data: Any, base: Path) -> list[Path]:
    """The sheets ``fleet[i].deliveries: {file: ...}`` of a scenario mapping name, joined to ``base`` (unread)."""
    fleet = data.get("fleet") if isinstance(data, Mapping) else None
    refs = [p["deliveries"].get("file") for p in fleet or () if isinstance(p, Mapping)
            and isinstance(p.get("deliveries"), Mapping)] if isinstance(fleet, list) else []
    return [base / rel for rel in refs if isinstance(rel, str) and rel.strip() and _name_problem(rel) is None]


def resolve(data: Any, base: Path, scenario_name: str, origins: dict | None = None) -> Any:
    """The scenario mapping with every ``fleet[i].deliveries: {file: ...}`` read into a list (a copy when any is).

    ``base`` is the scenario file's folder; a file's errors name the file as joined to it. ``origins`` (when
    given) receives, per pool index read from a file, the file and each delivery's row number (``sheet_error``).
    """
    fleet = data.get("fleet") if isinstance(data, Mapping) else None
    if not isinstance(fleet, list) or not any(isinstance(p, Mapping) and isinstance(p.get("deliveries"), Mapping)
                                              and "file" in p["deliveries"] for p in fleet):
        return data
    out = dict(data)
    out["fleet"] = []
    read: dict[Path, list[dict[str, Any]]] = {}
    for i, pool in enumerate(fleet):
        ref = pool.get("deliveries") if isinstance(pool, Mapping) else None
        if isinstance(ref, Mapping) and "file" in ref:
            field = f"fleet[{i}].deliveries"
            extra = [k for k in ref if k != "file"]
            if extra:
                raise ScenarioError("unknown key (not part of the scenario format)"
                                    + did_you_mean(str(extra[0]), ["file"]), path=scenario_name,
                                    field=f"{field}.{clip(str(extra[0]), 40)}")
            rel = ref["file"]
            if not isinstance(rel, str) or not rel.strip():
                raise ScenarioError("give the file's path as text, relative to the scenario file",
                                    path=scenario_name, field=f"{field}.file")
            problem = _name_problem(rel)
            if problem:
                raise ScenarioError(f"{_quoted(rel)} cannot be a file's name: it holds {problem}",
                                    path=scenario_name, field=f"{field}.file")
            target = base / rel
            if target not in read:  # several pools may share one sheet: it is read once
                numbers: list[int] = []
                try:
                    read[target] = (read_deliveries(target, str(target), numbers), numbers)
                except ScenarioError as exc:  # the scenario and its field first, then the sheet and its row
                    sheet = f"{clip(str(target), 200)}: " if exc.path else ""
                    raise ScenarioError(f"{sheet}{exc.reason}", path=scenario_name, field=f"{field}.file") from None
            if origins is not None:
                origins[i] = (target, read[target][1])
            pool = {**pool, "deliveries": read[target][0]}
        out["fleet"].append(pool)
    return out
