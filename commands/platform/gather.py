"""Run awaitables concurrently and fail like a single call would."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")


async def gather_all(*aws: Awaitable[T]) -> list[T]:
    """All results in order; on the first failure the rest are cancelled and that error raised.

    Unlike ``asyncio.gather`` nothing is left running, and unlike a bare ``TaskGroup`` the
    caller gets the error itself rather than an ``ExceptionGroup``.
    """
    tasks: list[asyncio.Task[T]] = []
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(_awaited(aw)) for aw in aws]
    except BaseExceptionGroup as failed:
        raise failed.exceptions[0] from None
    return [task.result() for task in tasks]


async def _awaited(aw: Awaitable[T]) -> T:
    return await aw
