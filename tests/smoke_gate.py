"""prod's pre-switch hook, as a team's smoke test would be, held open or shut by the test.

A job that reaches the hook waits there until the test lets its version through, so the
job holding prod holds it for as long as the test needs: the queue tests use it to keep an
environment busy without racing a real deployment.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from aiohttp import web

from tests.ports import free_port


@dataclass
class Gate:
    url: str = ""
    #: The versions held; None holds every version until ``open``.
    held: set[str] | None = None
    calls: list[str] = field(default_factory=list)  # the versions, in the order they came
    _opened: bool = False
    _moved: asyncio.Condition = field(default_factory=asyncio.Condition)

    def _holds(self, version: str) -> bool:
        return not self._opened and (self.held is None or version in self.held)

    async def hook(self, request: web.Request) -> web.Response:
        version = str((await request.json())["version"])
        async with self._moved:
            self.calls.append(version)
            self._moved.notify_all()
            await self._moved.wait_for(lambda: not self._holds(version))
        return web.json_response({"ok": True})

    async def let_through(self, version: str) -> None:
        async with self._moved:
            if self.held is not None:
                self.held.discard(version)
            self._moved.notify_all()

    async def open(self) -> None:
        """Let every version through, now and from now on."""
        async with self._moved:
            self._opened = True
            self._moved.notify_all()

    async def reached(self, versions: list[str], timeout: float = 30) -> None:  # noqa: ASYNC109
        """Wait until exactly ``versions`` have called the hook, in that order."""
        async with asyncio.timeout(timeout), self._moved:
            await self._moved.wait_for(lambda: self.calls == versions)


@contextlib.asynccontextmanager
async def gate_server(*held: str) -> AsyncIterator[Gate]:
    """A gate on a loopback port holding ``held`` (every version when none is named)."""
    gate = Gate(held=set(held) if held else None)
    app = web.Application()
    app.router.add_post("/smoke", gate.hook)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    gate.url = f"http://127.0.0.1:{port}/smoke"
    try:
        yield gate
    finally:
        await gate.open()
        await runner.cleanup()
