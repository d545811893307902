from __future__ import annotations

from typing import Any

from bot.slackemu import Workspace
from bot.slackemu.screen import render_screen, visible_to

BUTTON: list[dict[str, Any]] = [
    {
        "type": "actions",
        "elements": [{"type": "button", "text": {"type": "plain_text", "text": "Approve"}}],
    }
]


def test_a_user_sees_the_channel_and_only_their_own_ephemerals(ws: Workspace) -> None:
    ws.post_message("#deploys", "card 1", BUTTON)
    ws.post_ephemeral("#deploys", "alice", "for alice")
    ws.post_ephemeral("#deploys", "bob", "for bob")
    ws.post_message("#deploys", "card 2", BUTTON)
    assert [m.text for m in visible_to(ws, "alice", "#deploys")] == [
        "card 1",
        "for alice",
        "card 2",
    ]
    screen = render_screen(ws, "alice", "#deploys", last=2)
    assert "for bob" not in screen.text
    assert screen.lines[0] == "22:13:20  (only visible to alice)"
    assert [c.number for c in screen.clickables] == [1]
    assert screen.clickables[0].message.text == "card 2"
    assert render_screen(ws, "alice", "#deploys", last=0).lines == []


def test_a_thread_screen_shows_parent_replies_and_thread_ephemerals(ws: Workspace) -> None:
    parent = ws.post_message("#deploys", "card", BUTTON)
    ws.post_message("#deploys", "step 1", thread_ts=parent.ts)
    ws.post_ephemeral("#deploys", "alice", "in thread", thread_ts=parent.ts)
    ws.post_ephemeral("#deploys", "alice", "in channel")
    texts = [m.text for m in visible_to(ws, "alice", "#deploys", thread_ts=parent.ts)]
    assert texts == ["card", "step 1", "in thread"]
