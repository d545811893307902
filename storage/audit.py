"""The append-only, hash-chained audit log.

Appends are serialized so the chain can never fork. Within one process, concurrent appends
are group-committed (see ``audit_writer``): one batch at a time, in call order, each batch one
transaction. That transaction reads and bumps the single ``audit_head`` row under the
database's write lock (``BEGIN IMMEDIATE`` on SQLite, ``SELECT … FOR UPDATE`` on PostgreSQL),
which queues writers in other processes; ``Database.audit_lock`` queues other ``AuditLog``
instances over the same ``Database``. See ``audit_chain`` for the hash and ``audit_key`` for
the keyed layer: with a ``Keyring`` every row and the head also get an HMAC, and a log whose
head is keyed refuses appends without one (they would read as tampering).

Subscribers (``AuditLog.subscribe``) are told about every row this ``AuditLog`` writes, in
seq order, once the transaction holding it has committed and before ``append`` returns: a
row's effect on them (e.g. a metric) is visible to anyone who has seen ``append`` return.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TextIO

from sqlalchemy import Row, insert, select, update

from storage.audit_chain import ChainFields, canonical_details, parse_details, row_hash
from storage.audit_checkpoint import Checkpoint
from storage.audit_export import ExportFormat, export_rows
from storage.audit_key import Keyring
from storage.audit_verify import VerifyResult, verify_chain
from storage.audit_writer import DEFAULT_MAX_BATCH, GroupCommit
from storage.db import Database
from storage.errors import AuditIntegrityError
from storage.models import AuditEventRow, AuditHeadRow
from storage.timeutil import iso_utc, parse_iso_utc
from storage.validate import optional_text, require_positive_int, require_text

__all__ = ["AuditEvent", "AuditLog", "AuditSubscriber", "ExportFormat", "VerifyResult"]

log = logging.getLogger(__name__)

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
    key_id: str | None = None
    mac: str | None = None


@dataclass(frozen=True, slots=True)
class _NewRow:
    """One validated append, waiting for its place in the chain."""

    id: str
    actor: str
    action: str
    environment: str | None
    deployment_id: str | None
    details: str


AuditSubscriber = Callable[[AuditEvent], None]


class AuditLog:
    def __init__(
        self,
        db: Database,
        *,
        new_id: Callable[[], str] | None = None,
        max_batch: int = DEFAULT_MAX_BATCH,
        keyring: Keyring | None = None,
    ) -> None:
        self._db = db
        self._keyring = keyring
        self._new_id = new_id or (lambda: str(uuid.uuid4()))
        self._writer: GroupCommit[_NewRow, AuditEvent] = GroupCommit(
            self._write_batch, max_batch=max_batch
        )
        self._subscribers: list[AuditSubscriber] = []

    def subscribe(self, callback: AuditSubscriber) -> Callable[[], None]:
        """Call ``callback(row)`` for every row appended from now on; returns an unsubscribe.

        It is called synchronously on the event loop, once per row in seq order, after the
        row's transaction has committed (with group commit: after its batch committed) and
        before ``append`` returns. Rows whose transaction failed are never passed. A callback
        that raises is logged and skipped: it never fails the append or the other callbacks.
        Rows written by other processes or other ``AuditLog`` instances are not seen.
        """
        self._subscribers.append(callback)

        def unsubscribe() -> None:
            if callback in self._subscribers:
                self._subscribers.remove(callback)

        return unsubscribe

    async def append(
        self,
        actor: str,
        action: str,
        *,
        environment: str | None = None,
        deployment_id: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> AuditEvent:
        """Append one row and return it exactly as stored, once it is durably committed.

        Raises InvalidValueError for bad input (before anything is queued, so it affects no
        one else). Appends made concurrently in this process are committed together in one
        transaction, in the order ``append`` was called; if that transaction fails, every
        append in it raises the error and none of its rows is written.

        Cancelling ``append`` drops the row if its batch has not started yet; once the batch
        has started the row is written anyway (and ``append`` still raises CancelledError).
        """
        require_text("actor", actor)
        require_text("action", action)
        optional_text("environment", environment)
        optional_text("deployment_id", deployment_id)
        details_text = canonical_details(details)
        event_id = self._new_id()
        require_text("audit event id", event_id)
        row = _NewRow(event_id, actor, action, environment, deployment_id, details_text)
        return await self._writer.submit(row)

    async def queue(
        self,
        actor: str,
        action: str,
        *,
        environment: str | None = None,
        deployment_id: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> asyncio.Future[AuditEvent]:
        """``append`` without waiting for the commit: when this returns, the row holds its place
        ahead of every append called after it; await the future for the commit (and its error).

        For a click or a breach, whose effect (a signal, a traffic switch) should not wait
        behind a group commit but whose row must come before the rows that effect leads to."""
        appending = asyncio.ensure_future(
            self.append(
                actor, action, environment=environment, deployment_id=deployment_id, details=details
            )
        )
        await asyncio.sleep(0)  # the append's first step runs now: its row is queued
        return appending

    async def _write_batch(self, rows: list[_NewRow]) -> list[AuditEvent]:
        """Chain ``rows`` onto the head and commit them and the new head in one transaction."""
        async with self._db.audit_lock, self._db.write() as session:
            head = (
                await session.execute(
                    select(AuditHeadRow.seq, AuditHeadRow.hash, AuditHeadRow.mac)
                    .where(AuditHeadRow.id == 1)
                    .with_for_update()
                )
            ).one_or_none()
            if head is None:
                raise AuditIntegrityError(
                    "the audit head row is missing, so the chain cannot be extended safely; "
                    "run `deploybot audit verify`"
                )
            key = self._keyring.current if self._keyring else None
            if key is None and head.mac is not None:
                raise AuditIntegrityError(
                    "the audit log is keyed, so rows written without DEPLOYBOT_AUDIT_KEY would "
                    "read as tampering; set it"
                )
            seq, prev_hash = head.seq, head.hash
            values: list[dict[str, Any]] = []
            events: list[AuditEvent] = []
            for row in rows:
                seq += 1
                # Read the clock under the lock, row by row, so time order follows seq order.
                fields = ChainFields(
                    seq=seq,
                    id=row.id,
                    at=iso_utc(self._db.now()),
                    actor=row.actor,
                    action=row.action,
                    environment=row.environment,
                    deployment_id=row.deployment_id,
                    details=row.details,
                )
                digest = row_hash(prev_hash, fields)
                keyed: dict[str, str | None] = {"key_id": None, "mac": None}
                if key is not None:
                    keyed = {"key_id": key.key_id, "mac": key.row_mac(digest)}
                values.append(
                    dataclasses.asdict(fields) | {"prev_hash": prev_hash, "hash": digest} | keyed
                )
                events.append(_new_event(fields, prev_hash, digest, **keyed))
                prev_hash = digest
            await session.execute(insert(AuditEventRow), values)
            new_head: dict[str, Any] = {"seq": seq, "hash": prev_hash, "key_id": None, "mac": None}
            if key is not None:
                new_head |= {"key_id": key.key_id, "mac": key.head_mac(seq, prev_hash)}
            await session.execute(
                update(AuditHeadRow).where(AuditHeadRow.id == 1).values(**new_head)
            )
        # Committed (the block above exits only after COMMIT succeeded); batches run one at a
        # time in call order, so subscribers see rows in seq order.
        self._notify(events)
        return events

    def _notify(self, events: list[AuditEvent]) -> None:
        subscribers = tuple(self._subscribers)
        for event in events:
            for subscriber in subscribers:
                try:
                    subscriber(event)
                except Exception:
                    log.exception(
                        "audit subscriber %r failed on row %s (%s)",
                        subscriber,
                        event.seq,
                        event.action,
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

    async def verify(
        self, *, keyring: Keyring | None = None, checkpoints: Iterable[Checkpoint] = ()
    ) -> VerifyResult:
        """Check the whole chain; the result names the first bad row and what is wrong.

        The plain chain always; the MACs with ``keyring`` (default: the one this log writes
        with); and ``checkpoints`` kept outside the database. See ``audit_verify``.
        """
        return await verify_chain(
            self._db, keyring=keyring or self._keyring, checkpoints=checkpoints
        )

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
        key_id=row.key_id,
        mac=row.mac,
    )


def _new_event(
    fields: ChainFields, prev_hash: str, digest: str, key_id: str | None, mac: str | None
) -> AuditEvent:
    return AuditEvent(
        seq=fields.seq,
        id=fields.id,
        at=parse_iso_utc(fields.at),
        actor=fields.actor,
        action=fields.action,
        environment=fields.environment,
        deployment_id=fields.deployment_id,
        details=parse_details(fields.details),
        prev_hash=prev_hash,
        hash=digest,
        key_id=key_id,
        mac=mac,
    )
