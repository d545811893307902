"""Audit checkpoints in Slack: the bot posts them, ``audit verify --against-slack`` reads them.

The publisher subscribes to the audit log and posts the newest row this process committed —
never the database's head as read back, which someone with write access could have forged —
at most once per ``checkpoint_interval`` and only when the log has grown. Posting is a Slack
call, not an audit row, so a checkpoint never moves the head it names. A failed post is logged
and retried after the next interval; after a restart the first new row is posted again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from storage import AuditEvent, Checkpoint, parse_checkpoints

log = logging.getLogger(__name__)
CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{2,}$")
HISTORY_PAGES = 10  # of 200 messages: two weeks of checkpoints every 10 minutes


def message_text(point: Checkpoint) -> str:
    """For people on the first line, for the verifier (and copy-paste) on the second."""
    return f"Audit checkpoint: {point.seq:,} rows · head `{point.hash[:12]}…`\n```{point.line()}```"


class CheckpointPublisher:
    def __init__(
        self,
        client: AsyncWebClient,
        channel: str,
        interval: float,
        clock: Callable[[], datetime],
    ) -> None:
        self._client = client
        self._channel = channel
        self._interval = interval
        self._clock = clock
        self._latest: AuditEvent | None = None
        self._published: tuple[int, str] | None = None
        self._moved = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.posted = 0
        self.failures = 0

    def observe(self, event: AuditEvent) -> None:
        """The ``AuditLog.subscribe`` callback: remember the newest committed row."""
        if self._latest is None or event.seq > self._latest.seq:
            self._latest = event
            self._moved.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="audit-checkpoints")

    async def close(self, flush_timeout: float = 5.0) -> None:
        """Stop, then post what was committed since the last checkpoint (if Slack answers)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.publish(), flush_timeout)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        while True:
            await self._moved.wait()
            if (delay := next_at - loop.time()) > 0:
                await asyncio.sleep(delay)
            self._moved.clear()
            next_at = loop.time() + self._interval
            if not await self.publish():
                self._moved.set()  # try again once the interval is over

    async def publish(self) -> bool:
        """Post the newest row unless it is already posted; False when Slack refused."""
        event = self._latest
        if event is None or (event.seq, event.hash) == self._published:
            return True
        at = self._clock().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        point = Checkpoint(event.seq, event.hash, event.mac, at)
        try:
            await self._client.chat_postMessage(
                channel=self._channel, text=message_text(point), unfurl_links=False
            )
        except Exception as error:  # any failure: the bot carries on, the next interval retries
            self.failures += 1
            log.warning("audit checkpoint to %s failed: %s", self._channel, slack_reason(error))
            return False
        self._published = (event.seq, event.hash)
        self.posted += 1
        return True


def slack_reason(error: Exception) -> str:
    """Slack's error code, or what went wrong on the way to it."""
    if isinstance(error, SlackApiError):
        data = error.response.data
        if isinstance(data, dict) and data.get("error"):
            return str(data["error"])
        return f"HTTP {error.response.status_code}"
    return str(error) or type(error).__name__


async def read_checkpoints(
    client: AsyncWebClient, channel: str, *, pages: int = HISTORY_PAGES
) -> list[Checkpoint]:
    """The checkpoints the bot itself posted in ``channel`` (an ID or a #name), newest first.

    Messages from anyone else are ignored: a person cannot hide tampering by posting a line,
    and cannot raise a false alarm either.
    """
    me = await client.auth_test()
    mine = {me.get("user_id"), me.get("bot_id")} - {None}
    channel_id = await channel_id_of(client, channel)
    found: list[Checkpoint] = []
    cursor: str | None = None
    for _ in range(pages):
        reply = await client.conversations_history(channel=channel_id, limit=200, cursor=cursor)
        for message in reply.get("messages") or ():
            if message.get("user") in mine or message.get("bot_id") in mine:
                found.extend(parse_checkpoints(str(message.get("text") or "")))
        cursor = (reply.get("response_metadata") or {}).get("next_cursor") or None
        if cursor is None:
            break
    return found


async def channel_id_of(client: AsyncWebClient, channel: str) -> str:
    """``C…``/``G…`` as given; a ``#name`` through conversations.list."""
    if CHANNEL_ID.match(channel):
        return channel
    name = channel.removeprefix("#")
    cursor: str | None = None
    while True:
        reply = await client.conversations_list(
            types="public_channel,private_channel", limit=200, cursor=cursor
        )
        for found in reply.get("channels") or ():
            if found.get("name") == name:
                return str(found["id"])
        cursor = (reply.get("response_metadata") or {}).get("next_cursor") or None
        if cursor is None:
            raise LookupError(f"no channel named #{name} that deploybot can see")
