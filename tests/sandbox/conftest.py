"""Fixtures: a running sandbox, the real aio Azure SDK clients on it, a plain HTTP client."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator

import aiohttp
import pytest

from commands.platform.sandbox import Sandbox, SandboxSystem
from commands.platform.sandbox.clients import SdkClients, sdk_clients
from commands.platform.sandbox.clock import ManualClock


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def sb(clock: ManualClock) -> AsyncIterator[Sandbox]:
    async with Sandbox.start(SandboxSystem.reference(), clock=clock, seed=7) as sandbox:
        yield sandbox


@pytest.fixture
async def azure(sb: Sandbox) -> AsyncIterator[SdkClients]:
    async with sdk_clients(sb) as clients:
        yield clients


@pytest.fixture
async def http(sb: Sandbox) -> AsyncIterator[aiohttp.ClientSession]:
    """A plain client for the apps, front doors and admin API (and raw HTTPS calls to ARM)."""
    context = ssl.create_default_context(cafile=sb.ca_file)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context)) as session:
        yield session


@pytest.fixture
async def bearer(sb: Sandbox, http: aiohttp.ClientSession) -> str:
    """A token from the sandbox's token endpoint, for raw ARM calls."""
    form = {
        "grant_type": "client_credentials",
        "client_id": sb.client_id,
        "client_secret": sb.client_secret,
        "scope": "https://management.azure.com/.default",
    }
    async with http.post(f"{sb.authority_host}/{sb.tenant_id}/oauth2/v2.0/token", data=form) as r:
        assert r.status == 200
        token = (await r.json())["access_token"]
        assert isinstance(token, str)
        return token
