"""Walk the audit chain and name the first row that does not fit.

What each check catches:

* sequence numbers must run 1, 2, 3, … — a gap means rows were deleted;
* each row's ``prev_hash`` must equal the hash of the row before it — a break means a row
  before it was deleted, inserted, moved, or edited and re-hashed;
* each row's ``hash`` must match its own fields — a mismatch means the row was edited;
* the head row must name the last row (its seq and hash) — a short chain means the last rows
  were deleted, a long one that rows were added behind deploybot's back.

A writer who can rewrite every row *and* the head can forge a consistent chain; keep a copy
of ``VerifyResult.last_hash`` (or of an export) elsewhere to anchor the chain against that.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, select

from storage.audit_chain import ChainFields, row_hash
from storage.db import Database
from storage.models import GENESIS_HASH, AuditEventRow, AuditHeadRow

_BATCH = 2000
_COLUMNS = tuple(AuditEventRow.__table__.c)


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """Outcome of ``AuditLog.verify``.

    ``checked`` counts the rows found good before the first bad one (all rows when ok).
    ``last_seq`` and ``last_hash`` name the end of the chain as walked; when ok, keep them
    somewhere else to anchor the chain (see the module docstring).
    """

    ok: bool
    checked: int
    first_bad_seq: int | None
    problem: str | None
    last_seq: int = 0
    last_hash: str = GENESIS_HASH


async def verify_chain(db: Database, *, batch_size: int = _BATCH) -> VerifyResult:
    async with db.read() as session:
        if db.dialect == "postgresql":
            # One snapshot for the head and every batch, as SQLite WAL gives by default.
            await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        head = (
            await session.execute(
                select(AuditHeadRow.seq, AuditHeadRow.hash).where(AuditHeadRow.id == 1)
            )
        ).one_or_none()
        walker = _Walker()
        while True:
            rows = (
                await session.execute(
                    select(*_COLUMNS)
                    .where(AuditEventRow.seq > walker.last_seq)
                    .order_by(AuditEventRow.seq)
                    .limit(batch_size)
                )
            ).all()
            seen = 0
            for row in rows:
                seen += 1
                if (bad := walker.check(row)) is not None:
                    return bad
            if seen < batch_size:
                break
    return walker.finish(None if head is None else (head.seq, head.hash))


class _Walker:
    def __init__(self) -> None:
        self.last_seq = 0
        self.last_hash = GENESIS_HASH
        self.checked = 0

    def check(self, row: Row[Any]) -> VerifyResult | None:
        seq = row.seq
        if seq != self.last_seq + 1:
            if self.last_seq == 0:
                return self._bad(seq, f"row {seq}: the chain starts at {seq}, not 1 (deleted?)")
            return self._bad(seq, f"row {seq}: sequence gap after {self.last_seq} (deleted?)")
        if row.prev_hash != self.last_hash:
            return self._bad(
                seq,
                f"row {seq}: previous-hash link broken (a row before it was deleted, "
                "inserted, reordered, or edited and re-hashed)",
            )
        if _hash_of(row) != row.hash:
            return self._bad(seq, f"row {seq}: hash does not match its contents (edited?)")
        self.last_seq, self.last_hash = seq, row.hash
        self.checked += 1
        return None

    def finish(self, head: tuple[int, str] | None) -> VerifyResult:
        if head is None:
            return self._bad(None, "the audit head row is missing (deleted?)")
        head_seq, head_hash = head
        if head_seq > self.last_seq:
            return self._bad(
                self.last_seq + 1,
                f"head says {head_seq} rows but chain ends at {self.last_seq} (last row deleted?)",
            )
        if head_seq < self.last_seq:
            return self._bad(
                head_seq + 1,
                f"row {head_seq + 1}: not recorded in the head, which ends at {head_seq} "
                "(row added outside deploybot?)",
            )
        if head_hash != self.last_hash:
            return self._bad(
                self.last_seq or None,
                f"row {self.last_seq}: the head's hash does not match the last row "
                "(last row replaced, or head edited?)",
            )
        return VerifyResult(True, self.checked, None, None, self.last_seq, self.last_hash)

    def _bad(self, seq: int | None, problem: str) -> VerifyResult:
        good = self.checked if seq is None else min(self.checked, max(seq - 1, 0))
        return VerifyResult(False, good, seq, problem, self.last_seq, self.last_hash)


def _hash_of(row: Row[Any]) -> str:
    try:
        fields = ChainFields(
            seq=row.seq,
            id=row.id,
            at=row.at,
            actor=row.actor,
            action=row.action,
            environment=row.environment,
            deployment_id=row.deployment_id,
            details=row.details,
        )
        return row_hash(row.prev_hash, fields)
    except (TypeError, ValueError) as error:  # a tampered value of an impossible type
        return f"unhashable: {error}"
