"""Web API arguments as Slack reads them: form fields, query string or a JSON body."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from typing import Any, TypeVar
from urllib.parse import parse_qsl

from .errors import SlackError
from .model import Blocks, JsonDict

T = TypeVar("T")


def missing(name: str) -> SlackError:
    return SlackError(
        "invalid_arguments",
        f"missing required field: {name}",
        extra={"response_metadata": {"messages": [f"[ERROR] missing required field: {name}"]}},
    )


class Params:
    def __init__(self, data: JsonDict):
        self.data = data

    def required(self, name: str, *, error: str | None = None) -> str:
        value = self.optional(name)
        if not value:
            raise SlackError(error, f"{name} is required") if error else missing(name)
        return value

    def optional(self, name: str) -> str | None:
        value = self.data.get(name)
        if value is None:
            return None
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (dict, list)):
            raise SlackError("invalid_arguments", f"{name} must be a string")
        return str(value)

    def flag(self, name: str, default: bool = False) -> bool:
        value = self.data.get(name)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            return value
        return str(value).strip().lower() in ("1", "true", "yes")

    def number(self, name: str, default: int, *, low: int = 0, high: int = 1000) -> int:
        value = self.data.get(name)
        if value is None or value == "":
            return default
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise SlackError("invalid_arguments", f"{name} must be an integer") from None
        return max(low, min(high, number))

    def blocks(self, name: str = "blocks") -> Blocks | None:
        """Blocks arrive as a JSON array in a JSON body, or as a JSON string in a form."""
        value = self._json(name, list, "a JSON array", "invalid_blocks_format")
        return value if value is None else list(value)

    def json_array(self, name: str, *, error: str = "invalid_arguments") -> list[Any] | None:
        value = self._json(name, list, "a JSON array", error)
        return value if value is None else list(value)

    def json_object(self, name: str) -> JsonDict | None:
        value = self._json(name, dict, "a JSON object", "invalid_arguments")
        return value if value is None else dict(value)

    def _json(self, name: str, kind: type, what: str, error: str) -> Any:
        """A JSON value given as itself (JSON body) or as a JSON string (form body)."""
        value = self.data.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                raise SlackError(error, f"{name} is not valid JSON") from None
        if not isinstance(value, kind):
            raise SlackError(error, f"{name} must be {what}")
        return value


def paginate(items: Sequence[T], params: Params, *, default_limit: int) -> tuple[list[T], str]:
    """Cursor pagination as Slack does it: an opaque cursor, "" when there is no more."""
    limit = params.number("limit", default_limit, low=0, high=1000) or default_limit
    cursor = params.optional("cursor") or ""
    offset = _decode_cursor(cursor) if cursor else 0
    page = list(items[offset : offset + limit])
    more = offset + limit < len(items)
    return page, _encode_cursor(offset + limit) if more else ""


def _encode_cursor(offset: int) -> str:
    return base64.b64encode(f"offset:{offset}".encode()).decode()


def _decode_cursor(cursor: str) -> int:
    try:
        kind, _, number = base64.b64decode(cursor, validate=True).decode().partition(":")
        if kind == "offset" and number.isdigit():
            return int(number)
    except (binascii.Error, UnicodeDecodeError):
        pass
    raise SlackError("invalid_cursor", f"cursor {cursor!r} is not one this API returned")


def parse_body(content_type: str, raw: bytes) -> JsonDict:
    """Decode a request body; raises SlackError("invalid_json"/"invalid_form_data")."""
    if not raw:
        return {}
    if content_type.startswith("application/json"):
        try:
            data: Any = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise SlackError("invalid_json", "the JSON body could not be parsed") from None
        if not isinstance(data, dict):
            raise SlackError("invalid_json", "the JSON body must be an object")
        return data
    try:
        return dict(parse_qsl(raw.decode(), keep_blank_values=True))
    except UnicodeDecodeError:
        raise SlackError("invalid_form_data", "the form body is not UTF-8") from None
