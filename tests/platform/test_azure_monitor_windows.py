"""The Azure Monitor reader over a canary's short windows: minute points, each request once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import aiohttp
import httpx

from commands.config.model import Environment, MetricsSource
from commands.platform.azure import AzurePlatform
from commands.platform.base import target_url
from commands.platform.sandbox import Sandbox
from commands.probes.metrics import AzureMonitorReader, metric_reader

CANARY = "virtualqueue-production-canary"


async def send(url: str, n: int) -> None:
    async with aiohttp.ClientSession() as session:
        for _ in range(n):
            async with session.get(url + "/api/queues") as response:
                await response.read()


async def test_consecutive_short_windows_count_each_request_once(
    platform: AzurePlatform, envs: dict[str, Environment], sandbox: Sandbox
) -> None:
    prod = envs["prod"]
    async with httpx.AsyncClient() as http:
        reader = metric_reader(MetricsSource(), prod, http=http, platform=platform)
    assert isinstance(reader, AzureMonitorReader)
    url = target_url(prod, "canary")
    t0 = datetime.now(UTC)
    await send(url, 40)
    first = await reader.read("canary", t0, datetime.now(UTC))
    assert first.requests == 40  # the first read: the minute so far, as Azure answers it
    t1 = datetime.now(UTC)
    sandbox.faults.app(CANARY, error_rate=0.5, latency_ms=50)
    await send(url, 30)
    second = await reader.read("canary", t1, datetime.now(UTC))
    assert second.requests == 30, second
    assert 5 <= second.errors <= 25
    assert second.latency_ms is not None and second.latency_ms >= 50
    assert second.latency_kind == "average" and second.source == "azure-monitor"
    assert second.start == first.end  # the window runs from the last read
    t2 = datetime.now(UTC)
    nothing = await reader.read("canary", t2, t2 + timedelta(milliseconds=300))
    assert (nothing.requests, nothing.error_rate, nothing.latency_ms) == (0, None, None)
    served = sandbox.served(CANARY)
    assert first.requests + second.requests + nothing.requests == served["total"]
    assert first.errors + second.errors == served["5xx"]


async def test_a_window_across_a_minute_boundary_keeps_both_minutes(
    platform: AzurePlatform, envs: dict[str, Environment], sandbox: Sandbox
) -> None:
    staging = envs["staging"]
    reader = AzureMonitorReader(platform, staging)
    minute = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=3)

    def inject() -> None:
        sandbox.inject_metrics(
            "virtualqueue-staging",
            "green",
            at=minute,
            requests=100,
            http5xx=10,
            response_time_s=0.2,
        )

    inject()
    start = minute + timedelta(seconds=50)
    first = await reader.read("green", start, minute + timedelta(seconds=59))
    assert (first.requests, first.errors) == (100, 10)
    # late data fills the first minute while the next one starts
    inject()
    sandbox.inject_metrics(
        "virtualqueue-staging",
        "green",
        at=minute + timedelta(minutes=1),
        requests=50,
        http5xx=0,
        response_time_s=0.1,
    )
    second = await reader.read("green", start, minute + timedelta(minutes=1, seconds=10))
    assert (second.requests, second.errors) == (150, 10)
    assert second.latency_ms is not None
    assert abs(second.latency_ms - (100 * 200 + 50 * 100) / 150) < 1e-6
    assert [p.requests for p in second.points] == [100, 50]
