"""`deploybot socket` started as a user would, connected to the emulator over Socket Mode."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from bot.slackemu import SlackEmulator, Workspace, reference_workspace
from tests.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
BOT_TOKEN = "xoxb-socket-process"
APP_TOKEN = "xapp-1-A0DEPLOYBOT-socket-process"


@dataclass
class Running:
    ws: Workspace
    emu: SlackEmulator
    process: asyncio.subprocess.Process
    port: int

    async def stop(self) -> str:
        """SIGTERM, as a service manager would; returns what the process wrote to stderr."""
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        _, stderr = await self.process.communicate()
        return stderr.decode(errors="replace")


@contextlib.asynccontextmanager
async def deploybot_socket(tmp_path: Path) -> AsyncIterator[Running]:
    """The emulator with an app-level token, and `python -m bot socket` connected to it."""
    ws = reference_workspace()
    async with SlackEmulator.start(ws, bot_token=BOT_TOKEN, app_token=APP_TOKEN) as emu:
        env = {
            **os.environ,
            "SLACK_APP_TOKEN": APP_TOKEN,
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_API_URL": emu.api_url,
            "DEPLOYBOT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        }
        env.pop("SLACK_SIGNING_SECRET", None)
        port = free_port()
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "socket",
            "--config",
            str(ROOT / "deploybot.example.yml"),
            "--port",
            str(port),
            env=env,
            cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        running = Running(ws, emu, process, port)
        try:
            assert process.stdout is not None
            banner = await asyncio.wait_for(process.stdout.readline(), timeout=30)
            assert b"deploybot in Socket Mode" in banner
            await emu.socket_mode.wait_connected(timeout=30)
            yield running
        finally:
            await running.stop()


async def test_socket_mode_process_answers_slash_commands(tmp_path: Path) -> None:
    async with deploybot_socket(tmp_path) as bot:
        [opened] = bot.ws.calls_to("apps.connections.open")  # at SLACK_API_URL, not slack.com
        assert opened.ok

        delivery = await bot.emu.user("alice").command("/deploy help", channel="#deploys")
        assert delivery.ok
        assert delivery.request_headers == {}  # an envelope over the socket, not a POST
        answer = await bot.ws.wait_for_ephemeral("alice", "ships versions to Azure")
        assert answer.channel == bot.ws.channel("deploys").id

        # The health server starts right after the socket connects; retries bridge that gap.
        transport = httpx.AsyncHTTPTransport(retries=3)
        async with httpx.AsyncClient(transport=transport) as http:
            health = await http.get(f"http://127.0.0.1:{bot.port}/healthz")
        assert health.status_code == 200

        stderr = await bot.stop()
        assert bot.process.returncode == 0
        assert "Traceback" not in stderr, stderr


async def test_sigterm_closes_the_socket_and_exits_zero(tmp_path: Path) -> None:
    async with deploybot_socket(tmp_path) as bot:
        stderr = await bot.stop()
        await bot.emu.socket_mode.wait_for(lambda hub: hub.connections == 0)
        assert bot.emu.socket_mode.endings == ["app_closed"], stderr
        assert bot.process.returncode == 0, stderr
