"""Post-deployment health checks against one base URL, chosen and tuned by ``config.Health``."""

from __future__ import annotations

import asyncio
import statistics
from collections.abc import Awaitable, Callable

import httpx

from commands.config.model import Health, HealthCheckName
from commands.probes.http import Probe, Timer, default_timer, probe
from commands.probes.results import CheckResult, HealthReport
from commands.probes.throughput import throughput_check

LATENCY_SAMPLES = 5
SUB_CHECKS: dict[str, str] = {
    "ready": "/health/ready",
    "live": "/health/live",
    "database": "/health/database",
    "redis": "/health/redis",
}


class HealthChecker:
    """Runs the configured checks in order; one shared ``httpx.AsyncClient`` for all of them."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        base_url: str,
        health: Health,
        *,
        expected_version: str | None = None,
        timer: Timer = default_timer,
    ) -> None:
        self._http = http
        self._base = base_url.rstrip("/")
        self._health = health
        self._expected = expected_version
        self._timer = timer
        self._timeout_s = health.timeout.total_seconds()
        self._health_probe: Probe | None = None

    async def run(self) -> HealthReport:
        results: list[CheckResult] = []
        for name in self._health.checks:
            results.extend(await self._run(name))
        return HealthReport(self._base, tuple(results))

    async def _run(self, name: HealthCheckName) -> list[CheckResult]:
        if name == "health":
            return [await self.health()]
        if name in SUB_CHECKS:
            return [await self.endpoint(name, SUB_CHECKS[name])]
        if name == "endpoints":
            return [
                await self.endpoint(f"endpoint {path}", path) for path in self._health.endpoints
            ]
        if name == "latency":
            return [await self.latency()]
        if name == "security_headers":
            return [await self.security_headers()]
        return [await self.throughput()]

    async def _get(self, path: str) -> Probe:
        return await probe(
            self._http, self._base + path, timeout_s=self._timeout_s, timer=self._timer
        )

    async def _health_response(self) -> Probe:
        if self._health_probe is None:
            self._health_probe = await self._get("/health")
        return self._health_probe

    async def health(self) -> CheckResult:
        result = await self._health_response()
        version = _reported_version(result)
        if not result.healthy():
            return CheckResult(
                "health", False, result.describe(), version, self._expected, result.elapsed_ms
            )
        if self._expected is not None and version != self._expected:
            detail = f"reports version {version or 'none'}, expected {self._expected}"
            return CheckResult("health", False, detail, version, self._expected, result.elapsed_ms)
        detail = result.describe() + (f", version {version}" if version else "")
        return CheckResult("health", True, detail, version, self._expected, result.elapsed_ms)

    async def endpoint(self, name: str, path: str) -> CheckResult:
        result = await self._get(path)
        return CheckResult(
            name, result.healthy(), result.describe(), result.status, "2xx", result.elapsed_ms
        )

    async def latency(self) -> CheckResult:
        """Median of a few sequential requests, held against the ceiling."""
        path = self._health.endpoints[0] if self._health.endpoints else "/health"
        started = self._timer()
        samples: list[float] = []
        for _ in range(LATENCY_SAMPLES):
            result = await self._get(path)
            if not result.ok_status:
                return CheckResult(
                    "latency",
                    False,
                    f"{path}: {result.describe()}",
                    None,
                    self._health.latency_ms,
                    _since(self._timer, started),
                )
            samples.append(result.elapsed_ms)
        median = statistics.median(samples)
        ok = median <= self._health.latency_ms
        detail = (
            f"{path}: median {median:.0f} ms of {len(samples)} (max {max(samples):.0f} ms), "
            f"ceiling {self._health.latency_ms:g} ms"
        )
        return CheckResult(
            "latency",
            ok,
            detail,
            round(median, 1),
            self._health.latency_ms,
            _since(self._timer, started),
        )

    async def security_headers(self) -> CheckResult:
        result = await self._health_response()
        wanted = self._health.security_headers
        if result.response is None:
            return CheckResult(
                "security headers",
                False,
                result.describe(),
                None,
                ", ".join(wanted),
                result.elapsed_ms,
            )
        missing = [h for h in wanted if h not in result.response.headers]
        detail = "all present" if not missing else "missing " + ", ".join(missing)
        return CheckResult(
            "security headers",
            not missing,
            detail,
            len(wanted) - len(missing),
            len(wanted),
            result.elapsed_ms,
        )

    async def throughput(self) -> CheckResult:
        path = self._health.endpoints[0] if self._health.endpoints else "/health"
        return await throughput_check(
            self._base + path,
            self._health.throughput,
            timeout_s=self._timeout_s,
            timer=self._timer,
        )


async def check_health(
    http: httpx.AsyncClient,
    base_url: str,
    health: Health,
    *,
    expected_version: str | None = None,
    timer: Timer = default_timer,
) -> HealthReport:
    """Run the checks ``health.checks`` names against ``base_url``; never raises on I/O."""
    checker = HealthChecker(http, base_url, health, expected_version=expected_version, timer=timer)
    return await checker.run()


async def wait_for_version(
    http: httpx.AsyncClient,
    base_url: str,
    version: str,
    *,
    timeout_s: float,
    interval_s: float = 2.0,
    request_timeout_s: float = 5.0,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    clock: Timer = default_timer,
) -> CheckResult:
    """Poll ``/health`` until it is healthy and reports ``version``, or ``timeout_s`` passes.

    The app restarting is not something we can be notified of, so this is a poll; ``sleep``
    and ``clock`` are injectable so callers can test it without waiting.
    """
    url = base_url.rstrip("/") + "/health"
    started = clock()
    while True:
        result = await probe(http, url, timeout_s=request_timeout_s, timer=clock)
        reported = _reported_version(result)
        if result.healthy() and reported == version:
            return CheckResult(
                "version", True, f"reports {version}", reported, version, _since(clock, started)
            )
        last = _why_not_ready(result, reported, version)
        if clock() - started + interval_s > timeout_s:
            return CheckResult(
                "version",
                False,
                f"{last} after {timeout_s:g} s",
                reported,
                version,
                _since(clock, started),
            )
        await sleep(interval_s)


def _why_not_ready(result: Probe, reported: str | None, version: str) -> str:
    """What the last poll saw, without contradicting itself: the right version can still be
    unhealthy, and "still reports" is only said of another version."""
    if reported == version:
        return f"reports {version} but /health answers {_answer(result)}"
    if reported is not None:
        return f"still reports {reported}"
    if result.response is None:
        return f"/health did not answer ({result.describe()})"
    return f"/health answers {_answer(result)} and reports no version"


def _answer(result: Probe) -> str:
    if result.response is None:
        return result.describe()
    status = result.reported_status()
    return f"{result.response.status_code}" + (f" (status {status})" if status else "")


def _reported_version(result: Probe) -> str | None:
    body = result.json()
    version = body.get("version") if body else None
    return str(version) if version is not None else None


def _since(timer: Timer, started: float) -> float:
    return round((timer() - started) * 1000.0, 1)
