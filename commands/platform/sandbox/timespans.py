"""ISO 8601 durations and Azure Monitor timespans (``start/end``, ``start/duration``, ``PT1H``)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

_DURATION = re.compile(
    r"^P(?:(?P<d>\d+)D)?(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$",
    re.IGNORECASE,
)


class TimespanError(ValueError):
    pass


def parse_duration(text: str) -> timedelta:
    match = _DURATION.match(text.strip())
    if not match or text.strip().upper() in ("P", "PT"):
        raise TimespanError(f"{text!r} is not an ISO 8601 duration (e.g. PT1M, PT1H, P1D)")
    return timedelta(
        days=int(match["d"] or 0),
        hours=int(match["h"] or 0),
        minutes=int(match["m"] or 0),
        seconds=float(match["s"] or 0),
    )


def format_duration(value: timedelta) -> str:
    minutes = int(value.total_seconds() // 60)
    if minutes and minutes % 1440 == 0:
        return f"P{minutes // 1440}D"
    if minutes and minutes % 60 == 0:
        return f"PT{minutes // 60}H"
    return f"PT{minutes}M"


def parse_instant(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise TimespanError(f"{text!r} is not an ISO 8601 date-time") from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def parse_timespan(text: str | None, now: datetime) -> tuple[datetime, datetime]:
    """``start/end``, ``start/duration``, ``duration/end`` or a bare duration ending now."""
    if not text:
        return now - timedelta(hours=1), now
    if "/" not in text:
        return now - parse_duration(text), now
    first, _, second = text.partition("/")
    if first.upper().startswith("P"):
        end = parse_instant(second)
        start = end - parse_duration(first)
    else:
        start = parse_instant(first)
        is_duration = second.upper().startswith("P")
        end = start + parse_duration(second) if is_duration else parse_instant(second)
    if end <= start:
        raise TimespanError("the timespan must end after it starts")
    return start, end


def iso_z(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
