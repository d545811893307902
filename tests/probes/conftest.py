"""Real local HTTP servers (aiohttp on 127.0.0.1, ephemeral ports) and one shared httpx client."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
from aiohttp import web

from commands.config import config_from_mapping
from commands.config.model import Environment
from commands.platform.sandbox import Sandbox, SandboxSystem

Serve = Callable[[web.Application], Awaitable[str]]


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    runners: list[web.AppRunner] = []

    async def start(app: web.Application) -> str:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        host, port = runner.addresses[0][:2]
        return f"http://{host}:{port}"

    yield start
    for runner in runners:
        await runner.cleanup()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture
def closed_port_url() -> str:
    """A URL nothing listens on (the port was bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    """The local Azure sandbox: its app fleet serves /health and /metrics."""
    async with Sandbox.start(SandboxSystem.reference(), port=0, seed=11) as sb:
        yield sb


@pytest.fixture
def envs(sandbox: Sandbox) -> dict[str, Environment]:
    return dict(config_from_mapping(sandbox.config_mapping()).environments)
