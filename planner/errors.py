"""User-facing errors. Internal invariants use plain asserts."""

from __future__ import annotations

MAX_MESSAGE_CHARS = 1_000  # a one-line message stays one line: quoted values are cut to 80 chars, the whole to this


def _cut(text: str, limit: int) -> str:
    text = " ".join(str(text).split("\n"))
    return text if len(text) <= limit else text[:limit] + "…"


class PlannerError(Exception):
    """Base of the errors a user can cause and fix."""

    exit_code = 2

    def __str__(self) -> str:
        return _cut(super().__str__(), MAX_MESSAGE_CHARS)


class ScenarioError(PlannerError):
    """A scenario file is unreadable or invalid.

    ``path`` is the file, ``field`` the dotted field path (``fleet[1].deliveries[0].date``).
    """

    exit_code = 2

    def __init__(self, message: str, *, path: str | None = None, field: str | None = None):
        path = _cut(path, 200) if path else path
        self.path = path
        self.field = field
        self.reason = message
        where = ": ".join(p for p in (path, field) if p)
        super().__init__(f"{where}: {message}" if where else message)


class InfeasiblePlanError(PlannerError):
    """No parallel layout fits: carries the numbers involved."""

    exit_code = 3

    def __init__(self, message: str, *, needed_gib: float | None = None, available_gib: float | None = None):
        self.needed_gib = needed_gib
        self.available_gib = available_gib
        super().__init__(message)


class ReportError(PlannerError):
    """The report cannot be written where asked (the folder holds other files, or is a file)."""

    exit_code = 2
