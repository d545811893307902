"""Read lines from the keyboard or a script, print what the Slack workspace shows."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TextIO

from bot.console.demo import DEMO_SCRIPT
from bot.console.session import Console, open_console
from bot.settings import Settings

BANNER = """deploybot console — the real bot, a local Slack workspace{azure}.
Configuration: {source}. Type help for console commands, /deploy help for the bot's."""


def console(settings: Settings, out: TextIO, *, script: Path | None = None) -> int:
    if script is not None:
        try:
            lines = script.read_text(encoding="utf-8").splitlines()
        except OSError as error:
            print(f"deploybot: cannot read {script}: {error.strerror}", file=out)
            return 2
        return asyncio.run(_scripted(settings, lines, out))
    return asyncio.run(_interactive(settings, out))


def demo(settings: Settings, out: TextIO) -> int:
    return asyncio.run(_scripted(settings, DEMO_SCRIPT.splitlines(), out, narrate=True))


async def _scripted(
    settings: Settings, lines: list[str], out: TextIO, *, narrate: bool = False
) -> int:
    async with open_console(settings) as session:
        _banner(session, out)
        for line in lines:
            if narrate and line.startswith("# "):
                print(f"\n== {line[2:]}", file=out, flush=True)
                continue
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            print(f"{session.prompt}{line}", file=out)
            _show(await session.handle(line), out)
    return 0


async def _interactive(settings: Settings, out: TextIO) -> int:
    async with open_console(settings) as session:
        _banner(session, out)
        while True:
            try:
                line = await asyncio.to_thread(input, session.prompt)
            except EOFError:
                print(file=out)
                return 0
            if line.strip() in ("quit", "exit"):
                return 0
            _show(await session.handle(line), out)


def _banner(session: Console, out: TextIO) -> None:
    print(BANNER.format(azure="", source=session.settings.source), file=out, flush=True)


def _show(lines: list[str], out: TextIO) -> None:
    for line in lines:
        print(line, file=out)
    out.flush()
