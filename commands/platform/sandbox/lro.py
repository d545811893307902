"""Long-running operations (the slot swap), polled App Service style through ``Location``.

An operation stays in progress for a number of polls, or for a number of seconds whether
anyone polls or not (Azure carries an operation on after the client that started it has gone),
or until released; then it applies its action, or fails with ``SwapFailed`` and changes nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from commands.platform.sandbox.resources import Site

MAX_KEPT = 10_000


@dataclass
class Operation:
    id: str
    site: Site
    remaining_polls: int | None  # None: in progress until released
    failure: str | None  # the SwapFailed message, when the operation is set up to fail
    action: Callable[[], None]
    done: bool = False
    timer: asyncio.TimerHandle | None = None


class Operations:
    def __init__(self, new_id: Callable[[], str]) -> None:
        self._new_id = new_id
        self._ops: dict[str, Operation] = {}

    def begin(
        self,
        site: Site,
        action: Callable[[], None],
        *,
        polls: int | None,
        failure: str | None = None,
        seconds: float = 0.0,
    ) -> Operation:
        """``seconds`` > 0: the operation finishes that long after now (polls are ignored)."""
        op = Operation(self._new_id(), site, None if seconds > 0 else polls, failure, action)
        site.busy_operation = op.id
        if seconds > 0:
            op.timer = asyncio.get_running_loop().call_later(seconds, self._finish, op)
        if len(self._ops) >= MAX_KEPT:
            for old in [k for k, o in self._ops.items() if o.done][: MAX_KEPT // 2]:
                del self._ops[old]
        self._ops[op.id] = op
        return op

    def poll(self, op_id: str) -> Operation | None:
        """Look at an operation, moving it one poll further."""
        op = self._ops.get(op_id.lower())
        if op is None or op.done:
            return op
        if op.remaining_polls is not None:
            if op.remaining_polls <= 0:
                self._finish(op)
            else:
                op.remaining_polls -= 1
        return op

    def release_all(self) -> None:
        for op in list(self._ops.values()):
            if not op.done:
                self._finish(op)

    def _finish(self, op: Operation) -> None:
        if op.done:
            return
        if op.timer is not None:
            op.timer.cancel()
        op.done = True
        op.site.busy_operation = None
        if op.failure is None:
            op.action()
