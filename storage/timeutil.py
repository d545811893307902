"""UTC helpers: the storage layer only ever stores and returns timezone-aware UTC times."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from storage.errors import InvalidValueError

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime, what: str) -> datetime:
    """Return ``value`` converted to UTC; refuse naive datetimes (their zone is a guess)."""
    if not isinstance(value, datetime):
        raise InvalidValueError(f"{what} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidValueError(f"{what} must be timezone-aware (got naive {value.isoformat()})")
    return value.astimezone(UTC)


def iso_utc(value: datetime) -> str:
    """Fixed-width ISO-8601 in UTC with microseconds, e.g. ``2026-11-21T10:00:00.000000+00:00``.

    The fixed width makes the text sort in time order, which the audit log relies on.
    """
    return as_utc(value, "timestamp").isoformat(timespec="microseconds")


def parse_iso_utc(text: str) -> datetime:
    return as_utc(datetime.fromisoformat(text), "timestamp")
