"""Health checks against a real local app whose behaviour each test chooses.

Time is a manual timer the app's handlers advance, so latency and throughput verdicts are
exact without any timed assertion.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta

import httpx
from aiohttp import web

from commands.config.model import Health, Throughput
from commands.probes.health import check_health, wait_for_version

Serve = Callable[[web.Application], Awaitable[str]]

SECURITY = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Strict-Transport-Security": "max-age=31536000",
}


class ManualTimer:
    """Seconds that pass only when the fake app (or a fake sleep) says so."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class FakeApp:
    timer: ManualTimer
    version: str = "v1.2.0"
    status: str = "Healthy"
    broken: set[str] = field(default_factory=set)
    headers: dict[str, str] = field(default_factory=lambda: dict(SECURITY))
    latency_s: float = 0.01
    hang: asyncio.Event | None = None
    requests: int = 0

    def build(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/health", self.health)
        app.router.add_get("/health/{part}", self.part)
        app.router.add_get("/api/queues", self.api)
        return app

    async def health(self, request: web.Request) -> web.Response:
        if self.hang is not None:
            await self.hang.wait()
        self.requests += 1
        self.timer.advance(self.latency_s)
        code = 503 if self.status != "Healthy" else 200
        body = {"status": self.status, "version": self.version}
        return web.json_response(body, status=code, headers=self.headers)

    async def part(self, request: web.Request) -> web.Response:
        self.timer.advance(self.latency_s)
        part = request.match_info["part"]
        if part in self.broken:
            return web.json_response({"status": "Unhealthy"}, status=503)
        return web.json_response({"status": "Healthy"})

    async def api(self, request: web.Request) -> web.Response:
        self.timer.advance(self.latency_s)
        if "api" in self.broken:
            return web.json_response({"error": "boom"}, status=500)
        return web.json_response([{"id": 1, "name": "main"}])


HEALTH = Health(throughput=Throughput(requests=20, concurrency=4, min_rps=20))


async def run(
    serve: Serve,
    http: httpx.AsyncClient,
    app: FakeApp,
    health: Health = HEALTH,
    expected: str | None = "v1.2.0",
) -> dict[str, tuple[bool, str]]:
    url = await serve(app.build())
    report = await check_health(http, url, health, expected_version=expected, timer=app.timer)
    assert report.target == url
    return {c.name: (c.ok, c.detail) for c in report.checks}


async def test_a_healthy_app_passes_every_check(serve: Serve, http: httpx.AsyncClient) -> None:
    app = FakeApp(ManualTimer())
    url = await serve(app.build())
    report = await check_health(http, url, HEALTH, expected_version="v1.2.0", timer=app.timer)
    assert report.ok, report.failures
    assert [c.name for c in report.checks] == [
        "health",
        "ready",
        "live",
        "database",
        "redis",
        "endpoint /api/queues",
        "latency",
        "security headers",
        "throughput",
    ]
    health = report.checks[0]
    assert (health.value, health.threshold, health.detail) == (
        "v1.2.0",
        "v1.2.0",
        "HTTP 200, Healthy, version v1.2.0",
    )
    latency = next(c for c in report.checks if c.name == "latency")
    assert (latency.value, latency.threshold) == (10.0, 200.0)
    throughput = report.checks[-1]
    assert throughput.value == 100.0  # 20 requests, 10 ms of (manual) time each
    assert report.summary() == "9/9 checks passed"


async def test_wrong_version_fails_the_health_check(serve: Serve, http: httpx.AsyncClient) -> None:
    results = await run(serve, http, FakeApp(ManualTimer(), version="v1.1.0"))
    assert results["health"] == (False, "reports version v1.1.0, expected v1.2.0")
    assert results["ready"][0]


async def test_unhealthy_status_and_broken_dependency(
    serve: Serve, http: httpx.AsyncClient
) -> None:
    app = FakeApp(ManualTimer(), status="Unhealthy", broken={"redis", "api"})
    results = await run(serve, http, app)
    assert results["health"] == (False, "HTTP 503, Unhealthy")
    assert results["redis"] == (False, "HTTP 503, Unhealthy")
    assert results["database"] == (True, "HTTP 200, Healthy")
    assert results["endpoint /api/queues"] == (False, "HTTP 500")
    assert not results["latency"][0]
    assert results["throughput"][0] is False
    assert "20 failed (first: HTTP 500)" in results["throughput"][1]


async def test_missing_security_headers_are_named(serve: Serve, http: httpx.AsyncClient) -> None:
    app = FakeApp(ManualTimer(), headers={"X-Frame-Options": "DENY"})
    results = await run(serve, http, app)
    assert results["security headers"] == (
        False,
        "missing X-Content-Type-Options, Strict-Transport-Security",
    )


async def test_slow_app_breaks_the_latency_ceiling_and_throughput(
    serve: Serve, http: httpx.AsyncClient
) -> None:
    app = FakeApp(ManualTimer(), latency_s=0.3)
    url = await serve(app.build())
    report = await check_health(http, url, HEALTH, timer=app.timer)
    latency = next(c for c in report.checks if c.name == "latency")
    assert (latency.ok, latency.value) == (False, 300.0)
    assert "median 300 ms of 5" in latency.detail
    throughput = report.checks[-1]
    assert (throughput.ok, throughput.value) == (False, 3.3)  # 20 requests in 6 s


async def test_only_configured_checks_run(serve: Serve, http: httpx.AsyncClient) -> None:
    health = Health(checks=("live", "endpoints"), endpoints=("/api/queues", "/health/ready"))
    results = await run(serve, http, FakeApp(ManualTimer()), health)
    assert list(results) == ["live", "endpoint /api/queues", "endpoint /health/ready"]


async def test_an_unreachable_app_gives_failed_checks_not_exceptions(
    http: httpx.AsyncClient, closed_port_url: str
) -> None:
    report = await check_health(http, closed_port_url, HEALTH, expected_version="v1")
    assert not report.ok
    assert len(report.failures) == len(report.checks) == 9
    assert all("could not connect" in c.detail for c in report.checks if c.name != "throughput")


async def test_a_hanging_app_times_out(serve: Serve, http: httpx.AsyncClient) -> None:
    hang = asyncio.Event()
    app = FakeApp(ManualTimer(), hang=hang)
    url = await serve(app.build())
    health = Health(checks=("health", "security_headers"), timeout=timedelta(seconds=0.05))
    try:
        report = await check_health(http, url, health)
    finally:
        hang.set()
    assert [(c.ok, c.detail) for c in report.checks] == [
        (False, "no answer within 0.05 s"),
        (False, "no answer within 0.05 s"),
    ]


async def test_wait_for_version_sees_the_new_version(serve: Serve, http: httpx.AsyncClient) -> None:
    timer = ManualTimer()
    app = FakeApp(timer, version="v1.1.0", latency_s=0)
    url = await serve(app.build())
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        timer.advance(seconds)
        if len(sleeps) == 3:  # the restart finished
            app.version = "v1.2.0"

    result = await wait_for_version(
        http, url, "v1.2.0", timeout_s=60, interval_s=2, sleep=sleep, clock=timer
    )
    assert (result.ok, result.detail, result.duration_ms) == (True, "reports v1.2.0", 6000.0)
    assert sleeps == [2, 2, 2]


async def test_wait_for_version_gives_up(serve: Serve, http: httpx.AsyncClient) -> None:
    timer = ManualTimer()
    app = FakeApp(timer, version="v1.1.0", latency_s=0)
    url = await serve(app.build())

    async def sleep(seconds: float) -> None:
        timer.advance(seconds)

    result = await wait_for_version(
        http, url, "v1.2.0", timeout_s=10, interval_s=3, sleep=sleep, clock=timer
    )
    assert (result.ok, result.detail) == (False, "still reports v1.1.0 after 10 s")
    assert app.requests == 4


async def test_wait_for_version_says_the_version_is_there_but_unhealthy(
    serve: Serve, http: httpx.AsyncClient
) -> None:
    timer = ManualTimer()
    app = FakeApp(timer, version="v1.3.0", status="Unhealthy", latency_s=0)
    url = await serve(app.build())

    async def sleep(seconds: float) -> None:
        timer.advance(seconds)

    result = await wait_for_version(
        http, url, "v1.3.0", timeout_s=30, interval_s=10, sleep=sleep, clock=timer
    )
    assert (result.ok, result.value) == (False, "v1.3.0")
    assert result.detail == "reports v1.3.0 but /health answers 503 (status Unhealthy) after 30 s"
    assert "still" not in result.detail


async def test_a_throughput_burst_that_cannot_connect_or_gets_no_answer_says_so(
    serve: Serve, http: httpx.AsyncClient, closed_port_url: str
) -> None:
    only = Health(
        checks=("throughput",), endpoints=(), throughput=Throughput(requests=4, concurrency=2)
    )
    [refused] = (await check_health(http, closed_port_url, only)).checks
    assert not refused.ok and "4 failed (first: could not connect" in refused.detail
    hang = asyncio.Event()
    url = await serve(FakeApp(ManualTimer(), hang=hang).build())
    hung = Health(
        checks=("throughput",),
        endpoints=(),  # the burst goes to /health, which hangs
        throughput=Throughput(requests=2, concurrency=2),
        timeout=timedelta(seconds=0.05),
    )
    try:
        [silent] = (await check_health(http, url, hung)).checks
    finally:
        hang.set()
    assert not silent.ok and "2 failed (first: no answer within 0.05 s)" in silent.detail


async def test_a_redirect_is_not_followed_by_the_burst(
    serve: Serve, http: httpx.AsyncClient
) -> None:
    app = web.Application()

    async def moved(request: web.Request) -> web.Response:
        raise web.HTTPFound("/elsewhere")

    app.router.add_get("/health", moved)
    url = await serve(app)
    only = Health(
        checks=("throughput",), endpoints=(), throughput=Throughput(requests=3, concurrency=1)
    )
    [burst] = (await check_health(http, url, only)).checks
    assert not burst.ok and "3 failed (first: HTTP 302)" in burst.detail
