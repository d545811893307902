"""Users acting on a real Bolt app: Bolt's own request verification proves the signatures."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from slack_bolt.async_app import AsyncApp

from bot.slackemu import (
    ButtonNotFound,
    ConfirmationRequired,
    SendOptions,
    SlackEmulator,
    UsageError,
    Workspace,
)

PAYLOADS = Path(__file__).resolve().parents[1] / "fixtures"
BoltServer = Callable[[AsyncApp], Awaitable[str]]

CARD_BLOCKS: list[dict[str, Any]] = [
    {"type": "section", "text": {"type": "mrkdwn", "text": "*Deploy* v1.2.0 to prod?"}},
    {
        "type": "actions",
        "block_id": "approval",
        "elements": [
            {
                "type": "button",
                "action_id": "approve",
                "text": {"type": "plain_text", "text": "Approve"},
                "value": "dep-1",
            },
            {
                "type": "button",
                "action_id": "rollback",
                "text": {"type": "plain_text", "text": "Roll back"},
                "value": "dep-1",
                "style": "danger",
                "confirm": {
                    "title": {"type": "plain_text", "text": "Roll back prod?"},
                    "text": {"type": "plain_text", "text": "Traffic goes back to v1.1.0."},
                    "confirm": {"type": "plain_text", "text": "Roll back"},
                    "deny": {"type": "plain_text", "text": "Cancel"},
                },
            },
        ],
    },
]

REASON_MODAL: dict[str, Any] = {
    "type": "modal",
    "callback_id": "reason",
    "private_metadata": "dep-1",
    "title": {"type": "plain_text", "text": "Reject"},
    "submit": {"type": "plain_text", "text": "Reject"},
    "blocks": [
        {
            "type": "input",
            "block_id": "why",
            "label": {"type": "plain_text", "text": "Why?"},
            "element": {"type": "plain_text_input", "action_id": "text"},
        },
        {
            "type": "input",
            "block_id": "sev",
            "optional": True,
            "label": {"type": "plain_text", "text": "Severity"},
            "element": {
                "type": "static_select",
                "action_id": "level",
                "options": [
                    {"text": {"type": "plain_text", "text": "Low"}, "value": "low"},
                    {"text": {"type": "plain_text", "text": "High"}, "value": "high"},
                ],
            },
        },
    ],
}


@pytest.fixture
async def app(bolt_app: AsyncApp, serve_bolt: BoltServer) -> dict[str, list[Any]]:
    """The Bolt app under test; returns what its listeners received."""
    seen: dict[str, list[Any]] = {"commands": [], "actions": [], "views": [], "retries": []}

    @bolt_app.command("/deploy")
    async def deploy(ack: Any, command: dict[str, Any], respond: Any, request: Any) -> None:
        seen["commands"].append(command)
        seen["retries"].append(request.headers.get("x-slack-retry-num", [None])[0])
        if command["text"] == "loud":
            await ack(response_type="in_channel", text="deploying for everyone")
        elif command["text"] == "later":
            await ack()
            await respond(text="done later")
        else:
            await ack(f"got: {command['text']}")

    @bolt_app.command("/reject")
    async def reject(ack: Any, body: dict[str, Any], client: Any) -> None:
        await ack()
        await client.views_open(trigger_id=body["trigger_id"], view=REASON_MODAL)

    @bolt_app.command("/boom")
    async def boom(ack: Any) -> None:
        raise RuntimeError("listener failure on purpose")

    @bolt_app.action("approve")
    async def approve(ack: Any, body: dict[str, Any], respond: Any) -> None:
        await ack()
        seen["actions"].append(body)
        await respond(replace_original=True, text=f"approved by <@{body['user']['id']}>")

    @bolt_app.action("rollback")
    async def rollback(ack: Any, body: dict[str, Any], respond: Any) -> None:
        await ack()
        seen["actions"].append(body)
        await respond(text="rolling back")

    @bolt_app.view("reason")
    async def reason(ack: Any, view: dict[str, Any]) -> None:
        seen["views"].append(view)
        text = view["state"]["values"]["why"]["text"]["value"]
        if len(text) < 5:
            await ack(response_action="errors", errors={"why": "Say a bit more"})
        else:
            await ack()

    await serve_bolt(bolt_app)
    return seen


async def test_slash_command_fields_match_slacks(
    emu: SlackEmulator, ws: Workspace, app: dict[str, list[Any]]
) -> None:
    delivery = await emu.user("alice").command("/deploy prod v1.2.0", channel="#deploys")
    assert delivery.status == 200
    assert delivery.body == "got: prod v1.2.0"
    [command] = app["commands"]
    sample = json.loads((PAYLOADS / "slack-slash-command.decoded.json").read_text())
    expected = set(sample) - {"enterprise_id", "enterprise_name"} | {"api_app_id"}
    assert expected <= set(command)
    assert command["user_id"] == "U0ALICE"
    assert command["user_name"] == "alice"
    assert command["channel_id"] == "C0DEPLOYS"
    assert command["channel_name"] == "deploys"
    assert command["command"] == "/deploy"
    assert command["text"] == "prod v1.2.0"
    assert command["response_url"] == delivery.response_url
    assert command["response_url"].startswith(emu.base_url + "response/")
    assert delivery.request_headers["X-Slack-Signature"].startswith("v0=")
    # the immediate answer is shown to alice only
    [answer] = ws.ephemerals("alice")
    assert (answer.text, answer.source) == ("got: prod v1.2.0", "command_response")
    assert ws.messages("#deploys") == []
    assert ws.calls[0].method == "auth.test", "Bolt checked the token through the emulator"


async def test_in_channel_ack_and_later_respond(
    emu: SlackEmulator, ws: Workspace, app: dict[str, list[Any]]
) -> None:
    alice = emu.user("alice")
    await alice.command("/deploy", "loud", channel="#deploys")
    assert [m.text for m in ws.messages("#deploys")] == ["deploying for everyone"]
    await alice.command("/deploy", "later", channel="#deploys")
    assert (await ws.wait_for_ephemeral("alice", "done later")).source == "response_url"


async def test_click_sends_block_actions_and_respond_replaces_the_card(
    emu: SlackEmulator, ws: Workspace, app: dict[str, list[Any]]
) -> None:
    card = ws.post_message("#deploys", "approve?", CARD_BLOCKS)
    delivery = await emu.user("bob").click(card, "Approve")
    assert delivery.status == 200
    assert delivery.body == ""
    [body] = app["actions"]
    sample = json.loads((PAYLOADS / "slack-block-actions.json").read_text())
    assert set(sample) <= set(body)
    assert set(sample["container"]) <= set(body["container"])
    assert set(sample["actions"][0]) <= set(body["actions"][0])
    assert body["user"]["id"] == "U0BOB"
    assert body["container"] == {
        "type": "message",
        "message_ts": card.ts,
        "channel_id": "C0DEPLOYS",
        "is_ephemeral": False,
    }
    assert body["message"]["blocks"][1]["elements"][0]["action_id"] == "approve"
    action = body["actions"][0]
    assert (action["action_id"], action["block_id"], action["value"]) == (
        "approve",
        "approval",
        "dep-1",
    )
    edited = await ws.wait_for_message("#deploys", "approved by", kinds=("edit",))
    assert edited.ts == card.ts
    assert edited.text == "approved by <@U0BOB>"


async def test_buttons_by_number_and_action_id_and_errors(
    emu: SlackEmulator, ws: Workspace, app: dict[str, list[Any]]
) -> None:
    card = ws.post_message("#deploys", "approve?", CARD_BLOCKS)
    carol = emu.user("carol")
    with pytest.raises(ButtonNotFound, match=r"\[1\] Approve \(approve\)  \[2\] Roll back"):
        await carol.click(card, "Merge")
    with pytest.raises(ButtonNotFound, match=r"no button \[3\]"):
        await carol.click(card, 3)
    await carol.click(card, 1)
    assert app["actions"][0]["actions"][0]["action_id"] == "approve"
    with pytest.raises(ButtonNotFound, match="the message has no buttons"):
        await carol.click(card, "Approve")  # the answer replaced the card


async def test_confirm_dialog_must_be_confirmed(
    emu: SlackEmulator, ws: Workspace, app: dict[str, list[Any]]
) -> None:
    card = ws.post_message("#deploys", "deployed", CARD_BLOCKS)
    alice = emu.user("alice")
    with pytest.raises(ConfirmationRequired) as exc:
        await alice.click(card, "Roll back")
    assert exc.value.title == "Roll back prod?"
    assert app["actions"] == [], "nothing was sent without confirming"
    delivery = await alice.click(card, "rollback", confirm=True)
    assert delivery.ok
    assert (await ws.wait_for_ephemeral("alice", "rolling back")).channel == "C0DEPLOYS"


async def test_stale_click_on_an_old_snapshot(
    emu: SlackEmulator, ws: Workspace, app: dict[str, list[Any]]
) -> None:
    card = ws.post_message("#deploys", "approve?", CARD_BLOCKS)
    bob, carol = emu.user("bob"), emu.user("carol")
    await bob.click(card, "Approve")
    delivery = await carol.click(card, "Approve", stale_ok=True)
    assert delivery.ok
    assert [b["user"]["id"] for b in app["actions"]] == ["U0BOB", "U0CAROL"]


async def test_click_on_an_ephemeral_leaves_the_message_out(
    emu: SlackEmulator, ws: Workspace, app: dict[str, list[Any]]
) -> None:
    shown = ws.post_ephemeral("#deploys", "bob", "approve?", CARD_BLOCKS)
    with pytest.raises(UsageError, match="cannot see"):
        await emu.user("carol").click(shown, "Approve")
    await emu.user("bob").click_latest("#deploys", "Approve")
    [body] = app["actions"]
    assert body["container"]["is_ephemeral"] is True
    assert "message" not in body
    replaced = await ws.wait_for_ephemeral("bob", "approved by")
    assert replaced.ts == shown.ts


async def test_modal_open_and_submit_with_errors_then_success(
    emu: SlackEmulator, ws: Workspace, app: dict[str, list[Any]]
) -> None:
    bob = emu.user("bob")
    await bob.command("/reject", "prod", channel="#deploys")
    view = ws.views.top("U0BOB")
    assert view is not None
    assert view.callback_id == "reason"
    with pytest.raises(UsageError, match="required"):
        await bob.submit_view(view, {"level": "high"})
    with pytest.raises(UsageError, match="no option"):
        await bob.submit_view(view, {"text": "because", "level": "extreme"})
    short = await bob.submit_view(view, {"text": "no", "level": "high"})
    assert short.view is not None
    assert short.view.errors == {"why": "Say a bit more"}
    done = await bob.submit_view(values={"why": "failing health checks"})
    assert done.view is None
    assert ws.views.top("U0BOB") is None
    submitted = app["views"][-1]
    assert submitted["private_metadata"] == "dep-1"
    assert submitted["state"]["values"]["sev"]["level"]["selected_option"] is None
    first = app["views"][0]["state"]["values"]
    assert first["sev"]["level"]["selected_option"]["value"] == "high"


async def test_retries_reach_the_app_with_retry_headers(
    emu: SlackEmulator, app: dict[str, list[Any]]
) -> None:
    alice = emu.user("alice")
    first = await alice.command("/deploy", "x", channel="#deploys")
    again = await alice.resend(first, retry_num=1, reason="http_timeout")
    assert again.ok
    assert again.request_body == first.request_body
    assert again.request_headers["X-Slack-Retry-Num"] == "1"
    assert app["retries"] == [None, "1"]


@pytest.mark.parametrize(
    "options",
    [
        SendOptions(bad_signature=True),
        SendOptions(unsigned=True),
        SendOptions(timestamp=int(time.time()) - 6 * 60),
    ],
    ids=["bad-signature", "unsigned", "stale-timestamp"],
)
async def test_forged_or_stale_requests_are_refused_by_bolt(
    emu: SlackEmulator, ws: Workspace, app: dict[str, list[Any]], options: SendOptions
) -> None:
    delivery = await emu.user("alice").command("/deploy", "x", channel="#deploys", options=options)
    assert delivery.status == 401
    assert app["commands"] == []
    [error] = ws.ephemerals("alice")
    assert error.text == '/deploy failed with the error "dispatch_failed"'


async def test_a_failing_app_shows_slacks_error(
    emu: SlackEmulator, ws: Workspace, app: dict[str, list[Any]]
) -> None:
    delivery = await emu.user("alice").command("/boom", channel="#deploys")
    assert delivery.status == 500
    assert ws.ephemerals("alice")[0].text == '/boom failed with the error "dispatch_failed"'


async def test_a_slow_app_times_out_like_slack(
    emu: SlackEmulator, ws: Workspace, bolt_app: AsyncApp, serve_bolt: BoltServer
) -> None:
    release = asyncio.Event()

    @bolt_app.command("/slow")
    async def slow(ack: Any) -> None:
        await release.wait()
        await ack()

    await serve_bolt(bolt_app)
    try:
        delivery = await emu.user("alice", ack_timeout=0.2).command("/slow", channel="#deploys")
    finally:
        release.set()
    assert delivery.timed_out
    assert delivery.status is None
    assert ws.ephemerals("alice")[0].text == '/slow failed with the error "operation_timeout"'


async def test_unreachable_app_and_missing_request_url(emu: SlackEmulator) -> None:
    with pytest.raises(UsageError, match="connect_app"):
        await emu.user("alice").command("/deploy", channel="#deploys")
    emu.connect_app("http://127.0.0.1:9/slack/events")
    delivery = await emu.user("alice").command("/deploy", channel="#deploys")
    assert delivery.status is None
    assert delivery.error


async def test_command_text_must_be_a_slash_command(emu: SlackEmulator) -> None:
    with pytest.raises(UsageError, match="not a slash command"):
        await emu.user("alice").command("deploy prod", channel="#deploys")


async def test_clicks_and_submissions_that_cannot_happen(
    emu: SlackEmulator, ws: Workspace, app: dict[str, list[Any]]
) -> None:
    card = ws.post_message("#deploys", "approve?", CARD_BLOCKS)
    ws.delete_message("#deploys", card.ts)
    bob = emu.user("bob")
    with pytest.raises(UsageError, match="is gone"):
        await bob.click(card, "Approve")
    with pytest.raises(UsageError, match="no modal open"):
        await bob.submit_view()
    with pytest.raises(UsageError, match="no view"):
        await bob.submit_view("V404")
    with pytest.raises(ButtonNotFound, match="no message in #deploys"):
        await bob.click_latest("#deploys", "Approve")
    assert app["actions"] == []
