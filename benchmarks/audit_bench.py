"""Audit-log benchmark: append, query, verify and export rates, and peak memory.

    python benchmarks/audit_bench.py [--rows N] [--append-rows M] [--url URL]

Appends go through the real ``AuditLog.append``, durable on return (WAL with synchronous=FULL,
so each commit costs a disk fsync). Concurrent appends are group-committed, so the rate grows
with the number of writers: M rows are appended by 1 writer, then M rows by 20 concurrent
writers, then M rows by 200. Each line shows the commits it took and each append's latency
(median, 99th percentile, worst). The table is then topped up to N rows with a bulk insert of
correctly chained rows, so query, verify and export are measured on N rows without waiting
for N durable appends.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import io
import math
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

from sqlalchemy import event, insert, select, update

from storage.audit_chain import ChainFields, canonical_details, row_hash
from storage.models import AuditEventRow, AuditHeadRow
from storage.timeutil import iso_utc

WRITER_COUNTS = (1, 20, 200)
ENVIRONMENTS = ("dev", "staging", "prod")
ACTIONS = ("deploy.requested", "approval.granted", "azure.call", "health.verdict", "lock.acquired")


async def _append(store: storage.Store, actor: str, n: int) -> float:
    """Append one row; return how long the caller waited for it, in seconds."""
    started = time.perf_counter()
    await store.audit.append(
        actor,
        ACTIONS[n % len(ACTIONS)],
        environment=ENVIRONMENTS[n % len(ENVIRONMENTS)],
        deployment_id=f"d-{n // 25}",
        details={"n": n, "version": f"v1.{n % 50}.0", "outcome": "ok"},
    )
    return time.perf_counter() - started


async def _timed(label: str, count: int, unit: str, work: Callable[[], Awaitable[object]]) -> None:
    started = time.perf_counter()
    await work()
    elapsed = time.perf_counter() - started
    rate = count / elapsed if elapsed > 0 else float("inf")
    print(f"{label:<44} {count:>8} {unit:<8} {elapsed:8.2f} s {rate:12,.0f} {unit}/s")


def _percentile(sorted_values: list[float], fraction: float) -> float:
    index = max(0, math.ceil(fraction * len(sorted_values)) - 1)
    return sorted_values[index]


async def _append_with(store: storage.Store, writers: int, rows: int, offset: int) -> None:
    """``writers`` concurrent writers append ``rows`` rows between them; print rate and waits."""
    waits: list[float] = []
    commits = 0

    def count_commit(_connection: object) -> None:
        nonlocal commits
        commits += 1

    async def writer(w: int) -> None:
        for n in range(offset + w, offset + rows, writers):
            waits.append(await _append(store, f"writer{w}", n))

    engine = store.db.engine.sync_engine
    event.listen(engine, "commit", count_commit)
    try:
        started = time.perf_counter()
        await asyncio.gather(*(writer(w) for w in range(writers)))
        elapsed = time.perf_counter() - started
    finally:
        event.remove(engine, "commit", count_commit)
    waits.sort()
    rate = rows / elapsed if elapsed > 0 else float("inf")
    label = "append, 1 writer" if writers == 1 else f"append, {writers} concurrent writers"
    print(
        f"{label:<44} {rows:>8} {'rows':<8} {elapsed:8.2f} s {rate:12,.0f} rows/s"
        f"  {commits:>6} commits"
        f"  wait ms p50 {_percentile(waits, 0.5) * 1000:6.1f}"
        f" p99 {_percentile(waits, 0.99) * 1000:6.1f} max {waits[-1] * 1000:6.1f}"
    )


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
        print(f"database: {url}")
        print(f"{'measure':<44} {'count':>8} {'unit':<8} {'time':>10} {'rate':>14}")
        if append_rows:
            for turn, writers in enumerate(WRITER_COUNTS):
                await _append_with(store, writers, append_rows, turn * append_rows)
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
        "--append-rows",
        type=int,
        default=1_000,
        help="rows appended through AuditLog.append by each writer count (1, 20, 200)",
    )
    parser.add_argument("--queries", type=int, default=300, help="queries to time")
    parser.add_argument(
        "--url", help="a scratch database URL (default: a fresh SQLite file in a temp dir)"
    )
    args = parser.parse_args(argv)
    if args.rows < 1 or args.append_rows < 0 or args.queries < 1:
        parser.error("--rows and --queries must be >= 1, --append-rows >= 0")
    rows = max(args.rows, args.append_rows * len(WRITER_COUNTS))
    if args.url:
        return asyncio.run(run(args.url, rows, args.append_rows, args.queries))
    with tempfile.TemporaryDirectory(prefix="audit-bench-") as folder:
        url = storage.default_database_url(Path(folder))
        return asyncio.run(run(url, rows, args.append_rows, args.queries))


if __name__ == "__main__":
    raise SystemExit(main())
