"""Metrics from a Prometheus server's HTTP API (``/api/v1/query``) with PromQL templates.

Templates may use ``{target}`` (the target name, e.g. ``canary``), ``{app}`` (its Web App,
``app`` or ``app/slot``) and ``{window}`` (the window as a PromQL duration, e.g. ``300s``).
The three queries are ``requests`` and ``errors`` (counts over the window) and ``p95_ms``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import httpx

from commands.platform.base import MetricSeries
from commands.platform.gather import gather_all
from commands.probes.errors import MetricsUnavailable

DEFAULT_QUERIES: dict[str, str] = {
    "requests": 'sum(increase(http_requests_total{target="{target}"}[{window}]))',
    "errors": 'sum(increase(http_requests_total{target="{target}",code=~"5.."}[{window}]))',
    "p95_ms": (
        "1000 * histogram_quantile(0.95, sum by (le) "
        '(rate(http_request_duration_seconds_bucket{target="{target}"}[{window}])))'
    ),
}


class PrometheusReader:
    def __init__(
        self,
        http: httpx.AsyncClient,
        url: str,
        queries: Mapping[str, str] | None = None,
        *,
        apps: Mapping[str, str] | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        unknown = sorted(set(queries or {}) - set(DEFAULT_QUERIES))
        if unknown:
            raise ValueError(
                f"unknown Prometheus query {unknown[0]!r}; expected {', '.join(DEFAULT_QUERIES)}"
            )
        self._http = http
        self._endpoint = url.rstrip("/") + "/api/v1/query"
        self._queries = {**DEFAULT_QUERIES, **(queries or {})}
        self._apps = dict(apps or {})
        self._timeout_s = timeout_s

    def promql(self, kind: str, target: str, start: datetime, end: datetime) -> str:
        seconds = max(1, round((end - start).total_seconds()))
        values = {
            "{target}": _label(target),
            "{app}": _label(self._apps.get(target, target)),
            "{window}": f"{seconds}s",
        }
        query = self._queries[kind]
        for placeholder, value in values.items():
            query = query.replace(placeholder, value)
        return query

    async def read(self, target: str, start: datetime, end: datetime) -> MetricSeries:
        if end <= start:
            raise MetricsUnavailable("prometheus", target, "the window ends before it starts")
        requests, errors, p95 = await gather_all(
            *(
                self._query(target, self.promql(kind, target, start, end), end)
                for kind in ("requests", "errors", "p95_ms")
            )
        )
        return MetricSeries(
            source="prometheus",
            target=target,
            start=start,
            end=end,
            requests=requests or 0.0,
            errors=errors or 0.0,
            latency_ms=p95,
            latency_kind="p95",
        )

    async def value(self, kind: str, target: str, start: datetime, end: datetime) -> float | None:
        """One of the three queries over the window; None when it returns no data."""
        return await self._query(target, self.promql(kind, target, start, end), end)

    async def _query(self, target: str, query: str, at: datetime) -> float | None:
        params = {"query": query, "time": f"{at.timestamp():.3f}"}
        try:
            response = await self._http.get(self._endpoint, params=params, timeout=self._timeout_s)
        except httpx.HTTPError as exc:
            raise MetricsUnavailable("prometheus", target, f"{type(exc).__name__}: {exc}") from exc
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise MetricsUnavailable(
                "prometheus", target, f"HTTP {response.status_code} without a JSON body"
            )
        if body.get("status") != "success":
            error = body.get("error") or f"HTTP {response.status_code}"
            raise MetricsUnavailable(
                "prometheus", target, f"{body.get('errorType', 'error')}: {error}"
            )
        try:
            return _value(body["data"])
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise MetricsUnavailable("prometheus", target, f"unexpected answer: {exc!r}") from None


def _value(data: dict[str, Any]) -> float | None:
    """Sum of an instant vector's samples, or a scalar; None for no data or NaN."""
    kind, result = data["resultType"], data["result"]
    if kind == "scalar":
        samples = [result[1]]
    elif kind == "vector":
        samples = [item["value"][1] for item in result]
    else:
        raise ValueError(f"a {kind} result; the query must return a vector or a scalar")
    values = [float(v) for v in samples if not math.isnan(float(v))]
    return sum(values) if values else None


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')
