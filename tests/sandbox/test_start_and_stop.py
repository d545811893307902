"""Starting and stopping: port clashes, clean shutdown with requests in flight, CLI errors."""

from __future__ import annotations

import asyncio
import io
import socket
import ssl
from pathlib import Path

import aiohttp
import pytest

from commands.platform.sandbox import Sandbox, SandboxError, SandboxSystem
from commands.platform.sandbox.cli import main


async def test_a_taken_port_is_a_clear_error(sb: Sandbox) -> None:
    port = int(sb.arm_url.rsplit(":", 1)[1])
    with pytest.raises(SandboxError, match="cannot listen"):
        async with Sandbox.start(SandboxSystem.reference(), port=port):
            pass


async def test_bad_start_arguments(sb: Sandbox) -> None:
    with pytest.raises(SandboxError):
        async with Sandbox.start(port=70000):
            pass
    with pytest.raises(SandboxError, match="fleet size"):
        SandboxSystem.fleet(-1)


async def _get_status(session: aiohttp.ClientSession, url: str, token: str) -> int:
    async with session.get(url, headers={"Authorization": f"Bearer {token}"}) as response:
        return response.status


async def test_hanging_requests_are_answered_when_cleared_or_at_stop() -> None:
    async with Sandbox.start(seed=3) as sb:
        context = ssl.create_default_context(cafile=sb.ca_file)
        connector = aiohttp.TCPConnector(ssl=context)
        async with aiohttp.ClientSession(connector=connector) as session:
            form = {
                "grant_type": "client_credentials",
                "client_id": sb.client_id,
                "client_secret": sb.client_secret,
                "scope": "https://management.azure.com/.default",
            }
            token_url = f"{sb.authority_host}/{sb.tenant_id}/oauth2/v2.0/token"
            async with session.post(token_url, data=form) as answer:
                token = (await answer.json())["access_token"]
            url = f"{sb.arm_url}/subscriptions/{sb.subscription_id}/providers/Microsoft.Web/sites"
            url += "?api-version=2025-05-01"
            sb.faults.arm("hang", times=0)
            first = asyncio.create_task(_get_status(session, url, token))
            await sb.faults.until_hanging(1)
            assert sb.faults.hanging == 1
            sb.faults.clear()
            assert await first == 200

            sb.faults.arm("hang", times=0)
            second = asyncio.create_task(_get_status(session, url, token))
            await sb.faults.until_hanging(1)
            await sb.aclose()  # stopping releases it instead of waiting forever
            assert await second == 200


async def test_down_up_down_in_a_row_stays_down(sb: Sandbox) -> None:
    app = "virtualqueue-production-blue"
    sb.faults.app(app, down=True)
    sb.faults.app(app, down=False)
    sb.faults.app(app, down=True)
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.ClientConnectorError):
            await http.get(sb.app_url(app) + "/health")
        sb.faults.app(app)
        async with http.get(sb.app_url(app) + "/health") as response:
            assert response.status == 200


def test_cli_reports_a_taken_port() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        out = io.StringIO()
        assert main(taken.getsockname()[1], None, None, out) == 2
    assert "cannot listen on 127.0.0.1" in out.getvalue()


def test_cli_reports_an_unwritable_env_file(tmp_path: Path) -> None:
    out = io.StringIO()
    assert main(0, tmp_path / "missing" / "sandbox.env", None, out) == 2
    assert "cannot write" in out.getvalue()
