"""Trigger IDs and response_url targets that Slack hands an app with each interaction."""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass
from typing import Literal

from .clock import Clock
from .errors import SlackError
from .model import Ephemeral

TRIGGER_LIFETIME = 3.0
"""Slack: a trigger_id expires three seconds after it was issued, and works once."""

InteractionKind = Literal["command", "block_actions", "view_submission"]


@dataclass
class Trigger:
    id: str
    user: str
    channel: str | None
    issued_at: float
    used: bool = False


@dataclass
class ResponseTarget:
    """Where a POST to one response_url lands, and what "the original message" is."""

    id: str
    kind: InteractionKind
    user: str
    channel: str | None
    created_at: float
    original_ts: str | None = None
    """A channel message that replace_original/delete_original act on."""
    original_ephemeral: Ephemeral | None = None
    """Or an ephemeral they act on (a click on an ephemeral, a command's own answer)."""
    thread_ts: str | None = None
    uses: int = 0


class Interactions:
    def __init__(self, clock: Clock):
        self._clock = clock
        self._triggers: dict[str, Trigger] = {}
        self._targets: dict[str, ResponseTarget] = {}
        self._counter = itertools.count(1)

    def issue_trigger(self, user: str, channel: str | None) -> str:
        n = next(self._counter)
        now = self._clock()
        digest = hashlib.sha1(f"trigger-{n}-{now}".encode()).hexdigest()[:32]
        trigger_id = f"{int(now)}{n:03d}.{n:011d}.{digest}"
        self._triggers[trigger_id] = Trigger(trigger_id, user, channel, now)
        return trigger_id

    def consume_trigger(self, trigger_id: str) -> Trigger:
        trigger = self._triggers.get(trigger_id)
        if trigger is None:
            raise SlackError("invalid_trigger_id", f"unknown trigger_id {trigger_id!r}")
        if trigger.used:
            raise SlackError("exchanged_trigger_id", "that trigger_id was already used")
        if self._clock() - trigger.issued_at > TRIGGER_LIFETIME:
            raise SlackError("expired_trigger_id", "trigger_ids expire after 3 seconds")
        trigger.used = True
        return trigger

    def new_target(
        self,
        kind: InteractionKind,
        user: str,
        channel: str | None,
        *,
        original_ts: str | None = None,
        original_ephemeral: Ephemeral | None = None,
        thread_ts: str | None = None,
    ) -> ResponseTarget:
        n = next(self._counter)
        target_id = f"{kind}/{n}/" + hashlib.sha1(f"response-{n}".encode()).hexdigest()[:24]
        target = ResponseTarget(
            target_id,
            kind,
            user,
            channel,
            self._clock(),
            original_ts=original_ts,
            original_ephemeral=original_ephemeral,
            thread_ts=thread_ts,
        )
        self._targets[target_id] = target
        return target

    def target(self, target_id: str) -> ResponseTarget | None:
        return self._targets.get(target_id)
