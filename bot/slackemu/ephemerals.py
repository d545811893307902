"""Ephemeral messages: seen by one user in one channel, replaceable only via response_url."""

from __future__ import annotations

import dataclasses

from .blockkit import with_ids
from .clock import TsFactory
from .directory import Directory
from .errors import SlackError
from .feed import ChangeFeed
from .model import Blocks, Change, ChangeKind, Ephemeral, EphemeralSource, MessageVersion


class EphemeralStore:
    def __init__(self, directory: Directory, feed: ChangeFeed, ts: TsFactory):
        self._directory = directory
        self._feed = feed
        self._ts = ts
        self._items: list[Ephemeral] = []

    def post(
        self,
        channel: str,
        user: str,
        text: str,
        blocks: Blocks | None = None,
        *,
        thread_ts: str | None = None,
        source: EphemeralSource = "api",
    ) -> Ephemeral:
        ephemeral = Ephemeral(
            channel=self._directory.resolve_post_target(channel).id,
            user=self._directory.user(user).id,
            ts=self._ts.next(),
            text=text,
            blocks=with_ids(blocks or []),
            thread_ts=thread_ts,
            source=source,
        )
        self._items.append(ephemeral)
        self._record("ephemeral", ephemeral)
        return ephemeral

    def replace(self, original: Ephemeral, text: str, blocks: Blocks | None = None) -> Ephemeral:
        """What Slack does to an ephemeral on ``replace_original`` through its response_url."""
        index = self._index(original)
        old = self._items[index]
        new = dataclasses.replace(
            old,
            text=text,
            blocks=with_ids(blocks or []),
            history=(*old.history, MessageVersion(old.text, old.blocks, self._ts.next())),
        )
        self._items[index] = new
        self._record("ephemeral_replace", new)
        return new

    def delete(self, original: Ephemeral) -> Ephemeral:
        index = self._index(original)
        gone = dataclasses.replace(self._items[index], deleted=True)
        self._items[index] = gone
        self._record("ephemeral_delete", gone)
        return gone

    def list(self, user: str | None = None, channel: str | None = None) -> list[Ephemeral]:
        user_id = self._directory.user(user).id if user else None
        channel_id = self._directory.resolve_post_target(channel).id if channel else None
        return [
            e
            for e in self._items
            if not e.deleted
            and (user_id is None or e.user == user_id)
            and (channel_id is None or e.channel == channel_id)
        ]

    def find(self, channel: str, user: str, ts: str) -> Ephemeral | None:
        """The ephemeral as shown now, or None once it was deleted."""
        return next((e for e in self.list(user, channel) if e.ts == ts), None)

    def _index(self, original: Ephemeral) -> int:
        for index, e in enumerate(self._items):
            if (e.channel, e.user, e.ts) == (original.channel, original.user, original.ts):
                return index
        raise SlackError("message_not_found", f"no ephemeral {original.ts}")

    def _record(self, kind: ChangeKind, ephemeral: Ephemeral) -> None:
        self._feed.record(
            Change(self._feed.next_seq(), kind, ephemeral.channel, ephemeral=ephemeral)
        )
