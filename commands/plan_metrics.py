"""The dry run's metric pre-check: each query the canary's judge will run, run once now.

The baseline (the live target) must return data now: a query that answers nothing today
will answer nothing during the canary, and the judge would only extend and pause. The idle
target gets no traffic before the first stage, so for it a query that answers at all is
enough. Only reads: a scrape, Prometheus instant queries, Azure Monitor metric reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from commands.config.model import Environment
from commands.jobs.base import JobTools
from commands.platform.base import target_of, target_url
from commands.platform.errors import PlatformError
from commands.platform.monitor import AGGREGATIONS, METRIC_NAMES
from commands.probes.errors import MetricsUnavailable
from commands.probes.prometheus import PrometheusReader
from commands.probes.scrape import ScrapeReader

AZURE_WINDOW = timedelta(minutes=5)


@dataclass(frozen=True)
class QueryCheck:
    target: str
    role: str  # "canary" or "baseline"
    query: str
    ok: bool
    detail: str


async def metric_checks(
    tools: JobTools, env: Environment, canary: str, baseline: str
) -> tuple[QueryCheck, ...]:
    """One check per query and target, canary first."""
    source = env.canary.metrics
    roles = ((canary, "canary"), (baseline, "baseline"))
    now = tools.clock()
    if source.source == "prometheus":
        return tuple(
            [c for target, role in roles for c in await _prometheus(tools, env, target, role, now)]
        )
    if source.source == "scrape":
        return tuple([await _scrape(tools, env, target, role) for target, role in roles])
    return tuple([await _azure_monitor(tools, env, target, role, now) for target, role in roles])


def _verdict(role: str, has_data: bool, data: str, none: str) -> tuple[bool, str]:
    if has_data:
        return True, data
    if role == "canary":
        return True, f"{none} (expected: it gets traffic from the first stage)"
    return False, f"{none}: the judge would have nothing to compare with"


async def _prometheus(
    tools: JobTools, env: Environment, target: str, role: str, now: datetime
) -> list[QueryCheck]:
    source = env.canary.metrics
    assert source.url is not None  # MetricsSource guarantees it
    apps = {name: target_of(env, name).label for name in env.target_names}
    reader = PrometheusReader(tools.http, source.url, source.queries, apps=apps)
    start = now - env.canary.interval
    checks = []
    for kind in ("requests", "errors", "p95_ms"):
        promql = reader.promql(kind, target, start, now)
        try:
            value = await reader.value(kind, target, start, now)
        except MetricsUnavailable as error:
            checks.append(QueryCheck(target, role, promql, False, error.detail))
            continue
        if kind == "errors":  # no 5xx series at all is a healthy answer: 0 errors
            shown = "no 5xx answers" if not value else f"{value:.1f}"
            checks.append(QueryCheck(target, role, promql, True, f"returns {shown} now"))
            continue
        has_data = value is not None and (kind != "requests" or value > 0)
        shown = "0" if value is None else f"{value:.1f}"
        window = f"{max(1, round(env.canary.interval.total_seconds()))}s"
        none = (
            f"returns no data now (is Prometheus scraping {target}, at least twice in {window}?)"
            if role == "baseline"
            else "returns no data now"
        )
        ok, detail = _verdict(role, has_data, f"returns {shown} now", none)
        checks.append(QueryCheck(target, role, promql, ok, detail))
    return checks


async def _scrape(tools: JobTools, env: Environment, target: str, role: str) -> QueryCheck:
    source = env.canary.metrics
    requests_metric = source.queries.get("requests", "http_requests_total")
    duration_metric = source.queries.get("duration", "http_request_duration_seconds")
    url = target_url(env, target)
    reader = ScrapeReader(
        tools.http,
        {target: url},
        path=source.path,
        requests_metric=requests_metric,
        duration_metric=duration_metric,
        now=tools.clock,
    )
    query = f"GET {url}{source.path}: {requests_metric}, {duration_metric}_bucket"
    try:
        scrape = await reader.sample(target)
    except MetricsUnavailable as error:
        return QueryCheck(target, role, query, False, error.detail)
    counted = sum(scrape.by_code.values())
    ok, detail = _verdict(
        role,
        counted > 0 and bool(scrape.buckets),
        f"{counted:.0f} requests counted, {len(scrape.buckets)} latency buckets",
        f"no {requests_metric} counted yet",
    )
    return QueryCheck(target, role, query, ok, detail)


async def _azure_monitor(
    tools: JobTools, env: Environment, target: str, role: str, now: datetime
) -> QueryCheck:
    ref = target_of(env, target)
    query = (
        f"{ref.resource_id}/providers/Microsoft.Insights/metrics"
        f"?metricnames={METRIC_NAMES}&aggregation={AGGREGATIONS}&interval=PT1M"
    )
    try:
        series = await tools.platform.read_metrics(ref, now - AZURE_WINDOW, now)
    except PlatformError as error:
        return QueryCheck(target, role, query, False, str(error))
    latency = f", {series.latency_ms:.1f} ms average" if series.latency_ms is not None else ""
    minutes = int(AZURE_WINDOW.total_seconds() // 60)
    ok, detail = _verdict(
        role,
        series.requests > 0,
        f"{series.requests:.0f} requests, {series.errors:.0f} 5xx{latency} "
        f"in the last {minutes} min",
        f"no requests in the last {minutes} min",
    )
    return QueryCheck(target, role, query, ok, detail)
