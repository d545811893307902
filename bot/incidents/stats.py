"""Pure: DORA figures → the answer to ``/deploy stats``."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.render.answers import message, section
from bot.render.text import duration, escape
from commands.incidents.dora import Figures
from commands.requests import Stats


def stats_answer(found: Figures, request: Stats) -> dict[str, Any]:
    where = escape(request.environment) if request.environment else "all environments"
    rate = (
        f"{found.change_failure_rate:.0%} ({found.failures} of {found.deployments})"
        if found.change_failure_rate is not None
        else "–"
    )
    lines = [
        f"*DORA figures for {where}, last {request.days} days*",
        f"• Deployment frequency: {found.per_day:.2f}/day ({found.deployments} deployments)",
        f"• Lead time (request to live, median): {_time(found.lead_time)}",
        f"• Change failure rate: {rate}",
        f"• Time to restore (median): {_time(found.time_to_restore)} "
        f"over {found.incidents} incidents",
        f"• MTTA (mean time to acknowledge): {_time(found.mtta)}",
    ]
    text = "\n".join(lines)
    return message(text, [section(text)])


def _time(value: timedelta | None) -> str:
    return "–" if value is None else duration(value)
