"""Steady synthetic load: N requests a second through every front door of the sandbox.

The requests go through the real HTTP front doors, so Traffic Manager weights and production's
``rampUpRules`` split them as they split anyone's, and the apps that answer count them in their
``/metrics`` and in Azure Monitor alike: canary and baseline both serve traffic whose errors and
latency follow the version's faults.

One pacer task sends evenly spaced requests, round-robin over the doors; each request is its own
task, at most ``max_in_flight`` open per door. A tick that finds its door full is counted as
``dropped`` and a stall is skipped, never caught up: the load stays steady instead of bursting.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from commands.platform.sandbox.errors import SandboxError

log = logging.getLogger(__name__)
API_PATHS = ("/api/queues", "/api/queues/front-desk", "/api/queues/pharmacy", "/api/queues/returns")
USER_AGENT = "deploybot-sandbox-load/1"
MAX_RPS = 1000.0


def check_rate(rps: object) -> float:
    if isinstance(rps, bool) or not isinstance(rps, int | float) or not 0 <= rps <= MAX_RPS:
        raise SandboxError(f"rps must be a number from 0 to {MAX_RPS:g}, got {rps!r}")
    return float(rps)


class Pacer:
    """Send times evenly spaced at ``rate`` a second, on whatever clock the caller reads.

    After a stall the sends it missed are skipped (and counted), not caught up: every send
    belongs to its own slot of a ``1/rate`` grid, so a window of W seconds never holds more
    than ``rate * W + 2`` sends.
    """

    def __init__(self, rate: float = 0.0) -> None:
        self._rate = 0.0
        self._next: float | None = None
        self.missed = 0
        self.set_rate(rate)

    @property
    def rate(self) -> float:
        return self._rate

    def set_rate(self, rate: float) -> None:
        """Change the rate; the first send at the new rate is due at once."""
        self._rate = max(float(rate), 0.0)
        self._next = None

    def wait(self, now: float) -> float | None:
        """Seconds until the next send is due (0: now); None while the rate is 0."""
        if self._rate <= 0:
            return None
        if self._next is None:
            self._next = now
        return max(0.0, self._next - now)

    def take(self, now: float) -> bool:
        """Use up the send due now, if there is one."""
        if self.wait(now) != 0.0:
            return False
        assert self._next is not None
        period = 1.0 / self._rate
        skipped = int((now - self._next) // period)
        if skipped > 0:  # stalled for a while: drop those sends instead of bursting
            self.missed += skipped
            self._next += skipped * period
        self._next += period
        return True


@dataclass
class DoorStats:
    """What the load has seen at one front door since the sandbox started."""

    sent: int = 0
    answered: int = 0
    failed: int = 0  # no HTTP answer at all (refused, reset, timed out)
    dropped: int = 0  # due, but max_in_flight requests were still open
    in_flight: int = 0
    codes: Counter[str] = field(default_factory=Counter)
    backends: Counter[str] = field(default_factory=Counter)  # X-Served-By of the answers
    latency_sum_s: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "sent": self.sent,
            "answered": self.answered,
            "failed": self.failed,
            "dropped": self.dropped,
            "in_flight": self.in_flight,
            "codes": dict(sorted(self.codes.items())),
            "backends": dict(sorted(self.backends.items())),
            "mean_latency_ms": (
                round(1000 * self.latency_sum_s / self.answered, 1) if self.answered else None
            ),
        }


class SyntheticLoad:
    """``rps`` requests a second to each front door; ``set_rate`` changes it while running."""

    def __init__(
        self,
        doors: Callable[[], Mapping[str, str]],
        rps: float = 0.0,
        *,
        max_in_flight: int = 64,
        timeout_s: float = 10.0,
        paths: tuple[str, ...] = API_PATHS,
    ) -> None:
        if max_in_flight < 1 or not paths:
            raise SandboxError("the load needs max_in_flight >= 1 and at least one path")
        self._doors_of = doors
        self._rps = check_rate(rps)
        self._max_in_flight = max_in_flight
        self._timeout_s = timeout_s
        self._paths = paths
        self._doors: dict[str, str] = {}
        self._stats: dict[str, DoorStats] = {}
        self._pacer = Pacer()
        self._changed = asyncio.Event()
        self._session: aiohttp.ClientSession | None = None
        self._pacing: asyncio.Task[None] | None = None
        self._requests: set[asyncio.Task[None]] = set()
        self._waiters: list[tuple[Callable[[], bool], asyncio.Future[None]]] = []
        self._turn = 0

    @property
    def rps(self) -> float:
        """Requests a second sent to each front door (0: off)."""
        return self._rps

    def set_rate(self, rps: float) -> None:
        self._rps = check_rate(rps)
        self._pacer.set_rate(self._rps * len(self._doors))
        self._changed.set()

    def stats(self, door: str) -> DoorStats:
        try:
            return self._stats[door.lower()]
        except KeyError:
            raise SandboxError(f"no front door named {door!r}") from None

    def snapshot(self) -> dict[str, Any]:
        return {
            "rps": self._rps,
            "paths": list(self._paths),
            "max_in_flight": self._max_in_flight,
            "missed": self._pacer.missed,
            "doors": {name: self._stats[name.lower()].as_dict() for name in self._doors},
        }

    async def until_answered(
        self,
        count: int,
        door: str | None = None,
        timeout: float = 10.0,  # noqa: ASYNC109 - mirrors the sandbox's other waits
    ) -> None:
        """Wait until ``door`` (or every door) has had ``count`` requests answered or failed."""
        stats = [self.stats(door)] if door else list(self._stats.values())
        await self._until(lambda: all(s.answered + s.failed >= count for s in stats), timeout)

    async def until_idle(
        self,
        timeout: float = 10.0,  # noqa: ASYNC109 - mirrors the sandbox's other waits
    ) -> None:
        """Wait until no request of the load is open (after ``set_rate(0)``: all answered)."""
        await self._until(lambda: not self._requests, timeout)

    async def _until(self, done: Callable[[], bool], timeout_s: float) -> None:
        if done():
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (done, future)
        self._waiters.append(entry)
        try:
            async with asyncio.timeout(timeout_s):
                await future
        finally:
            with contextlib.suppress(ValueError):
                self._waiters.remove(entry)

    # Lifecycle: the sandbox starts it once its front doors listen, and closes it first.

    async def start(self) -> None:
        self._doors = dict(self._doors_of())
        self._stats = {name.lower(): DoorStats() for name in self._doors}
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0, limit_per_host=self._max_in_flight),
            timeout=aiohttp.ClientTimeout(total=self._timeout_s),
            headers={"User-Agent": USER_AGENT},
        )
        self.set_rate(self._rps)
        self._pacing = asyncio.get_running_loop().create_task(self._pace(), name="sandbox-load")
        self._pacing.add_done_callback(_log_failure)

    async def aclose(self) -> None:
        tasks = [t for t in (self._pacing, *self._requests) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._pacing = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _pace(self) -> None:
        loop = asyncio.get_running_loop()
        names = list(self._doors)
        while True:
            self._changed.clear()
            delay = self._pacer.wait(loop.time())
            if delay is None or delay > 0:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(delay):
                        await self._changed.wait()
                continue
            if names and self._pacer.take(loop.time()):
                name = names[self._turn % len(names)]
                self._turn += 1
                self._send(name)

    def _send(self, name: str) -> None:
        stats = self._stats[name.lower()]
        if stats.in_flight >= self._max_in_flight:
            stats.dropped += 1
            return
        path = self._paths[stats.sent % len(self._paths)]
        stats.sent += 1
        stats.in_flight += 1
        task = asyncio.get_running_loop().create_task(
            self._request(self._doors[name] + path, stats)
        )
        self._requests.add(task)
        task.add_done_callback(self._finished)

    async def _request(self, url: str, stats: DoorStats) -> None:
        assert self._session is not None
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            async with self._session.get(url, allow_redirects=False) as response:
                await response.read()
            stats.answered += 1
            stats.codes[str(response.status)] += 1
            stats.backends[response.headers.get("X-Served-By", "?")] += 1
            stats.latency_sum_s += loop.time() - started
        except (aiohttp.ClientError, TimeoutError):
            stats.failed += 1
        finally:
            stats.in_flight -= 1

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._requests.discard(task)
        _log_failure(task)
        for done, future in list(self._waiters):
            if not future.done() and done():
                future.set_result(None)


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("sandbox load: %s failed", task.get_name(), exc_info=task.exception())
