"""Group commit on a real SQLite file: one transaction per batch, the chain unchanged.

Commits are counted with a SQLAlchemy ``commit`` listener on the engine. A batch is held in
flight by taking SQLite's write lock from a raw connection, so the test knows which callers
queue behind it.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, exc

from storage import AuditEvent, AuditIntegrityError, AuditLog, Database, InvalidValueError, Store

BURST = 200


class Commits:
    """Counts committed transactions on a store's engine while installed."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, _connection: Any) -> None:
        self.count += 1


@contextlib.contextmanager
def counting_commits(db: Database) -> Iterator[Commits]:
    commits = Commits()
    event.listen(db.engine.sync_engine, "commit", commits)
    try:
        yield commits
    finally:
        event.remove(db.engine.sync_engine, "commit", commits)


@contextlib.asynccontextmanager
async def write_lock_held(store: Store, db_path: Path) -> AsyncIterator[asyncio.Event]:
    """Hold SQLite's write lock from outside; the event is set once a batch waits for it."""
    waiting = asyncio.Event()

    def on_execute(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.startswith("BEGIN IMMEDIATE"):
            waiting.set()

    engine = store.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", on_execute)
    raw = sqlite3.connect(db_path, isolation_level=None)
    try:
        raw.execute("BEGIN IMMEDIATE")
        yield waiting
    finally:
        raw.execute("ROLLBACK")
        raw.close()
        event.remove(engine, "before_cursor_execute", on_execute)


def run_sql(db_path: Path, sql: str, params: tuple[Any, ...] = ()) -> None:
    with contextlib.closing(sqlite3.connect(db_path)) as raw, raw:
        raw.execute(sql, params)


async def stored(store: Store) -> list[AuditEvent]:
    return await store.audit.query(newest_first=False)


async def assert_valid_chain(store: Store, rows: int) -> None:
    result = await store.audit.verify()
    assert (result.ok, result.checked, result.last_seq, result.problem) == (True, rows, rows, None)


async def test_a_burst_of_appends_is_one_chain_in_call_order_with_few_commits(
    store: Store, db_path: Path
) -> None:
    with counting_commits(store.db) as commits:
        events = await asyncio.gather(
            *(store.audit.append(f"u{n}", "burst", details={"n": n}) for n in range(BURST))
        )
    assert commits.count == 1  # the whole burst queued before the first batch was taken
    assert [event.seq for event in events] == list(range(1, BURST + 1))
    assert [event.details["n"] for event in events] == list(range(BURST))
    assert events == await stored(store)  # what append returned is exactly what is stored
    assert [event.at for event in events] == sorted({event.at for event in events})
    await assert_valid_chain(store, BURST)


async def test_batches_are_bounded_by_max_batch(store: Store) -> None:
    audit = AuditLog(store.db, max_batch=50)
    with counting_commits(store.db) as commits:
        events = await asyncio.gather(
            *(audit.append("u", "bounded", details={"n": n}) for n in range(BURST))
        )
    assert commits.count == BURST // 50
    assert [event.details["n"] for event in events] == list(range(BURST))
    await assert_valid_chain(store, BURST)


async def test_appends_made_during_a_batch_go_into_the_next_one_in_order(
    store: Store, db_path: Path
) -> None:
    with counting_commits(store.db) as commits:
        async with write_lock_held(store, db_path) as waiting:
            first = asyncio.create_task(store.audit.append("first", "held"))
            await waiting.wait()
            later = [
                asyncio.create_task(store.audit.append(f"later{n}", "queued")) for n in range(50)
            ]
            await asyncio.sleep(0)  # let every later append queue behind the held batch
        events = await asyncio.gather(first, *later)
    assert commits.count == 2
    assert [event.actor for event in events] == ["first"] + [f"later{n}" for n in range(50)]
    assert [event.seq for event in events] == list(range(1, 52))
    await assert_valid_chain(store, 51)


async def test_bad_input_fails_only_its_caller(store: Store) -> None:
    def details(n: int) -> dict[str, Any]:
        return {"n": float("nan")} if n % 5 == 0 else {"n": n}

    with counting_commits(store.db) as commits:
        outcomes = await asyncio.gather(
            *(store.audit.append("u", "mixed", details=details(n)) for n in range(30)),
            return_exceptions=True,
        )
    refused = [n for n, outcome in enumerate(outcomes) if isinstance(outcome, InvalidValueError)]
    written = [outcome for outcome in outcomes if isinstance(outcome, AuditEvent)]
    assert refused == list(range(0, 30, 5))
    assert [event.details["n"] for event in written] == [n for n in range(30) if n % 5]
    assert [event.seq for event in written] == list(range(1, 25))
    assert commits.count == 1
    await assert_valid_chain(store, 24)


async def test_a_failed_batch_fails_every_caller_and_leaves_the_chain_intact(
    store: Store, db_path: Path
) -> None:
    for n in range(5):
        await store.audit.append("before", "ok", details={"n": n})
    head = (await stored(store))[-1]
    run_sql(db_path, "DELETE FROM audit_head")
    with counting_commits(store.db) as commits:
        outcomes = await asyncio.gather(
            *(store.audit.append("during", "doomed") for _ in range(30)), return_exceptions=True
        )
    assert all(isinstance(outcome, AuditIntegrityError) for outcome in outcomes)
    assert commits.count == 0
    run_sql(db_path, "INSERT INTO audit_head (id, seq, hash) VALUES (1, ?, ?)", (5, head.hash))
    await assert_valid_chain(store, 5)
    after = await asyncio.gather(store.audit.append("after", "ok"), store.audit.append("a", "b"))
    assert [event.seq for event in after] == [6, 7]
    assert after[0].prev_hash == head.hash
    await assert_valid_chain(store, 7)


async def test_a_row_failing_mid_batch_writes_none_of_the_batch(db_url: str, clock: Any) -> None:
    ids = iter([f"id-{n}" for n in range(3)] + [f"new-{n}" for n in range(10)] + ["id-1"])

    def new_id() -> str:
        return next(ids)

    async with Store.open(db_url, clock=clock, new_id=new_id) as store:
        for n in range(3):
            await store.audit.append("before", "ok", details={"n": n})
        # The 11th row reuses an existing id, so the batch's insert fails partway through.
        outcomes = await asyncio.gather(
            *(store.audit.append("during", "doomed", details={"n": n}) for n in range(11)),
            return_exceptions=True,
        )
        assert all(isinstance(outcome, exc.IntegrityError) for outcome in outcomes)
        assert [event.id for event in await stored(store)] == ["id-0", "id-1", "id-2"]
        await assert_valid_chain(store, 3)


async def test_a_cancelled_append_still_queued_is_not_written(store: Store, db_path: Path) -> None:
    async with write_lock_held(store, db_path) as waiting:
        first = asyncio.create_task(store.audit.append("first", "held"))
        await waiting.wait()
        dropped = asyncio.create_task(store.audit.append("dropped", "cancelled"))
        kept = asyncio.create_task(store.audit.append("kept", "queued"))
        await asyncio.sleep(0)  # both queue behind the held batch
        dropped.cancel()
    assert [event.seq for event in await asyncio.gather(first, kept)] == [1, 2]
    with pytest.raises(asyncio.CancelledError):
        await dropped
    assert [event.actor for event in await stored(store)] == ["first", "kept"]
    await assert_valid_chain(store, 2)


async def test_a_cancelled_append_whose_batch_started_is_written(
    store: Store, db_path: Path
) -> None:
    async with write_lock_held(store, db_path) as waiting:
        writer = asyncio.create_task(store.audit.append("writer", "held"))
        alongside = asyncio.create_task(store.audit.append("alongside", "held"))
        await waiting.wait()  # the batch [writer, alongside] waits for the lock
        behind = asyncio.create_task(store.audit.append("behind", "queued"))
        await asyncio.sleep(0)
        writer.cancel()
        alongside.cancel()
    for cancelled in (writer, alongside):
        with pytest.raises(asyncio.CancelledError):
            await cancelled
    assert (await behind).seq == 3
    assert [event.actor for event in await stored(store)] == ["writer", "alongside", "behind"]
    await assert_valid_chain(store, 3)
