"""The headline figures of a run, read from summary.json and formatted for people (report and app)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..fmt import num
from ..metrics import METRICS, fmt_value


@dataclass(frozen=True)
class Headline:
    """One headline figure: ``value`` is the formatted median (or the single value), ``detail`` the spread."""

    key: str
    label: str
    value: str
    detail: str = ""


def stat(metric: Any, key: str = "p50") -> float | None:
    """``key`` of a metric's stats mapping (falling back to the mean), or the metric itself when it is a number."""
    if isinstance(metric, Mapping):
        for k in (key, "mean"):
            if num(metric.get(k)) is not None:
                return num(metric.get(k))
        return None
    return num(metric)


def _spread(metric: Any, name: str) -> str:
    lo, hi = stat(metric, "p10"), stat(metric, "p90")
    if not isinstance(metric, Mapping) or num(metric.get("p10")) is None or num(metric.get("p90")) is None:
        return ""
    return f"p10 {fmt_value(name, lo)} · p90 {fmt_value(name, hi)}"


def headline_items(summary: Mapping[str, Any]) -> list[Headline]:
    """The headline figures, in display order.

    Time to train, finish probability, cost, energy, MFU, goodput and chip-hours.
    """
    metrics = summary.get("metrics") or {}
    out = []
    for m in METRICS:
        key, label = m.key, m.label + (" (p50)" if m.distribution else "")
        metric = metrics.get(key)
        detail = _spread(metric, key)
        if key == "finish_probability" and summary.get("replications") is not None:
            detail = f"of {summary['replications']} replication(s)"
        out.append(Headline(key, label, fmt_value(key, stat(metric)), detail))
        if key == "time_to_train_days":
            out.extend(_date_items(summary))
    return out


def _date_items(summary: Mapping[str, Any]) -> list[Headline]:
    """Finish date (p50, with p10/p90), the start date, and training days apart from days waiting for capacity."""
    out = []
    fd = summary.get("finish_date") or {}
    if fd.get("p50"):
        out.append(Headline("finish_date", "Finish date (p50)", fd["p50"],
                            f"p10 {fd.get('p10')} · p90 {fd.get('p90')} · start {summary.get('start')}"))
    for key, label in (("training_days", "Training days (p50)"), ("waiting_days", "Waiting for capacity (p50)")):
        m = summary.get(key)
        if isinstance(m, Mapping) and num(m.get("p50")) is not None:
            out.append(Headline(key, label, fmt_value("time_to_train_days", stat(m)),
                                _spread(m, "time_to_train_days")))
    return out


def expectation_rows(summary: Mapping[str, Any]) -> list[dict[str, str]]:
    """The summary's expectations as display rows: check, value, result (PASS/FAIL)."""
    rows = []
    for e in summary.get("expectations") or []:
        metric = str(e.get("metric", "?"))
        what = metric + (f" p{num(e['quantile']) * 100:g}" if num(e.get("quantile")) is not None else "")
        bounds = []
        if num(e.get("min")) is not None:
            bounds.append(f"≥ {fmt_value(metric, num(e['min']))}")
        if num(e.get("max")) is not None:
            bounds.append(f"≤ {fmt_value(metric, num(e['max']))}")
        rows.append(
            {
                "check": f"{what} {' and '.join(bounds)}".strip(),
                "value": fmt_value(metric, num(e.get("value"))),
                "result": "PASS" if e.get("passed") else "FAIL",
            }
        )
    return rows
