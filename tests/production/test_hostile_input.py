"""`deploybot serve` under hostile input, as a process: the torture run's malformed bodies
and headers, then generated ones. Never a 500 or a traceback; one audit row per signed
refusal and none for unsigned ones (those are counted in /metrics and logged once a minute);
the ordinary journey works afterwards and no deployment was created."""

from __future__ import annotations

import copy
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from storage import Store

from .conftest import Production
from .fake_slack import FakeSlack

ALICE = "U0ALICE"
FORM = "application/x-www-form-urlencoded"
REFUSED = "slack.request_refused"
UNSIGNED_SUMMARY = "refused unsigned requests on /slack/events"


def click(slack: FakeSlack, action_id: str = "deploy.approve") -> dict[str, Any]:
    return {
        "type": "block_actions",
        "user": {"id": ALICE, "username": "alice", "team_id": "T0DEPLOYBOT"},
        "team": {"id": "T0DEPLOYBOT", "domain": "fake"},
        "container": {"type": "message", "message_ts": "1.1", "channel_id": "C0DEPLOYS"},
        "channel": {"id": "C0DEPLOYS"},
        "trigger_id": f"{time.time()}.trigger",
        "response_url": f"{slack.url}/respond",
        "actions": [{"action_id": action_id, "block_id": "b", "type": "button", "value": "d-no"}],
    }


def submission() -> dict[str, Any]:
    return {
        "type": "view_submission",
        "user": {"id": ALICE, "username": "alice", "team_id": "T0DEPLOYBOT"},
        "team": {"id": "T0DEPLOYBOT", "domain": "fake"},
        "trigger_id": f"{time.time()}.trigger",
        "view": {
            "id": "V1",
            "type": "modal",
            "callback_id": "deploy.reject_reason",
            "private_metadata": "d-no",
            "state": {"values": {"reason": {"reason": {"type": "plain_text_input", "value": "x"}}}},
        },
        "response_urls": [],
    }


def changed(body: dict[str, Any], path: tuple[str | int, ...], value: object = None) -> Any:
    """``body`` with the field at ``path`` set to ``value``, or removed if ``value`` is None."""
    copied = copy.deepcopy(body)
    target: Any = copied
    for step in path[:-1]:
        target = target[step]
    if value is None:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return copied


def payload(value: object) -> bytes:
    return urlencode({"payload": json.dumps(value)}).encode()


def signed_but_malformed(slack: FakeSlack) -> list[tuple[str, bytes, str]]:
    """(name, body, content type): every shape issue 8 lists, and a few more."""
    c, v = click(slack), submission()
    interactive = {
        "view unknown callback_id": changed(v, ("view", "callback_id"), "nope"),
        "view empty callback_id": changed(v, ("view", "callback_id"), ""),
        "view missing callback_id": changed(v, ("view", "callback_id")),
        "view missing state": changed(v, ("view", "state")),
        "view missing view": changed(v, ("view",)),
        "view_closed": changed(v, ("type",), "view_closed"),
        "actions empty": changed(c, ("actions",), []),
        "actions missing": changed(c, ("actions",)),
        "action_id missing": changed(c, ("actions", 0, "action_id")),
        "action_id unknown": changed(c, ("actions", 0, "action_id"), "nope"),
        "type missing": changed(c, ("type",)),
        "user missing": changed(c, ("user",)),
        "authorizations not a list": changed(c, ("authorizations",), "x"),
        "shortcut": {"type": "shortcut", "callback_id": "x", "user": {"id": ALICE}},
        "payload null": None,
        "payload []": [],
        "payload str": "str",
    }
    shapes = [(name, payload(body), FORM) for name, body in interactive.items()]
    raw = {
        "payload 1e999": b"payload=1e999",
        "payload empty": b"payload=",
        "payload bad json": b"payload=%7Bnot-json",
        "payload deep": b"payload=" + b"%5B" * 50_000,
        "empty body": b"",
        "ampersands": b"&&&",
        "lone brace": b"{",
        "no command": b"text=help&user_id=U0ALICE",
        "unknown command": f"command=%2Fnope&user_id={ALICE}&response_url=u".encode(),
        "command saying payload": b"command=%2Fdeploy&text=payload&user_id=U0ALICE",
        "command with type": b"command=%2Fdeploy&type=block_actions&actions=x&user_id=U",
    }
    shapes += [(name, body, FORM) for name, body in raw.items()]
    shapes.append(("events api", b'{"type": "event_callback", "event": {}}', "application/json"))
    return shapes


def unsigned(slack: FakeSlack) -> list[tuple[str, list[tuple[str, str | bytes]]]]:
    body = urlencode(slack.command_form(ALICE, "/deploy", "help", "#deploys")).encode()
    good = slack.signed_headers(body)
    stamp, signature = good["X-Slack-Request-Timestamp"], good["X-Slack-Signature"]
    ts, sig = "X-Slack-Request-Timestamp", "X-Slack-Signature"
    return [
        ("timestamp abc", [(ts, "abc"), (sig, signature)]),
        ("timestamp empty", [(ts, ""), (sig, signature)]),
        ("timestamp 1.7e9", [(ts, "1.7e9"), (sig, signature)]),
        ("timestamp huge", [(ts, "9" * 5000), (sig, signature)]),
        ("signature non-ASCII", [(ts, stamp), (sig, "v0=é" + signature[5:])]),
        ("signature latin-1 bytes", [(ts, stamp), (sig, b"v0=\xff\xfe")]),
        ("signature forged", [(ts, stamp), (sig, "v0=" + "0" * 64)]),
        ("signature twice", [(ts, stamp), (sig, signature), (sig, signature)]),
        ("no headers", []),
        ("stale", list(slack.signed_headers(body, str(int(time.time()) - 600)).items())),
    ]


async def refusals(prod: Production) -> list[dict[str, Any]]:
    """The refusal rows in the bot's audit log; asserts no deployment exists."""
    async with Store.open(f"sqlite+aiosqlite:///{prod.database}") as store:
        rows = await store.audit.query(actions=[REFUSED], newest_first=False)
        for env in prod.sandbox.config["environments"]:
            assert await store.deployments.latest(env) == [], env
    return [dict(r.details) for r in rows]


@dataclass
class Watched:
    prod: Production
    store: Store  # the bot's database, opened once for all the examples

    async def refused(self) -> int:
        return len(await self.store.audit.query(actions=[REFUSED]))


def series(exposition: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(exposition)
        for s in family.samples
    }


async def help_still_answered(slack: FakeSlack) -> None:
    assert await slack.command(ALICE, "/deploy help") == 200
    await slack.wait_for(lambda: slack.response("ships versions to Azure"))


async def quiet_stderr(prod: Production) -> str:
    assert await prod.bot.stop() == 0
    logs = "\n".join(prod.bot.logs)
    assert "Traceback" not in logs, logs
    assert "Unhandled request" not in logs, logs  # unknown ids never reach Bolt
    return logs


async def test_the_torture_shapes_are_refused_quietly(prod: Production) -> None:
    slack = prod.slack
    shapes = signed_but_malformed(slack)
    async with httpx.AsyncClient(timeout=10) as http:
        for name, body, content_type in shapes:
            headers = [*slack.signed_headers(body).items(), ("Content-Type", content_type)]
            answer = await slack.post_raw(body, headers, http)
            assert answer.status_code in (400, 404), (name, answer.status_code, answer.text)
        forged = unsigned(slack)
        body = urlencode(slack.command_form(ALICE, "/deploy", "help", "#deploys")).encode()
        for name, headers in forged:
            answer = await slack.post_raw(body, [*headers, ("Content-Type", FORM)], http)
            assert answer.status_code == 401, (name, answer.status_code, answer.text)

    rows = await refusals(prod)
    assert len(rows) == len(shapes)  # one row per signed refusal; none for the unsigned
    assert all(set(r) >= {"reason", "kind", "field"} for r in rows)
    assert {r["reason"] for r in rows} >= {"unknown_view", "missing_field", "not_an_object"}

    seen = series(await prod.bot.metrics())
    assert seen[("deploybot_slack_requests_total", frozenset({("outcome", "unauthorized")}))] == (
        len(forged)
    )
    by_reason = {
        dict(labels)["reason"]: value
        for (name, labels), value in seen.items()
        if name == "deploybot_slack_refused_total" and ("stage", "signature") in labels
    }
    assert by_reason == {"malformed": 7, "mismatch": 1, "missing": 1, "stale": 1}

    await help_still_answered(slack)
    logs = await quiet_stderr(prod)
    assert logs.count(UNSIGNED_SUMMARY) == 1  # all of them within one minute: one line


# -- generated envelopes, through the same server -----------------------------------------
leaves = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=6)
json_values = st.recursive(
    leaves,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=8,
)
PLACES = [
    ("type",), ("user",), ("user", "id"), ("actions",), ("actions", 0), ("actions", 0, "action_id"),
    ("actions", 0, "value"), ("container",), ("channel",), ("team",), ("authorizations",),
    ("response_url",), ("trigger_id",), ("view",), ("view", "type"), ("view", "callback_id"),
    ("view", "state"), ("view", "state", "values"), ("view", "private_metadata"), ("command",),
]  # fmt: skip


def mutate(base: dict[str, Any], path: tuple[str | int, ...], value: object) -> Any:
    try:
        return changed(base, path, value)
    except (KeyError, IndexError, TypeError):
        return base


@pytest.fixture
async def watched(prod: Production) -> AsyncIterator[Watched]:
    """``prod``, checked once after every example that shared it: still answering, no
    deployment, nothing alarming in its stderr."""
    async with Store.open(f"sqlite+aiosqlite:///{prod.database}") as store:
        yield Watched(prod, store)
    await help_still_answered(prod.slack)
    await refusals(prod)
    await quiet_stderr(prod)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
async def test_generated_envelopes_never_500(watched: Watched, data: st.DataObject) -> None:
    slack = watched.prod.slack
    bases = [click(slack, a) for a in ("deploy.approve", "deploy.reject", "rollback.confirm")]
    interactive = st.builds(
        mutate, st.sampled_from([*bases, submission()]), st.sampled_from(PLACES), json_values
    ) | st.dictionaries(st.sampled_from([p[0] for p in PLACES]), json_values, max_size=6)
    forms = st.dictionaries(
        st.sampled_from(["command", "text", "user_id", "response_url", "payload", "type"]),
        st.sampled_from(["/deploy", "/nope", "help", "", "{}", "null", ALICE, "payload"]),
        max_size=5,
    ).map(lambda form: urlencode(form).encode())
    text = st.text(max_size=40).map(str.encode)
    body = data.draw(interactive.map(payload) | forms | st.binary(max_size=40) | text)
    content_type = data.draw(st.sampled_from([FORM, "application/json", "text/plain"]))
    before = await watched.refused()
    headers = [*slack.signed_headers(body).items(), ("Content-Type", content_type)]
    answer = await slack.post_raw(body, headers)
    event(f"status {answer.status_code}")
    assert answer.status_code in (200, 400, 404), (body, answer.status_code, answer.text)
    added = await watched.refused() - before
    assert added == (0 if answer.status_code == 200 else 1), (body, answer.status_code)
