"""`deploybot serve` as its own process, next to a bare Starlette process on the same load.

    python benchmarks/serve_bench.py [--senders 50] [--requests 1000]

The sandbox, the Slack-compatible API (a tiny one here, not the emulator) and the load
generator run outside the bot's process. Reported, in one run: start-up to /readyz, idle RSS,
RSS under load, and the ack latency of signed `/deploy help` and `/deploy status` commands
from `senders` concurrent senders, each figure beside the bare endpoint's.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import hmac
import os
import signal
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlencode

import aiohttp
import httpx
from aiohttp import web

REPO = Path(__file__).resolve().parents[1]
SECRET = "bench-signing-secret"
BARE = """
import sys, uvicorn
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

async def events(request):
    await request.body()
    return Response(status_code=200)

async def ready(request):
    return Response("ok")

app = Starlette(routes=[Route("/slack/events", events, methods=["POST"]),
                        Route("/readyz", ready)])
print("bare ready", flush=True)
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False)
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def env_base() -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "SLACK_"))}
    keep["PYTHONPATH"] = str(REPO)
    return keep


@contextlib.asynccontextmanager
async def slack_api() -> AsyncIterator[str]:
    async def api(request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if method == "auth.test":
            return web.json_response({"ok": True, "user_id": "UBOT", "team_id": "T1"})
        return web.json_response({"ok": True, "ts": f"{time.time():.6f}", "channel": "C1"})

    async def respond(_: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/api/{method}", api)
    app.router.add_post("/respond", respond)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@contextlib.asynccontextmanager
async def sandbox(folder: Path) -> AsyncIterator[tuple[dict[str, str], Path]]:
    env_file, config = folder / "sandbox.env", folder / "deploybot.yml"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "sandbox",
        "--env-file",
        str(env_file),
        "--config-out",
        str(config),
        env=env_base(),
        cwd=folder,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert process.stdout is not None
    while b"Sandbox ready" not in await process.stdout.readline():
        pass
    lines = env_file.read_text().splitlines()
    try:
        yield dict(line.split("=", 1) for line in lines if "=" in line), config
    finally:
        process.send_signal(signal.SIGTERM)
        await process.wait()


async def wait_ready(url: str) -> None:
    async with httpx.AsyncClient() as http:
        while True:
            with contextlib.suppress(httpx.TransportError):
                if (await http.get(f"{url}/readyz")).status_code == 200:
                    return
            await asyncio.sleep(0.01)


def signed(body: bytes) -> dict[str, str]:
    stamp = str(int(time.time()))
    digest = hmac.new(SECRET.encode(), f"v0:{stamp}:".encode() + body, hashlib.sha256)
    return {
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": "v0=" + digest.hexdigest(),
        "Content-Type": "application/x-www-form-urlencoded",
    }


async def load(url: str, slack: str, text: str, senders: int, requests: int) -> list[float]:
    """Closed loop: ``senders`` clients, each sending its next request when answered.

    aiohttp and one signature per run keep the generator's own cost per request small
    (a signature stays valid for five minutes), so the figures are the server's."""
    body = urlencode(
        {
            "command": "/deploy",
            "text": text,
            "user_id": "U0ALICE",
            "channel_id": "C1",
            "team_id": "T1",
            "trigger_id": "1.2",
            "response_url": f"{slack}/respond",
        }
    ).encode()
    headers = signed(body)
    samples: list[float] = []
    queue = iter(range(requests))

    async def sender(http: aiohttp.ClientSession) -> None:
        for _ in queue:
            started = time.perf_counter()
            async with http.post(f"{url}/slack/events", data=body, headers=headers) as answer:
                await answer.read()
                samples.append(time.perf_counter() - started)
                assert answer.status == 200, answer.status

    connector = aiohttp.TCPConnector(limit=senders)
    async with aiohttp.ClientSession(connector=connector) as http:
        await asyncio.gather(*(sender(http) for _ in range(senders)))
    return samples


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def main(senders: int, requests: int) -> int:
    with tempfile.TemporaryDirectory(prefix="serve-bench-") as scratch:
        folder = Path(scratch)
        async with sandbox(folder) as (azure, config), slack_api() as slack:
            bot_port, bare_port = free_port(), free_port()
            env = {
                **env_base(),
                **azure,
                "SLACK_BOT_TOKEN": "xoxb-bench",
                "SLACK_SIGNING_SECRET": SECRET,
                "SLACK_API_URL": f"{slack}/api/",
                "DEPLOYBOT_DATABASE_URL": f"sqlite+aiosqlite:///{folder / 'bot.db'}",
            }
            started = time.perf_counter()
            bot = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot",
                "serve",
                "--config",
                str(config),
                "--port",
                str(bot_port),
                env=env,
                cwd=folder,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
            )
            await wait_ready(f"http://127.0.0.1:{bot_port}")
            bot_start = time.perf_counter() - started
            started = time.perf_counter()
            bare = await asyncio.create_subprocess_exec(
                sys.executable,
                "-c",
                BARE,
                str(bare_port),
                env=env_base(),
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
            )
            await wait_ready(f"http://127.0.0.1:{bare_port}")
            bare_start = time.perf_counter() - started
            await asyncio.sleep(1.0)
            idle = (rss_mib(bot.pid), rss_mib(bare.pid))
            rows = [
                ("start-up to ready", f"{bot_start * 1000:.0f} ms", f"{bare_start * 1000:.0f} ms"),
                ("RSS idle", f"{idle[0]:.0f} MiB", f"{idle[1]:.0f} MiB"),
            ]
            bot_url, bare_url = f"http://127.0.0.1:{bot_port}", f"http://127.0.0.1:{bare_port}"
            for text in ("help", "status"):
                ours = await load(bot_url, slack, text, senders, requests)
                base = await load(bare_url, slack, text, senders, requests)
                for label, q in (("p50", 0.5), ("p99", 0.99)):
                    ratio = pct(ours, q) / pct(base, q)
                    rows.append(
                        (
                            f"/deploy {text} ack {label}",
                            f"{pct(ours, q):.1f} ms",
                            f"{pct(base, q):.1f} ms ({ratio:.1f}×)",
                        )
                    )
                rows.append(
                    (
                        f"/deploy {text} ack mean",
                        f"{statistics.mean(ours) * 1000:.1f} ms",
                        f"{statistics.mean(base) * 1000:.1f} ms",
                    )
                )
            rows.append(
                ("RSS after load", f"{rss_mib(bot.pid):.0f} MiB", f"{rss_mib(bare.pid):.0f} MiB")
            )
            for process in (bot, bare):
                process.send_signal(signal.SIGTERM)
                await process.wait()
    print(
        f"deploybot serve vs bare Starlette, {senders} concurrent senders, {requests} requests each"
    )
    print(f"{'measure':<26} {'deploybot serve':>16}   bare Starlette")
    for name, ours_text, base_text in rows:
        print(f"{name:<26} {ours_text:>16}   {base_text}")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--senders", type=int, default=50)
    parser.add_argument("--requests", type=int, default=1000)
    args = parser.parse_args()
    raise SystemExit(asyncio.run(main(args.senders, args.requests)))
