"""The append-only, hash-chained audit log.

Appends are serialized so the chain can never fork: an ``asyncio.Lock`` queues writers of
one process, and the write transaction reads and bumps the single ``audit_head`` row under
the database's write lock (``BEGIN IMMEDIATE`` on SQLite, ``SELECT … FOR UPDATE`` on
PostgreSQL), which queues writers in other processes. See ``audit_chain`` for the hash.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TextIO

from sqlalchemy import Row, insert, select, update

from storage.audit_chain import ChainFields, canonical_details, parse_details, row_hash
from storage.audit_export import ExportFormat, export_rows
from storage.audit_verify import VerifyResult, verify_chain
from storage.db import Database
from storage.errors import AuditIntegrityError
from storage.models import AuditEventRow, AuditHeadRow
from storage.timeutil import iso_utc, parse_iso_utc
from storage.validate import optional_text, require_positive_int, require_text

__all__ = ["AuditEvent", "AuditLog", "ExportFormat", "VerifyResult"]

_COLUMNS = tuple(AuditEventRow.__table__.c)


@dataclass(frozen=True, slots=True)
class AuditEvent:
    seq: int
    id: str
    at: datetime
    actor: str
    action: str
    environment: str | None
    deployment_id: str | None
    details: Mapping[str, Any]
    prev_hash: str
    hash: str


class AuditLog:
    def __init__(self, db: Database, *, new_id: Callable[[], str] | None = None) -> None:
        self._db = db
        self._new_id = new_id or (lambda: str(uuid.uuid4()))

    async def append(
        self,
        actor: str,
        action: str,
        *,
        environment: str | None = None,
        deployment_id: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> AuditEvent:
        """Append one row and return it. Raises InvalidValueError for bad input."""
        require_text("actor", actor)
        require_text("action", action)
        optional_text("environment", environment)
        optional_text("deployment_id", deployment_id)
        details_text = canonical_details(details)
        event_id = self._new_id()
        require_text("audit event id", event_id)
        async with self._db.audit_lock, self._db.write() as session:
            head = (
                await session.execute(
                    select(AuditHeadRow.seq, AuditHeadRow.hash)
                    .where(AuditHeadRow.id == 1)
                    .with_for_update()
                )
            ).one_or_none()
            if head is None:
                raise AuditIntegrityError(
                    "the audit head row is missing, so the chain cannot be extended safely; "
                    "run `deploybot audit verify`"
                )
            # Read the clock under the lock so time order follows seq order.
            fields = ChainFields(
                seq=head.seq + 1,
                id=event_id,
                at=iso_utc(self._db.now()),
                actor=actor,
                action=action,
                environment=environment,
                deployment_id=deployment_id,
                details=details_text,
            )
            digest = row_hash(head.hash, fields)
            await session.execute(
                insert(AuditEventRow).values(
                    seq=fields.seq,
                    id=fields.id,
                    at=fields.at,
                    actor=actor,
                    action=action,
                    environment=environment,
                    deployment_id=deployment_id,
                    details=details_text,
                    prev_hash=head.hash,
                    hash=digest,
                )
            )
            await session.execute(
                update(AuditHeadRow).where(AuditHeadRow.id == 1).values(seq=fields.seq, hash=digest)
            )
        return AuditEvent(
            seq=fields.seq,
            id=event_id,
            at=parse_iso_utc(fields.at),
            actor=actor,
            action=action,
            environment=environment,
            deployment_id=deployment_id,
            details=parse_details(details_text),
            prev_hash=head.hash,
            hash=digest,
        )

    async def query(
        self,
        *,
        environment: str | None = None,
        deployment_id: str | None = None,
        actions: Iterable[str] | None = None,
        actor: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = None,
        newest_first: bool = True,
    ) -> list[AuditEvent]:
        """Rows matching every given filter; ``since`` inclusive, ``until`` exclusive."""
        query = select(*_COLUMNS)
        if environment is not None:
            query = query.where(AuditEventRow.environment == environment)
        if deployment_id is not None:
            query = query.where(AuditEventRow.deployment_id == deployment_id)
        if actions is not None:
            wanted = [actions] if isinstance(actions, str) else list(actions)
            query = query.where(AuditEventRow.action.in_(wanted))
        if actor is not None:
            query = query.where(AuditEventRow.actor == actor)
        if since is not None:
            query = query.where(AuditEventRow.at >= iso_utc(since))
        if until is not None:
            query = query.where(AuditEventRow.at < iso_utc(until))
        order = AuditEventRow.seq.desc() if newest_first else AuditEventRow.seq.asc()
        query = query.order_by(order)
        if limit is not None:
            query = query.limit(require_positive_int("limit", limit))
        async with self._db.read() as session:
            rows = (await session.execute(query)).all()
        return [_event(row) for row in rows]

    async def verify(self) -> VerifyResult:
        """Check the whole chain; the result names the first bad row and what is wrong."""
        return await verify_chain(self._db)

    async def export(self, fmt: ExportFormat, out: TextIO, since: datetime | None = None) -> int:
        """Write rows (oldest first) as "jsonl" or "csv" to ``out``; return the row count."""
        return await export_rows(self._db, fmt, out, since)


def _event(row: Row[Any]) -> AuditEvent:
    try:
        at = parse_iso_utc(row.at)
    except (TypeError, ValueError):  # a tampered row; verify() reports it
        at = datetime.min.replace(tzinfo=UTC)
    return AuditEvent(
        seq=row.seq,
        id=row.id,
        at=at,
        actor=row.actor,
        action=row.action,
        environment=row.environment,
        deployment_id=row.deployment_id,
        details=parse_details(row.details),
        prev_hash=row.prev_hash,
        hash=row.hash,
    )
