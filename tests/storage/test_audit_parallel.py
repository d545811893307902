"""Verify's second process: whatever the log holds, the answer with the far half walked by a
worker is the serial walk's, word for word; a clean far half is walked there and joined."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from storage import AuditKey, Checkpoint, Keyring, Store
from storage.audit_parallel import FarWalk, join
from storage.audit_verify import verify_chain
from storage.audit_walk import Walker

KEY = AuditKey.from_text("k" * 32)


@contextlib.contextmanager
def _raw(path: Path) -> Iterator[sqlite3.Connection]:
    with contextlib.closing(sqlite3.connect(path)) as raw, raw:
        yield raw


TAMPERS = {
    "intact": [],
    "edit a far row": ["UPDATE audit_events SET actor = 'mallory' WHERE seq = 9"],
    "delete the first far row": ["DELETE FROM audit_events WHERE seq = 6"],
    "delete the last near row": ["DELETE FROM audit_events WHERE seq = 5"],
    "strip a far MAC": ["UPDATE audit_events SET mac = NULL, key_id = NULL WHERE seq = 8"],
    "edit a near row": ["UPDATE audit_events SET details = '{}' WHERE seq = 2"],
    "far encoding unknown": ["UPDATE audit_events SET chain_version = 3 WHERE seq = 7"],
}


@pytest.fixture
async def keyed_log(tmp_path: Path) -> tuple[Path, Checkpoint]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'deploybot.db'}"
    async with Store.open(url, audit_keys=Keyring(KEY)) as store:
        for n in range(10):
            await store.audit.append("alice", f"step.{n}", environment="prod", details={"n": n})
        row = (await store.audit.query(actions=["step.7"]))[0]
    return tmp_path / "deploybot.db", Checkpoint(row.seq, row.hash, row.mac)


@pytest.mark.parametrize("tamper", TAMPERS)
async def test_the_far_half_gives_the_serial_answer(
    keyed_log: tuple[Path, Checkpoint], tamper: str
) -> None:
    path, point = keyed_log
    with _raw(path) as raw:
        for statement in TAMPERS[tamper]:
            raw.execute(statement)
    results = []
    async with Store.open(f"sqlite+aiosqlite:///{path}", audit_keys=Keyring(KEY)) as store:
        for parallel_min_rows in (2, 10**9):  # rows 6-10 in a worker, then all here
            results.append(
                await verify_chain(
                    store.db,
                    keyring=Keyring(KEY),
                    checkpoints=[point],
                    parallel_min_rows=parallel_min_rows,
                )
            )
    assert results[0] == results[1]
    assert results[0].ok == (tamper == "intact")


async def test_a_clean_far_half_is_walked_by_the_worker_and_joined(
    keyed_log: tuple[Path, Checkpoint],
) -> None:
    path, point = keyed_log
    worker = await FarWalk.start({"path": str(path)}, 6, 10, Keyring(KEY), [point])
    far = await worker.result()
    await worker.stop()
    assert far is not None
    assert (far.clean, far.first, far.checked, far.keyed, far.last_seq) == (True, 6, 5, 5, 10)
    near = Walker(Keyring(KEY), [point])
    with _raw(path) as raw:
        sql = f"SELECT {near.select_list} FROM audit_events WHERE seq <= 5 ORDER BY seq"
        rows = raw.execute(sql)
        assert near.walk(rows.fetchall()) is None
    assert join(near, far)
    assert (near.checked, near.keyed, near.last_seq, near.last_hash) == (10, 10, 10, far.last_hash)
    assert not join(Walker(Keyring(KEY), []), far)  # does not follow an empty walk
