"""Strict readers for webhook JSON: each names the field it could not read."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from typing import Any

from commands.incidents.alerts import MalformedAlert

MAX_TEXT = 2000
# Go's zero time: Alertmanager's and Grafana's "no end yet".
ZERO_TIME = "0001-01-01T00:00:00Z"
_FRACTION = re.compile(r"\.(\d+)")


def obj(data: Any, where: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise MalformedAlert(f"{where} must be a JSON object")
    return data


def items(data: Any, where: str) -> list[Any]:
    if not isinstance(data, list):
        raise MalformedAlert(f"{where} must be a list")
    return data


def text(data: dict[str, Any], key: str, where: str, *, default: str | None = None) -> str:
    value = data.get(key, default)
    if value is None and default is not None:
        value = default
    if not isinstance(value, str):
        raise MalformedAlert(f"{where}.{key} must be a string")
    return value[:MAX_TEXT]


def optional_text(data: dict[str, Any], key: str, where: str) -> str:
    value = data.get(key)
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise MalformedAlert(f"{where}.{key} must be a string")
    return str(value)[:MAX_TEXT]


def strings(data: Any, where: str) -> dict[str, str]:
    """A label or annotation set: an object of strings (absent means empty)."""
    if data is None:
        return {}
    found = obj(data, where)
    out = {}
    for key, value in found.items():
        if not isinstance(value, str):
            raise MalformedAlert(f"{where}.{key} must be a string")
        out[str(key)[:200]] = value[:MAX_TEXT]
    return out


def numbers(data: Any, where: str) -> dict[str, str]:
    """Grafana's ``values``: names to numbers, kept as short text."""
    if data is None:
        return {}
    out = {}
    for key, value in obj(data, where).items():
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise MalformedAlert(f"{where}.{key} must be a number")
        out[str(key)[:200]] = number_text(value)
    return out


def number_text(value: int | float | str) -> str:
    if isinstance(value, str):
        return value[:100]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def timestamp(value: Any, where: str) -> datetime | None:
    """RFC 3339 (nanoseconds allowed) to an aware UTC datetime; Go's zero time is None."""
    if not isinstance(value, str):
        raise MalformedAlert(f"{where} must be an RFC 3339 time")
    if value in ("", ZERO_TIME) or value.startswith("0001-01-01"):
        return None
    raw = value.strip().replace("Z", "+00:00").replace("z", "+00:00")
    raw = _FRACTION.sub(lambda m: "." + m[1][:6].ljust(6, "0"), raw, count=1)
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        raise MalformedAlert(f"{where} must be an RFC 3339 time, got {value[:40]!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except (OverflowError, ValueError):
        raise MalformedAlert(f"{where} is out of range") from None


def required_time(value: Any, where: str) -> datetime:
    found = timestamp(value, where)
    if found is None:
        raise MalformedAlert(f"{where} must be set")
    return found
