"""Environment locks: one holder per environment, taken atomically.

A lock is either ``manual`` (someone typed ``/deploy lock``) or ``job`` (held by a deployment
while it runs). Policy — who may lock, unlock or override — lives in ``commands``; this module
only records facts and refuses a second holder.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import delete, exc, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import Database
from storage.errors import InvalidValueError
from storage.models import LockRow
from storage.validate import require_text

LockKind = Literal["manual", "job"]
LOCK_KINDS: frozenset[str] = frozenset({"manual", "job"})


@dataclass(frozen=True, slots=True)
class Lock:
    environment: str
    holder: str
    kind: LockKind
    deployment_id: str | None
    reason: str | None
    acquired_at: datetime


@dataclass(frozen=True, slots=True)
class LockHeld:
    """Returned by ``acquire`` when someone else already holds the environment."""

    current: Lock

    @property
    def holder(self) -> str:
        return self.current.holder

    @property
    def reason(self) -> str | None:
        return self.current.reason

    @property
    def since(self) -> datetime:
        return self.current.acquired_at

    @property
    def deployment_id(self) -> str | None:
        return self.current.deployment_id

    @property
    def kind(self) -> LockKind:
        return self.current.kind


class Locks:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def acquire(
        self,
        environment: str,
        holder: str,
        *,
        kind: LockKind,
        deployment_id: str | None = None,
        reason: str | None = None,
    ) -> Lock | LockHeld:
        """Take the environment's lock, or say who holds it.

        A job re-acquiring the lock its own deployment already holds gets that lock back
        (so a job resumed after a restart can carry on); any other second acquire gets
        ``LockHeld``.
        """
        require_text("environment", environment)
        require_text("holder", holder)
        if kind not in LOCK_KINDS:
            raise InvalidValueError(f"lock kind must be 'manual' or 'job', got {kind!r}")
        if kind == "job" and deployment_id is None:
            raise InvalidValueError("a job lock needs the deployment_id of the job holding it")
        for attempt in range(3):
            try:
                return await self._try_acquire(environment, holder, kind, deployment_id, reason)
            except exc.IntegrityError:
                # PostgreSQL: another replica inserted between our read and our insert;
                # the next attempt sees its row and answers LockHeld.
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def _try_acquire(
        self,
        environment: str,
        holder: str,
        kind: LockKind,
        deployment_id: str | None,
        reason: str | None,
    ) -> Lock | LockHeld:
        async with self._db.write() as session:
            existing = await _current(session, environment, for_update=True)
            if existing is not None:
                if _is_own_job_lock(existing, kind, deployment_id):
                    return existing
                return LockHeld(existing)
            lock = Lock(
                environment=environment,
                holder=holder,
                kind=kind,
                deployment_id=deployment_id,
                reason=reason,
                acquired_at=self._db.now(),
            )
            await session.execute(
                insert(LockRow).values(
                    environment=environment,
                    holder=holder,
                    kind=kind,
                    deployment_id=deployment_id,
                    reason=reason,
                    acquired_at=lock.acquired_at,
                )
            )
        return lock

    async def release(
        self, environment: str, *, deployment_id: str | None = None, kind: LockKind | None = None
    ) -> Lock | None:
        """Release the environment's lock and return what was released (None if nothing).

        With ``deployment_id`` only a lock held by that deployment is released, so a
        finishing job can never drop a lock someone else took meanwhile. Without it, any
        lock goes (``/deploy unlock``; the caller checks who may do that). With ``kind``
        only a lock of that kind is released (``kind="manual"``: never a running job's).
        """
        require_text("environment", environment)
        async with self._db.write() as session:
            existing = await _current(session, environment, for_update=True)
            if existing is None:
                return None
            if deployment_id is not None and existing.deployment_id != deployment_id:
                return None
            if kind is not None and existing.kind != kind:
                return None
            await session.execute(delete(LockRow).where(LockRow.environment == environment))
            return existing

    async def get(self, environment: str) -> Lock | None:
        async with self._db.read() as session:
            return await _current(session, environment, for_update=False)

    async def all(self) -> list[Lock]:
        """Every held lock, by environment name."""
        async with self._db.read() as session:
            rows = (await session.execute(select(LockRow).order_by(LockRow.environment))).scalars()
            return [_lock(row) for row in rows]


async def _current(session: AsyncSession, environment: str, *, for_update: bool) -> Lock | None:
    query = select(LockRow).where(LockRow.environment == environment)
    if for_update:
        query = query.with_for_update()
    row = (await session.execute(query)).scalar_one_or_none()
    return None if row is None else _lock(row)


def _is_own_job_lock(lock: Lock, kind: str, deployment_id: str | None) -> bool:
    return kind == "job" and lock.kind == "job" and lock.deployment_id == deployment_id


def _lock(row: LockRow) -> Lock:
    kind: LockKind = "job" if row.kind == "job" else "manual"
    return Lock(
        environment=row.environment,
        holder=row.holder,
        kind=kind,
        deployment_id=row.deployment_id,
        reason=row.reason,
        acquired_at=row.acquired_at,
    )
