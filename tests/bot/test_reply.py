"""Where an action's answer goes: response_url, else an ephemeral, else a direct message."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator
from typing import Any, cast

import pytest
from aiohttp import web
from slack_bolt.async_app import AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.listeners.reply import ResponseUrls, reply

ANSWER = {"text": "done", "response_type": "ephemeral"}


class FakeRespond:
    def __init__(self, response_url: str | None) -> None:
        self.response_url = response_url
        self.sent: list[dict[str, Any]] = []

    async def __call__(self, **kwargs: Any) -> None:
        self.sent.append(kwargs)


class FakeClient:
    def __init__(self, *, refuse_ephemeral: bool = False) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self._refuse = refuse_ephemeral

    async def chat_postEphemeral(self, **kwargs: Any) -> None:
        self.calls.append(("chat.postEphemeral", kwargs))
        if self._refuse:
            raise SlackApiError("refused", {"ok": False, "error": "user_not_in_channel"})

    async def chat_postMessage(self, **kwargs: Any) -> None:
        self.calls.append(("chat.postMessage", kwargs))


async def send(
    body: dict[str, Any], respond: FakeRespond, client: FakeClient, responses: ResponseUrls
) -> None:
    await reply(body, cast(AsyncRespond, respond), cast(AsyncWebClient, client), ANSWER, responses)


@pytest.fixture
async def responses() -> AsyncIterator[ResponseUrls]:
    shared = ResponseUrls(timeout_s=5)
    yield shared
    await shared.close()


async def test_a_response_url_is_used_when_there_is_one(responses: ResponseUrls) -> None:
    """Posted, over HTTP, to the URL itself (a real server here), never through the client."""
    received: list[dict[str, Any]] = []

    async def hook(request: web.Request) -> web.Response:
        received.append(json.loads(await request.read()))
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/1", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    await web.SockSite(runner, sock).start()
    try:
        port = sock.getsockname()[1]
        respond, client = FakeRespond(f"http://127.0.0.1:{port}/1"), FakeClient()
        for _ in range(2):  # one shared session answers both
            await send({"user": {"id": "U1"}, "channel": {"id": "C1"}}, respond, client, responses)
    finally:
        await runner.cleanup()
    assert received == [{**ANSWER, "replace_original": False}] * 2
    assert respond.sent == [] and client.calls == []


async def test_without_one_the_answer_is_an_ephemeral_in_the_channel(
    responses: ResponseUrls,
) -> None:
    respond, client = FakeRespond(None), FakeClient()
    body = {"user": {"id": "U1"}, "container": {"channel_id": "C1"}}
    await send(body, respond, client, responses)
    assert client.calls == [
        ("chat.postEphemeral", {"channel": "C1", "user": "U1", "text": "done", "blocks": None})
    ]


async def test_without_a_channel_or_when_the_ephemeral_is_refused_it_is_a_dm(
    responses: ResponseUrls,
) -> None:
    for body, refuse in (
        ({"user": {"id": "U1"}}, False),
        ({"user": {"id": "U1"}, "channel": {"id": "C1"}}, True),
    ):
        respond, client = FakeRespond(None), FakeClient(refuse_ephemeral=refuse)
        await send(body, respond, client, responses)
        assert client.calls[-1] == (
            "chat.postMessage",
            {"channel": "U1", "text": "done", "blocks": None},
        )
