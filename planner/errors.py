"""User-facing errors. Internal invariants use plain asserts."""

from __future__ import annotations

from .escape import terminal

MAX_MESSAGE_BYTES = 1_000  # a message stays one line: quoted values are cut to 80 chars, the whole to this
MAX_LINE_BYTES = 1_400  # a printed line (``error: FILE: message``); with a note or two, stderr stays under 2,000 bytes


def one_line(text: str, limit_bytes: int = MAX_MESSAGE_BYTES) -> str:
    """``text`` on one line, cut to ``limit_bytes`` bytes of UTF-8 (then ``…``) without splitting a character.

    Line breaks become spaces and every other control character (ESC sequences, NUL, BEL, tabs: from the file's
    names and values the message quotes) U+FFFD (planner.escape.terminal), so the line prints as it reads.
    """
    text = terminal(" ".join(str(text).splitlines()), one_line=True)
    data = text.encode("utf-8", "surrogateescape")
    if len(data) <= limit_bytes:
        return text
    return data[: limit_bytes - 3].decode("utf-8", "ignore") + "…"


class PlannerError(Exception):
    """Base of the errors a user can cause and fix."""

    exit_code = 2

    def __str__(self) -> str:
        return one_line(super().__str__())


class ScenarioError(PlannerError):
    """A scenario file is unreadable or invalid.

    ``path`` is the file, ``field`` the dotted field path (``fleet[1].deliveries[0].date``).
    """

    exit_code = 2

    def __init__(self, message: str, *, path: str | None = None, field: str | None = None):
        path = one_line(path, 200) if path else path
        self.path = path
        self.field = field
        self.reason = message
        where = ": ".join(p for p in (path, field) if p)
        super().__init__(f"{where}: {message}" if where else message)


class InfeasiblePlanError(PlannerError):
    """No parallel layout fits: carries the numbers involved."""

    exit_code = 3

    def __init__(self, message: str, *, needed_gib: float | None = None, available_gib: float | None = None,
                 job: str | None = None):
        self.needed_gib = needed_gib
        self.available_gib = available_gib
        self.job = job  # with `jobs:`: the job no layout fits (a sweep's point names it in that job's columns)
        super().__init__(message)


class ReportError(PlannerError):
    """The report cannot be written where asked (the folder holds other files, or is a file)."""

    exit_code = 2
