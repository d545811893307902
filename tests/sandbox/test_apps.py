"""The fake apps: health endpoints, headers, Prometheus metrics, and injected faults."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from commands.platform.sandbox import Sandbox, SandboxError
from commands.platform.sandbox.clients import SdkClients
from commands.platform.sandbox.clock import ManualClock

APP, GREEN = "virtualqueue-staging", "green"
BLUE = "virtualqueue-production-blue"
SECURITY = ("X-Content-Type-Options", "X-Frame-Options", "Strict-Transport-Security")


async def _get(http: aiohttp.ClientSession, url: str) -> tuple[int, dict[str, str], str]:
    async with http.get(url) as response:
        return response.status, dict(response.headers), await response.text()


async def test_health_endpoints_and_headers(sb: Sandbox, http: aiohttp.ClientSession) -> None:
    base = sb.app_url(APP, GREEN)
    for path in ("/health", "/health/ready", "/health/live", "/health/database", "/health/redis"):
        async with http.get(base + path) as response:
            assert response.status == 200, path
            assert response.headers["X-Served-By"] == f"{APP}/{GREEN}"
            for header in SECURITY:
                assert header in response.headers
    async with http.get(base + "/api/queues") as response:
        body = await response.json()
        assert body["version"] == "v1.0.0"
        assert len(body["queues"]) == 3
    assert sb.served(APP, GREEN)["2xx"] == 6


async def test_prometheus_metrics_count_what_was_served(
    sb: Sandbox, http: aiohttp.ClientSession
) -> None:
    base = sb.app_url(BLUE)
    for _ in range(3):
        await _get(http, base + "/api/queues")
    await _get(http, base + "/nope")
    status, headers, text = await _get(http, base + "/metrics")
    assert status == 200
    assert headers["Content-Type"].startswith("text/plain; version=0.0.4")
    assert 'http_requests_total{code="200"} 3' in text
    assert 'http_requests_total{code="404"} 1' in text
    assert 'http_request_duration_seconds_bucket{le="+Inf"} 4' in text
    assert "http_request_duration_seconds_count 4" in text
    assert 'app_info{version="v1.1.0",instance="virtualqueue-production-blue"} 1' in text


async def test_error_rate_fault_turns_api_calls_into_500s(
    sb: Sandbox, http: aiohttp.ClientSession
) -> None:
    sb.faults.app(BLUE, error_rate=1.0)
    assert (await _get(http, sb.app_url(BLUE) + "/api/queues"))[0] == 500
    assert (await _get(http, sb.app_url(BLUE) + "/health"))[0] == 200  # only /api/*
    sb.faults.app(BLUE, error_rate=0.3)
    statuses = [(await _get(http, sb.app_url(BLUE) + "/api/queues"))[0] for _ in range(200)]
    assert 0.18 <= statuses.count(500) / 200 <= 0.42


async def test_version_error_rate_follows_the_version(
    sb: Sandbox, http: aiohttp.ClientSession
) -> None:
    sb.faults.version("v1.0.0", error_rate=1.0)
    assert (await _get(http, sb.app_url(APP, GREEN) + "/api/queues"))[0] == 500  # v1.0.0
    assert (await _get(http, sb.app_url(APP) + "/api/queues"))[0] == 200  # v1.1.0


async def test_unhealthy_version_never_becomes_healthy(
    sb: Sandbox, http: aiohttp.ClientSession
) -> None:
    sb.faults.version("v1.0.0", unhealthy=True)
    status, _, body = await _get(http, sb.app_url(APP, GREEN) + "/health")
    assert status == 503
    assert '"status": "Unhealthy"' in body and '"version": "v1.0.0"' in body
    assert (await _get(http, sb.app_url(APP, GREEN) + "/health/ready"))[0] == 503
    assert (await _get(http, sb.app_url(APP, GREEN) + "/health/live"))[0] == 200


async def test_a_dropping_version_loses_api_requests_its_own_metrics_never_count(
    sb: Sandbox, http: aiohttp.ClientSession
) -> None:
    sb.faults.version("v1.0.0", drop_rate=1.0)
    assert (await _get(http, sb.app_url(APP, GREEN) + "/api/queues"))[0] == 502
    assert (await _get(http, sb.app_url(APP, GREEN) + "/health"))[0] == 200  # not an API path
    _, _, text = await _get(http, sb.app_url(APP, GREEN) + "/metrics")
    assert 'http_requests_total{code="200"} 1' in text and 'code="502"' not in text
    with pytest.raises(SandboxError, match="drop_rate"):
        sb.faults.version("v1.0.0", drop_rate=2)


async def test_a_shared_dependency_down_fails_its_check_on_every_version(
    sb: Sandbox, http: aiohttp.ClientSession
) -> None:
    sb.faults.dependency("database")
    for base in (sb.app_url(APP, GREEN), sb.app_url(BLUE)):  # v1.0.0 and v1.1.0
        assert (await _get(http, base + "/health/database"))[0] == 503
        assert (await _get(http, base + "/health"))[0] == 503
        assert (await _get(http, base + "/health/redis"))[0] == 200
        assert (await _get(http, base + "/api/queues"))[0] == 503
    with pytest.raises(SandboxError, match="unknown dependency"):
        sb.faults.dependency("dns")
    sb.faults.dependency("database", down=False)
    assert (await _get(http, sb.app_url(BLUE) + "/health/database"))[0] == 200


async def test_latency_fault_delays_answers(sb: Sandbox, http: aiohttp.ClientSession) -> None:
    sb.faults.app(BLUE, latency_ms=50)
    await _get(http, sb.app_url(BLUE) + "/health")
    _, _, text = await _get(http, sb.app_url(BLUE) + "/metrics")
    # The one /health request landed above the 25 ms bucket.
    assert 'http_request_duration_seconds_bucket{le="0.025"} 0' in text


async def test_down_refuses_connections_until_cleared(
    sb: Sandbox, http: aiohttp.ClientSession
) -> None:
    url = sb.app_url(BLUE) + "/health"
    assert (await _get(http, url))[0] == 200
    sb.faults.app(BLUE, down=True)
    async with aiohttp.ClientSession() as fresh:
        with pytest.raises(aiohttp.ClientConnectorError):
            await _get(fresh, url)
    sb.faults.clear()
    async with aiohttp.ClientSession() as fresh:
        assert (await _get(fresh, url))[0] == 200


async def test_slow_start_answers_503_until_the_sandbox_clock_moves(
    azure: SdkClients, sb: Sandbox, clock: ManualClock, http: aiohttp.ClientSession
) -> None:
    sb.faults.app(APP, GREEN, slow_start_s=30)
    assert (await _get(http, sb.app_url(APP, GREEN) + "/health"))[0] == 200  # not restarted yet
    await azure.web.web_apps.restart_slot("rg-virtualqueue-staging", APP, GREEN)
    assert (await _get(http, sb.app_url(APP, GREEN) + "/health"))[0] == 503
    clock.advance(31)
    assert (await _get(http, sb.app_url(APP, GREEN) + "/health"))[0] == 200


async def test_bad_faults_are_refused(sb: Sandbox) -> None:
    with pytest.raises(SandboxError, match="no Web App"):
        sb.faults.app("nope")
    with pytest.raises(SandboxError, match="error_rate"):
        sb.faults.app(BLUE, error_rate=1.5)
    with pytest.raises(SandboxError, match="unknown ARM fault"):
        sb.faults.arm("explode")
    with pytest.raises(SandboxError, match="no slot"):
        sb.app_url(BLUE, "green")


async def test_concurrent_requests_are_all_served(sb: Sandbox, http: aiohttp.ClientSession) -> None:
    statuses = await asyncio.gather(
        *(_get(http, sb.app_url(BLUE) + "/api/queues") for _ in range(50))
    )
    assert {s for s, _, _ in statuses} == {200}
    assert sb.served(BLUE)["total"] == 50
