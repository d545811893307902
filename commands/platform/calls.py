"""One Azure call: a time budget, retries with backoff where repeating is safe, an observer.

The SDK clients run with their own retries switched off; this module decides instead, because
only the caller knows whether an operation is safe to repeat (a GET or a settings PUT is, a
swap POST is not).

A request that hangs is given up after a per-attempt timeout and sent again only where the
caller says so (``retry_hung``): an abandoned request may still be carried out late, after
whatever the bot did next, which only a read or a restart can afford.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

from commands.platform.base import CallObserver
from commands.platform.errors import (
    PlatformError,
    PlatformTimeout,
    ServerError,
    Throttled,
    Unreachable,
)
from commands.platform.sdk_errors import translate

T = TypeVar("T")
log = logging.getLogger(__name__)


class Clock(Protocol):
    def monotonic(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded exponential backoff with jitter; a server's Retry-After wins, up to a cap."""

    retries: int = 4
    base_delay_s: float = 0.5
    max_delay_s: float = 10.0
    max_retry_after_s: float = 30.0

    def delay(self, attempt: int, retry_after_s: float | None, jitter: float) -> float:
        if retry_after_s is not None:
            return min(retry_after_s, self.max_retry_after_s)
        backoff = min(self.max_delay_s, self.base_delay_s * 2**attempt)
        return float(backoff * (0.5 + 0.5 * jitter))


def is_retryable(error: PlatformError, *, safe: bool) -> bool:
    """Throttling and refused connections never executed anything; the rest only if safe."""
    if isinstance(error, Throttled):
        return True
    if isinstance(error, Unreachable):
        return safe or error.code == "ConnectionFailed"
    return safe and isinstance(error, ServerError | PlatformTimeout)


class Caller:
    def __init__(
        self,
        *,
        timeout_s: float,
        retry: RetryPolicy,
        clock: Clock,
        attempt_timeout_s: float | None = None,
        jitter: Callable[[], float] = random.random,
        on_call: CallObserver | None = None,
    ) -> None:
        self.timeout_s = timeout_s
        self.attempt_timeout_s = attempt_timeout_s
        self.retry = retry
        self.clock = clock
        self._jitter = jitter
        self._on_call = on_call

    async def call(
        self,
        operation: str,
        resource: str,
        attempt_once: Callable[[], Awaitable[T]],
        *,
        safe: bool = True,
        timeout_s: float | None = None,
        retry_hung: bool = False,
    ) -> T:
        """Run ``attempt_once`` until it succeeds, fails for good, or the budget runs out.

        ``retry_hung``: each attempt gets ``attempt_timeout_s`` of the budget and one that
        hangs is sent again. Without it an attempt may use all that is left of the budget.
        """
        if retry_hung and not safe:
            raise ValueError(f"{operation}: only a safe operation can be sent again when hung")
        budget = self.timeout_s if timeout_s is None else timeout_s
        loop = asyncio.get_running_loop()
        deadline = loop.time() + budget
        attempt = 0
        started = self.clock.monotonic()
        scope = asyncio.timeout(budget)
        try:
            async with scope:
                while True:
                    started = self.clock.monotonic()
                    limit = self._attempt_limit(retry_hung, deadline - loop.time())
                    attempt_scope = asyncio.timeout(limit)
                    try:
                        async with attempt_scope:
                            result = await attempt_once()
                    except Exception as exc:
                        error = (
                            PlatformTimeout(
                                operation, resource, "Timeout", f"no answer within {limit:g} s"
                            )
                            if attempt_scope.expired()
                            else translate(exc, operation, resource)
                        )
                        delay = self.retry.delay(attempt, error.retry_after_s, self._jitter())
                        retry = (
                            attempt < self.retry.retries
                            and is_retryable(error, safe=safe)
                            and loop.time() + delay < deadline
                        )
                        self._observe(
                            operation, resource, "retry" if retry else "error", started, error.code
                        )
                        if not retry:
                            if error is exc:
                                raise
                            raise error from exc
                        await self.clock.sleep(delay)
                        attempt += 1
                        continue
                    self._observe(operation, resource, "ok", started, None)
                    return result
        except TimeoutError as exc:
            if not scope.expired():
                raise translate(exc, operation, resource) from exc
            self._observe(operation, resource, "error", started, "Timeout")
            raise PlatformTimeout(
                operation, resource, "Timeout", f"no answer within {budget:g} s"
            ) from None

    def _attempt_limit(self, retry_hung: bool, remaining_s: float) -> float | None:
        """None leaves the attempt to the budget's own timeout."""
        limit = self.attempt_timeout_s
        if not retry_hung or limit is None or limit >= remaining_s:
            return None
        return limit

    def _observe(
        self, operation: str, resource: str, outcome: str, started: float, code: str | None
    ) -> None:
        if self._on_call is None:
            return
        try:
            self._on_call(operation, resource, outcome, self.clock.monotonic() - started, code)
        except Exception:
            # An audit hiccup must not abort the cloud operation (a rollback, say) it describes.
            log.exception("the call observer failed for %s on %s", operation, resource)
