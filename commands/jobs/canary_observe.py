"""One analysis interval's inputs: each side's metrics over the window and its failing checks.

The checks that can show a dependency both sides share (``/health``, ``/health/database`` …)
are probed on the canary and on the baseline after their metrics are read, all at once. Those
probes reach the apps like users' requests and are counted in their metrics, in the next
window: they are taken off that window's requests (and failed ones off its errors), so that a
stage without users reads as no data rather than as a few healthy requests. That is exact for
the scrape source, whose windows run from one read to the next; Prometheus and Azure Monitor
bucket requests in their own time, so there it is close, not exact.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, replace
from datetime import datetime

import httpx

from commands.config.model import Environment
from commands.platform.base import MetricSeries, target_url
from commands.probes.errors import MetricsUnavailable
from commands.probes.health import SUB_CHECKS, HealthChecker
from commands.probes.metrics import MetricReader
from commands.probes.results import CheckResult

SHARED_CHECKS = ("health", "ready", "live", "database", "redis")


@dataclass(frozen=True)
class Observation:
    canary: MetricSeries
    baseline: MetricSeries
    canary_failing: frozenset[str]
    baseline_failing: frozenset[str]


@dataclass
class _Probed:
    """The judge's own requests to one side since its metrics were last read."""

    requests: int = 0
    failed: int = 0


class Observer:
    def __init__(
        self,
        env: Environment,
        http: httpx.AsyncClient,
        reader: MetricReader,
        *,
        canary: str,
        baseline: str,
    ) -> None:
        self._env = env
        self._http = http
        self._reader = reader
        self._sides = (canary, baseline)
        self._probed = {side: _Probed() for side in self._sides}
        self._read_until: dict[str, datetime] = {}
        checks = tuple(c for c in env.health.checks if c in SHARED_CHECKS)
        self._checks = checks or ("health",)

    async def start(self, at: datetime) -> None:
        """Read once at the window's start, so that the first interval has a window to judge
        (a scrape compares with the scrape before it)."""
        with contextlib.suppress(MetricsUnavailable):  # the first interval will say so
            await asyncio.gather(*(self._read(side, at, at) for side in self._sides))

    async def interval(self, start: datetime, end: datetime) -> Observation:
        """Raises ``MetricsUnavailable`` when a side's metrics cannot be read."""
        canary, baseline = await asyncio.gather(
            *(self._read(side, start, end) for side in self._sides)
        )
        canary_failing, baseline_failing = await asyncio.gather(
            *(self._failing(side) for side in self._sides)
        )
        return Observation(canary, baseline, canary_failing, baseline_failing)

    async def _read(self, side: str, start: datetime, end: datetime) -> MetricSeries:
        # Windows follow on from each other: this one starts where the last one read ended.
        series = await self._reader.read(side, self._read_until.get(side, start), end)
        self._read_until[side] = series.end
        probed, self._probed[side] = self._probed[side], _Probed()
        return replace(
            series,
            requests=max(0.0, series.requests - probed.requests),
            errors=max(0.0, series.errors - probed.failed),
        )

    async def _failing(self, side: str) -> frozenset[str]:
        checker = HealthChecker(self._http, target_url(self._env, side), self._env.health)
        results: list[CheckResult] = await asyncio.gather(
            *(
                checker.health() if name == "health" else checker.endpoint(name, SUB_CHECKS[name])
                for name in self._checks
            )
        )
        failing = frozenset(r.name for r in results if not r.ok)
        probed = self._probed[side]
        probed.requests += len(results)
        probed.failed += len(failing)
        return failing
