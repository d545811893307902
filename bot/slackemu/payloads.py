"""The bodies Slack sends to an app: slash commands, block_actions, view_submission.

Field sets follow Slack's documented payloads (and the samples in bolt-python's tests).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .blockkit import ButtonRef, input_blocks, plain
from .errors import UsageError
from .model import Channel, Ephemeral, JsonDict, Message, User, View
from .workspace import Workspace


def _user(ws: Workspace, user: User) -> JsonDict:
    return {"id": user.id, "username": user.name, "name": user.name, "team_id": ws.team_id}


def _team(ws: Workspace) -> JsonDict:
    return {"id": ws.team_id, "domain": ws.domain}


def slash_command_form(
    ws: Workspace,
    *,
    user: User,
    channel: Channel,
    command: str,
    text: str,
    response_url: str,
    trigger_id: str,
    token: str,
) -> dict[str, str]:
    return {
        "token": token,
        "team_id": ws.team_id,
        "team_domain": ws.domain,
        "channel_id": channel.id,
        "channel_name": "directmessage" if channel.is_im else channel.name,
        "user_id": user.id,
        "user_name": user.name,
        "command": command,
        "text": text,
        "api_app_id": ws.app_id,
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger_id,
    }


def block_actions_payload(
    ws: Workspace,
    *,
    user: User,
    message: Message | Ephemeral,
    button: ButtonRef,
    response_url: str,
    trigger_id: str,
    token: str,
) -> JsonDict:
    channel = ws.directory.channel(message.channel)
    is_ephemeral = isinstance(message, Ephemeral)
    container: JsonDict = {
        "type": "message",
        "message_ts": message.ts,
        "channel_id": channel.id,
        "is_ephemeral": is_ephemeral,
    }
    if message.thread_ts:
        container["thread_ts"] = message.thread_ts
    action: JsonDict = {
        "action_id": button.action_id,
        "block_id": button.block_id,
        "text": button.element.get("text"),
        "type": "button",
        "action_ts": f"{ws.clock():.6f}",
    }
    for key in ("value", "style", "url"):
        if button.element.get(key) is not None:
            action[key] = button.element[key]
    payload: JsonDict = {
        "type": "block_actions",
        "user": _user(ws, user),
        "api_app_id": ws.app_id,
        "token": token,
        "container": container,
        "trigger_id": trigger_id,
        "team": _team(ws),
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel.id, "name": "directmessage" if channel.is_im else channel.name},
        "state": {"values": {}},
        "response_url": response_url,
        "actions": [action],
    }
    if isinstance(message, Message):  # Slack leaves the message out for ephemerals
        payload["message"] = message.to_api(ws.team_id)
    return payload


def view_submission_payload(
    ws: Workspace,
    *,
    user: User,
    view: View,
    values: Mapping[str, Any],
    trigger_id: str,
    token: str,
) -> JsonDict:
    state = view_state(view, values)
    return {
        "type": "view_submission",
        "team": _team(ws),
        "user": _user(ws, user),
        "api_app_id": ws.app_id,
        "token": token,
        "trigger_id": trigger_id,
        "view": view.to_api(ws.team_id, ws.app_id, ws.bot_user.bot_id or "", state),
        "response_urls": [],
        "is_enterprise_install": False,
        "enterprise": None,
    }


def view_state(view: View, values: Mapping[str, Any]) -> JsonDict:
    """``view.state.values`` for the inputs filled in, keyed by action_id or block_id."""
    inputs = input_blocks(view.payload.get("blocks", []))
    known = {key for block_id, el in inputs for key in (block_id, str(el.get("action_id")))}
    unknown = set(values) - known
    if unknown:
        raise UsageError(f"view {view.id} has no input {sorted(unknown)}; inputs: {sorted(known)}")
    state: JsonDict = {}
    for block_id, element in inputs:
        action_id = str(element.get("action_id"))
        given = values.get(action_id, values.get(block_id))
        state.setdefault(block_id, {})[action_id] = _element_state(element, given)
    _check_required(view, state)
    return state


_SELECTED = {
    "users_select": "selected_user",
    "conversations_select": "selected_conversation",
    "channels_select": "selected_channel",
    "datepicker": "selected_date",
    "timepicker": "selected_time",
    "multi_users_select": "selected_users",
    "multi_conversations_select": "selected_conversations",
    "multi_channels_select": "selected_channels",
}


def _element_state(element: JsonDict, given: Any) -> JsonDict:
    kind = str(element.get("type"))
    if kind in ("static_select", "radio_buttons"):
        option = _option(element, given) if given is not None else element.get("initial_option")
        return {"type": kind, "selected_option": option}
    if kind in ("checkboxes", "multi_static_select"):
        if given is None:
            return {"type": kind, "selected_options": element.get("initial_options", [])}
        chosen = [given] if isinstance(given, str) else list(given)
        return {"type": kind, "selected_options": [_option(element, v) for v in chosen]}
    if kind in _SELECTED:
        initial = next((v for k, v in element.items() if k.startswith("initial_")), None)
        return {"type": kind, _SELECTED[kind]: initial if given is None else given}
    value = element.get("initial_value") if given is None else given
    return {"type": kind, "value": None if value is None else str(value)}


def _option(element: JsonDict, wanted: Any) -> JsonDict:
    options = element.get("options", [])
    for option in options:
        if isinstance(option, dict) and wanted in (option.get("value"), plain(option.get("text"))):
            return option
    shown = [o.get("value") for o in options if isinstance(o, dict)]
    raise UsageError(f"{element.get('action_id')}: no option {wanted!r}; options: {shown}")


def _check_required(view: View, state: JsonDict) -> None:
    for block in view.payload.get("blocks", []):
        if not isinstance(block, dict) or block.get("type") != "input" or block.get("optional"):
            continue
        for entry in state.get(str(block.get("block_id")), {}).values():
            filled = [v for k, v in entry.items() if k != "type"]
            if all(v in (None, "", []) for v in filled):
                raise UsageError(
                    f"{plain(block.get('label'))!r} is required: Slack's client would not submit"
                )
