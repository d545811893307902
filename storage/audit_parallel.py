"""Verify the second half of a large audit log in a second process, on the second core.

Each row's hash depends only on its own fields and its stored ``prev_hash``, so the rows after
row ``k`` can be walked on their own, starting from row ``k + 1``'s stored ``prev_hash``, while
this process walks rows 1…k. The halves are joined only when the far half is entirely clean
and fits onto the near half as the serial walk would have it: row ``k + 1`` follows row ``k``
and links to its hash, its encoding is not older, and no unkeyed row follows a keyed one. In
every other case (a bad row, a doubt at the seam, a worker that could not start) the far half
is walked again here, serially, so the answer, and each problem's wording, are exactly the
serial walk's.

The worker (``audit_fast``, run as a script) opens the database itself. On PostgreSQL it reads
the very snapshot of this process's transaction (``pg_export_snapshot``). A SQLite file gives
it a snapshot of its own, a later one, which only matters for rows rewritten while verify
runs, and those are reported by the serial walk of the far half either way when they do not
fit."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from storage.audit_checkpoint import Checkpoint
from storage.audit_key import Keyring
from storage.audit_walk import Walker

_ROOT = str(Path(__file__).resolve().parents[1])
# Run as a script, not ``-m storage…``: importing the storage package takes most of a second.
_WORKER = str(Path(__file__).resolve().with_name("audit_fast.py"))
#: Smaller logs verify in well under a second: not worth starting a process for.
PARALLEL_MIN_ROWS = 200_000


@dataclass(frozen=True, slots=True)
class FarHalf:
    """What the worker found in rows ``first``…``last_seq`` (``clean``: no bad row)."""

    clean: bool
    first: int
    start_prev_hash: str | None = None
    first_version: int | None = None
    checked: int = 0
    keyed: int = 0
    plain_only: int = 0
    version: int = 0
    last_seq: int = 0
    last_hash: str = ""
    last_mac: str | None = None


def join(walker: Walker, far: FarHalf | None) -> bool:
    """Add ``far`` to ``walker`` (which walked the rows before it) when it fits; else False."""
    if far is None or not far.clean or far.first != walker.last_seq + 1:
        return False
    if far.start_prev_hash != walker.last_hash or (far.first_version or 0) < walker.version:
        return False
    if walker.keyring is not None and walker.keyed and far.plain_only:
        return False  # an unkeyed row after a keyed one: let the serial walk name it
    walker.checked += far.checked
    walker.keyed += far.keyed
    walker.plain_only += far.plain_only
    walker.version = far.version
    walker.last_seq, walker.last_hash, walker.last_mac = far.last_seq, far.last_hash, far.last_mac
    return True


class FarWalk:
    """The worker process walking rows ``first``…``last`` of the file at ``path``.

    A plain ``python -P storage/audit_fast.py`` child, told its task as JSON on standard input
    and answering as JSON on standard output: unlike multiprocessing, it never re-imports the
    program that called verify."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self._process = process

    @classmethod
    async def start(
        cls,
        source: dict[str, Any],
        first: int,
        last: int,
        keyring: Keyring | None,
        checkpoints: Iterable[Checkpoint],
    ) -> FarWalk:
        """Start walking rows ``first``…``last`` of ``source``: ``{"path": file}`` for a
        SQLite file, ``{"connect": asyncpg.connect's arguments, "snapshot": id}`` for the
        snapshot a PostgreSQL transaction exported. Raises OSError when no process starts."""
        keys = [] if keyring is None else [keyring.current, *keyring.previous]
        task = {
            **source, "first": first, "last": last,
            "keys": [[key.key_id, key.secret.hex()] for key in keys],
            "checkpoints": [
                [p.seq, p.hash, p.mac, p.at] for p in checkpoints if first <= p.seq <= last
            ],
        }  # fmt: skip
        # Only an unusual row makes the worker load the storage package: the same as this one.
        search = os.pathsep.join([_ROOT, os.environ.get("PYTHONPATH", "")])
        env = {**os.environ, "PYTHONPATH": search}
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-P", _WORKER,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL, env=env,
        )  # fmt: skip
        assert process.stdin is not None
        process.stdin.write(json.dumps(task).encode())
        await process.stdin.drain()
        process.stdin.close()
        return cls(process)

    async def result(self) -> FarHalf | None:
        """The worker's findings; None when it died or sent nothing usable."""
        output, _ = await self._process.communicate()
        if self._process.returncode != 0:
            return None
        try:
            return FarHalf(**json.loads(output))
        except (ValueError, TypeError):
            return None

    async def stop(self) -> None:
        """Stop the worker if it still runs (the near half failed first)."""
        if self._process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self._process.kill()
            await self._process.wait()
