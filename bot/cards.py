"""Keeps each deployment's card and thread in Slack up to date within Slack's rate limits.

``update`` only records the latest content; one background task per card coalesces bursts
into at most one chat.update per ``min_interval`` and always sends the newest content last.
All cards together stay under chat.update's Tier 3 budget, thread replies keep their order,
files (stage charts) are shared in a thread in order with its replies, and 429 answers are
retried after ``Retry-After``. Failures are logged and reported through
``on_error``; they never stop the publisher.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger(__name__)

Clock = Callable[[], float | datetime]
"""Seconds (``time.monotonic``) or an aware datetime (the app's clock); only differences count."""
ErrorHandler = Callable[["CardPublishError"], None]
Refresh = Callable[[], Awaitable[tuple[Mapping[str, Any], str | None] | None]]
"""The card's content and tag drawn anew, just before its update goes out (None: keep it)."""
SentHandler = Callable[[str, str], Awaitable[None]]
"""Told (deployment id, tag) once Slack has accepted a card update that carried a tag."""
# Slack answers these with ok:false when the fault is on its side: worth another try.
TRANSIENT_ERRORS = frozenset(
    {"internal_error", "fatal_error", "service_unavailable", "request_timeout", "ratelimited"}
)


class CardPublishError(Exception):
    """A Slack call for a card or thread that failed for good (after any retries)."""

    def __init__(
        self, method: str, error: str, *, deployment_id: str | None = None, channel: str = ""
    ) -> None:
        where = f" for deployment {deployment_id}" if deployment_id else ""
        super().__init__(f"{method}{where} in {channel or '?'} failed: {error}")
        self.method = method
        self.error = error
        self.deployment_id = deployment_id
        self.channel = channel


class PublisherClosed(RuntimeError):
    """The publisher was closed; nothing more can be sent through it."""


class Pace:
    """At most ``burst`` calls at once, then one per ``interval`` seconds (a GCRA).

    A caller reserves its slot before sleeping, so concurrent callers are served in order
    and a clock that stands still cannot make anyone wait forever.
    """

    def __init__(self, interval: float, burst: int, clock: Clock) -> None:
        self._interval = max(0.0, interval)
        self._slack = (max(1, burst) - 1) * self._interval
        self._clock = _seconds(clock)
        self._next = float("-inf")

    def reserve(self) -> float:
        """Book the next slot; how many seconds to wait before using it."""
        now = self._clock()
        start = max(self._next, now)
        self._next = start + self._interval
        return max(0.0, start - self._slack - now)

    async def take(self) -> None:
        wait = self.reserve()
        if wait > 0:
            await asyncio.sleep(wait)

    def hold(self, seconds: float) -> None:
        """Nothing passes for ``seconds`` (Slack asked us to wait)."""
        self._next = max(self._next, self._clock() + seconds + self._slack)


@dataclass(eq=False)
class _Card:
    deployment_id: str
    channel: str
    ts: str
    pace: Pace
    desired: Mapping[str, Any] | None = None
    desired_tag: str | None = None
    refresh: Refresh | None = None
    failures: int = 0
    worker: asyncio.Task[None] | None = None
    idle: asyncio.Event = field(default_factory=asyncio.Event)


class CardPublisher:
    def __init__(
        self,
        client: AsyncWebClient,
        *,
        clock: Clock,
        on_error: ErrorHandler | None = None,
        on_sent: SentHandler | None = None,
        min_interval: float = 1.0,
        updates_per_minute: float = 50.0,
        update_burst: int = 10,
        posts_per_second: float = 1.0,
        post_burst: int = 4,
        max_retry_after: float = 30.0,
        max_retries: int = 5,
    ) -> None:
        if min_interval < 0 or updates_per_minute <= 0 or posts_per_second <= 0:
            raise ValueError("min_interval must be >= 0 and the rates > 0")
        self._client = client
        self._clock = clock
        self._on_error = on_error
        self._on_sent = on_sent
        self._min_interval = min_interval
        self._updates = Pace(60.0 / updates_per_minute, update_burst, clock)
        self._post_interval = 1.0 / posts_per_second
        self._post_burst = post_burst
        self._max_retry_after = max_retry_after
        self._max_retries = max_retries
        self._cards: dict[str, _Card] = {}
        self._channel_paces: dict[str, Pace] = {}
        self._threads: dict[tuple[str, str], tuple[asyncio.Lock, int]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False

    async def __aenter__(self) -> CardPublisher:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # -- the API ---------------------------------------------------------------------------
    async def post_card(
        self, deployment_id: str, channel: str, message: Mapping[str, Any]
    ) -> tuple[str, str]:
        """Post the card; (channel_id, ts) of where it lives. Raises CardPublishError."""
        self._check_open()
        answer = await self._post(channel, _content(message), deployment_id=deployment_id)
        if answer is None:
            raise CardPublishError("chat.postMessage", "no answer", deployment_id=deployment_id)
        return str(answer["channel"]), str(answer["ts"])

    def update(
        self,
        deployment_id: str,
        channel_id: str,
        ts: str,
        message: Mapping[str, Any],
        *,
        tag: str | None = None,
        refresh: Refresh | None = None,
    ) -> None:
        """Record the card's latest content; it is sent soon, coalesced with later updates.

        ``tag`` is handed to ``on_sent`` once Slack has accepted this content (or newer).
        ``refresh``, when given, draws the content again right before it is sent (what it
        answers replaces ``message`` and ``tag``; when it fails, they go out as given).
        """
        self._check_open()
        content = _content(message)
        card = self._cards.get(deployment_id)
        if card is None:
            card = _Card(deployment_id, channel_id, ts, Pace(self._min_interval, 1, self._clock))
            self._cards[deployment_id] = card
        card.channel, card.ts, card.desired, card.desired_tag = channel_id, ts, content, tag
        card.refresh = refresh
        card.idle.clear()
        if card.worker is None:
            card.worker = self._spawn(self._run_card(card), card)

    async def reply(
        self, channel_id: str, thread_ts: str, message: Mapping[str, Any]
    ) -> str | None:
        """Post in the card's thread, in call order; the reply's ts, or None (reported)."""
        self._check_open()
        content = {**_content(message), "thread_ts": thread_ts}
        async with self._thread_turn(channel_id, thread_ts):
            answer = await self._post(channel_id, content, report=True)
        return None if answer is None else str(answer["ts"])

    async def upload(
        self,
        channel_id: str,
        thread_ts: str,
        filename: str,
        content: bytes,
        title: str,
        comment: str | None = None,
    ) -> str | None:
        """Share a file (a stage chart) in the card's thread, in call order with the replies.

        Slack's external upload flow (files_upload_v2), paced like a reply in that channel and
        retried like one; the file's id, or None when it failed (reported, never raised).
        """
        self._check_open()
        if not content:
            raise ValueError("an upload needs some content")
        async with self._thread_turn(channel_id, thread_ts):
            return await self._upload(channel_id, thread_ts, filename, content, title, comment)

    async def flush(self, deployment_id: str | None = None) -> None:
        """Wait until every pending card update (or that deployment's) has been sent."""
        while True:
            cards = [
                card
                for card in self._cards.values()
                if deployment_id in (None, card.deployment_id) and not card.idle.is_set()
            ]
            if not cards:
                return
            await asyncio.gather(*(card.idle.wait() for card in cards))

    async def close(self) -> None:
        """Send what is pending, then stop the background tasks. Safe to call twice."""
        if self._closed:
            return
        await self.flush()
        self._closed = True
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # -- the card worker -------------------------------------------------------------------
    async def _run_card(self, card: _Card) -> None:
        while card.desired is not None:
            await card.pace.take()
            await self._updates.take()
            content, card.desired = card.desired, None
            tag, card.desired_tag = card.desired_tag, None
            content, tag = await self._refreshed(card, content, tag)
            try:
                await self._client.chat_update(channel=card.channel, ts=card.ts, **content)
                card.failures = 0
                if tag is not None and self._on_sent is not None:
                    await self._sent(card.deployment_id, tag)
            except Exception as exc:  # every failure is retried or reported, never raised
                wait = self._retry_wait(exc, card.failures)
                if wait is None:
                    card.failures = 0
                    self._report(_failure("chat.update", exc, card.deployment_id, card.channel))
                    continue
                card.failures += 1
                if card.desired is None:  # nothing newer arrived: this content still is the latest
                    card.desired, card.desired_tag = content, tag
                card.pace.hold(wait)
                if _status(exc) == 429:  # the limit is per method, for every card
                    self._updates.hold(wait)
        card.worker = None
        card.idle.set()

    async def _refreshed(
        self, card: _Card, content: Mapping[str, Any], tag: str | None
    ) -> tuple[Mapping[str, Any], str | None]:
        if card.refresh is None:
            return content, tag
        try:
            fresh = await card.refresh()
        except Exception:  # the content recorded with the update still goes out
            log.exception("drawing the card of %s again failed", card.deployment_id)
            return content, tag
        return (content, tag) if fresh is None else (_content(fresh[0]), fresh[1])

    async def _sent(self, deployment_id: str, tag: str) -> None:
        assert self._on_sent is not None
        try:
            await self._on_sent(deployment_id, tag)
        except Exception:  # recording it is a courtesy: the card itself went out
            log.exception("recording the card sent for %s failed", deployment_id)

    def _spawn(self, work: Coroutine[Any, Any, None], card: _Card) -> asyncio.Task[None]:
        task = asyncio.create_task(work, name=f"card {card.deployment_id}")
        self._tasks.add(task)

        def done(finished: asyncio.Task[None]) -> None:
            self._tasks.discard(finished)
            if finished.cancelled() or finished.exception() is None:
                return
            exc = finished.exception()
            log.error("card worker for %s crashed", card.deployment_id, exc_info=exc)
            card.worker, card.desired = None, None
            card.idle.set()
            error = CardPublishError("chat.update", repr(exc), deployment_id=card.deployment_id)
            error.__cause__ = exc
            self._report(error)

        task.add_done_callback(done)
        return task

    # -- posting ---------------------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def _thread_turn(self, channel_id: str, thread_ts: str) -> AsyncIterator[None]:
        """Hold the thread's lock: what is posted in one thread goes out in call order."""
        key = (channel_id, thread_ts)
        lock, users = self._threads.get(key, (asyncio.Lock(), 0))
        self._threads[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._threads[key]
            if users <= 1:
                del self._threads[key]
            else:
                self._threads[key] = (lock, users - 1)

    def _channel_pace(self, channel: str) -> Pace:
        return self._channel_paces.setdefault(
            channel, Pace(self._post_interval, self._post_burst, self._clock)
        )

    async def _post(
        self,
        channel: str,
        content: dict[str, Any],
        *,
        deployment_id: str | None = None,
        report: bool = False,
    ) -> Mapping[str, Any] | None:
        pace = self._channel_pace(channel)
        failures = 0
        while True:
            await pace.take()
            try:
                answer = await self._client.chat_postMessage(channel=channel, **content)
                return {"channel": answer["channel"], "ts": answer["ts"]}
            except Exception as exc:  # retried, raised as CardPublishError, or reported
                wait = self._retry_wait(exc, failures)
                if wait is None:
                    error = _failure("chat.postMessage", exc, deployment_id, channel)
                    if not report:
                        raise error from exc
                    self._report(error)
                    return None
                failures += 1
                pace.hold(wait)

    async def _upload(
        self,
        channel: str,
        thread_ts: str,
        filename: str,
        content: bytes,
        title: str,
        comment: str | None,
    ) -> str | None:
        pace = self._channel_pace(channel)
        failures = 0
        while True:
            await pace.take()
            try:
                answer = await self._client.files_upload_v2(
                    channel=channel,
                    thread_ts=thread_ts,
                    filename=filename,
                    content=content,
                    title=title,
                    initial_comment=comment,
                )
                return str(answer["file"]["id"])
            except Exception as exc:  # a failed step is retried (a new upload) or reported
                wait = self._retry_wait(exc, failures)
                if wait is None:
                    self._report(_failure(_upload_step(exc), exc, None, channel))
                    return None
                failures += 1
                pace.hold(wait)

    def _retry_wait(self, exc: Exception, failures: int) -> float | None:
        """Seconds to wait before trying again, or None: give up (a permanent error)."""
        if failures >= self._max_retries:
            return None
        if _status(exc) == 429:
            return min(self._max_retry_after, _retry_after(exc))
        transient = isinstance(exc, aiohttp.ClientError | TimeoutError) or (
            isinstance(exc, SlackApiError)
            and (_status(exc) >= 500 or _error_code(exc) in TRANSIENT_ERRORS)
        )
        return min(self._max_retry_after, 0.1 * 2**failures) if transient else None

    def _report(self, error: CardPublishError) -> None:
        log.warning("%s", error)
        if self._on_error is None:
            return
        try:
            self._on_error(error)
        except Exception:  # a broken handler must not stop the publisher
            log.exception("on_error handler failed for %s", error)

    def _check_open(self) -> None:
        if self._closed:
            raise PublisherClosed("the card publisher is closed")


def _content(message: Mapping[str, Any]) -> dict[str, Any]:
    text = message.get("text")
    if not isinstance(text, str) or not text:
        raise ValueError("a card or reply needs a non-empty fallback 'text'")
    content: dict[str, Any] = {"text": text}
    if message.get("blocks") is not None:
        content["blocks"] = message["blocks"]
    return content


def _upload_step(exc: Exception) -> str:
    """Which step of the upload failed: the Web API method, or the POST of the bytes."""
    url = getattr(getattr(exc, "response", None), "api_url", None)
    if isinstance(exc, SlackApiError) and isinstance(url, str) and "/" in url:
        return url.rstrip("/").rpartition("/")[2]
    return "files.upload (POST to upload_url)"


def _status(exc: Exception) -> int:
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", 0)
    return status if isinstance(status, int) else 0


def _error_code(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    data = getattr(response, "data", None)
    return str(data.get("error", "")) if isinstance(data, Mapping) else ""


def _retry_after(exc: Exception) -> float:
    headers = getattr(getattr(exc, "response", None), "headers", None) or {}
    value = headers.get("Retry-After", headers.get("retry-after", 1))
    if isinstance(value, list):
        value = value[0] if value else 1
    try:
        return max(0.0, float(value))
    except (TypeError, ValueError):
        return 1.0


def _failure(
    method: str, exc: Exception, deployment_id: str | None, channel: str
) -> CardPublishError:
    code = _error_code(exc) or (f"HTTP {_status(exc)}" if _status(exc) else repr(exc))
    error = CardPublishError(method, code, deployment_id=deployment_id, channel=channel)
    error.__cause__ = exc
    return error


def _seconds(clock: Clock) -> Callable[[], float]:
    def read() -> float:
        now = clock()
        return now.timestamp() if isinstance(now, datetime) else float(now)

    return read
