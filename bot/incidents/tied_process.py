"""A helper process (the drill's Prometheus and Alertmanager) that never outlives the bot.

Stopping the console ends them in ``finally``; a SIGKILL of the console runs no ``finally``,
and they used to carry on, orphaned, holding their ports. On Linux the child asks the kernel
for SIGKILL when its parent dies (``PR_SET_PDEATHSIG``), set between fork and exec.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import signal
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> Callable[[], None] | None:
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    prctl = libc.prctl  # looked up now: the child only calls it

    def set_death_signal() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)

    return set_death_signal


@contextlib.asynccontextmanager
async def tied_process(*args: str, log: Path) -> AsyncIterator[asyncio.subprocess.Process]:
    """Run ``args`` with output to ``log``; terminated on leaving, killed if the bot dies."""
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            *args, stdout=out, stderr=out, preexec_fn=_die_with_parent()
        )
        try:
            yield proc
        finally:
            if proc.returncode is None:
                proc.terminate()
                try:
                    await asyncio.wait_for(proc.wait(), 30)
                except TimeoutError:
                    proc.kill()
                    await proc.wait()
