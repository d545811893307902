"""Metric readers: one ``MetricSeries`` per target and window, whatever the source.

``metric_reader(source, env, ...)`` picks the reader an environment's ``canary.metrics``
names. Readers raise ``MetricsUnavailable`` when they cannot answer; "no traffic yet" is not
an error but a series with ``requests == 0`` (``error_rate`` is then None).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol

import httpx

from commands.config.model import Environment, MetricsSource
from commands.platform.base import MetricSeries, Platform, target_of, target_url
from commands.probes.azure_monitor import AzureMonitorReader
from commands.probes.errors import MetricsUnavailable
from commands.probes.prometheus import PrometheusReader
from commands.probes.scrape import Now, ScrapeReader


class MetricReader(Protocol):
    async def read(self, target: str, start: datetime, end: datetime) -> MetricSeries:
        """Requests, 5xx and latency of ``target`` (a target name such as ``canary``)."""
        ...


def metric_reader(
    source: MetricsSource,
    env: Environment,
    *,
    http: httpx.AsyncClient,
    platform: Platform | None = None,
    now: Now = lambda: datetime.now(UTC),
) -> MetricReader:
    """The reader ``source`` names; ``platform`` is needed for Azure Monitor only."""
    if source.source == "azure-monitor":
        if platform is None:
            raise ValueError("Azure Monitor metrics are read through a Platform; none was given")
        return AzureMonitorReader(platform, env)
    if source.source == "prometheus":
        assert source.url is not None  # MetricsSource guarantees it
        apps = {name: target_of(env, name).label for name in env.target_names}
        return PrometheusReader(http, source.url, source.queries, apps=apps)
    urls = {name: target_url(env, name) for name in env.target_names}
    return ScrapeReader(
        http,
        urls,
        path=source.path,
        requests_metric=source.queries.get("requests", "http_requests_total"),
        duration_metric=source.queries.get("duration", "http_request_duration_seconds"),
        now=now,
    )


__all__ = [
    "AzureMonitorReader",
    "MetricReader",
    "MetricsUnavailable",
    "PrometheusReader",
    "ScrapeReader",
    "metric_reader",
]
