"""After the switch: watch production for the configured window, and roll back on a breach."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from commands.config.durations import format_duration
from commands.jobs.stopping import ShuttingDown, wait_any
from commands.platform.base import public_url
from commands.platform.targets import PRODUCTION
from commands.probes.azure_monitor import AzureMonitorReader
from commands.probes.errors import MetricsUnavailable
from commands.probes.health import check_health
from storage import AuditEvent
from storage.timeutil import iso_utc

if TYPE_CHECKING:
    from commands.jobs.base import Job, JobTools

FAILURES_IN_A_ROW = 2


class Breach(Exception):
    """Production misbehaved (or a person asked): roll back.

    ``rule`` names the guard that tripped (``health``, ``error_rate``) or ``request`` when a
    person asked; ``requested_by`` is that person. ``recorded``: the audit row of what the
    watch saw, queued and still committing (``switch_back.switch_back_first`` starts the
    switch before it waits for it).
    """

    def __init__(
        self,
        detail: str,
        rule: str,
        requested_by: str | None = None,
        recorded: asyncio.Future[AuditEvent] | None = None,
    ) -> None:
        super().__init__(detail if requested_by else f"{detail} (rule {rule})")
        self.detail = detail
        self.rule = rule
        self.requested_by = requested_by
        self.recorded = recorded


def rollback_signal(tools: JobTools, deployment_id: str) -> asyncio.Event:
    """Set by a person's Roll back; the watch loop wakes on it at once."""
    return tools.signals.setdefault(deployment_id, asyncio.Event())


async def watch(job: Job) -> str:
    env, tools = job.env, job.tools
    until = job.ctx.watch_until
    assert until is not None, "its end is saved before the state says watching"
    started = tools.clock()
    interval = env.health.watch_interval.total_seconds()
    quick = env.health.model_copy(update={"checks": ("health", "endpoints")})
    after_switch = PRODUCTION if env.topology == "slots" else job.target
    # Minute points: the minute the watch starts in may hold the errors of whatever this target
    # ran before (a canary taken out a moment ago, say); the reader counts only what is added.
    metrics = AzureMonitorReader(tools.platform, env)
    signal = rollback_signal(tools, job.id)
    failures = ticks = 0
    while (now := tools.clock()) < until:
        await wait_any((signal, tools.stopping), min(interval, (until - now).total_seconds()))
        if signal.is_set():
            who = tools.rollback_requested_by.get(job.id)
            raise Breach("roll back requested", "request", requested_by=who or "a person")
        if tools.stopping.is_set():
            raise ShuttingDown("watch")  # watch_until is stored: the restart watches the rest
        ticks += 1
        report = await check_health(
            tools.http, public_url(env), quick, expected_version=job.deployment.version
        )
        failures = 0 if report.ok else failures + 1
        if failures >= FAILURES_IN_A_ROW:
            verdict = await job.queue_audit(
                "health.verdict",
                where="production",
                ok=False,
                summary=report.summary(),
                seen_at=iso_utc(tools.clock()),  # the row's own time follows the switch
            )
            raise Breach(
                f"production failed its checks {failures} times in a row: {report.summary()}",
                "health",
                recorded=verdict,
            )
        try:
            series = await metrics.read(after_switch, started, tools.clock())
        except MetricsUnavailable as error:
            await job.audit("metrics.unavailable", error=error.detail)
            continue
        rate = series.error_rate
        enough = series.requests >= env.canary.rollback.min_requests
        if rate is not None and enough and rate > env.health.max_error_rate:
            breach = await job.queue_audit(
                "metrics.breach",
                error_rate=rate,
                requests=series.requests,
                seen_at=iso_utc(tools.clock()),
            )
            raise Breach(
                f"error rate {rate:.1%} over {series.requests:.0f} requests "
                f"> {env.health.max_error_rate:.1%}",
                "error_rate",
                recorded=breach,
            )
    return f"watched {format_duration(until - started)}: {ticks} checks, no breach"
