"""What Slack does with a message sent to a response_url (or returned in a command's ack).

- ``delete_original``: the message the interaction came from disappears.
- ``replace_original``: it is replaced in place (a channel message keeps its ts: an edit).
- otherwise a new message: ephemeral to the user who acted (the default), or ``in_channel``.
A response_url works five times within thirty minutes.
"""

from __future__ import annotations

from typing import Any

from .errors import SlackError
from .interactions import ResponseTarget
from .model import EphemeralSource, JsonDict
from .validation import MESSAGE_TEXT_LIMIT, validate_blocks
from .workspace import Workspace

MAX_USES = 5
LIFETIME = 30 * 60.0


def post_to_response_url(ws: Workspace, target: ResponseTarget, payload: Any) -> tuple[int, str]:
    """Apply one POST; returns Slack's HTTP status and plain-text body ("ok" or an error)."""
    if not isinstance(payload, dict):
        return 400, "invalid_payload"
    if ws.clock() - target.created_at > LIFETIME:
        return 404, "expired_url"
    if target.uses >= MAX_USES:
        return 404, "used_url"
    target.uses += 1
    return apply_message_payload(ws, target, payload, source="response_url")


def apply_message_payload(
    ws: Workspace, target: ResponseTarget, payload: JsonDict, *, source: EphemeralSource
) -> tuple[int, str]:
    if _truthy(payload.get("delete_original")):
        _delete_original(ws, target)
        return 200, "ok"
    text = payload.get("text")
    blocks = payload.get("blocks")
    if text is not None and not isinstance(text, str):
        return 400, "invalid_payload"
    if not text and not blocks:
        return 400, "no_text"
    if len(text or "") > MESSAGE_TEXT_LIMIT:
        return 400, "msg_too_long"
    if blocks is not None and validate_blocks(blocks):
        return 400, "invalid_blocks"
    text = text or ""
    if _truthy(payload.get("replace_original")) and _replace_original(ws, target, text, blocks):
        return 200, "ok"
    if target.channel is None:
        return 404, "no_channel"
    thread_ts = payload.get("thread_ts") or target.thread_ts
    try:
        if payload.get("response_type") == "in_channel":
            message = ws.post_message(target.channel, text, blocks, thread_ts=thread_ts)
            if target.kind == "command":
                target.original_ts, target.original_ephemeral = message.ts, None
        else:
            ephemeral = ws.post_ephemeral(
                target.channel, target.user, text, blocks, thread_ts=thread_ts, source=source
            )
            if target.kind == "command":
                target.original_ts, target.original_ephemeral = None, ephemeral
    except SlackError as exc:
        return 404, exc.code
    return 200, "ok"


def _replace_original(
    ws: Workspace, target: ResponseTarget, text: str, blocks: list[JsonDict] | None
) -> bool:
    original = target.original_ephemeral
    if original is not None:
        current = ws.ephemeral_store.find(original.channel, original.user, original.ts)
        if current is not None:
            target.original_ephemeral = ws.ephemeral_store.replace(current, text, blocks)
            return True
    channel, ts = target.channel, target.original_ts
    if channel is not None and ts is not None and ws.find_message(channel, ts) is not None:
        ws.update_message(channel, ts, text=text, blocks=blocks or [])
        return True
    return False


def _delete_original(ws: Workspace, target: ResponseTarget) -> None:
    original = target.original_ephemeral
    if original is not None:
        if ws.ephemeral_store.find(original.channel, original.user, original.ts) is not None:
            ws.ephemeral_store.delete(original)
        return
    channel, ts = target.channel, target.original_ts
    if channel is not None and ts is not None and ws.find_message(channel, ts) is not None:
        ws.delete_message(channel, ts)


def _truthy(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() in ("true", "1"))
