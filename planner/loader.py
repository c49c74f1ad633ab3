"""Read scenario files (YAML or JSON) safely and turn every problem into one clear ScenarioError."""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
import stat
import weakref
from collections.abc import Mapping
from pathlib import Path

import yaml
from pydantic import ValidationError

from .errors import ScenarioError
from .scenario import Scenario
from .validation import FIELD_ERROR, did_you_mean
from .yamlio import LOADER, MAX_DEPTH, MAX_INT_DIGITS, clip

MAX_FILE_BYTES = 1024 * 1024  # scenario files are a few KiB; larger ones are refused before parsing


_AMBIGUOUS_KEY = re.compile(r"""[][."']""")  # a key with these would read as a path of several steps


def format_loc(loc: tuple) -> str:
    """('fleet', 1, 'deliveries', 0, 'date') -> 'fleet[1].deliveries[0].date'.

    A key that would read as more than one step (``fleet[0]`` or ``a[b]`` written as a key) is quoted:
    ``fleet[0]."a[b]"``.
    """
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            key = clip(part)  # a key is user text: cut like any quoted value
            out += ("." if out else "") + (json.dumps(key, ensure_ascii=False) if _AMBIGUOUS_KEY.search(key) else key)
    return out


def _alias(loc: tuple) -> tuple:
    # pydantic reports the python name of aliased fields; users wrote the alias
    return tuple("from" if p == "from_" else p for p in loc)


def _pydantic_step(part: object) -> bool:
    """Whether a step of a pydantic error location is pydantic's own (``function-after[...]``, a union member)."""
    return isinstance(part, str) and ("[" in part or part in {"str", "ModelArch"})


def _user_loc(loc: tuple, data: object = None, key_last: bool = False) -> tuple:
    """The steps of ``loc`` the user wrote: pydantic's own steps (union members, validators) left out.

    A step is the user's when it is a key (or index) of ``data`` where the path has got to, so a key with a
    ``[`` in it (``fleet[0]``, ``a[b]``) is still named; past what ``data`` holds (a value a validator
    rewrote) the steps are told apart by their form. ``key_last``: the last step is the user's key (an
    unknown key).
    """
    out, cur, lost = [], data, data is None
    for i, part in enumerate(loc):
        if not lost and isinstance(cur, dict) and part in cur:
            out.append(part)
            cur = cur[part]
        elif not lost and isinstance(cur, list) and isinstance(part, int) and 0 <= part < len(cur):
            out.append(part)
            cur = cur[part]
        elif (key_last and i == len(loc) - 1) or not _pydantic_step(part):
            out.append(part)
            lost = True  # a step the data does not have: from here on, tell the steps apart by their form
    return tuple(out)


@functools.cache
def _schema() -> dict:
    return Scenario.model_json_schema(by_alias=True)


def _keys_at(loc: tuple) -> list[str]:
    """The keys the scenario format takes at ``loc`` (the user's steps): what an unknown key there may have meant.

    Walks the format's JSON Schema; a union (a preset id or an architecture) offers the keys of every member
    that is a mapping.
    """
    root = _schema()

    def members(node: dict) -> list[dict]:
        if "$ref" in node:
            return members(root["$defs"][node["$ref"].rsplit("/", 1)[-1]])
        out = [node]
        for key in ("anyOf", "oneOf", "allOf"):
            for sub in node.get(key, ()):
                out.extend(members(sub))
        return out

    nodes = members(root)
    for part in loc:
        step = []
        for node in nodes:
            if isinstance(part, int) and isinstance(node.get("items"), dict):
                step.extend(members(node["items"]))
            elif isinstance(part, str) and part in node.get("properties", {}):
                step.extend(members(node["properties"][part]))
        nodes = step
    return sorted({k for node in nodes for k in node.get("properties", {})})


def _misspelt(missing: dict, errors: list[dict], data: object) -> str:
    """A required field's hint: a key beside it that is not part of the format and looks like it (else "").

    Pydantic names the missing field first: ``seq_lenn`` read only "seq_len: required field is missing".
    """
    want = _alias(missing["loc"])
    for e in errors:
        if e["type"] != "extra_forbidden":
            continue
        loc = _alias(e["loc"])
        if loc[:-1] == want[:-1] and isinstance(loc[-1], str) and isinstance(want[-1], str) \
                and did_you_mean(loc[-1], [want[-1]]):
            return f" ({clip(loc[-1], 40)!r} beside it is not part of the format: a misspelling?)"
    return ""


def _describe(err: dict, data: object = None) -> tuple[str, str]:
    """One pydantic error -> (field path, reason); a ``field_error`` names a sub-path of its model.

    ``data`` is the mapping validated, to tell the user's keys from pydantic's own steps in the location.
    """
    loc = _user_loc(_alias(err["loc"]), data, key_last=err["type"] == "extra_forbidden")
    msg = err["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    if err["type"] == FIELD_ERROR:
        sub, path = err["ctx"]["path"], format_loc(loc)
        return (f"{path}.{sub}" if path else sub), err["ctx"]["message"]
    if err["type"] == "extra_forbidden":
        msg = "unknown key (not part of the scenario format)"
        if loc and isinstance(loc[-1], str):
            msg += did_you_mean(loc[-1], _keys_at(loc[:-1]))
    elif err["type"] == "missing":
        msg = "required field is missing"
    elif err["type"] in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        # a bound like 1/24 reads 0.0416667, not 0.041666666666666664
        msg = re.sub(r"\d+\.\d{7,}", lambda m: f"{float(m.group()):.6g}", msg) + f" (got {clip(repr(err['input']))})"
        got, bound = err.get("input"), (err.get("ctx") or {}).get("le", (err.get("ctx") or {}).get("lt"))
        if bound == 1 and isinstance(got, (int, float)) and not isinstance(got, bool) and 2 <= got <= 100:
            msg += f"; a share is written as a fraction: {got:g}% is {got / 100:g}"  # 30 meant as 30%
    elif "input" in err and err["type"] not in ("model_type", "dict_type", "list_type"):
        got = err["input"]
        msg = f"{msg} (got {clip(_as_written(got))})"
    return format_loc(loc), msg


def _as_written(value: object, room: int = 400) -> str:
    """A value as the scenario file writes it: a date as YYYY-MM-DD, true / false / null, anything else its repr.

    Lists and mappings in YAML's flow style, their items alike (a date in a list of 19,000 power steps read
    ``datetime.date(2025, 3, 1)``); cut after about ``room`` characters (the message clips it anyway).
    """
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "null"}[value]
    if isinstance(value, (list, tuple, Mapping)):
        items = value.items() if isinstance(value, Mapping) else value
        parts, used = [], 0
        for x in items:
            key = (x[0] if isinstance(x[0], str) else _as_written(x[0], room)) if isinstance(value, Mapping) else ""
            part = (f"{key}: {_as_written(x[1], room)}" if isinstance(value, Mapping)
                    else _as_written(x, room))
            parts.append(part)
            used += len(part) + 2
            if used > room:
                parts.append("...")
                break
        return ("{%s}" if isinstance(value, Mapping) else "[%s]") % ", ".join(parts)
    return repr(value)


_UNION_BRANCHES = {"str": str, "ModelArch": Mapping}  # a model is a preset id or an explicit architecture


def _branch(part: object) -> str | None:
    """The member of a ``str | ModelArch`` union a step of an error location names, if it names one.

    Pydantic names the members ``str`` and ``ModelArch`` (``function-after[_check(), ModelArch]`` with its
    validator).
    """
    if not isinstance(part, str):
        return None
    if part in _UNION_BRANCHES:
        return part
    if part.startswith("function-after[") and part.endswith(", ModelArch]"):
        return "ModelArch"
    return None


def _wrong_branch(err: dict, data: object) -> bool:
    """Whether ``err`` is the failure of the union member the input was not written for.

    A mapping was meant as an explicit architecture, a string as a preset id: the other member's failure
    (``Input should be a valid string`` for a mapping) says nothing about what is wrong.
    """
    cur = data
    for part in err["loc"]:
        if isinstance(cur, dict) and part in cur:  # a key the user wrote (one named ``str`` too)
            cur = cur[part]
        elif isinstance(cur, list) and isinstance(part, int) and 0 <= part < len(cur):
            cur = cur[part]
        elif (member := _branch(part)) is not None:
            kinds = tuple(_UNION_BRANCHES.values())
            return isinstance(cur, kinds) and not isinstance(cur, _UNION_BRANCHES[member])
        elif not _pydantic_step(part):
            return False  # past what the data holds
    return False


def _pick(errors: list[dict], data: object = None) -> dict:
    """Choose the most helpful of several errors (a union of preset-id and explicit architecture fails twice).

    Of a ``str | ModelArch`` union only the member the input was written for counts: a mapping's errors are
    the architecture's (with their field paths, ``workload.model.mlp``), a string's the preset id's.
    """
    errors = [e for e in errors if not _wrong_branch(e, data)] or errors
    for e in errors:
        if e["type"] == FIELD_ERROR or e["msg"].startswith("Value error, "):
            return e
    return errors[0]


def _json_pairs(pairs: list) -> dict:
    out: dict = {}
    for k, v in pairs:
        if k in out:
            raise ValueError(f"key {clip(k)!r} appears twice")
        out[k] = v
    return out


def _json_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise ValueError(f"an integer of {len(text.lstrip('-')):,} digits is too long")
    return int(text)


def _json_depth(text: str) -> int:
    """Deepest nesting of brackets outside strings (json.loads would recurse that deep)."""
    depth = deepest = 0
    in_str = esc = False
    for ch in text:
        if in_str:
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def parse_text(text: str, path: str, suffix: str = "") -> dict:
    """Parse YAML or JSON text to a mapping, or raise ScenarioError."""
    kind = "JSON" if suffix == ".json" else "YAML"
    try:
        if suffix == ".json":
            if _json_depth(text) > MAX_DEPTH:
                raise ValueError(f"nested more than {MAX_DEPTH} levels deep")
            data = json.loads(text, object_pairs_hook=_json_pairs, parse_int=_json_int)
        else:
            data = yaml.load(text, Loader=LOADER)  # noqa: S506 - a SafeLoader subclass
    except (yaml.YAMLError, ValueError) as exc:  # json.JSONDecodeError is a ValueError
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        reason = getattr(exc, "problem", None) or getattr(exc, "msg", None) or str(exc).splitlines()[0]
        if "maximum nesting depth" in str(reason):  # PyYAML 6.0.4's own limit (deeper than ours) fires first
            reason = f"nested more than {MAX_DEPTH} levels deep"
        if isinstance(exc, json.JSONDecodeError):
            where = f"line {exc.lineno}, column {exc.colno}: "
        raise ScenarioError(f"{where}not valid {kind}: {clip(reason, 200)}", path=path) from None
    except RecursionError:
        raise ScenarioError(f"not valid {kind}: nested too deeply", path=path) from None
    if not isinstance(data, dict):
        raise ScenarioError("the file must hold a mapping with name, workload and fleet", path=path)
    return data


_SOURCES: dict[int, str] = {}  # id of a validated scenario -> the file it was read from (while it lives)


def _remember(scenario: Scenario, path: str) -> None:
    key = id(scenario)
    _SOURCES[key] = path
    weakref.finalize(scenario, _SOURCES.pop, key, None)  # the id may name another object once this one is gone


_FILES: dict[int, tuple[Path, ...]] = {}  # id of a scenario read by load_scenario -> the files it was read from


def input_files(scenario: Scenario) -> tuple[Path, ...]:
    """The files :func:`load_scenario` read ``scenario`` from: the scenario file, then its delivery sheets (() else).

    An output folder must hold none of them (planner.ownership.refuse_inputs): replacing it would delete them.
    """
    return _FILES.get(id(scenario), ())


def source_of(scenario: Scenario) -> str | None:
    """The file (or name) ``scenario`` was validated under by :func:`from_dict` or :func:`load_scenario`.

    None for one validated without a name. What-if edits (planner/edits.py) name it in their errors, so that a
    point of a sensitivity or a goal seek that cannot be built is told by the file, not the scenario's name.
    """
    return _SOURCES.get(id(scenario))


_SURROGATE = re.compile("[\ud800-\udfff]")


def _key_text(key: object) -> str:
    """A mapping key that is not text, as a reader wrote it (``true``, ``1``, ``null``, ``2025-01-01``)."""
    if key is None:
        return "null"
    if isinstance(key, bool):
        return f"{str(key).lower()} (a boolean)"
    if isinstance(key, (int, float)):
        return f"{clip(repr(key), 40)} (a number)"
    if isinstance(key, (dt.date, dt.datetime)):
        return f"{key.isoformat()} (a date)"
    return f"{clip(repr(key), 40)} ({type(key).__name__})"


def check_text(data: object, field: str = "") -> None:
    """Every key is text, and no key or text holds a lone surrogate; raises ``_TextProblem`` (field, reason).

    The caller names the file. JSON may write a lone surrogate as an escape, which no file, page or terminal can
    encode (the validation's own messages failed on it).
    """
    stack = [(data, field)]
    while stack:
        value, at = stack.pop()
        if isinstance(value, Mapping):
            for k, v in value.items():
                if not isinstance(k, str):
                    raise _TextProblem(at, f"key {_key_text(k)}{' here' if at else ' at the top level'}: "
                                           "keys must be text (quote it)")
                where = f"{at}.{k}" if at else k
                if _SURROGATE.search(k):
                    shown = clip(k.encode("utf-8", "backslashreplace").decode("ascii", "backslashreplace"), 60)
                    raise _TextProblem(at, f"key '{shown}' is not valid text: it holds a lone surrogate")
                stack.append((v, where))
        elif isinstance(value, list):
            stack.extend((v, f"{at}[{i}]") for i, v in enumerate(value))
        elif isinstance(value, str) and _SURROGATE.search(value):
            raise _TextProblem(at, "not valid text: it holds a lone surrogate "
                                   f"(U+{ord(_SURROGATE.search(value).group()):04X})")


class _TextProblem(ValueError):
    def __init__(self, field: str, reason: str):
        super().__init__(reason)
        self.field, self.reason = field, reason


def from_dict(data: dict, path: str = "<scenario>") -> Scenario:
    """Validate a mapping as a Scenario, or raise ScenarioError naming the field."""
    try:
        check_text(data)
    except _TextProblem as exc:
        raise ScenarioError(exc.reason, path=path, field=exc.field or None) from None
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        picked = _pick(errors, data)
        field, reason = _describe(picked, data)
        if picked["type"] == "missing":
            reason += _misspelt(picked, errors, data)
        raise ScenarioError(reason, path=path, field=field or None) from None
    except (ValueError, TypeError, OverflowError, RecursionError) as exc:
        raise ScenarioError(clip(exc, 300), path=path) from None
    if path != "<scenario>":
        _remember(scenario, path)
    return scenario


def parse_bytes(data: bytes, name: str) -> dict:
    """A scenario file's bytes (YAML or JSON by the name's suffix) -> its mapping, not yet validated."""
    if len(data) > MAX_FILE_BYTES:
        raise ScenarioError(f"file is larger than {MAX_FILE_BYTES // 1024 // 1024} MiB", path=name)
    try:
        text = data.decode("utf-8-sig")  # a byte-order mark (Notepad, PowerShell 5's UTF-8) is not part of the text
    except UnicodeDecodeError:
        raise ScenarioError("the file is not UTF-8 text", path=name) from None
    return parse_text(text, name, Path(name).suffix.lower())


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate one scenario file."""
    p = Path(path)
    name = str(path)
    try:
        mode = p.stat().st_mode
    except OSError as exc:
        raise ScenarioError("no such file" if isinstance(exc, FileNotFoundError) else
                            f"cannot read the file: {exc.strerror or exc}", path=name) from None
    if not stat.S_ISREG(mode):
        what = ("a folder" if stat.S_ISDIR(mode) else "a named pipe (FIFO)" if stat.S_ISFIFO(mode)
                else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "a socket" if stat.S_ISSOCK(mode)
                else "not a regular file")
        raise ScenarioError(f"is {what}, not a scenario file", path=name)
    if p.stat().st_size > MAX_FILE_BYTES:
        raise ScenarioError(f"file is larger than {MAX_FILE_BYTES // 1024 // 1024} MiB", path=name)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise ScenarioError(f"cannot read the file: {exc.strerror or exc}", path=name) from None
    from .deliveries_file import files_named, resolve, sheet_error

    # deliveries: {file: ...} is read relative to the scenario file, before validation
    raw = parse_bytes(data, name)
    origins: dict = {}
    try:
        scenario = from_dict(resolve(raw, p.parent, name, origins), name)
    except ScenarioError as exc:
        raise sheet_error(exc, origins) from None
    key = id(scenario)
    _FILES[key] = (p, *files_named(raw, p.parent))
    weakref.finalize(scenario, _FILES.pop, key, None)
    for i, pool in enumerate(scenario.fleet):  # the file's own pins: bad input (a sweep's point: no layout fits)
        problem = pool.pins_problem()
        if problem:
            raise ScenarioError(problem, path=name, field=f"fleet[{i}].parallelism")
    return scenario
