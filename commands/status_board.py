"""What ``/deploy status`` shows, held between requests so that answering costs no reads.

Two parts, each read by one task at a time however many people ask at once:

- the records (locks, unfinished jobs, each environment's last known live version) from the
  database: re-read before answering when a committed audit row says they changed (a lock, a
  job's state), and in the background once they are ``records_ttl`` old (for the rows other
  replicas commit, which this process does not see);
- each environment's live state from Azure: served as held, with the time it was read, and
  re-read in the background once it is ``live_ttl`` old or the environment's job moved
  traffic. A status after a deployment finished there waits for the read the finish started
  (it may already be done); ``warm`` reads everything at start-up, so the first status after
  it need not wait for Azure either.

The last known live versions (a query per environment) are read again only for an
environment whose deployment finished: nothing else changes them.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any, Generic, TypeVar

from commands.config.model import Config, Environment
from commands.platform.base import EnvironmentState, Platform
from commands.platform.errors import PlatformError
from commands.stopping import GRACE_S, finish_or_cancel
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

    async def close(self, grace: float = GRACE_S) -> None:
        if self._task is not None and not self._task.done():
            await finish_or_cancel(self._task, grace)


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
        # Each environment's last live version, with its count of finishes when the read
        # began: an entry read before the latest finish (or missing) is read again.
        self._last_live: dict[str, tuple[int, str | None]] = {}
        self._finishes: collections.Counter[str] = collections.Counter()

    def warm(self) -> list[asyncio.Task[Any]]:
        """Read the records and every environment's live state now, in the background (any
        read already running is joined); returns the reads, for whoever wants to wait."""
        reads: list[asyncio.Task[Any]] = [self._records_read.start(self._read_records)]
        for env in self.config.environments.values():
            reads.append(self._live_reads[env.name].start(partial(self._read_live, env)))
        return reads

    def observe(self, row: AuditEvent) -> None:
        """An ``AuditLog`` subscriber: note what a committed row makes out of date."""
        if row.action.endswith(".refused") or not row.action.startswith(CHANGES_RECORDS):
            return
        self._records_changed += 1
        if (name := row.environment) in self._live_reads:
            if row.action == FINISHED:
                self._live_invalid.add(name)
                self._finishes[name] += 1
                # Read now: the next status waits for this read, not for one it starts.
                self._live_reads[name].start(
                    partial(self._read_live, self.config.environments[name])
                )
            else:
                self._live_stale.add(name)

    async def records(self) -> Records:
        """As held while nothing this process saw changed them; once they are ``records_ttl``
        old, a re-read starts in the background and the held ones answer meanwhile (rows other
        replicas commit show up within ``records_ttl`` and one read)."""
        held = self._records
        if held is not None and held.changes == self._records_changed:
            if self.clock() - held.read_at >= self.records_ttl:
                self._records_read.start(self._read_records)
            return held
        for _ in range(3):
            found = await self._records_read.run(self._read_records)
            if found.changes == self._records_changed:
                break
            # A row committed while that read ran may be missing from it: read again.
        return found

    async def _read_records(self) -> Records:
        changes = self._records_changed
        # Shown only while Azure cannot be read; the database's word for the live version.
        unread = {
            name: self._finishes[name]
            for name in self.config.environments
            if self._last_live.get(name, (-1, None))[0] != self._finishes[name]
        }
        (locks, unfinished), versions = await asyncio.gather(
            asyncio.gather(self.store.locks.all(), self.store.deployments.unfinished()),
            asyncio.gather(*(self._last_live_version(name) for name in unread)),
        )
        for (name, finishes), version in zip(unread.items(), versions, strict=True):
            self._last_live[name] = (finishes, version)
        found = Records(
            {lock.environment: lock for lock in locks},
            {d.environment: d for d in unfinished},
            {name: self._last_live.get(name, (0, None))[1] for name in self.config.environments},
            self.clock(),
            changes,
        )
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
