"""One console session: the real bot, the Slack workspace emulator and the Azure sandbox.

Lines are what a person would type in Slack, plus a few console verbs (``as``, ``click``,
``fault``, ``wait`` …). The bot is the real one: signed HTTP into Bolt, the real slack-sdk
client, the real Azure SDK clients against the sandbox over HTTPS.
"""

from __future__ import annotations

import contextlib
import shlex
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from bot.console.drill import DRILL_HELP, Drill
from bot.console.faults import FAULT_HELP, apply_fault, apply_load
from bot.console.waiting import (
    after_canary_click,
    stage_number,
    wait_for_jobs,
    wait_for_stage,
    wait_watching,
)
from bot.local import LocalStack, Overrides, local_stack, quick_checks
from bot.settings import Settings
from bot.slackemu.errors import EmulatorError
from bot.slackemu.model import Ephemeral, Message, View
from bot.slackemu.screen import render_screen
from bot.slackemu.text import Clickable, render_message
from storage.db import database_file

COMMANDS = ("/deploy", "/canary", "/rollback")
CONSOLE_HELP = f"""Type what you would type in Slack: /deploy help, /deploy status, …
  as NAME           become another user (alice, bob, carol, dave)
  in #CHANNEL       switch channel (#deploys, #incidents)
  click N [yes]     click button N of the last output ('yes' answers a confirm dialog)
  submit [TEXT]     submit the open dialog (e.g. a reason for Reject)
  show              show the channel as the current user sees it
  thread N          show the thread of the card with button N (or the latest card)
  wait [watching]   wait until jobs finish (or until one is being watched)
  wait stage N      wait until a running canary has started its stage N
  users             who is who, and their roles
{FAULT_HELP}
{DRILL_HELP}
  help              this text;  quit  leaves"""
WAIT_LIMIT_S = 120.0
CONSOLE_LOAD_RPS = 10.0
"""Synthetic requests a second on each front door, so canaries have traffic to judge."""


@dataclass
class Console:
    stack: LocalStack
    user: str = "alice"
    channel: str = "#deploys"
    clickables: list[Clickable] = field(default_factory=list)
    seen: int = 0
    database_url: str | None = None
    """Where the audit log is kept, when it outlives the session."""
    drill: Drill | None = None

    @property
    def settings(self) -> Settings:
        return self.stack.settings

    @property
    def prompt(self) -> str:
        return f"{self.user} in {self.channel}> "

    async def handle(self, line: str) -> list[str]:
        """Act on one line; return what the current user now sees that is new."""
        line = line.strip()
        if not line or line.startswith("#"):
            return []
        try:
            return await self._dispatch(line)
        except (EmulatorError, ValueError, TimeoutError) as error:
            return [f"! {error}"]

    async def _dispatch(self, line: str) -> list[str]:
        word, _, rest = line.partition(" ")
        ws, emu = self.stack.ws, self.stack.emu
        if word in COMMANDS:
            await emu.user(self.user).command(word, rest, channel=self.channel)
            await self.stack.services.tasks.idle()
            return self.news()
        if word == "as":
            self.user = ws.user(rest.strip().lstrip("@")).name
            return [f"(you are now {self.user})"]
        if word == "in":
            self.channel = "#" + ws.channel(rest.strip()).name
            return [f"(you are now in {self.channel})"]
        if word == "click":
            return await self._click(rest)
        if word == "submit":
            view = ws.views.top(ws.user(self.user).id)
            if view is None:
                return ["! no dialog is open"]
            await emu.user(self.user).submit_view(
                view, {"reason": rest.strip()} if rest.strip() else {}
            )
            await self.stack.services.tasks.idle()
            return [*self.news(), *self._dialog_opened(view.id)]
        if word == "show":
            return self._screen(None)
        if word == "thread":
            return self._thread(rest.strip())
        if word == "wait":
            return await self._wait(rest.strip())
        if word == "fault":
            return [apply_fault(self.stack.sandbox, shlex.split(rest))]
        if word == "load":
            return [apply_load(self.stack.sandbox, rest)]
        if word == "drill":
            self.drill = self.drill or Drill(self.stack)
            return [*await self.drill.handle(rest), *self.news()]
        if word == "users":
            return self._users()
        if word == "help":
            return [*CONSOLE_HELP.splitlines(), *(f"  {line}" for line in self.audit_hint())]
        return [f"! unknown console command {word!r}; type help"]

    async def _click(self, rest: str) -> list[str]:
        words = shlex.split(rest)
        if not words or not words[0].isdigit():
            return ["! say which button: click N"]
        target = next((c for c in self.clickables if c.number == int(words[0])), None)
        if target is None:
            return [f"! there is no button {words[0]} in the last output"]
        confirm = len(words) > 1 and words[1].lower() in ("yes", "y", "confirm")
        top = self.stack.ws.views.top(self.stack.ws.user(self.user).id)
        mark = self.stack.ws.mark()
        try:
            await self.stack.emu.user(self.user).click(
                target.message, target.button.number, confirm=confirm
            )
        except EmulatorError as error:
            if "confirm" in type(error).__name__.lower():
                return [f"? {error} — answer with: click {words[0]} yes"]
            raise
        await self.stack.services.tasks.idle()
        if target.button.action_id.startswith("canary."):
            services, ws = self.stack.services, self.stack.ws
            await after_canary_click(services, ws, target.message.ts, mark)
        return [*self.news(), *self._dialog_opened(top.id if top else None)]

    def _dialog_opened(self, before: str | None) -> list[str]:
        """A modal shows nothing in the channel: say it is open and how to answer it."""
        view = self.stack.ws.views.top(self.stack.ws.user(self.user).id)
        if view is None or view.id == before:
            return []
        return describe_dialog(view)

    async def _wait(self, what: str) -> list[str]:
        services, ws = self.stack.services, self.stack.ws
        if what == "watching":
            why = await wait_watching(services, ws, WAIT_LIMIT_S)
        elif what.startswith("stage"):
            why = await wait_for_stage(services, ws, stage_number(what), WAIT_LIMIT_S)
        elif what:
            return [f"! wait for what? say wait, wait watching or wait stage N (not {what!r})"]
        else:
            why = await wait_for_jobs(services, ws, WAIT_LIMIT_S)
        return [*self.news(), *([why] if why else [])]

    def audit_hint(self) -> list[str]:
        """Where this session's audit log is kept, and how to check it afterwards."""
        if self.database_url is None:
            return []
        path = database_file(self.database_url)
        if path is None:
            return ["Audit log: DEPLOYBOT_DATABASE_URL; check it with: deploybot audit verify"]
        return [f"Audit log: {path}; check it with: deploybot audit verify --database {path}"]

    def _screen(self, thread_ts: str | None) -> list[str]:
        rendered = render_screen(
            self.stack.ws, self.user, self.channel, thread_ts=thread_ts, last=12
        )
        self.clickables = list(rendered.clickables)
        self.seen = len(self.stack.ws.changes)
        return rendered.lines or ["(nothing here yet)"]

    def _thread(self, which: str) -> list[str]:
        if which.isdigit():
            target = next((c for c in self.clickables if c.number == int(which)), None)
            if target is None:
                return [f"! there is no button {which} in the last output"]
            return self._screen(target.message.ts)
        cards = [
            m for m in self.stack.ws.messages(self.channel) if m.user == self.stack.ws.bot_user.id
        ]
        return self._screen(cards[-1].ts) if cards else ["(no card in this channel yet)"]

    def _users(self) -> list[str]:
        config = self.settings.config
        lines = []
        for user in ("alice", "bob", "carol", "dave"):
            uid = self.stack.ws.user(user).id
            roles = [role for role, members in config.roles.items() if uid in members]
            lines.append(f"  {user:<6} {uid:<8} {', '.join(roles) or 'no role'}")
        return lines

    def news(self) -> list[str]:
        """Everything that changed since the last look, as the current user sees it."""
        ws = self.stack.ws
        changes = ws.changes[self.seen :]
        self.seen = len(ws.changes)
        me = ws.user(self.user).id
        latest: dict[tuple[str, str], Message | Ephemeral] = {}
        for change in changes:
            item: Message | Ephemeral | None = change.message or change.ephemeral
            if item is None or (isinstance(item, Ephemeral) and item.user != me):
                continue
            latest.pop((item.channel, item.ts), None)  # show it where it last changed
            latest[(item.channel, item.ts)] = item
        lines: list[str] = []
        clickables: list[Clickable] = []
        names = ws.names()
        for item in latest.values():
            rendered = render_message(item, names, start=len(clickables) + 1)
            channel = "#" + ws.channel(item.channel).name
            reply = getattr(item, "thread_ts", None) not in (None, item.ts)
            prefix = ("  ↳ " if reply else "") + (
                f"[{channel}] " if channel != self.channel else ""
            )
            pad = " " * len(prefix)
            lines.extend(
                (prefix if i == 0 else pad) + line for i, line in enumerate(rendered.lines)
            )
            clickables.extend(rendered.clickables)
        if clickables:  # an answer without buttons leaves the last buttons clickable
            self.clickables = clickables
        return lines


def describe_dialog(view: View) -> list[str]:
    payload = view.payload
    title = (payload.get("title") or {}).get("text") or "a dialog"
    inputs = [b for b in payload.get("blocks") or [] if b.get("type") == "input"]
    labels = ", ".join((b.get("label") or {}).get("text", "") for b in inputs)
    lines = [f"? {title} is open" + (f", asking for: {labels}" if labels else "")]
    if inputs and all(b.get("optional") for b in inputs):
        lines.append("  answer with: submit TEXT, or submit to leave it empty")
    elif inputs:
        lines.append("  answer with: submit TEXT")
    else:
        lines.append("  answer with: submit")
    return lines


def without_freezes(mapping: dict[str, Any]) -> dict[str, Any]:
    """The demo must tell the same story on any day of the week; its incident drill ends
    with a person's click, so the automatic rollback is off."""
    incidents = {**mapping.get("incidents", {}), "auto_rollback_within": None}
    quick = quick_checks(mapping, watch="6s", interval="1s")
    return {**quick, "freezes": [], "incidents": incidents}


@contextlib.asynccontextmanager
async def open_console(
    settings: Settings,
    *,
    database_url: str | None = None,
    built_in: bool = True,
    overrides: Overrides = quick_checks,
) -> AsyncIterator[Console]:
    """``built_in``: the reference system on the sandbox; otherwise the user's own config."""
    async with local_stack(
        overrides=overrides if built_in else None,
        config=None if built_in else settings,
        database_url=database_url or settings.runtime.database_url,
        load_rps=CONSOLE_LOAD_RPS,
    ) as stack:
        console = Console(stack, database_url=database_url or settings.runtime.database_url)
        console.seen = len(stack.ws.changes)
        try:
            yield console
        finally:
            if console.drill is not None:
                await console.drill.close()
