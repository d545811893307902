"""Environment locks: atomic acquire, a clear answer for the loser, careful release."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest

from storage import InvalidValueError, Lock, LockHeld, Store


async def test_second_acquire_is_told_who_holds_the_lock(store: Store, clock: Any) -> None:
    taken = await store.locks.acquire("prod", "U_ALICE", kind="manual", reason="db migration")
    assert isinstance(taken, Lock)
    clock.advance(minutes=5)
    refused = await store.locks.acquire("prod", "U_BOB", kind="job", deployment_id="d-2")
    assert isinstance(refused, LockHeld)
    assert (refused.holder, refused.reason, refused.kind) == ("U_ALICE", "db migration", "manual")
    assert refused.since == taken.acquired_at == datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
    assert refused.deployment_id is None
    assert await store.locks.get("prod") == taken


async def test_a_job_lock_names_its_deployment(store: Store) -> None:
    await store.locks.acquire(
        "prod", "U_ALICE", kind="job", deployment_id="d-1", reason="deploy v2"
    )
    refused = await store.locks.acquire("prod", "U_CAROL", kind="manual", reason="freeze")
    assert isinstance(refused, LockHeld)
    assert (refused.deployment_id, refused.kind, refused.holder) == ("d-1", "job", "U_ALICE")


async def test_a_resumed_job_gets_its_own_lock_back(store: Store) -> None:
    first = await store.locks.acquire("prod", "U_ALICE", kind="job", deployment_id="d-1")
    again = await store.locks.acquire("prod", "U_ALICE", kind="job", deployment_id="d-1")
    other = await store.locks.acquire("prod", "U_ALICE", kind="job", deployment_id="d-2")
    assert again == first
    assert isinstance(other, LockHeld)


async def test_a_job_releases_only_its_own_lock(store: Store) -> None:
    await store.locks.acquire("prod", "U_ALICE", kind="manual", reason="hands off")
    assert await store.locks.release("prod", deployment_id="d-1") is None
    assert await store.locks.get("prod") is not None
    released = await store.locks.release("prod")
    assert released is not None
    assert released.holder == "U_ALICE"
    assert await store.locks.get("prod") is None
    assert await store.locks.release("prod") is None

    await store.locks.acquire("prod", "U_ALICE", kind="job", deployment_id="d-1")
    assert await store.locks.release("prod", deployment_id="d-9") is None
    assert await store.locks.release("prod", kind="manual") is None
    released = await store.locks.release("prod", deployment_id="d-1")
    assert released is not None
    assert released.deployment_id == "d-1"
    assert isinstance(await store.locks.acquire("prod", "U_BOB", kind="manual"), Lock)


async def test_all_lists_every_lock_by_environment(store: Store) -> None:
    assert await store.locks.all() == []
    await store.locks.acquire("staging", "U_A", kind="manual")
    await store.locks.acquire("dev", "U_B", kind="job", deployment_id="d-1")
    assert [lock.environment for lock in await store.locks.all()] == ["dev", "staging"]


async def test_concurrent_acquires_across_two_handles_have_one_winner(
    store: Store, db_url: str
) -> None:
    async with Store.open(db_url) as other:
        handles = (store, other)
        results = await asyncio.gather(
            *(
                handles[i % 2].locks.acquire("prod", f"U{i}", kind="job", deployment_id=f"d-{i}")
                for i in range(20)
            )
        )
    winners = [result for result in results if isinstance(result, Lock)]
    assert len(winners) == 1
    losers = [result for result in results if isinstance(result, LockHeld)]
    assert len(losers) == 19
    assert {loser.holder for loser in losers} == {winners[0].holder}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"environment": "", "holder": "U", "kind": "manual"}, "environment must be"),
        ({"environment": "prod", "holder": "", "kind": "manual"}, "holder must be"),
        (
            {"environment": "prod", "holder": "U", "kind": "forever"},
            "kind must be 'manual' or 'job'",
        ),
        ({"environment": "prod", "holder": "U", "kind": "job"}, "job lock needs the deployment_id"),
    ],
)
async def test_bad_lock_requests_are_refused(
    store: Store, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidValueError, match=message):
        await store.locks.acquire(**kwargs)
    assert await store.locks.all() == []
