"""The subset of Slack's Block Kit limits that catches real bugs before production does.

Each problem is reported with a JSON pointer, the way Slack's ``invalid_blocks`` errors are.
"""

from __future__ import annotations

from typing import Any

MESSAGE_TEXT_LIMIT = 40_000
MESSAGE_BLOCK_LIMIT = 50
VIEW_BLOCK_LIMIT = 100

_KNOWN_TYPES = {
    "section", "header", "context", "divider", "actions", "input", "image",
    "rich_text", "markdown", "video", "file", "table",
}  # fmt: skip
_TEXT_TYPES = {"plain_text", "mrkdwn"}


def validate_blocks(blocks: Any, *, limit: int = MESSAGE_BLOCK_LIMIT) -> list[str]:
    if not isinstance(blocks, list):
        return ["blocks must be an array [json-pointer:/blocks]"]
    problems: list[str] = []
    if len(blocks) > limit:
        problems.append(f"no more than {limit} items allowed [json-pointer:/blocks]")
    block_ids: set[str] = set()
    for index, block in enumerate(blocks):
        where = f"/blocks/{index}"
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            problems.append(f"a block must be an object with a type [json-pointer:{where}]")
            continue
        kind = block["type"]
        if kind not in _KNOWN_TYPES:
            problems.append(f"unsupported type: {kind} [json-pointer:{where}/type]")
            continue
        block_id = block.get("block_id")
        if block_id is not None:
            if not isinstance(block_id, str) or not 0 < len(block_id) <= 255:
                problems.append(f"block_id must be 1-255 chars [json-pointer:{where}/block_id]")
            elif block_id in block_ids:
                problems.append(
                    f"block_id {block_id!r} is not unique [json-pointer:{where}/block_id]"
                )
            else:
                block_ids.add(block_id)
        problems += _check_block(kind, block, where)
    return problems


def _check_block(kind: str, block: dict[str, Any], where: str) -> list[str]:
    problems: list[str] = []
    if kind == "section":
        if "text" not in block and "fields" not in block:
            problems.append(f"section needs text or fields [json-pointer:{where}]")
        if "text" in block:
            problems += _check_text(block["text"], f"{where}/text", 3000)
        fields = block.get("fields", [])
        if not isinstance(fields, list) or len(fields) > 10:
            problems.append(f"no more than 10 fields allowed [json-pointer:{where}/fields]")
        else:
            for i, item in enumerate(fields):
                problems += _check_text(item, f"{where}/fields/{i}", 2000)
        accessory = block.get("accessory")
        if isinstance(accessory, dict) and accessory.get("type") == "button":
            problems += _check_button(accessory, f"{where}/accessory")
    elif kind == "header":
        problems += _check_text(block.get("text"), f"{where}/text", 150, plain_only=True)
    elif kind == "context":
        elements = block.get("elements")
        if not isinstance(elements, list) or not 0 < len(elements) <= 10:
            problems.append(f"context needs 1-10 elements [json-pointer:{where}/elements]")
        else:
            for i, element in enumerate(elements):
                if isinstance(element, dict) and element.get("type") in _TEXT_TYPES:
                    problems += _check_text(element, f"{where}/elements/{i}", 3000)
    elif kind == "actions":
        problems += _check_actions(block, where)
    return problems


def _check_actions(block: dict[str, Any], where: str) -> list[str]:
    elements = block.get("elements")
    if not isinstance(elements, list) or not 0 < len(elements) <= 25:
        return [f"actions needs 1-25 elements [json-pointer:{where}/elements]"]
    problems: list[str] = []
    action_ids: set[str] = set()
    for i, element in enumerate(elements):
        if not isinstance(element, dict):
            problems.append(f"an element must be an object [json-pointer:{where}/elements/{i}]")
            continue
        action_id = element.get("action_id")
        if isinstance(action_id, str):
            if action_id in action_ids:
                problems.append(
                    f"action_id {action_id!r} is not unique [json-pointer:{where}/elements/{i}]"
                )
            action_ids.add(action_id)
        if element.get("type") == "button":
            problems += _check_button(element, f"{where}/elements/{i}")
    return problems


def _check_button(button: dict[str, Any], where: str) -> list[str]:
    problems = _check_text(button.get("text"), f"{where}/text", 75, plain_only=True)
    action_id = button.get("action_id")
    if action_id is not None and (not isinstance(action_id, str) or len(action_id) > 255):
        problems.append(
            f"action_id must be a string of at most 255 characters [json-pointer:{where}]"
        )
    value = button.get("value")
    if value is not None and (not isinstance(value, str) or len(value) > 2000):
        problems.append(
            f"value must be a string of at most 2000 characters [json-pointer:{where}/value]"
        )
    style = button.get("style")
    if style is not None and style not in ("primary", "danger"):
        problems.append(f"style must be primary or danger [json-pointer:{where}/style]")
    confirm = button.get("confirm")
    if confirm is not None:
        if not isinstance(confirm, dict):
            problems.append(f"confirm must be an object [json-pointer:{where}/confirm]")
        else:
            for key, limit in (("title", 100), ("text", 300), ("confirm", 30), ("deny", 30)):
                problems += _check_text(confirm.get(key), f"{where}/confirm/{key}", limit)
    return problems


def _check_text(obj: Any, where: str, limit: int, *, plain_only: bool = False) -> list[str]:
    if not isinstance(obj, dict) or obj.get("type") not in _TEXT_TYPES:
        return [f"must be a text object [json-pointer:{where}]"]
    if plain_only and obj["type"] != "plain_text":
        return [f"must be plain_text [json-pointer:{where}/type]"]
    text = obj.get("text")
    if not isinstance(text, str) or not text:
        return [f"must be more than 0 characters [json-pointer:{where}/text]"]
    if len(text) > limit:
        return [f"must be less than {limit + 1} characters [json-pointer:{where}/text]"]
    return []
