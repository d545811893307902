"""The schema stamp read without Alembic: it names the packaged head, and a database already
there opens without importing Alembic (older ones are migrated, newer ones refused: test_db)."""

from __future__ import annotations

import asyncio
import sys
import textwrap

import pytest
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from storage import Database, normalize_url, revision, schema

pytestmark = pytest.mark.empty_database  # each PostgreSQL database starts without a schema


def test_head_names_the_newest_migration() -> None:
    assert schema.head_revision() == revision.HEAD


async def _stamps(url: str) -> list[str]:
    engine = create_async_engine(normalize_url(url))
    try:
        async with engine.connect() as conn:

            def read(sync_conn: Connection) -> list[str]:
                return revision.stamped(sync_conn)

            return await conn.run_sync(read)
    finally:
        await engine.dispose()


async def test_a_new_database_has_no_stamp_and_an_opened_one_is_at_head(db_url: str) -> None:
    assert await _stamps(db_url) == []
    db = await Database.open(db_url)
    await db.close()
    assert await _stamps(db_url) == [revision.HEAD]


OPEN_AND_REPORT = textwrap.dedent(
    """
    import asyncio, sys
    from storage import Database

    async def main(url):
        db = await Database.open(url)
        await db.ping()
        await db.close()

    asyncio.run(main(sys.argv[1]))
    print(sorted(m for m in ("alembic", "mako") if m in sys.modules))
    """
)


async def test_a_database_at_head_opens_without_importing_alembic(db_url: str) -> None:
    db = await Database.open(db_url)  # creates the schema: Alembic, in this process
    await db.close()
    fresh = await asyncio.create_subprocess_exec(
        sys.executable, "-c", OPEN_AND_REPORT, db_url,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(fresh.communicate(), 60)
    assert (fresh.returncode, out.decode().strip()) == (0, "[]"), err.decode()
