"""The envelope check: every shape the torture run sent, the real samples, and properties
that tie it to what Bolt itself does with a body (decode it the same way; never raise on
what the check accepts)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from slack_bolt.listener_matcher import builtins as matchers
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.request.internals import parse_body
from slack_bolt.response import BoltResponse

from bot.envelope import ECHO, Accepted, Decoded, Refused, check, decode, echo
from bot.web import LISTENERS

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
FORM = "application/x-www-form-urlencoded"


def command_form(**changes: str | None) -> str:
    form = {
        "command": "/deploy",
        "text": "help",
        "user_id": "U0ALICE",
        "channel_id": "C0DEPLOYS",
        "team_id": "T0",
        "trigger_id": "1.2.abc",
        "response_url": "https://hooks.slack.com/commands/T0/1/x",
    }
    form.update(changes)  # type: ignore[arg-type]
    return urlencode({k: v for k, v in form.items() if v is not None})


def click() -> dict[str, Any]:
    sample = json.loads((FIXTURES / "slack-block-actions.json").read_text(encoding="utf-8"))
    sample["actions"][0]["action_id"] = "deploy.approve"
    return dict(sample)


def submission() -> dict[str, Any]:
    return {
        "type": "view_submission",
        "team": {"id": "T0", "domain": "fake"},
        "user": {"id": "U0ALICE", "username": "alice", "team_id": "T0"},
        "api_app_id": "A0",
        "trigger_id": "1.2.abc",
        "view": {
            "id": "V1",
            "type": "modal",
            "callback_id": "deploy.reject_reason",
            "private_metadata": "d-123",
            "state": {
                "values": {"reason": {"reason": {"type": "plain_text_input", "value": "no"}}}
            },
        },
        "response_urls": [],
        "enterprise": None,
    }


def payload(value: object) -> str:
    return urlencode({"payload": json.dumps(value)})


def refused(text: str, content_type: str | None = FORM) -> Refused:
    verdict = check(text, content_type, LISTENERS)
    assert isinstance(verdict, Refused), verdict
    return verdict


# -- accepted --------------------------------------------------------------------------------
def test_what_slack_sends_is_accepted() -> None:
    assert check(command_form(), FORM, LISTENERS) == Accepted("command")
    sample = (FIXTURES / "slack-slash-command.form.txt").read_text(encoding="utf-8").strip()
    assert check(sample.replace("%2Fhello-world", "%2Frollback"), FORM, LISTENERS) == Accepted(
        "command"
    )
    assert check(payload(click()), FORM, LISTENERS) == Accepted("block_actions")
    assert check(payload(submission()), FORM, LISTENERS) == Accepted("view_submission")
    assert check("ssl_check=1&token=abc", FORM, LISTENERS) == Accepted("ssl_check")


def test_optional_fields_may_be_absent_or_null() -> None:
    body = click()
    # Without a response_url the click is answered by ephemeral or DM (issue 8, item 6).
    for key in ("container", "channel", "team", "message", "state", "view", "response_url"):
        body.pop(key, None)
    assert check(payload(body), FORM, LISTENERS) == Accepted("block_actions")
    view = submission()
    view["view"].pop("private_metadata")
    view["view"]["state"]["values"] = {}
    view["enterprise"] = None
    assert check(payload(view), FORM, LISTENERS) == Accepted("view_submission")
    assert check(command_form(text=None, trigger_id=None), FORM, LISTENERS) == Accepted("command")


# -- refused: the torture run's shapes -------------------------------------------------------
def _without(body: dict[str, Any], *path: str | int) -> dict[str, Any]:
    changed = copy.deepcopy(body)
    target: Any = changed
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return changed


def _with(body: dict[str, Any], value: object, *path: str | int) -> dict[str, Any]:
    changed = copy.deepcopy(body)
    target: Any = changed
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return changed


SUB, CLICK = submission(), click()
PAYLOADS: list[tuple[str, object, str, str]] = [
    # (name, payload, reason, field)
    ("view unknown callback", _with(SUB, "x.y", "view", "callback_id"), "unknown_view", ""),
    ("view empty callback", _with(SUB, "", "view", "callback_id"), "wrong_type", ""),
    ("view blank callback", _with(SUB, "  ", "view", "callback_id"), "wrong_type", ""),
    ("view callback number", _with(SUB, 7, "view", "callback_id"), "wrong_type", ""),
    ("view no callback", _without(SUB, "view", "callback_id"), "missing_field", ""),
    ("view no state", _without(SUB, "view", "state"), "missing_field", "view.state"),
    ("view state list", _with(SUB, [], "view", "state"), "wrong_type", "view.state"),
    ("view no values", _without(SUB, "view", "state", "values"), "missing_field", ""),
    ("view values list", _with(SUB, [1], "view", "state", "values"), "wrong_type", ""),
    ("view block str", _with(SUB, "x", "view", "state", "values", "reason"), "wrong_type", ""),
    (
        "view element str",
        _with(SUB, "x", "view", "state", "values", "reason", "reason"),
        "wrong_type",
        "view.state.values.reason.reason",
    ),
    (
        "view value list",
        _with(SUB, [], "view", "state", "values", "reason", "reason", "value"),
        "wrong_type",
        "view.state.values.reason.reason.value",
    ),
    ("view no type", _without(SUB, "view", "type"), "missing_field", "view.type"),
    ("view type home", _with(SUB, "home", "view", "type"), "wrong_type", "view.type"),
    ("view workflow_step", _with(SUB, "workflow_step", "view", "type"), "wrong_type", ""),
    ("view metadata int", _with(SUB, 1, "view", "private_metadata"), "wrong_type", ""),
    ("view missing", _without(SUB, "view"), "missing_field", "view"),
    ("view not object", _with(SUB, "v", "view"), "wrong_type", "view"),
    ("view no user", _without(SUB, "user"), "missing_field", "user"),
    ("view user no id", _without(SUB, "user", "id"), "missing_field", "user.id"),
    ("view response_urls str", _with(SUB, "x", "response_urls"), "wrong_type", ""),
    ("view response_urls null", _with(SUB, None, "response_urls"), "wrong_type", ""),
    ("actions missing", _without(CLICK, "actions"), "missing_field", "actions"),
    ("actions empty", _with(CLICK, [], "actions"), "missing_field", "actions"),
    ("actions object", _with(CLICK, {"action_id": "deploy.approve"}, "actions"), "wrong_type", ""),
    ("actions[0] str", _with(CLICK, ["deploy.approve"], "actions"), "wrong_type", "actions[0]"),
    ("no action_id", _without(CLICK, "actions", 0, "action_id"), "missing_field", ""),
    ("action_id null", _with(CLICK, None, "actions", 0, "action_id"), "wrong_type", ""),
    ("action_id unknown", _with(CLICK, "nope", "actions", 0, "action_id"), "unknown_action", ""),
    ("second action bad", _with(CLICK, [CLICK["actions"][0], {}], "actions"), "missing_field", ""),
    ("value not str", _with(CLICK, {"a": 1}, "actions", 0, "value"), "wrong_type", ""),
    ("click no user", _without(CLICK, "user"), "missing_field", "user"),
    ("click user str", _with(CLICK, "U1", "user"), "wrong_type", "user"),
    ("click user id int", _with(CLICK, 5, "user", "id"), "wrong_type", "user.id"),
    ("click no trigger_id", _without(CLICK, "trigger_id"), "missing_field", "trigger_id"),
    ("container str", _with(CLICK, "c", "container"), "wrong_type", "container"),
    ("message_ts int", _with(CLICK, 1, "container", "message_ts"), "wrong_type", ""),
    ("channel int", _with(CLICK, 5, "channel"), "wrong_type", "channel"),
    ("team list", _with(CLICK, [], "team"), "wrong_type", "team"),
    ("team id dict", _with(CLICK, {"id": {}}, "team"), "wrong_type", "team.id"),
    ("enterprise int", _with(CLICK, 5, "enterprise"), "wrong_type", "enterprise"),
    ("authorizations int", _with(CLICK, 5, "authorizations"), "wrong_type", ""),
    ("authorizations [str]", _with(CLICK, ["a"], "authorizations"), "wrong_type", ""),
    (
        "authorizations [{team:5}]",
        _with(CLICK, [{"team": 5}], "authorizations"),
        "wrong_type",
        "authorizations[0].team",
    ),
    ("type missing", _without(CLICK, "type"), "missing_field", "type"),
    ("type int", _with(CLICK, 3, "type"), "wrong_type", "type"),
    ("type unknown", _with(CLICK, "nope", "type"), "unhandled_type", ""),
    ("view_closed", _with(SUB, "view_closed", "type"), "unhandled_type", ""),
    (
        "shortcut",
        {"type": "shortcut", "callback_id": "x", "user": {"id": "U"}},
        "unhandled_type",
        "",
    ),
    ("message_action", {"type": "message_action", "callback_id": "x"}, "unhandled_type", ""),
    (
        "interactive_message",
        {"type": "interactive_message", "callback_id": "x"},
        "unhandled_type",
        "",
    ),
    ("dialog_submission", {"type": "dialog_submission", "callback_id": "x"}, "unhandled_type", ""),
    ("block_suggestion", {"type": "block_suggestion", "action_id": "x"}, "unhandled_type", ""),
    ("payload with command", _with(CLICK, "/deploy", "command"), "ambiguous", "command"),
    ("payload null", None, "not_an_object", ""),
    ("payload list", [], "not_an_object", ""),
    ("payload str", "str", "not_an_object", ""),
    ("payload number", 1, "not_an_object", ""),
    ("payload empty object", {}, "empty", ""),
]


@pytest.mark.parametrize(
    ("body", "reason", "field"),
    [pytest.param(body, reason, field, id=name) for name, body, reason, field in PAYLOADS],
)
def test_malformed_payloads_are_refused(body: object, reason: str, field: str) -> None:
    verdict = refused(payload(body))
    assert verdict.reason == reason
    if field:
        assert verdict.field == field
    assert verdict.status == (404 if reason.startswith(("unknown", "unhandled")) else 400)


@pytest.mark.parametrize(
    ("text", "content_type", "reason"),
    [
        ("", FORM, "empty"),
        ("payload=", FORM, "unreadable"),
        ("payload=%7Bnot-json", FORM, "unreadable"),
        ("payload=1e999", FORM, "not_an_object"),  # json reads it as inf
        ("payload=NaN", FORM, "not_an_object"),
        ("payload=" + "9" * 5000, FORM, "unreadable"),  # longer than Python's int limit
        ("payload=" + "%5B" * 100_000, FORM, "unreadable"),  # nesting too deep
        ("{", FORM, "unreadable"),
        ("[1]", "application/json", "not_an_object"),
        ('{"type": "url_verification", "challenge": "c"}', "application/json", "unhandled_type"),
        ('{"type": "event_callback", "event": {"type": "x"}}', None, "unhandled_type"),
        ('{"type": "block_actions"}', FORM, "unhandled_type"),  # Bolt reads { as JSON
        ("{}", FORM, "empty"),
        ("&&&", FORM, "empty"),
        ("=", FORM, "missing_field"),
        ("garbage", FORM, "missing_field"),
        ("command=%2Fdeploy&text=my+payload", FORM, "payload_mention"),
        ("command=%2Fnope&user_id=U&response_url=u", FORM, "unknown_command"),
        ("command=&user_id=U&response_url=u", FORM, "unknown_command"),
        ("text=help&user_id=U&response_url=u", FORM, "missing_field"),
        ("command=%2Fdeploy&response_url=u", FORM, "missing_field"),
        ("command=%2Fdeploy&user_id=&response_url=u", FORM, "wrong_type"),
        ("command=%2Fdeploy&user_id=U", FORM, "missing_field"),
        ("command=%2Fdeploy&user_id=U&response_url=u&type=block_actions", FORM, "ambiguous"),
        ("command=%2Fdeploy&user_id=U&response_url=u&authorizations=x", FORM, "wrong_type"),
        ("command=%2Fdeploy&user_id=U&response_urls=x", None, "wrong_type"),
        ("payload=1&payload=%7B%7D", FORM, "empty"),  # the last one wins, as in Bolt
    ],
)
def test_odd_bodies_are_refused(text: str, content_type: str | None, reason: str) -> None:
    assert refused(text, content_type).reason == reason


def test_the_actor_is_read_when_there_is_one() -> None:
    assert refused(payload(_without(CLICK, "trigger_id"))).actor == "W111"
    assert refused(command_form(response_url=None)).actor == "U0ALICE"
    assert refused(payload(_with(CLICK, {"id": 5}, "user"))).actor is None
    assert refused(payload(None)).actor is None


def test_what_is_echoed_is_bounded_and_storable() -> None:
    long = _with(CLICK, "x" * 10_000, "actions", 0, "action_id")
    verdict = refused(payload(long))
    assert verdict.value == "x" * ECHO
    assert len(refused(payload(_with(CLICK, "t" * 10_000, "type"))).kind) == ECHO
    surrogate = refused(payload(_with(CLICK, "\ud800", "actions", 0, "action_id")))
    surrogate.value.encode("utf-8")
    assert set(verdict.details()) == {"reason", "kind", "field", "value"}
    assert echo(None) == "None"


# -- properties against Bolt itself ----------------------------------------------------------
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=12,
)
KEYS = st.sampled_from(
    [
        "type", "user", "actions", "view", "team", "channel", "container", "enterprise",
        "authorizations", "response_url", "response_urls", "trigger_id", "command", "message",
        "state", "user_id", "team_id", "event",
    ]
)  # fmt: skip
INNER = [(), ("view",), ("view", "state"), ("user",), ("actions", 0), ("container",)]
INNER_KEYS = st.sampled_from(["type", "id", "value", "callback_id", "state", "values", "x"])


def _mutated(base: dict[str, Any], where: tuple[str | int, ...], key: str, value: object) -> Any:
    """``base`` with ``key`` set to ``value`` at ``where``, if ``base`` has that place."""
    changed = copy.deepcopy(base)
    target: Any = changed
    for step in where:
        try:
            target = target[step]
        except (KeyError, IndexError, TypeError):
            return changed
    if isinstance(target, dict):
        target[key] = value
    return changed


envelopes = (
    st.dictionaries(KEYS, json_values, max_size=8)
    | st.builds(_mutated, st.sampled_from([CLICK, SUB]), st.just(()), KEYS, json_values)
    | st.builds(
        _mutated, st.sampled_from([CLICK, SUB]), st.sampled_from(INNER), INNER_KEYS, json_values
    )
)
forms = st.dictionaries(
    st.sampled_from(["command", "text", "user_id", "response_url", "payload", "ssl_check", "x"]),
    st.text(max_size=12) | st.sampled_from(["/deploy", "1", "{}", "[]", "null"]),
    max_size=6,
).map(urlencode)
bodies = forms | envelopes.map(payload) | st.text(max_size=40) | envelopes.map(json.dumps)
content_types = st.sampled_from([FORM, "application/json", None, "text/plain"])


@settings(max_examples=300, deadline=None)
@given(text=bodies, content_type=content_types)
def test_decode_reads_a_body_as_bolt_does(text: str, content_type: str | None) -> None:
    decoded = decode(text, content_type)
    try:
        bolt: object = parse_body(text, content_type)
    except (ValueError, RecursionError):
        assert isinstance(decoded, Refused)
        assert decoded.reason == "unreadable"
        return
    if isinstance(decoded, Decoded):
        assert json.dumps(decoded.body, sort_keys=True) == json.dumps(bolt, sort_keys=True)
    else:
        # Refused only what Bolt could not use: not an object, empty, or misread.
        assert not isinstance(bolt, dict) or not bolt or decoded.reason == "payload_mention"


MATCHERS = [
    *(matchers.command(c, asyncio=True) for c in LISTENERS.commands),
    *(matchers.action(a, asyncio=True) for a in LISTENERS.actions),
    *(matchers.view(v, asyncio=True) for v in LISTENERS.views),
]


@settings(max_examples=300, deadline=None)
@given(text=bodies, content_type=content_types)
async def test_bolt_never_raises_on_what_is_accepted(text: str, content_type: str | None) -> None:
    verdict = check(text, content_type, LISTENERS)
    if not isinstance(verdict, Accepted):
        return
    headers = {"content-type": [content_type]} if content_type else {}
    request = AsyncBoltRequest(body=text, headers=headers)  # builds Bolt's context
    for matcher in MATCHERS:
        await matcher.async_matches(request, BoltResponse(status=200))


@pytest.mark.parametrize("kind", ["command", "block_actions", "view_submission"])
async def test_each_accepted_kind_is_matched_by_exactly_one_listener(kind: str) -> None:
    text = {"command": command_form(), "block_actions": payload(CLICK)}.get(kind) or payload(SUB)
    request = AsyncBoltRequest(body=text, headers={"content-type": [FORM]})
    hits = [m for m in MATCHERS if await m.async_matches(request, BoltResponse(status=200))]
    assert len(hits) == 1
