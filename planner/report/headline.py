"""The headline figures of a run, read from summary.json and formatted for people (report and app)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Headline:
    """One headline figure: ``value`` is the formatted median (or the single value), ``detail`` the spread."""

    key: str
    label: str
    value: str
    detail: str = ""


def _num(value: Any) -> float | None:
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def stat(metric: Any, key: str = "p50") -> float | None:
    """``key`` of a metric's stats mapping (falling back to the mean), or the metric itself when it is a number."""
    if isinstance(metric, Mapping):
        for k in (key, "mean"):
            if _num(metric.get(k)) is not None:
                return _num(metric.get(k))
        return None
    return _num(metric)


def fmt_si(x: float | None, unit: str = "", digits: int = 3) -> str:
    """1.23e9 -> '1.23 G' (with k, M, G, T, P); '—' for missing values."""
    if x is None:
        return "—"
    for factor, prefix in ((1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= factor:
            return f"{x / factor:.{digits}g} {prefix}{unit}".rstrip()
    return f"{x:.{digits}g} {unit}".rstrip()


def fmt_usd(x: float | None) -> str:
    if x is None:
        return "—"
    for factor, suffix in ((1e12, " T"), (1e9, " B"), (1e6, " M"), (1e3, " k")):
        if abs(x) >= factor:
            return f"${x / factor:,.3g}{suffix}"
    return f"${x:,.0f}"


def fmt_pct(x: float | None, digits: int = 1) -> str:
    return "—" if x is None else f"{x * 100:.{digits}f} %"


def fmt_days(x: float | None) -> str:
    return "—" if x is None else f"{x:,.1f} d"


def fmt_value(metric: str, x: float | None) -> str:
    """A value of one of the contract's metrics, in its natural unit."""
    return {
        "time_to_train_days": fmt_days,
        "finish_probability": fmt_pct,
        "cost_usd": fmt_usd,
        "energy_mwh": lambda v: fmt_si(v * 1e6 if v is not None else None, "Wh"),
        "mfu": fmt_pct,
        "goodput": fmt_pct,
        "chip_hours": lambda v: "—" if v is None else f"{fmt_si(v)} chip-h".replace("  ", " "),
    }.get(metric, lambda v: fmt_si(v))(x)


def _spread(metric: Any, name: str) -> str:
    lo, hi = stat(metric, "p10"), stat(metric, "p90")
    if not isinstance(metric, Mapping) or _num(metric.get("p10")) is None or _num(metric.get("p90")) is None:
        return ""
    return f"p10 {fmt_value(name, lo)} · p90 {fmt_value(name, hi)}"


def headline_items(summary: Mapping[str, Any]) -> list[Headline]:
    """The headline figures, in display order.

    Time to train, finish probability, cost, energy, MFU, goodput and chip-hours.
    """
    metrics = summary.get("metrics") or {}
    labels = [
        ("time_to_train_days", "Time to train (p50)"),
        ("finish_probability", "Finish probability"),
        ("cost_usd", "Cost (p50)"),
        ("energy_mwh", "Energy (p50)"),
        ("mfu", "MFU (p50)"),
        ("goodput", "Goodput (p50)"),
        ("chip_hours", "Chip-hours (p50)"),
    ]
    out = []
    for key, label in labels:
        metric = metrics.get(key)
        detail = _spread(metric, key)
        if key == "finish_probability" and summary.get("replications") is not None:
            detail = f"of {summary['replications']} replication(s)"
        out.append(Headline(key, label, fmt_value(key, stat(metric)), detail))
    return out


def expectation_rows(summary: Mapping[str, Any]) -> list[dict[str, str]]:
    """The summary's expectations as display rows: check, value, result (PASS/FAIL)."""
    rows = []
    for e in summary.get("expectations") or []:
        metric = str(e.get("metric", "?"))
        what = metric + (f" p{_num(e['quantile']) * 100:g}" if _num(e.get("quantile")) is not None else "")
        bounds = []
        if _num(e.get("min")) is not None:
            bounds.append(f"≥ {fmt_value(metric, _num(e['min']))}")
        if _num(e.get("max")) is not None:
            bounds.append(f"≤ {fmt_value(metric, _num(e['max']))}")
        rows.append(
            {
                "check": f"{what} {' and '.join(bounds)}".strip(),
                "value": fmt_value(metric, _num(e.get("value"))),
                "result": "PASS" if e.get("passed") else "FAIL",
            }
        )
    return rows
