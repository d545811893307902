"""Signals for running jobs: a person's wish made on any replica, taken by the job's replica.

A click reaches whichever replica Slack picked; the job may run on another. The click writes
a row here; the replica holding the job's lease takes the rows for its jobs (each exactly
once, oldest first) and hands them to the job.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select, update

from storage.db import Database
from storage.lease_models import JobSignalRow
from storage.validate import require_text


@dataclass(frozen=True, slots=True)
class JobSignal:
    id: int
    deployment_id: str
    action: str
    actor: str
    at: datetime


class JobSignals:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def send(self, deployment_id: str, action: str, actor: str) -> None:
        require_text("deployment_id", deployment_id)
        require_text("action", action)
        require_text("actor", actor)
        async with self._db.write() as session:
            await session.execute(
                insert(JobSignalRow).values(
                    deployment_id=deployment_id, action=action, actor=actor, at=self._db.now()
                )
            )

    async def take(self, deployment_ids: Collection[str], taker: str) -> list[JobSignal]:
        """The untaken signals of these jobs, oldest first, marked taken by ``taker``."""
        if not deployment_ids:
            return []
        async with self._db.write() as session:
            rows = (
                await session.execute(
                    select(JobSignalRow)
                    .where(
                        JobSignalRow.deployment_id.in_(list(deployment_ids)),
                        JobSignalRow.taken_at.is_(None),
                    )
                    .order_by(JobSignalRow.id)
                    .with_for_update()
                )
            ).scalars()
            taken = [JobSignal(r.id, r.deployment_id, r.action, r.actor, r.at) for r in rows]
            if taken:
                await session.execute(
                    update(JobSignalRow)
                    .where(JobSignalRow.id.in_([signal.id for signal in taken]))
                    .values(taken_at=self._db.now(), taken_by=taker)
                )
        return taken
