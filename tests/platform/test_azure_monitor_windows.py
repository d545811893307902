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
    # Inside a minute, the first read cannot tell the minute's earlier traffic from its own:
    # it primes the count (requests before t0 would be in that minute point too).
    assert first.requests == (40 if t0.second == t0.microsecond == 0 else 0)
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
    assert 40 + second.requests + nothing.requests == served["total"]
    assert second.errors == served["5xx"]


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
    first = await reader.read("green", minute, minute + timedelta(seconds=59))
    assert (first.requests, first.errors) == (100, 10)  # from a minute's start: whole minutes
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
    second = await reader.read("green", minute, minute + timedelta(minutes=1, seconds=10))
    assert (second.requests, second.errors) == (150, 10)
    assert second.latency_ms is not None
    assert abs(second.latency_ms - (100 * 200 + 50 * 100) / 150) < 1e-6
    assert [p.requests for p in second.points] == [100, 50]


async def test_a_first_window_inside_a_minute_primes_the_count(
    platform: AzurePlatform, envs: dict[str, Environment], sandbox: Sandbox
) -> None:
    reader = AzureMonitorReader(platform, envs["staging"])
    minute = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=2)
    sandbox.inject_metrics("virtualqueue-staging", "green", at=minute, requests=500, http5xx=50)
    start = minute + timedelta(seconds=40)
    primed = await reader.read("green", start, start + timedelta(seconds=1))
    assert (primed.requests, primed.error_rate) == (0, None)  # 500 of them came before start
    sandbox.inject_metrics("virtualqueue-staging", "green", at=minute, requests=20, http5xx=1)
    then = await reader.read("green", start + timedelta(seconds=1), start + timedelta(seconds=2))
    assert (then.requests, then.errors) == (20, 1)
