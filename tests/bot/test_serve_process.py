"""`deploybot serve` started as a user would, against a Slack-compatible API (not our emulator)."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

import httpx
from aiohttp import web

from bot.slackemu import signed_headers
from tests.ports import free_port

ROOT = Path(__file__).resolve().parents[2]


async def test_serve_works_against_any_slack_compatible_api(tmp_path: Path) -> None:
    seen: list[tuple[str, object]] = []
    answered = asyncio.Event()

    async def api(request: web.Request) -> web.Response:
        seen.append((request.match_info["method"], dict(await request.post())))
        return web.json_response({"ok": True, "user_id": "UBOT", "team_id": "T1", "bot_id": "B1"})

    async def response_url(request: web.Request) -> web.Response:
        seen.append(("response_url", await request.json()))
        answered.set()
        return web.Response(text="ok")

    fake = web.Application()
    fake.router.add_post("/api/{method}", api)
    fake.router.add_post("/respond", response_url)
    runner = web.AppRunner(fake)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    fake_url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]

    port = free_port()
    env = {
        **os.environ,
        "SLACK_SIGNING_SECRET": "s3cret",
        "SLACK_BOT_TOKEN": "xoxb-any",
        "SLACK_API_URL": f"{fake_url}/api/",
        "DEPLOYBOT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "serve",
        "--config",
        str(ROOT / "deploybot.example.yml"),
        "--port",
        str(port),
        env=env,
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        banner = await asyncio.wait_for(process.stdout.readline(), timeout=30)
        assert b"/slack/events" in banner
        body = urlencode(
            {
                "command": "/deploy",
                "text": "help",
                "user_id": "U0ALICE",
                "user_name": "alice",
                "channel_id": "C1",
                "team_id": "T1",
                "trigger_id": "1.2.3",
                "response_url": f"{fake_url}/respond",
            }
        ).encode()
        headers = signed_headers("s3cret", str(int(time.time())), body)
        async with httpx.AsyncClient() as http:
            reply = await http.post(
                f"http://127.0.0.1:{port}/slack/events", content=body, headers=headers
            )
            assert reply.status_code == 200
            await asyncio.wait_for(answered.wait(), timeout=10)
            assert (await http.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200
    finally:
        process.terminate()
        await process.wait()
        await runner.cleanup()
    methods = [name for name, _ in seen]
    assert "auth.test" in methods
    response = dict(seen)["response_url"]
    assert isinstance(response, dict) and "ships versions to Azure" in response["text"]


async def test_serve_on_a_port_in_use_says_so_before_building_anything(tmp_path: Path) -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    env = {
        **os.environ,
        "SLACK_SIGNING_SECRET": "s3cret",
        "SLACK_BOT_TOKEN": "xoxb-any",
        "SLACK_API_URL": "http://127.0.0.1:9/api/",  # never reached
        "DEPLOYBOT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
    }
    try:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "serve", "--config", str(ROOT / "deploybot.example.yml"),
            "--port", str(port), env=env, cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    finally:
        taken.close()
    assert process.returncode == 1
    assert f"deploybot: cannot listen on 127.0.0.1:{port}: Address already in use" in err.decode()
    assert b"serving Slack requests" not in out
    assert not (tmp_path / "bot.db").exists()  # nothing was built
