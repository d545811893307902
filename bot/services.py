"""Everything the Slack edge needs, built once by the entry point and passed down."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from slack_sdk.web.async_client import AsyncWebClient

from bot.directory import Directory
from bot.listeners.reply import ResponseUrls
from bot.metrics import Metrics
from bot.readiness import Readiness
from bot.tasks import TaskSet
from commands.deploys import Deploys
from commands.desk import Desk
from commands.runner import Runner
from storage import Store


def short_reference() -> str:
    return uuid.uuid4().hex[:8]


@dataclass
class Services:
    store: Store
    slack: AsyncWebClient
    desk: Desk
    directory: Directory
    clock: Callable[[], datetime]
    deploys: Deploys
    runner: Runner
    responses: ResponseUrls
    metrics: Metrics = field(default_factory=Metrics)
    readiness: Readiness = field(default_factory=Readiness)
    tasks: TaskSet = field(default_factory=TaskSet)
    new_reference: Callable[[], str] = short_reference

    async def idle(self) -> None:
        """Wait until every answer in flight is sent and every job has finished."""
        while True:
            await self.tasks.idle()
            await self.runner.idle()
            if not self.tasks.busy:
                return
