"""Store bundles the repositories over one database and closes it."""

from __future__ import annotations

import storage
from storage import Store


async def test_store_open_await_and_close(db_url: str) -> None:
    store = await Store.open(db_url)
    try:
        event = await store.audit.append("alice", "hello")
        assert event.seq == 1
        assert await store.locks.all() == []
        assert await store.deployments.unfinished() == []
    finally:
        await store.close()
    await store.close()


async def test_store_over_an_open_database_shares_it(db_url: str) -> None:
    async with storage.Database.open(db_url) as db:
        first, second = Store.over(db), Store.over(db)
        await first.audit.append("a", "one")
        await second.audit.append("b", "two")
        assert (await first.audit.verify()).checked == 2


def test_every_public_name_is_exported() -> None:
    for name in storage.__all__:
        assert getattr(storage, name) is not None
