"""report.html: one self-contained page that works offline.

plotly.js is embedded once, inline; every figure is a ``<div>`` plus a small script that
draws into it. No external scripts, styles or fonts.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
import plotly.offline

from .. import cashflow, escape
from ..escape import html as _escape_html
from ..fmt import num
from ..results import RunResult
from ..summary import Summary
from . import charts, headline, tables

MAX_EVENTS = 50  # rows per kind of event on the page (events.csv keeps every one)
MAX_LAYOUTS = 500

_CSS = """
:root { --fg: #1d2330; --muted: #5d6677; --line: #e3e6ec; --bg: #f6f7f9; --ok: #1a7f37; --bad: #c62828; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
       color: var(--fg); background: var(--bg); }
main { max-width: 1200px; margin: 0 auto; padding: 24px 28px 60px; }
h1 { font-size: 1.7rem; margin: 0 0 4px; }
h3 { font-size: 1rem; margin: 14px 0 6px; }
h2 { font-size: 1.2rem; margin: 36px 0 12px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
.meta { color: var(--muted); margin: 0 0 20px; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(200px, 1fr)); gap: 12px; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; }
.card .label { color: var(--muted); font-size: .85rem; }
.card .value { font-size: 1.45rem; font-weight: 600; margin-top: 2px; }
.card .detail { color: var(--muted); font-size: .8rem; }
.chart { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 6px; margin: 14px 0; }
.table-wrap { overflow-x: auto; background: #fff; border: 1px solid var(--line); border-radius: 8px; }
table { border-collapse: collapse; width: 100%; font-size: .85rem; }
th, td { padding: 5px 10px; border-bottom: 1px solid var(--line); text-align: right; white-space: nowrap; }
th { background: #fafbfc; position: sticky; top: 0; }
th:first-child, td:first-child { text-align: left; }
tbody tr:hover { background: #f3f6fb; }
.pass { color: var(--ok); font-weight: 600; }
.fail { color: var(--bad); font-weight: 600; }
.answer { font-size: 1.15rem; font-weight: 600; background: #fff; border-left: 4px solid #1f77b4;
          padding: 10px 14px; margin: 0 0 14px; }
.limit { background: #fff8e1; border-left: 4px solid #f0a500; padding: 8px 14px; margin: 0 0 14px; }
details { margin: 8px 0; } summary { cursor: pointer; font-weight: 600; }
td.text { text-align: left; white-space: normal; }
.note { color: var(--muted); font-size: .85rem; margin: 6px 0; }
footer { color: var(--muted); font-size: .8rem; margin-top: 40px; }
"""

_CHART_TITLES = {
    "capacity": "Capacity",
    "tokens": "Training progress",
    "contribution": "What each pool contributes",
    "links": "Traffic between sites",
    "cost": "Cost",
    "cashflow": "Cash flow",
    "timeline": "Layouts and interruptions",
    "interruptions": "Interruptions per week",
    "replications": "Replications",
    "fan": "Risk: tokens trained over time",
    "finish_cdf": "Risk: finish dates",
    "cost_histogram": "Risk: cost",
}


def detail_text(result: RunResult) -> str:
    """Which replication the detailed charts show, and how the replications differ in the pools they used.

    Plain text ("" with one replication): the page and the app say it over their charts.
    """
    reps = result.replications
    if reps is None or len(reps) < 2:
        return ""
    used = result.summary.pools_used or {}
    pools = ", ".join(f"{k}: {v}" for k, v in used.items())
    first = reps.iloc[0]
    # the cost chart is the cash flow's when there is one: the replication its note names (nearest the mean)
    cost = " and timeline" if getattr(result, "cashflow", None) is not None else ", cost and timeline"
    if result.summary.jobs:  # a portfolio's row names its first trained job's pools: each job has its own
        where, used_text = "", " Each job's mode and pools are in the jobs table."
    else:
        where = f", pool {first['pool']}" if first.get("pool") else ", in which the job never trained"
        used_text = f" Pools used: {pools}." + (" The replications differ in the pool they used." if len(used) > 1
                                                 else "")
    return (f"The capacity, progress{cost} charts show replication 0 "
            f"(spawn key {first.get('spawn_key', 0)} of seed {result.summary.seed}{where}); the risk charts cover "
            f"all {len(reps)} replications"
            + ("; the cost chart is the cash flow's replication (below)" if cost == " and timeline" else "") + "."
            + used_text)


def detail_note(result: RunResult) -> str:
    """``detail_text`` as the page's note ("" when there is none)."""
    text = detail_text(result)
    return f'<p class="note">{_e(text)}</p>' if text else ""


CASHFLOW_TERMS = ("Committed: the spend charged to the plan (owned chips amortized from delivery to the job's end or "
                  "the end of their write-off, reservations to the end of their term, on-demand hours, energy); paid: "
                  "the cash out in the month (owned chips at their full price when delivered).")


def cashflow_text(result: RunResult) -> str:
    """What the cash flow by month prices (which replication, the mean it is nearest to) and what its lines mean."""
    return f"{getattr(result, 'cashflow_note', '') or ''} {CASHFLOW_TERMS}".strip()


def _e(text: Any) -> str:
    return _escape_html(text)  # every text on the page (names, values, sentences) goes through here


def figure_html(fig: go.Figure, **kwargs) -> str:
    """``plotly.io.to_html(fig, full_html=False, **kwargs)`` with the same bytes on every machine.

    Plotly serializes with orjson when it is installed and with json otherwise, and the two write numbers
    differently: always the standard library, so a page does not depend on what else is installed.
    The ``<div>`` id is ``div_id`` when given, else one derived from the figure's content (plotly's own is a
    random UUID, so two identical runs wrote different pages); a page of several figures names each one.
    """
    engine = pio.json.config.default_engine
    pio.json.config.default_engine = "json"
    try:
        if kwargs.get("div_id") is None:
            kwargs["div_id"] = "figure-" + hashlib.sha256(fig.to_json().encode("utf-8")).hexdigest()[:16]
        return pio.to_html(fig, full_html=False, **kwargs)
    finally:
        pio.json.config.default_engine = engine


def _figure_html(fig: go.Figure, div_id: str) -> str:
    body = figure_html(fig, include_plotlyjs=False, div_id=div_id, config={"displaylogo": False})
    return f'<div class="chart">{body}</div>'


def _table_html(df: pd.DataFrame, empty: str = "none") -> str:
    if df is None or df.empty:
        return f'<p class="note">{_e(empty)}</p>'
    body = escape.page_frame(tables.for_people(df)).to_html(index=False, border=0, na_rep="", escape=True)
    return f'<div class="table-wrap">{body}</div>'


def _answer_html(result: RunResult, first: str = "") -> str:
    """The answer in words, then ``first`` (a portfolio's jobs, site power), what limited the job, the inputs.

    A portfolio's limits are in its jobs table (each job's own), so they are not repeated here.
    """
    sentence = headline.answer_sentence(result.summary, result.inputs)
    rows = "".join(f"<tr><td>{_e(r['input'])}</td><td class=\"text\">{_e(r['value'])}</td></tr>"
                   for r in headline.input_rows(result.inputs))
    inputs = (f'<details open><summary>Inputs</summary><div class="table-wrap"><table><tbody>{rows}</tbody>'
              "</table></div></details>") if result.inputs else ""
    inputs += _all_inputs_html(result.inputs)
    limits = "" if result.summary.jobs else "".join(
        f'<p class="limit">{_e(line)}</p>' for line in headline.limit_lines(result.summary))
    limits += "".join(f'<p class="note">{_e(line)}</p>' for line in _measured_lines(result.inputs))
    return f'<p class="answer">{_e(sentence)}</p>{first}{limits}{inputs}'


def _measured_lines(inputs: dict) -> list[str]:
    """Each pool with ``measured`` rows: what its throughput band rests on (as ``band_basis`` in the estimate)."""
    out = []
    for pool in (inputs or {}).get("fleet") or []:
        n = len(pool.get("measured") or []) if isinstance(pool, dict) else 0
        if n:
            out.append(f"Pool {pool.get('name', '?')}: throughput and its P10-P90 band based on {n} of your "
                       f"measurement{'s' if n != 1 else ''} on this pool (Bayesian update of the model's band).")
    return out


def _jobs_table_html(summary: Summary) -> str:
    """The portfolio's jobs, a row each in priority order (headline.job_rows); every cell escaped."""
    rows = headline.job_rows(summary)
    if not rows:
        return ""
    head = "".join(f"<th>{_e(c)}</th>" for c in rows[0])
    body = "".join("<tr>" + "".join(f"<td>{_e(v)}</td>" for v in r.values()) + "</tr>" for r in rows)
    limits = "".join(f'<p class="limit">{_e(line)}</p>' for line in headline.limit_lines(summary))  # as the CLI
    return (f'<div class="table-wrap"><table id="jobs"><thead><tr>{head}</tr></thead><tbody>{body}</tbody>'
            "</table></div>" + (f"<details><summary>What limited each job</summary>{limits}</details>"
                                if limits else ""))


def _portfolio_html(result: RunResult) -> str:
    """The first screen of a portfolio (``jobs:``) and of powered sites (``sites:``); empty for neither.

    Each job in a sentence and in a table row, the jobs' Gantt chart and the chips each job trained on over
    time; how many chip-days delivered chips waited for site power, and each powered site's chips against
    what its power runs.
    """
    s = result.summary
    figs = charts.portfolio_figures(result)
    parts = []
    if s.jobs:
        horizon = (result.inputs or {}).get("horizon_days")
        sentences = "".join(f"<li>{_e(headline.job_sentence(j, horizon))}</li>" for j in headline.ordered_jobs(s))
        parts.append(f'<h2 id="jobs-heading">Jobs, in priority order</h2><ul class="jobs">{sentences}</ul>'
                     + _jobs_table_html(s))
    wait = headline.power_wait_sentence(s)
    if wait:
        parts.append(f'<p class="limit" id="power-wait">{_e(wait)}</p>')
    band = headline.band_sentence(s)
    if band:
        parts.append(f'<p class="limit" id="model-band">{_e(band)}</p>')
    if "jobs_timeline" in figs:
        parts.append(_figure_html(figs["jobs_timeline"], "chart-jobs-timeline"))
    if "jobs_chips" in figs:
        parts.append(_figure_html(figs["jobs_chips"], "chart-jobs-chips")
                     + '<p class="note">Chips in training by job: the schedule of replication 0, day by day; the '
                       "finish dates and deadline chances above cover every replication.</p>")
    if "site_power" in figs:
        parts.append("<h2>Site power</h2>" + _figure_html(figs["site_power"], "chart-site-power")
                     + '<p class="note">Usable chips delivered (less each pool\'s reserved share) against the chips in '
                       "service and the most the site's power can run (power over each chip's server power times "
                       "the PUE); delivered chips beyond it wait for power. Replication 0's schedule.</p>")
    return "".join(parts)


def _all_inputs_html(inputs: dict) -> str:
    """Every input of the run, grouped as the scenario file is (headline.input_groups)."""
    if not inputs:
        return ""
    parts = []
    for group, rows in headline.input_groups(inputs):
        body = "".join(f'<tr><td>{_e(path)}</td><td class="text">{_e(value)}</td></tr>' for path, value in rows)
        parts.append(f"<h3>{_e(group)}</h3><div class=\"table-wrap\"><table><tbody>{body}</tbody></table></div>")
    return f"<details open><summary>All inputs, grouped as in the scenario</summary>{''.join(parts)}</details>"


def _with_currency_text(df: pd.DataFrame, summary: Summary) -> pd.DataFrame:
    """``df`` formatted for people, each ``*_usd`` column followed by the same sum in the scenario's currency."""
    rate = getattr(summary, "currency", None)
    out = tables.for_people(df)
    if rate is None:
        return out
    for col in [c for c in df.columns if str(c).endswith("_usd")]:
        at = list(out.columns).index(col) + 1
        name = str(col)[: -len("_usd")] + "_" + rate.code.lower()
        out.insert(at, name, [f"{rate.code} {x * rate.per_usd:,.0f}" if pd.notna(x) else ""
                              for x in pd.to_numeric(df[col], errors="coerce")])
    return out


def _money_table_html(df: pd.DataFrame, summary: Summary) -> str:
    if df is None or df.empty:
        return '<p class="note">none</p>'
    body = escape.page_frame(_with_currency_text(df, summary)).to_html(index=False, border=0, na_rep="", escape=True)
    return f'<div class="table-wrap">{body}</div>'


def _costs_html(summary: Summary) -> str:
    pools = summary.costs.pools if summary.costs is not None else ()
    if not pools:
        return ""
    df = pd.DataFrame([p.to_json() for p in pools])[["pool", "committed_usd", "used_usd", "idle_usd"]]
    which = headline.spend_bounded(summary)  # (idle, their difference, at most its figure when only used is bound)
    low = f" Lower bounds, {which}: {_e(headline.spend_note(summary))}." if which else ""
    idle = summary.idle_bound()  # (the commitment exact and the use at least its figure: at most; ...)
    if idle:
        low += f" Idle is then {'neither at least nor at most' if idle == 'neither' else idle} its figure."
    return ("<h2>Committed, used and idle spend by pool</h2><p class=\"note\">Means over the replications "
            f"(summary.json costs).{low}</p>" + _money_table_html(df, summary))


def _cashflow_html(result: RunResult) -> str:
    """The month-by-month totals and every row of cashflow.csv (planner/cashflow.py)."""
    table = getattr(result, "cashflow", None)
    if table is None or table.empty:
        return ""
    totals = cashflow.monthly_totals(table)
    note = f'<p class="note">{_e(cashflow_text(result))}</p>'
    return ("<h2>Cash flow by month</h2>" + note + _money_table_html(totals, result.summary)
            + "<details><summary>By month, pool and kind (cashflow.csv)</summary>"
            + _money_table_html(table, result.summary) + "</details>")


def _events_html(events: pd.DataFrame) -> str:
    """Events grouped by kind: a count per kind, and each kind's rows folded under it."""
    if events is None or events.empty:
        return '<p class="note">no events</p>'
    kinds = events["event"].astype(str)
    parts = []
    for kind, rows in events.groupby(kinds, sort=False):
        note = (f'<p class="note">First {MAX_EVENTS} of {len(rows)}; all of them are in events.csv.</p>'
                if len(rows) > MAX_EVENTS else "")
        parts.append(f"<details><summary>{_e(kind)} ({len(rows):,}, {_e(rows['date'].iloc[0])} to "
                     f"{_e(rows['date'].iloc[-1])})</summary>{note}{_table_html(rows.head(MAX_EVENTS))}</details>")
    return "".join(parts)


def _headline_html(summary: Summary) -> str:
    cards = "".join(
        f'<div class="card"><div class="label">{_e(h.label)}</div><div class="value">{_e(h.value)}</div>'
        f'<div class="detail">{_e(h.detail)}</div></div>'
        for h in headline.finish_items(summary) + headline.headline_items(summary)
    )
    rows = headline.expectation_rows(summary)
    if rows:
        passed = sum(r["result"] == "PASS" for r in rows)
        cls = "pass" if passed == len(rows) else "fail"
        cards += (
            f'<div class="card"><div class="label">Expectations</div>'
            f'<div class="value {cls}">{passed} / {len(rows)} pass</div></div>'
        )
    out = f'<div class="cards">{cards}</div>'
    if rows:
        lines = "".join(
            f'<tr><td>{_e(r["check"])}</td><td>{_e(r["value"])}</td>'
            f'<td class="{"pass" if r["result"] == "PASS" else "fail"}">{_e(r["result"])}</td></tr>'
            for r in rows
        )
        out += (
            '<h2>Expectations</h2><div class="table-wrap"><table><thead><tr><th>check</th><th>value</th>'
            f"<th>result</th></tr></thead><tbody>{lines}</tbody></table></div>"
        )
    return out


def _meta(result: RunResult) -> str:
    s = result.summary
    parts = []
    if s.seed is not None:
        parts.append(f"seed {s.seed}")
    if s.replications is not None:
        parts.append(f"{s.replications} replication(s)")
    if result.start is not None:
        parts.append(f"start {result.start.isoformat()}")
    if s.planner_version:
        parts.append(f"planner {s.planner_version}")
    return " · ".join(_e(p) for p in parts)


def _strategies_html(result: RunResult) -> str:
    """The strategy modes side by side, and tokens by pool month by month (runs with several pools)."""
    parts = []
    modes = tables.strategies_table(result)
    if len(modes):
        rows = []
        for r in modes.to_dict("records"):
            if not r["possible"]:
                rows.append({"mode": r["mode"], "pools": "", "days": "", "cost": "", "link TB/day": "",
                             "note": r["note"]})
                continue
            mark = " (auto's pick)" if r["auto_pick"] else " (pinned: the run's)" if r["pinned"] else ""
            rows.append({"mode": r["mode"] + mark, "pools": r["pools"],
                         "days": f"{r['time_to_train_days']:.1f}" if r["finished"] else "not finished",
                         # stopped by the horizon: spent to it only
                         "cost": ("≥ " if r["cost_at_least"] else "") + headline.money(result.summary, r["cost_usd"]),
                         "link TB/day": f"{r['link_tb_per_day']:.2f}",
                         "note": r["note"]})
        parts.append("<h2>Strategies</h2><p class=\"note\">Each mode's best strategy over the same supply, "
                     "without failures (planner compare runs them with failures).</p>"
                     + _table_html(pd.DataFrame(rows)))
    monthly = tables.tokens_by_month(result)
    if len(monthly):
        shown = monthly.copy()
        for c in shown.columns:
            if c != "month":
                shown[c] = shown[c].map(lambda v: f"{v / 1e9:,.1f} B")
        parts.append("<h2>Tokens by pool, month by month</h2>" + _table_html(shown))
    return "".join(parts)


def render_html(result: RunResult, *, generated: dt.datetime | None = None) -> str:
    """The whole report page as a string."""
    name = result.summary.scenario or result.scenario_name
    figs = charts.result_figures(result)
    chart_html = "".join(
        f"<h2>{_e(_CHART_TITLES.get(key, key))}</h2>{_figure_html(fig, f'chart-{key}')}" for key, fig in figs.items()
    )
    data = tables.tables(result)
    events = data["events"]
    layouts = tables.with_dates(data["layouts"], result.start)
    layout_note = (
        f'<p class="note">First {MAX_LAYOUTS} of {len(layouts)} layouts; all of them are in report.xlsx.</p>'
        if len(layouts) > MAX_LAYOUTS
        else ""
    )
    stats = tables.replication_stats(result.replications, num((result.inputs or {}).get("horizon_days")),
                                     result.summary.at_least)
    strategy_html = _strategies_html(result)
    stamp = f" on {generated.isoformat(timespec='seconds')}" if generated else ""
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(name)} — planner report</title>
<style>{_CSS}</style>
<script type="text/javascript">{plotly.offline.get_plotlyjs()}</script>
</head>
<body>
<main>
<h1>{_e(name)}</h1>
<p class="meta">{_meta(result)}</p>
{_answer_html(result, _portfolio_html(result))}
{_headline_html(result.summary)}
{detail_note(result)}
{_costs_html(result.summary)}
{_cashflow_html(result)}
{chart_html}
{strategy_html}
<h2>Layouts</h2>
{layout_note}{_table_html(layouts.head(MAX_LAYOUTS), "no layouts: the job never started")}
<h2>Events by kind</h2>
{_events_html(events)}
<h2>Replications</h2>
{_table_html(stats, "no replications")}
<footer>Written by planner{_e(stamp)}. Data files next to this page: summary.json, schedule.csv,
events.csv, cashflow.csv, report.xlsx.</footer>
</main>
</body>
</html>
"""


def write_html(result: RunResult, path: Path) -> None:
    """Write report.html."""
    path.write_text(render_html(result), encoding="utf-8")
