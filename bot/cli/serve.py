"""`deploybot serve` (HTTP) and `deploybot socket` (Socket Mode), sharing one server."""

from __future__ import annotations

import asyncio
import signal

import uvicorn

from bot import assemble
from bot.app import create_app
from bot.settings import Settings
from bot.web import create_web


def _server(web: object, host: str, port: int) -> uvicorn.Server:
    config = uvicorn.Config(web, host=host, port=port, log_level="warning", lifespan="off")  # type: ignore[arg-type]
    server = uvicorn.Server(config)
    # uvicorn re-raises SIGINT/SIGTERM after its own shutdown, which would kill the process
    # before our services close; route the signals to a graceful exit instead.
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, server.handle_exit, sig, None)
    return server


def _secret(settings: Settings) -> str | None:
    secret = settings.runtime.slack_signing_secret
    return secret.reveal() if secret else None


async def serve(settings: Settings, host: str, port: int) -> int:
    async with assemble.services(settings) as services:
        bolt = create_app(settings, services)
        server = _server(create_web(bolt, services, _secret(settings)), host, port)
        print(f"deploybot serving Slack requests on http://{host}:{port}/slack/events", flush=True)
        await server.serve()
    return 0


async def socket_mode(settings: Settings, host: str, port: int) -> int:
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

    app_token = settings.runtime.slack_app_token
    assert app_token is not None
    async with assemble.services(settings) as services:
        bolt = create_app(settings, services)
        server = _server(create_web(bolt, services, _secret(settings)), host, port)
        handler = AsyncSocketModeHandler(bolt, app_token.reveal())
        print(f"deploybot in Socket Mode; health and metrics on http://{host}:{port}", flush=True)
        await handler.connect_async()  # type: ignore[no-untyped-call]
        try:
            await server.serve()
        finally:
            await handler.close_async()  # type: ignore[no-untyped-call]
            await asyncio.sleep(0)
    return 0
