"""Keeps each incident's card and thread true to what is stored, through ``CardPublisher``."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from bot.cards import CardPublisher
from bot.incidents.render import IncidentView, incident_card, note_message
from commands.config.model import Config
from commands.incidents.responding import Responder
from storage import Incidents

log = logging.getLogger(__name__)


class IncidentReporter:
    """``changed`` posts the card once, then edits it (debounced by the publisher);
    ``note`` appends to the thread in order. Publisher keys are ``incident:<id>``."""

    def __init__(
        self,
        publisher: CardPublisher,
        incidents: Incidents,
        config: Config,
        clock: Callable[[], datetime],
    ) -> None:
        self.publisher = publisher
        self.incidents = incidents
        self.config = config
        self.clock = clock
        self.responder: Responder | None = None
        self._locks: dict[str, asyncio.Lock] = {}

    async def changed(self, incident_id: str) -> None:
        async with self._locks.setdefault(incident_id, asyncio.Lock()):
            incident = await self.incidents.get(incident_id)
            if incident is None:
                return
            assert self.responder is not None, "IncidentReporter.responder is wired in build()"
            view = IncidentView(
                incident,
                await self.incidents.alerts(incident.id),
                await self.responder.last_deployment(incident),
                await self.responder.rollback_plan(incident),
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
