"""py-spy on the serve process during slack_bench's load, and the top frames of what it saw."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import shutil
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path


@contextlib.asynccontextmanager
async def py_spy(pid: int, out: Path) -> AsyncIterator[None]:
    """py-spy samples ``pid`` (collapsed stacks into ``out``) for the block."""
    exe = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    spy = await asyncio.create_subprocess_exec(
        exe, "record", "--pid", str(pid), "--format", "raw", "--output", str(out),
        "--rate", "200", "--gil",  # --gil: samples of the thread holding the GIL only
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    await asyncio.sleep(1)
    try:
        yield
    finally:
        spy.send_signal(signal.SIGINT)
        await spy.wait()


def collapsed_top(path: Path, n: int = 15) -> str:
    """The frames with the most samples of their own, and the most samples below them."""
    own: collections.Counter[str] = collections.Counter()
    total: collections.Counter[str] = collections.Counter()
    samples = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        weight = int(count)
        samples += weight
        own[_short(frames[-1])] += weight
        for frame in {_short(f) for f in frames}:
            total[frame] += weight
    lines = [f"  own  {100 * c / samples:5.1f}%  {f}" for f, c in own.most_common(n)]
    ours = ("(bot/", "(commands/", "(storage/")
    interesting = [(f, c) for f, c in total.most_common(400) if any(o in f for o in ours)]
    lines += [f"  incl {100 * c / samples:5.1f}%  {f}" for f, c in interesting[:n]]
    return "\n".join(lines)


def _short(frame: str) -> str:
    name, _, where = frame.partition(" (")
    where = where.rstrip(")")
    for marker in ("site-packages/", "/wt-perf/", "python3.12/", "python3.13/"):
        if marker in where:
            where = where.split(marker, 1)[1]
            break
    return f"{name} ({where.rsplit(':', 1)[0]})"
