"""Read lines from the keyboard or a script, print what the Slack workspace shows."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import TextIO

from bot.console.demo import DEMO_SCRIPT
from bot.console.demo_config import demo_overrides
from bot.console.session import Console, open_console
from bot.local import quick_checks
from bot.settings import Settings
from commands import eventloop

BANNER = """deploybot console — the real bot, a local Slack workspace and a local Azure sandbox.
Configuration: {source}. Type help for console commands, /deploy help for the bot's."""
CONSOLE_DATABASE = "deploybot-console.db"


def console_database_url(settings: Settings, cwd: Path) -> str:
    """$DEPLOYBOT_DATABASE_URL, else ./deploybot-console.db: an audit log to verify afterwards."""
    return (
        settings.runtime.database_url or f"sqlite+aiosqlite:///{(cwd / CONSOLE_DATABASE).resolve()}"
    )


def console(settings: Settings, out: TextIO, *, script: Path | None = None) -> int:
    built_in = _is_built_in(settings)
    database_url = console_database_url(settings, Path.cwd())
    if script is not None:
        try:
            lines = script.read_text(encoding="utf-8").splitlines()
        except OSError as error:
            print(f"deploybot: cannot read {script}: {error.strerror}", file=out)
            return 2
        return eventloop.run(
            _scripted(settings, lines, out, built_in=built_in, database_url=database_url)
        )
    return eventloop.run(_interactive(settings, out, built_in=built_in, database_url=database_url))


def demo(settings: Settings, out: TextIO, *, script: str = DEMO_SCRIPT) -> int:
    """The tour keeps a throw-away database: it must tell the same story on every run."""
    return eventloop.run(
        _scripted(settings, script.splitlines(), out, narrate=True, built_in=_is_built_in(settings))
    )


def _is_built_in(settings: Settings) -> bool:
    """No --config (nor ./deploybot.yml): the reference system the sandbox holds."""
    return settings.source == Settings(settings.config).source


async def _scripted(
    settings: Settings,
    lines: list[str],
    out: TextIO,
    *,
    narrate: bool = False,
    built_in: bool,
    database_url: str | None = None,
) -> int:
    overrides = demo_overrides if narrate else quick_checks
    async with open_console(
        settings, built_in=built_in, overrides=overrides, database_url=database_url
    ) as session:
        _banner(session, out)
        for line in lines:
            if narrate and line.startswith("# "):
                print(f"\n== {line[2:]}", file=out, flush=True)
                continue
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            print(f"{session.prompt}{line}", file=out)
            _show(await session.handle(line), out)
        await session.stack.services.idle()
        _show(session.audit_hint(), out)
    return 0


async def _interactive(
    settings: Settings, out: TextIO, *, built_in: bool, database_url: str
) -> int:
    async with open_console(settings, built_in=built_in, database_url=database_url) as session:
        _banner(session, out)
        printer = asyncio.create_task(_live(session, out))
        try:
            while True:
                try:
                    line = await asyncio.to_thread(input, session.prompt)
                except EOFError:
                    print(file=out)
                    break
                if line.strip() in ("quit", "exit"):
                    break
                _show(await session.handle(line), out)
        finally:
            printer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await printer
        _show(session.audit_hint(), out)
    return 0


async def _live(session: Console, out: TextIO) -> None:
    """While you type, jobs go on: print what they post as it happens."""
    ws = session.stack.ws
    while True:
        with contextlib.suppress(TimeoutError):
            await ws.wait_for(lambda change: True, since=session.seen, timeout=3600)
        await asyncio.sleep(0.3)  # let a burst of edits settle into one print
        lines = session.news()
        if lines:
            print("\n" + "\n".join(lines), file=out)
            print(session.prompt, end="", file=out, flush=True)


def _banner(session: Console, out: TextIO) -> None:
    print(BANNER.format(source=session.settings.source), file=out)
    _show(session.audit_hint(), out)


def _show(lines: list[str], out: TextIO) -> None:
    for line in lines:
        print(line, file=out)
    out.flush()
