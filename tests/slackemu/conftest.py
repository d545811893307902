"""Shared fixtures: a running emulator, the real Slack client, and a tiny real Bolt app."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.slackemu import ManualClock, SlackEmulator, Workspace, reference_workspace

BOT_TOKEN = "xoxb-test-token"
SIGNING_SECRET = "test-signing-secret"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(1_700_000_000.0)


@pytest.fixture
def ws(clock: ManualClock) -> Workspace:
    return reference_workspace(clock)


@pytest.fixture
async def emu(ws: Workspace) -> AsyncIterator[SlackEmulator]:
    async with SlackEmulator.start(
        ws, bot_token=BOT_TOKEN, signing_secret=SIGNING_SECRET
    ) as running:
        yield running


@pytest.fixture
def bot_token() -> str:
    return BOT_TOKEN


@pytest.fixture
def client(emu: SlackEmulator) -> AsyncWebClient:
    return AsyncWebClient(token=BOT_TOKEN, base_url=emu.api_url)


BoltServer = Callable[[AsyncApp], Awaitable[str]]


@pytest.fixture
async def serve_bolt(emu: SlackEmulator) -> AsyncIterator[BoltServer]:
    """Serve a Bolt app on a loopback port and point the emulator's users at it."""
    runners: list[web.AppRunner] = []

    async def serve(app: AsyncApp) -> str:
        async def events(request: web.Request) -> web.Response:
            return await to_aiohttp_response(
                await app.async_dispatch(await to_bolt_request(request))
            )

        web_app = web.Application()
        web_app.router.add_post("/slack/events", events)
        runner = web.AppRunner(web_app, access_log=None)
        await runner.setup()
        runners.append(runner)
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        url = f"http://{host}:{port}/slack/events"
        emu.connect_app(url)
        return url

    yield serve
    for runner in runners:
        await runner.cleanup()


@pytest.fixture
def bolt_app(emu: SlackEmulator) -> AsyncApp:
    """A real Bolt app using the real client against the emulator, verifying signatures."""
    return AsyncApp(
        client=AsyncWebClient(token=BOT_TOKEN, base_url=emu.api_url),
        signing_secret=SIGNING_SECRET,
        process_before_response=True,
    )
