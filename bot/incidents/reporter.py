"""Keeps each incident's card and thread true to what is stored, through ``CardPublisher``."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.cards import CardPublisher
from bot.incidents.render import IncidentView, incident_card, link_message, note_message
from bot.tasks import TaskSet
from commands.config.model import Config
from commands.incidents.responding import Responder
from storage import Deployment, Incidents, Store

log = logging.getLogger(__name__)
# How long a rollback's card may take to appear before the thread links to it without it.
CARD_WAIT_S = 30.0
CARD_POLL_S = 0.2


class IncidentReporter:
    """``changed`` posts the card once, then edits it (debounced by the publisher);
    ``note`` appends to the thread in order. Publisher keys are ``incident:<id>``."""

    def __init__(
        self,
        publisher: CardPublisher,
        client: AsyncWebClient,
        store: Store,
        incidents: Incidents,
        config: Config,
        clock: Callable[[], datetime],
        tasks: TaskSet,
    ) -> None:
        self.publisher = publisher
        self.client = client
        self.store = store
        self.incidents = incidents
        self.config = config
        self.clock = clock
        self.tasks = tasks
        self.responder: Responder | None = None
        self._locks: dict[str, asyncio.Lock] = {}

    async def changed(self, incident_id: str) -> None:
        async with self._locks.setdefault(incident_id, asyncio.Lock()):
            incident = await self.incidents.get(incident_id)
            if incident is None:
                return
            assert self.responder is not None, "IncidentReporter.responder is wired in build()"
            incident, live = await self.responder.refresh_live(incident)
            view = IncidentView(
                incident,
                await self.incidents.alerts(incident.id),
                await self.responder.last_deployment(incident),
                await self.responder.rollback_plan(incident),
                live_from_azure=None if live is None else live.from_platform,
            )
            message = incident_card(view, self.clock())
            key = f"incident:{incident.id}"
            if incident.card_ts is None or incident.card_channel is None:
                channel, ts = await self.publisher.post_card(
                    key, self.config.incidents.channel, message
                )
                await self.incidents.update(incident.id, card_channel=channel, card_ts=ts)
            else:
                self.publisher.update(key, incident.card_channel, incident.card_ts, message)

    async def note(self, incident_id: str, text: str) -> None:
        incident = await self.incidents.get(incident_id)
        if incident is None:
            return
        if incident.card_ts is None:
            await self.changed(incident_id)
            incident = await self.incidents.get(incident_id)
        if incident is None or incident.card_ts is None or incident.card_channel is None:
            log.warning("no card for incident %s; dropping a thread note", incident_id)
            return
        await self.publisher.reply(incident.card_channel, incident.card_ts, note_message(text))

    async def link_job(self, incident_id: str, deployment_id: str) -> None:
        """Link the job's card from the thread; the card is posted as the job starts, so
        this waits for it in the background rather than holding up the click's answer."""
        self.tasks.spawn(
            self._link(incident_id, deployment_id), name=f"incident-link:{incident_id}"
        )

    async def _link(self, incident_id: str, deployment_id: str) -> None:
        d = await self._posted_card(deployment_id)
        if d is None or d.card_channel is None or d.card_ts is None:
            await self.note(incident_id, f"The card of {deployment_id} is not in Slack yet.")
            return
        try:
            answer = await self.client.chat_getPermalink(
                channel=d.card_channel, message_ts=d.card_ts
            )
            permalink = str(answer["permalink"])
        except (SlackApiError, KeyError) as error:
            log.warning("no permalink for the card of %s: %s", deployment_id, error)
            await self.note(incident_id, f"Follow {deployment_id} on its card.")
            return
        incident = await self.incidents.get(incident_id)
        if incident is None or incident.card_ts is None or incident.card_channel is None:
            return
        message = link_message(f"Follow {d.kind} {d.id} live:", permalink, "its card")
        await self.publisher.reply(incident.card_channel, incident.card_ts, message)

    async def _posted_card(self, deployment_id: str) -> Deployment | None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + CARD_WAIT_S
        while True:
            d = await self.store.deployments.get(deployment_id)
            if d is None or d.card_ts is not None or loop.time() > deadline:
                return d
            await asyncio.sleep(CARD_POLL_S)
