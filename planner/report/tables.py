"""The report's tables and data files: summary.json, the CSV files and the Excel workbook."""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import escape
from ..metrics import METRICS
from ..results import (
    EVENT_COLUMNS,
    LAYOUT_COLUMNS,
    PLAN_COLUMNS,
    REPLICATION_COLUMNS,
    SCHEDULE_COLUMNS,
    RunResult,
)
from ..stats import quantiles
from ..summary import Summary
from .charts import interruptions_per_week
from .headline import answer_sentence, input_rows

EXCEL_MAX_ROWS = 1_048_575  # one row is the header
# rows per table sheet of report.xlsx: writing ~1 M event rows took 106 s and 1.2 GB; the CSV files keep every row
XLSX_MAX_ROWS = 50_000
_ILLEGAL_XLSX = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")  # control characters openpyxl refuses


# ---------------------------------------------------------------- summary.json


def plain(value: Any) -> Any:
    """``value`` with numpy scalars/arrays turned into plain Python numbers and lists.

    Non-finite floats become ``None`` so that the file stays strict JSON.
    """
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray, pd.Series)):
        return [plain(v) for v in list(value)]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, str):
        return value
    if value is pd.NaT:
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def summary_json(summary: Summary) -> str:
    """The text of summary.json (docs/formats.md), two-space indented, strict JSON."""
    return json.dumps(plain(summary.to_json()), indent=2, allow_nan=False) + "\n"


def write_summary(result: RunResult, path: Path) -> None:
    """Write summary.json."""
    path.write_text(summary_json(result.summary), encoding="utf-8")


def flatten(value: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """Nested mappings and lists -> [(dotted.key[0].path, leaf value)], in order."""
    if isinstance(value, Mapping):
        out: list[tuple[str, Any]] = []
        for k, v in value.items():
            out += flatten(v, f"{prefix}.{k}" if prefix else str(k))
        return out
    if isinstance(value, (list, tuple)):
        out = []
        for i, v in enumerate(value):
            out += flatten(v, f"{prefix}[{i}]")
        return out or [(prefix, "")]
    return [(prefix, value)]


# ---------------------------------------------------------------- tables


def ordered(df: pd.DataFrame | None, columns: list[str]) -> pd.DataFrame:
    """``df`` with the documented columns first (missing ones added empty), extra columns after."""
    if df is None:
        return pd.DataFrame(columns=columns)
    extra = [c for c in df.columns if c not in columns]
    out = df.copy()
    for c in columns:
        if c not in out.columns:
            out[c] = pd.NA
    return out[columns + extra].reset_index(drop=True)


def tables(result: RunResult) -> dict[str, pd.DataFrame]:
    """The run's tables in documented column order (planner.results), keyed by sheet name."""
    return {
        "schedule": ordered(result.schedule, SCHEDULE_COLUMNS),
        "events": ordered(result.events, EVENT_COLUMNS),
        "plan": ordered(result.plan, PLAN_COLUMNS),
        "layouts": ordered(result.layouts, LAYOUT_COLUMNS),
        "replications": ordered(result.replications, REPLICATION_COLUMNS),
    }


def replication_stats(replications: pd.DataFrame | None) -> pd.DataFrame:
    """Per metric over the replications: count, mean, min, p10, p50, p90, max (finished runs for time to train)."""
    rows = []
    if replications is None or replications.empty:
        return pd.DataFrame(columns=["metric", "count", "mean", "min", "p10", "p50", "p90", "max"])
    finished = replications["finished"].fillna(False).astype(bool) if "finished" in replications else None
    for metric in [c for c in REPLICATION_COLUMNS if c not in ("replication", "finished")]:
        if metric not in replications:
            continue
        values = replications[metric]
        if metric == "time_to_train_days" and finished is not None:
            values = values[finished]
        values = pd.to_numeric(values, errors="coerce").dropna()
        row = {"metric": metric, "count": int(len(values))}
        if len(values):
            row.update(quantiles(values), min=values.min(), max=values.max())
        rows.append(row)
    out = pd.DataFrame(rows, columns=["metric", "count", "mean", "min", "p10", "p50", "p90", "max"])
    if finished is not None:
        share = float(finished.mean()) if len(finished) else float("nan")
        out = pd.concat([out, pd.DataFrame([{"metric": "finished (share)", "count": len(finished), "mean": share}])])
    return out.reset_index(drop=True)


# ---------------------------------------------------------------- for people


def with_dates(layouts: pd.DataFrame, start: Any) -> pd.DataFrame:
    """The layouts table with calendar dates (start_date, end_date) in front of the day numbers."""
    if layouts is None or layouts.empty or start is None or "start_days" not in layouts:
        return layouts
    t0 = pd.Timestamp(start)
    out = layouts.copy()
    for col in ("start_days", "end_days"):
        days = pd.to_numeric(out[col], errors="coerce")
        out.insert(0 if col == "start_days" else 1, col.replace("_days", "_date"),
                   (t0 + pd.to_timedelta(days, unit="D")).dt.strftime("%Y-%m-%d"))
    return out


def fmt_cell(column: str, value: Any) -> Any:
    """One cell for people: money with $ and thousands, shares as percent, big numbers with separators."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)) or value is pd.NA:
        return ""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        return value
    x = float(value)
    if column.endswith("_usd"):
        return f"${x:,.0f}"
    if column in ("mfu", "goodput") or column.endswith(("_fraction", "_share", "probability")):
        return f"{x * 100:.1f} %"
    if isinstance(value, (int, np.integer)) or x.is_integer():
        return f"{int(x):,}"
    if abs(x) >= 1e15 or (x and abs(x) < 1e-3):
        return f"{x:.3e}"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    return f"{x:,.3g}" if abs(x) < 10 else f"{x:,.1f}"


def for_people(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with every number formatted by :func:`fmt_cell` (for HTML and the app; files keep raw numbers)."""
    out = df.copy()
    for col in out.columns:
        out[col] = [fmt_cell(str(col), v) for v in out[col]]
    return out


# ---------------------------------------------------------------- files


XLSX_CREATED = dt.datetime(2000, 1, 1)  # fixed docProps dates: identical runs give identical bytes

as_text = escape.cell  # a string a spreadsheet would run as a formula, prefixed with ``'`` so that it stays text


def write_csv(df: pd.DataFrame, path: Path) -> None:
    """Write a table as CSV with Unix line ends; no text cell or header becomes a live formula (escape.frame)."""
    escape.frame(df).to_csv(path, index=False, lineterminator="\n")


def _xlsx_text(value: Any) -> Any:
    return escape.cell(_ILLEGAL_XLSX.sub("", value)) if isinstance(value, str) else value


def _excel_safe(df: pd.DataFrame) -> tuple[pd.DataFrame, bool]:
    """Cut to ``XLSX_MAX_ROWS`` rows and make text cells safe; say whether rows were cut.

    Text cells lose the control characters openpyxl rejects and are never read as a formula (escape.cell;
    headers are escaped as they are written).
    """
    cut = len(df) > XLSX_MAX_ROWS
    out = df.iloc[:XLSX_MAX_ROWS].copy() if cut else df.copy()
    for i in range(out.shape[1]):
        column = out.iloc[:, i]
        if escape.text_column(column):
            out.isetitem(i, column.map(_xlsx_text))
    return out, cut


def summary_sheet_rows(result: RunResult) -> list[tuple[str, Any, Any, Any, str]]:
    """The readable summary sheet: (label, p10, p50, p90, number format kind) rows, sections as label-only rows."""
    s = result.summary
    rows: list[tuple[str, Any, Any, Any, str]] = [(answer_sentence(s, result.inputs), None, None, None, "title"),
                                                  ("", None, None, None, "")]
    rows.append(("Answer", "P10", "P50", "P90", "head"))
    if s.finish_date is not None:
        rows.append(("finish date", s.finish_date.p10, s.finish_date.p50, s.finish_date.p90, "date"))
    kinds = {"USD": "usd", "share": "pct", "days": "num1", "MWh": "num0", "chip-h": "num0"}
    for m in METRICS:
        v = s.stat(m.key)
        if v is not None:
            rows.append((f"{m.label} [{m.unit}]", plain(v.p10), plain(v.p50), plain(v.p90), kinds.get(m.unit, "num1")))
        elif m.key == "finish_probability" and s.finish_probability is not None:
            rows.append((f"{m.label} [{m.unit}]", None, plain(s.finish_probability), None, kinds.get(m.unit, "num1")))
    c = s.costs
    if c is not None:
        rows += [("", None, None, None, ""), ("Spend (mean of replications)", "committed", "used", "idle", "head"),
                 ("all pools", plain(c.committed_usd), plain(c.used_usd), plain(c.idle_usd), "usd")]
        rows += [(f"pool {p.pool}", plain(p.committed_usd), plain(p.used_usd), plain(p.idle_usd), "usd")
                 for p in c.pools]
    if s.expectations:
        rows += [("", None, None, None, ""), ("Expectations", "value", "bound", "passed", "head")]
        for e in s.expectations:
            q = f" p{e.quantile * 100:g}" if e.quantile is not None else ""
            bound = " and ".join(f"{k} {getattr(e, k):g}" for k in ("min", "max") if getattr(e, k) is not None)
            rows.append((f"{e.metric}{q}", plain(e.value), bound, "PASS" if e.passed else "FAIL", "num1"))
    rows += [("", None, None, None, ""), ("Inputs", None, None, None, "head")]
    rows += [(r["input"], r["value"], None, None, "text") for r in input_rows(result.inputs)]
    rows += [("", None, None, None, ""), ("Run", None, None, None, "head"),
             ("seed", plain(s.seed), None, None, "int"), ("replications", plain(s.replications), None, None, "int"),
             ("start", s.start, None, None, "date"), ("planner version", s.planner_version, None, None, "text")]
    return rows


_FORMATS = {"usd": "$#,##0", "pct": "0.0%", "num0": "#,##0", "num1": "#,##0.0", "int": "0", "date": "yyyy-mm-dd",
            "big": "0.00E+00"}


def _column_format(name: str, series: pd.Series) -> str | None:
    """The Excel number format of a table column, from its name (units in the names) and type."""
    if name == "date" or name.endswith("_date"):
        return "date"
    if not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
        return None
    if name.endswith("_usd"):
        return "usd"
    if name in ("mfu", "goodput") or name.endswith(("_fraction", "probability")):
        return "pct"
    if name.startswith("tokens") and "per_s" not in name:
        return "big"
    if pd.api.types.is_integer_dtype(series):
        return "num0"
    return "num1"


def _as_dates(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for col in out.columns:
        if str(col) == "date" or str(col).endswith("_date"):
            out[col] = pd.to_datetime(out[col], errors="coerce")
    return out


def write_xlsx(result: RunResult, path: Path) -> None:
    """A readable summary sheet (answer, figures, spend, inputs) with charts, then one sheet per table.

    Number formats: currency, percent, dates; autofilters and frozen headers on every table.
    """
    sheets, notes = {}, []
    data = tables(result)
    data["layouts"] = with_dates(data["layouts"], result.start)
    data["interruptions"] = interruptions_per_week(result.events, result.start).assign(
        week=lambda d: pd.to_datetime(d["week"]).dt.strftime("%Y-%m-%d")).rename(columns={"week": "week_date"})
    for name, df in data.items():
        sheets[name], cut = _excel_safe(df)
        if cut:
            csv = f"; every row is in {name}.csv" if name in ("schedule", "events", "replications") else ""
            notes.append(f"{name}: cut to the first {XLSX_MAX_ROWS:,} of {len(df):,} rows{csv}")
    # xlsxwriter streams the workbook several times faster than openpyxl for the event tables
    options = {"strings_to_formulas": False, "strings_to_urls": False}  # cells hold text as written
    with pd.ExcelWriter(path, engine="xlsxwriter", datetime_format="yyyy-mm-dd", date_format="yyyy-mm-dd",
                        engine_kwargs={"options": options}) as writer:
        book = writer.book
        book.set_properties({"created": XLSX_CREATED})
        fmt = {k: book.add_format({"num_format": v}) for k, v in _FORMATS.items()}
        bold, title = book.add_format({"bold": True, "bottom": 1}), book.add_format({"bold": True, "font_size": 13})
        wrap = book.add_format({"text_wrap": True, "valign": "top"})
        ws = book.add_worksheet("summary")
        writer.sheets["summary"] = ws
        ws.set_column(0, 0, 42)
        ws.set_column(1, 3, 18)
        for r, (label, *values, kind) in enumerate(summary_sheet_rows(result)):
            ws.write(r, 0, _xlsx_text(label), title if kind == "title" else bold if kind == "head" else None)
            for c, v in enumerate(values, start=1):
                if v is None:
                    continue
                v = v if kind == "date" and isinstance(v, str) else _xlsx_text(v)
                if kind == "head":
                    ws.write(r, c, v, bold)
                elif kind == "date" and isinstance(v, str):
                    try:
                        ws.write_datetime(r, c, pd.Timestamp(v).to_pydatetime(), fmt["date"])
                    except ValueError:
                        ws.write(r, c, _xlsx_text(v))
                elif kind == "text":
                    ws.write(r, c, v, wrap)
                elif isinstance(v, (int, float)) and not isinstance(v, bool) and kind in fmt:
                    ws.write_number(r, c, v, fmt[kind])
                else:
                    ws.write(r, c, v)
        for i, note in enumerate(notes):
            ws.write(len(summary_sheet_rows(result)) + 1 + i, 0, _xlsx_text(note))
        for name, df in sheets.items():
            df = _as_dates(df)
            # column by column: several times faster than pandas' cell-by-cell writer for the event tables
            sheet = book.add_worksheet(name)
            writer.sheets[name] = sheet
            sheet.write_row(0, 0, [_xlsx_text(str(c)) for c in df.columns], bold)
            for i, col in enumerate(df.columns):
                if pd.api.types.is_datetime64_any_dtype(df[col]):
                    for r, v in enumerate(df[col], start=1):
                        if pd.notna(v):
                            sheet.write_datetime(r, i, pd.Timestamp(v).to_pydatetime(), fmt["date"])
                    continue
                values = df[col].astype(object).where(df[col].notna(), None).tolist()
                sheet.write_column(1, i, ["" if v is None else v for v in values])
            sheet.freeze_panes(1, 0)
            if len(df.columns):
                sheet.autofilter(0, 0, max(len(df), 1), len(df.columns) - 1)
            for i, col in enumerate(df.columns):
                width = max([len(str(col))] + [len(str(v)) for v in df[col].head(200)])
                kind = _column_format(str(col), df[col])
                sheet.set_column(i, i, min(max(width + 2, 11), 60), fmt[kind] if kind else None)
        _summary_charts(book, ws, sheets, result)


def _summary_charts(book, ws, sheets: dict[str, pd.DataFrame], result: RunResult) -> None:
    """Two charts on the summary sheet: capacity in service by pool, and interruptions per week."""
    sched = sheets.get("schedule")
    if sched is not None and not sched.empty and len(sched) <= EXCEL_MAX_ROWS:
        wide = sched.pivot_table(index="date", columns="pool", values="units_in_service", aggfunc="sum")
        if not wide.empty:
            cap = book.add_worksheet("capacity")
            cap.write(0, 0, "date")
            for j, pool in enumerate(wide.columns, start=1):
                cap.write(0, j, _xlsx_text(str(pool)))
            datefmt = book.add_format({"num_format": "yyyy-mm-dd"})
            for i, (day, row) in enumerate(wide.iterrows(), start=1):
                cap.write_datetime(i, 0, pd.Timestamp(day).to_pydatetime(), datefmt)
                for j, v in enumerate(row, start=1):
                    cap.write_number(i, j, float(v) if pd.notna(v) else 0.0)
            chart = book.add_chart({"type": "area", "subtype": "stacked"})
            # a series is named by its header cell: a name given as text that looks like a reference (``x!A1``)
            # would become one
            for j in range(1, len(wide.columns) + 1):
                chart.add_series({"name": ["capacity", 0, j], "categories": ["capacity", 1, 0, len(wide), 0],
                                  "values": ["capacity", 1, j, len(wide), j]})
            chart.set_title({"name": "Units in service by pool (stacked)"})
            chart.set_x_axis({"date_axis": True, "num_format": "yyyy-mm"})
            chart.set_size({"width": 640, "height": 300})
            ws.insert_chart("F2", chart)
    weekly = sheets.get("interruptions")
    if weekly is not None and not weekly.empty:
        wide = weekly.pivot_table(index="week_date", columns="kind", values="count", aggfunc="sum").fillna(0)
        sh = book.add_worksheet("interruptions_weekly")
        sh.write_row(0, 0, ["week", *(_xlsx_text(str(c)) for c in wide.columns)])
        for i, (week, row) in enumerate(wide.iterrows(), start=1):
            sh.write(i, 0, str(week))
            sh.write_row(i, 1, [float(v) for v in row])
        chart = book.add_chart({"type": "column", "subtype": "stacked"})
        for j in range(1, len(wide.columns) + 1):
            chart.add_series({"name": ["interruptions_weekly", 0, j],
                              "categories": ["interruptions_weekly", 1, 0, len(wide), 0],
                              "values": ["interruptions_weekly", 1, j, len(wide), j]})
        chart.set_title({"name": "Interruptions per week (stacked by kind)"})
        chart.set_size({"width": 640, "height": 300})
        ws.insert_chart("F19", chart)
