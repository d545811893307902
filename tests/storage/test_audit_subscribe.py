"""AuditLog.subscribe: committed rows only, in seq order, before append returns; a failing
subscriber never breaks an append."""

from __future__ import annotations

import asyncio
import logging

import pytest
from sqlalchemy import exc

from storage import AuditEvent, Store

from .conftest import FakeClock


async def test_each_committed_row_is_passed_once_before_append_returns(store: Store) -> None:
    seen: list[AuditEvent] = []
    store.audit.subscribe(seen.append)
    first = await store.audit.append("alice", "lock.acquired", environment="prod")
    assert seen == [first]  # already there when append returned
    second = await store.audit.append("bob", "lock.released", details={"why": "done"})
    assert seen == [first, second]
    assert seen == await store.audit.query(newest_first=False)


async def test_a_group_commit_batch_is_passed_in_seq_order(store: Store) -> None:
    seen: list[int] = []
    store.audit.subscribe(lambda row: seen.append(row.seq))
    rows = await asyncio.gather(*(store.audit.append("bot", f"a{i}") for i in range(50)))
    assert seen == sorted(seen) == [row.seq for row in rows]
    assert len(set(seen)) == 50


async def test_a_raising_subscriber_is_logged_and_others_still_run(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(_: AuditEvent) -> None:
        raise RuntimeError("subscriber bug")

    seen: list[str] = []
    store.audit.subscribe(broken)
    store.audit.subscribe(lambda row: seen.append(row.action))
    with caplog.at_level(logging.ERROR, logger="storage.audit"):
        row = await store.audit.append("alice", "command.received")
    assert row.action == "command.received"
    assert seen == ["command.received"]
    assert "subscriber bug" in caplog.text
    assert (await store.audit.verify()).ok


async def test_unsubscribe_stops_the_calls(store: Store) -> None:
    seen: list[str] = []
    unsubscribe = store.audit.subscribe(lambda row: seen.append(row.action))
    await store.audit.append("alice", "one")
    unsubscribe()
    unsubscribe()  # twice is harmless
    await store.audit.append("alice", "two")
    assert seen == ["one"]


async def test_a_failed_batch_passes_none_of_its_rows(db_url: str, clock: FakeClock) -> None:
    ids = iter(["id-0", *(f"new-{n}" for n in range(4)), "id-0", "id-1"])
    async with Store.open(db_url, clock=clock, new_id=lambda: next(ids)) as store:
        await store.audit.append("before", "ok")
        seen: list[str] = []
        store.audit.subscribe(lambda row: seen.append(row.id))
        # The batch's 5th row reuses an existing id: its insert fails after the rows (and
        # their hashes) were built, so nothing of the batch is committed nor passed on.
        outcomes = await asyncio.gather(
            *(store.audit.append("during", "doomed") for _ in range(5)), return_exceptions=True
        )
        assert all(isinstance(outcome, exc.IntegrityError) for outcome in outcomes)
        assert seen == []
        after = await store.audit.append("after", "ok")
        assert seen == [after.id] == ["id-1"]
