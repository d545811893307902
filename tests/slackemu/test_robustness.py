"""Whatever an app (or a bug) sends, the emulator answers with values or typed errors."""

from __future__ import annotations

import itertools
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from bot.slackemu import SlackError, TsFactory, list_buttons, mrkdwn_to_plain
from bot.slackemu.blockkit import with_ids
from bot.slackemu.clock import ts_key
from bot.slackemu.params import parse_body
from bot.slackemu.text import blocks_to_lines
from bot.slackemu.validation import validate_blocks

_scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=8)
_keys = st.sampled_from(
    ["type", "text", "fields", "elements", "accessory", "element", "block_id", "action_id",
     "confirm", "value", "style", "url", "label", "options", "alt_text", "placeholder"]
)  # fmt: skip
_types = st.sampled_from(
    ["section", "header", "context", "divider", "actions", "input", "image", "rich_text",
     "button", "plain_text", "mrkdwn", "static_select", "bogus"]
)  # fmt: skip
_json: st.SearchStrategy[Any] = st.recursive(
    _scalars | _types,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_keys, children, max_size=5),
    max_leaves=25,
)


@given(st.lists(_json, max_size=6))
def test_any_blocks_validate_render_and_get_ids_without_crashing(blocks: list[Any]) -> None:
    problems = validate_blocks(blocks)
    assert all(isinstance(p, str) for p in problems)
    shown = with_ids(blocks)
    assert all(isinstance(line, str) for line in blocks_to_lines(shown))
    assert [b.number for b in list_buttons(shown)] == list(range(1, len(list_buttons(shown)) + 1))


@given(_json)
def test_validate_blocks_refuses_non_lists_politely(blocks: Any) -> None:
    if not isinstance(blocks, list):
        assert validate_blocks(blocks) == ["blocks must be an array [json-pointer:/blocks]"]


@given(st.text())
def test_mrkdwn_to_plain_never_fails(text: str) -> None:
    assert isinstance(mrkdwn_to_plain(text, {"U1": "alice"}), str)


@given(st.lists(st.floats(min_value=0, max_value=4e9, allow_nan=False), min_size=1, max_size=30))
def test_ts_always_strictly_increases(times: list[float]) -> None:
    remaining = iter(times)
    ts = TsFactory(lambda: next(remaining))
    keys = [ts_key(ts.next()) for _ in times]
    assert all(a < b for a, b in itertools.pairwise(keys))


@given(st.sampled_from(["application/json", "application/x-www-form-urlencoded"]), st.binary())
def test_any_request_body_parses_or_is_a_slack_error(content_type: str, raw: bytes) -> None:
    try:
        parsed: Any = parse_body(content_type, raw)
    except SlackError as exc:
        parsed = exc.code
    assert isinstance(parsed, dict) or parsed in ("invalid_json", "invalid_form_data")
