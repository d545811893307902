"""Metric readers against real local servers: a Prometheus API and a /metrics endpoint."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from aiohttp import web

from commands.probes.errors import MetricsUnavailable
from commands.probes.prometheus import PrometheusReader
from commands.probes.scrape import ScrapeReader, increase, parse_exposition, quantile

Serve = Callable[[web.Application], Awaitable[str]]
T0 = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)


def prometheus_app(answers: dict[str, Any], seen: list[dict[str, str]]) -> web.Application:
    """Answers /api/v1/query in Prometheus's JSON format; the query picks the answer."""

    async def query(request: web.Request) -> web.Response:
        params = dict(request.query)
        seen.append(params)
        for needle, answer in answers.items():
            if needle in params["query"]:
                if isinstance(answer, tuple):  # (status, body)
                    return web.json_response(answer[1], status=answer[0])
                result = [{"metric": {}, "value": [1.0, str(v)]} for v in answer]
                return web.json_response(
                    {"status": "success", "data": {"resultType": "vector", "result": result}}
                )
        return web.json_response(
            {"status": "success", "data": {"resultType": "vector", "result": []}}
        )

    app = web.Application()
    app.router.add_get("/api/v1/query", query)
    return app


async def test_prometheus_reader_fills_templates_and_sums(
    serve: Serve, http: httpx.AsyncClient
) -> None:
    seen: list[dict[str, str]] = []
    url = await serve(
        prometheus_app(
            {'code=~"5.."': [3, 1], "histogram_quantile": [142.5], "increase": [600, 400]}, seen
        )
    )
    reader = PrometheusReader(http, url, apps={"canary": "virtualqueue-production-canary"})
    series = await reader.read("canary", T0, T0 + timedelta(minutes=5))
    assert (series.requests, series.errors, series.latency_ms) == (1000, 4, 142.5)
    assert (series.source, series.target, series.latency_kind) == ("prometheus", "canary", "p95")
    assert series.error_rate == pytest.approx(0.004)
    assert {q["query"] for q in seen} == {
        'sum(increase(http_requests_total{target="canary"}[300s]))',
        'sum(increase(http_requests_total{target="canary",code=~"5.."}[300s]))',
        "1000 * histogram_quantile(0.95, sum by (le) "
        '(rate(http_request_duration_seconds_bucket{target="canary"}[300s])))',
    }
    assert {q["time"] for q in seen} == {f"{(T0 + timedelta(minutes=5)).timestamp():.3f}"}


async def test_custom_queries_and_no_data(serve: Serve, http: httpx.AsyncClient) -> None:
    seen: list[dict[str, str]] = []
    url = await serve(prometheus_app({}, seen))
    queries = {"requests": 'sum(increase(reqs{app="{app}"}[{window}]))'}
    reader = PrometheusReader(http, url + "/", queries, apps={"green": "web/green"})
    series = await reader.read("green", T0, T0 + timedelta(seconds=90))
    assert (series.requests, series.errors, series.latency_ms, series.error_rate) == (
        0,
        0,
        None,
        None,
    )
    assert 'sum(increase(reqs{app="web/green"}[90s]))' in {q["query"] for q in seen}


async def test_unknown_query_names_are_refused(http: httpx.AsyncClient) -> None:
    with pytest.raises(ValueError, match="unknown Prometheus query 'p99'"):
        PrometheusReader(http, "http://x", {"p99": "q"})


async def test_prometheus_errors_are_typed(
    serve: Serve, http: httpx.AsyncClient, closed_port_url: str
) -> None:
    bad = {"status": "error", "errorType": "bad_data", "error": "parse error at char 5"}
    url = await serve(prometheus_app({"increase": (400, bad)}, []))
    with pytest.raises(MetricsUnavailable, match="bad_data: parse error at char 5"):
        await PrometheusReader(http, url).read("canary", T0, T0 + timedelta(minutes=1))
    with pytest.raises(MetricsUnavailable, match="metrics for canary from prometheus unavailable"):
        await PrometheusReader(http, closed_port_url).read("canary", T0, T0 + timedelta(minutes=1))


EXPOSITION = """\
# TYPE http_requests_total counter
http_requests_total{{code="200"}} {ok}
http_requests_total{{code="500"}} {err}
# TYPE http_request_duration_seconds histogram
http_request_duration_seconds_bucket{{le="0.1"}} {fast}
http_request_duration_seconds_bucket{{le="0.5"}} {total}
http_request_duration_seconds_bucket{{le="+Inf"}} {total}
http_request_duration_seconds_sum 1.0
http_request_duration_seconds_count {total}
# TYPE process_start_time_seconds gauge
process_start_time_seconds {start}
"""


def exposition(ok: int, err: int, fast: int, start: float = 1.0) -> str:
    return EXPOSITION.format(ok=ok, err=err, fast=fast, total=ok + err, start=start)


def test_scrape_difference_and_p95() -> None:
    before = parse_exposition(
        exposition(100, 0, 100),
        T0,
        requests_metric="http_requests_total",
        duration_metric="http_request_duration_seconds",
    )
    after = parse_exposition(
        exposition(180, 20, 150),
        T0,
        requests_metric="http_requests",
        duration_metric="http_request_duration_seconds",
    )
    diff = increase(before, after)
    assert diff.by_code == {"200": 80, "500": 20}
    # 50 of 100 new requests under 0.1 s, the rest under 0.5 s: p95 = 0.1 + 0.4 * 45/50
    assert quantile(0.95, diff.buckets) == pytest.approx(0.46)
    restarted = parse_exposition(
        exposition(5, 1, 6, start=2.0),
        T0,
        requests_metric="http_requests_total",
        duration_metric="http_request_duration_seconds",
    )
    assert increase(after, restarted).by_code == {"200": 5, "500": 1}
    assert quantile(0.5, ()) is None


async def test_scrape_reader_diffs_two_scrapes(serve: Serve, http: httpx.AsyncClient) -> None:
    counters = {"ok": 10, "err": 0, "fast": 10}

    async def metrics(request: web.Request) -> web.Response:
        return web.Response(text=exposition(**counters), content_type="text/plain")

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    url = await serve(app)
    clock = iter([T0, T0 + timedelta(seconds=30), T0 + timedelta(seconds=60)])
    reader = ScrapeReader(http, {"canary": url}, now=lambda: next(clock))
    first = await reader.read("canary", T0, T0)
    assert (first.requests, first.window, first.error_rate) == (0, timedelta(0), None)
    counters.update(ok=100, err=10, fast=110)
    second = await reader.read("canary", T0, T0 + timedelta(seconds=30))
    assert (second.requests, second.errors, second.window) == (100, 10, timedelta(seconds=30))
    assert second.rps == pytest.approx(100 / 30)
    assert second.latency_ms == pytest.approx(95.0)  # within the first bucket: 0.1 s * 0.95
    third = await reader.read("canary", T0 + timedelta(seconds=30), T0 + timedelta(seconds=60))
    assert (third.requests, third.start) == (0, T0 + timedelta(seconds=30))


async def test_scrape_errors_are_typed(
    serve: Serve, http: httpx.AsyncClient, closed_port_url: str
) -> None:
    reader = ScrapeReader(http, {"blue": closed_port_url}, now=lambda: T0)
    with pytest.raises(MetricsUnavailable, match="from scrape unavailable"):
        await reader.read("blue", T0, T0)
    with pytest.raises(MetricsUnavailable, match="no URL for target 'green'"):
        await reader.read("green", T0, T0)
