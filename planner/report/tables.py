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

from ..results import (
    EVENT_COLUMNS,
    LAYOUT_COLUMNS,
    PLAN_COLUMNS,
    REPLICATION_COLUMNS,
    SCHEDULE_COLUMNS,
    RunResult,
)
from ..stats import quantiles

EXCEL_MAX_ROWS = 1_048_575  # one row is the header
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


def summary_json(summary: Mapping[str, Any]) -> str:
    """The text of summary.json (docs/formats.md), two-space indented, strict JSON."""
    return json.dumps(plain(summary), indent=2, allow_nan=False) + "\n"


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


def summary_frame(summary: Mapping[str, Any]) -> pd.DataFrame:
    """The summary as a two-column table (field, value) for the workbook."""
    return pd.DataFrame(flatten(plain(summary)), columns=["field", "value"])


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


# ---------------------------------------------------------------- files


# what spreadsheets read as the start of a formula (OWASP: CSV injection)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
XLSX_CREATED = dt.datetime(2000, 1, 1)  # fixed docProps dates: identical runs give identical bytes


def as_text(value: Any) -> Any:
    """A string a spreadsheet would run as a formula, prefixed with ``'`` so that it stays text."""
    return "'" + value if isinstance(value, str) and value.startswith(_FORMULA_START) else value


def write_csv(df: pd.DataFrame, path: Path) -> None:
    """Write a table as CSV with Unix line ends; user strings never become live formulas."""
    df = df.copy()
    for col in df.columns:
        if not (pd.api.types.is_numeric_dtype(df[col]) or pd.api.types.is_bool_dtype(df[col])):
            df[col] = df[col].map(as_text)
    df.to_csv(path, index=False, lineterminator="\n")


def _excel_safe(df: pd.DataFrame) -> tuple[pd.DataFrame, bool]:
    """Cut to Excel's row limit and strip control characters openpyxl rejects; say whether rows were cut."""
    cut = len(df) > EXCEL_MAX_ROWS
    out = df.iloc[:EXCEL_MAX_ROWS].copy() if cut else df.copy()
    for col in out.columns:
        if not (pd.api.types.is_numeric_dtype(out[col]) or pd.api.types.is_bool_dtype(out[col])):
            out[col] = out[col].map(lambda v: _ILLEGAL_XLSX.sub("", v) if isinstance(v, str) else v)
    return out, cut


def write_xlsx(result: RunResult, path: Path) -> None:
    """One sheet each: summary (flattened), schedule, events, plan, layouts, replications."""
    sheets, notes = {}, []
    for name, df in tables(result).items():
        sheets[name], cut = _excel_safe(df)
        if cut:
            notes.append((f"note.{name}", f"cut to the first {EXCEL_MAX_ROWS} of {len(df)} rows; see the CSV files"))
    summary = summary_frame(result.summary)
    if notes:
        summary = pd.concat([summary, pd.DataFrame(notes, columns=["field", "value"])], ignore_index=True)
    sheets = {"summary": _excel_safe(summary)[0], **sheets}
    # xlsxwriter column by column: several times faster than pandas' cell-by-cell formatter for the event tables
    options = {"strings_to_formulas": False, "strings_to_urls": False}  # cells hold text as written
    with pd.ExcelWriter(path, engine="xlsxwriter", engine_kwargs={"options": options}) as writer:
        writer.book.set_properties({"created": XLSX_CREATED})
        bold = writer.book.add_format({"bold": True})
        for name, df in sheets.items():
            sheet = writer.book.add_worksheet(name)
            sheet.write_row(0, 0, [str(c) for c in df.columns], bold)
            for i, col in enumerate(df.columns):
                values = df[col].astype(object).where(df[col].notna(), None).tolist()
                sheet.write_column(1, i, ["" if v is None else v for v in values])
            sheet.freeze_panes(1, 0)
            for i, col in enumerate(df.columns):
                width = max([len(str(col))] + [len(str(v)) for v in df[col].head(200)])
                sheet.set_column(i, i, min(max(width + 2, 8), 60))
