"""Stopping a job at a safe point when the process is asked to stop (SIGTERM)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable


class ShuttingDown(BaseException):
    """Raised at a safe point when the bot is stopping; the job resumes after a restart.

    A BaseException, so no ``except Exception`` on the way treats it as a failed step.
    """


async def wait_any(events: tuple[asyncio.Event, ...], timeout: float) -> None:  # noqa: ASYNC109
    """Return when one of ``events`` is set or after ``timeout`` seconds."""
    waiters = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, timeout=max(0.0, timeout), return_when="FIRST_COMPLETED")
    finally:
        for waiter in waiters:
            waiter.cancel()


async def interruptible_sleep(
    sleep: Callable[[float], Awaitable[None]], stopping: asyncio.Event, seconds: float
) -> None:
    """A job's pause between polls: a safe point, so it ends early when the bot stops."""
    if stopping.is_set():
        raise ShuttingDown("")
    waiter = asyncio.ensure_future(stopping.wait())
    sleeper = asyncio.ensure_future(sleep(seconds))
    try:
        await asyncio.wait((waiter, sleeper), return_when="FIRST_COMPLETED")
    finally:
        waiter.cancel()
        sleeper.cancel()
    if stopping.is_set():
        raise ShuttingDown("")
