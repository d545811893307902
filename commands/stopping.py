"""Stopping a background task that reads or writes the database.

A task cancelled mid-query takes its connection's reset with it, and SQLAlchemy logs that as
"Exception during reset": so the task is given a moment to end by itself (its query, or the
round it is in), and only a task still running after that is cancelled.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

#: How long a stopping task may take to end by itself.
GRACE_S = 5.0


async def finish_or_cancel(task: asyncio.Task[Any], grace: float = GRACE_S) -> None:
    """Wait up to ``grace`` seconds for ``task``, then cancel it if it still runs; whatever it
    raised is left to its own callbacks."""
    if not task.done():
        await asyncio.wait({task}, timeout=grace)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
