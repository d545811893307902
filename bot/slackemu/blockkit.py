"""Block Kit as Slack's client sees it: assigning missing IDs, finding buttons and inputs."""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .errors import ButtonNotFound
from .model import Blocks, JsonDict


@dataclass(frozen=True)
class ButtonRef:
    """A button as a person sees it, numbered from 1 in reading order within one message."""

    number: int
    label: str
    action_id: str
    block_id: str
    value: str | None
    style: str | None
    url: str | None
    confirm: JsonDict | None
    element: JsonDict


def with_ids(blocks: list[Any]) -> Blocks:
    """A copy with the block_id/action_id Slack fills in when the app leaves them out."""
    out = copy.deepcopy(blocks)
    for index, block in enumerate(out):
        if not isinstance(block, dict):
            continue
        if not block.get("block_id"):
            block["block_id"] = _short_id("b", index, block)
        for position, element in enumerate(_interactive_elements(block)):
            if not element.get("action_id"):
                element["action_id"] = _short_id("a", position, element)
    return out


def _short_id(prefix: str, index: int, obj: object) -> str:
    digest = hashlib.sha1(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:5]
    return f"{prefix}{index}{digest}"


def _interactive_elements(block: JsonDict) -> Iterator[JsonDict]:
    elements = block.get("elements") if block.get("type") == "actions" else None
    if isinstance(elements, list):
        yield from (e for e in elements if isinstance(e, dict))
    for key in ("accessory", "element"):
        element = block.get(key)
        if isinstance(element, dict) and element.get("type") not in (None, "image"):
            yield element


def list_buttons(blocks: list[Any]) -> list[ButtonRef]:
    """Every button (actions elements and section accessories) in reading order."""
    found: list[ButtonRef] = []
    for block in blocks:
        if not isinstance(block, dict):
            continue
        for element in _interactive_elements(block):
            if element.get("type") != "button":
                continue
            found.append(
                ButtonRef(
                    number=len(found) + 1,
                    label=plain(element.get("text")),
                    action_id=str(element.get("action_id", "")),
                    block_id=str(block.get("block_id", "")),
                    value=_opt_str(element.get("value")),
                    style=_opt_str(element.get("style")),
                    url=_opt_str(element.get("url")),
                    confirm=element.get("confirm")
                    if isinstance(element.get("confirm"), dict)
                    else None,
                    element=element,
                )
            )
    return found


def find_button(blocks: list[Any], ref: str | int) -> ButtonRef:
    """By number (1-based), exact visible label, action_id, or label ignoring case."""
    buttons = list_buttons(blocks)
    if isinstance(ref, int):
        if 1 <= ref <= len(buttons):
            return buttons[ref - 1]
        raise ButtonNotFound(f"no button [{ref}]; {_describe(buttons)}")
    for matches in (
        [b for b in buttons if b.label == ref],
        [b for b in buttons if b.action_id == ref],
        [b for b in buttons if b.label.strip().casefold() == ref.strip().casefold()],
    ):
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise ButtonNotFound(
                f"{len(matches)} buttons match {ref!r}; use a number. {_describe(buttons)}"
            )
    raise ButtonNotFound(f"no button {ref!r}; {_describe(buttons)}")


def _describe(buttons: list[ButtonRef]) -> str:
    if not buttons:
        return "the message has no buttons"
    return "buttons: " + "  ".join(f"[{b.number}] {b.label} ({b.action_id})" for b in buttons)


def input_blocks(view_blocks: list[Any]) -> list[tuple[str, JsonDict]]:
    """(block_id, element) for every input block of a modal."""
    return [
        (str(b.get("block_id", "")), b["element"])
        for b in view_blocks
        if isinstance(b, dict) and b.get("type") == "input" and isinstance(b.get("element"), dict)
    ]


def plain(obj: Any) -> str:
    """The text of a text object (plain_text or mrkdwn), or of a bare string."""
    if isinstance(obj, dict):
        return str(obj.get("text", ""))
    return "" if obj is None else str(obj)


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)
