"""Listening sockets on 127.0.0.1 served by aiohttp's low-level server.

A listener can be taken down (new connections are refused, open ones closed after their current
request) and brought back on the same port without awaiting: the socket is bound and listening
synchronously, so connections made before the accept loop restarts simply wait in the backlog.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from collections.abc import Awaitable, Callable

from aiohttp import web

from commands.platform.sandbox.errors import SandboxError

log = logging.getLogger(__name__)
Handler = Callable[[web.BaseRequest], Awaitable[web.StreamResponse]]
HOST = "127.0.0.1"


def _listening_socket(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((HOST, port))
        sock.listen(256)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


class Listener:
    def __init__(self, handler: Handler, *, ssl_context: ssl.SSLContext | None = None) -> None:
        self._handler = handler
        self._ssl = ssl_context
        self._web: web.Server | None = None
        self._server: asyncio.Server | None = None
        self._port = 0
        self._down = False
        self._resuming: asyncio.Task[None] | None = None

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        return f"{'https' if self._ssl else 'http'}://{HOST}:{self._port}"

    async def start(self, port: int = 0) -> None:
        self._web = web.Server(self._handler, access_log=None)
        try:
            sock = _listening_socket(port)
        except OSError as error:
            raise SandboxError(f"cannot listen on {HOST}:{port}: {error.strerror}") from None
        self._port = sock.getsockname()[1]
        await self._serve(sock)

    async def _serve(self, sock: socket.socket) -> None:
        assert self._web is not None
        loop = asyncio.get_running_loop()
        server = await loop.create_server(self._web, sock=sock, ssl=self._ssl)
        if self._down:  # taken down again while it was coming back
            server.close()
        else:
            self._server = server

    def suspend(self) -> None:
        """Refuse new connections now; close open ones once their current request is answered."""
        self._down = True
        if self._server is not None:
            self._server.close()
            self._server = None
        if self._web is not None:
            self._web.pre_shutdown()

    def resume(self) -> None:
        self._down = False
        if self._server is not None or self._web is None or self._resuming is not None:
            return
        try:
            sock = _listening_socket(self._port)
        except OSError as error:  # someone took the port meanwhile: the app stays unreachable
            log.warning("sandbox: cannot re-open %s:%s: %s", HOST, self._port, error)
            return
        task = asyncio.get_running_loop().create_task(self._serve(sock))
        self._resuming = task

        def done(finished: asyncio.Task[None]) -> None:
            self._resuming = None
            if not finished.cancelled() and finished.exception() is not None:
                log.error(
                    "sandbox: listener on port %s failed", self._port, exc_info=finished.exception()
                )
                sock.close()

        task.add_done_callback(done)

    async def close(self) -> None:
        if self._resuming is not None:
            await asyncio.wait([self._resuming])
        if self._server is not None:
            self._server.close()
        if self._web is not None:
            self._web.pre_shutdown()
            await self._web.shutdown(timeout=1.0)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None
