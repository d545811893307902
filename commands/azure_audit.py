"""Every Azure request becomes an audit row, attributed to the deployment that made it."""

from __future__ import annotations

import asyncio
import logging

from commands.jobs.base import BOT, current_deployment
from storage import Store

log = logging.getLogger(__name__)
READS = ("read", "get", "list")
Call = tuple[tuple[str, str] | None, str, str, str, float, str | None]


class AzureCallAuditor:
    """The platform reports calls synchronously; rows are written by one background task."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.queue: asyncio.Queue[Call] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def observe(
        self, operation: str, resource: str, outcome: str, duration_s: float, error_code: str | None
    ) -> None:
        where = current_deployment.get()
        if where is None and operation.startswith(READS) and outcome == "ok":
            return  # a status read: nothing changed and nothing failed
        self.queue.put_nowait((where, operation, resource, outcome, duration_s, error_code))

    def start(self) -> None:
        self._task = asyncio.create_task(self._write(), name="azure-audit")

    async def _write(self) -> None:
        while True:
            where, operation, resource, outcome, took, code = await self.queue.get()
            try:
                await self.store.audit.append(
                    BOT,
                    "azure.call",
                    environment=where[0] if where else None,
                    deployment_id=where[1] if where else None,
                    details={
                        "operation": operation,
                        "resource": resource,
                        "outcome": outcome,
                        "duration_s": round(took, 4),
                        "error_code": code,
                    },
                )
            except Exception:
                log.exception("could not audit the Azure call %s %s", operation, resource)
            finally:
                self.queue.task_done()

    async def close(self) -> None:
        await self.queue.join()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
