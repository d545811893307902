"""Every emulated Web API method through the real slack_sdk AsyncWebClient."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from bot.slackemu import SlackEmulator, UsageError, Workspace

BLOCKS: list[dict[str, Any]] = [
    {"type": "header", "text": {"type": "plain_text", "text": "Deploy v1.2.0"}},
    {
        "type": "actions",
        "block_id": "approval",
        "elements": [
            {
                "type": "button",
                "action_id": "approve",
                "text": {"type": "plain_text", "text": "Approve"},
                "value": "dep-1",
                "style": "primary",
            }
        ],
    },
]


async def test_api_url_is_what_the_sdk_expects(emu: SlackEmulator) -> None:
    assert emu.api_url.startswith("http://127.0.0.1:")
    assert emu.api_url.endswith("/api/")


async def test_auth_test(client: AsyncWebClient, ws: Workspace) -> None:
    answer = await client.auth_test()
    assert answer["user_id"] == ws.bot_user.id
    assert answer["bot_id"] == "B0DEPLOYBOT"
    assert answer["team_id"] == ws.team_id


async def test_post_message_by_id_hash_name_and_bare_name(
    client: AsyncWebClient, ws: Workspace
) -> None:
    for ref in ("C0DEPLOYS", "#deploys", "deploys"):
        answer = await client.chat_postMessage(channel=ref, text=f"hello {ref}")
        assert answer["channel"] == "C0DEPLOYS"
        assert answer["message"]["text"] == f"hello {ref}"
        assert answer["message"]["bot_id"] == "B0DEPLOYBOT"
    assert [m.text for m in ws.messages("#deploys")] == [
        "hello C0DEPLOYS",
        "hello #deploys",
        "hello deploys",
    ]
    ts = [m.ts for m in ws.messages("#deploys")]
    assert ts == sorted(ts)
    assert len(set(ts)) == 3


async def test_post_message_with_blocks_and_thread(client: AsyncWebClient, ws: Workspace) -> None:
    card = await client.chat_postMessage(channel="#deploys", text="card", blocks=BLOCKS)
    assert card["message"]["blocks"][1]["elements"][0]["action_id"] == "approve"
    reply = await client.chat_postMessage(channel="#deploys", text="step", thread_ts=card["ts"])
    assert reply["message"]["thread_ts"] == card["ts"]
    replies = await client.conversations_replies(channel="C0DEPLOYS", ts=card["ts"])
    assert [m["text"] for m in replies["messages"]] == ["card", "step"]
    assert replies["messages"][0]["reply_count"] == 1
    assert ws.thread("#deploys", card["ts"])[1].text == "step"


async def test_post_message_to_a_user_goes_to_their_dm(client: AsyncWebClient) -> None:
    answer = await client.chat_postMessage(channel="U0ALICE", text="hi")
    assert answer["channel"] == "D0ALICE"


async def test_update_keeps_ts_and_records_the_edit(client: AsyncWebClient, ws: Workspace) -> None:
    card = await client.chat_postMessage(channel="#deploys", text="pending", blocks=BLOCKS)
    answer = await client.chat_update(
        channel=card["channel"], ts=card["ts"], text="approved", blocks=[]
    )
    assert answer["ts"] == card["ts"]
    assert answer["text"] == "approved"
    assert answer["message"]["edited"]["user"] == ws.bot_user.id
    stored = ws.message("#deploys", card["ts"])
    assert stored.blocks == []
    assert [v.text for v in stored.history] == ["pending"]


async def test_update_without_blocks_keeps_the_blocks(
    client: AsyncWebClient, ws: Workspace
) -> None:
    card = await client.chat_postMessage(channel="#deploys", text="pending", blocks=BLOCKS)
    await client.chat_update(channel="C0DEPLOYS", ts=card["ts"], text="still pending")
    assert len(ws.message("#deploys", card["ts"]).blocks) == 2


async def test_ephemeral_and_permalink_and_delete(client: AsyncWebClient, ws: Workspace) -> None:
    answer = await client.chat_postEphemeral(channel="#deploys", user="U0ALICE", text="psst")
    assert answer["message_ts"] == ws.ephemerals("alice")[0].ts
    card = await client.chat_postMessage(channel="#deploys", text="card")
    link = await client.chat_getPermalink(channel="C0DEPLOYS", message_ts=card["ts"])
    assert link["permalink"] == (
        f"https://deploybot-demo.slack.com/archives/C0DEPLOYS/p{card['ts'].replace('.', '')}"
    )
    await client.chat_delete(channel="C0DEPLOYS", ts=card["ts"])
    assert ws.messages("#deploys") == []


async def test_users_and_usergroups(client: AsyncWebClient) -> None:
    info = await client.users_info(user="U0BOB")
    assert info["user"]["name"] == "bob"
    assert info["user"]["real_name"] == "Bob Baker"
    members = await client.users_list()
    assert {m["name"] for m in members["members"]} >= {"alice", "bob", "carol", "dave", "deploybot"}
    leads = await client.usergroups_users_list(usergroup="S0LEADS")
    assert leads["users"] == ["U0BOB", "U0CAROL"]
    groups = await client.usergroups_list(include_users=True)
    assert {g["handle"]: g["users"] for g in groups["usergroups"]}["leads"] == ["U0BOB", "U0CAROL"]


async def test_users_list_paginates_with_cursors(client: AsyncWebClient) -> None:
    names: list[str] = []
    async for page in await client.users_list(limit=2):
        names += [m["name"] for m in page["members"]]
    assert len(names) == 5
    assert len(set(names)) == 5


async def test_conversations_info_list_and_history(client: AsyncWebClient) -> None:
    info = await client.conversations_info(channel="C0INCIDENTS")
    assert info["channel"]["name"] == "incidents"
    listed = await client.conversations_list()
    assert [c["id"] for c in listed["channels"]] == ["C0DEPLOYS", "C0STAGING", "C0INCIDENTS"]
    for text in ("one", "two", "three"):
        await client.chat_postMessage(channel="#deploys", text=text)
    history = await client.conversations_history(channel="C0DEPLOYS", limit=2)
    assert [m["text"] for m in history["messages"]] == ["three", "two"]
    assert history["has_more"] is True
    rest = await client.conversations_history(
        channel="C0DEPLOYS", cursor=history["response_metadata"]["next_cursor"]
    )
    assert [m["text"] for m in rest["messages"]] == ["one"]


async def test_views_open_update_and_push(
    client: AsyncWebClient, emu: SlackEmulator, ws: Workspace
) -> None:
    modal = {
        "type": "modal",
        "callback_id": "reason",
        "title": {"type": "plain_text", "text": "Reason"},
        "blocks": [
            {
                "type": "input",
                "block_id": "why",
                "label": {"type": "plain_text", "text": "Why?"},
                "element": {"type": "plain_text_input", "action_id": "text"},
            }
        ],
    }
    trigger = emu.interactions.issue_trigger("U0ALICE", "C0DEPLOYS")
    opened = await client.views_open(trigger_id=trigger, view=modal)
    view_id = opened["view"]["id"]
    assert opened["view"]["callback_id"] == "reason"
    assert ws.views.top("U0ALICE") is not None
    updated = await client.views_update(
        view_id=view_id, hash=opened["view"]["hash"], view={**modal, "callback_id": "reason2"}
    )
    assert updated["view"]["callback_id"] == "reason2"
    with pytest.raises(SlackApiError) as exc:
        await client.views_update(view_id=view_id, hash=opened["view"]["hash"], view=modal)
    assert exc.value.response["error"] == "hash_conflict"
    pushed = await client.views_push(
        trigger_id=emu.interactions.issue_trigger("U0ALICE", None), view=modal
    )
    assert pushed["view"]["previous_view_id"] == view_id
    assert pushed["view"]["root_view_id"] == view_id


async def test_trigger_ids_are_single_use_and_expire(
    client: AsyncWebClient, emu: SlackEmulator, clock: Any
) -> None:
    modal = {"type": "modal", "title": {"type": "plain_text", "text": "M"}, "blocks": []}
    trigger = emu.interactions.issue_trigger("U0ALICE", None)
    await client.views_open(trigger_id=trigger, view=modal)
    with pytest.raises(SlackApiError, match="exchanged_trigger_id"):
        await client.views_open(trigger_id=trigger, view=modal)
    late = emu.interactions.issue_trigger("U0ALICE", None)
    clock.advance(3.5)
    with pytest.raises(SlackApiError, match="expired_trigger_id"):
        await client.views_open(trigger_id=late, view=modal)
    with pytest.raises(SlackApiError, match="invalid_trigger_id"):
        await client.views_open(trigger_id="1.2.3", view=modal)


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda c: c.chat_postMessage(channel="#nope", text="x"), "channel_not_found"),
        (  # through api_call: the SDK's own helper warns before sending an empty text
            lambda c: c.api_call("chat.postMessage", json={"channel": "#deploys", "text": ""}),
            "no_text",
        ),
        (lambda c: c.chat_postMessage(channel="#deploys", text="x" * 40_001), "msg_too_long"),
        (
            lambda c: c.chat_postMessage(channel="#deploys", text="x", blocks=[{"type": "bogus"}]),
            "invalid_blocks",
        ),
        (
            lambda c: c.chat_postMessage(
                channel="#deploys",
                text="x",
                blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": ""}}],
            ),
            "invalid_blocks",
        ),
        (lambda c: c.chat_update(channel="#deploys", ts="1.000001", text="x"), "message_not_found"),
        (
            lambda c: c.chat_postEphemeral(channel="#deploys", user="U0NOBODY", text="x"),
            "user_not_found",
        ),
        (lambda c: c.users_info(user="U0NOBODY"), "user_not_found"),
        (lambda c: c.usergroups_users_list(usergroup="S0NOPE"), "no_such_subteam"),
        (lambda c: c.conversations_info(channel="C0NOPE"), "channel_not_found"),
        (lambda c: c.conversations_replies(channel="C0DEPLOYS", ts="1.1"), "thread_not_found"),
        (lambda c: c.chat_getPermalink(channel="C0DEPLOYS", message_ts="1.1"), "message_not_found"),
        (lambda c: c.views_open(trigger_id="x", view={"type": "nope"}), "invalid_arguments"),
        (lambda c: c.users_list(cursor="not-a-cursor"), "invalid_cursor"),
        (lambda c: c.api_call("no.such.method"), "unknown_method"),
    ],
)
async def test_documented_errors_raise_slack_api_error(
    client: AsyncWebClient, ws: Workspace, call: Any, error: str
) -> None:
    with pytest.raises(SlackApiError) as exc:
        await call(client)
    assert exc.value.response["ok"] is False
    assert exc.value.response["error"] == error
    assert exc.value.response.status_code == 200
    assert ws.calls[-1].error == error


async def test_invalid_blocks_explain_what_is_wrong(client: AsyncWebClient) -> None:
    bad = [{"type": "header", "text": {"type": "mrkdwn", "text": "not plain"}}]
    with pytest.raises(SlackApiError) as exc:
        await client.chat_postMessage(channel="#deploys", text="x", blocks=bad)
    assert exc.value.response["errors"] == ["must be plain_text [json-pointer:/blocks/0/text/type]"]


async def test_missing_required_argument_is_invalid_arguments(client: AsyncWebClient) -> None:
    with pytest.raises(SlackApiError) as exc:
        await client.api_call("chat.update", json={"channel": "C0DEPLOYS"})
    assert exc.value.response["error"] == "message_not_found"
    with pytest.raises(SlackApiError) as exc:
        await client.api_call("views.update", json={"view_id": "V1"})
    assert exc.value.response["error"] == "invalid_arguments"


async def test_cant_update_a_message_the_bot_did_not_post(
    client: AsyncWebClient, ws: Workspace
) -> None:
    theirs = ws.post_message("#deploys", "alice says hi", user="alice")
    with pytest.raises(SlackApiError, match="cant_update_message"):
        await client.chat_update(channel="C0DEPLOYS", ts=theirs.ts, text="edited")
    with pytest.raises(SlackApiError, match="cant_delete_message"):
        await client.chat_delete(channel="C0DEPLOYS", ts=theirs.ts)


async def test_bad_or_missing_token(emu: SlackEmulator) -> None:
    with pytest.raises(SlackApiError) as exc:
        await AsyncWebClient(token="xoxb-wrong", base_url=emu.api_url).auth_test()
    assert exc.value.response["error"] == "invalid_auth"
    with pytest.raises(SlackApiError) as exc:
        await AsyncWebClient(base_url=emu.api_url).auth_test()
    assert exc.value.response["error"] == "not_authed"


async def test_form_encoded_body_with_token_param(
    emu: SlackEmulator, ws: Workspace, bot_token: str
) -> None:
    blocks = json.dumps(BLOCKS)
    form = {"token": bot_token, "channel": "#deploys", "text": "via form", "blocks": blocks}
    async with aiohttp.ClientSession() as session:
        async with session.post(emu.api_url + "chat.postMessage", data=form) as response:
            answer = await response.json()
        assert answer["ok"] is True
        # Slack ignores a token inside a JSON body: it must come in the header.
        body = {"token": bot_token, "channel": "#deploys", "text": "json"}
        async with session.post(emu.api_url + "chat.postMessage", json=body) as response:
            assert (await response.json())["error"] == "not_authed"
        async with session.post(
            emu.api_url + "chat.postMessage",
            data=b"{not json",
            headers={"Authorization": f"Bearer {bot_token}", "Content-Type": "application/json"},
        ) as response:
            assert (await response.json())["error"] == "invalid_json"
    assert ws.messages("#deploys")[0].blocks[1]["block_id"] == "approval"
    assert "token" not in ws.calls[0].params


async def test_fail_next_injects_an_error_once(client: AsyncWebClient, emu: SlackEmulator) -> None:
    emu.fail_next("chat.postMessage", error="internal_error")
    with pytest.raises(SlackApiError, match="internal_error"):
        await client.chat_postMessage(channel="#deploys", text="x")
    assert (await client.chat_postMessage(channel="#deploys", text="x"))["ok"]


async def test_fault_injection_refuses_unknown_methods(emu: SlackEmulator) -> None:
    with pytest.raises(UsageError, match="not a method"):
        emu.rate_limit("chat.postMesage")
    with pytest.raises(UsageError, match="at least 1"):
        emu.fail_next("*", times=0)


async def test_429_without_a_retry_handler_surfaces_with_retry_after(
    emu: SlackEmulator, ws: Workspace, bot_token: str
) -> None:
    client = AsyncWebClient(token=bot_token, base_url=emu.api_url, retry_handlers=[])
    emu.rate_limit("chat.update", times=1, retry_after=7)
    with pytest.raises(SlackApiError) as exc:
        await client.chat_update(channel="C0DEPLOYS", ts="1.1", text="x")
    assert exc.value.response.status_code == 429
    assert exc.value.response.headers["Retry-After"] in ("7", ["7"])
    assert exc.value.response["error"] == "ratelimited"
    assert ws.calls[-1].status == 429


async def test_429_is_retried_by_the_sdks_rate_limit_handler(
    emu: SlackEmulator, ws: Workspace, bot_token: str
) -> None:
    client = AsyncWebClient(
        token=bot_token,
        base_url=emu.api_url,
        retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=1)],
    )
    emu.rate_limit("chat.postMessage", times=1, retry_after=1)
    answer = await client.chat_postMessage(channel="#deploys", text="after the wait")
    assert answer["ok"]
    assert [(c.method, c.status) for c in ws.calls] == [
        ("chat.postMessage", 429),
        ("chat.postMessage", 200),
    ]
    assert [m.text for m in ws.messages("#deploys")] == ["after the wait"]


async def test_archived_and_not_joined_channels(client: AsyncWebClient, ws: Workspace) -> None:
    ws.add_channel("C0OLD", "old-deploys", is_archived=True)
    ws.add_channel("C0PRIVATE", "secret", is_private=True, bot_is_member=False)
    with pytest.raises(SlackApiError, match="is_archived"):
        await client.chat_postMessage(channel="#old-deploys", text="x")
    with pytest.raises(SlackApiError, match="not_in_channel"):
        await client.chat_postMessage(channel="C0PRIVATE", text="x")
    private = await client.conversations_list(types="private_channel")
    assert [c["id"] for c in private["channels"]] == ["C0PRIVATE"]
    active = await client.conversations_list(exclude_archived=True)
    assert "C0OLD" not in [c["id"] for c in active["channels"]]


async def test_views_update_by_external_id(
    client: AsyncWebClient, emu: SlackEmulator, ws: Workspace
) -> None:
    modal = {
        "type": "modal",
        "external_id": "deploy-42",
        "title": {"type": "plain_text", "text": "Deploy"},
        "blocks": [{"type": "section", "text": {"type": "plain_text", "text": "waiting"}}],
    }
    trigger = emu.interactions.issue_trigger("U0BOB", None)
    await client.views_open(trigger_id=trigger, view=modal)
    done = {**modal, "blocks": [{"type": "section", "text": {"type": "plain_text", "text": "ok"}}]}
    answer = await client.views_update(external_id="deploy-42", view=done)
    assert answer["view"]["external_id"] == "deploy-42"
    top = ws.views.top("U0BOB")
    assert top is not None
    assert top.payload["blocks"][0]["text"]["text"] == "ok"
    with pytest.raises(SlackApiError, match="not_found"):
        await client.views_update(external_id="nope", view=done)
