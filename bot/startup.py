"""At start-up: ask Slack and Azure once each that they answer, for /readyz.

Each probe retries in the background until it succeeds, so a bot started before its network
comes up turns ready by itself; they never hold up requests or jobs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from slack_sdk.web.async_client import AsyncWebClient

from bot.readiness import Readiness
from commands.config.model import Config
from commands.platform.base import Platform

log = logging.getLogger(__name__)
RETRY_S = 2.0


class StartupProbes:
    def __init__(self) -> None:
        self._tasks: list[asyncio.Task[None]] = []

    def start(
        self, readiness: Readiness, slack: AsyncWebClient, platform: Platform, config: Config
    ) -> None:
        async def slack_answers() -> None:
            await slack.auth_test()
            readiness.slack_authenticated()

        async def azure_answers() -> None:
            # Any successful ARM call marks readiness through the platform's call observer.
            env = next(iter(config.environments.values()), None)
            if env is None:
                readiness.waive("azure")
                return
            await platform.read_state(env)

        self._tasks = [
            asyncio.create_task(_until_it_answers("Slack auth.test", slack_answers)),
            asyncio.create_task(_until_it_answers("Azure", azure_answers)),
        ]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*self._tasks, return_exceptions=True)


async def _until_it_answers(what: str, probe: Callable[[], Awaitable[None]]) -> None:
    warned = False
    while True:
        try:
            await probe()
            return
        except Exception as error:  # any failure: not ready yet, say it once, try again
            if not warned:
                log.warning("%s did not answer yet (%s); retrying every %gs", what, error, RETRY_S)
                warned = True
        await asyncio.sleep(RETRY_S)
