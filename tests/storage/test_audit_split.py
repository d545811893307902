"""Verify split over two processes, on SQLite and on PostgreSQL: whatever the log holds, the
answer with the far half walked by a worker is the serial walk's, word for word, including a
row tampered with exactly at the seam; and a worker on PostgreSQL reads the very snapshot of
the verifying transaction."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from storage import AuditKey, Checkpoint, Keyring, Store
from storage.audit_chain import hash_v1, hash_v2
from storage.audit_parallel import FarHalf, FarWalk
from storage.audit_result import VerifyResult
from storage.audit_verify import verify_chain
from storage.db import database_file
from tests.postgres_server import needs_postgres

KEY = AuditKey.from_text("k" * 32)
ROWS = 12  # the worker walks rows 7-12; this process rows 1-6
SERIAL = 10**9  # parallel_min_rows that keeps every row here
_FIELDS = "seq, id, at, actor, action, environment, deployment_id, details"


@pytest.fixture
async def keyed(db_url: str) -> AsyncIterator[Store]:
    async with Store.open(db_url, audit_keys=Keyring(KEY)) as store:
        for n in range(ROWS):
            env = None if n % 4 == 3 else "prod"
            await store.audit.append("alice", f"step.{n}", environment=env, details={"n": n})
        yield store


async def _sql(store: Store, *statements: str) -> None:
    async with store.db.write() as session:
        for statement in statements:
            await session.execute(text(statement))


async def _both(store: Store, points: list[Checkpoint] | None = None) -> list[VerifyResult]:
    """Verify with the far half in a worker, then with every row walked here."""
    return [
        await verify_chain(
            store.db, keyring=Keyring(KEY), checkpoints=points or [], parallel_min_rows=least
        )
        for least in (2, SERIAL)
    ]


def _shift_up(first: int) -> list[str]:
    """Renumber rows ``first``… one up, highest first (no two rows ever share a seq)."""
    return [
        f"UPDATE audit_events SET seq = {s + 1} WHERE seq = {s}" for s in range(ROWS, first - 1, -1)
    ]


TAMPERS: dict[str, tuple[list[str], int | None]] = {
    "intact": ([], None),
    "edit a near row": (["UPDATE audit_events SET details = '{}' WHERE seq = 2"], 2),
    "edit the last near row": (["UPDATE audit_events SET actor = 'mallory' WHERE seq = 6"], 6),
    "edit the first far row": (["UPDATE audit_events SET actor = 'mallory' WHERE seq = 7"], 7),
    "edit a far row": (["UPDATE audit_events SET action = 'x' WHERE seq = 10"], 10),
    "edit the last row": (["UPDATE audit_events SET details = '{}' WHERE seq = 12"], 12),
    "delete the last near row": (["DELETE FROM audit_events WHERE seq = 6"], 7),
    "delete the first far row": (["DELETE FROM audit_events WHERE seq = 7"], 8),
    "delete a far row": (["DELETE FROM audit_events WHERE seq = 9"], 10),
    "swap the rows at the seam": (
        [
            "UPDATE audit_events SET seq = 100 WHERE seq = 6",
            "UPDATE audit_events SET seq = 6 WHERE seq = 7",
            "UPDATE audit_events SET seq = 7 WHERE seq = 100",
        ],
        6,
    ),
    "insert a row at the seam": (
        [
            *_shift_up(7),
            "INSERT INTO audit_events (seq, id, at, actor, action, environment, deployment_id,"
            " details, prev_hash, hash, key_id, mac, chain_version)"
            " SELECT 7, 'forged', at, actor, action, environment, deployment_id, details,"
            " hash, hash, key_id, mac, chain_version FROM audit_events WHERE seq = 6",
            "UPDATE audit_head SET seq = seq + 1",
        ],
        7,
    ),
    "strip the first far MAC": (
        ["UPDATE audit_events SET mac = NULL, key_id = NULL WHERE seq = 7"],
        7,
    ),
    "far row claims an unknown encoding": (
        ["UPDATE audit_events SET chain_version = 3 WHERE seq = 8"],
        8,
    ),
    "relink the far half": (["UPDATE audit_events SET prev_hash = hash WHERE seq = 7"], 7),
    "drop the last row and the head's count": (
        ["DELETE FROM audit_events WHERE seq = 12", "UPDATE audit_head SET seq = 11"],
        11,  # the head names row 11, whose hash is not the head's
    ),
}


@pytest.mark.parametrize("tamper", TAMPERS)
async def test_the_split_walk_gives_the_serial_answer(keyed: Store, tamper: str) -> None:
    statements, first_bad = TAMPERS[tamper]
    await _sql(keyed, *statements)
    parallel, serial = await _both(keyed)
    assert parallel == serial
    assert parallel.ok == (tamper == "intact")
    assert parallel.first_bad_seq == first_bad
    if tamper == "intact":
        assert (parallel.checked, parallel.keyed) == (ROWS, ROWS)


async def test_a_checkpoint_on_either_side_of_the_seam_is_checked(keyed: Store) -> None:
    rows = {row.seq: row for row in await keyed.audit.query(limit=ROWS)}
    points = [Checkpoint(seq, rows[seq].hash, rows[seq].mac) for seq in (6, 7, 12)]
    parallel, serial = await _both(keyed, points)
    assert parallel == serial
    assert (parallel.ok, parallel.checkpoints) == (True, 3)
    forged = [Checkpoint(7, "f" * 64)]  # the rows were rewritten since this checkpoint
    parallel, serial = await _both(keyed, forged)
    assert parallel == serial
    assert (parallel.ok, parallel.first_bad_seq) == (False, 7)


@pytest.mark.parametrize("rows", [0, 1, 2])
async def test_an_empty_or_tiny_log_verifies(db_url: str, rows: int) -> None:
    async with Store.open(db_url, audit_keys=Keyring(KEY)) as store:
        for n in range(rows):
            await store.audit.append("alice", f"step.{n}")
        parallel, serial = await _both(store)
    assert parallel == serial
    assert (parallel.ok, parallel.checked, parallel.keyed) == (True, rows, rows)


async def _rechain(store: Store, version_of: Callable[[int], int]) -> None:
    """Re-hash every row with the encoding ``version_of(seq)`` names, with good MACs and
    head: a genuine log that moved from one encoding to another at some row."""
    async with store.db.write() as session:
        rows = await session.execute(text(f"SELECT {_FIELDS} FROM audit_events ORDER BY seq"))
        prev = "0" * 64
        for row in rows.all():
            version = version_of(row.seq)
            digest = (hash_v1 if version == 1 else hash_v2)(prev, *row)
            await session.execute(
                text(
                    "UPDATE audit_events SET prev_hash = :prev, hash = :hash, mac = :mac,"
                    " chain_version = :version WHERE seq = :seq"
                ),
                {"prev": prev, "hash": digest, "mac": KEY.row_mac(digest), "version": version,
                 "seq": row.seq},
            )  # fmt: skip
            prev = digest
        await session.execute(
            text("UPDATE audit_head SET hash = :hash, mac = :mac"),
            {"hash": prev, "mac": KEY.head_mac(ROWS, prev)},
        )


@pytest.mark.parametrize("last_v1", [3, 6, 7, 9])  # the change of encoding near, at, past the seam
async def test_a_log_of_mixed_encodings_verifies_split(keyed: Store, last_v1: int) -> None:
    await _rechain(keyed, lambda seq: 1 if seq <= last_v1 else 2)
    parallel, serial = await _both(keyed)
    assert parallel == serial
    assert (parallel.ok, parallel.checked, parallel.keyed) == (True, ROWS, ROWS)
    await _sql(keyed, "UPDATE audit_events SET actor = 'mallory' WHERE seq = 8")
    parallel, serial = await _both(keyed)
    assert parallel == serial
    assert (parallel.ok, parallel.first_bad_seq) == (False, 8)


@needs_postgres
async def test_the_worker_reads_the_snapshot_verify_exported(new_postgres_database: Any) -> None:
    url = new_postgres_database()
    async with Store.open(url, audit_keys=Keyring(KEY)) as store:
        for n in range(ROWS):
            await store.audit.append("alice", f"step.{n}", details={"n": n})
        _, connect = store.db.engine.dialect.create_connect_args(make_url(url))
        conn = await asyncpg.connect(**connect)
        try:
            async with conn.transaction(isolation="repeatable_read", readonly=True):
                snapshot = await conn.fetchval("SELECT pg_export_snapshot()")
                # Committed after the snapshot: the worker must not see it.
                await _sql(store, "UPDATE audit_events SET actor = 'mallory' WHERE seq = 9")
                source = {"connect": connect, "snapshot": snapshot}
                worker = await FarWalk.start(source, 7, ROWS, Keyring(KEY), [])
                far = await worker.result()
                await worker.stop()
        finally:
            await conn.close()
        assert far is not None
        assert (far.clean, far.first, far.checked, far.keyed, far.last_seq) == (
            True, 7, 6, 6, ROWS
        )  # fmt: skip
        later = await verify_chain(store.db, keyring=Keyring(KEY), parallel_min_rows=2)
    assert (later.ok, later.first_bad_seq) == (False, 9)


@pytest.mark.sqlite_only
async def test_the_worker_walks_rows_it_cannot_pass_outright_carefully(keyed: Store) -> None:
    """Rows of encoding 1 at the start of the far half: the worker loads the careful walk
    for them and still answers (it does not fail over to the serial walk)."""
    path = database_file(str(keyed.db.engine.url))
    assert path is not None
    await _rechain(keyed, lambda seq: 1 if seq <= 9 else 2)

    async def far_half() -> FarHalf | None:
        worker = await FarWalk.start({"path": str(path)}, 7, ROWS, Keyring(KEY), [])
        try:
            return await worker.result()
        finally:
            await worker.stop()

    far = await far_half()
    assert far is not None
    assert (far.clean, far.first_version, far.version, far.checked, far.keyed) == (
        True, 1, 2, 6, 6
    )  # fmt: skip
    await _sql(keyed, "UPDATE audit_events SET actor = 'mallory' WHERE seq = 11")
    far = await far_half()
    assert far is not None
    assert not far.clean
