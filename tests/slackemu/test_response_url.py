"""response_url posts through the real slack_sdk AsyncWebhookClient."""

from __future__ import annotations

import aiohttp
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.slackemu import SlackEmulator, Workspace

BUTTONS = [
    {
        "type": "actions",
        "elements": [
            {"type": "button", "text": {"type": "plain_text", "text": "Ack"}, "action_id": "ack"}
        ],
    }
]


def _command_url(emu: SlackEmulator, user: str = "U0ALICE") -> str:
    return emu.response_url(emu.interactions.new_target("command", user, "C0DEPLOYS"))


async def test_default_is_an_ephemeral_to_the_user(emu: SlackEmulator, ws: Workspace) -> None:
    answer = await AsyncWebhookClient(_command_url(emu)).send(text="only you")
    assert (answer.status_code, answer.body) == (200, "ok")
    [ephemeral] = ws.ephemerals("alice")
    assert (ephemeral.text, ephemeral.channel, ephemeral.source) == (
        "only you",
        "C0DEPLOYS",
        "response_url",
    )
    assert ws.messages("#deploys") == []
    assert ws.response_posts[-1].payload == {"text": "only you"}


async def test_in_channel_posts_a_message_as_the_bot(emu: SlackEmulator, ws: Workspace) -> None:
    await AsyncWebhookClient(_command_url(emu)).send(text="everyone", response_type="in_channel")
    [message] = ws.messages("#deploys")
    assert message.text == "everyone"
    assert message.user == ws.bot_user.id


async def test_replace_and_delete_original_on_a_clicked_message(
    emu: SlackEmulator, ws: Workspace
) -> None:
    card = ws.post_message("#deploys", "approve?", BUTTONS)
    target = emu.interactions.new_target("block_actions", "U0BOB", "C0DEPLOYS", original_ts=card.ts)
    hook = AsyncWebhookClient(emu.response_url(target))
    await hook.send(text="approved by bob", replace_original=True)
    edited = ws.message("#deploys", card.ts)
    assert edited.text == "approved by bob"
    assert edited.blocks == []
    assert [v.text for v in edited.history] == ["approve?"]
    await hook.send(delete_original=True)
    assert ws.messages("#deploys") == []


async def test_replace_original_on_an_ephemeral(emu: SlackEmulator, ws: Workspace) -> None:
    shown = ws.post_ephemeral("#deploys", "alice", "confirm?", BUTTONS)
    target = emu.interactions.new_target(
        "block_actions", "U0ALICE", "C0DEPLOYS", original_ephemeral=shown
    )
    hook = AsyncWebhookClient(emu.response_url(target))
    await hook.send(text="done", replace_original=True)
    [now] = ws.ephemerals("alice")
    assert (now.ts, now.text) == (shown.ts, "done")
    await hook.send(delete_original=True)
    assert ws.ephemerals("alice") == []


async def test_a_command_response_can_replace_its_own_earlier_answer(
    emu: SlackEmulator, ws: Workspace
) -> None:
    hook = AsyncWebhookClient(_command_url(emu))
    await hook.send(text="working…")
    await hook.send(text="done", replace_original=True)
    assert [e.text for e in ws.ephemerals("alice")] == ["done"]


async def test_thread_ts_puts_the_answer_in_a_thread(emu: SlackEmulator, ws: Workspace) -> None:
    parent = ws.post_message("#deploys", "card")
    await AsyncWebhookClient(_command_url(emu)).send_dict(
        {"text": "in thread", "response_type": "in_channel", "thread_ts": parent.ts}
    )
    assert ws.thread("#deploys", parent.ts)[1].text == "in thread"


async def test_five_uses_then_used_url(emu: SlackEmulator) -> None:
    hook = AsyncWebhookClient(_command_url(emu))
    for n in range(5):
        assert (await hook.send(text=f"#{n}")).status_code == 200
    sixth = await hook.send(text="too many")
    assert (sixth.status_code, sixth.body) == (404, "used_url")


async def test_expires_after_thirty_minutes(emu: SlackEmulator, clock: object) -> None:
    url = _command_url(emu)
    clock.advance(31 * 60)  # type: ignore[attr-defined]
    answer = await AsyncWebhookClient(url).send(text="late")
    assert (answer.status_code, answer.body) == (404, "expired_url")


async def test_bad_payloads_are_refused(emu: SlackEmulator, ws: Workspace) -> None:
    hook = AsyncWebhookClient(_command_url(emu))
    assert (await hook.send_dict({"response_type": "ephemeral"})).body == "no_text"
    assert (await hook.send_dict({"text": "x", "blocks": [{"type": "nope"}]})).body == (
        "invalid_blocks"
    )
    unknown = await AsyncWebhookClient(emu.base_url + "response/command/999/zzz").send(text="x")
    assert (unknown.status_code, unknown.body) == (404, "no_service")
    async with (
        aiohttp.ClientSession() as session,
        session.post(_command_url(emu), data=b"not json") as response,
    ):
        assert (response.status, await response.text()) == (400, "invalid_payload")
    assert ws.ephemerals() == []
