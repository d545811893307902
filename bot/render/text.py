"""Pure text helpers for Slack mrkdwn: escaping, mentions, times."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta


def escape(text: object) -> str:
    """Escape user text so Slack shows it literally (no ``<!channel>``, no links)."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def code(text: object) -> str:
    return "`" + escape(text).replace("`", "'") + "`"


def mention(user: str) -> str:
    if user.startswith("S"):
        return f"<!subteam^{user}>"
    if user[:1] in ("U", "W"):
        return f"<@{user}>"
    return escape(user)


def mentions(users: Iterable[str]) -> str:
    listed = [mention(u) for u in users]
    if not listed:
        return "nobody"
    if len(listed) == 1:
        return listed[0]
    return ", ".join(listed[:-1]) + " or " + listed[-1]


def when(at: datetime) -> str:
    at = at if at.tzinfo else at.replace(tzinfo=UTC)
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def ago(at: datetime, now: datetime) -> str:
    return f"{duration((now - at).total_seconds())} ago"


def duration(seconds: float | timedelta | None) -> str:
    if seconds is None:
        return "–"
    total = seconds.total_seconds() if isinstance(seconds, timedelta) else seconds
    if total < 1:
        return f"{total * 1000:.0f}ms"
    if total < 60:
        return f"{total:.1f}s" if total < 10 else f"{total:.0f}s"
    minutes, secs = divmod(int(total), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"
