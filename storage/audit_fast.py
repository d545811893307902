"""The hot loop of ``audit verify``: rows hashed with encoding 2 that fit outright.

Only the standard library is imported here (and, in the verify worker this file is when run
as a script, the database driver and uvloop), so the worker starts in a few milliseconds
instead of importing the whole storage package (SQLAlchemy and all, most of a second).
``walk_v2`` passes a row only when the careful per-row check (``audit_walk``) would pass it
too, and stops at the first row it cannot pass outright, leaving that row to the careful
check: it decides the common case only, and identically.

A row passes when its ``seq`` follows the last one, its ``prev_hash`` is the last row's hash,
it names encoding 2, its hash is that encoding of its fields (``audit_chain.hash_v2``), and,
with keys, its ``key_id`` names a known key and its MAC is that key's
(``audit_key.AuditKey.row_mac``, compared in constant time); a checkpointed row must also
carry exactly the checkpoint's hash (and MAC, when the checkpoint names one). Everything is
inlined: a million rows come through here, and each function call or attribute lookup in
the loop costs a tenth of a second.
"""

from __future__ import annotations

import gc
import hashlib
import hmac
import itertools
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, NamedTuple

#: The columns a walked row holds, in this order (``audit_walk.ChainRow``).
CHAIN_COLUMNS = (
    "seq", "id", "at", "actor", "action", "environment", "deployment_id", "details",
    "prev_hash", "hash", "key_id", "mac", "chain_version",
)  # fmt: skip
_MAC_COLUMNS = ("key_id", "mac")
_BLOCK = 64  # SHA-256's block size, in bytes
ROW_MAC_PREFIX = b"deploybot-audit-row:"


def chain_select(keyed: bool, point_macs: Iterable[str | None]) -> str:
    """The select list of a walked row, in ``CHAIN_COLUMNS`` order, for a walk with (or
    without) keys and checkpoints naming ``point_macs``. A walk with no key and no checkpoint
    MAC never looks at ``key_id`` and ``mac``: they come back NULL, as they are a quarter of
    what each row sends."""
    macs = keyed or any(mac is not None for mac in point_macs)
    return ", ".join(
        name if macs or name not in _MAC_COLUMNS else f"NULL AS {name}" for name in CHAIN_COLUMNS
    )


class MacStates(NamedTuple):
    """HMAC-SHA256 (RFC 2104) of one key as its two padded-key states, copied per message;
    ``inner_row`` has the row MAC's prefix already in it."""

    inner: Any
    outer: Any
    inner_row: Any


def mac_states(secret: bytes) -> MacStates:
    block = secret if len(secret) <= _BLOCK else hashlib.sha256(secret).digest()
    block = block.ljust(_BLOCK, b"\0")
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in block))
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in block))
    inner_row = inner.copy()
    inner_row.update(ROW_MAC_PREFIX)
    return MacStates(inner, outer, inner_row)


class Tip(NamedTuple):
    """The last row passed so far."""

    seq: int
    hash: str
    mac: str | None


#: What a checkpointed row must carry: each checkpoint's (hash, mac or None), by seq.
Points = Mapping[int, Sequence[tuple[str, str | None]]]


def walk_v2(
    rows: Iterator[Sequence[Any]], tip: Tip, keys: Mapping[str, MacStates] | None, points: Points
) -> tuple[Tip, Sequence[Any] | None]:
    """Pass rows from ``rows`` while they fit outright; the new tip, and the first row that
    did not (None when ``rows`` ran out). Rows passed with ``keys`` all had a good MAC."""
    sha256 = hashlib.sha256
    same = hmac.compare_digest
    last_seq, last_hash, last_mac = tip
    key_id_seen: object = None
    inner_copy = outer_copy = None
    row: Sequence[Any] | None = None
    try:
        for row in rows:
            seq, id_, at, actor, action, env, dep, details, prev, digest, key_id, mac, v = row
            if seq != last_seq + 1 or prev != last_hash or v != 2:
                return Tip(last_seq, last_hash, last_mac), row
            # audit_chain.hash_v2, inlined.
            text = (
                f"{prev}\n2\n{seq:d}\n{len(id_)}:{id_}{len(at)}:{at}{len(actor)}:{actor}"
                f"{len(action)}:{action}"
                f"{'-' if env is None else f'{len(env)}:{env}'}"
                f"{'-' if dep is None else f'{len(dep)}:{dep}'}"
                f"{len(details)}:{details}"
            )
            if sha256(text.encode()).hexdigest() != digest:
                return Tip(last_seq, last_hash, last_mac), row
            if keys is not None:
                if key_id != key_id_seen:
                    states = keys.get(key_id)
                    if states is None or mac is None:
                        return Tip(last_seq, last_hash, last_mac), row
                    key_id_seen = key_id
                    inner_copy, outer_copy = states.inner_row.copy, states.outer.copy
                inner = inner_copy()  # type: ignore[misc]
                inner.update(digest.encode())
                outer = outer_copy()  # type: ignore[misc]
                outer.update(inner.digest())
                if not same(outer.hexdigest(), mac):
                    return Tip(last_seq, last_hash, last_mac), row
            if seq in points and not _matches(points[seq], digest, mac):
                return Tip(last_seq, last_hash, last_mac), row
            last_seq, last_hash, last_mac = seq, digest, mac
    except (TypeError, ValueError, AttributeError, UnicodeError):
        return Tip(last_seq, last_hash, last_mac), row  # a value of an impossible type
    return Tip(last_seq, last_hash, last_mac), None


def _matches(points: Iterable[tuple[str, str | None]], digest: str, mac: str | None) -> bool:
    return all(digest == hash_ and (point_mac is None or mac == point_mac)
               for hash_, point_mac in points)  # fmt: skip


@contextmanager
def no_gc() -> Iterator[None]:
    """The cyclic garbage collector off while a walk allocates millions of row tuples (none
    of them in a cycle): it would otherwise rescan them over and over, a third of the time."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


# -- the worker process (``python -P storage/audit_fast.py``, task as JSON on stdin) ---------
_FAR_ROWS = "SELECT {columns} FROM audit_events WHERE seq >= {first} AND seq <= {last} ORDER BY seq"
_FAR_START = "SELECT prev_hash, chain_version FROM audit_events WHERE seq = {first}"


class HalfWalk:
    """Rows ``first``… fed in seq order, fast while they fit and carefully (``audit_walk``,
    loaded only then) from the first row that does not; ``audit_parallel.FarHalf``'s fields."""

    def __init__(self, task: Mapping[str, Any], start: Sequence[Any]) -> None:
        self._task = task
        self._first = int(task["first"])
        self._start = start
        keys = {key_id: mac_states(bytes.fromhex(secret)) for key_id, secret in task["keys"]}
        self._keys = keys or None
        self._points: dict[int, list[tuple[str, str | None]]] = {}
        for seq, hash_, mac, _ in task["checkpoints"]:
            self._points.setdefault(seq, []).append((hash_, mac))
        self._tip = Tip(self._first - 1, start[0], None)
        self._fast = start[1] == 2
        self._walker: Any = None
        self.clean = True
        self.rows_sql = _FAR_ROWS.format(
            columns=chain_select(bool(keys), (point[2] for point in task["checkpoints"])),
            first=self._first, last=int(task["last"]),
        )  # fmt: skip

    def feed(self, rows: Iterable[Sequence[Any]]) -> bool:
        """Walk ``rows``; False once a bad row was found (stop feeding then)."""
        remaining = iter(rows)
        if self._fast:
            self._tip, stop = walk_v2(remaining, self._tip, self._keys, self._points)
            if stop is None:
                return True
            self._fast = False
            remaining = itertools.chain([stop], remaining)
        if self._walker is None:
            self._walker = self._careful()
        self.clean = self._walker.walk(remaining) is None
        return self.clean

    def _careful(self) -> Any:
        from storage.audit_checkpoint import Checkpoint
        from storage.audit_key import AuditKey, Keyring
        from storage.audit_walk import Walker

        keyring = None
        if self._task["keys"]:
            keys = [AuditKey(bytes.fromhex(secret)) for _, secret in self._task["keys"]]
            keyring = Keyring(keys[0], keys[1:])
        walker = Walker(keyring, [Checkpoint(*point) for point in self._task["checkpoints"]])
        walker.last_seq, walker.last_hash, walker.last_mac = self._tip
        passed = self._tip.seq - self._first + 1
        if passed:  # the rows the fast loop passed: all encoding 2, all keyed with keys
            walker.version, walker.checked = 2, passed
            walker.keyed = passed if keyring is not None else 0
        return walker

    def result(self) -> dict[str, Any]:
        if not self.clean:
            return {"clean": False, "first": self._first}
        if self._walker is not None:
            w = self._walker
            counts = (w.checked, w.keyed, w.plain_only, w.version)
            tip = Tip(w.last_seq, w.last_hash, w.last_mac)
        else:
            passed = self._tip.seq - self._first + 1
            counts, tip = (passed, passed if self._keys else 0, 0, 2), self._tip
        checked, keyed, plain_only, version = counts
        return {
            "clean": True, "first": self._first, "start_prev_hash": self._start[0],
            "first_version": self._start[1], "checked": checked, "keyed": keyed,
            "plain_only": plain_only, "version": version, "last_seq": tip.seq,
            "last_hash": tip.hash, "last_mac": tip.mac,
        }  # fmt: skip


def far_half_sqlite(task: Mapping[str, Any]) -> dict[str, Any]:
    """Rows ``first``…``last`` of the SQLite file ``path``, on one snapshot of their own."""
    import contextlib
    import sqlite3

    first = int(task["first"])
    with contextlib.closing(sqlite3.connect(task["path"])) as conn:
        conn.execute("PRAGMA query_only = 1")
        conn.execute("BEGIN")  # one snapshot for the whole half
        start = conn.execute(_FAR_START.format(first=first)).fetchone()
        if start is None:
            return {"clean": False, "first": first}
        walk = HalfWalk(task, start)
        walk.feed(conn.execute(walk.rows_sql))
        return walk.result()


async def far_half_postgres(task: Mapping[str, Any]) -> dict[str, Any]:
    """Rows ``first``…``last`` on the snapshot the verifying transaction exported."""
    import asyncpg  # type: ignore[import-untyped]

    first, snapshot = int(task["first"]), str(task["snapshot"])
    if not re.fullmatch(r"[0-9A-Fa-f-]+", snapshot):
        return {"clean": False, "first": first}
    conn = await asyncpg.connect(**{"timeout": 30, **task["connect"]})
    try:
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            await conn.execute(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
            start = await conn.fetchrow(_FAR_START.format(first=first))
            if start is None:
                return {"clean": False, "first": first}
            walk = HalfWalk(task, tuple(start))
            cursor = await conn.cursor(walk.rows_sql)
            while (rows := await cursor.fetch(task.get("batch", 10_000))) and walk.feed(rows):
                pass
            return walk.result()
    finally:
        await conn.close()


def main() -> int:
    import asyncio
    import json
    import sys

    task = json.load(sys.stdin)
    # The loop commands.eventloop picks for the process that started this one; storage does
    # not import commands, and this script loads the project only for an unusual row.
    try:
        import uvloop

        run: Any = uvloop.run
    except ImportError:
        run = asyncio.run
    with no_gc():
        found = run(far_half_postgres(task)) if "snapshot" in task else far_half_sqlite(task)
    json.dump(found, sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
