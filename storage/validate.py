"""Argument checks shared by the repositories: a wrong value is a clear InvalidValueError."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from storage.errors import InvalidValueError


def require_text(name: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidValueError(f"{name} must be a non-empty string, got {value!r}")
    return value


def optional_text(name: str, value: object) -> str | None:
    if value is None:
        return None
    return require_text(name, value)


def require_positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidValueError(f"{name} must be a positive whole number, got {value!r}")
    return value


def json_object(name: str, value: object) -> dict[str, Any]:
    """A plain, JSON-round-tripped copy of ``value``, which must be a JSON object."""
    if not isinstance(value, Mapping):
        raise InvalidValueError(f"{name} must be a mapping, got {type(value).__name__}")
    copied = json_value(name, value)
    assert isinstance(copied, dict)
    return copied


def json_value(name: str, value: object) -> Any:
    """A JSON-round-tripped copy of ``value`` (tuples become lists, as the database returns)."""
    try:
        return json.loads(json.dumps(value, allow_nan=False, default=_refuse))
    except (TypeError, ValueError) as error:
        raise InvalidValueError(f"{name} must be JSON-serializable: {error}") from error


def _refuse(value: object) -> Any:
    raise TypeError(f"a {type(value).__name__} cannot be stored as JSON ({value!r})")
