"""Azure Monitor's ``Requests``/``Http5xx``/``HttpResponseTime`` for a canary's short windows.

App Service metrics come in minute points (PT1M is the finest grain), and the point of the
current minute keeps growing until the minute is over; late data can also fill a minute after
it was first read. A canary judges every interval, often well under a minute, so the reader
remembers what it has already counted of each minute and answers only what was added since:
consecutive windows never count a request twice.

The first read of a target has nothing to subtract. A window that starts on a minute counts
whole minutes, as Azure Monitor answers them; one that starts inside a minute cannot tell
that minute's earlier traffic from its own, so that minute only primes the count (as a scrape
reader's first scrape does) and later windows count what it gains.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from commands.config.model import Environment
from commands.platform.base import MetricPoint, MetricSeries, Platform, target_of
from commands.platform.errors import PlatformError
from commands.probes.errors import MetricsUnavailable

GRAIN = timedelta(minutes=1)
LOOKBACK = timedelta(minutes=5)
"""How far back a read looks again for minutes that gained data late."""


@dataclass(frozen=True)
class Counted:
    """What has been counted of one minute point."""

    requests: float = 0.0
    errors: float = 0.0
    duration_ms: float = 0.0  # average latency × requests: the minute's total time


def _counted(point: MetricPoint) -> Counted:
    latency = point.latency_ms if point.latency_ms is not None else 0.0
    return Counted(point.requests, point.errors, latency * point.requests)


def _minute(at: datetime) -> datetime:
    return at.replace(second=0, microsecond=0)


class AzureMonitorReader:
    """Reads through the Platform (azure-mgmt-monitor's metrics API on the target's resource)."""

    def __init__(self, platform: Platform, env: Environment, interval: timedelta = GRAIN) -> None:
        self._platform = platform
        self._env = env
        self._interval = interval
        self._counted: dict[str, dict[datetime, Counted]] = {}
        self._last_end: dict[str, datetime] = {}

    async def read(self, target: str, start: datetime, end: datetime) -> MetricSeries:
        try:
            ref = target_of(self._env, target)
        except ValueError as exc:
            raise MetricsUnavailable("azure-monitor", target, str(exc)) from None
        counted = self._counted.setdefault(target, {})
        first = target not in self._last_end
        query_start = _minute(start)
        if counted:  # look again at the minutes already counted: they may have grown
            query_start = min(query_start, max(min(counted), _minute(end) - LOOKBACK))
        # Timespans are whole seconds and must not be empty, even for a window of 0.3 s.
        query_end = max(end, query_start + timedelta(seconds=1))
        try:
            series = await self._platform.read_metrics(ref, query_start, query_end, self._interval)
        except PlatformError as exc:
            raise MetricsUnavailable("azure-monitor", target, str(exc)) from exc
        window_start = start if first else self._last_end[target]
        if first and start != _minute(start):
            partial = next((p for p in series.points if p.at == _minute(start)), None)
            if partial is not None:
                counted[partial.at] = _counted(partial)
        added = [(point.at, self._add(counted, point)) for point in series.points]
        self._last_end[target] = end
        for minute in [m for m in counted if m < _minute(end) - LOOKBACK]:
            del counted[minute]
        points = tuple(
            MetricPoint(at, a.requests, a.errors, a.duration_ms / a.requests or None)
            for at, a in added
            if a.requests
        )
        requests = sum(p.requests for p in points)
        duration = sum(a.duration_ms for _, a in added)
        return MetricSeries(
            source="azure-monitor",
            target=target,
            start=min(window_start, end),
            end=end,
            requests=requests,
            errors=sum(p.errors for p in points),
            latency_ms=duration / requests if requests > 0 else None,
            latency_kind="average",
            points=points,
        )

    def _add(self, counted: dict[datetime, Counted], point: MetricPoint) -> Counted:
        now, before = _counted(point), counted.get(point.at, Counted())
        counted[point.at] = now
        if now.requests < before.requests:  # a point never shrinks; count it afresh if it did
            return now
        return Counted(
            now.requests - before.requests,
            max(0.0, now.errors - before.errors),
            max(0.0, now.duration_ms - before.duration_ms),
        )
