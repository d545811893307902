"""Read lines from the keyboard or a script, print what the Slack workspace shows."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import TextIO

from bot.console.demo import DEMO_SCRIPT
from bot.console.session import Console, open_console, without_freezes
from bot.local import quick_checks
from bot.settings import Settings

BANNER = """deploybot console — the real bot, a local Slack workspace and a local Azure sandbox.
Configuration: {source}. Type help for console commands, /deploy help for the bot's."""


def console(settings: Settings, out: TextIO, *, script: Path | None = None) -> int:
    built_in = settings.source == Settings(settings.config).source
    if script is not None:
        try:
            lines = script.read_text(encoding="utf-8").splitlines()
        except OSError as error:
            print(f"deploybot: cannot read {script}: {error.strerror}", file=out)
            return 2
        return asyncio.run(_scripted(settings, lines, out, built_in=built_in))
    return asyncio.run(_interactive(settings, out, built_in=built_in))


def demo(settings: Settings, out: TextIO) -> int:
    return asyncio.run(
        _scripted(settings, DEMO_SCRIPT.splitlines(), out, narrate=True, built_in=True)
    )


async def _scripted(
    settings: Settings, lines: list[str], out: TextIO, *, narrate: bool = False, built_in: bool
) -> int:
    overrides = without_freezes if narrate else quick_checks
    async with open_console(settings, built_in=built_in, overrides=overrides) as session:
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
    return 0


async def _interactive(settings: Settings, out: TextIO, *, built_in: bool) -> int:
    async with open_console(settings, built_in=built_in) as session:
        _banner(session, out)
        printer = asyncio.create_task(_live(session, out))
        try:
            while True:
                try:
                    line = await asyncio.to_thread(input, session.prompt)
                except EOFError:
                    print(file=out)
                    return 0
                if line.strip() in ("quit", "exit"):
                    return 0
                _show(await session.handle(line), out)
        finally:
            printer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await printer


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
    print(BANNER.format(source=session.settings.source), file=out, flush=True)


def _show(lines: list[str], out: TextIO) -> None:
    for line in lines:
        print(line, file=out)
    out.flush()
