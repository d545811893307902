"""Job leases and job signals: one holder per job, expiry hands it over, signals taken once."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from storage import InvalidValueError, Store

from .conftest import FakeClock

TTL = timedelta(seconds=10)


async def test_a_live_lease_has_one_holder_and_an_expired_one_is_taken_over(
    store: Store, clock: FakeClock
) -> None:
    first = await store.leases.claim("d1", "replica-a", TTL)
    assert first is not None and first.taken_from is None
    assert await store.leases.claim("d1", "replica-b", TTL) is None
    again = await store.leases.claim("d1", "replica-a", TTL)  # its own: renewed
    assert again is not None and again.lease.expires_at > first.lease.expires_at

    clock.advance(seconds=11)
    taken = await store.leases.claim("d1", "replica-b", TTL)
    assert taken is not None
    assert (taken.lease.holder, taken.taken_from) == ("replica-b", "replica-a")
    assert await store.leases.renew("replica-a", ["d1"], TTL) == set()  # A lost it
    assert await store.leases.renew("replica-b", ["d1", "d2"], TTL) == {"d1"}
    lease = await store.leases.get("d1")
    assert lease is not None and lease.holder == "replica-b" and lease.live(clock.now)


async def test_renewal_keeps_a_lease_live_past_its_first_expiry(
    store: Store, clock: FakeClock
) -> None:
    await store.leases.claim("d1", "replica-a", TTL)
    for _ in range(3):
        clock.advance(seconds=6)
        assert await store.leases.renew("replica-a", ["d1"], TTL) == {"d1"}
        assert await store.leases.claim("d1", "replica-b", TTL) is None


async def test_release_frees_only_the_holders_own_lease(store: Store, clock: FakeClock) -> None:
    await store.leases.claim("d1", "replica-a", TTL)
    assert not await store.leases.release("d1", "replica-b")
    held = await store.leases.get("d1")
    assert held is not None and held.live(clock.now)
    assert await store.leases.release("d1", "replica-a")
    released = await store.leases.get("d1")  # kept, expired: the job was someone's
    assert released is not None and not released.live(clock.now)
    taken = await store.leases.claim("d1", "replica-b", TTL)
    assert taken is not None and taken.taken_from is None  # given up, not taken over


async def test_racing_claims_from_two_handles_leave_exactly_one_holder(db_url: str) -> None:
    async with Store.open(db_url) as first, Store.open(db_url) as second:
        claims = await asyncio.gather(
            *(
                (first if n % 2 else second).leases.claim(f"d{n % 5}", f"replica-{n}", TTL)
                for n in range(40)
            )
        )
        winners: dict[str, list[str]] = {}
        for claim in claims:
            if claim is not None:
                winners.setdefault(claim.lease.deployment_id, []).append(claim.lease.holder)
        assert sorted(winners) == [f"d{n}" for n in range(5)]
        assert all(len(holders) == 1 for holders in winners.values()), winners
        stored = await first.leases.of([f"d{n}" for n in range(5)])
        assert {d: lease.holder for d, lease in stored.items()} == {
            d: holders[0] for d, holders in winners.items()
        }


@pytest.mark.parametrize("ttl", [timedelta(0), timedelta(seconds=-1)])
async def test_a_lease_needs_a_positive_duration(store: Store, ttl: timedelta) -> None:
    with pytest.raises(InvalidValueError, match="positive duration"):
        await store.leases.claim("d1", "replica-a", ttl)
    assert await store.leases.get("d1") is None


async def test_signals_are_taken_once_oldest_first_and_only_for_the_named_jobs(
    db_url: str,
) -> None:
    async with Store.open(db_url) as first, Store.open(db_url) as second:
        await first.signals.send("d1", "pause", "U0ALICE")
        await second.signals.send("d2", "rollback", "U0BOB")
        await first.signals.send("d1", "resume", "U0ALICE")
        taken = await asyncio.gather(
            first.signals.take(["d1"], "replica-a"), second.signals.take(["d1"], "replica-b")
        )
        actions = [[s.action for s in batch] for batch in taken]
        assert sorted(actions, key=len) == [[], ["pause", "resume"]]
        assert await second.signals.take(["d1"], "replica-b") == []
        [rollback] = await second.signals.take(["d1", "d2"], "replica-b")
        assert (rollback.deployment_id, rollback.action, rollback.actor) == (
            "d2",
            "rollback",
            "U0BOB",
        )
