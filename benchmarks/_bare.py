"""The baseline: a bare Starlette app served by uvicorn exactly as ``deploybot serve`` serves
the bot (same uvicorn settings), in its own process.

    python benchmarks/_bare.py PORT

``POST /slack/events`` reads the body and answers 200: the cost of the HTTP stack alone.
``POST /slack/answered`` does that and then posts a fixed answer to the form's
``response_url`` through one shared HTTP client: the least any bot must do to answer.
"""

from __future__ import annotations

import asyncio
import sys
from urllib.parse import parse_qs

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

http = httpx.AsyncClient(timeout=10)
tasks: set[asyncio.Task[None]] = set()


async def events(request: Request) -> Response:
    await request.body()
    return Response(status_code=200)


async def answered(request: Request) -> Response:
    form = parse_qs((await request.body()).decode())
    url = form["response_url"][0]

    async def answer() -> None:
        await http.post(url, json={"text": "ok", "response_type": "ephemeral"})

    task = asyncio.create_task(answer())
    tasks.add(task)
    task.add_done_callback(tasks.discard)
    return Response(status_code=200)


async def ready(_: Request) -> Response:
    return Response("ok")


app = Starlette(
    routes=[
        Route("/slack/events", events, methods=["POST"]),
        Route("/slack/answered", answered, methods=["POST"]),
        Route("/readyz", ready),
    ]
)

if __name__ == "__main__":
    port = int(sys.argv[1])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off",
                access_log=False)  # fmt: skip
