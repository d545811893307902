"""Plain values that make up the emulated workspace: people, places, messages, views.

Every value is frozen: readers get snapshots they can keep (an old version of a card stays
as it was), and the workspace swaps in a new value on every change.
"""

from __future__ import annotations

import copy
import mimetypes
from dataclasses import dataclass, field
from typing import Any, Literal

JsonDict = dict[str, Any]
Blocks = list[JsonDict]


@dataclass(frozen=True)
class User:
    id: str
    name: str
    real_name: str = ""
    is_bot: bool = False
    bot_id: str | None = None
    tz: str = "UTC"
    deleted: bool = False

    def to_api(self, team_id: str) -> JsonDict:
        real_name = self.real_name or self.name
        data: JsonDict = {
            "id": self.id,
            "team_id": team_id,
            "name": self.name,
            "deleted": self.deleted,
            "real_name": real_name,
            "tz": self.tz,
            "is_bot": self.is_bot,
            "is_app_user": False,
            "profile": {
                "real_name": real_name,
                "display_name": self.name,
                "team": team_id,
            },
        }
        if self.bot_id:
            data["profile"]["bot_id"] = self.bot_id
        return data


@dataclass(frozen=True)
class UserGroup:
    id: str
    handle: str
    name: str = ""
    users: tuple[str, ...] = ()

    def to_api(self, team_id: str, *, include_users: bool = False) -> JsonDict:
        data: JsonDict = {
            "id": self.id,
            "team_id": team_id,
            "is_usergroup": True,
            "name": self.name or self.handle,
            "handle": self.handle,
            "user_count": len(self.users),
        }
        if include_users:
            data["users"] = list(self.users)
        return data


@dataclass(frozen=True)
class Channel:
    id: str
    name: str
    is_private: bool = False
    is_im: bool = False
    im_user: str | None = None
    is_archived: bool = False
    bot_is_member: bool = True
    topic: str = ""
    purpose: str = ""

    @property
    def api_type(self) -> str:
        if self.is_im:
            return "im"
        return "private_channel" if self.is_private else "public_channel"

    def to_api(self) -> JsonDict:
        if self.is_im:
            return {"id": self.id, "is_im": True, "user": self.im_user, "created": 0}
        return {
            "id": self.id,
            "name": self.name,
            "name_normalized": self.name,
            "is_channel": not self.is_private,
            "is_group": self.is_private,
            "is_im": False,
            "is_mpim": False,
            "is_private": self.is_private,
            "is_archived": self.is_archived,
            "is_member": self.bot_is_member,
            "created": 0,
            "topic": {"value": self.topic, "creator": "", "last_set": 0},
            "purpose": {"value": self.purpose, "creator": "", "last_set": 0},
        }


@dataclass(frozen=True)
class MessageVersion:
    """What a message said before an edit replaced it."""

    text: str
    blocks: Blocks
    replaced_at: str
    """The ts-style time of the edit that replaced this version."""


@dataclass(frozen=True)
class File:
    """A file uploaded the external way: files.getUploadURLExternal, a POST of its bytes to the
    upload URL, files.completeUploadExternal. ``content`` is None until the bytes arrived; a
    file is only in a channel once completed and shared."""

    id: str
    name: str
    length: int
    user: str
    created: int
    title: str = ""
    alt_txt: str | None = None
    content: bytes | None = None
    completed: bool = False
    shares: tuple[tuple[str, str], ...] = ()
    """(channel, ts of the message that shares it), oldest first."""

    @property
    def mimetype(self) -> str:
        if self.content is not None and self.content.startswith(b"\x89PNG\r\n\x1a\n"):
            return "image/png"
        return mimetypes.guess_type(self.name)[0] or "application/octet-stream"

    @property
    def filetype(self) -> str:
        suffix = self.name.rpartition(".")[2].lower() if "." in self.name else ""
        return "png" if self.mimetype == "image/png" else suffix or "binary"

    def to_api(self, team_id: str) -> JsonDict:
        data: JsonDict = {
            "id": self.id,
            "created": self.created,
            "timestamp": self.created,
            "name": self.name,
            "title": self.title or self.name,
            "mimetype": self.mimetype,
            "filetype": self.filetype,
            "user": self.user,
            "user_team": team_id,
            "size": self.length,
            "mode": "hosted",
            "is_external": False,
            "url_private": f"https://files.slack.com/files-pri/{team_id}-{self.id}/{self.name}",
            "channels": list(dict.fromkeys(channel for channel, _ in self.shares)),
        }
        if self.alt_txt:
            data["alt_txt"] = self.alt_txt
        return data


@dataclass(frozen=True)
class Message:
    channel: str
    ts: str
    user: str
    text: str
    blocks: Blocks = field(default_factory=list)
    thread_ts: str | None = None
    """The parent's ts for a reply; equal to ``ts`` on a parent once it has replies."""
    reply_count: int = 0
    reply_users: tuple[str, ...] = ()
    latest_reply: str | None = None
    bot_id: str | None = None
    app_id: str | None = None
    reply_broadcast: bool = False
    edited_ts: str | None = None
    edited_by: str | None = None
    history: tuple[MessageVersion, ...] = ()
    deleted: bool = False
    metadata: JsonDict | None = None
    files: tuple[File, ...] = ()
    """Files this message shares (files.completeUploadExternal), as they were when shared."""

    @property
    def is_reply(self) -> bool:
        return self.thread_ts is not None and self.thread_ts != self.ts

    def to_api(self, team_id: str) -> JsonDict:
        data: JsonDict = {"type": "message", "user": self.user, "text": self.text, "ts": self.ts}
        data["team"] = team_id
        if self.bot_id:
            data["bot_id"] = self.bot_id
            data["app_id"] = self.app_id
        if self.blocks:
            data["blocks"] = copy.deepcopy(self.blocks)
        if self.thread_ts:
            data["thread_ts"] = self.thread_ts
        if self.reply_count and not self.is_reply:
            data["reply_count"] = self.reply_count
            data["reply_users"] = list(self.reply_users)
            data["reply_users_count"] = len(self.reply_users)
            data["latest_reply"] = self.latest_reply
        if self.is_reply and self.reply_broadcast:
            data["subtype"] = "thread_broadcast"
        if self.edited_ts:
            data["edited"] = {"user": self.edited_by or self.user, "ts": self.edited_ts}
        if self.metadata:
            data["metadata"] = copy.deepcopy(self.metadata)
        if self.files:
            data["files"] = [f.to_api(team_id) for f in self.files]
            data["upload"] = True
            data["display_as_bot"] = False
        return data


EphemeralSource = Literal["api", "response_url", "command_response", "slack"]


@dataclass(frozen=True)
class Ephemeral:
    """A message only ``user`` sees, in ``channel`` (optionally in a thread)."""

    channel: str
    user: str
    ts: str
    text: str
    blocks: Blocks = field(default_factory=list)
    thread_ts: str | None = None
    source: EphemeralSource = "api"
    deleted: bool = False
    history: tuple[MessageVersion, ...] = ()

    def to_api(self) -> JsonDict:
        data: JsonDict = {"type": "message", "text": self.text, "ts": self.ts}
        if self.blocks:
            data["blocks"] = copy.deepcopy(self.blocks)
        return data


@dataclass(frozen=True)
class View:
    """A modal opened by views.open (or pushed); ``payload`` is the view as the app sent it."""

    id: str
    user: str
    payload: JsonDict
    hash: str
    is_open: bool = True
    external_id: str | None = None
    root_view_id: str | None = None
    previous_view_id: str | None = None
    errors: dict[str, str] = field(default_factory=dict)
    """Per-block errors from the app's last ``response_action: errors``."""

    @property
    def callback_id(self) -> str:
        return str(self.payload.get("callback_id", ""))

    @property
    def private_metadata(self) -> str:
        return str(self.payload.get("private_metadata", ""))

    def to_api(
        self, team_id: str, app_id: str, bot_id: str, state: JsonDict | None = None
    ) -> JsonDict:
        payload = copy.deepcopy(self.payload)
        return {
            "id": self.id,
            "team_id": team_id,
            "type": payload.get("type", "modal"),
            "blocks": payload.get("blocks", []),
            "private_metadata": payload.get("private_metadata", ""),
            "callback_id": payload.get("callback_id", ""),
            "state": {"values": state or {}},
            "hash": self.hash,
            "title": payload.get("title"),
            "clear_on_close": bool(payload.get("clear_on_close", False)),
            "notify_on_close": bool(payload.get("notify_on_close", False)),
            "close": payload.get("close"),
            "submit": payload.get("submit"),
            "previous_view_id": self.previous_view_id,
            "root_view_id": self.root_view_id or self.id,
            "app_id": app_id,
            "external_id": self.external_id or "",
            "app_installed_team_id": team_id,
            "bot_id": bot_id,
        }


@dataclass(frozen=True)
class ApiCall:
    """One Web API call the app made, as the emulator answered it."""

    seq: int
    method: str
    params: JsonDict
    status: int
    ok: bool
    error: str | None
    at: float
    response: JsonDict


@dataclass(frozen=True)
class ResponsePost:
    """One POST to a response_url, and how the emulator answered it."""

    url_id: str
    payload: JsonDict
    status: int
    result: str
    at: float


ChangeKind = Literal[
    "message",
    "edit",
    "delete",
    "ephemeral",
    "ephemeral_replace",
    "ephemeral_delete",
    "view_open",
    "view_update",
    "view_close",
]


@dataclass(frozen=True)
class Change:
    """One thing that happened in the workspace; ``wait_for`` predicates look at these."""

    seq: int
    kind: ChangeKind
    channel: str | None = None
    message: Message | None = None
    ephemeral: Ephemeral | None = None
    view: View | None = None

    @property
    def text(self) -> str:
        if self.message is not None:
            return self.message.text
        if self.ephemeral is not None:
            return self.ephemeral.text
        return ""

    @property
    def blocks(self) -> Blocks:
        if self.message is not None:
            return self.message.blocks
        if self.ephemeral is not None:
            return self.ephemeral.blocks
        if self.view is not None:
            blocks: Blocks = self.view.payload.get("blocks", [])
            return blocks
        return []

    @property
    def ts(self) -> str | None:
        if self.message is not None:
            return self.message.ts
        if self.ephemeral is not None:
            return self.ephemeral.ts
        return None

    @property
    def thread_ts(self) -> str | None:
        if self.message is not None:
            return self.message.thread_ts
        if self.ephemeral is not None:
            return self.ephemeral.thread_ts
        return None

    @property
    def user(self) -> str | None:
        """Who sees it (ephemeral, view) or who posted it (message)."""
        if self.ephemeral is not None:
            return self.ephemeral.user
        if self.view is not None:
            return self.view.user
        if self.message is not None:
            return self.message.user
        return None
