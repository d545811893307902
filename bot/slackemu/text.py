"""Plain-text rendering of Slack messages for a terminal: pure functions, no I/O.

Buttons are numbered in reading order (``[1] Approve  [2] Reject``) so a person at the
console can click by number; :func:`render_conversation` numbers across a whole screen.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .blockkit import ButtonRef, list_buttons, plain
from .model import Blocks, Ephemeral, File, JsonDict, Message

DIVIDER = "─" * 40
_LINK = re.compile(r"<([^<>|]+)(?:\|([^<>]*))?>")


@dataclass(frozen=True)
class Clickable:
    """Screen number → the message and its button (``button.number`` is message-local)."""

    number: int
    message: Message | Ephemeral
    button: ButtonRef


@dataclass(frozen=True)
class Rendered:
    lines: list[str]
    clickables: list[Clickable] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def clickable(self, number: int) -> Clickable | None:
        return next((c for c in self.clickables if c.number == number), None)


def mrkdwn_to_plain(text: str, names: Mapping[str, str] | None = None) -> str:
    """Turn Slack's ``<@U1>``, ``<#C1|x>``, ``<!here>``, ``<url|label>`` and entities readable."""
    names = names or {}

    def link(match: re.Match[str]) -> str:
        target, label = match.group(1), match.group(2)
        if target.startswith("@"):
            return "@" + (label or names.get(target[1:], target[1:]))
        if target.startswith("#"):
            return "#" + (label or names.get(target[1:], target[1:]))
        if target.startswith("!subteam^"):
            group = target.removeprefix("!subteam^")
            return label or "@" + names.get(group, group).removeprefix("@")
        if target.startswith("!date^"):
            return label or target
        if target.startswith("!"):
            return label or "@" + target[1:]
        return f"{label} ({target})" if label and label != target else target

    return html.unescape(_LINK.sub(link, text))


def blocks_to_lines(
    blocks: Blocks, names: Mapping[str, str] | None = None, *, start: int = 1
) -> list[str]:
    """Readable lines for blocks; buttons numbered from ``start``."""
    numbers = {id(b.element): start + i for i, b in enumerate(list_buttons(blocks))}
    lines: list[str] = []
    for block in blocks:
        if isinstance(block, dict):
            lines += _block_lines(block, names or {}, numbers)
    return lines


def _block_lines(block: JsonDict, names: Mapping[str, str], numbers: dict[int, int]) -> list[str]:
    kind = block.get("type")
    if kind == "header":
        return [f"# {plain(block.get('text'))}"]
    if kind == "divider":
        return [DIVIDER]
    if kind == "section":
        lines = _text_lines(block.get("text"), names)
        fields = [_one_line(f, names) for f in _items(block, "fields") if isinstance(f, dict)]
        for i in range(0, len(fields), 2):
            lines.append("    ".join(fields[i : i + 2]))
        accessory = block.get("accessory")
        if isinstance(accessory, dict) and accessory.get("type") != "image":
            lines.append(_element(accessory, names, numbers))
        return lines
    if kind == "context":
        parts = [_context_part(e, names) for e in _items(block, "elements") if isinstance(e, dict)]
        return ["  " + "  ·  ".join(p for p in parts if p)]
    if kind == "actions":
        elements = [e for e in _items(block, "elements") if isinstance(e, dict)]
        return ["  ".join(_element(e, names, numbers) for e in elements)]
    if kind == "input":
        element = block.get("element") if isinstance(block.get("element"), dict) else {}
        return [f"{plain(block.get('label'))}: {_element(element or {}, names, numbers)}"]
    if kind == "image":
        return [f"[image: {block.get('alt_text', '')}]"]
    if kind in ("rich_text", "markdown"):
        return mrkdwn_to_plain(_rich_text(block), names).splitlines() or [""]
    return [f"[{kind}]"]


def _items(block: JsonDict, key: str) -> list[Any]:
    value = block.get(key)
    return value if isinstance(value, list) else []


def _text_lines(obj: Any, names: Mapping[str, str]) -> list[str]:
    if not isinstance(obj, dict):
        return []
    text = plain(obj)
    if obj.get("type") == "mrkdwn":
        text = mrkdwn_to_plain(text, names)
    return text.splitlines()


def _one_line(obj: JsonDict, names: Mapping[str, str]) -> str:
    return " ".join(line.strip() for line in _text_lines(obj, names) if line.strip())


def _context_part(element: JsonDict, names: Mapping[str, str]) -> str:
    if element.get("type") == "image":
        return f"[{element.get('alt_text', 'image')}]"
    return _one_line(element, names)


def _element(element: JsonDict, names: Mapping[str, str], numbers: dict[int, int]) -> str:
    kind = element.get("type")
    if kind == "button":
        label = plain(element.get("text"))
        number = numbers.get(id(element))
        suffix = " ↗" if element.get("url") else ("…" if element.get("confirm") else "")
        return f"[{number}] {label}{suffix}" if number else f"[{label}]{suffix}"
    placeholder = plain(element.get("placeholder"))
    initial = element.get("initial_option") or element.get("initial_value") or ""
    shown = plain(initial.get("text")) if isinstance(initial, dict) else str(initial)
    return f"<{kind}: {shown or placeholder or '…'}>"


def _rich_text(node: Any) -> str:
    if isinstance(node, dict):
        if node.get("type") == "markdown":
            return str(node.get("text", ""))
        if "text" in node and isinstance(node["text"], str):
            return node["text"]
        if node.get("type") == "user":
            return f"<@{node.get('user_id', '')}>"
        if node.get("type") == "link":
            return str(node.get("url", ""))
        return _rich_text(node.get("elements", []))
    if isinstance(node, list):
        return "".join(_rich_text(n) for n in node)
    return ""


def render_message(
    message: Message | Ephemeral,
    names: Mapping[str, str] | None = None,
    *,
    start: int = 1,
    tz: dt.tzinfo = dt.UTC,
) -> Rendered:
    """A header line (who, when, edited/ephemeral marks) and the body, buttons from ``start``."""
    names = names or {}
    when = dt.datetime.fromtimestamp(float(message.ts), tz).strftime("%H:%M:%S")
    if isinstance(message, Ephemeral):
        head = f"{when}  (only visible to {names.get(message.user, message.user)})"
    else:
        head = f"{names.get(message.user, message.user)}  {when}"
        if message.edited_ts:
            head += "  (edited)"
        if message.deleted:
            head += "  (deleted)"
    if message.blocks:
        body = blocks_to_lines(message.blocks, names, start=start)
    else:
        body = mrkdwn_to_plain(message.text, names).splitlines()
    if isinstance(message, Message):
        body += [_file_line(f) for f in message.files]
    if isinstance(message, Message) and message.reply_count and not message.is_reply:
        replies = "reply" if message.reply_count == 1 else "replies"
        body.append(f"  ↳ {message.reply_count} {replies}")
    clickables = [Clickable(start + b.number - 1, message, b) for b in list_buttons(message.blocks)]
    return Rendered([head] + ["  " + line for line in body], clickables)


def _file_line(file: File) -> str:
    size = f"{file.length / 1024:.0f} KB" if file.length >= 1024 else f"{file.length} B"
    title = file.title or file.name
    shown = title if title == file.name else f"{title} ({file.name})"
    return f"[file] {shown}, {file.mimetype}, {size}"


def render_conversation(
    messages: Sequence[Message | Ephemeral],
    names: Mapping[str, str] | None = None,
    *,
    tz: dt.tzinfo = dt.UTC,
) -> Rendered:
    """Messages one after another, buttons numbered across the whole screen."""
    lines: list[str] = []
    clickables: list[Clickable] = []
    for message in messages:
        rendered = render_message(message, names, start=len(clickables) + 1, tz=tz)
        if lines:
            lines.append("")
        lines += rendered.lines
        clickables += rendered.clickables
    return Rendered(lines, clickables)


def searchable_text(message: Message | Ephemeral, names: Mapping[str, str] | None = None) -> str:
    """The fallback text plus everything the blocks show, for "contains" matching."""
    files = [_file_line(f) for f in message.files] if isinstance(message, Message) else []
    return "\n".join([message.text, *blocks_to_lines(message.blocks, names), *files])
