"""Build the real clients once, from settings, and close them in order."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from bot.cards import CardPublisher
from bot.directory import Directory
from bot.reporter import SlackReporter
from bot.services import Services
from bot.settings import Settings
from commands.azure_audit import AzureCallAuditor
from commands.deploys import Deploys
from commands.desk import Desk
from commands.jobs.base import JobTools
from commands.platform.base import CallObserver, Platform
from commands.runner import Runner
from storage import Store, default_database_url

SLACK_API = "https://slack.com/api/"
PlatformFactory = Callable[[CallObserver], Awaitable[Platform]]


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


async def azure_platform(settings: Settings, observer: CallObserver) -> Platform:
    """The production platform: DefaultAzureCredential (it reads the AZURE_* variables itself,
    AZURE_AUTHORITY_HOST included) and the ARM endpoint from settings."""
    from commands.platform.azure import AzurePlatform

    runtime = settings.runtime
    return await AzurePlatform.create(
        None,
        arm_url=runtime.azure_resource_manager_url,
        ca_file=runtime.ssl_cert_file,
        on_call=observer,
    )


@contextlib.asynccontextmanager
async def services(
    settings: Settings,
    *,
    clock: Callable[[], datetime] = utc_now,
    database_url: str | None = None,
    slack: AsyncWebClient | None = None,
    platform: PlatformFactory | None = None,
    publisher_interval: float = 1.0,
    recover: bool = True,
) -> AsyncIterator[Services]:
    """Everything the bot needs; with ``platform`` it also runs jobs (and resumes them)."""
    url = database_url or settings.runtime.database_url or default_database_url(Path.cwd())
    async with contextlib.AsyncExitStack() as stack:
        store = await Store.open(url, clock=clock)
        stack.push_async_callback(store.close)
        client = slack or slack_client(settings)
        built = Services(
            store=store,
            slack=client,
            desk=Desk(settings.config, store, clock),
            directory=Directory(client, clock),
            clock=clock,
        )
        if platform is not None:
            auditor = AzureCallAuditor(store)
            auditor.start()
            stack.push_async_callback(auditor.close)
            cloud = await platform(auditor.observe)
            stack.push_async_callback(cloud.close)
            http = httpx.AsyncClient(timeout=10.0)
            stack.push_async_callback(http.aclose)
            publisher = CardPublisher(
                client,
                clock=clock,
                min_interval=publisher_interval,
                posts_per_second=1 / publisher_interval,
            )
            stack.push_async_callback(publisher.close)
            reporter = SlackReporter(publisher, store, settings.config, clock)
            stack.push_async_callback(reporter.close)
            tools = JobTools(settings.config, store, cloud, http, reporter, clock)
            runner = Runner(tools)
            stack.push_async_callback(runner.stop)
            built.runner = runner
            built.deploys = Deploys(tools, runner)
            built.desk = Desk(settings.config, store, clock, cloud)
            if recover:
                await runner.recover(built.deploys.expire)
        # Closed first: answers in flight still need the store, Slack and the jobs.
        stack.push_async_callback(built.tasks.close)
        yield built
