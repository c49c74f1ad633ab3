"""Validation errors that name a field below the one being validated.

A model validator that finds a problem in one of its fields raises ``field_error("deliveries[2].date",
"...")``; the loader appends that sub-path to the location pydantic reports, so the user reads
``fleet[0].deliveries[2].date: ...``.
"""

from __future__ import annotations

from pydantic_core import PydanticCustomError

FIELD_ERROR = "planner_field"


def field_error(path: str, message: str) -> PydanticCustomError:
    """An error about the field ``path`` (relative to the model being validated)."""
    return PydanticCustomError(FIELD_ERROR, "{message}", {"path": path, "message": message})
