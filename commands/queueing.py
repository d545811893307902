"""The line of requests waiting for an environment, and starting the next one when it is free.

A request does not hold its environment while it waits for approval: the lock is taken here,
when an approved request (state ``queued``) starts. A request that finds the environment busy
joins its line (the ``queued_at`` flag, set when it joined); when the lock frees, the first
approved request in the line starts. One still waiting for approval keeps its place without
holding up those behind it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from commands.jobs.base import BOT, JobTools, current_deployment
from commands.platform.errors import PlatformError
from commands.platform.state import EnvironmentState
from storage import Deployment, DeploymentKind, LockHeld, Store
from storage.timeutil import iso_utc

log = logging.getLogger(__name__)
WAITING = ("pending_approval", "queued")
IN_LINE = "queued_at"


@dataclass(frozen=True)
class Place:
    """Where a waiting request stands: ``position`` of ``of`` in its environment's line."""

    position: int
    of: int
    holder: str | None  # who holds the environment now
    holding_deployment: str | None  # the deployment holding it (None: a manual lock or free)


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def in_line(d: Deployment) -> bool:
    return IN_LINE in d.flags


def start_context(kind: DeploymentKind, state: EnvironmentState) -> dict[str, Any]:
    """What a job starts from: the target the version goes to and what is live. A rollback
    chooses its target in its pre-checks (it may switch back to what is there)."""
    if kind in ("deploy", "canary") and state.idle:
        return {
            "target": state.idle,
            "live": state.live,
            "previous_version": state.live_version,
            "method": "deploy",
        }
    return {}


async def waiting_in_line(store: Store, environment: str) -> list[Deployment]:
    """The environment's line, first in line first."""
    found = await store.deployments.latest(environment, states=WAITING, limit=500)
    lined = [d for d in found if in_line(d)]
    return sorted(lined, key=lambda d: (str(d.flags[IN_LINE]), d.created_at, d.id))


async def place_in_line(store: Store, deployment_id: str) -> Place | None:
    """The request's place in its line, or None when it is not waiting in one."""
    d = await store.deployments.get(deployment_id)
    if d is None or d.state not in WAITING or not in_line(d):
        return None
    ids = [w.id for w in await waiting_in_line(store, d.environment)]
    if d.id not in ids:
        return None
    lock = await store.locks.get(d.environment)
    return Place(
        ids.index(d.id) + 1,
        len(ids),
        None if lock is None else lock.holder,
        None if lock is None else lock.deployment_id,
    )


class Line:
    def __init__(self, tools: JobTools, start: Callable[[Deployment], bool]) -> None:
        self.tools = tools
        self.start = start

    async def waiting(self, environment: str) -> list[Deployment]:
        """The environment's line, first in line first."""
        return await waiting_in_line(self.tools.store, environment)

    async def place(self, deployment_id: str) -> Place | None:
        """The request's place in its line, or None when it is not waiting in one."""
        return await place_in_line(self.tools.store, deployment_id)

    async def join(self, d: Deployment) -> Deployment:
        """Put the request at the end of its environment's line (once)."""
        if in_line(d):
            return d
        flags = {**d.flags, IN_LINE: iso_utc(self.tools.clock())}
        return await self.tools.store.deployments.update(d.id, flags=flags)

    async def advance(self, environment: str) -> Deployment | None:
        """Start the environment's next approved request if the environment is free; the
        approved ones that must wait join the line. Returns the request started, if any."""
        if self.tools.stopping.is_set():
            return None
        store = self.tools.store
        ready = await store.deployments.latest(environment, states=("queued",), limit=500)
        held = await store.locks.get(environment)
        # One that took the lock just before a crash goes first: it holds the environment.
        ready.sort(
            key=lambda d: (
                held is None or held.deployment_id != d.id,
                str(d.flags.get(IN_LINE, iso_utc(d.created_at))),
                d.id,
            )
        )
        for d in ready:
            lock = await store.locks.acquire(
                environment,
                d.requested_by,
                kind="job",
                deployment_id=d.id,
                reason=f"{d.kind} {d.version}",
            )
            if isinstance(lock, LockHeld):
                joining = [w for w in ready if w.id != lock.deployment_id and not in_line(w)]
                for waiting in joining:
                    await self.join(waiting)
                if joining:  # the others' cards show what they showed
                    await self.redraw(environment)
                return None
            # What was live when it was asked for may have changed while it waited.
            fresh = await self._fresh(d)
            # Compare-and-set, so a cancel that won the race is never started.
            running = await store.deployments.transition(
                d.id, from_states=["queued"], to_state="running", **fresh
            )
            if running is None:
                now = await store.deployments.get(d.id)
                if now is not None and not now.is_terminal:
                    return None  # another advance started it a moment ago
                await store.locks.release(environment, deployment_id=d.id)  # cancelled
                continue
            await store.audit.append(
                BOT,
                "deployment.state",
                environment=environment,
                deployment_id=d.id,
                details={"previous": "queued", "state": "running"},
            )
            self.start(running)
            await self.redraw(environment)
            return running
        return None

    async def _fresh(self, d: Deployment) -> dict[str, Any]:
        """What is live now (its Azure calls are audited against ``d``), for the job to start
        from; nothing if Azure cannot be read: the job's pre-checks read it again."""
        token = current_deployment.set((d.environment, d.id))
        try:
            state = await self.tools.platform.read_state(
                self.tools.config.environments[d.environment]
            )
        except PlatformError as error:
            log.warning("starting %s: cannot read %s yet: %s", d.id, d.environment, error)
            return {"context": {}}  # what it saw when asked may be stale: choose again
        finally:
            current_deployment.reset(token)
        return {"from_version": state.live_version, "context": start_context(d.kind, state)}

    async def redraw(self, environment: str) -> None:
        """Every waiting card shows its place: redraw them when the line moves."""
        for d in await self.waiting(environment):
            await self.tools.reporter.changed(d.id)
