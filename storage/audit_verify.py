"""Walk the audit chain and name the first row that does not fit.

Three layers, each checked when it is available:

1. **The plain chain** (always): sequence numbers run 1, 2, 3, …; each ``prev_hash`` equals
   the hash of the row before; each ``hash`` matches its own fields in the encoding the row
   names (``chain_version``, never going back to an older one); the head row names the
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

import asyncio
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from storage.audit_checkpoint import Checkpoint
from storage.audit_fast import no_gc
from storage.audit_file import FileRows
from storage.audit_key import Keyring
from storage.audit_parallel import PARALLEL_MIN_ROWS, FarWalk, join
from storage.audit_result import VerifyResult
from storage.audit_stream import stream_rows
from storage.audit_walk import Head, Walker
from storage.db import Database, database_file
from storage.models import AuditHeadRow

__all__ = ["VerifyResult", "verify_chain"]

_BATCH = 10_000
_HEAD_COLUMNS = (AuditHeadRow.seq, AuditHeadRow.hash, AuditHeadRow.key_id, AuditHeadRow.mac)


async def verify_chain(
    db: Database,
    *,
    keyring: Keyring | None = None,
    checkpoints: Iterable[Checkpoint] = (),
    batch_size: int = _BATCH,
    parallel_min_rows: int = PARALLEL_MIN_ROWS,
) -> VerifyResult:
    """Walk every row once, on one snapshot.

    A SQLite file is read on a connection of verify's own (``audit_file``); with at least
    ``parallel_min_rows`` rows, on a machine with two cores or more, its second half is walked
    by a second process at the same time (``audit_parallel``). Other databases stream their
    rows in ``batch_size`` batches through the session."""
    points = list(checkpoints)
    walker = Walker(keyring, points)
    path = database_file(str(db.engine.url)) if db.dialect == "sqlite" else None
    with no_gc():
        if path is not None:
            return await _verify_file(path, walker, keyring, points, parallel_min_rows)
        return await _verify_session(db, walker, keyring, points, batch_size, parallel_min_rows)


async def _verify_file(
    path: Path, walker: Walker, keyring: Keyring | None, points: list[Checkpoint], min_rows: int
) -> VerifyResult:
    rows = await asyncio.to_thread(FileRows.open, path)
    far: tuple[int, FarWalk] | None = None
    try:
        head = rows.head
        source = {"path": str(path)}
        far = await _far_walk(source, head.seq if head else 0, keyring, points, min_rows)
        until = None if far is None else far[0] - 1
        if (bad := await asyncio.to_thread(rows.walk, walker, 0, until)) is not None:
            return bad
        if far is not None and not join(walker, await far[1].result()):
            # Walk the far half here after all: the serial walk's answer, word for word.
            bad = await asyncio.to_thread(rows.walk, walker, far[0] - 1)
            if bad is not None:
                return bad
    finally:
        if far is not None:
            await far[1].stop()
        await asyncio.to_thread(rows.close)
    return walker.finish(head)


async def _verify_session(
    db: Database,
    walker: Walker,
    keyring: Keyring | None,
    points: list[Checkpoint],
    batch_size: int,
    min_rows: int,
) -> VerifyResult:
    far: tuple[int, FarWalk] | None = None
    async with db.read() as session:
        if db.dialect == "postgresql":
            # One snapshot for the head and every batch, as SQLite WAL gives by default.
            await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        found = (
            await session.execute(select(*_HEAD_COLUMNS).where(AuditHeadRow.id == 1))
        ).one_or_none()
        head = None if found is None else Head(*found)
        try:
            if (source := await _exported_snapshot(db, session, head, min_rows)) is not None:
                far = await _far_walk(source, head.seq if head else 0, keyring, points, min_rows)
            until = None if far is None else far[0] - 1
            async for rows in stream_rows(session, walker.select_list, batch_size, until=until):
                if (bad := walker.walk(rows)) is not None:
                    return bad
            if far is not None and not join(walker, await far[1].result()):
                rest = stream_rows(session, walker.select_list, batch_size, after=far[0] - 1)
                async for rows in rest:
                    if (bad := walker.walk(rows)) is not None:
                        return bad
        finally:
            if far is not None:
                await far[1].stop()
    return walker.finish(head)


async def _exported_snapshot(
    db: Database, session: AsyncSession, head: Head | None, min_rows: int
) -> dict[str, Any] | None:
    """What a worker needs to read this transaction's snapshot on PostgreSQL through asyncpg,
    when the log is large enough to split; else None."""
    if db.dialect != "postgresql" or db.engine.dialect.driver != "asyncpg":
        return None
    if head is None or head.seq < max(min_rows, 2) or (os.cpu_count() or 1) < 2:
        return None
    _, connect = db.engine.dialect.create_connect_args(db.engine.url)
    try:
        json.dumps(connect)
    except (TypeError, ValueError):  # an option only this process can hold: walk it all here
        return None
    snapshot = (await session.execute(text("SELECT pg_export_snapshot()"))).scalar_one()
    return {"connect": connect, "snapshot": snapshot}


async def _far_walk(
    source: dict[str, Any],
    rows: int,
    keyring: Keyring | None,
    points: list[Checkpoint],
    min_rows: int,
) -> tuple[int, FarWalk] | None:
    """The worker for the second half (and the first row it walks), when one is worth it."""
    if rows < max(min_rows, 2) or (os.cpu_count() or 1) < 2:
        return None
    first = rows // 2 + 1
    try:
        return first, await FarWalk.start(source, first, rows, keyring, points)
    except OSError:  # no process could be started: walk it all here
        return None
