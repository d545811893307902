"""What ``/deploy status`` shows, held between requests so that answering costs no reads.

Two parts, each read by one task at a time however many people ask at once:

- the records (locks, unfinished jobs, each environment's last known live version) from the
  database: re-read when a committed audit row says they changed (a lock, a job's state), or
  once they are ``records_ttl`` old (rows other processes commit are not seen);
- each environment's live state from Azure: served as held, with the time it was read, and
  re-read in the background once it is ``live_ttl`` old or the environment's job moved
  traffic. Only the first status after start-up, or after a deployment finished there,
  waits for Azure.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

from commands.config.model import Config, Environment
from commands.platform.base import EnvironmentState, Platform
from commands.platform.errors import PlatformError
from storage import AuditEvent, Deployment, Lock, Store

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]
T = TypeVar("T")
FINISHED = "deployment.finished"
# Rows that change what the records show; anything else (steps, health verdicts, Azure calls,
# commands and clicks received, refusals) leaves them as they were.
CHANGES_RECORDS = ("lock.", "deployment.", "deploy.", "rollback.", "canary.", "job.")


@dataclass(frozen=True)
class Records:
    locks: dict[str, Lock]
    unfinished: dict[str, Deployment]
    last_live: dict[str, str | None]
    read_at: datetime
    changes: int  # the board's change count when the read began


@dataclass(frozen=True)
class LiveRead:
    state: EnvironmentState | None
    error: str | None
    read_at: datetime


class _OneAtATime(Generic[T]):
    """One read in flight; everyone who asks meanwhile awaits that same read."""

    def __init__(self) -> None:
        self._task: asyncio.Task[T] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self, read: Callable[[], Coroutine[Any, Any, T]]) -> asyncio.Task[T]:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(read())
            self._task.add_done_callback(_log_failure)
        return self._task

    async def run(self, read: Callable[[], Coroutine[Any, Any, T]]) -> T:
        # shield: an asker cancelled while waiting leaves the read to the others.
        return await asyncio.shield(self.start(read))

    async def close(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task


def _log_failure(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and (error := task.exception()) is not None:
        log.error("a status read failed", exc_info=error)


class StatusBoard:
    def __init__(
        self,
        config: Config,
        store: Store,
        platform: Platform,
        clock: Clock,
        *,
        records_ttl: timedelta = timedelta(seconds=5),
        live_ttl: timedelta = timedelta(seconds=5),
    ) -> None:
        self.config, self.store, self.platform, self.clock = config, store, platform, clock
        self.records_ttl, self.live_ttl = records_ttl, live_ttl
        self._records: Records | None = None
        self._records_changed = 0  # bumped by every row that changes them
        self._records_read: _OneAtATime[Records] = _OneAtATime()
        self._live: dict[str, LiveRead] = {}
        self._live_reads: dict[str, _OneAtATime[LiveRead]] = {
            name: _OneAtATime() for name in config.environments
        }
        self._live_stale: set[str] = set()
        self._live_invalid: set[str] = set(config.environments)

    def observe(self, row: AuditEvent) -> None:
        """An ``AuditLog`` subscriber: note what a committed row makes out of date."""
        if row.action.endswith(".refused") or not row.action.startswith(CHANGES_RECORDS):
            return
        self._records_changed += 1
        if row.environment in self._live_reads:
            if row.action == FINISHED:
                self._live_invalid.add(row.environment)
            else:
                self._live_stale.add(row.environment)

    async def records(self) -> Records:
        held = self._records
        if held is not None and self._current(held):
            return held
        for _ in range(3):
            found = await self._records_read.run(self._read_records)
            if found.changes == self._records_changed:
                break
            # A row committed while that read ran may be missing from it: read again.
        return found

    def _current(self, held: Records) -> bool:
        fresh = self.clock() - held.read_at < self.records_ttl
        return fresh and held.changes == self._records_changed

    async def _read_records(self) -> Records:
        changes = self._records_changed
        locks = {lock.environment: lock for lock in await self.store.locks.all()}
        unfinished = {d.environment: d for d in await self.store.deployments.unfinished()}
        # Shown only while Azure cannot be read; the database's word for the live version.
        last_live = {name: await self._last_live_version(name) for name in self.config.environments}
        found = Records(locks, unfinished, last_live, self.clock(), changes)
        self._records = found
        return found

    async def _last_live_version(self, name: str) -> str | None:
        events = await self.store.audit.query(environment=name, actions=[FINISHED], limit=20)
        for event in events:
            if event.details.get("outcome") in ("succeeded", "rolled_back"):
                live = event.details.get("live_version")
                return str(live) if live else None
        return None

    async def live(self, env: Environment) -> LiveRead:
        """As held, unless nothing is held or a finished deployment made it wrong."""
        reads, held = self._live_reads[env.name], self._live.get(env.name)
        if held is None or env.name in self._live_invalid:
            return await reads.run(lambda: self._read_live(env))
        if env.name in self._live_stale or self.clock() - held.read_at >= self.live_ttl:
            reads.start(lambda: self._read_live(env))
        return held

    async def _read_live(self, env: Environment) -> LiveRead:
        self._live_invalid.discard(env.name)
        self._live_stale.discard(env.name)
        try:
            found = LiveRead(await self.platform.read_state(env), None, self.clock())
        except PlatformError as error:
            # The last state read, with the time it was read, beside the error.
            held = self._live.get(env.name)
            found = LiveRead(
                held.state if held else None, str(error), held.read_at if held else self.clock()
            )
        self._live[env.name] = found
        return found

    async def close(self) -> None:
        await self._records_read.close()
        for reads in self._live_reads.values():
            await reads.close()
