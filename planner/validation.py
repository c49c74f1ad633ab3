"""Validation errors that name a field below the one being validated.

A model validator that finds a problem in one of its fields raises ``field_error("deliveries[2].date",
"...")``; the loader appends that sub-path to the location pydantic reports, so the user reads
``fleet[0].deliveries[2].date: ...``.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
import unicodedata
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from .yamlio import clip

FIELD_ERROR = "planner_field"


def looks_like(text: str) -> str:
    """What a name shows: NFKC-normalised, without invisible format and control characters.

    Two names that differ only by a zero-width space (U+200B), a soft hyphen (U+00AD), a byte-order mark (U+FEFF) or
    a compatibility form (fullwidth letters, ligatures) print the same in every table and chart: a reader could
    not tell which pool or site a row is about.
    """
    kept = "".join(" " if c in BLANK_LETTERS else c for c in text if unicodedata.category(c) not in ("Cf", "Cc"))
    shown = unicodedata.normalize("NFKC", kept)
    return " ".join(shown.split())  # runs of spaces (any Unicode space) print alike, and none at either end shows


# letters and symbols that draw as a space (Unicode's Hangul fillers and the blank Braille pattern): a name of them
# showed blank, and "pool\u2800a" beside "pool a" printed the same
BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")


def _visible(name: str) -> str:
    """Refuse a name that shows nothing: only spaces, invisible or control characters, or marks with no letter."""
    shown = looks_like(name)
    if not shown or all(unicodedata.category(c).startswith("M") or c.isspace() for c in shown):
        raise ValueError("must show something: it is blank (only spaces, invisible or control characters)")
    if brk := next((c for c in name if c in LINE_BREAKS), None):
        raise ValueError(f"must be one line: it holds a line break (U+{ord(brk):04X})")
    scripts = {}  # the first letter of each look-alike script the name writes
    for c in shown:
        if c.isalpha() and (script := unicodedata.name(c, "").split(" ", 1)[0]) in LOOK_ALIKE_SCRIPTS:
            scripts.setdefault(script, c)
    if len(scripts) > 1:
        (a, ca), (b, cb) = sorted(scripts.items())[:2]
        raise ValueError(f"mixes {a.title()} and {b.title()} letters ({ca!r} U+{ord(ca):04X} beside {cb!r} "
                         f"U+{ord(cb):04X}), which draw alike: write it in one script")
    return name


# scripts whose letters draw like one another's (Latin a, Cyrillic а, Greek α): a pool named with one Cyrillic
# letter printed the same as another in every table and chart, and a site so named missed the link written for it
LOOK_ALIKE_SCRIPTS = frozenset(("LATIN", "CYRILLIC", "GREEK"))


# what ends a line in a terminal, a CSV reader or str.splitlines: a name holding one printed a line of its own
# ("p\nFAKE-P: ..." forged a line of figures under the headline)
LINE_BREAKS = frozenset("\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029")


# a name a reader can see: in every table, chart and message (a pool named " " printed an empty column)
Visible = Annotated[str, AfterValidator(_visible)]


def did_you_mean(value: str, known) -> str:
    """" (did you mean 'h100-sxm'?)" for a near miss of a known id, else "".

    Ids that begin with it first, shortest first ('h100': the H100 variants; 'unit': 'units'), then the closest
    (case aside: 'H100-SXM', 'llama3-70B').
    """
    folded = str(value).casefold()
    by_folded = {k.casefold(): k for k in known}
    starts = sorted((k for f, k in by_folded.items() if f.startswith(folded) and folded), key=lambda k: (len(k), k))
    close = starts[:3] or [by_folded[f] for f in difflib.get_close_matches(folded, list(by_folded), n=1, cutoff=0.6)]
    return f" (did you mean {' or '.join(repr(k) for k in close)}?)" if close else ""


def field_error(path: str, message: str) -> PydanticCustomError:
    """An error about the field ``path`` (relative to the model being validated)."""
    return PydanticCustomError(FIELD_ERROR, "{message}", {"path": path, "message": message})


def _kind(annotation: object) -> str | None:
    """What a field holds, for ``PlainValues``: "number", "bool", ("list", kind) or None (anything else).

    Annotated types and optional fields are unwrapped; a union is a number (or a boolean) only when every member
    other than None is one; a Literal of integers (``zero: 0..3``) is a number.
    """
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _kind(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        kinds = {_kind(a) for a in typing.get_args(annotation) if a is not type(None)}
        return kinds.pop() if len(kinds) == 1 else None
    if origin is typing.Literal:
        values = typing.get_args(annotation)
        return "number" if all(isinstance(v, int) and not isinstance(v, bool) for v in values) else None
    if origin is list:
        inner = _kind(typing.get_args(annotation)[0])
        return ("list", inner) if inner else None
    if annotation is bool:
        return "bool"
    if annotation in (int, float):
        return "number"
    return None


# a number as text, plainly written: ASCII digits, a point, an exponent (PyYAML's YAML 1.1 leaves 15.0e12 and 1e3
# as text, so a scenario loaded with it and passed to ``from_dict`` has such strings)
MAX_NUMBER_TEXT = 40  # characters: longer text is no number a scenario needs (int() refuses past 4,300 digits)
_PLAIN_NUMBER = re.compile(r"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")


def plain_value(kind: str | None, value: object) -> object:
    """A number or boolean field's value, refused when pydantic would read it loosely (a ValueError says why).

    Pydantic's lax mode reads the text ``"5_12"`` as 512, ``" 512 "`` as 512, ``"١٢"`` as 12 and ``true`` as 1, and
    ``1`` or ``"yes"`` as true. A scenario's numbers are numbers and its switches true or false, so such a value is a
    slip: it is named, not guessed at. Text that is a number plainly written (``"15.0e12"``) is read as that number.
    """
    if value is None or kind is None:
        return value
    if isinstance(kind, tuple):
        if isinstance(value, list):
            out = []
            for i, item in enumerate(value):
                try:
                    out.append(plain_value(kind[1], item))
                except ValueError as e:
                    raise field_error(f"[{i}]", f"{e} (got {clip(repr(item))})") from None
            return out
        return value
    if kind == "bool":
        if not isinstance(value, bool):
            raise ValueError("must be true or false")
    elif isinstance(value, bool):
        raise ValueError("must be a number, not true or false")
    elif isinstance(value, str) and len(value) <= MAX_NUMBER_TEXT and _PLAIN_NUMBER.fullmatch(value):
        return float(value) if any(c in value for c in ".eE") else int(value)
    elif isinstance(value, (str, bytes, bytearray)):
        raise ValueError("must be a number, such as 512 or 1.5e12")
    return value


_KINDS: dict[type, dict] = {}  # per model class: each field's kind (``_kind``)


class PlainValues(BaseModel):
    """A model whose number and boolean fields take only numbers and booleans (``plain_value``)."""

    @field_validator("*", mode="before")
    @classmethod
    def _plain(cls, value: object, info: ValidationInfo) -> object:
        kinds = _KINDS.get(cls)
        if kinds is None:  # worked out once per model class
            kinds = _KINDS[cls] = {name: _kind(f.annotation) for name, f in cls.model_fields.items()}
        return plain_value(kinds.get(info.field_name), value)
