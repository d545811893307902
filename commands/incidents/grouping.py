"""Whether a delivery opens, joins, reopens or starts a new incident. Pure."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Literal

from storage import Incident

Choice = Literal["open", "join", "new", "reopen", "ignore"]


def decider(now: datetime, cooldown: timedelta) -> Callable[[Incident | None, bool], Choice]:
    def decide(latest: Incident | None, fresh: bool) -> Choice:
        if latest is None:
            # A resolve for a group we never saw firing has nothing to update.
            return "open" if fresh else "ignore"
        if latest.state != "resolved" or not fresh:
            return "join"
        resolved = latest.resolved_at or latest.updated_at
        return "reopen" if now - resolved <= cooldown else "new"

    return decide
