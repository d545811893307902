from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot import assemble
from bot.app import create_app
from bot.httpserver import running
from bot.services import Services
from bot.settings import Runtime, Secret, Settings
from bot.slackemu import SlackEmulator, Workspace, reference_workspace
from bot.web import create_web
from commands.config import config_from_text, reference_text

SIGNING_SECRET = "test-signing-secret"
BOT_TOKEN = "xoxb-test-token"


@dataclass
class Edge:
    """The real bot over HTTP, talking to the Slack workspace emulator."""

    ws: Workspace
    emu: SlackEmulator
    services: Services
    url: str


@pytest.fixture
async def edge(tmp_path: Path) -> AsyncIterator[Edge]:
    ws = reference_workspace()
    async with SlackEmulator.start(ws, bot_token=BOT_TOKEN, signing_secret=SIGNING_SECRET) as emu:
        settings = Settings(
            config_from_text(reference_text()),
            Runtime(
                slack_bot_token=Secret(BOT_TOKEN),
                slack_signing_secret=Secret(SIGNING_SECRET),
                slack_api_url=emu.api_url,
            ),
        )
        db = f"sqlite+aiosqlite:///{tmp_path / 'deploybot.db'}"
        async with assemble.services(settings, database_url=db) as services:
            bolt = create_app(settings, services)
            async with running(create_web(bolt, services, SIGNING_SECRET)) as url:
                emu.connect_app(f"{url}/slack/events", signing_secret=SIGNING_SECRET)
                yield Edge(ws, emu, services, url)
