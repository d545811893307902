"""The audit scale benchmark's database side: a million correctly chained, keyed rows written
in bulk, and a throw-away PostgreSQL cluster."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

from sqlalchemy import insert, select, update

import storage
from storage.audit_chain import CHAIN_VERSION, hash_v2
from storage.models import AuditEventRow, AuditHeadRow
from storage.timeutil import iso_utc

FINISHED = "deployment.finished"
ACTIONS = ("azure.call", "health.verdict", "command.received", "approval.granted")
_CHUNK = 20_000


async def top_up(
    store: storage.Store, key: storage.AuditKey, target: int, environments: list[str]
) -> float:
    """Bulk-insert correctly chained, keyed rows until the log holds ``target``; seconds taken.

    Every 40th row is a finished deployment, spread over ``environments``, as /deploy history
    reads them."""
    started = time.perf_counter()
    async with store.db.write() as session:
        head = (await session.execute(select(AuditHeadRow.seq, AuditHeadRow.hash))).one()
    seq, prev = head.seq, head.hash
    at = iso_utc(store.db.now())
    while seq < target:
        batch = []
        for n in range(seq + 1, min(target, seq + _CHUNK) + 1):
            env = environments[n % len(environments)]
            finished = n % 40 == 0
            action = FINISHED if finished else ACTIONS[n % len(ACTIONS)]
            details = (
                f'{{"kind":"deploy","outcome":"succeeded","requested_by":"U0ALICE",'
                f'"to_version":"v1.{n % 50}.0"}}'
                if finished
                else f'{{"n":{n},"version":"v1.{n % 50}.0"}}'
            )
            row_id, dep = f"bulk-{n}", f"d-{n // 25}"
            digest = hash_v2(prev, n, row_id, at, "bulk", action, env, dep, details)
            batch.append({
                "seq": n, "id": row_id, "at": at, "actor": "bulk", "action": action,
                "environment": env, "deployment_id": dep, "details": details,
                "prev_hash": prev, "hash": digest, "key_id": key.key_id,
                "mac": key.row_mac(digest), "chain_version": CHAIN_VERSION,
            })  # fmt: skip
            prev = digest
        seq = batch[-1]["seq"]  # type: ignore[assignment]
        async with store.db.write() as session:
            await session.execute(insert(AuditEventRow), batch)
            await session.execute(
                update(AuditHeadRow)
                .where(AuditHeadRow.id == 1)
                .values(seq=seq, hash=prev, key_id=key.key_id, mac=key.head_mac(seq, prev))
            )
    async with store.db.write() as session:
        conn = await session.connection()
        await conn.exec_driver_sql("ANALYZE")
    return time.perf_counter() - started


@contextlib.asynccontextmanager
async def postgres(folder: Path) -> AsyncIterator[str | None]:
    """A throw-away cluster's database URL, or None (and why, on stderr) where there is none."""
    try:
        from tests.postgres_server import BINDIR, SKIP_REASON, start_postgres
    except ImportError as error:
        print(f"PostgreSQL: n/a ({error})", file=sys.stderr)
        yield None
        return
    if BINDIR is None:
        print(f"PostgreSQL: n/a ({SKIP_REASON})", file=sys.stderr)
        yield None
        return
    server = await asyncio.to_thread(start_postgres, folder)
    try:
        yield await asyncio.to_thread(server.create_database, "audit_scale")
    finally:
        await asyncio.to_thread(server.stop)
        await asyncio.to_thread(shutil.rmtree, folder, True)  # a million rows: 1.7 GB
