"""Durable execution: jobs run in a supervised task set and pick up where they stopped.

Every step is persisted before and after it runs, so after a crash the runner reads the
unfinished deployments, compares them with what Azure shows, and carries each one on: the
steps are idempotent and the switch looks at where traffic is before it moves anything.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import uuid
from collections.abc import Awaitable, Callable

from commands.jobs.base import BOT, JobTools, current_deployment, finish
from commands.jobs.bluegreen import BlueGreenJob
from commands.jobs.canary import CanaryJob
from commands.jobs.context import JobContext
from commands.jobs.notes import TextNote
from commands.jobs.stopping import ShuttingDown, interruptible_sleep
from commands.platform.errors import PlatformError
from commands.queueing import Line
from storage import Deployment

log = logging.getLogger(__name__)
RUNNABLE = ("queued", "running", "paused", "watching", "rolling_back")


class Runner:
    def __init__(self, tools: JobTools) -> None:
        self.tools = tools
        self._jobs: dict[str, asyncio.Task[None]] = {}
        self._timers: dict[str, asyncio.Task[None]] = {}
        self._changed = asyncio.Event()
        # Requests waiting for their environment: the next one starts when a job ends here.
        self.line = Line(tools, self.start)
        tools.sleep = functools.partial(interruptible_sleep, tools.sleep, tools.stopping)

    def running(self, deployment_id: str) -> bool:
        return deployment_id in self._jobs

    def in_flight(self) -> int:
        """How many jobs run in this process now (timers for pending approvals excluded)."""
        return len(self._jobs)

    def start(self, deployment: Deployment, *, resumed: bool = False) -> bool:
        """Run the deployment's job unless it already runs here; False if it did."""
        if deployment.id in self._jobs:
            return False
        self.cancel_timer(deployment.id)
        task = asyncio.create_task(self._run(deployment, resumed), name=f"job:{deployment.id}")
        self._jobs[deployment.id] = task
        return True

    def at(self, deployment_id: str, delay_s: float, action: Callable[[], Awaitable[None]]) -> None:
        """Run ``action`` after ``delay_s`` (e.g. expire a pending request) unless cancelled."""
        self.cancel_timer(deployment_id)

        async def fire() -> None:
            await asyncio.sleep(max(0.0, delay_s))
            self._timers.pop(deployment_id, None)
            try:
                await action()
            except Exception:
                log.exception("timer for %s failed", deployment_id)

        self._timers[deployment_id] = asyncio.create_task(fire(), name=f"timer:{deployment_id}")

    def cancel_timer(self, deployment_id: str) -> None:
        timer = self._timers.pop(deployment_id, None)
        if timer is not None:
            timer.cancel()

    async def _run(self, deployment: Deployment, resumed: bool) -> None:
        current_deployment.set((deployment.environment, deployment.id))
        try:
            job = CanaryJob if deployment.kind == "canary" else BlueGreenJob
            await job(self.tools, deployment, resumed=resumed).run()
        except asyncio.CancelledError:
            raise
        except ShuttingDown as where:
            await self._suspended(deployment, str(where))
        except Exception as error:
            await self._crashed(deployment, error)
        finally:
            self._jobs.pop(deployment.id, None)
            self._changed.set()
        await self.next_in_line(deployment.environment)

    async def next_in_line(self, environment: str) -> None:
        """The environment may be free now: start the next approved request waiting for it."""
        try:
            await self.line.advance(environment)
        except Exception:
            log.exception("could not start the next request for %s", environment)

    async def _suspended(self, deployment: Deployment, step: str) -> None:
        """Stopped at a safe point on SIGTERM: say so; the next start carries on from here."""
        tools = self.tools
        try:
            current = await tools.store.deployments.get(deployment.id) or deployment
            step = step or current.current_step or ""
            await tools.store.audit.append(
                BOT,
                "job.suspended",
                environment=deployment.environment,
                deployment_id=deployment.id,
                details={"step": step},
            )
            await tools.reporter.note(
                deployment.id,
                TextNote(
                    f"deploybot is stopping: paused at {step or 'the next step'}; "
                    "the job carries on when deploybot starts again."
                ),
            )
        except Exception:
            log.exception("could not record the suspension of %s", deployment.id)

    async def _crashed(self, deployment: Deployment, error: Exception) -> None:
        """A bug or an unexpected failure: say so on the card and in the log, never drop it."""
        reference = uuid.uuid4().hex[:8]
        log.exception("job %s crashed (reference %s)", deployment.id, reference)
        tools = self.tools
        try:
            current = await tools.store.deployments.get(deployment.id) or deployment
            await tools.store.audit.append(
                BOT,
                "job.crashed",
                environment=current.environment,
                deployment_id=current.id,
                details={"reference": reference, "error": f"{type(error).__name__}: {error}"},
            )
            live = None
            with contextlib.suppress(PlatformError):
                live = (
                    await tools.platform.read_state(tools.config.environments[current.environment])
                ).live_version
            await tools.reporter.note(
                current.id,
                TextNote(
                    f"Internal error (reference {reference}); "
                    f"production serves {live or 'an unknown version'}."
                ),
            )
            if not current.is_terminal:
                await finish(
                    tools,
                    current,
                    "failed",
                    live_version=live,
                    error=f"internal error, reference {reference}",
                )
        except Exception:
            log.exception("could not report the crash of %s", deployment.id)

    async def recover(self, expire: Callable[[str], Awaitable[None]]) -> list[Deployment]:
        """After a (re)start: carry on every unfinished deployment; returns what was found."""
        found = await self.tools.store.deployments.unfinished()
        lines: set[str] = set()
        for d in found:
            env = self.tools.config.environments.get(d.environment)
            if env is None:
                await finish(
                    self.tools,
                    d,
                    "cancelled",
                    live_version=None,
                    error=f"environment {d.environment} is no longer configured",
                )
                continue
            if d.state == "pending_approval":
                remaining = (
                    (d.expires_at - self.tools.clock()).total_seconds() if d.expires_at else 0
                )
                self.at(d.id, remaining, functools.partial(expire, d.id))
                continue
            if d.state == "queued":
                lines.add(d.environment)  # approved, not started: it waits for its lock
                continue
            state = None
            try:
                state = await self.tools.platform.read_state(env)
            except PlatformError as error:
                log.warning("recovering %s: cannot read Azure yet: %s", d.id, error)
            found_text = (
                f"{state.live} serves {state.live_version}" if state else "Azure could not be read"
            )
            pending = JobContext.of(d).swap
            if pending is not None and pending.step == d.current_step:
                found_text += (
                    f"; the swap asked for at {pending.requested_at:%H:%M:%S} UTC may still be "
                    "running in Azure, so the job waits for it before deciding"
                )
            await self.tools.store.audit.append(
                BOT,
                "job.recovered",
                environment=d.environment,
                deployment_id=d.id,
                details={"state": d.state, "step": d.current_step, "found": found_text},
            )
            await self.tools.reporter.note(
                d.id,
                TextNote(
                    f"Resumed after a restart at {d.current_step or d.state}: found {found_text}."
                ),
            )
            self.start(d, resumed=True)
        for environment in sorted(lines):
            await self.next_in_line(environment)
        return found

    async def idle(self) -> None:
        """Wait until no job runs (timers for pending approvals do not count)."""
        while self._jobs:
            await asyncio.gather(*list(self._jobs.values()), return_exceptions=True)
        await self.tools.reporter.flush()

    async def shutdown(self, grace_s: float) -> None:
        """SIGTERM: each job stops at its next safe point (an Azure call in flight finishes),
        within ``grace_s``; whatever is still running then is stopped as a crash would be."""
        self.tools.stopping.set()
        if grace_s > 0 and self._jobs:
            await asyncio.wait(list(self._jobs.values()), timeout=grace_s)
        await self.stop()
        await self.tools.reporter.flush()

    async def stop(self) -> None:
        """Stop at once, as a crash would: nothing is rolled back, the next start resumes."""
        tasks = [*self._jobs.values(), *self._timers.values()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._jobs.clear()
        self._timers.clear()
