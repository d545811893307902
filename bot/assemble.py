"""The one way to build the bot: settings plus where Slack and Azure are.

``deploybot serve``, ``socket``, ``console`` and ``demo`` all call :func:`build`; they differ
only in the two endpoints they pass. Every part a mode cannot work without (the platform, the
runner, the deploy services) is built here, unconditionally.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import httpx
from azure.core.credentials_async import AsyncTokenCredential
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient
from starlette.applications import Starlette

from bot.app import create_app
from bot.cards import CardPublisher
from bot.checkpoints import CheckpointPublisher
from bot.directory import Directory
from bot.incidents.wiring import build_incidents
from bot.listeners import incidents as incident_listeners
from bot.listeners.reply import ResponseUrls
from bot.metrics import Metrics, fan_out
from bot.readiness import Readiness
from bot.reporter import SlackReporter
from bot.services import Services
from bot.settings import Settings
from bot.startup import StartupProbes
from bot.web import create_web
from commands.azure_audit import AzureCallAuditor
from commands.deploys import Deploys
from commands.desk import Desk
from commands.jobs.base import JobTools
from commands.platform.azure import AzurePlatform
from commands.platform.base import CallObserver, Platform
from commands.runner import Runner
from storage import Store

log = logging.getLogger(__name__)
SLACK_API = "https://slack.com/api/"
SLACK_TIMEOUT_S = 30  # slack-sdk's own default for every call
# A restart redraws finished cards a crash left stale, from this far back (bounded work).
STALE_CARDS_WITHIN = timedelta(days=7)


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class SlackEndpoint:
    """The Slack Web API the bot calls, and how it checks requests that reach it."""

    api_url: str
    bot_token: str
    # None only where nothing unsigned can reach the bot (Socket Mode).
    signing_secret: str | None

    @classmethod
    def from_settings(cls, settings: Settings) -> SlackEndpoint:
        runtime = settings.runtime
        token = runtime.slack_bot_token
        if token is None:
            raise ValueError("SLACK_BOT_TOKEN is required")
        secret = runtime.slack_signing_secret
        return cls(
            api_url=runtime.slack_api_url or SLACK_API,
            bot_token=token.reveal(),
            signing_secret=secret.reveal() if secret else None,
        )

    def client(
        self, session: aiohttp.ClientSession | None, *, wait_out_429: bool = True
    ) -> AsyncWebClient:
        """``session``: the bot's one session for Slack (``slack_session``), so calls reuse
        kept-alive connections; None (a one-shot command) has slack-sdk open a session, and a
        connection, per call. ``wait_out_429``: slack-sdk's retry handler waits out a 429's
        Retry-After. The card publisher turns it off: it handles 429 itself, holding the method
        for every card and sending only the newest content, where a blind resend would repeat
        a stale one."""
        from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler

        client = AsyncWebClient(token=self.bot_token, base_url=self.api_url, session=session)
        if wait_out_429:
            client.retry_handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=3))
        return client


def slack_session() -> aiohttp.ClientSession:
    """One session for every Slack Web API call of a running bot, inside the running loop.

    Without it slack-sdk opens a session per call: a new connection each time (with Slack, a
    TLS handshake), and half again the CPU of a call over a kept-alive one. slack-sdk applies
    its own timeout only to the sessions it opens, so this one carries the same 30 s bound."""
    return aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=SLACK_TIMEOUT_S))


@dataclass(frozen=True)
class AzureEndpoint:
    """Azure Resource Manager and the credential for it.

    ``credential`` None means azure-identity's ``DefaultAzureCredential`` (which reads the
    ``AZURE_*`` variables itself, ``AZURE_AUTHORITY_HOST`` included).
    """

    arm_url: str | None
    ca_file: Path | None
    credential: AsyncTokenCredential | None = None
    polling_interval: float = 2.0

    @classmethod
    def from_settings(cls, settings: Settings) -> AzureEndpoint:
        runtime = settings.runtime
        return cls(arm_url=runtime.azure_resource_manager_url, ca_file=runtime.ssl_cert_file)


@dataclass(frozen=True)
class Tuning:
    """Knobs that differ between a team's bot and a bot at a keyboard or under test."""

    publisher_interval: float = 1.0
    # How long SIGTERM lets jobs reach a safe point; 0 stops them at once, as a crash would.
    shutdown_grace_s: float = 20.0
    recover: bool = True


@dataclass
class Bot:
    settings: Settings
    services: Services
    bolt: AsyncApp
    web: Starlette


@contextlib.asynccontextmanager
async def build(
    settings: Settings,
    slack: SlackEndpoint,
    azure: AzureEndpoint,
    *,
    database_url: str,
    clock: Callable[[], datetime] = utc_now,
    tuning: Tuning = Tuning(),
) -> AsyncIterator[Bot]:
    """Open the store, Slack and Azure; resume unfinished jobs; close it all in order."""
    async with contextlib.AsyncExitStack() as stack:
        metrics, readiness = Metrics(), Readiness()
        session = slack_session()
        stack.push_async_callback(session.close)  # closed last: everything else may call Slack
        store = await Store.open(
            database_url, clock=clock, audit_keys=settings.runtime.audit_keyring()
        )
        stack.push_async_callback(store.close)
        readiness.database_open()
        store.audit.subscribe(metrics.on_audit)
        client = slack.client(session)
        # Audit checkpoints to Slack, of the rows this process commits (see bot.checkpoints).
        if (audit_channel := settings.config.audit.checkpoint_channel) is not None:
            interval = settings.config.audit.checkpoint_interval.total_seconds()
            checkpoints = CheckpointPublisher(client, audit_channel, interval, clock)
            store.audit.subscribe(checkpoints.observe)
            checkpoints.start()
            stack.push_async_callback(checkpoints.close)
        auditor = AzureCallAuditor(store)
        auditor.start()
        stack.push_async_callback(auditor.close)
        waits = settings.config.azure_requests
        platform = await AzurePlatform.create(
            azure.credential,
            arm_url=azure.arm_url,
            ca_file=azure.ca_file,
            timeout=waits.timeout.total_seconds(),
            attempt_timeout=waits.attempt_timeout.total_seconds(),
            polling_interval=azure.polling_interval,
            on_call=fan_out(
                auditor.observe, metrics.observe_azure_call, readiness.observe_azure_call
            ),
        )
        stack.push_async_callback(platform.close)
        http = httpx.AsyncClient(timeout=10.0)
        stack.push_async_callback(http.aclose)
        publisher = CardPublisher(
            slack.client(session, wait_out_429=False),
            clock=clock,
            on_sent=store.deployments.card_shown,
            min_interval=tuning.publisher_interval,
            posts_per_second=1 / tuning.publisher_interval,
        )
        stack.push_async_callback(publisher.close)
        reporter = SlackReporter(publisher, store, settings.config, clock)
        stack.push_async_callback(reporter.close)
        tools = JobTools(settings.config, store, platform, http, reporter, clock)
        runner = Runner(tools, lease=settings.runtime.job_lease_time())
        stack.push_async_callback(runner.shutdown, tuning.shutdown_grace_s)
        metrics.track_jobs(runner.in_flight)
        responses = ResponseUrls()
        stack.push_async_callback(responses.close)
        services = Services(
            store=store,
            slack=client,
            desk=Desk(settings.config, store, clock, platform),
            directory=Directory(client, clock),
            clock=clock,
            deploys=Deploys(tools, runner),
            runner=runner,
            responses=responses,
            metrics=metrics,
            readiness=readiness,
        )
        stack.push_async_callback(services.desk.close)
        probes = StartupProbes()
        probes.start(readiness, client, platform, settings.config)
        stack.push_async_callback(probes.close)
        if tuning.recover:
            await runner.recover(services.deploys.expire)
            await reporter.redraw_stale_cards(clock() - STALE_CARDS_WITHIN)
        # Renew this process's job leases and take other replicas' clicks for its jobs; with
        # recovery on, also carry on the jobs of a replica that died.
        runner.keep(services.deploys.expire, take_over=tuning.recover)
        services.desk.board.warm()  # the first /deploy status need not wait for Azure
        # Closed first: answers in flight still need the store, Slack and the jobs.
        stack.push_async_callback(services.tasks.close)
        incidents = build_incidents(
            settings, store, publisher, client, services.deploys, clock, services.tasks
        )
        stack.callback(incidents.watch_jobs(store, services.tasks))
        bolt = create_app(settings, services)
        incident_listeners.register(bolt, settings, services, incidents.responder)
        alerts = incidents.routes(settings, services.tasks, services.new_reference)
        yield Bot(
            settings, services, bolt, create_web(bolt, services, slack.signing_secret, alerts)
        )


def production_endpoints(settings: Settings) -> tuple[SlackEndpoint, AzureEndpoint]:
    """Where a team's bot finds Slack and Azure: from the environment, nothing else."""
    return SlackEndpoint.from_settings(settings), AzureEndpoint.from_settings(settings)


def database_url(settings: Settings) -> str:
    from storage import default_database_url

    return settings.runtime.database_url or default_database_url(Path.cwd())


def slack_client(settings: Settings) -> AsyncWebClient:
    """The Slack client of a one-shot command (``check --live``, ``audit verify
    --against-slack``): the production endpoint, a session per call."""
    return SlackEndpoint.from_settings(settings).client(None)


async def azure_platform(settings: Settings, observer: CallObserver) -> Platform:
    """The Azure platform of ``check --live``: the production endpoint."""
    azure = AzureEndpoint.from_settings(settings)
    waits = settings.config.azure_requests
    return await AzurePlatform.create(
        azure.credential,
        arm_url=azure.arm_url,
        ca_file=azure.ca_file,
        timeout=waits.timeout.total_seconds(),
        attempt_timeout=waits.attempt_timeout.total_seconds(),
        on_call=observer,
    )
