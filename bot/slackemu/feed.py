"""The workspace's change log, and awaiting a change without sleep-polling.

Changes are recorded synchronously (from HTTP handlers and from test set-up code), so the
notification is an ``asyncio.Event`` that is set and replaced on every change: waiters
re-check their predicate exactly when something happened, never on a timer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

from .errors import WaitTimeout
from .model import Change

T = TypeVar("T")

_SHOWN_ON_TIMEOUT = 15


class ChangeFeed:
    def __init__(self) -> None:
        self._changes: list[Change] = []
        self._event = asyncio.Event()

    @property
    def changes(self) -> list[Change]:
        return list(self._changes)

    def mark(self) -> int:
        """A position to pass as ``since=`` so a wait only looks at later changes."""
        return len(self._changes)

    def next_seq(self) -> int:
        return len(self._changes)

    def record(self, change: Change) -> Change:
        self._changes.append(change)
        self.notify()
        return change

    def notify(self) -> None:
        event, self._event = self._event, asyncio.Event()
        event.set()

    async def wait_for(
        self,
        predicate: Callable[[Change], bool],
        *,
        timeout: float = 5.0,  # noqa: ASYNC109 - the API names its own deadline
        since: int = 0,
        description: str = "",
    ) -> Change:
        """The first change at or after ``since`` that matches, waiting up to ``timeout`` s."""
        cursor = since

        def first_match() -> Change | None:
            nonlocal cursor
            while cursor < len(self._changes):
                change = self._changes[cursor]
                cursor += 1
                if predicate(change):
                    return change
            return None

        try:
            return await self.wait_until(first_match, timeout=timeout, description=description)
        except WaitTimeout as exc:
            raise WaitTimeout(f"{exc}\n{self.describe(since)}") from None

    async def wait_until(
        self,
        probe: Callable[[], T | None],
        *,
        timeout: float = 5.0,  # noqa: ASYNC109 - the API names its own deadline
        description: str = "",
    ) -> T:
        """Re-run ``probe`` after every change until it returns something other than None/False."""
        what = description or getattr(probe, "__name__", "condition")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            result = probe()
            if result is not None and result is not False:
                return result
            event = self._event
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise WaitTimeout(f"timed out after {timeout:g}s waiting for {what}")
            try:
                async with asyncio.timeout(remaining):
                    await event.wait()
            except TimeoutError:
                raise WaitTimeout(f"timed out after {timeout:g}s waiting for {what}") from None

    def describe(self, since: int = 0) -> str:
        seen = self._changes[since:]
        if not seen:
            return "no changes were seen in the workspace"
        lines = [f"{len(seen)} change(s) seen (last {min(len(seen), _SHOWN_ON_TIMEOUT)}):"]
        lines += ["  " + summarize(change) for change in seen[-_SHOWN_ON_TIMEOUT:]]
        return "\n".join(lines)


def summarize(change: Change) -> str:
    where = change.channel or "-"
    parts = [f"#{change.seq}", change.kind, where]
    if change.ts:
        parts.append(f"ts={change.ts}")
    if change.thread_ts and change.thread_ts != change.ts:
        parts.append(f"thread={change.thread_ts}")
    if change.ephemeral is not None:
        parts.append(f"to={change.ephemeral.user}")
    if change.view is not None:
        parts.append(f"view={change.view.id} callback={change.view.callback_id!r}")
    text = change.text.replace("\n", " ")
    if text:
        parts.append(repr(text[:100] + ("…" if len(text) > 100 else "")))
    return " ".join(parts)
