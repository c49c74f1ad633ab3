"""`planner sweep`: a grid over inputs named by field path; a table with a row per point, and a page."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from .. import escape
from ..budget import check_points
from ..edits import format_path, parse_path, parse_value, set_values, value_of
from ..errors import ScenarioError
from ..fmt import num
from ..scenario import Scenario
from ..yamlio import clip
from .output import write_files
from .points import all_infeasible, result_row, run_points
from .present import axis_format, bounded, cell_text, page_table_html

MAX_POINTS = 10_000

Axis = tuple[str, list[Any]]


def parse_set(text: str) -> Axis:
    """``fleet[1].cloud.units=0,4096,8192`` -> ('fleet[1].cloud.units', [0, 4096, 8192])."""
    if "=" not in text:
        raise ScenarioError(f"--set {text!r}: write PATH=v1,v2,... (e.g. fleet[1].cloud.units=0,4096,8192)")
    path, _, values = text.partition("=")
    path = format_path(parse_path(path.strip()))
    items = [v.strip() for v in values.split(",")]
    if not any(items):
        raise ScenarioError("--set gives no values", field=path)
    empty = [k for k, v in enumerate(items, start=1) if not v]
    if empty:  # `256,,1024`: a typo, not a smaller grid
        raise ScenarioError(f"--set {clip(text)!r}: value {empty[0]} of {len(items)} is empty (write v1,v2,...)")
    try:
        vals = [parse_value(v) for v in items]
    except ScenarioError as exc:  # name the --set argument it came from
        raise ScenarioError(f"--set {clip(text)!r}: {exc.reason}") from None
    return path, vals


def check_section(scenario: Scenario, source: str = "<scenario>") -> None:
    """The file's ``sweep:`` section: each path is set in the scenario and each value is valid there.

    Errors name the section's own field (``sweep[0].path``, ``sweep[0].values[1]``) and then the edit's, so that
    ``planner validate`` refuses a section that ``planner sweep`` would refuse. Each value is tried alone, on the
    file as it is (not every combination: those are the sweep's points).
    """
    def named(exc: ScenarioError, field: str) -> ScenarioError:
        inner = f"{exc.field}: " if exc.field else ""
        return ScenarioError(f"{inner}{exc.reason}", path=source, field=field)

    seen: dict[str, int] = {}
    size = 1
    for i, axis in enumerate(scenario.sweep):
        try:
            value_of(scenario, axis.path)
        except ScenarioError as exc:
            raise named(exc, f"sweep[{i}].path") from None
        if axis.path in seen:  # as check_axes refuses it for `planner sweep`
            raise ScenarioError(f"{axis.path} is named twice in the sweep (also sweep[{seen[axis.path]}])",
                                path=source, field=f"sweep[{i}].path")
        seen[axis.path] = i
        size *= len(axis.values)
        if size > MAX_POINTS:
            raise ScenarioError(f"the grid has {size:,} points or more; at most {MAX_POINTS:,}", path=source,
                                field=f"sweep[{i}].values")
    for i, axis in enumerate(scenario.sweep):  # (the grid's size first: a refused grid reads no value)
        for j, value in enumerate(axis.values):
            try:
                # valid there, and within the work bound `planner sweep` holds each point to (budget.check_points)
                check_points([set_values(scenario, {axis.path: value}, source, drop_zeroed=True)], source,
                             [f"{axis.path}={value}"])
            except ScenarioError as exc:
                raise named(exc, f"sweep[{i}].values[{j}]") from None


def check_axes(scenario: Scenario, axes: Sequence[Axis]) -> None:
    """Every path is a field of the scenario (set, or at its default), named once, and the grid is not too large."""
    seen = set()
    size = 1
    for path, values in axes:
        if path in seen:
            raise ScenarioError("named twice in the sweep", field=path)
        seen.add(path)
        value_of(scenario, path)
        size *= len(values)
    if size > MAX_POINTS:
        raise ScenarioError(f"the grid has {size:,} points; at most {MAX_POINTS:,}")


def grid(scenario: Scenario, axes: Sequence[Axis], source: str = "<scenario>") -> tuple[list[dict], list[Scenario]]:
    """Every combination of the axes' values: the inputs of each point and its edited scenario."""
    check_axes(scenario, axes)
    inputs, scenarios = [], []
    for combo in itertools.product(*[vals for _, vals in axes]):
        edits = dict(zip([p for p, _ in axes], combo, strict=True))
        try:
            scenarios.append(set_values(scenario, edits, source, drop_zeroed=True))
        except ScenarioError as exc:  # a combination the format refuses: which point, before what is wrong with it
            raise ScenarioError(f"the sweep's point {point_label(edits)} is not a valid scenario: "
                                + (f"{exc.field}: " if exc.field else "") + exc.reason, path=exc.path or source) \
                from None
        inputs.append(edits)
    return inputs, scenarios


def point_label(inputs: dict) -> str:
    """A point by its inputs: ``fleet[1].cloud.units=4096, horizon_days=365``."""
    return ", ".join(f"{k}={v}" for k, v in inputs.items())


def sweep(scenario: Scenario, axes: Sequence[Axis], replications: int | None = None, seed: int | None = None,
          backend: str = "local", scheduler: str | None = None, workers: int | None = None,
          progress: Callable[[int, int], None] | None = None, source: str = "<scenario>") -> pd.DataFrame:
    """A row per grid point: the inputs (one column per path), the metric quantiles and a ``note``.

    A point where no layout fits is a row too (finish probability 0, dates ``never``, the note says why) and
    the sweep goes on; InfeasiblePlanError (exit 2) only when no point can train.
    """
    inputs, scenarios = grid(scenario, axes, source)
    results = run_points(scenarios, replications=replications, seed=seed, backend=backend, scheduler=scheduler,
                         workers=workers, progress=progress, source=source, labels=[point_label(i) for i in inputs])
    if (none_trains := all_infeasible(results)) is not None:
        raise none_trains
    rows = [{"point": i, **inp, "replications": r["replications"], **result_row(r)}
            for i, (inp, r) in enumerate(zip(inputs, results, strict=True))]
    # the columns in the order of a point that trained (an infeasible one has fewer figures)
    first = next(row for row, r in zip(rows, results, strict=True) if r["infeasible"] is None)
    return pd.DataFrame(rows, columns=list(dict.fromkeys([*first, *(k for row in rows for k in row)])))


MAX_FACETS = 6  # heatmaps per metric, one per combination of the axes after the first two
SWEEP_METRICS = (("time_to_train_days_p50", "Time to train p50 [days]"),
                 ("time_to_train_days_p90", "Time to train p90 [days]"),
                 ("cost_usd_p50", "Cost p50 [USD]"),
                 ("finish_probability", "Finish probability"))


def sweep_html(table: pd.DataFrame, axes: Sequence[Axis], title: str) -> str:
    """One self-contained page: a heatmap per metric over the first two axes, or a line chart for one axis.

    Values and paths (a swept name may be any text) reach the page and the Plotly labels escaped (escape.html).
    """
    import plotly.graph_objects as go

    from ..report.html import figure_html

    def shown(values):
        return [escape.html(v) if isinstance(v, str) else v for v in values]

    paths = [p for p, _ in axes]
    parts = []
    # each point's figures known only as lower bounds (its ``at_least``: replications stopped by the horizon)
    bounds = [bounded(b) for b in (table["at_least"] if "at_least" in table else [""] * len(table))]
    marks = dict(zip(table.index, bounds, strict=True))

    def text(col: str, i, value) -> str:  # what a point shows: never, "≥ " before a lower bound, the figure
        if num(value) is None and col.startswith("time_to_train"):
            return "never"
        return ("≥ " if col in marks[i] else "") + cell_text(col, value)

    # a heatmap over the first two axes for each combination of the further ones (never averaged over them: a
    # point that never finishes, or a bound, would vanish into the mean), the first MAX_FACETS of them
    facets = list(table.groupby(paths[2:], sort=False, dropna=False)) if len(paths) > 2 else [((), table)]
    for col, label in SWEEP_METRICS:
        if col not in table:
            continue
        if len(paths) == 1:
            figs = [(go.Figure(go.Scatter(x=shown(table[paths[0]]), y=table[col], mode="lines+markers",
                                          text=[text(col, i, v) for i, v in table[col].items()],
                                          hovertemplate="%{x}: %{text}<extra></extra>")), label)]
            figs[0][0].update_layout(xaxis_title=escape.html(paths[0]), yaxis_title=label,
                                     yaxis={f: v for f, v in axis_format(col).items()})
        else:
            x, y = paths[0], paths[1]
            figs = []
            for key, part in facets[:MAX_FACETS]:
                xs, ys = list(dict.fromkeys(part[x])), list(dict.fromkeys(part[y]))
                z = [[None] * len(xs) for _ in ys]
                cells = [[""] * len(xs) for _ in ys]
                for i, row in part.iterrows():
                    r, c = ys.index(row[y]), xs.index(row[x])
                    z[r][c], cells[r][c] = num(row[col]), text(col, i, row[col])
                fig = go.Figure(go.Heatmap(z=z, x=[escape.html(v) for v in xs], y=[escape.html(v) for v in ys],
                                           colorbar={"title": label, **axis_format(col)}, text=cells,
                                           texttemplate="%{text}", hovertemplate="%{x}, %{y}: %{text}<extra></extra>"))
                fig.update_layout(xaxis_title=escape.html(x), yaxis_title=escape.html(y))
                key = key if isinstance(key, tuple) else (key,)
                at = ", ".join(f"{p} = {v}" for p, v in zip(paths[2:], key, strict=True))
                figs.append((fig, f"{label} at {escape.html(at)}" if at else label))
        for k, (fig, name) in enumerate(figs):
            fig.update_layout(title=name, height=420)
            # stable ids: the first of each metric as before
            parts.append(figure_html(fig, include_plotlyjs=not parts, div_id=f"sweep-{col}" + (f"-{k}" if k else "")))
    if len(facets) > MAX_FACETS:
        parts.append(f"<p>Heatmaps of the first {MAX_FACETS} of {len(facets)} combinations of the further axes; "
                     "the table below has every point.</p>")
    body = "\n".join(parts)
    rows = page_table_html(table, marks)
    if any(bounds):
        rows += ("<p>at_least: the point's figures known only as lower bounds (replications stopped by the horizon "
                 "spent to it only, and a time on the line to one of them is at least the one given).</p>")
    title = escape.html(title)
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title></head><body>"
            f"<h1>{title}</h1>{body}<h2>Every point</h2>{rows}</body></html>")


def write_sweep(table: pd.DataFrame, axes: Sequence[Axis], out_dir: str | Path, title: str) -> Path:
    """sweep.parquet, sweep.csv and sweep.html into ``out_dir``, written whole or not at all."""
    flat = table.copy()
    for c in flat.columns:  # Parquet wants one type per column; inputs may mix numbers and text
        if flat[c].dtype == object:
            flat[c] = flat[c].map(lambda v: v if v is None else str(v))
    return write_files(out_dir, {
        "sweep.parquet": lambda p: flat.to_parquet(p, index=False),
        "sweep.csv": lambda p: escape.frame(table).to_csv(p, index=False, lineterminator="\n"),  # text, no formulas
        "sweep.html": lambda p: p.write_text(sweep_html(table, axes, title), encoding="utf-8"),
    })
