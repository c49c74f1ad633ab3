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
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import plotly.colors
import plotly.graph_objects as go

from ..escape import html as _label
from ..escape import plotly_text
from ..perf.layout import LAYOUT_FIELDS
from ..results import RunResult
from ..stats import NEVER
from ..summary import FinishDates, Summary

INTERRUPTIONS = ("failure", "restart", "maintenance", "replan")
_MARKERS = {
    "failure": ("x", "#d62728"),
    "restart": ("triangle-up", "#ff7f0e"),
    "maintenance": ("line-ns-open", "#7f7f7f"),
    "replan": ("diamond", "#2ca02c"),
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
    """Date of the first ``finish`` event, if any."""
    if not _usable(events, "event", "date"):
        return None
    done = events[events["event"].astype(str) == "finish"]
    if done.empty:
        return None
    when = pd.to_datetime(done.iloc[0]["date"], errors="coerce")
    return None if pd.isna(when) else when


def _dates(series: pd.Series) -> pd.Series:
    return pd.to_datetime(series, errors="coerce")


def _vline(fig: go.Figure, x: Any, text: str, color: str = "#444") -> None:
    # a shape + annotation instead of add_vline: add_vline's annotation fails on date axes
    fig.add_shape(type="line", x0=x, x1=x, y0=0, y1=1, yref="paper", line=dict(color=color, dash="dot", width=2))
    fig.add_annotation(x=x, y=1, yref="paper", text=text, showarrow=False, yanchor="bottom", font=dict(color=color))


def _stacked_area(schedule: pd.DataFrame, value: str, colors: dict[str, str]) -> go.Figure:
    data = schedule.assign(_date=_dates(schedule["date"]))
    wide = data.pivot_table(index="_date", columns="pool", values=value, aggfunc="sum", sort=True).fillna(0.0)
    fig = new_figure()
    for pool in [p for p in colors if p in wide.columns]:
        fig.add_trace(
            go.Scatter(
                x=wide.index, y=wide[pool], name=_label(pool), mode="lines", stackgroup="one",
                line=dict(width=0.5, color=colors[pool]), legendgroup=_label(pool),
            )
        )
    return fig


# ---------------------------------------------------------------- (a) capacity


def capacity_figure(schedule: pd.DataFrame | None, plan: pd.DataFrame | None = None) -> go.Figure:
    """Units in service per pool over time (stacked areas) with the delivery plan stacked the same way (dashed)."""
    title = "Capacity by pool: in service (stacked areas) against the plan (stacked dashed lines)"
    if not _usable(schedule, "date", "pool", "units_in_service"):
        return empty_figure(title)
    colors = pool_colors(schedule, plan)
    fig = _stacked_area(schedule, "units_in_service", colors)
    if _usable(plan, "date", "pool", "planned_units"):
        # the plan is stacked like the areas: each pool's dashed line is its plan on top of the pools before it
        end = _dates(schedule["date"]).max()
        rows = plan.assign(_date=_dates(plan["date"])).dropna(subset=["_date"])
        steps = rows.pivot_table(index="_date", columns="pool", values="planned_units", aggfunc="last", sort=True)
        if pd.notna(end) and len(steps) and steps.index[-1] < end:  # carry the last planned level to the end
            steps.loc[end] = np.nan
        steps = steps.ffill().fillna(0.0).astype(float)
        order = [p for p in colors if p in steps.columns]
        stacked = steps[order].cumsum(axis=1)
        for i, pool in enumerate(order):
            label = (f"{_label(pool)} (plan)" if i == 0
                     else f"{_label(pool)} (plan, stacked on {_label(order[i - 1])})")
            fig.add_trace(
                go.Scatter(
                    x=stacked.index, y=stacked[pool], name=label, mode="lines", line_shape="hv",
                    legendgroup=_label(pool), line=dict(dash="dash", width=2, color=colors.get(str(pool), "#333")),
                )
            )
    fig.update_layout(title=title, yaxis_title="units in service", **_LAYOUT)
    return fig


# ---------------------------------------------------------------- (b) tokens


def tokens_figure(
    schedule: pd.DataFrame | None, events: pd.DataFrame | None = None, target_tokens: float | None = None,
    finish_band: tuple[Any, Any] | None = None,
) -> go.Figure:
    """Cumulative tokens trained per pool (stacked areas), the finish date, and the P10-P90 finish band."""
    title = "Tokens trained by pool (stacked)"
    if not _usable(schedule, "date", "tokens_trained"):
        return empty_figure(title)
    if "pool" in schedule.columns:
        trained = schedule.groupby(schedule["pool"].astype(str))["tokens_trained"].max()
        pools = schedule[schedule["pool"].astype(str).isin(trained[trained > 0].index)]
        fig = _stacked_area(pools if not pools.empty else schedule, "tokens_trained", pool_colors(schedule))
    else:
        total = schedule.assign(_date=_dates(schedule["date"])).groupby("_date", sort=True)["tokens_trained"].sum()
        fig = new_figure(go.Scatter(x=total.index, y=total.values, name="tokens trained", mode="lines"))
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


def cost_figure(schedule: pd.DataFrame | None) -> go.Figure:
    """Cumulative committed spend per pool over time, stacked."""
    title = "Committed spend by pool (stacked)"
    if not _usable(schedule, "date", "pool", "cost_usd"):
        return empty_figure(title)
    fig = _stacked_area(schedule, "cost_usd", pool_colors(schedule))
    fig.update_layout(title=title, yaxis_title="USD", yaxis_tickprefix="$", **_LAYOUT)
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


def replications_figure(replications: pd.DataFrame | None, start: Any = None) -> go.Figure:
    """Histogram of the finish date (time to train after ``start``; days without it) over finished replications."""
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
    for q, dash in ((0.1, "dot"), (0.5, "solid"), (0.9, "dot")):
        days = float(values.quantile(q))
        x = x_of(days)
        label = x.date().isoformat() if t0 is not None else f"{days:.1f} d"
        fig.add_shape(type="line", x0=x, x1=x, y0=0, y1=1, yref="paper", line=dict(color="#d62728", dash=dash))
        fig.add_annotation(x=x, y=1, yref="paper", text=f"P{int(q * 100)} {label}", showarrow=False,
                           yanchor="bottom")
    fig.update_layout(title=title, xaxis_title="finish date" if t0 is not None else "days",
                      yaxis_title="replications", showlegend=False, **{**_LAYOUT, "hovermode": "closest"})
    return fig


# ---------------------------------------------------------------- (f) mixing: each pool's contribution, links


def contribution_figure(schedule: pd.DataFrame | None) -> go.Figure:
    """Tokens trained by each pool, stacked: what each pool's capacity buys."""
    title = "Tokens trained by pool"
    if not _usable(schedule, "date", "pool", "tokens_trained") or schedule["tokens_trained"].sum() == 0:
        return empty_figure(title)
    fig = _stacked_area(schedule, "tokens_trained", pool_colors(schedule))
    fig.update_layout(title=title, yaxis_title="tokens", **_LAYOUT)
    return fig


def monthly_tokens(schedule: pd.DataFrame | None) -> pd.DataFrame:
    """Tokens each pool trained in each calendar month (a row per month, a column per pool, and the total)."""
    if not _usable(schedule, "date", "pool", "tokens_trained"):
        return pd.DataFrame()
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
    for name, grp in links.groupby("link", sort=True):
        fig.add_trace(go.Scatter(x=_dates(grp["date"]), y=grp["tb"], name=_label(name), mode="lines"))
    fig.update_layout(title=title, yaxis_title="TB per day", **_LAYOUT)
    return fig


# ---------------------------------------------------------------- all at once


# ---------------------------------------------------------------- risk over replications


def deadlines(summary: Summary | None, start) -> list[tuple[str, float]]:
    """(label, days) of each `expect` deadline on time to train (its max), from the summary."""
    out = []
    for e in summary.expectations if summary is not None else ():
        if e.metric == "time_to_train_days" and e.max is not None:
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
    fig.add_trace(go.Scatter(x=x, y=fan["tokens_p90"], line=dict(width=0), name="P90", showlegend=False))
    fig.add_trace(go.Scatter(x=x, y=fan["tokens_p10"], line=dict(width=0), fill="tonexty",
                             fillcolor="rgba(31,119,180,0.25)", name="P10-P90"))
    fig.add_trace(go.Scatter(x=x, y=fan["tokens_p50"], line=dict(color="#1f77b4"), name="median"))
    if "tokens_target" in fan and len(fan):
        fig.add_hline(y=float(fan["tokens_target"].iloc[0]), line_dash="dot", annotation_text="tokens to train")
    for label, days in deadlines(summary, start):
        if start is not None:
            d = pd.Timestamp(start) + pd.Timedelta(days=days)
            fig.add_vline(x=d.timestamp() * 1000, line_dash="dash", line_color="#d62728", annotation_text=label)
    n = int(fan["replications"].iloc[0]) if "replications" in fan and len(fan) else 0
    fig.update_layout(**_LAYOUT, title=f"{title}, {n} replication(s)", yaxis_title="tokens")
    return fig


def finish_cdf_figure(replications: pd.DataFrame | None, summary: Summary | None = None,
                      start=None) -> go.Figure:
    """The empirical CDF of finish dates, with the chance of finishing by each `expect` deadline."""
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
        d = pd.Timestamp(start) + pd.Timedelta(days=days)
        fig.add_vline(x=d.timestamp() * 1000, line_dash="dash", line_color="#d62728",
                      annotation_text=f"{label}: {p:.0%}")
        notes.append(f"{label}: {p:.0%}")
    fig.update_layout(**_LAYOUT, title=title + (f" ({'; '.join(notes)})" if notes else ""),
                      yaxis=dict(title="share of replications", tickformat=".0%", range=[0, 1.02]))
    return fig


def cost_histogram_figure(replications: pd.DataFrame | None) -> go.Figure:
    """How the cost spreads over the replications."""
    title = "Cost over the replications"
    if not _usable(replications, "cost_usd"):
        return empty_figure(title)
    fig = new_figure(go.Histogram(x=replications["cost_usd"], nbinsx=min(40, max(5, len(replications) // 5)),
                                 marker_color="#2ca02c"))
    fig.update_layout(**{**_LAYOUT, "hovermode": "closest"}, title=title, xaxis_title="cost [USD]",
                      yaxis_title="replications")
    return fig


def result_figures(result: RunResult) -> dict[str, go.Figure]:
    """Every chart of a run, keyed by a short name, in display order (replications only when there are several)."""
    t0 = result.start
    dates = result.summary.finish_date or FinishDates()
    figures = {
        "capacity": capacity_figure(result.schedule, result.plan),
        "tokens": tokens_figure(result.schedule, result.events, finish_band=(dates.p10, dates.p90)),
        "contribution": contribution_figure(result.schedule),
        "cost": cost_figure(result.schedule),
        "timeline": timeline_figure(result.layouts, result.events, start=t0),
        "interruptions": interruptions_figure(result.events, start=t0),
    }
    if result.links is not None and len(result.links) and result.links["tb"].sum() > 0:
        figures["links"] = link_figure(result.links)
    if result.replications is not None and len(result.replications) > 1:
        figures["fan"] = fan_figure(result.tokens_fan, result.summary, t0)
        figures["finish_cdf"] = finish_cdf_figure(result.replications, result.summary, t0)
        figures["cost_histogram"] = cost_histogram_figure(result.replications)
        figures["replications"] = replications_figure(result.replications, start=t0)
    return figures



def result_figure_builders(result: RunResult) -> dict[str, Callable[[], go.Figure]]:
    """:func:`result_figures` as builders, one per chart in display order.

    A page can draw each chart as soon as it is built instead of after all of them. Same keys and figures as
    result_figures (tests/test_report.py checks it).
    """
    t0 = result.start
    dates = result.summary.finish_date or FinishDates()
    builders: dict[str, Callable[[], go.Figure]] = {
        "capacity": lambda: capacity_figure(result.schedule, result.plan),
        "tokens": lambda: tokens_figure(result.schedule, result.events, finish_band=(dates.p10, dates.p90)),
        "contribution": lambda: contribution_figure(result.schedule),
        "cost": lambda: cost_figure(result.schedule),
        "timeline": lambda: timeline_figure(result.layouts, result.events, start=t0),
        "interruptions": lambda: interruptions_figure(result.events, start=t0),
    }
    if result.links is not None and len(result.links) and result.links["tb"].sum() > 0:
        builders["links"] = lambda: link_figure(result.links)
    if result.replications is not None and len(result.replications) > 1:
        builders["fan"] = lambda: fan_figure(result.tokens_fan, result.summary, t0)
        builders["finish_cdf"] = lambda: finish_cdf_figure(result.replications, result.summary, t0)
        builders["cost_histogram"] = lambda: cost_histogram_figure(result.replications)
        builders["replications"] = lambda: replications_figure(result.replications, start=t0)
    return builders
