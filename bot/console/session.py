"""One console session: the bot, the Slack workspace emulator and you, in one process.

The bot is the real one (signed HTTP into Bolt, the real slack-sdk client); only Slack is
the local emulator. Lines are what a person would type in Slack, plus a few console verbs.
"""

from __future__ import annotations

import contextlib
import shlex
import tempfile
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

from bot import assemble
from bot.app import create_app
from bot.httpserver import running
from bot.services import Services
from bot.settings import Runtime, Secret, Settings
from bot.slackemu import SlackEmulator, Workspace, reference_workspace
from bot.slackemu.errors import EmulatorError
from bot.slackemu.model import Ephemeral, Message
from bot.slackemu.screen import render_screen
from bot.slackemu.text import Clickable, render_message
from bot.web import create_web

SIGNING_SECRET = "console-signing-secret"
BOT_TOKEN = "xoxb-console"
COMMANDS = ("/deploy", "/canary", "/rollback")
CONSOLE_HELP = """Type what you would type in Slack: /deploy help, /deploy status, …
  as NAME           become another user (alice, bob, carol, dave)
  in #CHANNEL       switch channel (#deploys, #incidents)
  click N [yes]     click button N of the last output ('yes' answers a confirm dialog)
  show              show the channel as the current user sees it
  users             who is who, and their roles
  help              this text;  quit  leaves"""


@dataclass
class Console:
    settings: Settings
    ws: Workspace
    emu: SlackEmulator
    services: Services
    user: str = "alice"
    channel: str = "#deploys"
    clickables: list[Clickable] = field(default_factory=list)
    seen: int = 0

    @property
    def prompt(self) -> str:
        return f"{self.user} in {self.channel}> "

    async def handle(self, line: str) -> list[str]:
        """Act on one line; return what the current user now sees that is new."""
        line = line.strip()
        if not line or line.startswith("#!"):
            return []
        try:
            return await self._dispatch(line)
        except EmulatorError as error:
            return [f"! {error}"]

    async def _dispatch(self, line: str) -> list[str]:
        word, _, rest = line.partition(" ")
        if word in COMMANDS:
            await self.emu.user(self.user).command(word, rest, channel=self.channel)
            return self.news()
        if word == "as":
            name = rest.strip().lstrip("@")
            self.ws.user(name)  # raises user_not_found for a stranger
            self.user = self.ws.user(name).name
            return [f"(you are now {self.user})"]
        if word == "in":
            self.channel = "#" + self.ws.channel(rest.strip()).name
            return [f"(you are now in {self.channel})"]
        if word == "click":
            return await self._click(rest)
        if word == "show":
            rendered = render_screen(self.ws, self.user, self.channel, last=10)
            self.clickables = list(rendered.clickables)
            self.seen = len(self.ws.changes)
            return rendered.lines or ["(nothing here yet)"]
        if word == "users":
            return self._users()
        if word == "help":
            return CONSOLE_HELP.splitlines()
        return [f"! unknown console command {word!r}; type help"]

    async def _click(self, rest: str) -> list[str]:
        words = shlex.split(rest)
        if not words or not words[0].isdigit():
            return ["! say which button: click N"]
        target = next((c for c in self.clickables if c.number == int(words[0])), None)
        if target is None:
            return [f"! there is no button {words[0]} in the last output"]
        confirm = len(words) > 1 and words[1].lower() in ("yes", "y", "confirm")
        await self.emu.user(self.user).click(target.message, target.button.number, confirm=confirm)
        return self.news()

    def _users(self) -> list[str]:
        config = self.settings.config
        lines = []
        for user in ("alice", "bob", "carol", "dave"):
            uid = self.ws.user(user).id
            roles = [role for role, members in config.roles.items() if uid in members]
            lines.append(f"  {user:<6} {uid:<8} {', '.join(roles) or 'no role'}")
        return lines

    def news(self) -> list[str]:
        """Everything that changed since the last look, as the current user sees it."""
        changes = self.ws.changes[self.seen :]
        self.seen = len(self.ws.changes)
        me = self.ws.user(self.user).id
        latest: dict[tuple[str, str], Message | Ephemeral] = {}
        for change in changes:
            item: Message | Ephemeral | None = change.message or change.ephemeral
            if item is None or (isinstance(item, Ephemeral) and item.user != me):
                continue
            latest[(item.channel, item.ts)] = item
        lines: list[str] = []
        self.clickables = []
        names = self.ws.names()
        for item in latest.values():
            rendered = render_message(item, names, start=len(self.clickables) + 1)
            channel = "#" + self.ws.channel(item.channel).name
            prefix = "  ↳ " if getattr(item, "thread_ts", None) not in (None, item.ts) else ""
            if channel != self.channel:
                prefix += f"[{channel}] "
            lines.extend(
                prefix + line if i == 0 else ("    " if prefix else "") + line
                for i, line in enumerate(rendered.lines)
            )
            self.clickables.extend(rendered.clickables)
        return lines


@contextlib.asynccontextmanager
async def open_console(
    settings: Settings,
    *,
    database_url: str | None = None,
    clock: Callable[..., object] | None = None,
) -> AsyncIterator[Console]:
    ws = reference_workspace()
    async with SlackEmulator.start(ws, bot_token=BOT_TOKEN, signing_secret=SIGNING_SECRET) as emu:
        local = Settings(
            settings.config,
            Runtime(
                slack_bot_token=Secret(BOT_TOKEN),
                slack_signing_secret=Secret(SIGNING_SECRET),
                slack_api_url=emu.api_url,
                database_url=settings.runtime.database_url,
            ),
            settings.source,
        )
        with tempfile.TemporaryDirectory(prefix="deploybot-console-") as scratch:
            url = database_url or local.runtime.database_url
            url = url or f"sqlite+aiosqlite:///{Path(scratch) / 'console.db'}"
            async with assemble.services(local, database_url=url) as services:
                bolt = create_app(local, services, process_before_response=True)
                async with running(create_web(bolt, services, SIGNING_SECRET)) as base:
                    emu.connect_app(f"{base}/slack/events", signing_secret=SIGNING_SECRET)
                    console = Console(local, ws, emu, services)
                    console.seen = len(ws.changes)
                    yield console
