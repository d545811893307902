"""Walk the audit chain and name the first row that does not fit.

Three layers, each checked when it is available:

1. **The plain chain** (always): sequence numbers run 1, 2, 3, …; each ``prev_hash`` equals
   the hash of the row before; each ``hash`` matches its own fields; the head row names the
   last row. Anyone with the rows can recompute it — and so can an insider who writes to the
   database.
2. **The key** (``DEPLOYBOT_AUDIT_KEY``, see ``audit_key``): each keyed row's MAC matches its
   hash, no unkeyed row follows a keyed one, and the head's MAC matches the head. Without the
   key nobody can produce a row or a head that passes.
3. **Checkpoints** (``audit_checkpoint``, posted to Slack or kept in a file): row ``seq``
   exists and has exactly the checkpoint's hash (and MAC, when it names one). Because each
   hash commits to every row before it, that pins rows 1…seq as they were.

What each layer detects ("plain" = layer 1 alone; every layer also detects what those before
it detect):

=====================================================  =====  =========  ============
Attack (with write access to the database)             plain  + key      + checkpoint
=====================================================  =====  =========  ============
edit a row's fields or hash, nothing else              yes    yes        yes
delete, insert, reorder rows without re-hashing        yes    yes        yes
edit a row, re-hash every row after it, fix the head   no     yes        yes (≤ seq)
append a forged row and update the head                no     yes        no (> seq)
delete the last rows and rewrite the head              no     yes        yes (≤ seq)
… and restore an older genuine head + MAC (rollback)   no     no         yes (≤ seq)
replace the database with an older backup              no     no         yes (≤ seq)
delete the database (or every row and the head)        no     no         yes
strip every MAC, then edit + re-hash                   no     no [1]     yes
anything above, once the key has leaked                no     no         yes (≤ seq)
=====================================================  =====  =========  ============

"(≤ seq)": for rows up to the newest checkpoint; rows written since the newest checkpoint
are covered by the key alone. [1] reported, not failed: verify says how many rows "are covered
only by the plain chain", which is how a log written before the key looks; a checkpoint with
a MAC (the bot's, when keyed) pins row seq's MAC, and stripping only the MACs after it leaves
an unkeyed row after a keyed one, which the key fails.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, select

from storage.audit_chain import ChainFields, row_hash
from storage.audit_checkpoint import Checkpoint
from storage.audit_key import Keyring, same
from storage.db import Database
from storage.models import GENESIS_HASH, AuditEventRow, AuditHeadRow

_BATCH = 2000
_COLUMNS = tuple(AuditEventRow.__table__.c)
_HEAD_COLUMNS = tuple(AuditHeadRow.__table__.c)


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """Outcome of ``AuditLog.verify``.

    ``checked`` counts the rows found good before the first bad one (all rows when ok).
    ``last_seq`` and ``last_hash`` name the end of the chain as walked; when ok, keep them
    somewhere else to anchor the chain (see the module docstring).

    With a key: ``key_checked``; ``keyed`` rows had a good MAC, ``plain_only`` rows came
    before the first keyed row and are covered by the plain chain alone; ``key_mismatch``
    means the given key is not the one the log was written with (not evidence of tampering).
    ``checkpoints`` counts the checkpoints compared.
    """

    ok: bool
    checked: int
    first_bad_seq: int | None
    problem: str | None
    last_seq: int = 0
    last_hash: str = GENESIS_HASH
    key_checked: bool = False
    keyed: int = 0
    plain_only: int = 0
    key_mismatch: bool = False
    checkpoints: int = 0
    last_mac: str | None = None


async def verify_chain(
    db: Database,
    *,
    keyring: Keyring | None = None,
    checkpoints: Iterable[Checkpoint] = (),
    batch_size: int = _BATCH,
) -> VerifyResult:
    walker = _Walker(keyring, checkpoints)
    async with db.read() as session:
        if db.dialect == "postgresql":
            # One snapshot for the head and every batch, as SQLite WAL gives by default.
            await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        head = (
            await session.execute(select(*_HEAD_COLUMNS).where(AuditHeadRow.id == 1))
        ).one_or_none()
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
    return walker.finish(head)


class _Walker:
    def __init__(self, keyring: Keyring | None, checkpoints: Iterable[Checkpoint]) -> None:
        self.last_seq = 0
        self.last_hash = GENESIS_HASH
        self.last_mac: str | None = None
        self.checked = 0
        self.keyring = keyring
        self.keyed = 0
        self.plain_only = 0
        self.key_mismatch = False
        self.expected: dict[int, list[Checkpoint]] = {}
        for point in checkpoints:
            self.expected.setdefault(point.seq, []).append(point)
        self.checkpoints = sum(len(points) for points in self.expected.values())

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
        if self.keyring is not None and (bad := self._check_mac(row)) is not None:
            return bad
        if seq in self.expected and (bad := self._check_point(row)) is not None:
            return bad
        self.last_seq, self.last_hash, self.last_mac = seq, row.hash, row.mac
        self.checked += 1
        return None

    def _check_mac(self, row: Row[Any]) -> VerifyResult | None:
        assert self.keyring is not None
        seq = row.seq
        if row.mac is None:
            if self.keyed:
                return self._bad(
                    seq,
                    f"row {seq}: no MAC, though the rows before it are keyed (MAC stripped, "
                    "or row written without the key?)",
                )
            self.plain_only += 1
            return None
        key = self.keyring.find(row.key_id)
        if key is None:
            return self._wrong_key(seq, f"row {seq}", row.key_id)
        if not same(key.row_mac(row.hash), row.mac):
            return self._bad(
                seq,
                f"row {seq}: MAC does not match (row written or re-hashed without the key)",
            )
        self.keyed += 1
        return None

    def _check_point(self, row: Row[Any]) -> VerifyResult | None:
        seq = row.seq
        for point in self.expected[seq]:
            if row.hash != point.hash:
                return self._bad(
                    seq,
                    f"row {seq}: hash differs from {point.label} ({point.hash[:12]}…): rows up "
                    f"to {seq} were rewritten since",
                )
            if point.mac is not None and row.mac != point.mac:
                return self._bad(
                    seq,
                    f"row {seq}: MAC differs from {point.label} (MAC stripped or replaced)",
                )
        return None

    def finish(self, head: Row[Any] | None) -> VerifyResult:
        if head is None:
            return self._bad(None, "the audit head row is missing (deleted?)")
        if head.seq > self.last_seq:
            return self._bad(
                self.last_seq + 1,
                f"head says {head.seq} rows but chain ends at {self.last_seq} (last row deleted?)",
            )
        if head.seq < self.last_seq:
            return self._bad(
                head.seq + 1,
                f"row {head.seq + 1}: not recorded in the head, which ends at {head.seq} "
                "(row added outside deploybot?)",
            )
        if head.hash != self.last_hash:
            return self._bad(
                self.last_seq or None,
                f"row {self.last_seq}: the head's hash does not match the last row "
                "(last row replaced, or head edited?)",
            )
        beyond = [p for seq, points in self.expected.items() if seq > self.last_seq for p in points]
        if beyond:
            point = max(beyond, key=lambda p: p.seq)
            return self._bad(
                self.last_seq + 1,
                f"the log ends at row {self.last_seq}, but {point.label} recorded {point.seq} "
                "rows (rows deleted, or the database restored from an older backup)",
            )
        if self.keyring is not None and (bad := self._check_head_mac(head)) is not None:
            return bad
        return self._result(True, None, None)

    def _check_head_mac(self, head: Row[Any]) -> VerifyResult | None:
        assert self.keyring is not None
        if head.mac is None:
            if self.last_mac is not None:
                return self._bad(
                    None,
                    "the head has no MAC, though the last row is keyed (head rewritten "
                    "without the key?)",
                )
            return None
        key = self.keyring.find(head.key_id)
        if key is None:
            return self._wrong_key(None, "the head", head.key_id)
        if self.last_mac is None or not same(key.head_mac(head.seq, head.hash), head.mac):
            return self._bad(
                None,
                f"the head's MAC does not match row {head.seq} (head rewritten without the "
                "key: the last rows deleted, or rows added behind deploybot's back?)",
            )
        return None

    def _wrong_key(self, seq: int | None, what: str, key_id: str | None) -> VerifyResult:
        assert self.keyring is not None
        self.key_mismatch = True
        given = ", ".join(self.keyring.key_ids)
        return self._bad(
            seq,
            f"the key does not match this log: {what} was written with key id {key_id}, the "
            f"given key has id {given} (a rotated key goes in DEPLOYBOT_AUDIT_KEY_PREVIOUS)",
        )

    def _bad(self, seq: int | None, problem: str) -> VerifyResult:
        good = self.checked if seq is None else min(self.checked, max(seq - 1, 0))
        return self._result(False, seq, problem, good)

    def _result(
        self, ok: bool, seq: int | None, problem: str | None, good: int | None = None
    ) -> VerifyResult:
        return VerifyResult(
            ok,
            self.checked if good is None else good,
            seq,
            problem,
            self.last_seq,
            self.last_hash,
            key_checked=self.keyring is not None,
            keyed=self.keyed,
            plain_only=self.plain_only,
            key_mismatch=self.key_mismatch,
            checkpoints=self.checkpoints,
            last_mac=self.last_mac,
        )


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
