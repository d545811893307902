"""The whole product on one machine: the Azure sandbox, the Slack workspace emulator and the
real bot between them. `deploybot console`, `deploybot demo` and the end-to-end tests use it.

The world (sandbox + workspace) and the bot are separate, so a bot can be stopped and a new one
started on the same database while Slack and Azure carry on, as after a crash.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from azure.identity.aio import ClientSecretCredential
from starlette.applications import Starlette

from bot import assemble
from bot.assemble import AzureEndpoint, SlackEndpoint, Tuning
from bot.console.overlay import on_sandbox
from bot.httpserver import running
from bot.services import Services
from bot.settings import Runtime, Secret, Settings
from bot.slackemu import SlackEmulator, Workspace, reference_workspace
from commands.config import config_from_mapping
from commands.platform.sandbox import Sandbox, SandboxSystem

log = logging.getLogger(__name__)
SIGNING_SECRET = "local-signing-secret"
BOT_TOKEN = "xoxb-local"
ALERT_TOKEN = "local-alert-token"
"""What the console's monitoring (the drill) sends to /alerts/*."""
Overrides = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass
class World:
    sandbox: Sandbox
    ws: Workspace
    emu: SlackEmulator


@dataclass
class LocalStack:
    settings: Settings
    sandbox: Sandbox
    ws: Workspace
    emu: SlackEmulator
    services: Services
    url: str
    web: Starlette  # what ``url`` serves, for callers that drive it as an ASGI app


def quick_checks(
    mapping: dict[str, Any], *, watch: str = "20s", interval: str = "2s"
) -> dict[str, Any]:
    """Shorter waits for a session at a keyboard (the reference watches for minutes)."""
    for env in mapping["environments"].values():
        health = env.setdefault("health", {})
        health.update(watch=watch, watch_interval=interval, version_wait="30s")
    return mapping


@contextlib.asynccontextmanager
async def local_world(
    *,
    seed: int | None = 7,
    workspace: Workspace | None = None,
    system: SandboxSystem | None = None,
    load_rps: float = 0.0,
) -> AsyncIterator[World]:
    """``load_rps``: synthetic requests a second the sandbox sends to each front door."""
    ws = workspace or reference_workspace()
    async with (
        Sandbox.start(system or SandboxSystem.reference(), seed=seed, load_rps=load_rps) as sb,
        SlackEmulator.start(ws, bot_token=BOT_TOKEN, signing_secret=SIGNING_SECRET) as emu,
    ):
        yield World(sb, ws, emu)


def local_settings(
    world: World, *, overrides: Overrides | None = None, config: Settings | None = None
) -> Settings:
    """The sandbox's reference configuration, with local Slack secrets.

    A user's file (``config``) keeps its policies (roles, approvals, freezes, thresholds,
    hooks) but its environments are re-pointed at the sandbox: the console never calls the
    real Azure hosts a team's file names.
    """
    mapping = world.sandbox.config_mapping()
    if config is not None:
        mapping = _users_file_on_sandbox(config, mapping)
    chosen = config_from_mapping(
        overrides(mapping) if overrides else mapping,
        config.source if config else "sandbox configuration",
    )
    return Settings(
        chosen,
        Runtime(
            slack_bot_token=Secret(BOT_TOKEN),
            slack_signing_secret=Secret(SIGNING_SECRET),
            slack_api_url=world.emu.api_url,
            alert_token=Secret(ALERT_TOKEN),
        ),
        config.source if config else "the sandbox's reference configuration",
    )


def _users_file_on_sandbox(config: Settings, sandbox: dict[str, Any]) -> dict[str, Any]:
    source = Path(config.source)
    if not source.is_file():  # the built-in reference: the sandbox's own mapping is it
        return sandbox
    user = yaml.safe_load(source.read_text(encoding="utf-8"))
    overlaid, warnings = on_sandbox(user, sandbox)
    for warning in warnings:
        log.warning("%s: %s", source, warning)
    return overlaid


@contextlib.asynccontextmanager
async def local_bot(
    world: World,
    settings: Settings,
    database_url: str,
    *,
    publisher_interval: float = 0.3,
    shutdown_grace_s: float = 0.0,
) -> AsyncIterator[LocalStack]:
    """The real bot over HTTP, built as production builds it, with Slack and Azure local.

    Leaving the block stops jobs at once by default, as a crash would (``shutdown_grace_s``).
    """
    sb = world.sandbox
    async with contextlib.AsyncExitStack() as stack:
        credential = ClientSecretCredential(
            sb.tenant_id,
            sb.client_id,
            sb.client_secret,
            authority=sb.authority_host,
            connection_verify=str(sb.ca_file),
        )
        stack.push_async_callback(credential.close)
        slack = SlackEndpoint(world.emu.api_url, BOT_TOKEN, SIGNING_SECRET)
        azure = AzureEndpoint(
            arm_url=sb.arm_url, ca_file=sb.ca_file, credential=credential, polling_interval=0.05
        )
        bot = await stack.enter_async_context(
            assemble.build(
                settings,
                slack,
                azure,
                database_url=database_url,
                tuning=Tuning(
                    publisher_interval=publisher_interval, shutdown_grace_s=shutdown_grace_s
                ),
            )
        )
        url = await stack.enter_async_context(running(bot.web))
        world.emu.connect_app(f"{url}/slack/events", signing_secret=SIGNING_SECRET)
        yield LocalStack(settings, sb, world.ws, world.emu, bot.services, url, bot.web)


@contextlib.asynccontextmanager
async def local_stack(
    *,
    overrides: Overrides | None = None,
    config: Settings | None = None,
    database_url: str | None = None,
    publisher_interval: float = 0.3,
    seed: int | None = 7,
    workspace: Workspace | None = None,
    load_rps: float = 0.0,
) -> AsyncIterator[LocalStack]:
    """Start everything on loopback ports; ``config`` (a user's file) replaces the sandbox's."""
    async with contextlib.AsyncExitStack() as stack:
        world = await stack.enter_async_context(
            local_world(seed=seed, workspace=workspace, load_rps=load_rps)
        )
        if database_url is None:
            scratch = stack.enter_context(tempfile.TemporaryDirectory(prefix="deploybot-"))
            database_url = f"sqlite+aiosqlite:///{Path(scratch) / 'deploybot.db'}"
        settings = local_settings(world, overrides=overrides, config=config)
        yield await stack.enter_async_context(
            local_bot(world, settings, database_url, publisher_interval=publisher_interval)
        )
