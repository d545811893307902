"""The answer to ``/deploy stats``: the DORA figures, and a chart shared in the channel
when there is enough data to draw (``commands.incidents.daily``)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.incidents.stats_chart import render_stats_chart
from bot.render.answers import message, section
from bot.render.text import duration, escape
from commands.config.model import Config
from commands.incidents.daily import enough_for_a_chart
from commands.incidents.dora import Figures
from commands.incidents.stats import Report, dora_report
from commands.requests import Stats
from storage import Store

log = logging.getLogger(__name__)


async def stats_reply(
    store: Store,
    config: Config,
    slack: AsyncWebClient,
    request: Stats,
    now: datetime,
    channel: str | None,
) -> dict[str, Any]:
    report = await dora_report(store, config, request, now)
    chart = None
    if channel and enough_for_a_chart(report.days):
        chart = await share_chart(slack, channel, report, request)
    return stats_answer(report.figures, request, chart)


async def share_chart(slack: AsyncWebClient, channel: str, report: Report, request: Stats) -> str:
    """Upload the chart (files.getUploadURLExternal, the bytes, files.completeUploadExternal);
    the line the answer carries about it, success or not."""
    title = f"DORA figures for {_where(request)}, last {request.days} days"
    png = await render_stats_chart(title, report.days)
    name = f"deploybot-stats-{request.environment or 'all'}-{request.days}d.png"
    try:
        await slack.files_upload_v2(channel=channel, filename=name, content=png, title=title)
    except SlackApiError as error:
        reason = error.response.get("error", "unknown error")
        log.warning("could not share the stats chart in %s: %s", channel, reason)
        return f"The chart could not be shared in this channel ({reason}); invite deploybot."
    return "The chart of these figures is shared in this channel."


def stats_answer(found: Figures, request: Stats, chart: str | None = None) -> dict[str, Any]:
    rate = (
        f"{found.change_failure_rate:.0%} ({found.failures} of {found.deployments})"
        if found.change_failure_rate is not None
        else "–"
    )
    lines = [
        f"*DORA figures for {escape(_where(request))}, last {request.days} days*",
        f"• Deployment frequency: {found.per_day:.2f}/day ({found.deployments} deployments)",
        f"• Lead time (request to live, median): {_time(found.lead_time)}",
        f"• Change failure rate: {rate}",
        f"• Time to restore (median): {_time(found.time_to_restore)} "
        f"over {found.incidents} incidents",
        f"• MTTA (mean time to acknowledge): {_time(found.mtta)}",
    ]
    if chart:
        lines.append(chart)
    text = "\n".join(lines)
    return message(text, [section(text)])


def _where(request: Stats) -> str:
    return request.environment or "all environments"


def _time(value: timedelta | None) -> str:
    return "–" if value is None else duration(value)
