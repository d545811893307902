"""Build the real clients once, from settings, and close them in order."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path

from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from bot.directory import Directory
from bot.services import Services
from bot.settings import Settings
from commands.desk import Desk
from storage import Store, default_database_url

SLACK_API = "https://slack.com/api/"


def utc_now() -> datetime:
    return datetime.now(UTC)


def slack_client(settings: Settings) -> AsyncWebClient:
    token = settings.runtime.slack_bot_token
    client = AsyncWebClient(
        token=token.reveal() if token else None,
        base_url=settings.runtime.slack_api_url or SLACK_API,
    )
    client.retry_handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=3))
    return client


@contextlib.asynccontextmanager
async def services(
    settings: Settings,
    *,
    clock: Callable[[], datetime] = utc_now,
    database_url: str | None = None,
    slack: AsyncWebClient | None = None,
) -> AsyncIterator[Services]:
    url = database_url or settings.runtime.database_url or default_database_url(Path.cwd())
    store = await Store.open(url, clock=clock)
    try:
        client = slack or slack_client(settings)
        yield Services(
            store=store,
            slack=client,
            desk=Desk(settings.config, store, clock),
            directory=Directory(client, clock),
            clock=clock,
        )
    finally:
        await store.close()
