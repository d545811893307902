from __future__ import annotations

from typing import Any

from bot.slackemu import Ephemeral, Message, mrkdwn_to_plain, render_conversation, render_message
from bot.slackemu.blockkit import find_button
from bot.slackemu.text import DIVIDER, blocks_to_lines

NAMES = {"U0ALICE": "alice", "U0BOB": "bob", "U0DEPLOYBOT": "deploybot", "C0DEPLOYS": "deploys"}

CARD: list[dict[str, Any]] = [
    {"type": "header", "text": {"type": "plain_text", "text": "Deploy prod v1.2.0"}},
    {
        "type": "section",
        "text": {"type": "mrkdwn", "text": "Requested by <@U0ALICE> in <#C0DEPLOYS>"},
        "fields": [
            {"type": "mrkdwn", "text": "*From*\nv1.1.0"},
            {"type": "mrkdwn", "text": "*To*\nv1.2.0"},
            {"type": "mrkdwn", "text": "*Strategy*\nbluegreen"},
        ],
    },
    {"type": "divider"},
    {"type": "context", "elements": [{"type": "mrkdwn", "text": "needs 2 approvals"}]},
    {
        "type": "actions",
        "elements": [
            {
                "type": "button",
                "text": {"type": "plain_text", "text": "Approve"},
                "action_id": "ok",
            },
            {
                "type": "button",
                "text": {"type": "plain_text", "text": "Reject"},
                "action_id": "no",
                "confirm": {"title": {"type": "plain_text", "text": "Sure?"}},
            },
            {
                "type": "button",
                "text": {"type": "plain_text", "text": "Logs"},
                "action_id": "logs",
                "url": "https://example.test/logs",
            },
        ],
    },
]


def test_mrkdwn_links_mentions_and_entities() -> None:
    text = (
        "<@U0ALICE> <@U9|someone> <#C0DEPLOYS> <!here> <!subteam^S0LEADS|@leads> "
        "<https://x.test|logs> <https://y.test> a &lt;b&gt; &amp; c"
    )
    assert mrkdwn_to_plain(text, NAMES) == (
        "@alice @someone #deploys @here @leads logs (https://x.test) https://y.test a <b> & c"
    )


def test_group_mentions_without_a_label_use_the_handle() -> None:
    assert mrkdwn_to_plain("<!subteam^S0LEADS>", {"S0LEADS": "@leads"}) == "@leads"
    assert mrkdwn_to_plain("<!subteam^S0LEADS>", {"S0LEADS": "leads"}) == "@leads"


def test_blocks_render_readably_with_numbered_buttons() -> None:
    assert blocks_to_lines(CARD, NAMES) == [
        "# Deploy prod v1.2.0",
        "Requested by @alice in #deploys",
        "*From* v1.1.0    *To* v1.2.0",
        "*Strategy* bluegreen",
        DIVIDER,
        "  needs 2 approvals",
        "[1] Approve  [2] Reject…  [3] Logs ↗",
    ]


def test_render_message_header_and_edit_mark() -> None:
    message = Message("C0DEPLOYS", "1700000000.000100", "U0DEPLOYBOT", "fallback", CARD)
    rendered = render_message(message, NAMES)
    assert rendered.lines[0] == "deploybot  22:13:20"
    assert rendered.lines[-1] == "  [1] Approve  [2] Reject…  [3] Logs ↗"
    edited = Message("C0DEPLOYS", "1700000000.000100", "U0BOB", "hi", edited_ts="1700000001.0")
    assert render_message(edited, NAMES).lines == ["bob  22:13:20  (edited)", "  hi"]


def test_text_only_message_and_ephemeral() -> None:
    ephemeral = Ephemeral("C0DEPLOYS", "U0ALICE", "1700000000.000200", "you can't *approve*")
    assert render_message(ephemeral, NAMES).lines == [
        "22:13:20  (only visible to alice)",
        "  you can't *approve*",
    ]


def test_conversation_numbers_buttons_across_messages() -> None:
    first = Message("C0DEPLOYS", "1700000000.000100", "U0DEPLOYBOT", "a", CARD)
    second = Message("C0DEPLOYS", "1700000000.000200", "U0DEPLOYBOT", "b", CARD[-1:])
    screen = render_conversation([first, second], NAMES)
    assert "  [4] Approve  [5] Reject…  [6] Logs ↗" in screen.lines
    clickable = screen.clickable(5)
    assert clickable is not None
    assert clickable.message is second
    assert clickable.button.number == 2
    assert find_button(clickable.message.blocks, clickable.button.number).label == "Reject"
    assert screen.clickable(7) is None


def test_replies_count_and_unknown_blocks() -> None:
    parent = Message("C0DEPLOYS", "1700000000.000100", "U0BOB", "card", reply_count=2)
    assert render_message(parent).lines[-1] == "    ↳ 2 replies"
    odd: list[dict[str, Any]] = [
        {"type": "image", "alt_text": "graph"},
        {"type": "video"},
        {
            "type": "rich_text",
            "elements": [
                {
                    "type": "rich_text_section",
                    "elements": [
                        {"type": "text", "text": "hi "},
                        {"type": "user", "user_id": "U0BOB"},
                    ],
                }
            ],
        },
    ]
    assert blocks_to_lines(odd, NAMES) == ["[image: graph]", "[video]", "hi @bob"]
