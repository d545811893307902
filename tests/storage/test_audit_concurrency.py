"""Concurrent writers never fork the audit chain: same task loop, two handles, two processes.

On PostgreSQL two handles or two processes are what two replicas are: one chain, no gaps."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from storage import Store

WRITERS = 20
ROWS_EACH = 5
REPO_ROOT = Path(__file__).resolve().parents[2]


async def _seqs(store: Store) -> list[int]:
    return [event.seq for event in await store.audit.query(newest_first=False)]


async def _writer(store: Store, name: str) -> list[int]:
    seqs = []
    for n in range(ROWS_EACH):
        event = await store.audit.append(name, "concurrent.append", details={"n": n})
        seqs.append(event.seq)
    return seqs


async def _assert_one_valid_chain(store: Store, expected_rows: int) -> None:
    result = await store.audit.verify()
    assert (result.ok, result.checked, result.problem) == (True, expected_rows, None)
    assert await _seqs(store) == list(range(1, expected_rows + 1))


async def test_twenty_concurrent_writers_leave_one_valid_chain(store: Store) -> None:
    results = await asyncio.gather(*(_writer(store, f"w{i}") for i in range(WRITERS)))
    every_seq = [seq for seqs in results for seq in seqs]
    assert len(set(every_seq)) == WRITERS * ROWS_EACH
    assert all(seqs == sorted(seqs) for seqs in results)
    await _assert_one_valid_chain(store, WRITERS * ROWS_EACH)


async def test_two_database_handles_on_one_database_share_one_chain(db_url: str) -> None:
    async with Store.open(db_url) as first, Store.open(db_url) as second:
        handles = (first, second)
        writers = asyncio.gather(*(_writer(handles[i % 2], f"w{i}") for i in range(WRITERS)))
        verdicts = asyncio.gather(*(first.audit.verify() for _ in range(3)))
        results, checks = await asyncio.gather(writers, verdicts)
        seqs = [seq for result in results for seq in result]
        assert len(set(seqs)) == WRITERS * ROWS_EACH
        assert all(verdict.ok for verdict in checks)
        await _assert_one_valid_chain(second, WRITERS * ROWS_EACH)


CHILD = """
import asyncio, sys
from storage import Store

async def main(url: str, rows: int) -> None:
    async with Store.open(url) as store:
        print("ready", flush=True)
        sys.stdin.readline()
        await asyncio.gather(*(store.audit.append("child", "from.child", details={"n": n})
                               for n in range(rows)))

asyncio.run(main(sys.argv[1], int(sys.argv[2])))
"""


async def test_a_second_process_appending_at_the_same_time(store: Store, db_url: str) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", CHILD, db_url, "50",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, env=env,
    )  # fmt: skip
    assert child.stdin is not None
    assert child.stdout is not None
    try:
        assert (await child.stdout.readline()).strip() == b"ready"
        child.stdin.write(b"go\n")
        await child.stdin.drain()
        await asyncio.gather(*(_writer(store, f"parent{i}") for i in range(10)))
        assert await child.wait() == 0
    finally:
        if child.returncode is None:
            child.kill()
            await child.wait()
    await _assert_one_valid_chain(store, 100)
    actors = {event.actor for event in await store.audit.query()}
    assert "child" in actors
    assert "parent0" in actors
