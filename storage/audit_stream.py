"""Read every audit row, oldest first, as plain tuples in batches, inside the caller's read
transaction (so on the same snapshot as anything else it read).

A million rows must go by in seconds, so on SQLite this reads through the driver's own cursor
(aiosqlite), skipping SQLAlchemy's result rows, and asks for the next batch before handing out
the current one: the driver's thread fetches while the caller hashes. On PostgreSQL through
asyncpg it reads batches from asyncpg's own cursor (records, not SQLAlchemy rows: a third of
the time); other drivers stream through SQLAlchemy's server-side cursor (``yield_per``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AuditEventRow

_TABLE = AuditEventRow.__tablename__


async def stream_rows(
    session: AsyncSession,
    select_list: str,
    batch_size: int,
    *,
    after: int = 0,
    until: int | None = None,
) -> AsyncIterator[Sequence[Sequence[Any]]]:
    """Batches of ``select_list`` (plain column names, or ``NULL AS name``) for the rows of
    ``audit_events`` with ``after < seq <= until`` (every row after ``after`` when ``until`` is
    None), in ``seq`` order."""
    connection = await session.connection()
    if connection.dialect.name == "sqlite":
        raw = await connection.get_raw_connection()
        sql = f"SELECT {select_list} FROM {_TABLE} WHERE seq > ? AND seq <= ? ORDER BY seq"
        last = 2**63 - 1 if until is None else until  # SQLite's largest integer
        async for batch in _prefetched(raw.driver_connection, sql, (after, last), batch_size):
            yield batch
        return
    if connection.dialect.driver == "asyncpg":
        raw = await connection.get_raw_connection()
        # seq is a 32-bit INTEGER on PostgreSQL: no sentinel bound
        bound = "" if until is None else f" AND seq <= {int(until)}"
        sql = f"SELECT {select_list} FROM {_TABLE} WHERE seq > {int(after)}{bound} ORDER BY seq"
        # Inside the session's transaction, so on its snapshot.
        driver = raw.driver_connection
        assert driver is not None
        cursor = await driver.cursor(sql)
        while rows := await cursor.fetch(batch_size):
            yield rows
        return
    query = select(text(select_list)).select_from(AuditEventRow).where(AuditEventRow.seq > after)
    if until is not None:  # seq is a 32-bit INTEGER on PostgreSQL: no sentinel bound
        query = query.where(AuditEventRow.seq <= until)
    query = query.order_by(AuditEventRow.seq).execution_options(yield_per=batch_size)
    result = await session.stream(query)
    async for partition in result.partitions():
        yield partition


async def _prefetched(
    driver: Any, sql: str, parameters: tuple[int, int], batch_size: int
) -> AsyncIterator[Sequence[Sequence[Any]]]:
    async with driver.execute(sql, parameters) as cursor:
        pending = asyncio.ensure_future(cursor.fetchmany(batch_size))
        try:
            while rows := await pending:
                pending = asyncio.ensure_future(cursor.fetchmany(batch_size))
                yield rows
        finally:
            # The driver runs one call at a time; let an outstanding fetch finish before the
            # cursor closes (a caller that stopped early, at a bad row).
            if not pending.done():
                await asyncio.wait((pending,))
            if not pending.cancelled():
                pending.exception()  # seen: the caller has its answer already
