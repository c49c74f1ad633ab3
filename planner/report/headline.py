"""The headline figures of a run, read from its Summary (summary.json) and formatted for people (report and app)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..catalog import models
from ..fmt import fmt_si, fmt_usd, num
from ..metrics import METRICS, fmt_value
from ..stats import NEVER
from ..summary import Stat, Summary


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


def _spread(metric: Stat | None, name: str) -> str:
    if metric is None or num(metric.p10) is None:
        return ""
    if num(metric.p90) is None:  # time to train: a quantile beyond the finish probability is never
        return f"p10 {fmt_value(name, num(metric.p10))} · p90 {NEVER}" if name == "time_to_train_days" else ""
    return f"p10 {fmt_value(name, num(metric.p10))} · p90 {fmt_value(name, num(metric.p90))}"


def headline_items(summary: Summary) -> list[Headline]:
    """The headline figures, in display order.

    Time to train, finish probability, cost, energy, MFU, goodput and chip-hours.
    """
    out = []
    for m in METRICS:
        key, label = m.key, m.label + (" (p50)" if m.distribution else "")
        detail = _spread(summary.stat(key), key)
        if key == "finish_probability" and summary.replications is not None:
            detail = f"of {summary.replications} replication(s)"
        value = summary.value(key)
        shown = NEVER if key == "time_to_train_days" and value is None else fmt_value(key, value)
        out.append(Headline(key, label, shown, detail))
        if key == "time_to_train_days":
            out.extend(_date_items(summary))
    return out


def _date_items(summary: Summary) -> list[Headline]:
    """Finish date (p50, with p10/p90), the start date, and training days apart from days waiting for capacity."""
    out = []
    fd = summary.finish_date
    if fd is not None and fd.p50:
        out.append(Headline("finish_date", "Finish date (p50)", fd.p50,
                            f"p10 {fd.p10} · p90 {fd.p90} · start {summary.start}"))
    for key, label, m in (("training_days", "Training days (p50)", summary.training_days),
                          ("waiting_days", "Waiting for capacity (p50)", summary.waiting_days)):
        if m is not None and num(m.p50) is not None:
            out.append(Headline(key, label, fmt_value("time_to_train_days", m.at()),
                                _spread(m, "time_to_train_days")))
    st = summary.strategy
    if st is not None and st.mode:
        detail = " + ".join(str(p) for p in st.pools)
        if len(st.choices) > 1:
            detail += f" (most often; {len(st.choices)} choices over the replications)"
        out.append(Headline("strategy", "Strategy", str(st.mode), detail))
    return out


def expectation_rows(summary: Summary) -> list[dict[str, str]]:
    """The summary's expectations as display rows: check, value, result (PASS/FAIL)."""
    rows = []
    for e in summary.expectations:
        metric = e.metric
        what = metric + (f" p{num(e.quantile) * 100:g}" if num(e.quantile) is not None else "")
        bounds = []
        if num(e.min) is not None:
            bounds.append(f"≥ {fmt_value(metric, num(e.min))}")
        if num(e.max) is not None:
            bounds.append(f"≤ {fmt_value(metric, num(e.max))}")
        rows.append(
            {
                "check": f"{what} {' and '.join(bounds)}".strip(),
                # an unfinished quantile of time to train is never (its value is null in summary.json)
                "value": NEVER if metric == "time_to_train_days" and num(e.value) is None else fmt_value(
                    metric, num(e.value)),
                "result": "PASS" if e.passed else "FAIL",
            }
        )
    return rows


# ---------------------------------------------------------------- inputs and the answer in words


def model_label(inputs: Mapping[str, Any]) -> str:
    """The trained model for people: the preset's name, or the size of an explicit architecture."""
    model = (inputs.get("workload") or {}).get("model")
    if isinstance(model, str):
        preset = models().get(model)
        return preset.name if preset else model
    if isinstance(model, Mapping):
        return f"custom model ({model.get('layers', '?')} layers, hidden {model.get('hidden', '?')})"
    return "—"


def tokens_label(tokens: Any) -> str:
    """15.6e12 -> '15.6T tokens'."""
    return "—" if num(tokens) is None else fmt_si(num(tokens)).replace(" ", "") + " tokens"


def _pools_label(summary: Summary, inputs: Mapping[str, Any]) -> str:
    used = list(summary.strategy.pools) if summary.strategy is not None else []
    if not used:
        used = [p.get("name", "?") for p in inputs.get("fleet") or []]
    return " + ".join(used) or "—"


def answer_sentence(summary: Summary, inputs: Mapping[str, Any]) -> str:
    """The inputs and the answer in one sentence.

    E.g. 'Llama 3 405B, 15T tokens, on azure-h100 (single): finishes 2024-10-21 (P50), 2024-11-02 (P90);
    $1.1 B committed, $403 M used'.
    """
    chosen = summary.strategy.mode if summary.strategy is not None else None
    mode = chosen or (inputs.get("strategy") or {}).get("mode") or "auto"
    head = (f"{model_label(inputs)}, {tokens_label((inputs.get('workload') or {}).get('tokens'))}, "
            f"on {_pools_label(summary, inputs)} ({mode})")
    dates = summary.finish_date
    if dates is not None and dates.finished("p50"):
        when = f"finishes {dates.p50} (P50)" + (f", {dates.p90} (P90)" if dates.finished("p90") else ", P90 never")
    else:
        when = f"does not finish within {inputs.get('horizon_days', '?')} days (P50)"
    c = summary.costs
    committed, used = (c.committed_usd, c.used_usd) if c is not None else (None, None)
    money = f"{fmt_usd(num(committed))} committed, {fmt_usd(num(used))} used"
    return f"{head}: {when}; {money}"


def limit_lines(summary: Summary) -> list[str]:
    """What held the job below the chips in service (summary.json ``limits``), one plain sentence each."""
    return [f"Limited by {s}" for s in summary.limits if isinstance(s, str)]


def finish_items(summary: Summary) -> list[Headline]:
    """Finish date (P50, with P10 and P90) and the committed / used / idle spend."""
    out = []
    dates = summary.finish_date
    if dates is not None:
        out.append(Headline("finish_date", "Finish date (P50)", dates.p50 or "never",
                            f"P10 {dates.p10 or 'never'} · P90 {dates.p90 or 'never'}"))
    c = summary.costs
    if c is not None:
        out.append(Headline("committed_usd", "Committed", fmt_usd(num(c.committed_usd)),
                            f"idle {fmt_usd(num(c.idle_usd))}"))
        out.append(Headline("used_usd", "Used by the job", fmt_usd(num(c.used_usd))))
    return out


def input_rows(inputs: Mapping[str, Any]) -> list[dict[str, str]]:
    """The inputs a reader needs to judge the answer: model, tokens, strategy, and per pool chips, plan and prices."""
    w = inputs.get("workload") or {}
    rows = [
        {"input": "model", "value": model_label(inputs)},
        {"input": "tokens", "value": tokens_label(w.get("tokens"))},
        {"input": "sequence length, precision", "value": f"{w.get('seq_len', '—')}, {w.get('precision', 'bf16')}"},
        {"input": "start, horizon", "value": f"{inputs.get('start', '—')}, {inputs.get('horizon_days', '—')} days"},
        {"input": "strategy", "value": ", ".join(f"{k} {v}" for k, v in (inputs.get("strategy") or {}).items()
                                                 if k in ("mode", "objective")) or "auto"},
        {"input": "reliability", "value": "on" if (inputs.get("reliability") or {}).get("enabled", True) else "off"},
    ]
    for pool in inputs.get("fleet") or []:
        name = f"pool {pool.get('name', '?')}"
        parts = [f"{pool.get('chip', '?')} at {pool.get('site', 'default')}"]
        plan = [f"{pool.get('units', 0):,} on day 0"] if pool.get("units") else []
        plan += [f"{d['units']:,} by {d['date']}" for d in pool.get("deliveries") or []]
        if plan:
            parts.append("owned: " + ", ".join(plan))
        if pool.get("unit_price_usd"):
            parts.append(f"{fmt_usd(num(pool['unit_price_usd']))} per chip")
        cloud = pool.get("cloud")
        if cloud:
            parts.append(f"cloud: {cloud['units']:,} from {cloud['from']} until {cloud['until']} at "
                         f"${num(cloud.get('price_per_chip_hour_usd')) or 0:,.2f}/chip-h "
                         f"({cloud.get('billing', 'reserved')})")
        rows.append({"input": name, "value": "; ".join(parts)})
    return rows
