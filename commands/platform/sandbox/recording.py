"""Every ARM request the sandbox answered, and an event-driven wait for one."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

MAX_RECORDS = 100_000


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: Mapping[str, str]
    api_version: str | None
    status: int
    at: datetime


Predicate = Callable[[RecordedRequest], bool]


class ArmLog:
    def __init__(self) -> None:
        self._records: deque[RecordedRequest] = deque(maxlen=MAX_RECORDS)
        self._waiters: list[tuple[Predicate, asyncio.Future[RecordedRequest]]] = []

    @property
    def records(self) -> list[RecordedRequest]:
        return list(self._records)

    def add(self, record: RecordedRequest) -> None:
        self._records.append(record)
        still_waiting = []
        for predicate, future in self._waiters:
            if future.done():
                continue
            if predicate(record):
                future.set_result(record)
            else:
                still_waiting.append((predicate, future))
        self._waiters = still_waiting

    async def wait_for(
        self,
        predicate: Predicate,
        timeout: float = 5.0,  # noqa: ASYNC109 - the sandbox API promises this parameter
    ) -> RecordedRequest:
        """The first recorded request matching ``predicate``, already answered or still to come.

        Raises ``TimeoutError`` after ``timeout`` seconds.
        """
        for record in self._records:
            if predicate(record):
                return record
        future: asyncio.Future[RecordedRequest] = asyncio.get_running_loop().create_future()
        self._waiters.append((predicate, future))
        try:
            async with asyncio.timeout(timeout):
                return await future
        finally:
            if not future.done():
                future.cancel()
