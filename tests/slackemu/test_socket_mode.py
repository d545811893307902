"""Socket Mode: the real Bolt AsyncSocketModeHandler connected to the emulator's WebSocket."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.slackemu import SendOptions, SlackEmulator, UsageError, WaitTimeout, Workspace

BOT_TOKEN = "xoxb-socket-test"
APP_TOKEN = "xapp-1-A0DEPLOYBOT-socket-test"

CARD: list[dict[str, Any]] = [
    {"type": "section", "text": {"type": "mrkdwn", "text": "Deploy v1.2.0 to prod?"}},
    {
        "type": "actions",
        "block_id": "approval",
        "elements": [
            {
                "type": "button",
                "action_id": "approve",
                "text": {"type": "plain_text", "text": "Approve"},
                "value": "dep-1",
            }
        ],
    },
]

REASON_MODAL: dict[str, Any] = {
    "type": "modal",
    "callback_id": "reason",
    "title": {"type": "plain_text", "text": "Reject"},
    "submit": {"type": "plain_text", "text": "Reject"},
    "blocks": [
        {
            "type": "input",
            "block_id": "why",
            "label": {"type": "plain_text", "text": "Why?"},
            "element": {"type": "plain_text_input", "action_id": "text"},
        }
    ],
}


@pytest.fixture
async def emu(ws: Workspace) -> AsyncIterator[SlackEmulator]:
    async with SlackEmulator.start(ws, bot_token=BOT_TOKEN, app_token=APP_TOKEN) as running:
        yield running


@pytest.fixture
def app(emu: SlackEmulator) -> AsyncApp:
    """A real Bolt app; no signing secret, as a Socket Mode app has none to check."""
    bolt = AsyncApp(
        client=AsyncWebClient(token=BOT_TOKEN, base_url=emu.api_url),
        request_verification_enabled=False,
        process_before_response=True,
    )

    @bolt.command("/deploy")
    async def deploy(ack: Any, command: dict[str, Any], respond: Any) -> None:
        if command["text"] == "later":
            await ack()
            await respond(text=f"done later for <@{command['user_id']}>")
        else:
            await ack(f"got: {command['text']}")

    @bolt.action("approve")
    async def approve(ack: Any, body: dict[str, Any], respond: Any) -> None:
        await ack()
        await respond(replace_original=True, text=f"approved by <@{body['user']['id']}>")

    @bolt.view("reason")
    async def reason(ack: Any, view: dict[str, Any]) -> None:
        if len(view["state"]["values"]["why"]["text"]["value"]) < 5:
            await ack(response_action="errors", errors={"why": "Say a bit more"})
        else:
            await ack()

    return bolt


@pytest.fixture
async def connected(emu: SlackEmulator, app: AsyncApp) -> AsyncIterator[AsyncSocketModeHandler]:
    handler = AsyncSocketModeHandler(app, APP_TOKEN)
    await handler.connect_async()  # type: ignore[no-untyped-call]
    try:
        await emu.socket_mode.wait_connected()
        yield handler
    finally:
        await handler.close_async()  # type: ignore[no-untyped-call]


class RawApp:
    """A hand-written Socket Mode client, for what the SDK never does on purpose."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws

    async def receive(self) -> dict[str, Any]:
        message = await self.ws.receive_json()
        assert isinstance(message, dict)
        return message

    async def ack(self, envelope: dict[str, Any], payload: dict[str, Any] | None = None) -> None:
        reply: dict[str, Any] = {"envelope_id": envelope["envelope_id"]}
        if payload is not None:
            reply["payload"] = payload
        await self.ws.send_json(reply)


Connect = Callable[[], Awaitable[RawApp]]


@pytest.fixture
async def raw_connect(emu: SlackEmulator) -> AsyncIterator[Connect]:
    async with aiohttp.ClientSession() as session:

        async def connect() -> RawApp:
            client = AsyncWebClient(token=APP_TOKEN, base_url=emu.api_url)
            opened = await client.apps_connections_open(app_token=APP_TOKEN)
            raw = RawApp(await session.ws_connect(opened["url"]))
            hello = await raw.receive()
            assert hello["type"] == "hello"
            return raw

        yield connect


# -- the real SDK ---------------------------------------------------------------------------
async def test_slash_command_over_the_socket_answered_by_ack(
    emu: SlackEmulator, ws: Workspace, connected: AsyncSocketModeHandler
) -> None:
    assert emu.delivery_mode == "socket"
    delivery = await emu.user("alice").command("/deploy prod v1.2.0", channel="#deploys")
    assert delivery.ok
    assert delivery.json() == {"text": "got: prod v1.2.0"}
    assert delivery.request_headers == {}
    envelope = json.loads(delivery.request_body)
    assert envelope["type"] == "slash_commands"
    assert envelope["accepts_response_payload"] is True
    assert envelope["payload"]["command"] == "/deploy"
    answer = await ws.wait_for_ephemeral("alice", "got: prod v1.2.0")
    assert answer.channel == ws.channel("deploys").id
    [call] = ws.calls_to("apps.connections.open")
    assert call.ok


async def test_slash_command_answered_later_through_respond(
    emu: SlackEmulator, ws: Workspace, connected: AsyncSocketModeHandler
) -> None:
    delivery = await emu.user("alice").command("/deploy later", channel="#deploys")
    assert delivery.ok
    assert delivery.body == ""
    await ws.wait_for_ephemeral("alice", "done later for")


async def test_button_click_over_the_socket(
    emu: SlackEmulator, ws: Workspace, connected: AsyncSocketModeHandler
) -> None:
    card = ws.post_message("#deploys", "Deploy?", blocks=CARD)
    delivery = await emu.user("bob").click(card, "Approve")
    assert delivery.ok
    envelope = json.loads(delivery.request_body)
    assert envelope["type"] == "interactive"
    assert envelope["payload"]["type"] == "block_actions"
    assert envelope["accepts_response_payload"] is False
    edited = await ws.wait_for_message("#deploys", "approved by", kinds=("edit",))
    assert edited.ts == card.ts


async def test_view_submission_over_the_socket(
    emu: SlackEmulator, ws: Workspace, connected: AsyncSocketModeHandler
) -> None:
    bob = emu.user("bob")
    view = ws.views.open("U0BOB", REASON_MODAL)
    short = await bob.submit_view(view, {"text": "no"})
    assert short.view is not None
    assert short.view.errors == {"why": "Say a bit more"}
    done = await bob.submit_view(values={"text": "failing health checks"})
    assert done.ok
    assert done.view is None


async def test_app_reconnects_when_slack_asks_and_keeps_answering(
    emu: SlackEmulator, ws: Workspace, connected: AsyncSocketModeHandler
) -> None:
    assert await emu.socket_mode.disconnect("refresh_requested") == 1
    await emu.socket_mode.wait_connected(opened=2)
    assert len(ws.calls_to("apps.connections.open")) == 2
    delivery = await emu.user("alice").command("/deploy again", channel="#deploys")
    assert delivery.json() == {"text": "got: again"}


# -- apps.connections.open --------------------------------------------------------------------
async def test_connections_open_wants_the_app_level_token(emu: SlackEmulator) -> None:
    for token, error in [("xapp-wrong", "invalid_auth"), (BOT_TOKEN, "not_allowed_token_type")]:
        client = AsyncWebClient(base_url=emu.api_url)
        with pytest.raises(SlackApiError) as caught:
            await client.apps_connections_open(app_token=token)
        assert caught.value.response["error"] == error
    bot_client = AsyncWebClient(token=APP_TOKEN, base_url=emu.api_url)
    with pytest.raises(SlackApiError) as refused:
        await bot_client.chat_postMessage(channel="#deploys", text="hi")
    assert refused.value.response["error"] == "not_allowed_token_type"
    opened = await AsyncWebClient(base_url=emu.api_url).apps_connections_open(app_token=APP_TOKEN)
    assert opened["url"].startswith(emu.ws_url + "socket/")


async def test_socket_urls_are_good_for_one_connection(
    emu: SlackEmulator, raw_connect: Connect
) -> None:
    client = AsyncWebClient(base_url=emu.api_url)
    url = (await client.apps_connections_open(app_token=APP_TOKEN))["url"]
    async with aiohttp.ClientSession() as session:
        first = await session.ws_connect(url)
        assert (await first.receive_json())["type"] == "hello"
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await session.ws_connect(url)
        assert refused.value.status == 403
        with pytest.raises(aiohttp.WSServerHandshakeError):
            await session.ws_connect(emu.ws_url + "socket/ticket-404")
        await first.close()


def test_app_token_must_be_app_level(ws: Workspace) -> None:
    with pytest.raises(UsageError, match="xapp-"):
        SlackEmulator(ws, app_token="xoxb-not-an-app-token")


# -- what Slack does when the app misbehaves -------------------------------------------------
async def test_no_connection_is_a_dispatch_failure(emu: SlackEmulator, ws: Workspace) -> None:
    delivery = await emu.user("alice").command("/deploy prod", channel="#deploys")
    assert delivery.status is None
    assert delivery.error == "no app is connected in Socket Mode"
    await ws.wait_for_ephemeral("alice", 'failed with the error "dispatch_failed"')


async def test_missing_ack_is_an_operation_timeout(
    emu: SlackEmulator, ws: Workspace, raw_connect: Connect
) -> None:
    raw = await raw_connect()
    delivery = await emu.user("alice", ack_timeout=0.2).command("/deploy x", channel="#deploys")
    assert delivery.timed_out
    assert delivery.status is None
    unanswered = await raw.receive()
    assert unanswered == json.loads(delivery.request_body)
    await ws.wait_for_ephemeral("alice", 'failed with the error "operation_timeout"')


async def test_late_duplicate_and_garbled_acks_are_ignored(
    emu: SlackEmulator, ws: Workspace, raw_connect: Connect
) -> None:
    raw = await raw_connect()
    slow = await emu.user("alice", ack_timeout=0.2).command("/deploy x", channel="#deploys")
    assert slow.timed_out
    late = await raw.receive()
    await raw.ack(late, {"text": "too late"})
    await raw.ws.send_str("not json")

    async def answer_next() -> None:
        envelope = await raw.receive()
        await raw.ack(envelope, {"text": "on time"})
        await raw.ack(envelope, {"text": "twice"})

    answering = asyncio.ensure_future(answer_next())
    on_time = await emu.user("alice").command("/deploy y", channel="#deploys")
    await answering
    assert on_time.json() == {"text": "on time"}
    stray = await ws.wait_until(lambda: emu.socket_mode.stray[2:] or None)
    assert [json.loads(s)["payload"]["text"] for s in stray] == ["twice"]
    assert emu.socket_mode.stray[:2] == [
        json.dumps({"envelope_id": late["envelope_id"], "payload": {"text": "too late"}}),
        "not json",
    ]


async def test_connection_closed_before_ack_is_a_dispatch_failure(
    emu: SlackEmulator, ws: Workspace, raw_connect: Connect
) -> None:
    raw = await raw_connect()

    async def hang_up() -> None:
        await raw.receive()
        await raw.ws.close()

    closing = asyncio.ensure_future(hang_up())
    delivery = await emu.user("alice").command("/deploy x", channel="#deploys")
    await closing
    assert delivery.error == "the Socket Mode connection closed before the ack"
    await ws.wait_for_ephemeral("alice", 'failed with the error "dispatch_failed"')


async def test_envelopes_take_turns_across_connections(
    emu: SlackEmulator, raw_connect: Connect
) -> None:
    first, second = await raw_connect(), await raw_connect()
    await emu.socket_mode.wait_connected(opened=2)
    seen: list[str] = []

    async def answer(raw: RawApp, name: str) -> None:
        envelope = await raw.receive()
        seen.append(name)
        await raw.ack(envelope, {"text": name})

    tasks = [
        asyncio.ensure_future(answer(first, "first")),
        asyncio.ensure_future(answer(second, "second")),
    ]
    alice = emu.user("alice")
    one = await alice.command("/deploy a", channel="#deploys")
    two = await alice.command("/deploy b", channel="#deploys")
    await asyncio.gather(*tasks)
    assert {one.json()["text"], two.json()["text"]} == {"first", "second"}


async def test_retries_carry_the_attempt_and_signing_knobs_are_refused(
    emu: SlackEmulator, raw_connect: Connect
) -> None:
    raw = await raw_connect()

    async def answer_one() -> dict[str, Any]:
        envelope = await raw.receive()
        await raw.ack(envelope)
        return envelope

    alice = emu.user("alice")
    answering = asyncio.ensure_future(answer_one())
    first = await alice.command("/deploy x", channel="#deploys")
    await answering
    answering = asyncio.ensure_future(answer_one())
    again = await alice.resend(first, retry_num=1, reason="timeout")
    retried = await answering
    assert again.ok
    assert retried["retry_attempt"] == 1
    assert retried["retry_reason"] == "timeout"
    with pytest.raises(UsageError, match="signing"):
        await alice.command("/deploy x", channel="#deploys", options=SendOptions(unsigned=True))
    with pytest.raises(UsageError, match="Socket Mode"):
        await alice.send_raw("a=b")


async def test_wait_connected_times_out_with_a_clear_error(emu: SlackEmulator) -> None:
    with pytest.raises(WaitTimeout, match="Socket Mode connection #1"):
        await emu.socket_mode.wait_connected(timeout=0.05)


async def test_request_url_wins_over_socket_mode(emu: SlackEmulator) -> None:
    emu.connect_app("http://127.0.0.1:9/slack/events")
    assert emu.delivery_mode == "http"


async def test_closing_the_handler_ends_the_connection_cleanly(
    emu: SlackEmulator, app: AsyncApp
) -> None:
    handler = AsyncSocketModeHandler(app, APP_TOKEN)
    await handler.connect_async()  # type: ignore[no-untyped-call]
    try:
        await emu.socket_mode.wait_connected()
    finally:
        await handler.close_async()  # type: ignore[no-untyped-call]
    await emu.socket_mode.wait_for(lambda hub: hub.connections == 0)
    assert emu.socket_mode.endings == ["app_closed"]


async def test_emulator_shutdown_closes_app_sockets(ws: Workspace) -> None:
    async with aiohttp.ClientSession() as session:
        async with SlackEmulator.start(ws, bot_token=BOT_TOKEN, app_token=APP_TOKEN) as emu:
            client = AsyncWebClient(base_url=emu.api_url)
            url = (await client.apps_connections_open(app_token=APP_TOKEN))["url"]
            raw = await session.ws_connect(url)
            assert (await raw.receive_json())["type"] == "hello"
        goodbye = await raw.receive()
        assert goodbye.type == aiohttp.WSMsgType.CLOSE
        assert goodbye.data == aiohttp.WSCloseCode.GOING_AWAY
        await raw.close()
        assert emu.socket_mode.endings == ["emulator_closed"]
