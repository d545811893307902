from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bot.slackemu import (
    Change,
    ManualClock,
    SlackError,
    TsFactory,
    UsageError,
    WaitTimeout,
    Workspace,
)
from bot.slackemu.clock import ts_key

CARD: list[dict[str, Any]] = [
    {"type": "section", "text": {"type": "mrkdwn", "text": "*Deploy* v1.2.0 to prod"}},
    {
        "type": "actions",
        "elements": [
            {"type": "button", "text": {"type": "plain_text", "text": "Approve"}, "value": "a"},
            {"type": "button", "text": {"type": "plain_text", "text": "Reject"}, "value": "r"},
        ],
    },
]


def test_ts_strictly_increases_even_when_the_clock_stands_still_or_goes_back() -> None:
    clock = ManualClock(1_700_000_000.0)
    ts = TsFactory(clock)
    first, second = ts.next(), ts.next()
    assert first == "1700000000.000000"
    assert second == "1700000000.000001"
    clock.now = 1_600_000_000.0
    third = ts.next()
    clock.now = 1_700_000_005.5
    fourth = ts.next()
    assert fourth == "1700000005.500000"
    keys = [ts_key(t) for t in (first, second, third, fourth)]
    assert keys == sorted(keys)
    assert len(set(keys)) == 4


def test_manual_clock_refuses_to_go_backwards() -> None:
    with pytest.raises(ValueError, match="backwards"):
        ManualClock().advance(-1)


def test_directory_lookups_by_id_name_and_mention(ws: Workspace) -> None:
    assert ws.channel("#deploys").id == "C0DEPLOYS"
    assert ws.channel("deploys") == ws.channel("C0DEPLOYS")
    assert ws.user("alice").id == "U0ALICE"
    assert ws.user("@bob") == ws.user("<@U0BOB>") == ws.user("U0BOB")
    assert ws.usergroup("leads").users == ("U0BOB", "U0CAROL")
    with pytest.raises(SlackError, match="channel_not_found") as exc:
        ws.channel("#nope")
    assert "#deploys" in str(exc.value)
    with pytest.raises(SlackError, match="user_not_found"):
        ws.user("mallory")


def test_directory_refuses_bad_or_duplicate_ids(ws: Workspace) -> None:
    with pytest.raises(UsageError, match="Slack-style ID"):
        ws.add_channel("c-lower", "lower")
    with pytest.raises(UsageError, match="already taken"):
        ws.add_user("U0ALICE", "alice2")
    with pytest.raises(UsageError, match="already exists"):
        ws.add_channel("C0OTHER", "#deploys")
    with pytest.raises(SlackError, match="user_not_found"):
        ws.add_usergroup("S0X", "x", ["nobody"])


def test_threads_count_replies_and_resolve_a_reply_ts_to_its_parent(ws: Workspace) -> None:
    parent = ws.post_message("#deploys", "card", CARD)
    one = ws.post_message("#deploys", "step 1", thread_ts=parent.ts)
    two = ws.post_message("C0DEPLOYS", "step 2", thread_ts=one.ts, user="alice")
    thread = ws.thread("#deploys", parent.ts)
    assert [m.text for m in thread] == ["card", "step 1", "step 2"]
    assert thread[0].reply_count == 2
    assert thread[0].thread_ts == parent.ts
    assert thread[0].reply_users == ("U0DEPLOYBOT", "U0ALICE")
    assert thread[0].latest_reply == two.ts
    assert two.thread_ts == parent.ts
    assert two.is_reply
    assert [m.text for m in ws.messages("#deploys")] == ["card"]
    assert len(ws.messages("#deploys", include_replies=True)) == 3
    assert ws.last_message("#deploys", thread_ts=parent.ts) == two
    with pytest.raises(SlackError, match="thread_not_found"):
        ws.post_message("#deploys", "x", thread_ts="1.000001")


def test_edits_keep_ts_and_record_history(ws: Workspace, clock: ManualClock) -> None:
    card = ws.post_message("#deploys", "pending", CARD)
    clock.advance(5)
    edited = ws.update_message("#deploys", card.ts, text="approved", blocks=[])
    again = ws.update_message("#deploys", card.ts, text="deployed")
    assert edited.ts == again.ts == card.ts
    assert again.blocks == []
    assert again.text == "deployed"
    assert [v.text for v in again.history] == ["pending", "approved"]
    assert again.history[0].blocks[1]["type"] == "actions"
    assert again.edited_ts is not None
    assert ts_key(again.edited_ts) > ts_key(card.ts)
    assert card.text == "pending", "snapshots handed out earlier do not change"
    assert ws.message("#deploys", card.ts).text == "deployed"


def test_missing_block_and_action_ids_are_filled_in(ws: Workspace) -> None:
    card = ws.post_message("#deploys", "card", CARD)
    assert all(b["block_id"] for b in card.blocks)
    assert all(e["action_id"] for e in card.blocks[1]["elements"])
    assert "block_id" not in CARD[0], "the caller's blocks are not modified"


def test_ephemerals_per_user_and_channel(ws: Workspace) -> None:
    ws.post_ephemeral("#deploys", "alice", "only alice")
    ws.post_ephemeral("#incidents", "bob", "only bob")
    assert [e.text for e in ws.ephemerals("alice")] == ["only alice"]
    assert [e.text for e in ws.ephemerals(channel="#incidents")] == ["only bob"]
    assert len(ws.ephemerals()) == 2


def test_deleted_messages_disappear_from_the_channel(ws: Workspace) -> None:
    message = ws.post_message("#deploys", "oops")
    ws.delete_message("#deploys", message.ts)
    assert ws.messages("#deploys") == []
    with pytest.raises(SlackError, match="message_not_found"):
        ws.message("#deploys", message.ts)


def test_posting_to_a_user_id_opens_a_dm(ws: Workspace) -> None:
    dm = ws.post_message("U0ALICE", "psst")
    assert dm.channel == "D0ALICE"
    assert ws.channel("D0ALICE").is_im


async def test_wait_for_sees_changes_made_before_and_after_the_wait(ws: Workspace) -> None:
    ws.post_message("#deploys", "already there")
    found = await ws.wait_for(lambda c: c.text == "already there", timeout=1)
    assert found.kind == "message"

    loop = asyncio.get_running_loop()
    loop.call_soon(lambda: ws.post_message("#deploys", "later", thread_ts=found.ts))
    reply = await ws.wait_for_message("#deploys", "later", thread_ts=found.ts, timeout=2)
    assert reply.is_reply


async def test_wait_for_since_a_mark_ignores_older_changes(ws: Workspace) -> None:
    card = ws.post_message("#deploys", "state: pending")
    mark = ws.mark()
    loop = asyncio.get_running_loop()
    loop.call_soon(lambda: ws.update_message("#deploys", card.ts, text="state: approved"))
    edited = await ws.wait_for_message("#deploys", "state:", kinds=("edit",), since=mark)
    assert edited.text == "state: approved"


async def test_wait_for_ephemeral_matches_block_text_too(ws: Workspace) -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "you can't approve"}}]
    loop = asyncio.get_running_loop()
    loop.call_soon(lambda: ws.post_ephemeral("#deploys", "dave", "refused", blocks))
    found = await ws.wait_for_ephemeral("dave", "can't approve", timeout=2)
    assert found.user == "U0DAVE"


async def test_wait_timeout_describes_what_was_seen(ws: Workspace) -> None:
    ws.post_message("#deploys", "something else")
    ws.post_ephemeral("#deploys", "alice", "psst")
    with pytest.raises(WaitTimeout) as exc:
        await ws.wait_for_message("#deploys", "never", timeout=0.05)
    text = str(exc.value)
    assert "timed out after 0.05s waiting for message in #deploys containing 'never'" in text
    assert "'something else'" in text
    assert "to=U0ALICE" in text
    assert isinstance(exc.value, TimeoutError)


async def test_wait_until_returns_the_probe_value(ws: Workspace) -> None:
    def two_messages() -> int | None:
        count = len(ws.messages("#deploys"))
        return count if count >= 2 else None

    loop = asyncio.get_running_loop()
    loop.call_soon(lambda: ws.post_message("#deploys", "one"))
    loop.call_soon(lambda: ws.post_message("#deploys", "two"))
    assert await ws.wait_until(two_messages, timeout=2) == 2


def test_changes_are_a_log_of_everything(ws: Workspace) -> None:
    card = ws.post_message("#deploys", "a")
    ws.update_message("#deploys", card.ts, text="b")
    ws.post_ephemeral("#deploys", "alice", "c")
    kinds = [c.kind for c in ws.changes]
    assert kinds == ["message", "edit", "ephemeral"]
    assert all(isinstance(c, Change) for c in ws.changes)
    assert [c.seq for c in ws.changes] == [0, 1, 2]
