"""`deploybot serve` (HTTP) and `deploybot socket` (Socket Mode), sharing one server."""

from __future__ import annotations

import asyncio
import signal
import socket

import uvicorn

from bot import assemble, collection
from bot.httpserver import bind
from bot.settings import Settings


def _server(web: object, host: str, port: int) -> uvicorn.Server:
    config = uvicorn.Config(
        web,  # type: ignore[arg-type]
        host=host,
        port=port,
        log_level="warning",
        lifespan="off",
        access_log=False,
    )
    server = uvicorn.Server(config)
    # uvicorn re-raises SIGINT/SIGTERM after its own shutdown, which would kill the process
    # before our services close; route the signals to a graceful exit instead.
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, server.handle_exit, sig, None)
    return server


def _listen(host: str, port: int) -> socket.socket:
    """The port, bound before the bot is built: a port in use is said at once, and the banner
    is printed only once requests can connect (they wait in the backlog until served)."""
    try:
        return bind(host, port)
    except OSError as error:
        raise SystemExit(f"deploybot: cannot listen on {host}:{port}: {error.strerror}") from None


async def serve(settings: Settings, host: str, port: int) -> int:
    slack, azure = assemble.production_endpoints(settings)
    sock = _listen(host, port)
    async with assemble.build(
        settings, slack, azure, database_url=assemble.database_url(settings)
    ) as bot:
        collection.release()
        server = _server(bot.web, host, port)
        print(f"deploybot serving Slack requests on http://{host}:{port}/slack/events", flush=True)
        await server.serve(sockets=[sock])
    return 0


async def socket_mode(settings: Settings, host: str, port: int) -> int:
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

    app_token = settings.runtime.slack_app_token
    assert app_token is not None
    slack, azure = assemble.production_endpoints(settings)
    sock = _listen(host, port)
    async with assemble.build(
        settings, slack, azure, database_url=assemble.database_url(settings)
    ) as bot:
        collection.release()
        server = _server(bot.web, host, port)
        handler = AsyncSocketModeHandler(bot.bolt, app_token.reveal())
        print(f"deploybot in Socket Mode; health and metrics on http://{host}:{port}", flush=True)
        await handler.connect_async()  # type: ignore[no-untyped-call]
        try:
            await server.serve(sockets=[sock])
        finally:
            await handler.close_async()  # type: ignore[no-untyped-call]
            await asyncio.sleep(0)
    return 0
