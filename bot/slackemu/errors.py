"""Typed errors raised by the Slack workspace emulator."""

from __future__ import annotations


class EmulatorError(Exception):
    """Base class of every error the emulator raises on purpose."""


class SlackError(EmulatorError):
    """A Slack Web API error: ``code`` is what Slack puts in ``{"ok": false, "error": ...}``."""

    def __init__(self, code: str, detail: str = "", *, extra: dict[str, object] | None = None):
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail
        self.extra: dict[str, object] = dict(extra or {})


class UsageError(EmulatorError, ValueError):
    """The caller (a test, the console) asked the emulator for something impossible."""


class ButtonNotFound(EmulatorError, LookupError):
    """No button in the message matches the label, action_id or number asked for."""


class ConfirmationRequired(EmulatorError):
    """The button has a ``confirm`` dialog: the click is only sent with ``confirm=True``."""

    def __init__(self, label: str, dialog: dict[str, object]):
        title = _plain(dialog.get("title"))
        text = _plain(dialog.get("text"))
        super().__init__(f"button {label!r} asks for confirmation: {title} {text}".strip())
        self.label = label
        self.dialog = dialog
        self.title = title
        self.text = text


class WaitTimeout(EmulatorError, TimeoutError):
    """Nothing matching arrived in time; the message lists what was seen instead."""


def _plain(obj: object) -> str:
    if isinstance(obj, dict):
        return str(obj.get("text", ""))
    return "" if obj is None else str(obj)
