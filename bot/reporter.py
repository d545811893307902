"""Keeps each deployment's card and thread in Slack true to what the job stored."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import Any

from bot.cards import CardPublisher
from bot.render.card import CardStep, SlackMessage, render_card
from bot.render.card_view import card_view
from bot.render.chart import render_stage_chart
from bot.render.chart_points import ChartPoint
from bot.render.text import duration, escape
from bot.render.thread import approval_reply, error_reply, health_table, step_reply
from commands.config.model import Config
from commands.jobs.notes import (
    ApprovalNote,
    ErrorNote,
    HealthNote,
    Note,
    StageNote,
    StagePoint,
    StepNote,
    SwitchNote,
    TextNote,
)
from commands.jobs.steps import step_label
from commands.queueing import in_line, place_in_line
from storage import Deployment, Store

log = logging.getLogger(__name__)
MENTION = re.compile(r"&lt;@([UW][A-Z0-9]+)&gt;")


class SlackReporter:
    def __init__(
        self, publisher: CardPublisher, store: Store, config: Config, clock: Callable[[], datetime]
    ) -> None:
        self.publisher = publisher
        self.store = store
        self.config = config
        self.clock = clock
        self._posting: dict[str, asyncio.Lock] = {}
        self._notes: dict[str, asyncio.Queue[Note]] = {}
        self._writers: dict[str, asyncio.Task[None]] = {}

    async def changed(self, deployment_id: str) -> None:
        async with self._posting.setdefault(deployment_id, asyncio.Lock()):
            d = await self.store.deployments.get(deployment_id)
            if d is None:
                return
            message, shown = await self._card(d)
            if d.card_ts is None or d.card_channel is None:
                channel = self.config.environments[d.environment].channel
                channel_id, ts = await self.publisher.post_card(d.id, channel, message)
                await self.store.deployments.update(
                    d.id, card_channel=channel_id, card_ts=ts, card_state=shown
                )
            else:
                self.publisher.update(
                    d.id, d.card_channel, d.card_ts, message, tag=shown,
                    refresh=partial(self._fresh, d.id),
                )  # fmt: skip

    async def _card(self, d: Deployment) -> tuple[SlackMessage, str | None]:
        """The card of ``d`` as stored, and its tag: only a terminal card is tagged, as that is
        the one a crash must not leave behind."""
        line = await place_in_line(self.store, d.id) if in_line(d) else None
        view = card_view(d, await self.store.approvals.for_deployment(d.id), line=line)
        labelled = tuple(
            CardStep(step_label(s.name, d), s.status, s.detail, s.seconds) for s in view.steps
        )
        message = render_card(dataclasses.replace(view, steps=labelled), self.clock())
        return message, d.state if d.is_terminal else None

    async def _fresh(self, deployment_id: str) -> tuple[SlackMessage, str | None] | None:
        """The card drawn again as its update goes out (up to a second after ``changed``):
        another replica may have changed the deployment and sent its card meanwhile, and
        content drawn before that would overwrite the newer card."""
        d = await self.store.deployments.get(deployment_id)
        return None if d is None else await self._card(d)

    async def redraw_stale_cards(self, since: datetime) -> int:
        """After a restart: draw once more every finished card a crash left showing an
        earlier state (say "Watching" for a deployment that succeeded). How many."""
        stale = await self.store.deployments.stale_cards(since)
        for d in stale:
            try:
                await self.changed(d.id)
            except Exception:
                log.exception("could not redraw the card of %s", d.id)
        return len(stale)

    async def note(self, deployment_id: str, note: Note) -> None:
        """Queue a thread reply; replies go out in order without holding up the job."""
        queue = self._notes.get(deployment_id)
        if queue is None:
            queue = self._notes[deployment_id] = asyncio.Queue()
            self._writers[deployment_id] = asyncio.create_task(
                self._write_notes(deployment_id, queue), name=f"notes:{deployment_id}"
            )
        queue.put_nowait(note)

    async def _write_notes(self, deployment_id: str, queue: asyncio.Queue[Note]) -> None:
        while True:
            note = await queue.get()
            try:
                await self._post_note(deployment_id, note)
            except Exception:
                log.exception("thread reply for %s failed", deployment_id)
            finally:
                queue.task_done()

    async def flush(self) -> None:
        """Wait until every queued reply and card edit has been sent."""
        for queue in list(self._notes.values()):
            await queue.join()
        await self.publisher.flush()

    async def close(self) -> None:
        await self.flush()
        for task in self._writers.values():
            task.cancel()
        await asyncio.gather(*self._writers.values(), return_exceptions=True)

    async def _post_note(self, deployment_id: str, note: Note) -> None:
        d = await self.store.deployments.get(deployment_id)
        if d is None:
            return
        if d.card_ts is None:
            await self.changed(deployment_id)
            d = await self.store.deployments.get(deployment_id)
        if d is None or d.card_ts is None or d.card_channel is None:
            log.warning("no card for %s; dropping a thread note", deployment_id)
            return
        if isinstance(note, StageNote):
            await self._post_chart(d.card_channel, d.card_ts, note)
            return
        await self.publisher.reply(d.card_channel, d.card_ts, render_note(note))

    async def _post_chart(self, channel: str, ts: str, note: StageNote) -> None:
        """The stage's summary with its chart: canary vs baseline, thresholds drawn."""

        def points(series: tuple[StagePoint, ...]) -> list[ChartPoint]:
            return [ChartPoint(p.at, p.error_rate, p.latency_ms) for p in series]

        png = await render_stage_chart(
            note.title,
            points(note.canary),
            points(note.baseline),
            max_error_rate=note.max_error_rate,
            max_p95_ms=note.max_p95_ms,
        )
        filename = "".join(c if c.isalnum() else "-" for c in note.title).strip("-") + ".png"
        shared = await self.publisher.upload(channel, ts, filename, png, note.title, note.text)
        if shared is None:  # the chart could not be shared: the words still reach the thread
            await self.publisher.reply(channel, ts, _text(escape(note.text)))


def render_note(note: Note) -> dict[str, Any]:
    if isinstance(note, StepNote):
        return step_reply(note.label, "done" if note.ok else "failed", note.detail, note.duration_s)
    if isinstance(note, HealthNote):
        rows = [(c.name, c.ok, c.value, c.threshold, c.detail) for c in note.report.checks]
        message = health_table(rows)
        message["text"] = f"Health checks on {note.where}: {note.report.summary()}"
        message["blocks"].insert(0, _context(f"Health checks on *{escape(note.where)}*"))
        return message
    if isinstance(note, ErrorNote):
        return error_reply(note.step, note.code, note.message)
    if isinstance(note, ApprovalNote):
        return approval_reply(note.user, note.decision, note.reason, note.count, note.required)
    if isinstance(note, SwitchNote):
        source = f"{escape(note.from_target)} → " if note.from_target else ""
        text = (
            f":twisted_rightwards_arrows: Traffic: {source}{escape(note.to_target)} "
            f"({escape(note.method)}, {duration(note.duration_s)}); {escape(note.effective)}"
        )
        return _text(text)
    if isinstance(note, StageNote):  # normally posted with its chart (``_post_chart``)
        return _text(escape(note.text))
    assert isinstance(note, TextNote)
    # Escape everything, then let exactly one shape through: a user mention we wrote ourselves.
    return _text(MENTION.sub(r"<@\1>", escape(note.text)))


def _text(text: str) -> dict[str, Any]:
    return {
        "text": text,
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}],
    }


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}
