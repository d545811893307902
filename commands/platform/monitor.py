"""Azure Monitor's App Service metrics as a ``MetricSeries`` (query strings and parsing)."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from commands.platform.state import MetricPoint, MetricSeries

METRIC_NAMES = "Requests,Http5xx,HttpResponseTime"
AGGREGATIONS = "Total,Average"


def timespan(start: datetime, end: datetime) -> str:
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("metric windows need timezone-aware datetimes")
    if end <= start:
        raise ValueError(f"the metric window ends ({end:%H:%M:%S}) before it starts")
    return f"{_iso(start)}/{_iso(end)}"


def iso_duration(interval: timedelta) -> str:
    """ISO 8601 duration in the largest whole unit: PT1M, PT5M, PT1H, P1D, PT30S."""
    seconds = int(interval.total_seconds())
    if seconds <= 0 or seconds != interval.total_seconds():
        raise ValueError(f"a metric interval must be whole seconds > 0, got {interval}")
    if seconds % 86400 == 0:
        return f"P{seconds // 86400}D"
    if seconds % 3600 == 0:
        return f"PT{seconds // 3600}H"
    if seconds % 60 == 0:
        return f"PT{seconds // 60}M"
    return f"PT{seconds}S"


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def series_from_response(
    response: Any, target: str, start: datetime, end: datetime
) -> MetricSeries:
    """Sum requests and 5xx over every time series; request-weighted average latency."""
    requests: dict[datetime, float] = defaultdict(float)
    errors: dict[datetime, float] = defaultdict(float)
    latency: dict[datetime, list[float]] = defaultdict(list)
    for metric in getattr(response, "value", None) or []:
        name = str(getattr(metric.name, "value", "") or "").lower()
        for series in metric.timeseries or []:
            for point in series.data or []:
                at = point.time_stamp
                if name == "requests":
                    requests[at] += point.total or 0.0
                elif name == "http5xx":
                    errors[at] += point.total or 0.0
                elif name == "httpresponsetime" and point.average is not None:
                    latency[at].append(point.average * 1000.0)
    points = tuple(
        MetricPoint(
            at=at,
            requests=requests.get(at, 0.0),
            errors=errors.get(at, 0.0),
            latency_ms=(sum(latency[at]) / len(latency[at])) if latency.get(at) else None,
        )
        for at in sorted(set(requests) | set(errors) | set(latency))
    )
    return MetricSeries(
        source="azure-monitor",
        target=target,
        start=start,
        end=end,
        requests=sum(p.requests for p in points),
        errors=sum(p.errors for p in points),
        latency_ms=_weighted_latency(points),
        latency_kind="average",
        points=points,
    )


def _weighted_latency(points: tuple[MetricPoint, ...]) -> float | None:
    timed = [p for p in points if p.latency_ms is not None]
    if not timed:
        return None
    weight = sum(p.requests for p in timed)
    if weight <= 0:
        return sum(p.latency_ms or 0.0 for p in timed) / len(timed)
    return sum((p.latency_ms or 0.0) * p.requests for p in timed) / weight
