"""Job leases: which deploybot process runs a deployment's job, and until when.

A replica claims a job's lease before it runs the job and renews it while the job runs; a
lease that is not renewed expires, and then another replica may claim it and carry the job
on. Claims and renewals are single transactions that lock the lease row (``BEGIN
IMMEDIATE`` on SQLite, ``SELECT … FOR UPDATE`` on PostgreSQL), so two replicas can never
both hold one job. Times come from the database's clock (the bot's clock); replicas whose
clocks disagree by more than a small part of the lease time would cut leases short.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import exc, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import Database
from storage.errors import InvalidValueError
from storage.lease_models import JobLeaseRow
from storage.validate import require_text

#: The holder of a lease given up: nobody.
RELEASED = ""


@dataclass(frozen=True, slots=True)
class Lease:
    deployment_id: str
    holder: str
    acquired_at: datetime
    expires_at: datetime

    def live(self, now: datetime) -> bool:
        return self.expires_at > now


@dataclass(frozen=True, slots=True)
class Claimed:
    """A lease this holder now has; ``taken_from`` names the holder whose lease had expired."""

    lease: Lease
    taken_from: str | None


class Leases:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def claim(self, deployment_id: str, holder: str, ttl: timedelta) -> Claimed | None:
        """Take the job's lease for ``ttl`` unless another holder's lease is still live.

        Returns None when someone else holds it; a holder claiming its own lease renews it.
        """
        require_text("deployment_id", deployment_id)
        require_text("holder", holder)
        _require_ttl(ttl)
        for attempt in range(3):
            try:
                return await self._try_claim(deployment_id, holder, ttl)
            except exc.IntegrityError:
                # PostgreSQL: another replica inserted the first lease between our read and
                # our insert; the next attempt sees its row.
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def _try_claim(self, deployment_id: str, holder: str, ttl: timedelta) -> Claimed | None:
        async with self._db.write() as session:
            now = self._db.now()
            current = await _row(session, deployment_id, for_update=True)
            if current is None:
                lease = Lease(deployment_id, holder, now, now + ttl)
                await session.execute(
                    insert(JobLeaseRow).values(
                        deployment_id=deployment_id,
                        holder=holder,
                        acquired_at=now,
                        expires_at=lease.expires_at,
                    )
                )
                return Claimed(lease, None)
            if current.holder != holder and current.live(now):
                return None
            taken_from = None if current.holder in (holder, RELEASED) else current.holder
            acquired = current.acquired_at if current.holder == holder else now
            lease = Lease(deployment_id, holder, acquired, now + ttl)
            await session.execute(
                update(JobLeaseRow)
                .where(JobLeaseRow.deployment_id == deployment_id)
                .values(holder=holder, acquired_at=acquired, expires_at=lease.expires_at)
            )
            return Claimed(lease, taken_from)

    async def renew(self, holder: str, deployment_ids: Collection[str], ttl: timedelta) -> set[str]:
        """Extend the leases ``holder`` still holds among ``deployment_ids``; returns those.

        A lease another replica took after this one's expired is not renewed: its id is
        missing from the answer, and the caller must stop that job.
        """
        require_text("holder", holder)
        _require_ttl(ttl)
        if not deployment_ids:
            return set()
        async with self._db.write() as session:
            held = set(
                (
                    await session.execute(
                        select(JobLeaseRow.deployment_id)
                        .where(
                            JobLeaseRow.holder == holder,
                            JobLeaseRow.deployment_id.in_(list(deployment_ids)),
                        )
                        .with_for_update()
                    )
                ).scalars()
            )
            if held:
                await session.execute(
                    update(JobLeaseRow)
                    .where(JobLeaseRow.holder == holder, JobLeaseRow.deployment_id.in_(held))
                    .values(expires_at=self._db.now() + ttl)
                )
        return held

    async def release(self, deployment_id: str, holder: str) -> bool:
        """Give the lease up (the job finished or stopped here); only the holder's own.

        The row stays, expired and with no holder (``RELEASED``): anyone's next claim succeeds
        at once and is no takeover, and a restart tells a job stopped here from one just
        created elsewhere whose replica is still claiming it."""
        async with self._db.write() as session:
            done = await session.execute(
                update(JobLeaseRow)
                .where(JobLeaseRow.deployment_id == deployment_id, JobLeaseRow.holder == holder)
                .values(holder=RELEASED, expires_at=self._db.now())
            )
        return bool(getattr(done, "rowcount", 0))

    async def get(self, deployment_id: str) -> Lease | None:
        async with self._db.read() as session:
            return await _row(session, deployment_id, for_update=False)

    async def of(self, deployment_ids: Collection[str]) -> dict[str, Lease]:
        """The leases of these deployments that exist, by deployment id."""
        if not deployment_ids:
            return {}
        async with self._db.read() as session:
            rows = (
                await session.execute(
                    select(JobLeaseRow).where(JobLeaseRow.deployment_id.in_(list(deployment_ids)))
                )
            ).scalars()
            return {row.deployment_id: _lease(row) for row in rows}


async def _row(session: AsyncSession, deployment_id: str, *, for_update: bool) -> Lease | None:
    query = select(JobLeaseRow).where(JobLeaseRow.deployment_id == deployment_id)
    if for_update:
        query = query.with_for_update()
    row = (await session.execute(query)).scalar_one_or_none()
    return None if row is None else _lease(row)


def _lease(row: JobLeaseRow) -> Lease:
    return Lease(row.deployment_id, row.holder, row.acquired_at, row.expires_at)


def _require_ttl(ttl: timedelta) -> None:
    if not isinstance(ttl, timedelta) or ttl <= timedelta(0):
        raise InvalidValueError(f"a lease needs a positive duration, got {ttl!r}")
