"""What-if helpers for the app and notebooks: pool edits by field path, deltas against a baseline, A/B tables.

Every edit goes through :mod:`planner.edits` (the ``--set PATH=value`` machinery of ``planner sweep``) and
returns a new, re-validated scenario. Nothing here imports streamlit.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from collections.abc import Mapping, Sequence
from typing import Any

from . import edits
from .errors import ScenarioError
from .fmt import fmt_pct, num
from .loader import from_dict, parse_bytes
from .metrics import BY_KEY, METRICS
from .perf.params import count_params, dense_arch_for_params
from .plan import owned_planned
from .scenario import Scenario
from .stats import NEVER
from .summary import UNTRAINED, Summary, pools_trained
from .yamlio import dump


def canonical_json(scenario: Scenario) -> str:
    """The scenario as canonical JSON: the cache key of a run (same text -> same answer)."""
    return json.dumps(edits.to_mapping(scenario), sort_keys=True, separators=(",", ":"), default=str)


def to_yaml(scenario: Scenario) -> str:
    """The scenario as the YAML a user would write (only fields that were set); it re-validates as is.

    Written by the loader's rules (yamlio.dump): a name or site that reads like a number, a date or a boolean
    (``1e5``, ``0o17``, ``2025-01-01``, ``true``) is quoted and comes back as the same text.
    """
    return dump(edits.to_mapping(scenario))


def from_yaml(text: str, name: str = "<edited scenario>") -> Scenario:
    """Read back :func:`to_yaml` (or any scenario text) through the safe loader and the validator."""
    return from_dict(parse_bytes(text.encode("utf-8"), name), name)


# ---------------------------------------------------------------- the model


def model_params(scenario: Scenario) -> int:
    """Total parameters of the scenario's model (preset or explicit architecture)."""
    return count_params(scenario.workload.arch).total


def set_model_size(scenario: Scenario, params: float) -> Scenario:
    """The workload's model replaced by a dense Llama-3-shaped architecture of about ``params`` parameters.

    The scenario format takes a preset id or an explicit architecture; a size becomes the explicit
    architecture of :func:`planner.perf.params.dense_arch_for_params`, so the YAML says exactly what is trained.
    """
    try:
        arch = dense_arch_for_params(float(params))
    except ValueError as exc:
        raise ScenarioError(str(exc), field="workload.model") from None
    return edits.set_values(scenario, {"workload.model": arch.model_dump(exclude_none=True, exclude_defaults=True)},
                            scenario.name)


# ---------------------------------------------------------------- delivery plans


def delivery_rows(scenario: Scenario, pool: int) -> list[dict[str, Any]]:
    """A pool's planned cumulative deliveries as editable rows: [{date, units}]."""
    return [{"date": d.date, "units": int(d.units)} for d in scenario.fleet[pool].deliveries]


def blank_cell(value: Any) -> bool:
    """An empty cell: None, blank text, NaN or NaT (what a data editor's new row holds)."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    try:
        return bool(value != value)  # NaN and NaT are not equal to themselves
    except (TypeError, ValueError):  # pandas' NA (a nullable column's blank) has no truth value
        return type(value).__name__ == "NAType"


def set_deliveries(scenario: Scenario, pool: int, rows: Sequence[Mapping[str, Any]]) -> Scenario:
    """The pool's delivery plan replaced by ``rows`` (date, cumulative units); empty rows are dropped."""
    plan, where = [], []  # the deliveries, and each one's row of ``rows`` (what an error names)
    for i, row in enumerate(rows):
        date, units = row.get("date"), row.get("units")
        if blank_cell(date) and blank_cell(units):  # (a grid's new row: None, NaN or NaT in its cells)
            continue
        if blank_cell(date) or num(units) is None:
            raise ScenarioError("each delivery needs a date and cumulative units",
                                field=f"fleet[{pool}].deliveries[{i}]")
        if not float(num(units)).is_integer():  # as the file's loader refuses it: never cut to a whole number here
            raise ScenarioError(f"units must be a whole number of chips (got {num(units):,})",
                                field=f"fleet[{pool}].deliveries[{i}].units")
        plan.append({"date": _day_text(date), "units": int(num(units))})
        where.append(i)
    return _set_dated(scenario, f"fleet[{pool}].deliveries", plan, where)


def _day_text(date: Any) -> str:
    """A grid cell's date as the format writes it (YYYY-MM-DD): a date, a timestamp or text."""
    return date.isoformat()[:10] if hasattr(date, "isoformat") else str(date)[:10]


def _set_dated(scenario: Scenario, path: str, items: list[dict], where: list[int]) -> Scenario:
    """``path`` set to ``items`` in date order; ``where``: each item's row of the grid (what an error names).

    The list is checked in date order: an error on its k-th item names that item's row as the grid shows it.
    """
    order = sorted(range(len(items)), key=lambda j: items[j]["date"])
    try:
        return edits.set_values(scenario, {path: [items[j] for j in order]}, scenario.name)
    except ScenarioError as exc:
        prefix = f"{path}["
        if exc.field and exc.field.startswith(prefix) and "]" in exc.field[len(prefix):]:
            k, rest = exc.field[len(prefix):].split("]", 1)
            if k.isdigit() and int(k) < len(order):
                raise ScenarioError(exc.reason, path=exc.path, field=f"{prefix}{where[order[int(k)]]}]{rest}") from None
        raise


def power_rows(scenario: Scenario, site: int) -> list[dict[str, Any]]:
    """A site's power steps as editable rows: [{date, mw}]."""
    return [{"date": p.date, "mw": float(p.mw)} for p in scenario.sites[site].power_mw]


def set_power(scenario: Scenario, site: int, rows: Sequence[Mapping[str, Any]]) -> Scenario:
    """The site's power steps replaced by ``rows`` (date, MW), in date order; empty rows are dropped.

    An error names the row as the grid shows it (``sites[i].power_mw[row]``).
    """
    steps, where = [], []
    for i, row in enumerate(rows):
        date, mw = row.get("date"), row.get("mw")
        if blank_cell(date) and blank_cell(mw):  # (a grid's new row)
            continue
        if blank_cell(date) or num(mw) is None:
            raise ScenarioError("each power step needs a date and its MW", field=f"sites[{site}].power_mw[{i}]")
        steps.append({"date": _day_text(date), "mw": float(num(mw))})
        where.append(i)
    if not steps:
        raise ScenarioError("a site needs at least one power step (date, MW)", field=f"sites[{site}].power_mw")
    return _set_dated(scenario, f"sites[{site}].power_mw", steps, where)


def smallest_value(scenario: Scenario, path: str) -> int:
    """The goal seek's default low end for ``path``: 0 where the field takes it (no rental), else 1 where it does.

    ``planner solve`` starts at 0 (``--min``); a sync job over two pools, or a fleet that only rents, has no
    scenario at 0 rented chips, and a goal seek there would stop on its low end.
    """
    for value in (0, 1):
        try:
            # (as the goal seek's points are built: a pool set to own no chips leaves the fleet, solve.py)
            edits.set_values(scenario, {path: value}, scenario.name, drop_zeroed=True)
            return value
        except ScenarioError:
            continue
    return 0


def share_by_date(scenario: Scenario, pool: int, share: float, by: dt.date) -> Scenario:
    """At most ``share`` of the pool's final planned units delivered by ``by``; the rest as planned after it.

    A shortfall, never more chips: the level at ``by`` is share x final, or what the plan had delivered by then
    when that is less (the units on hand stay). Tranches on or before ``by`` are capped at it; a tranche is placed
    at ``by`` with that level; the later ones come as planned.
    """
    if not 0.0 <= share <= 1.0:
        raise ScenarioError(f"{share} is not a share between 0 and 1", field=f"fleet[{pool}].deliveries")
    p = scenario.fleet[pool]
    final = owned_planned(p)
    planned = max([p.units] + [d.units for d in p.deliveries if d.date <= by])  # delivered by ``by`` as planned
    level = max(min(int(round(final * share)), planned), p.units)
    rows = [{"date": d.date, "units": min(d.units, level)} for d in p.deliveries if d.date < by]
    rows.append({"date": by, "units": level})
    rows += [{"date": d.date, "units": max(d.units, level)} for d in p.deliveries if d.date > by]
    return set_deliveries(scenario, pool, rows)


def slip_pool(scenario: Scenario, pool: int, days: int) -> Scenario:
    """Every planned delivery of one pool moved by ``days`` (negative: earlier)."""
    if not days:
        return scenario
    return edits.set_values(scenario, {
        f"fleet[{pool}].deliveries[{j}].date": (d.date + dt.timedelta(days=days)).isoformat()
        for j, d in enumerate(scenario.fleet[pool].deliveries)}, scenario.name)


def set_cloud(scenario: Scenario, pool: int, units: int, start: dt.date, until: dt.date,
              price_per_chip_hour_usd: float) -> Scenario:
    """The pool's rental set (units 0 removes it); other pools unchanged."""
    data = copy.deepcopy(edits.to_mapping(scenario))
    entry = data["fleet"][pool]
    if units <= 0:
        entry.pop("cloud", None)
    else:
        cloud = entry.get("cloud") or {}
        cloud.update({"units": int(units), "from": start.isoformat(), "until": until.isoformat(),
                      "price_per_chip_hour_usd": float(price_per_chip_hour_usd)})
        entry["cloud"] = cloud
    return from_dict(data, scenario.name)


# ---------------------------------------------------------------- comparing answers


def delta_text(key: str, now: float | None, base: float | None) -> str | None:
    """The change of a metric against the baseline, in its unit; shares in percentage points."""
    if now is None or base is None or now == base:
        return None
    sign = "+" if now > base else "-"
    m = BY_KEY[key]
    shown = f"{abs(now - base) * 100:.1f} pp" if m.is_share else m.fmt(abs(now - base)).lstrip("-")
    if not any(c in "123456789" for c in shown):  # a change that rounds to nothing is none ("-0.0 pp", shown falling)
        return None
    return sign + shown


def _finish(summary: Summary, q: str) -> str | None:
    return summary.finish_date.at(q) if summary.finish_date is not None else None


def _spend(summary: Summary, key: str) -> float | None:
    """``key`` (committed_usd, used_usd, idle_usd) of the summary's costs."""
    return num(getattr(summary.costs, key)) if summary.costs is not None else None


def finish_delta_days(summary: Summary, base: Summary, q: str = "p50") -> int | None:
    """Days the finish date moved against the baseline (positive: later)."""
    a, b = _finish(summary, q), _finish(base, q)
    if not a or not b or NEVER in (a, b):
        return None
    return (dt.date.fromisoformat(a) - dt.date.fromisoformat(b)).days


LOWER_BOUND_DELTA = "n/a (a lower bound)"  # a change against a figure known only as at least a value is unknown
BOUND_DELTA = "n/a (a bound)"  # ... or against one known only as at most a value, or as neither


def _bounded(a: Summary, b: Summary, key: str, q: str = "p50") -> bool:
    """Whether either summary knows ``key``'s ``q`` only as a lower bound (``Summary.at_least``)."""
    return a.bound(key, q) or b.bound(key, q)


def deltas(summary: Summary, base: Summary | None) -> dict[str, str | None]:
    """Per metric key (plus finish_date, committed_usd, used_usd) the change against ``base`` for people.

    None where either side is known only as a lower bound (replications stopped by the horizon): no change is
    known there.
    """
    if base is None:
        return {}
    out = {m.key: None if _bounded(summary, base, m.key) else delta_text(m.key, summary.value(m.key),
                                                                         base.value(m.key)) for m in METRICS}
    days = None if _bounded(summary, base, "time_to_train_days") else finish_delta_days(summary, base)
    out["finish_date"] = None if not days else f"{days:+d} d"
    for k in ("committed_usd", "used_usd"):
        out[k] = None if summary.spend_bound(k) or base.spend_bound(k) else delta_text(
            "cost_usd", _spend(summary, k), _spend(base, k))
    for k in ("training_days", "waiting_days"):  # P50s, in days as time to train's
        now, then = getattr(summary, k, None), getattr(base, k, None)
        out[k] = None if _bounded(summary, base, k) else delta_text(
            "time_to_train_days", now.at() if now is not None else None, then.at() if then is not None else None)
    return out


def ab_rows(a: Summary, b: Summary) -> list[dict[str, str]]:
    """Two answers side by side: figure, A, B, B - A."""
    rows = []

    def low(s: Summary, key: str, q: str = "p50") -> str:  # "≥ " before a figure known only as a lower bound
        return "≥ " if s.bound(key, q) else ""

    rows += [_finish_row(a, b, q, f"finish date {q.upper()}") for q in ("p10", "p50", "p90")]
    for k, label in (("committed_usd", "committed"), ("used_usd", "used"), ("idle_usd", "idle")):
        va, vb = _spend(a, k), _spend(b, k)
        bounded = a.spend_bound(k) or b.spend_bound(k)
        # idle = committed - used: at most its figure when only the used spend is a lower bound, neither bound when
        # both are (as the run's page shows it), and its change is no more known than theirs
        mark = (lambda s, k=k: "≥ " if s.spend_bound(k) else "") if k != "idle_usd" else (lambda s: s.idle_mark())
        rows.append({"figure": f"spend {label} (mean)", "A": mark(a) + BY_KEY["cost_usd"].fmt(va),
                     "B": mark(b) + BY_KEY["cost_usd"].fmt(vb),
                     "B - A": (LOWER_BOUND_DELTA if k != "idle_usd" else BOUND_DELTA) if bounded
                     else delta_text("cost_usd", vb, va) or ""})

    def shown(s: Summary, m, v) -> str:  # a time to train that never came reads "never", as on the run's page
        if v is None:
            return NEVER if m.key == "time_to_train_days" else m.fmt(v)
        return low(s, m.key) + m.fmt(v)

    for m in METRICS:
        va, vb = a.value(m.key), b.value(m.key)
        rows.append({"figure": m.label + (" (P50)" if m.distribution else ""),
                     "A": shown(a, m, va), "B": shown(b, m, vb),
                     "B - A": LOWER_BOUND_DELTA if _bounded(a, b, m.key) and None not in (va, vb)
                     else delta_text(m.key, vb, va) or ""})
    pools = [", ".join(pools_trained(s)) or UNTRAINED if s.strategy is not None or s.jobs else "" for s in (a, b)]
    rows.append({"figure": "pools used", "A": pools[0], "B": pools[1], "B - A": ""})
    rows += _job_rows(a, b)
    return rows


def _finish_row(a: Summary, b: Summary, q: str, figure: str) -> dict[str, str]:
    """The A/B row of the finish date at ``q``: "≥ " before a lower bound, ``never``, and no change against a bound."""
    da, db = _finish(a, q), _finish(b, q)
    diff = finish_delta_days(b, a, q)

    def shown(s: Summary, d: str | None) -> str:
        return ("≥ " if s.bound("time_to_train_days", q) else "") + d if d else NEVER

    return {"figure": figure, "A": shown(a, da), "B": shown(b, db),
            "B - A": LOWER_BOUND_DELTA if diff is not None and _bounded(a, b, "time_to_train_days", q)
            else "" if diff is None else f"{diff:+d} d"}


def _job_rows(a: Summary, b: Summary) -> list[dict[str, str]]:
    """A portfolio's jobs in both answers: each one's P50 finish date and its deadline share.

    The rows above are the portfolio's, until its last job finishes.
    """
    theirs = {j.name: j for j in b.jobs}
    rows = []
    for ja in a.jobs:
        jb = theirs.get(ja.name)
        if jb is None:
            continue
        rows.append(_finish_row(ja.summary, jb.summary, "p50", f"job {ja.name}: finish date P50"))
        if ja.deadline is not None or jb.deadline is not None:
            def share(j) -> str:
                if j.deadline_probability is not None:
                    return fmt_pct(j.deadline_probability)
                return f"≥ {fmt_pct(j.deadline_at_least)}" if j.deadline_at_least is not None else ""
            rows.append({"figure": f"job {ja.name}: meets its deadline ({ja.deadline or jb.deadline})",
                         "A": share(ja), "B": share(jb), "B - A": ""})
    return rows


def differences(before: Any, after: Any, path: str = "") -> list[tuple[str, Any, Any]]:
    """(field path, old, new) of every value that differs between two scenario mappings, in the file's order."""
    if isinstance(before, Mapping) and isinstance(after, Mapping):
        out = []
        for k in list(before) + [k for k in after if k not in before]:
            out += differences(before.get(k), after.get(k), f"{path}.{k}" if path else str(k))
        return out
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        out = []
        for i, (a, b) in enumerate(zip(before, after, strict=True)):
            out += differences(a, b, f"{path}[{i}]")
        return out
    names_a, names_b = _names(before), _names(after)
    if names_a is not None and names_b is not None:  # pools (or jobs, sites) added or taken out: matched by name
        out = []
        for i, name in enumerate(names_a):
            if name in names_b:
                j = names_b.index(name)
                out += differences(before[i], after[j], f"{path}[{j}]")
            else:
                out.append((f"{path}[{i}]", name, None))
        out += [(f"{path}[{j}]", None, name) for j, name in enumerate(names_b) if name not in names_a]
        return out
    return [] if before == after else [(path, before, after)]


def _names(items: Any) -> list[str] | None:
    """The names of a list of named mappings (pools, jobs, sites), when every item has its own; else None."""
    if not isinstance(items, list):
        return None
    names = [x.get("name") if isinstance(x, Mapping) else None for x in items]
    return names if all(isinstance(n, str) for n in names) and len(set(names)) == len(names) else None


def short_value(v: Any) -> str:
    """An input's value in a few words.

    Counts with separators, numbers in 6 significant digits, a list of named items by their names, another list or
    mapping by its size ("none" for nothing).
    """
    if v is None or isinstance(v, bool):
        return "none" if v is None else json.dumps(v)
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        return f"{v:,.6g}"
    if isinstance(v, str):
        return v
    if isinstance(v, list):
        names = _names(v)
        if names is not None and names:
            return "[" + ", ".join(names) + "]"
        return f"{len(v)} item{'s' if len(v) != 1 else ''}" if v else "none"
    if isinstance(v, Mapping):
        return str(v["name"]) if isinstance(v.get("name"), str) else f"{len(v)} field{'s' if len(v) != 1 else ''}"
    return str(v)


def changed_fields(before: Any, after: Any, path: str = "") -> list[str]:
    """The field paths whose values differ, as 'path: old -> new' lines in a few words (what produced a result)."""
    return [f"{p}: {short_value(a)} → {short_value(b)}" for p, a, b in differences(before, after, path)]
