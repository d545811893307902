"""Audit-log benchmark: append, query, verify and export rates, and peak memory.

    python benchmarks/audit_bench.py [--rows N] [--append-rows M] [--url URL]

Appends go through the real ``AuditLog.append`` (one durable transaction per row: WAL with
synchronous=FULL, so the rate is bounded by the disk's fsync latency): M/2 rows by a single
writer, then M/2 rows by 20 concurrent writers. The table is then topped up to N rows with a
bulk insert of correctly chained rows, so query, verify and export are measured on N rows
without waiting for N durable appends.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import io
import resource
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

try:
    import storage
except ImportError:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import storage

from sqlalchemy import insert, select, update

from storage.audit_chain import ChainFields, canonical_details, row_hash
from storage.models import AuditEventRow, AuditHeadRow
from storage.timeutil import iso_utc

WRITERS = 20
ENVIRONMENTS = ("dev", "staging", "prod")
ACTIONS = ("deploy.requested", "approval.granted", "azure.call", "health.verdict", "lock.acquired")


async def _append(store: storage.Store, actor: str, n: int) -> None:
    await store.audit.append(
        actor,
        ACTIONS[n % len(ACTIONS)],
        environment=ENVIRONMENTS[n % len(ENVIRONMENTS)],
        deployment_id=f"d-{n // 25}",
        details={"n": n, "version": f"v1.{n % 50}.0", "outcome": "ok"},
    )


async def _timed(label: str, count: int, unit: str, work: Callable[[], Awaitable[object]]) -> None:
    started = time.perf_counter()
    await work()
    elapsed = time.perf_counter() - started
    rate = count / elapsed if elapsed > 0 else float("inf")
    print(f"{label:<44} {count:>8} {unit:<8} {elapsed:8.2f} s {rate:12,.0f} {unit}/s")


async def _append_single(store: storage.Store, rows: int) -> None:
    for n in range(rows):
        await _append(store, "bench", n)


async def _append_concurrent(store: storage.Store, rows: int, offset: int) -> None:
    async def writer(w: int) -> None:
        for n in range(offset + w, offset + rows, WRITERS):
            await _append(store, f"writer{w}", n)

    await asyncio.gather(*(writer(w) for w in range(WRITERS)))


async def _top_up(store: storage.Store, target: int) -> int:
    """Bulk-insert correctly chained rows until the table holds ``target`` rows."""
    async with store.db.write() as session:
        head = (await session.execute(select(AuditHeadRow.seq, AuditHeadRow.hash))).one()
        seq, prev = head.seq, head.hash
        at = iso_utc(store.db.now())
        batch: list[dict[str, object]] = []
        for n in range(seq, target):
            fields = ChainFields(
                seq=n + 1,
                id=f"bulk-{n + 1}",
                at=at,
                actor="bulk",
                action=ACTIONS[n % len(ACTIONS)],
                environment=ENVIRONMENTS[n % len(ENVIRONMENTS)],
                deployment_id=f"d-{n // 25}",
                details=canonical_details({"n": n, "version": f"v1.{n % 50}.0"}),
            )
            digest = row_hash(prev, fields)
            batch.append({**dataclasses.asdict(fields), "prev_hash": prev, "hash": digest})
            prev = digest
        if batch:
            await session.execute(insert(AuditEventRow), batch)
            await session.execute(
                update(AuditHeadRow).where(AuditHeadRow.id == 1).values(seq=target, hash=prev)
            )
    return len(batch)


async def _queries(store: storage.Store, count: int) -> None:
    for n in range(count):
        kind = n % 3
        if kind == 0:
            await store.audit.query(environment=ENVIRONMENTS[n % 3], limit=50)
        elif kind == 1:
            await store.audit.query(deployment_id=f"d-{n % 200}")
        else:
            await store.audit.query(actions=["deploy.requested"], limit=20)


async def run(url: str, rows: int, append_rows: int, queries: int) -> int:
    async with storage.Store.open(url) as store:
        single = append_rows // 2
        concurrent = append_rows - single
        print(f"database: {url}")
        print(f"{'measure':<44} {'count':>8} {'unit':<8} {'time':>10} {'rate':>14}")
        await _timed("append, 1 writer", single, "rows", lambda: _append_single(store, single))
        await _timed(
            f"append, {WRITERS} concurrent writers",
            concurrent,
            "rows",
            lambda: _append_concurrent(store, concurrent, single),
        )
        topped = await _top_up(store, rows)
        print(f"(topped up with {topped} bulk-inserted chained rows to {rows} rows)")
        await _timed(
            f"query (env/deployment/action, {rows} rows)",
            queries,
            "queries",
            lambda: _queries(store, queries),
        )
        result: list[storage.VerifyResult] = []

        async def verify() -> None:
            result.append(await store.audit.verify())

        await _timed("verify whole chain", rows, "rows", verify)
        await _timed(
            "export jsonl", rows, "rows", lambda: store.audit.export("jsonl", io.StringIO())
        )
        await _timed("export csv", rows, "rows", lambda: store.audit.export("csv", io.StringIO()))
        verdict = result[0]
        print(f"verify: ok={verdict.ok} checked={verdict.checked} problem={verdict.problem}")
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"peak RSS: {peak_kib / 1024:.1f} MiB")
    return 0 if verdict.ok else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--rows", type=int, default=10_000, help="rows in the table for query/verify/export"
    )
    parser.add_argument(
        "--append-rows", type=int, default=2_000, help="rows appended through AuditLog.append"
    )
    parser.add_argument("--queries", type=int, default=300, help="queries to time")
    parser.add_argument(
        "--url", help="a scratch database URL (default: a fresh SQLite file in a temp dir)"
    )
    args = parser.parse_args(argv)
    if args.rows < 1 or args.append_rows < 0 or args.queries < 1:
        parser.error("--rows and --queries must be >= 1, --append-rows >= 0")
    rows = max(args.rows, args.append_rows)
    if args.url:
        return asyncio.run(run(args.url, rows, args.append_rows, args.queries))
    with tempfile.TemporaryDirectory(prefix="audit-bench-") as folder:
        url = storage.default_database_url(Path(folder))
        return asyncio.run(run(url, rows, args.append_rows, args.queries))


if __name__ == "__main__":
    raise SystemExit(main())
