"""What every job shares: its tools, step-by-step persistence, audit and reporting."""

from __future__ import annotations

import asyncio
import contextvars
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Unpack

import httpx

from commands.config.model import Config, Environment
from commands.jobs.canary_control import Control
from commands.jobs.context import ContextChanges, JobContext
from commands.jobs.notes import ErrorNote, Note, Reporter, StepNote
from commands.jobs.steps import Step, settle, step_label
from commands.jobs.stopping import ShuttingDown
from commands.jobs.watch import Breach
from commands.platform.base import Platform
from commands.platform.errors import PlatformError
from storage import AuditEvent, Deployment, Store

BOT = "deploybot"
# The deployment a coroutine works for, so Azure calls can be audited against it.
current_deployment: contextvars.ContextVar[tuple[str, str] | None] = contextvars.ContextVar(
    "current_deployment", default=None
)


@dataclass
class JobTools:
    config: Config
    store: Store
    platform: Platform
    http: httpx.AsyncClient
    reporter: Reporter
    clock: Callable[[], datetime]
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    monotonic: Callable[[], float] = time.perf_counter
    signals: dict[str, asyncio.Event] = field(default_factory=dict)
    rollback_requested_by: dict[str, str] = field(default_factory=dict)
    # A person's click on a running canary's card, waiting for its job (canary_control).
    controls: dict[str, Control] = field(default_factory=dict)
    # Set on SIGTERM: jobs stop at the next safe point and resume after the restart.
    stopping: asyncio.Event = field(default_factory=asyncio.Event)


class StepFailed(Exception):
    """A step could not do its work; ``detail`` is what the thread and card say."""

    def __init__(self, detail: str, code: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.code = code


class Job:
    def __init__(self, tools: JobTools, deployment: Deployment, *, resumed: bool = False) -> None:
        self.resumed = resumed
        self.tools = tools
        self.id = deployment.id
        self.deployment = deployment
        self.env: Environment = tools.config.environments[deployment.environment]
        # One write of the deployment's row at a time. Each write returns the whole row, so
        # two at once (a rollback's records beside its switch) could put an older context
        # back in memory, and the next save would write that older context.
        self._writing = asyncio.Lock()

    @property
    def ctx(self) -> JobContext:
        """What the job chose and found so far (read from the stored deployment)."""
        return JobContext.of(self.deployment)

    @property
    def target(self) -> str:
        """The target the version goes to; the pre-checks choose it before any other step."""
        target = self.ctx.target
        if target is None:
            raise StepFailed("no target chosen yet (the pre-checks did not run)")
        return target

    async def reload(self) -> Deployment:
        async with self._writing:
            found = await self.tools.store.deployments.get(self.id)
            assert found is not None, self.id
            self.deployment = found
            return found

    async def _write(self, write: Callable[[], Awaitable[Deployment]]) -> Deployment:
        async with self._writing:
            self.deployment = await write()
            return self.deployment

    async def save(self, **changes: Unpack[ContextChanges]) -> None:
        """Persist typed changes to the job's context (see ``JobContext``)."""
        async with self._writing:  # the changes go onto the context as last written
            context = self.ctx.updated(changes).to_json()
            self.deployment = await self.tools.store.deployments.update(self.id, context=context)

    async def audit(self, action: str, actor: str = BOT, **details: Any) -> None:
        await self.tools.store.audit.append(
            actor, action, environment=self.env.name, deployment_id=self.id, details=details
        )

    async def queue_audit(self, action: str, **details: Any) -> asyncio.Future[AuditEvent]:
        """``audit`` without waiting for the commit (``AuditLog.queue``)."""
        return await self.tools.store.audit.queue(
            BOT, action, environment=self.env.name, deployment_id=self.id, details=details
        )

    async def note(self, note: Note) -> None:
        await self.tools.reporter.note(self.id, note)

    async def set_state(self, state: str, **fields: Any) -> None:
        previous = self.deployment.state
        store = self.tools.store.deployments
        await self._write(lambda: store.update(self.id, state=state, **fields))
        if previous != state:  # a job the line moved to running (or resumed) is running already
            await self.audit("deployment.state", previous=previous, state=state)
        await self.tools.reporter.changed(self.id)

    def done(self, name: Step) -> bool:
        step = self.deployment.step(name)
        return step is not None and step.status in ("done", "skipped")

    async def skip(self, name: Step, why: str) -> None:
        if not self.done(name):
            store = self.tools.store.deployments
            await self._write(lambda: store.set_step(self.id, name, "skipped", why))

    async def run_step(self, name: Step, work: Callable[[], Awaitable[str]]) -> None:
        """Run one step unless a previous run finished it; persist, audit and report it."""
        if self.done(name):
            return
        if self.tools.stopping.is_set():
            raise ShuttingDown(name)
        store = self.tools.store.deployments
        await self._write(lambda: store.set_step(self.id, name, "running"))
        await self.audit("step.started", step=name)
        await self.tools.reporter.changed(self.id)
        started = self.tools.monotonic()
        try:
            detail = await work()
        except PlatformError as error:
            await self._failed(name, str(error), error.code, started)
            raise StepFailed(str(error), error.code) from error
        except StepFailed as failure:
            await self._failed(name, failure.detail, failure.code, started)
            raise
        except Breach as breach:
            # The rollback that follows says why in the thread; the checklist says it here.
            await self._failed(name, str(breach), None, started, note=False)
            raise
        took = self.tools.monotonic() - started
        await self._write(lambda: store.set_step(self.id, name, "done", detail))
        await self.audit("step.done", step=name, detail=detail, duration_s=round(took, 3))
        await self.note(StepNote(name, step_label(name, self.deployment), True, detail, took))
        await self.tools.reporter.changed(self.id)

    async def _failed(
        self, name: Step, detail: str, code: str | None, started: float, *, note: bool = True
    ) -> None:
        took = self.tools.monotonic() - started
        store = self.tools.store.deployments
        await self._write(lambda: store.set_step(self.id, name, "failed", detail))
        await self.audit(
            "step.failed", step=name, detail=detail, code=code, duration_s=round(took, 3)
        )
        if note:
            await self.note(ErrorNote(step_label(name, self.deployment), detail, code))
        await self.tools.reporter.changed(self.id)

    async def finish(
        self, outcome: str, *, live_version: str | None, error: str | None = None
    ) -> None:
        await self._write(
            lambda: finish(
                self.tools, self.deployment, outcome, live_version=live_version, error=error
            )
        )


async def finish(
    tools: JobTools,
    deployment: Deployment,
    outcome: str,
    *,
    live_version: str | None,
    error: str | None = None,
    actor: str = BOT,
) -> Deployment:
    """Terminal state: record it, free the environment, write the history row, redraw the card.

    The checklist is settled in the same write: a step still running failed with ``error``,
    steps that never ran are skipped with the reason, so the card (also after a restart)
    shows nothing as still running.
    """
    store = tools.store
    current = await store.deployments.get(deployment.id) or deployment
    steps = settle(current.steps, outcome, error, tools.clock())
    fields: dict[str, Any] = {"state": outcome, "current_step": None, "steps": steps}
    if error:
        fields["error"] = {"message": error}
    d = await store.deployments.update(deployment.id, **fields)
    await store.locks.release(d.environment, deployment_id=d.id)
    tools.signals.pop(d.id, None)
    tools.rollback_requested_by.pop(d.id, None)
    took = (tools.clock() - d.created_at).total_seconds()
    await store.audit.append(
        actor,
        "deployment.finished",
        environment=d.environment,
        deployment_id=d.id,
        details={
            "outcome": outcome,
            "previous_state": deployment.state,
            "kind": d.kind,
            "requested_by": d.requested_by,
            "from_version": d.from_version,
            "to_version": d.version,
            "strategy": d.strategy,
            "live_version": live_version,
            "duration_s": round(took, 3),
            "error": error,
        },
    )
    await tools.reporter.changed(d.id)
    return d
