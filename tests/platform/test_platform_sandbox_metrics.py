"""Azure Monitor metrics read back through AzurePlatform match the traffic the apps served."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import aiohttp
import httpx
import pytest

from commands.config.model import Environment, MetricsSource
from commands.platform.azure import AzurePlatform
from commands.platform.base import target_url, targets_of
from commands.platform.errors import InvalidRequest
from commands.platform.sandbox import Sandbox
from commands.probes.metrics import AzureMonitorReader, metric_reader

CANARY = "virtualqueue-production-canary"


async def send(url: str, n: int) -> None:
    async with aiohttp.ClientSession() as session:
        for _ in range(n):
            async with session.get(url + "/api/queues") as response:
                await response.read()


async def test_metrics_match_the_traffic_served(
    platform: AzurePlatform, envs: dict[str, Environment], sandbox: Sandbox
) -> None:
    prod = envs["prod"]
    sandbox.faults.app(CANARY, error_rate=0.2)
    start = datetime.now(UTC) - timedelta(minutes=1)
    await send(target_url(prod, "canary"), 200)
    served = sandbox.served(CANARY)
    series = await platform.read_metrics(
        targets_of(prod)["canary"], start, datetime.now(UTC) + timedelta(minutes=1)
    )
    assert (series.requests, series.errors) == (served["total"], served["5xx"])
    assert series.requests == 200
    assert 0.1 < (series.error_rate or 0) < 0.3
    assert series.latency_kind == "average"
    assert series.latency_ms is not None and series.latency_ms > 0
    assert sum(p.requests for p in series.points) == 200
    assert series.target == f"{CANARY}"


async def test_injected_minutes_and_the_reader(
    platform: AzurePlatform, envs: dict[str, Environment], sandbox: Sandbox
) -> None:
    at = datetime(2026, 11, 21, 10, 3, tzinfo=UTC)
    sandbox.inject_metrics(
        "virtualqueue-staging", "green", at=at, requests=1000, http5xx=20, response_time_s=0.25
    )
    sandbox.inject_metrics(
        "virtualqueue-staging",
        "green",
        at=at + timedelta(minutes=1),
        requests=3000,
        http5xx=0,
        response_time_s=0.05,
    )
    start, end = at - timedelta(minutes=3), at + timedelta(minutes=2)
    staging = envs["staging"]
    series = await platform.read_metrics(targets_of(staging)["green"], start, end)
    assert (series.requests, series.errors) == (4000, 20)
    assert series.error_rate == pytest.approx(0.005)
    assert series.latency_ms == pytest.approx((1000 * 250 + 3000 * 50) / 4000)
    production = await platform.read_metrics(targets_of(staging)["production"], start, end)
    assert (production.requests, production.error_rate) == (0, None)
    async with httpx.AsyncClient() as http:
        reader = metric_reader(MetricsSource(), staging, http=http, platform=platform)
        assert isinstance(reader, AzureMonitorReader)
        via_reader = await reader.read("green", start, end)
    assert (via_reader.target, via_reader.requests) == ("green", 4000)


async def test_bad_windows_are_refused_locally(
    platform: AzurePlatform, envs: dict[str, Environment], sandbox: Sandbox
) -> None:
    now = datetime.now(UTC)
    green = targets_of(envs["staging"])["green"]
    before = len(sandbox.arm_requests)
    with pytest.raises(InvalidRequest, match=r"ends .* before it starts"):
        await platform.read_metrics(green, now, now - timedelta(minutes=1))
    with pytest.raises(InvalidRequest, match="whole seconds"):
        await platform.read_metrics(green, now - timedelta(minutes=5), now, timedelta(0))
    assert len(sandbox.arm_requests) == before
