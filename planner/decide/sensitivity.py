"""`planner sensitivity`: each uncertain or controllable input at its low and high value; a tornado chart.

Every input is moved alone, all the others stay at the scenario's values, and every run uses the
same root seed (common random numbers), so a bar is the effect of that input and not noise.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from .. import costs, escape, plan
from ..edits import capped, set_values, slip_deliveries, slip_held
from ..scenario import Cloud, Costs, Pool, PowerStep, Scenario
from .points import all_infeasible, result_row, run_points
from .present import axis_format, bounded, cell_text, page_table_html

if TYPE_CHECKING:
    from pathlib import Path

    import plotly.graph_objects as go

# swings: deliveries 30 days early to 90 days late; shortfall none to 30%; rented units x0.5 to x1.5;
# MTBF x0.5 to x2; efficiency x0.8 to x1.2; prices (rental, chip, electricity) x0.75 to x1.25 (ranges seen in
# the public record of 2023-2025 accelerator orders and cloud list prices; change them in SWINGS)
# site power x0.75 to x1.25 at every step of every site (a grid connection or cooling a quarter short or ahead of
# plan: a planning range, as the prices')
SWINGS = {"slip_days": (-30, 90), "shortfall": (0.0, 0.3), "cloud_units": (0.5, 1.5), "mtbf": (0.5, 2.0),
          "efficiency": (0.8, 1.2), "price": (0.75, 1.25), "site_power": (0.75, 1.25)}


@dataclass(frozen=True)
class Input:
    """One input's low and high settings."""

    name: str
    low_label: str
    high_label: str
    low: Scenario
    high: Scenario


def _pools_edit(s: Scenario, fn: Callable) -> dict:
    edits = {}
    for i, p in enumerate(s.fleet):
        edits.update(fn(i, p) or {})
    return edits


def _slip_label(days: int) -> str:
    """``30 d early``, ``90 d late``: a label no spreadsheet reads as a formula.

    ``-30 d`` was kept as text by a leading apostrophe in sensitivity.csv, which a script reading the column got.
    """
    return f"{abs(days)} d {'early' if days < 0 else 'late'}" if days else "0 d"


def inputs(s: Scenario, source: str = "<scenario>") -> list[Input]:
    """The inputs this scenario has, each at its low and high value."""
    out = []
    owned = [i for i, p in enumerate(s.fleet) if p.deliveries]
    if owned:
        lo, hi = SWINGS["slip_days"]
        out.append(Input("delivery slip", _slip_label(lo) + (CAPPED if slip_held(s, lo) else ""),
                         _slip_label(hi) + (CAPPED if slip_held(s, hi) else ""), slip_deliveries(s, lo),
                         slip_deliveries(s, hi)))
        lo, hi = SWINGS["shortfall"]

        def short(x):
            return set_values(s, {f"fleet[{i}].delivery_risk.shortfall_fraction": {"dist": "fixed", "value": x}
                                  for i in owned}, source)

        out.append(Input("delivery shortfall", f"{lo:.0%}", f"{hi:.0%}", short(lo), short(hi)))
    if any(p.cloud and p.cloud.units > 0 for p in s.fleet):  # (x0.5 of no rented chip is none: no swing to show)
        def cloud(x, fit):  # a rental that had units keeps one (none would drop the pool)
            return set_values(s, {f"fleet[{i}].cloud.units": int(fit(Cloud, "units", max(round(p.cloud.units * x), 1),
                                                                     wanted=round(p.cloud.units * x)))
                                  for i, p in enumerate(s.fleet) if p.cloud and p.cloud.units > 0}, source)

        out.append(_swing("cloud units", *SWINGS["cloud_units"], cloud))
    if s.reliability.enabled:
        def mtbf(x, fit):
            return set_values(s, _pools_edit(s, lambda i, p: {
                f"fleet[{i}].mtbf_chip_days": fit(Pool, "mtbf_chip_days", x * (
                    p.mtbf_chip_days or s.reliability.mtbf_chip_days or s.chip(p.chip).mtbf_chip_days))}), source)

        out.append(_swing("MTBF", *SWINGS["mtbf"], mtbf))

    def eff(x, fit):
        return set_values(s, _pools_edit(s, lambda i, p: {f"fleet[{i}].efficiency": fit(Pool, "efficiency",
                                                                                         x * p.efficiency)}), source)

    out.append(_swing("efficiency", *SWINGS["efficiency"], eff))

    def price(x, fit):
        def one(i, p):
            e = {}
            if p.cloud and p.cloud.stated_price_usd is not None:  # one not stated stays unpriced
                e[f"fleet[{i}].cloud.price_per_chip_hour_usd"] = fit(Cloud, "price_per_chip_hour_usd",
                                                                     x * p.cloud.price_per_chip_hour_usd)
            if p.planned_units - (p.cloud.units if p.cloud else 0) > 0 and costs.unit_price_usd(s, p) > 0:
                e[f"fleet[{i}].unit_price_usd"] = fit(Pool, "unit_price_usd", x * costs.unit_price_usd(s, p))
            return e
        edits = _pools_edit(s, one)
        if any(plan.owned_planned(p) > 0 for p in s.fleet) and s.costs.energy_usd_per_kwh > 0:
            # owned chips' power is bought too (a rental's price includes it)
            edits["costs.energy_usd_per_kwh"] = fit(Costs, "energy_usd_per_kwh", x * s.costs.energy_usd_per_kwh)
        return set_values(s, edits, source)

    out.append(_swing("price", *SWINGS["price"], price))
    if s.sites:  # chips wait for their site's power: how much the power plan moves the finish
        def power(x, fit):
            return set_values(s, {f"sites[{i}].power_mw[{j}].mw": fit(PowerStep, "mw", x * step.mw)
                                  for i, site in enumerate(s.sites) for j, step in enumerate(site.power_mw)}, source)

        out.append(_swing("site power", *SWINGS["site_power"], power))
    return out


# a swing held within what the scenario format takes (a rental price of 9,000 $/chip-h x1.25; an efficiency of 0.01
# x0.8; a rental of one unit x0.5, kept at one: none would drop the pool)
CAPPED = " (held within the format's limits)"


class _Fit:
    """The values of one side of a swing, each held within what the format takes; ``held``: whether one was."""

    def __init__(self) -> None:
        self.held = False

    def __call__(self, model, name: str, value: float, wanted: float | None = None) -> float:
        got = capped(model, name, value)
        self.held |= got != (value if wanted is None else wanted)
        return got


def _swing(name: str, lo: float, hi: float, build: Callable[[float, _Fit], Scenario]) -> Input:
    """An input at factors ``lo`` and ``hi``: ``build(x, fit)`` edits the scenario, every value through ``fit``.

    A side whose values were held within the format says so in its label.
    """
    sides = []
    for x in (lo, hi):
        fit = _Fit()
        scenario = build(x, fit)
        sides.append((scenario, f"x{x:g}" + (CAPPED if fit.held else "")))
    (low, low_label), (high, high_label) = sides
    return Input(name, low_label, high_label, low, high)


def points(s: Scenario, ins: list[Input]) -> list[Scenario]:
    """The scenarios a sensitivity runs: the base, then each input at its low and its high value."""
    return [s] + [x for i in ins for x in (i.low, i.high)]


def sensitivity(s: Scenario, replications: int | None = None, seed: int | None = None, backend: str = "local",
                scheduler: str | None = None, workers: int | None = None,
                progress: Callable[[int, int], None] | None = None, source: str = "<scenario>") -> pd.DataFrame:
    """A row per input: low/high labels, p50 time to train and cost at base, low and high, the swing, a ``note``.

    A setting where no layout fits counts as never finishing (its figures missing, its date ``never``) and
    the ``note`` says which one and why; InfeasiblePlanError (exit 2) only when no setting can train.
    """
    ins = inputs(s, source)
    scen = points(s, ins)
    labels = ["base"] + [f"{i.name} {label}" for i in ins for label in (i.low_label, i.high_label)]
    results = run_points(scen, replications=replications, seed=seed, backend=backend, scheduler=scheduler,
                         workers=workers, progress=progress, source=source, labels=labels)
    if (none_trains := all_infeasible(results)) is not None:
        raise none_trains
    res = [result_row(r) for r in results]
    base = res[0]
    # the cost in the scenario's currency too, when it has one (point_row's cost_cny_p50)
    other = [k for k in dict.fromkeys(k for r in res for k in r) if k.startswith("cost_") and k.endswith("_p50")
             and k != "cost_usd_p50"]
    rows = []
    for k, i in enumerate(ins):
        lo, hi = res[1 + 2 * k], res[2 + 2 * k]
        row = {"input": i.name, "low": i.low_label, "high": i.high_label}
        for m in ("time_to_train_days_p50", "cost_usd_p50", *other):
            row[f"{m}_base"], row[f"{m}_low"], row[f"{m}_high"] = base.get(m), lo.get(m), hi.get(m)
            vals = [v for v in (lo.get(m), hi.get(m), base.get(m)) if v is not None]
            # the sides whose figure is known only as a lower bound (replications stopped by the horizon spent to it)
            low = [side for side, r in (("base", base), ("low", lo), ("high", hi)) if m in bounded(r.get("at_least"))]
            row[f"{m}_at_least"] = ", ".join(low)
            # a side that never finishes has no number, and one known only as at least a value no exact one: the
            # swing is not one either (not the other sides' spread)
            row[f"{m}_swing"] = max(vals) - min(vals) if len(vals) == 3 and not low else None
        # the inputs whose low or high value decides whether the job finishes at all (p50 never on one side only)
        days = [x.get("time_to_train_days_p50") for x in (base, lo, hi)]
        row["decides_finish"] = any(d is None for d in days) and any(d is not None for d in days)
        row["finish_date_p50_low"], row["finish_date_p50_high"] = lo.get("finish_date_p50"), hi.get("finish_date_p50")
        # a portfolio: each job's own p50 time to train at base, low and high (the swing above is its last job's),
        # with the sides known only as at least that (a sweep row's ``job NAME: ...`` columns, points.point_row)
        for job in _job_prefixes(base):
            m = f"{job}time_to_train_days_p50"
            for side, r in (("base", base), ("low", lo), ("high", hi)):
                row[f"{m}_{side}"] = r.get(m)
            row[f"{m}_at_least"] = ", ".join(side for side, r in (("base", base), ("low", lo), ("high", hi))
                                             if m in bounded(r.get("at_least")))
        row["note"] = "; ".join(f"{side}: {r['note']}" for side, r in (("base", base), ("low", lo), ("high", hi))
                                if r["note"])
        rows.append(row)
    df = pd.DataFrame(rows)
    # an input that decides whether the job finishes outranks any swing in days
    return df.sort_values(["decides_finish", "time_to_train_days_p50_swing"], ascending=[False, False],
                          na_position="last").reset_index(drop=True)


def _job_prefixes(row: dict) -> list[str]:
    """The ``job NAME: `` prefixes of a point's per-job columns, in the row's order (none for one job)."""
    return [k[: -len("time_to_train_days_p50")] for k in row if k.startswith("job ")
            and k.endswith(": time_to_train_days_p50")]


TORNADO_METRICS = (("time_to_train_days_p50", "Time to train p50 [days]"), ("cost_usd_p50", "Cost p50 [USD]"))


def tornado_figures(table: pd.DataFrame) -> dict[str, go.Figure]:
    """Two tornado charts of a :func:`sensitivity` table: p50 time to train and p50 cost, by metric column."""
    import plotly.graph_objects as go

    figs = {}
    for m, label in TORNADO_METRICS:
        # the first row is drawn at the foot: the inputs that decide whether the job finishes at all go on top, as
        # the table ranks them, then the largest swings; a swing with no number (a side only a lower bound) lowest
        t = table.assign(_decides=table.get("decides_finish", False)).sort_values(
            ["_decides", f"{m}_swing"], ascending=[True, True], na_position="first")
        if not t[f"{m}_base"].notna().any():  # the base never finishes: no base to swing from (never 0)
            figs[m] = go.Figure().update_layout(title=f"{label}: the base setting never finishes by the horizon, so "
                                                      "there is no base value to swing from (see the table)")
            continue
        base = t[f"{m}_base"].dropna().iloc[0]
        sides = [bounded(b) for b in t.get(f"{m}_at_least", [""] * len(t))]  # each row's sides only at least
        values = pd.concat([t[f"{m}_low"], t[f"{m}_high"]]).dropna()
        # a side that never finishes has no figure: its bar runs past every figure shown, hatched, and says "never"
        beyond = max(float(values.max()) if len(values) else base, base) * 1.1 if m.startswith("time_to_train") \
            else None
        fig = go.Figure()
        for side, color in (("low", "#1f77b4"), ("high", "#d62728")):
            never = t[f"{m}_{side}"].isna() & (beyond is not None)
            x = t[f"{m}_{side}"].where(~never, beyond)
            fig.add_trace(go.Bar(y=[escape.html(v) for v in t["input"]], x=x - base, base=base,
                                 orientation="h", name=f"{side} value", marker_color=color,
                                 marker_pattern_shape=["/" if n else "" for n in never],
                                 text=[escape.html(v) + (": never" if n else "") for v, n in zip(t[side], never,
                                                                                              strict=True)],
                                 textposition="auto",
                                 customdata=["never" if n else ("≥ " if side in b else "") + cell_text(m, v)
                                             for v, b, n in zip(t[f"{m}_{side}"], sides, never, strict=True)],
                                 hovertemplate="%{y}: %{customdata}<extra></extra>"))
        fig.add_vline(x=base, line_dash="dash")
        low = "≥ " if any("base" in b for b in sides) else ""  # a base known only as a lower bound
        fig.update_layout(title=f"{label}: each input at its low and high value (base {low}{cell_text(m, base)})",
                          barmode="overlay", height=120 + 45 * len(t), xaxis_title=label,
                          xaxis={f: v for f, v in axis_format(m).items()})
        figs[m] = fig
    return figs


def tornado_html(table: pd.DataFrame, title: str) -> str:
    """A self-contained page with two tornado charts (p50 time to train, p50 cost) and the table."""
    from ..report.html import figure_html

    parts = []
    for key, fig in tornado_figures(table).items():
        parts.append(figure_html(fig, include_plotlyjs=not parts, div_id=f"tornado-{key}"))  # stable ids
    # each row's sides known only as at least their figure ("base, low, high" in ``{metric}_at_least``), marked "≥"
    marks = {i: [f"{m}_{side}" for m, _ in TORNADO_METRICS for side in bounded(row.get(f"{m}_at_least", ""))]
             for i, row in table.iterrows()}
    rows = page_table_html(table, marks)
    title = escape.html(title)
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title></head><body>"
            f"<h1>{title}</h1>{''.join(parts)}<h2>Inputs</h2>{rows}</body></html>")


def write_sensitivity_csv(table: pd.DataFrame, path: Path) -> None:
    """sensitivity.csv: the table with every text cell and header kept as text by spreadsheets (escape.frame)."""
    escape.frame(table).to_csv(path, index=False, lineterminator="\n")
