"""Button clicks whose payload has no response_url: the action happens and the clicker hears.

Bolt's ``respond`` cannot answer such a click; the answer goes as an ephemeral in the click's
channel, or as a direct message when the payload names no channel either.
"""

from __future__ import annotations

import json
from urllib.parse import urlencode

from bot.local import LocalStack
from bot.slackemu.blockkit import find_button
from bot.slackemu.model import Ephemeral, Message
from bot.slackemu.payloads import block_actions_payload

from .conftest import latest


def click_body(
    stack: LocalStack, user: str, message: Message | Ephemeral, label: str, *, drop: set[str]
) -> str:
    """A signed-ready block_actions body as Slack sends it, less the keys in ``drop``."""
    ws, emu = stack.ws, stack.emu
    payload = block_actions_payload(
        ws,
        user=ws.user(user),
        message=message,
        button=find_button(message.blocks, label),
        response_url="unused",
        trigger_id=emu.interactions.issue_trigger(user, message.channel),
        token=emu.verification_token,
    )
    for key in drop:
        payload.pop(key)
    return urlencode({"payload": json.dumps(payload)})


async def test_a_rollback_confirm_without_response_url_rolls_back_and_answers_ephemerally(
    stack: LocalStack,
) -> None:
    ws, emu, sb = stack.ws, stack.emu, stack.sandbox
    alice = emu.user("U0ALICE")
    await alice.command("/rollback", "dev v1.0.5", channel="#deploys")
    prompt = await ws.wait_for_ephemeral("U0ALICE", "Roll *dev* back")
    body = click_body(stack, "U0ALICE", prompt, "Roll back to v1.0.5", drop={"response_url"})

    delivery = await alice.send_raw(body)
    assert delivery.status == 200
    answer = await ws.wait_for_ephemeral("U0ALICE", "is deployment")
    assert answer.channel == ws.channel("#deploys").id
    assert answer.source == "api"  # chat.postEphemeral, not a response_url
    await stack.services.idle()
    d = await latest(stack, "dev")
    assert (d.kind, d.state) == ("rollback", "succeeded"), d.steps
    assert sb.version("virtualqueue-dev") == "v1.0.5"
    assert stack.services.tasks.failures == 0


async def test_a_card_click_without_response_url_or_channel_is_answered_by_dm(
    stack: LocalStack,
) -> None:
    ws, emu = stack.ws, stack.emu
    await emu.user("U0ALICE").command("/deploy", "prod v1.2.0", channel="#deploys")
    card = await ws.wait_for_message("#deploys", "Waiting for approval")
    body = click_body(
        stack, "U0BOB", card, "Approve", drop={"response_url", "channel", "container"}
    )

    assert (await emu.user("U0BOB").send_raw(body)).status == 200
    await stack.services.idle()  # the answer is sent; the deploy still waits for CAROL
    [dm] = ws.messages(ws.directory.im_with("U0BOB").id)
    assert "approv" in dm.text.lower(), dm.text
    assert not ws.ephemerals(user="U0BOB")
    approvals = await stack.services.store.audit.query(actions=["approval.granted"])
    assert [a.actor for a in approvals] == ["U0BOB"]
    assert stack.services.tasks.failures == 0
