"""The report's tables and data files: summary.json, the CSV files and the Excel workbook."""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import escape
from ..cashflow import with_currency
from ..metrics import GROWING_KEYS, METRICS
from ..results import (
    CASHFLOW_COLUMNS,
    EVENT_COLUMNS,
    LAYOUT_COLUMNS,
    PLAN_COLUMNS,
    REPLICATION_COLUMNS,
    SCHEDULE_COLUMNS,
    RunResult,
)
from ..stats import NEVER, lower_bounds, quantiles, time_bounds, time_quantiles
from ..summary import Summary
from .charts import interruptions_per_week, monthly_tokens, site_power_table
from .headline import (
    answer_sentence,
    input_groups,
    input_rows,
    job_pools,
    metric_text,
    ordered_jobs,
    spend_bounded,
    spend_note,
    to_horizon_note,
    trained_of,
    unmet_value,
)

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


STRATEGY_COLUMNS = ["mode", "possible", "auto_pick", "pinned", "pools", "finished", "time_to_train_days", "cost_usd",
                    "cost_at_least", "link_tb_per_day", "note", "failures"]
# the modes are compared on the run's supply with no failure drawn (runner.first_replication), as the page says: the
# sheet says so on each row, beside the summary's times, which have them
STRATEGY_BASIS = "none drawn (planner compare draws them; the summary's figures have them)"


def strategies_table(result: RunResult) -> pd.DataFrame:
    """The strategy modes side by side (the report's "Strategies"; empty with one pool): a row per mode.

    A mode that cannot run has its reason in ``note`` (``not possible: ...``) and no figures.
    """
    rows = []
    for r in result.compare or []:
        if not r["possible"]:
            rows.append({"mode": r["mode"], "possible": False, "auto_pick": False, "pinned": False, "pools": "",
                         "finished": False,
                         "time_to_train_days": None, "cost_usd": None, "cost_at_least": False, "link_tb_per_day": None,
                         "note": f"not possible: {r['why']}"})
            continue
        rows.append({"mode": r["mode"], "possible": True, "auto_pick": bool(r.get("auto")),
                     # the scenario names this mode, and the run trained it (auto would pick another)
                     "pinned": bool(r.get("run")) and not r.get("auto"), "pools": r["pool"],
                     "finished": bool(r["finished"]),
                     "time_to_train_days": r["time_to_train_days"] if r["finished"] else None,
                     "cost_usd": r["cost_usd"],
                     # stopped by the horizon, its committed spend is at least that (unless reservations alone)
                     "cost_at_least": "cost_usd" in (r.get("at_least") or ()),
                     "link_tb_per_day": r["link_tb_per_day"], "note": r.get("note") or "",
                     "failures": STRATEGY_BASIS})
    table = pd.DataFrame(rows, columns=STRATEGY_COLUMNS)
    rate = getattr(result.summary, "currency", None)
    if rate is not None and len(table):  # every sum also in the scenario's second currency (README "Costs")
        table.insert(table.columns.get_loc("cost_usd") + 1, f"cost_{rate.code.lower()}",
                     [None if v is None or v != v else v * rate.per_usd for v in table["cost_usd"]])
    return table


def tokens_by_month(result: RunResult) -> pd.DataFrame:
    """Tokens each pool trained in each calendar month, with the total (the report's table; several pools only)."""
    monthly = monthly_tokens(result.schedule)
    if len(monthly) and len([c for c in monthly.columns if c not in ("month", "total")]) > 1:
        return monthly
    return pd.DataFrame()


def cashflow_table(result: RunResult) -> pd.DataFrame:
    """cashflow.csv: month, pool, kind, committed_usd, paid_usd, and the same in the scenario's currency when set."""
    table = getattr(result, "cashflow", None)
    rate = getattr(result.summary, "currency", None)
    return with_currency(ordered(table, CASHFLOW_COLUMNS), rate.to_json() if rate is not None else None)


JOB_COLUMNS = ["job", "priority", "first_training_date", "finish_p10_date", "finish_p50_date", "finish_p90_date",
               "time_to_train_days_p50", "training_days_p50", "waiting_days_p50", "finish_probability",
               "deadline_date", "deadline_probability", "deadline_probability_at_least", "pools", "strategy",
               "chip_hours_p50", "cost_usd_p50", "energy_mwh_p50", "mfu_p50", "goodput_p50", "limited_by",
               "lower_bounds"]


def jobs_table(summary: Summary) -> pd.DataFrame:
    """One row per job of a portfolio (summary.json ``jobs``), in priority order; empty without ``jobs:``.

    Dates are ISO dates or ``never`` (a quantile beyond the job's finish probability); the first training day is
    the start plus the job's waiting days (P50). Figures are P50s over the replications; ``limited_by`` joins the
    job's limits.
    """
    rows = []
    for j in ordered_jobs(summary):
        s = j.summary
        fd = s.finish_date
        waited = s.waiting_days.at("p50") if s.waiting_days is not None else None
        first = ((dt.date.fromisoformat(summary.start) + dt.timedelta(days=waited)).isoformat()
                 if summary.start and waited is not None else None)
        ttt = s.stat("time_to_train_days")
        rows.append({
            "job": j.name, "priority": j.priority, "first_training_date": first,
            **{f"finish_{q}_date": (fd.at(q) if fd is not None else None) or "never" for q in ("p10", "p50", "p90")},
            "time_to_train_days_p50": (ttt.at("p50") if ttt is not None else None),
            "training_days_p50": s.training_days.at("p50") if s.training_days is not None else None,
            "waiting_days_p50": waited, "finish_probability": s.finish_probability,
            "deadline_date": j.deadline, "deadline_probability": j.deadline_probability if j.deadline else None,
            # when the horizon ends before the deadline with replications unfinished: the share is unknown, this low
            "deadline_probability_at_least": j.deadline_at_least,
            "pools": job_pools(j), "strategy": s.strategy.mode if s.strategy is not None else None,
            "chip_hours_p50": s.value("chip_hours"), "cost_usd_p50": s.value("cost_usd"),
            "energy_mwh_p50": s.value("energy_mwh"), "mfu_p50": s.value("mfu"), "goodput_p50": s.value("goodput"),
            "limited_by": "; ".join(s.limits),
            # the figures known only as lower bounds (replications the job did not finish in: summary ``at_least``)
            "lower_bounds": ", ".join([f"finish_{q}_date" for q in ("p10", "p50", "p90")
                                       if s.bound("time_to_train_days", q)]
                                      + [f"{k}_p50" for k in ("time_to_train_days", "training_days", "waiting_days",
                                                              "chip_hours", "cost_usd", "energy_mwh") if s.bound(k)]),
        })
    return pd.DataFrame(rows, columns=JOB_COLUMNS)


def inputs_table(inputs: Mapping[str, Any]) -> pd.DataFrame:
    """Every input of the run, one row per setting: group (the scenario's section or pool), field path, value."""
    rows = [{"group": g, "setting": path, "value": value} for g, items in input_groups(inputs or {})
            for path, value in items]
    return pd.DataFrame(rows, columns=["group", "setting", "value"])


# the times a replication may never reach (it never finishes, never starts): their quantiles count it as never
NEVER_METRICS = ("time_to_train_days", "start_days")
STATS_COLUMNS = ["metric", "count", "never", "mean", "min", "p10", "p50", "p90", "max", "at_least"]


def replication_stats(replications: pd.DataFrame | None, horizon_days: float | None = None,
                      bounds: Mapping[str, Sequence[str]] | None = None) -> pd.DataFrame:
    """Per metric over the replications: count, never, mean, min, p10, p50, p90, max, and which are at least.

    Time to train and the start day count every replication, one that never got there as never (its quantiles
    as summary.json's: ``never`` beyond the finishes; the mean and min of those that did, ``never`` how many did
    not); the others, the replications with a value. ``at_least`` names the figures known only as lower bounds,
    as summary.json's ``at_least``: a time quantile on the line to a replication stopped by the horizon
    (``horizon_days``, where it had got to), and a growing figure (cost, energy, chip-hours) that counts
    replications which spent to the horizon only. ``bounds``: summary.json's ``at_least``, whose word on a growing
    figure stands (an unpriced pool makes every quantile of the spend a bound, a reservation's commitment none), and
    then its max is one when any is.
    """
    rows = []
    if replications is None or replications.empty:
        return pd.DataFrame(columns=STATS_COLUMNS)
    finished = replications["finished"].fillna(False).astype(bool) if "finished" in replications else None
    for metric in [c for c in REPLICATION_COLUMNS if c not in ("replication", "finished")]:
        if metric not in replications:
            continue
        if metric in ("mode", "pool"):  # text: the strategy table counts them (they showed "count 0")
            continue
        values = pd.to_numeric(replications[metric], errors="coerce")
        if metric in NEVER_METRICS:
            if metric == "time_to_train_days" and finished is not None:
                values = values.where(finished)
            reached = values.dropna()
            # ``never``: how many never got there (the mean and min are of the others; the quantiles count them)
            never = int(len(values) - len(reached))
            if not len(reached):
                rows.append({"metric": metric, "count": int(len(values)), "never": never,
                             **dict.fromkeys(("p10", "p50", "p90", "max"), NEVER)})
                continue
            cut = horizon_days  # where a replication stopped by the horizon had got to (as summary.json's bounds)
            tq = time_quantiles(values.tolist(), cut)
            rows.append({"metric": metric, "count": int(len(values)), "never": never, "mean": tq["mean"],
                         "min": reached.min(), **{q: NEVER if tq[q] is None else tq[q] for q in ("p10", "p50", "p90")},
                         "max": reached.max() if len(reached) == len(values) else NEVER,
                         # (as summary.json: the mean of training and waiting days over the others is at least it)
                         "at_least": ", ".join([*(["mean"] if never and metric != "time_to_train_days" else []),
                                                *(time_bounds(values.tolist(), cut) if cut is not None else ())])})
            continue
        row = {"metric": metric, "count": int(values.notna().sum())}
        said = list((bounds or {}).get(metric, ()))  # the summary's word (unpriced pools: every quantile of the spend)
        if metric in GROWING_KEYS and finished is not None and not finished.all() and values.notna().all():
            # replications stopped by the horizon spent to it only: their whole run is more (the max too), but for a
            # commitment the summary knows exact (a reservation's whole window: it names no quantile the horizon
            # would otherwise bound)
            computed = lower_bounds(values.tolist(), finished.tolist())
            exact = bounds is not None and metric == "cost_usd" and not said and bool(computed)
            said = said if bounds is not None else computed
            row["at_least"] = "" if exact else ", ".join([*said, "max"])
        elif metric in GROWING_KEYS and said:
            row["at_least"] = ", ".join([*said, "max"])
        values = values.dropna()
        if len(values):
            row.update(quantiles(values), min=values.min(), max=values.max())
        rows.append(row)
    out = pd.DataFrame(rows, columns=STATS_COLUMNS)
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


def _metric_part(column: str) -> str:
    """What planner named of a column: a portfolio sweep's ``job NAME: metric`` leads with the user's job name."""
    column = str(column)
    return column.rsplit(": ", 1)[-1] if column.startswith("job ") else column


# planner's own columns of sums in the scenario's second currency: cost_cny, cost_cny_p50, cost_cny_p50_low, ...
# (a pool named idle_gpu_pool has columns idle_gpu_pool.first_capacity_days, never sums)
_OTHER_MONEY = re.compile(r"(?:cost|used|committed|paid|idle)_([a-z]{3})"
                          r"(?:_(?:mean|p10|p50|p90)(?:_(?:base|low|high|swing))?)?")


def currency_of(column: str) -> str | None:
    """The code of a column of sums in the scenario's second currency (``cost_cny_p50``: CNY); None for others."""
    m = _OTHER_MONEY.fullmatch(_metric_part(column).lower())
    return m.group(1).upper() if m is not None and m.group(1) != "usd" else None


def money_column(column: str) -> bool:
    """Whether a column holds US dollars: ``*_usd``, ``cost_usd_p50_low`` and other ``cost`` columns."""
    name = _metric_part(column).lower()
    if name.endswith("per_usd") or currency_of(name) is not None:  # (a rate of another currency, or sums in it)
        return False
    return name.endswith("_usd") or "_usd_" in name or name.startswith("cost")


def fmt_cell(column: str, value: Any) -> Any:
    """One cell for people: money with $ and thousands, shares as percent, big numbers with separators."""
    column = _metric_part(column)  # (a job named "a_usd_b" made its times read as dollars)
    if value is None or (isinstance(value, float) and not math.isfinite(value)) or value is pd.NA:
        # a time to train with no number is one that never came (the tables write NaN for an unfinished run); a
        # swing with none has no number to give (a side never finished, or is only a lower bound): not "never"
        return NEVER if "time_to_train" in column and not column.endswith("_swing") else ""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        return value
    x = float(value)
    if money_column(column):
        return f"${x:,.0f}" if abs(x) >= 1000 else f"${x:,.2f}"
    if code := currency_of(column):  # the same sums in the scenario's second currency
        return f"{code} {x:,.0f}" if abs(x) >= 1000 else f"{code} {x:,.2f}"
    if column in ("mfu", "goodput") or column.startswith(("mfu_", "goodput_")) or column.endswith(
            ("_fraction", "_share", "probability")):
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


def _bounded_quantiles(s: Summary, key: str, one: bool = False) -> list[str]:
    """"P10", "P50", "P90" of ``key`` known only as lower bounds (``Summary.at_least``); of one run, P50 alone."""
    return [q.upper() for q in ("p10", "p50", "p90") if s.bound(key, q) and (q == "p50" or not one)]


def summary_sheet_rows(result: RunResult) -> list[tuple[str, Any, Any, Any, str]]:
    """The readable summary sheet: (label, p10, p50, p90, number format kind) rows, sections as label-only rows."""
    s = result.summary
    rows: list[tuple[str, Any, Any, Any, str]] = [(answer_sentence(s, result.inputs), None, None, None, "title"),
                                                  ("", None, None, None, "")]
    one = s.replications == 1  # one run: its figures, no P10 or P90 (they would be no range)
    rows.append(("Answer (one replication)", None, "value", None, "head") if one else
                ("Answer", "P10", "P50", "P90", "head"))
    if s.finish_date is not None:
        # a date whose time to train is known only as at least a value is the earliest it can be
        early = _bounded_quantiles(s, "time_to_train_days", one)
        rows.append(("finish date" + (f" (at the earliest, {' '.join(early)})" if early else ""),
                     None if one else s.finish_date.p10, s.finish_date.p50, None if one else s.finish_date.p90, "date"))
    # energy to the kWh (a run of 991 kWh read "1" MWh); the rest as the terminal rounds them
    kinds = {"USD": "usd", "share": "pct", "days": "num1", "MWh": "num3", "chip-h": "num0"}
    for m in METRICS:
        v = s.stat(m.key)
        if v is not None:
            qs = [plain(v.p10), plain(v.p50), plain(v.p90)]
            if m.key == "time_to_train_days":  # a quantile beyond the finishes is never (summary.json's null)
                qs = [NEVER if x is None else x for x in qs]
            if one:
                qs = [None, qs[1], None]
            bound = _bounded_quantiles(s, m.key, one)
            # figures known only as lower bounds (unfinished replications spent to the horizon only) say so
            label = f"{m.label} [{m.unit}]" + (f" (at least, {' '.join(bound)})" if bound else "")
            if trained_of(s, m.key):  # MFU, goodput: of the replications that trained only
                label += f" ({trained_of(s, m.key)})"
            rows.append((label, *qs, kinds.get(m.unit, "num1")))
            rate = getattr(s, "currency", None)
            if m.unit == "USD" and rate is not None:  # the same sums in the scenario's currency (as the page)
                rows.append((label.replace("[USD]", f"[{rate.code}]"),
                             *[x if x is None else rate.convert(x) for x in qs], "cur"))
        elif m.key == "finish_probability" and s.finish_probability is not None:
            rows.append((f"{m.label} [{m.unit}]", None, plain(s.finish_probability), None, kinds.get(m.unit, "num1")))
    if s.unfinished:  # their spend, energy, chip-hours and efficiency so far, not the whole run's
        rows.append((to_horizon_note(s), None, None, None, "text"))
    w = s.power_wait_chip_days
    if w is not None:  # delivered chips that waited for their site's power
        qs = (None, plain(w.p50), None) if one else (plain(w.p10), plain(w.p50), plain(w.p90))
        early = _bounded_quantiles(s, "power_wait_chip_days", one)  # each quantile that is a bound (P90's too)
        low = f" (at least, {' '.join(early)}: runs stopped by the horizon waited to it only)" if early else ""
        rows.append((f"chip-days waiting for site power{low}", *qs, "num0"))  # one replication: its value
    if s.limits:  # what held the job below the chips in service (replication 0, the one the tables show)
        rows += [("", None, None, None, ""), ("What limited it (replication 0)", None, None, None, "head")]
        rows += [(limit, None, None, None, "text") for limit in s.limits]
    if s.jobs:  # a portfolio: each job's finish dates and its chance of meeting its deadline (the jobs sheet)
        rows += [("", None, None, None, ""), ("Jobs, in priority order: finish date", "P10", "P50", "P90", "head")]
        for j in ordered_jobs(s):
            fd = j.summary.finish_date
            early = _bounded_quantiles(j.summary, "time_to_train_days")
            label = f"{j.name} (priority {j.priority})" + (f" (at the earliest, {' '.join(early)})" if early else "")
            rows.append((label,
                         *((fd.at(q) if fd is not None else None) or "never" for q in ("p10", "p50", "p90")), "date"))
            if j.deadline:
                if j.deadline_probability is None and j.deadline_at_least is not None:  # the horizon ends first
                    rows.append((f"{j.name}: deadline {j.deadline} met (at least: the horizon ends before it)", None,
                                 plain(j.deadline_at_least), None, "pct"))
                else:
                    rows.append((f"{j.name}: deadline {j.deadline} met", None, plain(j.deadline_probability), None,
                                 "pct"))
    c = s.costs
    if c is not None:
        # replications stopped by the horizon spent to it only: the means are then lower bounds, and say so
        which = spend_bounded(s)  # (a whole-window reservation's commitment is exact: only what was used grows)
        idle = f"; idle {s.idle_bound()}" if s.idle_bound() else ""  # at least, at most or neither (bound)
        idle += " bound" if s.idle_bound() == "neither" else ""
        what = (f"Spend (mean of replications; {which} at least: {spend_note(s)}{idle})" if which
                else f"Spend (mean of replications{idle})")
        rows += [("", None, None, None, ""), (what, "committed", "used", "idle", "head"),
                 ("all pools", plain(c.committed_usd), plain(c.used_usd), plain(c.idle_usd), "usd")]
        rows += [(f"pool {p.pool}", plain(p.committed_usd), plain(p.used_usd), plain(p.idle_usd), "usd")
                 for p in c.pools]
        rate = getattr(s, "currency", None)
        if rate is not None:
            # as the dollars' table says it: which are at least their figure, and idle at most
            low = (f"; {which} at least{idle}" if which else idle)
            rows += [(f"Spend in {rate.code} ({rate.per_usd:g} per USD{low})", "committed", "used", "idle", "head"),
                     ("all pools", plain(rate.convert(c.committed_usd)), plain(rate.convert(c.used_usd)),
                      plain(rate.convert(c.idle_usd)), "cur")]
            rows += [(f"pool {p.pool}", plain(rate.convert(p.committed_usd)), plain(rate.convert(p.used_usd)),
                      plain(rate.convert(p.idle_usd)), "cur") for p in c.pools]
    if s.expectations:
        rows += [("", None, None, None, ""), ("Expectations", "value", "bound", "passed", "head")]
        for e in s.expectations:
            q = f" p{e.quantile * 100:g}" if e.quantile is not None else ""
            # as the terminal says it (a sum in both currencies)
            bound = " and ".join(f"{k} {metric_text(s, e.metric, getattr(e, k))}" for k in ("min", "max")
                                 if getattr(e, k) is not None)
            value = plain(e.value)
            if value is None:  # the quantile never came: the check failed on it
                value = unmet_value(e.metric)
            who = f"{e.job}: " if getattr(e, "job", None) else ""  # a job's own check, as the CLI and the page say
            unit = next((m.unit for m in METRICS if m.key == e.metric), "")
            # the value in its metric's format (a cost as money, a share as a percentage), as the summary's rows
            low = (" (at least)" if getattr(e, "at_least", False)  # it meets no maximum
                   else " (at most)" if getattr(e, "at_most", False) else "")  # unfinished: beyond every budget
            rows.append((f"{who}{e.metric}{q}{low}", value, bound, "PASS" if e.passed else "FAIL",
                         kinds.get(unit, "num1") if isinstance(value, (int, float)) else "text"))
    rows += [("", None, None, None, ""), ("Inputs", None, None, None, "head")]
    rows += [(r["input"], r["value"], None, None, "text") for r in input_rows(result.inputs)]
    rows += [("", None, None, None, ""), ("Run", None, None, None, "head"),
             ("seed", plain(s.seed), None, None, "int"), ("replications", plain(s.replications), None, None, "int"),
             ("start", s.start, None, None, "date"), ("planner version", s.planner_version, None, None, "text")]
    return rows


_FORMATS = {"usd": "$#,##0", "pct": "0.0%", "num0": "#,##0", "num1": "#,##0.0", "num3": "#,##0.000", "int": "0",
            "date": "yyyy-mm-dd",
            "big": "0.00E+00", "month": "yyyy-mm", "cur": "#,##0"}
_WIDTH_MIN, _WIDTH_MAX = 11, 60  # characters: a date or a sum in the billions fits; long texts wrap at the cap


def _currency_format(code: str | None) -> str:
    """The Excel number format of sums in the scenario's second currency: '"CNY "#,##0'."""
    return f'"{code} "#,##0' if code else "#,##0"


def _own_part(name: str) -> str:
    """What planner named of a column: ``<pool>.d0.shortfall`` and ``<job>.model_factor`` lead with a user's name."""
    return name.rsplit(".", 1)[-1]


# sheets whose columns (but the first) are the user's names, one format for all: a pool named "date" or "mfu" read as
# a date or a share, and its tokens were lost to a timestamp
_FORMAT_BY_SHEET = {"tokens by month": "big"}


def _column_format(name: str, series: pd.Series, code: str | None = None) -> str | None:
    """The Excel number format of a table column, from its name (units in the names) and type."""
    name = _own_part(name)
    if name in ("date", "week_date") or name.endswith("_date"):
        return "date"
    if name == "month":
        return "month"
    if not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
        return None
    if code and (name.endswith("_" + code.lower()) or currency_of(name) == code):  # (before "cost": cost_cny is yuan)
        return "cur"
    if name.endswith("_usd") or "cost" in name:
        return "usd"
    if name in ("mfu", "goodput", "shortfall") or name.endswith(("_fraction", "probability")):
        return "pct"  # a delivery's shortfall (<pool>.d0.shortfall) is a fraction (0.062 showed as "0.1")
    if name == "model_factor":
        return "num3"  # a ratio near 1 (0.962 showed as "1.0")
    if name.startswith("tokens") and "per_s" not in name:
        return "big"
    if pd.api.types.is_integer_dtype(series):
        return "num0"
    return "num1"


def _as_dates(df: pd.DataFrame, names: bool = False) -> pd.DataFrame:
    """Date columns as dates (``names``: the columns but the first are the user's names, never dates)."""
    out = df.copy()
    for col in out.columns[:1] if names else out.columns:
        own = _own_part(str(col))
        if own == "date" or own.endswith("_date"):
            out[col] = pd.to_datetime(out[col], errors="coerce")
        elif str(col) == "month":  # YYYY-MM: the month's first day, shown as yyyy-mm
            out[col] = pd.to_datetime(out[col].astype(str) + "-01", errors="coerce")
    return out


_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _write_value(sheet, r: int, c: int, value: Any, date_format, wrap=None) -> None:
    """One cell: an ISO date as a real date, a number as a number, text as inert text."""
    if isinstance(value, str) and _ISO_DAY.match(value):
        try:
            sheet.write_datetime(r, c, dt.datetime.fromisoformat(value), date_format)
            return
        except ValueError:
            pass
    sheet.write(r, c, _xlsx_text(value), wrap)


def write_xlsx(result: RunResult, path: Path) -> None:
    """A readable summary sheet (answer, figures, spend, inputs) with charts, then one sheet per table.

    Number formats: currency, percent, dates; autofilters and frozen headers on every table.
    """
    sheets, notes = {}, []
    data = tables(result)
    rate = getattr(result.summary, "currency", None)
    code = rate.code if rate is not None else None
    data["cash flow"] = cashflow_table(result)
    data["layouts"] = with_dates(data["layouts"], result.start)
    data["interruptions"] = interruptions_per_week(result.events, result.start).assign(
        week=lambda d: pd.to_datetime(d["week"]).dt.strftime("%Y-%m-%d")).rename(columns={"week": "week_date"})
    for name, table in (("strategies", strategies_table(result)), ("tokens by month", tokens_by_month(result))):
        if len(table):  # the report's tables of a run on several pools, one sheet each
            data[name] = table
    power = site_power_table(result.schedule, result.inputs, getattr(result, "fleet_in_service", None))
    if len(power):
        data["site power"] = power.assign(date=lambda d: pd.to_datetime(d["date"]).dt.strftime("%Y-%m-%d"))
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
        fmt = {k: book.add_format({"num_format": v}) for k, v in {**_FORMATS, "cur": _currency_format(code)}.items()}
        bold, title = book.add_format({"bold": True, "bottom": 1}), book.add_format({"bold": True, "font_size": 13})
        wrap = book.add_format({"text_wrap": True, "valign": "top"})
        ws = book.add_worksheet("summary")
        writer.sheets["summary"] = ws
        ws.set_column(0, 0, 42)
        ws.set_column(1, 3, 20)
        ws.freeze_panes(1, 0)  # the answer stays in view
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
        _jobs_sheet(book, jobs_table(result.summary), rate, bold, wrap, fmt)  # a portfolio's jobs, next to it
        for name, df in sheets.items():
            fixed = _FORMAT_BY_SHEET.get(name)
            df = _as_dates(df, names=fixed is not None)
            # column by column: several times faster than pandas' cell-by-cell writer for the event tables
            sheet = book.add_worksheet(name)
            writer.sheets[name] = sheet
            sheet.write_row(0, 0, [_xlsx_text(str(c)) for c in df.columns], bold)
            for i, col in enumerate(df.columns):
                kind = _column_format(str(col), df[col], code) if fixed is None or i == 0 else fixed
                if pd.api.types.is_datetime64_any_dtype(df[col]):
                    for r, v in enumerate(df[col], start=1):
                        if pd.notna(v):
                            sheet.write_datetime(r, i, pd.Timestamp(v).to_pydatetime(), fmt[kind or "date"])
                    continue
                values = df[col].astype(object).where(df[col].notna(), None).tolist()
                # every number carries its column's format (a reader that ignores column formats shows it too)
                sheet.write_column(1, i, ["" if v is None else v for v in values], fmt[kind] if kind else None)
            sheet.freeze_panes(1, 0)
            if len(df.columns):
                sheet.autofilter(0, 0, max(len(df), 1), len(df.columns) - 1)
            for i, col in enumerate(df.columns):
                kind = _column_format(str(col), df[col], code) if fixed is None or i == 0 else fixed
                width = max([len(str(col))] + [_shown_width(v, kind) for v in df[col].head(200)])
                sheet.set_column(i, i, min(max(width + 2, _WIDTH_MIN), _WIDTH_MAX), fmt[kind] if kind else None)
        _inputs_sheet(book, result.inputs, bold, wrap, fmt["date"])
        _summary_charts(book, ws, sheets, result)


def _shown_width(value: Any, kind: str | None) -> int:
    """Characters a cell takes as Excel shows it with its format (a sum with separators, a date as yyyy-mm-dd)."""
    if kind in ("date", "month"):
        return 10
    if kind in ("usd", "cur", "num0") and isinstance(value, (int, float, np.integer, np.floating)) \
            and math.isfinite(float(value)):
        return len(f"{float(value):,.0f}") + 5  # "$" or a currency code
    return len(str(value))


_JOB_FORMATS = {"priority": "int", "time_to_train_days_p50": "num1", "training_days_p50": "num1",
                "waiting_days_p50": "num1", "finish_probability": "pct", "deadline_probability": "pct",
                "deadline_probability_at_least": "pct",
                "chip_hours_p50": "num0", "cost_usd_p50": "usd", "energy_mwh_p50": "num3", "mfu_p50": "pct",
                "goodput_p50": "pct"}


def _jobs_sheet(book, table: pd.DataFrame, rate, bold, wrap, fmt: dict) -> None:
    """The ``jobs`` sheet: a row per job (jobs_table), dates as dates (``never`` as text), money as money.

    With the scenario's second currency the cost is also given in it, right after the dollars.
    """
    if table.empty:
        return
    if rate is not None:
        at = list(table.columns).index("cost_usd_p50") + 1
        table = table.copy()
        table.insert(at, f"cost_p50_{rate.code.lower()}", [rate.convert(v) for v in table["cost_usd_p50"]])
    sheet = book.add_worksheet("jobs")
    sheet.write_row(0, 0, [_xlsx_text(str(c)) for c in table.columns], bold)
    widths = [len(str(c)) for c in table.columns]
    for r, row in enumerate(table.itertuples(index=False), start=1):
        for c, (col, value) in enumerate(zip(table.columns, row, strict=True)):
            kind = "cur" if rate is not None and col == f"cost_p50_{rate.code.lower()}" else _JOB_FORMATS.get(col)
            if value is None or (isinstance(value, float) and not math.isfinite(value)):
                shown = "never" if col == "time_to_train_days_p50" else ""
                if shown:
                    sheet.write(r, c, shown)
                widths[c] = max(widths[c], len(shown))
                continue
            if col.endswith("_date") and isinstance(value, str) and _ISO_DAY.match(value):
                sheet.write_datetime(r, c, dt.datetime.fromisoformat(value), fmt["date"])
                widths[c] = max(widths[c], 10)
            elif kind and isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
                sheet.write_number(r, c, float(value), fmt[kind])
                widths[c] = max(widths[c], _shown_width(value, kind))
            else:
                sheet.write(r, c, _xlsx_text(value), wrap if col == "limited_by" else None)
                widths[c] = max(widths[c], len(str(value)))
    for c, width in enumerate(widths):
        sheet.set_column(c, c, min(max(width + 2, _WIDTH_MIN), _WIDTH_MAX))
    sheet.freeze_panes(1, 1)
    sheet.autofilter(0, 0, len(table), len(table.columns) - 1)


def _inputs_sheet(book, inputs: Mapping[str, Any], bold, wrap, date_format) -> None:
    """Every input, grouped as the scenario is: group, field path, value (dates as dates, text inert)."""
    table = inputs_table(inputs)
    if table.empty:
        return
    sheet = book.add_worksheet("inputs")
    sheet.write_row(0, 0, list(table.columns), bold)
    for r, row in enumerate(table.itertuples(index=False), start=1):
        sheet.write(r, 0, _xlsx_text(row.group))
        sheet.write(r, 1, _xlsx_text(row.setting))
        _write_value(sheet, r, 2, row.value, date_format, wrap)
    sheet.set_column(0, 0, 24)
    sheet.set_column(1, 1, 44)
    sheet.set_column(2, 2, 90)
    sheet.freeze_panes(1, 0)
    sheet.autofilter(0, 0, len(table), 2)


def _summary_charts(book, ws, sheets: dict[str, pd.DataFrame], result: RunResult) -> None:
    """Two charts on the summary sheet: capacity in service by pool, and interruptions per week."""
    sched = sheets.get("schedule")
    fleet = getattr(result, "fleet_in_service", None)  # a portfolio: the fleet's chips, not the jobs' shares summed
    if fleet is not None and not fleet.empty:
        sched = fleet
    if sched is not None and not sched.empty and len(sched) <= EXCEL_MAX_ROWS:
        wide = sched.pivot_table(index="date", columns="pool", values="units_in_service", aggfunc="sum")
        if not wide.empty:
            cap = book.add_worksheet("capacity")
            cap.freeze_panes(1, 1)
            cap.set_column(0, 0, 12)
            cap.set_column(1, len(wide.columns), 16, book.add_format({"num_format": "#,##0"}))
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
        sh.freeze_panes(1, 1)
        sh.set_column(0, 0, 12, book.add_format({"num_format": "yyyy-mm-dd"}))
        sh.set_column(1, len(wide.columns), 13, book.add_format({"num_format": "#,##0"}))
        sh.write_row(0, 0, ["week", *(_xlsx_text(str(c)) for c in wide.columns)])
        datefmt = book.add_format({"num_format": "yyyy-mm-dd"})
        for i, (week, row) in enumerate(wide.iterrows(), start=1):
            day = pd.Timestamp(week)
            if pd.notna(day):
                sh.write_datetime(i, 0, day.to_pydatetime(), datefmt)
            else:
                sh.write(i, 0, _xlsx_text(str(week)))
            sh.write_row(i, 1, [float(v) for v in row])
        chart = book.add_chart({"type": "column", "subtype": "stacked"})
        for j in range(1, len(wide.columns) + 1):
            chart.add_series({"name": ["interruptions_weekly", 0, j],
                              "categories": ["interruptions_weekly", 1, 0, len(wide), 0],
                              "values": ["interruptions_weekly", 1, j, len(wide), j]})
        chart.set_title({"name": "Interruptions per week (stacked by kind)"})
        chart.set_size({"width": 640, "height": 300})
        ws.insert_chart("F19", chart)
