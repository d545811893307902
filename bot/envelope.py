"""What a signed request to /slack/events may carry, decided before Bolt reads it.

Bolt's matchers and context builders index into the body (``body["actions"][0]``,
``body["view"]["callback_id"]``, ``len(body["authorizations"])``) and raise on shapes Slack
never sends; Bolt then answers 500 and logs a traceback. So the body is decoded here exactly
as Bolt decodes it (``slack_bolt.request.internals.parse_body``) and only the kinds this bot
listens to, in the shapes its listeners read, are let through. Pure: no I/O, no clock.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import parse_qsl

Kind = Literal["command", "block_actions", "view_submission", "ssl_check"]
Source = Literal["form", "payload", "json"]
Reason = Literal[
    "empty",
    "unreadable",
    "payload_mention",
    "not_an_object",
    "ambiguous",
    "missing_field",
    "wrong_type",
    "unhandled_type",
    "unknown_command",
    "unknown_action",
    "unknown_view",
]
#: Well-formed, but nothing here listens for it: 404, as Bolt would answer.
NOT_HANDLED: frozenset[Reason] = frozenset(
    {"unhandled_type", "unknown_command", "unknown_action", "unknown_view"}
)
#: Anything echoed from a request into a refusal (and so into the audit log) is cut to this.
ECHO = 200


@dataclass(frozen=True)
class Listeners:
    """The slash commands, action ids and view callback ids the Bolt app registers."""

    commands: frozenset[str]
    actions: frozenset[str]
    views: frozenset[str]


@dataclass(frozen=True)
class Accepted:
    kind: Kind


@dataclass(frozen=True)
class Refused:
    reason: Reason
    kind: str = ""  # what the request said it was: its payload type, "command", "form"...
    field: str = ""  # the field at fault, as a path ("actions[0].action_id")
    value: str = ""  # the unknown command or id
    actor: str | None = None  # the user id, when one could be read

    @property
    def status(self) -> int:
        return 404 if self.reason in NOT_HANDLED else 400

    def details(self) -> dict[str, str]:
        found = {"reason": self.reason, "kind": self.kind, "field": self.field}
        if self.value:
            found["value"] = self.value
        return found


@dataclass(frozen=True)
class Decoded:
    source: Source
    body: dict[str, Any]


def check(text: str, content_type: str | None, listeners: Listeners) -> Accepted | Refused:
    decoded = decode(text, content_type)
    return decoded if isinstance(decoded, Refused) else classify(decoded, listeners)


def decode(text: str, content_type: str | None) -> Decoded | Refused:
    """The body as Bolt will see it, or why Bolt could not read it (or would misread it)."""
    if not text:
        return Refused("empty")
    source: Source = "json"
    try:
        if content_type == "application/json" or text.startswith("{"):
            parsed: object = json.loads(text)
        elif "payload" in text:
            params = dict(parse_qsl(text, keep_blank_values=True))
            if "payload" not in params:
                # Bolt tests the raw text for the word, then finds no such field and reads
                # the whole body as {}: a command whose text says "payload" would vanish.
                return Refused("payload_mention", "form")
            source = "payload"
            parsed = json.loads(params["payload"])
        else:
            source = "form"
            parsed = dict(parse_qsl(text, keep_blank_values=True))
    except (ValueError, RecursionError):  # bad JSON, an int too long, nesting too deep
        return Refused("unreadable", source)
    if not isinstance(parsed, dict):
        return Refused("not_an_object", source)
    if not parsed:
        return Refused("empty", source)
    return Decoded(source, parsed)


def classify(decoded: Decoded, listeners: Listeners) -> Accepted | Refused:
    body = decoded.body
    actor = _actor(body)

    def verdict(kind: str, accepted: Kind | None, problem: _Problem | None) -> Accepted | Refused:
        if problem is None and accepted is not None:
            return Accepted(accepted)
        problem = problem or _Problem("unhandled_type")
        return Refused(problem.reason, kind, echo(problem.field), problem.value, actor)

    if decoded.source == "form":
        if body.get("ssl_check") == "1":
            return verdict("ssl_check", "ssl_check", _context(body))
        return verdict("command", "command", _context(body) or _command(body, listeners))
    declared = body.get("type")
    if not isinstance(declared, str):
        return verdict(
            decoded.source, None, _missing("type") if declared is None else _wrong("type")
        )
    kind = echo(declared)
    if decoded.source == "json":  # the Events API: this bot subscribes to no events
        return verdict(kind, None, None)
    if "command" in body:  # Bolt would offer it to the slash-command listeners as well
        return verdict(kind, None, _Problem("ambiguous", "command"))
    if declared == "block_actions":
        return verdict(kind, "block_actions", _context(body) or _block_actions(body, listeners))
    if declared == "view_submission":
        return verdict(kind, "view_submission", _context(body) or _view_submission(body, listeners))
    return verdict(kind, None, None)


def echo(value: object) -> str:
    """``value`` as bounded text that any database takes (no lone surrogates)."""
    return str(value)[:ECHO].encode("utf-8", "replace").decode("utf-8")


@dataclass(frozen=True)
class _Problem:
    reason: Reason
    field: str = ""
    value: str = ""


def _missing(field: str) -> _Problem:
    return _Problem("missing_field", field)


def _wrong(field: str) -> _Problem:
    return _Problem("wrong_type", field)


def _text(value: object) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _required_text(body: dict[str, Any], key: str, path: str) -> _Problem | None:
    if key not in body:
        return _missing(path)
    return None if _text(body[key]) else _wrong(path)


def _actor(body: dict[str, Any]) -> str | None:
    user = body.get("user")
    found = user.get("id") if isinstance(user, dict) else body.get("user_id")
    return echo(found) if _text(found) else None


def _context(body: dict[str, Any], path: str = "") -> _Problem | None:
    """The fields Bolt reads into its context for every request, whatever its kind."""
    for key in ("user", "channel", "team", "enterprise"):
        value = body.get(key)
        if isinstance(value, dict):
            if "id" in value and not isinstance(value["id"], str):
                return _wrong(f"{path}{key}.id")
        elif value is not None and not isinstance(value, str):
            return _wrong(f"{path}{key}")
    for key in ("response_url", "team_id", "user_id", "channel_id", "enterprise_id"):
        if key in body and not isinstance(body[key], str | None):
            return _wrong(f"{path}{key}")
    authorizations = body.get("authorizations")
    if authorizations is not None:
        if path or not isinstance(authorizations, list):
            return _wrong(f"{path}authorizations")
        for i, entry in enumerate(authorizations):
            inner = f"authorizations[{i}]."
            problem = _context(entry, inner) if isinstance(entry, dict) else _wrong(inner[:-1])
            if problem:
                return problem
    if "response_urls" in body and "response_url" not in body:
        urls = body["response_urls"]
        if not isinstance(urls, list) or not all(isinstance(u, dict) for u in urls):
            return _wrong(f"{path}response_urls")
    for key in ("view", "container", "message", "state"):
        if key in body and not isinstance(body[key], dict | None):
            return _wrong(f"{path}{key}")
    return None


def _command(body: dict[str, Any], listeners: Listeners) -> _Problem | None:
    if "type" in body:
        # Every interactive matcher keys on "type": a form with one is not a command.
        return _Problem("ambiguous", "type")
    if "command" not in body:
        return _missing("command")
    if body["command"] not in listeners.commands:
        return _Problem("unknown_command", "command", echo(body["command"]))
    return _required_text(body, "user_id", "user_id") or _required_text(
        body, "response_url", "response_url"
    )


def _user(body: dict[str, Any]) -> _Problem | None:
    user = body.get("user")
    if not isinstance(user, dict):
        return _missing("user") if user is None else _wrong("user")
    return _required_text(user, "id", "user.id")


def _block_actions(body: dict[str, Any], listeners: Listeners) -> _Problem | None:
    problem = _user(body)
    if problem:
        return problem
    actions = body.get("actions")
    if not isinstance(actions, list) or not actions:
        return _missing("actions") if actions in (None, []) else _wrong("actions")
    for i, action in enumerate(actions):
        if not isinstance(action, dict):
            return _wrong(f"actions[{i}]")
        problem = _required_text(action, "action_id", f"actions[{i}].action_id")
        if problem:
            return problem
        if "value" in action and not isinstance(action["value"], str):
            return _wrong(f"actions[{i}].value")
    # Bolt matches on the first action only.
    if actions[0]["action_id"] not in listeners.actions:
        return _Problem("unknown_action", "actions[0].action_id", echo(actions[0]["action_id"]))
    container = body.get("container")
    if isinstance(container, dict) and not isinstance(container.get("message_ts"), str | None):
        return _wrong("container.message_ts")
    # No response_url is answered by ephemeral or DM (bot/listeners/reply.py), not refused.
    return _required_text(body, "trigger_id", "trigger_id")


def _view_submission(body: dict[str, Any], listeners: Listeners) -> _Problem | None:
    problem = _user(body)
    if problem:
        return problem
    view = body.get("view")
    if not isinstance(view, dict):
        return _missing("view")
    if view.get("type") != "modal":
        # Bolt reads view.type of every submission, and a workflow_step one's body further.
        return _missing("view.type") if "type" not in view else _wrong("view.type")
    problem = _required_text(view, "callback_id", "view.callback_id")
    if problem:
        return problem
    if view["callback_id"] not in listeners.views:
        return _Problem("unknown_view", "view.callback_id", echo(view["callback_id"]))
    if not isinstance(view.get("private_metadata", ""), str):
        return _wrong("view.private_metadata")
    state = view.get("state")
    if not isinstance(state, dict):
        return _missing("view.state") if state is None else _wrong("view.state")
    return _state_values(state.get("values"))


def _state_values(values: object) -> _Problem | None:
    """``view.state.values``: block id → action id → the element's state object."""
    if not isinstance(values, dict):
        return _missing("view.state.values") if values is None else _wrong("view.state.values")
    for block_id, block in values.items():
        if not isinstance(block, dict):
            return _wrong(f"view.state.values.{echo(block_id)}")
        for action_id, element in block.items():
            path = f"view.state.values.{echo(block_id)}.{echo(action_id)}"
            if not isinstance(element, dict):
                return _wrong(path)
            if not isinstance(element.get("value"), str | None):
                return _wrong(f"{path}.value")
    return None
