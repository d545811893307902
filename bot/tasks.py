"""Work that runs after Slack has been answered, in a supervised set: never fire-and-forget."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger(__name__)


class TaskSet:
    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()
        self.failures = 0

    @property
    def busy(self) -> bool:
        return bool(self._tasks)

    def spawn(self, work: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        task = asyncio.create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        error = task.exception()
        if error is not None:
            # Listeners answer the user themselves; anything reaching here is a bug to see.
            self.failures += 1
            log.error("background task %s failed", task.get_name(), exc_info=error)

    async def idle(self) -> None:
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        """Let the answers in flight finish (they are short), then return."""
        await self.idle()
