"""The emulated Slack workspace: directory, channel contents, ephemerals, modals, logs.

All mutation is synchronous and records a :class:`Change`; ``wait_for``/``wait_until``
let async callers await the state they expect instead of sleeping.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Sequence
from typing import TypeVar

from .blockkit import with_ids
from .clock import Clock, TsFactory, system_clock, ts_key
from .directory import Directory
from .ephemerals import EphemeralStore
from .errors import SlackError
from .feed import ChangeFeed
from .files import FileStore
from .matchers import ephemeral_to, message_in
from .model import (
    ApiCall,
    Blocks,
    Change,
    ChangeKind,
    Channel,
    Ephemeral,
    EphemeralSource,
    File,
    JsonDict,
    Message,
    MessageVersion,
    ResponsePost,
    User,
    UserGroup,
)
from .views import ViewStore

T = TypeVar("T")


class Workspace:
    def __init__(
        self,
        *,
        team_id: str = "T0DEPLOY",
        team_name: str = "Deploybot Demo",
        domain: str = "deploybot-demo",
        bot_user: User | None = None,
        app_id: str = "A0DEPLOYBOT",
        clock: Clock = system_clock,
    ):
        self.team_id = team_id
        self.team_name = team_name
        self.domain = domain
        self.app_id = app_id
        self.clock = clock
        self.ts = TsFactory(clock)
        self.directory = Directory()
        self.feed = ChangeFeed()
        self.bot_user = self.directory.add_user(
            bot_user
            or User("U0DEPLOYBOT", "deploybot", "Deploybot", is_bot=True, bot_id="B0DEPLOYBOT")
        )
        self.views = ViewStore(self.feed, clock)
        self.calls: list[ApiCall] = []
        self.response_posts: list[ResponsePost] = []
        self._messages: dict[str, dict[str, Message]] = {}
        self.ephemeral_store = EphemeralStore(self.directory, self.feed, self.ts)
        self.files = FileStore(self.feed, clock)

    # -- directory -----------------------------------------------------------------------
    def add_user(
        self, user_id: str, name: str, real_name: str = "", *, is_bot: bool = False
    ) -> User:
        return self.directory.add_user(User(user_id, name, real_name or name.title(), is_bot))

    def add_channel(
        self,
        channel_id: str,
        name: str,
        *,
        is_private: bool = False,
        is_archived: bool = False,
        bot_is_member: bool = True,
    ) -> Channel:
        channel = Channel(
            channel_id,
            name.removeprefix("#"),
            is_private=is_private,
            is_archived=is_archived,
            bot_is_member=bot_is_member,
        )
        return self.directory.add_channel(channel)

    def add_usergroup(
        self, group_id: str, handle: str, members: list[str], name: str = ""
    ) -> UserGroup:
        ids = tuple(self.directory.user(m).id for m in members)
        return self.directory.add_usergroup(UserGroup(group_id, handle, name or handle, ids))

    def user(self, ref: str) -> User:
        return self.directory.user(ref)

    def channel(self, ref: str) -> Channel:
        return self.directory.channel(ref)

    def usergroup(self, ref: str) -> UserGroup:
        return self.directory.usergroup(ref)

    def names(self) -> dict[str, str]:
        """ID → display name for users, channels and groups, for the text renderer."""
        out = {u.id: u.name for u in self.directory.users}
        out.update({c.id: c.name for c in self.directory.channels})
        out.update({g.id: "@" + g.handle for g in self.directory.usergroups})
        return out

    # -- messages ------------------------------------------------------------------------
    def post_message(
        self,
        channel: str,
        text: str,
        blocks: Blocks | None = None,
        *,
        user: str | None = None,
        thread_ts: str | None = None,
        reply_broadcast: bool = False,
        metadata: JsonDict | None = None,
        files: tuple[File, ...] = (),
    ) -> Message:
        """Post as ``user`` (default: the bot) to a channel ID, ``#name`` or a user's DM."""
        target = self.directory.resolve_post_target(channel)
        author = self.directory.user(user) if user else self.bot_user
        store = self._messages.setdefault(target.id, {})
        parent = None
        if thread_ts is not None:
            parent = store.get(thread_ts)
            if parent is None or parent.deleted:
                raise SlackError("thread_not_found", f"no message {thread_ts} in {target.id}")
            if parent.is_reply and parent.thread_ts is not None:
                parent = store[parent.thread_ts]
        message = Message(
            channel=target.id,
            ts=self.ts.next(),
            user=author.id,
            text=text,
            blocks=with_ids(blocks or []),
            thread_ts=parent.ts if parent else None,
            bot_id=author.bot_id,
            app_id=self.app_id if author.bot_id else None,
            reply_broadcast=reply_broadcast and parent is not None,
            metadata=copy.deepcopy(metadata) if metadata else None,
            files=files,
        )
        store[message.ts] = message
        if parent is not None:
            store[parent.ts] = dataclasses.replace(
                parent,
                thread_ts=parent.ts,
                reply_count=parent.reply_count + 1,
                reply_users=tuple(dict.fromkeys((*parent.reply_users, author.id))),
                latest_reply=message.ts,
            )
        self._record("message", target.id, message=message)
        return message

    def share_files(
        self,
        channel: str,
        files: Sequence[File],
        *,
        text: str = "",
        thread_ts: str | None = None,
        user: str | None = None,
    ) -> Message:
        """What files.completeUploadExternal does with a channel: one message with the files."""
        message = self.post_message(
            channel, text, user=user, thread_ts=thread_ts, files=tuple(files)
        )
        for file in files:
            self.files.shared(file.id, message.channel, message.ts)
        return message

    def shared_files(self, channel: str, *, thread_ts: str | None = None) -> list[File]:
        """Files shared in the channel (or only in that thread), oldest first, with bytes."""
        messages = (
            self.thread(channel, thread_ts)
            if thread_ts
            else self.messages(channel, include_replies=True)
        )
        return [file for message in messages for file in message.files]

    def update_message(
        self,
        channel: str,
        ts: str,
        *,
        text: str | None = None,
        blocks: Blocks | None = None,
        by: str | None = None,
    ) -> Message:
        """chat.update: same ts, new text/blocks (None keeps them), old version kept in history."""
        old = self.message(channel, ts)
        editor = self.directory.user(by).id if by else self.bot_user.id
        edited_ts = self.ts.next()
        new = dataclasses.replace(
            old,
            text=old.text if text is None else text,
            blocks=old.blocks if blocks is None else with_ids(blocks),
            edited_ts=edited_ts,
            edited_by=editor,
            history=(*old.history, MessageVersion(old.text, old.blocks, edited_ts)),
        )
        self._messages[new.channel][ts] = new
        self._record("edit", new.channel, message=new)
        return new

    def delete_message(self, channel: str, ts: str) -> Message:
        gone = dataclasses.replace(self.message(channel, ts), deleted=True)
        self._messages[gone.channel][ts] = gone
        self._record("delete", gone.channel, message=gone)
        return gone

    def find_message(self, channel: str, ts: str) -> Message | None:
        target = self.directory.find_channel(channel)
        if target is None:
            return None
        found = self._messages.get(target.id, {}).get(ts)
        return None if found is None or found.deleted else found

    def message(self, channel: str, ts: str) -> Message:
        found = self.find_message(self.directory.channel(channel).id, ts)
        if found is None:
            raise SlackError("message_not_found", f"no message {ts} in {channel}")
        return found

    def messages(self, channel: str, *, include_replies: bool = False) -> list[Message]:
        """The channel as people see it, oldest first (replies only if broadcast or asked)."""
        store = self._messages.get(self.directory.channel(channel).id, {})
        return [
            m
            for m in sorted(store.values(), key=lambda m: ts_key(m.ts))
            if not m.deleted and (include_replies or not m.is_reply or m.reply_broadcast)
        ]

    def thread(self, channel: str, ts: str) -> list[Message]:
        """Like conversations.replies: the parent first, then its replies oldest first."""
        parent = self.message(channel, ts)
        root = parent.thread_ts if parent.is_reply and parent.thread_ts else parent.ts
        store = self._messages[parent.channel]
        replies = [
            m for m in store.values() if m.thread_ts == root and m.ts != root and not m.deleted
        ]
        return [store[root], *sorted(replies, key=lambda m: ts_key(m.ts))]

    def last_message(self, channel: str, *, thread_ts: str | None = None) -> Message | None:
        listed = self.thread(channel, thread_ts)[1:] if thread_ts else self.messages(channel)
        return listed[-1] if listed else None

    # -- ephemerals ----------------------------------------------------------------------
    def post_ephemeral(
        self,
        channel: str,
        user: str,
        text: str,
        blocks: Blocks | None = None,
        *,
        thread_ts: str | None = None,
        source: EphemeralSource = "api",
    ) -> Ephemeral:
        """A message only ``user`` sees, in a channel (or a thread of it)."""
        return self.ephemeral_store.post(
            channel, user, text, blocks, thread_ts=thread_ts, source=source
        )

    def ephemerals(self, user: str | None = None, channel: str | None = None) -> list[Ephemeral]:
        """Ephemerals still shown, oldest first, optionally for one user and/or channel."""
        return self.ephemeral_store.list(user, channel)

    # -- logs and waiting ----------------------------------------------------------------
    def record_call(self, call: ApiCall) -> None:
        self.calls.append(call)
        self.feed.notify()

    def calls_to(self, method: str) -> list[ApiCall]:
        return [c for c in self.calls if c.method == method]

    @property
    def changes(self) -> list[Change]:
        return self.feed.changes

    def mark(self) -> int:
        return self.feed.mark()

    async def wait_for(
        self,
        predicate: Callable[[Change], bool],
        *,
        timeout: float = 5.0,  # noqa: ASYNC109 - the API names its own deadline
        since: int = 0,
        description: str = "",
    ) -> Change:
        return await self.feed.wait_for(
            predicate, timeout=timeout, since=since, description=description
        )

    async def wait_until(
        self,
        probe: Callable[[], T | None],
        *,
        timeout: float = 5.0,  # noqa: ASYNC109 - the API names its own deadline
        description: str = "",
    ) -> T:
        return await self.feed.wait_until(probe, timeout=timeout, description=description)

    async def wait_for_message(
        self,
        channel: str,
        contains: str = "",
        *,
        thread_ts: str | None = None,
        kinds: tuple[ChangeKind, ...] = ("message",),
        since: int = 0,
        timeout: float = 5.0,  # noqa: ASYNC109 - the API names its own deadline
    ) -> Message:
        """A message posted (or, with ``kinds=("edit",)``, edited) in the channel/thread."""
        predicate = message_in(
            self.directory.channel(channel).id, contains, thread_ts=thread_ts, kinds=kinds,
            names=self.names(),
        )  # fmt: skip
        where = f"{channel} thread {thread_ts}" if thread_ts else channel
        what = f"{'/'.join(kinds)} in {where} containing {contains!r}"
        change = await self.wait_for(predicate, timeout=timeout, since=since, description=what)
        assert change.message is not None
        return change.message

    async def wait_for_ephemeral(
        self,
        user: str,
        contains: str = "",
        *,
        since: int = 0,
        timeout: float = 5.0,  # noqa: ASYNC109 - the API names its own deadline
    ) -> Ephemeral:
        predicate = ephemeral_to(self.directory.user(user).id, contains, names=self.names())
        what = f"an ephemeral to {user} containing {contains!r}"
        change = await self.wait_for(predicate, timeout=timeout, since=since, description=what)
        assert change.ephemeral is not None
        return change.ephemeral

    def _record(
        self,
        kind: ChangeKind,
        channel: str,
        *,
        message: Message | None = None,
        ephemeral: Ephemeral | None = None,
    ) -> None:
        self.feed.record(
            Change(self.feed.next_seq(), kind, channel, message=message, ephemeral=ephemeral)
        )
