"""Run a program's main coroutine on uvloop where it is installed (Linux and macOS), else on
asyncio's own loop.

uvloop's transports and callbacks run in C, so less of each Slack request's CPU goes to the
loop itself, and ``audit verify`` reads PostgreSQL rows faster (README, benchmarks). Every
entry point runs through here, so the console, the sandbox and ``serve`` all run on the loop
a team's replicas do."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run(main: Coroutine[Any, Any, T]) -> T:
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)
