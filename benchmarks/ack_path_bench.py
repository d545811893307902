"""The CPU of one acknowledgement, in process: the bot's ``/slack/events`` against a bare
Starlette route, both called as ASGI apps with no HTTP server or client around them.

    python benchmarks/ack_path_bench.py [--requests 2000]

slack_bench's ack target compares ``deploybot serve`` with a bare endpoint under 50 closed-loop
senders, where each sender's next request waits for its ack, so latency is the serving CPU per
request times the senders. This shows the part of that CPU that is the ack alone: the bot's
edge checks (size, signature, envelope), Bolt's dispatch up to ``ack()``, the metrics, and
the Starlette route, for ``/deploy help`` and ``/deploy status`` (the bot as
``bot.local.local_stack`` builds it, as serve does, on the sandbox and the Slack emulator),
then the answers' CPU separately (posted to a response_url served in this process, so its
server's share is in that figure too). The cyclic GC is frozen after start-up, as serve freezes it.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiohttp import web
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.local import SIGNING_SECRET, local_stack
from bot.slackemu import signed_headers
from commands import eventloop

Asgi = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


def command_body(text: str, n: int, response_url: str) -> bytes:
    form = {
        "command": "/deploy", "text": text, "user_id": "U0ALICE", "user_name": "alice",
        "channel_id": "C0DEPLOYS", "team_id": "T0REF", "trigger_id": f"{n}.ack-path",
        "response_url": response_url,
    }  # fmt: skip
    return urlencode(form).encode()


async def post(app: Asgi, body: bytes) -> int:
    """One POST /slack/events through ``app``; its status."""
    headers = signed_headers(SIGNING_SECRET, int(time.time()), body)
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": "/slack/events", "raw_path": b"/slack/events",
        "query_string": b"", "root_path": "", "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 3000),
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]
        + [(b"content-length", str(len(body)).encode())],
    }  # fmt: skip
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    statuses = []

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop()
        await asyncio.Event().wait()  # the client never disconnects
        raise AssertionError

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    await app(scope, receive, send)
    return statuses[0]


async def cpu_per_request(app: Asgi, bodies: list[bytes]) -> tuple[float, float]:
    """CPU ms per ack while ``bodies`` are posted one after another, then per request for what
    the acks left to do (the answers), until the process is idle again."""
    started = time.process_time()
    for body in bodies:
        if await post(app, body) != 200:
            raise SystemExit("a request was not acknowledged with 200")
    acked = time.process_time()
    await asyncio.sleep(2)  # the answers, and the background the bot has anyway
    answered = time.process_time()
    per_request = 1000 / len(bodies)
    return (acked - started) * per_request, (answered - acked) * per_request


async def response_url_server() -> tuple[web.AppRunner, str]:
    async def answered(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/respond/{key}", answered)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return runner, f"http://127.0.0.1:{port}/respond/ack-path"


def bare_app() -> Starlette:
    async def events(request: Request) -> Response:
        await request.body()
        return Response(status_code=200)

    return Starlette(routes=[Route("/slack/events", events, methods=["POST"])])


async def measure(requests: int) -> list[tuple[str, float, float | None]]:
    runner, answer_url = await response_url_server()
    try:
        async with local_stack() as bot:
            warm = [command_body(t, n, answer_url) for n, t in enumerate(["help", "status"] * 50)]
            await cpu_per_request(bot.web, warm)  # first calls: caches, the status board
            gc.collect()
            gc.freeze()
            bare, _ = await cpu_per_request(bare_app(), warm)  # it answers nothing
            found: list[tuple[str, float, float | None]] = [("bare Starlette route", bare, None)]
            for text in ("help", "status"):
                bodies = [command_body(text, n, answer_url) for n in range(requests)]
                found.append((f"/deploy {text}", *await cpu_per_request(bot.web, bodies)))
            return found
    finally:
        await runner.cleanup()


async def run(requests: int) -> int:
    found = await measure(requests)
    print(f"{'request':24} {'ack CPU/request':>16} {'answer CPU/request':>19}")
    for label, ack, answer in found:
        answered = "-" if answer is None else f"{answer:.3f} ms"
        print(f"{label:24} {ack:13.3f} ms {answered:>19}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=2000, help="requests per command kind")
    args = parser.parse_args()
    if args.requests < 1:
        parser.error("--requests must be >= 1")
    return eventloop.run(run(args.requests))


if __name__ == "__main__":
    raise SystemExit(main())
