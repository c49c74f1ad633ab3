"""What-if edits of a validated scenario, addressed by the field paths the error messages use.

``fleet[1].cloud.units``, ``fleet[0].deliveries[1].units`` and ``workload.tokens`` name one value each.
Every edit returns a new, re-validated ``Scenario``; the original is never changed. ``planner sweep
--set``, ``planner solve --vary`` and the app's controls all go through here.
"""

from __future__ import annotations

import copy
import datetime as dt
import re
from collections.abc import Iterable, Mapping
from typing import Any

import yaml

from .errors import ScenarioError
from .loader import from_dict
from .scenario import Scenario
from .yamlio import MAX_DEPTH, clip, safe_load

_PART = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)((?:\[\d+\])*)")
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
        out.extend(int(i) for i in re.findall(r"\[(\d+)\]", m.group(2)))
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
            if not isinstance(cur, list) or key >= len(cur):
                raise ScenarioError(f"no such item (the list has {len(cur) if isinstance(cur, list) else 0})",
                                    field=where)
            cur = cur[key]
        else:
            if not isinstance(cur, Mapping) or key not in cur:
                raise ScenarioError("not set in this scenario", field=where)
            cur = cur[key]
    return cur


def _set(data: dict, parts: tuple[str | int, ...], value: Any) -> None:
    cur: Any = data
    for i, key in enumerate(parts):
        last = i == len(parts) - 1
        where = format_path(parts[: i + 1])
        if isinstance(key, int):
            if not isinstance(cur, list) or key >= len(cur):
                raise ScenarioError(f"no such item (the list has {len(cur) if isinstance(cur, list) else 0})",
                                    field=where)
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
                    cur[key] = {}
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


def set_values(scenario: Scenario, edits: Mapping[str, Any] | Iterable[tuple[str, Any]],
               name: str = "<edited scenario>") -> Scenario:
    """A new scenario with each ``path: value`` of ``edits`` applied, validated as a whole."""
    data = copy.deepcopy(to_mapping(scenario))
    for path, value in (edits.items() if isinstance(edits, Mapping) else edits):
        _set(data, parse_path(path), value)
    _drop_empty_rentals(data)
    return from_dict(data, name)


def _drop_empty_rentals(data: dict) -> None:
    """``cloud.units: 0`` means renting nothing: the cloud goes, and so does a pool with nothing else.

    So a sweep or a goal seek over ``fleet[i].cloud.units`` can start at 0.
    """
    fleet = data.get("fleet")
    if not isinstance(fleet, list):
        return
    kept = []
    for pool in fleet:
        cloud = pool.get("cloud") if isinstance(pool, dict) else None
        if isinstance(cloud, dict) and cloud.get("units") == 0:
            del pool["cloud"]
            if not any([pool.get("units")] + [d.get("units") for d in pool.get("deliveries") or []
                                              if isinstance(d, dict)]):
                continue
        kept.append(pool)
    if not kept:
        raise ScenarioError("no pool is left once the rental is set to 0 units", field="fleet")
    data["fleet"] = kept
    _drop_dangling_links(data)


def _drop_dangling_links(data: dict) -> None:
    """Links to a site that no pool uses any more go with the pools an edit removed."""
    sites = {p.get("site", "default") for p in data.get("fleet", []) if isinstance(p, dict)}
    links = data.get("links")
    if isinstance(links, list):
        data["links"] = [lk for lk in links if not isinstance(lk, dict)
                         or all(x in sites for x in lk.get("sites") or [])]


# ---------------------------------------------------------------- higher-level what-ifs


def scale_cloud(scenario: Scenario, factor: float) -> Scenario:
    """Every pool's rented units times ``factor``; at 0 the rental goes, and so does a pool with nothing else."""
    if factor == 1.0:
        return scenario
    data = copy.deepcopy(to_mapping(scenario))
    kept = []
    for pool in data["fleet"]:
        cloud = pool.get("cloud")
        if cloud:
            units = int(round(cloud["units"] * factor))
            if units >= 1:
                cloud["units"] = units
            else:
                del pool["cloud"]
                if not any([pool.get("units")] + [d["units"] for d in pool.get("deliveries") or []]):
                    continue  # a cloud-only pool with no cloud left
        kept.append(pool)
    if not kept:
        raise ScenarioError("no pool is left once the cloud is removed", field="fleet")
    data["fleet"] = kept
    _drop_dangling_links(data)
    return from_dict(data, scenario.name)


def slip_deliveries(scenario: Scenario, days: int) -> Scenario:
    """Every planned delivery of owned chips moved by ``days`` (negative: earlier)."""
    if not days:
        return scenario
    edits = {}
    for i, pool in enumerate(scenario.fleet):
        for j, d in enumerate(pool.deliveries):
            edits[f"fleet[{i}].deliveries[{j}].date"] = (d.date + dt.timedelta(days=days)).isoformat()
    return set_values(scenario, edits, scenario.name)
