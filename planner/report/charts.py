"""Plotly figures built from a run's DataFrames (see ``planner.results``).

Pure functions: each takes DataFrames (and plain values), returns a ``go.Figure`` and never
touches files, so the HTML report, the Streamlit app and notebooks draw the same charts.
Every function copes with empty or missing tables by returning a figure that says "no data".

Plotly draws a subset of HTML in labels (links, images as text, tags): every name from a scenario (pools,
sites) goes into a figure through :func:`planner.escape.html` and free text (event details) through
:func:`planner.escape.plotly_text`, so it is shown as written.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import plotly.colors
import plotly.graph_objects as go

from ..escape import html as _label
from ..escape import plotly_text
from ..fmt import num
from ..perf.layout import LAYOUT_FIELDS
from ..results import RunResult
from ..stats import NEVER, time_quantile
from ..summary import FinishDates, Summary
from .headline import at_least, deadline_share

INTERRUPTIONS = ("failure", "restart", "maintenance", "re-plan", "wait")
_MARKERS = {
    "failure": ("x", "#d62728"),
    "restart": ("triangle-up", "#ff7f0e"),
    "maintenance": ("line-ns-open", "#7f7f7f"),
    "re-plan": ("diamond", "#2ca02c"),
    "wait": ("square-open", "#9467bd"),
}
_QUALITATIVE = plotly.colors.qualitative
_PALETTE = _QUALITATIVE.Plotly + _QUALITATIVE.D3 + _QUALITATIVE.Set2
_LAYOUT = dict(margin=dict(l=60, r=20, t=50, b=40), height=380, hovermode="x unified")
_AXIS = dict(gridcolor="#EBF0F8", linecolor="#EBF0F8", ticks="", zerolinecolor="#EBF0F8", zerolinewidth=2,
             automargin=True, title=dict(standoff=15))
# the look of plotly_white without its defaults for every trace type: a figure copies its template, and
# copying the full one costs about 0.1 s per figure
LEAN_LAYOUT = dict(
    colorway=_QUALITATIVE.Plotly, font=dict(color="#2a3f5f"), paper_bgcolor="white", plot_bgcolor="white",
    hoverlabel=dict(align="left"), title=dict(x=0.05), xaxis=_AXIS, yaxis=_AXIS)


@functools.cache
def lean_template() -> go.layout.Template:
    """The report's template (built on first use: building it validates every property)."""
    return go.layout.Template(layout=LEAN_LAYOUT)
JOB_ROW = "(job)"
MAX_MARKERS = 150  # more interruption markers than this are drawn as weekly counts only


# ---------------------------------------------------------------- helpers


def new_figure(*traces) -> go.Figure:
    """A figure on the lean template (every chart of the reports starts here)."""
    return go.Figure(data=list(traces), layout={"template": lean_template()})


def warm() -> None:
    """Load what the charts use: Plotly loads each trace's and the layout's validators on first use (~0.1 s).

    `planner run` calls it while its workers simulate, so the report written after them does not pay it.
    """
    fig = new_figure(go.Scatter(x=[0, 1], y=[0, 1], mode="lines+markers", stackgroup="w", hovertemplate="%{y}"),
                     go.Bar(x=[0], y=[1]), go.Histogram(x=[0, 1]))
    fig.update_layout(title="warm", legend={"orientation": "h"}, margin=_LAYOUT["margin"])
    fig.update_xaxes(type="date")
    fig.add_vline(x=0)
    fig.add_annotation(text="w", x=0, y=0, showarrow=False)
    fig.to_json()


def empty_figure(title: str, message: str = "no data") -> go.Figure:
    """A blank figure carrying ``message`` in the middle."""
    fig = new_figure()
    fig.add_annotation(text=message, x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False, font=dict(size=16))
    fig.update_layout(title=title, height=300, margin=_LAYOUT["margin"])
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig


def _usable(df: pd.DataFrame | None, *columns: str) -> bool:
    return df is not None and not df.empty and all(c in df.columns for c in columns)


def pool_colors(*frames: pd.DataFrame | None) -> dict[str, str]:
    """A stable colour per pool name, in order of first appearance across ``frames``."""
    names: list[str] = []
    for df in frames:
        if _usable(df, "pool"):
            for name in df["pool"].astype(str):
                if name and name not in names:
                    names.append(name)
    return {name: _PALETTE[i % len(_PALETTE)] for i, name in enumerate(names)}


def finish_date(events: pd.DataFrame | None) -> pd.Timestamp | None:
    """Date of the run's ``finish`` event, if any: with ``jobs:``, the last job's, when every job finished."""
    if not _usable(events, "event", "date"):
        return None
    done = events[events["event"].astype(str) == "finish"]
    if done.empty:
        return None
    if "job" in events.columns and events["job"].notna().any():
        # a portfolio is done when its last job is: none while a job of its events has no finish
        if set(events["job"].dropna().astype(str)) - set(done["job"].dropna().astype(str)):
            return None
    when = pd.to_datetime(done["date"], errors="coerce").max()
    return None if pd.isna(when) else when


def _dates(series: pd.Series) -> pd.Series:
    return pd.to_datetime(series, errors="coerce")


def _vline(fig: go.Figure, x: Any, text: str, color: str = "#444") -> None:
    # a shape + annotation instead of add_vline: add_vline's annotation fails on date axes
    fig.add_shape(type="line", x0=x, x1=x, y0=0, y1=1, yref="paper", line=dict(color=color, dash="dot", width=2))
    fig.add_annotation(x=x, y=1, yref="paper", text=text, showarrow=False, yanchor="bottom", font=dict(color=color))


def _one_date(fig: go.Figure, dates) -> str:
    """The trace mode for a date axis, and for a run of one day a day either side on its axis.

    One date has no line or area to draw, and Plotly spans a zero-width date axis over a millisecond: the points
    get markers, and the axis the days around them.
    """
    days = pd.DatetimeIndex(pd.to_datetime(pd.Series(dates), errors="coerce").dropna().unique())
    if len(days) != 1:
        return "lines"
    fig.update_xaxes(range=[days[0] - pd.Timedelta(days=1), days[0] + pd.Timedelta(days=1)])
    return "lines+markers"


def _stacked_area(schedule: pd.DataFrame, value: str, colors: dict[str, str]) -> go.Figure:
    data = schedule.assign(_date=_dates(schedule["date"]))
    wide = data.pivot_table(index="_date", columns="pool", values=value, aggfunc="sum", sort=True).fillna(0.0)
    fig = new_figure()
    mode = _one_date(fig, wide.index)
    for pool in [p for p in colors if p in wide.columns]:
        fig.add_trace(
            go.Scatter(
                x=wide.index, y=wide[pool], name=_label(pool), mode=mode, stackgroup="one",
                line=dict(width=0.5, color=colors[pool]), legendgroup=_label(pool),
            )
        )
    return fig


# ---------------------------------------------------------------- (a) capacity


def capacity_figure(schedule: pd.DataFrame | None, plan: pd.DataFrame | None = None,
                    in_service: pd.DataFrame | None = None) -> go.Figure:
    """Units in service per pool over time (stacked areas) with the delivery plan stacked the same way (dashed).

    ``in_service``: the fleet's chips in service by day and pool (a portfolio's ``fleet_in_service``: its
    schedule has a row per job, each with the chips that job held, which leave out chips no job held).
    """
    title = "Capacity by pool: in service (stacked areas) against the plan (stacked dashed lines)"
    # the chips in service leave out each pool's reserved share: so does the plan they are drawn against
    net = plan is not None and "usable_units" in plan.columns and bool(plan["usable_units"].notna().all())
    column = "usable_units" if net else "planned_units"  # a plan made without it (by hand): every chip
    if net and (plan["usable_units"] != plan["planned_units"]).any():
        title = "Capacity by pool: in service (stacked areas) against the plan less reserved chips (dashed lines)"
    if _usable(in_service, "date", "pool", "units_in_service"):
        schedule = in_service
    if not _usable(schedule, "date", "pool", "units_in_service"):
        return empty_figure(title)
    colors = pool_colors(schedule, plan)
    fig = _stacked_area(schedule, "units_in_service", colors)
    if _usable(plan, "date", "pool", "planned_units"):
        # the plan is stacked like the areas: each pool's dashed line is its plan on top of the pools before it
        end = _dates(schedule["date"]).max()
        rows = plan.assign(_date=_dates(plan["date"])).dropna(subset=["_date"])
        steps = rows.pivot_table(index="_date", columns="pool", values=column, aggfunc="last", sort=True)
        if pd.notna(end) and len(steps) and steps.index[-1] < end:  # carry the last planned level to the end
            steps.loc[end] = np.nan
        steps = steps.ffill().fillna(0.0).astype(float)
        plan_mode = _one_date(fig, steps.index)  # (one date: its point, as the areas')
        order = [p for p in colors if p in steps.columns]
        stacked = steps[order].cumsum(axis=1)
        for i, pool in enumerate(order):
            label = (f"{_label(pool)} (plan)" if i == 0
                     else f"{_label(pool)} (plan, stacked on {_label(order[i - 1])})")
            fig.add_trace(
                go.Scatter(
                    x=stacked.index, y=stacked[pool], name=label, mode=plan_mode, line_shape="hv",
                    legendgroup=_label(pool), line=dict(dash="dash", width=2, color=colors.get(str(pool), "#333")),
                )
            )
    fig.update_layout(title=title, yaxis_title="units in service", **_LAYOUT)
    return fig


# ---------------------------------------------------------------- (b) tokens


def pool_tokens(schedule: pd.DataFrame) -> pd.DataFrame:
    """Cumulative tokens trained per pool and day, every job's added (a portfolio's schedule has a row per job).

    A job's cumulative tokens hold after its last row (it finished: what it trained stays trained), and are 0
    before its first. One job's schedule is returned as it is.
    """
    if "job" not in schedule.columns or not _usable(schedule, "date", "pool", "tokens_trained"):
        return schedule
    df = schedule.assign(_date=_dates(schedule["date"]))
    wide = df.pivot_table(index="_date", columns=["job", "pool"], values="tokens_trained", aggfunc="last")
    wide = wide.sort_index().ffill().fillna(0.0)
    summed = wide.T.groupby(level="pool", sort=False).sum().T
    out = summed.stack().rename("tokens_trained").reset_index()
    out["date"] = out["_date"].dt.strftime("%Y-%m-%d")
    return out[["date", "pool", "tokens_trained"]]


def tokens_figure(
    schedule: pd.DataFrame | None, events: pd.DataFrame | None = None, target_tokens: float | None = None,
    finish_band: tuple[Any, Any] | None = None,
) -> go.Figure:
    """Cumulative tokens trained per pool (stacked areas), the finish date, and the P10-P90 finish band."""
    title = "Tokens trained by pool (stacked)"
    if not _usable(schedule, "date", "tokens_trained"):
        return empty_figure(title)
    if not (pd.to_numeric(schedule["tokens_trained"], errors="coerce").fillna(0.0) > 0).any():
        return empty_figure(title, "no tokens trained")  # (an axis of zeros read -1 to 1)
    if "pool" in schedule.columns:
        schedule = pool_tokens(schedule)
        trained = schedule.groupby(schedule["pool"].astype(str))["tokens_trained"].max()
        pools = schedule[schedule["pool"].astype(str).isin(trained[trained > 0].index)]
        fig = _stacked_area(pools if not pools.empty else schedule, "tokens_trained", pool_colors(schedule))
    else:
        total = schedule.assign(_date=_dates(schedule["date"])).groupby("_date", sort=True)["tokens_trained"].sum()
        fig = new_figure()
        mode = _one_date(fig, total.index)
        fig.add_trace(go.Scatter(x=total.index, y=total.values, name="tokens trained", mode=mode))
    if target_tokens:
        fig.add_hline(y=float(target_tokens), line=dict(color="#999", dash="dash"))
    if finish_band and finish_band[0] and finish_band[1] and finish_band[0] != finish_band[1] \
            and NEVER not in finish_band:  # a band that reaches "never" has no end to draw
        fig.add_vrect(x0=pd.Timestamp(finish_band[0]), x1=pd.Timestamp(finish_band[1]), fillcolor="#2ca02c",
                      opacity=0.12, line_width=0)
        fig.add_annotation(x=pd.Timestamp(finish_band[1]), y=0.02, yref="paper", showarrow=False, xanchor="right",
                           text="finish P10–P90", font=dict(color="#2ca02c"))
    done = finish_date(events)
    if done is not None:
        _vline(fig, done, f"finish {done.date().isoformat()}", color="#2ca02c")
    fig.update_layout(title=title, yaxis_title="tokens", **_LAYOUT)
    return fig


# ---------------------------------------------------------------- (c) cost


def cost_figure(schedule: pd.DataFrame | None, cashflow: pd.DataFrame | None = None) -> go.Figure:
    """Cumulative committed spend per pool over time, stacked.

    With the run's cash flow (planner/cashflow.py) the curve runs month by month to the last committed month (a
    reservation to the end of its term), so it ends at the committed total; the daily schedule alone stops at
    the job's end.
    """
    title = "Committed spend by pool (stacked)"
    if _usable(cashflow, "month", "pool", "committed_usd") and not cashflow["committed_usd"].astype(float).any():
        return empty_figure(title, "nothing committed")  # (an axis of zeros read -1 to 1)
    if _usable(cashflow, "month", "pool", "committed_usd"):
        ends = pd.to_datetime(cashflow["month"] + "-01") + pd.offsets.MonthEnd(0)
        monthly = cashflow.assign(date=ends).groupby(["date", "pool"], sort=True)["committed_usd"].sum()
        wide = monthly.unstack("pool").fillna(0.0).cumsum()
        colors = pool_colors(schedule, cashflow)
        fig = new_figure()
        mode = _one_date(fig, wide.index)  # (one month's end: its point, on a day-wide axis)
        for pool in [p for p in colors if p in wide.columns]:
            fig.add_trace(go.Scatter(x=wide.index, y=wide[pool], name=_label(pool), mode=mode, stackgroup="one",
                                     line=dict(width=0.5, color=colors[pool]), legendgroup=_label(pool)))
        fig.update_layout(title=title + ", cumulative at each month's end, to the end of every reservation",
                          yaxis_title="USD", yaxis_tickprefix="$", yaxis_exponentformat="B", **_LAYOUT)
        return fig
    if not _usable(schedule, "date", "pool", "cost_usd"):
        return empty_figure(title)
    fig = _stacked_area(schedule, "cost_usd", pool_colors(schedule))
    fig.update_layout(title=title, yaxis_title="USD", yaxis_tickprefix="$", yaxis_exponentformat="B", **_LAYOUT)
    return fig


KIND_LABELS = {"purchase": "owned chips (amortized)", "reservation": "reservation", "on_demand": "on demand",
               "energy": "energy"}
_KIND_PATTERNS = {"purchase": "", "reservation": "/", "on_demand": "x", "energy": "."}


def cashflow_figure(cashflow: pd.DataFrame | None, currency: tuple[str, float] | None = None) -> go.Figure:
    """Committed spend per month, stacked by pool and kind, with the cash paid each month as a line.

    ``currency``: (ISO code, units per USD), shown in the hover beside USD.
    """
    title = "Cash flow by month: committed (stacked by pool and kind) and paid (line)"
    if not _usable(cashflow, "month", "pool", "kind", "committed_usd", "paid_usd"):
        return empty_figure(title)
    colors = pool_colors(cashflow)
    months = sorted(cashflow["month"].astype(str).unique())
    x = pd.to_datetime(pd.Series(months) + "-01")
    fig = new_figure()
    extra = f"<br>%{{customdata:,.0f}} {_label(currency[0])}" if currency else ""
    for (pool, kind), rows in cashflow.groupby(["pool", "kind"], sort=False):
        by_month = rows.groupby("month")["committed_usd"].sum().reindex(months, fill_value=0.0)
        name = f"{_label(pool)}: {KIND_LABELS.get(kind, _label(kind))}"
        fig.add_trace(go.Bar(
            x=x, y=by_month.values, name=name, legendgroup=_label(pool),
            marker=dict(color=colors.get(str(pool)), pattern=dict(shape=_KIND_PATTERNS.get(kind, ""))),
            customdata=by_month.values * currency[1] if currency else None,
            hovertemplate=f"{name}<br>$%{{y:,.0f}}{extra}<extra></extra>"))
    paid = cashflow.groupby("month")["paid_usd"].sum().reindex(months, fill_value=0.0)
    fig.add_trace(go.Scatter(x=x, y=paid.values, name="paid (all pools)", mode="lines+markers",
                             line=dict(color="#333", dash="dot"),
                             customdata=paid.values * currency[1] if currency else None,
                             hovertemplate=f"paid<br>$%{{y:,.0f}}{extra}<extra></extra>"))
    fig.update_layout(title=title, barmode="stack", yaxis_title="USD per month", yaxis_tickprefix="$",
                      yaxis_exponentformat="B", **{**_LAYOUT, "hovermode": "closest"})
    return fig


# ---------------------------------------------------------------- (d) timeline


# hover text of a layout bar: its time span, size, every layout field and its speed
_HOVER_FIELDS = ["start_days", "end_days", "units", *LAYOUT_FIELDS, "tokens_per_s", "mfu"]
_LAYOUT_HOVER = (
    "<b>%{y}</b><br>days %{customdata[0]:.1f} – %{customdata[1]:.1f}<br>units %{customdata[2]:,}<br>"
    + " · ".join(f"{name} %{{customdata[{i + 3}]}}" for i, name in enumerate(LAYOUT_FIELDS))
    + f"<br>%{{customdata[{len(_HOVER_FIELDS) - 2}]:.3s}} tokens/s · MFU %{{customdata[{len(_HOVER_FIELDS) - 1}]:.1%}}"
    + "<extra></extra>"
)


def timeline_figure(
    layouts: pd.DataFrame | None, events: pd.DataFrame | None = None, start: Any = None
) -> go.Figure:
    """The job's layouts as horizontal bars per pool (hover: parallelism and speed), interruptions as markers.

    ``start`` (a date) puts the bars on a calendar axis; without it the axis is days since start.
    """
    title = "Job layouts and interruptions"
    has_layouts = _usable(layouts, "start_days", "end_days", "pool")
    has_events = _usable(events, "time_days", "event") and events["event"].astype(str).isin(INTERRUPTIONS).any()
    many = has_events and int(events["event"].astype(str).isin(INTERRUPTIONS).sum()) > MAX_MARKERS
    if many:  # hundreds of markers merge into one band: the weekly counts chart shows them instead
        has_events = False
    if not has_layouts and not has_events:
        return empty_figure(title)
    t0 = pd.Timestamp(start) if start is not None and pd.notna(pd.Timestamp(start)) else None

    def to_x(days: pd.Series) -> pd.Series:
        days = pd.to_numeric(days, errors="coerce").astype(float)
        return (t0 + pd.to_timedelta(days, unit="D")).dt.round("s") if t0 is not None else days

    fig = new_figure()
    colors = pool_colors(layouts, events)
    if has_layouts:
        lay = layouts.copy()
        for col in _HOVER_FIELDS:
            if col not in lay.columns:
                lay[col] = None
        for pool, rows in lay.groupby(lay["pool"].astype(str), sort=False):
            begin, end = to_x(rows["start_days"]), to_x(rows["end_days"])
            width = (end - begin).dt.total_seconds() * 1000 if t0 is not None else end - begin
            row = _label(pool) if pool else JOB_ROW
            fig.add_trace(
                go.Bar(
                    y=[row] * len(rows), x=width, base=begin, orientation="h", name=row,
                    marker=dict(color=colors.get(pool, "#1f77b4"), line=dict(color="white", width=1)),
                    customdata=rows[_HOVER_FIELDS].astype(object).where(rows[_HOVER_FIELDS].notna(), "–").values,
                    hovertemplate=_LAYOUT_HOVER,
                )
            )
    if has_events:
        ev = events[events["event"].astype(str).isin(INTERRUPTIONS)].copy()
        ev["_row"] = (ev["pool"].fillna("").astype(str).map(lambda p: _label(p) if p else JOB_ROW)
                      if "pool" in ev.columns else JOB_ROW)
        for col in ("units", "detail"):
            if col not in ev.columns:
                ev[col] = ""
        ev["detail"] = ev["detail"].fillna("").astype(str).map(plotly_text)
        for kind in INTERRUPTIONS:
            rows = ev[ev["event"].astype(str) == kind]
            if rows.empty:
                continue
            symbol, color = _MARKERS[kind]
            fig.add_trace(
                go.Scatter(
                    x=to_x(rows["time_days"]), y=rows["_row"], mode="markers", name=kind,
                    marker=dict(symbol=symbol, size=10, color=color, line=dict(width=2, color=color)),
                    customdata=rows[["time_days", "units", "detail"]].astype(str).values,
                    hovertemplate=f"<b>{kind}</b> %{{y}}<br>day %{{customdata[0]}} · units %{{customdata[1]}}"
                    "<br>%{customdata[2]}<extra></extra>",
                )
            )
    if many:
        title += f" (interruptions: see the weekly counts; more than {MAX_MARKERS})"
    fig.update_layout(title=title, barmode="overlay", bargap=0.4, **{**_LAYOUT, "hovermode": "closest"})
    fig.update_yaxes(autorange="reversed", title=None)
    if t0 is not None:
        fig.update_xaxes(type="date")
    else:
        fig.update_xaxes(title="days since start")
    return fig


def interruptions_per_week(events: pd.DataFrame | None, start: Any = None) -> pd.DataFrame:
    """Interruptions counted per calendar week (Monday) and kind: columns week, kind, count."""
    cols = ["week", "kind", "count"]
    if not _usable(events, "event") or not ("date" in events.columns or "time_days" in events.columns):
        return pd.DataFrame(columns=cols)
    ev = events[events["event"].astype(str).isin(INTERRUPTIONS)]
    if ev.empty:
        return pd.DataFrame(columns=cols)
    when = _dates(ev["date"]) if "date" in ev.columns else (
        pd.Timestamp(start) + pd.to_timedelta(pd.to_numeric(ev["time_days"], errors="coerce"), unit="D"))
    week = (when - pd.to_timedelta(when.dt.day_of_week, unit="D")).dt.normalize()
    out = pd.DataFrame({"week": week, "kind": ev["event"].astype(str)}).dropna()
    return out.groupby(["week", "kind"], sort=True).size().reset_index(name="count")


def interruptions_figure(events: pd.DataFrame | None, start: Any = None) -> go.Figure:
    """Interruptions per week, stacked bars by kind (one bar per week, whatever their number)."""
    title = "Interruptions per week (stacked by kind)"
    weekly = interruptions_per_week(events, start)
    if weekly.empty:
        return empty_figure(title, "no interruptions")
    fig = new_figure()
    for kind in INTERRUPTIONS:
        rows = weekly[weekly["kind"] == kind]
        if not rows.empty:
            fig.add_trace(go.Bar(x=rows["week"], y=rows["count"], name=kind, marker_color=_MARKERS[kind][1],
                                 hovertemplate=f"week of %{{x|%Y-%m-%d}}: %{{y}} {kind}<extra></extra>"))
    fig.update_layout(title=title, barmode="stack", yaxis_title="per week", **{**_LAYOUT, "hovermode": "closest"})
    fig.update_xaxes(type="date")
    return fig


# ---------------------------------------------------------------- (e) replications


def replications_figure(replications: pd.DataFrame | None, start: Any = None,
                        summary: Summary | None = None) -> go.Figure:
    """Histogram of the finish date (time to train after ``start``; days without it) over finished replications.

    Its P10/P50/P90 lines are ``summary``'s (a quantile known only as at least a value is marked "≥"); without
    one, they are worked out from the table.
    """
    title = "Finish date across replications" if start is not None else "Time to train across replications"
    if not _usable(replications, "time_to_train_days"):
        return empty_figure(title)
    rows = replications
    if "finished" in rows.columns:
        rows = rows[rows["finished"].fillna(False).astype(bool)]
    values = pd.to_numeric(rows["time_to_train_days"], errors="coerce").dropna()
    if len(replications) <= 1 or values.empty:
        return empty_figure(title, "no data (needs more than one finished replication)")
    t0 = pd.Timestamp(start) if start is not None else None

    def x_of(days: Any) -> Any:
        if t0 is None:
            return days
        when = t0 + pd.to_timedelta(days, unit="D")
        return when.dt.round("s") if isinstance(when, pd.Series) else when.round("s")

    fig = new_figure(go.Histogram(x=x_of(values), name="replications", marker_color="#1f77b4", opacity=0.85))
    # the quantiles over every replication, one that never finished counting as never (as summary.json's): a line
    # beyond the finishes is not drawn, and the title says so
    every = replications["time_to_train_days"]
    if "finished" in replications.columns:
        every = every.where(replications["finished"].fillna(False).astype(bool))
    never = []
    ttt = summary.stat("time_to_train_days") if summary is not None else None
    for q, dash in ((0.1, "dot"), (0.5, "solid"), (0.9, "dot")):
        key = f"p{int(q * 100)}"
        days = (num(ttt.at(key)) if ttt is not None else
                time_quantile(pd.to_numeric(every, errors="coerce").tolist(), q))
        if days is None or not math.isfinite(days):
            never.append(f"P{int(q * 100)}")
            continue
        x = x_of(days)
        label = at_least(summary, "time_to_train_days", key) + (x.date().isoformat() if t0 is not None
                                                                 else f"{days:.1f} d")
        fig.add_shape(type="line", x0=x, x1=x, y0=0, y1=1, yref="paper", line=dict(color="#d62728", dash=dash))
        # each on a row of its own, centred on its line: P50 above the plot, P10 inside its top, P90 a row below
        # that; no two overlap however close the quantiles are (one late replication that stretched the axis
        # printed "P10 2024-09P5@2024-10-05"), and none runs further past an edge than half its width, as before
        row = {0.1: dict(y=1.0, yanchor="top"), 0.5: dict(y=1.0, yanchor="bottom"), 0.9: dict(y=0.9, yanchor="top")}
        fig.add_annotation(x=x, yref="paper", text=f"P{int(q * 100)} {label}", showarrow=False, xanchor="center",
                           bgcolor="rgba(255,255,255,0.85)", **row[q])
    if never:
        unfinished = len(replications) - len(values)
        title += f" ({', '.join(never)} never: {unfinished:,} of {len(replications):,} never finish)"
    fig.update_layout(title=title, xaxis_title="finish date" if t0 is not None else "days",
                      yaxis_title="replications", showlegend=False, **{**_LAYOUT, "hovermode": "closest"})
    return fig


# ---------------------------------------------------------------- (f) mixing: each pool's contribution, links


def contribution_figure(schedule: pd.DataFrame | None) -> go.Figure:
    """Tokens trained by each pool, stacked: what each pool's capacity buys."""
    title = "Tokens trained by pool"
    if not _usable(schedule, "date", "pool", "tokens_trained") or schedule["tokens_trained"].sum() == 0:
        return empty_figure(title)
    fig = _stacked_area(pool_tokens(schedule), "tokens_trained", pool_colors(schedule))
    fig.update_layout(title=title, yaxis_title="tokens", **_LAYOUT)
    return fig


def monthly_tokens(schedule: pd.DataFrame | None) -> pd.DataFrame:
    """Tokens each pool trained in each calendar month (a row per month, a column per pool, and the total)."""
    if not _usable(schedule, "date", "pool", "tokens_trained"):
        return pd.DataFrame()
    schedule = pool_tokens(schedule)
    df = schedule.assign(_date=_dates(schedule["date"])).sort_values(["pool", "_date"])
    df["_new"] = df.groupby("pool")["tokens_trained"].diff().fillna(df["tokens_trained"])
    df["month"] = df["_date"].dt.strftime("%Y-%m")
    table = df.pivot_table(index="month", columns="pool", values="_new", aggfunc="sum", fill_value=0.0)
    table["total"] = table.sum(axis=1)
    return table.reset_index()


def link_figure(links: pd.DataFrame | None) -> go.Figure:
    """Terabytes per day over each inter-site link."""
    title = "Traffic between sites"
    if not _usable(links, "date", "link", "tb") or links["tb"].sum() == 0:
        return empty_figure(title, "no traffic between sites")
    fig = new_figure()
    # a portfolio's table has a row per job: the link carries every job's traffic of the day
    daily = links.assign(_date=_dates(links["date"])).groupby(["link", "_date"], sort=True)["tb"].sum()
    mode = _one_date(fig, daily.index.get_level_values("_date"))
    for name, grp in daily.groupby(level="link", sort=True):
        fig.add_trace(go.Scatter(x=grp.index.get_level_values("_date"), y=grp.values, name=_label(name), mode=mode))
    # each link's total is the engine's (what the training sent); its days are that total spread by the hours a
    # plan using the link held its chips (TrainingJob._send, replication._tables)
    fig.update_layout(title=f"{title}<br><sup>what the training sent, kept or lost; each link's total spread over "
                            "the days by the hours a plan using it held its chips</sup>",
                      yaxis_title="TB per day", **_LAYOUT)
    return fig


# ---------------------------------------------------------------- a portfolio of jobs (``jobs:``), site power


def job_colors(names: list[str]) -> dict[str, str]:
    """A stable colour per job, in the order given (priority order)."""
    return {name: _PALETTE[i % len(_PALETTE)] for i, name in enumerate(names)}


def _job_order(summary: Summary | None, schedule: pd.DataFrame | None = None) -> list[str]:
    """Job names in priority order (then as listed); the schedule's order for a summary without jobs."""
    jobs = list(summary.jobs) if summary is not None else []
    if jobs:
        return [j.name for _i, j in sorted(enumerate(jobs), key=lambda ij: (ij[1].priority, ij[0]))]
    if _usable(schedule, "job"):
        return list(dict.fromkeys(schedule["job"].astype(str)))
    return []


def _first_training_day(schedule: pd.DataFrame | None, job: str) -> pd.Timestamp | None:
    if not _usable(schedule, "job", "date", "units_in_training"):
        return None
    rows = schedule[(schedule["job"].astype(str) == job) & (pd.to_numeric(schedule["units_in_training"],
                                                                          errors="coerce") > 0)]
    when = _dates(rows["date"]).min() if len(rows) else None
    return None if when is None or pd.isna(when) else when


def job_timeline_figure(summary: Summary | None, schedule: pd.DataFrame | None = None, start: Any = None,
                        horizon_days: float | None = None) -> go.Figure:
    """The portfolio's jobs as a Gantt chart: a bar per job from its first training day to its P50 finish.

    A P50 that never came: the bar runs dotted to the horizon, and says so. The first training day is the start
    plus the job's waiting days (P50 over the replications; replication 0's schedule when the summary has none).
    A lighter band with end ticks spans the P10-P90 finish (to the
    horizon's end when P90 is never); a red tick marks the deadline, labelled with the chance of meeting it.
    """
    title = "Jobs: training from the first day to the P50 finish, P10-P90 finish band, deadline"
    jobs = {j.name: j for j in (summary.jobs if summary is not None else ())}
    names = _job_order(summary)
    if not names or start is None:
        return empty_figure(title, "no jobs")
    t0 = pd.Timestamp(start)
    end = t0 + pd.Timedelta(days=float(horizon_days)) if num(horizon_days) is not None else None
    colors = job_colors(names)
    fig = new_figure()
    for name in names:
        job, label, color = jobs[name], _label(name), colors[name]
        waited = job.summary.waiting_days.at("p50") if job.summary.waiting_days is not None else None
        first = t0 + pd.Timedelta(days=waited) if waited is not None else _first_training_day(schedule, name)
        fd = job.summary.finish_date or FinishDates()
        p10, p50, p90 = (pd.Timestamp(d) if d and d != NEVER else None for d in (fd.p10, fd.p50, fd.p90))
        if first is not None and (p50 is not None or end is not None):
            stop = p50 if p50 is not None else end
            # a P50 that never came runs to the horizon dotted and says so: drawn solid, it read as a finish there
            fig.add_trace(go.Scatter(
                x=[first, stop], y=[label, label], mode="lines",
                line=dict(color=color, width=22, dash="solid" if p50 is not None else "dot"),
                name=label, legendgroup=label, showlegend=False,
                hovertemplate=(f"<b>{label}</b><br>training from {first.date().isoformat()}<br>P50 finish "
                               f"{plotly_text(job.summary.date_text('p50'))}"
                               + ("" if p50 is not None else " (trained to the horizon)") + "<extra></extra>")))
            if p50 is None:
                fig.add_annotation(x=stop, y=label, text="P50 never: unfinished at the horizon", showarrow=False,
                                   xanchor="right", yanchor="bottom", yshift=12, font=dict(size=11, color=color),
                                   bgcolor="rgba(255,255,255,0.85)")
        if p10 is not None:
            hi = p90 if p90 is not None else end
            if hi is not None:
                # a P90 known only as the earliest it can be (replications stopped by the horizon) is dotted, as never
                open_end = p90 is None or job.summary.bound("time_to_train_days", "p90")
                band = (f"P10 {plotly_text(job.summary.date_text('p10'))} – "
                        f"P90 {plotly_text(job.summary.date_text('p90'))}")
                fig.add_trace(go.Scatter(
                    x=[p10, hi], y=[label, label], mode="lines+markers", opacity=0.45,
                    line=dict(color=color, width=8, dash="dot" if open_end else "solid"),
                    marker=dict(symbol="line-ns-open", size=18, line=dict(width=3, color=color)),
                    name=f"{label}: finish P10-P90", legendgroup=label, showlegend=False,
                    hovertemplate=f"<b>{label}</b><br>finish {band}<extra></extra>"))
        if job.deadline:
            when = pd.Timestamp(job.deadline)
            met = deadline_share(job) or "?"
            fig.add_trace(go.Scatter(
                x=[when], y=[label], mode="markers",
                marker=dict(symbol="line-ns", size=34, line=dict(width=3, color="#c62828"), color="#c62828"),
                name="deadline", legendgroup="deadline", showlegend=False,
                hovertemplate=(f"<b>{label}</b><br>deadline {when.date().isoformat()}<br>met in {met} of the "
                               "replications<extra></extra>")))
            fig.add_annotation(x=when, y=label, text=f"deadline {when.date().isoformat()}: {met}", showarrow=False,
                               xanchor="left", yanchor="bottom", xshift=4, yshift=8,
                               font=dict(color="#c62828", size=11), bgcolor="rgba(255,255,255,0.85)")
    fig.update_layout(title=title, **{**_LAYOUT, "hovermode": "closest",
                                      "height": max(220, 110 + 70 * len(names))})
    fig.update_yaxes(autorange="reversed", title=None, type="category")
    fig.update_xaxes(type="date")
    return fig


def chips_by_job_figure(schedule: pd.DataFrame | None, order: list[str] | None = None) -> go.Figure:
    """Chips in training by job over time (stacked areas): the schedule's units_in_training summed by job and date."""
    title = "Chips in training by job (stacked)"
    if not _usable(schedule, "job", "date", "units_in_training"):
        return empty_figure(title, "no jobs")
    data = schedule.assign(_date=_dates(schedule["date"]), _job=schedule["job"].astype(str),
                           _units=pd.to_numeric(schedule["units_in_training"], errors="coerce").fillna(0.0))
    wide = data.pivot_table(index="_date", columns="_job", values="_units", aggfunc="sum", sort=True).fillna(0.0)
    names = [n for n in (order or []) if n in wide.columns] + [n for n in wide.columns if n not in (order or [])]
    colors = job_colors(names)
    fig = new_figure()
    mode = _one_date(fig, wide.index)
    for name in names:
        label = _label(name)
        fig.add_trace(go.Scatter(x=wide.index, y=wide[name], name=label, mode=mode, stackgroup="one",
                                 line=dict(width=0.5, color=colors[name]), legendgroup=label,
                                 hovertemplate=f"{label}: %{{y:,.0f}} chips<extra></extra>"))
    fig.update_layout(title=title, yaxis_title="chips in training", **_LAYOUT)
    return fig


def site_power_table(schedule: pd.DataFrame | None, inputs: dict | None,
                     in_service: pd.DataFrame | None = None) -> pd.DataFrame:
    """Each powered site (``sites:``) by day: usable chips delivered, chips in service, and what its power runs.

    Columns date, site, delivered_usable (delivered chips less each pool's reserved share), in_service and
    power_allows (the site's power over the power one usable chip takes, planner/sim/power.py; empty when the
    site's pools take different power per chip). A portfolio's schedule has a row per job, each with the share it
    was left: its chips in service come from ``in_service`` (the fleet's, by date and pool: RunResult's
    ``fleet_in_service``), and its deliveries from the largest any job's row shows (every job's steps carry them).
    """
    cols = ["date", "site", "delivered_usable", "in_service", "power_allows"]
    sites = [s for s in (inputs or {}).get("sites") or [] if isinstance(s, dict) and s.get("power_mw")]
    if not sites or not _usable(schedule, "date", "pool", "units_delivered", "units_in_service"):
        return pd.DataFrame(columns=cols)
    fleet = {str(p.get("name")): p for p in (inputs or {}).get("fleet") or [] if isinstance(p, dict)}
    per_pool = schedule.assign(_date=_dates(schedule["date"]), pool=schedule["pool"].astype(str)).groupby(
        ["_date", "pool"], sort=True)[["units_delivered", "units_in_service"]].max().reset_index()
    if _usable(in_service, "date", "pool", "units_in_service"):
        # the fleet's days (to the last job's end, as the power wait counts), with the deliveries its jobs' rows show
        # (a pool's are carried on past the last row of a job on it)
        served = in_service.assign(_date=_dates(in_service["date"]), pool=in_service["pool"].astype(str))
        per_pool = served[["_date", "pool", "units_in_service"]].merge(
            per_pool.drop(columns="units_in_service"), on=["_date", "pool"], how="outer").sort_values(
            ["pool", "_date"], kind="stable")
        per_pool["units_in_service"] = per_pool["units_in_service"].fillna(0)
        # a day no job's row shows: an owned pool's deliveries carry on (their running maximum below), a rental's
        # are its chips in service
        rented = per_pool["pool"].map(lambda p: bool(fleet.get(p, {}).get("cloud")))
        share = per_pool["pool"].map(lambda p: 1.0 - float(fleet.get(p, {}).get("reserved_fraction") or 0.0))
        per_pool["units_delivered"] = per_pool["units_delivered"].where(  # (rented whole: the share held back too)
            per_pool["units_delivered"].notna() | ~rented, per_pool["units_in_service"] / share.where(share > 0, 1.0))
    watts = _watts_per_chip(inputs)
    frames = []
    for site in sites:
        name = str(site.get("name"))
        pools = [p for p, spec in fleet.items() if str(spec.get("site", "default")) == name]
        rows = per_pool[per_pool["pool"].isin(pools)]
        if rows.empty:
            continue
        keep = rows["pool"].map(lambda p: 1.0 - float(fleet[p].get("reserved_fraction") or 0.0))
        delivered = pd.to_numeric(rows["units_delivered"], errors="coerce").fillna(0.0)
        owned = ~rows["pool"].map(lambda p: bool(fleet[p].get("cloud")))
        # an owned pool's deliveries are cumulative; a rental's fall at its end
        delivered = delivered.where(~owned, delivered.groupby(rows["pool"]).cummax())
        rows = rows.assign(delivered_usable=np.floor(delivered * keep + 1e-9))
        daily = rows.groupby("_date", sort=True)[["delivered_usable", "units_in_service"]].sum()
        per_chip = {watts.get((p, name)) for p in pools}
        cap = pd.Series(np.nan, index=daily.index)
        if len(per_chip) == 1 and None not in per_chip:
            w = per_chip.pop()
            for step in sorted(site["power_mw"], key=lambda s: str(s.get("date"))):
                when, mw = pd.Timestamp(step.get("date")), num(step.get("mw"))
                if mw is not None:
                    cap[cap.index >= when] = np.floor(mw * 1e6 / w + 1e-9)
            cap = cap.fillna(0.0)
        frames.append(pd.DataFrame({"date": daily.index, "site": name,
                                    "delivered_usable": daily["delivered_usable"].to_numpy(),
                                    "in_service": daily["units_in_service"].to_numpy(),
                                    "power_allows": cap.to_numpy()}))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=cols)


def _watts_per_chip(inputs: dict | None) -> dict[tuple[str, str], float]:
    """(pool, site) -> site power one usable chip of the pool takes [W] (planner/sim/power.py); {} when unknown."""
    try:
        from ..scenario import Scenario
        from ..sim.power import watts_per_usable_chip

        # the inputs are the run's whole dump: every default written out, and a job's strategy section then holds
        # settings its mode does not read (cross_vendor_efficiency beside diloco), which validation refuses. A chip's
        # site power reads no strategy: the sections go (else every DiLoCo portfolio lost its power line)
        inputs = {k: v for k, v in (inputs or {}).items() if k != "strategy"}
        inputs["jobs"] = [{k: v for k, v in j.items() if k != "strategy"} for j in inputs.get("jobs") or []]
        scenario = Scenario.model_validate(inputs)
        out = {}
        for site in scenario.sites:
            for pool in scenario.fleet:
                if pool.site == site.name:
                    out[(pool.name, site.name)] = watts_per_usable_chip(scenario, pool.name, site)
        return out
    except Exception:  # noqa: BLE001 - inputs of another version: the chart leaves the power line out
        return {}


def site_power_figure(power: pd.DataFrame | None) -> go.Figure:
    """Per powered site: usable chips delivered against chips in service, and the chips its power can run."""
    title = "Site power: usable chips delivered, chips in service, and the chips the power can run"
    if not _usable(power, "date", "site", "delivered_usable", "in_service"):
        return empty_figure(title, "no powered sites")
    fig = new_figure()
    mode = _one_date(fig, _dates(power["date"]))
    sites = list(dict.fromkeys(power["site"].astype(str)))
    for i, site in enumerate(sites):
        rows = power[power["site"].astype(str) == site]
        label, color = _label(site), _PALETTE[i % len(_PALETTE)]
        x = _dates(rows["date"])
        fig.add_trace(go.Scatter(x=x, y=rows["delivered_usable"], name=f"{label}: delivered (usable)", mode=mode,
                                 line=dict(color=color, dash="dash", width=2), line_shape="hv", legendgroup=label))
        fig.add_trace(go.Scatter(x=x, y=rows["in_service"], name=f"{label}: in service", mode=mode,
                                 line=dict(color=color, width=0.5), fill="tozeroy", line_shape="hv",
                                 legendgroup=label))
        if "power_allows" in rows and rows["power_allows"].notna().any():
            fig.add_trace(go.Scatter(x=x, y=rows["power_allows"], name=f"{label}: power runs at most", mode=mode,
                                     line=dict(color="#c62828", dash="dot", width=2), line_shape="hv",
                                     legendgroup=label))
    fig.update_layout(title=title, yaxis_title="chips", **_LAYOUT)
    return fig


def portfolio_figures(result: RunResult) -> dict[str, go.Figure]:
    """The portfolio's and the sites' charts for the report's first screen, keyed by a short name.

    ``jobs_timeline`` and ``jobs_chips`` with ``jobs:``; ``site_power`` with ``sites:`` power. Empty for a one-job
    run without site power.
    """
    out: dict[str, go.Figure] = {}
    s = result.summary
    if s.jobs:
        out["jobs_timeline"] = job_timeline_figure(s, result.schedule, result.start,
                                                   (result.inputs or {}).get("horizon_days"))
        out["jobs_chips"] = chips_by_job_figure(result.schedule, _job_order(s))
    power = site_power_table(result.schedule, result.inputs, getattr(result, "fleet_in_service", None))
    if len(power):
        out["site_power"] = site_power_figure(power)
    return out


# ---------------------------------------------------------------- all at once


# ---------------------------------------------------------------- risk over replications


def deadlines(summary: Summary | None, start) -> list[tuple[str, float]]:
    """(label, days) of each `expect` deadline on time to train (its max), from the summary.

    Only the checks on the whole run: these charts are of the portfolio's time (its last job's); a check on one job
    (``job:``) is that job's, shown with its row of the jobs' timeline.
    """
    out = []
    for e in summary.expectations if summary is not None else ():
        if e.metric == "time_to_train_days" and e.max is not None and not getattr(e, "job", None):
            q = e.quantile
            label = f"deadline p{q * 100:g}" if q is not None else "deadline"
            if start is not None:
                label += f" {(pd.Timestamp(start) + pd.Timedelta(days=float(e.max))).date().isoformat()}"
            out.append((label, float(e.max)))
    return out


def fan_figure(fan: pd.DataFrame | None, summary: Summary | None = None, start=None) -> go.Figure:
    """Cumulative tokens trained: the P10-P90 band and the median over replications, with the deadlines."""
    title = "Tokens trained over the replications (P10-P90 band, median)"
    if not _usable(fan, "date", "tokens_p10", "tokens_p50", "tokens_p90"):
        return empty_figure(title)
    x = pd.to_datetime(fan["date"])
    fig = new_figure()
    mode = _one_date(fig, x)
    fig.add_trace(go.Scatter(x=x, y=fan["tokens_p90"], line=dict(width=0), name="P90", showlegend=False))
    fig.add_trace(go.Scatter(x=x, y=fan["tokens_p10"], line=dict(width=0), fill="tonexty",
                             fillcolor="rgba(31,119,180,0.25)", name="P10-P90"))
    fig.add_trace(go.Scatter(x=x, y=fan["tokens_p50"], line=dict(color="#1f77b4"), name="median", mode=mode))
    if "tokens_target" in fan and len(fan):
        fig.add_hline(y=float(fan["tokens_target"].iloc[0]), line_dash="dot", annotation_text="tokens to train")
    for label, days in deadlines(summary, start):
        if start is not None:
            d = pd.Timestamp(start) + pd.Timedelta(days=days)
            fig.add_vline(x=d.timestamp() * 1000, line_dash="dash", line_color="#d62728", annotation_text=label)
    n = int(fan["replications"].iloc[0]) if "replications" in fan and len(fan) else 0
    # the band is taken over tokens at each date, the finish dates' quantiles over time: where the band meets the
    # target is not where P10/P90 finish dates fall (with few replications the two can be weeks apart)
    fig.update_layout(**_LAYOUT, title=f"{title}, {n} replication(s)<br><sup>quantiles of the tokens on each date; "
                                       "the finish dates' P10-P90 are quantiles of time, and fall elsewhere</sup>",
                      yaxis_title="tokens")
    return fig


def finish_cdf_figure(replications: pd.DataFrame | None, summary: Summary | None = None,
                      start=None, horizon_days: float | None = None) -> go.Figure:
    """The empirical CDF of finish dates, with the chance of finishing by each `expect` deadline.

    A deadline after the horizon (``horizon_days``) with replications unfinished at it: those may still meet it, so
    the chance is at least the share shown.
    """
    title = "Chance of finishing by each date"
    if not _usable(replications, "time_to_train_days") or start is None:
        return empty_figure(title)
    n = len(replications)
    t = pd.to_numeric(replications["time_to_train_days"], errors="coerce").dropna().sort_values().to_numpy()
    if not len(t):
        return empty_figure(title, "no replication finished")
    x = pd.Timestamp(start) + pd.to_timedelta(t, unit="D")
    y = [(i + 1) / n for i in range(len(t))]  # unfinished replications never reach the curve's top
    fig = new_figure(go.Scatter(x=x, y=y, mode="lines", line_shape="hv", name="finished by"))
    notes = []
    for label, days in deadlines(summary, start):
        p = float((t <= days).sum()) / n
        low = "at least " if len(t) < n and (horizon_days is None or days > float(horizon_days)) else ""
        d = pd.Timestamp(start) + pd.Timedelta(days=days)
        fig.add_vline(x=d.timestamp() * 1000, line_dash="dash", line_color="#d62728",
                      annotation_text=f"{label}: {low}{p:.0%}")
        notes.append(f"{label}: {low}{p:.0%}")
    fig.update_layout(**_LAYOUT, title=title + (f" ({'; '.join(notes)})" if notes else ""),
                      yaxis=dict(title="share of replications", tickformat=".0%", range=[0, 1.02]))
    return fig


def cost_histogram_figure(replications: pd.DataFrame | None) -> go.Figure:
    """How the cost spreads over the replications."""
    title = "Cost over the replications"
    if not _usable(replications, "cost_usd"):
        return empty_figure(title)
    bins = min(40, max(5, len(replications) // 5))
    done = replications["finished"].astype(bool) if "finished" in replications else None
    if done is None or done.all():
        fig = new_figure(go.Histogram(x=replications["cost_usd"], nbinsx=bins, marker_color="#2ca02c"))
    else:  # an unfinished replication's cost runs to the horizon only: its bar is apart and says so
        fig = new_figure(go.Histogram(x=replications["cost_usd"][done], nbinsx=bins, marker_color="#2ca02c",
                                      name="finished"))
        fig.add_trace(go.Histogram(x=replications["cost_usd"][~done], nbinsx=bins, marker_color="#bbbbbb",
                                   name="not finished: to the horizon only"))
        fig.update_layout(barmode="stack")
        title += f" ({int((~done).sum())} of {len(done)} did not finish: their cost runs to the horizon only)"
    fig.update_layout(**{**_LAYOUT, "hovermode": "closest"}, title=title, xaxis_title="cost [USD]",
                      yaxis_title="replications")
    return fig


def _rate(summary: Summary | None) -> tuple[str, float] | None:
    c = getattr(summary, "currency", None)
    return (c.code, c.per_usd) if c is not None else None


def _after(items: dict, key: str, new_key: str, value) -> dict:
    """``items`` with ``new_key: value`` right after ``key``."""
    out = {}
    for k, v in items.items():
        out[k] = v
        if k == key:
            out[new_key] = value
    return out


def result_figures(result: RunResult) -> dict[str, go.Figure]:
    """Every chart of a run, keyed by a short name, in display order (replications only when there are several)."""
    t0 = result.start
    dates = result.summary.finish_date or FinishDates()
    figures = {
        "capacity": capacity_figure(result.schedule, result.plan, getattr(result, "fleet_in_service", None)),
        "tokens": tokens_figure(result.schedule, result.events, finish_band=(dates.p10, dates.p90)),
        "contribution": contribution_figure(result.schedule),
        "cost": cost_figure(result.schedule, getattr(result, "cashflow", None)),
        "timeline": timeline_figure(result.layouts, result.events, start=t0),
        "interruptions": interruptions_figure(result.events, start=t0),
    }
    if _usable(getattr(result, "cashflow", None), "month"):  # runs written before the cash flow have none
        figures = _after(figures, "cost", "cashflow", cashflow_figure(result.cashflow, _rate(result.summary)))
    if result.links is not None and len(result.links) and result.links["tb"].sum() > 0:
        figures["links"] = link_figure(result.links)
    if result.replications is not None and len(result.replications) > 1:
        figures["fan"] = fan_figure(result.tokens_fan, result.summary, t0)
        figures["finish_cdf"] = finish_cdf_figure(result.replications, result.summary, t0, _horizon(result))
        figures["cost_histogram"] = cost_histogram_figure(result.replications)
        figures["replications"] = replications_figure(result.replications, start=t0, summary=result.summary)
    return figures



def _horizon(result: RunResult) -> float | None:
    """The run's horizon [days] from its inputs (None when they do not say)."""
    return num((result.inputs or {}).get("horizon_days"))


def result_figure_builders(result: RunResult) -> dict[str, Callable[[], go.Figure]]:
    """:func:`result_figures` as builders, one per chart in display order.

    A page can draw each chart as soon as it is built instead of after all of them. Same keys and figures as
    result_figures (tests/test_report.py checks it).
    """
    t0 = result.start
    dates = result.summary.finish_date or FinishDates()
    builders: dict[str, Callable[[], go.Figure]] = {
        "capacity": lambda: capacity_figure(result.schedule, result.plan, getattr(result, "fleet_in_service", None)),
        "tokens": lambda: tokens_figure(result.schedule, result.events, finish_band=(dates.p10, dates.p90)),
        "contribution": lambda: contribution_figure(result.schedule),
        "cost": lambda: cost_figure(result.schedule, getattr(result, "cashflow", None)),
        "timeline": lambda: timeline_figure(result.layouts, result.events, start=t0),
        "interruptions": lambda: interruptions_figure(result.events, start=t0),
    }
    if _usable(getattr(result, "cashflow", None), "month"):
        builders = _after(builders, "cost", "cashflow", lambda: cashflow_figure(result.cashflow, _rate(result.summary)))
    if result.links is not None and len(result.links) and result.links["tb"].sum() > 0:
        builders["links"] = lambda: link_figure(result.links)
    if result.replications is not None and len(result.replications) > 1:
        builders["fan"] = lambda: fan_figure(result.tokens_fan, result.summary, t0)
        builders["finish_cdf"] = lambda: finish_cdf_figure(result.replications, result.summary, t0, _horizon(result))
        builders["cost_histogram"] = lambda: cost_histogram_figure(result.replications)
        builders["replications"] = lambda: replications_figure(result.replications, start=t0, summary=result.summary)
    return builders
