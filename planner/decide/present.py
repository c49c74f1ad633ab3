"""Tables and charts of the decision answers for people: strategy comparison, tornado table, goal seek.

The app and the notebooks show ``planner compare``, ``planner sensitivity`` and ``planner solve`` answers
with these; nothing here imports streamlit.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from .. import escape
from ..fmt import fmt_money, fmt_mwh, fmt_pct, fmt_usd, num
from ..scenario import Scenario

if TYPE_CHECKING:
    import plotly.graph_objects as go

COMPARE_COLUMNS = ["mode", "pools", "days", "finish date", "committed", "used", "energy", "goodput",
                   "link TB/day", "note"]


def mode_label(r: Mapping[str, Any]) -> str:
    """A compare row's name as the CLI prints it: its mode, marked when `auto` picks it, after its job's name.

    A scenario (or job) that names its mode: that mode's row is marked "(pinned)", the one `planner run` trains,
    when it is not auto's pick too.
    """
    name = r["mode"] + (" (auto)" if r.get("auto") else "") + (" (pinned)" if r.get("run") and not r.get("auto")
                                                                 else "")
    return f"{r['job']}: {name}" if r.get("job") else name  # a portfolio compares each job's modes


# a portfolio's compare rows price each job at its own spend (planner/sim/portfolio.portfolio_compare)
PORTFOLIO_COST_NOTE = ("cost: the job's own spend on the chips it trained on, as `planner run` gives each job's; "
                       "the pools' whole commitment is the portfolio's")



def portfolio_cost_note(rows: Sequence[Mapping[str, Any]]) -> str:
    """PORTFOLIO_COST_NOTE, and which jobs pick by cost on what (their pools' commitment, not the spend shown)."""
    jobs = list(dict.fromkeys(r["job"] for r in rows if r.get("job") and r.get("objective") == "cost"))
    if not jobs:
        return PORTFOLIO_COST_NOTE
    return (PORTFOLIO_COST_NOTE + f"; {', '.join(jobs)} (objective: cost) pick{'s' if len(jobs) == 1 else ''} the "
            "mode whose pools' commitment to its end is least (the pick's column), not the one whose own spend is: the "
            "chips and reservations a mode leaves idle are paid for all the same")


def compare_table(rows: Sequence[Mapping[str, Any]], money: Callable[[float | None], str] = fmt_usd) -> pd.DataFrame:
    """`planner compare` rows as the table the CLI prints: one row per mode, the one `auto` picks marked.

    ``money``: how a sum is written (``report.headline.money`` of the scenario: in its currency too).
    """
    out = []
    for r in rows:
        name = mode_label(r)
        if not r.get("possible"):
            out.append({"mode": name, "pools": "", "days": "", "finish date": "", "committed": "", "used": "",
                        "energy": "", "goodput": "", "link TB/day": "", "note": f"not possible: {r.get('why')}"})
            continue
        days = num(r.get("time_to_train_days"))
        low = {k: "≥ " for k in r.get("at_least") or ()}  # stopped by the horizon: spent to it only
        held = "≥ " if low else ""  # the chips it held grow with the run, reservations or not
        out.append({
            "mode": name, "pools": r.get("pool") or "",
            "days": f"{days:.1f}" if r.get("finished") and days is not None else "not finished",
            "finish date": r.get("finish_date") or "never",
            "committed": low.get("cost_usd", "") + money(num(r.get("cost_usd"))),
            "used": held + money(num(r.get("used_usd"))),
            "energy": low.get("energy_mwh", "") + fmt_mwh(num(r.get("energy_mwh"))),
            "goodput": fmt_pct(num(r.get("goodput"))),
            "link TB/day": f"{num(r.get('link_tb_per_day')) or 0.0:.2f}",
            "note": r.get("note") or "",
        })
    table = pd.DataFrame(out, columns=COMPARE_COLUMNS)
    if any("job" in r for r in rows):  # a portfolio's: the cost is the job's own spend (its used), one column
        table = table.drop(columns=["used"]).rename(columns={"committed": JOB_COST})
        if any(r.get("objective") == "cost" for r in rows):  # what a job picked by cost ranked its modes on
            table.insert(table.columns.get_loc(JOB_COST) + 1, PICKED_ON, [picked_on(r, money) for r in rows])
    return table


PICKED_ON = "pools' commitment (pick)"  # what a portfolio job with objective: cost ranks its modes on


def picked_on(r: Mapping[str, Any], money: Callable[[float | None], str] = fmt_usd) -> str:
    """A portfolio compare row's pools' commitment, for a job picked by cost ("" for others and modes not possible).

    ``money``: how a sum is written (the CLI's: in USD and the scenario's currency, as its cost column).
    """
    if r.get("objective") != "cost" or not r.get("possible"):
        return ""
    low = "≥ " if "committed_usd" in (r.get("at_least") or ()) else ""  # e.g. stopped by the horizon
    return low + money(num(r.get("committed_usd")))


JOB_COST = "job's own spend"  # a portfolio compare's cost column (PORTFOLIO_COST_NOTE)


def compare_figure(rows: Sequence[Mapping[str, Any]]) -> go.Figure:
    """Time to train (labelled with its finish date) and committed cost of each possible mode; auto's pick darker."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    ok = [r for r in rows if r.get("possible") and r.get("finished")]
    names = [mode_label(r) for r in ok]  # distinct: a portfolio's jobs' bars side by side, never stacked
    colors = ["#1f4e79" if r.get("auto") else "#8fb3d9" for r in ok]
    own = any("job" in r for r in rows)  # a portfolio's: each job's own spend, not the pools' commitment
    fig = make_subplots(rows=1, cols=2, subplot_titles=("Time to train [days] (label: finish date)",
                                                        "The job's own spend [USD]" if own else "Committed cost [USD]"),
                        horizontal_spacing=0.12)
    fig.add_trace(go.Bar(x=names, y=[r["time_to_train_days"] for r in ok], marker_color=colors, name="days",
                         text=[r.get("finish_date") for r in ok], textposition="auto"), row=1, col=1)
    fig.add_trace(go.Bar(x=names, y=[r.get("cost_usd") for r in ok], marker_color=colors,
                         name=JOB_COST if own else "committed",
                         text=[fmt_usd(num(r.get("cost_usd"))) for r in ok], textposition="auto"), row=1, col=2)
    missing = [mode_label(r) for r in rows if not (r.get("possible") and r.get("finished"))]
    title = "Strategy modes (one replication, the same draws)"
    if missing:
        title += " · not shown: " + ", ".join(missing)
    fig.update_layout(title=title, showlegend=False, template="plotly_white", height=360,
                      margin=dict(l=60, r=20, t=70, b=40))
    return fig


def page_table_html(table: pd.DataFrame, marks: dict | None = None) -> str:
    """A sweep's or a sensitivity's table on its page, every text escaped.

    Money with $ and thousands separators, shares in percent, big numbers with separators
    (planner.report.tables.for_people). ``marks``: per row (the table's index), the columns whose figure is known only
    as at least its value, shown "≥ " as the charts and the command line show them.
    """
    from ..report.tables import for_people

    shown = for_people(table)
    for i, cols in (marks or {}).items():
        for col in cols:
            if col in shown.columns and i in shown.index and str(shown.at[i, col]) not in ("", "nan", "None"):
                shown[col] = shown[col].astype(object)
                shown.at[i, col] = "≥ " + str(shown.at[i, col])
    return escape.page_frame(shown).to_html(index=False, border=0, na_rep="", escape=True)


def axis_format(column: str) -> dict[str, str]:
    """Plotly axis settings for a metric column: dollars as $1.2B, shares in percent, days with one decimal."""
    from ..report.tables import money_column

    if money_column(column):
        return {"tickprefix": "$", "exponentformat": "B"}  # $1.07B, as the tables write it (SI would say G)
    if column.endswith("probability"):
        return {"tickformat": ".0%"}
    return {"tickformat": ",.1f"}


def cell_text(column: str, value: Any) -> str:
    """A metric value as a chart label: '$155.5 M', '97.0 %', '203.3' days."""
    from ..report.tables import currency_of, money_column

    x = num(value)
    if x is None:
        return ""
    if money_column(column):
        return fmt_usd(x)
    if code := currency_of(column):  # the same sums in the scenario's second currency (cost_cny_p50)
        return fmt_money(x, code)
    if column.endswith("probability"):
        return fmt_pct(x)
    return f"{x:,.1f}"


def days_cell(value: Any) -> str:
    """A p50 time to train in days for a table cell: ``never`` when it has no number (beyond the finishes)."""
    x = num(value)
    return "never" if x is None else f"{x:.1f}"


def bounded(cell: Any) -> set[str]:
    """The names in an ``at_least`` cell ("base, low", "cost_usd_p90, finish_date_p90"): what is only a lower bound."""
    return set(cell.split(", ")) if isinstance(cell, str) and cell else set()


def sensitivity_rows(table: pd.DataFrame, money: Callable[[float | None], str] = fmt_usd) -> pd.DataFrame:
    """A :func:`planner.decide.sensitivity.sensitivity` table for people: each input's low and high outcome.

    ``money``: how a sum is written (``report.headline.money`` of the scenario: in its currency too).
    """
    out = []
    for _, r in table.iterrows():
        def low(m: str, side: str, r=r) -> str:  # "≥ " before a figure known only as a lower bound
            return "≥ " if side in bounded(r.get(f"{m}_at_least")) else ""

        def days(side: str, r=r) -> str:
            v = r[f"time_to_train_days_p50_{side}"]
            return (low("time_to_train_days_p50", side) if num(v) is not None else "") + days_cell(v)

        def when(side: str, r=r) -> str:
            d = r.get(f"finish_date_p50_{side}") or "never"
            return (low("time_to_train_days_p50", side) if d != "never" else "") + d

        out.append({"input": r["input"], "low": r["low"], "high": r["high"],
                    "days p50 (low)": days("low"), "days p50 (high)": days("high"),
                    "finish p50 (low)": when("low"), "finish p50 (high)": when("high"),
                    "cost p50 (low)": low("cost_usd_p50", "low") + money(num(r["cost_usd_p50_low"])),
                    "cost p50 (high)": low("cost_usd_p50", "high") + money(num(r["cost_usd_p50_high"]))})
    return pd.DataFrame(out)


def rental_paths(scenario: Scenario) -> dict[str, str]:
    """The goal-seek inputs a plan rents: ``fleet[i].cloud.units`` of each cloud pool, with a label for people."""
    return {f"fleet[{i}].cloud.units": f"{p.name}: rented {p.chip} units"
            for i, p in enumerate(scenario.fleet) if p.cloud is not None}


def solve_cost(answer: Mapping[str, Any], money: Callable[[float | None], str] = fmt_usd) -> str:
    """The answer's P50 spend for a card: "≥ " before it when replications stopped by the horizon spent to it only."""
    return ("≥ " if answer.get("cost_usd_at_least") else "") + money(num(answer.get("cost_usd")))


def solve_sentence(answer: Mapping[str, Any], money: Callable[[float | None], str] = fmt_usd) -> str:
    """A :func:`planner.decide.solve.solve` answer in words (``money``: how a sum is written)."""
    q = f"P{float(answer['quantile']) * 100:g}"
    n = len(answer.get("evaluations") or [])
    if not answer.get("found"):
        why = f" {answer['note'][0].upper()}{answer['note'][1:]}." if answer.get("note") else ""
        return (f"No value of {answer['path']} in the range tried finishes by {answer['deadline']} at {q} "
                f"({n} evaluations).{why}")
    value = answer["value"]
    shown = f"{value:,}" if isinstance(value, int) else f"{value:,.4g}"
    who, cost = ((f"job {answer['job']} ", "its cost") if answer.get("job") else ("", "committed cost"))
    text = (f"{answer['path']} = {shown}: {who}finishes {answer['finish_date']} at {q} (deadline "
            f"{answer['deadline']}), {cost} P50 {solve_cost(answer, money)}; {n} evaluations")
    if not answer.get("monotone", True):
        text += "; the evaluated points were NOT monotone (a larger value finished later), check the evaluations"
    if answer.get("note"):  # e.g. a probe below the answer met the deadline: the smallest found, not proved
        text += f" ({answer['note']})"
    return text + "."


def solve_evaluations(answer: Mapping[str, Any], money: Callable[[float | None], str] = fmt_usd) -> pd.DataFrame:
    """The points a goal seek evaluated: value, finish date at the quantile, meets the deadline, cost."""
    rows = [{"value": e["value"],
             "finish date": ("≥ " if e.get("time_at_least") else "") + (e.get("finish_date") or "never"),
             "days": None if e.get("time_to_train_days") is None else round(e["time_to_train_days"], 2),
             "meets deadline": bool(e.get("meets")),
             "committed cost P50": ("≥ " if "cost_usd" in (e.get("cost_at_least") or ()) else "")
             + money(num(e.get("cost_usd"))), "note": e.get("note") or ""}
            for e in answer.get("evaluations") or []]
    return pd.DataFrame(rows, columns=["value", "finish date", "days", "meets deadline", "committed cost P50", "note"])
