"""The chain walk behind ``audit_verify``: a fast loop for the rows that fit, and the careful
per-row check that names what is wrong with one that does not.

``Walker.walk`` takes rows as plain tuples in ``CHAIN_COLUMNS`` order. A row the fast loop cannot
pass outright (the first row, a checkpointed row, a change of encoding, a row without a MAC,
anything that does not match) goes through ``Walker.check``, which decides with the full
rules; so the fast loop only ever decides the common case, and identically.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any, NamedTuple

from storage.audit_chain import CHAIN_VERSIONS, ChainFields, row_hash
from storage.audit_checkpoint import Checkpoint
from storage.audit_fast import CHAIN_COLUMNS, Tip, chain_select, walk_v2
from storage.audit_key import AuditKey, Keyring, same
from storage.audit_result import VerifyResult
from storage.models import GENESIS_HASH


class ChainRow(NamedTuple):
    """One audit row as the walk reads it."""

    seq: Any
    id: Any
    at: Any
    actor: Any
    action: Any
    environment: Any
    deployment_id: Any
    details: Any
    prev_hash: Any
    hash: Any
    key_id: Any
    mac: Any
    chain_version: Any


class Head(NamedTuple):
    """The audit head row as the walk reads it."""

    seq: Any
    hash: Any
    key_id: Any
    mac: Any


assert ChainRow._fields == CHAIN_COLUMNS


def _no_encoding(*_: Any) -> str:
    """Stands in for the encoding before the first row is seen: matches no hash."""
    return ""


class Walker:
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
        #: The encoding of the rows so far; a row may move to a newer one, never back.
        self.version = 0
        self._mac_keys = None if keyring is None else keyring.mac_states()
        self._points = {
            seq: [(point.hash, point.mac) for point in points]
            for seq, points in self.expected.items()
        }
        #: The select list this walk reads rows with (``audit_fast.chain_select``).
        point_macs = (point.mac for points in self.expected.values() for point in points)
        self.select_list = chain_select(keyring is not None, point_macs)

    def walk(self, rows: Iterable[Sequence[Any]]) -> VerifyResult | None:
        """Check ``rows`` (the next rows in seq order); the first bad one's result, or None."""
        remaining = iter(rows)
        while True:
            if self.version == 2:
                tip, row = walk_v2(remaining, self._tip(), self._mac_keys, self._points)
                self._passed(tip.seq - self.last_seq, *tip)
            else:
                row = self._walk_any(remaining)
            if row is None:
                return None
            if (bad := self.check(ChainRow._make(row))) is not None:
                return bad

    def _tip(self) -> Tip:
        return Tip(self.last_seq, self.last_hash, self.last_mac)

    def _walk_any(self, rows: Iterator[Sequence[Any]]) -> Sequence[Any] | None:
        """The fast loop for rows of any encoding (an older log's); the first row it cannot
        pass outright, or None."""
        last_seq, last_hash, last_mac = self.last_seq, self.last_hash, self.last_mac
        keyring, expected, version = self.keyring, self.expected, self.version
        encode = CHAIN_VERSIONS.get(version, _no_encoding)
        key_id_seen: object = None
        key: AuditKey | None = None
        passed = 0
        for row in rows:
            seq, id_, at, actor, action, env, dep, details, prev, digest, key_id, mac, v = row
            try:
                ok = (
                    seq == last_seq + 1
                    and prev == last_hash
                    and v == version
                    and seq not in expected
                    and encode(prev, seq, id_, at, actor, action, env, dep, details) == digest
                )
                if ok and keyring is not None:
                    if key_id != key_id_seen:
                        key_id_seen, key = key_id, keyring.find(key_id)
                    ok = key is not None and mac is not None and same(key.row_mac(digest), mac)
            except (TypeError, ValueError):  # a tampered value of an impossible type
                ok = False
            if not ok:
                self._passed(passed, last_seq, last_hash, last_mac)
                return row
            last_seq, last_hash, last_mac = seq, digest, mac
            passed += 1
        self._passed(passed, last_seq, last_hash, last_mac)
        return None

    def _passed(self, count: int, seq: int, digest: str, mac: str | None) -> None:
        """Record ``count`` rows the fast loop passed, the last of them ``seq``."""
        self.checked += count
        if self.keyring is not None:
            self.keyed += count
        self.last_seq, self.last_hash, self.last_mac = seq, digest, mac

    def check(self, row: ChainRow) -> VerifyResult | None:
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
        if (bad := self._check_version(row)) is not None:
            return bad
        if _hash_of(row) != row.hash:
            return self._bad(seq, f"row {seq}: hash does not match its contents (edited?)")
        if self.keyring is not None and (bad := self._check_mac(row)) is not None:
            return bad
        if seq in self.expected and (bad := self._check_point(row)) is not None:
            return bad
        self.last_seq, self.last_hash, self.last_mac = seq, row.hash, row.mac
        self.checked += 1
        return None

    def _check_version(self, row: ChainRow) -> VerifyResult | None:
        seq, version = row.seq, row.chain_version
        if version not in CHAIN_VERSIONS:
            return self._bad(
                seq,
                f"row {seq}: hashed with chain encoding {version!r}, which this deploybot does "
                "not know (written by a newer deploybot, or edited?)",
            )
        if version < self.version:
            return self._bad(
                seq,
                f"row {seq}: hashed with chain encoding {version} after rows with encoding "
                f"{self.version} (re-hashed with an older encoding?)",
            )
        self.version = version
        return None

    def _check_mac(self, row: ChainRow) -> VerifyResult | None:
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

    def _check_point(self, row: ChainRow) -> VerifyResult | None:
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

    def finish(self, head: Head | None) -> VerifyResult:
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

    def _check_head_mac(self, head: Head) -> VerifyResult | None:
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


def _hash_of(row: ChainRow) -> str:
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
            chain_version=row.chain_version,
        )
        return row_hash(row.prev_hash, fields)
    except (TypeError, ValueError) as error:  # a tampered value of an impossible type
        return f"unhashable: {error}"
