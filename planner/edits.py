"""What-if edits of a validated scenario, addressed by the field paths the error messages use.

``fleet[1].cloud.units``, ``fleet[0].deliveries[1].units`` and ``workload.tokens`` name one value each.
Every edit returns a new, re-validated ``Scenario``; the original is never changed. ``planner sweep
--set``, ``planner solve --vary`` and the app's controls all go through here.
"""

from __future__ import annotations

import copy
import datetime as dt
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

import yaml

from .errors import ScenarioError
from .loader import from_dict, source_of
from .scenario import FIRST_DAY, LAST_DAY, Scenario
from .yamlio import MAX_DEPTH, clip, safe_load

_PART = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)((?:\[[0-9]+\])*)")  # ASCII digits only (not Arabic-Indic)
MAX_PATH_CHARS = 200


def parse_path(path: str) -> tuple[str | int, ...]:
    """``fleet[1].cloud.units`` -> ('fleet', 1, 'cloud', 'units'); ScenarioError when malformed."""
    if not path or len(path) > MAX_PATH_CHARS:
        raise ScenarioError(f"a field path must have 1 to {MAX_PATH_CHARS} characters", field=path[:80] or None)
    out: list[str | int] = []
    for piece in path.split("."):
        m = _PART.fullmatch(piece)
        if not m:
            raise ScenarioError(f"{path!r} is not a field path such as fleet[1].cloud.units", field=path)
        out.append(m.group(1))
        out.extend(int(i) for i in re.findall(r"\[([0-9]+)\]", m.group(2)))
    return tuple(out)


def format_path(parts: Iterable[str | int]) -> str:
    """('fleet', 1, 'cloud') -> 'fleet[1].cloud'."""
    text = ""
    for p in parts:
        text += f"[{p}]" if isinstance(p, int) else ("." if text else "") + p
    return text


def to_mapping(scenario: Scenario) -> dict:
    """The scenario as the mapping a user would have written (only the fields that were set)."""
    return scenario.model_dump(mode="json", by_alias=True, exclude_unset=True)


def get_value(data: Mapping, path: str) -> Any:
    """The value at ``path`` in a scenario mapping; ScenarioError when it is not there."""
    cur: Any = data
    parts = parse_path(path)
    for i, key in enumerate(parts):
        where = format_path(parts[: i + 1])
        if isinstance(key, int):
            if not isinstance(cur, list):
                raise ScenarioError(f"{format_path(parts[:i]) or 'the scenario'} is not a list: it has no item {key}",
                                    field=where)
            if key >= len(cur):
                raise ScenarioError(f"no such item (the list has {len(cur)})", field=where)
            cur = cur[key]
        else:
            if not isinstance(cur, Mapping) or key not in cur:
                raise ScenarioError("not set in this scenario", field=where)
            cur = cur[key]
    return cur


def value_of(scenario: Scenario, path: str) -> Any:
    """The value at ``path`` in the scenario: as the file set it, else the format's default (None: none).

    A field the file leaves at its default can be swept or solved for (``reliability.mtbf_chip_days`` of a file
    that writes only ``reliability: {enabled: true}``); a path that is no field of the format is refused as
    ``get_value`` refuses it.
    """
    try:
        return get_value(to_mapping(scenario), path)
    except ScenarioError as unset:
        full = scenario.model_dump(mode="json", by_alias=True)
        try:
            return get_value(full, path)
        except ScenarioError:
            pass
        parts = parse_path(path)
        if _job_strategy(parts) and get_value(full, format_path(parts[:3])) is None:
            # a job without a `strategy:` of its own trains by the scenario's: its fields are those
            return get_value(full, format_path(("strategy", *parts[3:])))
        parts, cur = parse_path(path), full
        for i, key in enumerate(parts):
            # a key the format's section lacks, or a path past a value: no field; a section left out (None), an
            # item the list lacks: said as get_value says it
            if (cur is not None and not isinstance(cur, (Mapping, list))) or (
                    isinstance(cur, Mapping) and isinstance(key, str) and key not in cur):
                raise ScenarioError("no such field in the scenario format", field=format_path(parts[: i + 1])) from None
            if not (isinstance(cur, Mapping) and isinstance(key, str)
                    or isinstance(cur, list) and isinstance(key, int) and key < len(cur)):
                break
            cur = cur[key]
        raise unset from None


def _job_strategy(parts: tuple[str | int, ...]) -> bool:
    """Whether ``parts`` goes through a job's strategy section (``jobs[i].strategy...``)."""
    return len(parts) >= 3 and parts[0] == "jobs" and isinstance(parts[1], int) and parts[2] == "strategy"


def _set(data: dict, parts: tuple[str | int, ...], value: Any) -> None:
    cur: Any = data
    for i, key in enumerate(parts):
        last = i == len(parts) - 1
        where = format_path(parts[: i + 1])
        if isinstance(key, int):
            if not isinstance(cur, list):
                raise ScenarioError(f"{format_path(parts[:i]) or 'the scenario'} is not a list: it has no item {key}",
                                    field=where)
            if key >= len(cur):
                raise ScenarioError(f"no such item (the list has {len(cur)})", field=where)
            if last:
                cur[key] = value
            else:
                cur = cur[key]
        else:
            if not isinstance(cur, dict):
                raise ScenarioError("cannot set a field inside a value that is not a section", field=where)
            if last:
                cur[key] = value
            else:
                nxt = parts[i + 1]
                if key not in cur or cur[key] is None:
                    if isinstance(nxt, int):
                        raise ScenarioError("not set in this scenario", field=where)
                    # a job's own strategy starts as the scenario's, which it trained by (a job's `strategy:`
                    # replaces the scenario's whole: {mode: single} alone would drop its objective and thresholds)
                    cur[key] = copy.deepcopy(data.get("strategy") or {}) if _job_strategy(parts[: i + 2]) else {}
                cur = cur[key]


def parse_value(text: str) -> Any:
    """A value typed on the command line, read as YAML (``4096``, ``1.5e12``, ``2025-03-01``, ``true``).

    ScenarioError (naming the value) when it is not YAML the scenario loader reads: an undefined alias
    (``*x``), a Python tag (``!!python/object:os.system``), nesting deeper than the loader's bound.
    """
    try:
        value = safe_load(text) if text.strip() else text
    except (yaml.YAMLError, ValueError, RecursionError) as exc:
        reason = getattr(exc, "problem", None) or (str(exc).splitlines() or [type(exc).__name__])[0]
        if "maximum nesting depth" in str(reason) or isinstance(exc, RecursionError):
            reason = f"nested more than {MAX_DEPTH} levels deep"
        raise ScenarioError(f"cannot read the value {clip(text)!r}: not valid YAML: {clip(reason, 200)}") from None
    return value.isoformat() if isinstance(value, dt.date) else value


def field_bounds(model, name: str, scale: float = 1.0) -> tuple[float | None, float | None]:
    """(lowest, highest) value field ``name`` of the pydantic ``model`` takes, in units of ``scale``.

    Its constraints in planner/scenario.py; an exclusive bound (``gt=0``) becomes the next float inside it.
    """
    lo = hi = None
    for c in model.model_fields[name].metadata:
        for attr, inside in (("ge", None), ("gt", math.inf), ("le", None), ("lt", -math.inf)):
            bound = getattr(c, attr, None)
            if bound is None:
                continue
            value = bound / scale if scale != 1.0 else bound
            if inside is not None:
                value = math.nextafter(float(value), inside)
            if attr in ("ge", "gt"):
                lo = value if lo is None else max(lo, value)
            else:
                hi = value if hi is None else min(hi, value)
    return lo, hi


def capped(model, name: str, value: float) -> float:
    """``value`` within the bounds field ``name`` of ``model`` takes (a sensitivity's swing never leaves the format)."""
    lo, hi = field_bounds(model, name)
    if hi is not None and value > hi:
        value = hi
    if lo is not None and value < lo:
        value = lo
    return value


def set_values(scenario: Scenario, edits: Mapping[str, Any] | Iterable[tuple[str, Any]],
               name: str | None = None, drop_zeroed: bool = False) -> Scenario:
    """A new scenario with each ``path: value`` of ``edits`` applied, validated as a whole.

    ``name`` is the file its errors name (default: the file ``scenario`` was read from, planner.loader.source_of).
    ``drop_zeroed``: a pool whose owned units an edit set to 0, with no delivery and no rental, leaves the fleet (a
    sweep's or a goal seek's point; an editor keeps every pool where it is, and is told the pool has no chips).
    """
    name = name or source_of(scenario) or "<edited scenario>"
    data = copy.deepcopy(to_mapping(scenario))
    before, edited = _sites_used(data), []
    zeroed = set()  # pools an edit set to own no chips on day 0 (``fleet[i].units: 0``)
    for path, value in (edits.items() if isinstance(edits, Mapping) else edits):
        parts = parse_path(path)
        _set(data, parts, value)
        edited.append(format_path(parts))
        if drop_zeroed and len(parts) == 3 and parts[0] == "fleet" and parts[2] == "units" and value == 0:
            pool = _get_or_none(data, parts[:2])
            if isinstance(pool, dict):
                zeroed.add(pool.get("name"))
    dropped = _drop_empty_rentals(data, name, before, "once its chips are set to 0 (units or cloud.units)",
                                  zeroed=zeroed)
    return _validated(data, name, dropped, edited)


def _get_or_none(data: object, parts: list) -> object:
    """The value at ``parts`` of ``data`` (None when the path is not there)."""
    for part in parts:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def _owns_chips(pool: dict) -> bool:
    """Whether a pool (as written) has chips of its own: units on day 0 or a delivery."""
    deliveries = pool.get("deliveries")
    delivered = [d.get("units") for d in deliveries if isinstance(d, dict)] if isinstance(deliveries, list) else []
    return any([pool.get("units"), *delivered])


def _empty_rental(pool: object) -> bool:
    """Whether a pool (as written) rents 0 units: ``cloud: {units: 0}``."""
    cloud = pool.get("cloud") if isinstance(pool, dict) else None
    return isinstance(cloud, dict) and cloud.get("units") == 0


def _sites_used(data: Mapping) -> list:
    """The site of each pool of a scenario mapping (``default`` when a pool names none)."""
    fleet = data.get("fleet")
    return [p.get("site", "default") for p in fleet if isinstance(p, dict)] if isinstance(fleet, list) else []


def _drop_empty_rentals(data: dict, source: str, before: list | None = None,
                        why: str = "once the rental is set to 0 units", zeroed: set | None = None) -> list[str]:
    """``cloud.units: 0`` means renting nothing: the cloud goes, and so does a pool with nothing else.

    So a sweep or a goal seek over ``fleet[i].cloud.units`` can start at 0; and over ``fleet[i].units`` too: a pool
    in ``zeroed`` (an edit set its units to 0) that rents nothing and has no delivery goes as an empty rental does
    (a sweep to 0 owned chips beside a rental was refused whole: "pool has no chips"). What names a dropped pool
    goes with it: its entry in each job's ``pools``, and the ``sites:`` entries and links of a site no pool is at any
    more (of those in ``before``, the sites the pools were at before the edit). A job whose every pool is
    such an empty rental keeps them, at 0 units: it has no chips to train on, so the point never finishes
    (`no layout fits`), as ``planner run`` of the edited file says. Returns the names of the pools dropped.
    """
    fleet = data.get("fleet")
    if not isinstance(fleet, list):
        return []
    zeroed = zeroed or set()

    def nothing(pool: object) -> bool:  # an empty rental, or an owned pool an edit emptied that rents nothing
        return _empty_rental(pool) or (isinstance(pool, dict) and pool.get("name") in zeroed
                                       and "cloud" not in pool and not _owns_chips(pool))

    empty = [p.get("name") for p in fleet if nothing(p) and not _owns_chips(p)]
    jobs = [j for j in data.get("jobs") or [] if isinstance(j, dict) and isinstance(j.get("pools"), list)]
    # a job left without any pool keeps its empty rentals: it can train nowhere, a point that never finishes
    needed = [n for j in jobs if j["pools"] and all(n in empty for n in j["pools"]) for n in j["pools"]]
    kept, dropped = [], []
    for pool in fleet:
        if nothing(pool) and pool.get("name") not in needed:
            pool.pop("cloud", None)
            if not _owns_chips(pool):
                dropped.append(pool.get("name"))
                continue
        kept.append(pool)
    if not kept:
        if not fleet:  # the edit itself left the fleet empty (``--set 'fleet=[]'``): no rental is involved
            raise ScenarioError("the fleet is empty: give at least one pool", path=source, field="fleet")
        raise ScenarioError(f"no pool is left {why}", path=source, field="fleet")
    data["fleet"] = kept
    if dropped:
        for j in jobs:
            j["pools"] = [n for n in j["pools"] if n not in dropped]
    _drop_dangling_sites(data, _sites_used(data) if before is None else before)
    return [n for n in dropped if isinstance(n, str)]


def _drop_dangling_sites(data: dict, before: list) -> None:
    """Links and ``sites:`` entries of a site that no pool uses any more go with the pools an edit removed.

    Only the sites of ``before`` (where pools were): a site an edit named that no pool was ever at is left to
    the validator, which says so.
    """
    sites = _sites_used(data)
    gone = [s for s in before if s not in sites]
    links = data.get("links")
    if isinstance(links, list):
        data["links"] = [lk for lk in links if not isinstance(lk, dict) or not isinstance(lk.get("sites"), list)
                         or not any(x in gone for x in lk["sites"])]
    entries = data.get("sites")
    if isinstance(entries, list):
        data["sites"] = [s for s in entries if not isinstance(s, dict) or s.get("name") not in gone]


def _validated(data: dict, source: str, dropped: list[str], edited: Iterable[str] = ()) -> Scenario:
    """``data`` validated; an error a dropped rental may have caused says which pools were left out.

    (Not an error in one of the ``edited`` paths themselves: that one is the value's own.)
    """
    try:
        return from_dict(data, source)
    except ScenarioError as exc:
        if not dropped or exc.field in edited:
            raise
        names = ", ".join(repr(clip(n, 64)) for n in dropped)
        raise ScenarioError(f"{exc.reason} (pool{'s' if len(dropped) > 1 else ''} {names} left out: renting 0 units "
                            "and owning no chips)", path=exc.path, field=exc.field) from None


# ---------------------------------------------------------------- higher-level what-ifs


def scale_cloud(scenario: Scenario, factor: float, source: str | None = None) -> Scenario:
    """Every pool's rented units times ``factor``; at 0 the rental goes, and so does a pool with nothing else.

    As with ``cloud.units: 0`` in :func:`set_values`, the pool goes from the jobs' ``pools`` and its site from
    ``sites:`` and links when no other pool is there. ``source`` is the file errors name (default: the one
    ``scenario`` was read from).
    """
    if factor == 1.0:
        return scenario
    source = source or source_of(scenario) or scenario.name
    data = copy.deepcopy(to_mapping(scenario))
    before = _sites_used(data)
    for pool in data["fleet"]:
        cloud = pool.get("cloud")
        if cloud:
            cloud["units"] = max(0, int(round(cloud["units"] * factor)))  # below one unit: nothing rented
    dropped = _drop_empty_rentals(data, source, before, "once the cloud is removed")
    return _validated(data, source, dropped)


def slip_deliveries(scenario: Scenario, days: int, source: str | None = None) -> Scenario:
    """Every planned delivery of owned chips moved by ``days`` (negative: earlier).

    ``source`` is the file errors name (default: the one ``scenario`` was read from).
    """
    if not days:
        return scenario
    edits = {}
    for i, pool in enumerate(scenario.fleet):
        for j, d in enumerate(pool.deliveries):
            edits[f"fleet[{i}].deliveries[{j}].date"] = _slipped(d.date, days).isoformat()
    return set_values(scenario, edits, source or source_of(scenario) or scenario.name)


def _slipped(day: dt.date, days: int) -> dt.date:
    """``day`` moved by ``days``, held within the calendar the format takes (FIRST_DAY to LAST_DAY)."""
    ordinal = min(max(day.toordinal() + days, FIRST_DAY.toordinal()), LAST_DAY.toordinal())
    return dt.date.fromordinal(ordinal)


def slip_held(scenario: Scenario, days: int) -> bool:
    """Whether moving the deliveries by ``days`` holds one within the format's calendar (``slip_deliveries``).

    A delivery on 2262-04-05 moved 90 days later would be past the last day the format takes: the sensitivity's
    swing failed, naming a date the file never held.
    """
    return any(not FIRST_DAY.toordinal() <= d.date.toordinal() + days <= LAST_DAY.toordinal()
               for p in scenario.fleet for d in p.deliveries)
