"""Health checks and /metrics scrapes against the sandbox's app fleet."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from commands.config.model import Environment, MetricsSource
from commands.platform.base import public_url, target_url
from commands.platform.sandbox import Sandbox
from commands.probes.health import check_health
from commands.probes.metrics import metric_reader
from commands.probes.scrape import ScrapeReader

CANARY = "virtualqueue-production-canary"


async def test_a_healthy_sandbox_app_passes_the_reference_checks(
    envs: dict[str, Environment], http: httpx.AsyncClient
) -> None:
    prod = envs["prod"]
    report = await check_health(
        http, target_url(prod, "blue"), prod.health, expected_version="v1.1.0"
    )
    assert report.ok, [(c.name, c.detail) for c in report.failures]
    assert len(report.checks) == 9
    via_front_door = await check_health(
        http, public_url(prod), prod.health, expected_version="v1.1.0"
    )
    assert via_front_door.ok, via_front_door.failures


async def test_an_unhealthy_version_and_a_down_app(
    envs: dict[str, Environment], sandbox: Sandbox, http: httpx.AsyncClient
) -> None:
    prod = envs["prod"]
    sandbox.faults.version("v1.0.0", unhealthy=True)  # what green runs
    report = await check_health(
        http, target_url(prod, "green"), prod.health, expected_version="v1.0.0"
    )
    failed = {c.name for c in report.failures}
    assert {"health", "ready", "database", "endpoint /api/queues"} <= failed
    assert {"live", "redis", "security headers"}.isdisjoint(failed)
    sandbox.faults.app(CANARY, down=True)
    down = await check_health(http, target_url(prod, "canary"), prod.health)
    assert len(down.failures) == len(down.checks)


async def test_scrape_reader_counts_requests_between_scrapes(
    envs: dict[str, Environment], sandbox: Sandbox, http: httpx.AsyncClient
) -> None:
    prod = envs["prod"]
    moments = iter(datetime(2026, 11, 21, 10, 0, s, tzinfo=UTC) for s in (0, 30))
    reader = metric_reader(
        MetricsSource(source="scrape"), prod, http=http, now=lambda: next(moments)
    )
    assert isinstance(reader, ScrapeReader)
    t0 = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
    await reader.read("canary", t0, t0)
    sandbox.faults.app(CANARY, error_rate=0.25)
    before = sandbox.served(CANARY)
    for _ in range(80):
        await http.get(target_url(prod, "canary") + "/api/queues")
    after = sandbox.served(CANARY)
    series = await reader.read("canary", t0, t0 + timedelta(seconds=30))
    assert series.requests == 80
    assert series.errors == after["5xx"] - before["5xx"]
    assert 0 < series.errors < 80
    assert series.window == timedelta(seconds=30)
    assert series.latency_ms is not None and series.latency_ms < 1000
    assert series.error_rate == pytest.approx(series.errors / 80)
